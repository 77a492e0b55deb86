//! Unit tests for ordering and verdicts, on changes computed by the real diff from models built
//! in code (the rules themselves are tested one by one in `rules.rs`).

use super::*;
use crate::diff::diff;
use crate::diff::tests::{class, class_method, method, package, with_methods};
use crate::model::{ClassKind, Package, Side};

fn subclass(name: &str, superclass: &str) -> ClassDef {
    ClassDef {
        superclass: Some(superclass.into()),
        ..class(name, "App")
    }
}

fn app(classes: Vec<ClassDef>) -> Vec<Package> {
    vec![package("App", classes)]
}

fn step_names(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::DefineClass(c) => format!("define {}", c.name),
            Step::PutMethod(m) => format!("put {}", m.key()),
            Step::Classify { key, protocol } => format!("classify {key} {protocol}"),
            Step::RemoveMethod(key) => format!("remove {key}"),
            Step::RemoveClass(name) => format!("remove class {name}"),
        })
        .collect()
}

#[test]
fn empty_changes_make_an_empty_plan() {
    let plan = plan(&Changes::default(), &PlanContext::default());
    assert_eq!(plan, Plan::default());
    assert!(!plan.needs_rebuild());
}

#[test]
fn deep_hierarchy_is_defined_superclass_first() {
    // Listed (and named) so that name order alone would be wrong.
    let local = app(vec![
        subclass("A4", "B3"),
        subclass("B3", "C2"),
        subclass("C2", "D1"),
        subclass("D1", "Object"),
        subclass("Z0", "Model"),
        subclass("E2", "D1"),
    ]);
    let plan = plan(&diff(&local, &[]), &PlanContext::default());
    assert_eq!(
        step_names(&plan),
        vec![
            "define D1",
            "define Z0",
            "define C2",
            "define E2",
            "define B3",
            "define A4"
        ]
    );
}

#[test]
fn class_whose_superclass_is_outside_the_batch_goes_first() {
    // `Square`'s superclass `Shape` exists in the image unchanged: not in the batch.
    let image = app(vec![class("Shape", "App"), subclass("Square", "Shape")]);
    let mut local = image.clone();
    local[0].classes[1].inst_vars = vec!["side".into()];
    local[0].classes.push(subclass("Circle", "Square"));
    local[0].classes.push(subclass("Blob", "Circle"));
    let plan = plan(&diff(&local, &image), &PlanContext::default());
    assert_eq!(
        step_names(&plan),
        vec!["define Square", "define Circle", "define Blob"]
    );
}

#[test]
fn traits_are_defined_before_the_classes_using_them() {
    let trait_def = ClassDef {
        kind: ClassKind::Trait,
        superclass: None,
        ..class("TCounting", "App")
    };
    let user = ClassDef {
        traits: Some("TCounting + TOther - {#x}".into()),
        class_traits: Some("TCounting classTrait".into()),
        ..class("ACounter", "App")
    };
    let plan = plan(
        &diff(&app(vec![user, trait_def]), &[]),
        &PlanContext::default(),
    );
    assert_eq!(
        step_names(&plan),
        vec!["define TCounting", "define ACounter"]
    );
}

#[test]
fn a_superclass_cycle_does_not_hang() {
    let local = app(vec![subclass("A", "B"), subclass("B", "A")]);
    let plan = plan(&diff(&local, &[]), &PlanContext::default());
    assert_eq!(plan.steps.len(), 2);
}

#[test]
fn steps_follow_the_protocol_order() {
    let image = app(vec![
        with_methods(
            class("Counter", "App"),
            vec![
                method("Counter", "increment", "actions", "n := n + 1"),
                method("Counter", "reset", "actions", "n := 0"),
                class_method("Counter", "new", "instance creation", "^ super new"),
            ],
        ),
        with_methods(
            class("Old", "App"),
            vec![
                method("Old", "a", "x", "^ 1"),
                method("Old", "b", "x", "^ 2"),
            ],
        ),
        subclass("OldChild", "Old"),
    ]);
    let local = app(vec![
        with_methods(
            ClassDef {
                inst_vars: vec!["n".into()],
                ..class("Counter", "App")
            },
            vec![
                method("Counter", "increment", "actions", "n := n + 2"),
                class_method("Counter", "new", "creating", "^ super new"),
                method("Counter", "step", "accessing", "^ 1"),
            ],
        ),
        with_methods(class("New", "App"), vec![method("New", "z", "x", "^ 1")]),
    ]);
    let plan = plan(&diff(&local, &image), &PlanContext::default());
    assert_eq!(
        step_names(&plan),
        vec![
            "define Counter",
            "define New",
            "put Counter>>increment",
            "put Counter>>step",
            "classify Counter class>>new creating",
            "put New>>z",
            // Old's own methods go with the class, not one by one.
            "remove Counter>>reset",
            "remove class OldChild",
            "remove class Old",
        ]
    );
    assert!(!plan.needs_rebuild(), "{:?}", plan.verdicts);
}

#[test]
fn class_removals_go_subclasses_first_in_deep_hierarchies() {
    let image = app(vec![
        subclass("A", "Object"),
        subclass("B", "A"),
        subclass("C", "B"),
        subclass("D", "A"),
        subclass("Loner", "Object"),
    ]);
    let plan = plan(&diff(&[], &image), &PlanContext::default());
    assert_eq!(
        step_names(&plan),
        vec![
            "remove class C",
            "remove class B",
            "remove class D",
            "remove class A",
            "remove class Loner"
        ]
    );
}

#[test]
fn define_steps_carry_no_methods() {
    let local = app(vec![with_methods(
        class("New", "App"),
        vec![method("New", "z", "x", "^ 1")],
    )]);
    let plan = plan(&diff(&local, &[]), &PlanContext::default());
    assert!(matches!(&plan.steps[0], Step::DefineClass(c) if c.methods.is_empty()));
}

#[test]
fn extension_methods_of_removed_classes_are_covered_by_the_class_removal() {
    let mut image = app(vec![class("Old", "App")]);
    image[0].extensions.push(crate::model::Extension {
        class_name: "String".into(),
        methods: vec![method("String", "shout", "*App", "^ self")],
        origin: None,
    });
    let plan = plan(&diff(&app(vec![]), &image), &PlanContext::default());
    // String stays, so its extension method is removed one by one.
    assert_eq!(
        step_names(&plan),
        vec!["remove String>>shout", "remove class Old"]
    );
}

#[test]
fn every_change_gets_a_verdict() {
    let image = app(vec![with_methods(
        class("Counter", "App"),
        vec![method("Counter", "a", "x", "^ 1")],
    )]);
    let local = app(vec![
        with_methods(
            ClassDef {
                comment: Some("I count".into()),
                ..class("Counter", "App")
            },
            vec![method("Counter", "b", "x", "^ 1")],
        ),
        class("New", "App"),
    ]);
    let changes = diff(&local, &image);
    let plan = plan(&changes, &PlanContext::default());
    assert_eq!(plan.verdicts.len(), changes.counts().total());
    let described: Vec<&str> = plan
        .verdicts
        .iter()
        .map(|v| v.description.as_str())
        .collect();
    assert_eq!(
        described,
        vec![
            "~ class Counter (comment)",
            "+ class New",
            "- Counter>>a",
            "+ Counter>>b"
        ]
    );
    assert!(plan.verdicts.iter().all(|v| v.safety == Safety::LiveSafe));
    assert_eq!(
        plan.verdicts[2].change,
        ChangeRef::Method {
            key: MethodKey {
                class_name: "Counter".into(),
                side: Side::Instance,
                selector: "a".into()
            }
        }
    );
}

#[test]
fn needs_rebuild_lists_the_offending_changes() {
    let image = app(vec![class("Shape", "App"), class("Buffer", "App")]);
    let local = app(vec![
        ClassDef {
            layout: Some("bytes".into()),
            ..class("Buffer", "App")
        },
        class("Fine", "App"),
    ]);
    let ctx = PlanContext {
        subclasses: [("Shape".to_string(), vec!["Square".to_string()])].into(),
        ..PlanContext::default()
    };
    let plan = plan(&diff(&local, &image), &ctx);
    assert!(plan.needs_rebuild());
    let offending: Vec<(Rule, &str)> = plan
        .offending()
        .map(|v| match &v.safety {
            Safety::NeedsRebuild { rule, reason } => (*rule, reason.as_str()),
            Safety::LiveSafe | Safety::Refused { .. } => {
                unreachable!("offending() only yields rebuilds")
            }
        })
        .collect();
    assert_eq!(
        offending,
        vec![
            (
                Rule::LayoutChange,
                "class Buffer's layout changes from pointers to bytes: live instances can't be \
                 reshaped"
            ),
            (
                Rule::RemovedClassHasSubclasses,
                "removing class Shape: it still has subclass Square outside this push"
            ),
        ]
    );
    // The batch is still planned in full: the caller decides what to do with it.
    assert_eq!(plan.steps.len(), 3);
}

#[test]
fn the_first_rule_in_the_table_gives_the_verdict() {
    let image = vec![package(
        "Hotpatch-Agent",
        vec![class("Agent", "Hotpatch-Agent")],
    )];
    let local = vec![package(
        "Hotpatch-Agent",
        vec![ClassDef {
            layout: Some("variable".into()),
            ..class("Agent", "Hotpatch-Agent")
        }],
    )];
    let plan = plan(&diff(&local, &image), &PlanContext::default());
    assert!(matches!(
        &plan.verdicts[0].safety,
        Safety::NeedsRebuild {
            rule: Rule::AgentPackage,
            ..
        }
    ));
}

#[test]
fn planning_is_deterministic_and_so_is_the_batch_id() {
    let image = app(vec![subclass("Old", "Object"), subclass("Older", "Old")]);
    let local = app(vec![
        subclass("C", "B"),
        with_methods(subclass("B", "A"), vec![method("B", "x", "p", "^ 1")]),
        subclass("A", "Object"),
    ]);
    let mut shuffled = local.clone();
    shuffled[0].classes.reverse();
    let first = plan(&diff(&local, &image), &PlanContext::default());
    let second = plan(&diff(&shuffled, &image), &PlanContext::default());
    assert_eq!(first, second);
    assert_eq!(
        batch_id("9f0c2a71d4e85b36", 3, &first.steps),
        batch_id("9f0c2a71d4e85b36", 3, &second.steps)
    );
}

#[test]
fn plan_serializes_with_stable_names() {
    let image = app(vec![class("Buffer", "App")]);
    let local = app(vec![ClassDef {
        layout: Some("bytes".into()),
        ..class("Buffer", "App")
    }]);
    let plan = plan(&diff(&local, &image), &PlanContext::default());
    let json = serde_json::to_value(&plan).expect("plan serializes");
    assert_eq!(json["steps"][0]["define_class"]["name"], "Buffer");
    assert_eq!(json["verdicts"][0]["change"]["kind"], "class");
    assert_eq!(json["verdicts"][0]["change"]["name"], "Buffer");
    assert_eq!(json["verdicts"][0]["safety"], "needs_rebuild");
    assert_eq!(json["verdicts"][0]["rule"], "layout-change");
    let rules_json = serde_json::to_value(rules()).expect("rules serialize");
    assert_eq!(rules_json[0]["name"], "agent-package");
    assert!(rules_json[0].get("check").is_none());
}

#[test]
fn agent_packages_are_recognised_by_prefix() {
    let ctx = PlanContext::default();
    assert!(ctx.is_agent_package("Hotpatch-Agent"));
    assert!(ctx.is_agent_package("Hotpatch-Agent-Pharo"));
    assert!(!ctx.is_agent_package("App-Hotpatch-Agent"));
}

#[test]
fn a_push_up_first_releases_the_variable_from_the_subclass() {
    let with_vars = |c: ClassDef, vars: &[&str]| ClassDef {
        inst_vars: vars.iter().map(|v| v.to_string()).collect(),
        ..c
    };
    let image = app(vec![
        with_vars(subclass("Shape", "Object"), &[]),
        with_vars(subclass("Square", "Shape"), &["side", "color"]),
    ]);
    let local = app(vec![
        with_vars(subclass("Shape", "Object"), &["color"]),
        with_vars(subclass("Square", "Shape"), &["side"]),
    ]);
    let plan = plan(&diff(&local, &image), &PlanContext::default());
    assert_eq!(
        step_names(&plan),
        ["define Square", "define Shape", "define Square"]
    );
    let Step::DefineClass(released) = &plan.steps[0] else {
        unreachable!("checked above");
    };
    assert_eq!(released.inst_vars, ["side"], "the image's shape less color");
}
