//! Benchmark of the agent under attack, against the real VM and agent (the test image): the
//! end-to-end time of `hotpatch push` of one changed method (process start to method installed)
//! while a half-open connection, a slow sender and 20 idle unauthenticated connections are held
//! open, next to the same push with nobody else connected; how long the agent takes to refuse
//! a 10,000-method batch whose last method has a syntax error; and how long `hotpatch push` and
//! `push --dry-run` take to refuse a 10,000-method project whose last method has a syntax error
//! (issue 19: refused by the client, nothing sent; target < 100 ms), with the syntax check
//! alone timed in this process. Prints figures; asserts nothing about time.
//!
//!     cargo bench --bench attacks -- [--runs N]
//!
//! Targets on the 2-core reference machine: the push under attack < 1 s (issue 11); the client's
//! refusal of a 10,000-method project with a syntax error < 100 ms (issue 19).

#[path = "../tests/common/mod.rs"]
mod common;

use hotpatch::image::ClientError;
use hotpatch::image::protocol::{Batch, Op, WireClass};
use hotpatch::model::Side;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let mut runs = 7usize;
    let mut args = common::bench_args();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--runs", Some(n)) if n > 0 => runs = n,
            _ => {
                eprintln!("usage: cargo bench --bench attacks -- [--runs N]");
                std::process::exit(2);
            }
        }
    }
    let hotpatch = std::path::PathBuf::from(env!("CARGO_BIN_EXE_hotpatch"));

    let vm = common::Vm::start();
    let project = common::repo().join("target/bench-attacks");
    let _ = std::fs::remove_dir_all(&project);
    common::copy_dir(&common::repo().join("examples/sample-app"), &project);
    let config = std::fs::read_to_string(project.join("hotpatch.toml")).expect("read config");
    std::fs::write(
        project.join("hotpatch.toml"),
        config.replace("ws://127.0.0.1:7071/", &vm.url),
    )
    .expect("write hotpatch.toml");
    let file = project.join("src/Sample-Core/SampleApp.class.st");
    let file_arg = file.to_str().expect("utf-8 path").to_owned();
    let push = |version: usize| -> Duration {
        set_greeting(&file, version);
        // The first push installs the whole app; the others push the one file.
        let args: Vec<&str> = if version == 0 {
            vec!["push"]
        } else {
            vec!["push", &file_arg]
        };
        let t = Instant::now();
        let out = Command::new(&hotpatch)
            .args(&args)
            .current_dir(&project)
            .env("HOTPATCH_TOKEN", &vm.token)
            .output()
            .expect("run hotpatch push");
        let took = t.elapsed();
        if !out.status.success() {
            eprintln!(
                "bench-attacks: hotpatch push failed:\n{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                vm.logs()
            );
            std::process::exit(1);
        }
        took
    };
    push(0); // installs the sample app

    let quiet: Vec<Duration> = (1..=runs).map(push).collect();
    let mut attacked = Vec::new();
    for run in 1..=runs {
        let attackers = Attackers::open(vm.port);
        attacked.push(push(100 + run));
        drop(attackers);
    }
    let expected = format!("'Hello{} X!'", 100 + runs);
    let got = vm.eval("SampleApp default greet: 'x'");
    assert_eq!(got, expected, "the last pushed method is installed");

    report("push FILE, one method, nobody else connected", &quiet);
    report(
        "push FILE, one method, with a half-open, a slow-sender and 20 idle connections (target 1000 ms)",
        &attacked,
    );

    refuse_project(&hotpatch, &vm, runs);

    for (what, error, at) in [
        ("an unclosed parenthesis", "^ (total + 1", 0),
        ("an unclosed parenthesis", "^ (total + 1", 9_999),
        ("a missing argument inside", "^ total + . 1", 9_999),
    ] {
        let t = Instant::now();
        let refused = refuse_big_batch(&vm, error, at);
        println!(
            "10,000-method batch with {what} in method {}: refused in {:.2} s ({refused})",
            at + 1,
            t.elapsed().as_secs_f64()
        );
    }
}

/// A half-open connection, a slow sender (a byte a second) and 20 idle connections, held open
/// while alive.
struct Attackers {
    _held: Vec<TcpStream>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    slow: Option<std::thread::JoinHandle<()>>,
}

impl Attackers {
    fn open(port: u16) -> Attackers {
        let connect = || TcpStream::connect(("127.0.0.1", port)).expect("connect to the agent");
        let mut held = Vec::new();
        let mut half = connect();
        let _ = half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        held.push(half);
        held.extend((0..20).map(|_| connect()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut slow = connect();
        let stopping = stop.clone();
        let slow = std::thread::spawn(move || {
            for byte in b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".iter().cycle() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst)
                    || slow.write_all(&[*byte]).is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1000));
            }
        });
        // Let the agent accept them all before the push starts.
        std::thread::sleep(Duration::from_millis(300));
        Attackers {
            _held: held,
            stop,
            slow: Some(slow),
        }
    }
}

impl Drop for Attackers {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.slow.take() {
            let _ = t.join();
        }
    }
}

/// Sends a batch of 100 new classes with 100 methods each, method number `at` (0-based) with the
/// body `error`; answers the agent's error.
fn refuse_big_batch(vm: &common::Vm, error: &str, at: usize) -> String {
    let mut ops = Vec::new();
    for c in 0..100 {
        ops.push(Op::DefineClass {
            class: Box::new(WireClass {
                name: format!("BenchSyntax{c}"),
                superclass: Some("Object".into()),
                inst_vars: vec!["total".into()],
                package: "BenchSyntax-Core".into(),
                ..Default::default()
            }),
        });
    }
    for c in 0..100 {
        for m in 0..100 {
            let body = if c * 100 + m == at {
                error.to_owned()
            } else {
                format!(
                    "| sum |\n\tsum := 0.\n\t#(1 2 3) do: [ :each | sum := sum + each ].\n\ttotal := sum + {m}.\n\t^ total"
                )
            };
            ops.push(Op::PutMethod {
                class_name: format!("BenchSyntax{c}"),
                side: Side::Instance,
                protocol: "computing".into(),
                source: format!("method{m}\n\t\"Method {m}.\"\n\t{body}"),
            });
        }
    }
    common::runtime().block_on(async {
        let mut c = vm.client().await;
        c.set_work_timeout(Duration::from_secs(600));
        let epoch = c.ping().await.expect("ping").epoch;
        let answer = c
            .apply(Batch {
                id: format!("bench-syntax-{}-{at}", error.len()),
                epoch,
                packages: None,
                ops,
            })
            .await;
        c.close().await;
        match answer {
            Err(ClientError::Agent(e)) => format!("{:?}: {}", e.kind, e.message),
            other => format!("not refused: {other:?}"),
        }
    })
}

/// `hotpatch push` and `push --dry-run` of a project of 100 classes × 100 methods whose last
/// method is `total := sum + + 99.`: the client refuses it (exit 2) before connecting. Prints
/// the end-to-end times (process start to exit) and the syntax check's own time, and checks
/// that the image did not move.
fn refuse_project(hotpatch: &Path, vm: &common::Vm, runs: usize) {
    let project = common::repo().join("target/bench-syntax-refusal");
    let _ = std::fs::remove_dir_all(&project);
    let package = project.join("src/Bench-Syntax");
    std::fs::create_dir_all(&package).expect("create the project");
    std::fs::write(
        package.join("package.st"),
        "Package { #name : 'Bench-Syntax' }\n",
    )
    .expect("write package.st");
    for c in 0..100 {
        let mut text = format!(
            "Class {{\n\t#name : 'BenchSyntax{c}',\n\t#superclass : 'Object',\n\t#instVars : [\n\t\t'total'\n\t],\n\t#package : 'Bench-Syntax'\n}}\n"
        );
        for m in 0..100 {
            let plus = if c == 99 && m == 99 { "+ +" } else { "+" };
            text.push_str(&format!(
                "\n{{ #category : 'computing' }}\nBenchSyntax{c} >> method{m} [\n\n\t\"Method {m}.\"\n\t| sum |\n\tsum := 0.\n\t#(1 2 3) do: [ :each | sum := sum + each ].\n\ttotal := sum {plus} {m}.\n\t^ total\n]\n"
            ));
        }
        std::fs::write(package.join(format!("BenchSyntax{c}.class.st")), text)
            .expect("write a class file");
    }
    std::fs::write(
        project.join("hotpatch.toml"),
        format!(
            "source = \"src\"\npackages = [\"Bench-Syntax\"]\n[targets.bench]\nurl = \"{}\"\n",
            vm.url
        ),
    )
    .expect("write hotpatch.toml");

    let (repo, errors) =
        hotpatch::tonel::read_repository(&project.join("src")).expect("read the project");
    assert!(errors.is_empty(), "{errors:?}");
    let mut checks = Vec::new();
    let mut check_cpu = Vec::new();
    for _ in 0..runs {
        let (t, cpu) = (Instant::now(), cpu_time(libc::RUSAGE_SELF));
        let found = hotpatch::syntax::check_packages(&repo.packages);
        checks.push(t.elapsed());
        check_cpu.push(cpu_time(libc::RUSAGE_SELF).saturating_sub(cpu));
        assert_eq!(found.len(), 1, "{found:?}");
    }
    report(
        "syntax check of the 10,000 methods alone (in process)",
        &checks,
    );
    report("  the same, CPU time (both threads)", &check_cpu);

    let epoch = vm.epoch();
    for args in [&["push"][..], &["push", "--dry-run"][..]] {
        let mut times = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..runs {
            let (t, before) = (Instant::now(), cpu_time(libc::RUSAGE_CHILDREN));
            let out = Command::new(hotpatch)
                .args(args)
                .current_dir(&project)
                .env("HOTPATCH_TOKEN", &vm.token)
                .output()
                .expect("run hotpatch");
            times.push(t.elapsed());
            cpu.push(cpu_time(libc::RUSAGE_CHILDREN).saturating_sub(before));
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(2) || !stderr.contains("BenchSyntax99.class.st:") {
                eprintln!("bench-attacks: {args:?} was not refused by the client:\n{stderr}");
                std::process::exit(1);
            }
        }
        report(
            &format!(
                "hotpatch {} of 10,000 methods with a syntax error in the last: refused (exit 2, nothing sent; target 100 ms)",
                args.join(" ")
            ),
            &times,
        );
        report("  the same, CPU time of the hotpatch process", &cpu);
    }
    assert_eq!(vm.epoch(), epoch, "nothing was sent");
}

/// User plus system CPU time of this process (`RUSAGE_SELF`) or of its children waited for
/// (`RUSAGE_CHILDREN`): what the work cost, whatever else the machine runs.
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Rewrites the greeting of SampleApp>>greet: to `Hello<version> `.
fn set_greeting(file: &Path, version: usize) {
    let text = std::fs::read_to_string(file).expect("read SampleApp");
    let start = text.find("'Hello").expect("a greeting");
    let end = start + 1 + text[start + 1..].find('\'').expect("end of the greeting");
    let edited = format!("{}'Hello{version} '{}", &text[..start], &text[end + 1..]);
    std::fs::write(file, edited).expect("write SampleApp");
}

fn report(what: &str, times: &[Duration]) {
    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} runs",
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
}
