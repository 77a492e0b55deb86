//! Unit tests for the diff and its renderers, on models built in code. The builders are
//! `pub(crate)` so the planner's tests build their models the same way.

use super::*;
use crate::model::Extension;

/// A class `name` in package `package` with superclass `Object`.
pub(crate) fn class(name: &str, package: &str) -> ClassDef {
    ClassDef {
        name: name.into(),
        superclass: Some("Object".into()),
        package: package.into(),
        ..Default::default()
    }
}

/// An instance-side method whose source is `selector` followed by `body`.
pub(crate) fn method(class_name: &str, selector: &str, protocol: &str, body: &str) -> MethodDef {
    MethodDef {
        class_name: class_name.into(),
        side: Side::Instance,
        selector: selector.into(),
        protocol: protocol.into(),
        source: format!("{selector}\n\t{body}"),
        span: None,
    }
}

/// The same method on the class side.
pub(crate) fn class_method(
    class_name: &str,
    selector: &str,
    protocol: &str,
    body: &str,
) -> MethodDef {
    MethodDef {
        side: Side::Class,
        ..method(class_name, selector, protocol, body)
    }
}

pub(crate) fn with_methods(mut class: ClassDef, methods: Vec<MethodDef>) -> ClassDef {
    class.methods = methods;
    class
}

pub(crate) fn package(name: &str, classes: Vec<ClassDef>) -> Package {
    Package {
        name: name.into(),
        classes,
        ..Default::default()
    }
}

pub(crate) fn with_extension(
    mut package: Package,
    class_name: &str,
    methods: Vec<MethodDef>,
) -> Package {
    package.extensions.push(Extension {
        class_name: class_name.into(),
        methods,
        origin: None,
    });
    package
}

fn key(class_name: &str, side: Side, selector: &str) -> MethodKey {
    MethodKey {
        class_name: class_name.into(),
        side,
        selector: selector.into(),
    }
}

/// A small image-side package: one class with two methods and one extension.
fn sample() -> Package {
    let counter = with_methods(
        class("Counter", "Sample"),
        vec![
            method("Counter", "increment", "actions", "count := count + 1"),
            class_method("Counter", "new", "instance creation", "^ super new setUp"),
        ],
    );
    with_extension(
        package("Sample", vec![counter]),
        "String",
        vec![method("String", "shout", "*Sample", "^ self asUppercase")],
    )
}

#[test]
fn identical_models_have_no_changes() {
    let changes = diff(&[sample()], &[sample()]);
    assert!(changes.is_empty());
    assert_eq!(changes.counts().total(), 0);
    assert_eq!(render_summary(&changes), "");
    assert_eq!(render_stat(&changes), "");
    assert_eq!(render_unified(&changes, true), "");
}

#[test]
fn added_class_and_its_methods() {
    let mut local = sample();
    local.classes.push(with_methods(
        class("Timer", "Sample"),
        vec![method("Timer", "start", "actions", "^ self")],
    ));
    let changes = diff(&[local], &[sample()]);
    assert_eq!(changes.classes.len(), 1);
    let ClassChange::Added { new } = &changes.classes[0] else {
        panic!("expected an added class: {:?}", changes.classes[0]);
    };
    assert_eq!(new.name, "Timer");
    assert!(
        new.methods.is_empty(),
        "definitions in changes carry no methods"
    );
    assert!(
        matches!(&changes.methods[..], [MethodChange::Added { new }] if new.method.selector == "start" && new.package == "Sample")
    );
    assert_eq!(render_summary(&changes), "+ class Timer\n+ Timer>>start\n");
}

#[test]
fn removed_class_lists_its_methods_too() {
    let mut local = sample();
    local.classes.clear();
    let changes = diff(&[local], &[sample()]);
    let counts = changes.counts();
    assert_eq!(counts.classes_removed, 1);
    assert_eq!(counts.methods_removed, 2);
    assert_eq!(
        render_summary(&changes),
        "- class Counter\n- Counter>>increment\n- Counter class>>new\n"
    );
}

#[test]
fn changed_class_lists_each_aspect() {
    let old = class("Counter", "Sample");
    let mut new = old.clone();
    new.superclass = Some("Model".into());
    new.layout = Some("variable".into());
    new.inst_vars = vec!["count".into()];
    new.class_vars = vec!["Default".into()];
    new.class_inst_vars = vec!["instances".into()];
    new.pools = vec!["Chars".into()];
    new.tag = Some("Core".into());
    new.comment = Some("I count.".into());
    new.traits = Some("TCount".into());
    new.class_traits = Some("TCount classTrait".into());
    new.kind = ClassKind::Trait;
    let changes = diff(
        &[package("Sample", vec![new])],
        &[package("Sample", vec![old])],
    );
    let ClassChange::Changed { aspects, old, new } = &changes.classes[0] else {
        panic!("expected a changed class");
    };
    assert_eq!(aspects, &ClassAspect::ALL.to_vec());
    assert_eq!(old.superclass.as_deref(), Some("Object"));
    assert_eq!(new.superclass.as_deref(), Some("Model"));
}

#[test]
fn each_aspect_is_detected_alone() {
    let base = class("Counter", "Sample");
    type Edit = fn(&mut ClassDef);
    let edits: Vec<(ClassAspect, Edit)> = vec![
        (ClassAspect::Kind, |c| c.kind = ClassKind::Trait),
        (ClassAspect::Superclass, |c| c.superclass = None),
        (ClassAspect::Layout, |c| c.layout = Some("bytes".into())),
        (ClassAspect::InstVars, |c| c.inst_vars = vec!["a".into()]),
        (ClassAspect::ClassVars, |c| c.class_vars = vec!["A".into()]),
        (ClassAspect::ClassInstVars, |c| {
            c.class_inst_vars = vec!["a".into()]
        }),
        (ClassAspect::Pools, |c| c.pools = vec!["P".into()]),
        (ClassAspect::Category, |c| c.package = "Other".into()),
        (ClassAspect::Comment, |c| c.comment = Some("hi".into())),
        (ClassAspect::Traits, |c| c.traits = Some("T".into())),
        (ClassAspect::ClassTraits, |c| {
            c.class_traits = Some("T classTrait".into())
        }),
    ];
    for (aspect, edit) in edits {
        let mut new = base.clone();
        edit(&mut new);
        let changes = diff(
            &[package("Sample", vec![new])],
            &[package("Sample", vec![base.clone()])],
        );
        assert!(
            matches!(&changes.classes[..], [ClassChange::Changed { aspects, .. }] if aspects == &[aspect]),
            "{aspect:?}: {:?}",
            changes.classes
        );
    }
}

#[test]
fn equivalent_definitions_are_not_changes() {
    let mut old = class("Counter", "Sample");
    old.class_vars = vec!["A".into(), "B".into()];
    old.comment = Some("line 1\r\nline 2".into());
    old.traits = Some("TFoo + TBar".into());
    old.class_traits = Some("{}".into());
    let mut new = class("Counter", "Sample");
    new.class_vars = vec!["B".into(), "A".into()];
    new.comment = Some("line 1\nline 2".into());
    new.traits = Some("TFoo+TBar".into());
    let changes = diff(
        &[package("Sample", vec![new])],
        &[package("Sample", vec![old])],
    );
    assert!(changes.is_empty(), "{changes:?}");

    // An empty comment and no comment are the same, as in the model.
    let mut old = class("Counter", "Sample");
    old.comment = Some(String::new());
    let new = class("Counter", "Sample");
    assert!(diff(&[package("S", vec![new])], &[package("S", vec![old])]).is_empty());
}

#[test]
fn class_moved_between_compared_packages_is_a_category_change() {
    let local = [
        package("A", vec![]),
        package("B", vec![class("Counter", "B")]),
    ];
    let image = [
        package("A", vec![class("Counter", "A")]),
        package("B", vec![]),
    ];
    let changes = diff(&local, &image);
    assert!(
        matches!(&changes.classes[..], [ClassChange::Changed { aspects, .. }] if aspects == &[ClassAspect::Category])
    );
}

#[test]
fn method_source_change_and_protocol_move() {
    let mut local = sample();
    local.classes[0].methods[0].source = "increment\n\tcount := count + 2".into();
    local.classes[0].methods[1].protocol = "creating".into();
    let changes = diff(&[local], &[sample()]);
    assert_eq!(changes.methods.len(), 2);
    assert!(
        matches!(&changes.methods[0], MethodChange::Changed { old, new }
        if old.method.source.ends_with('1') && new.method.source.ends_with('2'))
    );
    assert!(
        matches!(&changes.methods[1], MethodChange::Moved { old, new }
        if old.method.protocol == "instance creation" && new.method.protocol == "creating")
    );
    assert_eq!(
        render_summary(&changes),
        "~ Counter>>increment\n> Counter class>>new (instance creation -> creating)\n"
    );
    let counts = changes.counts();
    assert_eq!((counts.methods_changed, counts.methods_moved), (1, 1));
}

#[test]
fn source_and_protocol_change_is_a_change_showing_the_move() {
    let mut local = sample();
    local.classes[0].methods[0].source = "increment\n\tcount := count + 2".into();
    local.classes[0].methods[0].protocol = "counting".into();
    let changes = diff(&[local], &[sample()]);
    assert!(matches!(
        &changes.methods[..],
        [MethodChange::Changed { .. }]
    ));
    assert_eq!(
        render_summary(&changes),
        "~ Counter>>increment (actions -> counting)\n"
    );
    assert!(render_unified(&changes, false).contains("protocol actions -> counting\n"));
}

#[test]
fn line_ending_only_differences_are_not_changes() {
    let mut local = sample();
    local.classes[0].methods[0].source = "increment\r\n\tcount := count + 1".into();
    local.classes[0].methods[1].source =
        "new\r\tcount := count + 1".replace("count := count + 1", "^ super new setUp");
    assert!(diff(&[local], &[sample()]).is_empty());
}

#[test]
fn line_endings_do_not_show_in_unified_diffs() {
    let mut local = sample();
    local.classes[0].methods[0].source = "increment\r\n\t\"bump\"\r\n\tcount := count + 1".into();
    let changes = diff(&[local], &[sample()]);
    let text = render_unified(&changes, false);
    assert_eq!(
        text,
        "diff Counter>>increment\n\
         --- image/Counter>>increment\n\
         +++ local/Counter>>increment\n\
         @@ -1,2 +1,3 @@\n \
         increment\n\
         +\t\"bump\"\n \
         \tcount := count + 1\n"
    );
    assert!(!text.contains('\r'));
}

#[test]
fn methods_are_sorted_by_class_side_selector() {
    let local = package(
        "S",
        vec![
            with_methods(
                class("B", "S"),
                vec![
                    class_method("B", "a", "x", "^ 1"),
                    method("B", "z", "x", "^ 1"),
                    method("B", "a", "x", "^ 1"),
                ],
            ),
            with_methods(class("A", "S"), vec![method("A", "m", "x", "^ 1")]),
        ],
    );
    let image = package("S", vec![class("A", "S"), class("B", "S")]);
    let changes = diff(&[local], &[image]);
    let keys: Vec<MethodKey> = changes.methods.iter().map(MethodChange::key).collect();
    assert_eq!(
        keys,
        vec![
            key("A", Side::Instance, "m"),
            key("B", Side::Instance, "a"),
            key("B", Side::Instance, "z"),
            key("B", Side::Class, "a"),
        ]
    );
}

#[test]
fn diff_is_deterministic_whatever_the_input_order() {
    let a = with_methods(
        class("A", "S"),
        vec![method("A", "x", "p", "^ 1"), method("A", "y", "p", "^ 1")],
    );
    let b = with_methods(class("B", "S"), vec![method("B", "x", "p", "^ 1")]);
    let mut reversed_a = a.clone();
    reversed_a.methods.reverse();
    let one = diff(&[package("S", vec![a, b.clone()])], &[]);
    let two = diff(&[package("S", vec![b, reversed_a])], &[]);
    assert_eq!(one, two);
}

#[test]
fn extension_methods_belong_to_their_package() {
    let image = sample();
    let mut local = sample();
    local.extensions.clear();
    let changes = diff(&[local], &[image]);
    assert!(
        matches!(&changes.methods[..], [MethodChange::Removed { old }]
        if old.method.selector == "shout" && old.package == "Sample")
    );
    assert_eq!(render_summary(&changes), "- String>>shout\n");
}

#[test]
fn other_packages_extensions_listed_under_a_class_are_never_removed() {
    // The image lists `Counter>>printOn:` (an extension from `Other`, not compared) under the
    // class; the files of `Sample` don't define it, and that must not remove it.
    let mut image = sample();
    image.classes[0]
        .methods
        .push(method("Counter", "printOn:", "*Other-printing", "^ self"));
    image.classes[0]
        .methods
        .push(method("Counter", "tally", "*sample-extras", "^ count"));
    let changes = diff(&[sample()], &[image]);
    // `*sample-extras` is Sample's own (Monticello matches case-insensitively), so it goes.
    assert_eq!(render_summary(&changes), "- Counter>>tally\n");
}

#[test]
fn extension_moved_between_compared_packages_is_a_move() {
    let shout = |protocol: &str| method("String", "shout", protocol, "^ self asUppercase");
    let local = [
        package("A", vec![]),
        with_extension(package("B", vec![]), "String", vec![shout("*B")]),
    ];
    let image = [
        with_extension(package("A", vec![]), "String", vec![shout("*A")]),
        package("B", vec![]),
    ];
    let changes = diff(&local, &image);
    assert!(
        matches!(&changes.methods[..], [MethodChange::Moved { old, new }]
        if old.package == "A" && new.package == "B")
    );
    let packages: Vec<&str> = changes.methods[0].packages().collect();
    assert_eq!(packages, vec!["A", "B"]);
}

#[test]
fn json_field_names_are_stable() {
    let mut local = sample();
    local.classes[0].methods[1].protocol = "creating".into();
    local.classes[0].inst_vars = vec!["count".into()];
    let changes = diff(&[local], &[sample()]);
    let json = serde_json::to_value(&changes).expect("changes serialize");
    assert_eq!(json["classes"][0]["change"], "changed");
    assert_eq!(json["classes"][0]["aspects"][0], "inst_vars");
    assert_eq!(json["classes"][0]["new"]["inst_vars"][0], "count");
    assert_eq!(json["methods"][0]["change"], "moved");
    assert_eq!(json["methods"][0]["old"]["package"], "Sample");
    assert_eq!(json["methods"][0]["new"]["method"]["protocol"], "creating");
}

#[test]
fn summary_of_changed_class_names_the_aspects() {
    let mut local = sample();
    local.classes[0].superclass = Some("Model".into());
    local.classes[0].inst_vars = vec!["count".into()];
    let changes = diff(&[local], &[sample()]);
    assert_eq!(
        render_summary(&changes),
        "~ class Counter (superclass, inst vars)\n"
    );
}

#[test]
fn stat_counts_per_class() {
    let mut local = sample();
    local.classes[0].methods[0].source = "increment\n\t^ 2".into();
    local.classes[0].methods[1].protocol = "creating".into();
    local.classes[0].inst_vars = vec!["count".into()];
    local.classes.push(with_methods(
        class("Timer", "Sample"),
        vec![
            method("Timer", "a", "p", "^ 1"),
            method("Timer", "b", "p", "^ 1"),
        ],
    ));
    local.extensions.clear();
    let changes = diff(&[local], &[sample()]);
    assert_eq!(
        render_stat(&changes),
        " Counter (definition) | 3 ~~>\n\
        \x20String               | 1 -\n\
        \x20Timer (new)          | 3 +++\n\
        \x203 classes touched: 3 added, 2 changed, 1 moved, 1 removed\n"
    );
}

#[test]
fn stat_scales_long_histograms() {
    let methods: Vec<MethodDef> = (0..100)
        .map(|i| method("Big", &format!("m{i}"), "p", "^ 1"))
        .chain(std::iter::once(MethodDef {
            side: Side::Class,
            ..method("Big", "zzz", "p", "^ 1")
        }))
        .collect();
    let local = package("S", vec![with_methods(class("Big", "S"), methods)]);
    let mut image_class = with_methods(class("Big", "S"), vec![]);
    image_class
        .methods
        .push(class_method("Big", "old", "p", "^ 1"));
    let changes = diff(&[local], &[package("S", vec![image_class])]);
    let stat = render_stat(&changes);
    let row = stat.lines().next().expect("a row");
    let bar = row.rsplit(' ').next().expect("a histogram");
    assert!(bar.len() <= STAT_LIMIT_FOR_TEST + 1, "{row}");
    assert!(bar.ends_with('-'), "a rare kind keeps one mark: {row}");
}

const STAT_LIMIT_FOR_TEST: usize = 40;

#[test]
fn unified_diff_of_a_class_definition() {
    let mut local = sample();
    local.classes[0].inst_vars = vec!["count".into(), "step".into()];
    let mut image = sample();
    image.classes[0].inst_vars = vec!["count".into()];
    let changes = diff(&[local], &[image]);
    assert_eq!(
        render_unified(&changes, false),
        "diff class Counter\n\
         --- image/Counter\n\
         +++ local/Counter\n\
         @@ -2,7 +2,8 @@\n \
         \t#name : #Counter,\n \
         \t#superclass : #Object,\n \
         \t#instVars : [\n\
         -\t\t'count'\n\
         +\t\t'count',\n\
         +\t\t'step'\n \
         \t],\n \
         \t#package : 'Sample'\n \
         }\n"
    );
}

#[test]
fn unified_diff_of_added_and_removed_items_uses_dev_null() {
    let mut local = sample();
    local.classes[0].methods.remove(0);
    local.classes[0]
        .methods
        .push(method("Counter", "reset", "actions", "count := 0"));
    let text = render_unified(&diff(&[local], &[sample()]), false);
    assert!(text.contains(
        "diff Counter>>increment\n--- image/Counter>>increment\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-increment\n-\tcount := count + 1\n"
    ), "{text}");
    assert!(text.contains(
        "diff Counter>>reset\n--- /dev/null\n+++ local/Counter>>reset\n@@ -0,0 +1,2 @@\n+reset\n+\tcount := 0\n"
    ), "{text}");
}

#[test]
fn unified_diff_of_a_move_shows_only_the_protocol() {
    let mut local = sample();
    local.classes[0].methods[1].protocol = "creating".into();
    assert_eq!(
        render_unified(&diff(&[local], &[sample()]), false),
        "diff Counter class>>new\nprotocol instance creation -> creating\n"
    );
}

#[test]
fn unified_diff_colours() {
    let mut local = sample();
    local.classes[0].methods[0].source = "increment\n\tcount := count + 2".into();
    let text = render_unified(&diff(&[local], &[sample()]), true);
    assert!(
        text.contains("\x1b[1mdiff Counter>>increment\x1b[0m\n"),
        "{text:?}"
    );
    assert!(
        text.contains("\x1b[36m@@ -1,2 +1,2 @@\x1b[0m\n"),
        "{text:?}"
    );
    assert!(
        text.contains("\x1b[31m-\tcount := count + 1\x1b[0m\n"),
        "{text:?}"
    );
    assert!(
        text.contains("\x1b[32m+\tcount := count + 2\x1b[0m\n"),
        "{text:?}"
    );
    assert!(
        text.contains(" increment\n"),
        "context lines stay plain: {text:?}"
    );
    assert!(!render_unified(&diff(&[sample()], &[sample()]), true).contains('\x1b'));
}

#[test]
fn class_definition_rendering_is_canonical() {
    let mut c = class("Counter", "Sample-Core");
    c.tag = Some("Model".into());
    c.layout = Some("variable".into());
    c.inst_vars = vec!["count".into(), "it's".into()];
    c.comment = Some("I \"count\".".into());
    c.traits = Some("TCounting".into());
    assert_eq!(
        render_class_definition(&c),
        "\"I \"\"count\"\".\"\n\
         Class {\n\
         \t#name : #Counter,\n\
         \t#superclass : #Object,\n\
         \t#traits : 'TCounting',\n\
         \t#type : #variable,\n\
         \t#instVars : [\n\
         \t\t'count',\n\
         \t\t'it''s'\n\
         \t],\n\
         \t#package : 'Sample-Core',\n\
         \t#tag : 'Model'\n\
         }\n"
    );
    let t = ClassDef {
        kind: ClassKind::Trait,
        name: "TCounting".into(),
        package: "Sample".into(),
        ..Default::default()
    };
    assert_eq!(
        render_class_definition(&t),
        "Trait {\n\t#name : #TCounting,\n\t#package : 'Sample'\n}\n"
    );
}
