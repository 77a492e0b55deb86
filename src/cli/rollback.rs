//! `hotpatch rollback`: undo the last batch applied to a target.

use super::{Common, exit, fail, failure_json, print_json, with_agent};
use crate::image::ClientError;
use crate::image::protocol::ErrorKind;
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
}

pub fn run(args: RollbackArgs) -> i32 {
    if let Some(group) = &args.group {
        return super::fleet::rollback(&args.common, group, args.json);
    }
    let identity = std::env::current_dir()
        .ok()
        .map(|dir| crate::ops::identity::gather(&dir));
    let r = match with_agent(&args.common, async |client, _| {
        client.rollback_as(identity).await
    }) {
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
                    eprintln!("hotpatch: {message}");
                }
                return exit::REJECTED;
            }
            return fail(&e, args.json);
        }
    };
    let exact = r.problems.is_empty();
    if args.json {
        print_json(&serde_json::json!({
            "outcome": if exact { "rolled_back" } else { "rolled_back_with_problems" },
            "batch": r.batch,
            "epoch": r.epoch,
            "problems": r.problems,
        }));
    } else {
        println!(
            "rolled back batch {} (image now at epoch {})",
            r.batch, r.epoch
        );
        for p in &r.problems {
            eprintln!("hotpatch: warning: an undo step failed: {p}");
        }
        if !exact {
            eprintln!(
                "hotpatch: the image may differ from before the batch; check with `hotpatch diff`"
            );
        }
    }
    if exact {
        exit::OK
    } else {
        exit::ROLLBACK_INCOMPLETE
    }
}
