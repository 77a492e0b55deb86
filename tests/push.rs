//! `hotpatch push`, `diff` and `rollback` end to end: the real `hotpatch` binary pushes the sample
//! application (examples/sample-app) into a real VM running the agent; every outcome is checked
//! by asking the image.

mod common;

use common::Vm;
use common::project::Project;
use std::process::Command;

#[test]
fn push_edit_add_remove_and_roll_back() {
    let vm = Vm::start();
    let p = Project::new(&vm, "cycle");

    // A fresh image has nothing of the app: diff says so (exit 1), push installs it all.
    p.run(&["diff", "--stat"], 1);
    let out = p.run(&["push"], 0);
    assert!(out.contains("pushed to local"), "{out}");
    assert_eq!(
        vm.eval("SampleApp default greet: 'world'"),
        "'Hello, WORLD!'"
    );
    // The second push finds nothing to do, and so does diff.
    let out = p.run(&["push"], 0);
    assert!(out.contains("already matches"), "{out}");
    p.run(&["diff"], 0);

    // Live state that must survive the pushes below.
    assert_eq!(
        vm.eval("SampleApp default counter increment; increment; count"),
        "2"
    );

    // Edit a method.
    p.edit("SampleApp.class.st", "'Hello, '", "'Hi, '");
    let out = p.run(&["diff"], 1);
    assert!(out.contains("~ SampleApp>>greet:"), "{out}");
    p.run(&["push"], 0);
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, X!'");

    // Add a method and remove one (setUp's work moves into a new method).
    p.replace_set_up_with_reset();
    let out = p.hotpatch(&["push", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("push --json is JSON");
    assert_eq!(report["outcome"], "applied");
    assert_eq!(report["counts"]["methods_added"], 1, "{report}");
    assert_eq!(report["counts"]["methods_removed"], 1, "{report}");
    assert_eq!(vm.eval("SampleCounter new respondsTo: #setUp"), "false");
    assert_eq!(vm.eval("SampleCounter new increment"), "1");
    assert_eq!(
        vm.eval("SampleApp default counter count"),
        "2",
        "live instance kept its state"
    );

    // Roll back the last push: setUp is back, reset gone, the counter still counts.
    let out = p.run(&["rollback"], 0);
    assert!(out.contains("rolled back"), "{out}");
    assert_eq!(vm.eval("SampleCounter new respondsTo: #setUp"), "true");
    assert_eq!(vm.eval("SampleCounter new respondsTo: #reset"), "false");
    // ...and so the sources differ from the image again.
    p.run(&["diff"], 1);
}

#[test]
fn new_instance_variable_keeps_live_instances_and_classes_come_and_go() {
    let vm = Vm::start();
    let p = Project::new(&vm, "shape");
    p.run(&["push"], 0);
    assert_eq!(
        vm.eval("SampleApp default counter increment; increment; increment; count"),
        "3"
    );

    // Add an instance variable to a class with a live instance, and use it.
    p.edit("SampleCounter.class.st", "'count'", "'count',\n\t\t'step'");
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + (step isNil ifTrue: [ 1 ] ifFalse: [ step ]).",
    );
    p.edit(
        "SampleCounter.class.st",
        "{ #category : 'accessing' }\nSampleCounter >> count [",
        "{ #category : 'accessing' }\nSampleCounter >> step: anInteger [\n\n\tstep := anInteger\n]\n\n{ #category : 'accessing' }\nSampleCounter >> count [",
    );
    p.run(&["push"], 0);
    assert_eq!(vm.eval("SampleCounter instVarNames size"), "2");
    assert_eq!(
        vm.eval("SampleApp default counter count"),
        "3",
        "state kept across the reshape"
    );
    assert_eq!(
        vm.eval("SampleApp default counter step: 10; increment"),
        "13"
    );

    // Add a class in a new file, then remove it.
    p.write(
        "SampleTimer.class.st",
        "Class {\n\t#name : 'SampleTimer',\n\t#superclass : 'SampleCounter',\n\t#package : 'Sample-Core'\n}\n\n{ #category : 'accessing' }\nSampleTimer >> tick [\n\n\t^ self increment\n]\n",
    );
    p.run(&["push"], 0);
    assert_eq!(vm.eval("SampleTimer new tick"), "1");
    assert_eq!(vm.eval("SampleTimer superclass name"), "#SampleCounter");
    // The instance `tick` ran on is garbage, but the census counts it until it is collected,
    // and a Spur VM (Cuis, Pharo) may not have collected it yet.
    vm.eval("Smalltalk garbageCollect");
    std::fs::remove_file(p.file("SampleTimer.class.st")).expect("delete class file");
    let out = p.run(&["push"], 0);
    assert!(out.contains("- class SampleTimer"), "{out}");
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleTimer"), "false");
}

#[test]
fn compile_error_points_at_the_tonel_line_and_changes_nothing() {
    let vm = Vm::start();
    let p = Project::new(&vm, "broken");
    p.run(&["push"], 0);
    let epoch = vm.epoch();

    // Break one method (a name only the image can tell is undeclared: the client's syntax
    // check lets it through) and change another in the same push.
    p.edit("SampleApp.class.st", "'Hello, '", "'Howdy, '");
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := cuont + 1.",
    );
    let text = std::fs::read_to_string(p.file("SampleCounter.class.st")).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("count := cuont + 1."))
        .expect("broken line")
        + 1;
    let out = p.run(&["push"], 4);
    let expected = format!("SampleCounter.class.st:{line}:11: Undeclared variable: cuont");
    assert!(out.contains(&expected), "expected {expected} in:\n{out}");
    assert!(out.contains("image is unchanged"), "{out}");
    // Nothing of the batch was applied: not even the good method.
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hello, X!'");
    assert_eq!(vm.epoch(), epoch);
}

#[test]
fn one_file_push_and_changes_that_need_a_rebuild() {
    let vm = Vm::start();
    let p = Project::new(&vm, "scope");
    p.run(&["push"], 0);

    // The editor hook pushes one file: only that class is compared and changed.
    p.edit("SampleApp.class.st", "'Hello, '", "'Hey, '");
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + 2.",
    );
    let file = p.file("SampleApp.class.st");
    let out = p.run(&["push", file.to_str().expect("utf-8 path")], 0);
    assert!(out.contains("~ SampleApp>>greet:"), "{out}");
    assert!(!out.contains("SampleCounter"), "{out}");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hey, X!'");
    assert_eq!(vm.eval("SampleCounter new increment"), "1");

    // A layout change cannot go live: refused with the reason, nothing applied.
    p.edit(
        "SampleCounter.class.st",
        "#superclass : 'Object',",
        "#superclass : 'Object',\n\t#type : 'variable',",
    );
    let out = p.run(&["push"], 3);
    assert!(
        out.contains("SampleCounter") && out.contains("layout"),
        "{out}"
    );
    assert_eq!(
        vm.eval("SampleCounter new increment"),
        "1",
        "nothing applied"
    );
    assert_eq!(vm.eval("SampleCounter isVariable"), "false");
}

#[test]
fn watch_pushes_each_file_as_it_is_saved() {
    let vm = Vm::start();
    let p = Project::new(&vm, "watch");
    p.run(&["push"], 0);
    let log_path = p.dir.join("watch.log");
    let log = std::fs::File::create(&log_path).expect("create watch.log");
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .arg("watch")
        .current_dir(&p.dir)
        .env("HOTPATCH_TOKEN", &p.token)
        .stderr(log)
        .spawn()
        .expect("start hotpatch watch");
    let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Waits while the watcher runs (it ends on an error), with no fixed clock.
    let mut until = |what: &dyn Fn() -> bool| {
        common::wait_while_running(what, || matches!(watcher.try_wait(), Ok(None))).is_ok()
    };
    assert!(
        until(&|| log_text().contains("watching")),
        "watch did not start:\n{}",
        log_text()
    );

    // Save an edited file: the watcher pushes it.
    p.edit("SampleApp.class.st", "'Hello, '", "'Saved, '");
    let pushed = until(&|| vm.eval("SampleApp default greet: 'x'") == "'Saved, X!'");
    // Save a file with a syntax error: nothing is sent, the error names the file.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + .",
    );
    let refused = until(&|| log_text().contains("SampleCounter.class.st:"));
    let _ = watcher.kill();
    let _ = watcher.wait();
    let log = log_text();
    assert!(pushed, "the saved change did not reach the image:\n{log}");
    assert!(refused, "the syntax error was not reported:\n{log}");
    assert!(
        log.contains("not pushed (syntax errors); nothing was sent"),
        "{log}"
    );
    assert_eq!(
        vm.eval("SampleCounter new increment"),
        "1",
        "the broken method was not installed"
    );
}

/// What the image holds for the sample app's package, read afresh, in a canonical order.
fn fresh_snapshot(vm: &Vm) -> hotpatch::image::protocol::SnapshotResult {
    let snapshot = common::runtime().block_on(async {
        let mut c = vm.client().await;
        let s = c
            .snapshot(vec!["Sample-Core".into()], None, None)
            .await
            .unwrap_or_else(|e| panic!("snapshot: {e}\n{}", vm.logs()));
        c.close().await;
        s
    });
    canonical(snapshot)
}

/// The project's cached snapshot of its target, in the same order as [`fresh_snapshot`].
fn cached_snapshot(p: &Project) -> hotpatch::image::protocol::SnapshotResult {
    let cache = hotpatch::ops::compare::SnapshotCache::new(&p.dir, "local");
    canonical(cache.snapshot().expect("a cached snapshot"))
}

fn canonical(
    mut s: hotpatch::image::protocol::SnapshotResult,
) -> hotpatch::image::protocol::SnapshotResult {
    let by_key = |a: &hotpatch::image::protocol::WireMethod,
                  b: &hotpatch::image::protocol::WireMethod| {
        (a.class_name.as_str(), a.side as u8, a.selector.as_str()).cmp(&(
            b.class_name.as_str(),
            b.side as u8,
            b.selector.as_str(),
        ))
    };
    for p in &mut s.packages {
        p.classes.sort_by(|a, b| a.name.cmp(&b.name));
        for c in &mut p.classes {
            c.methods.sort_by(by_key);
            c.subclasses.sort();
        }
        p.extensions.sort_by(|a, b| a.class_name.cmp(&b.class_name));
        for e in &mut p.extensions {
            e.methods.sort_by(by_key);
        }
    }
    s
}

#[test]
fn save_hook_pushes_diff_against_the_advanced_snapshot_and_leave_the_image_matching() {
    let vm = Vm::start();
    let p = Project::new(&vm, "save-hook");
    p.run(&["push"], 0);
    let app = p.file("SampleApp.class.st");
    let counter = p.file("SampleCounter.class.st");
    let app = app.to_str().expect("utf-8 path");
    let counter = counter.to_str().expect("utf-8 path");

    // Edit a method, save (the hook pushes the file); edit another, in another file, save.
    p.edit("SampleApp.class.st", "'Hello, '", "'Hi, '");
    let first = p.push_json(&[app], 0);
    assert_eq!(first["outcome"], "applied", "{first}");
    assert_eq!(
        first["from_cache"], true,
        "the whole push advanced the cache: {first}"
    );
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + 2.",
    );
    let second = p.push_json(&[counter], 0);
    assert_eq!(second["outcome"], "applied", "{second}");
    assert_eq!(
        second["from_cache"], true,
        "no snapshot transferred: {second}"
    );
    assert_eq!(second["counts"]["methods_changed"], 1, "{second}");

    // A new class in a new file, a method added and one removed: still from the cache.
    p.write(
        "SampleTimer.class.st",
        "Class {\n\t#name : 'SampleTimer',\n\t#superclass : 'SampleCounter',\n\t#package : 'Sample-Core'\n}\n\n{ #category : 'accessing' }\nSampleTimer >> tick [\n\n\t^ self increment\n]\n",
    );
    let timer = p.file("SampleTimer.class.st");
    let third = p.push_json(&[timer.to_str().expect("utf-8 path")], 0);
    assert_eq!(
        (&third["from_cache"], &third["counts"]["classes_added"]),
        (&serde_json::json!(true), &serde_json::json!(1)),
        "{third}"
    );
    p.edit(
        "SampleCounter.class.st",
        "{ #category : 'accessing' }\nSampleCounter >> count [",
        "{ #category : 'accessing' }\nSampleCounter >> double [\n\n\t^ count * 2\n]\n\n{ #category : 'accessing' }\nSampleCounter >> count [",
    );
    let fourth = p.push_json(&[counter], 0);
    assert_eq!(fourth["from_cache"], true, "{fourth}");
    assert_eq!(fourth["counts"]["methods_added"], 1, "{fourth}");
    // Asked only now: every eval makes the next push read the image again (it may have changed
    // code without moving the epoch).
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, X!'");
    assert_eq!(vm.eval("SampleCounter new increment"), "2");
    assert_eq!(vm.eval("SampleTimer new tick; tick"), "4");

    // The image matches the sources when read afresh, and the cache holds exactly what the
    // image holds, at the image's epoch.
    let out = p.run(&["diff", "--no-cache"], 0);
    assert!(out.contains("no differences"), "{out}");
    let (cached, fresh) = (cached_snapshot(&p), fresh_snapshot(&vm));
    assert_eq!(cached.epoch, vm.epoch());
    assert_eq!(cached.packages, fresh.packages);
}

#[test]
fn a_push_from_another_checkout_in_between_is_seen_by_the_next_push() {
    let vm = Vm::start();
    let mine = Project::new(&vm, "mine");
    let theirs = Project::new(&vm, "theirs");
    mine.run(&["push"], 0);
    let counter = mine.file("SampleCounter.class.st");
    let counter = counter.to_str().expect("utf-8 path");
    mine.edit("SampleCounter.class.st", "count := 0", "count := 5");
    let cached = mine.push_json(&[counter], 0);
    assert_eq!(cached["from_cache"], true, "{cached}");

    // Someone else pushes another version of increment (the epoch moves on)...
    theirs.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + 10.",
    );
    theirs.run(&["push"], 0);
    assert_eq!(vm.eval("SampleCounter new increment"), "10");

    // ...so my next save-hook push reads the image again, sees their change and undoes it
    // along with pushing mine: the image ends up matching my sources exactly.
    mine.edit("SampleCounter.class.st", "count := 5", "count := 7");
    let report = mine.push_json(&[counter], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(report["from_cache"], false, "{report}");
    assert_eq!(report["counts"]["methods_changed"], 2, "{report}");
    assert_eq!(vm.eval("SampleCounter new increment"), "8");
    mine.run(&["diff", "--no-cache"], 0);
    assert_eq!(
        cached_snapshot(&mine).packages,
        fresh_snapshot(&vm).packages
    );

    // Their cache is behind too: their diff reads the image and shows my change.
    let out = theirs.run(&["diff"], 1);
    assert!(out.contains("~ SampleCounter>>setUp"), "{out}");
    assert!(out.contains("~ SampleCounter>>increment"), "{out}");
}

/// A push long enough for the agent to report progress, run as deploy jobs run it (stderr and
/// stdout not terminals): no progress bar, nothing on stderr, the JSON report alone on stdout,
/// with the agent's per-phase milliseconds.
#[test]
fn a_long_push_off_a_terminal_prints_no_progress() {
    let vm = Vm::start();
    let p = Project::new(&vm, "long");
    let mut text = String::from(
        "Class {\n\t#name : 'SampleBulk',\n\t#superclass : 'Object',\n\t#instVars : [ 'total' ],\n\t#package : 'Sample-Core'\n}\n",
    );
    for m in 0..1500 {
        text.push_str(&format!(
            "\n{{ #category : 'generated' }}\nSampleBulk >> m{m}: anArray [\n\n\t| sum |\n\tsum := 0.\n\tanArray do: [ :each | each even ifTrue: [ sum := sum + each ] ].\n\ttotal := sum + {m}.\n\t^ total\n]\n"
        ));
    }
    p.write("SampleBulk.class.st", &text);
    for json in [false, true] {
        let args: &[&str] = if json { &["push", "--json"] } else { &["push"] };
        let out = p.hotpatch(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(
            stderr.is_empty(),
            "push {args:?} wrote to stderr: {stderr:?}"
        );
        if json {
            let report: serde_json::Value =
                serde_json::from_str(&stdout).expect("push --json prints JSON alone");
            assert_eq!(report["outcome"], "applied", "{report}");
            assert!(
                report["millis"]["agent"]["compile"].is_u64()
                    && report["millis"]["agent"]["install"].is_u64(),
                "{report}"
            );
        } else {
            assert!(!stdout.contains("compiling"), "{stdout}");
            assert!(stdout.contains("pushed to local"), "{stdout}");
        }
        if !json {
            // Make the JSON run apply a batch too: change every method.
            p.edit_all("SampleBulk.class.st", "sum := 0.", "sum := 1.");
        }
    }
    assert_eq!(vm.eval("SampleBulk new m7: #(2 4)"), "14");
}
