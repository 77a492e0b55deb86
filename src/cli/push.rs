//! `hotpatch push [PATHS…]`: apply what differs, all or nothing, and say what happened.

use super::{Common, exit, print_json, runtime};
use crate::config::{Config, OnNeedsRebuild, Target};
use crate::image::ProgressSink;
use crate::image::protocol::ErrorKind;
use crate::image::protocol::Progress;
use crate::ops::local::SourceError;
use crate::ops::push::{
    Outcome, PushFailure, PushOptions, PushReport, RebuildTrigger, push, rebuild_trigger,
};
use crate::plan::state::Rename;
use crate::rebuild::liveness::{AppState, application_state};
use crate::term::{errln, escape};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub common: Common,
    /// Package folders or class/extension files to push (default: every owned package)
    pub paths: Vec<PathBuf>,
    /// Show what would be applied, and have the image compile it without installing anything
    /// (a method that does not compile fails the dry run as it would fail the push)
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as JSON (for deploy jobs)
    #[arg(long)]
    pub json: bool,
    /// Ignore the snapshot cache and ask the image for everything
    #[arg(long)]
    pub no_cache: bool,
    /// Accepted for non-interactive use; push never asks questions
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// When a change cannot go live, or the agent is unreachable and the application is
    /// confirmed down, rebuild the image (overrides the target's on_needs_rebuild)
    #[arg(long, conflicts_with = "no_rebuild")]
    pub rebuild: bool,
    /// Never rebuild; refuse changes that cannot go live (overrides on_needs_rebuild)
    #[arg(long)]
    pub no_rebuild: bool,
    /// Roll out to every target of this group ([groups.NAME]): canary first, then waves, each
    /// health-checked; on a failure, stop and roll back (exit 0 only when all are on the new code)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["rebuild", "target"])]
    pub group: Option<String>,
    /// With --group: leave unreachable targets out (reported) instead of refusing the rollout
    #[arg(long, requires = "group")]
    pub skip_unreachable: bool,
    /// Push even when live objects hold values in variables (or instances of classes) the push
    /// removes; those values are lost
    #[arg(long)]
    pub allow_state_loss: bool,
    /// A variable renamed in the sources: live values of Class.old move into new (repeatable)
    #[arg(long = "rename-var", value_name = "CLASS.OLD=NEW")]
    pub rename_var: Vec<Rename>,
    /// Run no class-side initialize (by default new classes and classes whose class-side
    /// initialize the push adds or changes run it, superclasses first)
    #[arg(long)]
    pub no_initialize: bool,
    /// Replace definitions that were changed in the image since hotpatch installed them (hand
    /// fixes); the agent keeps what it replaced, so `hotpatch rollback` brings it back
    #[arg(long)]
    pub overwrite_drift: bool,
    /// Run none of the application's hooks (no class-side hotpatchChanged:, no
    /// hooks.after_change): for pushing past a hook that fails
    #[arg(long)]
    pub no_hooks: bool,
    /// Push the sources as they are at this git revision (a tag, branch or commit), not the
    /// work tree's; the work tree and the index are not touched. Never falls back to a rebuild
    #[arg(long = "ref", value_name = "REV", conflicts_with_all = ["paths", "rebuild"])]
    pub git_ref: Option<String>,
}

pub fn run(args: PushArgs) -> i32 {
    if let Some(code) = hand_off(&args) {
        return code;
    }
    // A bar only for a person watching a single push: not for machines (--json, a pipe) and
    // not for a group rollout, which has its own lines.
    let bar = (!args.json && args.group.is_none() && std::io::stderr().is_terminal())
        .then(ProgressLine::new);
    let options = PushOptions {
        progress: bar.as_ref().map(ProgressLine::sink),
        paths: args.paths.clone(),
        dry_run: args.dry_run,
        compile_check: args.dry_run,
        use_cache: !args.no_cache,
        token: None,
        allow_state_loss: args.allow_state_loss,
        renames: args.rename_var.clone(),
        no_initialize: args.no_initialize,
        overwrite_drift: args.overwrite_drift,
        no_hooks: args.no_hooks,
        revision: None,
    };
    if let Some(group) = &args.group {
        return super::fleet::push(&super::fleet::FleetArgs {
            common: &args.common,
            group,
            push: options,
            git_ref: args.git_ref.as_deref(),
            dry_run: args.dry_run,
            skip_unreachable: args.skip_unreachable,
            json: args.json,
            offers_skip: true,
        });
    }
    let mut loaded = None;
    let mut options = options;
    let outcome = (|| -> Result<PushReport, PushFailure> {
        let (config, overrides) = args.common.load().map_err(PushFailure::Config)?;
        let target = config.target(&overrides).map_err(PushFailure::Config)?;
        options.revision = checkout(&config, args.git_ref.as_deref())?;
        let rt = runtime().map_err(PushFailure::Config)?;
        let result = rt.block_on(push(&config, &target, &options));
        loaded = Some((config, target));
        result
    })();
    if let Some(bar) = &bar {
        bar.clear();
    }
    if let Some((config, target)) = &loaded
        && !args.dry_run
        && rebuild_allowed(&args, target)
        && let Some(trigger) = rebuild_trigger(&outcome)
    {
        return rebuild_fallback(&args, config, target, trigger, &outcome);
    }
    let (code, rendered) = render(&outcome, args.json);
    rendered.print();
    code
}

/// What a push prints, gathered rather than printed: a push handed to a running `hotpatch
/// watch` (see [`crate::ops::handoff`]) prints exactly what it would have printed itself.
#[derive(Debug, Default)]
pub struct Rendered {
    pub out: String,
    pub err: String,
}

impl Rendered {
    /// Prints what was gathered, stdout then stderr (already escaped where it is shown text).
    pub fn print(&self) {
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(self.out.as_bytes());
        let _ = std::io::stderr().write_all(self.err.as_bytes());
    }
}

/// `outln!` into the gathered stdout: the line goes through [`crate::term::escape_text`].
macro_rules! shown_out {
    ($o:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o.out, "{}", crate::term::escape_text(&format!($($t)*)));
    }};
}

/// `errln!` into the gathered stderr: the line goes through [`crate::term::escape_text`].
macro_rules! shown_err {
    ($o:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o.err, "{}", crate::term::escape_text(&format!($($t)*)));
    }};
}

/// The exit code and the output of a push that ended without a rebuild, as `--json` or as
/// text.
pub fn render(outcome: &Result<PushReport, PushFailure>, json: bool) -> (i32, Rendered) {
    let mut o = Rendered::default();
    let code = match outcome {
        Ok(report) => {
            if json {
                write_json(&mut o, report);
            } else {
                print_report(&mut o, report);
            }
            match report.outcome {
                Outcome::NeedsRebuild => exit::NEEDS_REBUILD,
                Outcome::Refused => exit::REFUSED,
                Outcome::Drift => exit::DRIFT,
                _ => exit::OK,
            }
        }
        Err(failure) => {
            if json {
                write_json(&mut o, &failure_json(failure));
            } else {
                write_failure(&mut o, failure);
            }
            failure_code(failure)
        }
    };
    (code, o)
}

/// Pretty JSON, as [`super::print_json`] prints it (data: never escaped).
fn write_json(o: &mut Rendered, value: &impl serde::Serialize) {
    use std::fmt::Write as _;
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            let _ = writeln!(o.out, "{s}");
        }
        Err(e) => shown_err!(o, "hotpatch: error: cannot encode the JSON output: {e}"),
    }
}

/// A save hook's push (`hotpatch push FILE…`, at most with `--json`, `--dry-run`,
/// `--no-hooks`) handed to the project's running `hotpatch watch`, which pushes it over the
/// connection it keeps open and sends back what to print and the exit code. `None`: no watch
/// took it (none running, another target, a push with other options, or one that may rebuild),
/// and the push runs here.
fn hand_off(args: &PushArgs) -> Option<i32> {
    let plain = !args.paths.is_empty()
        && args.group.is_none()
        && args.git_ref.is_none()
        && !args.rebuild
        && !args.no_cache
        && !args.allow_state_loss
        && args.rename_var.is_empty()
        && !args.no_initialize
        && !args.overwrite_drift;
    if !plain {
        return None;
    }
    let (config, overrides) = args.common.load().ok()?;
    let target = config.target(&overrides).ok()?;
    // A push that may end in a rebuild runs here, where the rebuild runs.
    if !args.dry_run && rebuild_allowed(args, &target) {
        return None;
    }
    let request = crate::ops::handoff::Request {
        target: target.name.clone(),
        paths: args
            .paths
            .iter()
            .map(|p| std::path::absolute(p).ok())
            .collect::<Option<_>>()?,
        json: args.json,
        dry_run: args.dry_run,
        no_hooks: args.no_hooks,
    };
    // The watch's own limits, and some: it may be busy with a push of its own first.
    let limit = (target.timeout + target.apply_timeout) * 2;
    match crate::ops::handoff::hand_off(&config.root, &request, limit)? {
        crate::ops::handoff::Reply::Done {
            code,
            stdout,
            stderr,
        } => {
            Rendered {
                out: stdout,
                err: stderr,
            }
            .print();
            Some(code)
        }
        crate::ops::handoff::Reply::Declined { .. } => None,
    }
}

/// The progress bar of a push on a terminal: hidden until the agent reports progress (a batch
/// or snapshot that takes more than about a second), then one line `phase [bar] done/total`.
struct ProgressLine {
    bar: ProgressBar,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{msg:>9} [{wide_bar}] {pos}/{len} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        ProgressLine { bar }
    }

    /// The sink that moves the bar (shown from the first progress message on).
    fn sink(&self) -> ProgressSink {
        let bar = self.bar.clone();
        ProgressSink::new(move |p: &Progress| {
            if bar.is_hidden() {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_length(p.total);
            bar.set_position(p.done);
            bar.set_message(escape(&phase_word(&p.phase)).into_owned());
        })
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// The agent's phase name as the bar shows it.
fn phase_word(phase: &str) -> String {
    match phase {
        "compile" => "compiling".to_owned(),
        "install" => "installing".to_owned(),
        "classes" => "reading".to_owned(),
        other => other.to_owned(),
    }
}

/// The sources of `--ref REV`, checked out of git once (a group's members share them).
pub fn checkout(
    config: &Config,
    git_ref: Option<&str>,
) -> Result<Option<std::sync::Arc<crate::revision::Revision>>, PushFailure> {
    let Some(spec) = git_ref else {
        return Ok(None);
    };
    let revision = crate::revision::Revision::checkout(&config.root, &config.source, spec)?;
    Ok(Some(std::sync::Arc::new(revision)))
}

/// `--rebuild` / `--no-rebuild`, else the target's `on_needs_rebuild`. Never with `--ref`: a
/// rebuild builds from the work tree, not from the revision pushed.
fn rebuild_allowed(args: &PushArgs, target: &Target) -> bool {
    if args.git_ref.is_some() {
        return false;
    }
    if args.rebuild || args.no_rebuild {
        return args.rebuild;
    }
    target.rebuild.on_needs_rebuild == OnNeedsRebuild::Rebuild
}

/// The push could not go live and a rebuild is allowed: build, swap, restart, verify. When the
/// agent was unreachable, only after confirming that the application is down.
fn rebuild_fallback(
    args: &PushArgs,
    config: &Config,
    target: &Target,
    trigger: RebuildTrigger,
    pushed: &Result<PushReport, PushFailure>,
) -> i32 {
    if let RebuildTrigger::AgentUnreachable(reason) = &trigger {
        match confirm_down(config, target) {
            Ok(state) if state.is_down() => {
                errln!(
                    "hotpatch: {reason}; the application is down: {}",
                    state.evidence()
                );
            }
            Ok(state) => return refuse_rebuild(args, &state, pushed),
            Err(e) => return cannot_rebuild(args, &e, pushed),
        }
    }
    let trigger = trigger.reason().to_owned();
    let progress = crate::rebuild::Progress::stderr();
    let rebuilt = runtime().and_then(|rt| {
        rt.block_on(crate::rebuild::rebuild(
            config,
            target,
            Some(trigger.clone()),
            &progress,
        ))
    });
    let push_json = match pushed {
        Ok(report) => serde_json::to_value(report).unwrap_or_default(),
        Err(failure) => failure_json(failure),
    };
    match rebuilt {
        Ok(report) => {
            let code = super::rebuild::exit_code(&report);
            if args.json {
                print_json(&serde_json::json!({
                    "outcome": if code == exit::OK { "rebuilt" } else { "rebuild_failed" },
                    "push": push_json,
                    "rebuild": report,
                }));
            } else {
                super::rebuild::print_report(&report);
            }
            code
        }
        Err(e) => cannot_rebuild(args, &e, pushed),
    }
}

/// Whether the application of `target` is down (its rebuild settings must be complete).
fn confirm_down(config: &Config, target: &Target) -> anyhow::Result<AppState> {
    let settings = crate::rebuild::Settings::resolve(config, target)?;
    let rt = runtime()?;
    Ok(rt.block_on(application_state(
        &settings,
        &target.url,
        &config.root,
        target.timeout,
    )))
}

/// The agent is unreachable but the application is (or may be) running: no rebuild; the push
/// failed as unreachable (exit 5, safe to retry).
fn refuse_rebuild(
    args: &PushArgs,
    state: &AppState,
    pushed: &Result<PushReport, PushFailure>,
) -> i32 {
    let (application, why) = match state {
        AppState::Running(_) => ("running", "the application is running"),
        AppState::Unknown(_) | AppState::Down(_) => (
            "unknown",
            "hotpatch cannot confirm that the application is down",
        ),
    };
    if args.json {
        let mut out = match pushed {
            Err(failure) => failure_json(failure),
            Ok(report) => serde_json::to_value(report).unwrap_or_default(),
        };
        out["rebuild"] = serde_json::json!({
            "refused": true,
            "application": application,
            "evidence": state.evidence(),
        });
        print_json(&out);
    } else {
        if let Err(failure) = pushed {
            print_failure(failure);
        }
        errln!(
            "hotpatch: not rebuilding: {why} ({}). A rebuild would restart it and lose its \
             state; check the url, the port and the firewall, then retry.",
            state.evidence()
        );
    }
    exit::UNREACHABLE
}

/// The rebuild could not start (configuration, sources, a rebuild already running).
fn cannot_rebuild(
    args: &PushArgs,
    e: &anyhow::Error,
    pushed: &Result<PushReport, PushFailure>,
) -> i32 {
    if args.json {
        let push_json = match pushed {
            Ok(report) => serde_json::to_value(report).unwrap_or_default(),
            Err(failure) => failure_json(failure),
        };
        print_json(&serde_json::json!({
            "outcome": "rebuild_not_started",
            "image_changed": false,
            "push": push_json,
            "error": { "kind": "rebuild_config", "message": format!("{e:#}") },
        }));
    } else {
        errln!("hotpatch: error: cannot rebuild: {e:#}");
    }
    exit::ERROR
}

/// The exit code for a failed push (see [`exit`]).
pub fn failure_code(failure: &PushFailure) -> i32 {
    match failure {
        PushFailure::Source(_)
        | PushFailure::Config(_)
        | PushFailure::Rename(_)
        | PushFailure::Revision(_) => exit::ERROR,
        PushFailure::Agent(e) => super::client_error_code(e),
        PushFailure::CompileFailed(_)
        | PushFailure::Stale(_)
        | PushFailure::ApplyFailed(..)
        | PushFailure::Unholdable(_) => exit::REJECTED,
        PushFailure::Drift(_) => exit::DRIFT,
    }
}

fn print_report(o: &mut Rendered, r: &PushReport) {
    let counts = summary_counts(r);
    match r.outcome {
        Outcome::NothingToPush => shown_out!(
            o,
            "{} ({}) already matches the sources{} (epoch {})",
            r.target,
            r.url,
            at_revision(r),
            r.epoch_before
        ),
        Outcome::DryRun => {
            shown_out!(o, "would push to {} ({}): {counts}", r.target, r.url);
            print_changes(o, r);
            match r.compiled {
                Some(true) => shown_out!(
                    o,
                    "every method compiled in the image (nothing was installed; the image is unchanged)"
                ),
                Some(false) => shown_out!(
                    o,
                    "not compiled: this agent cannot compile without installing (it has no \
                     `check`), so a method that does not compile is found only by the push"
                ),
                None => {}
            }
        }
        Outcome::Applied => {
            let replay = if r.replayed {
                " (already applied earlier; nothing done again)"
            } else {
                ""
            };
            shown_out!(
                o,
                "pushed to {} ({}) in {} ms: {counts}{replay}{}",
                r.target,
                r.url,
                r.millis.total,
                at_revision(r)
            );
            print_changes(o, r);
            for carried in &r.carried {
                shown_out!(o, "  values carried: {carried}");
            }
            if !r.initialized.is_empty() {
                let names: Vec<_> = r.initialized.iter().map(|n| escape(n)).collect();
                shown_out!(o, "  initialized: {}", names.join(", "));
            }
            print_hooks(o, &r.hooks);
            for d in &r.drift {
                shown_out!(o, "  replaced the image's own change: {}", drift_line(d));
            }
            shown_out!(
                o,
                "epoch {} -> {}, batch {}",
                r.epoch_before,
                r.epoch_after,
                r.batch.as_deref().unwrap_or("-")
            );
        }
        Outcome::Refused => {
            shown_err!(
                o,
                "hotpatch: not pushed: {} change(s) would drop values that live objects hold:",
                r.refused.len()
            );
            for reason in &r.refused {
                shown_err!(o, "  - {reason}");
            }
            shown_err!(
                o,
                "Nothing was changed. If a variable was renamed, say so with --rename-var \
                 Class.old=new and its values move; to drop the values, push with \
                 --allow-state-loss."
            );
        }
        Outcome::Drift => {
            shown_err!(
                o,
                "hotpatch: not pushed: {} definition(s) were changed in the image since hotpatch \
                 installed them, and this push would replace them:",
                r.drift.len()
            );
            for d in &r.drift {
                shown_err!(o, "  {}", drift_line(d));
            }
            shown_err!(
                o,
                "Nothing was sent. Bring the image's changes into the files with `hotpatch pull` \
                 (conflicts: `--theirs` or `--ours`), or replace them with `hotpatch push \
                 --overwrite-drift` (`hotpatch rollback` then brings them back)."
            );
        }
        Outcome::NeedsRebuild => {
            shown_err!(
                o,
                "hotpatch: not pushed: {} change(s) cannot be applied to a running image:",
                r.needs_rebuild.len()
            );
            for reason in &r.needs_rebuild {
                shown_err!(o, "  - {reason}");
            }
            shown_err!(
                o,
                "Nothing was changed. Rebuild the image instead (`hotpatch rebuild`, or \
                 `hotpatch push --rebuild`), or set on_needs_rebuild = \"rebuild\" for this target."
            );
        }
    }
}

/// ` at v1.4.2 (3f2c1e0a12)` for a push of `--ref v1.4.2`, else nothing.
fn at_revision(r: &PushReport) -> String {
    match (&r.git_ref, &r.commit) {
        (Some(spec), Some(commit)) => {
            format!(" at {spec} ({})", commit.get(..10).unwrap_or(commit))
        }
        _ => String::new(),
    }
}

/// The application hooks that ran after a batch: one line each on stdout; a failure (only
/// reported, `on_failure = "report"`) also as a warning on stderr.
fn print_hooks(o: &mut Rendered, hooks: &[crate::image::protocol::HookRun]) {
    for h in hooks {
        shown_out!(o, "  hook: {h}");
        if !h.is_done() {
            shown_err!(
                o,
                "hotpatch: warning: hook {h} (reported only; the change stays)"
            );
        }
    }
}

/// `! changed in the image: Foo>>bar (ann 11/30/2026 10:00)` / `!! conflict: ...`; the name
/// and stamp, from the image, escaped.
pub fn drift_line(d: &crate::ops::push::DriftLine) -> String {
    let stamp = d
        .stamp
        .as_deref()
        .map(|s| format!(" ({})", escape(s)))
        .unwrap_or_default();
    let name = escape(&d.name);
    match d.standing {
        crate::drift::Standing::Conflict => format!(
            "!! conflict, {} in the image and changed locally: {name}{stamp}",
            d.change.label(),
        ),
        _ => format!("!  {} in the image: {name}{stamp}", d.change.label()),
    }
}

fn print_changes(o: &mut Rendered, r: &PushReport) {
    for c in &r.changes {
        let mark = match c.change {
            "added" => '+',
            "removed" => '-',
            "moved" => '>',
            _ => '~',
        };
        let class = if c.what == "class" { "class " } else { "" };
        let note = c
            .overrides
            .as_deref()
            .map(|owner| {
                format!(
                    " ({})",
                    crate::ops::overrides::note(c.change == "removed", owner)
                )
            })
            .unwrap_or_default();
        shown_out!(o, "  {mark} {class}{}{}", escape(&c.name), escape(&note));
    }
}

fn summary_counts(r: &PushReport) -> String {
    let c = &r.counts;
    let parts = [
        (c.classes_added, "class(es) added"),
        (c.classes_changed, "class(es) changed"),
        (c.classes_removed, "class(es) removed"),
        (c.methods_added, "method(s) added"),
        (c.methods_changed, "method(s) changed"),
        (c.methods_moved, "method(s) moved"),
        (c.methods_removed, "method(s) removed"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if text.is_empty() {
        "no changes".into()
    } else {
        text.join(", ")
    }
}

/// The failure on stderr: every source or compile error as `path:line:col: message`, then what
/// it means.
pub fn print_failure(failure: &PushFailure) {
    let mut o = Rendered::default();
    write_failure(&mut o, failure);
    o.print();
}

/// The failure as [`print_failure`] prints it.
fn write_failure(o: &mut Rendered, failure: &PushFailure) {
    match failure {
        PushFailure::Source(SourceError::Tonel(errors)) => {
            for e in errors {
                shown_err!(o, "{e}");
            }
            shown_err!(o, "hotpatch: error: {failure}");
        }
        PushFailure::ApplyFailed(e, _) if !e.hook_failure.hooks.is_empty() => {
            shown_err!(o, "hotpatch: error: {failure}");
            for h in &e.hook_failure.hooks {
                shown_err!(o, "  hook: {h}");
            }
            for h in &e.hook_failure.hooks_after_undo {
                shown_err!(o, "  hook, after the undo: {h}");
            }
        }
        PushFailure::Source(SourceError::Syntax(errors))
        | PushFailure::CompileFailed(errors)
        | PushFailure::ApplyFailed(_, errors) => {
            for e in errors {
                shown_err!(o, "{e}");
            }
            shown_err!(o, "hotpatch: error: {failure}");
        }
        PushFailure::Unholdable(at) => {
            shown_err!(o, "{at}");
            shown_err!(
                o,
                "hotpatch: error: the image cannot hold a character of the sources; the image is unchanged"
            );
        }
        other => shown_err!(o, "hotpatch: error: {other}"),
    }
}

/// The one JSON error object `--json` prints for a failed push (also `diff`'s).
pub fn failure_json(failure: &PushFailure) -> serde_json::Value {
    let own = |kind: &str| serde_json::json!({ "kind": kind, "message": failure.to_string() });
    let mut error = match failure {
        // The same kinds every command gives a failed exchange with an agent.
        PushFailure::Agent(e) => super::client_error_object(e),
        PushFailure::Source(e) => own(e.kind()),
        PushFailure::Config(_) => own("config"),
        PushFailure::CompileFailed(_) => own("compile_failed"),
        PushFailure::Stale(_) => own("stale"),
        PushFailure::ApplyFailed(e, _) if e.kind == ErrorKind::BadRequest => own("bad_request"),
        PushFailure::ApplyFailed(..) => own("apply_failed"),
        PushFailure::Rename(_) => own("rename"),
        PushFailure::Revision(_) => own("revision"),
        PushFailure::Drift(_) => own("drift"),
        PushFailure::Unholdable(_) => own("unholdable_character"),
    };
    let errors: Vec<serde_json::Value> = match failure {
        PushFailure::Source(e) => e.json_errors(),
        PushFailure::CompileFailed(errors) | PushFailure::ApplyFailed(_, errors) => errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .collect(),
        PushFailure::Drift(names) => names.iter().map(|n| serde_json::json!(n)).collect(),
        PushFailure::Unholdable(at) => vec![serde_json::to_value(at).unwrap_or_default()],
        _ => Vec::new(),
    };
    error["errors"] = errors.into();
    if let PushFailure::ApplyFailed(e, _) = failure
        && !e.hook_failure.hooks.is_empty()
    {
        let hooks = &e.hook_failure;
        error["hooks"] = serde_json::to_value(&hooks.hooks).unwrap_or_default();
        error["hooks_after_undo"] =
            serde_json::to_value(&hooks.hooks_after_undo).unwrap_or_default();
    }
    let mut out = super::failure_json(error);
    out["image_changed"] = false.into();
    out
}
