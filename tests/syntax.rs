//! The client's syntax check against the image's own compiler (the CI image, Squeak 2.x), on
//! methods written for these tests: every broken method is refused at the same line and column
//! by both, every valid one accepted by both; and a push (or dry run) with a syntax error is
//! refused before anything is sent, every error listed at its file position.

mod common;

use common::project::Project;
use common::{Runtime, Vm};
use hotpatch::image::protocol::{Batch, ErrorKind, Op, WireClass};
use hotpatch::image::{Client, ClientError};
use hotpatch::model::Side;
use hotpatch::syntax;
use std::fmt::Write;

/// Broken methods: the image's compiler refuses each of them for its syntax.
const BROKEN: &[&str] = &[
    "total\n\t| sum total |\n\tsum := 0.\n\ttotal := sum + + 99.\n\t^ total",
    "m\n\t^ 'abc",
    "m\n\t^ 'it''s' , 'x",
    "m\n\t^ 1 \"oops",
    "m\n\t^ [ :x | x + 1",
    "m\n\t^ [ :x | x + 1 ",
    "m\n\t^ (1 + 2",
    "m\n\t^ (1 + 2\n",
    "m\n\t^ 1 +",
    "m\n\t| a b |\n\ta := 3\n\tb := 4.\n\t^ a + b",
    "m\n\t^ #(1 2",
    "m\n\t^ #(1 #(2 (3) 4",
    "m\n\t^ #(1 'abc)",
    "m\n\t^ 1r0",
    "m\n\t^ 16rZZ + 1",
    "m: x\n\t^ x foo:",
    "m\n\t| a b\n\t^ a",
    "m\n\t^ [ :x x ]",
    "m\n\t^ { 1 2 }",
    "m\n\t^ 1 ]",
    "m\n\t| x |\n\tx := .",
    "m\n\t^ self foo; ; bar",
    "m\n\t^ 3 + (4 * )",
    "m\n\t^ )",
    "m\n\t^ 1 2",
    "m\n\t^ 1 + 2 'x'",
    "m\n\t^ 3 #sym",
    "m\n\t^ 3 #(1 2) ",
    "m\n\t^ ( )",
    "3 foo",
    "m\n\t<primitive: 1",
    "m\n\t[:x | ^ x 1 ] value: 2",
    "m\n\t^ self\n\t\tat: 1\n\t\tput: ",
    "m\n\t\"a comment\"\n\t| t |\n\tt := 3 factorial ) + 2.\n\t^ t",
    "m\n\t^ #(1 2) 'unclosed",
    "m\n\t^ 1 + 'x",
    "m: a\n\t^ a ifTrue: [ 1 ] ifFalse: [ 2 ",
    "m\n\t^ (self foo); bar",
    "m\n\t3; foo",
    "m\n\t^ x := ^ 3",
    "m\n\t^ [ : ] value",
    "m\n\t^ [ :x | | ] value",
    "m\n\tself foo. | t |",
    "m\n\t^ 2r2",
    "m\n\t^ a ::= b",
];

/// Valid methods (in the syntax Squeak 2.x already reads): both accept them.
const VALID: &[&str] = &[
    "m\n\t^ 3 - - 4",
    "m: x\n\t^ x-1 - -2 max: 3-4",
    "m\n\t| a |\n\ta := #(1 $a 'str' #sym foo: #(nested) 2.5 -3 foo:bar: + ).\n\t^ a",
    "m\n\t^ [:x :y | | t | t := x + y. t] value: 1 value: 2",
    "m\n\t^ {1. 2. 3}",
    "m\n\t^ Transcript show: 'a'; cr; yourself",
    "m\n\t^ thisContext",
    "m\n\t\"comment \"\"quoted\"\" \" ^ 'it''s' , $' asString , $  asString",
    "-> x\n\t^ x",
    "m\n\t^ 16r1F + 2r101 + 1e3 + 1.5e2 + 2r1e4",
    "m\n\t| x |\n\tx _ 3.\n\t^ x",
    "m\n\t^ #+ , #at:put: , #'x y' , ##foo",
    "m\n\t^ (1 > 2) | (3 < 4) & (5 >= 6) | (7 ~= 8) | (9 == 10) | (11 ~~ 12)",
    "m\n\t. ^ 1",
    "m\n\t| t |\n\t<primitive: 1>\n\t^ t",
    "m\n\t^ [:x] value: 3",
    "m\n\t^ [ :x || t | t := x. t ] value: 3",
    "m: x\n\t^ x isNil ifTrue: [ 0 ] ifFalse: [ x + 1 ]",
];

/// What the image says about `source` as the method of a new class: `Ok` when it compiles,
/// else its message, line and column.
async fn image_verdict(c: &mut Client, n: usize, source: &str) -> Result<(), (String, u32, u32)> {
    let epoch = c.ping().await.expect("ping").epoch;
    let batch = Batch {
        id: format!("syntax-{n}"),
        epoch,
        packages: None,
        ops: vec![
            Op::DefineClass {
                class: Box::new(WireClass {
                    name: "HpSyntaxProbe".into(),
                    superclass: Some("Object".into()),
                    inst_vars: vec!["count".into()],
                    package: "HpSyntax-Probe".into(),
                    ..Default::default()
                }),
            },
            Op::PutMethod {
                class_name: "HpSyntaxProbe".into(),
                side: Side::Instance,
                protocol: "probing".into(),
                source: source.into(),
            },
        ],
    };
    match c.check(batch).await {
        Ok(_) => Ok(()),
        Err(ClientError::Agent(e))
            if e.kind == ErrorKind::CompileFailed && !e.errors.is_empty() =>
        {
            let first = &e.errors[0];
            Err((first.message.clone(), first.line, first.column))
        }
        Err(other) => panic!("check of {source:?}: {other}"),
    }
}

#[test]
fn the_client_and_the_image_refuse_and_accept_the_same_methods_at_the_same_place() {
    let vm = Vm::start();
    let epoch = vm.epoch();
    let mut mismatches = String::new();
    common::runtime().block_on(async {
        let mut c = vm.client().await;
        for (n, source) in BROKEN.iter().enumerate() {
            let image = image_verdict(&mut c, n, source).await;
            let client = syntax::check_method(source);
            match (&image, &client) {
                (Err((_, line, column)), Err(e)) if (e.line, e.column) == (*line, *column) => {}
                _ => {
                    let _ = writeln!(mismatches, "{source:?}: image {image:?}, client {client:?}");
                }
            }
        }
        for (n, source) in VALID.iter().enumerate() {
            let image = image_verdict(&mut c, 1000 + n, source).await;
            let client = syntax::check_method(source);
            if image.is_err() || client.is_err() {
                let _ = writeln!(mismatches, "{source:?}: image {image:?}, client {client:?}");
            }
        }
        c.close().await;
    });
    assert!(mismatches.is_empty(), "disagreements:\n{mismatches}");
    assert_eq!(vm.epoch(), epoch, "a check changes nothing");
    assert_eq!(vm.eval("Smalltalk includesKey: #HpSyntaxProbe"), "false");
}

/// A project of `classes` × `methods` methods (Tonel files written by us), whose method
/// `broken` (0-based, counting across classes) is `total := sum + + 99.`.
fn generate(p: &Project, classes: usize, methods: usize, broken: &[usize]) {
    let package = p.dir.join("src/Syntax-Bulk");
    std::fs::create_dir_all(&package).expect("package folder");
    std::fs::write(
        package.join("package.st"),
        "Package { #name : 'Syntax-Bulk' }\n",
    )
    .expect("package.st");
    for c in 0..classes {
        let mut text = format!(
            "Class {{\n\t#name : 'SyntaxBulk{c}',\n\t#superclass : 'Object',\n\t#instVars : [\n\t\t'total'\n\t],\n\t#package : 'Syntax-Bulk'\n}}\n"
        );
        for m in 0..methods {
            let plus = if broken.contains(&(c * methods + m)) {
                "+ +"
            } else {
                "+"
            };
            let _ = write!(
                text,
                "\n{{ #category : 'computing' }}\nSyntaxBulk{c} >> method{m} [\n\n\t| sum |\n\tsum := 0.\n\t#(1 2 3) do: [ :each | sum := sum + each ].\n\ttotal := sum {plus} {m}.\n\t^ total\n]\n"
            );
        }
        std::fs::write(package.join(format!("SyntaxBulk{c}.class.st")), text).expect("class file");
    }
}

#[test]
fn a_push_with_syntax_errors_is_refused_before_anything_is_sent() {
    let vm = Vm::start();
    let p = Project::new(&vm, "syntax-bulk");
    let config = std::fs::read_to_string(p.dir.join("hotpatch.toml")).expect("config");
    std::fs::write(
        p.dir.join("hotpatch.toml"),
        config.replace("packages = [", "packages = ['Syntax-Bulk', "),
    )
    .expect("config");
    // 10,000 methods; one broken in the middle of the batch and the very last one.
    generate(&p, 100, 100, &[4_321, 9_999]);
    let epoch = vm.epoch();
    // Line of `total := sum + + 43` in class 43 (method 21), and of the last method.
    let line_of = |class: usize, method: usize| {
        let text = std::fs::read_to_string(
            p.dir
                .join(format!("src/Syntax-Bulk/SyntaxBulk{class}.class.st")),
        )
        .expect("class file");
        let header = format!("SyntaxBulk{class} >> method{method} [");
        let start = text.lines().position(|l| l == header).expect("method");
        start + 6
    };
    let expected = [
        format!(
            "SyntaxBulk43.class.st:{}:17: Argument expected (in SyntaxBulk43>>method21)",
            line_of(43, 21)
        ),
        format!(
            "SyntaxBulk99.class.st:{}:17: Argument expected (in SyntaxBulk99>>method99)",
            line_of(99, 99)
        ),
    ];
    for args in [&["push"][..], &["push", "--dry-run"][..]] {
        let out = p.run(args, 2);
        for e in &expected {
            assert!(out.contains(e), "{args:?}: expected {e} in:\n{out}");
        }
        assert!(
            out.contains("2 method(s) with syntax errors; nothing was sent"),
            "{args:?}:\n{out}"
        );
    }
    let json = p.push_json(&[], 2);
    assert_eq!(json["error"]["kind"], "syntax_errors", "{json}");
    assert_eq!(json["error"]["errors"].as_array().map(Vec::len), Some(2));
    // Nothing was sent: the image is where it was, and nothing of the batch is in it.
    assert_eq!(vm.epoch(), epoch);
    assert_eq!(vm.eval("Smalltalk includesKey: #SyntaxBulk99"), "false");
    assert_eq!(vm.eval("Smalltalk includesKey: #SampleApp"), "false");

    // Not even a connection: with no agent at the URL the refusal is the same.
    let out = p.hotpatch(&["push", "--url", "ws://127.0.0.1:9/"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_dry_run_reports_compile_errors_as_the_push_does_and_changes_nothing() {
    let vm = Vm::start();
    let p = Project::new(&vm, "syntax-dry-run");
    p.run(&["push"], 0);
    let epoch = vm.epoch();

    // A valid change: the dry run compiles it in the image and installs nothing.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + 2.",
    );
    let out = p.run(&["push", "--dry-run"], 0);
    assert!(out.contains("every method compiled in the image"), "{out}");
    let json = p.push_json(&["--dry-run"], 0);
    assert_eq!(json["outcome"], "dry_run", "{json}");
    assert_eq!(json["compiled"], true, "{json}");
    assert_eq!(vm.eval("SampleCounter new increment"), "1");

    // A method that parses but does not compile (an undeclared name): the dry run reports it
    // at the same file position and with the same exit code as the push.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 2.",
        "count := cuont + 2.",
    );
    let text = std::fs::read_to_string(p.file("SampleCounter.class.st")).expect("read");
    let line = text
        .lines()
        .position(|l| l.contains("count := cuont + 2."))
        .expect("edited line")
        + 1;
    let expected = format!("SampleCounter.class.st:{line}:");
    let dry = p.run(&["push", "--dry-run"], 4);
    assert!(dry.contains(&expected) && dry.contains("cuont"), "{dry}");
    let pushed = p.run(&["push"], 4);
    let error_line = |out: &str| {
        out.lines()
            .find(|l| l.contains(&expected))
            .map(str::to_owned)
    };
    assert_eq!(
        error_line(&dry),
        error_line(&pushed),
        "dry run:\n{dry}\npush:\n{pushed}"
    );
    // A class reshaped by the batch is compiled against a stand-in, removed again.
    p.edit("SampleCounter.class.st", "'count'", "'count',\n\t\t'step'");
    p.run(&["push", "--dry-run"], 4);

    assert_eq!(
        vm.epoch(),
        epoch,
        "neither the dry runs nor the refused push changed the image"
    );
    assert_eq!(vm.eval("SampleCounter new increment"), "1");
    assert_eq!(vm.eval("SampleCounter instVarNames size"), "1");
    assert_eq!(
        vm.eval(&format!(
            "({} keys select: [:k | k beginsWith: 'HpStandIn']) size",
            Runtime::current().globals()
        )),
        "0"
    );
}
