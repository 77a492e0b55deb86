//! The Ansible module shipped in `examples/ansible/library/hotpatch.py`, run by the real
//! `ansible-playbook` (ansible-core from PyPI, `examples/ansible/install-ansible-core.sh`) with
//! playbooks written here, against real VMs: a push is `changed` once and `ok` after; check mode
//! is a dry run that leaves the image as it was; `--diff` shows the method's diff; a compile error
//! and a change a rule refuses fail the task with hotpatch's message, kind and exit code; a
//! rollback and a status; a group of two images (the shipped `deploy.yml` first) returns each
//! member's result. Every claim about an image is checked by asking the image.
//!
//! Without `ansible-playbook` these tests fail and say how to install it; they are skipped only
//! when `HOTPATCH_SKIP_ANSIBLE=1` says so.

mod common;

use common::project::Project;
use common::{Vm, agent_filein, copy_dir, free_port, repo, test_image};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `ansible-playbook` to run: `$HOTPATCH_ANSIBLE_PLAYBOOK`, else the one
/// `examples/ansible/install-ansible-core.sh` installs into `target/ansible`, else the one on
/// `PATH`. `None` only when `HOTPATCH_SKIP_ANSIBLE=1`.
fn ansible_playbook() -> Option<PathBuf> {
    if std::env::var("HOTPATCH_SKIP_ANSIBLE").is_ok_and(|v| v == "1") {
        eprintln!("HOTPATCH_SKIP_ANSIBLE=1: the Ansible module's tests are skipped");
        return None;
    }
    let candidates = std::env::var_os("HOTPATCH_ANSIBLE_PLAYBOOK")
        .map(PathBuf::from)
        .into_iter()
        .chain([repo().join("target/ansible/bin/ansible-playbook")])
        .chain(std::env::var_os("PATH").into_iter().flat_map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("ansible-playbook"))
                .collect::<Vec<_>>()
        }));
    for candidate in candidates {
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    panic!(
        "ansible-playbook not found: these tests run the Ansible module with the real \
         ansible-playbook. Install it with examples/ansible/install-ansible-core.sh (ansible-core \
         from PyPI into target/ansible; needs python3 with venv), or point \
         HOTPATCH_ANSIBLE_PLAYBOOK at one; HOTPATCH_SKIP_ANSIBLE=1 skips these tests."
    );
}

/// One `ansible-playbook` run of a play with one `hotpatch` task, and what came of it.
struct Run {
    /// ansible-playbook's exit code.
    code: Option<i32>,
    /// What the default callback printed (task lines, diffs, the recap).
    stdout: String,
    stderr: String,
    /// The task's registered result, as the module returned it.
    result: serde_json::Value,
}

impl Run {
    /// The `changed=` count of the play recap: what Ansible itself counted.
    fn recap(&self, key: &str) -> u32 {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("localhost") && l.contains("ok="))
            .unwrap_or_else(|| panic!("no play recap in:\n{self}"));
        line.split_whitespace()
            .find_map(|field| field.strip_prefix(&format!("{key}=")))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key}= in the recap line {line:?}"))
    }

    fn changed(&self) -> bool {
        self.result["changed"] == true
    }

    fn failed(&self) -> bool {
        self.result["failed"] == true
    }

    /// Asserts the task succeeded, as changed or as ok, by the module's result and by
    /// Ansible's recap.
    fn assert_ok(&self, changed: bool) {
        assert_eq!(self.code, Some(0), "{self}");
        assert!(!self.failed(), "the task failed:\n{self}");
        assert_eq!(self.changed(), changed, "changed:\n{self}");
        assert_eq!(self.recap("changed"), u32::from(changed), "{self}");
        assert_eq!(self.recap("failed"), 0, "{self}");
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ansible-playbook exited {:?}\n--- result\n{:#}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.result, self.stdout, self.stderr
        )
    }
}

/// Runs a play on localhost (connection local) with one `hotpatch` task made of `options` (YAML
/// lines of the module's options) and `environment` (the task's environment), in `dir`, with
/// ansible-playbook's extra `flags` (`--check`, `--diff`). The task's result is written to a
/// file by a second task (the task ignores errors so that a failure is recorded too).
fn play(
    ansible: &Path,
    dir: &Path,
    options: &[&str],
    environment: &[(&str, &str)],
    flags: &[&str],
    vars: &[(&str, &str)],
) -> Run {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let result_file = dir.join(format!("ansible-result-{n}.json"));
    let playbook = dir.join(format!("ansible-play-{n}.yml"));
    let indent = |lines: &[String], by: &str| -> String {
        lines.iter().map(|l| format!("{by}{l}\n")).collect()
    };
    let mut module = vec![format!(
        "chdir: {}",
        yaml_string(&dir.display().to_string())
    )];
    module.extend(options.iter().map(|o| o.to_string()));
    let env: Vec<String> = environment
        .iter()
        .map(|(k, v)| format!("{k}: {}", yaml_string(v)))
        .collect();
    let text = format!(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars:\n    \
         ansible_python_interpreter: \"{{{{ ansible_playbook_python }}}}\"\n  tasks:\n    \
         - name: hotpatch\n      hotpatch:\n{}      environment:\n{}      register: result\n      \
         ignore_errors: true\n    - name: keep the result\n      ansible.builtin.copy:\n        \
         content: \"{{{{ result | to_nice_json }}}}\"\n        dest: {}\n      check_mode: false\n      \
         diff: false\n      changed_when: false\n",
        indent(&module, "        "),
        if env.is_empty() {
            "        {}\n".to_owned()
        } else {
            indent(&env, "        ")
        },
        yaml_string(&result_file.display().to_string()),
    );
    std::fs::write(&playbook, text).expect("write the playbook");
    let (code, stdout, stderr) = run_playbook(ansible, dir, &playbook, flags, vars);
    let result = match std::fs::read_to_string(&result_file) {
        Ok(text) => serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the result is not JSON ({e}): {text}")),
        Err(e) => panic!(
            "no result written ({e}); ansible-playbook exited {code:?}\n--- stdout\n{stdout}\n--- \
             stderr\n{stderr}"
        ),
    };
    Run {
        code,
        stdout,
        stderr,
        result,
    }
}

/// Runs `playbook` on localhost with `flags` and the controller's environment `vars`, in `dir`,
/// with the module of `examples/ansible/library` and this build's `hotpatch` first on `PATH`;
/// Ansible's own files go under `dir/.ansible`. Answers the exit code, stdout and stderr.
fn run_playbook(
    ansible: &Path,
    dir: &Path,
    playbook: &Path,
    flags: &[&str],
    vars: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let hotpatch_dir = Path::new(env!("CARGO_BIN_EXE_hotpatch"))
        .parent()
        .expect("the hotpatch binary's directory")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(hotpatch_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("join PATH");
    let temp = dir.join(".ansible");
    let out = Command::new(ansible)
        .arg("-i")
        .arg("localhost,")
        .arg("-v")
        .args(flags)
        .arg(playbook)
        .current_dir(dir)
        .env("PATH", path)
        .env("ANSIBLE_LIBRARY", repo().join("examples/ansible/library"))
        .env("ANSIBLE_HOME", &temp)
        .env("ANSIBLE_LOCAL_TEMP", temp.join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", temp.join("remote"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_STDOUT_CALLBACK", "default")
        .env("PYTHONWARNINGS", "ignore")
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ansible-playbook");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A YAML double-quoted string.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string encodes")
}

/// A method the sources gain (appended to SampleApp.class.st).
const FAREWELL: &str =
    "\n{ #category : 'greeting' }\nSampleApp >> farewell: aName [\n\n\t^ 'Goodbye, ' , aName\n]\n";

#[test]
fn a_push_task_is_idempotent_dry_runs_in_check_mode_shows_its_diff_and_fails_with_hotpatchs_report()
{
    let Some(ansible) = ansible_playbook() else {
        return;
    };
    let vm = Vm::start();
    let p = Project::new(&vm, "ansible");
    // The token reaches the module as an option marked no_log, from the controller's
    // environment; it must show nowhere in Ansible's output.
    let token = ("APP_TOKEN", p.token.as_str());
    let options = ["token: \"{{ lookup('env', 'APP_TOKEN') }}\""];
    let run = |options: &[&str], flags: &[&str]| {
        let run = play(&ansible, &p.dir, options, &[], flags, &[token]);
        assert!(
            !run.stdout.contains(&p.token) && !run.stderr.contains(&p.token),
            "the token shows in Ansible's output:\n{run}"
        );
        run
    };

    // 1. The first run puts the sample app in: changed.
    let first = run(&options, &[]);
    first.assert_ok(true);
    assert_eq!(first.result["outcome"], "applied", "{first}");
    assert_eq!(first.result["rc"], 0, "{first}");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hello, X!'");

    // 2. The same run again has nothing to do: ok.
    let again = run(&options, &[]);
    again.assert_ok(false);
    assert_eq!(again.result["outcome"], "nothing_to_push", "{again}");

    // 3. A new method, in check mode with --diff: reported as a change with its diff, and the
    //    image is as it was (same epoch, no such method).
    let mut text = std::fs::read_to_string(p.file("SampleApp.class.st")).expect("read source");
    text.push_str(FAREWELL);
    p.write("SampleApp.class.st", &text);
    let epoch = vm.epoch();
    let check = run(&options, &["--check", "--diff"]);
    check.assert_ok(true);
    assert_eq!(check.result["outcome"], "dry_run", "{check}");
    assert_eq!(
        check.result["changes"],
        serde_json::json!([{ "change": "added", "what": "method", "name": "SampleApp>>farewell:" }]),
        "{check}"
    );
    assert!(
        check.stdout.contains("+ SampleApp>>farewell:")
            && check.stdout.contains("+\t^ 'Goodbye, ' , aName"),
        "check mode with --diff does not show the method's diff:\n{check}"
    );
    assert_eq!(vm.epoch(), epoch, "check mode changed the image");
    assert_eq!(vm.eval("SampleApp includesSelector: #farewell:"), "false");

    // 4. The real run with --diff: changed, the same diff, and the method is in the image.
    let push = run(&options, &["--diff"]);
    push.assert_ok(true);
    assert_eq!(push.result["outcome"], "applied", "{push}");
    assert!(
        push.stdout.contains("+\t^ 'Goodbye, ' , aName"),
        "--diff does not show the method's diff:\n{push}"
    );
    assert_eq!(vm.eval("SampleApp default farewell: 'x'"), "'Goodbye, x'");
    let epoch = vm.epoch();

    // ...and again with --diff: ok, and no diff is shown.
    let quiet = run(&options, &["--diff"]);
    quiet.assert_ok(false);
    assert!(!quiet.stdout.contains("farewell"), "{quiet}");

    // 5. A method that does not compile (a misspelt name: only the image can tell): the task
    //    fails with hotpatch's message, kind, errors (the Tonel file's line) and exit code 4;
    //    the image is unchanged.
    p.edit(
        "SampleApp.class.st",
        "^ 'Goodbye, ' , aName",
        "^ 'Goodbye, ' , aNmae",
    );
    let text = std::fs::read_to_string(p.file("SampleApp.class.st")).expect("read source");
    let line = text
        .lines()
        .position(|l| l.contains("aNmae"))
        .expect("the broken line")
        + 1;
    let broken = run(&options, &[]);
    assert!(
        broken.failed(),
        "a compile error did not fail the task:\n{broken}"
    );
    assert_eq!(broken.recap("ignored"), 1, "{broken}");
    assert_eq!(broken.result["rc"], 4, "{broken}");
    assert_eq!(broken.result["kind"], "compile_failed", "{broken}");
    let msg = broken.result["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("did not compile") && msg.contains(&format!("SampleApp.class.st:{line}:")),
        "the message is not hotpatch's: {msg}\n{broken}"
    );
    assert_eq!(broken.result["errors"][0]["line"], line, "errors: {broken}");
    assert_eq!(vm.epoch(), epoch, "a failed push changed the image");
    assert_eq!(vm.eval("SampleApp default farewell: 'x'"), "'Goodbye, x'");

    // 6. A change a rule refuses (a class's layout cannot change live): the task fails with
    //    hotpatch's reasons, kind and exit code 3; nothing was applied.
    p.edit("SampleApp.class.st", "aNmae", "aName");
    p.edit(
        "SampleCounter.class.st",
        "#superclass : 'Object',",
        "#superclass : 'Object',\n\t#type : 'variable',",
    );
    let refused = run(&options, &[]);
    assert!(
        refused.failed(),
        "a refused push did not fail the task:\n{refused}"
    );
    assert_eq!(refused.result["rc"], 3, "{refused}");
    assert_eq!(refused.result["kind"], "needs_rebuild", "{refused}");
    let msg = refused.result["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("SampleCounter") && msg.contains("layout"),
        "the message does not give hotpatch's reason: {msg}\n{refused}"
    );
    assert_eq!(vm.epoch(), epoch, "a refused push changed the image");
    assert_eq!(vm.eval("SampleCounter isVariable"), "false");

    // 7. state=status: the agent and no drift; never changed.
    let status = run(&[options[0], "state: status"], &[]);
    status.assert_ok(false);
    assert_eq!(status.result["drifted"], false, "{status}");
    assert_eq!(status.result["report"]["agent"]["epoch"], epoch, "{status}");

    // 8. state=rolled_back undoes the last batch (the new method): changed; in check mode
    //    nothing is undone.
    let check = run(&[options[0], "state: rolled_back"], &["--check"]);
    check.assert_ok(true);
    assert_eq!(vm.eval("SampleApp includesSelector: #farewell:"), "true");
    let back = run(&[options[0], "state: rolled_back"], &[]);
    back.assert_ok(true);
    assert_eq!(back.result["outcome"], "rolled_back", "{back}");
    assert_eq!(vm.eval("SampleApp includesSelector: #farewell:"), "false");
}

#[test]
fn a_group_task_rolls_out_and_returns_each_members_result() {
    let Some(ansible) = ansible_playbook() else {
        return;
    };
    // Two images sharing one token, as a group's `token_env` has it.
    let token = format!("fleet-{}-token", std::process::id());
    let vms: Vec<Vm> = (0..2)
        .map(|_| {
            let port = free_port();
            let script = format!(
                "{}\nHpAgent startOn: {port} token: '{token}'!\n",
                agent_filein()
            );
            Vm::launch(&test_image(), &script, port, token.clone())
        })
        .collect();
    let dir = repo()
        .join("target")
        .join("ansible-tests")
        .join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&repo().join("examples/sample-app"), &dir);
    let mut config = String::from("source = \"src\"\npackages = [\"Sample-Core\"]\n");
    for (name, vm) in ["a", "b"].iter().zip(&vms) {
        config.push_str(&format!("\n[targets.{name}]\nurl = \"{}\"\n", vm.url));
    }
    config.push_str(
        "\n[groups.prod]\ntargets = [\"a\", \"b\"]\ntoken_env = \"FLEET_TOKEN\"\ncanary = 1\n\
         parallel = 1\nhealth_eval = \"(SampleApp default greet: 'x') size > 0\"\n\
         health_timeout_secs = 10\n",
    );
    std::fs::write(dir.join("hotpatch.toml"), config).expect("write config");
    let vars = [("FLEET_TOKEN", token.as_str())];
    let greetings = || -> Vec<String> {
        vms.iter()
            .map(|vm| vm.eval("SampleApp default greet: 'x'"))
            .collect()
    };

    // 1. The example deploy job as shipped (examples/ansible/deploy.yml) rolls the sample app
    //    out: drift checked, canary then a wave, each member listed.
    let deploy = repo().join("examples/ansible/deploy.yml");
    let app_checkout = format!("app_checkout={}", dir.display());
    let (code, stdout, stderr) =
        run_playbook(&ansible, &dir, &deploy, &["-e", &app_checkout], &vars);
    let shown = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(0), "deploy.yml failed:\n{shown}");
    assert!(
        stdout.contains("a: patched canary") && stdout.contains("b: patched wave 1"),
        "deploy.yml does not list the members:\n{shown}"
    );
    assert!(!stdout.contains(&token), "the token shows:\n{shown}");
    assert_eq!(greetings(), ["'Hello, X!'"; 2]);

    // 2. The module's own result, run again: ok, each member up to date.
    let options = [
        "group: prod",
        "token: \"{{ lookup('env', 'FLEET_TOKEN') }}\"",
        "token_env: FLEET_TOKEN",
    ];
    let run = |flags: &[&str]| {
        let run = play(&ansible, &dir, &options, &[], flags, &vars);
        assert!(!run.stdout.contains(&token), "the token shows:\n{run}");
        run
    };
    let states = |run: &Run| -> Vec<String> {
        run.result["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("no targets in the result:\n{run}"))
            .iter()
            .map(|t| {
                format!(
                    "{}:{}",
                    t["name"].as_str().unwrap_or("?"),
                    t["state"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    let again = run(&[]);
    again.assert_ok(false);
    assert_eq!(again.result["outcome"], "nothing_to_push", "{again}");
    assert_eq!(states(&again), ["a:up_to_date", "b:up_to_date"]);

    // 3. A change in check mode with --diff: both would be patched, the diff is the method's,
    //    and neither image changed.
    let path = dir.join("src/Sample-Core/SampleApp.class.st");
    let text = std::fs::read_to_string(&path).expect("read source");
    std::fs::write(&path, text.replacen("'Hello, '", "'Hi, '", 1)).expect("write source");
    let epochs: Vec<u64> = vms.iter().map(Vm::epoch).collect();
    let check = run(&["--check", "--diff"]);
    check.assert_ok(true);
    assert_eq!(check.result["outcome"], "dry_run", "{check}");
    assert_eq!(states(&check), ["a:would_patch", "b:would_patch"]);
    assert!(
        check.stdout.contains("-\t^ 'Hello, ' , aName sampleShout")
            && check.stdout.contains("+\t^ 'Hi, ' , aName sampleShout"),
        "no method diff:\n{check}"
    );
    assert_eq!(vms.iter().map(Vm::epoch).collect::<Vec<_>>(), epochs);
    assert_eq!(greetings(), ["'Hello, X!'"; 2]);

    // 4. The rollout with --diff: changed, canary then a wave, each member's result returned,
    //    the diff shown.
    let rollout = run(&["--diff"]);
    rollout.assert_ok(true);
    assert_eq!(rollout.result["outcome"], "rolled_out", "{rollout}");
    assert_eq!(states(&rollout), ["a:patched", "b:patched"]);
    assert_eq!(rollout.result["targets"][0]["role"], "canary", "{rollout}");
    assert_eq!(rollout.result["targets"][1]["role"], "wave 1", "{rollout}");
    assert_eq!(
        rollout.result["targets"][0]["health"]["healthy"], true,
        "{rollout}"
    );
    assert!(rollout.stdout.contains("+\t^ 'Hi, '"), "{rollout}");
    assert_eq!(greetings(), ["'Hi, X!'"; 2]);

    // 5. A member that refuses the batch stops the rollout: the task fails with hotpatch's
    //    reason and exit code 8, and each member's result says where it is.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .expect("read source")
            .replacen("'Hi, ' , aName", "'Hey, ' , aNmae", 1),
    )
    .expect("write source");
    let stopped = run(&[]);
    assert!(
        stopped.failed(),
        "a refused rollout did not fail:\n{stopped}"
    );
    assert_eq!(stopped.result["rc"], 8, "{stopped}");
    assert_eq!(
        stopped.result["msg"], "a (canary): 1 method(s) did not compile; the image is unchanged",
        "{stopped}"
    );
    assert_eq!(states(&stopped), ["a:failed", "b:untouched"]);
    assert_eq!(greetings(), ["'Hi, X!'"; 2]);

    // 6. A method added by hand in b's image: the shipped deploy job stops at its drift check,
    //    naming b, before any rollout (the module's state=status reports drifted).
    assert_eq!(
        vms[1].eval("SampleCounter compile: 'double ^ 2' classified: 'by hand'. #done"),
        "#done"
    );
    let (code, stdout, stderr) =
        run_playbook(&ansible, &dir, &deploy, &["-e", &app_checkout], &vars);
    let shown = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_ne!(
        code,
        Some(0),
        "deploy.yml went ahead despite drift:\n{shown}"
    );
    assert!(stdout.contains("drift in ['b']"), "{shown}");
    assert!(!stdout.contains("TASK [Roll the sources out"), "{shown}");
    assert_eq!(greetings(), ["'Hi, X!'"; 2]);

    let _ = std::fs::remove_dir_all(&dir);
}
