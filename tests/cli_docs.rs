//! `hotpatch completions` and `hotpatch man`: generated from the parser, so they name the real
//! commands and options.

use std::process::Command;

fn hotpatch(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn completions_name_the_commands_and_their_options() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out) = hotpatch(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        for word in ["push", "rollback", "dry-run", "inspect"] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (code, _) = hotpatch(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

#[test]
fn manual_pages_for_the_tool_and_each_command() {
    let (code, out) = hotpatch(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH hotpatch 1"),
        "{out}"
    );
    assert!(out.contains("hotpatch\\-push(1)"), "{out}");
    let dir = std::env::temp_dir().join(format!("hotpatch-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _) = hotpatch(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let push = std::fs::read_to_string(dir.join("hotpatch-push.1")).unwrap();
    assert!(push.contains("dry\\-run"), "{push}");
    assert!(!dir.join("hotpatch-help.1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_manual_says_what_every_exit_code_means() {
    let (code, out) = hotpatch(&["man"]);
    assert_eq!(code, 0);
    for words in [
        ".SH \"EXIT STATUS\"",
        "\\fB10\\fR\nstatus: hotpatch could not tell whether the image has drifted",
        "rollback \\-\\-group: some members were rolled back, others not",
    ] {
        assert!(out.contains(words), "hotpatch.1 lacks {words:?}");
    }
    let dir = std::env::temp_dir().join(format!("hotpatch-man-exit-{}", std::process::id()));
    let (code, _) = hotpatch(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let status = std::fs::read_to_string(dir.join("hotpatch-status.1")).unwrap();
    assert!(status.contains("10: hotpatch could not tell"), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // `hotpatch man | head -1`: the pipe closes before (or while) hotpatch writes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
        .arg("man")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}
