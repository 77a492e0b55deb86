//! Names checked by the language's rule for their kind, and refusals that list every offending
//! definition at its Tonel `file:line:col` (issue 20, item 6), against the real VM: a class with
//! lower-case class variables is pushed and keeps its values; a batch with bad names is refused
//! before anything is sent, every bad name placed; a batch whose classes need a superclass the
//! image lacks (`SampleMissingTestCase`, as test classes are in an image without SUnit; Cuis and
//! Pharo have `TestCase`) or extend a class it lacks names every
//! one of them, placed; the agent itself lists every bad name of a batch it is sent. Fixtures
//! are our own.

mod common;

use common::project::Project;
use common::{Vm, runtime};
use hotpatch::image::ClientError;
use hotpatch::image::protocol::{Batch, ErrorKind, Op, WireClass};

/// A class of constants with lower-case class variables (as some numeric libraries declare
/// them), set by its class-side initialize.
const UNITS: &str = "\"
I hold physical constants in class variables, some of them lower case.

\tSampleUnits electricConstant
\"
Class {
\t#name : 'SampleUnits',
\t#superclass : 'Object',
\t#classVars : [
\t\t'electricConstant',
\t\t'Planck',
\t\t'speedOfLight'
\t],
\t#package : 'Sample-Core'
}

{ #category : 'class initialization' }
SampleUnits class >> initialize [

\telectricConstant := 8854.
\tPlanck := 6626.
\tspeedOfLight := 299792458
]

{ #category : 'accessing' }
SampleUnits class >> electricConstant [

\t^ electricConstant
]

{ #category : 'accessing' }
SampleUnits class >> speedOfLight [

\t^ speedOfLight
]
";

#[test]
fn lower_case_class_variables_are_pushed_and_keep_their_values() {
    let vm = Vm::start();
    let p = Project::new(&vm, "lower-case-class-vars");
    p.write("SampleUnits.class.st", UNITS);
    let out = p.run(&["push"], 0);
    assert!(out.contains("SampleUnits"), "{out}");
    assert_eq!(vm.eval("SampleUnits electricConstant"), "8854");
    assert_eq!(vm.eval("SampleUnits speedOfLight"), "299792458");

    // Redefined (one more class variable), the class keeps the values it holds.
    p.edit(
        "SampleUnits.class.st",
        "'speedOfLight'",
        "'speedOfLight',\n\t\t'boltzmann'",
    );
    p.run(&["push"], 0);
    assert_eq!(vm.eval("SampleUnits electricConstant"), "8854");
    assert_eq!(
        vm.eval("(SampleUnits classPool includesKey: #boltzmann) & (SampleUnits classPool includesKey: #electricConstant)"),
        "true"
    );
    // The image holds what the files say: nothing to push, nothing drifted.
    p.run(&["diff", "--no-cache"], 0);
    let status = p.run(&["status"], 0);
    assert!(status.contains("drift    none"), "{status}");
}

/// A class whose definition breaks three rules, and an extension whose protocol holds an
/// escape character.
const BAD_DEFINITION: &str = "Class {
\t#name : 'SampleBadNames',
\t#superclass : 'Object',
\t#instVars : [
\t\t'ok',
\t\t'self'
\t],
\t#classVars : [
\t\t'two words'
\t],
\t#pools : [
\t\t'lowerPool'
\t],
\t#package : 'Sample-Core'
}
";

const BAD_PROTOCOL: &str = "Extension { #name : 'SampleApp' }

{ #category : 'bad\\u001B[2Jprotocol' }
SampleApp >> sampleBad [

\t^ 1
]
";

#[test]
fn every_bad_name_is_refused_at_its_place_before_anything_is_sent() {
    let vm = Vm::start();
    let p = Project::new(&vm, "bad-names");
    p.write("SampleBadNames.class.st", BAD_DEFINITION);
    p.write("SampleApp.extension.st", BAD_PROTOCOL);
    let epoch = vm.epoch();
    let out = p.hotpatch(&["push"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = shown(&p, "SampleBadNames.class.st");
    let extension = shown(&p, "SampleApp.extension.st");
    for expected in [
        format!(
            "{file}:6:4: instance variable self of SampleBadNames: 'self' is not a valid instance variable name"
        ),
        format!(
            "{file}:9:4: class variable two words of SampleBadNames: 'two words' is not a valid class variable name"
        ),
        format!(
            "{file}:12:4: pool lowerPool of SampleBadNames: 'lowerPool' is not a valid pool name"
        ),
        format!("{extension}:3:16: the protocol of SampleApp>>sampleBad:"),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "the escape is shown escaped: {stderr}"
    );
    assert_eq!(vm.epoch(), epoch, "nothing was sent");

    let report = p.push_json(&[], 2);
    let errors = report["error"]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 4, "{report:#}");
    assert!(
        errors.iter().all(|e| e["path"].is_string()
            && e["line"].as_u64() > Some(0)
            && e["column"].as_u64() > Some(0)),
        "{report:#}"
    );
}

/// A source file's path as errors show it (the sources' real path, links resolved).
fn shown(p: &Project, name: &str) -> String {
    std::fs::canonicalize(p.file(name))
        .expect("the file exists")
        .display()
        .to_string()
}

/// A test class whose superclass no image has (as `TestCase` in an image without SUnit), and an
/// extension of a class nobody defines.
fn test_class(name: &str) -> String {
    format!(
        "Class {{
\t#name : '{name}',
\t#superclass : 'SampleMissingTestCase',
\t#package : 'Sample-Core'
}}

{{ #category : 'tests' }}
{name} >> testCount [

\tself assert: SampleCounter new increment count = 1
]
"
    )
}

const MISSING_EXTENSION: &str = "Extension { #name : 'SampleNowhere' }

{ #category : '*Sample-Core' }
SampleNowhere >> sampleOne [

\t^ 1
]

{ #category : '*Sample-Core' }
SampleNowhere class >> sampleTwo [

\t^ 2
]
";

#[test]
fn missing_superclasses_and_extended_classes_are_all_listed_at_their_places() {
    let vm = Vm::start();
    assert_eq!(
        vm.eval("Smalltalk includesKey: #SampleMissingTestCase"),
        "false"
    );
    let p = Project::new(&vm, "missing-classes");
    p.write(
        "SampleCounterTest.class.st",
        &test_class("SampleCounterTest"),
    );
    p.write("SampleAppTest.class.st", &test_class("SampleAppTest"));
    p.write("SampleNowhere.extension.st", MISSING_EXTENSION);
    let epoch = vm.epoch();
    let out = p.hotpatch(&["push"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    for (file, place, what) in [
        (
            "SampleAppTest.class.st",
            "1:1",
            "superclass SampleMissingTestCase of SampleAppTest does not exist",
        ),
        (
            "SampleCounterTest.class.st",
            "1:1",
            "superclass SampleMissingTestCase of SampleCounterTest does not exist",
        ),
        (
            "SampleNowhere.extension.st",
            "4:1",
            "class SampleNowhere does not exist",
        ),
        (
            "SampleNowhere.extension.st",
            "10:1",
            "class SampleNowhere does not exist",
        ),
    ] {
        let expected = format!("{}:{place}: ", shown(&p, file));
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&expected))
            .unwrap_or_else(|| panic!("no line starting {expected:?} in\n{stderr}"));
        assert!(line.contains(what), "{line}");
    }
    assert_eq!(vm.epoch(), epoch, "nothing was changed");
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleApp"), "false");

    let report = p.push_json(&[], 4);
    assert_eq!(report["error"]["kind"], "apply_failed", "{report:#}");
    let errors = report["error"]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 4, "{report:#}");
    assert!(
        errors.iter().all(|e| e["path"].is_string()),
        "every refused op is placed: {report:#}"
    );
}

#[test]
fn the_agent_lists_every_bad_name_of_a_batch_by_its_kind() {
    let vm = Vm::start();
    let class = |name: &str, class_vars: &[&str], inst_vars: &[&str]| WireClass {
        name: name.into(),
        superclass: Some("Object".into()),
        package: "Names-Core".into(),
        class_vars: class_vars.iter().map(|s| s.to_string()).collect(),
        inst_vars: inst_vars.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let ops = vec![
        Op::DefineClass {
            class: Box::new(class(
                "NamesGood",
                &["electricConstant", "Planck"],
                &["count"],
            )),
        },
        Op::DefineClass {
            class: Box::new(class("NamesBad", &["two words"], &["self"])),
        },
        Op::RemoveMethod {
            class_name: "NamesGood".into(),
            side: hotpatch::model::Side::Instance,
            selector: "foo bar".into(),
        },
    ];
    let epoch = vm.epoch();
    let error = runtime().block_on(async {
        let mut c = vm.client().await;
        let result = c
            .apply(Batch {
                id: format!("names-{}", std::process::id()),
                epoch,
                packages: None,
                ops,
            })
            .await;
        c.close().await;
        match result {
            Err(ClientError::Agent(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    });
    assert_eq!(error.kind, ErrorKind::BadRequest, "{error:?}");
    let listed: Vec<(usize, &str)> = error
        .errors
        .iter()
        .map(|e| (e.op, e.message.as_str()))
        .collect();
    assert_eq!(listed.len(), 3, "{error:#?}");
    assert_eq!(listed[0].0, 1);
    assert!(
        listed[0]
            .1
            .starts_with("ops[1].class.inst_vars: 'self' is not a valid variable name"),
        "{error:#?}"
    );
    assert!(
        listed[1]
            .1
            .starts_with("ops[1].class.class_vars: 'two words' is not a valid class variable name"),
        "{error:#?}"
    );
    assert_eq!(listed[2].0, 2);
    assert!(
        listed[2]
            .1
            .starts_with("ops[2].selector: 'foo bar' is not a valid selector"),
        "{error:#?}"
    );
    assert!(
        error.message.starts_with("3 names are not valid: "),
        "{}",
        error.message
    );
    assert_eq!(vm.epoch(), epoch, "nothing changed");

    // The same batch without the bad op and class: the lower-case class variable is taken.
    let applied = runtime().block_on(async {
        let mut c = vm.client().await;
        let r = c
            .apply(Batch {
                id: format!("names-ok-{}", std::process::id()),
                epoch,
                packages: None,
                ops: vec![Op::DefineClass {
                    class: Box::new(class(
                        "NamesGood",
                        &["electricConstant", "Planck"],
                        &["count"],
                    )),
                }],
            })
            .await;
        c.close().await;
        r
    });
    assert!(applied.is_ok(), "{applied:?}");
    assert_eq!(
        vm.eval(
            "(NamesGood classPool includesKey: #electricConstant) & (NamesGood classPool includesKey: #Planck)"
        ),
        "true"
    );
}
