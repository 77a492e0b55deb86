//! `hotpatch push`: make the live image match the sources, all or nothing.
//!
//! Read and check the sources → snapshot the image → diff → count the live state the changes
//! would drop ([`super::state`]) → plan → send one batch (with the epoch it was diffed against
//! and an id derived from its content, so a retried push is answered from the agent's record
//! instead of being applied twice) → report.

use super::compare::{SnapshotCache, compare};
use super::local::{self, LocalSources, SourceError};
use super::overrides::{self, Overrides};
use super::state::{self, StateError};
use crate::config::{Config, Target};
use crate::diff::{ChangeCounts, Changes, ClassChange, MethodChange};
use crate::drift::{DriftChange, DriftItem, DriftReport, Standing, Subject};
use crate::image::protocol::{
    AgentError, ApplyOptions, ApplyPhases, Batch, CompileError, DriftPolicy, DriftedName,
    ErrorKind, HookRun,
};
use crate::image::{Client, ClientError, ProgressSink};
use crate::model::{MethodDef, MethodError, MethodKey, Side};
use crate::plan::state::{Rename, RenameError};
use crate::plan::{self, Plan, PlanContext, Safety, Step};
use crate::revision::Revision;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Limit the push to these package folders or class files.
    pub paths: Vec<PathBuf>,
    /// Show the plan, send nothing.
    pub dry_run: bool,
    /// With `dry_run`: have the agent compile the batch without installing it (`check`), so
    /// that a method that does not compile is reported as the push would report it.
    pub compile_check: bool,
    /// Use the snapshot cache (see [`super::compare`]).
    pub use_cache: bool,
    /// The agent's token; `None` reads it from the target's environment variable.
    pub token: Option<String>,
    /// `--allow-state-loss`: push even when live objects hold values the push drops.
    pub allow_state_loss: bool,
    /// `--rename-var Class.old=new`: carry the values of `old` into `new`.
    pub renames: Vec<Rename>,
    /// `--no-initialize`: run no class-side initializer.
    pub no_initialize: bool,
    /// `--overwrite-drift`: replace definitions changed in the image since hotpatch installed
    /// them (the agent keeps what it replaced, so `rollback` brings it back).
    pub overwrite_drift: bool,
    /// `--no-hooks`: run none of the application's hooks (no `hotpatchChanged:`, no
    /// `after_change`).
    pub no_hooks: bool,
    /// `--ref REV`: push the sources as they are at this commit, not the work tree's (shared by
    /// the members of a group rollout, which read it once).
    pub revision: Option<Arc<Revision>>,
    /// Where the agent's progress messages go while it snapshots and applies (the CLI's
    /// progress bar); `None` asks for none.
    pub progress: Option<ProgressSink>,
}

/// How a push ended, for the user and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    pub target: String,
    pub url: String,
    pub outcome: Outcome,
    pub session: String,
    pub epoch_before: u64,
    pub epoch_after: u64,
    /// The batch id, when a batch was sent.
    pub batch: Option<String>,
    /// True when the agent had already applied this batch (a retried push).
    pub replayed: bool,
    /// The image changed under us once and the push was planned again.
    pub retried_stale: bool,
    /// The image's side came from the snapshot cache (the agent only confirmed its epoch).
    pub from_cache: bool,
    pub counts: ChangeCounts,
    /// One line per change, `+ Foo>>bar` style (see `diff::render_summary`).
    pub changes: Vec<ChangeLine>,
    /// Changes that cannot go live, with the reason (only when outcome is `needs_rebuild`).
    pub needs_rebuild: Vec<String>,
    /// Changes refused because they drop live state, with the counts (outcome `refused`).
    pub refused: Vec<String>,
    /// Variables whose live values the batch moves into another variable.
    pub carried: Vec<String>,
    /// Classes whose class-side `initialize` ran, in the order they ran.
    pub initialized: Vec<String>,
    /// The application hooks that ran after the batch was installed, and how each ended (a
    /// failure listed here was only reported: `on_failure = "report"`).
    pub hooks: Vec<HookRun>,
    /// The git commit of the sources pushed, when a batch was sent or `--ref` named it (what
    /// the audit log keeps and `status` shows).
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes (false for `--ref`).
    pub dirty: Option<bool>,
    /// The `--ref` asked for.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Definitions changed in the image since hotpatch installed them that this push would
    /// replace (outcome `drift`), or replaced (`--overwrite-drift`).
    pub drift: Vec<DriftLine>,
    /// A dry run's compile check: `Some(true)` when the agent compiled every method of the
    /// batch without installing it, `Some(false)` when it could not be asked (an agent without
    /// `check`): nothing was compiled. `None` when no check was asked for.
    pub compiled: Option<bool>,
    pub millis: Timings,
}

/// A drifted definition, as shown to the user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DriftLine {
    /// `drift` (changed in the image only) or `conflict` (changed on both sides).
    pub standing: Standing,
    /// What the image did: `changed`, `added` or `removed`.
    pub change: DriftChange,
    /// `Foo`, `class Foo`, `Foo>>bar` or `Foo class>>bar`.
    pub name: String,
    /// The image's author/time stamp, when it keeps one.
    pub stamp: Option<String>,
}

impl DriftLine {
    /// The lines of a report's drift and conflicts.
    pub fn of(report: &DriftReport) -> Vec<DriftLine> {
        report.blocking().map(DriftLine::from).collect()
    }
}

impl From<&DriftItem> for DriftLine {
    fn from(i: &DriftItem) -> DriftLine {
        DriftLine {
            standing: i.standing,
            change: i.change,
            name: i.subject.to_string(),
            stamp: i.stamp.clone(),
        }
    }
}

/// The end state of a push that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The image already matched the sources.
    NothingToPush,
    /// `--dry-run`: the plan was shown, nothing sent.
    DryRun,
    /// The batch was applied.
    Applied,
    /// Some change cannot go live; nothing was applied. The caller decides on a rebuild.
    NeedsRebuild,
    /// Some change would drop live state (`drops-live-state`); nothing was applied and no
    /// rebuild may run.
    Refused,
    /// The push would replace definitions changed in the image since hotpatch installed them
    /// (drift or conflicts); nothing was sent. `--overwrite-drift` goes ahead, `pull` brings
    /// them into the files.
    Drift,
}

/// One change, as shown to the user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChangeLine {
    /// `added`, `changed`, `removed` or `moved`.
    pub change: &'static str,
    /// `class` or `method`.
    pub what: &'static str,
    /// `Foo`, `Foo>>bar` or `Foo class>>bar`.
    pub name: String,
    /// For a method that overrides another package's method (Monticello's override): that
    /// package. Put in, the agent keeps the original; removed, the original comes back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
}

/// Milliseconds spent per phase.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    pub read: u64,
    pub connect: u64,
    pub snapshot: u64,
    pub apply: u64,
    pub total: u64,
    /// The agent's own milliseconds per phase of the apply (agents that report them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<ApplyPhases>,
}

/// Why a push failed. Every variant leaves the image as it was.
#[derive(Debug, thiserror::Error)]
pub enum PushFailure {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{0:#}")]
    Config(anyhow::Error),
    #[error(transparent)]
    Agent(ClientError),
    #[error("{} method(s) did not compile; the image is unchanged", .0.len())]
    CompileFailed(Vec<MethodError>),
    #[error(
        "the image kept changing while pushing (now at epoch {0}); nothing was applied, try again"
    )]
    Stale(u64),
    /// The agent refused the batch or undid it: the image is unchanged. When it names the ops
    /// it refuses (every one: names that break its rules, a missing superclass, an extended
    /// class that does not exist), each is located in its Tonel file.
    #[error("the agent could not apply the batch; the image is unchanged: {0}")]
    ApplyFailed(Box<AgentError>, Vec<MethodError>),
    #[error("{0}; nothing was sent")]
    Rename(RenameError),
    /// `--ref`: the sources of that revision cannot be had; nothing was sent.
    #[error("{0}; nothing was sent")]
    Revision(#[from] crate::revision::RevisionError),
    /// The sources hold a character the image's strings cannot hold (an 8-bit image); the agent
    /// refused the batch before changing anything.
    #[error("the image cannot hold a character of the sources ({0}); the image is unchanged")]
    Unholdable(Box<MethodError>),
    /// The agent found definitions changed in the image the batch would replace (seen at
    /// apply time, e.g. after a cached snapshot); nothing was changed.
    #[error(
        "{} definition(s) changed in the image since hotpatch installed them; nothing was applied ({})",
        .0.len(),
        .0.join(", ")
    )]
    Drift(Vec<String>),
}

impl From<ClientError> for PushFailure {
    fn from(e: ClientError) -> Self {
        PushFailure::Agent(e)
    }
}

impl From<StateError> for PushFailure {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Rename(e) => PushFailure::Rename(e),
            StateError::Agent(e) => PushFailure::Agent(e),
        }
    }
}

/// Runs a push against `target`.
pub async fn push(
    config: &Config,
    target: &Target,
    options: &PushOptions,
) -> Result<PushReport, PushFailure> {
    let started = Instant::now();
    let mut millis = Timings::default();
    // A method the image's compiler would refuse for its syntax stops the push here, before
    // connecting: every one of them, at its file position (`COMMIT:path` for `--ref`).
    let (local, mut identity) = match &options.revision {
        Some(revision) => (
            local::checked(local::load_revision(config, revision)?)?,
            super::identity::at_commit(&revision.commit),
        ),
        // Who pushes (user, host, git commit) costs a few git calls: found while we connect.
        None => (
            local::load_checked(config, &options.paths)?,
            super::identity::gather_in_background(&config.root),
        ),
    };
    millis.read = elapsed(started);

    let token = match &options.token {
        Some(t) => t.clone(),
        None => target.token().map_err(PushFailure::Config)?,
    };
    let t = Instant::now();
    let mut client = super::connect(target, &token).await?;
    client.set_progress(options.progress.clone());
    millis.connect = elapsed(t);
    // `--overwrite-drift` must see the drift it is asked to replace: a cached snapshot may
    // predate a hand edit that did not move the epoch.
    let mut cache = (options.use_cache && !options.overwrite_drift)
        .then(|| SnapshotCache::new(&config.root, &target.name));

    let mut retried_stale = false;
    loop {
        let t = Instant::now();
        let comparison = compare(&mut client, &local, cache.as_ref()).await?;
        let overrides = overrides::find(&mut client, &comparison, &local.scope.packages).await?;
        millis.snapshot += elapsed(t);
        let (carries, live_state) =
            state::check(&mut client, &comparison.changes, &options.renames).await?;
        let ctx = PlanContext {
            subclasses: comparison.subclasses.clone(),
            live_state: Some(live_state),
            allow_state_loss: options.allow_state_loss,
            ..PlanContext::default()
        };
        let plan = plan::plan(&comparison.changes, &ctx);
        let mut report = PushReport {
            target: target.name.clone(),
            url: target.url.to_string(),
            outcome: Outcome::NothingToPush,
            session: comparison.session.clone(),
            epoch_before: comparison.epoch,
            epoch_after: comparison.epoch,
            batch: None,
            replayed: false,
            retried_stale,
            from_cache: comparison.from_cache,
            counts: comparison.changes.counts(),
            changes: change_lines(&comparison.changes, &overrides),
            needs_rebuild: rebuild_reasons(&plan),
            refused: plan
                .refusals()
                .filter_map(|v| v.reason().map(str::to_owned))
                .collect(),
            carried: carries.iter().map(ToString::to_string).collect(),
            initialized: Vec::new(),
            hooks: Vec::new(),
            commit: options.revision.as_ref().map(|r| r.commit.clone()),
            dirty: options.revision.as_ref().map(|_| false),
            git_ref: options.revision.as_ref().map(|r| r.spec.clone()),
            drift: DriftLine::of(&comparison.drift),
            compiled: None,
            millis,
        };
        if comparison.changes.is_empty() {
            return Ok(finish(report, started, client).await);
        }
        if !report.drift.is_empty() && !options.overwrite_drift {
            report.outcome = Outcome::Drift;
            return Ok(finish(report, started, client).await);
        }
        if !report.refused.is_empty() {
            report.outcome = Outcome::Refused;
            return Ok(finish(report, started, client).await);
        }
        if !report.needs_rebuild.is_empty() {
            report.outcome = Outcome::NeedsRebuild;
            return Ok(finish(report, started, client).await);
        }
        let batch = Batch {
            id: plan::batch_id(&comparison.session, comparison.epoch, &plan.steps),
            epoch: comparison.epoch,
            // The agent refuses to redefine or remove a class outside the project's packages.
            packages: Some(local.scope.packages.clone()),
            ops: plan
                .steps
                .iter()
                .map(crate::image::protocol::Op::from)
                .collect(),
        };
        if options.dry_run {
            report.outcome = Outcome::DryRun;
            if options.compile_check {
                report.compiled = Some(client.hello.has("check"));
                if client.hello.has("check") {
                    let t = Instant::now();
                    let checked = client.check(batch).await;
                    report.millis.apply = elapsed(t);
                    if let Err(e) = checked {
                        return Err(refusal(e, &plan, &local));
                    }
                }
            }
            return Ok(finish(report, started, client).await);
        }
        report.batch = Some(batch.id.clone());
        // The agent checks drift again under its lock: our snapshot may come from the cache,
        // and a hand edit does not always move the epoch.
        let drift_policy = client
            .hello
            .has("drift")
            .then_some(if options.overwrite_drift {
                DriftPolicy::Overwrite
            } else {
                DriftPolicy::Refuse
            });
        let hooks = super::hooks_for(target, &client.hello, !options.no_hooks)
            .map_err(PushFailure::Config)?;
        let who = identity.get();
        report.commit.clone_from(&who.commit);
        report.dirty = who.dirty;
        let how = ApplyOptions {
            carry: carries,
            initialize: options.no_initialize.then_some(false),
            drift: drift_policy,
            client: Some(who),
            hooks,
        };
        let t = Instant::now();
        let applied = client.apply_with(batch, how).await;
        report.millis.apply = elapsed(t);
        match applied {
            Ok(result) => {
                report.outcome = Outcome::Applied;
                report.epoch_after = result.epoch;
                report.replayed = result.replayed;
                report.initialized = result.initialized;
                report.hooks = result.hooks;
                report.millis.agent = result.phases;
                // The image now holds exactly these sources for the scope; a replayed answer
                // speaks of an earlier epoch, so it proves nothing about now.
                if let Some(c) = cache.as_ref().filter(|_| !result.replayed) {
                    c.advance(client.url(), &comparison, &local, result.epoch, &overrides);
                }
                // Hand edits the agent found when it installed (made after the snapshot) and
                // replaced, as `--overwrite-drift` allowed: said, as the log keeps them.
                for d in &result.overwritten {
                    let line = DriftLine {
                        standing: Standing::Drift,
                        change: d.change.unwrap_or(DriftChange::Changed),
                        name: drifted_subject(d).map_or_else(|| "?".to_owned(), |s| s.to_string()),
                        stamp: None,
                    };
                    if !report.drift.iter().any(|l| l.name == line.name) {
                        report.drift.push(line);
                    }
                }
                return Ok(finish(report, started, client).await);
            }
            Err(ClientError::Agent(e)) => match e.kind {
                ErrorKind::Stale if !retried_stale => {
                    retried_stale = true;
                    millis = report.millis;
                    continue;
                }
                ErrorKind::Stale => return Err(PushFailure::Stale(e.epoch.unwrap_or_default())),
                ErrorKind::Drift => {
                    if let Some(c) = cache.take() {
                        // What the cache said about this image is not true any more: look
                        // again, fresh, and report the drift as a comparison sees it.
                        c.clear();
                        millis = report.millis;
                        continue;
                    }
                    return Err(PushFailure::Drift(
                        e.drift
                            .iter()
                            .flat_map(|d| d.iter())
                            .map(drifted_name)
                            .collect(),
                    ));
                }
                _ => return Err(refusal(ClientError::Agent(e), &plan, &local)),
            },
            Err(other) => return Err(other.into()),
        }
    }
}

/// The failure for the agent's refusal of a batch (`apply` or `check`): compile errors placed
/// in their files, the ops it refuses (each at its definition), a character the image cannot
/// hold (at its place), or the agent's error as it is.
fn refusal(e: ClientError, plan: &Plan, local: &LocalSources) -> PushFailure {
    match e {
        ClientError::Agent(e) if e.kind == ErrorKind::CompileFailed => {
            PushFailure::CompileFailed(locate(&e.errors, plan, local))
        }
        // Names the agent's rules refuse, every one listed (the client's own check, the same
        // rules, normally finds them first).
        ClientError::Agent(e)
            if e.kind == ErrorKind::ApplyFailed
                || (e.kind == ErrorKind::BadRequest && !e.errors.is_empty()) =>
        {
            let located = locate_refused(&e.errors, plan, local);
            PushFailure::ApplyFailed(Box::new(e), located)
        }
        // A character the image's strings cannot hold (an 8-bit image), at its place in the
        // sources.
        ClientError::Agent(e) if e.kind == ErrorKind::UnholdableCharacter => {
            PushFailure::Unholdable(Box::new(locate_unholdable(&e, plan, local)))
        }
        other => PushFailure::Agent(other),
    }
}

/// The definition a `drift` list of the agent names.
fn drifted_subject(d: &DriftedName) -> Option<Subject> {
    match (&d.class_name, &d.selector, &d.name) {
        (Some(class_name), Some(selector), _) => Some(Subject::Method {
            key: crate::model::MethodKey {
                class_name: class_name.clone(),
                side: d.side.unwrap_or_default(),
                selector: selector.clone(),
            },
        }),
        (_, _, Some(name)) => Some(Subject::Class { name: name.clone() }),
        _ => None,
    }
}

/// `Foo>>bar (changed)` or `class Foo (removed)` for a definition named in a `drift` error.
fn drifted_name(d: &DriftedName) -> String {
    // Named as everywhere else (`Subject`'s display).
    let name = drifted_subject(d).map_or_else(|| "?".to_owned(), |s| s.to_string());
    match d.change {
        Some(change) => format!("{name} ({})", change.label()),
        None => name,
    }
}

/// Why a push's result calls for a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildTrigger {
    /// Some change cannot go live (the reasons, joined).
    ChangesNeedRebuild(String),
    /// No agent answered at a valid URL (first deploy, or the image died). Whether the
    /// application is really down must be confirmed before rebuilding (see
    /// `rebuild::liveness`): an unreachable agent may belong to a running application.
    AgentUnreachable(String),
}

impl RebuildTrigger {
    /// The reason, for the user and the rebuild report.
    pub fn reason(&self) -> &str {
        match self {
            RebuildTrigger::ChangesNeedRebuild(r) | RebuildTrigger::AgentUnreachable(r) => r,
        }
    }
}

/// Why a push's result calls for a rebuild, if it does: a change that cannot go live, or no
/// agent to talk to at a valid URL. `None` for every other result (a URL or transport refusal
/// is a configuration error, never a reason to rebuild); whether the rebuild may run is the
/// caller's decision (`on_needs_rebuild`, `--rebuild`, and for an unreachable agent the
/// application's state).
pub fn rebuild_trigger(result: &Result<PushReport, PushFailure>) -> Option<RebuildTrigger> {
    match result {
        Ok(r) if r.outcome == Outcome::NeedsRebuild => {
            Some(RebuildTrigger::ChangesNeedRebuild(format!(
                "{} change(s) cannot go live: {}",
                r.needs_rebuild.len(),
                r.needs_rebuild.join("; ")
            )))
        }
        Err(PushFailure::Agent(e)) if e.is_unreachable() => Some(RebuildTrigger::AgentUnreachable(
            format!("the agent is unreachable ({e})"),
        )),
        _ => None,
    }
}

async fn finish(mut report: PushReport, started: Instant, client: Client) -> PushReport {
    client.close().await;
    report.millis.total = elapsed(started);
    report
}

fn elapsed(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}

fn rebuild_reasons(plan: &Plan) -> Vec<String> {
    plan.verdicts
        .iter()
        .filter_map(|v| match &v.safety {
            Safety::NeedsRebuild { reason, .. } => Some(reason.clone()),
            Safety::LiveSafe | Safety::Refused { .. } => None,
        })
        .collect()
}

/// The changes as one line each, in the diff's order; methods that are overrides (see
/// [`overrides::find`]) say whose method they replace.
pub fn change_lines(changes: &Changes, overrides: &Overrides) -> Vec<ChangeLine> {
    let classes = changes.classes.iter().map(|c| ChangeLine {
        change: match c {
            ClassChange::Added { .. } => "added",
            ClassChange::Removed { .. } => "removed",
            ClassChange::Changed { .. } => "changed",
        },
        what: "class",
        name: c.name().to_owned(),
        overrides: None,
    });
    let methods = changes.methods.iter().map(|m| ChangeLine {
        change: match m {
            MethodChange::Added { .. } => "added",
            MethodChange::Removed { .. } => "removed",
            MethodChange::Changed { .. } => "changed",
            MethodChange::Moved { .. } => "moved",
        },
        what: "method",
        name: m.key().to_string(),
        overrides: overrides.get(&m.key()).cloned(),
    });
    classes.chain(methods).collect()
}

/// Maps the agent's compile errors (positions inside method sources) to Tonel file positions.
fn locate(errors: &[CompileError], plan: &Plan, local: &LocalSources) -> Vec<MethodError> {
    errors
        .iter()
        .map(|e| {
            let method = match plan.steps.get(e.op) {
                Some(Step::PutMethod(m)) => Some(m),
                _ => None,
            };
            let path = method.and_then(|m| file_of(local, &m.key()));
            locate_one(e, method, path)
        })
        .collect()
}

/// Maps the ops an agent refused (`errors` of `apply_failed` or `bad_request`) to the Tonel
/// definitions they came from: a method at its header, a class at its definition.
fn locate_refused(errors: &[CompileError], plan: &Plan, local: &LocalSources) -> Vec<MethodError> {
    errors
        .iter()
        .map(|e| {
            let class_at = |name: &str| {
                let origin = local
                    .packages
                    .iter()
                    .flat_map(|p| &p.classes)
                    .find(|c| c.name == name)
                    .and_then(|c| c.origin.as_ref());
                (
                    origin.map(|o| o.path.clone()),
                    origin.map_or(0, |o| o.line),
                    u32::from(origin.is_some()),
                )
            };
            let ((path, line, column), name) = match plan.steps.get(e.op) {
                Some(Step::PutMethod(m)) => {
                    let at = m.span.map_or((0, 0), |s| (s.header.line, s.header.column));
                    ((file_of(local, &m.key()), at.0, at.1), m.key().to_string())
                }
                Some(Step::DefineClass(c)) => (class_at(&c.name), format!("class {}", c.name)),
                Some(Step::Classify { key, .. } | Step::RemoveMethod(key)) => {
                    (class_at(&key.class_name), key.to_string())
                }
                Some(Step::RemoveClass(name)) => ((None, 0, 0), format!("class {name}")),
                None => ((None, 0, 0), e.class_name.clone()),
            };
            MethodError {
                path,
                line,
                column,
                method: name,
                message: e.message.clone(),
            }
        })
        .collect()
}

/// The Tonel file that defines the method `key`: its class's file, or the package's extension
/// file.
fn file_of(local: &LocalSources, key: &MethodKey) -> Option<PathBuf> {
    local.packages.iter().find_map(|p| {
        let in_class = p
            .classes
            .iter()
            .find(|c| c.name == key.class_name && c.methods.iter().any(|m| &m.key() == key))
            .and_then(|c| c.origin.as_ref());
        let in_extension = || {
            p.extensions
                .iter()
                .find(|e| {
                    e.class_name == key.class_name && e.methods.iter().any(|m| &m.key() == key)
                })
                .and_then(|e| e.origin.as_ref())
        };
        in_class.or_else(in_extension).map(|o| o.path.clone())
    })
}

/// The Tonel file that defines the class `name`.
fn class_file_of(local: &LocalSources, name: &str) -> Option<PathBuf> {
    local
        .packages
        .iter()
        .flat_map(|p| &p.classes)
        .find(|c| c.name == name)
        .and_then(|c| c.origin.as_ref())
        .map(|o| o.path.clone())
}

/// An `unholdable_character` refusal mapped back to the Tonel file, as a compile error is: a
/// character in a method's source at its line and column (by the method's span); one in any
/// other text of the op (a class comment or name, a category, a protocol) where it first occurs
/// in the file that defines it.
fn locate_unholdable(e: &AgentError, plan: &Plan, local: &LocalSources) -> MethodError {
    let Some(u) = e.unholdable() else {
        return MethodError {
            path: None,
            line: 0,
            column: 0,
            method: "?".into(),
            message: e.message.clone(),
        };
    };
    let message = format!(
        "{} is a character the image's strings cannot hold (they hold {}); nothing was changed",
        u.character(),
        u.characters.as_deref().unwrap_or("8-bit characters")
    );
    let step = e.op.and_then(|i| plan.steps.get(i as usize));
    if let Some(Step::PutMethod(m)) = step
        && u.field.ends_with(".source")
    {
        let at = CompileError {
            op: e.op.map_or(0, |i| i as usize),
            class_name: m.class_name.clone(),
            side: m.side,
            selector: None,
            message,
            line: u.line,
            column: u.column,
        };
        return locate_one(&at, Some(m), file_of(local, &m.key()));
    }
    let (name, path) = match step {
        Some(Step::DefineClass(c)) => (format!("class {}", c.name), class_file_of(local, &c.name)),
        Some(Step::PutMethod(m)) => (m.key().to_string(), file_of(local, &m.key())),
        Some(Step::Classify { key, .. }) | Some(Step::RemoveMethod(key)) => {
            (key.to_string(), file_of(local, key))
        }
        Some(Step::RemoveClass(name)) => (format!("class {name}"), None),
        None => (u.field.clone(), None),
    };
    let (line, column) = path
        .as_deref()
        .and_then(|p| first_place_of(p, u.code_point))
        .unwrap_or((u.line, u.column));
    MethodError {
        path,
        line,
        column,
        method: format!("{name}, {}", what_of(&u.field)),
        message,
    }
}

/// What a field of a batch op is, in words: `batch.ops[2].class.comment` is the comment.
fn what_of(field: &str) -> &str {
    let last = field
        .rsplit('.')
        .next()
        .unwrap_or(field)
        .split('[')
        .next()
        .unwrap_or(field);
    match last {
        "comment" => "its comment",
        "package" | "tag" => "its category",
        "protocol" => "its protocol",
        "name" | "class_name" => "its name",
        "superclass" => "its superclass",
        "inst_vars" | "class_inst_vars" | "class_vars" | "pools" => "its variables",
        _ => field,
    }
}

/// The 1-based line and column (in characters) where the character `code_point` first occurs
/// in the file at `path`.
fn first_place_of(path: &std::path::Path, code_point: u32) -> Option<(u32, u32)> {
    let wanted = char::from_u32(code_point)?;
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().enumerate().find_map(|(n, line)| {
        let column = line.chars().position(|c| c == wanted)?;
        Some((u32::try_from(n + 1).ok()?, u32::try_from(column + 1).ok()?))
    })
}

fn locate_one(e: &CompileError, method: Option<&MethodDef>, path: Option<PathBuf>) -> MethodError {
    let name = match (method, &e.selector) {
        (Some(m), _) => m.key().to_string(),
        (None, Some(sel)) => match e.side {
            Side::Instance => format!("{}>>{}", e.class_name, sel),
            Side::Class => format!("{} class>>{}", e.class_name, sel),
        },
        (None, None) => e.class_name.clone(),
    };
    let (line, column) = match method {
        Some(m) => m.file_position(e.line, e.column),
        None => (e.line, e.column),
    };
    MethodError {
        path,
        line,
        column,
        method: name,
        message: e.message.clone(),
    }
}

#[cfg(test)]
mod trigger_tests {
    use super::*;
    use crate::image::TransportProblem;

    fn trigger(e: ClientError) -> Option<RebuildTrigger> {
        rebuild_trigger(&Err(PushFailure::Agent(e)))
    }

    #[test]
    fn only_a_real_connection_failure_can_trigger_a_rebuild() {
        let url = "ws://127.0.0.1:1/".to_owned();
        assert!(matches!(
            trigger(ClientError::Connect {
                url: url.clone(),
                reason: "refused".into()
            }),
            Some(RebuildTrigger::AgentUnreachable(_))
        ));
        let bad = crate::image::AgentUrl::parse("wss//x").unwrap_err();
        assert_eq!(trigger(ClientError::BadUrl(bad)), None);
        assert_eq!(
            trigger(ClientError::Transport {
                url: url.clone(),
                problem: TransportProblem::HostKey,
                detail: String::new()
            }),
            None
        );
        assert_eq!(
            trigger(ClientError::Closed { url, what: "hello" }),
            None,
            "a connection that broke reached something: not a reason to rebuild"
        );
    }
}

/// The push flow against the protocol-level fake agent ([`crate::image::fake_agent`]): the stale
/// retry and the mapping of compile errors to Tonel lines, which a real image cannot be made to
/// produce on demand. The same flows against the real VM are in `tests/push.rs`.
#[cfg(test)]
mod fake_agent_tests {
    use super::*;
    use crate::image::fake_agent::{Reply, error, ok, serve};
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    fn sample_config(url: &str) -> (Config, Target) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-app");
        let text = format!("packages = ['Sample-Core']\n[targets.t]\nurl = '{url}'\n");
        let config = Config::from_str(&text, &root).expect("config");
        let target = config.target(&Default::default()).expect("target");
        (config, target)
    }

    fn options() -> PushOptions {
        PushOptions {
            token: Some("t".into()),
            ..Default::default()
        }
    }

    /// A fake image that starts empty at epoch 0 and answers `apply` with what `on_apply` says
    /// (given the batch); every request is recorded.
    async fn fake_image(
        on_apply: impl FnMut(&Value, &Value) -> Reply + Send + 'static,
    ) -> (String, Arc<Mutex<Vec<Value>>>) {
        fake_image_with(&[], on_apply).await
    }

    /// [`fake_image`] announcing `features`; `check` is answered by `on_apply` too.
    async fn fake_image_with(
        features: &'static [&'static str],
        on_apply: impl FnMut(&Value, &Value) -> Reply + Send + 'static,
    ) -> (String, Arc<Mutex<Vec<Value>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let epoch = Arc::new(Mutex::new(0u64));
        let mut on_apply = on_apply;
        let url = serve(move |r| {
            record.lock().unwrap().push(r.clone());
            let now = *epoch.lock().unwrap();
            match r["cmd"].as_str() {
                Some("hello") => ok(
                    r,
                    json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": now, "features": features}),
                ),
                Some("check") => on_apply(r, &r["batch"]),
                Some("snapshot") if r["since_epoch"].as_u64() == Some(now) => ok(
                    r,
                    json!({"session": "s1", "epoch": now, "unchanged": true, "packages": []}),
                ),
                Some("snapshot") => ok(r, json!({"session": "s1", "epoch": now, "packages": []})),
                Some("apply") => {
                    let reply = on_apply(r, &r["batch"]);
                    let moved = match &reply {
                        Reply::Answer(a) => a["result"]["epoch"]
                            .as_u64()
                            .or(a["error"]["epoch"].as_u64()),
                        _ => None,
                    };
                    if let Some(e) = moved {
                        *epoch.lock().unwrap() = e;
                    }
                    reply
                }
                _ => Reply::Close,
            }
        })
        .await;
        (url, seen)
    }

    #[tokio::test]
    async fn a_push_after_a_push_transfers_nothing_until_the_sources_change() {
        let (url, seen) = fake_image(|r, batch| {
            ok(
                r,
                json!({"batch": batch["id"], "epoch": batch["epoch"].as_u64().unwrap_or(0) + 1}),
            )
        })
        .await;
        // A project of its own: the cache lives beside its hotpatch.toml.
        let (config, target, root) = crate::ops::scratch_project("sync", &url);
        let class = "Class {\n\t#name : 'SampleApp',\n\t#superclass : 'Object',\n\t#package : 'Sample-Core'\n}\n\n\
                     { #category : 'greeting' }\nSampleApp >> greet [\n\n\t^ 'Hello, '\n]\n";
        std::fs::write(root.join("src/Sample-Core/SampleApp.class.st"), class).unwrap();
        let cached = PushOptions {
            use_cache: true,
            ..options()
        };
        let applies = |seen: &Arc<Mutex<Vec<Value>>>| {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|r| r["cmd"] == "apply")
                .count()
        };

        assert_eq!(
            push(&config, &target, &cached).await.unwrap().outcome,
            Outcome::Applied
        );
        let again = push(&config, &target, &cached).await.unwrap();
        assert_eq!(again.outcome, Outcome::NothingToPush);
        assert_eq!(applies(&seen), 1);
        let last_snapshot = seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r["cmd"] == "snapshot")
            .cloned()
            .unwrap();
        assert_eq!(
            last_snapshot["since_epoch"], 1,
            "asked only whether the image moved"
        );

        // A local edit changes the fingerprint: compared in full again, and pushed.
        let file = root.join("src/Sample-Core/SampleApp.class.st");
        let source = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, source.replace("'Hello, '", "'Hi, '")).unwrap();
        assert_eq!(
            push(&config, &target, &cached).await.unwrap().outcome,
            Outcome::Applied
        );
        assert_eq!(applies(&seen), 2);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn a_stale_batch_is_planned_again_once() {
        let mut applies = 0;
        let (url, seen) = fake_image(move |r, batch| {
            applies += 1;
            if applies == 1 {
                error(r, json!({"kind": "stale", "message": "moved on", "epoch": 1}))
            } else {
                ok(r, json!({"batch": batch["id"], "epoch": batch["epoch"].as_u64().unwrap_or(0) + 1}))
            }
        })
        .await;
        let (config, target) = sample_config(&url);
        let report = push(&config, &target, &options()).await.expect("push");
        assert_eq!(report.outcome, Outcome::Applied);
        assert!(report.retried_stale);
        assert_eq!((report.epoch_before, report.epoch_after), (1, 2));
        let seen = seen.lock().unwrap();
        let batches: Vec<&Value> = seen
            .iter()
            .filter(|r| r["cmd"] == "apply")
            .map(|r| &r["batch"])
            .collect();
        assert_eq!(batches.len(), 2);
        // The second batch was made against the new snapshot: new epoch, so a new id.
        assert_eq!(
            (batches[0]["epoch"].as_u64(), batches[1]["epoch"].as_u64()),
            (Some(0), Some(1))
        );
        assert_ne!(batches[0]["id"], batches[1]["id"]);
    }

    #[tokio::test]
    async fn an_image_that_keeps_changing_is_given_up_on() {
        let mut epoch = 0;
        let (url, _) = fake_image(move |r, _| {
            epoch += 1;
            error(
                r,
                json!({"kind": "stale", "message": "moved on", "epoch": epoch}),
            )
        })
        .await;
        let (config, target) = sample_config(&url);
        let failure = push(&config, &target, &options())
            .await
            .expect_err("gives up");
        assert!(matches!(failure, PushFailure::Stale(2)), "{failure}");
    }

    fn commands(seen: &Arc<Mutex<Vec<Value>>>) -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .filter_map(|r| r["cmd"].as_str().map(str::to_owned))
            .collect()
    }

    #[tokio::test]
    async fn a_dry_run_has_an_agent_that_can_check_compile_the_batch() {
        let (url, seen) = fake_image_with(&["check"], |r, batch| {
            let ops = batch["ops"].as_array().cloned().unwrap_or_default();
            let op = ops
                .iter()
                .position(|o| o["source"].as_str().is_some_and(|s| s.starts_with("increment")))
                .unwrap_or(usize::MAX);
            error(r, json!({"kind": "compile_failed", "message": "1 method did not compile",
                "errors": [{"op": op, "class_name": "SampleCounter", "side": "instance",
                            "selector": "increment", "message": "Undeclared variable: cuont", "line": 3, "column": 8}]}))
        })
        .await;
        let (config, target) = sample_config(&url);
        let dry_run = PushOptions {
            dry_run: true,
            compile_check: true,
            ..options()
        };
        let failure = push(&config, &target, &dry_run)
            .await
            .expect_err("the agent's compile error");
        let PushFailure::CompileFailed(errors) = failure else {
            panic!("expected compile errors, got {failure}");
        };
        assert!(
            errors[0]
                .path
                .as_ref()
                .is_some_and(|p| p.ends_with("SampleCounter.class.st")),
            "{errors:?}"
        );
        assert_eq!(errors[0].message, "Undeclared variable: cuont");
        let sent = commands(&seen);
        assert!(sent.contains(&"check".to_owned()), "{sent:?}");
        assert!(!sent.contains(&"apply".to_owned()), "{sent:?}");
    }

    #[tokio::test]
    async fn a_dry_run_says_so_when_the_agent_cannot_compile_without_installing() {
        let (url, seen) =
            fake_image(|r, _| error(r, json!({"kind": "internal", "message": "no"}))).await;
        let (config, target) = sample_config(&url);
        let dry_run = PushOptions {
            dry_run: true,
            compile_check: true,
            ..options()
        };
        let report = push(&config, &target, &dry_run).await.expect("dry run");
        assert_eq!(report.outcome, Outcome::DryRun);
        assert_eq!(report.compiled, Some(false));
        let sent = commands(&seen);
        assert!(
            !sent.iter().any(|c| c == "check" || c == "apply"),
            "{sent:?}"
        );
    }

    #[tokio::test]
    async fn compile_errors_point_at_the_tonel_file_line() {
        let (url, _) = fake_image(|r, batch| {
            // Report an error on line 3, column 8 of SampleCounter>>increment's source.
            let ops = batch["ops"].as_array().cloned().unwrap_or_default();
            let op = ops
                .iter()
                .position(|o| o["op"] == "put_method" && o["source"].as_str().is_some_and(|s| s.starts_with("increment")))
                .unwrap_or(usize::MAX);
            error(r, json!({"kind": "compile_failed", "message": "1 method did not compile",
                "errors": [{"op": op, "class_name": "SampleCounter", "side": "instance",
                            "selector": "increment", "message": "Nothing more expected", "line": 3, "column": 8}]}))
        })
        .await;
        let (config, target) = sample_config(&url);
        let failure = push(&config, &target, &options())
            .await
            .expect_err("compile failure");
        let PushFailure::CompileFailed(errors) = failure else {
            panic!("expected compile errors, got {failure}");
        };
        let e = &errors[0];
        let path = e.path.as_ref().expect("a path");
        assert!(path.ends_with("SampleCounter.class.st"), "{path:?}");
        // Source line 3 of increment is the `count := count + 1.` line of the file.
        let text = std::fs::read_to_string(path).unwrap();
        let file_line = text
            .lines()
            .position(|l| l.contains("count := count + 1."))
            .unwrap()
            + 1;
        assert_eq!((e.line as usize, e.column), (file_line, 8), "{e}");
        assert_eq!(e.method, "SampleCounter>>increment");
    }
}
