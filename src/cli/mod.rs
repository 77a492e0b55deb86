//! Command-line front end: parses arguments, calls the library, prints. Thin by design: every
//! command is a function that takes its options and returns an exit code; the work itself is in
//! the library ([`crate::ops`] and the pipeline modules), printing happens here.

use crate::term::errln;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod completions;
mod diff;
mod eval;
mod export;
mod fleet;
mod init;
mod inspect;
mod log;
mod man;
mod pull;
mod push;
mod rebuild;
mod rollback;
mod status;
mod watch;

/// Exit codes shared by every command (documented in the README).
pub mod exit {
    /// Success; for `diff`, nothing differs; for `push`, applied or nothing to push.
    pub const OK: i32 = 0;
    /// `diff`: something differs.
    pub const DIFFERENCES: i32 = 1;
    /// Usage, configuration or source errors: nothing was sent to an image.
    pub const ERROR: i32 = 2;
    /// A change needs a rebuild and the configuration (or `--no-rebuild`) refuses it; the image
    /// is unchanged.
    pub const NEEDS_REBUILD: i32 = 3;
    /// `push`: a change would drop values live objects hold (`drops-live-state`) and
    /// `--allow-state-loss` was not given; the image is unchanged, no rebuild ran. The same code
    /// as [`NEEDS_REBUILD`]: both mean "a rule refused the push, nothing was applied".
    pub const REFUSED: i32 = 3;
    /// The agent refused the batch (compile errors, the image kept changing under us, a failing
    /// application hook undid it); the image is unchanged.
    pub const REJECTED: i32 = 4;
    /// The agent could not be reached or broke off; safe to retry.
    pub const UNREACHABLE: i32 = 5;
    /// A rebuild failed; the previous image is running.
    pub const REBUILD_FAILED: i32 = 6;
    /// `rollback` ran, but some undo steps failed: the image may differ from before the batch;
    /// or an application hook failed on the code rolled back (unless its failures are only
    /// reported).
    pub const ROLLBACK_INCOMPLETE: i32 = 7;
    /// A group rollout was refused because the targets need different changes, or stopped
    /// after a failure: not every target is on the new code (the report says which is where).
    pub const FLEET_INCOMPLETE: i32 = 8;
    /// The image holds changes hotpatch did not make (drift) or that conflict with the local
    /// sources: `status` found some, or `push` refused to overwrite them (nothing was sent),
    /// or `pull` left conflicts unresolved.
    pub const DRIFT: i32 = 9;
    /// `status`: hotpatch could not tell whether the image has drifted (the sources cannot be
    /// read, a listed package has no folder, the agent failed or predates drift reports); the
    /// reason is printed. Never 0 when it could not tell.
    pub const UNKNOWN: i32 = 10;
    /// A message over the size limit (`max_message_bytes`, PROTOCOL.md, Size limit): a request
    /// not sent, or an answer the agent would not send or this client would not read; the
    /// message says how large, what the limit is and which setting raises it. Retrying does not
    /// help.
    pub const TOO_LARGE: i32 = 11;

    /// Every exit code with what it means, for the manual pages (the README's table says the
    /// same at more length; a test keeps the two lists of codes equal).
    pub const TABLE: &[(i32, &str)] = &[
        (
            OK,
            "success; diff: nothing differs; push: applied, or nothing to push",
        ),
        (DIFFERENCES, "diff: something differs"),
        (
            ERROR,
            "usage, configuration or source errors (Tonel, names, method syntax); nothing was sent, retrying will not help",
        ),
        (
            REFUSED,
            "push: a rule refused the push (needs a rebuild that is refused, or drops live state); nothing was applied",
        ),
        (
            REJECTED,
            "the agent refused the request (compile errors, also those push --dry-run has the image find; a failed eval, a wrong token, nothing to roll back, an undone failure); the image is unchanged",
        ),
        (
            UNREACHABLE,
            "the agent could not be reached, or the connection broke; safe to retry",
        ),
        (
            REBUILD_FAILED,
            "rebuild failed; the previous image is still running",
        ),
        (
            ROLLBACK_INCOMPLETE,
            "rollback ran but some undo steps failed; check with hotpatch diff",
        ),
        (
            FLEET_INCOMPLETE,
            "push --group: not every target is on the new code; rollback --group: some members were rolled back, others not; the report says which is where",
        ),
        (
            DRIFT,
            "drift: the image holds changes hotpatch did not make (status), push refused to replace them, or pull left conflicts",
        ),
        (
            UNKNOWN,
            "status: hotpatch could not tell whether the image has drifted (the sources cannot be read, a listed package has no folder, the agent failed or predates drift reports); never 0 then",
        ),
        (
            TOO_LARGE,
            "too large: a request or an answer is over max_message_bytes (the smaller of the target's and the agent's); nothing was sent or applied, the message says how large and which setting raises the limit",
        ),
    ];
}

#[derive(Parser, Debug)]
#[command(
    name = "hotpatch",
    version,
    about = "Push Tonel source changes into a running Smalltalk image, or rebuild it when a change cannot go live"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command that reads the configuration or talks to a target accepts.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// The config file (default: the nearest hotpatch.toml upwards) [env: HOTPATCH_CONFIG]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The target (a [targets.NAME] section) [env: HOTPATCH_TARGET]
    #[arg(long, short = 't', global = true)]
    pub target: Option<String>,
    /// The agent's url, overriding the target's (ws://HOST:PORT/, wss://HOST/,
    /// ssh://[USER@]HOST/?agent_port=N) [env: HOTPATCH_URL]
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// The environment variable that holds the token [env: HOTPATCH_TOKEN_ENV]
    #[arg(long, global = true)]
    pub token_env: Option<String>,
    /// The Tonel source directory, overriding the config's [env: HOTPATCH_SOURCE]
    #[arg(long, global = true)]
    pub source: Option<PathBuf>,
    /// Override any setting of hotpatch.toml, e.g. --set targets.prod.timeout_secs=30
    /// (repeatable) [env: HOTPATCH_SET, `;`-separated]
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub set: Vec<String>,
}

impl Common {
    /// The overrides these options (and the environment) make to the config file.
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides {
            config: self.config.clone(),
            source: self.source.clone(),
            target: self.target.clone(),
            url: self.url.clone(),
            token_env: self.token_env.clone(),
            set: self.set.clone(),
            env_set: Vec::new(),
        }
        .with_env()
    }

    /// Loads the configuration relative to the current directory.
    pub fn load(&self) -> anyhow::Result<(crate::config::Config, crate::config::Overrides)> {
        let overrides = self.overrides();
        let cwd = std::env::current_dir()?;
        Ok((crate::config::Config::load(&cwd, &overrides)?, overrides))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Summarise a Tonel repository (or list every error in it); --json for the full model
    Inspect(inspect::InspectArgs),
    /// Export a Tonel repository as a chunk-format file-in (--format st)
    Export(export::ExportArgs),
    /// Write a commented hotpatch.toml in the current directory
    Init(init::InitArgs),
    /// Connect to a target's agent and print what it says about the image
    #[command(long_about = status::LONG_ABOUT)]
    Status(status::StatusArgs),
    /// Show what differs between the sources and the live image (exit 1 when something does)
    Diff(diff::DiffArgs),
    /// Apply what differs to the live image, all or nothing
    Push(push::PushArgs),
    /// Undo the last batch applied to the live image
    Rollback(rollback::RollbackArgs),
    /// Write what was changed in the live image (drift) into the Tonel files
    Pull(pull::PullArgs),
    /// Print the image's audit log: who applied, rolled back or pulled what, and when
    Log(log::LogArgs),
    /// Build a fresh image from the base, verify it, swap it in and restart (--rollback: undo)
    Rebuild(rebuild::RebuildArgs),
    /// Evaluate a Smalltalk expression in the live image and print the result
    Eval(eval::EvalArgs),
    /// Push each Tonel file of the sources as it is saved (Ctrl-C stops)
    Watch(watch::WatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one per command into --dir
    Man(man::ManArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Init(args) => init::run(args),
        Command::Status(args) => status::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Push(args) => push::run(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Log(args) => log::run(args),
        Command::Rebuild(args) => rebuild::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => man::man(&args),
    }
}

/// Loads the configuration, picks the target, reads its token and connects to its agent; runs
/// `work` with the client and closes the connection politely.
pub fn with_agent<T>(
    common: &Common,
    work: impl AsyncFnOnce(
        &mut crate::image::Client,
        &crate::config::Target,
    ) -> Result<T, crate::image::ClientError>,
) -> anyhow::Result<T> {
    let (config, overrides) = common.load()?;
    let target = config.target(&overrides)?;
    let token = target.token()?;
    let rt = runtime()?;
    rt.block_on(async {
        let mut client = crate::ops::connect(&target, &token).await?;
        let result = work(&mut client, &target).await;
        client.close().await;
        Ok(result?)
    })
}

/// Reports `error` and answers the exit code for it: a message over the size limit
/// ([`exit::TOO_LARGE`]), the agent refused ([`exit::REJECTED`]), the agent could not be reached
/// or the connection broke ([`exit::UNREACHABLE`]), anything else, a URL or transport refusal
/// included ([`exit::ERROR`]). With `json`, the report is the
/// one JSON error object of [`failure_json`] on stdout, else a line on stderr.
pub fn fail(error: &anyhow::Error, json: bool) -> i32 {
    if json {
        print_json(&failure_json(error_object(error)));
    } else {
        report_error(error);
    }
    match error.downcast_ref::<crate::image::ClientError>() {
        Some(c) => client_error_code(c),
        None => exit::ERROR,
    }
}

/// What `--json` prints when a command fails: one object, `{"outcome": "failed", "error":
/// {"kind": …, "message": …, …}}`, built around an error object from [`error_object`] or
/// [`client_error_object`] (a command may add members that say more).
pub fn failure_json(error: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "outcome": "failed", "error": error })
}

/// The error object of a failure that is not a command's own: a configuration error
/// (`"kind": "config"`) or a failed exchange with an agent ([`client_error_object`]).
pub fn error_object(error: &anyhow::Error) -> serde_json::Value {
    if let Some(source) = error.downcast_ref::<crate::ops::local::SourceError>() {
        return serde_json::json!({
            "kind": source.kind(),
            "message": format!("{error:#}"),
            "errors": source.json_errors(),
        });
    }
    match error.downcast_ref::<crate::image::ClientError>() {
        Some(c) => {
            let mut object = client_error_object(c);
            // The context (which target, which step) is part of the message.
            object["message"] = format!("{error:#}").into();
            object
        }
        None => serde_json::json!({ "kind": "config", "message": format!("{error:#}") }),
    }
}

/// The error object of a failed exchange with an agent. `kind`: the agent's own error kind when
/// it answered with one (`unauthorized`, `eval_failed`, `nothing_to_rollback`, `internal`, …,
/// PROTOCOL.md), `config` (a URL that can never work), `transport` (`problem` says which:
/// `host_key`, `certificate`, …), `too_large` (with the message's `size`, when known, and the
/// `limit` in bytes) or `unreachable` (safe to retry).
pub fn client_error_object(error: &crate::image::ClientError) -> serde_json::Value {
    use crate::image::ClientError;
    let kind = match error {
        ClientError::Agent(agent) => serde_json::to_value(agent.kind).unwrap_or_default(),
        ClientError::BadUrl(_) => "config".into(),
        ClientError::Transport { .. } => "transport".into(),
        ClientError::TooLarge { .. } => "too_large".into(),
        _ => "unreachable".into(),
    };
    let mut object = serde_json::json!({ "kind": kind, "message": error.to_string() });
    if let ClientError::Transport { problem, .. } = error {
        object["problem"] = serde_json::to_value(problem).unwrap_or_default();
    }
    if let ClientError::TooLarge { size, limit, .. } = error {
        object["size"] = serde_json::to_value(size).unwrap_or_default();
        object["limit"] = (*limit).into();
    }
    object
}

/// The exit code for a failed exchange with an agent: a message over the size limit
/// ([`exit::TOO_LARGE`]), it refused ([`exit::REJECTED`]), the URL or transport can never work
/// ([`exit::ERROR`]), or it could not be reached or broke off ([`exit::UNREACHABLE`]).
pub fn client_error_code(error: &crate::image::ClientError) -> i32 {
    if matches!(error, crate::image::ClientError::TooLarge { .. }) {
        exit::TOO_LARGE
    } else if error.agent().is_some() {
        exit::REJECTED
    } else if error.is_configuration() {
        exit::ERROR
    } else {
        exit::UNREACHABLE
    }
}

/// Prints an error with its chain of causes, the way every command reports failure.
pub fn report_error(error: &anyhow::Error) {
    // Source errors: every one on its own line first, as a push lists them.
    if let Some(source) = error.downcast_ref::<crate::ops::local::SourceError>() {
        for line in source.lines() {
            errln!("{line}");
        }
    }
    errln!("hotpatch: error: {error:#}");
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"), // JSON: exact text
        Err(e) => errln!("hotpatch: error: cannot encode the JSON output: {e}"),
    }
}

/// A single-threaded runtime: one connection at a time needs no more, and it starts faster,
/// which matters for the editor save hook.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
