//! Application hooks end to end (PROTOCOL.md, Hooks): the real `hotpatch` binary pushes into a
//! real VM, and every outcome is checked by asking the image. A route table the application
//! builds at start is rebuilt by a hook after a push adds a handler (and after a rollback takes
//! it back); a failing hook (error, halt, endless loop, a process that ends itself) undoes the
//! batch unless the configuration says its failure is only reported; the class-side
//! `hotpatchChanged:` of a package is told exactly which of its classes and methods changed.

mod common;

use common::Vm;
use common::project::Project;

/// A route table as a web application keeps one: built at start (class-side `initialize`) from
/// the handler methods (`handleNAME` answers the page for the route `name`), held in a class
/// variable. A handler added later is not routed until the table is built again. `after_build`
/// is code `rebuild` runs once the new table is in place (to make it fail then).
fn routes_class(handlers: &[(&str, &str)], after_build: &str) -> String {
    let mut text = String::from(
        "Class {\n\t#name : 'SampleRoutes',\n\t#superclass : 'Object',\n\t#classVars : [ 'Routes' ],\n\t#package : 'Sample-Core'\n}\n\
         \n{ #category : 'class initialization' }\nSampleRoutes class >> initialize [\n\n\tself rebuild\n]\n",
    );
    text.push_str(&format!(
        "\n{{ #category : 'routing' }}\nSampleRoutes class >> rebuild [\n\n\tRoutes := Dictionary new.\n\
         \tself selectors do: [ :each |\n\t\t(each size > 6 and: [ (each copyFrom: 1 to: 6) = 'handle' ])\n\
         \t\t\tifTrue: [ Routes at: (each copyFrom: 7 to: each size) asLowercase put: each ] ].\n\t{after_build}^ Routes size\n]\n"
    ));
    text.push_str(
        "\n{ #category : 'routing' }\nSampleRoutes class >> route: aPath [\n\n\t| selector |\n\
         \tselector := Routes at: aPath ifAbsent: [ ^ 'no route' ].\n\t^ self new perform: selector\n]\n",
    );
    for (name, page) in handlers {
        text.push_str(&format!(
            "\n{{ #category : 'handlers' }}\nSampleRoutes >> handle{name} [\n\n\t^ '{page}'\n]\n"
        ));
    }
    text
}

/// Appends `lines` to the project's hotpatch.toml.
fn configure(p: &Project, lines: &str) {
    let path = p.dir.join("hotpatch.toml");
    let mut text = std::fs::read_to_string(&path).expect("read hotpatch.toml");
    text.push('\n');
    text.push_str(lines);
    std::fs::write(&path, text).expect("write hotpatch.toml");
}

#[test]
fn a_hook_rebuilds_the_route_table_after_a_push_and_after_a_rollback() {
    let vm = Vm::start();
    let p = Project::new(&vm, "routes");
    configure(&p, "[hooks]\nafter_change = \"SampleRoutes rebuild\"\n");
    p.write(
        "SampleRoutes.class.st",
        &routes_class(&[("Hello", "hello")], ""),
    );
    let report = p.push_json(&[], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(vm.eval("SampleRoutes route: 'hello'"), "'hello'");

    // A new handler: the hook builds the table again, so it is routed at once.
    p.write(
        "SampleRoutes.class.st",
        &routes_class(&[("Hello", "hello"), ("Bye", "goodbye")], ""),
    );
    let report = p.push_json(&[], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    let hooks = report["hooks"].as_array().expect("hooks are reported");
    assert_eq!(hooks.len(), 1, "{report}");
    assert_eq!(hooks[0]["name"], "SampleRoutes rebuild", "{report}");
    assert_eq!(hooks[0]["kind"], "expression", "{report}");
    assert_eq!(hooks[0]["outcome"], "done", "{report}");
    assert_eq!(vm.eval("SampleRoutes route: 'bye'"), "'goodbye'");

    // The control: pushed without hooks, a new handler is installed but not routed (the
    // application keeps its old registrations, which is what hooks are for).
    p.write(
        "SampleRoutes.class.st",
        &routes_class(&[("Hello", "hello"), ("Bye", "goodbye"), ("Hi", "hi")], ""),
    );
    let report = p.push_json(&["--no-hooks"], 0);
    assert_eq!(report["hooks"], serde_json::json!([]), "{report}");
    assert_eq!(vm.eval("SampleRoutes new handleHi"), "'hi'");
    assert_eq!(vm.eval("SampleRoutes route: 'hi'"), "'no route'");

    // The audit log says which hooks ran and how they ended.
    let out = p.run(&["log", "--json", "-n", "2"], 0);
    let log: serde_json::Value = serde_json::from_str(&out).expect("log --json is JSON");
    let entries = log["log"]["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["hooks"], serde_json::json!([]), "{log}");
    assert_eq!(
        entries[1]["hooks"][0]["name"], "SampleRoutes rebuild",
        "{log}"
    );
    assert_eq!(entries[1]["hooks"][0]["outcome"], "done", "{log}");
    let out = p.run(&["log", "-n", "2"], 0);
    assert!(
        out.contains("hook: the expression `SampleRoutes rebuild` done"),
        "{out}"
    );

    // Rolled back: the hook runs on the code as it was, and the route of the handler the
    // rollback took away is gone (the --no-hooks push first, then the one that added Bye).
    p.run(&["rollback"], 0);
    p.run(&["rollback"], 0);
    assert_eq!(vm.eval("SampleRoutes new respondsTo: #handleBye"), "false");
    assert_eq!(vm.eval("SampleRoutes route: 'bye'"), "'no route'");
    assert_eq!(vm.eval("SampleRoutes route: 'hello'"), "'hello'");
    let out = p.run(&["log", "--json", "-n", "1"], 0);
    let log: serde_json::Value = serde_json::from_str(&out).expect("log --json is JSON");
    let entry = &log["log"]["entries"][0];
    assert_eq!(entry["event"], "rollback", "{log}");
    assert_eq!(entry["hooks"][0]["outcome"], "done", "{log}");
}

#[test]
fn a_failing_hook_undoes_the_batch_unless_its_failure_is_only_reported() {
    let vm = Vm::start();
    let p = Project::new(&vm, "failing");
    p.write(
        "SampleRoutes.class.st",
        &routes_class(&[("Hello", "hello")], ""),
    );
    p.run(&["push"], 0);
    let epoch = vm.epoch();

    // The new `rebuild` fails once it has put a table with the new handler in place: with the
    // hook configured, the whole batch is undone, then the hook runs again on the old code, so
    // the application's table is the old one again (no route to the handler that is gone).
    configure(&p, "[hooks]\nafter_change = \"SampleRoutes rebuild\"\n");
    p.write(
        "SampleRoutes.class.st",
        &routes_class(
            &[("Hello", "hello"), ("Bye", "goodbye")],
            "self error: 'duplicate route'.\n\t",
        ),
    );
    let out = p.run(&["push"], 4);
    assert!(
        out.contains("hook: the expression `SampleRoutes rebuild` failed")
            && out.contains("duplicate route"),
        "the message names the hook and the error: {out}"
    );
    assert!(out.contains("the image is unchanged"), "{out}");
    assert_eq!(vm.epoch(), epoch, "nothing applied");
    assert_eq!(vm.eval("SampleRoutes new respondsTo: #handleBye"), "false");
    assert_eq!(vm.eval("SampleRoutes route: 'hello'"), "'hello'");
    assert_eq!(vm.eval("SampleRoutes route: 'bye'"), "'no route'");
    p.run(&["diff"], 1);
    let failure = p.push_json(&[], 4);
    assert_eq!(failure["error"]["kind"], "apply_failed", "{failure}");
    assert_eq!(
        failure["error"]["hooks"][0]["outcome"], "failed",
        "{failure}"
    );
    assert_eq!(
        failure["error"]["hooks_after_undo"][0]["outcome"], "done",
        "the hook ran again on the old code: {failure}"
    );
    assert_eq!(vm.epoch(), epoch);

    // Every way of not finishing counts: a halt, an endless loop (the time limit), a process
    // that ends itself. Each undoes the batch.
    p.write(
        "SampleRoutes.class.st",
        &routes_class(&[("Hello", "hello"), ("Bye", "goodbye")], ""),
    );
    for (expression, outcome) in [
        ("SampleRoutes rebuild. nil halt", "stopped"),
        ("SampleRoutes rebuild. [ true ] whileTrue", "timed_out"),
        (
            "SampleRoutes rebuild. Processor activeProcess terminate",
            "stopped",
        ),
    ] {
        let set = format!("hooks.after_change={expression}");
        let failure = p.push_json(&["--set", &set], 4);
        let hooks = &failure["error"]["hooks"];
        assert_eq!(hooks[0]["name"], expression, "{failure}");
        assert_eq!(hooks[0]["outcome"], outcome, "{expression}: {failure}");
        assert_eq!(vm.epoch(), epoch, "{expression}: nothing applied");
        assert_eq!(vm.eval("SampleRoutes new respondsTo: #handleBye"), "false");
        assert_eq!(vm.eval("SampleRoutes route: 'hello'"), "'hello'");
        assert_eq!(vm.eval("SampleRoutes route: 'bye'"), "'no route'");
    }
    // The agent serves on, and the batch goes in once the hook works.
    let report = p.push_json(&[], 0);
    assert_eq!(report["hooks"][0]["outcome"], "done", "{report}");
    assert_eq!(vm.eval("SampleRoutes route: 'bye'"), "'goodbye'");

    // Report only: the hook fails, the batch stays, and the failure is reported.
    p.write(
        "SampleRoutes.class.st",
        &routes_class(
            &[("Hello", "hello"), ("Bye", "goodbye"), ("Hi", "hi")],
            "self error: 'duplicate route'.\n\t",
        ),
    );
    let out = p.hotpatch(&["push", "--set", "hooks.on_failure=report"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("warning: hook the expression `SampleRoutes rebuild` failed")
            && stderr.contains("duplicate route"),
        "{stderr}"
    );
    assert_eq!(vm.eval("SampleRoutes new handleHi"), "'hi'");
    assert_eq!(vm.epoch(), epoch + 2, "applied");
    let out = p.run(&["log", "--json", "-n", "1"], 0);
    let log: serde_json::Value = serde_json::from_str(&out).expect("log --json is JSON");
    let hook = &log["log"]["entries"][0]["hooks"][0];
    assert_eq!(hook["outcome"], "failed", "{log}");
    assert!(
        hook["message"]
            .as_str()
            .is_some_and(|m| m.contains("duplicate route")),
        "{log}"
    );

    // A rollback cannot be undone: the hook's failure is reported, the code is rolled back, and
    // the command fails (exit 7) unless failures are only reported.
    let out = p.run(
        &[
            "rollback",
            "--set",
            "hooks.after_change=SampleRoutes rebuild. nil foo",
        ],
        7,
    );
    assert!(out.contains("a hook failed"), "{out}");
    assert!(
        out.contains("`SampleRoutes rebuild. nil foo` failed"),
        "{out}"
    );
    assert_eq!(vm.eval("SampleRoutes new respondsTo: #handleHi"), "false");
}

/// A listener class of a package: its class-side `hotpatchChanged:` appends what it was told to
/// the global `HpSeen`, as `Package do|undo classes: A B methods: A>>x A class>>y;`.
fn listener(class: &str, package: &str) -> String {
    format!(
        "Class {{\n\t#name : '{class}',\n\t#superclass : 'Object',\n\t#package : '{package}'\n}}\n\
         \n{{ #category : 'hotpatch' }}\n{class} class >> hotpatchChanged: aChange [\n\n\t| s |\n\
         \ts := WriteStream on: String new.\n\
         \ts nextPutAll: aChange packageName; nextPutAll: (aChange isUndo ifTrue: [ ' undo' ] ifFalse: [ ' do' ]); nextPutAll: ' classes:'.\n\
         \taChange classNames do: [ :each | s nextPutAll: ' '; nextPutAll: each ].\n\
         \ts nextPutAll: ' methods:'.\n\
         \taChange methodNames do: [ :each | s nextPutAll: ' '; nextPutAll: each ].\n\
         \ts nextPutAll: ';'.\n\
         \tSmalltalk at: #HpSeen put: (Smalltalk at: #HpSeen ifAbsent: [ '' ]) , s contents\n]\n"
    )
}

#[test]
fn a_package_is_told_exactly_which_of_its_classes_and_methods_changed() {
    let vm = Vm::start();
    let p = Project::new(&vm, "notice");
    // A second package with a listener of its own, which hears nothing of Sample-Core's changes.
    let extra = p.dir.join("src/Sample-Extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(
        extra.join("package.st"),
        "Package { #name : 'Sample-Extra' }\n",
    )
    .unwrap();
    std::fs::write(
        extra.join("SampleExtraListener.class.st"),
        listener("SampleExtraListener", "Sample-Extra"),
    )
    .unwrap();
    let config = std::fs::read_to_string(p.dir.join("hotpatch.toml")).unwrap();
    std::fs::write(
        p.dir.join("hotpatch.toml"),
        config.replace(
            "packages = [\"Sample-Core\"]",
            "packages = [\"Sample-Core\", \"Sample-Extra\"]",
        ),
    )
    .unwrap();
    p.write(
        "SampleListener.class.st",
        &listener("SampleListener", "Sample-Core"),
    );
    p.run(&["push"], 0);
    // The first push told each package about everything it installed there.
    let seen = vm.eval("Smalltalk at: #HpSeen");
    assert!(
        seen.contains("Sample-Core do classes: SampleApp SampleCounter SampleListener methods:")
            && seen.contains("Sample-Extra do classes: SampleExtraListener methods: SampleExtraListener class>>hotpatchChanged:;"),
        "{seen}"
    );
    vm.eval("Smalltalk at: #HpSeen put: ''");

    // One changed method, one added, one removed, an extension method, a new class: exactly
    // these names, in order, and only to Sample-Core's listener.
    p.edit("SampleApp.class.st", "'Hello, '", "'Hi, '");
    p.replace_set_up_with_reset();
    p.edit(
        "String.extension.st",
        "{ #category : '*Sample-Core' }",
        "{ #category : '*Sample-Core' }\nString >> sampleWhisper [\n\n\t^ self asLowercase\n]\n\n{ #category : '*Sample-Core' }",
    );
    p.write(
        "SampleNew.class.st",
        "Class {\n\t#name : 'SampleNew',\n\t#superclass : 'Object',\n\t#package : 'Sample-Core'\n}\n",
    );
    let report = p.push_json(&[], 0);
    let hooks = report["hooks"].as_array().expect("hooks").clone();
    assert_eq!(
        hooks
            .iter()
            .map(|h| h["name"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["SampleListener class>>hotpatchChanged:"],
        "{report}"
    );
    let told = "Sample-Core do classes: SampleNew methods: SampleApp>>greet: \
                SampleCounter class>>new SampleCounter>>reset SampleCounter>>setUp \
                String>>sampleWhisper;";
    assert_eq!(vm.eval("Smalltalk at: #HpSeen"), format!("'{told}'"));

    // Rolled back: told again, as undone, with the same names.
    vm.eval("Smalltalk at: #HpSeen put: ''");
    p.run(&["rollback"], 0);
    assert_eq!(
        vm.eval("Smalltalk at: #HpSeen"),
        format!("'{}'", told.replace(" do ", " undo "))
    );
}
