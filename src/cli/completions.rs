//! `hotpatch completions SHELL` and `hotpatch man [--dir DIR]`: shell completions and manual
//! pages generated from the same clap definitions as the parser, so every option they list is
//! one the binary accepts.
//!
//!     hotpatch completions bash > /etc/bash_completion.d/hotpatch
//!     hotpatch completions zsh > "${fpath[1]}/_hotpatch"
//!     hotpatch completions fish > ~/.config/fish/completions/hotpatch.fish
//!     hotpatch man --dir /usr/local/share/man/man1

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::{Cli, exit, report_error};

/// Options of `hotpatch completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `hotpatch man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write `hotpatch.1` and one `hotpatch-COMMAND.1` per command into this directory, instead
    /// of printing `hotpatch.1` on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> i32 {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "hotpatch", &mut std::io::stdout());
    exit::OK
}

/// Prints the main manual page, or writes every page into `args.dir`.
pub fn man(args: &ManArgs) -> i32 {
    let result = match &args.dir {
        None => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .context("writing the manual page"),
        Some(dir) => write_pages(dir),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            report_error(&e);
            exit::ERROR
        }
    }
}

fn write_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // No pages for the `help` pseudo-command (one per command, all alike).
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
    Ok(())
}
