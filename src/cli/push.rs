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
use crate::term::{errln, escape, outln};
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
    match outcome {
        Ok(report) => {
            let code = match report.outcome {
                Outcome::NeedsRebuild => exit::NEEDS_REBUILD,
                Outcome::Refused => exit::REFUSED,
                Outcome::Drift => exit::DRIFT,
                _ => exit::OK,
            };
            if args.json {
                print_json(&report);
            } else {
                print_report(&report);
            }
            code
        }
        Err(failure) => {
            let code = failure_code(&failure);
            if args.json {
                print_json(&failure_json(&failure));
            } else {
                print_failure(&failure);
            }
            code
        }
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

fn print_report(r: &PushReport) {
    let counts = summary_counts(r);
    match r.outcome {
        Outcome::NothingToPush => outln!(
            "{} ({}) already matches the sources{} (epoch {})",
            r.target,
            r.url,
            at_revision(r),
            r.epoch_before
        ),
        Outcome::DryRun => {
            outln!("would push to {} ({}): {counts}", r.target, r.url);
            print_changes(r);
            match r.compiled {
                Some(true) => println!(
                    "every method compiled in the image (nothing was installed; the image is unchanged)"
                ),
                Some(false) => println!(
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
            outln!(
                "pushed to {} ({}) in {} ms: {counts}{replay}{}",
                r.target,
                r.url,
                r.millis.total,
                at_revision(r)
            );
            print_changes(r);
            for carried in &r.carried {
                outln!("  values carried: {carried}");
            }
            if !r.initialized.is_empty() {
                let names: Vec<_> = r.initialized.iter().map(|n| escape(n)).collect();
                outln!("  initialized: {}", names.join(", "));
            }
            print_hooks(&r.hooks);
            for d in &r.drift {
                outln!("  replaced the image's own change: {}", drift_line(d));
            }
            outln!(
                "epoch {} -> {}, batch {}",
                r.epoch_before,
                r.epoch_after,
                r.batch.as_deref().unwrap_or("-")
            );
        }
        Outcome::Refused => {
            errln!(
                "hotpatch: not pushed: {} change(s) would drop values that live objects hold:",
                r.refused.len()
            );
            for reason in &r.refused {
                errln!("  - {reason}");
            }
            errln!(
                "Nothing was changed. If a variable was renamed, say so with --rename-var \
                 Class.old=new and its values move; to drop the values, push with \
                 --allow-state-loss."
            );
        }
        Outcome::Drift => {
            errln!(
                "hotpatch: not pushed: {} definition(s) were changed in the image since hotpatch \
                 installed them, and this push would replace them:",
                r.drift.len()
            );
            for d in &r.drift {
                errln!("  {}", drift_line(d));
            }
            errln!(
                "Nothing was sent. Bring the image's changes into the files with `hotpatch pull` \
                 (conflicts: `--theirs` or `--ours`), or replace them with `hotpatch push \
                 --overwrite-drift` (`hotpatch rollback` then brings them back)."
            );
        }
        Outcome::NeedsRebuild => {
            errln!(
                "hotpatch: not pushed: {} change(s) cannot be applied to a running image:",
                r.needs_rebuild.len()
            );
            for reason in &r.needs_rebuild {
                errln!("  - {reason}");
            }
            errln!(
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
pub fn print_hooks(hooks: &[crate::image::protocol::HookRun]) {
    for h in hooks {
        outln!("  hook: {h}");
        if !h.is_done() {
            errln!("hotpatch: warning: hook {h} (reported only; the change stays)");
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

fn print_changes(r: &PushReport) {
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
        outln!("  {mark} {class}{}{}", escape(&c.name), escape(&note));
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
    match failure {
        PushFailure::Source(SourceError::Tonel(errors)) => {
            for e in errors {
                errln!("{e}");
            }
            errln!("hotpatch: error: {failure}");
        }
        PushFailure::ApplyFailed(e, _) if !e.hook_failure.hooks.is_empty() => {
            errln!("hotpatch: error: {failure}");
            for h in &e.hook_failure.hooks {
                errln!("  hook: {h}");
            }
            for h in &e.hook_failure.hooks_after_undo {
                errln!("  hook, after the undo: {h}");
            }
        }
        PushFailure::Source(SourceError::Syntax(errors))
        | PushFailure::CompileFailed(errors)
        | PushFailure::ApplyFailed(_, errors) => {
            for e in errors {
                errln!("{e}");
            }
            errln!("hotpatch: error: {failure}");
        }
        PushFailure::Unholdable(at) => {
            errln!("{at}");
            errln!(
                "hotpatch: error: the image cannot hold a character of the sources; the image is unchanged"
            );
        }
        other => errln!("hotpatch: error: {other}"),
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
