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
