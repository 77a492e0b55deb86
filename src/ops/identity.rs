//! Who is changing the image, as the CLI can tell: the user, the host, the git commit of the
//! sources and whether the work tree had uncommitted changes. Sent with every apply, rollback
//! and adopt, and kept in the agent's audit log (`hotpatch log`).
//!
//! `HOTPATCH_USER` overrides the user (a deploy job can name the person or pipeline it runs
//! for). Anything that cannot be found is left out, never guessed.

use crate::image::protocol::ClientIdentity;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;

/// The identity being found on another thread (the git calls take a few milliseconds, which a
/// push spends connecting anyway).
pub struct Pending {
    thread: Option<JoinHandle<ClientIdentity>>,
    found: Option<ClientIdentity>,
}

impl Pending {
    /// The identity (waiting for it the first time); what could not be found is `None`.
    pub fn get(&mut self) -> ClientIdentity {
        if let Some(thread) = self.thread.take() {
            self.found = thread.join().ok();
        }
        self.found
            .get_or_insert_with(|| ClientIdentity {
                tool: Some(tool()),
                ..ClientIdentity::default()
            })
            .clone()
    }
}

/// Starts finding the identity for the sources under `root`.
pub fn gather_in_background(root: &Path) -> Pending {
    let root: PathBuf = root.to_path_buf();
    // Spawned processes cost CPU a push also needs; the thread only waits for them.
    Pending {
        thread: std::thread::Builder::new()
            .name("identity".into())
            .spawn(move || gather(&root))
            .ok(),
        found: None,
    }
}

/// The identity of a push of the sources as they are at `commit` (`push --ref`): that commit,
/// and no uncommitted changes whatever the work tree holds (it is not read).
pub fn at_commit(commit: &str) -> Pending {
    Pending {
        thread: None,
        found: Some(ClientIdentity {
            user: user(),
            host: host(),
            commit: Some(commit.to_owned()),
            dirty: Some(false),
            tool: Some(tool()),
        }),
    }
}

/// Finds the identity for the sources under `root` now.
pub fn gather(root: &Path) -> ClientIdentity {
    let commit = git(root, &["rev-parse", "HEAD"]);
    // Only tracked files under `root` count: a build directory or an editor's swap file is
    // not a change, nor is another project's edit in the same repository.
    let dirty = commit
        .as_ref()
        .and_then(|_| {
            git(
                root,
                &["status", "--porcelain", "--untracked-files=no", "--", "."],
            )
        })
        .map(|status| !status.is_empty());
    ClientIdentity {
        user: user(),
        host: host(),
        commit,
        dirty,
        tool: Some(tool()),
    }
}

fn tool() -> String {
    format!("hotpatch {}", env!("CARGO_PKG_VERSION"))
}

fn user() -> Option<String> {
    ["HOTPATCH_USER", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

fn host() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// `git -C root ARGS` trimmed stdout, or `None` when git is missing or fails (not a repository).
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_outside_git_has_no_commit_and_no_dirty_flag() {
        let dir = std::env::temp_dir().join(format!("hotpatch-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The system temp dir is not inside a git work tree on any machine we run on; if it
        // were, this test would say so instead of passing vacuously.
        let id = gather(&dir);
        assert_eq!(
            id.commit,
            None,
            "{} is inside a git work tree",
            dir.display()
        );
        assert_eq!(id.dirty, None);
        assert!(id.tool.unwrap().starts_with("hotpatch "));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_repository_has_a_commit() {
        let id = gather(Path::new(env!("CARGO_MANIFEST_DIR")));
        // A source tarball without .git has no commit: then there is nothing to check.
        if Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists() {
            let commit = id.commit.expect("a commit");
            assert_eq!(commit.len(), 40, "{commit}");
            assert!(id.dirty.is_some());
        }
    }
}
