//! Revisions end to end against the real VM: `push --ref REV` pushes the sources as they are at a
//! commit while the work tree and the index hold other changes (and leaves both as they were);
//! `status` and `status --group` say which commit each target runs, "modified" after a push from
//! a dirty tree or a hand edit in the image; all of it also in a shallow clone, as CI jobs have.

mod common;

use common::Vm;
use common::project::Project;
use std::path::Path;
use std::process::Command;

/// Runs git in `dir` with a fixed identity; answers its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ann")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com")
        .env("GIT_COMMITTER_NAME", "Ann")
        .env("GIT_COMMITTER_EMAIL", "ann@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Makes the project a git repository of its own and commits it; answers the commit.
fn init_repository(p: &Project) -> String {
    std::fs::write(p.dir.join(".gitignore"), ".hotpatch/\n").unwrap();
    git(&p.dir, &["init", "-q"]);
    commit(p, "the sample app")
}

fn commit(p: &Project, message: &str) -> String {
    git(&p.dir, &["add", "-A"]);
    git(&p.dir, &["commit", "-q", "-m", message]);
    git(&p.dir, &["rev-parse", "HEAD"])
}

/// `status --json` (exit 0 or 9); answers its `commit` object.
fn status_commit(p: &Project) -> serde_json::Value {
    let out = p.hotpatch(&["status", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 9)),
        "status: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status --json");
    status["commit"].clone()
}

/// Every file of the work tree outside `.git` and `.hotpatch`, with its bytes.
fn work_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git" && e.file_name() != ".hotpatch")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn push_ref_pushes_a_commit_leaving_the_work_tree_and_index_and_status_names_the_commit() {
    let vm = Vm::start();
    let other = Vm::start();
    let p = Project::new(&vm, "ref");
    let config = std::fs::read_to_string(p.dir.join("hotpatch.toml")).unwrap();
    std::fs::write(
        p.dir.join("hotpatch.toml"),
        format!(
            "{config}\n[targets.other]\nurl = \"{}\"\ntoken_env = \"OTHER_TOKEN\"\n\n\
             [groups.both]\ntargets = [\"local\", \"other\"]\n",
            other.url
        ),
    )
    .unwrap();
    let first = init_repository(&p);
    p.edit("SampleApp.class.st", "'Hello, '", "'Hi, '");
    let second = commit(&p, "say hi");

    // The work tree has a change of its own and the index another one.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1",
        "count := count + 2",
    );
    git(&p.dir, &["add", "src/Sample-Core/SampleCounter.class.st"]);
    p.edit("SampleApp.class.st", "'Hi, '", "'Hey, '");
    let porcelain = git(&p.dir, &["status", "--porcelain"]);
    let index = std::fs::read(p.dir.join(".git/index")).unwrap();
    let files = work_tree(&p.dir);

    let report = p.push_json(&["--ref", "HEAD~1"], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(report["commit"], first.as_str(), "{report}");
    assert_eq!(report["ref"], "HEAD~1", "{report}");
    assert_eq!(report["dirty"], false, "{report}");
    assert_eq!(
        vm.eval("SampleApp default greet: 'world'"),
        "'Hello, WORLD!'"
    );
    assert_eq!(
        vm.eval("SampleCounter new increment"),
        "1",
        "not the index's"
    );
    assert_eq!(
        std::fs::read(p.dir.join(".git/index")).unwrap(),
        index,
        "the index is untouched"
    );
    assert_eq!(work_tree(&p.dir), files, "the work tree is untouched");
    assert_eq!(git(&p.dir, &["status", "--porcelain"]), porcelain);

    // status names the commit the image runs.
    let commit_of = status_commit(&p);
    assert_eq!(commit_of["commit"], first.as_str(), "{commit_of}");
    assert_eq!(commit_of["modified"], false, "{commit_of}");
    let text = p.run(&["status"], 0);
    assert!(
        text.contains(&format!("commit   {}\n", &first[..10])),
        "{text}"
    );
    let out = p.run(&["push", "--ref", "HEAD~1"], 0);
    assert!(
        out.contains(&format!(
            "already matches the sources at HEAD~1 ({})",
            &first[..10]
        )),
        "{out}"
    );

    // The other member gets the newer commit, named by its id; status --group shows both.
    let out = p.hotpatch_env(
        &["push", "--target", "other", "--ref", &second],
        &[("OTHER_TOKEN", &other.token)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(other.eval("SampleApp default greet: 'x'"), "'Hi, X!'");
    let out = p.hotpatch_env(
        &["status", "--group", "both"],
        &[("OTHER_TOKEN", &other.token)],
    );
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("TARGET") && lines[0].contains("COMMIT"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("local") && lines[1].contains(&first[..10]),
        "{table}"
    );
    assert!(
        lines[2].starts_with("other") && lines[2].contains(&second[..10]),
        "{table}"
    );
    let out = p.hotpatch_env(
        &["status", "--group", "both", "--json"],
        &[("OTHER_TOKEN", &other.token)],
    );
    let group: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        group["targets"][0]["commit"]["commit"],
        first.as_str(),
        "{group}"
    );
    assert_eq!(
        group["targets"][1]["commit"]["commit"],
        second.as_str(),
        "{group}"
    );

    // A push from the dirty work tree: HEAD's commit, modified.
    p.run(&["push"], 0);
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hey, X!'");
    let commit_of = status_commit(&p);
    assert_eq!(commit_of["commit"], second.as_str(), "{commit_of}");
    assert_eq!(commit_of["modified"], true, "{commit_of}");
    let text = p.run(&["status"], 0);
    assert!(
        text.contains("modified (pushed from a work tree with uncommitted changes)"),
        "{text}"
    );

    // A clean commit again, then rolled back: the dirty push is in effect again.
    p.run(&["push", "--ref", "HEAD"], 0);
    assert_eq!(status_commit(&p)["modified"], false);
    p.run(&["rollback"], 0);
    let commit_of = status_commit(&p);
    assert_eq!(
        (&commit_of["commit"], &commit_of["modified"]),
        (&serde_json::json!(second), &serde_json::json!(true)),
        "{commit_of}"
    );

    // Changed by hand since a clean push: modified, and status says why.
    p.run(&["push", "--ref", "HEAD"], 0);
    vm.eval("SampleApp compile: 'greet: aName ^ ''Yo, '' , aName' classified: 'greeting'. #done");
    let commit_of = status_commit(&p);
    assert_eq!(commit_of["commit"], second.as_str(), "{commit_of}");
    assert_eq!(commit_of["modified"], true, "{commit_of}");
    let text = p.run(&["status"], 9);
    assert!(
        text.contains("modified (changed in the image since (drift))"),
        "{text}"
    );
}

#[test]
fn push_ref_works_in_a_shallow_clone_and_names_files_by_commit() {
    let vm = Vm::start();
    let p = Project::new(&vm, "shallow");
    init_repository(&p);
    p.edit("SampleApp.class.st", "'Hello, '", "'Hi, '");
    let second = commit(&p, "say hi");

    // What a CI job has: one commit, no history.
    let clone_dir = p.dir.with_file_name(format!(
        "{}-clone",
        p.dir.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&clone_dir);
    let url = format!("file://{}", p.dir.display());
    git(
        p.dir.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            &clone_dir.display().to_string(),
        ],
    );
    assert_eq!(
        git(&clone_dir, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    let ci = Project {
        dir: clone_dir,
        token: vm.token.clone(),
    };
    let report = ci.push_json(&["--ref", "HEAD"], 0);
    assert_eq!(report["commit"], second.as_str(), "{report}");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, X!'");
    assert_eq!(status_commit(&ci)["commit"], second.as_str());
    // A commit the clone does not have: refused before anything is sent, with what to do.
    let out = ci.run(&["push", "--ref", "HEAD~1"], 2);
    assert!(
        out.contains("shallow clone") && out.contains("git fetch --depth 1"),
        "{out}"
    );
    // A plain push there knows its commit too.
    let out = ci.run(&["push"], 0);
    assert!(out.contains("already matches"), "{out}");
    assert_eq!(status_commit(&ci)["modified"], false);

    // Errors in the sources of a revision are named as git names the file.
    p.edit("SampleApp.class.st", "^ 'Hi, ' , aName", "^ 'Hi, ' , ");
    let broken = commit(&p, "broken");
    let out = p.run(&["push", "--ref", "HEAD"], 4);
    assert!(
        out.contains(&format!(
            "{}:src/Sample-Core/SampleApp.class.st:",
            &broken[..10]
        )),
        "{out}"
    );
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi, X!'");
}
