//! `hotpatch diff [PATHS…]`: what differs between the sources and the live image.
//! Exit code 0 when nothing differs, 1 when something does (like `git diff --exit-code`),
//! 2 and more for errors.

use super::{Common, exit, print_json, runtime};
use crate::diff::{render_stat, render_summary, render_unified};
use crate::ops::compare::{Comparison, SnapshotCache, compare};
use crate::ops::local::{self, SourceError};
use crate::ops::push::PushFailure;
use crate::term::{errln, out, outln};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub common: Common,
    /// Package folders or class/extension files to compare (default: every owned package)
    pub paths: Vec<PathBuf>,
    /// Only a per-class count of changes
    #[arg(long)]
    pub stat: bool,
    /// The changes as JSON (the diff module's `Changes` schema)
    #[arg(long)]
    pub json: bool,
    /// No ANSI colours (also when NO_COLOR is set or stdout is not a terminal)
    #[arg(long)]
    pub no_color: bool,
    /// Ignore the snapshot cache
    #[arg(long)]
    pub no_cache: bool,
    /// Compare every target of this group ([groups.NAME]): which need which changes, and
    /// whether one batch can serve them all (exit 0 none differ, 1 some do)
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub group: Option<String>,
}

pub fn run(args: DiffArgs) -> i32 {
    if let Some(group) = &args.group {
        return super::fleet::push(&super::fleet::FleetArgs {
            common: &args.common,
            group,
            push: crate::ops::push::PushOptions {
                paths: args.paths.clone(),
                use_cache: !args.no_cache,
                ..Default::default()
            },
            dry_run: true,
            skip_unreachable: false,
            json: args.json,
        });
    }
    let outcome = (|| -> Result<(Comparison, String), PushFailure> {
        let (config, overrides) = args.common.load().map_err(PushFailure::Config)?;
        let target = config.target(&overrides).map_err(PushFailure::Config)?;
        let local = local::load(&config, &args.paths).map_err(PushFailure::Source)?;
        let token = target.token().map_err(PushFailure::Config)?;
        let cache = (!args.no_cache).then(|| SnapshotCache::new(&config.root, &target.name));
        let rt = runtime().map_err(PushFailure::Config)?;
        let comparison = rt.block_on(async {
            let mut client = crate::ops::connect(&target, &token).await?;
            // An agent that reports drift is read fresh: a hand edit does not move the epoch
            // on every dialect, and diff must show it (push is guarded by the agent instead).
            let cache = cache.filter(|_| !client.hello.has("drift"));
            let c = compare(&mut client, &local, cache.as_ref()).await;
            client.close().await;
            c
        })?;
        Ok((comparison, target.name))
    })();
    let (comparison, target) = match outcome {
        Ok(pair) => pair,
        Err(failure) => {
            if let PushFailure::Source(SourceError::Tonel(errors)) = &failure {
                for e in errors {
                    errln!("{e}");
                }
            }
            errln!("hotpatch: error: {failure}");
            return super::push::failure_code(&failure);
        }
    };
    let changes = &comparison.changes;
    if args.json {
        print_json(&serde_json::json!({
            "target": target,
            "session": comparison.session,
            "epoch": comparison.epoch,
            "counts": changes.counts(),
            "changes": changes,
            "drift": comparison.drift,
        }));
    } else if changes.is_empty() {
        outln!("no differences with {target} (epoch {})", comparison.epoch);
    } else if args.stat {
        print_drift(&comparison);
        out!("{}", render_stat(changes));
    } else {
        let color = !args.no_color
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal();
        print_drift(&comparison);
        out!("{}", render_summary(changes));
        outln!();
        // Printed as it is: the renderer escapes what came from outside and adds the colours.
        print!("{}", render_unified(changes, color));
    }
    if changes.is_empty() {
        exit::OK
    } else {
        exit::DIFFERENCES
    }
}

/// The differences that come from the image's side (drift and conflicts), marked apart from
/// local changes: a push would undo them.
fn print_drift(comparison: &Comparison) {
    let lines = crate::ops::push::DriftLine::of(&comparison.drift);
    if lines.is_empty() {
        return;
    }
    outln!(
        "changed in the image since hotpatch installed it (a push would undo these; `hotpatch pull` takes them):"
    );
    for line in &lines {
        outln!("  {}", super::push::drift_line(line));
    }
    outln!();
}
