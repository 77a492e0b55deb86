//! A copy of the sample application (`examples/sample-app`), or of another project, configured to
//! push to a test VM, and the `hotpatch` binary run in it: what the push, live-state and attack
//! tests share.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::{Vm, copy_dir, repo};

/// The sample app in a directory of its own under `target/projects/`, removed when the test
/// passes and kept when it fails.
pub struct Project {
    pub dir: PathBuf,
    pub token: String,
}

impl Project {
    /// A fresh copy named after the test binary and `name`, pushing to `vm`.
    pub fn new(vm: &Vm, name: &str) -> Project {
        Project::for_url(&vm.url, &vm.token, name)
    }

    /// A fresh copy pushing to `url` with `token` (e.g. a port nothing listens on).
    pub fn for_url(url: &str, token: &str, name: &str) -> Project {
        Project::copied(&repo().join("examples/sample-app"), url, token, name)
    }

    /// A fresh copy of the project at `source` (a directory with a `hotpatch.toml` whose target
    /// URL is `ws://127.0.0.1:7071/`), named after the test binary and `name`, pushing to `vm`.
    pub fn copy_of(source: &std::path::Path, vm: &Vm, name: &str) -> Project {
        Project::copied(source, &vm.url, &vm.token, name)
    }

    fn copied(source: &std::path::Path, url: &str, token: &str, name: &str) -> Project {
        let suite = std::env::current_exe()
            .ok()
            .and_then(|e| e.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let dir = repo()
            .join("target")
            .join("projects")
            .join(format!("{suite}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(source, &dir);
        let config = std::fs::read_to_string(dir.join("hotpatch.toml")).expect("read config");
        let config = without_fixed_clocks(&config.replace("ws://127.0.0.1:7071/", url));
        std::fs::write(dir.join("hotpatch.toml"), config).expect("write config");
        Project {
            dir,
            token: token.to_owned(),
        }
    }

    /// Runs the `hotpatch` binary of this build in the project.
    pub fn hotpatch(&self, args: &[&str]) -> Output {
        self.hotpatch_env(args, &[])
    }

    /// Runs the `hotpatch` binary with extra environment variables.
    pub fn hotpatch_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Command::new(hotpatch_exe())
            .args(args)
            .current_dir(&self.dir)
            .env("HOTPATCH_TOKEN", &self.token)
            .env("NO_COLOR", "1")
            .envs(vars.iter().copied())
            .output()
            .expect("run hotpatch")
    }

    /// Runs hotpatch and asserts the exit code; answers stdout and stderr.
    pub fn run(&self, args: &[&str], code: i32) -> String {
        let out = self.hotpatch(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "hotpatch {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        stdout + &stderr
    }

    /// A file of the `Sample-Core` package.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join("src/Sample-Core").join(name)
    }

    /// Replaces `from` by `to` in a source file (the test's "edit in the editor").
    pub fn edit(&self, name: &str, from: &str, to: &str) {
        let path = self.file(name);
        let text = std::fs::read_to_string(&path).expect("read source");
        assert!(text.contains(from), "{name} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write source");
    }

    /// Replaces every `from` by `to` in a source file.
    pub fn edit_all(&self, name: &str, from: &str, to: &str) {
        let path = self.file(name);
        let text = std::fs::read_to_string(&path).expect("read source");
        assert!(text.contains(from), "{name} does not contain {from:?}");
        std::fs::write(&path, text.replace(from, to)).expect("write source");
    }

    /// The sample edit that adds a method and removes one: `SampleCounter>>setUp`'s work moves
    /// into a new `reset`, which the class-side `new` now sends.
    pub fn replace_set_up_with_reset(&self) {
        self.edit(
            "SampleCounter.class.st",
            "{ #category : 'initialization' }\nSampleCounter >> setUp [\n\n\tcount := 0\n]",
            "{ #category : 'actions' }\nSampleCounter >> reset [\n\n\tcount := 0\n]",
        );
        self.edit(
            "SampleCounter.class.st",
            "^ super new setUp",
            "^ super new reset; yourself",
        );
    }

    /// `push --json` with `args`, asserting the exit code; answers the report.
    pub fn push_json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut all = vec!["push", "--json"];
        all.extend_from_slice(args);
        let out = self.hotpatch(&all);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "hotpatch {all:?}\n--- stdout\n{stdout}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).expect("push --json prints JSON")
    }

    /// Writes a source file of `Sample-Core`.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).expect("write source");
    }
}

/// The configuration with its request and apply time limits raised to the harness's hang limit:
/// a project's own limits (10 s, 60 s in the sample app) are a user's choice for a known
/// machine, while a test must not depend on how fast a busy machine compiles (a 1,500-method
/// push took more than 60 s on the Pharo 8 interpreter at load 19).
fn without_fixed_clocks(config: &str) -> String {
    let limit = super::hang_limit().as_secs();
    config
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if key == "timeout_secs" || key == "apply_timeout_secs" {
                format!("{key} = {limit}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The `hotpatch` binary of this build: cargo builds it for integration tests beside their
/// `deps/` directory (`env!("CARGO_BIN_EXE_hotpatch")` cannot be used here: the bench binaries
/// that share this harness are compiled without it).
pub fn hotpatch_exe() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary sits in target/<profile>/deps");
    dir.join(format!("hotpatch{}", std::env::consts::EXE_SUFFIX))
}

impl Drop for Project {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
