//! `cargo run --release -p hotpatch-tools --bin tonel-check -- DIR [DIR…]`: checks the Tonel engine against a real
//! repository that somebody else wrote (Pharo's `src/`, Seaside, Iceberg…), the way a new user
//! meets it: every file must read, every method must be found, and every file that Pharo 12/13
//! wrote must come back byte for byte when written again.
//!
//! For each DIR it prints the files and methods read, the read time, the number of
//! `{ #category` lines in the files (one per method Pharo wrote, so it should equal the method
//! count; a method whose metadata Pharo omitted would make the count higher), the Tonel errors
//! (the first ten), classes defined in more than one package (dialect variants: warnings), the
//! folders skipped as non-packages, and the round trip: how many class and extension files,
//! of each Tonel version (v1: symbols; v2: strings; v3: `#package`), and `package.st` files
//! were rewritten identically in the file's own style (a v1 `package.st`, which hotpatch never
//! writes, is not compared), and the first differences. Then every method source goes through
//! hotpatch's syntax check (`syntax`, the check a push makes before sending anything): the
//! methods checked, the time, and every method it refuses (the first twenty; a refusal of a
//! method Pharo wrote is a false refusal). Exit 0 only when there are no errors, every file
//! round-trips and no method is refused.
//!
//! The repositories are not part of this project: bring them onto the machine and point this at
//! them; figures measured so are recorded in the README's Tonel section.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hotpatch::model::TonelStyle;
use hotpatch::syntax;
use hotpatch::tonel::{self, ParsedFile};

/// Many small allocations (a string per selector, protocol and source); see Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!(
            "usage: tonel-check DIR [DIR…]   (a Tonel repository root or package directory, or a \
             chunk-format file (.st, .sources, .changes) whose methods get the syntax check only)"
        );
        std::process::exit(2);
    }
    let mut ok = true;
    for dir in &dirs {
        let checked = if dir.is_file() {
            check_chunks(dir)
        } else {
            check(dir)
        };
        match checked {
            Ok(clean) => ok &= clean,
            Err(e) => {
                eprintln!("tonel-check: {}: {e:#}", dir.display());
                ok = false;
            }
        }
    }
    std::process::exit(if ok { 0 } else { 1 });
}

/// What the round trip of one repository found.
#[derive(Default)]
struct RoundTrip {
    checked: usize,
    identical: usize,
    /// (checked, identical) per version: v1, v2, v3 (class and extension files; an extension
    /// file counts as v1 with symbols, else as v3), and `package.st`.
    by_version: [(usize, usize); 4],
    differing: Vec<(PathBuf, String)>,
}

fn check(dir: &Path) -> anyhow::Result<bool> {
    let start = Instant::now();
    let (repo, errors) = tonel::read_repository(dir)?;
    let read_ms = start.elapsed().as_secs_f64() * 1e3;
    let files: Vec<PathBuf> = repo
        .packages
        .iter()
        .filter_map(|p| p.path.clone())
        .flat_map(|p| st_files(&p))
        .collect();
    let methods: usize = repo.packages.iter().map(|p| p.methods().count()).sum();
    let mut category_lines = 0;
    let mut trip = RoundTrip::default();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        category_lines += text
            .lines()
            .filter(|l| l.starts_with("{ #category") || l.starts_with("{#category"))
            .count();
        round_trip(f, &text, &mut trip);
    }
    let clashes = tonel::duplicate_definitions(&repo.packages);

    println!("{}", dir.display());
    println!(
        "  read: {} packages, {} files, {methods} methods in {read_ms:.0} ms; `{{ #category` lines: {category_lines}{}",
        repo.packages.len(),
        files.len(),
        if category_lines == methods {
            " (equal)"
        } else {
            " (DIFFERENT)"
        }
    );
    println!("  errors: {}", errors.len());
    for e in errors.iter().take(10) {
        println!("    {e}");
    }
    println!(
        "  classes defined in more than one package: {}",
        clashes.len()
    );
    for c in clashes.iter().take(3) {
        println!("    {c}");
    }
    println!(
        "  folders skipped (not Tonel packages): {}",
        repo.skipped.len()
    );
    let [v1, v2, v3, packages] = trip.by_version;
    println!(
        "  round trip: {} of {} files identical (v1 {}/{}, v2 {}/{}, v3 {}/{}, package.st {}/{})",
        trip.identical, trip.checked, v1.1, v1.0, v2.1, v2.0, v3.1, v3.0, packages.1, packages.0
    );
    for (path, what) in trip.differing.iter().take(10) {
        println!("    differs: {}: {what}", path.display());
    }
    let start = Instant::now();
    let refused = syntax::check_packages(&repo.packages);
    println!(
        "  syntax: {methods} methods checked in {:.0} ms, {} refused",
        start.elapsed().as_secs_f64() * 1e3,
        refused.len()
    );
    for e in refused.iter().take(20) {
        println!("    {e}");
    }
    Ok(errors.is_empty() && trip.identical == trip.checked && refused.is_empty())
}

/// The syntax check over every method of a chunk-format file (a Squeak or Cuis `.sources` or
/// `.changes` file, a file-out): the chunks after a `!Foo methodsFor: …!` header, up to the
/// empty chunk that ends the group (`!!` is a `!`). Bytes that are not UTF-8 are read as
/// Latin-1, as those files are written.
fn check_chunks(file: &Path) -> anyhow::Result<bool> {
    let bytes = std::fs::read(file)?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    let mut methods = Vec::new();
    let mut in_methods = false;
    let mut chunk = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '!' {
            chunk.push(c);
            continue;
        }
        if chars.peek() == Some(&'!') {
            chars.next();
            chunk.push('!');
            continue;
        }
        let body = std::mem::take(&mut chunk);
        let trimmed = body.trim();
        if in_methods {
            if trimmed.is_empty() {
                in_methods = false;
            } else {
                methods.push(body.trim_start_matches(['\r', '\n']).to_owned());
            }
        } else if trimmed.contains(" methodsFor: ") {
            in_methods = true;
        }
    }
    let start = Instant::now();
    let refused: Vec<(String, syntax::SyntaxError)> = methods
        .iter()
        .filter_map(|m| syntax::check_method(m).err().map(|e| (m.clone(), e)))
        .collect();
    println!("{}", file.display());
    println!(
        "  syntax: {} methods (chunks after `methodsFor:`) checked in {:.0} ms, {} refused",
        methods.len(),
        start.elapsed().as_secs_f64() * 1e3,
        refused.len()
    );
    for (method, e) in refused.iter().take(20) {
        let first = method.lines().next().unwrap_or_default();
        println!("    {first}: {e}");
    }
    Ok(refused.is_empty())
}

fn st_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "st")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Rewrites one file in its own style and compares.
fn round_trip(path: &Path, text: &str, trip: &mut RoundTrip) {
    let Ok(parsed) = tonel::parse_file(path, text) else {
        return;
    };
    let version = |style: TonelStyle| match (style.symbol_names, style.package_fields) {
        (true, _) => 0,
        (false, false) => 1,
        (false, true) => 2,
    };
    let (written, slot) = match &parsed {
        ParsedFile::Class(c) => (
            tonel::write_class_file(c),
            c.origin.as_ref().map_or(2, |o| version(o.style)),
        ),
        // An extension file says only whether it uses symbols (v1) or strings (v2 or v3).
        ParsedFile::Extension(e) => (
            tonel::write_extension_file(e),
            e.origin
                .as_ref()
                .map_or(2, |o| if o.style.symbol_names { 0 } else { 2 }),
        ),
        // A `package.st` is written (by `pull`, to declare a tag) only in v2/v3, where its name
        // is a string.
        ParsedFile::Package(p) if text.contains("#name : '") => {
            (Ok(tonel::write_package_file(p)), 3)
        }
        ParsedFile::Package(_) => return,
    };
    trip.checked += 1;
    trip.by_version[slot].0 += 1;
    match written {
        Ok(w) if w == text => {
            trip.identical += 1;
            trip.by_version[slot].1 += 1;
        }
        Ok(w) => trip
            .differing
            .push((path.to_path_buf(), first_difference(text, &w))),
        Err(e) => trip.differing.push((path.to_path_buf(), e.to_string())),
    }
}

fn first_difference(want: &str, got: &str) -> String {
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
    format!(
        "line {}: file {:?}, written {:?}",
        line + 1,
        want.lines().nth(line).unwrap_or("<end>"),
        got.lines().nth(line).unwrap_or("<end>")
    )
}
