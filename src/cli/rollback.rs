//! `hotpatch rollback`: undo the last batch applied to a target.

use super::{Common, exit, fail, failure_json, print_json, with_agent};
use crate::image::ClientError;
use crate::image::protocol::{ErrorKind, OnHookFailure};
use crate::term::{errln, escape, outln};
use clap::Args;

#[derive(Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
    /// Undo the last batch of every target of this group ([groups.NAME]), last member first
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub group: Option<String>,
    /// Run none of the application's hooks on what changed back (no class-side
    /// hotpatchChanged:, no hooks.after_change)
    #[arg(long)]
    pub no_hooks: bool,
}

pub fn run(args: RollbackArgs) -> i32 {
    if let Some(group) = &args.group {
        return super::fleet::rollback(&args.common, group, args.json, !args.no_hooks);
    }
    let identity = std::env::current_dir()
        .ok()
        .map(|dir| crate::ops::identity::gather(&dir));
    let run_hooks = !args.no_hooks;
    let r = match with_agent(&args.common, async |client, target| {
        let hooks = match crate::ops::hooks_for(target, &client.hello, run_hooks) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok((
            client.rollback_with(identity, hooks).await?,
            target.hooks.on_failure,
        )))
    })
    .and_then(|r| r)
    {
        Ok(r) => r,
        Err(e) => {
            let nothing = e
                .downcast_ref::<ClientError>()
                .and_then(ClientError::agent)
                .is_some_and(|a| a.kind == ErrorKind::NothingToRollback);
            if nothing {
                let message = "nothing to roll back: no batch applied in this image session";
                if args.json {
                    let mut error = super::error_object(&e);
                    error["message"] = message.into();
                    print_json(&failure_json(error));
                } else {
                    errln!("hotpatch: {message}");
                }
                return exit::REJECTED;
            }
            return fail(&e, args.json);
        }
    };
    let (r, on_failure) = r;
    let exact = r.problems.is_empty();
    // A rollback cannot be undone: a failing hook is reported, and fails the command unless the
    // configuration says hook failures are only reported.
    let hooks_failed = on_failure == OnHookFailure::Undo && r.hooks.iter().any(|h| !h.is_done());
    if args.json {
        print_json(&serde_json::json!({
            "outcome": if exact { "rolled_back" } else { "rolled_back_with_problems" },
            "batch": r.batch,
            "epoch": r.epoch,
            "problems": r.problems,
            "hooks": r.hooks,
        }));
    } else {
        outln!(
            "rolled back batch {} (image now at epoch {})",
            escape(&r.batch),
            r.epoch
        );
        for p in &r.problems {
            errln!("hotpatch: warning: an undo step failed: {p}");
        }
        for h in &r.hooks {
            outln!("  hook: {h}");
        }
        if !exact {
            errln!(
                "hotpatch: the image may differ from before the batch; check with `hotpatch diff`"
            );
        }
        if hooks_failed {
            errln!(
                "hotpatch: the code is rolled back, but a hook failed on it: the application may \
                 not have taken the change back"
            );
        }
    }
    if exact && !hooks_failed {
        exit::OK
    } else {
        exit::ROLLBACK_INCOMPLETE
    }
}
