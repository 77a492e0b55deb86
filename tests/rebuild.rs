//! `hotpatch rebuild` and the push fallback end to end, against the real VM: the sample
//! application is built from the test image (the base, never modified), verified, swapped in and
//! started by a small supervisor script of the test's own (a pidfile; kill and start again), and
//! every outcome is checked by asking the live image through its agent.
//!
//! Each test costs a few VM runs (a build, a verification start, the application's start), so
//! the failure cases share one application where they can.

mod common;

use common::{copy_dir, free_port, repo, runtime, test_image};
use hotpatch::image::Client;
use hotpatch::model::Side;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

/// The test's supervisor: kills the VM in the pidfile, starts it again in the background on
/// `app.image` with `start.st` (which starts the agent from `hotpatch-agent.conf`). When the file
/// `fail-next-start` exists, it is removed and the VM is started with a script that quits at
/// once: an application that does not come up.
const SUPERVISOR: &str = r#"#!/bin/sh
cd "$(dirname "$0")"
if [ -f app.pid ]; then
  kill -KILL "$(cat app.pid)" 2>/dev/null
  rm -f app.pid
fi
script=start.st
if [ -f fail-next-start ]; then rm -f fail-next-start; script=crash.st; fi
[ -f app.image ] || { echo "supervisor: no app.image" >&2; exit 1; }
"$VM" -vm-display-null -vm-sound-null "$PWD/app.image" "$PWD/$script" </dev/null >>app.out 2>&1 &
echo $! > app.pid
echo "supervisor: started $!"
"#;

fn squeak_vm() -> PathBuf {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find /usr/lib/squeak -name squeakvm -type f | sort | tail -n 1")
        .output()
        .expect("find the squeak VM");
    let vm = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        vm.is_file(),
        "no squeakvm under /usr/lib/squeak (apt-get install squeak-vm)"
    );
    vm
}

/// A copy of the sample app with a live directory, a supervisor and a rebuild configuration.
struct App {
    dir: PathBuf,
    project: PathBuf,
    live: PathBuf,
    url: String,
    token: String,
    base: PathBuf,
    base_stamp: (u64, Option<SystemTime>),
}

impl App {
    fn new(name: &str) -> App {
        let base = test_image();
        let dir = repo()
            .join("target")
            .join("rebuild-tests")
            .join(format!("{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let project = dir.join("project");
        let live = dir.join("live");
        copy_dir(&repo().join("examples/sample-app"), &project);
        std::fs::create_dir_all(&live).expect("create the live directory");
        let port = free_port();
        let token = format!("tok{}x{}", std::process::id(), port);
        std::fs::write(
            live.join("hotpatch-agent.conf"),
            format!("port={port}\ntoken={token}\n"),
        )
        .expect("write hotpatch-agent.conf");
        std::fs::write(live.join("start.st"), "HpAgent startFromConfig!\n").expect("start.st");
        std::fs::write(
            live.join("crash.st"),
            "Smalltalk snapshot: false andQuit: true!\n",
        )
        .expect("crash.st");
        let supervisor = live.join("supervisor.sh");
        std::fs::write(&supervisor, SUPERVISOR).expect("write supervisor.sh");
        Command::new("chmod")
            .arg("+x")
            .arg(&supervisor)
            .status()
            .expect("chmod");
        let app = App {
            url: format!("ws://127.0.0.1:{port}/"),
            token,
            base_stamp: stamp(&base),
            base,
            dir,
            project,
            live,
        };
        app.configure("");
        app
    }

    /// Writes hotpatch.toml; `extra` lines go into the rebuild section (they replace the default
    /// time limits they name).
    fn configure(&self, extra: &str) {
        let config = format!(
            r#"source = "src"
packages = ["Sample-Core"]
default_target = "local"

[targets.local]
url = "{url}"
token_env = "HOTPATCH_TOKEN"
timeout_secs = 10
apply_timeout_secs = 60

[targets.local.rebuild]
vm = "{vm}"
vm_args = ["-vm-display-null", "-vm-sound-null"]
base_image = "{base}"
image = "{image}"
restart = "VM={vm} {supervisor}"
agent_source = "{agent}"
{defaults}{extra}
"#,
            url = self.url,
            vm = squeak_vm().display(),
            base = self.base.display(),
            image = self.image().display(),
            supervisor = self.live.join("supervisor.sh").display(),
            agent = repo().join("smalltalk-agent/src").display(),
            defaults = ["build_timeout_secs = 120\n", "health_timeout_secs = 60\n"]
                .into_iter()
                .filter(|d| !extra.contains(&d[..d.find(' ').unwrap_or(0)]))
                .collect::<String>(),
        );
        std::fs::write(self.project.join("hotpatch.toml"), config).expect("write hotpatch.toml");
    }

    fn image(&self) -> PathBuf {
        self.live.join("app.image")
    }

    fn hotpatch(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hotpatch"))
            .args(args)
            .current_dir(&self.project)
            .env("HOTPATCH_TOKEN", &self.token)
            .env("NO_COLOR", "1")
            .output()
            .expect("run hotpatch")
    }

    /// Runs hotpatch with `--json`, asserts the exit code, answers the JSON.
    fn run_json(&self, args: &[&str], code: i32) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let out = self.hotpatch(&all);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "hotpatch {all:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n{}",
            self.logs()
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n--- stderr\n{stderr}"))
    }

    /// Evaluates `expression` in the live image.
    fn eval(&self, expression: &str) -> String {
        runtime().block_on(async {
            let mut c = Client::connect(&self.url, &self.token, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("connect to the live agent: {e}\n{}", self.logs()));
            let v = c
                .eval(expression)
                .await
                .unwrap_or_else(|e| panic!("eval `{expression}`: {e}"));
            c.close().await;
            v
        })
    }

    /// The live agent's session.
    fn session(&self) -> String {
        runtime().block_on(async {
            let c = Client::connect(&self.url, &self.token, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("connect to the live agent: {e}\n{}", self.logs()));
            let s = c.hello.session.clone();
            c.close().await;
            s
        })
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.project.join("src/Sample-Core").join(file);
        let text = std::fs::read_to_string(&path).expect("read source");
        assert!(text.contains(from), "{file} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write source");
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for name in ["app.out", "hotpatch.log"] {
            if let Ok(text) = std::fs::read_to_string(self.live.join(name)) {
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                s.push_str(&format!("--- live/{name} (tail, newest first) ---\n"));
                s.push_str(&tail.join("\n"));
                s.push('\n');
            }
        }
        s
    }

    /// Asserts the base image was not touched.
    fn assert_base_untouched(&self) {
        assert_eq!(
            stamp(&self.base),
            self.base_stamp,
            "the base image was modified"
        );
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // Stop the application's VM (ours: its pid is in our pidfile).
        if let Ok(pid) = std::fs::read_to_string(self.live.join("app.pid")) {
            let _ = Command::new("kill").arg("-KILL").arg(pid.trim()).status();
        }
        if std::thread::panicking() {
            eprintln!("rebuild test files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The running application as a test found it: its session and the live image file.
struct Live {
    session: String,
    stamp: (u64, Option<SystemTime>),
}

impl Live {
    fn of(app: &App) -> Live {
        Live {
            session: app.session(),
            stamp: stamp(&app.image()),
        }
    }

    /// The application still runs as it was: same session, same image, still greeting.
    fn assert_unchanged(&self, app: &App, what: &str) {
        assert_eq!(
            app.session(),
            self.session,
            "{what}: the application was restarted"
        );
        assert_eq!(
            stamp(&app.image()),
            self.stamp,
            "{what}: the live image was replaced"
        );
        assert_eq!(
            app.eval("SampleApp default greet: 'x'"),
            "'Hello, X!'",
            "{what}"
        );
    }
}

fn stamp(path: &Path) -> (u64, Option<SystemTime>) {
    let m = std::fs::metadata(path).expect("stat");
    (m.len(), m.modified().ok())
}

fn failure_kind(report: &Value) -> &str {
    report["failure"]["kind"].as_str().unwrap_or("<none>")
}

#[test]
fn push_falls_back_to_a_rebuild_and_rollback_puts_the_previous_image_back() {
    let app = App::new("push");
    app.configure("on_needs_rebuild = \"rebuild\"");

    // First deploy: nothing runs yet, the agent is unreachable, the push rebuilds.
    let out = app.run_json(&["push"], 0);
    assert_eq!(out["outcome"], "rebuilt", "{out:#}");
    assert_eq!(out["push"]["error"]["kind"], "unreachable", "{out:#}");
    assert!(out["rebuild"]["backup"].is_null(), "{out:#}");
    assert_eq!(app.eval("SampleApp default greet: 'x'"), "'Hello, X!'");
    let first = app.session();

    // A layout change cannot go live: the push rebuilds, and the new code runs.
    app.edit(
        "SampleCounter.class.st",
        "#superclass : 'Object',",
        "#superclass : 'Object',\n\t#type : 'variable',",
    );
    app.edit("SampleApp.class.st", "'Hello, '", "'Hey, '");
    let out = app.run_json(&["push"], 0);
    assert_eq!(out["outcome"], "rebuilt", "{out:#}");
    assert_eq!(out["push"]["outcome"], "needs_rebuild", "{out:#}");
    let phases: Vec<&str> = out["rebuild"]["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|p| p["phase"].as_str())
        .collect();
    assert_eq!(
        phases,
        ["build", "verify", "swap", "restart", "health"],
        "{out:#}"
    );
    assert_ne!(app.session(), first, "the application was restarted");
    assert_eq!(app.eval("SampleCounter isVariable"), "true");
    assert_eq!(app.eval("SampleApp default greet: 'x'"), "'Hey, X!'");
    assert!(app.live.join("app.image.previous").is_file());
    // A push now finds nothing to do: the rebuilt image knows the exact sources it was built
    // from, so nothing is re-sent and nothing rebuilt.
    let out = app.run_json(&["push"], 0);
    assert_eq!(out["outcome"], "nothing_to_push", "{out:#}");
    assert_eq!(app.eval("SampleApp default greet: 'x'"), "'Hey, X!'");

    // --rollback puts the previous image back and restarts.
    let out = app.run_json(&["rebuild", "--rollback"], 0);
    assert_eq!(out["outcome"], "rolled_back", "{out:#}");
    assert_eq!(app.eval("SampleCounter isVariable"), "false");
    assert_eq!(app.eval("SampleApp default greet: 'x'"), "'Hello, X!'");

    // --no-rebuild refuses even though the config allows rebuilds.
    let out = app.run_json(&["push", "--no-rebuild"], 3);
    assert_eq!(out["outcome"], "needs_rebuild", "{out:#}");
    app.assert_base_untouched();
}

#[test]
fn failed_builds_and_verifications_leave_the_old_image_running() {
    let app = App::new("failures");
    let out = app.run_json(&["rebuild"], 0);
    assert_eq!(out["outcome"], "rebuilt", "{out:#}");
    let live = Live::of(&app);
    let still_running = |what: &str| live.assert_unchanged(&app, what);

    // A syntax error: refused by hotpatch's own check before anything is built (exit 2).
    let original = std::fs::read_to_string(app.project.join("src/Sample-Core/SampleApp.class.st"))
        .expect("read SampleApp");
    let with_method = |pattern: &str, body: &str| {
        std::fs::write(
            app.project.join("src/Sample-Core/SampleApp.class.st"),
            format!(
                "{original}\n{{ #category : 'broken' }}\nSampleApp >> {pattern} [\n\n\t{body}\n]\n"
            ),
        )
        .expect("write SampleApp")
    };
    with_method("broken", "^ 1 + ");
    let out = app.run_json(&["rebuild"], 2);
    assert_eq!(out["error"]["kind"], "syntax_errors", "{out:#}");
    let first = &out["error"]["errors"][0];
    assert!(
        first["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("SampleApp.class.st"))
            && first["line"].as_u64().is_some(),
        "the refused method at its file position: {out:#}"
    );
    still_running("syntax error");

    // A method only the image's compiler refuses (a store into an argument): the build's
    // file-in fails, the new image is not used.
    with_method("broken: x", "x := 1. ^ x");
    let out = app.run_json(&["rebuild"], 6);
    assert_eq!(failure_kind(&out), "load_errors", "{out:#}");
    assert_eq!(out["failure"]["previous_running"], true, "{out:#}");
    assert!(
        out["failure"]["log_tail"]
            .as_str()
            .unwrap_or("")
            .contains("broken"),
        "the log tail shows the failing method: {out:#}"
    );
    still_running("compile error");
    std::fs::write(
        app.project.join("src/Sample-Core/SampleApp.class.st"),
        &original,
    )
    .expect("restore SampleApp");

    // The VM cannot run the base image (it crashes/refuses at start).
    let garbage = app.dir.join("garbage.image");
    std::fs::write(&garbage, vec![0x5au8; 4096]).expect("write garbage image");
    let config = std::fs::read_to_string(app.project.join("hotpatch.toml")).expect("config");
    std::fs::write(
        app.project.join("hotpatch.toml"),
        config.replace(
            &app.base.display().to_string(),
            &garbage.display().to_string(),
        ),
    )
    .expect("write config");
    let out = app.run_json(&["rebuild"], 6);
    assert!(
        ["vm_failed", "no_image_written"].contains(&failure_kind(&out)),
        "{out:#}"
    );
    still_running("VM crash");

    // A build that never ends.
    app.configure("build_timeout_secs = 8\npost_load = \"(Delay forSeconds: 600) wait\"");
    let out = app.run_json(&["rebuild"], 6);
    assert_eq!(failure_kind(&out), "build_timed_out", "{out:#}");
    still_running("time-out");

    // The VM dies in the middle of the build: the process exits at once, nothing saved.
    app.configure("post_load = \"Smalltalk quitPrimitive\"");
    let out = app.run_json(&["rebuild"], 6);
    assert!(
        ["vm_failed", "no_image_written"].contains(&failure_kind(&out)),
        "{out:#}"
    );
    still_running("VM exit mid-build");

    // An image that does not match the sources is not swapped in: a post_load that recompiles
    // greet: differently fails verification, naming the method.
    let tampered = |post_load: &str, what: &str| {
        app.configure(&format!("post_load = \"{post_load}\""));
        let out = app.run_json(&["rebuild"], 6);
        assert_eq!(failure_kind(&out), "verify_failed", "{what}: {out:#}");
        let message = out["failure"]["message"].as_str().unwrap_or("");
        assert!(message.contains("SampleApp>>greet:"), "{what}: {out:#}");
        still_running(what);
    };
    tampered(
        "SampleApp compile: 'greet: aName ^ ''tampered''' classified: 'greeting'",
        "verification",
    );
    // Also when only a literal differs (same bytecodes): the method post_load made is not the
    // one whose exact source the build recorded.
    tampered(
        "SampleApp compile: 'greet: aName ^ ''Hey, '' , aName sampleShout' classified: 'greeting'",
        "verification of a changed literal",
    );
    app.assert_base_untouched();
}

#[test]
fn a_restart_that_never_becomes_healthy_is_rolled_back() {
    let app = App::new("unhealthy");
    app.configure("health_timeout_secs = 15");
    assert_eq!(app.run_json(&["rebuild"], 0)["outcome"], "rebuilt");
    app.edit("SampleApp.class.st", "'Hello, '", "'Hey, '");

    // The new image is fine, but the application does not come up after the restart.
    std::fs::write(app.live.join("fail-next-start"), "").expect("arm the failing start");
    let out = app.run_json(&["rebuild"], 6);
    assert_eq!(failure_kind(&out), "unhealthy", "{out:#}");
    assert_eq!(out["failure"]["previous_running"], true, "{out:#}");
    assert_eq!(app.eval("SampleApp default greet: 'x'"), "'Hello, X!'");
    assert!(app.live.join("app.image.failed").is_file());
    assert!(!app.live.join("fail-next-start").exists());
    app.assert_base_untouched();
}

/// Methods (class, side, selector) -> (source, exact) and class comments, by name.
type Sources = (
    BTreeMap<(String, String, String), (String, bool)>,
    BTreeMap<String, Option<String>>,
);

/// Builds [`Sources`] from class comments and methods `(class, side, selector, source, exact)`.
fn sources<'a>(
    comments: impl Iterator<Item = (&'a str, &'a Option<String>)>,
    methods: impl Iterator<Item = (&'a str, Side, &'a str, &'a str, bool)>,
) -> Sources {
    let comments = comments
        .map(|(class, comment)| (class.to_owned(), comment.clone()))
        .collect();
    let methods = methods
        .map(|(class, side, selector, source, exact)| {
            let key = (class.to_owned(), format!("{side:?}"), selector.to_owned());
            (key, (source.to_owned(), exact))
        })
        .collect();
    (methods, comments)
}

/// What the live image says of `package`'s method sources and class comments.
fn image_sources(app: &App, package: &str) -> Sources {
    let snapshot = runtime().block_on(async {
        let mut c = Client::connect(&app.url, &app.token, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("connect to the live agent: {e}\n{}", app.logs()));
        let snapshot = c
            .snapshot(vec![package.to_string()], None, None)
            .await
            .expect("snapshot");
        c.close().await;
        snapshot
    });
    let packages = &snapshot.packages;
    let classes = packages.iter().flat_map(|p| p.classes.iter());
    let methods = classes.clone().flat_map(|c| c.methods.iter()).chain(
        packages
            .iter()
            .flat_map(|p| p.extensions.iter())
            .flat_map(|e| e.methods.iter()),
    );
    sources(
        classes.map(|c| (c.name.as_str(), &c.comment)),
        methods.map(|m| {
            (
                m.class_name.as_str(),
                m.side,
                m.selector.as_str(),
                m.source.as_str(),
                m.source_exact,
            )
        }),
    )
}

/// The same from the project's Tonel sources (every source exact).
fn local_sources(app: &App, package: &str) -> Sources {
    let (repo, errors) =
        hotpatch::tonel::read_repository(&app.project.join("src")).expect("read the sources");
    assert!(errors.is_empty(), "{errors:?}");
    let packages: Vec<_> = repo.packages.iter().filter(|p| p.name == package).collect();
    let classes = packages.iter().flat_map(|p| p.classes.iter());
    sources(
        classes.map(|c| (c.name.as_str(), &c.comment)),
        packages.iter().flat_map(|p| p.methods()).map(|m| {
            (
                m.class_name.as_str(),
                m.side,
                m.selector.as_str(),
                m.source.as_str(),
                true,
            )
        }),
    )
}

/// The verification the rebuild report says it ran in `phase` (`verify` or `health`).
fn verified<'a>(report: &'a Value, phase: &str) -> &'a Value {
    report["phases"]
        .as_array()
        .and_then(|phases| phases.iter().find(|p| p["phase"] == phase))
        .map(|p| &p["verified"])
        .unwrap_or_else(|| panic!("no {phase} phase: {report:#}"))
}

#[test]
fn a_rebuilt_image_knows_the_exact_sources_it_was_built_from() {
    let app = App::new("exact");
    let out = app.run_json(&["rebuild"], 0);
    assert_eq!(out["outcome"], "rebuilt", "{out:#}");
    // Both verifications were the plain diff: no method had to be compared by compiled code.
    for phase in ["verify", "health"] {
        let v = verified(&out, phase);
        assert_eq!(v["path"], "diff", "{phase}: {out:#}");
        assert_eq!(v["by_compiled_code"], 0, "{phase}: {out:#}");
    }

    // The live (restarted) image answers every method's source byte for byte, as exact, and
    // every class comment.
    let local = local_sources(&app, "Sample-Core");
    assert!(local.0.len() >= 5, "the sample has methods: {local:?}");
    assert!(
        local.1.values().any(Option::is_some),
        "the sample has class comments: {local:?}"
    );
    assert_eq!(image_sources(&app, "Sample-Core"), local);

    // `hotpatch diff` finds nothing, and the first push after the rebuild has nothing to send.
    let diff = app.hotpatch(&["diff"]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "hotpatch diff\n{}\n{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    let out = app.run_json(&["push"], 0);
    assert_eq!(out["outcome"], "nothing_to_push", "{out:#}");
    // And nothing has drifted from what the build installed.
    let status = app.run_json(&["status"], 0);
    assert_eq!(status["drift"]["clean"], true, "{status:#}");
    app.assert_base_untouched();
}

#[test]
fn an_unreachable_agent_of_a_running_application_is_never_rebuilt() {
    let app = App::new("running");
    assert_eq!(app.run_json(&["rebuild"], 0)["outcome"], "rebuilt");
    let live = Live::of(&app);
    let unchanged = |what: &str| live.assert_unchanged(&app, what);
    // Something to push, and rebuilds allowed.
    app.edit("SampleApp.class.st", "'Hello, '", "'Hey, '");
    app.configure("on_needs_rebuild = \"rebuild\"");
    let port = app
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap_or("");

    // Mistyped URLs, in the file or on the command line: configuration errors (exit 2), never
    // "unreachable", never a rebuild.
    let config = app.project.join("hotpatch.toml");
    let good = std::fs::read_to_string(&config).expect("read hotpatch.toml");
    for typo in [
        format!("wss//127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/"),
        format!("ws://:{port}/"),
    ] {
        std::fs::write(&config, good.replace(&app.url, &typo)).expect("write hotpatch.toml");
        let out = app.run_json(&["push"], 2);
        assert_eq!(out["error"]["kind"], "config", "{typo}: {out:#}");
        assert!(
            out["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("ssh://[USER@]HOST")),
            "the accepted forms are listed: {out:#}"
        );
        unchanged(&typo);
    }
    std::fs::write(&config, &good).expect("restore hotpatch.toml");
    let out = app.run_json(&["push", "--rebuild", "--url", "wss//127.0.0.1:1/"], 2);
    assert_eq!(out["error"]["kind"], "config", "{out:#}");
    unchanged("--url typo");

    // A valid URL where nothing listens (a wrong port) while the application runs: unreachable
    // (exit 5), and the rebuild is refused because the image's process is running.
    let wrong = format!("ws://127.0.0.1:{}/", free_port());
    let out = app.run_json(&["push", "--url", &wrong], 5);
    assert_eq!(out["error"]["kind"], "unreachable", "{out:#}");
    assert_eq!(out["rebuild"]["refused"], true, "{out:#}");
    assert_eq!(out["rebuild"]["application"], "running", "{out:#}");
    let pid = std::fs::read_to_string(app.live.join("app.pid")).expect("read app.pid");
    assert!(
        out["rebuild"]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains(pid.trim())),
        "the evidence names the application's process {pid}: {out:#}"
    );
    unchanged("wrong port");

    // The same with a status command, which then decides: it says the application runs.
    app.configure(&format!(
        "on_needs_rebuild = \"rebuild\"\nstatus = \"kill -0 $(cat {})\"",
        app.live.join("app.pid").display()
    ));
    let out = app.run_json(&["push", "--url", &wrong], 5);
    assert_eq!(out["rebuild"]["application"], "running", "{out:#}");
    assert!(
        out["rebuild"]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("says it runs")),
        "{out:#}"
    );
    // A status command that cannot run says nothing: no rebuild either.
    app.configure("on_needs_rebuild = \"rebuild\"\nstatus = \"no-such-status-command\"");
    let out = app.run_json(&["push", "--url", &wrong], 5);
    assert_eq!(out["rebuild"]["application"], "unknown", "{out:#}");
    unchanged("status command");

    // The right URL still pushes live.
    let out = app.run_json(&["push"], 0);
    assert_eq!(out["outcome"], "applied", "{out:#}");
    assert_eq!(app.eval("SampleApp default greet: 'x'"), "'Hey, X!'");
    assert_eq!(app.session(), live.session, "a live push restarts nothing");
}
