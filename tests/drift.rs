//! Drift end to end against the real VM: a hand edit made in the image (through `eval`) shows in
//! `status` and `diff`, stops a push (exit 9, nothing sent), is replaced only with
//! `--overwrite-drift` and comes back with `rollback`; `pull` writes it into the Tonel file and
//! leaves status clean; a conflict is refused and resolved with `--theirs`; the audit log says
//! who pushed what, also after the image was saved and started again.

mod common;

use common::Vm;
use common::project::Project;

/// The exit code for drift (README, "Exit codes").
const DRIFT: i32 = 9;

/// `status --json`, asserting the exit code.
fn status(p: &Project, code: i32) -> serde_json::Value {
    let out = p.hotpatch(&["status", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "status\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("status --json prints JSON")
}

fn drift_names(status: &serde_json::Value) -> Vec<String> {
    status["drift"]["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    format!(
                        "{} {} {}",
                        i["standing"].as_str().unwrap_or("?"),
                        i["change"].as_str().unwrap_or("?"),
                        i["selector"].as_str().or(i["name"].as_str()).unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const HAND_FIX: &str = "greet: aName\n\n\t^ 'Hi, ' , aName";

#[test]
fn a_hand_edit_is_drift_push_refuses_it_overwrite_and_rollback_bring_it_back_and_pull_takes_it() {
    let vm = Vm::start();
    let p = Project::new(&vm, "drift");
    vm.keep_sources();
    p.run(&["push"], 0);
    let clean = status(&p, 0);
    assert_eq!(clean["drift"]["known"], true, "{clean}");
    assert_eq!(clean["drift"]["clean"], true, "{clean}");

    vm.hand_edit("SampleApp", HAND_FIX, "greeting");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, x'");

    // status: one drifted method, exit 9; the text form says where.
    let drifted = status(&p, DRIFT);
    assert_eq!(
        drift_names(&drifted),
        vec!["drift changed greet:"],
        "{drifted}"
    );
    let text = p.run(&["status"], DRIFT);
    assert!(
        text.contains("changed in the image: SampleApp>>greet:"),
        "{text}"
    );
    // diff marks it apart from local changes.
    let diff = p.run(&["diff"], 1);
    assert!(
        diff.contains("changed in the image since hotpatch installed it"),
        "{diff}"
    );

    // Read fresh, a push of an unrelated local change would also put the old greet: back:
    // refused, nothing sent.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1",
        "count := count + 2",
    );
    let epoch = vm.epoch();
    let refused = p.push_json(&["--no-cache"], DRIFT);
    assert_eq!(refused["outcome"], "drift", "{refused}");
    assert_eq!(
        refused["drift"][0]["name"], "SampleApp>>greet:",
        "{refused}"
    );
    assert_eq!(vm.epoch(), epoch, "nothing applied");
    // The cached push does not trust its cache either: the hand edit came through `eval`,
    // which moves what a cached snapshot is valid for. Refused the same way.
    let refused = p.push_json(&[], DRIFT);
    assert_eq!(refused["outcome"], "drift", "{refused}");
    assert_eq!(refused["from_cache"], false, "{refused}");
    assert_eq!(vm.epoch(), epoch, "nothing applied");
    // A push of the counter's file alone sends only the local change; the hand fix stays, and
    // status still reports it.
    let applied = p.push_json(&["src/Sample-Core/SampleCounter.class.st"], 0);
    assert_eq!(applied["outcome"], "applied", "{applied}");
    assert_eq!(
        applied["changes"].as_array().map(Vec::len),
        Some(1),
        "{applied}"
    );
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, x'");
    status(&p, DRIFT);

    // --overwrite-drift replaces it, and the log keeps what was replaced and who did it.
    let out = p.hotpatch_env(&["push", "--overwrite-drift"], &[("HOTPATCH_USER", "ann")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hello, X!'");
    let log = log_json(&p);
    let newest = &log["log"]["entries"][0];
    assert_eq!(newest["event"], "apply", "{log}");
    assert_eq!(newest["client"]["user"], "ann", "{log}");
    assert_eq!(newest["overwritten"][0]["selector"], "greet:", "{log}");

    // rollback brings the hand fix back, and with it the drift.
    p.run(&["rollback"], 0);
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, x'");
    let again = status(&p, DRIFT);
    assert_eq!(drift_names(&again), vec!["drift changed greet:"], "{again}");

    // pull --dry-run writes nothing; pull writes the hand fix, only it.
    let before = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    let dry = p.run(&["pull", "--dry-run"], 0);
    assert!(dry.contains("would write"), "{dry}");
    assert_eq!(
        std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap(),
        before
    );
    let pulled = p.run(&["pull"], 0);
    assert!(pulled.contains("SampleApp.class.st"), "{pulled}");
    let after = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    assert_eq!(
        after,
        before.replace("^ 'Hello, ' , aName sampleShout", "^ 'Hi, ' , aName"),
        "only the pulled method changed in the file"
    );
    // Clean now: nothing drifted, nothing to push.
    let clean = status(&p, 0);
    assert_eq!(clean["drift"]["clean"], true, "{clean}");
    p.run(&["diff", "--no-cache"], 0);
    let nothing = p.push_json(&[], 0);
    assert_eq!(nothing["outcome"], "nothing_to_push", "{nothing}");
    let log = log_json(&p);
    assert_eq!(log["log"]["entries"][0]["event"], "adopt", "{log}");
}

#[test]
fn added_and_removed_in_the_image_and_a_conflict() {
    let vm = Vm::start();
    let p = Project::new(&vm, "conflict");
    p.run(&["push"], 0);
    // Added by hand in an owned class, and one removed by hand.
    vm.hand_edit("SampleCounter", "double\n\t^ count * 2", "accessing");
    vm.eval("SampleCounter removeSelector: #count. #done");
    let s = status(&p, DRIFT);
    let names = drift_names(&s);
    assert!(names.contains(&"drift added double".to_owned()), "{s}");
    assert!(names.contains(&"drift removed count".to_owned()), "{s}");

    // The same method changed in the image and locally, differently: a conflict.
    vm.hand_edit("SampleApp", HAND_FIX, "greeting");
    p.edit("SampleApp.class.st", "'Hello, '", "'Howdy, '");
    let s = status(&p, DRIFT);
    assert!(
        drift_names(&s).contains(&"conflict changed greet:".to_owned()),
        "{s}"
    );
    let refused = p.push_json(&[], DRIFT);
    assert_eq!(refused["outcome"], "drift", "{refused}");

    // pull takes the drift, lists the conflict and leaves the local edit alone (exit 9).
    let out = p.run(&["pull"], DRIFT);
    assert!(out.contains("conflict"), "{out}");
    let app = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    assert!(app.contains("'Howdy, '"), "the local edit stays");
    let counter = std::fs::read_to_string(p.file("SampleCounter.class.st")).unwrap();
    assert!(counter.contains("SampleCounter >> double ["), "{counter}");
    assert!(!counter.contains("SampleCounter >> count ["), "{counter}");

    // This image keeps no sources: what was added by hand is written decompiled, with a
    // warning to review it.
    assert!(
        out.contains("keeps no source for SampleCounter>>double"),
        "{out}"
    );

    // --theirs: the image's version wins, and everything is clean.
    let out = p.run(&["pull", "--theirs"], 0);
    let app = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    assert!(
        app.contains("^ 'Hi, ' , ") && !app.contains("Howdy"),
        "{out}\n{app}"
    );
    let clean = status(&p, 0);
    assert_eq!(clean["drift"]["clean"], true, "{clean}");
    p.run(&["diff", "--no-cache"], 0);
}

#[test]
fn the_log_says_who_pushed_what_after_a_save_and_restart() {
    let vm = Vm::start();
    let p = Project::new(&vm, "log");
    let out = p.hotpatch_env(&["push"], &[("HOTPATCH_USER", "deploy-bot")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    p.edit("SampleApp.class.st", "'Hello, '", "'Hey, '");
    let out = p.hotpatch_env(&["push"], &[("HOTPATCH_USER", "ann")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let again = vm.save_and_restart();
    let log = log_json(&p);
    let entries = log["log"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["client"]["user"], "ann", "{log}");
    assert_eq!(entries[1]["client"]["user"], "deploy-bot", "{log}");
    assert!(
        entries[0]["touched"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "SampleApp>>greet:")),
        "{log}"
    );
    // The text form, newest first, limited by -n.
    let text = p.run(&["log", "-n", "1"], 0);
    assert!(text.contains("apply") && text.contains("ann"), "{text}");
    assert!(!text.contains("deploy-bot"), "{text}");
    // And the restarted image still knows what hotpatch installed: no drift.
    let clean = status(&p, 0);
    assert_eq!(clean["drift"]["clean"], true, "{clean}");
    drop(again);
}

fn log_json(p: &Project) -> serde_json::Value {
    let out = p.hotpatch(&["log", "--json", "-n", "0"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "log\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("log --json prints JSON")
}

#[test]
fn a_class_definition_changed_by_hand_is_pulled_into_the_class_file() {
    let vm = Vm::start();
    let p = Project::new(&vm, "class");
    p.run(&["push"], 0);
    // An instance variable added at the REPL.
    assert_eq!(
        vm.eval(
            "Object subclass: #SampleApp instanceVariableNames: 'counter extra' \
             classVariableNames: 'Default' poolDictionaries: '' category: 'Sample-Core'. #done"
        ),
        "#done"
    );
    let s = status(&p, DRIFT);
    assert_eq!(drift_names(&s), vec!["drift changed SampleApp"], "{s}");
    // On this image a hand edit does not move the epoch, so a push that finds the sources
    // unchanged since its last sync says so without looking (and sends nothing); read fresh,
    // it refuses.
    let refused = p.push_json(&["--no-cache"], DRIFT);
    assert_eq!(refused["drift"][0]["name"], "class SampleApp", "{refused}");

    let before = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    let out = p.run(&["pull"], 0);
    // The sample's file has no `#category` line (the writer's style has one), yet only the
    // variable list changes in it.
    assert!(!out.contains("rewritten"), "{out}");
    let app = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    assert_eq!(
        app,
        before.replace("\t\t'counter'\n", "\t\t'counter',\n\t\t'extra'\n"),
        "{out}"
    );
    let clean = status(&p, 0);
    assert_eq!(clean["drift"]["clean"], true, "{clean}");
    p.run(&["diff"], 0);
}

#[test]
fn after_a_hand_edit_through_eval_push_never_says_the_image_already_matches() {
    let vm = Vm::start();
    let p = Project::new(&vm, "eval-edit");
    p.run(&["push"], 0);
    // Nothing to do: from now on the cache says the image matches the sources.
    let nothing = p.push_json(&[], 0);
    assert_eq!(nothing["outcome"], "nothing_to_push", "{nothing}");
    let epoch = vm.epoch();

    // A hand edit through `hotpatch eval` (the classic Squeak platform has no change
    // notifications: the epoch does not move).
    let expression = format!(
        "SampleApp compile: '{}' classified: 'greeting'. #done",
        HAND_FIX.replace('\'', "''")
    );
    let out = p.run(&["eval", &expression], 0);
    assert!(out.contains("#done"), "{out}");
    assert_eq!(vm.epoch(), epoch, "the premise: the epoch did not move");

    // status sees the drift, and does not count the image's change as a local one.
    let text = p.run(&["status"], DRIFT);
    assert!(
        text.contains("changed in the image: SampleApp>>greet:"),
        "{text}"
    );
    assert!(!text.contains("not pushed yet"), "{text}");
    assert_eq!(status(&p, DRIFT)["local_changes"], 0);
    p.run(&["diff"], 1);

    // push agrees with status: drift, refused, never "already matches".
    let out = p.run(&["push"], DRIFT);
    assert!(!out.contains("already matches"), "{out}");
    assert!(out.contains("SampleApp>>greet:"), "{out}");
    let refused = p.push_json(&[], DRIFT);
    assert_eq!(refused["outcome"], "drift", "{refused}");
    assert_eq!(
        vm.eval("SampleApp default greet: 'x'"),
        "'Hi, x'",
        "the hand fix stays"
    );

    // A local change besides: counted, once.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1",
        "count := count + 2",
    );
    assert_eq!(status(&p, DRIFT)["local_changes"], 1);
    let text = p.run(&["status"], DRIFT);
    assert!(
        text.contains("local    1 change(s) not pushed yet"),
        "{text}"
    );
}
