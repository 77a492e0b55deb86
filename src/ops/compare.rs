//! Snapshot the image for a scope and diff it against the local sources: the common first half
//! of `hotpatch diff` and `hotpatch push`.
//!
//! A whole-package snapshot is cached per target in `.hotpatch/snapshots/` beside hotpatch.toml,
//! keyed by the agent's session id and epoch: when the image has not changed since (the agent
//! answers `unchanged` to `since_epoch`), nothing is transferred, so a push that finds nothing to
//! do costs the same whatever the size of the project. The epoch counts changes made through
//! the agent (and, on Pharo, any code change); `--no-cache` ignores the cache.

use super::local::{LocalSources, Scope};
use crate::diff::{Changes, diff};
use crate::image::protocol::SnapshotResult;
use crate::image::{Client, ClientError};
use crate::model::Package;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The image side of a comparison and what differs.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub session: String,
    pub epoch: u64,
    /// The image's packages for the scope.
    pub image: Vec<Package>,
    /// Direct subclasses the image reported, by superclass.
    pub subclasses: HashMap<String, Vec<String>>,
    pub changes: Changes,
    /// True when the image's side came from the snapshot cache.
    pub from_cache: bool,
}

/// Where snapshots of one target are cached.
#[derive(Debug, Clone)]
pub struct SnapshotCache {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct CachedSnapshot {
    url: String,
    scope: Vec<String>,
    snapshot: SnapshotResult,
}

impl SnapshotCache {
    /// The cache file of `target` under the project root.
    pub fn new(root: &Path, target: &str) -> SnapshotCache {
        let file: String = target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        SnapshotCache {
            path: root
                .join(".hotpatch")
                .join("snapshots")
                .join(format!("{file}.json")),
        }
    }

    fn load(&self, url: &str, session: &str, scope: &Scope) -> Option<SnapshotResult> {
        let text = std::fs::read(&self.path).ok()?;
        let cached: CachedSnapshot = serde_json::from_slice(&text).ok()?;
        (cached.url == url && cached.snapshot.session == session && cached.scope == scope.packages)
            .then_some(cached.snapshot)
    }

    /// Best effort: a cache that cannot be written only costs speed next time.
    fn store(&self, url: &str, scope: &Scope, snapshot: &SnapshotResult) {
        let cached = CachedSnapshot {
            url: url.to_owned(),
            scope: scope.packages.clone(),
            snapshot: snapshot.clone(),
        };
        let Ok(bytes) = serde_json::to_vec(&cached) else {
            return;
        };
        let Some(dir) = self.path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        // Write then rename, so a concurrent reader never sees half a file.
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Forgets the cached snapshot (after the image was changed by us, or on doubt).
    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Snapshots the image for the local scope (through the cache when given) and diffs.
pub async fn compare(
    client: &mut Client,
    local: &LocalSources,
    cache: Option<&SnapshotCache>,
) -> Result<Comparison, ClientError> {
    let scope = &local.scope;
    // Only whole-package snapshots are cached; single-file ones are small anyway.
    let cache = cache.filter(|_| scope.classes.is_none());
    let url = client.url().to_owned();
    let session = client.hello.session.clone();
    let cached = cache.and_then(|c| c.load(&url, &session, scope));
    let since = cached.as_ref().map(|s| s.epoch);
    let answer = client
        .snapshot(scope.packages.clone(), scope.classes.clone(), since)
        .await?;
    let (snapshot, from_cache) = match (answer.unchanged, cached) {
        (true, Some(cached)) => (cached, true),
        (true, None) => {
            // We did not ask for `since_epoch`, so `unchanged` makes no sense: ask in full.
            (
                client
                    .snapshot(scope.packages.clone(), scope.classes.clone(), None)
                    .await?,
                false,
            )
        }
        (false, _) => {
            if let Some(c) = cache {
                c.store(&url, scope, &answer);
            }
            (answer, false)
        }
    };
    let subclasses = snapshot.subclasses();
    let (session, epoch) = (snapshot.session.clone(), snapshot.epoch);
    let image = snapshot.into_packages();
    let changes = diff(&local.packages, &image);
    Ok(Comparison {
        session,
        epoch,
        image,
        subclasses,
        changes,
        from_cache,
    })
}
