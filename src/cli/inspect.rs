//! `hotpatch inspect [DIR] [--json]`: reads a Tonel repository and shows what it holds, or every
//! error in it with `path:line:col`. `--json` prints the full model in the documented schema
//! (README, "Tonel engine").

use crate::term::{errln, out};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::exit;
use crate::model::{ClassKind, Package, Repository};
use crate::tonel::{self, TonelError};

/// Options of `hotpatch inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Tonel repository: the package directory (`src/`), a repository root, or one package.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print the whole model (selectors, protocols, sources, spans) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Version tag of the JSON document; bumped on any incompatible change.
pub const JSON_SCHEMA: &str = "hotpatch.inspect/1";

/// The `--json` document.
#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    root: &'a std::path::Path,
    format: Option<&'a str>,
    summary: Summary,
    packages: &'a [Package],
    errors: &'a [TonelError],
    /// Classes defined in more than one package (dialect variants): fine to read, refused only
    /// when such packages are pushed or exported together.
    warnings: &'a [TonelError],
    /// Folders that are not Tonel packages.
    skipped: &'a [PathBuf],
}

/// Counts shown by both outputs.
#[derive(Serialize, Default)]
struct Summary {
    packages: usize,
    classes: usize,
    traits: usize,
    extensions: usize,
    methods: usize,
    errors: usize,
    warnings: usize,
    skipped: usize,
}

fn summarize(repo: &Repository, errors: &[TonelError], warnings: &[TonelError]) -> Summary {
    let mut s = Summary {
        packages: repo.packages.len(),
        errors: errors.len(),
        warnings: warnings.len(),
        skipped: repo.skipped.len(),
        ..Default::default()
    };
    for p in &repo.packages {
        for c in &p.classes {
            match c.kind {
                ClassKind::Class => s.classes += 1,
                ClassKind::Trait => s.traits += 1,
            }
        }
        s.extensions += p.extensions.len();
        s.methods += p.methods().count();
    }
    s
}

/// Runs `inspect`; returns the exit code (2 when the repository has errors).
pub fn run(args: &InspectArgs) -> i32 {
    let (repo, mut errors) = match tonel::read_repository(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            errln!("hotpatch: {e:#}");
            return exit::ERROR;
        }
    };
    // A name that breaks the language's rule is refused by every push: an error here too.
    errors.extend(tonel::name_errors(&repo.packages));
    let warnings = tonel::duplicate_definitions(&repo.packages);
    let summary = summarize(&repo, &errors, &warnings);
    if args.json {
        let report = Report {
            schema: JSON_SCHEMA,
            root: &repo.root,
            format: repo.format.as_deref(),
            summary,
            packages: &repo.packages,
            errors: &errors,
            warnings: &warnings,
            skipped: &repo.skipped,
        };
        // Streamed: the document of a Pharo-sized repository is several times the size of its
        // sources, and building it as one string first doubled the command's peak memory.
        if let Err(e) = write_json(&report) {
            errln!("hotpatch: cannot write JSON: {e}");
            return exit::ERROR;
        }
    } else {
        out!("{}", human(&repo, &summary));
        for w in &warnings {
            errln!("warning: {w}");
        }
        for e in &errors {
            errln!("{e}");
        }
    }
    if errors.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    }
}

fn write_json(report: &Report<'_>) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn human(repo: &Repository, s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{}: {}, {}, {}, {}, {}, {}",
        repo.root.display(),
        repo.format
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default(),
        plural(s.packages, "package"),
        plural(s.classes, "class").replace("classs", "classes"),
        plural(s.traits, "trait"),
        plural(s.extensions, "extension"),
        plural(s.methods, "method"),
        plural(s.errors, "error"),
    );
    if s.warnings > 0 {
        let _ = writeln!(
            out,
            "{} (a class defined in more than one package; see the warnings)",
            plural(s.warnings, "warning")
        );
    }
    for dir in &repo.skipped {
        let _ = writeln!(out, "skipped {} (not a Tonel package)", dir.display());
    }
    for p in &repo.packages {
        let tags = if p.tags.is_empty() {
            String::new()
        } else {
            format!(" [tags: {}]", p.tags.join(", "))
        };
        let _ = writeln!(out, "package {}{tags}", p.name);
        for c in &p.classes {
            let kind = match c.kind {
                ClassKind::Class => "class",
                ClassKind::Trait => "trait",
            };
            let sup = c
                .superclass
                .as_deref()
                .map(|s| format!(" < {s}"))
                .unwrap_or_default();
            let tag = c
                .tag
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {kind} {}{sup}{tag}: {}",
                c.name,
                plural(c.methods.len(), "method")
            );
        }
        for e in &p.extensions {
            let _ = writeln!(
                out,
                "  extends {}: {}",
                e.class_name,
                plural(e.methods.len(), "method")
            );
        }
    }
    out
}
