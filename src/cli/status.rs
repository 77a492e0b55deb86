//! `hotpatch status`: connect to a target's agent, print its `hello`, and say whether the image
//! has drifted from what hotpatch installed — a deploy job's one question, answered by the exit
//! code: 0 it has not, 9 it has, 10 hotpatch could not tell (never 0 then), 5 unreachable.

use super::{Common, exit, fail, print_json, runtime};
use crate::drift::DriftReport;
use crate::ops::drift::DriftUnknown;
use crate::ops::push::DriftLine;
use crate::term::{errln, escape, outln};
use clap::Args;

/// `hotpatch status --help` and its manual page: what the exit codes say.
pub const LONG_ABOUT: &str = "Connect to a target's agent, print what it says about the image, \
and whether the image has drifted from what hotpatch installed.

Exit 0: the image holds what hotpatch installed. 9: it has drifted (or conflicts). 10: hotpatch \
could not tell (the sources cannot be read, a listed package has no folder, the agent failed or \
predates drift reports; the reason is printed). 5: the agent could not be reached. 2: a \
configuration error.";

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
        Err(e) => return fail(&e, args.json),
    };
    let (report, local_changes, unknown) = match drift {
        Ok(s) => (s.report, Some(s.local_changes), None),
        Err(reason) => (DriftReport::unknown(), None, Some(reason)),
    };
    let counts = report.counts();
    let drifted = report.known && !report.is_clean();
    if args.json {
        let mut out = serde_json::json!({
            "target": target.name,
            "url": target.url,
            "agent": hello,
            "drift": {
                "known": report.known,
                "reason": unknown.as_ref().map(ToString::to_string),
                "clean": report.known && report.is_clean(),
                "counts": counts,
                "items": report.items,
            },
            "local_changes": local_changes,
            "commit": provenance,
        });
        if let Some(reason) = &unknown {
            out["error"] = unknown_object(reason);
        }
        print_json(&out);
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
        // The commit and the reasons come from the image's audit log: escaped like all it says.
        match &provenance {
            Some(p) => outln!("commit   {}", escape(&p.summary())),
            None => outln!("commit   unknown (the agent keeps no audit log; update it)"),
        }
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
        if unknown.is_some() {
            errln!("hotpatch: could not tell whether the image has drifted (see `drift` above)");
        }
    }
    match &unknown {
        Some(reason) => unknown_code(reason),
        None if drifted => exit::DRIFT,
        None => exit::OK,
    }
}

/// The exit code when drift is unknown: [`exit::UNREACHABLE`] when the connection broke (a
/// retry may tell), else [`exit::UNKNOWN`].
pub fn unknown_code(reason: &DriftUnknown) -> i32 {
    match reason {
        DriftUnknown::Agent(e) if super::client_error_code(e) == exit::UNREACHABLE => {
            exit::UNREACHABLE
        }
        _ => exit::UNKNOWN,
    }
}

/// The JSON error object for unknown drift: `sources`, `unsupported_agent`, or the kinds of a
/// failed exchange with the agent (`agent_error` with `agent_kind`, `unreachable`, …).
pub fn unknown_object(reason: &DriftUnknown) -> serde_json::Value {
    let own = |kind: &str| serde_json::json!({ "kind": kind, "message": reason.to_string() });
    match reason {
        DriftUnknown::Sources(_) => own("sources"),
        DriftUnknown::Unsupported => own("unsupported_agent"),
        DriftUnknown::Agent(e) => super::client_error_object(e),
    }
}
