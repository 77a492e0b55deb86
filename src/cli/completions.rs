//! `hotpatch completions SHELL`: shell completions generated from the same clap definitions as
//! the parser, so every option they list is one the binary accepts.
//!
//! ```text
//! hotpatch completions bash > /etc/bash_completion.d/hotpatch
//! hotpatch completions zsh > "${fpath[1]}/_hotpatch"
//! hotpatch completions fish > ~/.config/fish/completions/hotpatch.fish
//! ```

use clap::{Args, CommandFactory};

use super::{Cli, exit};

/// Options of `hotpatch completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> i32 {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "hotpatch", &mut std::io::stdout());
    exit::OK
}
