//! The agent's own code as a file-in, for images without a Tonel loader (the Squeak test image,
//! any rebuild with the `filein` loader, and the end-to-end tests on Cuis and Pharo). Generated
//! from the agent's Tonel sources by the same exporter users get (`hotpatch export --format st`),
//! never maintained twice.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// The agent's packages for Squeak, in load order: the shared code, then its platform class.
pub const SQUEAK_PACKAGES: [&str; 2] = ["Hotpatch-Agent", "Hotpatch-Agent-Squeak"];

/// Which of the agent's platform packages an image loads beside the shared one
/// (`smalltalk-agent/README.md`, "Loading").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentPlatform {
    /// Squeak images without ANSI exceptions, such as the CI test image.
    Squeak,
    /// Squeak 5/6 and Cuis 5+.
    ModernSqueak,
    /// Pharo 8–13.
    Pharo,
}

impl AgentPlatform {
    /// The packages to file in, in load order: the shared code, then the platform class.
    pub fn packages(self) -> [&'static str; 2] {
        match self {
            AgentPlatform::Squeak => SQUEAK_PACKAGES,
            AgentPlatform::ModernSqueak => ["Hotpatch-Agent", "Hotpatch-Agent-ModernSqueak"],
            AgentPlatform::Pharo => ["Hotpatch-Agent", "Hotpatch-Agent-Pharo"],
        }
    }
}

/// The chunk-format file-in of the agent for Squeak, from the Tonel tree at `agent_src`
/// (`smalltalk-agent/src` in this repository).
pub fn agent_filein(agent_src: &Path) -> Result<String> {
    agent_filein_for(agent_src, AgentPlatform::Squeak)
}

/// The chunk-format file-in of the agent's packages for `platform`, from the Tonel tree at
/// `agent_src`.
pub fn agent_filein_for(agent_src: &Path, platform: AgentPlatform) -> Result<String> {
    let (mut repo, errors) = crate::tonel::read_repository(agent_src)
        .with_context(|| format!("cannot read the agent's sources at {}", agent_src.display()))?;
    if let Some(first) = errors.first() {
        bail!(
            "the agent's sources have {} Tonel error(s), first: {first}",
            errors.len()
        );
    }
    let mut packages = Vec::new();
    for name in platform.packages() {
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
