//! Compares the local model (Tonel files) with the image's snapshot of the same packages and
//! lists what differs: the input of the planner and of `hotpatch diff`.
//!
//! Pure: no I/O. "Old" is always the image's side and "new" the local side, because the push
//! makes the image look like the files.
//!
//! ```
//! use hotpatch::diff::{diff, render_summary};
//! use hotpatch::model::{ClassDef, MethodDef, Package};
//!
//! let method = |source: &str| MethodDef {
//!     class_name: "Counter".into(),
//!     selector: "step".into(),
//!     protocol: "accessing".into(),
//!     source: source.into(),
//!     ..Default::default()
//! };
//! let package = |source: &str| Package {
//!     name: "Sample".into(),
//!     classes: vec![ClassDef {
//!         name: "Counter".into(),
//!         superclass: Some("Object".into()),
//!         package: "Sample".into(),
//!         methods: vec![method(source)],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let changes = diff(&[package("step\n\t^ 2")], &[package("step\n\t^ 1")]);
//! assert_eq!(render_summary(&changes), "~ Counter>>step\n");
//! ```

mod render;

pub use render::{render_class_definition, render_stat, render_summary, render_unified};

use crate::model::{ClassDef, ClassKind, MethodDef, MethodKey, Package, Side, same_text};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Everything that differs between the local model and the image, in a deterministic order:
/// classes by name, methods by (class name, side, selector). Serialized as-is by `--json`; the
/// field and variant names are part of the output format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Changes {
    /// Class and trait definitions added, removed or changed, sorted by name.
    pub classes: Vec<ClassChange>,
    /// Methods added, removed, changed or moved, sorted by [`MethodKey`].
    pub methods: Vec<MethodChange>,
}

/// One aspect of a class definition that can change on its own; listed in
/// [`ClassChange::Changed`] so the planner and the user see what kind of change it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassAspect {
    /// Class ↔ trait.
    Kind,
    /// The superclass (or its absence, for a root class).
    Superclass,
    /// The layout type (`#type` in Tonel): pointers, variable, bytes, words, …
    Layout,
    /// Instance variables, in order (order decides slot positions).
    InstVars,
    /// Compared as a set: class variables live in a dictionary, their order means nothing.
    ClassVars,
    /// Class-side instance variables, in order.
    ClassInstVars,
    /// Shared pools, in order.
    Pools,
    /// The package or the tag, compared as the system category `Package-Tag`.
    Category,
    /// An empty comment and no comment are the same; line endings don't count.
    Comment,
    /// The trait composition (compared without whitespace; `{}` is none).
    Traits,
    /// The class-side trait composition (same comparison).
    ClassTraits,
}

impl ClassAspect {
    /// Every aspect, in the order they are compared and listed.
    pub const ALL: [ClassAspect; 11] = [
        ClassAspect::Kind,
        ClassAspect::Superclass,
        ClassAspect::Layout,
        ClassAspect::InstVars,
        ClassAspect::ClassVars,
        ClassAspect::ClassInstVars,
        ClassAspect::Pools,
        ClassAspect::Category,
        ClassAspect::Comment,
        ClassAspect::Traits,
        ClassAspect::ClassTraits,
    ];

    /// Human-readable name, as shown in summaries (`~ class Foo (superclass, inst vars)`).
    pub fn label(self) -> &'static str {
        match self {
            ClassAspect::Kind => "kind",
            ClassAspect::Superclass => "superclass",
            ClassAspect::Layout => "layout",
            ClassAspect::InstVars => "inst vars",
            ClassAspect::ClassVars => "class vars",
            ClassAspect::ClassInstVars => "class-instance vars",
            ClassAspect::Pools => "pools",
            ClassAspect::Category => "category",
            ClassAspect::Comment => "comment",
            ClassAspect::Traits => "traits",
            ClassAspect::ClassTraits => "class traits",
        }
    }

    /// Whether this aspect differs between `old` and `new`.
    fn differs(self, old: &ClassDef, new: &ClassDef) -> bool {
        match self {
            ClassAspect::Kind => old.kind != new.kind,
            ClassAspect::Superclass => old.superclass != new.superclass,
            ClassAspect::Layout => old.layout != new.layout,
            ClassAspect::InstVars => old.inst_vars != new.inst_vars,
            ClassAspect::ClassVars => sorted(&old.class_vars) != sorted(&new.class_vars),
            ClassAspect::ClassInstVars => old.class_inst_vars != new.class_inst_vars,
            ClassAspect::Pools => old.pools != new.pools,
            ClassAspect::Category => old.category() != new.category(),
            ClassAspect::Comment => !same_comment(&old.comment, &new.comment),
            ClassAspect::Traits => !same_composition(&old.traits, &new.traits),
            ClassAspect::ClassTraits => !same_composition(&old.class_traits, &new.class_traits),
        }
    }
}

/// A class or trait that was added, removed or changed. The definitions carry no methods
/// (method changes are listed in [`Changes::methods`]).
// A push holds tens of these, not millions: boxing the definitions would only add noise to every
// match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ClassChange {
    /// Defined locally, missing in the image.
    Added {
        /// The local definition.
        new: ClassDef,
    },
    /// In the image, no longer defined locally.
    Removed {
        /// The image's definition.
        old: ClassDef,
    },
    /// Defined on both sides, differently.
    Changed {
        /// What differs, in [`ClassAspect::ALL`] order; never empty.
        aspects: Vec<ClassAspect>,
        /// The image's definition.
        old: ClassDef,
        /// The local definition.
        new: ClassDef,
    },
}

impl ClassChange {
    /// The class's name.
    pub fn name(&self) -> &str {
        match self {
            ClassChange::Added { new } | ClassChange::Changed { new, .. } => &new.name,
            ClassChange::Removed { old } => &old.name,
        }
    }

    /// The image's definition, if the image has the class.
    pub fn old(&self) -> Option<&ClassDef> {
        match self {
            ClassChange::Added { .. } => None,
            ClassChange::Removed { old } | ClassChange::Changed { old, .. } => Some(old),
        }
    }

    /// The local definition, unless the class is being removed.
    pub fn new_def(&self) -> Option<&ClassDef> {
        match self {
            ClassChange::Removed { .. } => None,
            ClassChange::Added { new } | ClassChange::Changed { new, .. } => Some(new),
        }
    }
}

/// A method together with the package that owns it: the class's package, or the package whose
/// extensions list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedMethod {
    /// The owning package's name.
    pub package: String,
    /// The method as that side defines it.
    pub method: MethodDef,
}

/// A method that was added, removed, changed or only moved to another protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum MethodChange {
    /// Defined locally, missing in the image.
    Added {
        /// The local method.
        new: OwnedMethod,
    },
    /// In the image, in one of the compared packages, no longer defined locally.
    Removed {
        /// The image's method.
        old: OwnedMethod,
    },
    /// The source differs (beyond line endings); the protocol may differ too.
    Changed {
        /// The image's method.
        old: OwnedMethod,
        /// The local method.
        new: OwnedMethod,
    },
    /// Same source, another protocol: only needs reclassifying.
    Moved {
        /// The image's method (its protocol is the old one).
        old: OwnedMethod,
        /// The local method (its protocol is the new one).
        new: OwnedMethod,
    },
}

impl MethodChange {
    /// The method's identity.
    pub fn key(&self) -> MethodKey {
        self.any_side().method.key()
    }

    /// The image's side, if the image has the method.
    pub fn old(&self) -> Option<&OwnedMethod> {
        match self {
            MethodChange::Added { .. } => None,
            MethodChange::Removed { old }
            | MethodChange::Changed { old, .. }
            | MethodChange::Moved { old, .. } => Some(old),
        }
    }

    /// The local side, unless the method is being removed.
    pub fn new_side(&self) -> Option<&OwnedMethod> {
        match self {
            MethodChange::Removed { .. } => None,
            MethodChange::Added { new }
            | MethodChange::Changed { new, .. }
            | MethodChange::Moved { new, .. } => Some(new),
        }
    }

    /// The packages involved (the owner before and after; usually the same).
    pub fn packages(&self) -> impl Iterator<Item = &str> {
        let old = self.old().map(|m| m.package.as_str());
        let new = self
            .new_side()
            .map(|m| m.package.as_str())
            .filter(|p| Some(*p) != old);
        old.into_iter().chain(new)
    }

    fn any_side(&self) -> &OwnedMethod {
        match self {
            MethodChange::Added { new } => new,
            MethodChange::Removed { old }
            | MethodChange::Changed { old, .. }
            | MethodChange::Moved { old, .. } => old,
        }
    }
}

/// How many changes of each kind, for a one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ChangeCounts {
    /// [`ClassChange::Added`] count.
    pub classes_added: usize,
    /// [`ClassChange::Removed`] count.
    pub classes_removed: usize,
    /// [`ClassChange::Changed`] count.
    pub classes_changed: usize,
    /// [`MethodChange::Added`] count.
    pub methods_added: usize,
    /// [`MethodChange::Removed`] count.
    pub methods_removed: usize,
    /// [`MethodChange::Changed`] count.
    pub methods_changed: usize,
    /// [`MethodChange::Moved`] count.
    pub methods_moved: usize,
}

impl ChangeCounts {
    /// Total number of changes.
    pub fn total(&self) -> usize {
        self.classes_added
            + self.classes_removed
            + self.classes_changed
            + self.methods_added
            + self.methods_removed
            + self.methods_changed
            + self.methods_moved
    }
}

impl Changes {
    /// True when the image already matches the files.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty() && self.methods.is_empty()
    }

    /// Counts per kind of change.
    pub fn counts(&self) -> ChangeCounts {
        let mut counts = ChangeCounts::default();
        for class in &self.classes {
            match class {
                ClassChange::Added { .. } => counts.classes_added += 1,
                ClassChange::Removed { .. } => counts.classes_removed += 1,
                ClassChange::Changed { .. } => counts.classes_changed += 1,
            }
        }
        for method in &self.methods {
            match method {
                MethodChange::Added { .. } => counts.methods_added += 1,
                MethodChange::Removed { .. } => counts.methods_removed += 1,
                MethodChange::Changed { .. } => counts.methods_changed += 1,
                MethodChange::Moved { .. } => counts.methods_moved += 1,
            }
        }
        counts
    }
}

/// Compares the local packages with the image's snapshot of the same packages.
///
/// Classes are matched by name across all packages (so a class moved between two compared
/// packages is a category change, not a removal plus an addition); methods by [`MethodKey`].
///
/// Ownership of methods in the image: a method listed under a class but whose protocol marks it
/// as another package's extension (`*Other…`) belongs to that other package, not to the class's
/// package; it is only considered when the image lists it among a compared package's
/// extensions. So a method is never removed just because a package that doesn't define it
/// happens to define its class.
pub fn diff(local: &[Package], image: &[Package]) -> Changes {
    Changes {
        classes: diff_classes(&index_classes(local), &index_classes(image)),
        methods: diff_methods(
            &index_methods(local, Model::Local),
            &index_methods(image, Model::Image),
        ),
    }
}

/// Which model a package list comes from; the image's needs the ownership filter (see [`diff`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Model {
    Local,
    Image,
}

/// Classes by name; when a name appears twice, the first (in package order) wins, so the
/// result is still deterministic.
fn index_classes(packages: &[Package]) -> BTreeMap<&str, &ClassDef> {
    let mut index = BTreeMap::new();
    for class in packages.iter().flat_map(|p| p.classes.iter()) {
        index.entry(class.name.as_str()).or_insert(class);
    }
    index
}

fn index_methods(packages: &[Package], model: Model) -> BTreeMap<MethodKey, OwnedMethod> {
    let mut index = BTreeMap::new();
    let mut add = |package: &str, method: &MethodDef| {
        index.entry(method.key()).or_insert_with(|| OwnedMethod {
            package: package.to_string(),
            method: method.clone(),
        });
    };
    for class in packages.iter().flat_map(|p| p.classes.iter()) {
        for method in &class.methods {
            if model == Model::Image && is_foreign_extension(&method.protocol, &class.package) {
                continue;
            }
            add(&class.package, method);
        }
    }
    for package in packages {
        for method in package.extensions.iter().flat_map(|e| e.methods.iter()) {
            add(&package.name, method);
        }
    }
    index
}

/// Whether `protocol` marks a method as an extension of a package other than `package`
/// (Monticello's rule: `*Pkg` or `*Pkg-anything`, case-insensitive).
fn is_foreign_extension(protocol: &str, package: &str) -> bool {
    let Some(owner) = protocol.strip_prefix('*') else {
        return false;
    };
    let owner = owner.to_lowercase();
    let package = package.to_lowercase();
    let ours = owner == package
        || owner
            .strip_prefix(package.as_str())
            .is_some_and(|rest| rest.starts_with('-'));
    !ours
}

fn diff_classes(
    local: &BTreeMap<&str, &ClassDef>,
    image: &BTreeMap<&str, &ClassDef>,
) -> Vec<ClassChange> {
    let names: BTreeSet<&str> = local.keys().chain(image.keys()).copied().collect();
    names
        .into_iter()
        .filter_map(|name| match (image.get(name), local.get(name)) {
            (None, Some(new)) => Some(ClassChange::Added {
                new: without_methods(new),
            }),
            (Some(old), None) => Some(ClassChange::Removed {
                old: without_methods(old),
            }),
            (Some(old), Some(new)) => {
                let aspects: Vec<ClassAspect> = ClassAspect::ALL
                    .into_iter()
                    .filter(|a| a.differs(old, new))
                    .collect();
                (!aspects.is_empty()).then(|| ClassChange::Changed {
                    aspects,
                    old: without_methods(old),
                    new: without_methods(new),
                })
            }
            (None, None) => None,
        })
        .collect()
}

fn diff_methods(
    local: &BTreeMap<MethodKey, OwnedMethod>,
    image: &BTreeMap<MethodKey, OwnedMethod>,
) -> Vec<MethodChange> {
    let keys: BTreeSet<&MethodKey> = local.keys().chain(image.keys()).collect();
    keys.into_iter()
        .filter_map(|key| match (image.get(key), local.get(key)) {
            (None, Some(new)) => Some(MethodChange::Added { new: new.clone() }),
            (Some(old), None) => Some(MethodChange::Removed { old: old.clone() }),
            (Some(old), Some(new)) => {
                if !same_text(&old.method.source, &new.method.source) {
                    Some(MethodChange::Changed {
                        old: old.clone(),
                        new: new.clone(),
                    })
                } else if old.method.protocol != new.method.protocol {
                    Some(MethodChange::Moved {
                        old: old.clone(),
                        new: new.clone(),
                    })
                } else {
                    None
                }
            }
            (None, None) => None,
        })
        .collect()
}

fn without_methods(class: &ClassDef) -> ClassDef {
    ClassDef {
        methods: Vec::new(),
        ..class.clone()
    }
}

fn sorted(names: &[String]) -> Vec<&str> {
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    names
}

/// Same rule as the model's class equality: empty and missing comments are equal, and line
/// endings don't count.
fn same_comment(a: &Option<String>, b: &Option<String>) -> bool {
    let a = a.as_deref().unwrap_or("");
    let b = b.as_deref().unwrap_or("");
    same_text(a, b)
}

/// Trait compositions compare without whitespace (`TFoo+TBar` is `TFoo + TBar`), and an empty
/// composition (`{}`, as Pharo prints it) is no composition.
fn same_composition(a: &Option<String>, b: &Option<String>) -> bool {
    fn canonical(c: &Option<String>) -> String {
        let squeezed: String = c
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if squeezed == "{}" {
            String::new()
        } else {
            squeezed
        }
    }
    canonical(a) == canonical(b)
}

/// The word for a definition's kind in summaries and diff headers.
fn kind_label(kind: ClassKind) -> &'static str {
    match kind {
        ClassKind::Class => "class",
        ClassKind::Trait => "trait",
    }
}

/// Orders class-level items before the methods of the same class when renderers interleave
/// them.
fn item_order(class_name: &str, method: Option<&MethodKey>) -> (String, u8, Side, String) {
    match method {
        None => (class_name.to_string(), 0, Side::Instance, String::new()),
        Some(key) => (key.class_name.clone(), 1, key.side, key.selector.clone()),
    }
}

#[cfg(test)]
pub(crate) mod tests;
