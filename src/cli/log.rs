//! `hotpatch log [-n N]`: the agent's audit log — who applied, rolled back or pulled what, when.

use super::{Common, exit, fail, failure_json, print_json, with_agent};
use crate::image::protocol::{ClientIdentity, LogEntry};
use crate::term::{errln, escape, outln};
use clap::Args;

#[derive(Args, Debug)]
pub struct LogArgs {
    #[command(flatten)]
    pub common: Common,
    /// How many entries, newest first (0: every entry the image keeps)
    #[arg(short = 'n', long, default_value_t = 20)]
    pub count: u64,
    /// Print the entries as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: LogArgs) -> i32 {
    let limit = args.count;
    let log = with_agent(&args.common, async |client, target| {
        if !client.hello.has("log") {
            return Ok(None);
        }
        Ok(Some((target.name.clone(), client.log(Some(limit)).await?)))
    });
    let (target, log) = match log {
        Ok(Some(pair)) => pair,
        Ok(None) => {
            let message =
                "this image's agent keeps no audit log (it predates it); update the agent";
            if args.json {
                print_json(&failure_json(serde_json::json!({
                    "kind": "unsupported_agent",
                    "message": message,
                })));
            } else {
                errln!("hotpatch: error: {message}");
            }
            return exit::ERROR;
        }
        Err(e) => return fail(&e, args.json),
    };
    if args.json {
        print_json(&serde_json::json!({ "target": target, "log": log }));
        return exit::OK;
    }
    if log.entries.is_empty() {
        outln!("{target}: nothing recorded yet");
    }
    for entry in &log.entries {
        print_entry(entry);
    }
    if log.dropped > 0 {
        outln!(
            "({} older entries were dropped; the image keeps the last {})",
            log.dropped,
            log.limit
        );
    }
    exit::OK
}

fn print_entry(e: &LogEntry) {
    let epochs = match (e.epoch_before, e.epoch_after) {
        (Some(a), Some(b)) => format!(" epoch {a}->{b}"),
        _ => String::new(),
    };
    let batch = e
        .batch
        .as_deref()
        .map(|b| format!(" {}", escape(b)))
        .unwrap_or_default();
    outln!(
        "#{} {} {}{batch}{epochs} by {}",
        e.seq,
        escape(&e.time),
        escape(&e.event),
        who(e.client.as_ref())
    );
    let counts: Vec<String> = e
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(op, n)| format!("{n} {}", escape(op)))
        .collect();
    if !counts.is_empty() {
        outln!("    {}", counts.join(", "));
    }
    if !e.touched.is_empty() {
        let more = (e.touched_total as usize).saturating_sub(e.touched.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let touched: Vec<_> = e.touched.iter().map(|t| escape(t)).collect();
        outln!("    {}{more}", touched.join(", "));
    }
    for h in &e.hooks {
        outln!("    hook: {h}");
    }
    for o in &e.overwritten {
        let side = if o.side == crate::model::Side::Class {
            " class"
        } else {
            ""
        };
        outln!(
            "    replaced a change made in the image: {}{side}>>{}",
            escape(&o.class_name),
            escape(&o.selector)
        );
    }
}

/// `ann@laptop 3f2c1e0 (dirty)`, or `unknown` when the client said nothing; what the pusher's
/// environment and the image said, escaped.
fn who(client: Option<&ClientIdentity>) -> String {
    let Some(c) = client else {
        return "unknown".into();
    };
    let mut s = c
        .user
        .as_deref()
        .map_or("?".into(), |u| escape(u).into_owned());
    if let Some(host) = &c.host {
        s.push('@');
        s.push_str(&escape(host));
    }
    if let Some(commit) = &c.commit {
        s.push(' ');
        s.push_str(&escape(commit.get(..10).unwrap_or(commit)));
        if c.dirty == Some(true) {
            s.push_str(" (dirty)");
        }
    }
    s
}
