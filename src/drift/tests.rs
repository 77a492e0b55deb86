use super::pull::{ConflictChoice, plan_pull};
use super::*;
use crate::model::{Origin, Side};
use crate::tonel::write_class_file;

fn method(selector: &str, source: &str) -> MethodDef {
    MethodDef {
        class_name: "Counter".into(),
        side: Side::Instance,
        selector: selector.into(),
        protocol: "accessing".into(),
        source: source.into(),
        span: None,
    }
}

fn package(methods: Vec<MethodDef>) -> Package {
    Package {
        name: "Sample".into(),
        classes: vec![ClassDef {
            name: "Counter".into(),
            superclass: Some("Object".into()),
            package: "Sample".into(),
            methods,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn key(selector: &str) -> MethodKey {
    MethodKey {
        class_name: "Counter".into(),
        side: Side::Instance,
        selector: selector.into(),
    }
}

fn changed(selector: &str, installed: Option<&str>) -> Recorded {
    Recorded {
        package: "Sample".into(),
        subject: Subject::Method { key: key(selector) },
        change: DriftChange::Changed,
        installed: installed.map(|s| Version::Method(method(selector, s))),
        stamp: Some("ann 11/30/2026 10:00".into()),
    }
}

/// The report when the agent says `step`, installed as `^ 1`, was changed in the image.
fn step_changed_by_hand(local: &[Package], image: &[Package]) -> DriftReport {
    DriftReport::classify(
        local,
        image,
        vec![changed("step", Some("step\n\t^ 1"))],
        None,
    )
}

fn added(selector: &str) -> Recorded {
    Recorded {
        change: DriftChange::Added,
        installed: None,
        ..changed(selector, None)
    }
}

fn removed(selector: &str, installed: &str) -> Recorded {
    Recorded {
        change: DriftChange::Removed,
        ..changed(selector, Some(installed))
    }
}

#[test]
fn an_image_only_change_is_drift_and_blocks() {
    let local = [package(vec![method("step", "step\n\t^ 1")])];
    let image = [package(vec![method("step", "step\n\t^ 2")])];
    let report = step_changed_by_hand(&local, &image);
    assert_eq!(report.items.len(), 1);
    assert_eq!(report.items[0].standing, Standing::Drift);
    assert_eq!(report.blocking().count(), 1);
    assert!(!report.is_clean());
}

#[test]
fn changes_on_both_sides_are_a_conflict_unless_they_agree() {
    let image = [package(vec![method("step", "step\n\t^ 2")])];
    let recorded = || vec![changed("step", Some("step\n\t^ 1"))];
    let other = [package(vec![method("step", "step\n\t^ 3")])];
    let report = DriftReport::classify(&other, &image, recorded(), None);
    assert_eq!(report.items[0].standing, Standing::Conflict);
    // Same change on both sides (line endings aside): nothing blocks.
    let same = [package(vec![method("step", "step\r\n\t^ 2")])];
    let report = DriftReport::classify(&same, &image, recorded(), None);
    assert_eq!(report.items[0].standing, Standing::Converged);
    assert!(report.is_clean());
    assert_eq!(report.counts().converged, 1);
}

#[test]
fn an_unknown_installed_text_never_counts_as_drift() {
    // The agent knows the method changed but kept no text: the local version cannot be shown
    // to be the installed one, so it is a conflict, never a silent overwrite.
    let local = [package(vec![method("step", "step\n\t^ 1")])];
    let image = [package(vec![method("step", "step\n\t^ 2")])];
    let report = DriftReport::classify(&local, &image, vec![changed("step", None)], None);
    assert_eq!(report.items[0].standing, Standing::Conflict);
    assert!(!report.items[0].installed_known);
}

#[test]
fn added_and_removed_in_the_image() {
    let local = [package(vec![method("gone", "gone\n\t^ 0")])];
    let image = [package(vec![method("extra", "extra\n\t^ 9")])];
    let recorded = vec![added("extra"), removed("gone", "gone\n\t^ 0")];
    let report = DriftReport::classify(&local, &image, recorded, None);
    let standings: Vec<Standing> = report.items.iter().map(|i| i.standing).collect();
    assert_eq!(standings, vec![Standing::Drift, Standing::Drift]);
}

#[test]
fn drift_outside_the_pushed_classes_is_left_out() {
    let local = [package(vec![method("step", "step\n\t^ 1")])];
    let image = [package(vec![method("step", "step\n\t^ 2")])];
    let only = vec!["Other".to_owned()];
    let report = DriftReport::classify(
        &local,
        &image,
        vec![changed("step", Some("step\n\t^ 1"))],
        Some(&only),
    );
    assert!(report.items.is_empty());
}

/// A fresh folder under the system's temporary directory, removed at the end of the test.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "hotpatch-drift-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A local package on disk (in a temporary folder) whose class file is in the writer's style.
fn on_disk(dir: &std::path::Path, methods: Vec<MethodDef>) -> Package {
    let mut p = package(methods);
    let folder = dir.join("Sample");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("Counter.class.st");
    std::fs::write(&path, write_class_file(&p.classes[0]).unwrap()).unwrap();
    p.classes[0].origin = Some(Origin {
        path,
        line: 1,
        ..Default::default()
    });
    p.path = Some(folder);
    p
}

#[test]
fn pull_writes_the_image_version_into_the_class_file() {
    let dir = TempDir::new();
    let local = [on_disk(
        dir.path(),
        vec![method("keep", "keep\n\t^ 0"), method("step", "step\n\t^ 1")],
    )];
    let image = [package(vec![
        method("keep", "keep\n\t^ 0"),
        method("step", "step\n\t^ 2"),
    ])];
    let report = step_changed_by_hand(&local, &image);
    let plan = plan_pull(&local, &report, ConflictChoice::Ask, &[]).unwrap();
    assert_eq!(plan.files.len(), 1);
    let text = plan.files[0].text.as_deref().unwrap();
    let before = std::fs::read_to_string(&plan.files[0].path).unwrap();
    assert!(!plan.files[0].restyled);
    // Only the pulled method's body differs.
    let diff: Vec<(&str, &str)> = before
        .lines()
        .zip(text.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(diff, vec![("\t^ 1", "\t^ 2")]);
}

#[test]
fn conflicts_are_listed_not_written_unless_theirs() {
    let dir = TempDir::new();
    let local = [on_disk(dir.path(), vec![method("step", "step\n\t^ 3")])];
    let image = [package(vec![method("step", "step\n\t^ 2")])];
    let report = step_changed_by_hand(&local, &image);
    let ask = plan_pull(&local, &report, ConflictChoice::Ask, &[]).unwrap();
    assert!(ask.files.is_empty());
    assert_eq!(ask.conflicts.len(), 1);
    let ours = plan_pull(&local, &report, ConflictChoice::Ours, &[]).unwrap();
    assert!(ours.files.is_empty());
    assert_eq!(ours.kept_ours.len(), 1);
    let theirs = plan_pull(&local, &report, ConflictChoice::Theirs, &[]).unwrap();
    assert!(theirs.files[0].text.as_deref().unwrap().contains("\t^ 2"));
}

#[test]
fn pull_adds_and_removes_methods_and_new_classes() {
    let dir = TempDir::new();
    let local = [on_disk(dir.path(), vec![method("gone", "gone\n\t^ 0")])];
    let mut image_pkg = package(vec![method("extra", "extra\n\t^ 9")]);
    image_pkg.classes.push(ClassDef {
        name: "Handmade".into(),
        superclass: Some("Object".into()),
        package: "Sample".into(),
        tag: Some("Fixes".into()),
        methods: vec![MethodDef {
            class_name: "Handmade".into(),
            ..method("fix", "fix\n\t^ true")
        }],
        ..Default::default()
    });
    let image = [image_pkg];
    let handmade_fix = MethodKey {
        class_name: "Handmade".into(),
        ..key("fix")
    };
    let recorded = vec![
        added("extra"),
        removed("gone", "gone\n\t^ 0"),
        Recorded {
            subject: Subject::Class {
                name: "Handmade".into(),
            },
            change: DriftChange::Added,
            installed: None,
            ..changed("x", None)
        },
        Recorded {
            subject: Subject::Method {
                key: handmade_fix.clone(),
            },
            change: DriftChange::Added,
            installed: None,
            ..changed("x", None)
        },
    ];
    let report = DriftReport::classify(&local, &image, recorded, None);
    let plan = plan_pull(&local, &report, ConflictChoice::Ask, &[handmade_fix]).unwrap();
    let names: Vec<String> = plan
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["Counter.class.st", "Handmade.class.st", "package.st"]
    );
    let counter = plan.files[0].text.as_deref().unwrap();
    assert!(counter.contains("Counter >> extra") && !counter.contains("gone"));
    let handmade = plan.files[1].text.as_deref().unwrap();
    assert!(handmade.contains("#tag : 'Fixes'") && handmade.contains("Handmade >> fix"));
    assert!(plan.files[2].text.as_deref().unwrap().contains("'Fixes'"));
    assert_eq!(plan.inexact.len(), 1);
}

#[test]
fn splice_carries_a_change_into_a_file_in_another_header_style() {
    // The writer adds `#category`; the file on disk has none. The method change still lands
    // alone, and the header stays as the file had it.
    let before = "Class {\n\t#name : 'A',\n\t#category : 'P',\n\t#package : 'P'\n}\n\n{ #category : 'x' }\nA >> a [\n\n\t^ 1\n]\n";
    let after = "Class {\n\t#name : 'A',\n\t#category : 'P',\n\t#package : 'P'\n}\n\n{ #category : 'x' }\nA >> a [\n\n\t^ 2\n]\n\n{ #category : 'x' }\nA >> b [\n\n\t^ 3\n]\n";
    let disk = "Class {\n\t#name : 'A',\n\t#package : 'P'\n}\n\n{ #category : 'x' }\nA >> a [\n\n\t^ 1\n]\n";
    let spliced = super::pull::splice(disk, before, after).unwrap();
    assert_eq!(
        spliced,
        "Class {\n\t#name : 'A',\n\t#package : 'P'\n}\n\n{ #category : 'x' }\nA >> a [\n\n\t^ 2\n]\n\n{ #category : 'x' }\nA >> b [\n\n\t^ 3\n]\n"
    );
    // A change inside a region the file words differently cannot be carried over.
    let header_change = after.replace("#name : 'A',", "#name : 'A',\n\t#instVars : [ 'x' ],");
    assert_eq!(super::pull::splice(disk, before, &header_change), None);
}

/// The fixture package `Gauge-Core` (Tonel v1 and v2 files, written by us in the styles those
/// Pharo versions write) copied into a temporary folder and read, so each definition knows its
/// file and the file's style.
fn styled_package(dir: &std::path::Path) -> Package {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tonel/styles/Gauge-Core");
    let folder = dir.join("Gauge-Core");
    std::fs::create_dir_all(&folder).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), folder.join(entry.file_name())).unwrap();
    }
    let (repo, errors) = crate::tonel::read_repository(&folder).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    repo.packages.into_iter().next().unwrap()
}

/// The plan of pulling `recorded` when the image holds `local` changed by `edit`.
fn pull_into(local: &Package, recorded: Recorded, edit: impl FnOnce(&mut Package)) -> PullPlanned {
    let mut image = local.clone();
    edit(&mut image);
    let local = [local.clone()];
    let report = DriftReport::classify(&local, &[image], vec![recorded], None);
    let plan = plan_pull(&local, &report, ConflictChoice::Ask, &[]).unwrap();
    assert_eq!(plan.files.len(), 1, "{plan:?}");
    let file = &plan.files[0];
    PullPlanned {
        before: std::fs::read_to_string(&file.path).unwrap(),
        after: file.text.clone().unwrap(),
        restyled: file.restyled,
    }
}

fn reader_class(package: &mut Package) -> &mut ClassDef {
    package
        .classes
        .iter_mut()
        .find(|c| c.name == "GaugeReader")
        .unwrap()
}

struct PullPlanned {
    before: String,
    after: String,
    restyled: bool,
}

fn reader_method(selector: &str, protocol: &str, source: &str) -> MethodDef {
    MethodDef {
        class_name: "GaugeReader".into(),
        side: Side::Instance,
        selector: selector.into(),
        protocol: protocol.into(),
        source: source.into(),
        span: None,
    }
}

fn reader_drift(selector: &str, change: DriftChange, installed: Option<MethodDef>) -> Recorded {
    Recorded {
        package: "Gauge-Core".into(),
        subject: Subject::Method {
            key: MethodKey {
                class_name: "GaugeReader".into(),
                side: Side::Instance,
                selector: selector.into(),
            },
        },
        change,
        installed: installed.map(Version::Method),
        stamp: None,
    }
}

#[test]
fn a_method_added_in_the_image_goes_into_a_v1_file_as_v1_and_alone() {
    let dir = TempDir::new();
    let local = styled_package(dir.path());
    let reset = reader_method("reset", "initialization", "reset\n\tunit := DefaultUnit");
    let planned = pull_into(
        &local,
        reader_drift("reset", DriftChange::Added, None),
        |image| reader_class(image).methods.push(reset),
    );
    assert!(!planned.restyled);
    // The method lands where Pharo sorts it, in the file's own style; nothing else moves.
    let after_next = "GaugeReader >> next [\n\t^ stream next asNumber\n]\n";
    assert_eq!(
        planned.after,
        planned.before.replace(
            after_next,
            &format!(
                "{after_next}\n{{ #category : #initialization }}\nGaugeReader >> reset [\n\tunit := DefaultUnit\n]\n"
            )
        )
    );
}

#[test]
fn a_method_changed_in_the_image_with_a_new_protocol_changes_only_its_lines_in_a_v1_file() {
    let dir = TempDir::new();
    let local = styled_package(dir.path());
    let old = local
        .classes
        .iter()
        .find(|c| c.name == "GaugeReader")
        .unwrap()
        .methods
        .iter()
        .find(|m| m.selector == "unit")
        .unwrap()
        .clone();
    let new = reader_method(
        "unit",
        "reading - units",
        "unit\n\t^ unit ifNil: [ DefaultUnit ]",
    );
    let planned = pull_into(
        &local,
        reader_drift("unit", DriftChange::Changed, Some(old)),
        |image| {
            let methods = &mut reader_class(image).methods;
            let at = methods.iter().position(|m| m.selector == "unit").unwrap();
            methods[at] = new;
        },
    );
    assert!(!planned.restyled);
    assert_eq!(
        planned.after,
        planned.before.replace(
            "{ #category : #accessing }\nGaugeReader >> unit [\n\t^ unit\n]",
            "{ #category : #'reading - units' }\nGaugeReader >> unit [\n\t^ unit ifNil: [ DefaultUnit ]\n]"
        )
    );
}

#[test]
fn a_class_added_in_the_image_is_written_in_the_style_of_its_package() {
    let dir = TempDir::new();
    let local = styled_package(dir.path());
    let def = ClassDef {
        name: "GaugeDial".into(),
        superclass: Some("Object".into()),
        package: "Gauge-Core".into(),
        tag: Some("Dials".into()),
        ..Default::default()
    };
    let recorded = Recorded {
        package: "Gauge-Core".into(),
        subject: Subject::Class {
            name: "GaugeDial".into(),
        },
        change: DriftChange::Added,
        installed: None,
        stamp: None,
    };
    let mut image = local.clone();
    image.classes.push(def);
    let local = [local];
    let report = DriftReport::classify(&local, &[image], vec![recorded], None);
    let plan = plan_pull(&local, &report, ConflictChoice::Ask, &[]).unwrap();
    // v1: the category holds the tag; `package.st` declares none.
    assert_eq!(plan.files.len(), 1);
    assert!(
        plan.files[0]
            .path
            .ends_with("Gauge-Core/GaugeDial.class.st")
    );
    assert_eq!(
        plan.files[0].text.as_deref().unwrap(),
        "Class {\n\t#name : #GaugeDial,\n\t#superclass : #Object,\n\t#category : #'Gauge-Core-Dials'\n}\n"
    );
}

#[test]
fn a_hand_edit_is_not_a_local_change_but_a_conflict_and_an_edit_elsewhere_are() {
    let local = [package(vec![method("step", "step\n\t^ 1")])];
    let image = [package(vec![method("step", "step\n\t^ 2")])];
    let changes = crate::diff::diff(&local, &image);
    assert_eq!(changes.counts().total(), 1);
    let report = step_changed_by_hand(&local, &image);
    assert_eq!(report.local_changes(&changes), 0, "the image's change only");

    // The files changed step too (a conflict), and another method: both are the files'.
    let local = [package(vec![
        method("step", "step\n\t^ 3"),
        method("reset", "reset\n\t^ 0"),
    ])];
    let changes = crate::diff::diff(&local, &image);
    let report = step_changed_by_hand(&local, &image);
    assert_eq!(report.counts().conflicts, 1);
    assert_eq!(report.local_changes(&changes), 2);
}
