//! `--group NAME` on `push`, `diff`, `status` and `rollback`: the same commands across a fleet
//! (see [`crate::fleet`]). Progress goes to stderr: one live line per target on a terminal,
//! plain lines otherwise, nothing with `--json`; the report goes to stdout.

use crate::term::{errln, escape, outln};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Common, exit, print_json, report_error, runtime};
use crate::config::{Config, Group, Target};
use crate::fleet::{
    self, Cause, FleetOutcome, FleetReport, Observer, Quiet, RolloutOptions, TargetReport,
    TargetState,
};

/// A group's configuration and members, or the exit code of why they cannot be had.
fn load_group(common: &Common, name: &str) -> Result<(Config, Group, Vec<Target>), i32> {
    let loaded = common.load().and_then(|(config, _)| {
        let group = config.group(name)?.clone();
        let members = fleet::inventory::members(&config, &group)?;
        Ok((config, group, members))
    });
    loaded.map_err(|e| {
        report_error(&e);
        exit::ERROR
    })
}

/// What `push --group` and `diff --group` were asked.
pub struct FleetArgs<'a> {
    pub common: &'a Common,
    pub group: &'a str,
    /// What each member's push is asked (paths, cache, state-loss and rename choices).
    pub push: crate::ops::push::PushOptions,
    pub dry_run: bool,
    pub skip_unreachable: bool,
    pub json: bool,
}

/// `push --group` (and, with `dry_run`, `diff --group`): roll the sources out; exit 0 only when
/// every target ends on the new code.
pub fn push(args: &FleetArgs<'_>) -> i32 {
    let (config, group, members) = match load_group(args.common, args.group) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let options = RolloutOptions {
        push: args.push.clone(),
        dry_run: args.dry_run,
        skip_unreachable: args.skip_unreachable,
    };
    let report = {
        let live;
        let plain;
        let observer: &dyn Observer = if args.json {
            &Quiet
        } else if std::io::stderr().is_terminal() {
            live = LiveLines::new(&members);
            &live
        } else {
            plain = PlainLines(Instant::now());
            &plain
        };
        match runtime() {
            Ok(rt) => rt.block_on(fleet::rollout(
                &config, &group, &members, &options, observer,
            )),
            Err(e) => {
                report_error(&e);
                return exit::ERROR;
            }
        }
    };
    if args.json {
        print_json(&report);
    } else {
        print_report(&report);
    }
    exit_code(&report)
}

/// The exit code of a rollout: 0 only when every target is on the new code.
pub fn exit_code(report: &FleetReport) -> i32 {
    match (report.outcome, report.cause) {
        // Targets left out (--skip-unreachable) are not on the new code.
        (FleetOutcome::NothingToPush | FleetOutcome::RolledOut, _) if report.all_on_new_code() => {
            exit::OK
        }
        (FleetOutcome::NothingToPush | FleetOutcome::RolledOut, _) => exit::FLEET_INCOMPLETE,
        (FleetOutcome::DryRun, _) => exit::DIFFERENCES,
        (_, Some(Cause::Setup)) => exit::ERROR,
        (_, Some(Cause::Unreachable)) => exit::UNREACHABLE,
        (_, Some(Cause::NeedsRebuild)) => exit::NEEDS_REBUILD,
        _ => exit::FLEET_INCOMPLETE,
    }
}

fn print_report(report: &FleetReport) {
    let verdict = match report.outcome {
        FleetOutcome::NothingToPush => "every target already matches the sources",
        FleetOutcome::DryRun => "dry run: nothing was changed",
        FleetOutcome::RolledOut => "every target is on the new code",
        FleetOutcome::Refused => "refused: no target was changed",
        FleetOutcome::Stopped => "stopped: not every target is on the new code",
    };
    outln!(
        "group {}: {verdict} ({:.1} s)",
        report.group,
        report.millis as f64 / 1e3
    );
    for t in &report.targets {
        outln!("  {}", describe(t));
    }
    if let Some(reason) = &report.reason {
        errln!("hotpatch: {reason}");
    }
}

fn describe(t: &TargetReport) -> String {
    let epoch = match (t.epoch_before, t.epoch_now) {
        (Some(a), Some(b)) if a != b => format!(" epoch {a} -> {b}"),
        (_, Some(b)) => format!(" epoch {b}"),
        _ => String::new(),
    };
    let role = if t.role.is_empty() {
        String::new()
    } else {
        format!(" [{}]", t.role)
    };
    let changes = if t.changes > 0 {
        format!(", {} change(s)", t.changes)
    } else {
        String::new()
    };
    let error = t
        .error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!(
        "{:<16} {:<15}{role}{epoch}{changes}{error}",
        t.name,
        state_word(t.state)
    )
}

fn state_word(state: TargetState) -> &'static str {
    match state {
        TargetState::Pending => "pending",
        TargetState::UpToDate => "up to date",
        TargetState::WouldPatch => "would patch",
        TargetState::Patched => "patched",
        TargetState::RolledBack => "rolled back",
        TargetState::RollbackFailed => "ROLLBACK FAILED",
        TargetState::Untouched => "untouched",
        TargetState::Failed => "FAILED",
        TargetState::Unreachable => "unreachable",
        TargetState::Skipped => "skipped",
    }
}

/// One spinner line per target (indicatif), updated in place.
struct LiveLines {
    bars: Vec<(String, ProgressBar)>,
    _multi: MultiProgress,
}

impl LiveLines {
    fn new(members: &[Target]) -> LiveLines {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {prefix:<16} {wide_msg} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = members
            .iter()
            .map(|t| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(escape(&t.name).into_owned());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                (t.name.clone(), bar)
            })
            .collect();
        LiveLines {
            bars,
            _multi: multi,
        }
    }
}

impl Observer for LiveLines {
    fn update(&self, target: &TargetReport, phase: &str) {
        if let Some((_, bar)) = self.bars.iter().find(|(n, _)| *n == target.name) {
            let line = format!("{:<15} {phase}", state_word(target.state));
            match target.state {
                TargetState::Pending => bar.set_message(line),
                _ if phase == "survey" || phase == "pushing" || phase == "health" => {
                    bar.set_message(line)
                }
                _ => bar.finish_with_message(line),
            }
        }
    }
}

impl Drop for LiveLines {
    fn drop(&mut self) {
        for (_, bar) in &self.bars {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}

/// One line per update, for logs and CI.
struct PlainLines(Instant);

impl Observer for PlainLines {
    fn update(&self, target: &TargetReport, phase: &str) {
        errln!(
            "[{:>6.1}s] {}: {phase} ({})",
            self.0.elapsed().as_secs_f64(),
            target.name,
            state_word(target.state)
        );
    }
}

/// The group's members and a runtime to talk to them, or the exit code of why not.
fn members_and_runtime(
    common: &Common,
    group: &str,
) -> Result<(Config, Vec<Target>, tokio::runtime::Runtime), i32> {
    let (config, _, members) = load_group(common, group)?;
    let rt = runtime().map_err(|e| {
        report_error(&e);
        exit::ERROR
    })?;
    Ok((config, members, rt))
}

/// `status --group`: every member's agent, one line each (or one JSON array). Exit 0 when all
/// answer, 5 when some do not.
pub fn status(common: &Common, group: &str, json: bool) -> i32 {
    let (config, members, rt) = match members_and_runtime(common, group) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // The sources are read once for every member.
    let local = &crate::ops::drift::survey_sources(&config);
    type Answer = (
        crate::image::protocol::HelloInfo,
        Result<crate::ops::drift::Survey, String>,
    );
    let answers = rt.block_on(futures_util::future::join_all(members.iter().map(
        async |t| -> Result<Answer, String> {
            let token = t.token().map_err(|e| format!("{e:#}"))?;
            let mut client = crate::ops::connect(t, &token)
                .await
                .map_err(|e| e.to_string())?;
            let hello = client.hello.clone();
            let drift = crate::ops::drift::survey(&mut client, local).await;
            client.close().await;
            Ok((hello, drift))
        },
    )));
    let mut all = true;
    let mut drifted = false;
    let mut rows = Vec::new();
    for (t, answer) in members.iter().zip(answers) {
        match answer {
            Ok((hello, drift)) => {
                let summary = match &drift {
                    Ok(s) if s.report.is_clean() => "no drift".to_owned(),
                    Ok(s) => {
                        drifted = true;
                        let c = s.report.counts();
                        format!(
                            "DRIFT: {} in the image, {} conflict(s)",
                            c.drift, c.conflicts
                        )
                    }
                    Err(reason) => format!("drift unknown ({reason})"),
                };
                if !json {
                    outln!(
                        "{:<16} {}  session {}  epoch {}  {summary}",
                        t.name,
                        t.url,
                        escape(&hello.session),
                        hello.epoch
                    );
                }
                let drift = match drift {
                    Ok(s) => {
                        serde_json::json!({ "known": true, "clean": s.report.is_clean(), "counts": s.report.counts(), "items": s.report.items })
                    }
                    Err(reason) => serde_json::json!({ "known": false, "reason": reason }),
                };
                rows.push(serde_json::json!({ "target": t.name, "url": t.url.to_string(), "agent": hello, "drift": drift }));
            }
            Err(e) => {
                all = false;
                if !json {
                    outln!("{:<16} {}  unreachable: {e}", t.name, t.url);
                }
                rows.push(
                    serde_json::json!({ "target": t.name, "url": t.url.to_string(), "error": e }),
                );
            }
        }
    }
    if json {
        print_json(&serde_json::json!({ "group": group, "targets": rows }));
    }
    if !all {
        exit::UNREACHABLE
    } else if drifted {
        exit::DRIFT
    } else {
        exit::OK
    }
}

/// `rollback --group`: undoes the last batch of every member, last member first. Exit 0 when
/// every one was rolled back exactly.
pub fn rollback(common: &Common, group: &str, json: bool) -> i32 {
    let (_, members, rt) = match members_and_runtime(common, group) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut rows = Vec::new();
    let mut code = exit::OK;
    for t in members.iter().rev() {
        let result: Result<crate::image::protocol::RollbackResult, String> = rt.block_on(async {
            let token = t.token().map_err(|e| format!("{e:#}"))?;
            let mut client = crate::ops::connect(t, &token)
                .await
                .map_err(|e| e.to_string())?;
            let r = client.rollback().await.map_err(|e| e.to_string());
            client.close().await;
            r
        });
        match result {
            Ok(r) => {
                if !r.problems.is_empty() {
                    code = exit::ROLLBACK_INCOMPLETE;
                }
                if !json {
                    outln!(
                        "{:<16} rolled back batch {} (epoch {}){}",
                        t.name,
                        escape(&r.batch),
                        r.epoch,
                        if r.problems.is_empty() {
                            ""
                        } else {
                            " WITH PROBLEMS"
                        }
                    );
                }
                rows.push(serde_json::json!({ "target": t.name, "batch": r.batch, "epoch": r.epoch, "problems": r.problems }));
            }
            Err(e) => {
                if code == exit::OK {
                    code = exit::REJECTED;
                }
                if !json {
                    outln!("{:<16} not rolled back: {e}", t.name);
                }
                rows.push(serde_json::json!({ "target": t.name, "error": e }));
            }
        }
    }
    if json {
        print_json(&serde_json::json!({ "group": group, "targets": rows }));
    }
    code
}
