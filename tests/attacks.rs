//! Attacks on the agent in a real image (Squeak VM + the test image), as someone who can reach the
//! port but has no token would make them, and pushed code that misbehaves. After each attack a
//! real `hotpatch push` (the binary) must succeed within 10 s and the image must be otherwise
//! unchanged (same epoch before the push). Every step is bounded in time.

mod common;

use common::project::Project;
use common::{Vm, raw, runtime};
use hotpatch::image::ClientError;
use hotpatch::image::protocol::{Batch, ErrorKind, Op, WireClass};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::{Duration, Instant};

/// The sample app pushing to a VM; each push changes the greeting.
struct Greeter {
    project: Project,
    pushes: usize,
}

impl Greeter {
    fn new(vm: &Vm, name: &str) -> Greeter {
        Greeter {
            project: Project::new(vm, name),
            pushes: 0,
        }
    }

    fn hotpatch(&self, args: &[&str]) -> Output {
        self.project.hotpatch(args)
    }

    /// Changes the greeting and pushes it: the push must succeed within 10 s, and the image must
    /// then greet with the new text. `what` names the attack for the messages.
    fn push_new_greeting(&mut self, vm: &Vm, what: &str) {
        self.pushes += 1;
        let path = self.project.file("SampleApp.class.st");
        let text = std::fs::read_to_string(&path).expect("read SampleApp");
        let from = text
            .find("'Hello")
            .or_else(|| text.find("'Push"))
            .expect("a greeting in SampleApp");
        let end = from + 1 + text[from + 1..].find('\'').expect("end of the greeting");
        let greeting = format!("Push{} ", self.pushes);
        let text = format!("{}'{greeting}'{}", &text[..from], &text[end + 1..]);
        std::fs::write(&path, text).expect("write SampleApp");
        let t = Instant::now();
        let out = self.hotpatch(&["push"]);
        let took = t.elapsed();
        assert_eq!(
            out.status.code(),
            Some(0),
            "push after {what} failed after {took:?}\n{}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            vm.logs()
        );
        assert!(
            took < Duration::from_secs(10),
            "push after {what} took {took:?}"
        );
        assert_eq!(
            vm.eval("SampleApp default greet: 'x'"),
            format!("'{greeting}X!'"),
            "after {what}"
        );
    }
}

/// A connection that sent only part of the HTTP upgrade request.
fn half_handshake(port: u16) -> TcpStream {
    let mut s = raw::connect(port);
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        .expect("send half a handshake");
    s
}

/// Whether the agent closes `s` within `limit` (reads see the end of the stream or an error).
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A client that sends the handshake one byte every `every`, in a thread, until the agent closes
/// the connection; the thread answers how long the agent let it go on.
fn slow_sender(port: u16, every: Duration) -> std::thread::JoinHandle<Duration> {
    let mut s = raw::connect(port);
    std::thread::spawn(move || {
        let started = Instant::now();
        let request =
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Slow: 1234567890\r\n";
        for byte in request.iter().cycle() {
            if s.write_all(&[*byte]).is_err() || closed_within(&mut s, every) {
                return started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        started.elapsed()
    })
}

/// A hello message with an authenticated-looking envelope and the given token.
fn hello(token: &str) -> String {
    format!(r#"{{"id": 1, "cmd": "hello", "token": "{token}", "protocol": 1, "client": "attack"}}"#)
}

/// Opens a WebSocket (handshake answered 101).
fn upgraded(port: u16) -> TcpStream {
    let mut s = raw::connect(port);
    let head = raw::handshake(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head:?}");
    s
}

#[test]
fn network_attacks_never_lock_out_a_deploy() {
    let vm = Vm::start();
    let mut p = Greeter::new(&vm, "network");
    p.push_new_greeting(&vm, "nothing");
    let epoch = vm.epoch();

    // Held open while pushing: a half handshake, a slow sender and 20 idle connections.
    let mut half = half_handshake(vm.port);
    let slow = slow_sender(vm.port, Duration::from_secs(3));
    let idle: Vec<TcpStream> = (0..20).map(|_| raw::connect(vm.port)).collect();
    assert_eq!(vm.epoch(), epoch, "the held connections changed the image");
    p.push_new_greeting(
        &vm,
        "a half handshake, a slow sender and 20 idle connections",
    );
    // The handshake deadline (5 s) ends them.
    assert!(
        closed_within(&mut half, Duration::from_secs(10)),
        "the half handshake was not closed"
    );
    let slow_for = slow.join().expect("slow sender thread");
    assert!(
        slow_for < Duration::from_secs(10),
        "the slow sender went on for {slow_for:?}"
    );
    drop(idle);
    let epoch = epoch + 1;

    // Garbage instead of HTTP: 400 or closed, quickly.
    let mut s = raw::connect(vm.port);
    let garbage: Vec<u8> = (0..6000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = s.write_all(&garbage);
    assert!(closed_within(&mut s, Duration::from_secs(3)), "garbage");

    // A flood of header lines: closed after a few, not read to the end.
    let mut s = raw::connect(vm.port);
    let _ = s.write_all(b"GET / HTTP/1.1\r\n");
    let t = Instant::now();
    let mut refused = false;
    for i in 0..20_000 {
        if s.write_all(format!("X-Flood-{i}: y\r\n").as_bytes())
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(
        refused || closed_within(&mut s, Duration::from_secs(3)),
        "a header flood was read on for {:?}",
        t.elapsed()
    );

    // An unmasked frame: 1002.
    let mut s = upgraded(vm.port);
    s.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    assert_eq!(raw::close_code(&mut s), Some(1002), "unmasked frame");

    // Before hello, a frame announcing more than a few KiB is refused from its header: 1009.
    let mut s = upgraded(vm.port);
    let mut big = vec![0x81u8, 0x80 | 127];
    big.extend_from_slice(&(64u64 << 20).to_be_bytes());
    big.extend_from_slice(&[1, 2, 3, 4]);
    s.write_all(&big).unwrap();
    assert_eq!(raw::close_code(&mut s), Some(1009), "64 MiB frame header");

    // Fragments adding up beyond the limit: refused at the fragment's header.
    let mut s = upgraded(vm.port);
    s.write_all(&raw::frame(1, false, &[b' '; 3000])).unwrap();
    let mut next = vec![0x00u8, 0x80 | 126];
    next.extend_from_slice(&3000u16.to_be_bytes());
    next.extend_from_slice(&[1, 2, 3, 4]);
    s.write_all(&next).unwrap();
    assert_eq!(raw::close_code(&mut s), Some(1009), "fragmented message");

    // A huge token and a huge id before hello: 1009 at once, nothing parsed.
    for (what, message) in [
        ("a 1 MiB token", hello(&"a".repeat(1 << 20))),
        (
            "a 100,000-digit id",
            format!(r#"{{"id": {}, "cmd": "hello"}}"#, "9".repeat(100_000)),
        ),
    ] {
        let mut s = upgraded(vm.port);
        let t = Instant::now();
        // The agent may close before all of it is sent, and a reset may then swallow its close
        // frame: what counts is that it does not read on.
        let _ = s.write_all(&raw::frame(1, true, message.as_bytes()));
        let code = raw::close_code(&mut s);
        assert!(code.is_none() || code == Some(1009), "{what}: {code:?}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{what}: {:?}",
            t.elapsed()
        );
    }

    // A 3,000-digit id fits the limit: refused as a bad request, and the connection closed.
    let mut s = upgraded(vm.port);
    let t = Instant::now();
    raw::text(
        &mut s,
        &format!(r#"{{"id": {}, "cmd": "hello"}}"#, "9".repeat(3000)),
    );
    let a = raw::answer(&mut s);
    assert_eq!(a["error"]["kind"], "bad_request", "{a}");
    assert!(
        closed_within(&mut s, Duration::from_secs(3)),
        "bad_request before hello"
    );
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "long id: {:?}",
        t.elapsed()
    );

    // Wrong tokens: unauthorized, closed, logged with the peer's address.
    for attempt in 0..3 {
        let mut s = upgraded(vm.port);
        raw::text(&mut s, &hello(&format!("wrong-{attempt}")));
        let a = raw::answer(&mut s);
        assert_eq!(a["error"]["kind"], "unauthorized", "{a}");
        assert!(
            closed_within(&mut s, Duration::from_secs(3)),
            "after a wrong token"
        );
    }
    let log = std::fs::read_to_string(vm.dir.join("hotpatch-agent.log")).unwrap_or_default();
    assert!(
        log.contains("failed hello from 127.0.0.1:"),
        "the agent's log does not name the peer of a failed hello:\n{log}"
    );
    assert!(
        log.contains("listening on 0.0.0.0:"),
        "the Squeak 2.x test image binds every interface and must say so:\n{log}"
    );

    assert_eq!(vm.epoch(), epoch, "the attacks changed the image");
    p.push_new_greeting(
        &vm,
        "garbage, floods, bad frames, huge fields and wrong tokens",
    );
}

#[test]
fn pushed_code_cannot_take_the_agent_down() {
    let vm = Vm::start();
    let mut p = Greeter::new(&vm, "pushed-code");
    p.push_new_greeting(&vm, "nothing");

    // A class whose class-side initialize halts: the push fails clearly, nothing is installed.
    let class_file = p.project.file("SampleHalting.class.st");
    let halting = |body: &str| {
        format!(
            "Class {{\n\t#name : 'SampleHalting',\n\t#superclass : 'Object',\n\t#package : 'Sample-Core'\n}}\n\n\
             {{ #category : 'class initialization' }}\nSampleHalting class >> initialize [\n\n\t{body}\n]\n"
        )
    };
    for (what, body, expected) in [
        ("a halt", "self halt", "stopped before finishing"),
        (
            "an endless loop",
            "[ true ] whileTrue",
            "did not finish within",
        ),
        ("an error", "nil foo", "foo"),
    ] {
        std::fs::write(&class_file, halting(body)).expect("write SampleHalting");
        let epoch = vm.epoch();
        let t = Instant::now();
        let out = p.hotpatch(&["push"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(4), "{what}: {text}");
        assert!(
            text.contains("SampleHalting class>>initialize") && text.contains(expected),
            "{what}: {text}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what}: {:?}",
            t.elapsed()
        );
        assert_eq!(
            vm.eval("Smalltalk includesKey: #SampleHalting"),
            "false",
            "{what}: the class stayed"
        );
        assert_eq!(vm.epoch(), epoch, "{what}: the batch was not undone");
    }
    std::fs::remove_file(&class_file).expect("remove SampleHalting");
    p.push_new_greeting(&vm, "failing class initializers");

    // eval: an endless loop times out, a halt stops, an error fails; the agent goes on.
    runtime().block_on(async {
        let mut c = vm.client().await;
        let t = Instant::now();
        let err = c
            .eval_within("[ true ] whileTrue", Some(Duration::from_millis(1500)))
            .await
            .expect_err("an endless eval");
        assert_eq!(
            err.agent().map(|e| e.kind),
            Some(ErrorKind::EvalFailed),
            "{err}"
        );
        assert!(
            err.to_string().contains("did not finish within 1500 ms"),
            "{err}"
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let err = c.eval("self halt").await.expect_err("a halting eval");
        assert!(
            err.to_string().contains("stopped before finishing"),
            "{err}"
        );
        assert_eq!(c.eval("3 + 4").await.expect("eval after"), "7");
        c.close().await;
    });
    p.push_new_greeting(&vm, "an endless and a halting eval");
}

fn class(name: &str) -> WireClass {
    common::batches::class_in(name, "Attack-Core")
}

/// Applies one op; answers the agent's error.
fn refused(vm: &Vm, op: Op) -> hotpatch::image::protocol::AgentError {
    runtime().block_on(async {
        let mut c = vm.client().await;
        let epoch = c.ping().await.expect("ping").epoch;
        let result = c
            .apply(Batch {
                id: format!("attack-{epoch}-{}", std::process::id()),
                epoch,
                packages: None,
                ops: vec![op],
            })
            .await;
        c.close().await;
        match result {
            Err(ClientError::Agent(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    })
}

#[test]
fn bad_names_and_syntax_are_refused_before_anything_changes() {
    let vm = Vm::start();
    let epoch = vm.epoch();

    // Globals that are not classes of the pushed packages are not replaced.
    for name in ["Sensor", "Smalltalk", "Object"] {
        let e = refused(
            &vm,
            Op::DefineClass {
                class: Box::new(class(name)),
            },
        );
        assert_eq!(e.kind, ErrorKind::ApplyFailed, "{name}: {e:?}");
        assert!(e.message.contains(name), "{name}: {}", e.message);
        let e = refused(&vm, Op::RemoveClass { name: name.into() });
        assert_eq!(e.kind, ErrorKind::ApplyFailed, "remove {name}: {e:?}");
    }
    assert_eq!(vm.eval("Sensor isKindOf: Class"), "false");
    assert_eq!(vm.eval("Object superclass"), "nil");

    // Malformed names: bad_request naming the field.
    let mut spaced = class("Sample App");
    let e = refused(
        &vm,
        Op::DefineClass {
            class: Box::new(spaced.clone()),
        },
    );
    assert_eq!(e.kind, ErrorKind::BadRequest, "{e:?}");
    assert!(e.message.contains("ops[0].class.name"), "{}", e.message);
    spaced.name = "AttackThing".into();
    spaced.inst_vars = vec!["ok".into(), "not a name".into()];
    let e = refused(
        &vm,
        Op::DefineClass {
            class: Box::new(spaced.clone()),
        },
    );
    assert!(
        e.message.contains("ops[0].class.inst_vars"),
        "{}",
        e.message
    );
    spaced.inst_vars = vec!["self".into()];
    let e = refused(
        &vm,
        Op::DefineClass {
            class: Box::new(spaced.clone()),
        },
    );
    assert!(e.message.contains("inst_vars"), "{}", e.message);
    spaced.inst_vars = vec![];
    spaced.package = "Bad\nPackage".into();
    let e = refused(
        &vm,
        Op::DefineClass {
            class: Box::new(spaced),
        },
    );
    assert!(e.message.contains("ops[0].class.package"), "{}", e.message);
    let e = refused(
        &vm,
        Op::RemoveMethod {
            class_name: "Object".into(),
            side: hotpatch::model::Side::Instance,
            selector: "foo bar".into(),
        },
    );
    assert!(e.message.contains("ops[0].selector"), "{}", e.message);

    // A syntax error the cheap pass sees is answered alone, before the methods after it are
    // compiled; the full check (a later method's error) is not reached.
    let put = |source: &str| Op::PutMethod {
        class_name: "AttackThing".into(),
        side: hotpatch::model::Side::Instance,
        protocol: "tests".into(),
        source: source.into(),
    };
    let e = runtime().block_on(async {
        let mut c = vm.client().await;
        let result = c
            .apply(Batch {
                id: "attack-syntax".into(),
                epoch,
                packages: None,
                ops: vec![
                    Op::DefineClass {
                        class: Box::new(class("AttackThing")),
                    },
                    put("fine\n\t^ 42"),
                    put("unclosed\n\t^ (1 + 2"),
                    put("alsoBroken\n\t^ 1 + + 2"),
                ],
            })
            .await;
        c.close().await;
        match result {
            Err(ClientError::Agent(e)) => e,
            other => panic!("expected compile_failed, got {other:?}"),
        }
    });
    assert_eq!(e.kind, ErrorKind::CompileFailed, "{e:?}");
    assert!(e.message.contains("first syntax error"), "{}", e.message);
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    assert_eq!((e.errors[0].op, e.errors[0].line), (2, 2), "{:?}", e.errors);

    assert_eq!(vm.epoch(), epoch, "a refused batch changed the image");
    assert_eq!(vm.eval("Smalltalk includesKey: #AttackThing"), "false");
}

#[test]
fn limits_come_from_the_agent_configuration() {
    let port = common::free_port();
    let token = "a-configured-token".to_owned();
    let script = format!(
        "{}\nHpAgent startFromConfigText: 'port={port}\ntoken={token}\nmax_connections=2\nhandshake_timeout_ms=1000\ncode_timeout_ms=700'!\n",
        common::agent_filein()
    );
    let vm = Vm::launch(&common::test_image(), &script, port, token);

    // The handshake deadline is 1 s: a half handshake is closed well before the default 5 s.
    let mut half = half_handshake(vm.port);
    let t = Instant::now();
    assert!(
        closed_within(&mut half, Duration::from_secs(4)),
        "half handshake kept"
    );
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );

    // Two connections at most: a third one drops the oldest unauthenticated one.
    let mut first = raw::connect(vm.port);
    std::thread::sleep(Duration::from_millis(200));
    let _second = raw::connect(vm.port);
    std::thread::sleep(Duration::from_millis(200));
    let _third = raw::connect(vm.port);
    assert!(
        closed_within(&mut first, Duration::from_millis(900)),
        "the oldest unauthenticated connection was not dropped"
    );

    // The default time limit of pushed code is 0.7 s.
    runtime().block_on(async {
        let mut c = vm.client().await;
        let err = c
            .eval("[ true ] whileTrue")
            .await
            .expect_err("endless eval");
        assert!(err.to_string().contains("within 700 ms"), "{err}");
        c.close().await;
    });
}

/// A batch defining `name` (package Attack-Core) whose class-side initialize runs `body`.
fn class_with_initializer(id: &str, epoch: u64, name: &str, body: &str) -> Batch {
    common::batches::with_initializer(id, epoch, name, "Attack-Core", body)
}

#[test]
fn a_slow_apply_holds_back_only_other_changes() {
    let vm = Vm::start();
    runtime().block_on(async {
        let mut slow = vm.client().await;
        let mut other = vm.client().await;
        let mut reader = vm.client().await;
        let epoch = slow.ping().await.expect("ping").epoch;
        let started = Instant::now();
        let slow_apply = slow.apply(class_with_initializer(
            "attack-slow",
            epoch,
            "AttackSlow",
            "(Delay forMilliseconds: 2000) wait",
        ));
        let others = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            // ping and eval are answered while the batch applies...
            let t = Instant::now();
            reader.ping().await.expect("ping during the apply");
            assert_eq!(
                reader.eval("3 + 4").await.expect("eval during the apply"),
                "7"
            );
            let quick = t.elapsed();
            // ...another change waits for it, and then finds the image moved on.
            let second = other
                .apply(class_with_initializer(
                    "attack-second",
                    epoch,
                    "AttackSecond",
                    "nil",
                ))
                .await;
            (quick, second, started.elapsed())
        };
        let (applied, (quick, second, second_done)) = tokio::join!(slow_apply, others);
        let applied = applied.expect("the slow batch applies");
        assert_eq!(applied.epoch, epoch + 1);
        assert!(
            quick < Duration::from_secs(1),
            "ping and eval took {quick:?}"
        );
        match second {
            Err(ClientError::Agent(e)) => assert_eq!(e.kind, ErrorKind::Stale, "{e:?}"),
            other => panic!("the second batch should be stale, got {other:?}"),
        }
        assert!(
            second_done >= Duration::from_millis(1800),
            "the second apply did not wait for the first: {second_done:?}"
        );
        for c in [slow, other, reader] {
            c.close().await;
        }
    });
    assert_eq!(vm.eval("Smalltalk includesKey: #AttackSecond"), "false");
}
