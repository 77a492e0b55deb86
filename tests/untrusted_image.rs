//! The image is outside: a deploy job pulls from production images it does not control, so what
//! an image sends is data, never a path or a terminal command. Against the real VM: class names
//! made in the image that climb out of the sources, name another project's file or another
//! class's file, or carry a newline or an ESC are refused by `pull` with nothing written; and
//! terminal escapes planted in the image reach no terminal, while `--json` keeps them exact.

mod common;

use common::project::Project;
use common::{Runtime, Vm, skip_on};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why the tests do not apply on Pharo: each plants a class under a name no Tonel file could
/// carry, and Pharo's class builder itself refuses a name that is not a valid global name (an
/// upper-case letter, then letters, digits and `_`), so the image cannot hold such a class.
const PHARO_REFUSES_THE_NAMES: &str = "Pharo's class builder refuses a class name that is not a \
     valid global name: the image cannot hold the class this test plants";

/// `pull`'s exit code when it refuses (a usage, configuration or source error: nothing written).
const REFUSED: i32 = 2;

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("read a file of the tree");
            (e.path().to_path_buf(), bytes)
        })
        .collect()
}

/// Makes class `name` (any string: the image's class builder takes it) in the owned package, as
/// a compromised or careless image could hold it.
fn make_class(vm: &Vm, name: &str) {
    let literal = smalltalk_string(name);
    let answer = vm.eval(&format!(
        "Object subclass: {literal} asSymbol instanceVariableNames: '' classVariableNames: '' \
         poolDictionaries: '' category: 'Sample-Core'. #done"
    ));
    assert_eq!(answer, "#done", "the image did not make class {name:?}");
}

/// Removes the class `name` from the image again.
fn remove_class(vm: &Vm, name: &str) {
    let literal = smalltalk_string(name);
    let answer = vm.eval(&format!(
        "(Smalltalk at: {literal} asSymbol) removeFromSystem. #done"
    ));
    assert_eq!(answer, "#done", "the image did not remove class {name:?}");
}

/// A Smalltalk expression answering the string `text`, control characters included (built
/// with the agent's `characterFor:`, since a literal cannot hold them on every dialect and Cuis
/// has no `Character value:`).
fn smalltalk_string(text: &str) -> String {
    let mut parts = Vec::new();
    let mut plain = String::new();
    for c in text.chars() {
        if c.is_control() {
            if !plain.is_empty() {
                parts.push(format!("'{}'", plain.replace('\'', "''")));
                plain.clear();
            }
            parts.push(format!(
                "(String with: (HpPlatform current characterFor: {}))",
                c as u32
            ));
        } else {
            plain.push(c);
        }
    }
    if !plain.is_empty() || parts.is_empty() {
        parts.push(format!("'{}'", plain.replace('\'', "''")));
    }
    format!("({})", parts.join(" , "))
}

/// A fresh VM and a project pushed to it.
fn pushed(name: &str) -> (Vm, Project) {
    let vm = Vm::start();
    let p = Project::new(&vm, name);
    p.run(&["push"], 0);
    (vm, p)
}

/// The image of `p` gets a hand edit (so a pull has something legitimate to write too) and the
/// class `evil`. `pull` must refuse, name the class, and write nothing: not in the project, not
/// in `outside`.
fn pull_refuses(vm: &Vm, p: &Project, evil: &str, outside: &[&Path]) {
    let answer = vm.eval(
        "SampleApp compile: 'greet: aName\n\t^ ''Hi, '' , aName' classified: 'greeting'. #done",
    );
    assert_eq!(answer, "#done");
    make_class(vm, evil);
    let project_before = tree(&p.dir);
    let outside_before: Vec<_> = outside.iter().map(|d| tree(d)).collect();

    let said = p.run(&["pull"], REFUSED);
    assert!(
        said.contains("not a valid class name") && said.contains("nothing was written"),
        "{said}"
    );
    assert_eq!(
        tree(&p.dir),
        project_before,
        "pull of {evil:?} changed the project"
    );
    for (dir, before) in outside.iter().zip(&outside_before) {
        assert_eq!(&tree(dir), before, "pull of {evil:?} wrote into {dir:?}");
    }
}

/// A directory beside the project, named for this test, removed when it passes.
struct Beside(PathBuf);

impl Beside {
    fn new(p: &Project, name: &str) -> Beside {
        let dir = p.dir.with_file_name(format!(
            "{}-{name}",
            p.dir.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a directory beside the project");
        Beside(dir)
    }
}

impl Drop for Beside {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// How a name climbs from a package folder (`src/Sample-Core/`) to the directory that holds the
/// project: `X/..` back to the package folder, then three levels up.
const CLIMB: &str = "X/../../../../";

#[test]
fn a_class_name_that_climbs_out_of_the_sources_is_refused() {
    if skip_on(Runtime::Pharo, PHARO_REFUSES_THE_NAMES) {
        return;
    }
    // The issue's `X/../../../../tmp/hp_pwn1`, aimed at a directory beside the project rather
    // than the machine's /tmp.
    let (vm, p) = pushed("climb");
    let outside = Beside::new(&p, "outside");
    let target = outside
        .0
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let evil = format!("{CLIMB}{target}/hp_pwn1");
    pull_refuses(&vm, &p, &evil, &[&outside.0]);
    assert!(
        !outside.0.join("hp_pwn1.class.st").exists(),
        "pull wrote outside the sources"
    );
    // Once the class is gone, the same pull writes the hand edit.
    remove_class(&vm, &evil);
    p.run(&["pull"], 0);
    let app = std::fs::read_to_string(p.file("SampleApp.class.st")).unwrap();
    // (Decompiled: the test image keeps no sources.)
    assert!(app.contains("^ 'Hi, ' , "), "{app}");
}

#[test]
fn a_class_name_that_names_another_projects_file_is_refused() {
    if skip_on(Runtime::Pharo, PHARO_REFUSES_THE_NAMES) {
        return;
    }
    let (vm, p) = pushed("victim");
    let victim = Beside::new(&p, "victim");
    let package = victim.0.join("src/Other");
    std::fs::create_dir_all(&package).unwrap();
    let text = "Class {\n\t#name : 'Victim',\n\t#superclass : 'Object',\n\t#package : 'Other'\n}\n\n\
                { #category : 'x' }\nVictim >> precious [\n\t^ 42\n]\n";
    std::fs::write(package.join("Victim.class.st"), text).unwrap();
    let project = victim.0.file_name().unwrap().to_string_lossy().into_owned();
    let evil = format!("{CLIMB}{project}/src/Other/Victim");
    pull_refuses(&vm, &p, &evil, &[&victim.0]);
    assert_eq!(
        std::fs::read_to_string(package.join("Victim.class.st")).unwrap(),
        text
    );
}

#[test]
fn a_class_name_that_names_another_class_file_is_refused() {
    if skip_on(Runtime::Pharo, PHARO_REFUSES_THE_NAMES) {
        return;
    }
    // `SampleApp/../SampleCounter` would land on SampleCounter.class.st and lose its methods.
    let (vm, p) = pushed("sibling");
    pull_refuses(&vm, &p, "SampleApp/../SampleCounter", &[]);
    assert!(!p.file("SampleApp").exists(), "pull made a directory");
    let counter = std::fs::read_to_string(p.file("SampleCounter.class.st")).unwrap();
    assert!(
        counter.contains("SampleCounter >> increment ["),
        "{counter}"
    );
}

#[test]
fn class_names_with_a_newline_or_an_escape_are_refused() {
    if skip_on(Runtime::Pharo, PHARO_REFUSES_THE_NAMES) {
        return;
    }
    for (name, evil) in [("newline", "Evil\nName"), ("escape", "Evil\x1b[2JName")] {
        let (vm, p) = pushed(name);
        pull_refuses(&vm, &p, evil, &[]);
        let listing: Vec<String> = std::fs::read_dir(p.file(""))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            listing.iter().all(|n| !n.chars().any(char::is_control)),
            "{listing:?}"
        );
    }
}

/// A screen clear and a clipboard write (OSC 52, "hi" in base64), as an image could send them.
const CLEAR: &str = "\x1b[2J\x1b[H";
const CLIPBOARD: &str = "\x1b]52;c;aGk=\x07";

/// Whether `text` holds a raw terminal control character (ESC, BEL, C1 CSI).
fn has_raw_control(text: &str) -> bool {
    text.chars()
        .any(|c| c == '\x1b' || c == '\x07' || c == '\u{9b}')
}

/// Whether some string in `value` is exactly `text`.
fn holds_string(value: &serde_json::Value, text: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s == text,
        serde_json::Value::Array(items) => items.iter().any(|v| holds_string(v, text)),
        serde_json::Value::Object(map) => map.values().any(|v| holds_string(v, text)),
        _ => false,
    }
}

/// A command's `--json` output, asserting the exit code.
fn json(p: &Project, args: &[&str], code: i32) -> serde_json::Value {
    let out = p.hotpatch(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}\n{stdout}\n{out:?}");
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

#[test]
fn escapes_from_the_image_and_the_environment_reach_no_terminal_and_json_keeps_them() {
    if skip_on(Runtime::Pharo, PHARO_REFUSES_THE_NAMES) {
        return;
    }
    let vm = Vm::start();
    let p = Project::new(&vm, "escapes");
    // A group of one, for the fleet printers.
    let config = std::fs::read_to_string(p.dir.join("hotpatch.toml")).unwrap();
    std::fs::write(
        p.dir.join("hotpatch.toml"),
        config + "\n[groups.g]\ntargets = [\"local\"]\n",
    )
    .unwrap();
    // Exact sources for hand edits (the test image has no changes file; Cuis and Pharo have).
    // The version string is planted below in the Squeak test image only (its SystemDictionary's
    // VersionString); Cuis and Pharo answer theirs from SystemVersion, left alone here.
    let squeak = Runtime::current() == Runtime::Squeak;
    vm.keep_sources();
    // The pusher's name comes from the environment.
    let user = format!("ann{CLIPBOARD}");
    let out = p.hotpatch_env(&["push"], &[("HOTPATCH_USER", user.as_str())]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // Planted in the image: its version string, a hand edit whose protocol and source carry
    // escapes, and a class whose name does.
    let version = format!("Squeak{CLEAR}");
    if squeak {
        let answer = vm.eval(&format!(
            "SystemDictionary classPool at: #VersionString put: {}. #done",
            smalltalk_string(&version)
        ));
        assert_eq!(answer, "#done");
    }
    let source = format!("greet: aName\n\t^ '{CLEAR}' , aName");
    let protocol = format!("greeting{CLIPBOARD}");
    let answer = vm.eval(&format!(
        "SampleApp compile: {} classified: {}. #done",
        smalltalk_string(&source),
        smalltalk_string(&protocol)
    ));
    assert_eq!(answer, "#done");
    let evil = format!("Evil{CLEAR}Name");

    let mut shown = String::new();
    for (args, code) in [
        // Pushes first: a push would also remove the class planted next, which the agent
        // refuses as a name it cannot take.
        // (A group's exit codes are another matter: any is fine here.)
        (&["push", "--no-cache"][..], Some(9)),
        (&["push", "--group", "g", "--no-cache"][..], None),
        (&["plant"][..], None),
        (&["status"][..], Some(9)),
        (&["diff"][..], Some(1)),
        (&["diff", "--stat"][..], Some(1)),
        (&["log"][..], Some(0)),
        (&["pull"][..], Some(2)),
        (&["eval", "Smalltalk version"][..], Some(0)),
        (&["status", "--group", "g"][..], None),
        (&["diff", "--group", "g"][..], None),
    ] {
        if args == ["plant"] {
            make_class(&vm, &evil);
            continue;
        }
        let out = p.hotpatch(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("{args:?}\n--- stdout\n{stdout:?}\n--- stderr\n{stderr:?}");
        assert!(
            code.is_none_or(|c| out.status.code() == Some(c)),
            "{args:?}: exit {:?}, not {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status.code()
        );
        assert!(
            !has_raw_control(&stdout) && !has_raw_control(&stderr),
            "{args:?} printed a raw control character\n--- stdout\n{stdout:?}\n--- stderr\n{stderr:?}"
        );
        shown.push_str(&stdout);
        shown.push_str(&stderr);
    }
    // What was planted is shown, escaped: the version, the class name, the protocol, the
    // source, the pusher.
    for escaped in [
        if squeak {
            "Squeak\\e[2J\\e[H"
        } else {
            "Evil\\e[2J\\e[HName"
        },
        "Evil\\e[2J\\e[HName",
        "greeting\\e]52;c;aGk=\\x07",
        "^ '\\e[2J\\e[H' , aName",
        "ann\\e]52;c;aGk=\\x07",
    ] {
        assert!(shown.contains(escaped), "{escaped} not shown in\n{shown}");
    }

    // --json keeps the exact text.
    let status = json(&p, &["status", "--json"], 9);
    if squeak {
        assert_eq!(status["agent"]["dialect_version"], version.as_str());
    }
    assert!(holds_string(&status["drift"], &evil), "{status}");
    let log = json(&p, &["log", "--json"], 0);
    assert!(holds_string(&log, &user), "{log}");
    let diff = json(&p, &["diff", "--json"], 1);
    assert!(holds_string(&diff, &source), "{diff}");
    assert!(holds_string(&diff, &protocol), "{diff}");
    let pulled = json(&p, &["pull", "--json"], 2);
    assert_eq!(pulled["error"]["kind"], "unsafe_name", "{pulled}");
    assert_eq!(pulled["error"]["name"], evil.as_str(), "{pulled}");
}
