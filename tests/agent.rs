//! The agent in a real image (Squeak VM + the Scratch-derived test image), exercised through the
//! Rust client: every command of PROTOCOL.md and its failure cases. Each assertion about the
//! image is checked by asking the image (`snapshot`, `eval`), not by trusting an answer.

mod common;

use common::{Vm, raw, runtime};
use hotpatch::image::protocol::{Batch, ErrorKind, Mark, Op, WireClass};
use hotpatch::image::{Client, ClientError};
use hotpatch::model::Side;
use std::io::Write;
use std::time::Duration;

fn class(name: &str, inst_vars: &[&str]) -> WireClass {
    WireClass {
        name: name.into(),
        superclass: Some("Object".into()),
        inst_vars: inst_vars.iter().map(|s| s.to_string()).collect(),
        package: "HpTest-Core".into(),
        comment: Some("A test class; \"quoted\" and it's fine.".into()),
        ..Default::default()
    }
}

fn put(class_name: &str, side: Side, protocol: &str, source: &str) -> Op {
    Op::PutMethod {
        class_name: class_name.into(),
        side,
        protocol: protocol.into(),
        source: source.into(),
    }
}

fn define(c: WireClass) -> Op {
    Op::DefineClass { class: Box::new(c) }
}

async fn apply(c: &mut Client, id: &str, ops: Vec<Op>) -> Result<u64, ClientError> {
    let epoch = c.ping().await?.epoch;
    let r = c
        .apply(Batch {
            packages: None,
            id: id.into(),
            epoch,
            ops,
        })
        .await?;
    Ok(r.epoch)
}

async fn snapshot_source(c: &mut Client, class_name: &str, selector: &str) -> Option<String> {
    let snap = c
        .snapshot(vec!["HpTest-Core".into()], None, None)
        .await
        .expect("snapshot");
    snap.packages
        .iter()
        .flat_map(|p| p.classes.iter())
        .filter(|k| k.name == class_name)
        .flat_map(|k| k.methods.iter())
        .find(|m| m.selector == selector)
        .map(|m| m.source.clone())
}

#[test]
fn hello_ping_and_wrong_token() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        assert_eq!(c.hello.dialect, "squeak");
        assert_eq!(c.hello.protocol, 1);
        assert_eq!(c.hello.epoch, 0);
        assert_eq!(c.hello.session.len(), 16, "session {:?}", c.hello.session);
        assert!(c.hello.session.chars().all(|ch| ch.is_ascii_hexdigit()));
        let ping = c.ping().await.expect("ping");
        assert_eq!(ping.session, c.hello.session);
        c.close().await;

        let refused = Client::connect(&vm.url, "not-the-token", Duration::from_secs(10)).await;
        let Err(err) = refused else {
            panic!("a wrong token must be refused")
        };
        assert_eq!(
            err.agent().map(|e| e.kind),
            Some(ErrorKind::Unauthorized),
            "{err}"
        );

        // The agent keeps serving after refusing someone.
        let mut again = vm.client().await;
        assert_eq!(again.eval("3 + 4").await.expect("eval"), "7");
    });
}

#[test]
fn apply_installs_exact_sources_and_snapshot_returns_them() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        // Sources with the characters that break naive encoders: quotes, bangs, tabs, a
        // backslash, non-ASCII text (√ is beyond Latin-1 yet one the test image's MacRoman
        // strings hold; ✓ is not, and is refused: tests/wire.rs) and a line ending that is CR LF.
        let tricky =
            "greeting\n\t\"it's a \\ test!\"\n\t^ 'héllo wörld √', '!' , (String with: $\")";
        let epoch = apply(
            &mut c,
            "b-exact",
            vec![
                define(class("HpTestThing", &["a"])),
                put("HpTestThing", Side::Instance, "greeting", tricky),
                put(
                    "HpTestThing",
                    Side::Class,
                    "instance creation",
                    "make\r\n\t^ self new",
                ),
            ],
        )
        .await
        .expect("apply");
        assert_eq!(epoch, 1);
        assert_eq!(
            snapshot_source(&mut c, "HpTestThing", "greeting")
                .await
                .as_deref(),
            Some(tricky)
        );
        let snap = c
            .snapshot(vec!["HpTest-Core".into()], None, None)
            .await
            .expect("snapshot");
        let thing = snap.packages[0]
            .classes
            .iter()
            .find(|k| k.name == "HpTestThing")
            .expect("class in snapshot");
        assert_eq!(thing.inst_vars, vec!["a"]);
        assert_eq!(thing.superclass.as_deref(), Some("Object"));
        assert_eq!(
            thing.comment.as_deref(),
            Some("A test class; \"quoted\" and it's fine.")
        );
        let make = thing
            .methods
            .iter()
            .find(|m| m.selector == "make" && m.side == Side::Class)
            .expect("class-side method");
        assert_eq!(make.protocol, "instance creation");
        assert!(hotpatch::model::same_text(
            &make.source,
            "make\n\t^ self new"
        ));
        // The image runs it.
        let value = c
            .eval("HpTestThing make greeting size")
            .await
            .expect("eval");
        // 15 characters, each one character in the image too (PROTOCOL.md, Text).
        assert_eq!(
            value, "15",
            "the method answers the string it was written with"
        );

        // since_epoch equal to the current epoch, and the current eval count: nothing is
        // listed. An eval since (it may have changed code) makes the same mark stale.
        let now = c.ping().await.expect("ping");
        let mark = Mark {
            epoch: 1,
            evals: now.evals,
        };
        let unchanged = c
            .snapshot(vec!["HpTest-Core".into()], None, Some(mark))
            .await
            .expect("snapshot since");
        assert!(unchanged.unchanged && unchanged.packages.is_empty());
        c.eval("3 + 4").await.expect("eval");
        let moved = c
            .snapshot(vec!["HpTest-Core".into()], None, Some(mark))
            .await
            .expect("snapshot since");
        assert!(!moved.unchanged && !moved.packages.is_empty());
        assert_eq!(moved.evals, now.evals.map(|n| n + 1));
    });
}

#[test]
fn compile_error_changes_nothing_and_points_at_the_error() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        apply(
            &mut c,
            "b-base",
            vec![
                define(class("HpTestThing", &[])),
                put("HpTestThing", Side::Instance, "answer", "answer\n\t^ 42"),
            ],
        )
        .await
        .expect("apply");
        let before = c.ping().await.unwrap().epoch;
        let result = apply(
            &mut c,
            "b-broken",
            vec![
                define(class("HpTestThing", &["extra"])),
                put("HpTestThing", Side::Instance, "answer", "answer\n\t^ extra"),
                put(
                    "HpTestThing",
                    Side::Instance,
                    "broken",
                    "broken\n\t^ 1 + + 2",
                ),
            ],
        )
        .await;
        let err = result.expect_err("a compile error must fail the batch");
        let agent = err
            .agent()
            .unwrap_or_else(|| panic!("expected an agent error, got {err}"));
        assert_eq!(agent.kind, ErrorKind::CompileFailed, "{agent:?}");
        assert_eq!(agent.errors.len(), 1, "{:?}", agent.errors);
        let e = &agent.errors[0];
        assert_eq!(e.op, 2);
        assert_eq!(e.selector.as_deref(), Some("broken"));
        assert_eq!(e.line, 2, "{e:?}");
        assert!(
            (6..=10).contains(&e.column),
            "column {} for `^ 1 + + 2`",
            e.column
        );
        // Nothing changed: epoch, shape and methods are as before.
        assert_eq!(c.ping().await.unwrap().epoch, before);
        assert_eq!(c.eval("HpTestThing instVarNames size").await.unwrap(), "0");
        assert_eq!(c.eval("HpTestThing new answer").await.unwrap(), "42");
        assert_eq!(
            c.eval("HpTestThing new respondsTo: #broken").await.unwrap(),
            "false"
        );
    });
}

#[test]
fn undeclared_variable_is_a_compile_error_unless_the_batch_defines_it() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        let before = c.ping().await.unwrap().epoch;
        let err = apply(
            &mut c,
            "b-typo",
            vec![
                define(class("HpTestThing", &[])),
                define(class("HpTestOther", &[])),
                // A class the same batch defines is not undeclared.
                put("HpTestThing", Side::Instance, "other", "other\n\t^ HpTestOther new"),
                put(
                    "HpTestThing",
                    Side::Instance,
                    "typo",
                    "typo\n\t\"HpNoSuchThing\"\n\t^ #HpNoSuchThing -> 'HpNoSuchThing' -> HpNoSuchThing",
                ),
            ],
        )
        .await
        .expect_err("an undeclared variable must fail the batch");
        let agent = err
            .agent()
            .unwrap_or_else(|| panic!("expected an agent error, got {err}"));
        assert_eq!(agent.kind, ErrorKind::CompileFailed, "{agent:?}");
        assert_eq!(agent.errors.len(), 1, "{:?}", agent.errors);
        let e = &agent.errors[0];
        assert_eq!((e.op, e.selector.as_deref()), (3, Some("typo")));
        assert!(e.message.contains("HpNoSuchThing"), "{e:?}");
        // The variable itself, not its mention in the comment, symbol or string.
        assert_eq!((e.line, e.column), (3, 41), "{e:?}");
        assert_eq!(c.ping().await.unwrap().epoch, before);
        assert_eq!(
            c.eval("Smalltalk includesKey: #HpTestThing").await.unwrap(),
            "false"
        );
        // The check leaves nothing behind in Undeclared.
        assert_eq!(
            c.eval("Undeclared includesKey: #HpNoSuchThing").await.unwrap(),
            "false"
        );

        // Without the typo the batch applies, and the forward reference works.
        apply(
            &mut c,
            "b-fixed",
            vec![
                define(class("HpTestThing", &[])),
                define(class("HpTestOther", &[])),
                put("HpTestThing", Side::Instance, "other", "other\n\t^ HpTestOther new"),
            ],
        )
        .await
        .expect("apply");
        assert_eq!(
            c.eval("HpTestThing new other class name").await.unwrap(),
            "#HpTestOther"
        );
    });
}

#[test]
fn stale_epoch_replayed_batch_and_rollback() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        let batch = Batch {
            packages: None,
            id: "b-one".into(),
            epoch: 0,
            ops: vec![
                define(class("HpTestThing", &[])),
                put("HpTestThing", Side::Instance, "v", "v\n\t^ 1"),
            ],
        };
        let first = c.apply(batch.clone()).await.expect("apply");
        assert_eq!((first.epoch, first.replayed), (1, false));
        // The same batch again (a retried push): the recorded result, nothing done twice.
        let again = c.apply(batch.clone()).await.expect("replay");
        assert_eq!((again.epoch, again.replayed), (1, true));
        assert_eq!(c.ping().await.unwrap().epoch, 1);

        // A batch made against an old epoch is refused.
        let stale = c
            .apply(Batch {
                packages: None,
                id: "b-two".into(),
                epoch: 0,
                ops: vec![put("HpTestThing", Side::Instance, "v", "v\n\t^ 2")],
            })
            .await
            .expect_err("stale");
        let agent = stale.agent().expect("agent error");
        assert_eq!((agent.kind, agent.epoch), (ErrorKind::Stale, Some(1)));
        assert_eq!(c.eval("HpTestThing new v").await.unwrap(), "1");

        // Change the method, then roll back: the old source and behaviour come back exactly.
        c.apply(Batch {
            packages: None,
            id: "b-three".into(),
            epoch: 1,
            ops: vec![put(
                "HpTestThing",
                Side::Instance,
                "v",
                "v\n\t\"two\"\n\t^ 2",
            )],
        })
        .await
        .expect("apply change");
        assert_eq!(c.eval("HpTestThing new v").await.unwrap(), "2");
        let back = c.rollback().await.expect("rollback");
        assert_eq!((back.batch.as_str(), back.epoch), ("b-three", 3));
        assert_eq!(c.eval("HpTestThing new v").await.unwrap(), "1");
        assert_eq!(
            snapshot_source(&mut c, "HpTestThing", "v").await.as_deref(),
            Some("v\n\t^ 1")
        );
        // Rolling back the batch that created the class removes it.
        c.rollback().await.expect("second rollback");
        assert_eq!(
            c.eval("Smalltalk includesKey: #HpTestThing").await.unwrap(),
            "false"
        );
        let empty = c.rollback().await.expect_err("nothing left");
        assert_eq!(
            empty.agent().map(|e| e.kind),
            Some(ErrorKind::NothingToRollback)
        );
    });
}

#[test]
fn eval_errors_are_answers() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        let err = c.eval("1/0").await.expect_err("ZeroDivide");
        assert_eq!(err.agent().map(|e| e.kind), Some(ErrorKind::EvalFailed));
        let err = c.eval("1 +").await.expect_err("syntax error");
        assert_eq!(err.agent().map(|e| e.kind), Some(ErrorKind::EvalFailed));
        assert_eq!(c.eval("'still' , ' here'").await.unwrap(), "'still here'");
    });
}

#[test]
fn bad_input_never_kills_the_agent() {
    let vm = Vm::start();

    // Not HTTP at all.
    let mut s = raw::connect(vm.port);
    s.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    let head = raw::read_head(&mut s);
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 400"),
        "{head:?}"
    );

    // A correct handshake gets the RFC 6455 accept value for the RFC's sample key.
    let mut s = raw::connect(vm.port);
    let head = raw::handshake(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    // Before hello: anything else is refused and the connection closed.
    raw::text(&mut s, r#"{"id": 1, "cmd": "ping"}"#);
    let a = raw::answer(&mut s);
    assert_eq!(a["error"]["kind"], "unauthorized", "{a}");
    raw::close_code(&mut s);

    // Authenticated, then: invalid JSON, unknown command, wrong types, a fragmented message,
    // a ping; each gets its answer and the connection stays usable.
    let mut s = raw::connect(vm.port);
    raw::handshake(&mut s);
    let hello = format!(
        r#"{{"id": 1, "cmd": "hello", "token": "{}", "protocol": 1, "client": "raw"}}"#,
        vm.token
    );
    raw::text(&mut s, &hello);
    assert_eq!(raw::answer(&mut s)["ok"], true);
    raw::text(&mut s, "{not json");
    let a = raw::answer(&mut s);
    assert_eq!(
        (a["id"].clone(), a["error"]["kind"].clone()),
        (serde_json::Value::Null, "bad_request".into()),
        "{a}"
    );
    raw::text(&mut s, r#"{"id": 2, "cmd": "frobnicate"}"#);
    assert_eq!(raw::answer(&mut s)["error"]["kind"], "unknown_command");
    raw::text(&mut s, r#"{"id": 3, "cmd": "snapshot", "packages": 7}"#);
    assert_eq!(raw::answer(&mut s)["error"]["kind"], "bad_request");
    let msg = br#"{"id": 4, "cmd": "eval", "expression": "6 * 7"}"#;
    s.write_all(&raw::frame(1, false, &msg[..10])).unwrap();
    s.write_all(&raw::frame(9, true, b"are you there")).unwrap(); // ping between fragments
    s.write_all(&raw::frame(0, true, &msg[10..])).unwrap();
    let (op, payload) = raw::read_frame(&mut s).expect("pong");
    assert_eq!((op, payload.as_slice()), (10, b"are you there".as_slice()));
    let a = raw::answer(&mut s);
    assert_eq!(
        (a["id"].as_u64(), a["result"]["value"].as_str()),
        (Some(4), Some("42")),
        "{a}"
    );

    // A frame header announcing an enormous payload is refused with 1009, unread.
    let mut huge = vec![0x81u8, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    s.write_all(&huge).unwrap();
    assert_eq!(raw::close_code(&mut s), Some(1009));

    // An unmasked client frame is a protocol error (1002).
    let mut s = raw::connect(vm.port);
    raw::handshake(&mut s);
    s.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    assert_eq!(raw::close_code(&mut s), Some(1002));

    // A connection dropped in the middle of a message.
    let mut s = raw::connect(vm.port);
    raw::handshake(&mut s);
    let f = raw::frame(1, true, br#"{"id": 1, "cmd": "hello", "token": "x"}"#);
    s.write_all(&f[..f.len() / 2]).unwrap();
    drop(s);

    // After all that the agent serves a normal client.
    assert_eq!(vm.eval("1 + 1"), "2");
}

#[test]
fn the_agent_comes_back_when_the_saved_image_starts_again() {
    let vm = Vm::start();
    let source = "v\n\t\"exact, with a tab\"\n\t^ 'kept'";
    let first_session = runtime().block_on(async {
        let mut c = vm.client().await;
        apply(
            &mut c,
            "b-keep",
            vec![
                define(class("HpTestThing", &[])),
                put("HpTestThing", Side::Instance, "accessing", source),
            ],
        )
        .await
        .expect("apply");
        c.hello.session.clone()
    });
    let again = vm.save_and_restart();
    runtime().block_on(async {
        let mut c = again.client().await;
        assert_ne!(
            c.hello.session, first_session,
            "a restarted image has a new session"
        );
        assert_eq!(c.hello.epoch, 0, "and starts at epoch 0");
        assert_eq!(c.eval("HpTestThing new v").await.unwrap(), "'kept'");
        // What the agent installed before the restart is still known byte for byte.
        assert_eq!(
            snapshot_source(&mut c, "HpTestThing", "v").await.as_deref(),
            Some(source)
        );
        let snap = c
            .snapshot(vec!["HpTest-Core".into()], None, None)
            .await
            .expect("snapshot");
        assert_eq!(
            snap.packages[0].classes[0].comment.as_deref(),
            Some("A test class; \"quoted\" and it's fine.")
        );
    });
}

#[test]
fn the_application_keeps_running_while_a_batch_applies() {
    let vm = Vm::start();
    // The "application": a process at the user's priority that counts every 5 ms.
    vm.start_ticker(5);
    // The batch is sized by what it measures, not by this machine's speed: it grows fourfold
    // until one apply lasts long enough to tell a running ticker from a starved one.
    let batch = |round: u32, methods: usize| {
        let class_name = format!("HpTestBig{round}");
        let mut ops = vec![define(class(&class_name, &["a", "b"]))];
        for i in 0..methods {
            ops.push(put(
                &class_name,
                Side::Instance,
                "generated",
                &format!("m{i}: x\n\t| t |\n\tt := 0.\n\tx do: [:e | e even ifTrue: [t := t + e]].\n\ta := t + {i}.\n\t^ a"),
            ));
        }
        ops
    };
    runtime().block_on(async {
        let mut c = vm.client().await;
        let mut methods = 400;
        let mut epoch = 0;
        for round in 0.. {
            let before = common::ticks(&mut c).await;
            let result = c
                .apply(Batch {
                    packages: None,
                    id: format!("b-big-{round}"),
                    epoch,
                    ops: batch(round, methods),
                })
                .await
                .expect("apply");
            let after = common::ticks(&mut c).await;
            epoch = result.epoch;
            let last = methods - 1;
            assert_eq!(
                c.eval(&format!("HpTestBig{round} new m{last}: #(2 3 4)"))
                    .await
                    .unwrap(),
                (last + 6).to_string()
            );
            if result.millis < 200 {
                assert!(
                    round < 3,
                    "{methods} methods applied in {} ms: still too small to tell",
                    result.millis
                );
                methods *= 4;
                continue;
            }
            // Had the agent held the processor for the whole batch, the count would barely move
            // (a tick or two). A busy machine takes the VM off the CPU now and then, which costs
            // ticks whoever runs inside it (half of them at load 19 on 2 cores): a tenth of the
            // ideal count tells a running application from a starved one on any machine.
            let ideal = result.millis / 5;
            assert!(
                after - before >= ideal / 10,
                "the application counted {} times during a {} ms apply of {methods} methods (ideal {ideal})\n{}",
                after - before,
                result.millis,
                vm.logs()
            );
            break;
        }
    });
}

/// A batch of `classes` new classes (each a subclass of the previous, with a class variable of
/// the first) with `per_class` methods each: accessors of their instance variables, super sends
/// on both sides, class-variable use and references to classes of the batch, so that installing
/// what the check compiled against stand-ins must bind it all to the real classes.
fn big_batch(prefix: &str, classes: usize, per_class: usize) -> (Vec<Op>, Vec<(String, String)>) {
    let mut ops = Vec::new();
    let mut methods = Vec::new();
    for c in 0..classes {
        let mut def = class(&format!("{prefix}{c}"), &[&format!("v{c}")]);
        if c == 0 {
            def.class_vars = vec!["Shared".into()];
        } else {
            def.superclass = Some(format!("{prefix}{}", c - 1));
        }
        ops.push(define(def));
    }
    for c in 0..classes {
        let name = format!("{prefix}{c}");
        let mut add = |side: Side, protocol: &str, source: String| {
            ops.push(put(&name, side, protocol, &source));
            methods.push((name.clone(), source));
        };
        add(
            Side::Instance,
            "accessing",
            format!("v{c}\n\t\"the variable of level {c}\"\n\t^ v{c}"),
        );
        add(
            Side::Instance,
            "accessing",
            format!("setV{c}: anObject\n\tv{c} := anObject"),
        );
        add(
            Side::Instance,
            "computing",
            format!(
                "depth\n\t^ {}",
                if c == 0 {
                    "1".to_owned()
                } else {
                    "super depth + 1".to_owned()
                }
            ),
        );
        add(Side::Instance, "computing", "shared\n\t^ Shared".to_owned());
        add(
            Side::Class,
            "instance creation",
            format!(
                "make\n\t| made |\n\tmade := {}.\n\tShared := {c}.\n\t^ made",
                if c == 0 {
                    "super new".to_owned()
                } else {
                    format!("super make setV{c}: {prefix}0 name; yourself")
                }
            ),
        );
        for m in 5..per_class {
            add(
                Side::Instance,
                "generated",
                format!(
                    "m{m}: anArray\n\t\"Sums the even elements, method {m}.\"\n\n\t| sum |\n\tsum := 0.\n\tanArray do: [ :each | each even ifTrue: [ sum := sum + each ] ].\n\tv{c} := sum + {m}.\n\t^ v{c}"
                ),
            );
        }
    }
    (ops, methods)
}

#[test]
fn a_big_batch_is_compiled_once_reports_progress_and_is_all_or_nothing() {
    use hotpatch::image::ProgressSink;
    use std::sync::{Arc, Mutex};
    const CLASSES: usize = 10;
    const PER_CLASS: usize = 200;
    let vm = Vm::start();
    let (mut ops, methods) = big_batch("HpBig", CLASSES, PER_CLASS);
    runtime().block_on(async {
        let mut c = vm.client().await;
        c.set_work_timeout(Duration::from_secs(600));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        c.set_progress(Some(ProgressSink::new(move |p| {
            into.lock().unwrap().push(p.clone())
        })));

        // 1. The last method does not compile: nothing of the batch is installed.
        let good_last = ops.pop().expect("a last op");
        ops.push(put(
            &format!("HpBig{}", CLASSES - 1),
            Side::Instance,
            "generated",
            "broken\n\t^ 1 + + 2",
        ));
        let err = apply(&mut c, "b-big-broken", ops.clone())
            .await
            .expect_err("a compile error in the last method fails the batch");
        let agent = err.agent().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(agent.kind, ErrorKind::CompileFailed, "{agent:?}");
        assert_eq!(agent.errors.len(), 1, "{:?}", agent.errors);
        assert_eq!(agent.errors[0].op, ops.len() - 1);
        assert_eq!(c.ping().await.unwrap().epoch, 0, "the epoch did not move");
        assert_eq!(
            c.eval("(Smalltalk includesKey: #HpBig0) | (Smalltalk includesKey: #HpBig9)")
                .await
                .unwrap(),
            "false",
            "no class of the batch exists"
        );
        assert_eq!(
            c.eval("(Smalltalk keys select: [:k | k beginsWith: 'HpStandIn']) size")
                .await
                .unwrap(),
            "0",
            "the stand-ins are gone"
        );
        ops.pop();
        ops.push(good_last);

        // 2. A class initializer that fails after every method was installed: all undone.
        let mut failing = ops.clone();
        failing.push(put(
            "HpBig3",
            Side::Class,
            "class initialization",
            "initialize\n\tself error: 'no'",
        ));
        let err = apply(&mut c, "b-big-init", failing)
            .await
            .expect_err("a failing initializer fails the batch");
        let agent = err.agent().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(agent.kind, ErrorKind::ApplyFailed, "{agent:?}");
        assert_eq!(c.ping().await.unwrap().epoch, 0, "the epoch did not move");
        assert_eq!(
            c.eval("Smalltalk includesKey: #HpBig0").await.unwrap(),
            "false",
            "the installed classes and methods were undone"
        );

        // 3. The batch as it should be: applied, progress reported along the way.
        seen.lock().unwrap().clear();
        let started = std::time::Instant::now();
        let epoch = apply(&mut c, "b-big", ops.clone()).await.expect("apply");
        let took = started.elapsed();
        assert_eq!(epoch, 1);
        let progress = seen.lock().unwrap().clone();
        let total = methods.len() as u64;
        assert!(!progress.is_empty(), "no progress in {took:?}");
        // Phases in order (compile, then install), each counting up to the batch's methods.
        let phases: Vec<&str> = progress.iter().map(|p| p.phase.as_str()).collect();
        let first_install = phases
            .iter()
            .position(|p| *p == "install")
            .unwrap_or(phases.len());
        assert!(
            phases[..first_install].iter().all(|p| *p == "compile")
                && phases[first_install..].iter().all(|p| *p == "install"),
            "{phases:?}"
        );
        for pair in progress.windows(2) {
            if pair[0].phase == pair[1].phase {
                assert!(pair[0].done <= pair[1].done, "{progress:?}");
            }
        }
        assert!(
            progress.iter().all(|p| p.total == total && p.done <= total),
            "{progress:?}"
        );
        // At most about five a second.
        assert!(
            progress.len() as u128 <= took.as_millis() / 150 + 2,
            "{} messages in {took:?}",
            progress.len()
        );

        // Every method is there with its exact source and its category.
        let snap = c
            .snapshot(vec!["HpTest-Core".into()], None, None)
            .await
            .expect("snapshot");
        let listed: Vec<_> = snap.packages[0]
            .classes
            .iter()
            .flat_map(|k| k.methods.iter())
            .collect();
        assert_eq!(listed.len(), methods.len());
        for (class_name, source) in &methods {
            let found = listed
                .iter()
                .find(|m| &m.class_name == class_name && &m.source == source)
                .unwrap_or_else(|| panic!("{class_name}: no exact source {source:?}"));
            assert!(found.source_exact, "{class_name}>>{}", found.selector);
            let expected = if found.side == Side::Class {
                "instance creation"
            } else if found.selector.starts_with('m') && found.selector.ends_with(':') {
                "generated"
            } else if found.selector == "depth" || found.selector == "shared" {
                "computing"
            } else {
                "accessing"
            };
            assert_eq!(found.protocol, expected, "{class_name}>>{}", found.selector);
        }
        // The methods run against the real classes: instance variables, super on both sides,
        // the class variable of the first class, references to classes of the batch.
        assert_eq!(c.eval("HpBig9 make depth").await.unwrap(), "10");
        assert_eq!(
            c.eval("HpBig9 make v9 = HpBig0 name").await.unwrap(),
            "true"
        );
        assert_eq!(
            c.eval("HpBig9 make. HpBig0 classPool at: #Shared")
                .await
                .unwrap(),
            "9",
            "the class variable written is the real class's"
        );
        assert_eq!(c.eval("HpBig5 make. HpBig9 new shared").await.unwrap(), "5");
        assert_eq!(c.eval("HpBig4 new m7: #(2 3 4)").await.unwrap(), "13");
        // The image itself still shows the method with its temporaries' names.
        let own = c
            .eval("(HpBig2 sourceCodeAt: #m6:) asString")
            .await
            .unwrap();
        assert!(own.contains("sum"), "{own}");

        // 4. A second batch puts 150 more methods into a class that has 200: the agent makes
        //    room for them at once (a method dictionary here grows by become:); every old
        //    and new method is there and runs.
        let more: Vec<Op> = (PER_CLASS..PER_CLASS + 150)
            .map(|m| {
                put(
                    "HpBig4",
                    Side::Instance,
                    "more",
                    &format!("n{m}\n\t^ {m} + self depth"),
                )
            })
            .collect();
        assert_eq!(apply(&mut c, "b-big-more", more).await.expect("apply"), 2);
        assert_eq!(
            c.eval("HpBig4 selectors size").await.unwrap(),
            (PER_CLASS + 150 - 1).to_string(),
            "the 199 instance methods of HpBig4 and the 150 new ones"
        );
        assert_eq!(c.eval("HpBig4 new m7: #(2 3 4)").await.unwrap(), "13");
        assert_eq!(c.eval("HpBig4 new n349").await.unwrap(), "354");
        assert_eq!(
            c.eval("(HpBig4 organization categoryOfElement: #n300) asString = 'more'")
                .await
                .unwrap(),
            "true"
        );
    });
}

#[test]
fn methods_of_a_subclass_follow_the_new_shape_of_its_superclass() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut c = vm.client().await;
        let mut sub = class("HpTestSub", &["b"]);
        sub.superclass = Some("HpTestTop".into());
        apply(
            &mut c,
            "b-shape",
            vec![
                define(class("HpTestTop", &["a"])),
                define(sub),
                put("HpTestSub", Side::Instance, "access", "setB\n\tb := 2"),
            ],
        )
        .await
        .expect("apply");
        // The superclass gets a variable in front of b; the subclass is not redefined, but its
        // new method must address b where b is after the change.
        apply(
            &mut c,
            "b-shape-2",
            vec![
                define(class("HpTestTop", &["z", "a"])),
                put("HpTestSub", Side::Instance, "access", "b\n\t^ b"),
                put("HpTestSub", Side::Instance, "access", "setB\n\tb := 3"),
            ],
        )
        .await
        .expect("apply");
        assert_eq!(c.eval("HpTestSub new setB; b").await.unwrap(), "3");
        assert_eq!(
            c.eval("HpTestSub new setB; instVarAt: 3").await.unwrap(),
            "3"
        );
    });
}
