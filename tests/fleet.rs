//! `hotpatch push --group` against four real VMs on loopback: the happy path, a re-run with
//! nothing to do, a canary that fails its health check, a target that refuses the batch in the
//! third wave (the others rolled back, the last untouched), a re-run that converges after the
//! fix, and a dead target (refused, or left out with --skip-unreachable). Every outcome is
//! checked by asking the images.

mod common;

use common::{Vm, copy_dir, repo};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The sample app, configured for a group `prod` of four targets a..d (one token each).
struct Fleet {
    dir: PathBuf,
    vms: Vec<Vm>,
    /// Kept apart from the VMs: a target whose VM was stopped still has its token.
    tokens: Vec<String>,
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

impl Fleet {
    fn new() -> Fleet {
        let vms = Vm::start_fleet(4);
        let dir = repo()
            .join("target")
            .join("fleet-tests")
            .join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&repo().join("examples/sample-app"), &dir);
        let mut config = String::from("source = \"src\"\npackages = [\"Sample-Core\"]\n");
        for (name, vm) in NAMES.iter().zip(&vms) {
            config.push_str(&format!(
                "\n[targets.{name}]\nurl = \"{}\"\ntoken_env = \"FLEET_TOKEN_{}\"\n",
                vm.url,
                name.to_uppercase()
            ));
        }
        config.push_str(
            "\n[groups.prod]\ntargets = [\"a\", \"b\", \"c\", \"d\"]\ncanary = 1\nparallel = 1\n\
             health_eval = \"(SampleApp default greet: 'x') size > 0\"\nhealth_timeout_secs = 3\n",
        );
        std::fs::write(dir.join("hotpatch.toml"), config).expect("write config");
        let tokens = vms.iter().map(|vm| vm.token.clone()).collect();
        Fleet { dir, vms, tokens }
    }

    fn hotpatch(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hotpatch"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1");
        for (name, token) in NAMES.iter().zip(&self.tokens) {
            command.env(format!("FLEET_TOKEN_{}", name.to_uppercase()), token);
        }
        command.output().expect("run hotpatch")
    }

    /// `push --group prod --json` with extra arguments; asserts the exit code and answers the
    /// report.
    fn rollout(&self, extra: &[&str], code: i32) -> serde_json::Value {
        let mut args = vec!["push", "--group", "prod", "--json"];
        args.extend_from_slice(extra);
        let out = self.hotpatch(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "hotpatch {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("src/Sample-Core/SampleApp.class.st");
        let text = std::fs::read_to_string(&path).expect("read source");
        assert!(text.contains(from), "SampleApp.class.st lacks {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write source");
    }

    fn greetings(&self) -> Vec<String> {
        self.vms
            .iter()
            .map(|vm| vm.eval("SampleApp default greet: 'x'"))
            .collect()
    }

    fn epochs(&self) -> Vec<u64> {
        self.vms.iter().map(Vm::epoch).collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The state each target ended in, in group order.
fn states(report: &serde_json::Value) -> Vec<String> {
    report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["state"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn rollouts_across_four_images() {
    let mut fleet = Fleet::new();

    // 1. Happy path: a first rollout installs the app everywhere, canary first.
    let report = fleet.rollout(&[], 0);
    assert_eq!(report["outcome"], "rolled_out", "{report}");
    assert_eq!(states(&report), ["patched"; 4]);
    assert_eq!(report["targets"][0]["role"], "canary");
    assert_eq!(report["targets"][3]["role"], "wave 3");
    assert_eq!(report["targets"][0]["health"]["healthy"], true, "{report}");
    assert_eq!(fleet.greetings(), ["'Hello, X!'"; 4]);

    // 2. Idempotent: the same rollout again finds nothing to do.
    let report = fleet.rollout(&[], 0);
    assert_eq!(report["outcome"], "nothing_to_push", "{report}");
    assert_eq!(states(&report), ["up_to_date"; 4]);

    // 3. The canary fails its health check: it is rolled back, nobody else is touched.
    let before = fleet.epochs();
    fleet.edit("'Hello, '", "'Hi, '");
    let report = fleet.rollout(
        &[
            "--set",
            "groups.prod.health_eval=(SampleApp default greet: 'x') = 'Hello, X!'",
        ],
        8,
    );
    assert_eq!(report["outcome"], "stopped", "{report}");
    assert_eq!(
        states(&report),
        ["rolled_back", "untouched", "untouched", "untouched"]
    );
    assert!(
        report["reason"].as_str().unwrap().contains("health check"),
        "{report}"
    );
    assert_eq!(fleet.greetings(), ["'Hello, X!'"; 4]);
    let after = fleet.epochs();
    assert_eq!(after[1..], before[1..], "the others were not touched");

    // 4. The third target lacks a class the change needs: the push there is refused (compile
    //    error), the canary and the second wave are rolled back, the fourth is never touched.
    for i in [0, 1, 3] {
        fleet.vms[i].eval("Smalltalk at: #FleetGreeting put: 'Hey, '. true");
    }
    fleet.edit("'Hi, '", "FleetGreeting");
    let before = fleet.epochs();
    let report = fleet.rollout(&[], 8);
    assert_eq!(
        states(&report),
        ["rolled_back", "rolled_back", "failed", "untouched"],
        "{report}"
    );
    assert!(
        report["targets"][2]["error"]
            .as_str()
            .unwrap()
            .contains("compile"),
        "{report}"
    );
    assert_eq!(fleet.greetings(), ["'Hello, X!'"; 4]);
    assert_eq!(fleet.epochs()[3], before[3], "d untouched");

    // 5. Fixed on c, the same rollout converges.
    fleet.vms[2].eval("Smalltalk at: #FleetGreeting put: 'Hey, '. true");
    let report = fleet.rollout(&[], 0);
    assert_eq!(states(&report), ["patched"; 4], "{report}");
    assert_eq!(fleet.greetings(), ["'Hey, X!'"; 4]);

    // 6. A dead target: the rollout is refused before anything changes (exit 5)...
    drop(fleet.vms.pop());
    fleet.edit("FleetGreeting", "'Howdy, '");
    let before: Vec<u64> = fleet.epochs();
    let report = fleet.rollout(&[], 5);
    assert_eq!(report["outcome"], "refused", "{report}");
    assert_eq!(
        states(&report),
        ["untouched", "untouched", "untouched", "unreachable"]
    );
    assert_eq!(fleet.epochs(), before);
    // ...and with --skip-unreachable the others get it, d is reported as skipped (exit 8: not
    // every target is on the new code).
    let report = fleet.rollout(&["--skip-unreachable"], 8);
    assert_eq!(
        states(&report),
        ["patched", "patched", "patched", "skipped"],
        "{report}"
    );
    assert_eq!(fleet.greetings(), ["'Howdy, X!'"; 3]);

    // status --group says who answers.
    let out = fleet.hotpatch(&["status", "--group", "prod"]);
    assert_eq!(out.status.code(), Some(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("d ") && text.contains("unreachable"),
        "{text}"
    );
}
