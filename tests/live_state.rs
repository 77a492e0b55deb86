//! Live state across pushes, end to end against the real VM: the `drops-live-state` guard
//! (counts, refusal, `--allow-state-loss`), values carried by `--rename-var` and by a push-up,
//! class-side initializers as Monticello runs them, exact sources after a reshape, and the
//! census running beside a busy application.

mod common;

use common::project::Project;
use common::{Runtime, Vm, runtime, skip_on};
use hotpatch::image::protocol::CensusClass;
use std::time::Duration;

/// A class file of the sample package: `vars` instance variables, `class_vars`, and methods
/// given as (side-prefixed header, body) pairs, e.g. `("SampleShape >> side", "^ side")`.
fn class_file(
    name: &str,
    superclass: &str,
    vars: &[&str],
    class_vars: &[&str],
    methods: &[(&str, &str)],
) -> String {
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "Class {{\n\t#name : '{name}',\n\t#superclass : '{superclass}',\n\t#instVars : [ {} ],\n\t#classVars : [ {} ],\n\t#package : 'Sample-Core'\n}}\n",
        list(vars),
        list(class_vars)
    );
    for (header, body) in methods {
        text.push_str(&format!(
            "\n{{ #category : 'accessing' }}\n{header} [\n\n\t{body}\n]\n"
        ));
    }
    text
}

#[test]
fn removing_a_variable_that_live_instances_use_is_refused_unless_renamed_or_allowed() {
    let vm = Vm::start();
    let p = Project::new(&vm, "guard");
    p.run(&["push"], 0);
    // One live counter (held by SampleApp default) at 3; garbage counters collected so the
    // census sees only live ones.
    assert_eq!(
        vm.eval("SampleApp default counter increment; increment; increment; count"),
        "3"
    );
    vm.eval("Smalltalk garbageCollect");

    // `count` renamed `total` in the sources: without a word, that drops the 3.
    p.edit_all("SampleCounter.class.st", "count", "total");
    p.edit_all(
        "SampleCounter.class.st",
        "SampleCounter >> total [",
        "SampleCounter >> count [",
    );
    let epoch = vm.epoch();
    let out = p.run(&["push"], 3);
    assert!(
        out.contains("SampleCounter drops instance variable count: 1 of 1 instances hold a value"),
        "{out}"
    );
    assert!(out.contains("Nothing was changed"), "{out}");
    assert_eq!(vm.epoch(), epoch, "nothing applied");
    assert_eq!(vm.strings("SampleCounter instVarNames"), ["count"]);
    // The JSON report says the same, per class and variable.
    let report = p.push_json(&[], 3);
    assert_eq!(report["outcome"], "refused", "{report}");
    assert_eq!(
        report["refused"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );

    // Said to be a rename: the value moves into the new variable.
    let report = p.push_json(&["--rename-var", "SampleCounter.count=total"], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(
        report["carried"][0],
        "SampleCounter.count renamed to total (instance variable)"
    );
    assert_eq!(vm.strings("SampleCounter instVarNames"), ["total"]);
    assert_eq!(vm.eval("SampleApp default counter count"), "3");
    assert_eq!(vm.eval("SampleApp default counter increment"), "4");
    // Rolled back: the value (as it is now) goes back into `count`.
    p.run(&["rollback"], 0);
    assert_eq!(vm.strings("SampleCounter instVarNames"), ["count"]);
    assert_eq!(vm.eval("SampleApp default counter count"), "4");
    p.run(&["push", "--rename-var", "SampleCounter.count=total"], 0);
    assert_eq!(vm.eval("SampleApp default counter count"), "4");
    // A rename that does not fit the push is a usage error; nothing is sent.
    p.edit_all("SampleCounter.class.st", "total", "sum");
    let out = p.run(&["push", "--rename-var", "SampleCounter.count=sum"], 2);
    assert!(
        out.contains("no variable count that this push removes"),
        "{out}"
    );

    // Dropped on purpose: allowed with --allow-state-loss, and the value is gone.
    let out = p.run(&["push", "--allow-state-loss"], 0);
    assert!(out.contains("pushed to local"), "{out}");
    assert_eq!(vm.strings("SampleCounter instVarNames"), ["sum"]);
    assert_eq!(vm.eval("SampleApp default counter count"), "nil");

    // A variable nobody gives a value passes the guard without a flag.
    p.edit_all("SampleCounter.class.st", "'sum'", "'sum', 'unused'");
    p.run(&["push"], 0);
    p.edit_all("SampleCounter.class.st", "'sum', 'unused'", "'sum'");
    p.run(&["push"], 0);

    // Removing a class that has live instances is refused too.
    p.write(
        "SampleShape.class.st",
        &class_file("SampleShape", "Object", &[], &[], &[]),
    );
    p.run(&["push"], 0);
    vm.eval("Smalltalk at: #HpKeptShape put: SampleShape new");
    std::fs::remove_file(p.file("SampleShape.class.st")).expect("delete class file");
    let out = p.run(&["push"], 3);
    assert!(
        out.contains("removing class SampleShape orphans its live instances (1)"),
        "{out}"
    );
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleShape"), "true");
}

#[test]
fn a_variable_moved_to_a_superclass_keeps_its_values() {
    let vm = Vm::start();
    let p = Project::new(&vm, "push-up");
    let shape = |vars: &[&str]| class_file("SampleShape", "Object", vars, &[], &[]);
    let square = |vars: &[&str], class_vars: &[&str]| {
        class_file(
            "SampleSquare",
            "SampleShape",
            vars,
            class_vars,
            &[
                ("SampleSquare >> color", "^ color"),
                ("SampleSquare >> color: aColor", "color := aColor"),
                ("SampleSquare class >> unit", "^ Unit"),
                ("SampleSquare class >> unit: aNumber", "Unit := aNumber"),
            ],
        )
    };
    p.write("SampleShape.class.st", &shape(&[]));
    p.write(
        "SampleSquare.class.st",
        &square(&["side", "color"], &["Unit"]),
    );
    p.run(&["push"], 0);
    vm.eval(
        "Smalltalk at: #HpSquares put: ((1 to: 3) collect: [ :i | SampleSquare new color: i ])",
    );
    vm.eval("SampleSquare unit: 7");
    vm.eval("Smalltalk garbageCollect");

    // `color` and the class variable `Unit` move up to SampleShape in one push.
    p.write(
        "SampleShape.class.st",
        &class_file("SampleShape", "Object", &["color"], &["Unit"], &[]),
    );
    p.write("SampleSquare.class.st", &square(&["side"], &[]));
    let report = p.push_json(&[], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(
        report["carried"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert_eq!(vm.strings("SampleShape instVarNames"), ["color"]);
    assert_eq!(vm.strings("SampleSquare instVarNames"), ["side"]);
    assert_eq!(
        vm.strings("(HpSquares collect: [ :each | each color ])"),
        ["1", "2", "3"]
    );
    assert_eq!(vm.eval("SampleSquare unit"), "7");
    // The subclass's methods now use the superclass's variable, not a stale copy.
    assert_eq!(
        vm.eval("SampleSquare unit: 9. SampleShape classPool at: #Unit"),
        "9"
    );
}

#[test]
fn class_initializers_run_when_new_or_changed_superclass_first_and_a_failure_undoes_all() {
    let vm = Vm::start();
    let p = Project::new(&vm, "init");
    let config = |init: &str, extra: &str| {
        class_file(
            "SampleConfig",
            "Object",
            &[],
            &["Level", "Log"],
            &[
                ("SampleConfig class >> initialize", init),
                ("SampleConfig class >> level", "^ Level"),
                ("SampleConfig class >> log", "^ Log"),
                (
                    "SampleConfig class >> note: aString",
                    "Log := (Log isNil ifTrue: [ '' ] ifFalse: [ Log ]) , aString",
                ),
                ("SampleConfig class >> extra", extra),
            ],
        )
    };
    // SampleAConfig sorts before SampleConfig but is its subclass: initialized after it.
    let sub = |init: &str| {
        class_file(
            "SampleAConfig",
            "SampleConfig",
            &[],
            &[],
            &[("SampleAConfig class >> initialize", init)],
        )
    };
    p.write(
        "SampleConfig.class.st",
        &config("Level := 1. self note: 'C'", "^ 1"),
    );
    p.write("SampleAConfig.class.st", &sub("self note: 'A'"));
    let report = p.push_json(&[], 0);
    let ran: Vec<&str> = report["initialized"]
        .as_array()
        .expect("initialized is listed")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        ran.starts_with(&["SampleApp"]) || ran.contains(&"SampleConfig"),
        "{report}"
    );
    let config_at = ran.iter().position(|c| *c == "SampleConfig");
    let sub_at = ran.iter().position(|c| *c == "SampleAConfig");
    assert!(
        config_at < sub_at && sub_at.is_some(),
        "superclass first: {report}"
    );
    assert_eq!(vm.eval("SampleConfig log"), "'CA'");
    assert_eq!(vm.eval("SampleConfig level"), "1");

    // An unchanged initializer does not run again.
    vm.eval("SampleConfig initialize; note: '-'");
    p.write(
        "SampleConfig.class.st",
        &config("Level := 1. self note: 'C'", "^ 2"),
    );
    let report = p.push_json(&[], 0);
    assert_eq!(report["initialized"], serde_json::json!([]), "{report}");
    assert_eq!(vm.eval("SampleConfig log"), "'CAC-'");

    // A changed one does, and the report says so.
    p.write("SampleConfig.class.st", &config("Level := 2", "^ 2"));
    let out = p.run(&["push"], 0);
    assert!(out.contains("initialized: SampleConfig"), "{out}");
    assert_eq!(vm.eval("SampleConfig level"), "2");

    // --no-initialize: installed, not run.
    p.write("SampleConfig.class.st", &config("Level := 3", "^ 2"));
    let report = p.push_json(&["--no-initialize"], 0);
    assert_eq!(report["initialized"], serde_json::json!([]), "{report}");
    assert_eq!(vm.eval("SampleConfig level"), "2");

    // A failing initializer undoes the whole batch, including what it stored.
    let epoch = vm.epoch();
    p.write(
        "SampleConfig.class.st",
        &config("Level := 4. self error: 'no config'", "^ 3"),
    );
    let out = p.run(&["push"], 4);
    assert!(out.contains("no config"), "{out}");
    assert_eq!(vm.epoch(), epoch);
    assert_eq!(vm.eval("SampleConfig level"), "2");
    assert_eq!(vm.eval("SampleConfig extra"), "2");
    p.run(&["diff"], 1);
}

#[test]
fn exact_sources_survive_a_reshape() {
    let vm = Vm::start();
    let p = Project::new(&vm, "sources");
    p.run(&["push"], 0);
    // A new instance variable first in the list moves `count` to another slot: the class
    // builder recompiles every method of the class.
    p.edit_all("SampleCounter.class.st", "'count'", "'label',\n\t\t'count'");
    p.run(&["push"], 0);
    assert_eq!(vm.strings("SampleCounter instVarNames"), ["label", "count"]);
    let out = p.run(&["diff", "--no-cache"], 0);
    assert!(!out.contains("SampleCounter>>"), "{out}");
    let out = p.run(&["push", "--no-cache"], 0);
    assert!(out.contains("already matches"), "{out}");
}

#[test]
fn the_census_counts_beside_a_running_application_and_says_unknown_at_its_limit() {
    let vm = Vm::start();
    let p = Project::new(&vm, "census");
    p.write(
        "SampleDot.class.st",
        &class_file(
            "SampleDot",
            "Object",
            &["x", "y"],
            &[],
            &[("SampleDot >> x: a", "x := a")],
        ),
    );
    p.run(&["push"], 0);
    // Many live instances, half with a value in x, and an application process that ticks.
    vm.eval("Smalltalk at: #HpDots put: ((1 to: 200000) collect: [ :i | i odd ifTrue: [ SampleDot new x: i ] ifFalse: [ SampleDot new ] ])");
    vm.start_ticker(10);
    vm.eval("Smalltalk garbageCollect");
    // The same class asked for many times over, so the census lasts long enough to watch.
    let ask = |times: usize| {
        vec![
            CensusClass {
                name: "SampleDot".into(),
                inst_vars: vec!["x".into()],
                ..Default::default()
            };
            times
        ]
    };
    let rt = runtime();
    // The census is sized by what it measures, not by this machine's speed: the class is asked
    // for more times over until one census lasts long enough to watch the ticker.
    let mut times = 30;
    let (census, ticks) = loop {
        let (census, ticks) = rt.block_on(async {
            let mut c = vm.client().await;
            let before = common::ticks(&mut c).await;
            let census = c
                .census(ask(times), Some(Duration::from_secs(120)))
                .await
                .unwrap();
            let after = common::ticks(&mut c).await;
            c.close().await;
            (census, after - before)
        });
        assert!(census.complete, "{census:?}");
        assert_eq!(census.classes.len(), times);
        if census.millis >= 300 || times >= 30 * 4 * 4 {
            break (census, ticks);
        }
        times *= 4;
    };
    let dots = &census.classes[times - 1];
    assert_eq!(dots.instances, Some(200000));
    assert_eq!(dots.vars[0].non_nil, Some(100000));
    // The application ticked (every 10 ms) while the census counted. A starved one would not
    // tick at all; a busy machine takes the VM off the CPU now and then, which costs ticks
    // whoever runs inside it (half of them at load 19 on 2 cores): a tenth of the ideal count
    // tells the two apart on any machine.
    assert!(
        census.millis >= 300 && ticks * 10 >= census.millis / 10,
        "{ticks} ticks in a census of {} ms ({times} classes asked)\n{}",
        census.millis,
        vm.logs()
    );

    // At its time limit the census answers unknown, and a push that drops x is refused.
    let census = rt.block_on(async {
        let mut c = vm.client().await;
        let census = c
            .census(ask(1), Some(Duration::from_millis(1)))
            .await
            .unwrap();
        c.close().await;
        census
    });
    assert!(!census.complete);
    assert_eq!(census.classes[0].vars[0].non_nil, None);
    assert_eq!(census.classes[0].instances, None);
}

#[test]
fn a_reshape_the_vm_cannot_migrate_is_refused_before_anything_changes() {
    let spur = "a Spur VM's become forwards objects instead of moving them and migrates \
                300,000 instances (and more): there is no refusal to provoke";
    if skip_on(Runtime::Cuis, spur) || skip_on(Runtime::Pharo, spur) {
        return;
    }
    let vm = Vm::start();
    let p = Project::new(&vm, "migrate");
    let dot = |vars: &[&str]| {
        class_file(
            "SampleDot",
            "Object",
            vars,
            &[],
            &[("SampleDot >> x: a", "x := a")],
        )
    };
    p.write("SampleDot.class.st", &dot(&["x"]));
    p.run(&["push"], 0);
    // More instances than this VM's become primitive forwards at once (300,000 fail here).
    vm.eval(
        "(Smalltalk at: #HpDots put: ((1 to: 300000) collect: [ :i | SampleDot new x: i ])) size",
    );
    vm.eval("Smalltalk garbageCollect");
    let epoch = vm.epoch();
    p.write("SampleDot.class.st", &dot(&["x", "y"]));
    let out = p.run(&["push"], 4);
    assert!(
        out.contains(
            "SampleDot and its subclasses have 300000 live instances, more than this VM can migrate"
        ),
        "{out}"
    );
    // Nothing changed: the class, every instance, the epoch, the journal.
    assert_eq!(vm.epoch(), epoch);
    assert_eq!(vm.strings("SampleDot instVarNames"), ["x"]);
    assert_eq!(
        vm.eval("(HpDots detect: [ :each | each class ~~ SampleDot ] ifNone: [ nil ]) isNil"),
        "true"
    );
    assert_eq!(vm.eval("(HpDots at: 7) instVarAt: 1"), "7");
    let out = p.run(&["diff", "--no-cache", "--stat"], 1);
    assert!(out.contains("SampleDot"), "{out}");
    // The last batch is still the one that created SampleDot.
    p.run(&["rollback"], 0);
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleDot"), "false");
}

#[test]
fn a_failed_batch_that_drops_variables_puts_their_values_back() {
    let vm = Vm::start();
    let p = Project::new(&vm, "undo-drop");
    let bin = |vars: &[&str], class_vars: &[&str], methods: &[(&str, &str)]| {
        class_file("SampleBin", "Object", vars, class_vars, methods)
    };
    p.write(
        "SampleBin.class.st",
        &bin(
            &["size", "label"],
            &["Made"],
            &[
                ("SampleBin >> label", "^ label"),
                ("SampleBin >> label: aString", "label := aString"),
                ("SampleBin class >> made", "^ Made"),
                ("SampleBin class >> made: aNumber", "Made := aNumber"),
            ],
        ),
    );
    p.run(&["push"], 0);
    vm.eval(
        "(Smalltalk at: #HpBins put: ((1 to: 3) collect: [ :i | SampleBin new label: i ])) size",
    );
    vm.eval("SampleBin made: 3");
    let epoch = vm.epoch();
    // Drop `label` and `Made` on purpose, in a batch whose new class initializer fails.
    p.write(
        "SampleBin.class.st",
        &bin(
            &["size"],
            &[],
            &[("SampleBin class >> initialize", "self error: 'no bins'")],
        ),
    );
    let out = p.run(&["push", "--allow-state-loss"], 4);
    assert!(out.contains("no bins"), "{out}");
    assert_eq!(vm.epoch(), epoch);
    assert_eq!(vm.strings("SampleBin instVarNames"), ["size", "label"]);
    assert_eq!(
        vm.strings("(HpBins collect: [ :each | each label ])"),
        ["1", "2", "3"]
    );
    assert_eq!(vm.eval("SampleBin made"), "3");
}

#[test]
fn renamed_class_instance_and_class_variables_keep_their_values() {
    let vm = Vm::start();
    let p = Project::new(&vm, "rename-class-side");
    let registry = |slot: &str, shared: &str| {
        format!(
            "Class {{\n\t#name : 'SampleRegistry',\n\t#superclass : 'Object',\n\t#classVars : [ '{shared}' ],\n\t#classInstVars : [ '{slot}' ],\n\t#package : 'Sample-Core'\n}}\n\n\
             {{ #category : 'accessing' }}\nSampleRegistry class >> slot [\n\n\t^ {slot}\n]\n\n\
             {{ #category : 'accessing' }}\nSampleRegistry class >> slot: anObject [\n\n\t{slot} := anObject\n]\n\n\
             {{ #category : 'accessing' }}\nSampleRegistry class >> shared [\n\n\t^ {shared}\n]\n\n\
             {{ #category : 'accessing' }}\nSampleRegistry class >> shared: anObject [\n\n\t{shared} := anObject\n]\n"
        )
    };
    p.write("SampleRegistry.class.st", &registry("cache", "Default"));
    p.write(
        "SampleSubRegistry.class.st",
        &class_file("SampleSubRegistry", "SampleRegistry", &[], &[], &[]),
    );
    p.run(&["push"], 0);
    vm.eval("SampleRegistry slot: 1; shared: 2. SampleSubRegistry slot: 10");

    p.write("SampleRegistry.class.st", &registry("store", "Current"));
    let out = p.run(&["push"], 3);
    assert!(
        out.contains("class-instance variable cache: 2 hold a value"),
        "{out}"
    );
    assert!(
        out.contains("class variable Default holds a value"),
        "{out}"
    );
    let report = p.push_json(
        &[
            "--rename-var",
            "SampleRegistry.cache=store",
            "--rename-var",
            "SampleRegistry.Default=Current",
        ],
        0,
    );
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(vm.strings("SampleRegistry class instVarNames"), ["store"]);
    assert_eq!(vm.eval("SampleRegistry slot"), "1");
    assert_eq!(vm.eval("SampleSubRegistry slot"), "10");
    assert_eq!(vm.eval("SampleRegistry shared"), "2");
}

#[test]
fn the_census_counts_only_live_objects_so_dropped_instances_do_not_keep_a_class() {
    let vm = Vm::start();
    let p = Project::new(&vm, "garbage");
    p.write(
        "SampleShape.class.st",
        &class_file("SampleShape", "Object", &[], &[], &[]),
    );
    p.run(&["push"], 0);
    // Three temporary instances, made old (a full collection while something holds them, so
    // that no young-space collection frees them by chance during the push), then dropped:
    // garbage, but still in the object memory until the next full collection.
    assert_eq!(
        vm.eval(&format!(
            "Smalltalk at: #HpTemporaryShapes put: ((1 to: 3) collect: [:i | SampleShape new]). \
             Smalltalk garbageCollect. {} removeKey: #HpTemporaryShapes. \
             SampleShape instanceCount",
            Runtime::current().globals()
        )),
        "3",
        "three instances, unreachable now but not collected yet"
    );
    std::fs::remove_file(p.file("SampleShape.class.st")).expect("delete class file");
    let report = p.push_json(&[], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleShape"), "false");
}
