//! Reading a whole repository: locating the package directory, walking package folders and
//! parsing every file in parallel, then assembling packages in name order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;

use super::reader::{self, split_category};
use super::ston::{self, Ston};
use super::{ParsedFile, TonelError};
use crate::model::{Package, Repository};

/// Finds the directory that holds the package folders.
///
/// Accepts, in this order: a single package folder (it has a `package.st` or class, trait or
/// extension files), a directory whose subfolders are packages, a repository root whose
/// `.project` names a `srcDirectory` (`''` is the root itself), or a repository root with a
/// `src/` folder. Returns the directory and whether it is a single package.
pub fn locate_packages_dir(root: &Path) -> anyhow::Result<(PathBuf, bool)> {
    if !root.is_dir() {
        bail!("{}: not a directory", root.display());
    }
    if is_package_dir(root) {
        return Ok((root.to_path_buf(), true));
    }
    if has_package_folders(root)? {
        return Ok((root.to_path_buf(), false));
    }
    if let Some(src) = project_src_directory(root) {
        let dir = root.join(src);
        if dir.is_dir() {
            return Ok((dir, false));
        }
    }
    let src = root.join("src");
    if src.is_dir() {
        return Ok((src, false));
    }
    // An empty or non-Tonel directory reads as an empty repository.
    Ok((root.to_path_buf(), false))
}

fn has_package_folders(dir: &Path) -> anyhow::Result<bool> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        if !is_hidden(&path) && path.is_dir() && is_package_dir(&path) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_package_dir(dir: &Path) -> bool {
    list_st_files(dir).is_ok_and(|files| is_package_listing(&files))
}

/// Whether a folder whose `.st` files are `files` is a Tonel package: it has a `package.st`, or
/// class, trait or extension files. Pharo names a package after its folder and does not need
/// `package.st`; a folder of plain Smalltalk scripts (`scripts/preLoading.st`) is not a package.
fn is_package_listing(files: &[PathBuf]) -> bool {
    files.iter().any(|f| {
        f.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n == "package.st"
                || n.ends_with(".class.st")
                || n.ends_with(".trait.st")
                || n.ends_with(".extension.st")
        })
    })
}

/// `.project` is STON like `{ 'srcDirectory' : 'src' }`.
fn project_src_directory(root: &Path) -> Option<String> {
    let text = std::fs::read(root.join(".project")).ok()?;
    let (v, _) = ston::parse_value(&text, 0).ok()?;
    v.get("srcDirectory")?.as_text().map(str::to_string)
}

/// `.properties` is STON like `{ #format : #tonel }`; `#version` wins when present.
fn read_format(dirs: &[&Path]) -> Option<String> {
    for dir in dirs {
        if let Ok(text) = std::fs::read(dir.join(".properties"))
            && let Ok((v, _)) = ston::parse_value(&text, 0)
        {
            let version = v.get("version").and_then(Ston::as_text);
            let format = v.get("format").and_then(Ston::as_text);
            if let Some(f) = version.or(format) {
                return Some(f.to_string());
            }
        }
    }
    None
}

/// Reads a Tonel repository (see [`locate_packages_dir`] for what `root` may be).
///
/// The outer error is only for an unreadable root. Every file is parsed even when others fail:
/// the returned errors list each broken file (one error per file, the first one in it), so a
/// single run reports everything wrong with the repository. Packages, classes and extensions
/// come out in name order; methods in file order. Folders that are not Tonel packages are
/// listed in [`Repository::skipped`]; hidden files and folders (`.Foo.class.st`,
/// `._Foo.class.st` from macOS archives) are ignored, as Pharo ignores them.
///
/// A class defined twice (in two packages, as repositories with one package per dialect have
/// it) is not an error here: Pharo loads one package at a time and never sees the clash. Check
/// the packages you load together with [`duplicate_definitions`].
pub fn read_repository(root: &Path) -> anyhow::Result<(Repository, Vec<TonelError>)> {
    read_repository_parsing(root, &|_| true)
}

/// Reads a Tonel repository as [`read_repository`] does, but parses only the definition files
/// `wanted` accepts (and every package's `package.st`): the others are listed, not read. What a
/// push of single files needs: those files' classes, in packages with their real names, from a
/// repository of any size.
pub fn read_repository_parsing(
    root: &Path,
    wanted: &(dyn Fn(&Path) -> bool + Sync),
) -> anyhow::Result<(Repository, Vec<TonelError>)> {
    let (dir, single) = locate_packages_dir(root)?;
    let candidates: Vec<PathBuf> = if single {
        vec![dir.clone()]
    } else {
        let mut dirs = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let path = entry.path();
            // d_type from readdir avoids a stat per entry; symlinks are followed explicitly.
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_symlink() => path.is_dir(),
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            if is_dir && !is_hidden(&path) {
                dirs.push(path);
            }
        }
        dirs.sort();
        dirs
    };
    let format = read_format(&[&dir, root]);

    // List package folders in parallel; a folder is a package when it holds `.st` files.
    let listings: Vec<(PathBuf, std::io::Result<Vec<PathBuf>>)> = candidates
        .into_par_iter()
        .map(|d| {
            let files = list_st_files(&d);
            (d, files)
        })
        .collect();
    let mut package_dirs = Vec::new();
    let mut skipped = Vec::new();
    // One flat list of files so rayon can balance work across packages of different sizes;
    // packages in folder order, each package's files in name order.
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    let mut errors = Vec::new();
    for (pdir, listing) in listings {
        match listing {
            Err(e) => errors.push(io_error(&pdir, &e)),
            Ok(list) if !single && !is_package_listing(&list) => skipped.push(pdir),
            Ok(list) => {
                let index = package_dirs.len();
                let parsed =
                    |f: &PathBuf| f.file_name().is_some_and(|n| n == "package.st") || wanted(f);
                files.extend(list.into_iter().filter(parsed).map(|f| (index, f)));
                package_dirs.push(pdir);
            }
        }
    }

    let parsed: Vec<(usize, Result<reader::Parsed, TonelError>)> = files
        .par_iter()
        .map(|(index, path)| (*index, read_and_parse(path)))
        .collect();

    let mut packages: Vec<Package> = package_dirs
        .iter()
        .map(|p| Package {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: Some(p.clone()),
            ..Default::default()
        })
        .collect();
    // Legacy categories wait until every package.st has given the package its real name.
    let mut legacy: Vec<(usize, usize, String)> = Vec::new();
    for (index, result) in parsed {
        match result {
            Err(e) => errors.push(e),
            Ok(p) => match p.file {
                ParsedFile::Package(pkg) => {
                    packages[index].name = pkg.name;
                    packages[index].tags = pkg.tags;
                }
                ParsedFile::Class(class) => {
                    if let Some(category) = p.legacy_category {
                        legacy.push((index, packages[index].classes.len(), category));
                    }
                    packages[index].classes.push(class);
                }
                ParsedFile::Extension(ext) => packages[index].extensions.push(ext),
            },
        }
    }
    for (index, class_index, category) in legacy {
        let package = &mut packages[index];
        let class = &mut package.classes[class_index];
        if category.is_empty() {
            class.package = package.name.clone();
            class.tag = None;
            continue;
        }
        match split_category(&category, &package.name) {
            Some((name, tag)) => {
                class.package = name;
                class.tag = tag;
            }
            None => errors.push(category_mismatch(class, &category, &package.name)),
        }
    }
    for pkg in &mut packages {
        pkg.classes.sort_by(|a, b| a.name.cmp(&b.name));
        pkg.extensions
            .sort_by(|a, b| a.class_name.cmp(&b.class_name));
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    errors.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));

    Ok((
        Repository {
            root: dir,
            format,
            packages,
            skipped,
        },
        errors,
    ))
}

/// Pharo's `TonelReader` refuses a class whose legacy category names neither the package nor
/// one of its tags; so do we, rather than move the class to another category on the next push.
fn category_mismatch(class: &crate::model::ClassDef, category: &str, package: &str) -> TonelError {
    let (path, line) = class
        .origin
        .as_ref()
        .map(|o| (o.path.clone(), o.line))
        .unwrap_or_default();
    TonelError {
        path,
        line,
        column: 1,
        message: format!(
            "expected the #category of {} to be the package '{package}' or '{package}-<tag>', \
             found '{category}' (Pharo refuses to load it too: fix the category or move the file \
             to the package it names)",
            class.name
        ),
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The `.st` files directly inside `dir`, hidden ones left out.
fn list_st_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "st") || is_hidden(&path) {
            continue;
        }
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => path.is_file(),
            Ok(t) => t.is_file(),
            Err(_) => false,
        };
        if is_file {
            files.push(path);
        }
    }
    // All entries share the parent, so byte order of the whole path is `Path` order of the
    // names, without `Path`'s component-by-component comparison.
    files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(files)
}

fn io_error(path: &Path, e: &std::io::Error) -> TonelError {
    TonelError {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("expected a readable file, found an I/O error: {e}"),
    }
}

thread_local! {
    /// One read buffer per worker thread, reused across files: saves an allocation and a free
    /// of the whole file per file read.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn read_and_parse(path: &Path) -> Result<reader::Parsed, TonelError> {
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let len = read_file(path, &mut buffer).map_err(|e| io_error(path, &e))?;
        parse_bytes(path, &buffer[..len])
    })
}

/// Reads the whole file at `path` into `buffer` (grown as needed, never shrunk) and returns its
/// length. Unlike `read_to_end`, this asks the kernel for no size hint (a `statx` and an `lseek`
/// per file, a third of the system calls of a walk): the reused buffer is nearly always large
/// enough already, so a file costs `open`, two `read`s and `close`.
fn read_file(path: &Path, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    use std::io::Read;
    const INITIAL: usize = 64 * 1024;
    let mut file = std::fs::File::open(path)?;
    if buffer.len() < INITIAL {
        buffer.resize(INITIAL, 0);
    }
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            buffer.resize(buffer.len() * 2, 0);
        }
        match file.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<reader::Parsed, TonelError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let pos = super::text::LineIndex::new(bytes).pos(bytes, at);
            return Err(TonelError {
                path: path.to_path_buf(),
                line: pos.line,
                column: pos.column,
                message: format!(
                    "expected UTF-8 text, found the invalid byte 0x{:02X}",
                    bytes[at]
                ),
            });
        }
    };
    reader::parse(path, text)
}

/// The classes defined more than once in `packages` (in two files, or in two packages), one
/// error at each second definition. A clash matters only among packages loaded together: the
/// owned packages of a push, or everything an export files in.
pub fn duplicate_definitions(packages: &[Package]) -> Vec<TonelError> {
    let mut seen: HashMap<&str, &crate::model::ClassDef> = HashMap::new();
    let mut errors = Vec::new();
    for class in packages.iter().flat_map(|p| p.classes.iter()) {
        if let Some(first) = seen.insert(&class.name, class)
            && let Some(origin) = &class.origin
        {
            let other = first
                .origin
                .as_ref()
                .map(|o| format!("{}:{}", o.path.display(), o.line))
                .unwrap_or_default();
            errors.push(TonelError {
                path: origin.path.clone(),
                line: origin.line,
                column: 1,
                message: format!(
                    "expected one definition of {} among the packages used together, found a \
                     second one (first at {other})",
                    class.name
                ),
            });
        }
    }
    errors
}
