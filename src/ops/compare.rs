//! Snapshot the image for a scope and diff it against the local sources: the common first half
//! of `hotpatch diff` and `hotpatch push`.
//!
//! A whole-package snapshot is cached per target in `.hotpatch/snapshots/` beside hotpatch.toml,
//! keyed by the agent's session id and epoch: when the image has not changed since (the agent
//! answers `unchanged` to `since_epoch`), nothing is transferred, so a push that finds nothing to
//! do costs the same whatever the size of the project. The epoch counts changes made through
//! the agent (and, on Pharo, any code change); `--no-cache` ignores the cache.
//!
//! Beside it, a *sync record* per scope remembers "at session S, epoch E, the image matched
//! local sources with fingerprint F" (written after a push applied, or a comparison found
//! nothing). When the sources still have fingerprint F and the agent answers `unchanged` to
//! `since_epoch = E`, there is nothing to transfer or diff: a push that finds nothing to do
//! costs one small round trip, whatever the size of the project and of the image.

use super::local::{LocalSources, Scope};
use crate::diff::{Changes, diff};
use crate::drift::DriftReport;
use crate::image::protocol::SnapshotResult;
use crate::image::{Client, ClientError};
use crate::model::{MethodKey, Package};
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
    /// What changed in the image since hotpatch installed it, against the local sources.
    pub drift: DriftReport,
    /// Methods whose image source is decompiled (the image keeps no source for them).
    pub inexact: Vec<MethodKey>,
    /// True when the image's side came from the snapshot cache.
    pub from_cache: bool,
}

/// Where snapshots of one target are cached.
#[derive(Debug, Clone)]
pub struct SnapshotCache {
    path: PathBuf,
}

/// "At this session and epoch the image matched these sources" for one scope.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
struct SyncRecord {
    url: String,
    session: String,
    epoch: u64,
    scope: Scope,
    fingerprint: String,
}

/// How many scopes' sync records are kept (an editor hook makes one per file it pushes).
const SYNC_RECORDS: usize = 64;

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
        if let Ok(bytes) = serde_json::to_vec(&cached) {
            write_atomically(&self.path, &bytes);
        }
    }

    /// Forgets the cached snapshot and sync records.
    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(self.sync_path());
    }

    fn sync_path(&self) -> PathBuf {
        self.path.with_extension("sync.json")
    }

    fn sync_records(&self) -> Vec<SyncRecord> {
        std::fs::read(self.sync_path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The epoch at which the image matched sources with `fingerprint` in `scope`, if recorded
    /// for this agent session.
    fn synced_epoch(
        &self,
        url: &str,
        session: &str,
        scope: &Scope,
        fingerprint: &str,
    ) -> Option<u64> {
        self.sync_records()
            .into_iter()
            .find(|r| {
                r.url == url
                    && r.session == session
                    && &r.scope == scope
                    && r.fingerprint == fingerprint
            })
            .map(|r| r.epoch)
    }

    /// Records that at `session`/`epoch` the image matched the sources with `fingerprint` in
    /// `scope`. Best effort, like the snapshot cache.
    pub fn record_sync(
        &self,
        url: &str,
        session: &str,
        epoch: u64,
        scope: &Scope,
        fingerprint: &str,
    ) {
        let record = SyncRecord {
            url: url.to_owned(),
            session: session.to_owned(),
            epoch,
            scope: scope.clone(),
            fingerprint: fingerprint.to_owned(),
        };
        let mut records: Vec<SyncRecord> = self
            .sync_records()
            .into_iter()
            .filter(|r| !(r.url == record.url && r.scope == record.scope))
            .collect();
        records.insert(0, record);
        records.truncate(SYNC_RECORDS);
        if let Ok(bytes) = serde_json::to_vec(&records) {
            write_atomically(&self.sync_path(), &bytes);
        }
    }
}

/// Write then rename, so a concurrent reader never sees half a file. Best effort.
fn write_atomically(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Snapshots the image for the local scope (through the cache when given) and diffs.
pub async fn compare(
    client: &mut Client,
    local: &LocalSources,
    cache: Option<&SnapshotCache>,
) -> Result<Comparison, ClientError> {
    let scope = &local.scope;
    let url = client.url().to_owned();
    let session = client.hello.session.clone();
    let fingerprint = local.fingerprint();
    let synced = cache.and_then(|c| c.synced_epoch(&url, &session, scope, &fingerprint));
    // Only whole-package snapshots are cached; single-file ones are small anyway.
    let snapshot_cache = cache.filter(|_| scope.classes.is_none());
    let cached = match synced {
        Some(_) => None,
        None => snapshot_cache.and_then(|c| c.load(&url, &session, scope)),
    };
    let since = synced.or(cached.as_ref().map(|s| s.epoch));
    let answer = client
        .snapshot(scope.packages.clone(), scope.classes.clone(), since)
        .await?;
    if let (true, Some(epoch)) = (answer.unchanged, synced) {
        return Ok(Comparison {
            session,
            epoch,
            image: Vec::new(),
            subclasses: HashMap::new(),
            changes: Changes::default(),
            drift: DriftReport::unknown(),
            inexact: Vec::new(),
            from_cache: true,
        });
    }
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
            if let Some(c) = snapshot_cache {
                c.store(&url, scope, &answer);
            }
            (answer, false)
        }
    };
    let subclasses = snapshot.subclasses();
    let (session, epoch) = (snapshot.session.clone(), snapshot.epoch);
    let recorded = snapshot.drift();
    let inexact = snapshot.inexact();
    let image = snapshot.into_packages();
    let changes = diff(&local.packages, &image);
    let drift = match recorded {
        Some(recorded) => {
            DriftReport::classify(&local.packages, &image, recorded, scope.classes.as_deref())
        }
        None => DriftReport::unknown(),
    };
    if let Some(c) = cache.filter(|_| changes.is_empty()) {
        c.record_sync(&url, &session, epoch, scope, &fingerprint);
    }
    Ok(Comparison {
        session,
        epoch,
        image,
        subclasses,
        changes,
        drift,
        inexact,
        from_cache,
    })
}
