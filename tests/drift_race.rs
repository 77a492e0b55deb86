//! A hand edit made while a push runs is never lost silently (issue 20): the agent checks each
//! definition for drift in the same unpreemptible step as it installs it, so an image process
//! that edits one of the batch's methods after the push began makes the push either refuse
//! (drift, exit 9, nothing changed) or, with `--overwrite-drift`, replace it and record the
//! overwrite. Against the real VM.
//!
//! Deterministic, not timed: the image process waits for a sign that the agent has started
//! compiling the batch (the stand-in class it makes for a new class while it compiles, see
//! HpApplyCommand>>compileErrors), and only then edits `SampleApp>>greet:`. It runs above the
//! agent's priority, so the edit lands as soon as the agent starts compiling, long before the
//! install of the batch's last method: after the drift check the agent makes before compiling.

mod common;

use common::project::Project;
use common::{Runtime, Vm};

/// The exit code for drift (README, "Exit codes").
const DRIFT: i32 = 9;

/// Methods in the batch besides `greet:`: enough that compiling them takes far longer than the
/// watching process needs to notice the stand-in and edit.
const METHODS: usize = 1500;

/// A new class of `METHODS` methods in the sample package.
fn bulk_class() -> String {
    let mut text = String::from(
        "Class {\n\t#name : 'SampleBulk',\n\t#superclass : 'Object',\n\t#package : 'Sample-Core'\n}\n",
    );
    for i in 0..METHODS {
        text.push_str(&format!(
            "\n{{ #category : 'bulk' }}\nSampleBulk >> m{i} [\n\n\t^ {i} + 1\n]\n"
        ));
    }
    text
}

/// Forks an image process that waits until the agent compiles the batch (its stand-in for the
/// new class `SampleBulk` exists), then compiles `source` as `SampleApp>>greet:` and notes it
/// in `HpRaceEdited`. It gives up after about a minute of waiting.
fn edit_greet_while_compiling(vm: &Vm, source: &str) {
    let quoted = source.replace('\'', "''");
    let answer = vm.eval(&format!(
        "Smalltalk at: #HpRaceEdited put: false. \
         [| n | n := 0. \
          [(Smalltalk includesKey: #HpStandIn1SampleBulk) or: [n > 60000]] \
            whileFalse: [(Delay forMilliseconds: 1) wait. n := n + 1]. \
          (Smalltalk includesKey: #HpStandIn1SampleBulk) ifTrue: [ \
            SampleApp compile: '{quoted}' classified: 'greeting'. \
            Smalltalk at: #HpRaceEdited put: true]] \
           forkAt: Processor userSchedulingPriority. #watching"
    ));
    assert_eq!(answer, "#watching");
}

#[test]
fn a_hand_edit_made_while_the_batch_compiles_is_refused_or_recorded_never_lost() {
    let vm = Vm::start();
    let p = Project::new(&vm, "race");
    p.run(&["push"], 0);

    // The batch: a new class of 1,500 methods, and a local change to greet:.
    p.write("SampleBulk.class.st", &bulk_class());
    p.edit(
        "SampleApp.class.st",
        "^ 'Hello, ' , aName sampleShout",
        "^ 'Hello there, ' , aName sampleShout",
    );

    // Refused: the edit is drift the agent finds when it installs greet:. Nothing changed.
    edit_greet_while_compiling(&vm, "greet: aName\n\t^ 'Hi, ' , aName");
    let epoch = vm.epoch();
    let refused = p.push_json(&[], DRIFT);
    assert_eq!(
        vm.eval("Smalltalk at: #HpRaceEdited"),
        "true",
        "the edit ran"
    );
    assert_eq!(refused["outcome"], "drift", "{refused}");
    assert_eq!(
        refused["drift"][0]["name"], "SampleApp>>greet:",
        "{refused}"
    );
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, x'", "kept");
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleBulk"), "false");
    // Only the hand edit moved the epoch where the image announces code changes (Cuis, Pharo);
    // the classic Squeak platform has no change notifications.
    let hand_edit = u64::from(Runtime::current() != Runtime::Squeak);
    assert_eq!(vm.epoch(), epoch + hand_edit, "nothing applied");

    // Overwritten on purpose: replaced, and the replaced edit is in the report and the log.
    edit_greet_while_compiling(&vm, "greet: aName\n\t^ 'Hey, ' , aName");
    let applied = p.push_json(&["--overwrite-drift"], 0);
    assert_eq!(
        vm.eval("Smalltalk at: #HpRaceEdited"),
        "true",
        "the edit ran"
    );
    assert_eq!(applied["outcome"], "applied", "{applied}");
    assert_eq!(
        vm.eval("SampleApp default greet: 'x'"),
        "'Hello there, X!'",
        "the push's version"
    );
    assert_eq!(vm.eval("SampleBulk new m7"), "8");
    assert!(
        applied["drift"]
            .as_array()
            .is_some_and(|d| d.iter().any(|l| l["name"] == "SampleApp>>greet:")),
        "{applied}"
    );
    let log = p.hotpatch(&["log", "--json", "-n", "1"]);
    let log: serde_json::Value =
        serde_json::from_slice(&log.stdout).expect("log --json prints JSON");
    let entry = &log["log"]["entries"][0];
    let overwritten = entry["overwritten"]
        .as_array()
        .expect("the entry lists what it overwrote");
    assert!(
        overwritten.iter().any(|o| o["selector"] == "greet:"
            && o["source"].as_str().is_some_and(|s| s.contains("Hey, "))),
        "the edit made while the batch compiled is what was overwritten: {entry}"
    );

    // And rollback brings that edit back.
    p.run(&["rollback"], 0);
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hey, x'");
}
