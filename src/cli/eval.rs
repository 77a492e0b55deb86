//! `hotpatch eval EXPRESSION`: evaluate Smalltalk in the image (health checks, smoke tests).

use super::{Common, exit, report_error, runtime};
use clap::Args;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub common: Common,
    /// The Smalltalk expression; its printString is printed
    pub expression: String,
}

pub fn run(args: EvalArgs) -> i32 {
    let outcome = (|| -> anyhow::Result<String> {
        let (config, overrides) = args.common.load()?;
        let target = config.target(&overrides)?;
        let token = target.token()?;
        let rt = runtime()?;
        rt.block_on(async {
            let mut client = crate::ops::connect(&target, &token).await?;
            let value = client.eval(&args.expression).await;
            client.close().await;
            Ok(value?)
        })
    })();
    match outcome {
        Ok(value) => {
            println!("{value}");
            exit::OK
        }
        Err(e) => {
            report_error(&e);
            match e.downcast_ref::<crate::image::ClientError>() {
                Some(c) if c.agent().is_some() => exit::REJECTED,
                Some(_) => exit::UNREACHABLE,
                None => exit::ERROR,
            }
        }
    }
}
