//! Writing files whose paths or contents come from outside (an image's answer, a cache), the way
//! git writes a work tree: a path is built only from names already checked as names (see
//! [`crate::tonel::file_name`]), then checked to stay inside its root ([`inside`]); a file is
//! written to a temporary name beside it and renamed over it ([`replace`]; [`stage`] several
//! first, then commit them), so a crash leaves the old file or the new one, never half of one.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

/// Whether `path` lies inside `root`, judged on the text of the paths as git does: `path`
/// starts with `root` and every component after it is a plain name (no `..`, no `.`, no root
/// or prefix), so no name joined onto `root` can climb out of it or replace it with an absolute
/// path. Symbolic links are not followed: an image's answer cannot make one, and a link the
/// user made inside the sources (a package folder shared between checkouts) is theirs.
pub fn inside(root: &Path, path: &Path) -> bool {
    match path.strip_prefix(root) {
        Ok(rest) => {
            rest.components().next().is_some()
                && rest.components().all(|c| matches!(c, Component::Normal(_)))
        }
        Err(_) => false,
    }
}

/// How far [`replace`] goes to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The data and the rename reach the disk before `replace` returns (`fsync` of the file,
    /// then of its directory): after a power cut the file is the old one or the new one. For the
    /// user's sources.
    Synced,
    /// Readers never see half a file, but a power cut may lose the write. For caches, which
    /// are read back only if they parse and cost only speed when lost.
    Unsynced,
}

/// Replaces the file at `path` with `bytes`: [`stage`], then [`Staged::commit`]. On an error
/// `path` is as it was and no temporary file is left.
pub fn replace(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    stage(path, bytes, durability)?.commit()
}

/// A new text written beside its file under a hidden temporary name, waiting to be renamed over
/// it; dropped without [`Staged::commit`], the temporary file is removed.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    durability: Durability,
    committed: bool,
}

/// Writes `bytes` to a hidden temporary file in `path`'s directory (created afresh, never
/// through a file or link already there), synced when `durability` says so. Several files
/// staged first and committed after change nothing when one of them cannot be written.
pub fn stage(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<Staged> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let staged = Staged {
        tmp,
        path: path.to_path_buf(),
        durability,
        committed: false,
    };
    write_new(&staged.tmp, bytes, durability)?;
    Ok(staged)
}

impl Staged {
    /// Renames the temporary file over the target (and, synced, makes the rename durable).
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        if self.durability == Durability::Synced {
            let dir = self
                .path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Creates `tmp` (removing a leftover of an earlier run first: a file or a link, never what a
/// link points to) and writes `bytes` into it.
fn write_new(tmp: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
    };
    let mut file = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp)?;
            create()?
        }
        other => other?,
    };
    file.write_all(bytes)?;
    if durability == Durability::Synced {
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_below_the_root_are_inside() {
        let root = Path::new("/p/src");
        assert!(inside(root, Path::new("/p/src/Pkg/Foo.class.st")));
        assert!(!inside(root, Path::new("/p/src")), "the root itself");
        assert!(!inside(root, Path::new("/p/src/Pkg/X/../../../etc/x.st")));
        assert!(!inside(root, Path::new("/p/srcx/Foo.class.st")));
        assert!(!inside(root, Path::new("/tmp/hp_abs.class.st")));
        // Joining an absolute name replaces the root (the harm this guards against): caught.
        #[allow(clippy::join_absolute_paths)]
        let joined = root.join("/tmp/x.class.st");
        assert!(!inside(root, &joined));
        let relative = Path::new("src");
        assert!(inside(relative, Path::new("src/Pkg/Foo.class.st")));
        assert!(!inside(relative, Path::new("src/../Foo.class.st")));
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hotpatch-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replace_leaves_the_new_file_and_no_temporary_one() {
        let dir = scratch("replace");
        let path = dir.join("Foo.class.st");
        std::fs::write(&path, "old").unwrap();
        replace(&path, b"new", Durability::Synced).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("Foo.class.st")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn replace_never_writes_through_a_link_at_the_temporary_name() {
        let dir = scratch("link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.join("Foo.class.st");
        let tmp = dir.join(format!(".Foo.class.st.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        replace(&path, b"new", Durability::Unsynced).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_staged_file_not_committed_leaves_nothing() {
        let dir = scratch("staged");
        let path = dir.join("Foo.class.st");
        std::fs::write(&path, "old").unwrap();
        drop(stage(&path, b"new", Durability::Synced).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_replace_keeps_the_old_file() {
        let dir = scratch("fail");
        // A directory where the file should be: the rename fails, the directory stays.
        let path = dir.join("Foo.class.st");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inner"), "x").unwrap();
        assert!(replace(&path, b"new", Durability::Synced).is_err());
        assert_eq!(std::fs::read_to_string(path.join("inner")).unwrap(), "x");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
