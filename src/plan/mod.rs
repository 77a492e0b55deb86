//! Turns [`Changes`] into one ordered batch of [`Step`]s for the agent's `apply`, and judges
//! every change live-safe or needs-rebuild by the rule table in [`rules`].
//!
//! Pure: no I/O. The order is the one `smalltalk-agent/PROTOCOL.md` asks for: class definitions
//! superclass first, then methods (installs and reclassifications), then method removals, then
//! class removals subclasses first. Everything is sorted, so the same changes always give the
//! same steps and therefore the same [`batch_id`].
//!
//! ```
//! use hotpatch::diff::{ClassChange, Changes};
//! use hotpatch::model::ClassDef;
//! use hotpatch::plan::{plan, PlanContext, Step};
//!
//! let shape = ClassDef { name: "Shape".into(), superclass: Some("Object".into()), ..Default::default() };
//! let square = ClassDef { name: "Square".into(), superclass: Some("Shape".into()), ..Default::default() };
//! let changes = Changes {
//!     classes: vec![ClassChange::Added { new: square }, ClassChange::Added { new: shape }],
//!     methods: vec![],
//! };
//! let plan = plan(&changes, &PlanContext::default());
//! let names: Vec<&str> = plan.steps.iter().map(|s| match s {
//!     Step::DefineClass(c) => c.name.as_str(),
//!     _ => unreachable!(),
//! }).collect();
//! assert_eq!(names, ["Shape", "Square"]);
//! assert!(!plan.needs_rebuild());
//! ```

mod batch_id;
mod rules;
pub mod state;

pub use batch_id::batch_id;
pub use rules::{Effect, Rule, RuleInfo, rules};

use crate::diff::{Changes, ClassChange, MethodChange};
use crate::model::{ClassDef, MethodDef, MethodKey};
use rules::{Facts, Subject};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the planner needs to know beyond the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanContext {
    /// A package whose name starts with one of these is the agent's own (see
    /// [`Rule::AgentPackage`]). Default: `Hotpatch-Agent`.
    pub agent_package_prefixes: Vec<String>,
    /// The image's direct subclasses, by superclass name (from the snapshot; empty when
    /// unknown, in which case only the push's own classes are considered).
    pub subclasses: HashMap<String, Vec<String>>,
    /// What the live objects hold in the variables and classes the batch drops (the agent's
    /// `census`); `None` when not asked, and then [`Rule::DropsLiveState`] does not apply.
    pub live_state: Option<state::LiveState>,
    /// `--allow-state-loss`: [`Rule::DropsLiveState`] does not apply.
    pub allow_state_loss: bool,
}

impl Default for PlanContext {
    fn default() -> Self {
        PlanContext {
            agent_package_prefixes: vec!["Hotpatch-Agent".to_string()],
            subclasses: HashMap::new(),
            live_state: None,
            allow_state_loss: false,
        }
    }
}

impl PlanContext {
    /// Whether `package` is one of the agent's own packages.
    pub fn is_agent_package(&self, package: &str) -> bool {
        self.agent_package_prefixes
            .iter()
            .any(|prefix| package.starts_with(prefix.as_str()))
    }
}

/// One operation of an `apply` batch, in model terms (the image module maps it onto the wire
/// format of PROTOCOL.md).
// Batches hold tens or hundreds of steps: boxing the class definitions would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Create a class or change its definition (the definition's `methods` are empty).
    DefineClass(ClassDef),
    /// Compile and install a method (new or changed), in its protocol.
    PutMethod(MethodDef),
    /// Move an existing, unchanged method to another protocol.
    Classify {
        /// The method to move.
        key: MethodKey,
        /// Its new protocol.
        protocol: String,
    },
    /// Remove a method.
    RemoveMethod(MethodKey),
    /// Remove a class (and with it all its methods).
    RemoveClass(String),
}

/// Which change a [`Verdict`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeRef {
    /// A class definition change.
    Class {
        /// The class's name.
        name: String,
    },
    /// A method change.
    Method {
        /// The method's identity.
        key: MethodKey,
    },
}

/// Whether a change can go into the running image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "safety", rename_all = "snake_case")]
pub enum Safety {
    /// Can be applied to the running image.
    LiveSafe,
    /// `rule` forbids applying the change live; `reason` tells the user why, naming the
    /// classes involved.
    NeedsRebuild {
        /// The rule that applies.
        rule: Rule,
        /// Why, for the user.
        reason: String,
    },
    /// `rule` refuses the change outright (see [`Effect::Refuse`]); `reason` says what would be
    /// lost.
    Refused {
        /// The rule that applies.
        rule: Rule,
        /// Why, for the user.
        reason: String,
    },
}

/// The planner's judgement of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The change judged.
    pub change: ChangeRef,
    /// The change's summary line (`~ class Foo (layout)`, `- Foo>>bar` …).
    pub description: String,
    /// The judgement (flattened in JSON: `"safety": "live_safe"` or `"needs_rebuild"` with
    /// `rule` and `reason`).
    #[serde(flatten)]
    pub safety: Safety,
}

impl Verdict {
    /// The reason a rule gives, if one applies.
    pub fn reason(&self) -> Option<&str> {
        match &self.safety {
            Safety::LiveSafe => None,
            Safety::NeedsRebuild { reason, .. } | Safety::Refused { reason, .. } => Some(reason),
        }
    }
}

/// The ordered batch and a verdict for every change (classes first, then methods, each in the
/// order of [`Changes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Plan {
    /// The batch's operations, in the order they must be applied.
    pub steps: Vec<Step>,
    /// One verdict per change.
    pub verdicts: Vec<Verdict>,
}

impl Plan {
    /// True when at least one change can't go live, so the push must rebuild the image.
    pub fn needs_rebuild(&self) -> bool {
        self.offending().next().is_some()
    }

    /// The verdicts that refuse a change outright, to show the user why.
    pub fn refusals(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| matches!(v.safety, Safety::Refused { .. }))
    }

    /// The verdicts that call for a rebuild, to show the user why.
    pub fn offending(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| matches!(v.safety, Safety::NeedsRebuild { .. }))
    }
}

/// Orders `changes` into one batch and judges each change.
pub fn plan(changes: &Changes, ctx: &PlanContext) -> Plan {
    let removed_classes: BTreeSet<&str> = changes
        .classes
        .iter()
        .filter_map(|c| match c {
            ClassChange::Removed { old } => Some(old.name.as_str()),
            _ => None,
        })
        .collect();

    let defined: Vec<&ClassDef> = changes
        .classes
        .iter()
        .filter_map(ClassChange::new_def)
        .collect();
    let removed: Vec<&ClassDef> = changes
        .classes
        .iter()
        .filter_map(|c| match c {
            ClassChange::Removed { old } => Some(old),
            _ => None,
        })
        .collect();

    // A variable moving up to a superclass: the subclass must let go of it before the
    // superclass may declare it (class builders refuse a name a subclass already uses).
    let mut steps: Vec<Step> = push_up_releases(changes);
    steps.extend(
        dependency_order(&defined)
            .into_iter()
            .map(|c| Step::DefineClass(without_methods(c))),
    );
    steps.extend(changes.methods.iter().filter_map(|m| match m {
        MethodChange::Added { new } | MethodChange::Changed { new, .. } => {
            Some(Step::PutMethod(new.method.clone()))
        }
        MethodChange::Moved { new, .. } => Some(Step::Classify {
            key: new.method.key(),
            protocol: new.method.protocol.clone(),
        }),
        MethodChange::Removed { .. } => None,
    }));
    steps.extend(changes.methods.iter().filter_map(|m| match m {
        // Removing the class removes its methods; removing them one by one first would only
        // make the batch longer and its undo journal bigger.
        MethodChange::Removed { old }
            if !removed_classes.contains(old.method.class_name.as_str()) =>
        {
            Some(Step::RemoveMethod(old.method.key()))
        }
        _ => None,
    }));
    steps.extend(
        removal_order(&removed)
            .into_iter()
            .map(|c| Step::RemoveClass(c.name.clone())),
    );

    let facts = Facts::new(changes, ctx);
    let verdicts = changes
        .classes
        .iter()
        .map(|c| {
            let change = ChangeRef::Class {
                name: c.name().to_string(),
            };
            verdict(change, c.summary(), Subject::Class(c), &facts)
        })
        .chain(changes.methods.iter().map(|m| {
            let change = ChangeRef::Method { key: m.key() };
            verdict(change, m.summary(), Subject::Method(m), &facts)
        }))
        .collect();

    Plan { steps, verdicts }
}

fn verdict(
    change: ChangeRef,
    description: String,
    subject: Subject<'_>,
    facts: &Facts<'_>,
) -> Verdict {
    let safety = match rules::first_violation(subject, facts) {
        Some((rule, reason)) if rule.info().effect == Effect::Refuse => {
            Safety::Refused { rule, reason }
        }
        Some((rule, reason)) => Safety::NeedsRebuild { rule, reason },
        None => Safety::LiveSafe,
    };
    Verdict {
        change,
        description,
        safety,
    }
}

/// Orders classes so that each comes after the classes it depends on among `classes` (its
/// superclass and the traits its compositions name). Classes whose dependencies are all outside
/// the set come first; then by depth, and by name within a depth, so the order is deterministic.
fn dependency_order<'a>(classes: &[&'a ClassDef]) -> Vec<&'a ClassDef> {
    let mut ordered = with_depths(classes);
    ordered.sort_by_key(|&(depth, c)| (depth, c.name.as_str()));
    ordered.into_iter().map(|(_, c)| c).collect()
}

/// The reverse dependency order for removals: deepest subclasses (and trait users) first, by
/// name within a depth.
fn removal_order<'a>(classes: &[&'a ClassDef]) -> Vec<&'a ClassDef> {
    let mut ordered = with_depths(classes);
    ordered.sort_by_key(|&(depth, c)| (std::cmp::Reverse(depth), c.name.as_str()));
    ordered.into_iter().map(|(_, c)| c).collect()
}

/// Each class with its depth: 0 when it depends on nothing in `classes`, else one more than its
/// deepest dependency. A cycle (an invalid model) can't hang this: the edge closing it is
/// ignored.
fn with_depths<'a>(classes: &[&'a ClassDef]) -> Vec<(usize, &'a ClassDef)> {
    let by_name: BTreeMap<&str, &ClassDef> =
        classes.iter().map(|c| (c.name.as_str(), *c)).collect();
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    by_name
        .iter()
        .map(|(name, class)| {
            let d = depth_of(name, &by_name, &mut depth, &mut BTreeSet::new());
            (d, *class)
        })
        .collect()
}

fn depth_of<'a>(
    name: &'a str,
    by_name: &BTreeMap<&'a str, &'a ClassDef>,
    depth: &mut BTreeMap<&'a str, usize>,
    visiting: &mut BTreeSet<&'a str>,
) -> usize {
    if let Some(&d) = depth.get(name) {
        return d;
    }
    let Some(class) = by_name.get(name) else {
        return 0;
    };
    visiting.insert(name);
    let mut d = 0;
    for dependency in dependencies(class) {
        if let Some((&dep_name, _)) = by_name.get_key_value(dependency)
            && !visiting.contains(dep_name)
        {
            d = d.max(depth_of(dep_name, by_name, depth, visiting) + 1);
        }
    }
    visiting.remove(name);
    depth.insert(name, d);
    d
}

/// The names a class definition refers to: its superclass and every identifier in its trait
/// compositions (`TFoo + TBar - {#x}`, `TFoo classTrait`); non-class words are harmless since
/// only names of classes in the batch count.
fn dependencies(class: &ClassDef) -> impl Iterator<Item = &str> {
    let compositions = [class.traits.as_deref(), class.class_traits.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(|c| c.split(|ch: char| !(ch.is_alphanumeric() || ch == '_')))
        .filter(|word| !word.is_empty());
    class.superclass.as_deref().into_iter().chain(compositions)
}

/// For every class that moves variables up to a superclass in this batch: its definition as it
/// is in the image, less those variables, defined before anything else (see [`state::push_ups`]).
fn push_up_releases(changes: &Changes) -> Vec<Step> {
    let ups = state::push_ups(changes);
    changes
        .classes
        .iter()
        .filter_map(|c| match c {
            ClassChange::Changed { old, .. } => Some(old),
            _ => None,
        })
        .filter(|old| ups.iter().any(|u| u.class_name == old.name))
        .map(|old| {
            let mut released = without_methods(old);
            for up in ups.iter().filter(|u| u.class_name == old.name) {
                let vars = match up.kind {
                    state::VarKind::InstVar => &mut released.inst_vars,
                    state::VarKind::ClassInstVar => &mut released.class_inst_vars,
                    state::VarKind::ClassVar => &mut released.class_vars,
                };
                vars.retain(|v| *v != up.name);
            }
            Step::DefineClass(released)
        })
        .collect()
}

fn without_methods(class: &ClassDef) -> ClassDef {
    ClassDef {
        methods: Vec::new(),
        ..class.clone()
    }
}

#[cfg(test)]
mod tests;
