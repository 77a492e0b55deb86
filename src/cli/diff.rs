//! `hotpatch diff [PATHS…]`: what differs between the sources and the live image.
//! Exit code 0 when nothing differs, 1 when something does (like `git diff --exit-code`),
//! 2 and more for errors.

use super::{Common, exit, print_json, runtime};
use crate::diff::{render_stat, render_summary, render_unified};
use crate::ops::compare::{Comparison, SnapshotCache, compare};
use crate::ops::local;
use crate::ops::overrides::{self, Overrides};
use crate::ops::push::PushFailure;
use crate::term::{out, outln};
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
            git_ref: None,
            dry_run: true,
            skip_unreachable: false,
            json: args.json,
            offers_skip: false,
        });
    }
    let outcome = (|| -> Result<(Comparison, Overrides, String), PushFailure> {
        let (config, overrides) = args.common.load().map_err(PushFailure::Config)?;
        let target = config.target(&overrides).map_err(PushFailure::Config)?;
        let local = local::load(&config, &args.paths).map_err(PushFailure::Source)?;
        let token = target.token().map_err(PushFailure::Config)?;
        let cache = (!args.no_cache).then(|| SnapshotCache::new(&config.root, &target.name));
        let rt = runtime().map_err(PushFailure::Config)?;
        let (comparison, overrides) = rt.block_on(async {
            let mut client = crate::ops::connect(&target, &token).await?;
            // An agent that reports drift is read fresh: a hand edit does not move the epoch
            // on every dialect, and diff must show it (push is guarded by the agent instead).
            let cache = cache.filter(|_| !client.hello.has("drift"));
            let found = async {
                let c = compare(&mut client, &local, cache.as_ref()).await?;
                let o = overrides::find(&mut client, &c, &local.scope.packages).await?;
                Ok::<_, crate::image::ClientError>((c, o))
            }
            .await;
            client.close().await;
            found
        })?;
        Ok((comparison, overrides, target.name))
    })();
    let (comparison, overrides, target) = match outcome {
        Ok(pair) => pair,
        Err(failure) => {
            if args.json {
                print_json(&super::push::failure_json(&failure));
            } else {
                super::push::print_failure(&failure);
            }
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
            "overrides": override_list(&comparison, &overrides),
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
        print_overrides(&comparison, &overrides);
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

/// The changed methods that are overrides of another package's method (Monticello's
/// overrides): `{class_name, side, selector, change, owner}` each.
fn override_list(comparison: &Comparison, overrides: &Overrides) -> Vec<serde_json::Value> {
    comparison
        .changes
        .methods
        .iter()
        .filter_map(|m| {
            let key = m.key();
            let owner = overrides.get(&key)?;
            let change = serde_json::to_value(m).ok()?["change"].clone();
            Some(serde_json::json!({
                "class_name": key.class_name, "side": key.side, "selector": key.selector,
                "change": change, "owner": owner,
            }))
        })
        .collect()
}

/// Which changed methods are overrides, and what becomes of the method they replace.
fn print_overrides(comparison: &Comparison, overrides: &Overrides) {
    let lines: Vec<String> = comparison
        .changes
        .methods
        .iter()
        .filter_map(|m| {
            let owner = overrides.get(&m.key())?;
            let removed = matches!(m, crate::diff::MethodChange::Removed { .. });
            Some(format!(
                "  {}: {}",
                m.key(),
                crate::ops::overrides::note(removed, owner)
            ))
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    outln!(
        "overrides (methods of other packages; the image keeps each original and gives it back when the override is removed):"
    );
    for line in lines {
        outln!("{line}");
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
