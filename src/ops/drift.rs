//! `hotpatch pull`: bring what was changed in the live image (drift) into the Tonel files, then
//! tell the agent that the image's version is now the installed one, so `status` is clean.
//!
//! Files are written only after every new text is ready and every path is checked to lie inside
//! the sources (the names an image sends are checked as names before they join a path, see
//! [`crate::tonel::file_name`]); each file is written to a temporary file beside it and renamed,
//! so a crash leaves the old file or the new one; the agent is told only after the files are
//! written.

use super::compare::compare;
use super::files::{self, Durability};
use super::local::{self, LocalSources, SourceError};
use crate::config::{Config, Target};
use crate::drift::pull::{ConflictChoice, FileEdit, PullError, PullPlan, plan_pull};
use crate::drift::{DriftReport, Subject, Version};
use crate::image::ClientError;
use crate::image::protocol::AdoptMethod;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Limit the pull to these package folders or class files.
    pub paths: Vec<PathBuf>,
    /// Say what would be written; write nothing, tell the agent nothing.
    pub dry_run: bool,
    /// Who wins conflicts.
    pub choice: ConflictChoice,
}

/// How a pull ended.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub target: String,
    pub url: String,
    pub epoch_before: u64,
    /// The epoch after the agent recorded the pulled versions (same as before on a dry run).
    pub epoch_after: u64,
    pub dry_run: bool,
    /// Every drifted definition, with its three versions.
    pub drift: DriftReport,
    /// The files written or deleted (would be, on a dry run), and what was taken.
    pub plan: PullPlan,
}

/// Why a pull failed; the sources are as they were.
#[derive(Debug, thiserror::Error)]
pub enum PullFailure {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{0:#}")]
    Config(anyhow::Error),
    #[error(transparent)]
    Agent(#[from] ClientError),
    /// The agent cannot report drift (an older agent).
    #[error(
        "the agent of {0} cannot report what changed in the image (it predates drift support); \
         update the agent"
    )]
    Unsupported(String),
    #[error(transparent)]
    Plan(#[from] PullError),
    /// Writing a file failed: none was changed, unless the rename of one failed after
    /// others were renamed (each file is then whole, old or new).
    #[error(
        "cannot write {}: {source}; no file was changed",
        crate::term::escape(&.path.display().to_string())
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A planned path lies outside the sources: refused before anything was written.
    #[error(
        "refusing to write {}: it is not inside the sources at {}; nothing was written",
        crate::term::escape(&.path.display().to_string()),
        .root.display()
    )]
    Outside { path: PathBuf, root: PathBuf },
    /// The files were written but the agent could not be told: `status` keeps reporting them
    /// as converged until the next pull.
    #[error(
        "the files were written, but the agent could not record them as installed ({0}); run \
         `hotpatch pull` again"
    )]
    Adopt(ClientError),
}

/// What `status` says about drift: the report and how many local changes are not pushed yet.
#[derive(Debug, Clone)]
pub struct Survey {
    pub report: DriftReport,
    pub local_changes: usize,
}

/// Why a drift survey could not tell whether the image has drifted.
#[derive(Debug, thiserror::Error)]
pub enum DriftUnknown {
    /// The local sources cannot be read or used (Tonel errors, a listed package with no
    /// folder, an unreadable directory).
    #[error("{0}")]
    Sources(String),
    /// The agent cannot report drift.
    #[error("the agent predates drift reports; update it")]
    Unsupported,
    /// The agent failed to answer the snapshot (an internal error, a broken connection).
    #[error(transparent)]
    Agent(#[from] ClientError),
}

/// The sources a drift survey compares with, or why drift will be unknown. Read once, for
/// as many images as are surveyed.
pub fn survey_sources(config: &Config) -> Result<LocalSources, String> {
    match local::load(config, &[]) {
        Ok(local) => Ok(local),
        Err(SourceError::Tonel(errors)) => Err(format!(
            "{} error(s) in the Tonel sources (`hotpatch inspect` lists them)",
            errors.len()
        )),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Compares the image behind `client` with `local` (from [`survey_sources`]) for drift (never
/// from the cache: a hand edit does not always move the epoch). The error says why drift is
/// unknown.
pub async fn survey(
    client: &mut crate::image::Client,
    local: &Result<LocalSources, String>,
) -> Result<Survey, DriftUnknown> {
    if !client.hello.has("drift") {
        return Err(DriftUnknown::Unsupported);
    }
    let local = local
        .as_ref()
        .map_err(|reason| DriftUnknown::Sources(reason.clone()))?;
    let c = compare(client, local, None).await?;
    Ok(Survey {
        local_changes: c.drift.local_changes(&c.changes),
        report: c.drift,
    })
}

/// Runs a pull from `target`.
pub async fn pull(
    config: &Config,
    target: &Target,
    options: &PullOptions,
) -> Result<PullReport, PullFailure> {
    let local = local::load(config, &options.paths)?;
    let token = target.token().map_err(PullFailure::Config)?;
    let mut client = super::connect(target, &token).await?;
    if !client.hello.has("drift") {
        client.close().await;
        return Err(PullFailure::Unsupported(target.name.clone()));
    }
    // Never from the cache: a hand edit does not always move the epoch.
    let comparison = compare(&mut client, &local, None).await?;
    let plan = plan_pull(
        &local.packages,
        &comparison.drift,
        options.choice,
        &comparison.inexact,
    )?;
    let mut report = PullReport {
        target: target.name.clone(),
        url: target.url.to_string(),
        epoch_before: comparison.epoch,
        epoch_after: comparison.epoch,
        dry_run: options.dry_run,
        drift: comparison.drift,
        plan,
    };
    let (methods, classes) = adoptions(&report);
    if options.dry_run || (report.plan.files.is_empty() && methods.is_empty() && classes.is_empty())
    {
        client.close().await;
        return Ok(report);
    }
    write_all(&config.source, &report.plan.files)?;
    let identity = super::identity::gather(&config.root);
    let adopted = client
        // Only the named definitions: `packages` would adopt everything the packages hold,
        // conflicts kept for `--ours` included.
        .adopt(Vec::new(), methods, classes, Some(identity))
        .await
        .map_err(PullFailure::Adopt);
    client.close().await;
    report.epoch_after = adopted?.epoch;
    Ok(report)
}

/// The definitions whose image version becomes the installed one, what was taken and what had
/// converged: (methods, with the text now in the files, which is the image's; class names).
fn adoptions(report: &PullReport) -> (Vec<AdoptMethod>, Vec<String>) {
    let mut methods = Vec::new();
    let mut classes = Vec::new();
    let wanted = |s: &Subject| report.plan.taken.contains(s) || report.plan.converged.contains(s);
    for item in report.drift.items.iter().filter(|i| wanted(&i.subject)) {
        match &item.subject {
            Subject::Class { name } => classes.push(name.clone()),
            Subject::Method { key } => methods.push(AdoptMethod {
                class_name: key.class_name.clone(),
                side: key.side,
                selector: key.selector.clone(),
                source: match &item.image {
                    Some(Version::Method(m)) => Some(m.source.clone()),
                    _ => None,
                },
            }),
        }
    }
    (methods, classes)
}

/// Writes the planned files, only inside `root` (the sources): every path is checked before any
/// file is touched; every new text is staged beside its file (written and synced under a
/// temporary name) before the first rename, so a failure until then changes nothing; then each
/// is renamed over its file (a crash leaves the old file or the new one, never half) and the
/// files to delete go. A path outside `root` refuses the whole pull, nothing written.
fn write_all(root: &Path, files: &[FileEdit]) -> Result<(), PullFailure> {
    let fail = |path: &Path, source: std::io::Error| PullFailure::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(edit) = files.iter().find(|e| !files::inside(root, &e.path)) {
        return Err(PullFailure::Outside {
            path: edit.path.clone(),
            root: root.to_path_buf(),
        });
    }
    let mut staged = Vec::new();
    for edit in files {
        if let Some(text) = &edit.text {
            if let Some(dir) = edit.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
            }
            staged.push(
                files::stage(&edit.path, text.as_bytes(), Durability::Synced)
                    .map_err(|e| fail(&edit.path, e))?,
            );
        }
    }
    for (file, edit) in staged
        .into_iter()
        .zip(files.iter().filter(|e| e.text.is_some()))
    {
        file.commit().map_err(|e| fail(&edit.path, e))?;
    }
    for edit in files.iter().filter(|e| e.text.is_none()) {
        match std::fs::remove_file(&edit.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(&edit.path, e)),
        }
    }
    Ok(())
}

/// `pull` against a compromised image, played by the protocol-level fake agent
/// ([`crate::image::fake_agent`]): its answer names a class with an absolute path, which no real
/// image's class builder is needed to send. The real-VM cases (climbing names, another
/// project's file, newlines, ESC) are in `tests/untrusted_image.rs`.
#[cfg(test)]
mod compromised_answer_tests {
    use super::*;
    use crate::image::fake_agent::{Reply, ok, serve};
    use serde_json::json;

    /// An image whose snapshot holds one class, added by hand (drift), named `name`.
    async fn image_with_class(name: String) -> String {
        serve(move |r| match r["cmd"].as_str() {
            Some("hello") => ok(
                r,
                json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": 1,
                       "features": ["drift", "adopt"]}),
            ),
            Some("snapshot") => ok(
                r,
                json!({"session": "s1", "epoch": 1, "packages": [{
                    "name": "Sample-Core",
                    "classes": [{"name": name, "superclass": "Object", "package": "Sample-Core"}],
                    "drift": {"adopted": true, "classes": [{"name": name, "change": "added"}]}
                }]}),
            ),
            _ => Reply::Close,
        })
        .await
    }

    #[tokio::test]
    async fn an_absolute_class_name_in_an_answer_writes_nothing() {
        let outside = std::env::temp_dir().join(format!("hotpatch-abs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&outside);
        std::fs::create_dir_all(&outside).unwrap();
        let evil = outside.join("hp_abs").to_string_lossy().into_owned();
        let url = image_with_class(evil.clone()).await;
        let (config, target, root) = super::super::scratch_project("pull-abs", &url);
        let options = PullOptions::default();
        // Without the name check, `folder.join("/…/hp_abs.class.st")` is the absolute path.
        let failure = pull(&config, &target, &options).await.expect_err("refused");
        assert!(
            matches!(&failure, PullFailure::Plan(PullError::BadName(b)) if b.name == evil),
            "{failure}"
        );
        assert!(
            failure.to_string().contains("nothing was written"),
            "{failure}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(
            std::fs::read_dir(root.join("src/Sample-Core"))
                .unwrap()
                .count(),
            1,
            "only package.st"
        );
        std::fs::remove_dir_all(&outside).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_planned_path_outside_the_sources_refuses_every_write() {
        let root = std::env::temp_dir().join(format!("hotpatch-outside-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("src/P")).unwrap();
        let inside = root.join("src/P/Foo.class.st");
        let edit = |path: PathBuf| FileEdit {
            path,
            text: Some("x".into()),
            restyled: false,
        };
        for outside in [
            root.join("elsewhere.class.st"),
            root.join("src/P/../../elsewhere.class.st"),
            PathBuf::from("/tmp/hp_abs.class.st"),
        ] {
            let files = [edit(inside.clone()), edit(outside.clone())];
            let failure = write_all(&root.join("src"), &files).expect_err("refused");
            assert!(matches!(failure, PullFailure::Outside { .. }), "{failure}");
            assert!(!inside.exists(), "nothing written before the check");
            assert!(!outside.exists());
        }
        write_all(&root.join("src"), &[edit(inside.clone())]).unwrap();
        assert_eq!(std::fs::read_to_string(&inside).unwrap(), "x");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
