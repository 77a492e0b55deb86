//! Benchmark of save-to-live (issue 19, item 4) against the real VM and agent (the test image):
//! a one-method change in the generated project of `--bench push` (N methods, default 10,000)
//!
//! - pushed by `hotpatch watch --settle-ms 0` over the connection it keeps open: the time from
//!   the save being seen (the watch's file event) to the method live (the agent's answer), as the
//!   watch prints it, and from the file written to the watch's line, measured here; and with the
//!   default settle time (150 ms), from its end to the method live;
//! - handed by a save hook's `hotpatch push FILE` to that running watch: end to end, process
//!   start to exit;
//! - pushed by `hotpatch push FILE` on its own (no watch running): end to end.
//!
//! Every run's method is checked live in the image at the end. Prints figures and the machine's
//! load average; asserts nothing about time.
//!
//!     cargo bench --bench watch -- [--methods N] [--runs N]
//!
//! Goals (issue 19): live < 5 ms after the save is seen (watch), one-shot push < 15 ms.

#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{self, CLASSES, generate};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn main() {
    let (methods, runs) = bench::methods_and_runs(
        "cargo bench --bench watch -- [--methods N] [--runs N]",
        10_000,
        30,
    );
    let hotpatch = PathBuf::from(env!("CARGO_BIN_EXE_hotpatch"));
    println!("load average at start: {}", load());

    let per_class = methods.div_ceil(CLASSES);
    let project = common::repo().join("target/bench-watch");
    let _ = std::fs::remove_dir_all(&project);
    generate(&project, per_class);
    println!(
        "project: {CLASSES} classes x {per_class} methods = {} methods",
        CLASSES * per_class
    );
    let vm = common::Vm::start();
    bench::configure(&project, &vm.url);
    let run_push =
        |file: &str| bench::timed_push("bench-watch", &hotpatch, &project, &vm.token, &[file]).0;
    let t = Instant::now();
    let _ = Command::new(&hotpatch)
        .arg("push")
        .current_dir(&project)
        .env("HOTPATCH_TOKEN", &vm.token)
        .output()
        .expect("first push");
    println!(
        "first push of {} methods: {:.1} s",
        CLASSES * per_class,
        t.elapsed().as_secs_f64()
    );

    let file = project.join("src/Bench-Core/BenchClass7.class.st");
    let file_arg = file.to_str().expect("utf-8 path").to_owned();
    let mut version = 0usize;

    // One-shot push, no watch running.
    let mut one_shot = Vec::new();
    for _ in 0..runs {
        version += 1;
        edit_one_method(&project, &file, version);
        one_shot.push(ms(run_push(&file_arg)));
    }
    check(&vm, version);

    // The watch, pushing what it sees saved: with no settle time (the floor: the git call that
    // finds who pushes starts when the save is seen, and is waited for), and with the default
    // settle time (150 ms, not counted: the git call is done by then).
    let mut seen_to_live = Vec::new();
    let mut written_to_line = Vec::new();
    let mut settled_to_live = Vec::new();
    for settle in [0, 150] {
        let (mut watch, lines) = start_watch(&hotpatch, &project, &vm.token, settle);
        // The first save after the check's eval reads the image afresh (an eval may change code
        // without moving the epoch): not counted.
        version += 1;
        edit_one_method(&project, &file, version);
        wait_for(&lines, "BenchClass7.class.st: ");
        let mut last_line = String::new();
        for _ in 0..runs {
            version += 1;
            let t = Instant::now();
            edit_one_method(&project, &file, version);
            let line = wait_for(&lines, "BenchClass7.class.st: ");
            if settle == 0 {
                written_to_line.push(ms(t.elapsed()));
                seen_to_live.push(pushed_ms(&line));
            } else {
                settled_to_live.push(pushed_ms(&line));
            }
            last_line = line;
        }
        println!("a watch line (settle {settle} ms): {last_line}");
        check(&vm, version);
        let _ = watch.kill();
        let _ = watch.wait();
    }

    // A save hook handing its push to a running watch (whose settle time is long enough that it
    // never pushes the save itself).
    let (mut watch, lines) = start_watch(&hotpatch, &project, &vm.token, 60_000);
    version += 1;
    edit_one_method(&project, &file, version);
    run_push(&file_arg);
    wait_for(&lines, "(save hook): ");
    let mut handed = Vec::new();
    let mut handed_inside = Vec::new();
    let mut last_line = String::new();
    for _ in 0..runs {
        version += 1;
        edit_one_method(&project, &file, version);
        handed.push(ms(run_push(&file_arg)));
        last_line = wait_for(&lines, "(save hook): ");
        handed_inside.push(pushed_ms(&last_line));
    }
    println!("a watch line (hand-off): {last_line}");
    check(&vm, version);
    let _ = watch.kill();
    let _ = watch.wait();

    report("watch: save seen -> method live", &seen_to_live, 5.0);
    report(
        "watch (settle 150 ms): settled -> method live",
        &settled_to_live,
        5.0,
    );
    report(
        "watch: file written -> watch's line (incl. inotify)",
        &written_to_line,
        5.0,
    );
    report(
        "push FILE handed to the running watch, end to end",
        &handed,
        15.0,
    );
    report(
        "push FILE handed to the running watch, inside the watch",
        &handed_inside,
        5.0,
    );
    report("push FILE on its own, end to end", &one_shot, 15.0);
    println!("load average at end: {}", load());
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The next line of the watch containing `what` (others are skipped).
fn wait_for(lines: &mpsc::Receiver<String>, what: &str) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(300)) {
            Ok(line) if line.contains(what) => return line,
            Ok(_) => {}
            Err(_) => {
                eprintln!("bench-watch: the watch said nothing with `{what}`");
                std::process::exit(1);
            }
        }
    }
}

/// `… pushed in 3.2 ms: …` → 3.2.
fn pushed_ms(line: &str) -> f64 {
    let found = line
        .split("pushed in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok());
    match found {
        Some(ms) => ms,
        None => {
            eprintln!("bench-watch: the watch did not push: {line}");
            std::process::exit(1);
        }
    }
}

/// `hotpatch watch --settle-ms SETTLE` in the project, and the lines it writes on stderr, once
/// it says it is watching.
fn start_watch(
    hotpatch: &Path,
    project: &Path,
    token: &str,
    settle: u64,
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut watch = Command::new(hotpatch)
        .args(["watch", "--settle-ms", &settle.to_string()])
        .current_dir(project)
        .env("HOTPATCH_TOKEN", token)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hotpatch watch");
    let (tx, lines) = mpsc::channel();
    let stderr = watch.stderr.take().expect("the watch's stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    wait_for(&lines, "watching");
    (watch, lines)
}

/// The method of the last run is live.
fn check(vm: &common::Vm, version: usize) {
    let got = vm.eval("BenchClass7 new method0");
    assert_eq!(got, (1000 + version).to_string(), "the last save is live");
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn report(what: &str, ms: &[f64], goal_ms: f64) {
    let mut ms = ms.to_vec();
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    println!(
        "{what}: median {median:.1} ms, min {:.1} ms, max {:.1} ms over {} runs (goal {goal_ms} ms)",
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
}

/// Rewrites method0 of the file's class to answer `1000 + version`, as an editor that saves by
/// renaming does (one file event, never a half-written file).
fn edit_one_method(project: &Path, file: &Path, version: usize) {
    let text = std::fs::read_to_string(file).expect("read class file");
    let edited = bench::with_method0(&text, version);
    let tmp = project.join("save.tmp");
    std::fs::write(&tmp, edited).expect("write the saved file");
    std::fs::rename(&tmp, file).expect("rename into place");
}
