//! `cargo install --path .` installs what the `hotpatch` package builds as binaries: that must be
//! the one program users run, nothing that serves development (benchmarks, checkers).

use std::process::Command;

#[test]
fn the_hotpatch_package_builds_one_program() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let hotpatch = packages
        .iter()
        .find(|p| p["name"] == "hotpatch")
        .expect("the hotpatch package");
    let programs: Vec<&str> = hotpatch["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(programs, ["hotpatch"]);
    assert!(
        hotpatch["rust_version"].as_str().is_some(),
        "the package states its minimum Rust version"
    );
    // The checkers still build, in their own member that is never published.
    let tools = packages
        .iter()
        .find(|p| p["name"] == "hotpatch-tools")
        .expect("the hotpatch-tools member");
    assert_eq!(tools["publish"], serde_json::json!([]));
}
