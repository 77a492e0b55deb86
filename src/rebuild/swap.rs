//! Putting a built image in place of the live one, and back.
//!
//! Every step is a `rename` inside the live image's directory, so whoever opens the live path
//! (the supervisor restarting the application) sees either the old file or the new one, never a
//! half-written one. The previous image is kept beside it as `NAME.image.previous` (with
//! `NAME.changes.previous`); it is made with a hard link before the rename, so the live path
//! never disappears. A running VM keeps its open files: swapping under it is harmless.

use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The `.changes` file that goes with `image`.
pub fn changes_of(image: &Path) -> PathBuf {
    image.with_extension("changes")
}

/// `path` with `suffix` appended to its file name (`app.image` → `app.image.previous`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Where the previous image is kept.
pub fn backup_of(live: &Path) -> PathBuf {
    with_suffix(live, ".previous")
}

/// Where a new image that failed to start is kept for inspection.
pub fn failed_of(live: &Path) -> PathBuf {
    with_suffix(live, ".failed")
}

/// The image and its changes file, both as live path → file kind.
fn pairs(live: &Path) -> [PathBuf; 2] {
    // Changes first: the image's rename is the one that makes the swap visible.
    [changes_of(live), live.to_path_buf()]
}

/// A second name for `from` at `to` (hard link; a copy where links are not possible).
fn duplicate(from: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_file(to);
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).with_context(|| {
        format!(
            "cannot rename {} to {} (they must be on the same file system)",
            from.display(),
            to.display()
        )
    })
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The previous image, when there was one.
    pub backup: Option<PathBuf>,
}

/// Moves `new_image` (and the `.changes` beside it, if any) to `live`, keeping the live files as
/// backups. `new_image` must be on the same file system as `live`. On error nothing changed.
pub fn install(new_image: &Path, live: &Path) -> Result<Installed> {
    if !new_image.is_file() {
        bail!("the built image {} is missing", new_image.display());
    }
    if let Some(dir) = live.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the image directory {}", dir.display()))?;
    }
    let had_live = live.is_file();
    let news = [changes_of(new_image), new_image.to_path_buf()];
    let mut done: Vec<(PathBuf, bool)> = Vec::new(); // (live path, had a previous file)
    for (new, target) in news.iter().zip(pairs(live)) {
        let step = (|| -> Result<bool> {
            let existed = target.is_file();
            if existed {
                duplicate(&target, &backup_of(&target))?;
            }
            if new.is_file() {
                rename(new, &target)?;
            } else if existed {
                // The new image has no changes file: the old one must not pair with it.
                std::fs::remove_file(&target)
                    .with_context(|| format!("cannot remove {}", target.display()))?;
            }
            Ok(existed)
        })();
        match step {
            Ok(existed) => done.push((target, existed)),
            Err(e) => {
                undo_install(&done);
                return Err(e);
            }
        }
    }
    Ok(Installed {
        backup: had_live.then(|| backup_of(live)),
    })
}

fn undo_install(done: &[(PathBuf, bool)]) {
    for (target, existed) in done.iter().rev() {
        if *existed {
            let _ = std::fs::rename(backup_of(target), target);
        } else {
            let _ = std::fs::remove_file(target);
        }
    }
}

/// After a new image failed to come up: puts the backup back in place and keeps the failed image
/// as `NAME.image.failed`. Answers whether a previous image was restored.
pub fn restore(live: &Path) -> Result<bool> {
    let had_backup = backup_of(live).is_file();
    for target in pairs(live) {
        let backup = backup_of(&target);
        if target.is_file() {
            duplicate(&target, &failed_of(&target))?;
        }
        if backup.is_file() {
            rename(&backup, &target)?;
        } else if target.is_file() {
            std::fs::remove_file(&target)
                .with_context(|| format!("cannot remove {}", target.display()))?;
        }
    }
    Ok(had_backup)
}

/// `hotpatch rebuild --rollback`: the backup becomes live and the live image the backup, so a
/// second rollback rolls forward again.
pub fn exchange(live: &Path) -> Result<()> {
    if !backup_of(live).is_file() {
        bail!(
            "there is no previous image to roll back to ({} does not exist)",
            backup_of(live).display()
        );
    }
    for target in pairs(live) {
        let backup = backup_of(&target);
        let parked = with_suffix(&target, ".swapping");
        match (target.is_file(), backup.is_file()) {
            (true, true) => {
                duplicate(&target, &parked)?;
                rename(&backup, &target)?;
                rename(&parked, &backup)?;
            }
            (false, true) => rename(&backup, &target)?,
            (true, false) => rename(&target, &backup)?,
            (false, false) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hotpatch-swap-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("build")).unwrap();
        d
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_else(|_| "<none>".into())
    }

    #[test]
    fn install_keeps_the_previous_image_and_rollback_exchanges() {
        let d = dir("install");
        let live = d.join("app.image");
        std::fs::write(&live, "old").unwrap();
        std::fs::write(changes_of(&live), "old changes").unwrap();
        let new = d.join("build/app.image");
        std::fs::write(&new, "new").unwrap();
        std::fs::write(changes_of(&new), "new changes").unwrap();

        let installed = install(&new, &live).unwrap();
        assert_eq!(installed.backup, Some(d.join("app.image.previous")));
        assert_eq!(read(&live), "new");
        assert_eq!(read(&changes_of(&live)), "new changes");
        assert_eq!(read(&d.join("app.image.previous")), "old");
        assert_eq!(read(&d.join("app.changes.previous")), "old changes");
        assert!(!new.exists());

        exchange(&live).unwrap();
        assert_eq!(read(&live), "old");
        assert_eq!(read(&d.join("app.image.previous")), "new");
        assert_eq!(read(&d.join("app.changes.previous")), "new changes");
        exchange(&live).unwrap();
        assert_eq!(read(&live), "new");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn first_install_has_no_backup_and_restore_removes_the_failed_image() {
        let d = dir("first");
        let live = d.join("app.image");
        let new = d.join("build/app.image");
        std::fs::write(&new, "new").unwrap();
        assert_eq!(install(&new, &live).unwrap().backup, None);
        assert!(
            exchange(&live)
                .unwrap_err()
                .to_string()
                .contains("no previous image")
        );
        assert!(!restore(&live).unwrap());
        assert!(!live.exists());
        assert_eq!(read(&failed_of(&live)), "new");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn restore_puts_the_backup_back_and_keeps_the_failed_one() {
        let d = dir("restore");
        let live = d.join("app.image");
        std::fs::write(&live, "old").unwrap();
        let new = d.join("build/app.image");
        std::fs::write(&new, "bad").unwrap();
        install(&new, &live).unwrap();
        assert!(restore(&live).unwrap());
        assert_eq!(read(&live), "old");
        assert_eq!(read(&failed_of(&live)), "bad");
        assert!(!backup_of(&live).exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_new_image_without_changes_does_not_inherit_the_old_changes() {
        let d = dir("nochanges");
        let live = d.join("app.image");
        std::fs::write(&live, "old").unwrap();
        std::fs::write(changes_of(&live), "old changes").unwrap();
        let new = d.join("build/app.image");
        std::fs::write(&new, "new").unwrap();
        install(&new, &live).unwrap();
        assert!(!changes_of(&live).exists());
        assert_eq!(read(&d.join("app.changes.previous")), "old changes");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_missing_build_changes_nothing() {
        let d = dir("missing");
        let live = d.join("app.image");
        std::fs::write(&live, "old").unwrap();
        assert!(install(&d.join("build/app.image"), &live).is_err());
        assert_eq!(read(&live), "old");
        assert!(!backup_of(&live).exists());
        let _ = std::fs::remove_dir_all(&d);
    }
}
