//! Rebuild vs hot patch for the same one-method change, against the real Squeak VM:
//!
//!     cargo bench --bench rebuild -- [ITERATIONS] [--methods N]
//!
//! Sets up the sample application the way a deployment would (a live directory, the pidfile
//! supervisor from examples/rebuild, a first deploy by rebuild from the test image), then times
//! a push of a one-method change (the hot-patch path, median of ITERATIONS, default 7) and a
//! rebuild with a one-method change (build, verify, swap, restart, verify; median of
//! ITERATIONS / 3, at least 1), and prints both and their ratio. It does so twice: for the
//! sample application alone (9 methods), and with a generated package of N more methods
//! (default 2000; `--methods 0` skips it), closer to the size of a real application.
//!
//! Needs the test image (`smalltalk-agent/testvm/build-test-image.sh`, built on first use) and
//! Debian's squeak-vm.

#[path = "support/load.rs"]
mod load;

use anyhow::{Context, Result, bail};
use hotpatch::config::Config;
use hotpatch::ops::push::{Outcome, PushOptions, push};
use hotpatch::rebuild::{Progress, RebuildOutcome, rebuild};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use load::load_average;

fn main() -> Result<()> {
    let mut iterations = 7;
    let mut methods = 2000;
    // `cargo bench` passes `--bench` to a harness-less benchmark: not one of ours.
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        if arg == "--methods" {
            let n = args.next().context("--methods needs a number")?;
            methods = n.parse().context("--methods N: N must be a number")?;
        } else {
            iterations = arg.parse().context("ITERATIONS must be a number")?;
        }
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let image = test_image(&repo)?;
    let vm = squeak_vm()?;
    for extra in [0, methods] {
        if extra == 0 && methods == 0 {
            continue;
        }
        let bench = Bench::set_up(&repo, &image, &vm, extra)?;
        let result = bench.run(iterations.max(1));
        bench.tear_down();
        result?;
        if methods == 0 {
            break;
        }
    }
    Ok(())
}

/// A package of `methods` generated methods, 25 per class, as Tonel files under `src`.
fn generate_bulk(src: &Path, methods: usize) -> Result<()> {
    let dir = src.join("Bench-Bulk");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("package.st"), "Package { #name : 'Bench-Bulk' }\n")?;
    for class in 0..methods.div_ceil(25) {
        let name = format!("BenchBulk{class:04}");
        let mut text = format!(
            "Class {{\n\t#name : '{name}',\n\t#superclass : 'Object',\n\t#instVars : [\n\t\t'a'\n\t],\n\t#package : 'Bench-Bulk'\n}}\n"
        );
        for m in (class * 25)..((class + 1) * 25).min(methods) {
            text.push_str(&format!(
                "\n{{ #category : 'generated' }}\n{name} >> m{m}: x [\n\n\t| y |\n\ty := a isNil ifTrue: [ x + {m} ] ifFalse: [ a * x ].\n\t^ y printString , '{m}'\n]\n"
            ));
        }
        std::fs::write(dir.join(format!("{name}.class.st")), text)?;
    }
    Ok(())
}

struct Bench {
    /// Generated methods besides the sample application's.
    extra_methods: usize,
    dir: PathBuf,
    live: PathBuf,
    config: Config,
}

impl Bench {
    fn set_up(repo: &Path, base: &Path, vm: &Path, extra_methods: usize) -> Result<Bench> {
        let dir = repo
            .join("target")
            .join("bench-rebuild")
            .join(format!("{}-{extra_methods}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let project = dir.join("project");
        let live = dir.join("live");
        copy_dir(&repo.join("examples/sample-app/src"), &project.join("src"))?;
        let packages = if extra_methods > 0 {
            generate_bulk(&project.join("src"), extra_methods)?;
            r#"["Sample-Core", "Bench-Bulk"]"#
        } else {
            r#"["Sample-Core"]"#
        };
        std::fs::create_dir_all(&live)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let token = format!("bench{}", std::process::id());
        std::fs::write(
            live.join("hotpatch-agent.conf"),
            format!("port={port}\ntoken={token}\n"),
        )?;
        std::fs::copy(
            repo.join("examples/rebuild/start.st"),
            live.join("start.st"),
        )?;
        // SAFETY: no other thread exists yet (the runtime is created later).
        unsafe { std::env::set_var("HOTPATCH_BENCH_TOKEN", &token) };
        let text = format!(
            r#"source = "src"
packages = {packages}
[targets.bench]
url = "ws://127.0.0.1:{port}/"
token_env = "HOTPATCH_BENCH_TOKEN"
[targets.bench.rebuild]
vm = "{vm}"
vm_args = ["-vm-display-null", "-vm-sound-null"]
base_image = "{base}"
image = "{image}"
restart = "APP_DIR={live} VM={vm} {supervisor} restart"
agent_source = "{agent}"
"#,
            vm = vm.display(),
            base = base.display(),
            image = live.join("app.image").display(),
            live = live.display(),
            supervisor = repo.join("examples/rebuild/supervisor.sh").display(),
            agent = repo.join("smalltalk-agent/src").display(),
        );
        std::fs::write(project.join("hotpatch.toml"), &text)?;
        let config = Config::from_str(&text, &project)?;
        Ok(Bench {
            extra_methods,
            dir,
            live,
            config,
        })
    }

    fn run(&self, iterations: usize) -> Result<()> {
        let target = self.config.target(&Default::default())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        eprintln!("bench-rebuild: first deploy (rebuild from the test image)…");
        let first = rt.block_on(rebuild(&self.config, &target, None, &Progress::quiet()))?;
        if first.outcome != RebuildOutcome::Rebuilt {
            bail!("the first deploy failed: {:?}", first.failure);
        }

        // The editor's save hook pushes the one file it saved: that is the hot-patch path. A
        // whole-project push (every owned package snapshotted) is timed too, for reference.
        let file = self.dir.join("project/src/Sample-Core/SampleApp.class.st");
        let whole = PushOptions {
            use_cache: true,
            ..Default::default()
        };
        let one_file = PushOptions {
            paths: vec![file],
            use_cache: true,
            ..Default::default()
        };
        let (mut pushes, push_phases) =
            self.time_pushes(&rt, &target, &one_file, iterations, "Hi")?;
        let (mut whole_pushes, _) = self.time_pushes(&rt, &target, &whole, iterations, "Hello")?;

        let mut rebuilds = Vec::new();
        let mut phases = Vec::new();
        for i in 0..iterations.div_ceil(3) {
            self.set_greeting(&format!("Rebuilt {i}, "))?;
            let t = Instant::now();
            let report = rt.block_on(rebuild(&self.config, &target, None, &Progress::quiet()))?;
            rebuilds.push(t.elapsed());
            if report.outcome != RebuildOutcome::Rebuilt {
                bail!("the rebuild failed: {:?}", report.failure);
            }
            phases = report
                .phases
                .iter()
                .map(|p| format!("{} {:.1} s", p.phase, p.millis as f64 / 1000.0))
                .collect();
        }

        let push_median = median(&mut pushes);
        let rebuild_median = median(&mut rebuilds);
        println!(
            "one-method change, sample app + {} generated methods, Squeak VM on Scratch.image ({} cores, load average {})",
            self.extra_methods,
            cores(),
            load_average()
        );
        println!(
            "hot patch (save-hook push of the file): {:>8.1} ms  (median of {}; last: {})",
            push_median.as_secs_f64() * 1000.0,
            pushes.len(),
            push_phases.last().map_or("", String::as_str)
        );
        println!(
            "whole-project push (for reference):     {:>8.1} ms  (median of {})",
            median(&mut whole_pushes.clone()).as_secs_f64() * 1000.0,
            whole_pushes.len()
        );
        println!(
            "rebuild (hotpatch rebuild):              {:>8.1} ms  (median of {}; last: {})",
            rebuild_median.as_secs_f64() * 1000.0,
            rebuilds.len(),
            phases.join(", ")
        );
        let whole_median = median(&mut whole_pushes);
        let best = push_median.min(whole_median);
        println!(
            "ratio: rebuild / fastest hot-patch path = {:.0}x",
            rebuild_median.as_secs_f64() / best.as_secs_f64().max(1e-9)
        );
        Ok(())
    }

    /// Times `iterations` pushes of a one-method change (the greeting); answers the times and
    /// each push's own phase timings.
    fn time_pushes(
        &self,
        rt: &tokio::runtime::Runtime,
        target: &hotpatch::config::Target,
        options: &PushOptions,
        iterations: usize,
        greeting: &str,
    ) -> Result<(Vec<Duration>, Vec<String>)> {
        let mut times = Vec::new();
        let mut phases = Vec::new();
        for i in 0..iterations {
            self.set_greeting(&format!("{greeting} {i}, "))?;
            let t = Instant::now();
            let report = rt
                .block_on(push(&self.config, target, options))
                .map_err(|e| anyhow::anyhow!("push failed: {e}"))?;
            times.push(t.elapsed());
            if report.outcome != Outcome::Applied {
                bail!("the push did not apply: {:?}", report.outcome);
            }
            let m = report.millis;
            phases.push(format!(
                "read {} ms, connect {} ms, snapshot {} ms, apply {} ms",
                m.read, m.connect, m.snapshot, m.apply
            ));
        }
        Ok((times, phases))
    }

    fn set_greeting(&self, greeting: &str) -> Result<()> {
        let path = self.dir.join("project/src/Sample-Core/SampleApp.class.st");
        let text = std::fs::read_to_string(&path)?;
        let start = text.find("^ '").context("greet: not found")? + 3;
        let end = start + text[start..].find('\'').context("greet: literal")?;
        let new = format!("{}{greeting}{}", &text[..start], &text[end..]);
        std::fs::write(&path, new)?;
        Ok(())
    }

    fn tear_down(&self) {
        let _ = Command::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rebuild/supervisor.sh"),
        )
        .arg("stop")
        .env("APP_DIR", &self.live)
        .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn test_image(repo: &Path) -> Result<PathBuf> {
    let out_dir = repo.join("target/testvm");
    std::fs::create_dir_all(&out_dir)?;
    let out = Command::new("flock")
        .arg(out_dir.join(".build.lock"))
        .arg(repo.join("smalltalk-agent/testvm/build-test-image.sh"))
        .arg(&out_dir)
        .output()
        .context("run build-test-image.sh (needs util-linux's flock)")?;
    if !out.status.success() {
        bail!(
            "building the test image failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or(""),
    );
    if !path.is_file() {
        bail!(
            "build-test-image.sh printed {}, not an image",
            path.display()
        );
    }
    Ok(path)
}

fn squeak_vm() -> Result<PathBuf> {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find /usr/lib/squeak -name squeakvm -type f | sort | tail -n 1")
        .output()?;
    let vm = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !vm.is_file() {
        bail!("no squeakvm under /usr/lib/squeak: apt-get install squeak-vm");
    }
    Ok(vm)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
