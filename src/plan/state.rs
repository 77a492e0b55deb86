//! Live state a batch would drop, and the variables whose values it carries over.
//!
//! Pure: from the diff alone this module says which variables (instance, class-instance, class)
//! each changed class loses and which removed classes may still have instances ([`dropped`]);
//! which of those losses are really renames (`--rename-var Class.old=new`) or moves to a
//! superclass in the same batch (push-ups), whose values the agent carries into the new
//! variable ([`carries`]). What the live objects actually hold is asked of the agent
//! (`ops::state`) and judged by the `drops-live-state` rule.

use crate::diff::{Changes, ClassChange};
use crate::model::ClassDef;
use crate::model::names::{is_class_name, is_variable_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The three kinds of variable a class definition names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarKind {
    /// An instance variable: one slot in every instance of the class and its subclasses.
    InstVar,
    /// A class-side instance variable: one slot in the class and in each subclass.
    ClassInstVar,
    /// A class variable: one value shared by the class and its subclasses.
    ClassVar,
}

impl VarKind {
    /// Every kind, in the order they are reported.
    pub const ALL: [VarKind; 3] = [VarKind::InstVar, VarKind::ClassInstVar, VarKind::ClassVar];

    /// How users read it: `instance variable`, …
    pub fn words(self) -> &'static str {
        match self {
            VarKind::InstVar => "instance variable",
            VarKind::ClassInstVar => "class-instance variable",
            VarKind::ClassVar => "class variable",
        }
    }

    /// The variables of this kind in `class`.
    pub fn of(self, class: &ClassDef) -> &[String] {
        match self {
            VarKind::InstVar => &class.inst_vars,
            VarKind::ClassInstVar => &class.class_inst_vars,
            VarKind::ClassVar => &class.class_vars,
        }
    }
}

/// `--rename-var Class.old=new`: the variable `old` of `Class` is now called `new`; live values
/// move with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The class that declares the variable.
    pub class_name: String,
    /// The name in the image.
    pub from: String,
    /// The name in the sources.
    pub to: String,
}

impl FromStr for Rename {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{text}` is not of the form Class.old=new");
        let (class_name, vars) = text.split_once('.').ok_or_else(usage)?;
        let (from, to) = vars.split_once('=').ok_or_else(usage)?;
        let (class_name, from, to) = (class_name.trim(), from.trim(), to.trim());
        if !is_class_name(class_name) || !is_variable_name(from) || !is_variable_name(to) {
            return Err(usage());
        }
        Ok(Rename {
            class_name: class_name.into(),
            from: from.into(),
            to: to.into(),
        })
    }
}

/// A variable whose live values the agent moves into another variable during the batch (the
/// batch's `carry`, PROTOCOL.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    /// The class whose instances (or which class objects) hold the values.
    pub class_name: String,
    /// The kind of both variables.
    pub kind: VarKind,
    /// The variable the batch removes.
    pub from: String,
    /// The variable that receives the values.
    pub to: String,
    /// Where `to` is declared after the batch, when that is another class (a push-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_class: Option<String>,
}

impl std::fmt::Display for Carry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.to_class {
            Some(up) => write!(
                f,
                "{}.{} moves up to {up} ({})",
                self.class_name,
                self.from,
                self.kind.words()
            ),
            None => write!(
                f,
                "{}.{} renamed to {} ({})",
                self.class_name,
                self.from,
                self.to,
                self.kind.words()
            ),
        }
    }
}

/// A `--rename-var` that does not match the change being pushed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--rename-var {class_name}.{from}={to}: {problem}")]
pub struct RenameError {
    /// The class named.
    pub class_name: String,
    /// The old name given.
    pub from: String,
    /// The new name given.
    pub to: String,
    /// What does not fit.
    pub problem: String,
}

/// A variable a class moves to one of its superclasses in the same batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUp {
    /// The class that loses the variable.
    pub class_name: String,
    /// The superclass that gains it.
    pub superclass: String,
    /// Its kind.
    pub kind: VarKind,
    /// Its name.
    pub name: String,
}

/// What one class of the batch loses: variables, or (for a removed class) itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dropped {
    /// The class.
    pub class_name: String,
    /// The class is removed (its instances, if any, are left orphaned).
    pub removed: bool,
    /// Variables removed without a carry, per kind.
    pub vars: BTreeMap<VarKind, Vec<String>>,
}

/// Variables of a changed class that the new definition no longer has, per kind, in the old
/// definition's order.
fn removed_vars(old: &ClassDef, new: &ClassDef) -> Vec<(VarKind, String)> {
    VarKind::ALL
        .iter()
        .flat_map(|&kind| {
            let kept = kind.of(new);
            kind.of(old)
                .iter()
                .filter(move |v| !kept.contains(v))
                .map(move |v| (kind, v.clone()))
        })
        .collect()
}

fn changed_classes(changes: &Changes) -> BTreeMap<&str, (&ClassDef, &ClassDef)> {
    changes
        .classes
        .iter()
        .filter_map(|c| match c {
            ClassChange::Changed { old, new, .. } => Some((new.name.as_str(), (old, new))),
            _ => None,
        })
        .collect()
}

/// Every variable a changed class removes that a superclass (after the batch) adds in the same
/// batch: the class builder would refuse the superclass's new variable while the subclass
/// still declares it, and the values must move.
pub fn push_ups(changes: &Changes) -> Vec<PushUp> {
    let changed = changed_classes(changes);
    let mut found = Vec::new();
    for (name, (old, new)) in &changed {
        for (kind, var) in removed_vars(old, new) {
            let mut ancestor = new.superclass.as_deref();
            // Bounded by the number of changed classes, so a cycle in a bad model can't hang.
            for _ in 0..changed.len() {
                let Some((up_old, up_new)) = ancestor.and_then(|a| changed.get(a)) else {
                    break;
                };
                if kind.of(up_new).contains(&var) && !kind.of(up_old).contains(&var) {
                    found.push(PushUp {
                        class_name: (*name).to_string(),
                        superclass: up_new.name.clone(),
                        kind,
                        name: var.clone(),
                    });
                    break;
                }
                ancestor = up_new.superclass.as_deref();
            }
        }
    }
    found
}

/// The carries of a batch: every `--rename-var` (checked against the change: `from` must be a
/// variable the class loses and `to` one of the same kind it gains), then every push-up.
pub fn carries(changes: &Changes, renames: &[Rename]) -> Result<Vec<Carry>, RenameError> {
    let changed = changed_classes(changes);
    let mut carries = Vec::new();
    for rename in renames {
        let problem = |problem: String| RenameError {
            class_name: rename.class_name.clone(),
            from: rename.from.clone(),
            to: rename.to.clone(),
            problem,
        };
        let Some((old, new)) = changed.get(rename.class_name.as_str()) else {
            return Err(problem(format!(
                "this push does not change the definition of {}",
                rename.class_name
            )));
        };
        let kind = VarKind::ALL
            .into_iter()
            .find(|k| kind_loses(*k, old, new, &rename.from))
            .ok_or_else(|| {
                problem(format!(
                    "{} has no variable {} that this push removes",
                    rename.class_name, rename.from
                ))
            })?;
        if !kind.of(new).contains(&rename.to) || kind.of(old).contains(&rename.to) {
            return Err(problem(format!(
                "{} gains no {} {} in this push",
                rename.class_name,
                kind.words(),
                rename.to
            )));
        }
        carries.push(Carry {
            class_name: rename.class_name.clone(),
            kind,
            from: rename.from.clone(),
            to: rename.to.clone(),
            to_class: None,
        });
    }
    for up in push_ups(changes) {
        let already = carries
            .iter()
            .any(|c| c.class_name == up.class_name && c.kind == up.kind && c.from == up.name);
        if !already {
            carries.push(Carry {
                class_name: up.class_name,
                kind: up.kind,
                from: up.name.clone(),
                to: up.name,
                to_class: Some(up.superclass),
            });
        }
    }
    Ok(carries)
}

fn kind_loses(kind: VarKind, old: &ClassDef, new: &ClassDef, var: &String) -> bool {
    kind.of(old).contains(var) && !kind.of(new).contains(var)
}

/// What each class of the batch drops, less what `carries` moves elsewhere: the classes whose
/// live state must be counted before the batch may go in. Sorted by class name.
pub fn dropped(changes: &Changes, carries: &[Carry]) -> Vec<Dropped> {
    let carried = |class: &str, kind: VarKind, var: &str| {
        carries
            .iter()
            .any(|c| c.class_name == class && c.kind == kind && c.from == var)
    };
    changes
        .classes
        .iter()
        .filter_map(|c| match c {
            ClassChange::Removed { old } => Some(Dropped {
                class_name: old.name.clone(),
                removed: true,
                vars: BTreeMap::new(),
            }),
            ClassChange::Changed { old, new, .. } => {
                let mut vars: BTreeMap<VarKind, Vec<String>> = BTreeMap::new();
                for (kind, var) in removed_vars(old, new) {
                    if !carried(&new.name, kind, &var) {
                        vars.entry(kind).or_default().push(var);
                    }
                }
                (!vars.is_empty()).then(|| Dropped {
                    class_name: new.name.clone(),
                    removed: false,
                    vars,
                })
            }
            ClassChange::Added { .. } => None,
        })
        .collect()
}

/// What the agent counted for one class (`census`): `None` where the count is unknown (the
/// time limit was hit, or the agent cannot count).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ClassCensus {
    /// Live instances of the class itself.
    pub instances: Option<u64>,
    /// Live instances of the class and its subclasses (the holders of its instance variables).
    pub all_instances: Option<u64>,
    /// For each dropped variable, how many holders have a non-nil value in it.
    pub vars: Vec<VarCensus>,
}

/// One counted variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarCensus {
    /// Its kind.
    pub kind: VarKind,
    /// Its name.
    pub name: String,
    /// Holders with a non-nil value (a class variable: 1 when non-nil); `None`: unknown.
    pub non_nil: Option<u64>,
}

/// The census of a batch's dropping classes, by class name, as the `drops-live-state` rule
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LiveState {
    /// Counts per class name.
    pub classes: BTreeMap<String, ClassCensus>,
    /// Why counts are unknown, when the agent could not count at all (an older agent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl LiveState {
    /// Everything unknown, for every dropping class: the agent cannot count (`why`).
    pub fn unknown(dropped: &[Dropped], why: String) -> LiveState {
        let classes = dropped
            .iter()
            .map(|d| {
                let vars = d
                    .vars
                    .iter()
                    .flat_map(|(kind, names)| {
                        names.iter().map(|name| VarCensus {
                            kind: *kind,
                            name: name.clone(),
                            non_nil: None,
                        })
                    })
                    .collect();
                let census = ClassCensus {
                    instances: None,
                    all_instances: None,
                    vars,
                };
                (d.class_name.clone(), census)
            })
            .collect();
        LiveState {
            classes,
            unavailable: Some(why),
        }
    }
}

/// Why the live state of `class_name` would be lost by a change that removes the class
/// (`removed`) or some of its variables, or `None` when every count is zero. Unknown counts are
/// losses: nobody could show that nothing is lost.
pub(super) fn loss(class_name: &str, removed: bool, state: &LiveState) -> Option<String> {
    let census = state.classes.get(class_name)?;
    let count = |n: Option<u64>| n.map_or_else(|| "unknown".to_string(), |n| n.to_string());
    let mut parts = Vec::new();
    if removed {
        if census.instances != Some(0) {
            parts.push(format!(
                "removing class {class_name} orphans its live instances ({})",
                count(census.instances)
            ));
        }
    } else {
        let lost: Vec<String> = census
            .vars
            .iter()
            .filter(|v| v.non_nil != Some(0))
            .map(|v| match v.kind {
                VarKind::ClassVar if v.non_nil.is_some() => {
                    format!("{} {} holds a value", v.kind.words(), v.name)
                }
                VarKind::InstVar => format!(
                    "{} {}: {} of {} instances hold a value",
                    v.kind.words(),
                    v.name,
                    count(v.non_nil),
                    count(census.all_instances)
                ),
                _ => format!(
                    "{} {}: {} hold a value",
                    v.kind.words(),
                    v.name,
                    count(v.non_nil)
                ),
            })
            .collect();
        if !lost.is_empty() {
            parts.push(format!("{class_name} drops {}", lost.join("; ")));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut reason = parts.join("; ");
    if let Some(why) = &state.unavailable {
        reason.push_str(&format!(" ({why})"));
    }
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::tests::class;

    fn with_vars(name: &str, superclass: &str, inst_vars: &[&str]) -> ClassDef {
        ClassDef {
            superclass: Some(superclass.into()),
            inst_vars: inst_vars.iter().map(|s| s.to_string()).collect(),
            ..class(name, "App")
        }
    }

    fn changed(old: ClassDef, new: ClassDef) -> ClassChange {
        ClassChange::Changed {
            aspects: Vec::new(),
            old,
            new,
        }
    }

    fn changes(classes: Vec<ClassChange>) -> Changes {
        Changes {
            classes,
            methods: Vec::new(),
        }
    }

    #[test]
    fn a_rename_parses_and_bad_ones_say_the_form() {
        let r: Rename = "Counter.n=count".parse().unwrap();
        assert_eq!(
            (r.class_name.as_str(), r.from.as_str(), r.to.as_str()),
            ("Counter", "n", "count")
        );
        for bad in ["Counter", "Counter.n", "Counter.=x", ".a=b", "C.a=b c"] {
            let e = bad.parse::<Rename>().unwrap_err();
            assert!(e.contains("Class.old=new"), "{bad}: {e}");
        }
    }

    #[test]
    fn removed_variables_are_dropped_unless_carried() {
        let c = changes(vec![
            changed(
                with_vars("Counter", "Object", &["n", "step", "keep"]),
                with_vars("Counter", "Object", &["count", "keep"]),
            ),
            ClassChange::Removed {
                old: class("Gone", "App"),
            },
        ]);
        let renames = ["Counter.n=count".parse().unwrap()];
        let carries = carries(&c, &renames).unwrap();
        assert_eq!(carries.len(), 1);
        assert_eq!(carries[0].kind, VarKind::InstVar);
        let dropped = dropped(&c, &carries);
        assert_eq!(dropped.len(), 2);
        assert_eq!(dropped[0].class_name, "Counter");
        assert_eq!(dropped[0].vars[&VarKind::InstVar], vec!["step".to_string()]);
        assert!(dropped[1].removed && dropped[1].class_name == "Gone");
    }

    #[test]
    fn a_rename_that_does_not_fit_the_change_is_an_error() {
        let c = changes(vec![changed(
            with_vars("Counter", "Object", &["n"]),
            with_vars("Counter", "Object", &["count"]),
        )]);
        for (rename, says) in [
            ("Other.n=count", "does not change the definition of Other"),
            ("Counter.x=count", "no variable x that this push removes"),
            ("Counter.n=total", "gains no instance variable total"),
        ] {
            let e = carries(&c, &[rename.parse().unwrap()]).unwrap_err();
            assert!(e.to_string().contains(says), "{rename}: {e}");
        }
    }

    #[test]
    fn a_variable_moved_to_a_superclass_is_a_push_up_and_carried() {
        let c = changes(vec![
            changed(
                with_vars("Shape", "Object", &[]),
                with_vars("Shape", "Object", &["color"]),
            ),
            changed(
                with_vars("Square", "Shape", &["color", "side"]),
                with_vars("Square", "Shape", &["side"]),
            ),
        ]);
        let ups = push_ups(&c);
        assert_eq!(
            ups,
            vec![PushUp {
                class_name: "Square".into(),
                superclass: "Shape".into(),
                kind: VarKind::InstVar,
                name: "color".into()
            }]
        );
        let carries = carries(&c, &[]).unwrap();
        assert_eq!(carries[0].to_class.as_deref(), Some("Shape"));
        assert!(dropped(&c, &carries).is_empty());
    }

    #[test]
    fn loss_counts_values_and_unknowns_and_passes_zeroes() {
        let mut state = LiveState::default();
        state.classes.insert(
            "Counter".into(),
            ClassCensus {
                instances: Some(3),
                all_instances: Some(4),
                vars: vec![
                    VarCensus {
                        kind: VarKind::InstVar,
                        name: "step".into(),
                        non_nil: Some(2),
                    },
                    VarCensus {
                        kind: VarKind::ClassVar,
                        name: "Default".into(),
                        non_nil: Some(0),
                    },
                ],
            },
        );
        let reason = loss("Counter", false, &state).unwrap();
        assert_eq!(
            reason,
            "Counter drops instance variable step: 2 of 4 instances hold a value"
        );
        state.classes.get_mut("Counter").unwrap().vars[0].non_nil = Some(0);
        assert_eq!(loss("Counter", false, &state), None);
        state.classes.get_mut("Counter").unwrap().vars[0].non_nil = None;
        assert!(
            loss("Counter", false, &state)
                .unwrap()
                .contains("unknown of 4")
        );
        // A removed class with instances, and one whose count is unknown.
        assert!(
            loss("Counter", true, &state)
                .unwrap()
                .contains("orphans its live instances (3)")
        );
        let unknown = LiveState::unknown(
            &[Dropped {
                class_name: "Gone".into(),
                removed: true,
                vars: BTreeMap::new(),
            }],
            "the agent cannot count".into(),
        );
        assert_eq!(
            loss("Gone", true, &unknown).unwrap(),
            "removing class Gone orphans its live instances (unknown) (the agent cannot count)"
        );
    }
}
