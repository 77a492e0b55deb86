//! The Tonel sources as they are at one git commit (`push --ref REV`), read from git's object
//! store without touching the working tree or the index.
//!
//! `git rev-parse` names the commit; `git ls-tree` lists the files of the source directory in
//! that commit's tree and `git cat-file --batch` reads them, into a temporary directory that the
//! Tonel reader then reads like any other (and that goes away with the [`Revision`]). Only the
//! commit's own tree is read, so a shallow clone (`git clone --depth 1`, as CI jobs make) works
//! for any commit it has. Paths of the checked-out files are shown as git names them,
//! `COMMIT:path` (`git show 3f2c1e0a12:src/Foo/Bar.class.st` prints the file).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// The sources of one commit, checked out into a temporary directory.
#[derive(Debug)]
pub struct Revision {
    /// What was asked for (`v1.4.2`, `HEAD~2`, a commit id).
    pub spec: String,
    /// The commit it names (the full id).
    pub commit: String,
    /// The source directory inside the checkout.
    source: PathBuf,
    /// The source directory relative to the repository's top level.
    relative: PathBuf,
    dir: tempfile::TempDir,
}

/// Why the sources of a revision cannot be had. Nothing is sent to an image in any case.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error("--ref {spec}: {root} is not in a git work tree, so no revision can be read there")]
    NotARepository { spec: String, root: PathBuf },
    #[error("--ref {spec:?} is not a revision (it must not be empty or start with '-')")]
    BadSpec { spec: String },
    #[error("--ref {spec}: git does not know this revision in {repository}{hint}")]
    Unknown {
        spec: String,
        repository: PathBuf,
        /// What to do about it (a shallow clone has only the commits it fetched).
        hint: String,
    },
    #[error(
        "--ref {spec}: the source directory {} is outside the git repository {}",
        source_dir.display(),
        repository.display()
    )]
    SourceOutside {
        spec: String,
        source_dir: PathBuf,
        repository: PathBuf,
    },
    #[error(
        "--ref {spec}: commit {commit} has no files under {} (set `source` in hotpatch.toml to \
         where the Tonel packages are at that commit)",
        relative.display()
    )]
    NoSources {
        spec: String,
        commit: String,
        relative: PathBuf,
    },
    #[error("--ref {spec}: {problem}")]
    Git { spec: String, problem: String },
}

impl Revision {
    /// Checks out the source directory `source` (inside the git work tree of `root`) as it is
    /// at the commit `spec` names, into a temporary directory.
    pub fn checkout(root: &Path, source: &Path, spec: &str) -> Result<Revision, RevisionError> {
        if spec.trim().is_empty() || spec.starts_with('-') {
            return Err(RevisionError::BadSpec { spec: spec.into() });
        }
        let git_error = |problem: String| RevisionError::Git {
            spec: spec.into(),
            problem,
        };
        let top = git(root, &["rev-parse", "--show-toplevel"])
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RevisionError::NotARepository {
                spec: spec.into(),
                root: root.to_path_buf(),
            })?;
        let top = PathBuf::from(top);
        let top = top.canonicalize().unwrap_or(top);
        let commit = git(
            &top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{spec}^{{commit}}"),
            ],
        )
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| RevisionError::Unknown {
            spec: spec.into(),
            repository: top.clone(),
            hint: unknown_hint(&top, spec),
        })?;
        let absolute = absolute(source);
        let relative = absolute
            .strip_prefix(&top)
            .map(Path::to_path_buf)
            .map_err(|_| RevisionError::SourceOutside {
                spec: spec.into(),
                source_dir: absolute.clone(),
                repository: top.clone(),
            })?;
        let dir = tempfile::Builder::new()
            .prefix("hotpatch-ref-")
            .tempdir()
            .map_err(|e| git_error(format!("cannot make a temporary directory: {e}")))?;
        let files = list_blobs(&top, &commit, &relative).map_err(&git_error)?;
        if files.is_empty() {
            return Err(RevisionError::NoSources {
                spec: spec.into(),
                commit,
                relative,
            });
        }
        write_blobs(&top, dir.path(), &files).map_err(git_error)?;
        Ok(Revision {
            spec: spec.into(),
            source: dir.path().join(&relative),
            relative,
            commit,
            dir,
        })
    }

    /// The source directory of the checkout (what the Tonel reader reads).
    pub fn source_dir(&self) -> &Path {
        &self.source
    }

    /// The commit id shortened as `hotpatch log` shows it (10 hex digits).
    pub fn short(&self) -> &str {
        self.commit.get(..10).unwrap_or(&self.commit)
    }

    /// A path inside the checkout as git names it: `COMMIT:path/in/the/repository` (paths
    /// outside the checkout are given back as they are).
    pub fn label(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.source) {
            Ok(rest) => {
                let inside = self.relative.join(rest);
                PathBuf::from(format!("{}:{}", self.short(), inside.display()))
            }
            Err(_) => path.to_path_buf(),
        }
    }

    /// The temporary directory the sources were checked out into (removed with `self`).
    pub fn checkout_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// What to do about a revision git does not know.
fn unknown_hint(top: &Path, spec: &str) -> String {
    let shallow = git(top, &["rev-parse", "--is-shallow-repository"]).is_ok_and(|s| s == "true");
    if shallow {
        format!(
            "; this is a shallow clone, which has only the commits it fetched: fetch the \
             revision first (`git fetch --depth 1 origin tag {spec}` for a tag, `git fetch \
             --depth 1 origin {spec}` for a branch or commit)"
        )
    } else {
        "; check the name (`git rev-parse --verify`), or fetch it (`git fetch`)".into()
    }
}

/// One file of the commit's tree: its object id and its path from the repository's top.
struct Blob {
    id: String,
    path: PathBuf,
}

/// The files (blobs, not symbolic links or submodules) under `relative` in `commit`'s tree.
fn list_blobs(top: &Path, commit: &str, relative: &Path) -> Result<Vec<Blob>, String> {
    let mut command = git_command(top);
    command.args(["ls-tree", "-r", "-z", "--full-tree", commit]);
    if relative.as_os_str().is_empty() {
        command.arg("--");
    } else {
        command.arg("--").arg(relative);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run git ls-tree: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git ls-tree failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let mut blobs = Vec::new();
    for record in output.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        // `MODE SP TYPE SP ID TAB PATH`
        let Some(tab) = record.iter().position(|b| *b == b'\t') else {
            return Err("git ls-tree printed a line without a path".into());
        };
        let head = String::from_utf8_lossy(&record[..tab]);
        let mut fields = head.split(' ');
        let (mode, kind, id) = (fields.next(), fields.next(), fields.next());
        // Symbolic links (120000) could point anywhere; submodules are commits, not files.
        if kind != Some("blob") || mode == Some("120000") {
            continue;
        }
        let path = PathBuf::from(OsStr::from_bytes(&record[tab + 1..]));
        if !is_plain_relative(&path) || !path.starts_with(relative) {
            return Err(format!(
                "the tree of the commit names a file {} that is not a plain path under {}",
                path.display(),
                relative.display()
            ));
        }
        blobs.push(Blob {
            id: id.unwrap_or_default().to_owned(),
            path,
        });
    }
    Ok(blobs)
}

/// Whether `path` is relative and made of names only (no `..`, `.`, root or prefix): a path
/// from outside data stays inside the directory it is joined to.
fn is_plain_relative(path: &Path) -> bool {
    path.components().next().is_some()
        && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Reads every blob through one `git cat-file --batch` and writes it under `dir` at its path.
fn write_blobs(top: &Path, dir: &Path, blobs: &[Blob]) -> Result<(), String> {
    let mut child = git_command(top)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git cat-file: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("git cat-file has no stdin")?;
    let ids: Vec<u8> = blobs
        .iter()
        .flat_map(|b| b.id.bytes().chain(std::iter::once(b'\n')))
        .collect();
    // Fed from another thread: git answers while it reads, and a full pipe would stop both.
    let feeder = std::thread::spawn(move || stdin.write_all(&ids));
    let stdout = child.stdout.take().ok_or("git cat-file has no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut read = || -> Result<(), String> {
        for blob in blobs {
            let mut header = String::new();
            reader
                .read_line(&mut header)
                .map_err(|e| format!("reading from git cat-file: {e}"))?;
            // `ID blob SIZE`, or `ID missing`.
            let size = header
                .trim_end()
                .strip_prefix(&blob.id)
                .and_then(|rest| rest.strip_prefix(" blob "))
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| {
                    format!(
                        "git cannot read {} ({}): {}",
                        blob.path.display(),
                        blob.id,
                        header.trim_end()
                    )
                })?;
            let mut content = Vec::new();
            (&mut reader)
                .take(size)
                .read_to_end(&mut content)
                .map_err(|e| format!("reading {} from git: {e}", blob.path.display()))?;
            let mut newline = [0u8; 1];
            reader
                .read_exact(&mut newline)
                .map_err(|e| format!("reading {} from git: {e}", blob.path.display()))?;
            if content.len() as u64 != size {
                return Err(format!("git cut {} short", blob.path.display()));
            }
            let target = dir.join(&blob.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&target, &content)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
        Ok(())
    };
    let result = read();
    drop(reader);
    let fed = feeder.join();
    let status = child.wait();
    result?;
    match fed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("writing to git cat-file: {e}")),
        Err(_) => return Err("writing to git cat-file failed".into()),
    }
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("git cat-file ended with {s}")),
        Err(e) => Err(format!("waiting for git cat-file: {e}")),
    }
}

/// `git -C dir`, with pathspecs taken literally and nothing read from the terminal.
fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    command
}

/// `git -C dir ARGS`, trimmed stdout; the error says why.
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = git_command(dir)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// `path` made absolute and free of symbolic links, as far as it exists (a source directory
/// deleted from the work tree may still exist at the revision).
fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => absolute(parent).join(name),
        _ => std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository of our own in a temporary directory, with `files` committed; answers the
    /// directory (kept alive by the caller) and the commit.
    fn repository(files: &[(&str, &str)]) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        run(&["init", "-q"]);
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", "one"]);
        let commit = run(&["rev-parse", "HEAD"]);
        (dir, commit)
    }

    #[test]
    fn the_files_of_the_source_directory_at_the_commit_are_checked_out_and_labelled() {
        let (repo, commit) = repository(&[
            ("src/P/A.class.st", "old"),
            ("src/P/package.st", "Package { #name : 'P' }\n"),
            ("other/x.txt", "not a source"),
        ]);
        // The work tree moves on; the revision does not.
        std::fs::write(repo.path().join("src/P/A.class.st"), "new").unwrap();
        let r = Revision::checkout(repo.path(), &repo.path().join("src"), "HEAD").unwrap();
        assert_eq!(r.commit, commit);
        assert_eq!(
            std::fs::read_to_string(r.source_dir().join("P/A.class.st")).unwrap(),
            "old"
        );
        assert!(!r.checkout_dir().join("other").exists(), "only the sources");
        assert_eq!(
            r.label(&r.source_dir().join("P/A.class.st")),
            PathBuf::from(format!("{}:src/P/A.class.st", &commit[..10]))
        );
        let dir = r.checkout_dir().to_path_buf();
        drop(r);
        assert!(!dir.exists(), "the checkout goes away with the revision");
    }

    #[test]
    fn unknown_revisions_and_wrong_places_are_named() {
        let (repo, _) = repository(&[("src/P/A.class.st", "x")]);
        let e = Revision::checkout(repo.path(), &repo.path().join("src"), "v9.9").unwrap_err();
        assert!(
            matches!(e, RevisionError::Unknown { .. }) && e.to_string().contains("v9.9"),
            "{e}"
        );
        let e =
            Revision::checkout(repo.path(), &repo.path().join("src"), "--output=x").unwrap_err();
        assert!(matches!(e, RevisionError::BadSpec { .. }), "{e}");
        let e = Revision::checkout(repo.path(), &repo.path().join("lib"), "HEAD").unwrap_err();
        assert!(matches!(e, RevisionError::NoSources { .. }), "{e}");
        let outside = tempfile::tempdir().unwrap();
        let e = Revision::checkout(outside.path(), outside.path(), "HEAD").unwrap_err();
        assert!(matches!(e, RevisionError::NotARepository { .. }), "{e}");
    }

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        assert!(is_plain_relative(Path::new("src/P/A.class.st")));
        assert!(!is_plain_relative(Path::new("src/../../etc/passwd")));
        assert!(!is_plain_relative(Path::new("/etc/passwd")));
        assert!(!is_plain_relative(Path::new("./a")));
        assert!(!is_plain_relative(Path::new("")));
    }
}
