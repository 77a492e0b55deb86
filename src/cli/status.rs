//! `hotpatch status`: connect to a target's agent and print its `hello`.

use super::{Common, exit, print_json, report_error, runtime};
use clap::Args;

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print the agent's answer as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> i32 {
    let outcome = (|| -> anyhow::Result<_> {
        let (config, overrides) = args.common.load()?;
        let target = config.target(&overrides)?;
        let token = target.token()?;
        let rt = runtime()?;
        rt.block_on(async {
            let client = crate::ops::connect(&target, &token).await?;
            let hello = client.hello.clone();
            client.close().await;
            Ok::<_, anyhow::Error>((target, hello))
        })
    })();
    match outcome {
        Ok((target, hello)) => {
            if args.json {
                print_json(
                    &serde_json::json!({ "target": target.name, "url": target.url, "agent": hello }),
                );
            } else {
                println!("target   {} ({})", target.name, target.url);
                println!("image    {}", hello.image);
                println!("dialect  {} {}", hello.dialect, hello.dialect_version);
                println!(
                    "agent    {} (protocol {})",
                    hello.agent_version, hello.protocol
                );
                println!("session  {}", hello.session);
                println!("epoch    {}", hello.epoch);
            }
            exit::OK
        }
        Err(e) => {
            report_error(&e);
            let unreachable = e
                .downcast_ref::<crate::image::ClientError>()
                .is_some_and(|c| !matches!(c, crate::image::ClientError::Agent(_)));
            if unreachable {
                exit::UNREACHABLE
            } else {
                exit::ERROR
            }
        }
    }
}
