//! Command-line front end: parses arguments, calls the library, prints. Thin by design: every
//! command is a function that takes its options and returns an outcome; printing happens here.

use clap::{Parser, Subcommand};

/// Exit codes shared by every command (documented in the README).
pub mod exit {
    /// Success; for `diff`, nothing differs.
    pub const OK: i32 = 0;
    /// `diff`: something differs.
    pub const DIFFERENCES: i32 = 1;
    /// Usage, configuration or source errors (nothing was sent to an image).
    pub const ERROR: i32 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "hotpatch",
    version,
    about = "Push Tonel source changes into a running Smalltalk image"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {}
}
