//! `hotpatch status`: connect to a target's agent, print its `hello`, and say whether the image
//! has drifted from what hotpatch installed (exit 9 when it has: a deploy job's one question).

use super::{Common, exit, fail, print_json, runtime};
use crate::drift::DriftReport;
use crate::ops::push::DriftLine;
use clap::Args;

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print the agent's answer and the drift as JSON
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
    let outcome = (|| -> anyhow::Result<_> {
        let (config, overrides) = args.common.load()?;
        let target = config.target(&overrides)?;
        let token = target.token()?;
        let rt = runtime()?;
        rt.block_on(async {
            let mut client = crate::ops::connect(&target, &token).await?;
            let hello = client.hello.clone();
            // Without readable sources the agent's answer is still worth printing.
            let local = crate::ops::drift::survey_sources(&config);
            let drift = crate::ops::drift::survey(&mut client, &local).await;
            let drifted = drift
                .as_ref()
                .ok()
                .filter(|s| s.report.known)
                .map(|s| !s.report.is_clean());
            let provenance = crate::ops::provenance::read(&mut client, drifted).await?;
            client.close().await;
            Ok((target, hello, drift, provenance))
        })
    })();
    let (target, hello, drift, provenance) = match outcome {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let (report, local_changes, unknown) = match drift {
        Ok(s) => (s.report, Some(s.local_changes), None),
        Err(reason) => (DriftReport::unknown(), None, Some(reason)),
    };
    let counts = report.counts();
    let drifted = report.known && !report.is_clean();
    if args.json {
        print_json(&serde_json::json!({
            "target": target.name,
            "url": target.url,
            "agent": hello,
            "drift": {
                "known": report.known,
                "reason": unknown,
                "clean": report.known && report.is_clean(),
                "counts": counts,
                "items": report.items,
            },
            "local_changes": local_changes,
            "commit": provenance,
        }));
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
        match &provenance {
            Some(p) => println!("commit   {}", p.summary()),
            None => println!("commit   unknown (the agent keeps no audit log; update it)"),
        }
        match (&unknown, drifted) {
            (Some(reason), _) => println!("drift    unknown: {reason}"),
            (None, false) => println!("drift    none: the image holds what hotpatch installed"),
            (None, true) => {
                println!(
                    "drift    {} changed in the image only, {} conflict(s) (changed on both sides)",
                    counts.drift, counts.conflicts
                );
                for line in DriftLine::of(&report) {
                    println!("  {}", super::push::drift_line(&line));
                }
                println!(
                    "  `hotpatch pull` brings them into the files; `hotpatch push --overwrite-drift` replaces them"
                );
            }
        }
        if let Some(n) = local_changes.filter(|n| *n > 0) {
            println!("local    {n} change(s) not pushed yet (`hotpatch diff`)");
        }
    }
    if drifted { exit::DRIFT } else { exit::OK }
}
