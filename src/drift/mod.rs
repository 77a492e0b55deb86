//! Drift: what changed in the live image since hotpatch installed it, set against the local
//! sources — the three-way view behind `status`, `diff`, the push guard and `pull`.
//!
//! Three versions of every definition meet here: *installed* (what hotpatch last put into the
//! image, which the agent records), *image* (what the image holds now) and *local* (the Tonel
//! files). The agent reports only the definitions whose image version is no longer the
//! installed one ([`Recorded`]); everything else is either unchanged or a plain local change,
//! which [`crate::diff`] already finds. Each reported definition is one of:
//!
//! - [`Standing::Drift`]: changed in the image only (local = installed). A push would undo the
//!   image's change; `pull` brings it into the files.
//! - [`Standing::Conflict`]: changed on both sides, differently. Neither side wins silently.
//! - [`Standing::Converged`]: both sides made the same change; nothing to push or pull (`pull`
//!   records the image's version as installed so it stops being reported).
//!
//! Classifying is pure. [`pull`] turns image-side changes into the new text of Tonel files; it
//! reads the files it edits (to carry the change into them as they are) and writes nothing.

pub mod pull;

use crate::diff::Changes;
use crate::model::{ClassDef, MethodDef, MethodKey, Package, same_text};
use serde::Serialize;
use std::collections::BTreeMap;

/// How the image changed a definition since hotpatch installed it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DriftChange {
    /// The image holds another version than the one installed.
    Changed,
    /// The image holds a definition hotpatch never installed (in a package whose baseline the
    /// agent knows).
    Added,
    /// The image no longer holds what hotpatch installed.
    Removed,
}

impl DriftChange {
    /// The word used in listings.
    pub fn label(self) -> &'static str {
        match self {
            DriftChange::Changed => "changed",
            DriftChange::Added => "added",
            DriftChange::Removed => "removed",
        }
    }
}

/// What a drift item is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A class definition (shape, category, comment), not its methods.
    Class { name: String },
    /// One method.
    Method {
        #[serde(flatten)]
        key: MethodKey,
    },
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Class { name } => write!(f, "class {name}"),
            Subject::Method { key } => write!(f, "{key}"),
        }
    }
}

/// One version of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Version {
    Method(MethodDef),
    // Boxed: a class definition is more than twice the size of a method.
    Class(Box<ClassDef>),
}

impl Version {
    /// Same definition for drift purposes: method source (protocol aside: a move is not
    /// drift), class definition without methods.
    fn same(&self, other: &Version) -> bool {
        match (self, other) {
            (Version::Method(a), Version::Method(b)) => same_text(&a.source, &b.source),
            (Version::Class(a), Version::Class(b)) => a.same_definition(b),
            _ => false,
        }
    }
}

/// A definition the agent reports as no longer what hotpatch installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The package that owns it.
    pub package: String,
    pub subject: Subject,
    pub change: DriftChange,
    /// What hotpatch installed: `None` for [`DriftChange::Added`], and when the agent kept no
    /// text for it (a baseline taken from an image that keeps no sources).
    pub installed: Option<Version>,
    /// The image's author/time stamp for its version, when it keeps one.
    pub stamp: Option<String>,
}

/// Where a drifted definition stands against the local sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Changed in the image only.
    Drift,
    /// Changed in the image and locally, differently.
    Conflict,
    /// Changed in the image and locally, the same way.
    Converged,
}

/// One drifted definition with its three versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    #[serde(flatten)]
    pub subject: Subject,
    pub package: String,
    /// What the image did.
    pub change: DriftChange,
    pub standing: Standing,
    pub stamp: Option<String>,
    /// What hotpatch installed (see [`Recorded::installed`]).
    pub installed: Option<Version>,
    /// Whether `installed` is known (false: the agent kept no text for it).
    pub installed_known: bool,
    /// The image's version (`None`: removed in the image).
    pub image: Option<Version>,
    /// The local version (`None`: not in the files).
    pub local: Option<Version>,
}

/// Every drifted definition of a comparison, in subject order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DriftReport {
    /// False when the agent cannot report drift (an older agent): nothing below means "none".
    pub known: bool,
    pub items: Vec<DriftItem>,
}

/// Counts for a one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct DriftCounts {
    pub drift: usize,
    pub conflicts: usize,
    pub converged: usize,
}

impl DriftReport {
    /// A report for an agent that cannot say.
    pub fn unknown() -> DriftReport {
        DriftReport::default()
    }

    /// Sets what the agent recorded against the local and image packages of one comparison.
    /// `classes`: when the comparison covers only some classes (a pushed file), drift outside
    /// them is left out.
    pub fn classify(
        local: &[Package],
        image: &[Package],
        recorded: Vec<Recorded>,
        classes: Option<&[String]>,
    ) -> DriftReport {
        let local_index = Index::of(local);
        let image_index = Index::of(image);
        let mut items: Vec<DriftItem> = recorded
            .into_iter()
            .filter(|r| {
                let class = match &r.subject {
                    Subject::Class { name } => name,
                    Subject::Method { key } => &key.class_name,
                };
                classes.is_none_or(|cs| cs.iter().any(|c| c == class))
            })
            .map(|r| {
                let local = local_index.get(&r.subject);
                let image = image_index.get(&r.subject);
                let installed_known = r.installed.is_some() || r.change == DriftChange::Added;
                let standing = if same_option(&local, &image) {
                    Standing::Converged
                } else if installed_known && same_option(&local, &r.installed) {
                    Standing::Drift
                } else {
                    Standing::Conflict
                };
                DriftItem {
                    subject: r.subject,
                    package: r.package,
                    change: r.change,
                    standing,
                    stamp: r.stamp,
                    installed: r.installed,
                    installed_known,
                    image,
                    local,
                }
            })
            .collect();
        items.sort_by(|a, b| a.subject.cmp(&b.subject));
        DriftReport { known: true, items }
    }

    /// Items a push would overwrite: drift and conflicts (converged ones differ from nothing).
    pub fn blocking(&self) -> impl Iterator<Item = &DriftItem> {
        self.items
            .iter()
            .filter(|i| i.standing != Standing::Converged)
    }

    /// How many items stand where.
    pub fn counts(&self) -> DriftCounts {
        let mut counts = DriftCounts::default();
        for item in &self.items {
            match item.standing {
                Standing::Drift => counts.drift += 1,
                Standing::Conflict => counts.conflicts += 1,
                Standing::Converged => counts.converged += 1,
            }
        }
        counts
    }

    /// True when nothing drifted or conflicts (converged items are not drift any more).
    pub fn is_clean(&self) -> bool {
        self.blocking().next().is_none()
    }

    /// How many of `changes` (the diff of the same comparison) are local changes not pushed
    /// yet: every difference the image's own changes do not explain. A difference is the
    /// image's when its definition drifted and the files still hold the installed version
    /// ([`Standing::Drift`]), or when it is a method of a class the image alone added or
    /// removed (such a class is reported once, not method by method). A conflict counts: the
    /// files changed too.
    pub fn local_changes(&self, changes: &Changes) -> usize {
        let image_only = |subject: &Subject| {
            self.items
                .iter()
                .any(|i| i.standing == Standing::Drift && &i.subject == subject)
        };
        let class_of_image = |class_name: &str| {
            self.items.iter().any(|i| {
                i.standing == Standing::Drift
                    && i.change != DriftChange::Changed
                    && matches!(&i.subject, Subject::Class { name } if name == class_name)
            })
        };
        let classes = changes.classes.iter().filter(|c| {
            !image_only(&Subject::Class {
                name: c.name().to_owned(),
            })
        });
        let methods = changes.methods.iter().filter(|m| {
            let key = m.key();
            !class_of_image(&key.class_name) && !image_only(&Subject::Method { key })
        });
        classes.count() + methods.count()
    }
}

fn same_option(a: &Option<Version>, b: &Option<Version>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same(b),
        (None, None) => true,
        _ => false,
    }
}

/// Definitions by subject: class definitions (without methods) and owned methods.
struct Index<'a> {
    classes: BTreeMap<&'a str, &'a ClassDef>,
    methods: BTreeMap<MethodKey, &'a MethodDef>,
}

impl<'a> Index<'a> {
    fn of(packages: &'a [Package]) -> Index<'a> {
        let mut classes = BTreeMap::new();
        let mut methods = BTreeMap::new();
        for package in packages {
            for class in &package.classes {
                classes.entry(class.name.as_str()).or_insert(class);
                for m in &class.methods {
                    // An image class lists foreign extension methods too; the owning package
                    // lists them again under its extensions, where the first entry wins anyway.
                    methods.entry(m.key()).or_insert(m);
                }
            }
            for m in package.extensions.iter().flat_map(|e| e.methods.iter()) {
                methods.entry(m.key()).or_insert(m);
            }
        }
        Index { classes, methods }
    }

    fn get(&self, subject: &Subject) -> Option<Version> {
        match subject {
            Subject::Class { name } => self.classes.get(name.as_str()).map(|c| {
                Version::Class(Box::new(ClassDef {
                    methods: Vec::new(),
                    origin: None,
                    ..(*c).clone()
                }))
            }),
            Subject::Method { key } => self.methods.get(key).map(|m| {
                Version::Method(MethodDef {
                    span: None,
                    ..(*m).clone()
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests;
