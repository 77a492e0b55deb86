//! Typed messages of the agent wire protocol (`smalltalk-agent/PROTOCOL.md`, version 1).
//!
//! Requests are serialized from [`Request`]; answers are read into [`Answer`] and then into the
//! typed result of the command that was sent. The tests at the bottom parse every example block
//! of PROTOCOL.md, so the document and these types cannot drift apart silently.

pub use crate::drift::DriftChange;
use crate::drift::{Recorded, Subject, Version};
use crate::model::{ClassDef, ClassKind, Extension, MethodDef, MethodKey, Package, Side};
use crate::plan::state::{Carry, VarKind};
use serde::{Deserialize, Serialize};

/// The protocol version this client speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request with its envelope id, as sent on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u64,
    /// Asks the agent for progress messages while it works on the request (PROTOCOL.md,
    /// Progress); agents that do not know the field ignore it and send none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub progress: bool,
    #[serde(flatten)]
    pub request: Request,
}

/// A progress message: the agent is still working on the request `id` (PROTOCOL.md, Progress).
/// It has no `ok`; the answer follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressMessage {
    pub id: Option<u64>,
    pub progress: Progress,
}

/// A part of a `snapshot` answer that is over the size limit (PROTOCOL.md, Size limit): some
/// classes or extensions of one package, before the answer. It has no `ok`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMessage {
    pub id: Option<u64>,
    pub part: SnapshotPart,
}

/// Classes and extension methods of one package, in the order of the snapshot. A class cut
/// between its methods comes again, with the next of its methods, in the next part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPart {
    pub package: String,
    #[serde(default)]
    pub classes: Vec<WireClass>,
    #[serde(default)]
    pub extensions: Vec<WireExtension>,
}

/// How far the agent got with a long request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// What it is doing: `compile` or `install` (apply), `classes` (snapshot); others may come.
    pub phase: String,
    /// Items of the phase done so far.
    pub done: u64,
    /// Items of the phase in all.
    pub total: u64,
}

/// One command to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Hello {
        token: String,
        protocol: u32,
        client: String,
        /// The largest message this client reads (PROTOCOL.md, Size limit): the agent sends
        /// nothing larger.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_message_bytes: Option<u64>,
    },
    Ping,
    Snapshot {
        packages: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_epoch: Option<u64>,
        /// With `since_epoch`: `unchanged` also needs the agent's eval count to be this one
        /// (revision 6; an eval may change code without moving the epoch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_evals: Option<u64>,
        /// Ask for what changed in the image since hotpatch installed it (`drift` per package).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        drift: bool,
        /// A snapshot over the size limit may come in parts ([`PartMessage`]) before its answer.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        parts: bool,
    },
    Apply {
        batch: Batch,
        /// Carries and whether initializers run.
        #[serde(flatten)]
        options: ApplyOptions,
        /// Time limit in ms for the class initializers the batch runs (agent default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Everything `apply` checks (names, classes, compiling every method), without installing
    /// anything (revision 9, feature `check`): what `push --dry-run` asks.
    Check {
        batch: Batch,
    },
    Rollback {
        /// Who asks, for the agent's audit log.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<ClientIdentity>,
        /// The application's hooks, run on what changed back (revision 8).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hooks: Option<Hooks>,
    },
    /// Make the image's current state of these definitions the installed one (after `pull`).
    Adopt {
        /// Whole packages: everything they hold becomes installed (a new baseline).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        packages: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        methods: Vec<AdoptMethod>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        classes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<ClientIdentity>,
    },
    /// The agent's audit log, newest first.
    Log {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
    },
    /// Count what live objects hold in the variables (and classes) a batch would drop.
    Census {
        classes: Vec<CensusClass>,
        /// Time limit in ms for the counting (agent default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    Eval {
        expression: String,
        /// Time limit in ms for the expression (agent default when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Which of these methods would replace a method of another package (revision 6).
    Overrides {
        /// The packages the methods come with (the project's).
        packages: Vec<String>,
        methods: Vec<MethodProbe>,
    },
}

impl Request {
    /// The command name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Ping => "ping",
            Request::Snapshot { .. } => "snapshot",
            Request::Apply { .. } => "apply",
            Request::Check { .. } => "check",
            Request::Rollback { .. } => "rollback",
            Request::Adopt { .. } => "adopt",
            Request::Log { .. } => "log",
            Request::Census { .. } => "census",
            Request::Eval { .. } => "eval",
            Request::Overrides { .. } => "overrides",
        }
    }
}

/// A batch of ops applied all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub epoch: u64,
    /// The project's packages: classes of these packages may be redefined or removed; a class
    /// name that is a global outside them is refused. Absent: the packages the batch defines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<String>>,
    pub ops: Vec<Op>,
}

/// How to apply a batch, beyond the batch itself (fields of the `apply` request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApplyOptions {
    /// Variables whose live values move into another variable (renames, push-ups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carry: Vec<Carry>,
    /// `false`: run no class-side initializer (`--no-initialize`). Absent: run them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialize: Option<bool>,
    /// What to do with definitions changed in the image since hotpatch installed them.
    /// Absent: no check (what an old client sends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftPolicy>,
    /// Who pushes, for the agent's audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientIdentity>,
    /// The application's hooks, run after the batch is installed (revision 8). Absent: the
    /// agent still sends `hotpatchChanged:` to the classes that define it, and a failure undoes
    /// the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
}

/// The `hooks` member of `apply` and `rollback` (PROTOCOL.md, apply: hooks): how the
/// application is told that its code changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Hooks {
    /// Smalltalk evaluated in the image after the class-side `hotpatchChanged:` methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// What a failing hook does to an `apply` (default `undo`); a rollback always stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnHookFailure>,
    /// `false`: send no `hotpatchChanged:` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
}

/// What a failing application hook does to the batch it ran after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnHookFailure {
    /// Undo the batch (and tell the hooks it changed back): the image is as before.
    #[default]
    Undo,
    /// Keep the batch; the failure is only reported.
    Report,
}

/// What one application hook did (the `hooks` of `apply`, `rollback` and audit entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRun {
    /// `Foo class>>hotpatchChanged:` for a class-side method, the expression's text for the
    /// configured expression.
    pub name: String,
    pub kind: HookKind,
    pub outcome: HookOutcome,
    /// Why it did not finish (absent when it did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub millis: u64,
}

impl HookRun {
    /// Whether the hook finished without error.
    pub fn is_done(&self) -> bool {
        self.outcome == HookOutcome::Done
    }
}

impl std::fmt::Display for HookRun {
    /// `Foo class>>hotpatchChanged: failed: no routes`, ``the expression `Foo rebuild` done``.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            HookKind::Expression => write!(f, "the expression `{}`", self.name)?,
            HookKind::Method | HookKind::Other => f.write_str(&self.name)?,
        }
        match (self.outcome, &self.message) {
            (HookOutcome::Done, _) => write!(f, " done ({} ms)", self.millis),
            (HookOutcome::Failed, Some(m)) => write!(f, " failed: {m}"),
            (_, Some(m)) => write!(f, " {m}"),
            (outcome, None) => write!(f, " {}", outcome.label()),
        }
    }
}

/// Which kind of hook ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// A class-side `hotpatchChanged:` of a changed package.
    Method,
    /// The target's configured expression.
    Expression,
    /// A kind this client does not know (a newer agent).
    #[serde(other)]
    Other,
}

/// How a hook ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookOutcome {
    Done,
    /// It signalled an error nobody handled.
    Failed,
    /// A halt, a debugger, or its process suspended or ended itself.
    Stopped,
    /// It ran past the time limit for pushed code.
    TimedOut,
    /// An outcome this client does not know (a newer agent).
    #[serde(other)]
    Other,
}

impl HookOutcome {
    /// The outcome as the wire names it.
    pub fn label(self) -> &'static str {
        match self {
            HookOutcome::Done => "done",
            HookOutcome::Failed => "failed",
            HookOutcome::Stopped => "stopped",
            HookOutcome::TimedOut => "timed_out",
            HookOutcome::Other => "ended",
        }
    }
}

/// `apply`'s `drift` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    /// Refuse the batch (kind `drift`) when it touches a drifted definition.
    Refuse,
    /// Apply anyway; the agent keeps the overwritten sources in its audit log and undo journal.
    Overwrite,
}

/// Who sent a change, as the CLI reports it: kept in the agent's audit log. Every member may be
/// unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClientIdentity {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    /// The git commit of the sources pushed.
    #[serde(default)]
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    #[serde(default)]
    pub dirty: Option<bool>,
    /// `hotpatch VERSION`.
    #[serde(default)]
    pub tool: Option<String>,
}

/// One method of an `adopt` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptMethod {
    pub class_name: String,
    pub side: Side,
    pub selector: String,
    /// The exact source the files now hold for it (null: let the image say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Result of `adopt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptResult {
    pub epoch: u64,
    #[serde(default)]
    pub adopted: u64,
}

/// Result of `log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LogResult {
    /// Newest first.
    #[serde(default)]
    pub entries: Vec<LogEntry>,
    /// How many entries the agent keeps now.
    #[serde(default)]
    pub kept: u64,
    /// The most it keeps (`audit_entries`).
    #[serde(default)]
    pub limit: u64,
    /// How many older entries were dropped to stay within `limit`.
    #[serde(default)]
    pub dropped: u64,
}

/// One audit entry: an applied batch, a rollback or an adopt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LogEntry {
    #[serde(default)]
    pub seq: u64,
    /// The image's local time, ISO 8601 without zone.
    #[serde(default)]
    pub time: String,
    /// `apply`, `rollback` or `adopt`.
    pub event: String,
    #[serde(default)]
    pub batch: Option<String>,
    #[serde(default)]
    pub epoch_before: Option<u64>,
    #[serde(default)]
    pub epoch_after: Option<u64>,
    #[serde(default)]
    pub client: Option<ClientIdentity>,
    /// Ops by kind (`put_method`: 2 …).
    #[serde(default)]
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Names touched (`Foo>>bar`, `Foo class>>baz`, `class Foo`), at most 50.
    #[serde(default)]
    pub touched: Vec<String>,
    #[serde(default)]
    pub touched_total: u64,
    /// Sources of drifted definitions an `overwrite` batch replaced.
    #[serde(default)]
    pub overwritten: Vec<OverwrittenMethod>,
    /// The application hooks that ran after the batch (or rollback), and how they ended.
    #[serde(default)]
    pub hooks: Vec<HookRun>,
}

/// A method the image had changed by hand that a batch overwrote, with the image's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverwrittenMethod {
    pub class_name: String,
    #[serde(default)]
    pub side: Side,
    pub selector: String,
    #[serde(default)]
    pub source: Option<String>,
}

/// One class a `census` asks about: the variables of it that would be dropped (empty for a
/// removed class, whose instances are counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CensusClass {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inst_vars: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_inst_vars: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_vars: Vec<String>,
}

/// Result of `census`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusResult {
    pub epoch: u64,
    /// False when the time limit was hit: some counts are null (unknown).
    pub complete: bool,
    pub classes: Vec<CensusEntry>,
    #[serde(default)]
    pub millis: u64,
}

/// The counts of one class; `null` means unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusEntry {
    pub name: String,
    pub instances: Option<u64>,
    pub all_instances: Option<u64>,
    #[serde(default)]
    pub vars: Vec<CensusVar>,
}

/// How many holders give one variable a non-nil value; `null` means unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusVar {
    pub kind: VarKind,
    pub name: String,
    pub non_nil: Option<u64>,
}

/// One step of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    DefineClass {
        // Boxed: a class definition is ten times the size of the other ops.
        class: Box<WireClass>,
    },
    PutMethod {
        class_name: String,
        side: Side,
        protocol: String,
        source: String,
    },
    Classify {
        class_name: String,
        side: Side,
        selector: String,
        protocol: String,
    },
    RemoveMethod {
        class_name: String,
        side: Side,
        selector: String,
    },
    RemoveClass {
        name: String,
    },
}

/// A class definition as the agent sends and receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireClass {
    #[serde(default)]
    pub kind: ClassKind,
    pub name: String,
    #[serde(default)]
    pub superclass: Option<String>,
    #[serde(default)]
    pub layout: Option<String>,
    #[serde(default)]
    pub inst_vars: Vec<String>,
    #[serde(default)]
    pub class_vars: Vec<String>,
    #[serde(default)]
    pub pools: Vec<String>,
    #[serde(default)]
    pub class_inst_vars: Vec<String>,
    #[serde(default)]
    pub traits: Option<String>,
    #[serde(default)]
    pub class_traits: Option<String>,
    #[serde(default)]
    pub package: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub methods: Vec<WireMethod>,
    /// Direct subclasses in the image (all packages); only in snapshots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subclasses: Vec<String>,
}

/// A method as the agent sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireMethod {
    pub class_name: String,
    #[serde(default)]
    pub side: Side,
    pub selector: String,
    #[serde(default)]
    pub protocol: String,
    pub source: String,
    /// False when the agent could only decompile the method.
    #[serde(default = "yes")]
    pub source_exact: bool,
    /// The package whose method this one replaced, when it is an override (revision 6): its
    /// original is kept in the image and comes back when this method is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
}

impl WireMethod {
    /// The method's identity.
    pub fn key(&self) -> MethodKey {
        MethodKey {
            class_name: self.class_name.clone(),
            side: self.side,
            selector: self.selector.clone(),
        }
    }
}

fn yes() -> bool {
    true
}

/// An answer from the agent, before its result is read as a command's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub id: Option<u64>,
    pub ok: bool,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<AgentError>,
}

/// Error kinds the client branches on (PROTOCOL.md, "Envelope").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Unauthorized,
    BadRequest,
    UnknownCommand,
    UnsupportedProtocol,
    CompileFailed,
    Stale,
    ApplyFailed,
    NothingToRollback,
    EvalFailed,
    /// `apply` with `drift: refuse` touched definitions changed in the image.
    Drift,
    /// A string of the request holds a character the image's strings cannot hold (`field`,
    /// `op`, `line`, `column`, `code_point` say which); nothing was changed.
    UnholdableCharacter,
    /// The answer would be larger than the size limit (`size`, `limit`).
    TooLarge,
    Internal,
    /// A kind this client does not know (a newer agent).
    #[serde(other)]
    Other,
}

/// An error answered by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentError {
    pub kind: ErrorKind,
    #[serde(default)]
    pub message: String,
    /// `compile_failed`: every method that did not compile; `apply_failed` and `bad_request`
    /// (revision 7): every op refused (a name that breaks its rule, a missing superclass or
    /// class), without `line` and `column`.
    #[serde(default)]
    pub errors: Vec<CompileError>,
    /// `stale`: the image's current epoch.
    #[serde(default)]
    pub epoch: Option<u64>,
    /// `apply_failed`: index of the op that failed.
    #[serde(default)]
    pub op: Option<u32>,
    /// `drift`: the drifted definitions the batch would have overwritten (boxed: errors are
    /// passed around by value and this one is rare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Box<Vec<DriftedName>>>,
    /// `apply_failed` after a hook failed: the hooks before and after the undo (boxed, as
    /// `drift`: most errors have none).
    #[serde(flatten, default)]
    pub hook_failure: Box<HookFailure>,
    /// The members of `unholdable_character`, `too_large` and `unsupported_protocol` errors
    /// (boxed: rare, and errors are passed around by value).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<ErrorDetail>>,
}

impl AgentError {
    /// Where an `unholdable_character` error's character is.
    pub fn unholdable(&self) -> Option<&Unholdable> {
        match self.detail.as_deref() {
            Some(ErrorDetail::Unholdable(u)) => Some(u),
            _ => None,
        }
    }

    /// How large a `too_large` error's answer would have been, and the limit.
    pub fn too_large(&self) -> Option<TooLarge> {
        match self.detail.as_deref() {
            Some(ErrorDetail::TooLarge(t)) => Some(*t),
            _ => None,
        }
    }
}

/// The members some error kinds add (see [`AgentError::detail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorDetail {
    Unholdable(Unholdable),
    TooLarge(TooLarge),
    /// `unsupported_protocol`: the versions the agent speaks.
    Unsupported {
        supported: Vec<u32>,
    },
}

/// The sizes of a `too_large` error, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TooLarge {
    /// How large the answer would have been.
    pub size: u64,
    /// The limit it is over.
    pub limit: u64,
}

/// Where an `unholdable_character` error's character is: the request's field (`batch.ops[3].source`),
/// 1-based line and column in that string, and the character's Unicode code point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unholdable {
    pub field: String,
    pub code_point: u32,
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub column: u32,
    /// What the image's strings hold (`MacRoman`).
    #[serde(default)]
    pub characters: Option<String>,
}

impl Unholdable {
    /// `U+65E5 '日'`, the character as Unicode names it and as it looks.
    pub fn character(&self) -> String {
        match char::from_u32(self.code_point) {
            Some(c) if !c.is_control() => format!("U+{:04X} '{c}'", self.code_point),
            _ => format!("U+{:04X}", self.code_point),
        }
    }
}

/// The hooks of an `apply_failed` that a failing hook caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookFailure {
    /// The hooks that ran on the installed batch (the last one failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookRun>,
    /// The hooks run again after the batch was undone, so the application saw its code back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks_after_undo: Vec<HookRun>,
}

/// A definition named in a `drift` error: a method (`class_name`, `side`, `selector`) or a
/// class (`name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DriftedName {
    #[serde(default)]
    pub class_name: Option<String>,
    #[serde(default)]
    pub side: Option<Side>,
    #[serde(default)]
    pub selector: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub change: Option<DriftChange>,
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "error".into());
        write!(f, "agent answered {kind}: {}", self.message)
    }
}

impl std::error::Error for AgentError {}

/// One method that did not compile, or one op refused; `line`/`column` are 1-based, inside the
/// method source (0 when the error is not about a method's text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileError {
    pub op: usize,
    #[serde(default)]
    pub class_name: String,
    #[serde(default)]
    pub side: Side,
    #[serde(default)]
    pub selector: Option<String>,
    pub message: String,
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub column: u32,
}

/// Result of `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloInfo {
    pub dialect: String,
    #[serde(default)]
    pub dialect_version: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub agent_version: String,
    pub protocol: u32,
    pub session: String,
    pub epoch: u64,
    /// How many `eval`s ran in this session (revision 6; `None` from older agents): with the
    /// epoch, what a cached snapshot is valid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evals: Option<u64>,
    /// Optional commands and members the agent supports (`drift`, `log`, `adopt`, `overrides`, `hooks`, `parts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// The largest message the agent reads or sends (PROTOCOL.md, Size limit); older agents
    /// do not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<u64>,
    /// What the image's strings hold: `Unicode`, or an 8-bit character set (`MacRoman`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub characters: Option<String>,
}

impl HelloInfo {
    /// Whether the agent announced `feature`.
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// Result of `ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingInfo {
    pub epoch: u64,
    pub session: String,
    /// How many `eval`s ran in this session (revision 6; `None` from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evals: Option<u64>,
}

/// Result of `snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotResult {
    pub session: String,
    pub epoch: u64,
    /// How many `eval`s ran in this session when the snapshot was taken (revision 6; `None`
    /// from older agents): a cached snapshot is valid for this epoch and this count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evals: Option<u64>,
    #[serde(default)]
    pub unchanged: bool,
    #[serde(default)]
    pub packages: Vec<WirePackage>,
}

/// A point in an image's history as its agent counts it: the epoch, and how many `eval`s had
/// run (revision 6; `None` from agents that do not count them). A cached snapshot is valid for
/// one mark: an eval may change code without moving the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mark {
    pub epoch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evals: Option<u64>,
}

impl SnapshotResult {
    /// The point in the image's history this snapshot speaks of.
    pub fn mark(&self) -> Mark {
        Mark {
            epoch: self.epoch,
            evals: self.evals,
        }
    }
}

/// A package as the agent lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WirePackage {
    pub name: String,
    #[serde(default)]
    pub classes: Vec<WireClass>,
    #[serde(default)]
    pub extensions: Vec<WireExtension>,
    /// What changed in the image since hotpatch installed it (only when asked, and only from
    /// agents that can say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<WireDrift>,
}

/// A package's drift as the agent reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireDrift {
    /// Whether the agent knows the package's whole baseline (so methods it has no record of
    /// count as added in the image).
    #[serde(default)]
    pub adopted: bool,
    #[serde(default)]
    pub methods: Vec<DriftedMethod>,
    #[serde(default)]
    pub classes: Vec<DriftedClass>,
}

/// A method the image changed, added or removed since hotpatch installed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftedMethod {
    pub class_name: String,
    #[serde(default)]
    pub side: Side,
    pub selector: String,
    pub change: DriftChange,
    /// What hotpatch installed; null for `added`, or when the text is not known.
    #[serde(default)]
    pub installed: Option<String>,
    /// The image's author/time stamp of its current method, when it knows one.
    #[serde(default)]
    pub stamp: Option<String>,
}

/// A class definition the image changed, added or removed since hotpatch installed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftedClass {
    pub name: String,
    pub change: DriftChange,
    /// The definition hotpatch installed (no methods); null for `added`.
    #[serde(default)]
    pub installed: Option<WireClass>,
}

/// Extension methods of a package on one class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireExtension {
    pub class_name: String,
    #[serde(default)]
    pub methods: Vec<WireMethod>,
}

/// Result of `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult {
    pub batch: String,
    pub epoch: u64,
    #[serde(default)]
    pub replayed: bool,
    #[serde(default)]
    pub initialized: Vec<String>,
    /// The application hooks that ran after the batch was installed (revision 8).
    #[serde(default)]
    pub hooks: Vec<HookRun>,
    #[serde(default)]
    pub millis: u64,
    /// Milliseconds per phase of the agent's work (revision 4; absent from older agents).
    #[serde(default)]
    pub phases: Option<ApplyPhases>,
    /// Drifted definitions an `overwrite` batch replaced, as the agent found them when it
    /// installed each one (revision 6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overwritten: Vec<DriftedName>,
}

/// The agent's milliseconds per phase of an `apply` (PROTOCOL.md, apply): parsing the request's
/// JSON, checking names and classes, compiling every method, installing (the ops), running class
/// initializers, recording the batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyPhases {
    #[serde(default)]
    pub parse: u64,
    #[serde(default)]
    pub validate: u64,
    #[serde(default)]
    pub compile: u64,
    #[serde(default)]
    pub install: u64,
    #[serde(default)]
    pub initialize: u64,
    /// The application's hooks (revision 8).
    #[serde(default)]
    pub hooks: u64,
    #[serde(default)]
    pub record: u64,
}

/// Result of `check`: the batch would pass every check of `apply` up to installing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The epoch the batch was checked at.
    pub epoch: u64,
    /// How many methods compiled.
    pub compiled: u64,
}

/// Result of `rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackResult {
    pub batch: String,
    pub epoch: u64,
    /// Undo steps that failed (the others still ran); empty when the rollback was exact.
    #[serde(default)]
    pub problems: Vec<String>,
    /// The application hooks run on what changed back (revision 8).
    #[serde(default)]
    pub hooks: Vec<HookRun>,
}

/// A method a push would put, as `overrides` asks about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodProbe {
    pub class_name: String,
    #[serde(default)]
    pub side: Side,
    pub selector: String,
    /// The protocol it would be put in (its package, for an extension `*P`).
    pub protocol: String,
}

/// Result of `overrides`: the asked methods that would replace another package's method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OverridesResult {
    #[serde(default)]
    pub overrides: Vec<Overridden>,
}

/// A method of another package that a pushed one would replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overridden {
    pub class_name: String,
    #[serde(default)]
    pub side: Side,
    pub selector: String,
    /// The package the image says the method belongs to now.
    pub owner: String,
}

/// Result of `eval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalResult {
    pub value: String,
}

impl From<&ClassDef> for WireClass {
    fn from(c: &ClassDef) -> Self {
        WireClass {
            kind: c.kind,
            name: c.name.clone(),
            superclass: c.superclass.clone(),
            layout: c.layout.clone(),
            inst_vars: c.inst_vars.clone(),
            class_vars: c.class_vars.clone(),
            pools: c.pools.clone(),
            class_inst_vars: c.class_inst_vars.clone(),
            traits: c.traits.clone(),
            class_traits: c.class_traits.clone(),
            package: c.package.clone(),
            tag: c.tag.clone(),
            comment: c.comment.clone(),
            methods: Vec::new(),
            subclasses: Vec::new(),
        }
    }
}

impl From<WireMethod> for MethodDef {
    fn from(m: WireMethod) -> Self {
        MethodDef {
            class_name: m.class_name,
            side: m.side,
            selector: m.selector,
            protocol: m.protocol,
            source: m.source,
            span: None,
        }
    }
}

impl From<WireClass> for ClassDef {
    fn from(c: WireClass) -> Self {
        ClassDef {
            kind: c.kind,
            name: c.name,
            superclass: c.superclass,
            layout: c.layout,
            inst_vars: c.inst_vars,
            class_vars: c.class_vars,
            pools: c.pools,
            class_inst_vars: c.class_inst_vars,
            traits: c.traits,
            class_traits: c.class_traits,
            package: c.package,
            tag: c.tag,
            comment: c.comment,
            methods: c.methods.into_iter().map(MethodDef::from).collect(),
            origin: None,
        }
    }
}

impl From<WirePackage> for Package {
    fn from(p: WirePackage) -> Self {
        let mut classes: Vec<ClassDef> = p.classes.into_iter().map(ClassDef::from).collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut extensions: Vec<Extension> = p
            .extensions
            .into_iter()
            .map(|e| Extension {
                class_name: e.class_name,
                methods: e.methods.into_iter().map(MethodDef::from).collect(),
                origin: None,
            })
            .collect();
        extensions.sort_by(|a, b| a.class_name.cmp(&b.class_name));
        Package {
            name: p.name,
            tags: Vec::new(),
            classes,
            extensions,
            path: None,
        }
    }
}

impl SnapshotResult {
    /// Direct subclasses the image reported, by superclass name.
    pub fn subclasses(&self) -> std::collections::HashMap<String, Vec<String>> {
        self.packages
            .iter()
            .flat_map(|p| p.classes.iter())
            .filter(|c| !c.subclasses.is_empty())
            .map(|c| (c.name.clone(), c.subclasses.clone()))
            .collect()
    }

    /// What the agent reported as changed in the image since hotpatch installed it, or `None`
    /// when it did not report drift for every package (an agent that cannot).
    pub fn drift(&self) -> Option<Vec<Recorded>> {
        let mut recorded = Vec::new();
        for package in &self.packages {
            let drift = package.drift.as_ref()?;
            for m in &drift.methods {
                let key = MethodKey {
                    class_name: m.class_name.clone(),
                    side: m.side,
                    selector: m.selector.clone(),
                };
                recorded.push(Recorded {
                    package: package.name.clone(),
                    installed: m.installed.as_ref().map(|source| {
                        Version::Method(MethodDef {
                            class_name: key.class_name.clone(),
                            side: key.side,
                            selector: key.selector.clone(),
                            protocol: String::new(),
                            source: source.clone(),
                            span: None,
                        })
                    }),
                    subject: Subject::Method { key },
                    change: m.change,
                    stamp: m.stamp.clone(),
                });
            }
            for c in &drift.classes {
                recorded.push(Recorded {
                    package: package.name.clone(),
                    subject: Subject::Class {
                        name: c.name.clone(),
                    },
                    change: c.change,
                    installed: c
                        .installed
                        .as_ref()
                        .map(|w| Version::Class(Box::new(ClassDef::from(w.clone())))),
                    stamp: None,
                });
            }
        }
        Some(recorded)
    }

    /// Every method the snapshot lists: its classes' and its extensions'.
    fn methods(&self) -> impl Iterator<Item = &WireMethod> {
        self.packages.iter().flat_map(|p| {
            p.classes
                .iter()
                .flat_map(|c| c.methods.iter())
                .chain(p.extensions.iter().flat_map(|e| e.methods.iter()))
        })
    }

    /// Methods whose source the image could only decompile.
    pub fn inexact(&self) -> Vec<MethodKey> {
        self.methods()
            .filter(|m| !m.source_exact)
            .map(WireMethod::key)
            .collect()
    }

    /// The methods the snapshot marks as overrides, with the package whose method each
    /// replaced.
    pub fn overrides(&self) -> std::collections::BTreeMap<MethodKey, String> {
        self.methods()
            .filter_map(|m| Some((m.key(), m.overrides.clone()?)))
            .collect()
    }

    /// The snapshot as model packages.
    pub fn into_packages(self) -> Vec<Package> {
        self.packages.into_iter().map(Package::from).collect()
    }
}

impl Op {
    /// The method this op concerns, if it is a method op.
    pub fn method_key(&self) -> Option<MethodKey> {
        match self {
            Op::Classify {
                class_name,
                side,
                selector,
                ..
            }
            | Op::RemoveMethod {
                class_name,
                side,
                selector,
            } => Some(MethodKey {
                class_name: class_name.clone(),
                side: *side,
                selector: selector.clone(),
            }),
            _ => None,
        }
    }
}

/// The wire form of a planned step (plan → wire is the last stage before the agent).
impl From<&crate::plan::Step> for Op {
    fn from(step: &crate::plan::Step) -> Self {
        use crate::plan::Step;
        match step {
            Step::DefineClass(class) => Op::DefineClass {
                class: Box::new(WireClass::from(class)),
            },
            Step::PutMethod(m) => Op::PutMethod {
                class_name: m.class_name.clone(),
                side: m.side,
                protocol: m.protocol.clone(),
                source: m.source.clone(),
            },
            Step::Classify { key, protocol } => Op::Classify {
                class_name: key.class_name.clone(),
                side: key.side,
                selector: key.selector.clone(),
                protocol: protocol.clone(),
            },
            Step::RemoveMethod(key) => Op::RemoveMethod {
                class_name: key.class_name.clone(),
                side: key.side,
                selector: key.selector.clone(),
            },
            Step::RemoveClass(name) => Op::RemoveClass { name: name.clone() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `<!-- example: NAME -->` JSON block of PROTOCOL.md, by name.
    fn examples() -> Vec<(String, String)> {
        let doc = include_str!("../../smalltalk-agent/PROTOCOL.md");
        let mut out = Vec::new();
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            let Some(name) = line
                .trim()
                .strip_prefix("<!-- example: ")
                .and_then(|s| s.strip_suffix(" -->"))
            else {
                continue;
            };
            let mut json = String::new();
            let mut inside = false;
            for l in lines.by_ref() {
                if l.starts_with("```json") {
                    inside = true;
                } else if l.starts_with("```") && inside {
                    break;
                } else if inside {
                    json.push_str(l);
                    json.push('\n');
                }
            }
            out.push((name.to_owned(), json));
        }
        out
    }

    #[test]
    fn every_protocol_example_parses_into_its_type() {
        let examples = examples();
        assert!(
            examples.len() >= 17,
            "found only {} examples",
            examples.len()
        );
        for (name, json) in examples {
            let value: serde_json::Value = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("example {name} is not JSON: {e}"));
            if name.starts_with("progress") {
                let message: ProgressMessage = serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("progress example {name}: {e}"));
                assert_eq!(serde_json::to_value(&message).unwrap(), value, "{name}");
                assert!(
                    serde_json::from_value::<Answer>(value).is_err(),
                    "{name} must not read as an answer"
                );
                continue;
            }
            if name.starts_with("part") {
                let message: PartMessage = serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("part example {name}: {e}"));
                assert_eq!(message.part.classes.len(), 1, "{name}");
                assert!(
                    serde_json::from_value::<Answer>(value).is_err(),
                    "{name} must not read as an answer"
                );
                continue;
            }
            if name.ends_with("-request") {
                let env: Envelope = serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("request example {name}: {e}"));
                // What we would send for it is the example itself.
                assert_eq!(serde_json::to_value(&env).unwrap(), value, "{name}");
                continue;
            }
            let answer: Answer = serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("answer example {name}: {e}"));
            if !answer.ok {
                assert!(answer.error.is_some(), "{name} has no error");
                assert_ne!(
                    answer.error.as_ref().map(|e| e.kind),
                    Some(ErrorKind::Other)
                );
                continue;
            }
            let result = answer.result.expect("ok answer has a result");
            let command = name.split('-').next().unwrap_or_default();
            let parsed = match command {
                "hello" => serde_json::from_value::<HelloInfo>(result).map(|_| ()),
                "ping" => serde_json::from_value::<PingInfo>(result).map(|_| ()),
                "snapshot" => serde_json::from_value::<SnapshotResult>(result).map(|_| ()),
                "apply" => serde_json::from_value::<ApplyResult>(result).map(|_| ()),
                "check" => serde_json::from_value::<CheckResult>(result).map(|_| ()),
                "rollback" => serde_json::from_value::<RollbackResult>(result).map(|_| ()),
                "eval" => serde_json::from_value::<EvalResult>(result).map(|_| ()),
                "census" => serde_json::from_value::<CensusResult>(result).map(|_| ()),
                "adopt" => serde_json::from_value::<AdoptResult>(result).map(|_| ()),
                "log" => serde_json::from_value::<LogResult>(result).map(|_| ()),
                "overrides" => serde_json::from_value::<OverridesResult>(result).map(|_| ()),
                other => panic!("example {name}: unknown command {other}"),
            };
            parsed.unwrap_or_else(|e| panic!("result of {name}: {e}"));
        }
    }

    #[test]
    fn snapshot_example_becomes_model_packages() {
        let (_, json) = examples()
            .into_iter()
            .find(|(n, _)| n == "snapshot-answer")
            .unwrap();
        let answer: Answer = serde_json::from_str(&json).unwrap();
        let snap: SnapshotResult = serde_json::from_value(answer.result.unwrap()).unwrap();
        let packages = snap.into_packages();
        assert_eq!(packages[0].classes[0].name, "SampleCounter");
        assert_eq!(packages[0].classes[0].methods[1].side, Side::Class);
        assert_eq!(packages[0].extensions[0].methods[0].selector, "shout");
    }

    fn result_of<T: serde::de::DeserializeOwned>(example: &str) -> T {
        let (_, json) = examples()
            .into_iter()
            .find(|(n, _)| n == example)
            .unwrap_or_else(|| panic!("no example {example}"));
        let answer: Answer = serde_json::from_str(&json).unwrap();
        serde_json::from_value(answer.result.unwrap()).unwrap()
    }

    #[test]
    fn overrides_examples_name_whose_method_is_replaced() {
        let snap: SnapshotResult = result_of("snapshot-overrides-answer");
        let key = MethodKey {
            class_name: "Integer".into(),
            side: Side::Instance,
            selector: "benchFib".into(),
        };
        assert_eq!(
            snap.overrides().get(&key).map(String::as_str),
            Some("Kernel-Numbers")
        );
        assert_eq!(
            snap.mark(),
            Mark {
                epoch: 4,
                evals: Some(5)
            }
        );
        let found: OverridesResult = result_of("overrides-answer");
        assert_eq!(found.overrides.len(), 1);
        assert_eq!(found.overrides[0].owner, "Kernel-Numbers");
        let applied: ApplyResult = result_of("apply-overwritten-answer");
        assert_eq!(applied.overwritten[0].selector.as_deref(), Some("greeting"));
    }

    #[test]
    fn compile_errors_carry_positions() {
        let (_, json) = examples()
            .into_iter()
            .find(|(n, _)| n == "apply-compile-failed")
            .unwrap();
        let answer: Answer = serde_json::from_str(&json).unwrap();
        let err = answer.error.unwrap();
        assert_eq!(err.kind, ErrorKind::CompileFailed);
        assert_eq!((err.errors[0].line, err.errors[0].column), (2, 20));
    }

    #[test]
    fn an_unholdable_character_says_where_it_is() {
        let (_, json) = examples()
            .into_iter()
            .find(|(n, _)| n == "apply-unholdable-character")
            .unwrap();
        let err = serde_json::from_str::<Answer>(&json)
            .unwrap()
            .error
            .unwrap();
        assert_eq!(err.kind, ErrorKind::UnholdableCharacter);
        assert_eq!(err.op, Some(0));
        let u = err.unholdable().expect("where");
        assert_eq!(
            (u.field.as_str(), u.line, u.column),
            ("batch.ops[0].source", 3, 6)
        );
        assert_eq!(u.character(), "U+65E5 '日'");
    }

    #[test]
    fn a_failed_hook_is_named_with_its_outcome_before_and_after_the_undo() {
        let (_, json) = examples()
            .into_iter()
            .find(|(n, _)| n == "apply-failed-hook")
            .unwrap();
        let answer: Answer = serde_json::from_str(&json).unwrap();
        let err = answer.error.unwrap();
        assert_eq!(err.kind, ErrorKind::ApplyFailed);
        let failed = &err.hook_failure.hooks[1];
        assert_eq!(
            (failed.kind, failed.outcome),
            (HookKind::Expression, HookOutcome::TimedOut)
        );
        assert_eq!(
            failed.to_string(),
            "the expression `SampleRoutes rebuild` did not finish within 5000 ms; its process was terminated"
        );
        assert!(
            err.hook_failure
                .hooks_after_undo
                .iter()
                .all(HookRun::is_done)
        );
        assert_eq!(
            err.hook_failure.hooks[0].to_string(),
            "SampleRoutes class>>hotpatchChanged: done (1 ms)"
        );
    }

    #[test]
    fn unknown_error_kinds_are_tolerated() {
        let a: Answer = serde_json::from_str(
            r#"{"id":1,"ok":false,"error":{"kind":"brand_new","message":"x"}}"#,
        )
        .unwrap();
        assert_eq!(a.error.unwrap().kind, ErrorKind::Other);
    }
}
