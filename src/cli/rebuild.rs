//! `hotpatch rebuild [--rollback] [--json]`: build a fresh image from the base, verify it, swap it
//! in and restart the application (see [`crate::rebuild`]); `--rollback` puts the previous image
//! back. Also the printer `hotpatch push` uses when it falls back to a rebuild.

use super::{Common, exit, print_json, report_error, runtime};
use crate::rebuild::{Progress, RebuildOutcome, RebuildReport};
use crate::term::{err, errln, outln};
use clap::Args;

#[derive(Args, Debug)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub common: Common,
    /// Put the previous image back (the current one becomes the backup) and restart
    #[arg(long)]
    pub rollback: bool,
    /// Print the outcome as JSON on stdout (progress stays on stderr)
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RebuildArgs) -> i32 {
    let outcome = (|| -> anyhow::Result<RebuildReport> {
        let (config, overrides) = args.common.load()?;
        let target = config.target(&overrides)?;
        let rt = runtime()?;
        let progress = Progress::stderr();
        rt.block_on(async {
            if args.rollback {
                crate::rebuild::rollback(&config, &target, &progress).await
            } else {
                crate::rebuild::rebuild(&config, &target, None, &progress).await
            }
        })
    })();
    match outcome {
        Ok(report) => {
            if args.json {
                print_json(&report);
            } else {
                print_report(&report);
            }
            exit_code(&report)
        }
        Err(e) => {
            if args.json {
                // The configuration, the sources or another rebuild of the same image keep it
                // from starting.
                let mut out = super::failure_json(super::error_object(&e));
                out["outcome"] = "not_started".into();
                out["image_changed"] = false.into();
                print_json(&out);
            } else {
                report_error(&e);
            }
            exit::ERROR
        }
    }
}

/// 0 when the rebuild (or rollback) went live, [`exit::REBUILD_FAILED`] otherwise.
pub fn exit_code(report: &RebuildReport) -> i32 {
    match report.outcome {
        RebuildOutcome::Rebuilt | RebuildOutcome::RolledBack => exit::OK,
        RebuildOutcome::Failed => exit::REBUILD_FAILED,
    }
}

/// The human-readable summary: outcome, then each phase with its time.
pub fn print_report(r: &RebuildReport) {
    match (&r.outcome, &r.failure) {
        (RebuildOutcome::Rebuilt, _) => outln!(
            "rebuilt {} ({}) in {:.1} s: the application runs the new image (session {})",
            r.target,
            r.image.display(),
            r.millis_total as f64 / 1000.0,
            r.session_after.as_deref().unwrap_or("-")
        ),
        (RebuildOutcome::RolledBack, _) => outln!(
            "rolled back {} ({}) in {:.1} s: the previous image runs (session {})",
            r.target,
            r.image.display(),
            r.millis_total as f64 / 1000.0,
            r.session_after.as_deref().unwrap_or("-")
        ),
        (RebuildOutcome::Failed, _) => {}
    }
    for p in &r.phases {
        outln!(
            "  {:<8} {:>8.1} s  {}{}",
            p.phase,
            p.millis as f64 / 1000.0,
            if p.ok { "ok" } else { "FAILED" },
            if p.detail.is_empty() {
                String::new()
            } else {
                format!("  {}", p.detail)
            }
        );
    }
    if let Some(b) = &r.backup {
        outln!(
            "previous image kept as {} (`hotpatch rebuild --rollback`)",
            b.display()
        );
    }
    if let Some(f) = &r.failure {
        errln!(
            "hotpatch: rebuild failed in phase {}: {}",
            f.phase,
            f.message
        );
        if !f.log_tail.is_empty() {
            err!("{}", f.log_tail);
        }
        if let Some(dir) = &f.work_dir {
            errln!("The build's files are kept in {}.", dir.display());
        }
        errln!(
            "{}",
            if f.previous_running {
                "The previous image is still running; nothing was lost."
            } else {
                "WARNING: the previous image is NOT known to be running: check the application."
            }
        );
    }
}
