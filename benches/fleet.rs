//! Benchmark of a fleet rollout against real VMs: a one-method change of the sample app to N
//! images (default 8) with `hotpatch push --group` (canary, then waves of `parallel`), against
//! the same change pushed to each image in turn with `hotpatch push --target`. Prints figures;
//! asserts nothing about time.
//!
//!     cargo bench --bench fleet -- [--images N] [--parallel N] [--runs N]
//!
//! Expectation: close to one push time per wave (canary + ceil((N-1)/parallel) waves), against
//! N push times in sequence.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let (mut images, mut parallel, mut runs) = (8usize, 4usize, 5usize);
    let mut args = common::bench_args();
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), value) {
            ("--images", Some(n)) if n >= 1 => images = n,
            ("--parallel", Some(n)) if n >= 1 => parallel = n,
            ("--runs", Some(n)) if n >= 1 => runs = n,
            _ => {
                eprintln!(
                    "usage: cargo bench --bench fleet -- [--images N] [--parallel N] [--runs N]"
                );
                std::process::exit(2);
            }
        }
    }
    let hotpatch = std::path::PathBuf::from(env!("CARGO_BIN_EXE_hotpatch"));

    let t = Instant::now();
    let vms = common::Vm::start_fleet(images);
    println!(
        "{images} VMs + agents started in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let project = common::repo().join("target/bench-fleet");
    let _ = std::fs::remove_dir_all(&project);
    common::copy_dir(&common::repo().join("examples/sample-app"), &project);
    let mut config = String::from("source = \"src\"\npackages = [\"Sample-Core\"]\n");
    let mut names = Vec::new();
    for (i, vm) in vms.iter().enumerate() {
        names.push(format!("\"n{i}\""));
        config.push_str(&format!(
            "[targets.n{i}]\nurl = \"{}\"\ntoken_env = \"BENCH_TOKEN_{i}\"\n",
            vm.url
        ));
    }
    config.push_str(&format!(
        "[groups.all]\ntargets = [{}]\ncanary = 1\nparallel = {parallel}\n",
        names.join(", ")
    ));
    std::fs::write(project.join("hotpatch.toml"), config).expect("write hotpatch.toml");
    let run = |args: &[&str]| -> Duration {
        let mut command = Command::new(&hotpatch);
        command.args(args).current_dir(&project);
        for (i, vm) in vms.iter().enumerate() {
            command.env(format!("BENCH_TOKEN_{i}"), &vm.token);
        }
        let t = Instant::now();
        let out = command.output().expect("run hotpatch");
        let took = t.elapsed();
        if !out.status.success() {
            eprintln!(
                "bench-fleet: hotpatch {args:?} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            std::process::exit(1);
        }
        took
    };
    // The first rollout installs the app everywhere.
    let t = run(&["push", "--group", "all"]);
    println!("first rollout (whole app): {:.2} s", t.as_secs_f64());

    let source = project.join("src/Sample-Core/SampleApp.class.st");
    let mut fleet_times = Vec::new();
    let mut sequential_times = Vec::new();
    for r in 0..runs {
        edit(&source, r * 2);
        fleet_times.push(run(&["push", "--group", "all"]));
        edit(&source, r * 2 + 1);
        let t = Instant::now();
        for i in 0..images {
            let name = format!("n{i}");
            run(&["push", "--target", &name]);
        }
        sequential_times.push(t.elapsed());
    }
    let waves = 1 + (images - 1).div_ceil(parallel);
    println!(
        "one-method change to {images} images: fleet rollout (canary + {} waves of {parallel}) median {:.0} ms; \
         {images} sequential single pushes median {:.0} ms; ratio {:.1}x (medians of {runs})",
        waves - 1,
        median(&mut fleet_times),
        median(&mut sequential_times),
        median(&mut sequential_times) / median(&mut fleet_times)
    );
}

/// Gives `greet:` a new greeting, different for every `n`.
fn edit(source: &Path, n: usize) {
    let text = std::fs::read_to_string(source).expect("read SampleApp");
    let start = text.find("^ '").expect("greet: returns a string") + 3;
    let end = start + text[start..].find('\'').expect("closing quote");
    let text = format!("{}Hello {n}, {}", &text[..start], &text[end..]);
    std::fs::write(source, text).expect("write SampleApp");
}

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}
