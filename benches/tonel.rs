//! `cargo bench --bench tonel -- [FILES]`: generates a Tonel corpus the size of Pharo's
//! own sources (about 9,400 files, 30 MB, 93,000 methods with realistic bodies) in a temporary
//! directory, reads it with `tonel::read_repository` several times (warm cache) and prints
//! throughput and peak RSS (`VmHWM` from `/proc/self/status`), then the wall time and peak RSS of
//! `hotpatch inspect --json` on the same corpus (build the `hotpatch` binary first).
//!
//! For profiling, `BENCH_TONEL_CORPUS=DIR` generates the corpus into `DIR` once and keeps it,
//! and `BENCH_TONEL_READ_ONLY=1` runs only the `read_repository` iterations, so
//! `valgrind --tool=callgrind` counts the reader's instructions and nothing else.

/// Many small allocations (a string per selector, protocol and source); see Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hotpatch::tonel;

/// xorshift64*: deterministic, dependency-free, good enough to vary a corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "value",
    "result",
    "node",
    "each",
    "index",
    "stream",
    "aCollection",
    "anObject",
    "size",
    "element",
    "visitor",
    "context",
    "selector",
    "announcer",
    "morph",
    "bounds",
    "count",
];
const PROTOCOLS: &[&str] = &[
    "accessing",
    "initialization",
    "testing",
    "printing",
    "private",
    "visiting",
    "instance creation",
    "tests - basic",
    "converting",
    "enumerating",
];
const STATEMENTS: &[&str] = &[
    "\t{a} := {b} collect: [ :each | each {c} ].",
    "\t{a} ifNil: [ ^ self error: 'missing {b} ]' ].",
    "\t\"Answer {a} unless {b} is empty; see #{c}\"",
    "\t^ {a} inject: 0 into: [ :sum :x | sum + (x {b}: 16r1F) ]",
    "\tself assert: ({a} includes: $]) description: 'bracket \"]\" in {b}'.",
    "\t{a} do: [ :{b} | aStream nextPutAll: {b} printString; nextPut: $  ] separatedBy: [ aStream space ].",
    "\t^ #( #{a} #{b}: 1.5s2 $) '(' ) , {{ {c}. 2e10. -3 }}",
    "\t[ {a} isEmpty ] whileFalse: [ {a} := {a} allButFirst ].",
    "\t{a} := Dictionary new at: #{b} put: #[ 1 2 255 ]; yourself.",
];

fn method(rng: &mut Rng, class: &str, n: usize, out: &mut String) {
    let protocol = rng.pick(PROTOCOLS);
    let side = if rng.below(8) == 0 { " class" } else { "" };
    let _ = write!(out, "\n{{ #category : '{protocol}' }}\n{class}{side} >> ");
    match rng.below(3) {
        0 => {
            let _ = write!(out, "{}{n}", rng.pick(WORDS));
        }
        1 => {
            let _ = write!(out, "{}{n}: {}", rng.pick(WORDS), rng.pick(WORDS));
        }
        _ => {
            let _ = write!(
                out,
                "{}{n}: {} with: other",
                rng.pick(WORDS),
                rng.pick(WORDS)
            );
        }
    }
    out.push_str(" [\n");
    if rng.below(2) == 0 {
        out.push_str("\t\"A method comment explaining what the method does and why.\"\n\n");
    }
    let _ = writeln!(out, "\t| {} {} |", rng.pick(WORDS), rng.pick(WORDS));
    for _ in 0..(2 + rng.below(3)) {
        let s = rng.pick(STATEMENTS);
        let line = s
            .replace("{a}", rng.pick(WORDS))
            .replace("{b}", rng.pick(WORDS))
            .replace("{c}", rng.pick(WORDS))
            .replace("{{", "{")
            .replace("}}", "}");
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("]\n");
}

/// Writes the corpus; returns (files, bytes, methods).
fn generate(dir: &Path, files: usize) -> std::io::Result<(usize, u64, usize)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let per_package = 13;
    let mut bytes = 0u64;
    let mut methods = 0;
    let mut written = 0;
    let mut package = 0;
    while written < files {
        let pname = format!("Bench-Package{package:04}");
        let pdir = dir.join(&pname);
        std::fs::create_dir_all(&pdir)?;
        let text = format!("Package {{\n\t#name : '{pname}',\n\t#tags : [ 'Core', 'Tests' ]\n}}\n");
        bytes += text.len() as u64;
        std::fs::write(pdir.join("package.st"), text)?;
        written += 1;
        for k in 0..per_package {
            if written >= files {
                break;
            }
            let class = format!("BenchClass{package:04}x{k:02}");
            let mut out = String::with_capacity(4096);
            let _ = write!(
                out,
                "\"\nI am {class}, generated for the benchmark.\n\"\nClass {{\n\t#name : '{class}',\n\t#superclass : 'Object',\n\t#instVars : [\n\t\t'value',\n\t\t'node'\n\t],\n\t#category : '{pname}-Core',\n\t#package : '{pname}',\n\t#tag : 'Core'\n}}\n"
            );
            // About 10 methods per file, varying like real classes do.
            let count = 2 + rng.below(18);
            for n in 0..count {
                method(&mut rng, &class, n, &mut out);
            }
            methods += count;
            bytes += out.len() as u64;
            std::fs::write(pdir.join(format!("{class}.class.st")), out)?;
            written += 1;
        }
        package += 1;
    }
    Ok((written, bytes, methods))
}

fn read_all(dir: &Path) -> anyhow::Result<usize> {
    use rayon::prelude::*;
    let mut files = Vec::new();
    for pkg in std::fs::read_dir(dir)? {
        for f in std::fs::read_dir(pkg?.path())? {
            files.push(f?.path());
        }
    }
    let sizes: Vec<usize> = files
        .par_iter()
        .map(|f| std::fs::read(f).map(|b| b.len()).unwrap_or(0))
        .collect();
    Ok(sizes.iter().sum())
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `hotpatch inspect --json DIR` (the binary beside this one) with its output discarded,
/// as a deploy job or an editor would, and returns its wall time and peak RSS in KB: the
/// document streams out, so its peak should stay near the reader's own.
fn inspect_json_peak(dir: &Path) -> anyhow::Result<(Duration, u64)> {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_hotpatch"));
    let start = Instant::now();
    let status = std::process::Command::new(&exe)
        .args(["inspect", "--json"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()?;
    let elapsed = start.elapsed();
    anyhow::ensure!(status.success(), "hotpatch inspect --json failed: {status}");
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    anyhow::ensure!(rc == 0, "getrusage failed");
    // ru_maxrss is in KB on Linux: the largest child waited for, and this is the only one.
    Ok((elapsed, usage.ru_maxrss as u64))
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` to a harness-less benchmark: not one of ours.
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let files: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(9_400);
    let kept = std::env::var_os("BENCH_TONEL_CORPUS").map(PathBuf::from);
    let dir: PathBuf = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("hotpatch-bench-tonel-{}", std::process::id()))
    });
    // Beside the corpus, not in it: the corpus must stay a clean Tonel tree.
    let marker = PathBuf::from(format!("{}.stats", dir.display()));
    let (files, bytes, methods) = match &kept {
        Some(_) if marker.exists() => {
            let stats = std::fs::read_to_string(&marker)?;
            let mut it = stats.split_whitespace().map(str::parse::<u64>);
            let mut next = || -> anyhow::Result<u64> {
                Ok(it
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("bad {}", marker.display()))??)
            };
            (next()? as usize, next()?, next()? as usize)
        }
        _ => {
            let _ = std::fs::remove_dir_all(&dir);
            let stats = generate(&dir, files)?;
            if kept.is_some() {
                std::fs::write(&marker, format!("{} {} {}", stats.0, stats.1, stats.2))?;
            }
            stats
        }
    };
    let read_only = std::env::var_os("BENCH_TONEL_READ_ONLY").is_some();
    let rss_before = peak_rss_kb();

    let mut times: Vec<Duration> = Vec::new();
    let mut read_methods = 0;
    let iterations: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(7);
    for _ in 0..iterations {
        let start = Instant::now();
        let (repo, errors) = tonel::read_repository(&dir)?;
        times.push(start.elapsed());
        anyhow::ensure!(errors.is_empty(), "corpus has errors: {:?}", &errors[..1]);
        read_methods = repo.packages.iter().map(|p| p.methods().count()).sum();
    }
    times.sort();
    if read_only {
        println!(
            "read_repository: {methods} of {read_methods} methods; best {:.1} ms, median {:.1} ms",
            times[0].as_secs_f64() * 1e3,
            times[times.len() / 2].as_secs_f64() * 1e3
        );
        return Ok(());
    }

    // The floor: walking the tree and reading every file in parallel, parsing nothing.
    let mut io_times: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let total: usize = read_all(&dir)?;
        io_times.push(start.elapsed());
        anyhow::ensure!(total as u64 == bytes, "read {total} of {bytes} bytes");
    }
    io_times.sort();
    let best = times[0].as_secs_f64();
    let median = times[times.len() / 2].as_secs_f64();
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {files} files, {mb:.1} MB, {methods} methods generated, {read_methods} read ({} threads)",
        rayon::current_num_threads()
    );
    println!(
        "read_repository: best {:.1} ms, median {:.1} ms; {:.0} MB/s, {:.0} files/s, {:.0} methods/s (best)",
        best * 1e3,
        median * 1e3,
        mb / best,
        files as f64 / best,
        read_methods as f64 / best
    );
    // Parsing alone, in memory, on one thread: the scanner's own speed.
    let mut texts = Vec::new();
    for pkg in std::fs::read_dir(&dir)? {
        for f in std::fs::read_dir(pkg?.path())? {
            let f = f?.path();
            let text = std::fs::read_to_string(&f)?;
            texts.push((f, text));
        }
    }
    let mut parse_times: Vec<Duration> = Vec::new();
    for _ in 0..iterations {
        let start = Instant::now();
        let mut ok = 0;
        for (f, text) in &texts {
            ok += usize::from(tonel::parse_file(f, text).is_ok());
        }
        parse_times.push(start.elapsed());
        anyhow::ensure!(ok == texts.len(), "parse errors");
    }
    parse_times.sort();
    println!(
        "parse only (in memory, one thread): best {:.1} ms, {:.0} MB/s",
        parse_times[0].as_secs_f64() * 1e3,
        mb / parse_times[0].as_secs_f64()
    );
    println!(
        "walk + read only (no parsing): best {:.1} ms",
        io_times[0].as_secs_f64() * 1e3
    );
    println!(
        "peak RSS: {} MB (after generating: {} MB)",
        peak_rss_kb().map(|k| k / 1024).unwrap_or(0),
        rss_before.map(|k| k / 1024).unwrap_or(0)
    );
    match inspect_json_peak(&dir) {
        Ok((time, kb)) => println!(
            "hotpatch inspect --json (output discarded): {:.0} ms, peak RSS {} MB (target < 200 MB)",
            time.as_secs_f64() * 1e3,
            kb / 1024
        ),
        Err(e) => println!("hotpatch inspect --json: not measured: {e:#}"),
    }
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
