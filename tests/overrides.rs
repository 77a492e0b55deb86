//! Overrides as Monticello handles them, end to end against the real VM (issue 20): a pushed
//! extension method that replaces a method of another package is shown as an override by
//! `diff` and `push`, naming that package; the agent keeps the original (method, protocol,
//! source), and removing the override, or rolling it back, puts the original back instead of
//! deleting the method, also after the image was saved and started again.
//!
//! The system method is `Integer>>benchFib` of the test image (Squeak 2.x-era): class category
//! `Kernel-Numbers`, protocol `benchmarks` (so in Cuis 5). That image has no package system: a
//! method belongs to its extension category `*P`, else to its class's category (HpOwnership).
//! In Pharo 8 the method is an extension of `Math-Operations-Extensions` (protocol
//! `*Math-Operations-Extensions`), and that package is the owner the override names.

mod common;

use common::project::Project;
use common::{Runtime, Vm};

/// The package that owns `Integer>>benchFib` in the runtime's image, and its protocol as the
/// image prints it.
fn owner() -> (&'static str, &'static str) {
    match Runtime::current() {
        Runtime::Squeak | Runtime::Cuis => ("Kernel-Numbers", "#benchmarks"),
        Runtime::Pharo => (
            "Math-Operations-Extensions",
            "#'*Math-Operations-Extensions'",
        ),
    }
}

/// The override, in the sample package's extension file of Integer.
const OVERRIDE: &str = "Extension { #name : 'Integer' }\n\n\
     { #category : '*Sample-Core' }\nInteger >> benchFib [\n\n\t^ 42\n]\n";

/// What the image says about its `Integer>>benchFib`: what `10 benchFib` answers, whether the
/// method is the original one (kept in `HpOriginalBenchFib`), its protocol and its source.
fn bench_fib(vm: &Vm) -> (String, String, String, String) {
    (
        vm.eval("10 benchFib"),
        vm.eval("(Integer compiledMethodAt: #benchFib) == (Smalltalk at: #HpOriginalBenchFib)"),
        vm.eval("Integer organization categoryOfElement: #benchFib"),
        vm.eval("Integer sourceCodeAt: #benchFib"),
    )
}

fn change_named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|l| l["name"] == name))
        .unwrap_or_else(|| panic!("no change {name} in {report}"))
}

/// A VM with the sample app pushed, and what its `Integer>>benchFib` is before any override
/// (the method kept in `HpOriginalBenchFib` for [`bench_fib`]).
fn start(name: &str) -> (Vm, Project, (String, String, String, String)) {
    let vm = Vm::start();
    let p = Project::new(&vm, name);
    p.run(&["push"], 0);
    vm.eval("Smalltalk at: #HpOriginalBenchFib put: (Integer compiledMethodAt: #benchFib). #kept");
    let original = bench_fib(&vm);
    (vm, p, original)
}

#[test]
fn an_override_names_whose_method_it_replaces_and_removing_or_rolling_it_back_restores_it() {
    let (vm, p, original) = start("override");
    assert_eq!(
        (
            original.0.as_str(),
            original.1.as_str(),
            original.2.as_str()
        ),
        ("177", "true", owner().1),
        "the system method before the test"
    );

    // Shown as an override before anything is sent, naming the package it replaces.
    p.write("Integer.extension.st", OVERRIDE);
    let dry = p.push_json(&["--dry-run"], 0);
    let line = change_named(&dry, "Integer>>benchFib");
    assert_eq!(line["change"], "added", "{dry}");
    assert_eq!(line["overrides"], owner().0, "{dry}");
    let text = p.run(&["push", "--dry-run"], 0);
    assert!(
        text.contains(&format!(
            "+ Integer>>benchFib (overrides {}'s method)",
            owner().0
        )),
        "{text}"
    );
    let diff = p.run(&["diff"], 1);
    assert!(
        diff.contains(&format!(
            "Integer>>benchFib: overrides {}'s method",
            owner().0
        )),
        "{diff}"
    );

    // Pushed: the new behaviour.
    let pushed = p.push_json(&[], 0);
    assert_eq!(
        change_named(&pushed, "Integer>>benchFib")["overrides"],
        owner().0,
        "{pushed}"
    );
    assert_eq!(vm.eval("10 benchFib"), "42");
    p.run(&["diff"], 0);

    // A new version of the override is still one, and keeps the same original.
    p.write("Integer.extension.st", &OVERRIDE.replace("^ 42", "^ 43"));
    let changed = p.push_json(&[], 0);
    let line = change_named(&changed, "Integer>>benchFib");
    assert_eq!(
        (&line["change"], &line["overrides"]),
        (&serde_json::json!("changed"), &serde_json::json!(owner().0)),
        "{changed}"
    );
    assert_eq!(vm.eval("10 benchFib"), "43");

    // Removed from the sources: the original comes back (not deleted), with its protocol and
    // its source; the push says so.
    std::fs::remove_file(p.file("Integer.extension.st")).expect("delete the extension file");
    let text = p.run(&["push", "--dry-run"], 0);
    assert!(
        text.contains(&format!(
            "- Integer>>benchFib (gives {}'s method back)",
            owner().0
        )),
        "{text}"
    );
    p.run(&["push"], 0);
    assert_eq!(bench_fib(&vm), original, "the original, as it was");
    p.run(&["diff"], 0);

    // Rolled back, the removal puts the override back; rolled back twice more (the new
    // version, then the override's install), the original is back.
    p.run(&["rollback"], 0);
    assert_eq!(vm.eval("10 benchFib"), "43");
    p.run(&["rollback"], 0);
    assert_eq!(vm.eval("10 benchFib"), "42");
    p.run(&["rollback"], 0);
    assert_eq!(bench_fib(&vm), original, "the original, as it was");
}

#[test]
fn the_original_of_an_override_survives_a_save_and_restart() {
    let (vm, p, original) = start("override-restart");
    p.write("Integer.extension.st", OVERRIDE);
    p.run(&["push"], 0);
    assert_eq!(vm.eval("10 benchFib"), "42");

    let vm = vm.save_and_restart();
    assert_eq!(vm.eval("10 benchFib"), "42", "the override was saved");
    std::fs::remove_file(p.file("Integer.extension.st")).expect("delete the extension file");
    let text = p.run(&["push"], 0);
    assert!(
        text.contains(&format!(
            "- Integer>>benchFib (gives {}'s method back)",
            owner().0
        )),
        "{text}"
    );
    assert_eq!(bench_fib(&vm), original, "the original, as it was");
    // Nothing is kept for it any more.
    assert_eq!(
        vm.eval("HpSourceStore default originalAt: 'Integer>>benchFib'"),
        "nil"
    );
}
