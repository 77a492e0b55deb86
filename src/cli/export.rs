//! `hotpatch export --format st [DIR] [-o FILE]`: writes a chunk-format file-in that old Squeak
//! images can load. Refuses (exit 2, every error listed) when the repository has Tonel errors,
//! so a half-read repository is never exported.

use crate::term::errln;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use crate::tonel::{self, chunk};

/// Output formats of `hotpatch export`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Chunk format (`.st` file-in) for Squeak/Pharo `fileIn`.
    St,
}

/// Options of `hotpatch export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "st")]
    pub format: ExportFormat,
    /// Tonel repository: the package directory (`src/`), a repository root, or one package.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Use CR line endings (Squeak's own) instead of LF.
    #[arg(long)]
    pub cr: bool,
}

/// Runs `export`; returns the exit code.
pub fn run(args: &ExportArgs) -> i32 {
    let (repo, mut errors) = match tonel::read_repository(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            errln!("hotpatch: {e:#}");
            return exit::ERROR;
        }
    };
    // A file-in loads every package at once: a class defined twice would be filed in twice.
    errors.extend(tonel::duplicate_definitions(&repo.packages));
    errors.extend(tonel::name_errors(&repo.packages));
    if !errors.is_empty() {
        for e in &errors {
            errln!("{e}");
        }
        errln!(
            "hotpatch: {} Tonel error(s); nothing exported",
            errors.len()
        );
        return exit::ERROR;
    }
    let text = match args.format {
        ExportFormat::St => chunk::export_with(
            &repo,
            chunk::Options {
                line_ending: if args.cr {
                    chunk::LineEnding::Cr
                } else {
                    chunk::LineEnding::Lf
                },
            },
        ),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                errln!("hotpatch: writing {}: {e}", path.display());
                return exit::ERROR;
            }
        }
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
            {
                errln!("hotpatch: writing standard output: {e}");
                return exit::ERROR;
            }
        }
    }
    exit::OK
}
