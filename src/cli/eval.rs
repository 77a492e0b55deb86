//! `hotpatch eval EXPRESSION`: evaluate Smalltalk in the image (health checks, smoke tests).

use super::{Common, exit, fail, with_agent};
use crate::term::outln;
use clap::Args;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub common: Common,
    /// The Smalltalk expression; its printString is printed
    pub expression: String,
}

pub fn run(args: EvalArgs) -> i32 {
    match with_agent(&args.common, async |client, _| {
        client.eval(&args.expression).await
    }) {
        Ok(value) => {
            outln!("{value}");
            exit::OK
        }
        Err(e) => fail(&e),
    }
}
