//! The generated project the push and watch benchmarks push: one package of [`CLASSES`] classes
//! with realistic methods, and the one-method edit they time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Classes in a generated project.
pub const CLASSES: usize = 100;

/// `--methods N` and `--runs N` of a benchmark (after `--`), with their defaults; any other
/// argument prints `usage` and exits 2.
pub fn methods_and_runs(usage: &str, methods: usize, runs: usize) -> (usize, usize) {
    let (mut methods, mut runs) = (methods, runs);
    let mut args = super::bench_args();
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), value) {
            ("--methods", Some(n)) => methods = n,
            ("--runs", Some(n)) => runs = n,
            _ => {
                eprintln!("usage: {usage}");
                std::process::exit(2);
            }
        }
    }
    (methods, runs)
}

/// Writes the generated project's `hotpatch.toml`: its one package, one target `bench` at `url`,
/// with room for a first push of every method.
pub fn configure(project: &Path, url: &str) {
    std::fs::write(
        project.join("hotpatch.toml"),
        format!(
            "source = \"src\"\npackages = [\"Bench-Core\"]\n[targets.bench]\nurl = \"{url}\"\napply_timeout_secs = 3600\n"
        ),
    )
    .expect("write hotpatch.toml");
}

/// Runs `hotpatch push ARGS…` in `project` with `token`, end to end: its time and stdout. A push
/// that fails ends the benchmark (exit 1) with what it printed, under the name `bench`.
pub fn timed_push(
    bench: &str,
    hotpatch: &Path,
    project: &Path,
    token: &str,
    args: &[&str],
) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let out = Command::new(hotpatch)
        .arg("push")
        .args(args)
        .current_dir(project)
        .env("HOTPATCH_TOKEN", token)
        .output()
        .expect("run hotpatch push");
    let took = t.elapsed();
    if !out.status.success() {
        eprintln!(
            "{bench}: hotpatch push {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    (took, out.stdout)
}

/// A Tonel package of `CLASSES` classes with `per_class` realistic methods each.
pub fn generate(root: &Path, per_class: usize) {
    let pkg = root.join("src/Bench-Core");
    std::fs::create_dir_all(&pkg).expect("create bench package");
    std::fs::write(pkg.join("package.st"), "Package { #name : 'Bench-Core' }\n")
        .expect("write package.st");
    for c in 0..CLASSES {
        let mut text = format!(
            "\"\nA generated class for the push benchmark.\n\"\nClass {{\n\t#name : 'BenchClass{c}',\n\t#superclass : 'Object',\n\t#instVars : [\n\t\t'items',\n\t\t'total'\n\t],\n\t#package : 'Bench-Core'\n}}\n"
        );
        for m in 0..per_class {
            text.push_str(&method_text(m).replace("BENCH_SELF", &format!("BenchClass{c}")));
        }
        std::fs::write(pkg.join(format!("BenchClass{c}.class.st")), text)
            .expect("write class file");
    }
}

/// Method `m` of a generated class; `BENCH_SELF` stands for the class name.
fn method_text(m: usize) -> String {
    if m == 0 {
        return "\n{ #category : 'accessing' }\nBENCH_SELF >> method0 [\n\n\t^ 1000\n]\n"
            .to_owned();
    }
    format!(
        "\n{{ #category : 'computing' }}\nBENCH_SELF >> method{m}: anArray [\n\t\"Sums the even elements of anArray, method {m}.\"\n\n\t| sum |\n\tsum := 0.\n\tanArray do: [ :each | each even ifTrue: [ sum := sum + each ] ].\n\ttotal := sum + {m}.\n\t^ total\n]\n"
    )
}

/// `text` (a generated class) with method0 answering `1000 + version`.
pub fn with_method0(text: &str, version: usize) -> String {
    let start = text.find("method0 [").expect("method0 present");
    let caret = start + text[start..].find("^ ").expect("return in method0");
    let end = caret + text[caret..].find('\n').expect("end of line");
    format!("{}^ {}{}", &text[..caret], 1000 + version, &text[end..])
}
