//! `hotpatch status`: connect to a target's agent, print its `hello`, and say whether the image
//! has drifted from what hotpatch installed (exit 9 when it has: a deploy job's one question).

use super::{Common, exit, fail, print_json, runtime};
use crate::drift::DriftReport;
use crate::ops::push::DriftLine;
use crate::term::{escape, outln};
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
            client.close().await;
            Ok((target, hello, drift))
        })
    })();
    let (target, hello, drift) = match outcome {
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
        }));
    } else {
        outln!("target   {} ({})", target.name, target.url);
        outln!("image    {}", escape(&hello.image));
        outln!(
            "dialect  {} {}",
            escape(&hello.dialect),
            escape(&hello.dialect_version)
        );
        outln!(
            "agent    {} (protocol {})",
            escape(&hello.agent_version),
            hello.protocol
        );
        outln!("session  {}", escape(&hello.session));
        outln!("epoch    {}", hello.epoch);
        match (&unknown, drifted) {
            (Some(reason), _) => outln!("drift    unknown: {reason}"),
            (None, false) => outln!("drift    none: the image holds what hotpatch installed"),
            (None, true) => {
                outln!(
                    "drift    {} changed in the image only, {} conflict(s) (changed on both sides)",
                    counts.drift,
                    counts.conflicts
                );
                for line in DriftLine::of(&report) {
                    outln!("  {}", super::push::drift_line(&line));
                }
                outln!(
                    "  `hotpatch pull` brings them into the files; `hotpatch push --overwrite-drift` replaces them"
                );
            }
        }
        if let Some(n) = local_changes.filter(|n| *n > 0) {
            outln!("local    {n} change(s) not pushed yet (`hotpatch diff`)");
        }
    }
    if drifted { exit::DRIFT } else { exit::OK }
}
