//! `hotpatch eval EXPRESSION`: evaluate Smalltalk in the image (health checks, smoke tests).

use crate::term::outln;
use std::time::Duration;

use super::{Common, exit, fail, print_json, with_agent};
use clap::Args;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub common: Common,
    /// The time limit of the expression and its printString, in seconds (the agent's default
    /// is 5); past it the expression's process is ended and nothing is printed but the error
    #[arg(long, value_name = "SECS", value_parser = parse_limit)]
    pub timeout: Option<Duration>,
    /// Print {"value": …} (or, on failure, one JSON error object with its kind) as JSON
    #[arg(long)]
    pub json: bool,
    /// The Smalltalk expression; its printString is printed
    pub expression: String,
}

/// A time limit in seconds: a number from 0.001 to 86400.
fn parse_limit(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.001..=86_400.0).contains(&secs) {
        return Err(format!("{text} is out of range (0.001 to 86400 seconds)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(args: EvalArgs) -> i32 {
    let result = with_agent(&args.common, async |client, _| {
        client.eval_within(&args.expression, args.timeout).await
    });
    match result {
        Ok(value) if args.json => {
            print_json(&serde_json::json!({ "value": value }));
            exit::OK
        }
        Ok(value) => {
            outln!("{value}");
            exit::OK
        }
        // One JSON error whose kind is the agent's (`eval_failed`), `unreachable`, `config`….
        Err(e) => fail(&e, args.json),
    }
}
