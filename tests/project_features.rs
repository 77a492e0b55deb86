//! Features real Tonel projects carry (NeoJSON, PolyMath and their like, written by Pharo 7/8),
//! end to end against the real VM, on a project of our own (`tests/fixtures/features`): Tonel v1
//! headers (symbols everywhere, `#category` with a tag), a class without a comment, class
//! variables of both cases (one lower-case), `#type : #words`, `#bytes` and `#variable`, a class
//! initializer, extension methods on both sides of a system class (one in a `*Package-Tag`
//! protocol), a string literal that spans lines. Pushed into a fresh image, the code runs there; right after the push `diff` (cached
//! and fresh) and `status` find nothing, `pull` has nothing to take, and a second push nothing to
//! send.

mod common;

use common::project::Project;
use common::{Runtime, Vm, repo, skip_on};

/// A copy of the fixture project named `name` (one per test: tests run at once).
fn features(vm: &Vm, name: &str) -> Project {
    Project::copy_of(&repo().join("tests/fixtures/features"), vm, name)
}

/// The Tonel files of the project, for comparing before and after a command.
fn files(p: &Project) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = walkdir::WalkDir::new(p.dir.join("src"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("read a source file");
            (e.path().display().to_string(), text)
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_project_with_the_features_of_real_ones_pushes_runs_and_stays_clean() {
    let vm = Vm::start();
    let p = features(&vm, "features");

    let report = p.push_json(&[], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(report["counts"]["classes_added"], 5, "{report}");
    assert_eq!(
        report["initialized"],
        serde_json::json!(["HpFeatureTable"]),
        "{report}"
    );

    // The code runs.
    assert_eq!(vm.eval("(HpFeatureBare left: 3 right: 4) sum"), "7");
    assert_eq!(vm.eval("HpFeatureTable defaultSize"), "16");
    assert_eq!(vm.eval("HpFeatureTable new size"), "16");
    assert_eq!(vm.eval("HpFeatureTable made"), "1");
    assert_eq!(
        vm.eval("(HpFeatureWords new: 3) at: 1 put: 7; at: 3 put: 4000000000; total"),
        "4000000007"
    );
    assert_eq!(
        vm.eval("(HpFeatureBytes new: 4) at: 2 put: 255; highest"),
        "255"
    );
    assert_eq!(
        vm.eval("(HpFeatureSlots new: 5) label: 'x'; basicAt: 2 put: 1; filled"),
        "1"
    );
    assert_eq!(vm.eval("21 hpFeatureDoubled"), "42");
    // A string literal that spans lines holds the image's own line ending where a loader of that
    // dialect would put it there: Pharo's Monticello loads Tonel sources with CR (13); Cuis
    // keeps LF (10), its newline; the Squeak test image compiles the source as sent (LF).
    let newline = if Runtime::current() == Runtime::Pharo {
        "13"
    } else {
        "10"
    };
    assert_eq!(
        vm.eval("(HpFeatureBare new report at: 5) asciiValue"),
        newline
    );
    assert_eq!(vm.eval("HpFeatureBare hpFeatureKind"), "#feature");
    assert_eq!(vm.eval("3 hpFeatureIsFixture"), "false");
    assert_eq!(vm.eval("HpFeatureWords isWords"), "true");
    assert_eq!(
        vm.eval("HpFeatureBytes isBytes & HpFeatureSlots isVariable"),
        "true"
    );

    clean_after_push(&p);
}

/// Right after a push nothing differs, whether from the cache or read fresh; there is no drift,
/// nothing to pull (no file is touched) and nothing to push again, even reading the image afresh.
fn clean_after_push(p: &Project) {
    p.run(&["diff"], 0);
    p.run(&["diff", "--no-cache"], 0);
    let status = p.run(&["status"], 0);
    assert!(status.contains("drift    none"), "{status}");
    let before = files(p);
    let out = p.run(&["pull"], 0);
    assert!(out.contains("nothing to pull"), "{out}");
    assert_eq!(files(p), before, "pull changed files");
    let again = p.push_json(&["--no-cache"], 0);
    assert_eq!(again["outcome"], "nothing_to_push", "{again}");
}

/// A test class without a comment, as real projects' test packages have them: Pharo answers a
/// made-up comment for it (`TestCase class>>comment`, or its `classCommentBlank`) and says it has
/// one (`hasComment` is true for every test class); it must still diff clean.
#[test]
fn a_test_class_without_a_comment_diffs_clean() {
    if skip_on(
        Runtime::Squeak,
        "the Squeak test image has no SUnit (no TestCase to subclass)",
    ) {
        return;
    }
    let vm = Vm::start();
    let p = features(&vm, "test-class");
    std::fs::write(
        p.dir.join("src/Hp-Features/HpFeatureBareTest.class.st"),
        "Class {\n\t#name : #HpFeatureBareTest,\n\t#superclass : #TestCase,\n\t#category : #'Hp-Features-Tests'\n}\n\n\
         { #category : #tests }\nHpFeatureBareTest >> testSum [\n\tself assert: (HpFeatureBare left: 1 right: 2) sum equals: 3\n]\n",
    )
    .expect("write the test class");
    let report = p.push_json(&[], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(
        vm.eval("(HpFeatureBareTest run: #testSum) passed size"),
        "1"
    );
    clean_after_push(&p);
}
