//! `hotpatch init`: writes the commented starting configuration.

use super::exit;
use crate::config::{FILE_NAME, TEMPLATE};
use crate::term::{errln, outln};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The directory to write hotpatch.toml into
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing hotpatch.toml
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: InitArgs) -> i32 {
    let path = args.dir.join(FILE_NAME);
    if path.exists() && !args.force {
        errln!(
            "hotpatch: error: {} already exists; use --force to overwrite it",
            path.display()
        );
        return exit::ERROR;
    }
    if let Err(e) = std::fs::write(&path, TEMPLATE) {
        errln!("hotpatch: error: cannot write {}: {e}", path.display());
        return exit::ERROR;
    }
    outln!(
        "wrote {}: set `source`, `packages` and the target's url, then export the token as HOTPATCH_TOKEN",
        path.display()
    );
    exit::OK
}
