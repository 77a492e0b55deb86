//! Benchmark of the save-hook path: end-to-end time of `hotpatch push FILE` (process start to
//! method installed) for a one-method change in a project of 10,000 methods, and of pushes that
//! find nothing to do — against the real VM and agent (the test image). Prints figures; asserts
//! nothing about time. The first push (all 10,000 methods) is broken down into the client's
//! phases and the agent's own (`phases` of its `apply` answer: parse, validate, compile, install,
//! initialize, record), the rest being the batch and its answer on the wire.
//!
//!     cargo bench --bench push -- [--methods N] [--runs N]
//!
//! The runtime is the test harness's (`HOTPATCH_TEST_RUNTIME`, with `HOTPATCH_CUIS_VM` /
//! `HOTPATCH_CUIS_IMAGE` or `HOTPATCH_PHARO_VM` / `HOTPATCH_PHARO_IMAGE`; by default the Squeak
//! test image), so the same benchmark measures every runtime. The load average is printed at the
//! start and the end: figures taken on a shared machine mean little without it.
//!
//! Targets on the 2-core reference machine: one-method push < 30 ms (the save hook diffs against
//! the snapshot the previous push advanced, see `ops::compare`), no-op push < 50 ms.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/load.rs"]
mod load;

use common::bench::{self, CLASSES, generate};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use load::load_average;

fn main() {
    let (methods, runs) = bench::methods_and_runs(
        "cargo bench --bench push -- [--methods N] [--runs N]",
        10_000,
        15,
    );
    let hotpatch = std::path::PathBuf::from(env!("CARGO_BIN_EXE_hotpatch"));
    println!(
        "runtime: {} ({}), load average {}",
        common::Runtime::current().name(),
        common::test_image().display(),
        load_average()
    );

    let per_class = methods.div_ceil(CLASSES);
    let project = common::repo().join("target/bench-push");
    let _ = std::fs::remove_dir_all(&project);
    generate(&project, per_class);
    println!(
        "project: {} classes x {per_class} methods = {} methods",
        CLASSES,
        CLASSES * per_class
    );

    let t = Instant::now();
    let vm = common::Vm::start();
    println!("VM + agent start: {:.1} s", t.elapsed().as_secs_f64());
    bench::configure(&project, &vm.url);
    let run_push =
        |args: &[&str]| bench::timed_push("bench-push", &hotpatch, &project, &vm.token, args);
    let push = |args: &[&str]| run_push(args).0;

    let (initial, initial_json) = run_push(&["--json"]);
    println!(
        "initial push of {} methods into a fresh image: {:.1} s",
        CLASSES * per_class,
        initial.as_secs_f64()
    );
    print_breakdown(&initial_json);

    let file = project.join("src/Bench-Core/BenchClass7.class.st");
    let file_arg = file.to_str().expect("utf-8 path").to_owned();
    let mut one_method = Vec::new();
    for run in 0..runs {
        edit_one_method(&file, run);
        one_method.push(push(&[&file_arg]));
    }
    let expected = (1000 + runs - 1).to_string();
    let got = vm.eval("BenchClass7 new method0");
    assert_eq!(got, expected, "the last pushed method is installed");

    let noop_file: Vec<Duration> = (0..runs).map(|_| push(&[&file_arg])).collect();
    let noop_all: Vec<Duration> = (0..runs).map(|_| push(&[])).collect();

    report("push FILE, one method changed", &one_method, 30);
    report("push FILE, nothing changed", &noop_file, 50);
    report("push (whole project), nothing changed", &noop_all, 50);
    println!("load average at the end: {}", load_average());
}

/// Where the first push's time went, from `hotpatch push --json`: the client's phases, and the
/// agent's own per-phase milliseconds of the apply (`phases`, PROTOCOL.md); what the apply took
/// beyond the agent's phases was spent sending the batch and the answer.
fn print_breakdown(json: &[u8]) {
    let Ok(report) = serde_json::from_slice::<serde_json::Value>(json) else {
        println!("  (no JSON report to break down)");
        return;
    };
    let ms = &report["millis"];
    let get = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or(0);
    println!(
        "  client: read sources {} ms, connect {} ms, snapshot {} ms, apply {} ms, other {} ms",
        get(ms, "read"),
        get(ms, "connect"),
        get(ms, "snapshot"),
        get(ms, "apply"),
        get(ms, "total").saturating_sub(
            get(ms, "read") + get(ms, "connect") + get(ms, "snapshot") + get(ms, "apply")
        )
    );
    let agent = &ms["agent"];
    if agent.is_null() {
        println!("  agent: no per-phase figures (an agent before protocol revision 4)");
        return;
    }
    let phases = [
        "parse",
        "validate",
        "compile",
        "install",
        "initialize",
        "record",
    ];
    let inside: u64 = phases.iter().map(|p| get(agent, p)).sum();
    let listed: Vec<String> = phases
        .iter()
        .map(|p| format!("{p} {} ms", get(agent, p)))
        .collect();
    println!(
        "  agent (apply): {}; sending batch and answer {} ms",
        listed.join(", "),
        get(ms, "apply").saturating_sub(inside)
    );
}

fn report(what: &str, times: &[Duration], target_ms: u64) {
    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    println!(
        "{what}: median {median:.1} ms, min {:.1} ms, max {:.1} ms over {} runs (target {target_ms} ms)",
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
}

/// Rewrites method0 of the file's class to answer `1000 + version`.
fn edit_one_method(file: &PathBuf, version: usize) {
    let text = std::fs::read_to_string(file).expect("read class file");
    std::fs::write(file, bench::with_method0(&text, version)).expect("write class file");
}
