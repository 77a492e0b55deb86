//! `hotpatch pull [PATHS…]`: write what was changed in the live image into the Tonel files.

use super::{Common, exit, print_json, runtime};
use crate::drift::Standing;
use crate::drift::pull::{ConflictChoice, PullError};
use crate::ops::drift::{PullFailure, PullOptions, pull};
use crate::ops::local::SourceError;
use crate::ops::push::DriftLine;
use crate::term::{errln, escape, outln};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub common: Common,
    /// Package folders or class/extension files to pull into (default: every owned package)
    pub paths: Vec<PathBuf>,
    /// Say what would be written; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Conflicts (changed in the image and locally): take the image's version
    #[arg(long, conflicts_with = "ours")]
    pub theirs: bool,
    /// Conflicts: keep the local version (a later push needs --overwrite-drift)
    #[arg(long)]
    pub ours: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: PullArgs) -> i32 {
    let options = PullOptions {
        paths: args.paths.clone(),
        dry_run: args.dry_run,
        choice: if args.theirs {
            ConflictChoice::Theirs
        } else if args.ours {
            ConflictChoice::Ours
        } else {
            ConflictChoice::Ask
        },
    };
    let outcome = (|| {
        let (config, overrides) = args.common.load().map_err(PullFailure::Config)?;
        let target = config.target(&overrides).map_err(PullFailure::Config)?;
        let rt = runtime().map_err(PullFailure::Config)?;
        rt.block_on(pull(&config, &target, &options))
    })();
    let report = match outcome {
        Ok(r) => r,
        Err(failure) => return failed(&failure, args.json),
    };
    let code = if report.plan.conflicts.is_empty() {
        exit::OK
    } else {
        exit::DRIFT
    };
    if args.json {
        print_json(&report);
        return code;
    }
    let verb = if report.dry_run {
        "would write"
    } else {
        "wrote"
    };
    if report.plan.taken.is_empty()
        && report.plan.conflicts.is_empty()
        && report.plan.kept_ours.is_empty()
    {
        outln!(
            "nothing to pull from {} ({}): the image holds what hotpatch installed",
            report.target,
            report.url
        );
    }
    for item in report
        .drift
        .items
        .iter()
        .filter(|i| report.plan.taken.contains(&i.subject))
    {
        outln!("  {}", super::push::drift_line(&DriftLine::from(item)));
    }
    for edit in &report.plan.files {
        let what = if edit.text.is_some() {
            verb
        } else if report.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let restyled = if edit.restyled {
            " (the file was not in Pharo's Tonel style: it is rewritten in it)"
        } else {
            ""
        };
        outln!(
            "{what} {}{restyled}",
            escape(&edit.path.display().to_string())
        );
    }
    for subject in &report.plan.inexact {
        errln!(
            "hotpatch: warning: the image keeps no source for {}: its decompiled text was \
             written; review it before committing",
            escape(&subject.to_string())
        );
    }
    for subject in &report.plan.kept_ours {
        outln!(
            "  kept the local version of {} (push with --overwrite-drift to install it)",
            escape(&subject.to_string())
        );
    }
    if !report.plan.conflicts.is_empty() {
        errln!(
            "hotpatch: {} conflict(s), changed in the image and locally; nothing written for them:",
            report.plan.conflicts.len()
        );
        for item in report
            .drift
            .items
            .iter()
            .filter(|i| i.standing == Standing::Conflict)
        {
            errln!("  !! {}", escape(&item.subject.to_string()));
        }
        errln!(
            "Choose with `hotpatch pull --theirs` (the image wins) or `--ours` (the files win)."
        );
    }
    if !report.dry_run && report.epoch_after != report.epoch_before {
        outln!(
            "the image's versions are now recorded as installed (epoch {} -> {}); commit the files",
            report.epoch_before,
            report.epoch_after
        );
    }
    code
}

fn failed(failure: &PullFailure, json: bool) -> i32 {
    let code = match failure {
        PullFailure::Source(_)
        | PullFailure::Config(_)
        | PullFailure::Plan(_)
        | PullFailure::Write { .. }
        | PullFailure::Outside { .. }
        | PullFailure::Unsupported(_) => exit::ERROR,
        PullFailure::Agent(e) | PullFailure::Adopt(e) => super::client_error_code(e),
    };
    if json {
        let own = |kind: &str| serde_json::json!({ "kind": kind, "message": failure.to_string() });
        let mut error = match failure {
            PullFailure::Agent(e) => super::client_error_object(e),
            PullFailure::Source(_) => own("source_errors"),
            PullFailure::Config(_) => own("config"),
            // An image's name that cannot name a file, given exactly as the image sent it.
            PullFailure::Plan(PullError::BadName(bad)) => {
                let mut error = own("unsafe_name");
                error["name"] = serde_json::json!(bad.name);
                error
            }
            PullFailure::Plan(_) => own("plan"),
            PullFailure::Write { .. } => own("write"),
            PullFailure::Outside { path, .. } => {
                let mut error = own("outside_sources");
                error["path"] = serde_json::json!(path);
                error
            }
            PullFailure::Unsupported(_) => own("unsupported_agent"),
            // The files were written: say so in the kind, a retry is what is needed.
            PullFailure::Adopt(_) => own("adopt"),
        };
        if let PullFailure::Source(SourceError::Tonel(errors)) = failure {
            error["errors"] = serde_json::to_value(errors).unwrap_or_default();
        }
        print_json(&super::failure_json(error));
    } else {
        if let PullFailure::Source(SourceError::Tonel(errors)) = failure {
            for e in errors {
                errln!("{e}");
            }
        }
        errln!("hotpatch: error: {failure}");
    }
    code
}
