//! `pharo-check` as a user runs it: against a miniature Pharo tree written here (our own
//! classes, not Pharo's), with the repository's real agent sources.

use std::path::{Path, PathBuf};
use std::process::Command;

fn pharo_check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pharo-check"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("pharo-check-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn class(name: &str, superclass: &str, package: &str) -> String {
    format!("Class {{ #name : '{name}', #superclass : '{superclass}', #category : '{package}' }}\n")
}

/// Kernel classes, a compile path that signals a notification, and one file that is not Tonel.
fn mini_pharo(name: &str) -> Scratch {
    let tree = Scratch::new(name);
    tree.write("src/Kernel/package.st", "Package { #name : 'Kernel' }\n");
    tree.write(
        "src/Kernel/ProtoObject.class.st",
        "Class { #name : 'ProtoObject', #superclass : nil, #category : 'Kernel' }\n",
    );
    for (name, superclass) in [
        ("Object", "ProtoObject"),
        ("Exception", "Object"),
        ("Error", "Exception"),
        ("Notification", "Exception"),
    ] {
        tree.write(
            &format!("src/Kernel/{name}.class.st"),
            &class(name, superclass, "Kernel"),
        );
    }
    tree.write("src/Kernel/Broken.class.st", "Class { #name : 'Broken'\n");
    tree.write(
        "src/OpalCompiler-Core/package.st",
        "Package { #name : 'OpalCompiler-Core' }\n",
    );
    tree.write(
        "src/OpalCompiler-Core/SyntaxErrorNotification.class.st",
        &class(
            "SyntaxErrorNotification",
            "Notification",
            "OpalCompiler-Core",
        ),
    );
    tree.write(
        "src/OpalCompiler-Core/QuietlyIgnored.class.st",
        &class("QuietlyIgnored", "Notification", "OpalCompiler-Core"),
    );
    tree.write(
        "src/OpalCompiler-Core/MiniParser.class.st",
        &format!(
            "{}\n{{ #category : 'parsing' }}\nMiniParser >> fail: aString [\n\taString isEmpty ifTrue: [ QuietlyIgnored signal ].\n\t^ SyntaxErrorNotification new signal: aString\n]\n",
            class("MiniParser", "Object", "OpalCompiler-Core")
        ),
    );
    tree
}

#[test]
fn reports_unreadable_files_goes_on_and_fails_on_what_this_tree_lacks() {
    let tree = mini_pharo("report");
    let src = tree.path().join("src");
    let (code, out, err) = pharo_check(&[src.to_str().unwrap(), "--label", "mini", "--json"]);
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["label"], "mini");
    assert_eq!(report["unreadable_files"]["count"], 1);
    assert!(
        report["unreadable_files"]["first"][0]
            .as_str()
            .unwrap()
            .contains("Broken.class.st")
    );
    // The miniature has almost nothing the agent sends: those are unresolved, e.g. Socket.
    assert!(
        report["unresolved_globals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "Socket")
    );
    let signals = report["compile_path_signals"].as_array().unwrap();
    let named = |name: &str| signals.iter().find(|s| s["name"] == name).unwrap().clone();
    // The agent names SyntaxErrorNotification; a notification nobody names escapes.
    assert_eq!(
        named("SyntaxErrorNotification")["caught_by"],
        "SyntaxErrorNotification"
    );
    assert!(named("QuietlyIgnored")["caught_by"].is_null());
    assert!(named("QuietlyIgnored")["quiet_because"].is_null());
    assert_eq!(report["ok"], false);

    let (code, table, _) = pharo_check(&[src.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(table.contains("1 files unreadable"), "{table}");
    assert!(
        table.contains("QuietlyIgnored") && table.contains("ESCAPES"),
        "{table}"
    );
    assert!(table.trim_end().ends_with("FAILED"), "{table}");
}

#[test]
fn a_directory_without_tonel_packages_is_a_usage_error() {
    let empty = Scratch::new("empty");
    let (code, out, err) = pharo_check(&[empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("no Tonel packages found"), "{err}");
}

#[test]
fn implementors_lists_who_defines_a_selector() {
    let tree = mini_pharo("implementors");
    let src = tree.path().join("src");
    let (code, out, _) = pharo_check(&[
        src.to_str().unwrap(),
        "--implementors",
        "fail:",
        "frobnicate",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, "#fail:: MiniParser\n#frobnicate: none\n");
}
