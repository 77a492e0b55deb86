//! `hotpatch init` as a new user runs it in a project, and the README's copy of what it writes.

mod common;

use std::process::Command;

#[test]
fn init_in_a_git_project_configures_its_packages_ignores_the_cache_and_is_what_the_readme_shows() {
    let dir = common::repo()
        .join("target")
        .join("projects")
        .join(format!("init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(
        &common::repo().join("examples/sample-app/src"),
        &dir.join("src"),
    );
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .arg("init")
        .current_dir(&dir)
        .output()
        .expect("run hotpatch init");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Sample-Core"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(dir.join(".gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some(".hotpatch/")
    );
    let written = std::fs::read_to_string(dir.join("hotpatch.toml")).unwrap();

    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let begin = "<!-- hotpatch init in examples/sample-app: begin -->\n```toml\n";
    let start = readme
        .find(begin)
        .expect("the README shows what init writes")
        + begin.len();
    let end = start
        + readme[start..]
            .find("```\n<!-- hotpatch init")
            .expect("its end");
    assert_eq!(
        &readme[start..end],
        written,
        "the README's copy of `hotpatch init`'s file is not what init writes: paste target/projects/init-*/hotpatch.toml"
    );
    // The second run keeps the file and says how to replace it.
    let again = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .arg("init")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let _ = std::fs::remove_dir_all(&dir);
}
