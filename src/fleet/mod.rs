//! Fleet rollouts: one change to every image of a group, canary first, then waves, each patched
//! target health-checked, and on the first failure a stop and (by default) a rollback of every
//! target already patched, in reverse order.
//!
//! A rollout is built from single pushes ([`crate::ops::push::push`]): each target gets the
//! batch planned against its own snapshot, with the same all-or-nothing guarantee and the same
//! replay-safe batch ids, so re-running a rollout after a partial failure continues where it
//! stopped (targets already on the new code have nothing to push).
//!
//! 1. **Survey**: a dry-run push to every target at once. Source errors, a change that needs a
//!    rebuild, an unreachable target (unless skipped) or targets whose changes differ (one
//!    batch cannot make them all match the sources) stop the rollout before anything changes.
//! 2. **Canary**: the first `canary` targets that need the batch (or the named one) are patched
//!    and must pass the health check.
//! 3. **Waves** of `parallel` targets, each patched and checked the same way.
//! 4. On the first failure: stop; with `rollback_on_failure`, roll back every patched target,
//!    newest first, each only if its image is still at the epoch the push left it at.

pub mod health;
pub mod inventory;

use std::time::Instant;

use futures_util::future::join_all;
use serde::Serialize;

use crate::config::{Canary, Config, Group, Target};
use crate::ops::push::{ChangeLine, Outcome, PushFailure, PushOptions, push};
use health::HealthResult;

/// What the user asked of a rollout.
#[derive(Debug, Clone, Default)]
pub struct RolloutOptions {
    /// What every member's push is asked (paths, cache, state-loss and rename choices,
    /// initializers); its `dry_run` and `token` are set per push by the rollout.
    pub push: PushOptions,
    /// Survey and plan only; patch nothing.
    pub dry_run: bool,
    /// Leave unreachable targets out instead of refusing the rollout (they are reported).
    pub skip_unreachable: bool,
}

/// Where one target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Not handled yet.
    Pending,
    /// Already matched the sources: nothing to push.
    UpToDate,
    /// `--dry-run`: would be patched.
    WouldPatch,
    /// Patched and healthy: on the new code.
    Patched,
    /// Patched, then rolled back after a failure: on the old code.
    RolledBack,
    /// Patched, but the rollback failed or was not safe: check it by hand.
    RollbackFailed,
    /// Never touched: on the old code.
    Untouched,
    /// Its push failed (the image is unchanged) or its health check did.
    Failed,
    /// No agent answered.
    Unreachable,
    /// Unreachable and left out (`--skip-unreachable`).
    Skipped,
}

/// One target in the report.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub name: String,
    pub url: String,
    pub state: TargetState,
    /// `canary`, `wave N`, or empty when the target was not patched.
    pub role: String,
    pub session: Option<String>,
    pub epoch_before: Option<u64>,
    /// The epoch the target is at now, as far as the rollout knows.
    pub epoch_now: Option<u64>,
    pub batch: Option<String>,
    /// How many changes the sources make to this target.
    pub changes: usize,
    pub health: Option<HealthResult>,
    pub error: Option<String>,
    pub millis: u64,
    /// Whether this target took the batch (and so needs a rollback on failure).
    #[serde(skip)]
    patched: bool,
    #[serde(skip)]
    change_lines: Vec<ChangeLine>,
}

/// How the rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetOutcome {
    /// Every target already matched the sources.
    NothingToPush,
    /// `--dry-run`: surveyed and planned, nothing patched.
    DryRun,
    /// Every target is on the new code.
    RolledOut,
    /// Refused before any target was touched (the reason says why).
    Refused,
    /// Stopped after a failure; the targets say who is on which code.
    Stopped,
}

/// Why a rollout was refused or stopped, for the exit code (the code a single push would exit
/// with for the same reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The configuration or the sources are wrong (token missing, Tonel errors).
    Setup,
    /// A target could not be reached (or the connection broke), or was left out
    /// (`--skip-unreachable`).
    Unreachable,
    /// A target's agent refused the survey (a wrong token, an internal error).
    Rejected,
    /// A change cannot go live.
    NeedsRebuild,
    /// A change would drop values live objects hold (`drops-live-state`).
    Refused,
    /// A target holds changes made in the image since hotpatch installed them (drift), which
    /// the push would replace.
    Drift,
    /// The targets need different changes.
    Disagree,
    /// A push or a health check failed during the rollout.
    Failure,
}

impl Cause {
    /// Which cause names a refused survey when members fail for different reasons: what no
    /// retry fixes first (the configuration, a refusing agent, a change that cannot go live
    /// as it is), then what a retry may fix.
    fn weight(self) -> u8 {
        match self {
            Cause::Setup => 6,
            Cause::Rejected => 5,
            Cause::NeedsRebuild | Cause::Refused | Cause::Drift => 4,
            Cause::Unreachable => 3,
            Cause::Disagree | Cause::Failure => 0,
        }
    }
}

/// The whole rollout, for the user and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub group: String,
    pub outcome: FleetOutcome,
    /// Why the rollout was refused or stopped.
    pub reason: Option<String>,
    pub cause: Option<Cause>,
    pub targets: Vec<TargetReport>,
    pub millis: u64,
}

impl FleetReport {
    /// True when every target that is part of the rollout ends on the new code.
    pub fn all_on_new_code(&self) -> bool {
        self.targets
            .iter()
            .all(|t| matches!(t.state, TargetState::UpToDate | TargetState::Patched))
    }
}

/// Told of every change of a target's state, to show progress (`phase` is a short word such
/// as `survey`, `pushing`, `health`, `rolling back`).
pub trait Observer {
    fn update(&self, target: &TargetReport, phase: &str);
}

/// An observer that shows nothing (`--json`, tests).
pub struct Quiet;

impl Observer for Quiet {
    fn update(&self, _: &TargetReport, _: &str) {}
}

/// Rolls the sources out to `targets` (the group's members, see [`inventory::members`]).
pub async fn rollout(
    config: &Config,
    group: &Group,
    targets: &[Target],
    options: &RolloutOptions,
    observer: &dyn Observer,
) -> FleetReport {
    let started = Instant::now();
    let mut run = Rollout {
        config,
        group,
        targets,
        options,
        observer,
        tokens: Vec::new(),
        reports: targets.iter().map(pending).collect(),
    };
    let (outcome, stop) = run.go().await;
    let (cause, reason) = match stop {
        Some((cause, reason)) => (Some(cause), Some(reason)),
        None => (None, None),
    };
    FleetReport {
        group: group.name.clone(),
        outcome,
        reason,
        cause,
        targets: run.reports,
        millis: millis(started),
    }
}

struct Rollout<'a> {
    config: &'a Config,
    group: &'a Group,
    targets: &'a [Target],
    options: &'a RolloutOptions,
    observer: &'a dyn Observer,
    tokens: Vec<String>,
    reports: Vec<TargetReport>,
}

impl Rollout<'_> {
    async fn go(&mut self) -> (FleetOutcome, Option<(Cause, String)>) {
        if let Err(reason) = self.read_tokens() {
            self.settle_untouched();
            return (FleetOutcome::Refused, Some((Cause::Setup, reason)));
        }
        if let Err(stop) = self.survey().await {
            self.settle_untouched();
            return (FleetOutcome::Refused, Some(stop));
        }
        let pending: Vec<usize> = (0..self.reports.len())
            .filter(|&i| self.reports[i].state == TargetState::Pending)
            .collect();
        if pending.is_empty() {
            return (FleetOutcome::NothingToPush, self.left_out());
        }
        if self.options.dry_run {
            for &i in &pending {
                self.set(i, TargetState::WouldPatch, "planned");
            }
            return (FleetOutcome::DryRun, None);
        }
        let (canary, rest) = match self.split_canary(&pending) {
            Ok(split) => split,
            Err(reason) => {
                self.settle_untouched();
                return (FleetOutcome::Refused, Some((Cause::Setup, reason)));
            }
        };
        let mut waves: Vec<(String, Vec<usize>)> = vec![("canary".to_string(), canary)];
        for (n, chunk) in rest.chunks(self.group.parallel).enumerate() {
            waves.push((format!("wave {}", n + 1), chunk.to_vec()));
        }
        let mut patched_order: Vec<usize> = Vec::new();
        for (role, wave) in waves {
            if wave.is_empty() {
                continue;
            }
            let failure = self.patch_wave(&role, &wave, &mut patched_order).await;
            if let Some(reason) = failure {
                if self.group.rollback_on_failure {
                    self.roll_back(&patched_order).await;
                }
                self.settle_untouched();
                return (FleetOutcome::Stopped, Some((Cause::Failure, reason)));
            }
        }
        (FleetOutcome::RolledOut, self.left_out())
    }

    /// Targets left out as unreachable (`--skip-unreachable`) are not on the new code: said as
    /// the reason of a rollout that otherwise went through.
    fn left_out(&self) -> Option<(Cause, String)> {
        let skipped: Vec<&str> = self
            .reports
            .iter()
            .filter(|r| r.state == TargetState::Skipped)
            .map(|r| r.name.as_str())
            .collect();
        (!skipped.is_empty()).then(|| {
            (
                Cause::Unreachable,
                format!(
                    "{} target(s) left out as unreachable are not on the new code: {}",
                    skipped.len(),
                    skipped.join(", ")
                ),
            )
        })
    }

    fn read_tokens(&mut self) -> Result<(), String> {
        for t in self.targets {
            self.tokens.push(t.token().map_err(|e| format!("{e:#}"))?);
        }
        Ok(())
    }

    fn push_options(&self, i: usize, dry_run: bool) -> PushOptions {
        PushOptions {
            dry_run,
            token: Some(self.tokens[i].clone()),
            ..self.options.push.clone()
        }
    }

    /// Dry-run pushes to every target at once; decides who needs the batch, and refuses when
    /// the fleet cannot take one batch.
    async fn survey(&mut self) -> Result<(), (Cause, String)> {
        for i in 0..self.reports.len() {
            self.observer.update(&self.reports[i], "survey");
        }
        let results = join_all((0..self.targets.len()).map(|i| {
            let options = self.push_options(i, true);
            let (config, target) = (self.config, &self.targets[i]);
            async move { push(config, target, &options).await }
        }))
        .await;
        let mut problems = Vec::new();
        let mut cause = Cause::Disagree;
        let mut blame = |c: Cause| {
            if c.weight() > cause.weight() {
                cause = c;
            }
        };
        for (i, result) in results.into_iter().enumerate() {
            let name = self.targets[i].name.clone();
            match result {
                Ok(report) => {
                    let r = &mut self.reports[i];
                    r.session = Some(report.session.clone());
                    r.epoch_before = Some(report.epoch_before);
                    r.epoch_now = Some(report.epoch_before);
                    r.changes = report.changes.len();
                    r.change_lines = report.changes;
                    match report.outcome {
                        Outcome::NothingToPush => self.set(i, TargetState::UpToDate, "survey"),
                        Outcome::DryRun => self.observer.update(&self.reports[i], "survey"),
                        Outcome::NeedsRebuild | Outcome::Applied => {
                            blame(Cause::NeedsRebuild);
                            problems.push(format!(
                                "{name}: {} change(s) cannot go live ({}); a fleet rollout does \
                                 not rebuild, run `hotpatch push --target {name}` with a rebuild",
                                report.needs_rebuild.len(),
                                report.needs_rebuild.join("; "),
                            ));
                        }
                        Outcome::Refused => {
                            blame(Cause::Refused);
                            problems.push(format!(
                                "{name}: the push is refused ({}); see `hotpatch push --target \
                                 {name} --dry-run`",
                                report.refused.join("; "),
                            ));
                        }
                        Outcome::Drift => {
                            blame(Cause::Drift);
                            let names: Vec<&str> =
                                report.drift.iter().map(|d| d.name.as_str()).collect();
                            problems.push(format!(
                                "{name}: {} definition(s) were changed in the image since \
                                 hotpatch installed them ({}); see `hotpatch status --target \
                                 {name}`, then `hotpatch pull` or push with --overwrite-drift",
                                names.len(),
                                names.join(", "),
                            ));
                        }
                    }
                }
                Err(PushFailure::Source(e)) => {
                    return Err((Cause::Setup, format!("the sources: {e}")));
                }
                Err(PushFailure::Config(e)) => return Err((Cause::Setup, format!("{e:#}"))),
                Err(PushFailure::Agent(e)) if e.is_configuration() => {
                    return Err((Cause::Setup, format!("{name}: {e}")));
                }
                Err(PushFailure::Agent(e)) if e.is_unreachable() => {
                    self.reports[i].error = Some(e.to_string());
                    if self.options.skip_unreachable {
                        self.set(i, TargetState::Skipped, "survey");
                    } else {
                        self.set(i, TargetState::Unreachable, "survey");
                        blame(Cause::Unreachable);
                        problems.push(format!("{name} is unreachable ({e})"));
                    }
                }
                Err(e) => {
                    blame(match &e {
                        PushFailure::Agent(c) if c.agent().is_some() => Cause::Rejected,
                        // The connection broke or timed out: a retry may do.
                        PushFailure::Agent(_) => Cause::Unreachable,
                        PushFailure::Drift(_) => Cause::Drift,
                        _ => Cause::Setup,
                    });
                    self.reports[i].error = Some(e.to_string());
                    self.set(i, TargetState::Failed, "survey");
                    problems.push(format!("{name}: {e}"));
                }
            }
        }
        if !problems.is_empty() {
            return Err((cause, problems.join("; ")));
        }
        self.check_agreement().map_err(|r| (Cause::Disagree, r))
    }

    /// Every target that needs the batch must need the same changes.
    fn check_agreement(&self) -> Result<(), String> {
        let mut kinds: Vec<(&[ChangeLine], Vec<&str>)> = Vec::new();
        for (i, r) in self.reports.iter().enumerate() {
            if r.state != TargetState::Pending {
                continue;
            }
            let name = self.targets[i].name.as_str();
            match kinds
                .iter_mut()
                .find(|(lines, _)| *lines == r.change_lines.as_slice())
            {
                Some((_, names)) => names.push(name),
                None => kinds.push((&r.change_lines, vec![name])),
            }
        }
        if kinds.len() <= 1 {
            return Ok(());
        }
        let described: Vec<String> = kinds
            .iter()
            .map(|(lines, names)| {
                let sample: Vec<String> = lines
                    .iter()
                    .take(3)
                    .map(|l| format!("{} {} {}", l.change, l.what, l.name))
                    .collect();
                format!(
                    "{} need {} change(s) ({}{})",
                    names.join(", "),
                    lines.len(),
                    sample.join(", "),
                    if lines.len() > 3 { ", …" } else { "" }
                )
            })
            .collect();
        Err(format!(
            "the targets' images differ, so one batch cannot bring them all to the sources: {}; \
             bring them in line first (`hotpatch diff --target NAME` shows each)",
            described.join("; ")
        ))
    }

    /// The canary targets and the rest, both in group order.
    fn split_canary(&self, pending: &[usize]) -> Result<(Vec<usize>, Vec<usize>), String> {
        match &self.group.canary {
            Canary::First(n) => {
                let n = (*n).min(pending.len());
                Ok((pending[..n].to_vec(), pending[n..].to_vec()))
            }
            Canary::Named(name) => {
                let Some(index) = self.targets.iter().position(|t| &t.name == name) else {
                    return Err(format!(
                        "the canary {name} is not a member of group {}",
                        self.group.name
                    ));
                };
                // A canary already on the new code (an earlier, interrupted rollout) has
                // nothing to prove by a push: the waves go on.
                let canary: Vec<usize> = pending.iter().copied().filter(|&i| i == index).collect();
                let rest = pending.iter().copied().filter(|&i| i != index).collect();
                Ok((canary, rest))
            }
        }
    }

    /// Pushes to every target of the wave at once, then checks each one's health. Returns why
    /// the rollout must stop, if it must.
    async fn patch_wave(
        &mut self,
        role: &str,
        wave: &[usize],
        patched_order: &mut Vec<usize>,
    ) -> Option<String> {
        for &i in wave {
            self.reports[i].role = role.to_string();
            self.observer.update(&self.reports[i], "pushing");
        }
        let results = join_all(wave.iter().map(|&i| {
            let options = self.push_options(i, false);
            let (config, target) = (self.config, &self.targets[i]);
            async move {
                let started = Instant::now();
                let result = push(config, target, &options).await;
                (result, millis(started))
            }
        }))
        .await;
        let mut failures = Vec::new();
        let mut applied = Vec::new();
        for (&i, (result, ms)) in wave.iter().zip(results) {
            self.reports[i].millis = ms;
            match result {
                Ok(report) if report.outcome == Outcome::Applied => {
                    let r = &mut self.reports[i];
                    r.patched = true;
                    r.batch = report.batch;
                    r.epoch_now = Some(report.epoch_after);
                    patched_order.push(i);
                    applied.push(i);
                }
                Ok(report) if report.outcome == Outcome::NothingToPush => {
                    // Somebody else brought it to the sources since the survey.
                    self.reports[i].epoch_now = Some(report.epoch_after);
                    self.set(i, TargetState::UpToDate, "pushed");
                }
                Ok(report) => {
                    self.reports[i].error = Some(format!("the push ended as {:?}", report.outcome));
                    self.set(i, TargetState::Failed, "pushed");
                    failures.push(format!(
                        "{}: the push ended as {:?}",
                        self.targets[i].name, report.outcome
                    ));
                }
                Err(e) => {
                    self.reports[i].error = Some(e.to_string());
                    self.set(i, TargetState::Failed, "pushed");
                    failures.push(format!("{} ({role}): {e}", self.targets[i].name));
                }
            }
        }
        for &i in &applied {
            self.observer.update(&self.reports[i], "health");
        }
        let checks = join_all(applied.iter().map(|&i| {
            let (target, token) = (&self.targets[i], self.tokens[i].as_str());
            health::check(&self.group.health, target, token)
        }))
        .await;
        for (&i, result) in applied.iter().zip(checks) {
            let healthy = result.healthy;
            if !healthy {
                failures.push(format!(
                    "{} ({role}) failed its health check: {}",
                    self.targets[i].name, result.detail
                ));
                self.reports[i].error = Some(format!("unhealthy: {}", result.detail));
            }
            self.reports[i].health = Some(result);
            let state = if healthy {
                TargetState::Patched
            } else {
                TargetState::Failed
            };
            self.set(i, state, "checked");
        }
        (!failures.is_empty()).then(|| failures.join("; "))
    }

    /// Rolls back the patched targets, newest first, each only while its image is still at the
    /// epoch the push left it at (a later batch by somebody else is not ours to undo).
    async fn roll_back(&mut self, patched_order: &[usize]) {
        for &i in patched_order.iter().rev() {
            self.observer.update(&self.reports[i], "rolling back");
            match self.roll_back_one(i).await {
                Ok(epoch) => {
                    self.reports[i].epoch_now = Some(epoch);
                    self.set(i, TargetState::RolledBack, "rolled back");
                }
                Err(e) => {
                    let r = &mut self.reports[i];
                    r.error = Some(match r.error.take() {
                        Some(first) => format!("{first}; rollback: {e}"),
                        None => format!("rollback: {e}"),
                    });
                    self.set(i, TargetState::RollbackFailed, "rollback failed");
                }
            }
        }
    }

    async fn roll_back_one(&self, i: usize) -> Result<u64, String> {
        let target = &self.targets[i];
        let mut client = crate::ops::connect(target, &self.tokens[i])
            .await
            .map_err(|e| e.to_string())?;
        let expected = self.reports[i].epoch_now;
        let now = client.ping().await.map_err(|e| e.to_string())?.epoch;
        let result = if Some(now) != expected {
            Err(format!(
                "the image moved on to epoch {now} after the push left it at {}; not undoing \
                 somebody else's change",
                expected.unwrap_or_default()
            ))
        } else {
            let hooks = crate::ops::hooks_for(target, &client.hello, !self.options.push.no_hooks)
                .map_err(|e| format!("{e:#}"));
            match hooks {
                Ok(hooks) => match client.rollback_with(None, hooks).await {
                    Ok(r) if r.problems.is_empty() => Ok(r.epoch),
                    Ok(r) => Err(format!("undo steps failed: {}", r.problems.join("; "))),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e),
            }
        };
        client.close().await;
        result
    }

    /// Targets still pending at the end were never touched.
    fn settle_untouched(&mut self) {
        for i in 0..self.reports.len() {
            if self.reports[i].state == TargetState::Pending {
                self.set(i, TargetState::Untouched, "untouched");
            }
        }
    }

    fn set(&mut self, i: usize, state: TargetState, phase: &str) {
        self.reports[i].state = state;
        self.observer.update(&self.reports[i], phase);
    }
}

fn pending(target: &Target) -> TargetReport {
    TargetReport {
        name: target.name.clone(),
        url: target.url.to_string(),
        state: TargetState::Pending,
        role: String::new(),
        session: None,
        epoch_before: None,
        epoch_now: None,
        batch: None,
        changes: 0,
        health: None,
        error: None,
        millis: 0,
        patched: false,
        change_lines: Vec::new(),
    }
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}
