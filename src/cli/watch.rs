//! `hotpatch watch`: push each Tonel file as it is saved, for editors without a save hook (and
//! for people who prefer one terminal to a hook per editor).

use super::{Common, exit, report_error, runtime};
use crate::ops::push::{Outcome, PushFailure, PushOptions, push};
use crate::term::errln;
use clap::Args;
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

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
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx)?;
    watcher
        .watch(&config.source, RecursiveMode::Recursive)
        .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", config.source.display()))?;
    errln!(
        "hotpatch: watching {} and pushing saved files to {} ({}); Ctrl-C stops",
        config.source.display(),
        target.name,
        target.url
    );
    let settle = Duration::from_millis(args.settle_ms);
    loop {
        // Block for the first event, then gather what follows within the settle time.
        let Ok(first) = rx.recv() else {
            return Ok(());
        };
        let mut saved = BTreeSet::new();
        collect(first, &mut saved);
        while let Ok(more) = rx.recv_timeout(settle) {
            collect(more, &mut saved);
        }
        for path in saved {
            let Some(push_path) = what_to_push(&path) else {
                continue;
            };
            let options = PushOptions {
                paths: vec![push_path.clone()],
                use_cache: true,
                token: Some(token.clone()),
                ..Default::default()
            };
            let shown = path
                .strip_prefix(&config.root)
                .unwrap_or(&path)
                .display()
                .to_string();
            match rt.block_on(push(&config, &target, &options)) {
                Ok(r) => match r.outcome {
                    Outcome::NothingToPush => errln!("{shown}: nothing to push"),
                    Outcome::Applied => {
                        let lines: Vec<String> = r
                            .changes
                            .iter()
                            .map(|c| format!("{} {}", c.change, c.name))
                            .collect();
                        errln!(
                            "{shown}: pushed in {} ms: {}",
                            r.millis.total,
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
                    Outcome::DryRun => {}
                },
                Err(PushFailure::CompileFailed(errors)) => {
                    for e in errors {
                        errln!("{e}");
                    }
                    errln!("{shown}: not pushed (compile errors); the image is unchanged");
                }
                Err(PushFailure::Source(crate::ops::local::SourceError::Syntax(errors))) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    eprintln!("{shown}: not pushed (syntax errors); nothing was sent");
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
    }
}

/// Adds the Tonel files an event names to `saved`.
fn collect(event: notify::Result<notify::Event>, saved: &mut BTreeSet<PathBuf>) {
    let Ok(event) = event else { return };
    if matches!(event.kind, EventKind::Access(_)) {
        return;
    }
    for path in event.paths {
        if is_tonel_definition(&path) {
            saved.insert(path);
        }
    }
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
