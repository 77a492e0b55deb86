//! `--group NAME` on `push`, `diff`, `status` and `rollback`: the same commands across a fleet
//! (see [`crate::fleet`]). Progress goes to stderr: one live line per target on a terminal,
//! plain lines otherwise, nothing with `--json`; the report goes to stdout.

use crate::term::{errln, escape, outln};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Common, exit, fail, print_json, runtime};
use crate::config::{Config, Group, Target};
use crate::fleet::{
    self, Cause, FleetOutcome, FleetReport, Observer, Quiet, RolloutOptions, TargetReport,
    TargetState,
};

/// A group's configuration and members, or the exit code of why they cannot be had (reported,
/// as one JSON error with `json`).
fn load_group(
    common: &Common,
    name: &str,
    json: bool,
) -> Result<(Config, Group, Vec<Target>), i32> {
    let loaded = common.load().and_then(|(config, _)| {
        let group = config.group(name)?.clone();
        let members = fleet::inventory::members(&config, &group)?;
        Ok((config, group, members))
    });
    loaded.map_err(|e| fail(&e, json))
}

/// What `push --group` and `diff --group` were asked.
pub struct FleetArgs<'a> {
    pub common: &'a Common,
    pub group: &'a str,
    /// What each member's push is asked (paths, cache, state-loss and rename choices).
    pub push: crate::ops::push::PushOptions,
    /// `--ref REV`: every member gets the sources of this revision, checked out once.
    pub git_ref: Option<&'a str>,
    pub dry_run: bool,
    pub skip_unreachable: bool,
    pub json: bool,
    /// Whether the command takes `--skip-unreachable` (`push` does, `diff` does not), so the
    /// hint to use it is only given where it works.
    pub offers_skip: bool,
}

/// `push --group` (and, with `dry_run`, `diff --group`): roll the sources out; exit 0 only when
/// every target ends on the new code.
pub fn push(args: &FleetArgs<'_>) -> i32 {
    let (config, group, members) = match load_group(args.common, args.group, args.json) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let mut push = args.push.clone();
    match super::push::checkout(&config, args.git_ref) {
        Ok(revision) => push.revision = revision,
        Err(e) => return fail(&anyhow::Error::new(e), args.json),
    }
    let options = RolloutOptions {
        push,
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
            Err(e) => return fail(&e, args.json),
        }
    };
    let code = exit_code(&report);
    if args.json {
        let mut out = serde_json::to_value(&report).unwrap_or_default();
        let failed = code != exit::OK && code != exit::DIFFERENCES;
        if let Some(cause) = report.cause.filter(|_| failed) {
            // One error object, as every command prints on failure; `targets` say who is where.
            out["error"] = serde_json::json!({
                "kind": cause,
                "message": report.reason.as_deref().unwrap_or_default(),
            });
        }
        print_json(&out);
    } else {
        print_report(&report);
        if report.cause == Some(Cause::Unreachable)
            && report.outcome == FleetOutcome::Refused
            && args.offers_skip
        {
            errln!("hotpatch: --skip-unreachable leaves unreachable targets out");
        }
    }
    code
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
        (_, Some(Cause::Rejected)) => exit::REJECTED,
        (_, Some(Cause::NeedsRebuild)) => exit::NEEDS_REBUILD,
        (_, Some(Cause::Refused)) => exit::REFUSED,
        (_, Some(Cause::Drift)) => exit::DRIFT,
        (_, Some(Cause::Disagree | Cause::Failure) | None) => exit::FLEET_INCOMPLETE,
    }
}

fn print_report(report: &FleetReport) {
    // Targets left out (--skip-unreachable) are not on the new code: never "every target".
    let complete = report.all_on_new_code();
    let verdict = match report.outcome {
        FleetOutcome::NothingToPush if complete => "every target already matches the sources",
        FleetOutcome::NothingToPush => {
            "every target reached already matches the sources; not every target is on the new code"
        }
        FleetOutcome::DryRun => "dry run: nothing was changed",
        FleetOutcome::RolledOut if complete => "every target is on the new code",
        FleetOutcome::RolledOut => {
            "rolled out to every target reached; not every target is on the new code"
        }
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
    json: bool,
) -> Result<(Config, Vec<Target>, tokio::runtime::Runtime), i32> {
    let (config, _, members) = load_group(common, group, json)?;
    let rt = runtime().map_err(|e| fail(&e, json))?;
    Ok((config, members, rt))
}

/// Why one member could not be asked: its configuration (no token) or the exchange with it.
enum MemberError {
    Config(anyhow::Error),
    Client(crate::image::ClientError),
}

impl MemberError {
    /// The exit code a single-target command would give for it.
    fn code(&self) -> i32 {
        match self {
            MemberError::Config(_) => exit::ERROR,
            MemberError::Client(e) => super::client_error_code(e),
        }
    }

    fn object(&self) -> serde_json::Value {
        match self {
            MemberError::Config(e) => super::error_object(e),
            MemberError::Client(e) => super::client_error_object(e),
        }
    }

    /// `unreachable: …`, `refused: …` or `error: …`, for the member's line.
    fn describe(&self) -> String {
        match self {
            MemberError::Client(e) if self.code() == exit::UNREACHABLE => {
                format!("unreachable: {e}")
            }
            MemberError::Client(e) if e.agent().is_some() => format!("refused: {e}"),
            MemberError::Client(e) => format!("error: {e}"),
            MemberError::Config(e) => format!("error: {e:#}"),
        }
    }
}

/// Connects to one member with its own token.
async fn connect_member(t: &Target) -> Result<crate::image::Client, MemberError> {
    let token = t.token().map_err(MemberError::Config)?;
    crate::ops::connect(t, &token)
        .await
        .map_err(MemberError::Client)
}

/// The group's exit code from its members' codes: a member that could not be asked first (the
/// configuration, then a refusing agent, then an unreachable one), else drift (9), else "could
/// not tell" (10), else 0.
fn group_code(codes: &[i32]) -> i32 {
    [
        exit::ERROR,
        exit::REJECTED,
        exit::UNREACHABLE,
        exit::ROLLBACK_INCOMPLETE,
        exit::DRIFT,
        exit::UNKNOWN,
    ]
    .into_iter()
    .find(|c| codes.contains(c))
    .unwrap_or(exit::OK)
}

/// `status --group`: every member's agent and drift, one line each (or one JSON document). Exit
/// as [`group_code`] says: 5 when a member does not answer, 9 when one has drifted, 10 when for
/// one hotpatch could not tell.
pub fn status(common: &Common, group: &str, json: bool) -> i32 {
    let (config, members, rt) = match members_and_runtime(common, group, json) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // The sources are read once for every member.
    let local = &crate::ops::drift::survey_sources(&config);
    type Answer = (
        crate::image::protocol::HelloInfo,
        Result<crate::ops::drift::Survey, crate::ops::drift::DriftUnknown>,
        Option<crate::ops::provenance::Provenance>,
    );
    let answers = rt.block_on(futures_util::future::join_all(members.iter().map(
        async |t| -> Result<Answer, MemberError> {
            let mut client = connect_member(t).await?;
            let hello = client.hello.clone();
            let drift = crate::ops::drift::survey(&mut client, local).await;
            let drifted = drift
                .as_ref()
                .ok()
                .filter(|s| s.report.known)
                .map(|s| !s.report.is_clean());
            let provenance = crate::ops::provenance::read(&mut client, drifted)
                .await
                .map_err(MemberError::Client)?;
            client.close().await;
            Ok((hello, drift, provenance))
        },
    )));
    let mut codes = Vec::new();
    let mut rows = Vec::new();
    if !json {
        // Members × commit, one table.
        outln!(
            "{:<16} {:<21} {:<6} {:<24} URL",
            "TARGET",
            "COMMIT",
            "EPOCH",
            "DRIFT"
        );
    }
    for (t, answer) in members.iter().zip(answers) {
        match answer {
            Ok((hello, drift, provenance)) => {
                let summary = match &drift {
                    Ok(s) if s.report.is_clean() => "no drift".to_owned(),
                    Ok(s) => {
                        codes.push(exit::DRIFT);
                        let c = s.report.counts();
                        format!(
                            "DRIFT: {} in the image, {} conflict(s)",
                            c.drift, c.conflicts
                        )
                    }
                    Err(reason) => {
                        codes.push(super::status::unknown_code(reason));
                        format!("drift unknown ({reason})")
                    }
                };
                if !json {
                    let commit = match &provenance {
                        Some(p) => match (&p.commit, p.modified) {
                            (Some(c), false) => c.get(..10).unwrap_or(c).to_owned(),
                            (Some(c), true) => format!("{} modified", c.get(..10).unwrap_or(c)),
                            (None, _) => "unknown".to_owned(),
                        },
                        None => "unknown".to_owned(),
                    };
                    let why = provenance
                        .as_ref()
                        .filter(|p| !p.reasons.is_empty())
                        .map(|p| format!("  ({})", p.reasons.join("; ")))
                        .unwrap_or_default();
                    // From the image's audit log: one-line fields, escaped so that no column moves.
                    let (commit, why) = (escape(&commit), escape(&why));
                    outln!(
                        "{:<16} {commit:<21} {:<6} {summary:<24} {}{why}",
                        t.name,
                        hello.epoch,
                        t.url
                    );
                }
                let drift = match drift {
                    Ok(s) => {
                        serde_json::json!({ "known": true, "clean": s.report.is_clean(), "counts": s.report.counts(), "items": s.report.items })
                    }
                    Err(reason) => serde_json::json!({
                        "known": false,
                        "reason": reason.to_string(),
                        "error": super::status::unknown_object(&reason),
                    }),
                };
                rows.push(serde_json::json!({ "target": t.name, "url": t.url.to_string(), "agent": hello, "drift": drift, "commit": provenance }));
            }
            Err(e) => {
                codes.push(e.code());
                if !json {
                    outln!(
                        "{:<16} {:<21} {:<6} {:<24} {}  {}",
                        t.name,
                        "?",
                        "?",
                        "?",
                        t.url,
                        e.describe()
                    );
                }
                rows.push(
                    serde_json::json!({ "target": t.name, "url": t.url.to_string(), "error": e.object() }),
                );
            }
        }
    }
    let code = group_code(&codes);
    if json {
        let mut out = serde_json::json!({ "group": group, "targets": rows });
        if code != exit::OK && code != exit::DRIFT {
            out["error"] = serde_json::json!({
                "kind": "members",
                "message": "not every member could be asked whether it has drifted (see targets)",
            });
        }
        print_json(&out);
    }
    code
}

/// `rollback --group`: undoes the last batch of every member, last member first, running each
/// member's application hooks unless `run_hooks` is false. Exit 0 when every one was rolled back
/// exactly; 7 when undo steps (or, with `on_failure = "undo"`, hooks) failed; when some members
/// could not be rolled back: 8 if others were (the report says which is where), else the code a
/// single rollback gives (5 unreachable, 4 refused, e.g. nothing to roll back, 2 configuration).
pub fn rollback(common: &Common, group: &str, json: bool, run_hooks: bool) -> i32 {
    let (config, members, rt) = match members_and_runtime(common, group, json) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let identity = crate::ops::identity::gather(&config.root);
    let mut rows = Vec::new();
    let mut codes = Vec::new();
    let mut changed = 0;
    for t in members.iter().rev() {
        let result: Result<crate::image::protocol::RollbackResult, MemberError> =
            rt.block_on(async {
                let mut client = connect_member(t).await?;
                let r = match crate::ops::hooks_for(t, &client.hello, run_hooks) {
                    Ok(hooks) => client
                        .rollback_with(Some(identity.clone()), hooks)
                        .await
                        .map_err(MemberError::Client),
                    Err(e) => Err(MemberError::Config(e)),
                };
                client.close().await;
                r
            });
        match result {
            Ok(r) => {
                changed += 1;
                let hooks_failed = t.hooks.on_failure
                    == crate::image::protocol::OnHookFailure::Undo
                    && r.hooks.iter().any(|h| !h.is_done());
                if !r.problems.is_empty() || hooks_failed {
                    codes.push(exit::ROLLBACK_INCOMPLETE);
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
                if !json {
                    for h in &r.hooks {
                        outln!("{:<16}   hook: {h}", "");
                    }
                }
                rows.push(serde_json::json!({ "target": t.name, "state": "rolled_back", "batch": r.batch, "epoch": r.epoch, "problems": r.problems, "hooks": r.hooks }));
            }
            Err(e) => {
                codes.push(e.code());
                if !json {
                    outln!("{:<16} not rolled back: {}", t.name, e.describe());
                }
                rows.push(serde_json::json!({ "target": t.name, "state": "not_rolled_back", "error": e.object() }));
            }
        }
    }
    let failed = codes
        .iter()
        .any(|c| *c != exit::OK && *c != exit::ROLLBACK_INCOMPLETE);
    let code = if failed && changed > 0 {
        exit::FLEET_INCOMPLETE
    } else {
        group_code(&codes)
    };
    if json {
        let mut out = serde_json::json!({ "group": group, "targets": rows });
        if failed {
            out["error"] = serde_json::json!({
                "kind": "members",
                "message": format!(
                    "{} of {} member(s) were not rolled back (see targets)",
                    members.len() - changed,
                    members.len()
                ),
            });
        }
        print_json(&out);
    } else if failed && changed > 0 {
        errln!(
            "hotpatch: {changed} of {} member(s) rolled back, the others not: the group is on \
             mixed code",
            members.len()
        );
    }
    code
}
