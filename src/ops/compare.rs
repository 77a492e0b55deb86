//! Snapshot the image for a scope and diff it against the local sources: the common first half
//! of `hotpatch diff` and `hotpatch push`.
//!
//! A snapshot of every owned package is cached per target in `.hotpatch/snapshots/` beside
//! hotpatch.toml, keyed by the agent's session id and epoch: when the image has not changed since
//! (the agent answers `unchanged` to `since_epoch`), nothing is transferred. A narrower scope (one
//! file, some packages) is answered from the same cached snapshot, cut down the way the agent
//! would cut it ([`view_of`]), so the editor's save hook and whole-project pushes share one cache.
//! The epoch counts changes made through the agent (and, on Pharo, any code change);
//! `--no-cache` ignores the cache.
//!
//! After a push applied a batch, the client knows what the image holds without asking: the
//! cached snapshot is advanced by the batch itself to the new epoch ([`SnapshotCache::advance`]),
//! so the next save-hook push transfers nothing unless someone else changed the image meanwhile
//! (then the epoch differs and the snapshot is read again).
//!
//! Beside it, a *sync record* per scope remembers "at session S, epoch E, the image matched
//! local sources with fingerprint F" (written after a push applied, or a comparison found
//! nothing). When the sources still have fingerprint F and the agent answers `unchanged` to
//! `since_epoch = E`, there is nothing to transfer or diff: a push that finds nothing to do
//! costs one small round trip, whatever the size of the project and of the image.

use super::local::{LocalSources, Scope};
use crate::diff::{Changes, ClassAspect, ClassChange, MethodChange, diff};
use crate::drift::DriftReport;
use crate::image::protocol::{
    DriftedClass, DriftedMethod, Mark, SnapshotResult, WireClass, WireDrift, WireExtension,
    WireMethod, WirePackage,
};
use crate::image::{Client, ClientError};
use crate::model::{MethodDef, MethodKey, Package};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The image side of a comparison and what differs.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub session: String,
    pub epoch: u64,
    /// The agent's eval count the image's side speaks of (`None` from agents that do not count
    /// evals): with `epoch`, what a cached snapshot advanced from this comparison is valid for.
    pub evals: Option<u64>,
    /// The image's packages for the scope.
    pub image: Vec<Package>,
    /// Direct subclasses the image reported, by superclass.
    pub subclasses: HashMap<String, Vec<String>>,
    pub changes: Changes,
    /// What changed in the image since hotpatch installed it, against the local sources.
    pub drift: DriftReport,
    /// Methods whose image source is decompiled (the image keeps no source for them).
    pub inexact: Vec<MethodKey>,
    /// Methods the image holds as overrides of another package's method, with that package
    /// (the agent keeps their originals; removing one gives the original back).
    pub overrides: BTreeMap<MethodKey, String>,
    /// True when the image's side came from the snapshot cache.
    pub from_cache: bool,
    /// The snapshot of every owned package at `epoch` the image's side was cut from, when the
    /// cache was used: what [`SnapshotCache::advance`] advances.
    whole: Option<Arc<Loaded>>,
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
    /// The agent's eval count at `epoch` (`None`: an agent that does not count evals, or a
    /// record written before they were counted).
    #[serde(default)]
    evals: Option<u64>,
    scope: Scope,
    fingerprint: String,
}

/// How many scopes' sync records are kept (an editor hook makes one per file it pushes).
const SYNC_RECORDS: usize = 64;

/// The cached snapshot on disk, as an index and one file (a [`Shard`]) per class name, so that
/// a push of one file reads and writes only the classes it concerns, whatever the project's size.
/// Shard files are named after a digest of their content and the index is replaced atomically:
/// a reader sees one epoch's snapshot or, if a concurrent writer removed a shard it needs,
/// nothing (a miss, so the image is read again).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Index {
    url: String,
    /// The packages snapshotted, in the order asked.
    scope: Vec<String>,
    session: String,
    epoch: u64,
    /// The agent's eval count the snapshot speaks of (see [`Mark`]).
    #[serde(default)]
    evals: Option<u64>,
    /// Whether the snapshot carried the agent's drift report (kept per class in the shards).
    #[serde(default)]
    drift: bool,
    /// The packages the agent said it knows the whole baseline of (`drift.adopted`).
    #[serde(default)]
    adopted: Vec<String>,
    /// Shard file by class name.
    shards: BTreeMap<String, String>,
}

impl Index {
    fn mark(&self) -> Mark {
        Mark {
            epoch: self.epoch,
            evals: self.evals,
        }
    }
}

/// One class's part of a snapshot: its definition and methods when a snapshotted package
/// defines it, and every snapshotted package's extension methods on it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Shard {
    #[serde(default)]
    class: Option<WireClass>,
    #[serde(default)]
    extensions: Vec<PackageExtension>,
    /// What the agent reported as drifted about this class (its definition, its methods), by
    /// owning package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    drift: Vec<PackageDrift>,
}

/// The drift of one class under one package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PackageDrift {
    package: String,
    #[serde(default)]
    methods: Vec<DriftedMethod>,
    #[serde(default)]
    classes: Vec<DriftedClass>,
}

/// Extension methods of `package` on one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PackageExtension {
    package: String,
    extension: WireExtension,
}

/// A cached snapshot as read (or just written): its index and the part of the snapshot that was
/// needed (every shard for a whole-package scope, the named classes' for one file).
#[derive(Debug)]
struct Loaded {
    index: Index,
    snapshot: SnapshotResult,
    /// The class names whose shards `snapshot` holds.
    names: BTreeSet<String>,
}

impl SnapshotCache {
    /// The cache of `target` under the project root.
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

    /// Where the index and the shards live.
    fn dir(&self) -> PathBuf {
        self.path.with_extension("")
    }

    fn read_index(&self) -> Option<Index> {
        let bytes = std::fs::read(self.dir().join("index.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn read_shard(&self, file: &str) -> Option<Shard> {
        if !is_shard_file(file) {
            return None;
        }
        let bytes = std::fs::read(self.dir().join(file)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The cached snapshot of `packages` for this agent session, or the part of it that
    /// `classes` need (when given): those classes and the extension methods on them.
    fn load(
        &self,
        url: &str,
        session: &str,
        packages: &[String],
        classes: Option<&[String]>,
    ) -> Option<Loaded> {
        let index = self.read_index()?;
        if index.url != url || index.session != session || index.scope != packages {
            return None;
        }
        let names: BTreeSet<String> = match classes {
            Some(classes) => classes
                .iter()
                .filter(|c| index.shards.contains_key(*c))
                .cloned()
                .collect(),
            None => index.shards.keys().cloned().collect(),
        };
        let mut shards = Vec::with_capacity(names.len());
        for name in &names {
            shards.push(self.read_shard(index.shards.get(name)?)?);
        }
        let snapshot = join(&index, shards);
        Some(Loaded {
            index,
            snapshot,
            names,
        })
    }

    /// Caches `snapshot` (of `packages`), replacing whatever was cached. Best effort: a cache
    /// that cannot be written only costs speed next time.
    fn store(&self, url: &str, packages: &[String], snapshot: SnapshotResult) -> Loaded {
        let shards = split(&snapshot);
        let mut index = Index {
            url: url.to_owned(),
            scope: packages.to_vec(),
            session: snapshot.session.clone(),
            epoch: snapshot.epoch,
            evals: snapshot.evals,
            drift: snapshot.drift().is_some(),
            adopted: snapshot
                .packages
                .iter()
                .filter(|p| p.drift.as_ref().is_some_and(|d| d.adopted))
                .map(|p| p.name.clone())
                .collect(),
            shards: BTreeMap::new(),
        };
        for (name, shard) in &shards {
            if let Some(file) = self.write_shard(shard) {
                index.shards.insert(name.clone(), file);
            }
        }
        self.write_index(&index);
        self.remove_unreferenced(&index);
        // Written by earlier versions: the whole snapshot in one file.
        let _ = std::fs::remove_file(&self.path);
        Loaded {
            index,
            snapshot,
            names: shards.into_keys().collect(),
        }
    }

    /// Writes a shard under a name derived from its content; `None` if it cannot be written.
    fn write_shard(&self, shard: &Shard) -> Option<String> {
        use std::hash::{Hash, Hasher};
        let bytes = serde_json::to_vec(shard).ok()?;
        let mut h = std::hash::DefaultHasher::new();
        bytes.hash(&mut h);
        let file = format!("{:016x}.json", h.finish());
        let path = self.dir().join(&file);
        if !path.exists() {
            write_atomically(&path, &bytes);
        }
        path.exists().then_some(file)
    }

    fn write_index(&self, index: &Index) {
        if let Ok(bytes) = serde_json::to_vec(index) {
            write_atomically(&self.dir().join("index.json"), &bytes);
        }
    }

    /// Removes the shard files `index` does not name (left by earlier epochs).
    fn remove_unreferenced(&self, index: &Index) {
        let referenced: BTreeSet<&str> = index.shards.values().map(String::as_str).collect();
        let Ok(entries) = std::fs::read_dir(self.dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name != "index.json" && !name.contains(".tmp") && !referenced.contains(&*name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The whole cached snapshot, if there is one (for inspection: which session and epoch it
    /// speaks of, and what it says the image holds).
    pub fn snapshot(&self) -> Option<SnapshotResult> {
        let index = self.read_index()?;
        let packages = index.scope.clone();
        let loaded = self.load(&index.url, &index.session, &packages, None)?;
        Some(loaded.snapshot)
    }

    /// Forgets the cached snapshot and sync records.
    pub fn clear(&self) {
        let _ = std::fs::remove_dir_all(self.dir());
        // Written by earlier versions: the whole snapshot in one file.
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

    /// The mark at which the image matched sources with `fingerprint` in `scope`, if recorded
    /// for this agent session.
    fn synced_mark(
        &self,
        url: &str,
        session: &str,
        scope: &Scope,
        fingerprint: &str,
    ) -> Option<Mark> {
        self.sync_records()
            .into_iter()
            .find(|r| {
                r.url == url
                    && r.session == session
                    && &r.scope == scope
                    && r.fingerprint == fingerprint
            })
            .map(|r| Mark {
                epoch: r.epoch,
                evals: r.evals,
            })
    }

    /// Records that at `session`/`mark` the image matched the sources with `fingerprint` in
    /// `scope`. Best effort, like the snapshot cache.
    pub fn record_sync(
        &self,
        url: &str,
        session: &str,
        mark: Mark,
        scope: &Scope,
        fingerprint: &str,
    ) {
        let record = SyncRecord {
            url: url.to_owned(),
            session: session.to_owned(),
            epoch: mark.epoch,
            evals: mark.evals,
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

    /// After `comparison`'s changes were applied (not replayed: a replayed answer speaks of an
    /// earlier epoch) and the image is at `epoch`: records that the image now matches `local`,
    /// and advances the cached snapshot by the batch itself, so the next push asks only whether
    /// the image moved and diffs against what it knows the image holds.
    ///
    /// Only when the batch was the one change since the comparison (the epoch moved by exactly
    /// one): an agent that hears of a change made meanwhile by other means counts it too, and
    /// then nothing is recorded. The advanced snapshot keeps the comparison's eval count, so an
    /// `eval` run between the comparison and the batch still makes the next push read the
    /// image again.
    ///
    /// The image now holds, for the pushed scope, the local definitions where the comparison
    /// found differences and what the snapshot said everywhere else (text the diff counts as
    /// equal is kept as the image has it). When the batch does something this model does not
    /// follow exactly (a class moved to another package, see [`advanced`]), or the advanced
    /// snapshot does not diff clean against the pushed sources, the cache is left at the old
    /// epoch and the next push reads the image again. Only the shards of the classes the batch
    /// touched (and of their superclasses) are read and written. Best effort, like the rest of
    /// the cache.
    ///
    /// `overrides` are the methods that are overrides once the batch is in (see
    /// [`super::overrides`]), so the advanced snapshot marks them as the agent would.
    pub fn advance(
        &self,
        url: &str,
        comparison: &Comparison,
        local: &LocalSources,
        epoch: u64,
        overrides: &BTreeMap<MethodKey, String>,
    ) {
        if comparison.epoch.checked_add(1) != Some(epoch) {
            return;
        }
        let mark = Mark {
            epoch,
            evals: comparison.evals,
        };
        self.record_sync(
            url,
            &comparison.session,
            mark,
            &local.scope,
            &local.fingerprint(),
        );
        let Some(loaded) = comparison.whole.as_deref() else {
            return;
        };
        // Only the shards of the classes the batch touches can change; add those the comparison
        // did not need (superclasses).
        let touched = touched_classes(&comparison.changes);
        let mut base = loaded.snapshot.clone();
        let missing: Vec<&String> = touched
            .iter()
            .filter(|n| !loaded.names.contains(*n))
            .filter_map(|n| loaded.index.shards.get(n))
            .collect();
        if !missing.is_empty() {
            let mut shards: Vec<Shard> = split(&base).into_values().collect();
            for file in missing {
                let Some(shard) = self.read_shard(file) else {
                    return;
                };
                shards.push(shard);
            }
            base = join(&loaded.index, shards);
        }
        let mut before = split(&base);
        before.retain(|name, _| touched.contains(name));
        let Some(next) = advanced(base, &comparison.changes, epoch, overrides) else {
            return;
        };
        let image = view_of(&next, &local.scope).into_packages();
        if !diff(&local.packages, &image).is_empty() {
            return;
        }
        let mut after = split(&next);
        after.retain(|name, _| touched.contains(name));
        let mut index = loaded.index.clone();
        index.epoch = epoch;
        index.evals = comparison.evals;
        let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for name in names {
            if before.get(name) == after.get(name) {
                continue;
            }
            match after.get(name) {
                Some(shard) => match self.write_shard(shard) {
                    Some(file) => index.shards.insert(name.clone(), file),
                    None => return,
                },
                None => index.shards.remove(name),
            };
        }
        self.write_index(&index);
        for (name, file) in &loaded.index.shards {
            if index.shards.get(name) != Some(file) && is_shard_file(file) {
                let _ = std::fs::remove_file(self.dir().join(file));
            }
        }
    }
}

/// Every class name a batch's changes concern: the classes, their superclasses before and
/// after, and the classes of the methods.
fn touched_classes(changes: &Changes) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for change in &changes.classes {
        let defs = change.old().into_iter().chain(change.new_def());
        for def in defs {
            names.insert(def.name.clone());
            names.extend(def.superclass.clone());
        }
    }
    names.extend(changes.methods.iter().map(|m| m.key().class_name));
    names
}

/// A snapshot cut into shards, by class name.
fn split(snapshot: &SnapshotResult) -> BTreeMap<String, Shard> {
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    for package in &snapshot.packages {
        for class in &package.classes {
            shards.entry(class.name.clone()).or_default().class = Some(class.clone());
        }
        for extension in &package.extensions {
            shards
                .entry(extension.class_name.clone())
                .or_default()
                .extensions
                .push(PackageExtension {
                    package: package.name.clone(),
                    extension: extension.clone(),
                });
        }
        let Some(drift) = &package.drift else {
            continue;
        };
        for m in &drift.methods {
            package_drift(&mut shards, &m.class_name, &package.name)
                .methods
                .push(m.clone());
        }
        for c in &drift.classes {
            package_drift(&mut shards, &c.name, &package.name)
                .classes
                .push(c.clone());
        }
    }
    shards
}

/// The drift entry of `package` in `class`'s shard, made when missing.
fn package_drift<'a>(
    shards: &'a mut BTreeMap<String, Shard>,
    class: &str,
    package: &str,
) -> &'a mut PackageDrift {
    let entries = &mut shards.entry(class.to_owned()).or_default().drift;
    let i = match entries.iter().position(|d| d.package == package) {
        Some(i) => i,
        None => {
            entries.push(PackageDrift {
                package: package.to_owned(),
                methods: Vec::new(),
                classes: Vec::new(),
            });
            entries.len() - 1
        }
    };
    &mut entries[i]
}

/// The snapshot (or the part of it) that `shards` hold, packages in the index's order.
fn join(index: &Index, shards: Vec<Shard>) -> SnapshotResult {
    let mut packages: Vec<WirePackage> = index
        .scope
        .iter()
        .map(|name| WirePackage {
            name: name.clone(),
            drift: index.drift.then(|| WireDrift {
                adopted: index.adopted.contains(name),
                ..WireDrift::default()
            }),
            ..Default::default()
        })
        .collect();
    for shard in shards {
        for d in shard.drift {
            if let Some(drift) = packages
                .iter_mut()
                .find(|p| p.name == d.package)
                .and_then(|p| p.drift.as_mut())
            {
                drift.methods.extend(d.methods);
                drift.classes.extend(d.classes);
            }
        }
        if let Some(class) = shard.class
            && let Some(p) = packages.iter_mut().find(|p| p.name == class.package)
        {
            p.classes.push(class);
        }
        for e in shard.extensions {
            if let Some(p) = packages.iter_mut().find(|p| p.name == e.package) {
                p.extensions.push(e.extension);
            }
        }
    }
    SnapshotResult {
        session: index.session.clone(),
        epoch: index.epoch,
        evals: index.evals,
        unchanged: false,
        packages,
    }
}

/// Write then rename, so a concurrent reader never sees half a file. Best effort.
fn write_atomically(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = super::files::replace(path, bytes, super::files::Durability::Unsynced);
    }
}

/// Whether `file`, read from the cache's index, is a shard's name as [`SnapshotCache`] makes
/// them (16 hex digits, `.json`): the index is a file on disk, and only such a name is joined
/// onto the cache directory to be read or removed.
fn is_shard_file(file: &str) -> bool {
    file.strip_suffix(".json")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Snapshots the image for the local scope (through the cache when given) and diffs.
///
/// With a cache, the snapshot asked for is always the one of every owned package (when the
/// scope can be cut from it exactly, see [`cuts_exactly`]): once read, it serves every later
/// push, of one file or of the whole project, for as long as the epoch stays put.
pub async fn compare(
    client: &mut Client,
    local: &LocalSources,
    cache: Option<&SnapshotCache>,
) -> Result<Comparison, ClientError> {
    let scope = &local.scope;
    let url = client.url().to_owned();
    let session = client.hello.session.clone();
    let fingerprint = local.fingerprint();
    // An agent that counts evals is asked about marks that have a count: a record or snapshot
    // written without one (an older client) may predate an eval's hand edit.
    let counts_evals = client.hello.evals.is_some();
    let trusted = |mark: &Mark| mark.evals.is_some() || !counts_evals;
    let synced = cache
        .and_then(|c| c.synced_mark(&url, &session, scope, &fingerprint))
        .filter(trusted);
    let snapshot_cache = cache.filter(|_| cuts_exactly(&local.owned, scope));
    // What to ask the agent for: everything owned when it is cached, else just the scope.
    let (packages, classes) = match snapshot_cache {
        Some(_) => (local.owned.clone(), None),
        None => (scope.packages.clone(), scope.classes.clone()),
    };
    let cached = match synced {
        // The sources are known to match: only whether the image moved matters.
        Some(_) => None,
        None => snapshot_cache
            .and_then(|c| c.load(&url, &session, &local.owned, scope.classes.as_deref()))
            .filter(|l| trusted(&l.index.mark())),
    };
    let since = synced.or(cached.as_ref().map(|l| l.index.mark()));
    let answer = client
        .snapshot(packages.clone(), classes.clone(), since)
        .await?;
    if let (true, Some(mark)) = (answer.unchanged, synced) {
        return Ok(Comparison {
            session,
            epoch: mark.epoch,
            evals: mark.evals,
            image: Vec::new(),
            subclasses: HashMap::new(),
            changes: Changes::default(),
            drift: DriftReport::unknown(),
            inexact: Vec::new(),
            overrides: BTreeMap::new(),
            from_cache: true,
            whole: None,
        });
    }
    let (view, whole, from_cache) = match (answer.unchanged, cached, snapshot_cache) {
        (true, Some(cached), _) => (view_of(&cached.snapshot, scope), Some(cached), true),
        (unchanged, _, cache) => {
            let snapshot = if unchanged {
                // We did not ask for `since_epoch`, so `unchanged` makes no sense: ask in full.
                client.snapshot(packages, classes, None).await?
            } else {
                answer
            };
            match cache {
                Some(c) => {
                    let stored = c.store(&url, &local.owned, snapshot);
                    (view_of(&stored.snapshot, scope), Some(stored), false)
                }
                None => (snapshot, None, false),
            }
        }
    };
    let whole = whole.map(Arc::new);
    let subclasses = view.subclasses();
    let (session, epoch, evals) = (view.session.clone(), view.epoch, view.evals);
    let view_mark = view.mark();
    let recorded = view.drift();
    let inexact = view.inexact();
    let overrides = view.overrides();
    let image = view.into_packages();
    let changes = diff(&local.packages, &image);
    let drift = match recorded {
        Some(recorded) => {
            DriftReport::classify(&local.packages, &image, recorded, scope.classes.as_deref())
        }
        None => DriftReport::unknown(),
    };
    if let Some(c) = cache.filter(|_| changes.is_empty()) {
        c.record_sync(&url, &session, view_mark, scope, &fingerprint);
    }
    Ok(Comparison {
        session,
        epoch,
        evals,
        image,
        subclasses,
        changes,
        drift,
        inexact,
        overrides,
        from_cache,
        whole,
    })
}

/// Whether the agent's snapshot of `scope` equals the snapshot of every `owned` package cut
/// down to the scope ([`view_of`]). The agent files a class (or a `*P` method) under the longest
/// *asked* package its category (protocol) names, so a scope that leaves out `P-Sub` while
/// asking for `P` would see `P-Sub`'s classes under `P`, and a cut could not: such scopes are
/// read from the image, uncached.
fn cuts_exactly(owned: &[String], scope: &Scope) -> bool {
    let asked = |name: &String| scope.packages.contains(name);
    scope.packages.iter().all(|p| owned.contains(p))
        && owned.iter().filter(|o| !asked(o)).all(|left_out| {
            scope
                .packages
                .iter()
                .all(|p| !extends(&left_out.to_lowercase(), &p.to_lowercase()))
        })
}

/// `name` is `package` or `package-…`.
fn extends(name: &str, package: &str) -> bool {
    name.strip_prefix(package)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// The snapshot the agent would answer for `scope`, cut from a snapshot of more packages: the
/// scope's packages, and when it names classes, only those classes and the extension methods
/// on them (PROTOCOL.md, `snapshot`).
fn view_of(whole: &SnapshotResult, scope: &Scope) -> SnapshotResult {
    let wanted = |name: &str| {
        scope
            .classes
            .as_ref()
            .is_none_or(|classes| classes.iter().any(|c| c == name))
    };
    let packages = scope
        .packages
        .iter()
        .filter_map(|name| whole.packages.iter().find(|p| &p.name == name))
        .map(|p| WirePackage {
            name: p.name.clone(),
            classes: p
                .classes
                .iter()
                .filter(|c| wanted(&c.name))
                .cloned()
                .collect(),
            extensions: p
                .extensions
                .iter()
                .filter(|e| wanted(&e.class_name))
                .cloned()
                .collect(),
            drift: p.drift.as_ref().map(|d| WireDrift {
                adopted: d.adopted,
                methods: d
                    .methods
                    .iter()
                    .filter(|m| wanted(&m.class_name))
                    .cloned()
                    .collect(),
                classes: d
                    .classes
                    .iter()
                    .filter(|c| wanted(&c.name))
                    .cloned()
                    .collect(),
            }),
        })
        .collect();
    SnapshotResult {
        session: whole.session.clone(),
        epoch: whole.epoch,
        evals: whole.evals,
        unchanged: false,
        packages,
    }
}

/// `next` (a snapshot of every owned package, or the part of it that holds every class the
/// changes touch, see [`touched_classes`]) advanced by `changes` having been applied, at
/// `epoch`; `None` when the batch did something whose effect on the snapshot cannot be known
/// without asking the image (a class moved to another package may bring `*P` methods into view
/// that no snapshot listed).
///
/// Changed definitions take the local side (methods with their exact source, as the agent
/// records it); a method only moved to another protocol keeps the image's text; class aspects
/// the diff did not list keep the image's values. Methods are filed where the agent would list
/// them: `*P` protocols under package `P`'s extensions, other protocols under their class.
/// Subclass lists follow added, removed and re-parented classes.
fn advanced(
    mut next: SnapshotResult,
    changes: &Changes,
    epoch: u64,
    overrides: &BTreeMap<MethodKey, String>,
) -> Option<SnapshotResult> {
    next.epoch = epoch;
    next.unchanged = false;
    // (class, superclass before, superclass after), applied once every class is in place: a
    // new superclass may come later in the batch's (alphabetical) order.
    let mut relinks: Vec<(&str, Option<String>, Option<String>)> = Vec::new();
    for change in &changes.classes {
        match change {
            ClassChange::Added { new } => {
                if find_class(&next, &new.name).is_some() {
                    return None;
                }
                let category = new.category();
                let home = package_for_category(&next, &category)?;
                let mut class = WireClass::from(new);
                class.tag = tag_of(&category, &next.packages[home].name);
                class.package = next.packages[home].name.clone();
                relinks.push((&new.name, None, new.superclass.clone()));
                next.packages[home].classes.push(class);
            }
            ClassChange::Changed { aspects, new, .. } => {
                let (home, index) = find_class(&next, &new.name)?;
                let category = new.category();
                if aspects.contains(&ClassAspect::Category)
                    && package_for_category(&next, &category) != Some(home)
                {
                    return None;
                }
                if aspects.contains(&ClassAspect::Superclass) {
                    let before = next.packages[home].classes[index].superclass.clone();
                    relinks.push((&new.name, before, new.superclass.clone()));
                }
                let package = next.packages[home].name.clone();
                let class = &mut next.packages[home].classes[index];
                for aspect in aspects {
                    match aspect {
                        ClassAspect::Kind => class.kind = new.kind,
                        ClassAspect::Superclass => class.superclass = new.superclass.clone(),
                        ClassAspect::Layout => class.layout = new.layout.clone(),
                        ClassAspect::InstVars => class.inst_vars = new.inst_vars.clone(),
                        ClassAspect::ClassVars => class.class_vars = new.class_vars.clone(),
                        ClassAspect::ClassInstVars => {
                            class.class_inst_vars = new.class_inst_vars.clone();
                        }
                        ClassAspect::Pools => class.pools = new.pools.clone(),
                        ClassAspect::Category => class.tag = tag_of(&category, &package),
                        ClassAspect::Comment => class.comment = new.comment.clone(),
                        ClassAspect::Traits => class.traits = new.traits.clone(),
                        ClassAspect::ClassTraits => class.class_traits = new.class_traits.clone(),
                    }
                }
            }
            // After the methods: a removed class's methods are listed as removed too.
            ClassChange::Removed { .. } => {}
        }
    }
    for (name, before, after) in relinks {
        remove_subclass(&mut next, before.as_deref(), name);
        add_subclass(&mut next, after.as_deref(), name);
    }
    for change in &changes.methods {
        let key = change.key();
        let was = take_method(&mut next, &key);
        let put = match change {
            MethodChange::Added { new } | MethodChange::Changed { new, .. } => WireMethod {
                overrides: overrides.get(&key).cloned(),
                ..wire_method(&new.method)
            },
            MethodChange::Moved { new, .. } => WireMethod {
                protocol: new.method.protocol.clone(),
                ..was?
            },
            MethodChange::Removed { .. } => {
                was?;
                continue;
            }
        };
        file_method(&mut next, put);
    }
    for change in &changes.classes {
        if let ClassChange::Removed { old } = change {
            let (home, index) = find_class(&next, &old.name)?;
            let class = next.packages[home].classes.remove(index);
            remove_subclass(&mut next, class.superclass.as_deref(), &class.name);
            // Removing a class takes every package's extension methods on it along.
            for package in &mut next.packages {
                package.extensions.retain(|e| e.class_name != class.name);
            }
        }
    }
    // What the batch put in is what the agent now records as installed: no drift about it.
    // (A batch touching drift is refused by the agent unless told to overwrite it.)
    for drift in next.packages.iter_mut().filter_map(|p| p.drift.as_mut()) {
        drift
            .classes
            .retain(|c| !changes.classes.iter().any(|change| change.name() == c.name));
        drift.methods.retain(|m| {
            let removed_class = changes.classes.iter().any(
                |change| matches!(change, ClassChange::Removed { old } if old.name == m.class_name),
            );
            let pushed = changes.methods.iter().any(|change| {
                !matches!(change, MethodChange::Moved { .. }) && {
                    let k = change.key();
                    k.class_name == m.class_name && k.side == m.side && k.selector == m.selector
                }
            });
            !removed_class && !pushed
        });
    }
    Some(next)
}

/// The method as the agent lists it once installed: with the source it was sent, recorded.
fn wire_method(m: &MethodDef) -> WireMethod {
    WireMethod {
        class_name: m.class_name.clone(),
        side: m.side,
        selector: m.selector.clone(),
        protocol: m.protocol.clone(),
        source: m.source.clone(),
        source_exact: true,
        overrides: None,
    }
}

/// (package index, class index) of the class named `name`.
fn find_class(snapshot: &SnapshotResult, name: &str) -> Option<(usize, usize)> {
    snapshot
        .packages
        .iter()
        .enumerate()
        .find_map(|(p, package)| {
            package
                .classes
                .iter()
                .position(|c| c.name == name)
                .map(|c| (p, c))
        })
}

/// Removes the method from wherever the snapshot lists it (a method is listed once: under its
/// class, or under the extensions of the package its `*P` protocol names).
fn take_method(snapshot: &mut SnapshotResult, key: &MethodKey) -> Option<WireMethod> {
    let same = |m: &WireMethod| {
        m.class_name == key.class_name && m.side == key.side && m.selector == key.selector
    };
    for package in &mut snapshot.packages {
        let lists = package
            .classes
            .iter_mut()
            .filter(|c| c.name == key.class_name)
            .map(|c| &mut c.methods)
            .chain(
                package
                    .extensions
                    .iter_mut()
                    .filter(|e| e.class_name == key.class_name)
                    .map(|e| &mut e.methods),
            );
        for methods in lists {
            if let Some(i) = methods.iter().position(same) {
                return Some(methods.remove(i));
            }
        }
    }
    None
}

/// Files an installed method where the agent's snapshot lists it (see `HpSnapshotCommand`):
/// a `*P` protocol under `P`'s extensions unless `P` is the class's own package, any other
/// protocol under its class; a method in neither place is not in the snapshot at all.
fn file_method(snapshot: &mut SnapshotResult, method: WireMethod) {
    let home = find_class(snapshot, &method.class_name);
    if method.protocol.starts_with('*') {
        let Some(owner) = package_for_protocol(snapshot, &method.protocol) else {
            return;
        };
        if home.is_some_and(|(p, _)| p == owner) {
            return;
        }
        let extensions = &mut snapshot.packages[owner].extensions;
        match extensions
            .iter_mut()
            .find(|e| e.class_name == method.class_name)
        {
            Some(e) => e.methods.push(method),
            None => extensions.push(WireExtension {
                class_name: method.class_name.clone(),
                methods: vec![method],
            }),
        }
    } else if let Some((p, c)) = home {
        snapshot.packages[p].classes[c].methods.push(method);
    }
}

/// The snapshot's package a class of `category` is listed under: the longest package name that
/// is the category or its `Name-` prefix (the agent's rule).
fn package_for_category(snapshot: &SnapshotResult, category: &str) -> Option<usize> {
    longest_match(snapshot, |name| extends(category, name))
}

/// The snapshot's package that owns a `*P…` protocol (Monticello's rule, case-insensitive).
fn package_for_protocol(snapshot: &SnapshotResult, protocol: &str) -> Option<usize> {
    let owner = protocol.get(1..)?.to_lowercase();
    longest_match(snapshot, |name| extends(&owner, &name.to_lowercase()))
}

fn longest_match(snapshot: &SnapshotResult, matches: impl Fn(&str) -> bool) -> Option<usize> {
    snapshot
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| matches(&p.name))
        .max_by_key(|(_, p)| p.name.len())
        .map(|(i, _)| i)
}

/// The tag the agent reports for a class of `category` listed under `package`.
fn tag_of(category: &str, package: &str) -> Option<String> {
    category
        .strip_prefix(package)
        .and_then(|rest| rest.strip_prefix('-'))
        .map(str::to_owned)
}

fn add_subclass(snapshot: &mut SnapshotResult, superclass: Option<&str>, name: &str) {
    let Some((p, c)) = superclass.and_then(|s| find_class(snapshot, s)) else {
        return;
    };
    let subclasses = &mut snapshot.packages[p].classes[c].subclasses;
    if !subclasses.iter().any(|s| s == name) {
        subclasses.push(name.to_owned());
        subclasses.sort();
    }
}

fn remove_subclass(snapshot: &mut SnapshotResult, superclass: Option<&str>, name: &str) {
    if let Some((p, c)) = superclass.and_then(|s| find_class(snapshot, s)) {
        snapshot.packages[p].classes[c]
            .subclasses
            .retain(|s| s != name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClassDef, Side};

    fn method(class: &str, selector: &str, protocol: &str, source: &str) -> WireMethod {
        WireMethod {
            class_name: class.into(),
            side: Side::Instance,
            selector: selector.into(),
            protocol: protocol.into(),
            source: source.into(),
            source_exact: true,
            overrides: None,
        }
    }

    fn class(name: &str, superclass: &str, package: &str, methods: Vec<WireMethod>) -> WireClass {
        WireClass {
            name: name.into(),
            superclass: Some(superclass.into()),
            package: package.into(),
            methods,
            ..Default::default()
        }
    }

    /// Two owned packages: shapes in `Sample-Core`, a `*Sample-Extras` method on String.
    fn image() -> SnapshotResult {
        let mut shape = class(
            "Shape",
            "Object",
            "Sample-Core",
            vec![method("Shape", "area", "measuring", "area\n\t^ 0")],
        );
        shape.subclasses = vec!["Square".into()];
        let square = class(
            "Square",
            "Shape",
            "Sample-Core",
            vec![
                method("Square", "area", "measuring", "area\n\t^ side * side"),
                method("Square", "side", "accessing", "side\r\t^ side"),
            ],
        );
        SnapshotResult {
            session: "s1".into(),
            epoch: 4,
            evals: Some(2),
            unchanged: false,
            packages: vec![
                WirePackage {
                    name: "Sample-Core".into(),
                    classes: vec![shape, square],
                    extensions: vec![],
                    drift: None,
                },
                WirePackage {
                    name: "Sample-Extras".into(),
                    drift: None,
                    classes: vec![],
                    extensions: vec![WireExtension {
                        class_name: "String".into(),
                        methods: vec![method(
                            "String",
                            "shout",
                            "*Sample-Extras",
                            "shout\n\t^ self",
                        )],
                    }],
                },
            ],
        }
    }

    fn whole_scope() -> Scope {
        Scope {
            packages: vec!["Sample-Core".into(), "Sample-Extras".into()],
            classes: None,
        }
    }

    fn file_scope(classes: &[&str]) -> Scope {
        Scope {
            packages: vec!["Sample-Core".into()],
            classes: Some(classes.iter().map(|c| c.to_string()).collect()),
        }
    }

    /// Local sources for `scope`: what the image holds, edited by `edit`.
    fn local(scope: &Scope, edit: impl FnOnce(&mut Vec<Package>)) -> Vec<Package> {
        let mut packages = view_of(&image(), scope).into_packages();
        edit(&mut packages);
        packages
    }

    /// Pushes `local` for `scope`: the advanced snapshot, checked to diff clean as `advance`
    /// requires.
    fn push(scope: &Scope, local: &[Package]) -> Option<SnapshotResult> {
        let before = image();
        let changes = diff(local, &view_of(&before, scope).into_packages());
        assert!(!changes.is_empty(), "the test pushes something");
        let next = advanced(before, &changes, 5, &BTreeMap::new())?;
        assert_eq!(next.epoch, 5);
        let after = diff(local, &view_of(&next, scope).into_packages());
        assert!(after.is_empty(), "{after:?}");
        Some(next)
    }

    fn find<'a>(s: &'a SnapshotResult, class: &str) -> &'a WireClass {
        let (p, c) = find_class(s, class).expect("class listed");
        &s.packages[p].classes[c]
    }

    fn method_of<'a>(s: &'a SnapshotResult, class: &str, selector: &str) -> &'a WireMethod {
        find(s, class)
            .methods
            .iter()
            .find(|m| m.selector == selector)
            .expect("method listed")
    }

    fn class_mut<'a>(packages: &'a mut [Package], name: &str) -> &'a mut ClassDef {
        packages
            .iter_mut()
            .flat_map(|p| p.classes.iter_mut())
            .find(|c| c.name == name)
            .expect("local class")
    }

    /// `image()` with the agent's drift report: Square>>side and Shape>>area changed by hand.
    fn drifted_image() -> SnapshotResult {
        let mut snapshot = image();
        let drifted = |class: &str, selector: &str| DriftedMethod {
            class_name: class.into(),
            side: crate::model::Side::Instance,
            selector: selector.into(),
            change: crate::drift::DriftChange::Changed,
            installed: Some(format!("{selector}\n\t^ 1")),
            stamp: None,
        };
        snapshot.packages[0].drift = Some(WireDrift {
            adopted: true,
            methods: vec![drifted("Shape", "area"), drifted("Square", "side")],
            classes: vec![],
        });
        snapshot.packages[1].drift = Some(WireDrift::default());
        snapshot
    }

    #[test]
    fn drift_survives_the_shards_and_a_push_clears_only_what_it_installed() {
        let before = drifted_image();
        let index = Index {
            url: "ws://x/".into(),
            scope: before.packages.iter().map(|p| p.name.clone()).collect(),
            session: before.session.clone(),
            epoch: before.epoch,
            evals: before.evals,
            drift: true,
            adopted: vec!["Sample-Core".into()],
            shards: BTreeMap::new(),
        };
        let joined = join(&index, split(&before).into_values().collect());
        let drift_of = |s: &SnapshotResult| -> Vec<String> {
            let mut names: Vec<String> = s
                .drift()
                .expect("drift reported")
                .iter()
                .map(|r| r.subject.to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(drift_of(&joined), vec!["Shape>>area", "Square>>side"]);
        assert_eq!(joined.packages[0].drift, before.packages[0].drift);
        assert_eq!(joined.packages[1].drift, before.packages[1].drift);
        // A one-file view keeps only that file's drift.
        let square = view_of(&before, &file_scope(&["Square"]));
        assert_eq!(drift_of(&square), vec!["Square>>side"]);
        // Pushing Square>>side (overwriting the hand edit) leaves Shape>>area drifted.
        let scope = whole_scope();
        let local = local(&scope, |p| {
            class_mut(p, "Square").methods[1].source = "side\n\t^ side * 1".into();
        });
        let changes = diff(&local, &view_of(&before, &scope).into_packages());
        let next = advanced(before.clone(), &changes, 5, &BTreeMap::new()).expect("advanced");
        assert_eq!(drift_of(&next), vec!["Shape>>area"]);
    }

    #[test]
    fn a_one_file_push_advances_the_whole_snapshot_and_keeps_the_rest() {
        let scope = file_scope(&["Square"]);
        let local = local(&scope, |p| {
            class_mut(p, "Square").methods[0].source = "area\n\t^ side squared".into();
        });
        let next = push(&scope, &local).expect("advanced");
        assert_eq!(
            method_of(&next, "Square", "area").source,
            "area\n\t^ side squared"
        );
        assert!(method_of(&next, "Square", "area").source_exact);
        // Outside the file: as the image had it, including another package.
        assert_eq!(find(&next, "Shape"), find(&image(), "Shape"));
        assert_eq!(next.packages[1], image().packages[1]);
        // Text the diff counts as equal stays as the image has it (CR line ends here).
        assert_eq!(method_of(&next, "Square", "side").source, "side\r\t^ side");
    }

    #[test]
    fn a_method_moved_to_another_protocol_keeps_the_images_text() {
        let scope = whole_scope();
        let local = local(&scope, |p| {
            let side = &mut class_mut(p, "Square").methods[1];
            side.protocol = "sizes".into();
            side.source = "side\n\t^ side".into();
        });
        let next = push(&scope, &local).expect("advanced");
        let side = method_of(&next, "Square", "side");
        assert_eq!(
            (side.protocol.as_str(), side.source.as_str()),
            ("sizes", "side\r\t^ side")
        );
    }

    #[test]
    fn extension_methods_are_filed_under_the_package_their_protocol_names() {
        let scope = whole_scope();
        let local = local(&scope, |p| {
            // Square>>side becomes an extension of Sample-Extras, a new one goes on Object.
            class_mut(p, "Square").methods[1].protocol = "*Sample-Extras".into();
            let on_square = class_mut(p, "Square").methods.remove(1);
            p[1].extensions.push(crate::model::Extension {
                class_name: "Square".into(),
                methods: vec![on_square],
                origin: None,
            });
            p[1].extensions.push(crate::model::Extension {
                class_name: "Object".into(),
                methods: vec![MethodDef {
                    class_name: "Object".into(),
                    selector: "isShape".into(),
                    protocol: "*sample-extras-testing".into(),
                    source: "isShape\n\t^ false".into(),
                    ..Default::default()
                }],
                origin: None,
            });
        });
        let next = push(&scope, &local).expect("advanced");
        assert!(
            find(&next, "Square")
                .methods
                .iter()
                .all(|m| m.selector != "side")
        );
        let mut extensions: Vec<&str> = next.packages[1]
            .extensions
            .iter()
            .map(|e| e.class_name.as_str())
            .collect();
        extensions.sort();
        assert_eq!(extensions, ["Object", "Square", "String"]);
    }

    #[test]
    fn subclass_lists_follow_new_removed_and_reparented_classes() {
        let scope = whole_scope();
        let local = local(&scope, |p| {
            let mut tile = class_mut(p, "Shape").clone();
            tile.name = "Tile".into();
            tile.superclass = Some("Shape".into());
            tile.methods.clear();
            p[0].classes.push(tile);
            // Square now inherits from Tile, a new class of this push.
            class_mut(p, "Square").superclass = Some("Tile".into());
        });
        let next = push(&scope, &local).expect("advanced");
        assert_eq!(find(&next, "Shape").subclasses, ["Tile"]);
        assert_eq!(find(&next, "Tile").subclasses, ["Square"]);
        assert_eq!(find(&next, "Square").superclass.as_deref(), Some("Tile"));

        // Then Square goes: off its superclass's list, its methods with it.
        let removed = {
            let mut l = local.clone();
            l[0].classes.retain(|c| c.name != "Square");
            l
        };
        let changes = diff(&removed, &view_of(&next, &scope).into_packages());
        let later = advanced(next.clone(), &changes, 6, &BTreeMap::new()).expect("advanced");
        assert!(find_class(&later, "Square").is_none());
        assert!(find(&later, "Tile").subclasses.is_empty());
        assert!(diff(&removed, &view_of(&later, &scope).into_packages()).is_empty());
    }

    #[test]
    fn class_definition_changes_take_the_local_side_and_keep_the_methods() {
        let scope = file_scope(&["Square"]);
        let local = local(&scope, |p| {
            let square = class_mut(p, "Square");
            square.inst_vars = vec!["side".into()];
            square.comment = Some("I am a square.".into());
            square.tag = Some("Shapes".into());
        });
        let next = push(&scope, &local).expect("advanced");
        let square = find(&next, "Square");
        assert_eq!(square.inst_vars, ["side"]);
        assert_eq!(square.tag.as_deref(), Some("Shapes"));
        assert_eq!(square.methods.len(), 2);
    }

    #[test]
    fn a_class_moved_to_another_package_is_read_again() {
        let scope = whole_scope();
        let local = local(&scope, |p| {
            let mut square = p[0].classes.remove(1);
            square.package = "Sample-Extras".into();
            p[1].classes.push(square);
        });
        let changes = diff(&local, &view_of(&image(), &scope).into_packages());
        assert!(advanced(image(), &changes, 5, &BTreeMap::new()).is_none());
    }

    #[test]
    fn a_file_push_reads_and_writes_only_the_shards_it_touches() {
        let root = std::env::temp_dir().join(format!("hotpatch-shards-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let cache = SnapshotCache::new(&root, "t");
        let url = "ws://127.0.0.1:1/";
        let owned: Vec<String> = whole_scope().packages;
        cache.store(url, &owned, image());
        assert_eq!(cache.snapshot(), Some(image()));
        let files = |c: &SnapshotCache| std::fs::read_dir(c.dir()).unwrap().count();
        assert_eq!(files(&cache), 4, "index + Shape, Square, String");

        // The save hook pushes Square's file: Square re-parented onto Object, a method changed.
        let scope = file_scope(&["Square"]);
        let loaded = cache
            .load(url, "s1", &owned, scope.classes.as_deref())
            .expect("cached");
        assert_eq!(loaded.names, BTreeSet::from(["Square".to_string()]));
        let shape_file = loaded.index.shards["Shape"].clone();
        let local = LocalSources {
            packages: local(&scope, |p| {
                let square = class_mut(p, "Square");
                square.superclass = Some("Object".into());
                square.methods[0].source = "area\n\t^ side squared".into();
            }),
            scope: scope.clone(),
            owned: owned.clone(),
        };
        let changes = diff(
            &local.packages,
            &view_of(&loaded.snapshot, &scope).into_packages(),
        );
        let comparison = Comparison {
            session: "s1".into(),
            epoch: 4,
            evals: Some(2),
            image: Vec::new(),
            subclasses: HashMap::new(),
            changes: changes.clone(),
            drift: DriftReport::unknown(),
            inexact: Vec::new(),
            overrides: BTreeMap::new(),
            from_cache: true,
            whole: Some(Arc::new(loaded)),
        };
        cache.advance(url, &comparison, &local, 5, &BTreeMap::new());

        let next = cache.snapshot().expect("advanced");
        assert_eq!(
            Some(next.clone()),
            advanced(image(), &changes, 5, &BTreeMap::new())
        );
        assert!(find(&next, "Shape").subclasses.is_empty(), "read on demand");
        let index = cache.read_index().expect("index");
        assert_ne!(index.shards["Shape"], shape_file, "rewritten");
        assert_eq!(files(&cache), 4, "replaced shards removed");
        let sync = cache.synced_mark(url, "s1", &scope, &local.fingerprint());
        assert_eq!(
            sync,
            Some(Mark {
                epoch: 5,
                evals: Some(2)
            }),
            "valid at the new epoch and the eval count the comparison saw"
        );
        // Another session (a restarted image) finds nothing, nor does a reader whose shard a
        // concurrent writer removed.
        assert!(cache.load(url, "s2", &owned, None).is_none());
        std::fs::remove_file(cache.dir().join(&index.shards["String"])).unwrap();
        assert!(cache.load(url, "s1", &owned, None).is_none());
        assert!(
            cache
                .load(url, "s1", &owned, Some(&["Square".into()]))
                .is_some()
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_scope_is_cut_from_the_whole_snapshot_only_when_the_agent_would_file_alike() {
        let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let scope = |packages: &[&str]| Scope {
            packages: owned(packages),
            classes: None,
        };
        assert!(cuts_exactly(&owned(&["A", "B"]), &scope(&["A"])));
        assert!(cuts_exactly(
            &owned(&["A", "A-Sub"]),
            &scope(&["A", "A-Sub"])
        ));
        assert!(cuts_exactly(&owned(&["A", "A-Sub"]), &scope(&["A-Sub"])));
        // Asked alone, A would list A-Sub's classes as its own (tag Sub).
        assert!(!cuts_exactly(&owned(&["A", "A-Sub"]), &scope(&["A"])));
        assert!(!cuts_exactly(&owned(&["a", "A-sub"]), &scope(&["a"])));
        assert!(!cuts_exactly(&owned(&["A"]), &scope(&["B"])));
        assert!(cuts_exactly(&owned(&["AB", "A"]), &scope(&["A"])));
    }

    #[test]
    fn a_file_view_lists_its_classes_and_their_extensions_only() {
        let mut whole = image();
        whole.packages[0].extensions.push(WireExtension {
            class_name: "Square".into(),
            methods: vec![],
        });
        let view = view_of(&whole, &file_scope(&["Square"]));
        assert_eq!(view.packages.len(), 1);
        let classes: Vec<&str> = view.packages[0]
            .classes
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(classes, ["Square"]);
        assert_eq!(view.packages[0].extensions.len(), 1);
        assert_eq!(
            view_of(&whole, &whole_scope()),
            SnapshotResult {
                unchanged: false,
                ..whole
            }
        );
    }
}
