//! `hotpatch pull`: bring what was changed in the live image (drift) into the Tonel files, then
//! tell the agent that the image's version is now the installed one, so `status` is clean.
//!
//! Files are written only after every new text is ready (each to a temporary file first, then
//! renamed), so a failure leaves the sources as they were; the agent is told only after the
//! files are written.

use super::compare::compare;
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
    /// Writing the files failed; none was changed.
    #[error("cannot write {}: {source}; no file was changed", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
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
    write_all(&report.plan.files)?;
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

/// Writes every file to a temporary sibling first, then renames them all into place, so a
/// failure before the renames changes nothing.
fn write_all(files: &[FileEdit]) -> Result<(), PullFailure> {
    let fail = |path: &Path, source: std::io::Error| PullFailure::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut staged = Vec::new();
    for edit in files {
        if let Some(text) = &edit.text {
            if let Some(dir) = edit.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
            }
            let tmp = edit
                .path
                .with_extension(format!("st.hotpatch-{}", std::process::id()));
            if let Err(e) = std::fs::write(&tmp, text) {
                for (t, _) in &staged {
                    let _ = std::fs::remove_file(t);
                }
                return Err(fail(&edit.path, e));
            }
            staged.push((tmp, edit.path.clone()));
        }
    }
    for (tmp, path) in &staged {
        std::fs::rename(tmp, path).map_err(|e| fail(path, e))?;
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
