//! The local side of a comparison: read the Tonel sources, keep the packages hotpatch owns, and
//! narrow them to the paths the user named (the editor hook pushes one file).

use crate::config::Config;
use crate::model::{MethodError, Package};
use crate::revision::Revision;
use crate::tonel::{self, TonelError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Why the local sources cannot be used. Nothing is sent to an image in either case.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Tonel syntax errors: every one in the repository, each `path:line:col: message`.
    #[error("{} error(s) in the Tonel sources; nothing was pushed", .0.len())]
    Tonel(Vec<TonelError>),
    /// Methods whose source is not valid Smalltalk ([`crate::syntax`]): every one, each at its
    /// `path:line:col`.
    #[error(
        "{} method(s) with syntax errors; nothing was sent to the image",
        .0.len()
    )]
    Syntax(Vec<MethodError>),
    /// Anything else (unreadable directory, unknown package, path outside the sources).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl SourceError {
    /// Every error, one `path:line:col: message` line each (none for [`SourceError::Other`]).
    pub fn lines(&self) -> Vec<String> {
        match self {
            SourceError::Tonel(errors) => errors.iter().map(ToString::to_string).collect(),
            SourceError::Syntax(errors) => errors.iter().map(ToString::to_string).collect(),
            SourceError::Other(_) => Vec::new(),
        }
    }

    /// The `kind` of its `--json` error object.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Syntax(_) => "syntax_errors",
            _ => "source_errors",
        }
    }

    /// The `errors` of its `--json` error object: each with its path, line and column.
    pub fn json_errors(&self) -> Vec<serde_json::Value> {
        match self {
            SourceError::Tonel(errors) => errors
                .iter()
                .map(|e| serde_json::json!({"path": e.path, "line": e.line, "column": e.column, "message": e.message}))
                .collect(),
            SourceError::Syntax(errors) => errors
                .iter()
                .map(|e| serde_json::to_value(e).unwrap_or_default())
                .collect(),
            SourceError::Other(_) => Vec::new(),
        }
    }
}

/// What part of the image a comparison covers.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Scope {
    /// Packages compared.
    pub packages: Vec<String>,
    /// When the user named files: only these classes (and extensions of them) are compared.
    pub classes: Option<Vec<String>>,
}

/// The local sources, narrowed to a scope.
#[derive(Debug, Clone)]
pub struct LocalSources {
    pub packages: Vec<Package>,
    pub scope: Scope,
    /// Every package hotpatch owns, whatever the scope: what the snapshot cache holds, so that
    /// a push of one file and a push of the whole project share one cached snapshot.
    pub owned: Vec<String>,
}

impl LocalSources {
    /// A digest of everything the comparison looks at (definitions, methods, scope), so that
    /// "these sources were in sync with the image at epoch E" can be recorded and recognised.
    /// Stable within one build of hotpatch; a new build only costs one full comparison.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.scope.packages.hash(&mut h);
        self.scope.classes.hash(&mut h);
        for p in &self.packages {
            p.name.hash(&mut h);
            for c in &p.classes {
                (c.kind as u8, &c.name, &c.superclass, &c.layout).hash(&mut h);
                (&c.inst_vars, &c.class_vars, &c.pools, &c.class_inst_vars).hash(&mut h);
                (&c.traits, &c.class_traits, &c.package, &c.tag, &c.comment).hash(&mut h);
                hash_methods(&c.methods, &mut h);
            }
            for e in &p.extensions {
                e.class_name.hash(&mut h);
                hash_methods(&e.methods, &mut h);
            }
        }
        format!("{:016x}", h.finish())
    }
}

fn hash_methods(methods: &[crate::model::MethodDef], h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    methods.len().hash(h);
    for m in methods {
        (
            &m.class_name,
            m.side as u8,
            &m.selector,
            &m.protocol,
            &m.source,
        )
            .hash(h);
    }
}

/// [`load`], then [`checked`]: what a push or a rebuild of the working tree reads.
pub fn load_checked(config: &Config, paths: &[PathBuf]) -> Result<LocalSources, SourceError> {
    checked(load(config, paths)?)
}

/// The syntax of every method of `local` ([`crate::syntax`]): a method the image's compiler
/// would refuse stops a push or a rebuild before anything is sent or built, with every such
/// method at its file position.
pub fn checked(local: LocalSources) -> Result<LocalSources, SourceError> {
    let errors = crate::syntax::check_packages(&local.packages);
    if !errors.is_empty() {
        return Err(SourceError::Syntax(errors));
    }
    Ok(local)
}

/// Reads the sources under `config.source` and narrows them to the owned packages and `paths`.
pub fn load(config: &Config, paths: &[PathBuf]) -> Result<LocalSources, SourceError> {
    load_from(
        config,
        &config.source,
        &config.source.display().to_string(),
        paths,
    )
}

/// Reads the owned packages as they are at a git commit (`push --ref`); every path in them and
/// in their errors is named as git names it (`COMMIT:src/P/Foo.class.st`).
pub fn load_revision(config: &Config, revision: &Revision) -> Result<LocalSources, SourceError> {
    let shown = revision.label(revision.source_dir()).display().to_string();
    let mut local = load_from(config, revision.source_dir(), &shown, &[]).map_err(|e| match e {
        SourceError::Tonel(mut errors) => {
            for error in &mut errors {
                error.path = revision.label(&error.path);
            }
            SourceError::Tonel(errors)
        }
        other => other,
    })?;
    for package in &mut local.packages {
        package.path = package.path.as_deref().map(|p| revision.label(p));
        let classes = package.classes.iter_mut().map(|c| &mut c.origin);
        let extensions = package.extensions.iter_mut().map(|e| &mut e.origin);
        for origin in classes.chain(extensions).flatten() {
            origin.path = revision.label(&origin.path);
        }
    }
    Ok(local)
}

/// Reads the sources under `source` (named `shown` in messages) and narrows them to the owned
/// packages and `paths`.
fn load_from(
    config: &Config,
    source: &Path,
    shown: &str,
    paths: &[PathBuf],
) -> Result<LocalSources, SourceError> {
    let (repo, errors) = tonel::read_repository(source).map_err(|e| {
        SourceError::Other(e.context(format!(
            "cannot read the Tonel sources at {shown} (set `source` in hotpatch.toml or pass --source)"
        )))
    })?;
    if !errors.is_empty() {
        return Err(SourceError::Tonel(errors));
    }
    let mut packages = owned_packages(repo.packages, &config.packages, shown)?;
    // Variants of one package for several dialects may define the same class; that clash only
    // matters among the packages pushed together.
    let mut refused = tonel::duplicate_definitions(&packages);
    // Every name held to the language's rule for its kind, all offenders listed at once.
    refused.extend(tonel::name_errors(&packages));
    if !refused.is_empty() {
        return Err(SourceError::Tonel(refused));
    }
    let owned: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    if paths.is_empty() {
        let scope = Scope {
            packages: owned.clone(),
            classes: None,
        };
        return Ok(LocalSources {
            packages,
            scope,
            owned,
        });
    }
    let selection = select(&packages, paths)?;
    packages.retain(|p| selection.packages.contains(&p.name));
    if let Some(classes) = &selection.classes {
        for p in &mut packages {
            p.classes.retain(|c| classes.contains(&c.name));
            p.extensions.retain(|e| classes.contains(&e.class_name));
        }
    }
    let scope = Scope {
        packages: packages.iter().map(|p| p.name.clone()).collect(),
        classes: selection.classes.map(|c| c.into_iter().collect()),
    };
    Ok(LocalSources {
        packages,
        scope,
        owned,
    })
}

fn owned_packages(
    all: Vec<Package>,
    owned: &[String],
    source: &str,
) -> Result<Vec<Package>, SourceError> {
    if owned.is_empty() {
        return Ok(all);
    }
    let found: BTreeSet<&str> = all.iter().map(|p| p.name.as_str()).collect();
    let absent: Vec<&str> = owned
        .iter()
        .map(String::as_str)
        .filter(|o| !found.contains(o))
        .collect();
    if !absent.is_empty() {
        return Err(SourceError::Other(anyhow::anyhow!(
            "package(s) {} listed in hotpatch.toml have no folder under {} (found: {}); pushing \
             would remove them from the image, so nothing was done",
            absent.join(", "),
            source,
            found.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(all
        .into_iter()
        .filter(|p| owned.contains(&p.name))
        .collect())
}

struct Selection {
    packages: BTreeSet<String>,
    /// `None` when only whole packages were named.
    classes: Option<BTreeSet<String>>,
}

/// Maps user-given paths (package folders or class/extension files) to packages and classes.
fn select(packages: &[Package], paths: &[PathBuf]) -> Result<Selection, SourceError> {
    let mut selected = Selection {
        packages: BTreeSet::new(),
        classes: None,
    };
    let mut whole_packages = BTreeSet::new();
    let mut classes = BTreeSet::new();
    for path in paths {
        let wanted = std::fs::canonicalize(path).map_err(|e| {
            SourceError::Other(anyhow::anyhow!("cannot use {}: {e}", path.display()))
        })?;
        if let Some(p) = packages
            .iter()
            .find(|p| p.path.as_deref().and_then(|d| d.canonicalize().ok()) == Some(wanted.clone()))
        {
            whole_packages.insert(p.name.clone());
            continue;
        }
        let mut hit = false;
        for p in packages {
            let defined = p.classes.iter().map(|c| (&c.name, &c.origin));
            let extended = p.extensions.iter().map(|e| (&e.class_name, &e.origin));
            for (name, origin) in defined.chain(extended) {
                let same = origin
                    .as_ref()
                    .and_then(|o| o.path.canonicalize().ok())
                    .is_some_and(|o| o == wanted);
                if same {
                    selected.packages.insert(p.name.clone());
                    classes.insert(name.clone());
                    hit = true;
                }
            }
        }
        if !hit {
            return Err(SourceError::Other(anyhow::anyhow!(
                "{} is neither a package folder nor a class, trait or extension file of the owned packages",
                path.display()
            )));
        }
    }
    // A whole package named beside single files: compare that package fully, the files' classes
    // only in theirs. A snapshot filter is per request, so fall back to whole packages.
    if whole_packages.is_empty() {
        selected.classes = Some(classes);
    } else {
        selected.packages.extend(whole_packages);
    }
    Ok(selected)
}
