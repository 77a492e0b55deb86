//! `hotpatch status`: connect to a target's agent and print its `hello`.

use super::{Common, exit, fail, print_json, with_agent};
use clap::Args;

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print the agent's answer as JSON
    #[arg(long)]
    pub json: bool,
    /// Ask every target of this group ([groups.NAME]) at once, one line each
    #[arg(long, value_name = "NAME", conflicts_with = "target")]
    pub group: Option<String>,
}

pub fn run(args: StatusArgs) -> i32 {
    if let Some(group) = &args.group {
        return super::fleet::status(&args.common, group, args.json);
    }
    let outcome = with_agent(&args.common, async |client, target| {
        Ok((target.clone(), client.hello.clone()))
    });
    let (target, hello) = match outcome {
        Ok(pair) => pair,
        Err(e) => return fail(&e),
    };
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
