//! `hotpatch rollback`: undo the last batch applied to a target.

use super::{Common, exit, print_json, report_error, runtime};
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
}

pub fn run(args: RollbackArgs) -> i32 {
    let outcome = (|| -> anyhow::Result<_> {
        let (config, overrides) = args.common.load()?;
        let target = config.target(&overrides)?;
        let token = target.token()?;
        let rt = runtime()?;
        Ok(rt.block_on(async {
            let mut client = crate::ops::connect(&target, &token).await?;
            let r = client.rollback().await;
            client.close().await;
            r
        }))
    })();
    match outcome {
        Ok(Ok(r)) => {
            if args.json {
                print_json(
                    &serde_json::json!({"outcome": "rolled_back", "batch": r.batch, "epoch": r.epoch}),
                );
            } else {
                println!(
                    "rolled back batch {} (image now at epoch {})",
                    r.batch, r.epoch
                );
            }
            exit::OK
        }
        Ok(Err(ClientError::Agent(e))) if e.kind == ErrorKind::NothingToRollback => {
            eprintln!("hotpatch: nothing to roll back: {}", e.message);
            exit::REJECTED
        }
        Ok(Err(e)) => {
            let code = if e.agent().is_some() {
                exit::REJECTED
            } else {
                exit::UNREACHABLE
            };
            eprintln!("hotpatch: error: {e}");
            code
        }
        Err(e) => {
            report_error(&e);
            exit::ERROR
        }
    }
}
