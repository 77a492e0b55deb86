//! Rebuilding an image from a clean base when a change cannot go live, or when there is no live
//! image to patch (first deploy, the image died): what a careful operator would do.
//!
//! 1. **build**: copy the base image (never touched) into a fresh work directory beside the live
//!    image, run the VM headless on it with a generated script that loads the agent and the
//!    project's sources, writes a marker and saves; a time limit, the VM's output streamed.
//! 2. **verify**: start the built image on a scratch loopback port with a random token, snapshot
//!    it through the agent, and require the diff against the sources to be empty; stop it.
//! 3. **swap**: rename the new image over the live one, keeping the previous as a backup.
//! 4. **restart** the application with the configured command and wait for the agent on the live
//!    port to answer with a NEW session; **verify** again. If it does not come up healthy within
//!    the time limit, the previous image is put back and the application restarted again.
//!
//! Until the swap the live application is never touched; a failed build or verification leaves
//! the work directory (with the VM's output and the image's log) for inspection.

mod agent;
pub mod liveness;
mod progress;
mod script;
mod swap;
mod verify;
mod vm;

pub use agent::{SQUEAK_PACKAGES, agent_filein};
pub use progress::Progress;
pub use script::{BuildInputs, Loader, build_script, verify_start_script};
pub use swap::{backup_of, changes_of, exchange, failed_of, install, restore};

use crate::config::{Config, Target};
use crate::image::Client;
use crate::ops::local::{self, LocalSources, SourceError};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use verify::{check_matches, wait_for_agent};
use vm::{RunEnd, RunningVm, VmCommand};

/// A target's rebuild settings, checked and with defaults filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The target's name (for messages).
    pub target: String,
    /// How to start the VM.
    pub vm: VmCommand,
    /// The clean image to build from.
    pub base_image: PathBuf,
    /// How the build script loads code.
    pub loader: Loader,
    /// The image the application runs from.
    pub image: PathBuf,
    /// The shell command that (re)starts the application.
    pub restart: String,
    /// The shell command that tells whether the application runs (see [`liveness`]).
    pub status: Option<String>,
    /// The agent's Tonel sources.
    pub agent_source: PathBuf,
    /// Smalltalk run after loading.
    pub post_load: Option<String>,
    /// Time limit of the build run.
    pub build_timeout: Duration,
    /// Time limit for an image to answer (verification run, restart).
    pub health_timeout: Duration,
    /// Loopback port of the verification run (`None`: any free port).
    pub verify_port: Option<u16>,
}

impl Settings {
    /// Checks `[targets.NAME.rebuild]` of `target`; the error says which key to set and how.
    pub fn resolve(config: &Config, target: &Target) -> Result<Settings> {
        let r = &target.rebuild;
        let section = format!("[targets.{}.rebuild]", target.name);
        let required = |v: &Option<PathBuf>, key: &str, example: &str| -> Result<PathBuf> {
            v.clone().with_context(|| {
                format!(
                    "{section} has no `{key}`: set it in hotpatch.toml (e.g. {key} = {example})"
                )
            })
        };
        let vm = required(&r.vm, "vm", "\"/usr/bin/squeak\"")?;
        let base_image = required(&r.base_image, "base_image", "\"base/Base.image\"")?;
        let image = required(&r.image, "image", "\"/srv/app/app.image\"")?;
        let restart = r
            .restart
            .clone()
            .filter(|s| !s.trim().is_empty())
            .with_context(|| {
                format!(
                    "{section} has no `restart`: set the command that restarts the application \
                 (e.g. restart = \"systemctl restart app\")"
                )
            })?;
        if !base_image.is_file() {
            bail!(
                "{section}: base_image {} does not exist (it is the clean image every rebuild starts from)",
                base_image.display()
            );
        }
        if image.extension().and_then(|e| e.to_str()) != Some("image") {
            bail!(
                "{section}: image = {} must name a .image file",
                image.display()
            );
        }
        let agent_source = match &r.agent_source {
            Some(dir) if dir.is_dir() => dir.clone(),
            Some(dir) => bail!(
                "{section}: agent_source {} is not a directory (it should hold the agent's Tonel \
                 packages, smalltalk-agent/src in hotpatch's repository)",
                dir.display()
            ),
            None => default_agent_source(&config.root).with_context(|| {
                format!(
                    "{section}: cannot find the agent's sources; set agent_source to hotpatch's \
                     smalltalk-agent/src"
                )
            })?,
        };
        let seconds = |v: Option<f64>, default: f64, key: &str| -> Result<Duration> {
            crate::config::seconds(&section, key, v.unwrap_or(default))
        };
        Ok(Settings {
            target: target.name.clone(),
            vm: VmCommand {
                vm,
                vm_args: r.vm_args.clone(),
            },
            base_image,
            loader: Loader::parse(r.loader.as_deref(), r.baseline.clone())
                .with_context(|| section.clone())?,
            image,
            restart,
            status: r.status.clone().filter(|s| !s.trim().is_empty()),
            agent_source,
            post_load: r.post_load.clone(),
            build_timeout: seconds(r.build_timeout_secs, 600.0, "build_timeout_secs")?,
            health_timeout: seconds(r.health_timeout_secs, 60.0, "health_timeout_secs")?,
            verify_port: r.verify_port,
        })
    }
}

/// `smalltalk-agent/src` beside the config, else in the tree hotpatch was built from.
fn default_agent_source(root: &Path) -> Option<PathBuf> {
    [
        root.join("smalltalk-agent/src"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("smalltalk-agent/src"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
}

/// How a rebuild (or a rollback) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RebuildOutcome {
    /// The new image is live, healthy and matches the sources.
    Rebuilt,
    /// `--rollback`: the previous image is live again and healthy.
    RolledBack,
    /// Something failed; see [`Failure`]. The previous image is running (unless
    /// `previous_running` says otherwise).
    Failed,
}

/// Why a rebuild failed, for the caller to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The VM could not be started, crashed or quit with an error.
    VmFailed,
    /// The build did not end within `build_timeout_secs`.
    BuildTimedOut,
    /// The build script did not reach its end (no marker) or no image was saved.
    NoImageWritten,
    /// The image logged errors while loading (syntax errors, failed chunks).
    LoadErrors,
    /// The built image did not start, or does not match the sources.
    VerifyFailed,
    /// The new image could not be put in place (nothing was changed).
    SwapFailed,
    /// After the swap the application did not come up healthy: the previous image was restored.
    Unhealthy,
}

/// A failed rebuild, with what to look at.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The phase that failed (`build`, `verify`, `swap`, `restart`, `health`).
    pub phase: &'static str,
    /// What kind of failure, for callers that branch on it.
    pub kind: FailureKind,
    /// What happened and what was done about it, for the user.
    pub message: String,
    /// The last lines of the VM's output and the image's log.
    pub log_tail: String,
    /// The work directory, kept for inspection.
    pub work_dir: Option<PathBuf>,
    /// Whether the image that ran before the rebuild is running again (or was never stopped).
    pub previous_running: bool,
}

/// One phase and its time.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// `build`, `verify`, `swap`, `restart`, `health` or `restore`.
    pub phase: &'static str,
    /// How long it took.
    pub millis: u64,
    /// Whether it succeeded.
    pub ok: bool,
    /// A short note (what was verified and how, the command run).
    pub detail: String,
    /// `verify` and `health` phases that compared the image with the sources: how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<verify::Verified>,
}

/// What a rebuild did, for the user and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// The target's name.
    pub target: String,
    /// Why the rebuild ran (e.g. the push's needs-rebuild reasons), when not asked directly.
    pub trigger: Option<String>,
    /// How it ended.
    pub outcome: RebuildOutcome,
    /// The live image path.
    pub image: PathBuf,
    /// Where the previous image is kept.
    pub backup: Option<PathBuf>,
    /// The agent's session before (when it answered) and after.
    pub session_before: Option<String>,
    /// The live agent's session at the end (the new image's, or the restored one's).
    pub session_after: Option<String>,
    /// Each phase with its time, in order.
    pub phases: Vec<PhaseReport>,
    /// The whole run.
    pub millis_total: u64,
    /// Why it failed, when `outcome` is `failed`.
    pub failure: Option<Failure>,
}

/// Everything a run needs, gathered before anything is touched.
struct Run<'a> {
    settings: Settings,
    /// The config file's directory: the restart command runs there.
    root: PathBuf,
    target: &'a Target,
    token: String,
    local: LocalSources,
    progress: &'a Progress,
    started: Instant,
    report: RebuildReport,
}

/// Builds a new image from the base, verifies it, swaps it in, restarts the application and
/// verifies again. `Err` means nothing was started (configuration, sources, another rebuild
/// running); every later failure is a report with outcome `Failed`.
pub async fn rebuild(
    config: &Config,
    target: &Target,
    trigger: Option<String>,
    progress: &Progress,
) -> Result<RebuildReport> {
    let mut run = Run::prepare(config, target, trigger, progress)?;
    let app_filein = app_filein(config, &run.local);
    let agent_text = match run.settings.loader {
        Loader::FileIn => agent_filein(&run.settings.agent_source)?,
        Loader::Tonel { .. } => String::new(),
    };
    let work = WorkDir::create(&run.settings.image)?;
    run.report.session_before = run.live_session().await;

    let built = match run.build(config, &work, &agent_text, &app_filein).await {
        Ok(built) => built,
        Err(f) => return Ok(run.fail(f, Some(&work))),
    };
    if let Err(f) = run.verify_built(&work, &built).await {
        return Ok(run.fail(f, Some(&work)));
    }
    let t = Instant::now();
    let installed = match swap::install(&built, &run.settings.image) {
        Ok(i) => i,
        Err(e) => {
            let f = failure(
                "swap",
                FailureKind::SwapFailed,
                format!("{e:#}"),
                String::new(),
            );
            return Ok(run.fail(f, Some(&work)));
        }
    };
    run.report.backup = installed.backup.clone();
    work.share_sources(&run.settings.image);
    run.phase(
        "swap",
        t,
        true,
        format!("{} is live", run.settings.image.display()),
    );
    run.progress.phase(
        "swap",
        &format!(
            "new image in place{}",
            match &installed.backup {
                Some(b) => format!("; previous kept as {}", b.display()),
                None => String::new(),
            }
        ),
    );

    let before = run.report.session_before.clone();
    match run.restart_and_check(before.as_deref(), true).await {
        Ok(session) => {
            run.report.session_after = Some(session);
            work.remove();
            Ok(run.finish(RebuildOutcome::Rebuilt))
        }
        Err(f) => {
            let f = run.restore_previous(f).await;
            Ok(run.fail(f, Some(&work)))
        }
    }
}

/// `hotpatch rebuild --rollback`: puts the previous image back (the current one becomes the
/// backup), restarts and waits for the agent. If that image does not come up, the exchange is
/// undone and the application restarted again.
pub async fn rollback(
    config: &Config,
    target: &Target,
    progress: &Progress,
) -> Result<RebuildReport> {
    let mut run = Run::prepare(config, target, None, progress)?;
    let _lock = WorkDir::lock(&run.settings.image)?;
    run.report.session_before = run.live_session().await;
    let t = Instant::now();
    swap::exchange(&run.settings.image)?;
    run.report.backup = Some(swap::backup_of(&run.settings.image));
    run.phase("swap", t, true, "previous image put back".into());
    run.progress.phase("swap", "previous image put back");
    let before = run.report.session_before.clone();
    match run.restart_and_check(before.as_deref(), false).await {
        Ok(session) => {
            run.report.session_after = Some(session);
            Ok(run.finish(RebuildOutcome::RolledBack))
        }
        Err(mut f) => {
            run.progress.phase(
                "restore",
                "the previous image did not come up; undoing the rollback",
            );
            let t = Instant::now();
            let undone = swap::exchange(&run.settings.image);
            f.previous_running = undone.is_ok() && run.restart_and_check(None, false).await.is_ok();
            run.phase("restore", t, f.previous_running, String::new());
            Ok(run.fail(f, None))
        }
    }
}

fn failure(phase: &'static str, kind: FailureKind, message: String, log_tail: String) -> Failure {
    Failure {
        phase,
        kind,
        message,
        log_tail,
        work_dir: None,
        previous_running: true,
    }
}

/// The project's file-in: the owned packages, as the Tonel engine exports them. (Their exact
/// sources and class comments are recorded by the build script, see [`script::filein_records`].)
fn app_filein(config: &Config, local: &LocalSources) -> String {
    let repo = crate::model::Repository {
        root: config.source.clone(),
        format: None,
        packages: local.packages.clone(),
        skipped: Vec::new(),
    };
    crate::tonel::chunk::export(&repo)
}

/// "matches the sources" and how.
fn describe_verified(v: &verify::Verified) -> String {
    match v.path {
        verify::VerifyPath::Diff => format!(
            "matches the sources (plain diff, {} exact method source(s))",
            v.exact_sources
        ),
        verify::VerifyPath::DiffAndCompiledCode => format!(
            "matches the sources (diff, {} exact method source(s); {} method(s) the image has \
             only decompiled checked by compiled code)",
            v.exact_sources, v.by_compiled_code
        ),
    }
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}

/// A random token for the verification run (never the live one).
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot read /dev/urandom for a verification token")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free loopback port for the verification run")?;
    Ok(l.local_addr()?.port())
}

impl<'a> Run<'a> {
    fn prepare(
        config: &Config,
        target: &'a Target,
        trigger: Option<String>,
        progress: &'a Progress,
    ) -> Result<Run<'a>> {
        let settings = Settings::resolve(config, target)?;
        let token = target.token()?;
        // The build would stop at the first method that does not parse: all of them now. The
        // typed error travels inside the anyhow one so that the CLI lists every error and gives
        // `--json` its kind (`syntax_errors`, `source_errors`) as a push does.
        let local = local::load_checked(config, &[]).map_err(|e| match e {
            SourceError::Other(e) => e,
            refused => anyhow::Error::new(refused).context("cannot rebuild, nothing was built"),
        })?;

        let report = RebuildReport {
            target: target.name.clone(),
            trigger,
            outcome: RebuildOutcome::Failed,
            image: settings.image.clone(),
            backup: None,
            session_before: None,
            session_after: None,
            phases: Vec::new(),
            millis_total: 0,
            failure: None,
        };
        Ok(Run {
            settings,
            root: config.root.clone(),
            target,
            token,
            local,
            progress,
            started: Instant::now(),
            report,
        })
    }

    fn phase(&mut self, phase: &'static str, since: Instant, ok: bool, detail: String) {
        self.report.phases.push(PhaseReport {
            phase,
            millis: millis(since),
            ok,
            detail,
            verified: None,
        });
    }

    /// Adds how the image was verified to the phase just reported.
    fn note_verified(&mut self, verified: Option<verify::Verified>) {
        if let Some(last) = self.report.phases.last_mut() {
            last.verified = verified;
        }
    }

    fn finish(mut self, outcome: RebuildOutcome) -> RebuildReport {
        self.report.outcome = outcome;
        self.report.millis_total = millis(self.started);
        self.progress.phase(
            "done",
            &format!(
                "{} in {:.1} s",
                match outcome {
                    RebuildOutcome::Rebuilt => "rebuilt",
                    RebuildOutcome::RolledBack => "rolled back",
                    RebuildOutcome::Failed => "failed",
                },
                self.started.elapsed().as_secs_f64()
            ),
        );
        self.report
    }

    fn fail(mut self, mut f: Failure, work: Option<&WorkDir>) -> RebuildReport {
        f.work_dir = work.map(|w| w.dir.clone());
        self.progress
            .phase(f.phase, &format!("FAILED: {}", f.message));
        self.report.failure = Some(f);
        self.finish(RebuildOutcome::Failed)
    }

    /// The live agent's session, when it answers (it need not: first deploy, image died).
    async fn live_session(&self) -> Option<String> {
        let connect =
            Client::connect_to(&self.target.endpoint(), &self.token, self.target.timeout).await;
        match connect {
            Ok(c) => {
                let s = c.hello.session.clone();
                c.close().await;
                self.progress
                    .phase("start", &format!("live image answers (session {s})"));
                Some(s)
            }
            Err(e) => {
                self.progress
                    .phase("start", &format!("live image does not answer ({e})"));
                None
            }
        }
    }

    /// Copies the base, runs the build script, and answers the built image.
    async fn build(
        &mut self,
        config: &Config,
        work: &WorkDir,
        agent_text: &str,
        app_text: &str,
    ) -> Result<PathBuf, Failure> {
        let t = Instant::now();
        let s = &self.settings;
        self.progress.phase(
            "build",
            &format!(
                "copying {} to {}",
                s.base_image.display(),
                work.dir.display()
            ),
        );
        let vm_failed = |e: anyhow::Error| {
            failure(
                "build",
                FailureKind::VmFailed,
                format!("{e:#}"),
                String::new(),
            )
        };
        let image = work
            .copy_base(&s.base_image, &s.image, s.loader == Loader::FileIn)
            .map_err(vm_failed)?;
        let marker = work.dir.join("build.done");
        let packages: Vec<String> = self.local.packages.iter().map(|p| p.name.clone()).collect();
        let text = build_script(
            &s.loader,
            &BuildInputs {
                agent_filein: agent_text,
                app_filein: app_text,
                app: &self.local.packages,
                agent_dir: &s.agent_source,
                source_dir: &config.source,
                packages: &packages,
                post_load: s.post_load.as_deref(),
                marker: &marker,
            },
        );
        let script_path = work.dir.join("build.st");
        std::fs::write(&script_path, text).map_err(|e| {
            failure(
                "build",
                FailureKind::VmFailed,
                format!("cannot write {}: {e}", script_path.display()),
                String::new(),
            )
        })?;
        let out_file = work.dir.join("build.out");
        self.progress.phase(
            "build",
            &format!(
                "running the VM (time limit {} s)",
                s.build_timeout.as_secs()
            ),
        );
        let run = vm::run_to_end(
            &s.vm,
            &image,
            &s.loader.script_args(&script_path),
            &work.dir,
            &out_file,
            s.build_timeout,
            self.progress,
        )
        .await;
        let tail = || vm::log_tail(&work.dir, Some(&out_file), 20);
        let end = run.map_err(vm_failed)?;
        let result = match end {
            RunEnd::TimedOut => Err(failure(
                "build",
                FailureKind::BuildTimedOut,
                format!(
                    "the build did not finish within {} s (build_timeout_secs); the VM was stopped",
                    s.build_timeout.as_secs()
                ),
                tail(),
            )),
            RunEnd::Exited(status) if !status.success() => Err(failure(
                "build",
                FailureKind::VmFailed,
                format!("the VM quit with {status} before saving the image"),
                tail(),
            )),
            RunEnd::Exited(_) => check_built(&image, &marker, &work.dir, tail),
        };
        self.phase("build", t, result.is_ok(), String::new());
        if result.is_ok() {
            self.progress.phase(
                "build",
                &format!("image saved in {:.1} s", t.elapsed().as_secs_f64()),
            );
        }
        result.map(|()| image)
    }

    /// Starts the built image on a scratch port and requires it to match the sources.
    async fn verify_built(&mut self, work: &WorkDir, image: &Path) -> Result<(), Failure> {
        let t = Instant::now();
        let s = &self.settings;
        let setup = (|| -> Result<(u16, String, PathBuf)> {
            let port = match s.verify_port {
                Some(p) => p,
                None => free_port()?,
            };
            let token = random_token()?;
            let script = work.dir.join("verify.st");
            std::fs::write(&script, verify_start_script(&s.loader, port, &token))
                .with_context(|| format!("cannot write {}", script.display()))?;
            Ok((port, token, script))
        })();
        let verify_failed = |e: anyhow::Error| {
            failure(
                "verify",
                FailureKind::VerifyFailed,
                format!("{e:#}"),
                String::new(),
            )
        };
        let (port, token, script) = setup.map_err(verify_failed)?;
        let out_file = work.dir.join("verify.out");
        self.progress.phase(
            "verify",
            &format!("starting the new image on 127.0.0.1:{port}"),
        );
        let mut running = RunningVm::spawn(
            &s.vm,
            image,
            &s.loader.script_args(&script),
            &work.dir,
            &out_file,
        )
        .map_err(verify_failed)?;
        let timeout = s.health_timeout;
        let result = async {
            let endpoint = crate::image::AgentUrl::parse(&format!("ws://127.0.0.1:{port}/"))
                .map(crate::image::Endpoint::from)
                .map_err(|e| e.to_string())?;
            let mut client =
                wait_for_agent(&endpoint, &token, timeout, None, || running.exited()).await?;
            let checked = check_matches(&mut client, &self.local).await;
            client.close().await;
            checked
        }
        .await;
        running.stop().await;
        let _ = std::fs::remove_file(&script); // it holds the scratch token
        let detail = match &result {
            Ok(v) => describe_verified(v),
            Err(_) => String::new(),
        };
        self.phase("verify", t, result.is_ok(), detail.clone());
        self.note_verified(result.as_ref().ok().copied());
        match result {
            Ok(_) => {
                self.progress
                    .phase("verify", &format!("the new image {detail}"));
                Ok(())
            }
            Err(message) => Err(failure(
                "verify",
                FailureKind::VerifyFailed,
                format!("the new image was not swapped in: {message}"),
                vm::log_tail(&work.dir, Some(&out_file), 20),
            )),
        }
    }

    /// Runs the restart command, waits for the live agent with a session other than `before`,
    /// and (when `check_sources`) requires it to match the sources. Answers the new session.
    async fn restart_and_check(
        &mut self,
        before: Option<&str>,
        check_sources: bool,
    ) -> Result<String, Failure> {
        let t = Instant::now();
        let deadline = t + self.settings.health_timeout;
        self.progress
            .phase("restart", &format!("running `{}`", self.settings.restart));
        let restarted = run_restart(
            &self.settings.restart,
            &self.root,
            self.settings.health_timeout,
            self.progress,
        )
        .await;
        self.phase(
            "restart",
            t,
            restarted.is_ok(),
            self.settings.restart.clone(),
        );
        restarted.map_err(|m| failure("restart", FailureKind::Unhealthy, m, String::new()))?;

        let t = Instant::now();
        self.progress.phase(
            "health",
            &format!("waiting for the agent at {}", self.target.url),
        );
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        let result = async {
            let mut client = wait_for_agent(
                &self.target.endpoint(),
                &self.token,
                remaining,
                before,
                || None,
            )
            .await?;
            let session = client.hello.session.clone();
            let checked = if check_sources {
                check_matches(&mut client, &self.local).await.map(Some)
            } else {
                Ok(None)
            };
            client.close().await;
            checked.map(|v| (session, v))
        }
        .await;
        let detail = match &result {
            Ok((_, Some(v))) => describe_verified(v),
            _ => String::new(),
        };
        self.phase("health", t, result.is_ok(), detail.clone());
        self.note_verified(result.as_ref().ok().and_then(|(_, v)| *v));
        match result {
            Ok((session, _)) => {
                self.progress.phase(
                    "health",
                    &format!("the application is up (session {session}) {detail}"),
                );
                Ok(session)
            }
            Err(m) => Err(failure("health", FailureKind::Unhealthy, m, String::new())),
        }
    }

    /// After a failed start of the new image: put the previous one back and restart again.
    async fn restore_previous(&mut self, mut f: Failure) -> Failure {
        self.progress.phase(
            "restore",
            &format!("{}; putting the previous image back", f.message),
        );
        let t = Instant::now();
        let image_dir = self
            .settings
            .image
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        f.log_tail = vm::log_tail(&image_dir, None, 20);
        match swap::restore(&self.settings.image) {
            Ok(true) => {
                self.phase("restore", t, true, "previous image back in place".into());
                let again = self.restart_and_check(None, false).await;
                f.previous_running = again.is_ok();
                if let Ok(s) = again {
                    self.report.session_after = Some(s);
                }
                f.message = format!(
                    "the new image did not come up healthy ({}); {} (the failed image is kept as {})",
                    f.message,
                    if f.previous_running {
                        "the previous image was restored and is running"
                    } else {
                        "the previous image was restored but did NOT come up: check the supervisor"
                    },
                    swap::failed_of(&self.settings.image).display()
                );
            }
            Ok(false) => {
                self.phase("restore", t, true, "no previous image".into());
                f.previous_running = false;
                f.message = format!(
                    "the new image did not come up healthy ({}); there was no previous image, the \
                     failed one is kept as {}",
                    f.message,
                    swap::failed_of(&self.settings.image).display()
                );
            }
            Err(e) => {
                self.phase("restore", t, false, format!("{e:#}"));
                f.previous_running = false;
                f.message = format!(
                    "the new image did not come up healthy ({}), and putting the previous image back failed: {e:#}",
                    f.message
                );
            }
        }
        self.report.backup = None;
        f
    }
}

/// The built image is good when the script reached its end (marker) and the image was saved
/// after it, and the image logged no load errors.
fn check_built(
    image: &Path,
    marker: &Path,
    dir: &Path,
    tail: impl Fn() -> String,
) -> Result<(), Failure> {
    let errors = vm::build_errors(dir);
    if !errors.is_empty() {
        return Err(failure(
            "build",
            FailureKind::LoadErrors,
            format!(
                "loading into the new image failed ({} error(s)), first: {}",
                errors.len(),
                errors[0]
            ),
            tail(),
        ));
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let (Some(marked), Some(saved)) = (modified(marker), modified(image)) else {
        return Err(failure(
            "build",
            FailureKind::NoImageWritten,
            "the build script did not reach its end (no marker): the VM quit or crashed while loading".into(),
            tail(),
        ));
    };
    if saved < marked {
        return Err(failure(
            "build",
            FailureKind::NoImageWritten,
            "the VM quit without saving the image".into(),
            tail(),
        ));
    }
    Ok(())
}

/// Runs the restart command under `sh -c` in `dir`, its output streamed.
async fn run_restart(
    command: &str,
    dir: &Path,
    timeout: Duration,
    progress: &Progress,
) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the restart command `{command}`: {e}"))?;
    // Stream both pipes; a supervisor that leaves a child holding them open must not block us,
    // so reading ends with the command's exit.
    let out = child.stdout.take();
    let err = child.stderr.take();
    let pump = |s: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| async move {
        let mut lines = Vec::new();
        if let Some(s) = s {
            let mut r = tokio::io::BufReader::new(s).lines();
            while let Ok(Some(l)) = r.next_line().await {
                lines.push(l);
            }
        }
        lines
    };
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let status = match waited {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(format!("waiting for the restart command: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            return Err(format!(
                "the restart command `{command}` did not finish within {} s",
                timeout.as_secs()
            ));
        }
    };
    let collect = async {
        let a =
            pump(out.map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)).await;
        let b =
            pump(err.map(|e| Box::new(e) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)).await;
        (a, b)
    };
    if let Ok((a, b)) = tokio::time::timeout(Duration::from_millis(500), collect).await {
        for l in a.iter().chain(&b) {
            progress.output("restart", l);
        }
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!("the restart command `{command}` failed ({status})"))
    }
}

/// The work directory of one build, beside the live image (so the final move is a rename on the
/// same file system), under `.hotpatch-rebuild/`, with a lock that keeps two rebuilds of the same
/// image apart.
struct WorkDir {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl WorkDir {
    fn root(image: &Path) -> PathBuf {
        image
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(".hotpatch-rebuild")
    }

    /// Takes the lock of `image`'s rebuilds (released when the process ends, however it ends).
    fn lock(image: &Path) -> Result<std::fs::File> {
        let root = Self::root(image);
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        let path = root.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another rebuild of {} is running (it holds {}); wait for it to finish",
                image.display(),
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// A fresh directory; the directories of earlier builds (kept after failures) go.
    fn create(image: &Path) -> Result<WorkDir> {
        let lock = Self::lock(image)?;
        let root = Self::root(image);
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("build-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let dir = root.join(format!("build-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the work directory {}", dir.display()))?;
        Ok(WorkDir { dir, _lock: lock })
    }

    /// Copies the base image (and its `.changes`, and any `.sources` beside it) into the work
    /// directory under the live image's file name. A file-in build without a changes file gets
    /// an empty one: a Squeak that opens it logs every method it compiles there, so the image
    /// has the exact source of what was loaded also by its own means (images that do not open
    /// it, like the test image, rely on the sources the build script records).
    fn copy_base(&self, base: &Path, live: &Path, want_changes: bool) -> Result<PathBuf> {
        let name = live
            .file_name()
            .context("the live image path has no file name")?;
        let image = self.dir.join(name);
        std::fs::copy(base, &image)
            .with_context(|| format!("cannot copy {} to {}", base.display(), image.display()))?;
        let base_changes = swap::changes_of(base);
        let changes = swap::changes_of(&image);
        if base_changes.is_file() {
            std::fs::copy(&base_changes, &changes)
                .with_context(|| format!("cannot copy {}", base_changes.display()))?;
        } else if want_changes {
            std::fs::write(&changes, b"")
                .with_context(|| format!("cannot create {}", changes.display()))?;
        }
        if let Some(dir) = base.parent()
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().and_then(|x| x.to_str()) == Some("sources") {
                    let to = self.dir.join(e.file_name());
                    std::fs::copy(&p, &to)
                        .with_context(|| format!("cannot copy {}", p.display()))?;
                }
            }
        }
        Ok(image)
    }

    /// Puts the `.sources` files the build used beside the live image when they are not there
    /// yet (first deploy); an existing one is left alone (sources files never change).
    fn share_sources(&self, live: &Path) {
        let Some(dir) = live.parent() else { return };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let to = dir.join(e.file_name());
            if p.extension().and_then(|x| x.to_str()) == Some("sources") && !to.exists() {
                let _ = std::fs::copy(&p, &to);
            }
        }
    }

    /// Removes the directory after a successful rebuild.
    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
