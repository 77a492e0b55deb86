//! Who is changing the image, as the CLI can tell: the user, the host, the git commit of the
//! sources and whether the work tree had uncommitted changes. Sent with every apply, rollback
//! and adopt, and kept in the agent's audit log (`hotpatch log`).
//!
//! `HOTPATCH_USER` overrides the user (a deploy job can name the person or pipeline it runs
//! for); without it the user is `USER`/`LOGNAME`, else the system's name for the process's
//! user. Anything that cannot be found is left out, never guessed.

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
    user_from(|name| std::env::var(name).ok())
}

/// `HOTPATCH_USER`, else the login name the environment gives (`USER`, `LOGNAME`), else the
/// one the system gives for this process's user: cron, systemd units and containers often set
/// neither variable.
fn user_from(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["HOTPATCH_USER", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| var(name).filter(|v| !v.trim().is_empty()))
        .or_else(login_name)
}

/// The name of this process's real user in the system's user database (`getpwuid_r`), or
/// `uid N` for a user it does not list (a container run with an arbitrary uid): a fact, never
/// a guess.
#[cfg(unix)]
fn login_name() -> Option<String> {
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: an all-zero passwd is a valid value to be filled in.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf` for its length. The strings
        // `entry` points to live in `buf`, read below before `buf` changes.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return Some(format!("uid {uid}"));
        }
        // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
        let name = name.to_string_lossy().trim().to_owned();
        return Some(if name.is_empty() {
            format!("uid {uid}")
        } else {
            name
        });
    }
}

#[cfg(not(unix))]
fn login_name() -> Option<String> {
    None
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
    fn without_user_variables_the_user_is_the_login_name_of_the_system() {
        let nobody_set = |_: &str| None;
        let expected = std::process::Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .expect("`id -un` names the user running the tests");
        assert_eq!(user_from(nobody_set).as_deref(), Some(expected.as_str()));
        // The variables still win, HOTPATCH_USER first.
        let set = |name: &str| match name {
            "HOTPATCH_USER" => Some("release-bot".to_owned()),
            "USER" => Some("ann".to_owned()),
            _ => None,
        };
        assert_eq!(user_from(set).as_deref(), Some("release-bot"));
        assert_eq!(
            user_from(|name| (name == "LOGNAME").then(|| "bob".to_owned())).as_deref(),
            Some("bob")
        );
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
