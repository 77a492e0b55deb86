//! `pull`: the image's version of drifted definitions, written into the local Tonel files with
//! the engine's writer, so git shows the change and nothing else (for files in Pharo's style;
//! a file in another style is rewritten in it, and said so).
//!
//! [`plan_pull`] answers the files to write or delete with their new text, reading only the
//! files it edits; the caller writes them.

use super::{DriftItem, DriftReport, Standing, Subject, Version};
use crate::model::{ClassDef, Extension, MethodDef, MethodKey, Package, TonelStyle};
use crate::tonel::file_name::{BadName, class_file_name, extension_file_name};
use crate::tonel::{self as writer, WriteError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Which side wins a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConflictChoice {
    /// Leave conflicts alone and list them (the default).
    #[default]
    Ask,
    /// The image's version wins (`--theirs`).
    Theirs,
    /// The local version stays (`--ours`); a later push needs `--overwrite-drift`.
    Ours,
}

/// One file `pull` writes or deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdit {
    pub path: PathBuf,
    /// The new text; `None` deletes the file.
    pub text: Option<String>,
    /// Whether the file's text around the change was not in the writer's style, so the whole
    /// file was rewritten in it and more than the pulled change moves.
    pub restyled: bool,
}

/// What a pull does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PullPlan {
    pub files: Vec<FileEdit>,
    /// The definitions whose image version is written.
    pub taken: Vec<Subject>,
    /// Definitions changed the same way on both sides: nothing to write, the image's version
    /// is recorded as installed.
    pub converged: Vec<Subject>,
    /// Conflicts left alone (no `--theirs`/`--ours`).
    pub conflicts: Vec<Subject>,
    /// Conflicts where the local version stays (`--ours`).
    pub kept_ours: Vec<Subject>,
    /// Pulled methods whose image text is decompiled (the image keeps no source): review them.
    pub inexact: Vec<Subject>,
}

/// Why a pull cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// A package of the drift is not among the local packages.
    #[error("package {0} is not in the local sources; nothing was written")]
    NoPackage(String),
    /// A package has no folder on disk (it came from an image).
    #[error("package {0} has no folder on disk; nothing was written")]
    NoFolder(String),
    /// The writer cannot write a definition exactly.
    #[error("{0}; nothing was written")]
    Write(#[from] WriteError),
    /// The image holds a definition whose name cannot name a file (a separator, `..`, a control
    /// character): an image is outside, its names are never trusted as paths.
    #[error(
        "the image holds a definition to pull whose name is unsafe: {0}; nothing was written. \
         Rename or remove it in the image, or pull only other files (`hotpatch pull PATHS`)"
    )]
    BadName(#[from] BadName),
}

/// The files that bring the image's version of `report`'s drift (and, with
/// [`ConflictChoice::Theirs`], of its conflicts) into `local`. `inexact`: methods the image
/// could only decompile.
pub fn plan_pull(
    local: &[Package],
    report: &DriftReport,
    choice: ConflictChoice,
    inexact: &[MethodKey],
) -> Result<PullPlan, PullError> {
    let mut plan = PullPlan::default();
    let mut work = Work::new(local);
    let mut taken: Vec<&DriftItem> = Vec::new();
    for item in &report.items {
        match (item.standing, choice) {
            (Standing::Converged, _) => plan.converged.push(item.subject.clone()),
            (Standing::Drift, _) | (Standing::Conflict, ConflictChoice::Theirs) => taken.push(item),
            (Standing::Conflict, ConflictChoice::Ours) => plan.kept_ours.push(item.subject.clone()),
            (Standing::Conflict, ConflictChoice::Ask) => plan.conflicts.push(item.subject.clone()),
        }
    }
    // Class definitions first, so the methods of a class the image added have a file to go to.
    taken.sort_by_key(|i| matches!(i.subject, Subject::Method { .. }));
    for item in taken {
        work.take(item)?;
        if let Subject::Method { key } = &item.subject
            && inexact.contains(key)
            && item.image.is_some()
        {
            plan.inexact.push(item.subject.clone());
        }
        plan.taken.push(item.subject.clone());
    }
    plan.files = work.files()?;
    Ok(plan)
}

/// The local packages being edited, with what each file looked like before.
struct Work {
    /// The packages as read, to write what each touched file said before in the writer's style.
    original: Vec<Package>,
    packages: Vec<Package>,
    /// Class files touched: (package index, class name).
    classes: BTreeMap<String, usize>,
    /// Extension files touched: (package index, class name).
    extensions: BTreeSet<(usize, String)>,
    /// Class files to delete.
    deleted: Vec<PathBuf>,
    /// Packages whose `package.st` gains a tag.
    tagged: Vec<usize>,
}

impl Work {
    fn new(local: &[Package]) -> Work {
        Work {
            original: local.to_vec(),
            packages: local.to_vec(),
            classes: BTreeMap::new(),
            extensions: BTreeSet::new(),
            deleted: Vec::new(),
            tagged: Vec::new(),
        }
    }

    fn package_index(&self, name: &str) -> Result<usize, PullError> {
        let index = self
            .packages
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| PullError::NoPackage(name.to_owned()))?;
        if self.packages[index].path.is_none() {
            return Err(PullError::NoFolder(name.to_owned()));
        }
        Ok(index)
    }

    /// Where class `name` is defined locally: (package index, class index).
    fn find_class(&self, name: &str) -> Option<(usize, usize)> {
        self.packages.iter().enumerate().find_map(|(p, package)| {
            package
                .classes
                .iter()
                .position(|c| c.name == name)
                .map(|c| (p, c))
        })
    }

    fn take(&mut self, item: &DriftItem) -> Result<(), PullError> {
        match (&item.subject, &item.image) {
            (Subject::Class { name }, Some(Version::Class(def))) => self.put_class(item, name, def),
            (Subject::Class { name }, _) => {
                if let Some((p, c)) = self.find_class(name) {
                    let class = self.packages[p].classes.remove(c);
                    self.classes.remove(name);
                    if let Some(origin) = class.origin {
                        self.deleted.push(origin.path);
                    }
                }
                Ok(())
            }
            (Subject::Method { key }, Some(Version::Method(method))) => {
                self.put_method(item, key, method)
            }
            (Subject::Method { key }, _) => {
                self.remove_method(key);
                Ok(())
            }
        }
    }

    fn put_class(&mut self, item: &DriftItem, name: &str, def: &ClassDef) -> Result<(), PullError> {
        match self.find_class(name) {
            Some((p, c)) => {
                let class = &mut self.packages[p].classes[c];
                let methods = std::mem::take(&mut class.methods);
                let origin = class.origin.take();
                *class = ClassDef {
                    methods,
                    origin,
                    ..def.clone()
                };
                self.classes.insert(name.to_owned(), p);
            }
            None => {
                let p = self.package_index(&item.package)?;
                // Tags are declared in `package.st` only in v3; before, a class's category
                // alone says its tag.
                let declares_tags = package_style(&self.original, &self.packages[p]).package_fields;
                let package = &mut self.packages[p];
                if let Some(tag) = def.tag.as_ref().filter(|t| !t.is_empty())
                    && declares_tags
                    && !package.tags.contains(tag)
                {
                    package.tags.push(tag.clone());
                    self.tagged.push(p);
                }
                package.classes.push(ClassDef {
                    methods: Vec::new(),
                    origin: None,
                    ..def.clone()
                });
                self.classes.insert(name.to_owned(), p);
            }
        }
        Ok(())
    }

    fn put_method(
        &mut self,
        item: &DriftItem,
        key: &MethodKey,
        method: &MethodDef,
    ) -> Result<(), PullError> {
        // Tonel files end lines with LF; an image may answer CR (Squeak's own line end).
        let method = MethodDef {
            span: None,
            source: crate::model::normalize_line_endings(&method.source).into_owned(),
            ..method.clone()
        };
        // A method of the class's own package goes into the class file; anything else is an
        // extension of the package that owns it.
        if let Some((p, c)) = self.find_class(&key.class_name)
            && self.packages[p].name == item.package
        {
            let methods = &mut self.packages[p].classes[c].methods;
            match methods.iter().position(|m| m.key() == *key) {
                Some(i) => methods[i] = method,
                None => methods.push(method),
            }
            self.classes.insert(key.class_name.clone(), p);
            return Ok(());
        }
        let p = self.package_index(&item.package)?;
        let extensions = &mut self.packages[p].extensions;
        let e = match extensions
            .iter()
            .position(|e| e.class_name == key.class_name)
        {
            Some(e) => e,
            None => {
                extensions.push(Extension {
                    class_name: key.class_name.clone(),
                    methods: Vec::new(),
                    origin: None,
                });
                extensions.len() - 1
            }
        };
        let methods = &mut extensions[e].methods;
        match methods.iter().position(|m| m.key() == *key) {
            Some(i) => methods[i] = method,
            None => methods.push(method),
        }
        self.extensions.insert((p, key.class_name.clone()));
        Ok(())
    }

    fn remove_method(&mut self, key: &MethodKey) {
        for (p, package) in self.packages.iter_mut().enumerate() {
            for class in &mut package.classes {
                if class.name == key.class_name {
                    let before = class.methods.len();
                    class.methods.retain(|m| m.key() != *key);
                    if class.methods.len() != before {
                        self.classes.insert(class.name.clone(), p);
                    }
                }
            }
            for ext in &mut package.extensions {
                if ext.class_name == key.class_name {
                    let before = ext.methods.len();
                    ext.methods.retain(|m| m.key() != *key);
                    if ext.methods.len() != before {
                        self.extensions.insert((p, ext.class_name.clone()));
                    }
                }
            }
        }
    }

    fn files(self) -> Result<Vec<FileEdit>, PullError> {
        let mut files = Vec::new();
        for (name, p) in &self.classes {
            let package = &self.packages[*p];
            let Some(class) = package.classes.iter().find(|c| &c.name == name) else {
                continue;
            };
            // An existing file keeps its own style (its origin's); a new one takes its package's.
            let (path, style) = match &class.origin {
                Some(o) => (o.path.clone(), o.style),
                None => (
                    folder(package)?.join(class_file_name(name, class.kind)?),
                    package_style(&self.original, package),
                ),
            };
            let before = self
                .original
                .iter()
                .flat_map(|p| p.classes.iter())
                .find(|c| &c.name == name && c.origin.is_some())
                .and_then(|c| writer::write_class_file(c).ok());
            files.push(edit(
                path,
                before,
                writer::write_class_file_in(class, style)?,
            ));
        }
        for (p, class_name) in &self.extensions {
            let package = &self.packages[*p];
            let Some(ext) = package
                .extensions
                .iter()
                .find(|e| &e.class_name == class_name)
            else {
                continue;
            };
            let (path, style) = match &ext.origin {
                Some(o) => (o.path.clone(), o.style),
                None => (
                    folder(package)?.join(extension_file_name(class_name)?),
                    package_style(&self.original, package),
                ),
            };
            let before = self.original[*p]
                .extensions
                .iter()
                .find(|e| &e.class_name == class_name && e.origin.is_some())
                .and_then(|e| writer::write_extension_file(e).ok());
            if ext.methods.is_empty() {
                files.push(FileEdit {
                    path,
                    text: None,
                    restyled: false,
                });
            } else {
                files.push(edit(
                    path,
                    before,
                    writer::write_extension_file_in(ext, style)?,
                ));
            }
        }
        for p in &self.tagged {
            let package = &self.packages[*p];
            files.push(edit(
                folder(package)?.join("package.st"),
                Some(writer::write_package_file(&self.original[*p])),
                writer::write_package_file(package),
            ));
        }
        for path in self.deleted {
            files.push(FileEdit {
                path,
                text: None,
                restyled: false,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

/// The style a new file of `package` is written in: the one most of its class files as read
/// have (a package partly saved again by a newer Pharo mixes them; a tie goes to the file read
/// first), else its extension files' (v1 when they use symbols), else v3. The class-side word
/// stays the writer's choice for the new file's kind.
fn package_style(original: &[Package], package: &Package) -> TonelStyle {
    let Some(read) = original.iter().find(|p| p.name == package.name) else {
        return TonelStyle::default();
    };
    let classes = read.classes.iter().filter_map(|c| c.origin.as_ref());
    let extensions = read.extensions.iter().filter_map(|e| e.origin.as_ref());
    let mut counts: Vec<(TonelStyle, usize)> = Vec::new();
    for origin in classes {
        let style = TonelStyle {
            class_side: None,
            ..origin.style
        };
        match counts.iter_mut().find(|(s, _)| *s == style) {
            Some((_, n)) => *n += 1,
            None => counts.push((style, 1)),
        }
    }
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let voted = counts.into_iter().find(|(_, n)| *n == most).map(|(s, _)| s);
    voted
        .or_else(|| {
            extensions
                .map(|o| match o.style.symbol_names {
                    true => TonelStyle::V1,
                    false => TonelStyle::V3,
                })
                .next()
        })
        .unwrap_or_default()
}

fn folder(package: &Package) -> Result<PathBuf, PullError> {
    package
        .path
        .clone()
        .ok_or_else(|| PullError::NoFolder(package.name.clone()))
}

/// The new text of the file at `path`: the change between `before` and `after` (the writer's
/// text of the file's definitions before and after the pull) carried into the file as it is on
/// disk, so nothing else in it moves; when the file's text around the change is not the
/// writer's, the writer's whole text, marked `restyled`.
fn edit(path: PathBuf, before: Option<String>, after: String) -> FileEdit {
    let on_disk = std::fs::read_to_string(&path).ok();
    let (text, restyled) = match (&on_disk, &before) {
        (None, _) => (after, false),
        (Some(disk), Some(before)) => match splice(disk, before, &after) {
            Some(text) => (text, false),
            None => (after, true),
        },
        (Some(disk), None) => {
            let restyled = disk != &after;
            (after, restyled)
        }
    };
    FileEdit {
        path,
        text: Some(text),
        restyled,
    }
}

/// Applies the line changes from `before` to `after` onto `disk`, where `disk` differs from
/// `before` only elsewhere (another header style, say): every changed region of `before`, and
/// the line on each side of it, must appear in `disk` unchanged. `None` when they do not.
pub fn splice(disk: &str, before: &str, after: &str) -> Option<String> {
    use similar::{DiffOp, TextDiff};
    if disk == before {
        return Some(after.to_owned());
    }
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let file: Vec<&str> = disk.split_inclusive('\n').collect();
    // Where each line of `before` sits in the file, for lines the file has unchanged.
    let mut at: Vec<Option<usize>> = vec![None; old.len() + 1];
    at[old.len()] = Some(file.len());
    for op in TextDiff::from_slices(&old, &file).ops() {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = *op
        {
            for i in 0..len {
                at[old_index + i] = Some(new_index + i);
            }
        }
    }
    let mut out: Vec<&str> = Vec::with_capacity(file.len() + new.len());
    let mut copied = 0; // file lines consumed so far
    for op in TextDiff::from_slices(&old, &new).ops() {
        let (start, end, replacement) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index, old_len, ..
            } => (old_index, old_index + old_len, &new[0..0]),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, old_index, &new[new_index..new_index + new_len]),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (
                old_index,
                old_index + old_len,
                &new[new_index..new_index + new_len],
            ),
        };
        // The changed lines must be in the file, consecutive, and so must the line after them
        // (or the end of the file).
        let from = at[start]?;
        for (offset, i) in (start..end).enumerate() {
            if at[i]? != from + offset {
                return None;
            }
        }
        let to = from + (end - start);
        if at[end]? != to || from < copied {
            return None;
        }
        // ...and the line before them, so an insertion lands where the writer puts it.
        if start > 0 && at[start - 1]? + 1 != from {
            return None;
        }
        out.extend_from_slice(&file[copied..from]);
        out.extend_from_slice(replacement);
        copied = to;
    }
    out.extend_from_slice(&file[copied..]);
    Some(out.concat())
}
