//! `hotpatch eval EXPRESSION`: evaluate Smalltalk in the image (health checks, smoke tests).

use super::{Common, exit, fail, print_json, with_agent};
use clap::Args;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub common: Common,
    /// The Smalltalk expression; its printString is printed
    pub expression: String,
    /// Print `{"value": printString}`, or on failure one JSON error, on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> i32 {
    match with_agent(&args.common, async |client, _| {
        client.eval(&args.expression).await
    }) {
        Ok(value) if args.json => {
            print_json(&serde_json::json!({ "value": value }));
            exit::OK
        }
        Ok(value) => {
            println!("{value}");
            exit::OK
        }
        Err(e) => fail(&e, args.json),
    }
}
