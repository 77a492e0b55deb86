//! The agent's own code as a file-in, for images without a Tonel loader (the Squeak test image,
//! any rebuild with the `filein` loader). Generated from the agent's Tonel sources by the same
//! exporter users get (`hotpatch export --format st`), never maintained twice.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// The agent's packages for Squeak, in load order: the shared code, then its platform class.
pub const SQUEAK_PACKAGES: [&str; 2] = ["Hotpatch-Agent", "Hotpatch-Agent-Squeak"];

/// The chunk-format file-in of the agent for Squeak, from the Tonel tree at `agent_src`
/// (`smalltalk-agent/src` in this repository).
pub fn agent_filein(agent_src: &Path) -> Result<String> {
    let (mut repo, errors) = crate::tonel::read_repository(agent_src)
        .with_context(|| format!("cannot read the agent's sources at {}", agent_src.display()))?;
    if let Some(first) = errors.first() {
        bail!(
            "the agent's sources have {} Tonel error(s), first: {first}",
            errors.len()
        );
    }
    let mut packages = Vec::new();
    for name in SQUEAK_PACKAGES {
        let at = repo
            .packages
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("package {name} is missing from {}", agent_src.display()))?;
        packages.push(repo.packages.remove(at));
    }
    repo.packages = packages;
    Ok(crate::tonel::chunk::export(&repo))
}
