//! `hotpatch init`: writes the commented starting configuration for the project here.

use super::exit;
use crate::ops::init::{Gitignore, SourceFrom, init};
use crate::term::{errln, outln};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project directory to write hotpatch.toml into
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing hotpatch.toml
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: InitArgs) -> i32 {
    let done = match init(&args.dir, args.force) {
        Ok(done) => done,
        Err(e) => {
            errln!("hotpatch: error: {e}");
            return exit::ERROR;
        }
    };
    let from = match done.source_from {
        SourceFrom::ProjectFile => " (srcDirectory of .project)",
        SourceFrom::Found => " (it holds Tonel packages)",
        SourceFrom::Default => " (no packages found yet: Iceberg's default)",
    };
    outln!("wrote {}", done.config.display());
    outln!("  source    {}{from}", done.source);
    if done.packages.is_empty() {
        outln!("  packages  all found under the source folder");
    } else {
        outln!("  packages  {}", done.packages.join(", "));
    }
    match &done.gitignore {
        Gitignore::Added(path) => outln!(
            "  ignored   .hotpatch/ (the snapshot cache) in {}",
            path.display()
        ),
        Gitignore::AlreadyIgnored(path) => {
            outln!("  ignored   .hotpatch/ already, in {}", path.display())
        }
        Gitignore::NotGit => {}
    }
    outln!(
        "next: set the target's url, start the agent in the image (README: Quick start), export its token as HOTPATCH_TOKEN, then `hotpatch status`"
    );
    exit::OK
}
