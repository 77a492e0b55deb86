//! The rules that stop a change from going into a running image: most call for a rebuild (the
//! change can't be made live), `drops-live-state` refuses outright (the change would throw away
//! values live objects hold; a rebuild would lose them too). This table is the single source of
//! truth: the planner applies it in order and `rules()` lists it for `hotpatch explain-rules`
//! and the README. Anything no rule objects to is live-safe.

use super::PlanContext;
use crate::diff::{Changes, ClassChange, MethodChange};
use crate::model::{ClassDef, ClassKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Names a needs-rebuild rule (see [`rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `agent-package`: the change touches the agent's own packages.
    AgentPackage,
    /// `class-kind-change`: a class becomes a trait or the reverse.
    ClassKindChange,
    /// `layout-change`: a class's layout type changes.
    LayoutChange,
    /// `removed-class-has-subclasses`: a removed class would leave subclasses behind.
    RemovedClassHasSubclasses,
    /// `drops-live-state`: the change would drop values live objects hold.
    DropsLiveState,
}

/// What a rule does to a change it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// The change can't go live; the image must be rebuilt (`on_needs_rebuild`, `--rebuild`).
    NeedsRebuild,
    /// The push is refused and nothing happens, not even a rebuild, unless the user says so
    /// (`--allow-state-loss`).
    Refuse,
}

impl Rule {
    /// The rule's entry in the table.
    pub fn info(self) -> &'static RuleInfo {
        // Every variant has exactly one row (tested), so the search always succeeds; the
        // fallback only keeps this total without a panic path.
        RULES.iter().find(|r| r.rule == self).unwrap_or(&RULES[0])
    }

    /// The rule's stable name (`layout-change`, …), as shown to users and in `--json`.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

/// One row of the rule table: what it is called and what it forbids.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleInfo {
    /// The rule this row describes.
    pub rule: Rule,
    /// Stable kebab-case name.
    pub name: &'static str,
    /// One sentence for users: what the rule catches and why that can't go live.
    pub description: &'static str,
    /// Rebuild or refuse.
    pub effect: Effect,
    /// Answers the reason shown to the user when the rule applies to a change.
    #[serde(skip)]
    check: Check,
}

type Check = fn(Subject<'_>, &Facts<'_>) -> Option<String>;

/// The rule table, in the order rules are checked; the first rule that applies to a change
/// gives its verdict.
const RULES: &[RuleInfo] = &[
    RuleInfo {
        rule: Rule::AgentPackage,
        name: "agent-package",
        description: "Changes to the agent's own packages (Hotpatch-Agent*) need a rebuild: the \
                      agent would be replacing its own code while that code applies the batch.",
        effect: Effect::NeedsRebuild,
        check: agent_package,
    },
    RuleInfo {
        rule: Rule::ClassKindChange,
        name: "class-kind-change",
        description: "Turning a class into a trait or a trait into a class needs a rebuild: an \
                      image can't convert one into the other in place.",
        effect: Effect::NeedsRebuild,
        check: class_kind_change,
    },
    RuleInfo {
        rule: Rule::LayoutChange,
        name: "layout-change",
        description: "Changing a class's layout type (pointers, variable, bytes, words, weak, \
                      ephemeron, …) needs a rebuild: live instances can't be reshaped into \
                      another kind of object.",
        effect: Effect::NeedsRebuild,
        check: layout_change,
    },
    RuleInfo {
        rule: Rule::RemovedClassHasSubclasses,
        name: "removed-class-has-subclasses",
        description: "Removing a class that still has subclasses after the push (in the image or \
                      locally) needs a rebuild: the subclasses would be left without their \
                      superclass.",
        effect: Effect::NeedsRebuild,
        check: removed_class_has_subclasses,
    },
    RuleInfo {
        rule: Rule::DropsLiveState,
        name: "drops-live-state",
        description: "Removing an instance, class-instance or class variable that live objects \
                      still give a value, or a class that still has live instances, is refused \
                      (a rebuild would lose the values too): rename the variable with \
                      --rename-var Class.old=new, or push with --allow-state-loss. Counts the \
                      agent could not finish in time are unknown and refused the same way.",
        effect: Effect::Refuse,
        check: drops_live_state,
    },
];

/// Every needs-rebuild rule, in the order they are checked.
pub fn rules() -> &'static [RuleInfo] {
    RULES
}

/// What a rule looks at: one change.
#[derive(Clone, Copy)]
pub(super) enum Subject<'a> {
    Class(&'a ClassChange),
    Method(&'a MethodChange),
}

/// Batch-wide facts some rules need beyond the change itself, computed once per plan.
pub(super) struct Facts<'a> {
    ctx: &'a PlanContext,
    /// Classes the batch removes.
    removed: BTreeSet<&'a str>,
    /// Classes the batch defines (added or changed), with their new definitions.
    defined: BTreeMap<&'a str, &'a ClassDef>,
}

impl<'a> Facts<'a> {
    pub(super) fn new(changes: &'a Changes, ctx: &'a PlanContext) -> Self {
        let removed = changes
            .classes
            .iter()
            .filter(|c| matches!(c, ClassChange::Removed { .. }))
            .map(ClassChange::name)
            .collect();
        let defined = changes
            .classes
            .iter()
            .filter_map(ClassChange::new_def)
            .map(|c| (c.name.as_str(), c))
            .collect();
        Facts {
            ctx,
            removed,
            defined,
        }
    }

    /// The classes that will still have `class_name` as their direct superclass after the
    /// batch: the image's subclasses and the batch's new definitions naming it, less those the
    /// batch removes or re-parents elsewhere.
    fn subclasses_after(&self, class_name: &str) -> BTreeSet<&str> {
        let in_image = self
            .ctx
            .subclasses
            .get(class_name)
            .into_iter()
            .flatten()
            .map(String::as_str);
        let in_batch = self
            .defined
            .values()
            .filter(|c| c.superclass.as_deref() == Some(class_name))
            .map(|c| c.name.as_str());
        in_image
            .chain(in_batch)
            .filter(|s| !self.removed.contains(s))
            .filter(|s| match self.defined.get(s) {
                Some(def) => def.superclass.as_deref() == Some(class_name),
                None => true,
            })
            .collect()
    }
}

/// The verdict of the first rule that applies, if any.
pub(super) fn first_violation(subject: Subject<'_>, facts: &Facts<'_>) -> Option<(Rule, String)> {
    RULES
        .iter()
        .find_map(|r| (r.check)(subject, facts).map(|reason| (r.rule, reason)))
}

fn agent_package(subject: Subject<'_>, facts: &Facts<'_>) -> Option<String> {
    let (what, packages): (String, Vec<&str>) = match subject {
        Subject::Class(change) => {
            let packages = change
                .old()
                .into_iter()
                .chain(change.new_def())
                .map(|c| c.package.as_str())
                .collect();
            (format!("class {}", change.name()), packages)
        }
        Subject::Method(change) => (change.key().to_string(), change.packages().collect()),
    };
    let package = packages
        .into_iter()
        .find(|p| facts.ctx.is_agent_package(p))?;
    Some(format!(
        "{what} is in the agent's own package {package}: the agent can't replace its own code \
         while running it"
    ))
}

fn class_kind_change(subject: Subject<'_>, _: &Facts<'_>) -> Option<String> {
    let Subject::Class(ClassChange::Changed { old, new, .. }) = subject else {
        return None;
    };
    (old.kind != new.kind).then(|| {
        format!(
            "{} changes from a {} to a {}: an image can't convert one into the other in place",
            new.name,
            kind_word(old.kind),
            kind_word(new.kind)
        )
    })
}

fn layout_change(subject: Subject<'_>, _: &Facts<'_>) -> Option<String> {
    let Subject::Class(ClassChange::Changed { old, new, .. }) = subject else {
        return None;
    };
    let (from, to) = (
        layout_type(old.layout.as_deref()),
        layout_type(new.layout.as_deref()),
    );
    (from != to).then(|| {
        format!(
            "class {}'s layout changes from {from} to {to}: live instances can't be reshaped",
            new.name
        )
    })
}

fn removed_class_has_subclasses(subject: Subject<'_>, facts: &Facts<'_>) -> Option<String> {
    let Subject::Class(ClassChange::Removed { old }) = subject else {
        return None;
    };
    let remaining = facts.subclasses_after(&old.name);
    if remaining.is_empty() {
        return None;
    }
    let names: Vec<&str> = remaining.into_iter().collect();
    Some(format!(
        "removing class {}: it still has {} {} outside this push",
        old.name,
        if names.len() == 1 {
            "subclass"
        } else {
            "subclasses"
        },
        names.join(", ")
    ))
}

fn drops_live_state(subject: Subject<'_>, facts: &Facts<'_>) -> Option<String> {
    if facts.ctx.allow_state_loss {
        return None;
    }
    let state = facts.ctx.live_state.as_ref()?;
    match subject {
        Subject::Class(ClassChange::Changed { new, .. }) => {
            super::state::loss(&new.name, false, state)
        }
        Subject::Class(ClassChange::Removed { old }) => super::state::loss(&old.name, true, state),
        _ => None,
    }
}

fn kind_word(kind: ClassKind) -> &'static str {
    match kind {
        ClassKind::Class => "class",
        ClassKind::Trait => "trait",
    }
}

/// The layout *type*, whichever spelling the two sides used: Tonel's `#type` words
/// (`variable`, `bytes`, …) and Pharo's layout class names (`VariableLayout`, `ByteLayout`, …)
/// name the same things, and "no layout" is a plain pointers class. Only a different type
/// counts as a layout change.
fn layout_type(layout: Option<&str>) -> String {
    let Some(layout) = layout else {
        return "pointers".to_string();
    };
    let lower = layout.to_ascii_lowercase();
    let base = lower.strip_suffix("layout").unwrap_or(&lower);
    match base {
        "" | "fixed" | "normal" | "pointers" => "pointers",
        "byte" | "bytes" => "bytes",
        "word" | "words" => "words",
        "weak" | "weakvariable" => "weak",
        "compiledmethod" => "compiledMethod",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::OwnedMethod;
    use crate::diff::tests::{class, method};
    use std::collections::HashMap;

    fn changed(old: ClassDef, new: ClassDef) -> ClassChange {
        ClassChange::Changed {
            aspects: Vec::new(),
            old,
            new,
        }
    }

    fn check(rule: Rule, changes: &Changes, ctx: &PlanContext) -> Vec<String> {
        let facts = Facts::new(changes, ctx);
        let subjects = changes
            .classes
            .iter()
            .map(Subject::Class)
            .chain(changes.methods.iter().map(Subject::Method));
        subjects
            .filter_map(|s| (rule.info().check)(s, &facts))
            .collect()
    }

    fn classes(classes: Vec<ClassChange>) -> Changes {
        Changes {
            classes,
            methods: Vec::new(),
        }
    }

    #[test]
    fn table_has_one_row_per_rule_with_unique_names() {
        let all = [
            Rule::AgentPackage,
            Rule::ClassKindChange,
            Rule::LayoutChange,
            Rule::RemovedClassHasSubclasses,
            Rule::DropsLiveState,
        ];
        assert_eq!(rules().len(), all.len());
        for rule in all {
            assert_eq!(rules().iter().filter(|r| r.rule == rule).count(), 1);
            let name = serde_json::to_value(rule).expect("rule serializes");
            assert_eq!(name, rule.name(), "serialized name matches the table");
            assert!(!rule.info().description.is_empty());
        }
    }

    #[test]
    fn agent_package_fires_for_agent_classes_and_methods() {
        let ctx = PlanContext::default();
        let agent_class = class("HotpatchAgentServer", "Hotpatch-Agent-Core");
        let changes = Changes {
            classes: vec![ClassChange::Added {
                new: agent_class.clone(),
            }],
            methods: vec![MethodChange::Removed {
                old: OwnedMethod {
                    package: "Hotpatch-Agent".into(),
                    method: method("String", "asAgentJson", "*Hotpatch-Agent", "^ self"),
                },
            }],
        };
        let reasons = check(Rule::AgentPackage, &changes, &ctx);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("class HotpatchAgentServer"));
        assert!(reasons[0].contains("Hotpatch-Agent-Core"));
        assert!(reasons[1].contains("String>>asAgentJson"));

        // A class moving out of the agent's package touches the agent too.
        let moved_out = classes(vec![changed(
            agent_class,
            class("HotpatchAgentServer", "App"),
        )]);
        assert_eq!(check(Rule::AgentPackage, &moved_out, &ctx).len(), 1);
    }

    #[test]
    fn agent_package_does_not_fire_for_other_packages() {
        let changes = Changes {
            classes: vec![ClassChange::Added {
                new: class("Hotpatcher", "Hotpatch-Agents-Fan-Club"),
            }],
            methods: vec![MethodChange::Added {
                new: OwnedMethod {
                    package: "App".into(),
                    method: method("App", "run", "running", "^ self"),
                },
            }],
        };
        let ctx = PlanContext {
            agent_package_prefixes: vec!["Hotpatch-Agent-".into()],
            ..PlanContext::default()
        };
        assert!(check(Rule::AgentPackage, &changes, &ctx).is_empty());
        let none = PlanContext {
            agent_package_prefixes: Vec::new(),
            ..PlanContext::default()
        };
        let agent = classes(vec![ClassChange::Added {
            new: class("X", "Hotpatch-Agent"),
        }]);
        assert!(check(Rule::AgentPackage, &agent, &none).is_empty());
    }

    #[test]
    fn class_kind_change_fires_for_class_to_trait() {
        let old = class("Counter", "App");
        let new = ClassDef {
            kind: ClassKind::Trait,
            superclass: None,
            ..old.clone()
        };
        let reasons = check(
            Rule::ClassKindChange,
            &classes(vec![changed(old, new)]),
            &PlanContext::default(),
        );
        assert_eq!(
            reasons,
            vec![
                "Counter changes from a class to a trait: an image can't convert one into the \
                 other in place"
            ]
        );
    }

    #[test]
    fn class_kind_change_does_not_fire_otherwise() {
        let old = class("Counter", "App");
        let new = ClassDef {
            inst_vars: vec!["n".into()],
            ..old.clone()
        };
        let trait_added = ClassChange::Added {
            new: ClassDef {
                kind: ClassKind::Trait,
                ..class("TCount", "App")
            },
        };
        let changes = classes(vec![changed(old, new), trait_added]);
        assert!(check(Rule::ClassKindChange, &changes, &PlanContext::default()).is_empty());
    }

    #[test]
    fn layout_change_fires_for_another_layout_type() {
        let ctx = PlanContext::default();
        for (from, to, shown) in [
            (None, Some("variable"), "pointers to variable"),
            (Some("bytes"), Some("words"), "bytes to words"),
            (Some("VariableLayout"), None, "variable to pointers"),
            (Some("weak"), Some("ephemeron"), "weak to ephemeron"),
        ] {
            let old = ClassDef {
                layout: from.map(Into::into),
                ..class("Buffer", "App")
            };
            let new = ClassDef {
                layout: to.map(Into::into),
                ..class("Buffer", "App")
            };
            let reasons = check(Rule::LayoutChange, &classes(vec![changed(old, new)]), &ctx);
            assert_eq!(reasons.len(), 1, "{from:?} -> {to:?}");
            assert!(reasons[0].contains(shown), "{}", reasons[0]);
        }
    }

    #[test]
    fn layout_change_does_not_fire_for_the_same_type_spelled_differently() {
        let ctx = PlanContext::default();
        for (from, to) in [
            (None, None),
            (Some("variable"), Some("VariableLayout")),
            (Some("bytes"), Some("ByteLayout")),
            (None, Some("FixedLayout")),
            (Some("words"), Some("WordLayout")),
        ] {
            let old = ClassDef {
                layout: from.map(Into::into),
                ..class("Buffer", "App")
            };
            let new = ClassDef {
                layout: to.map(Into::into),
                inst_vars: vec!["size".into()],
                ..class("Buffer", "App")
            };
            let changes = classes(vec![changed(old, new)]);
            assert!(
                check(Rule::LayoutChange, &changes, &ctx).is_empty(),
                "{from:?} -> {to:?}"
            );
        }
        // Adding or removing a class is not a layout change, whatever its layout.
        let added = classes(vec![ClassChange::Added {
            new: ClassDef {
                layout: Some("bytes".into()),
                ..class("Blob", "App")
            },
        }]);
        assert!(check(Rule::LayoutChange, &added, &ctx).is_empty());
    }

    fn removed(name: &str) -> ClassChange {
        ClassChange::Removed {
            old: class(name, "App"),
        }
    }

    fn image_subclasses(pairs: &[(&str, &[&str])]) -> PlanContext {
        PlanContext {
            subclasses: pairs
                .iter()
                .map(|(c, subs)| (c.to_string(), subs.iter().map(|s| s.to_string()).collect()))
                .collect::<HashMap<_, _>>(),
            ..PlanContext::default()
        }
    }

    #[test]
    fn removed_class_has_subclasses_fires_for_image_subclasses() {
        let ctx = image_subclasses(&[("Shape", &["Square", "Circle"])]);
        let reasons = check(
            Rule::RemovedClassHasSubclasses,
            &classes(vec![removed("Shape")]),
            &ctx,
        );
        assert_eq!(
            reasons,
            vec!["removing class Shape: it still has subclasses Circle, Square outside this push"]
        );
    }

    #[test]
    fn removed_class_has_subclasses_fires_for_local_subclasses() {
        // The image doesn't know (empty context), but the push itself defines a subclass.
        let square = ClassChange::Added {
            new: ClassDef {
                superclass: Some("Shape".into()),
                ..class("Square", "App")
            },
        };
        let reasons = check(
            Rule::RemovedClassHasSubclasses,
            &classes(vec![removed("Shape"), square]),
            &PlanContext::default(),
        );
        assert_eq!(
            reasons,
            vec!["removing class Shape: it still has subclass Square outside this push"]
        );
    }

    #[test]
    fn removed_class_has_subclasses_does_not_fire_when_they_go_too() {
        let ctx = image_subclasses(&[("Shape", &["Square", "Circle"]), ("Square", &[])]);
        // Square is removed with it, Circle is re-parented by the same push.
        let circle = changed(
            ClassDef {
                superclass: Some("Shape".into()),
                ..class("Circle", "App")
            },
            class("Circle", "App"),
        );
        let changes = classes(vec![removed("Shape"), removed("Square"), circle]);
        assert!(check(Rule::RemovedClassHasSubclasses, &changes, &ctx).is_empty());
        // And a leaf class is always fine.
        let leaf = classes(vec![removed("Leaf")]);
        assert!(check(Rule::RemovedClassHasSubclasses, &leaf, &ctx).is_empty());
    }

    fn census(class: &str, instances: u64, var: &str, non_nil: Option<u64>) -> PlanContext {
        use crate::plan::state::{ClassCensus, LiveState, VarCensus, VarKind};
        let mut live = LiveState::default();
        live.classes.insert(
            class.into(),
            ClassCensus {
                instances: Some(instances),
                all_instances: Some(instances),
                vars: vec![VarCensus {
                    kind: VarKind::InstVar,
                    name: var.into(),
                    non_nil,
                }],
            },
        );
        PlanContext {
            live_state: Some(live),
            ..PlanContext::default()
        }
    }

    fn drop_step() -> Changes {
        let old = ClassDef {
            inst_vars: vec!["count".into(), "step".into()],
            ..class("Counter", "App")
        };
        let new = ClassDef {
            inst_vars: vec!["count".into()],
            ..class("Counter", "App")
        };
        classes(vec![changed(old, new)])
    }

    #[test]
    fn drops_live_state_fires_for_held_or_unknown_values_and_refuses() {
        let reasons = check(
            Rule::DropsLiveState,
            &drop_step(),
            &census("Counter", 5, "step", Some(2)),
        );
        assert_eq!(
            reasons,
            vec!["Counter drops instance variable step: 2 of 5 instances hold a value"]
        );
        let unknown = check(
            Rule::DropsLiveState,
            &drop_step(),
            &census("Counter", 5, "step", None),
        );
        assert_eq!(unknown.len(), 1, "unknown counts refuse too");
        assert_eq!(Rule::DropsLiveState.info().effect, Effect::Refuse);
        // Through the planner: a refusal, not a rebuild.
        let plan = crate::plan::plan(&drop_step(), &census("Counter", 5, "step", Some(2)));
        assert_eq!(plan.refusals().count(), 1);
        assert!(!plan.needs_rebuild());
    }

    #[test]
    fn drops_live_state_does_not_fire_for_nil_slots_when_allowed_or_not_counted() {
        let nothing = check(
            Rule::DropsLiveState,
            &drop_step(),
            &census("Counter", 5, "step", Some(0)),
        );
        assert!(nothing.is_empty());
        let allowed = PlanContext {
            allow_state_loss: true,
            ..census("Counter", 5, "step", Some(2))
        };
        assert!(check(Rule::DropsLiveState, &drop_step(), &allowed).is_empty());
        assert!(check(Rule::DropsLiveState, &drop_step(), &PlanContext::default()).is_empty());
    }
}
