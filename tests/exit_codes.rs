//! Every exit code and every message true (issue 20, item 5): `status` never exits 0 when it
//! could not tell; every command's `--json` failure is one JSON error object with a `kind` on
//! stdout; a bad `--set` is named as such; the audit log names the user without `USER`; and the
//! fleet's messages and codes agree with what happened — against the real VM (and, where a
//! target must be unreachable, a port nothing listens on).

mod common;

use common::project::{Project, hotpatch_exe};
use common::{Vm, free_port};
use std::process::{Command, Output};

/// `status` could not tell whether the image drifted (README, "Exit codes").
const UNKNOWN: i32 = 10;
const UNREACHABLE: i32 = 5;
const CONFIG: i32 = 2;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// stdout parsed as exactly one JSON document (trailing text is an error).
fn one_json(args: &[&str], out: &Output) -> serde_json::Value {
    let (stdout, stderr) = text(out);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("hotpatch {args:?}: stdout is not one JSON document ({e})\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    })
}

/// `status --json` with extra arguments, asserting the exit code.
fn status(p: &Project, extra: &[&str], code: i32) -> serde_json::Value {
    let mut args = vec!["status", "--json"];
    args.extend_from_slice(extra);
    let out = p.hotpatch(&args);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "hotpatch {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    one_json(&args, &out)
}

/// The login name of the user running the tests, as the system has it.
fn login_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn status_never_exits_0_when_it_cannot_tell_and_the_log_names_the_login_user() {
    let vm = Vm::start();
    let p = Project::new(&vm, "status-unknown");

    // A push from a job with no USER or LOGNAME (cron, systemd, a container): the audit log
    // names the system's login name, not `?`.
    let out = Command::new(hotpatch_exe())
        .arg("push")
        .current_dir(&p.dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOTPATCH_TOKEN", &p.token)
        .output()
        .expect("run hotpatch");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let log = p.hotpatch(&["log", "--json"]);
    let log = one_json(&["log"], &log);
    assert_eq!(
        log["log"]["entries"][0]["client"]["user"],
        login_name().as_str(),
        "{log}"
    );

    let clean = status(&p, &[], 0);
    assert_eq!(clean["drift"]["clean"], true, "{clean}");

    // 1. The Tonel sources cannot be read.
    p.write("Broken.class.st", "Class {\n\t#name : 'Broken',\n");
    let unknown = status(&p, &[], UNKNOWN);
    assert_eq!(unknown["drift"]["known"], false, "{unknown}");
    assert_eq!(unknown["error"]["kind"], "sources", "{unknown}");
    let out = p.hotpatch(&["status"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(UNKNOWN), "{stdout}{stderr}");
    assert!(stdout.contains("drift    unknown"), "{stdout}");
    assert!(stderr.contains("could not tell"), "{stderr}");
    std::fs::remove_file(p.file("Broken.class.st")).expect("remove the broken file");

    // 2. A listed package has no folder.
    let unknown = status(
        &p,
        &["--set", "packages=[\"Sample-Core\", \"Sample-Gone\"]"],
        UNKNOWN,
    );
    assert_eq!(unknown["error"]["kind"], "sources", "{unknown}");
    assert!(
        unknown["drift"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Sample-Gone")),
        "{unknown}"
    );

    // 3. The agent answers its snapshot with an internal error (a `key not found` inside it).
    assert_eq!(
        vm.eval(
            "HpSnapshotCommand compile: 'snapshot ^ Dictionary new at: #missing' \
             classified: 'running'. #broken"
        ),
        "#broken"
    );
    let unknown = status(&p, &[], UNKNOWN);
    assert_eq!(unknown["error"]["kind"], "internal", "{unknown}");
    assert!(unknown["agent"]["session"].is_string(), "{unknown}");

    // 4. And when the agent is gone, it is unreachable (5), as for every command.
    drop(vm);
    let gone = status(&p, &[], UNREACHABLE);
    assert_eq!(gone["error"]["kind"], "unreachable", "{gone}");
}

#[test]
fn every_command_prints_one_json_error_with_a_kind_on_failure() {
    // Nothing listens on this port: every command that needs the agent fails as unreachable.
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let p = Project::for_url(&url, "a-token", "json-errors");
    let config = p.dir.join("hotpatch.toml");
    let mut text_of_config = std::fs::read_to_string(&config).expect("read config");
    text_of_config.push_str("\n[groups.g]\ntargets = [\"local\"]\n");
    std::fs::write(&config, text_of_config).expect("write config");

    let commands: [&[&str]; 12] = [
        &["push"],
        &["pull"],
        &["rebuild"],
        &["status"],
        &["diff"],
        &["log"],
        &["rollback"],
        &["eval", "3 + 4"],
        &["push", "--group", "g"],
        &["diff", "--group", "g"],
        &["status", "--group", "g"],
        &["rollback", "--group", "g"],
    ];
    let bad_set = "targets.local.timeout_secs=0";
    for command in commands {
        let group = command.contains(&"--group");
        // Unreachable: 5 (a rebuild has no settings here: it cannot start, 2).
        let mut args = command.to_vec();
        args.push("--json");
        let out = p.hotpatch(&args);
        let report = one_json(&args, &out);
        let kind = report["error"]["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("hotpatch {args:?}: no error kind in {report:#}"));
        let message = report["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "hotpatch {args:?}: {report:#}");
        match command[0] {
            "rebuild" => {
                assert_eq!(out.status.code(), Some(CONFIG), "{report:#}");
                assert_eq!(kind, "config", "{report:#}");
                assert_eq!(report["outcome"], "not_started", "{report:#}");
            }
            _ => {
                assert_eq!(out.status.code(), Some(UNREACHABLE), "{args:?}: {report:#}");
                let expected = if group && command[0] != "push" && command[0] != "diff" {
                    "members"
                } else {
                    "unreachable"
                };
                assert_eq!(kind, expected, "{args:?}: {report:#}");
            }
        }
        // A bad configuration value from --set: 2, kind config, and the message names the
        // --set, not hotpatch.toml.
        let mut args = command.to_vec();
        args.extend(["--json", "--set", bad_set]);
        let out = p.hotpatch(&args);
        let report = one_json(&args, &out);
        assert_eq!(out.status.code(), Some(CONFIG), "{args:?}: {report:#}");
        assert_eq!(report["error"]["kind"], "config", "{args:?}: {report:#}");
        let message = report["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("--set {bad_set}:")),
            "{args:?}: {message}"
        );
        assert!(!message.contains("hotpatch.toml"), "{args:?}: {message}");
    }
    // The same value from HOTPATCH_SET is named as coming from there.
    let out = p.hotpatch_env(&["status"], &[("HOTPATCH_SET", bad_set)]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(CONFIG), "{stderr}");
    assert!(
        stderr.contains(&format!("HOTPATCH_SET ({bad_set}):")) && !stderr.contains("hotpatch.toml"),
        "{stderr}"
    );
}

/// A sample project with targets `a` (the VM), `dead` (nothing listens) and `a-wrong` (the VM
/// with a wrong token), and groups of them.
fn fleet_project(vm: &Vm) -> Project {
    let p = Project::new(vm, "fleet-truths");
    let dead = format!("ws://127.0.0.1:{}/", free_port());
    let config = format!(
        "source = \"src\"\npackages = [\"Sample-Core\"]\n\n\
         [targets.a]\nurl = \"{}\"\n\n\
         [targets.dead]\nurl = \"{dead}\"\ntimeout_secs = 3\n\n\
         [targets.a-wrong]\nurl = \"{}\"\ntoken_env = \"WRONG_TOKEN\"\n\n\
         [groups.live-and-dead]\ntargets = [\"a\", \"dead\"]\n\n\
         [groups.alone]\ntargets = [\"a\"]\n\n\
         [groups.wrong]\ntargets = [\"a\", \"a-wrong\"]\n",
        vm.url, vm.url
    );
    std::fs::write(p.dir.join("hotpatch.toml"), config).expect("write config");
    p
}

fn run(p: &Project, args: &[&str], code: i32) -> (String, String) {
    let out = p.hotpatch_env(args, &[("WRONG_TOKEN", "not-the-token")]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "hotpatch {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    (stdout, stderr)
}

fn run_json(p: &Project, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (stdout, _) = run(p, &all, code);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{all:?}: not JSON ({e}): {stdout}"))
}

fn states(report: &serde_json::Value) -> Vec<String> {
    report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[test]
fn fleet_messages_and_exit_codes_say_what_happened() {
    let vm = Vm::start();
    let p = fleet_project(&vm);

    // --skip-unreachable: a is patched, dead left out. Not "every target is on the new code",
    // and exit 8 says the same.
    let (stdout, _) = run(
        &p,
        &["push", "--group", "live-and-dead", "--skip-unreachable"],
        8,
    );
    assert!(
        !stdout.contains(": every target is on the new code"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not every target is on the new code"),
        "{stdout}"
    );
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hello, X!'");
    let report = run_json(
        &p,
        &["push", "--group", "live-and-dead", "--skip-unreachable"],
        8,
    );
    assert_eq!(states(&report), ["up_to_date", "skipped"], "{report}");
    assert_eq!(report["error"]["kind"], "unreachable", "{report}");

    // diff --group has no --skip-unreachable: it does not suggest it. push --group does.
    let (stdout, stderr) = run(&p, &["diff", "--group", "live-and-dead"], UNREACHABLE);
    assert!(
        !stdout.contains("--skip-unreachable") && !stderr.contains("--skip-unreachable"),
        "{stdout}{stderr}"
    );
    let (_, stderr) = run(&p, &["push", "--group", "live-and-dead"], UNREACHABLE);
    assert!(stderr.contains("--skip-unreachable"), "{stderr}");

    // rollback --group with one member unreachable after rolling back the other: not "the
    // agent refused the batch, the image is unchanged" (4) but 8, a changed.
    let epoch = vm.epoch();
    let report = run_json(&p, &["rollback", "--group", "live-and-dead"], 8);
    assert_eq!(
        states(&report),
        ["not_rolled_back", "rolled_back"],
        "last member first: {report}"
    );
    assert_eq!(
        report["targets"][0]["error"]["kind"], "unreachable",
        "{report}"
    );
    assert_eq!(vm.epoch(), epoch + 1, "a was rolled back");

    // A member with drift: exit 9 (as a single push), cause drift, and the reason has no run
    // of spaces.
    run(&p, &["push", "--group", "alone"], 0);
    vm.hand_edit(
        "SampleApp",
        "greet: aName\n\n\t^ 'Hi, ' , aName",
        "greeting",
    );
    let single = p.hotpatch(&["push", "--target", "a", "--no-cache"]);
    assert_eq!(single.status.code(), Some(9), "{:?}", text(&single));
    let report = run_json(&p, &["push", "--group", "alone", "--no-cache"], 9);
    assert_eq!(report["cause"], "drift", "{report}");
    assert_eq!(report["error"]["kind"], "drift", "{report}");
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("SampleApp>>greet:"), "{reason}");
    assert!(!reason.contains("  "), "a run of spaces: {reason:?}");

    // A wrong token is the agent refusing (4, as a single push), not members that disagree.
    let single = p.hotpatch_env(
        &["push", "--target", "a-wrong"],
        &[("WRONG_TOKEN", "not-the-token")],
    );
    assert_eq!(single.status.code(), Some(4), "{:?}", text(&single));
    let report = run_json(&p, &["push", "--group", "wrong", "--no-cache"], 4);
    assert_eq!(report["cause"], "rejected", "{report}");
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("a-wrong") && !reason.contains("differ"),
        "{reason}"
    );
}
