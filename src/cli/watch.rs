//! `hotpatch watch`: push each Tonel file as it is saved, for editors without a save hook (and
//! for people who prefer one terminal to a hook per editor), over one connection kept open
//! ([`crate::ops::kept`]). An editor's save hook (`hotpatch push FILE`) hands its file to a
//! running watch ([`crate::ops::handoff`]) instead of opening a connection of its own.

use super::{Common, exit, report_error, runtime};
use crate::config::Config;
use crate::ops::handoff::{Incoming, Listener, Reply};
use crate::ops::identity;
use crate::ops::kept::KeptConnection;
use crate::ops::push::{Outcome, PushFailure, PushOptions, PushReport};
use crate::term::errln;
use clap::Args;
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub common: Common,
    /// How long to wait for more saves before pushing (editors write a file in several steps),
    /// 0 to 60000 ms
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub settle_ms: u64,
}

pub fn run(args: WatchArgs) -> i32 {
    match watch(&args) {
        Ok(()) => exit::OK,
        Err(e) => {
            report_error(&e);
            exit::ERROR
        }
    }
}

fn watch(args: &WatchArgs) -> anyhow::Result<()> {
    let (config, overrides) = args.common.load()?;
    let target = config.target(&overrides)?;
    let token = target.token()?;
    let rt = runtime()?;
    rt.block_on(serve(args, &config, KeptConnection::new(target, token)))
}

async fn serve(args: &WatchArgs, config: &Config, mut kept: KeptConnection) -> anyhow::Result<()> {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })?;
    watcher
        .watch(&config.source, RecursiveMode::Recursive)
        .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", config.source.display()))?;
    let listener = Listener::bind(&config.root)?;
    let socket = listener.path().to_path_buf();
    let mut handed = listener.serve();
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // Connected before the first save, so that it does not pay for it; an agent that is not up
    // yet is tried again at the first save.
    if let Err(e) = kept.open().await {
        errln!("hotpatch: {e}; trying again at the next save");
    }
    let target = kept.target();
    errln!(
        "hotpatch: watching {} and pushing saved files to {} ({}); save hooks hand their pushes \
         over {}; Ctrl-C stops",
        config.source.display(),
        target.name,
        target.url,
        socket.display()
    );
    let settle = Duration::from_millis(args.settle_ms);
    let mut saved = BTreeSet::new();
    let mut quiet_at: Option<tokio::time::Instant> = None;
    // Who pushes (a git call), found from the moment a save is seen, during the settle time.
    let mut identity = None;
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                if collect(event, &mut saved) {
                    quiet_at = Some(tokio::time::Instant::now() + settle);
                    identity.get_or_insert_with(|| identity::gather_in_background(&config.root));
                }
            }
            () = sleep_until(quiet_at) => {
                quiet_at = None;
                let mut who = identity
                    .take()
                    .unwrap_or_else(|| identity::gather_in_background(&config.root));
                for path in std::mem::take(&mut saved) {
                    push_saved(&mut kept, config, &path, &mut who).await;
                }
            }
            incoming = handed.next() => {
                let Some(incoming) = incoming else { break };
                // The hook pushes these files now: the watch need not push them again.
                for path in &incoming.request.paths {
                    saved.remove(path);
                }
                hand_over(&mut kept, config, incoming).await;
            }
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    drop(handed);
    kept.close().await;
    Ok(())
}

/// Waits until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Pushes a saved file (or, for a deleted one, its package) and says how it went.
async fn push_saved(
    kept: &mut KeptConnection,
    config: &Config,
    path: &Path,
    identity: &mut identity::Pending,
) {
    let Some(push_path) = what_to_push(path) else {
        return;
    };
    let options = PushOptions {
        paths: vec![push_path],
        use_cache: true,
        ..Default::default()
    };
    let shown = path
        .strip_prefix(&config.root)
        .unwrap_or(path)
        .display()
        .to_string();
    let started = Instant::now();
    let result = kept.push(config, &options, identity).await;
    say(&shown, &result, started);
}

/// Runs a push a save hook handed over, and sends it what the push prints and its exit code.
async fn hand_over(kept: &mut KeptConnection, config: &Config, incoming: Incoming) {
    let request = incoming.request.clone();
    if request.target != kept.target().name {
        let reason = format!(
            "this watch pushes to target '{}', not '{}'",
            kept.target().name,
            request.target
        );
        incoming.reply(&Reply::Declined { reason }).await;
        return;
    }
    let options = PushOptions {
        paths: request.paths.clone(),
        use_cache: true,
        dry_run: request.dry_run,
        // As `push --dry-run` has it: the agent compiles the batch without installing it.
        compile_check: request.dry_run,
        no_hooks: request.no_hooks,
        ..Default::default()
    };
    let started = Instant::now();
    let mut who = identity::gather_in_background(&config.root);
    let result = kept.push(config, &options, &mut who).await;
    let (code, rendered) = super::push::render(&result, request.json);
    incoming
        .reply(&Reply::Done {
            code,
            stdout: rendered.out,
            stderr: rendered.err,
        })
        .await;
    let shown: Vec<String> = request
        .paths
        .iter()
        .map(|p| {
            p.strip_prefix(&config.root)
                .unwrap_or(p)
                .display()
                .to_string()
        })
        .collect();
    say(
        &format!("{} (save hook)", shown.join(" ")),
        &result,
        started,
    );
}

/// One line (and the errors) about a push of the watch, on its terminal.
fn say(shown: &str, result: &Result<PushReport, PushFailure>, started: Instant) {
    let live_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(r) => match r.outcome {
            Outcome::NothingToPush => errln!("{shown}: nothing to push"),
            Outcome::Applied => {
                let lines: Vec<String> = r
                    .changes
                    .iter()
                    .map(|c| format!("{} {}", c.change, c.name))
                    .collect();
                let m = &r.millis;
                errln!(
                    "{shown}: pushed in {live_ms:.1} ms (reading {}, comparing {}, applying {} \
                     ms): {}",
                    m.read,
                    m.snapshot,
                    m.apply,
                    lines.join(", ")
                );
                for h in r.hooks.iter().filter(|h| !h.is_done()) {
                    errln!("  hook {h} (reported only; the change stays)");
                }
            }
            Outcome::NeedsRebuild => {
                errln!("{shown}: not pushed, needs a rebuild:");
                for reason in &r.needs_rebuild {
                    errln!("  - {reason}");
                }
            }
            Outcome::Refused => {
                errln!(
                    "{shown}: not pushed, it would drop live state (push --rename-var or \
                     --allow-state-loss by hand):"
                );
                for reason in &r.refused {
                    errln!("  - {reason}");
                }
            }
            Outcome::Drift => {
                errln!(
                    "{shown}: not pushed, the image was changed by hand here (`hotpatch \
                     pull`, or push --overwrite-drift by hand):"
                );
                for d in &r.drift {
                    errln!("  {}", super::push::drift_line(d));
                }
            }
            Outcome::DryRun => errln!("{shown}: would push (dry run)"),
        },
        Err(PushFailure::CompileFailed(errors)) => {
            for e in errors {
                errln!("{e}");
            }
            errln!("{shown}: not pushed (compile errors); the image is unchanged");
        }
        Err(PushFailure::Source(crate::ops::local::SourceError::Syntax(errors))) => {
            for e in errors {
                errln!("{e}");
            }
            errln!("{shown}: not pushed (syntax errors); nothing was sent");
        }
        Err(PushFailure::Source(crate::ops::local::SourceError::Tonel(errors))) => {
            for e in errors {
                errln!("{e}");
            }
            errln!("{shown}: not pushed (Tonel errors)");
        }
        Err(other) => errln!("{shown}: not pushed: {other}"),
    }
}

/// Adds the Tonel files an event names to `saved`; true when it named any.
fn collect(event: notify::Result<notify::Event>, saved: &mut BTreeSet<PathBuf>) -> bool {
    let Ok(event) = event else { return false };
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    let mut any = false;
    for path in event.paths {
        if is_tonel_definition(&path) {
            saved.insert(path);
            any = true;
        }
    }
    any
}

fn is_tonel_definition(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    [".class.st", ".extension.st", ".trait.st"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// A saved file is pushed by itself; a deleted one through its package folder, so that its class
/// is removed from the image.
fn what_to_push(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    path.parent()
        .filter(|p| p.join("package.st").is_file())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_definition_files_are_pushed() {
        assert!(is_tonel_definition(Path::new("src/P/Foo.class.st")));
        assert!(is_tonel_definition(Path::new("src/P/String.extension.st")));
        assert!(is_tonel_definition(Path::new("src/P/TFoo.trait.st")));
        assert!(!is_tonel_definition(Path::new("src/P/package.st")));
        assert!(!is_tonel_definition(Path::new("src/P/.Foo.class.st.swp")));
        assert!(!is_tonel_definition(Path::new("src/P/Foo.class.st~")));
    }
}
