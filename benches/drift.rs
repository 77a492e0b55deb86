//! Benchmark of drift detection in the agent: `snapshot` of a 10,000-method package (the shape
//! bench-push generates: 100 classes of 100 methods) with and without `"drift": true`, against
//! the real VM and agent (the test image), over the wire protocol. Prints figures; asserts
//! nothing about time.
//!
//!     cargo bench --bench drift -- [--methods N --runs N]
//!
//! The first drift snapshot adopts the package (records every class definition); later ones
//! compare. The last figure has 10 methods changed by hand (`eval`), so the drift list is not
//! empty.

#[path = "../tests/common/mod.rs"]
mod common;

use common::raw;
use serde_json::{Value, json};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CLASSES: usize = 100;
const PACKAGE: &str = "Bench-Core";

fn main() {
    let mut methods = 10_000usize;
    let mut runs = 7usize;
    let mut args = common::bench_args();
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), value) {
            ("--methods", Some(n)) => methods = n,
            ("--runs", Some(n)) if n > 0 => runs = n,
            _ => {
                eprintln!("usage: cargo bench --bench drift -- [--methods N] [--runs N]");
                std::process::exit(2);
            }
        }
    }
    let per_class = methods.div_ceil(CLASSES);
    let t = Instant::now();
    let vm = common::Vm::start();
    println!("VM + agent start: {:.1} s", t.elapsed().as_secs_f64());
    let mut wire = Wire::open(&vm);

    let t = Instant::now();
    for first in (0..CLASSES).step_by(10) {
        let mut ops = Vec::new();
        for c in first..(first + 10).min(CLASSES) {
            ops.push(
                json!({"op": "define_class", "class": {"name": format!("BenchClass{c}"),
                "superclass": "Object", "inst_vars": ["items", "total"], "package": PACKAGE}}),
            );
            for m in 0..per_class {
                ops.push(
                    json!({"op": "put_method", "class_name": format!("BenchClass{c}"),
                    "side": "instance", "protocol": "computing", "source": method_source(m)}),
                );
            }
        }
        let epoch = wire.ok(json!({"cmd": "ping"}))["epoch"].clone();
        wire.ok(json!({"cmd": "apply", "timeout_ms": 3_600_000,
                        "batch": {"id": format!("bench-{first}"), "epoch": epoch, "ops": ops}}));
    }
    println!(
        "installed {} classes x {per_class} methods = {} methods: {:.1} s",
        CLASSES,
        CLASSES * per_class,
        t.elapsed().as_secs_f64()
    );

    let plain = json!({"cmd": "snapshot", "packages": [PACKAGE]});
    let drift = json!({"cmd": "snapshot", "packages": [PACKAGE], "drift": true});
    let (adopting, first) = wire.timed(&drift);
    assert_eq!(
        first["packages"][0]["drift"]["adopted"],
        json!(true),
        "the first drift snapshot adopts the package"
    );
    // Interleaved, so that a busy machine slows both alike.
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        without.push(wire.timed(&plain).0);
        with.push(wire.timed(&drift).0);
    }
    for c in 0..10 {
        wire.ok(json!({"cmd": "eval", "expression":
            format!("BenchClass{c} compile: 'method1: anArray ^ {c}' classified: 'computing'")}));
    }
    let mut listed = 0;
    let with_changes: Vec<Duration> = (0..runs)
        .map(|_| {
            let (took, answer) = wire.timed(&drift);
            listed = answer["packages"][0]["drift"]["methods"]
                .as_array()
                .map_or(0, Vec::len);
            took
        })
        .collect();
    assert_eq!(listed, 10, "the 10 hand-changed methods are listed");

    report("snapshot, no drift asked", &without);
    println!(
        "snapshot with drift, first (adopts the package): {:.1} ms",
        ms(adopting)
    );
    report("snapshot with drift, nothing drifted", &with);
    report(
        "snapshot with drift, 10 methods changed in the image",
        &with_changes,
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, times: &[Duration]) {
    let mut all: Vec<f64> = times.iter().copied().map(ms).collect();
    all.sort_by(f64::total_cmp);
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} runs",
        all[all.len() / 2],
        all[0],
        all[all.len() - 1],
        all.len()
    );
}

/// Method `m` of a generated class, as bench-push writes it.
fn method_source(m: usize) -> String {
    if m == 0 {
        return "method0\n\n\t^ 1000".to_owned();
    }
    format!(
        "method{m}: anArray\n\t\"Sums the even elements of anArray, method {m}.\"\n\n\t| sum |\n\tsum := 0.\n\tanArray do: [ :each | each even ifTrue: [ sum := sum + each ] ].\n\ttotal := sum + {m}.\n\t^ total"
    )
}

/// A protocol connection on a raw socket (the typed client does not send `drift` yet).
struct Wire {
    socket: TcpStream,
    next_id: u64,
}

impl Wire {
    fn open(vm: &common::Vm) -> Wire {
        let mut socket = raw::connect(vm.port);
        socket
            .set_read_timeout(Some(Duration::from_secs(3600)))
            .expect("set a read timeout");
        raw::handshake(&mut socket);
        let mut wire = Wire { socket, next_id: 1 };
        wire.ok(json!({"cmd": "hello", "token": vm.token, "protocol": 1, "client": "bench-drift"}));
        wire
    }

    fn ok(&mut self, request: Value) -> Value {
        self.timed(&request).1
    }

    /// Sends `request`, answers how long the answer took and its `result`; exits on an error.
    fn timed(&mut self, request: &Value) -> (Duration, Value) {
        let mut request = request.clone();
        request["id"] = json!(self.next_id);
        self.next_id += 1;
        let t = Instant::now();
        raw::text(&mut self.socket, &request.to_string());
        let answer = raw::answer(&mut self.socket);
        let took = t.elapsed();
        if answer["ok"] != json!(true) {
            eprintln!(
                "bench-drift: {} failed: {}",
                request["cmd"], answer["error"]
            );
            std::process::exit(1);
        }
        (took, answer["result"].clone())
    }
}
