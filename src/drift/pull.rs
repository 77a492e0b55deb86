//! `pull`: the image's version of drifted definitions, written into the local Tonel files with
//! the engine's writer, so git shows the change and nothing else (for files in Pharo's style;
//! a file in another style is rewritten in it, and said so).
//!
//! Pure: [`plan_pull`] answers the files to write or delete with their new text; the caller
//! writes them.

use super::{DriftItem, DriftReport, Standing, Subject, Version};
use crate::model::{ClassDef, Extension, MethodDef, MethodKey, Package};
use crate::tonel::{self as writer, WriteError};
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// Whether the file existed and was not in the writer's style, so more than the pulled
    /// change moves in it.
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
    packages: Vec<Package>,
    /// Class files touched: (package index, class name).
    classes: BTreeMap<String, usize>,
    /// Extension files touched: (package index, class name).
    extensions: BTreeMap<(usize, String), ()>,
    /// Class files to delete.
    deleted: Vec<PathBuf>,
    /// Packages whose `package.st` gains a tag.
    tagged: Vec<usize>,
}

impl Work {
    fn new(local: &[Package]) -> Work {
        Work {
            packages: local.to_vec(),
            classes: BTreeMap::new(),
            extensions: BTreeMap::new(),
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
                let package = &mut self.packages[p];
                if let Some(tag) = def.tag.as_ref().filter(|t| !t.is_empty())
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
        let method = MethodDef {
            span: None,
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
        self.extensions.insert((p, key.class_name.clone()), ());
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
                        self.extensions.insert((p, ext.class_name.clone()), ());
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
            let path = match &class.origin {
                Some(o) => o.path.clone(),
                None => folder(package)?.join(format!("{name}.class.st")),
            };
            files.push(edit(path, writer::write_class_file(class)?));
        }
        for (p, class_name) in self.extensions.keys() {
            let package = &self.packages[*p];
            let Some(ext) = package
                .extensions
                .iter()
                .find(|e| &e.class_name == class_name)
            else {
                continue;
            };
            let path = match &ext.origin {
                Some(o) => o.path.clone(),
                None => folder(package)?.join(format!("{class_name}.extension.st")),
            };
            if ext.methods.is_empty() {
                files.push(FileEdit {
                    path,
                    text: None,
                    restyled: false,
                });
            } else {
                files.push(edit(path, writer::write_extension_file(ext)?));
            }
        }
        for p in &self.tagged {
            let package = &self.packages[*p];
            files.push(edit(
                folder(package)?.join("package.st"),
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

fn folder(package: &Package) -> Result<PathBuf, PullError> {
    package
        .path
        .clone()
        .ok_or_else(|| PullError::NoFolder(package.name.clone()))
}

/// A write of `text` to `path`, noting whether the file on disk is in another style than the
/// writer's (then more than the pulled change moves in it).
fn edit(path: PathBuf, text: String) -> FileEdit {
    let restyled = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| {
            let parsed = crate::tonel::parse_file(&path, &old).ok()?;
            let rewritten = rewrite(&parsed)?;
            Some(crate::model::normalize_line_endings(&old) != rewritten.as_str())
        })
        .unwrap_or(false);
    FileEdit {
        path,
        text: Some(text),
        restyled,
    }
}

/// What the writer makes of a file as it is on disk (to tell whether it is in the writer's style).
fn rewrite(parsed: &crate::tonel::ParsedFile) -> Option<String> {
    use crate::tonel::ParsedFile;
    match parsed {
        ParsedFile::Class(c) => writer::write_class_file(c).ok(),
        ParsedFile::Extension(e) => writer::write_extension_file(e).ok(),
        ParsedFile::Package(p) => Some(writer::write_package_file(p)),
    }
}
