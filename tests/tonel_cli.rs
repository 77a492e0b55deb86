//! `hotpatch inspect` and `hotpatch export` end to end: output shape and exit codes.

use std::path::Path;
use std::process::Command;

fn hotpatch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tonel")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn inspect_summarises_and_json_has_the_documented_schema() {
    let (code, out, _) = hotpatch(&["inspect", &fixture("v3")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("2 packages, 3 classes, 1 trait, 1 extension, 29 methods, 0 errors"),
        "{out}"
    );
    let (code, out, _) = hotpatch(&["inspect", "--json", &fixture("v3")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "hotpatch.inspect/1");
    assert_eq!(v["summary"]["methods"], 29);
    let m = &v["packages"][0]["classes"][0]["methods"][0];
    for key in [
        "class_name",
        "side",
        "selector",
        "protocol",
        "source",
        "span",
    ] {
        assert!(m.get(key).is_some(), "missing {key} in {m}");
    }
    assert!(m["span"]["source_first_body_line"].is_u64());
}

#[test]
fn broken_repositories_list_every_error_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("hotpatch-cli-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("P")).unwrap();
    std::fs::write(dir.join("P/package.st"), "Package { #name : 'P' }\n").unwrap();
    std::fs::write(
        dir.join("P/A.class.st"),
        "Class { #name : 'A' }\nA >> x [ 'open ]\n",
    )
    .unwrap();
    std::fs::write(dir.join("P/B.class.st"), "Klass { }\n").unwrap();
    let d = dir.display().to_string();
    for args in [
        vec!["inspect", d.as_str()],
        vec!["export", "--format", "st", d.as_str()],
    ] {
        let (code, out, err) = hotpatch(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(
            err.contains("P/A.class.st:2:10: expected a closing quote"),
            "{err}"
        );
        assert!(
            err.contains("P/B.class.st:1:1: expected 'Class {'"),
            "{err}"
        );
        if args[0] == "export" {
            assert!(out.is_empty());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_writes_a_chunk_file_in() {
    let out_file = std::env::temp_dir().join(format!("hotpatch-export-{}.st", std::process::id()));
    let o = out_file.display().to_string();
    let (code, _, err) = hotpatch(&["export", "--format", "st", &fixture("v1"), "-o", &o]);
    assert_eq!(code, 0, "{err}");
    let st = std::fs::read_to_string(&out_file).unwrap();
    assert!(st.contains("Object variableSubclass: #LegacyThing\n\tinstanceVariableNames: 'count'\n\tclassVariableNames: 'Registry'\n\tpoolDictionaries: ''\n\tcategory: 'Legacy-Core-Kernel'!"), "{st}");
    assert!(st.contains("!LegacyThing class methodsFor: 'instance creation'!\nnew: n\n\t^ (self basicNew: n) initialize!\n !"), "{st}");
    assert!(
        st.contains("!TLegacyVisitor classTrait methodsFor: 'visiting'!"),
        "{st}"
    );
    assert!(st.contains("!String methodsFor: '*Legacy-Core'!"), "{st}");
    let _ = std::fs::remove_file(&out_file);
}

/// A repository with one class in three dialect variants of a package, and a scripts folder.
fn variants_repo(tag: &str, owned: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hotpatch-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for pkg in ["Shop-Core", "Shop-Pharo-Core", "Shop-Squeak-Core"] {
        std::fs::create_dir_all(dir.join("src").join(pkg)).unwrap();
        std::fs::write(
            dir.join("src").join(pkg).join("Widget.class.st"),
            format!("Class {{ #name : 'Widget', #superclass : 'Object', #package : '{pkg}' }}\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("src/scripts")).unwrap();
    std::fs::write(
        dir.join("src/scripts/load.st"),
        "Smalltalk at: #X put: 1.\n",
    )
    .unwrap();
    let packages: Vec<String> = owned.iter().map(|p| format!("\"{p}\"")).collect();
    std::fs::write(
        dir.join("hotpatch.toml"),
        format!(
            "source = \"src\"\npackages = [{}]\ndefault_target = \"local\"\n\
             [targets.local]\nurl = \"ws://127.0.0.1:9/\"\n",
            packages.join(", ")
        ),
    )
    .unwrap();
    dir
}

#[test]
fn inspect_warns_of_dialect_variants_and_lists_skipped_folders() {
    let dir = variants_repo("inspect", &[]);
    let src = dir.join("src").display().to_string();
    let (code, out, err) = hotpatch(&["inspect", &src]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 packages, 3 classes"), "{out}");
    assert!(out.contains("2 warnings"), "{out}");
    assert!(out.contains("skipped "), "{out}");
    assert!(out.contains("scripts (not a Tonel package)"), "{out}");
    assert_eq!(err.matches("warning: ").count(), 2, "{err}");
    let (code, out, _) = hotpatch(&["inspect", "--json", &src]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["warnings"], 2);
    assert_eq!(v["summary"]["errors"], 0);
    assert_eq!(v["skipped"].as_array().unwrap().len(), 1);
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Widget")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_class_defined_twice_blocks_only_pushes_that_own_both_packages() {
    // Two owned packages define Widget: refused before anything is sent (exit 2).
    let dir = variants_repo("clash", &["Shop-Core", "Shop-Pharo-Core"]);
    let out = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .args(["diff"])
        .current_dir(&dir)
        .env("HOTPATCH_TOKEN", "t")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Shop-Pharo-Core/Widget.class.st:1:1: expected one definition of Widget"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // One variant owned: the sources are fine; the command gets as far as the (absent) agent.
    let dir = variants_repo("no-clash", &["Shop-Pharo-Core"]);
    let out = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .args(["diff"])
        .current_dir(&dir)
        .env("HOTPATCH_TOKEN", "t")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(!err.contains("Widget"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
