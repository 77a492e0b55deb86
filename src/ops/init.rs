//! `hotpatch init`: a starting `hotpatch.toml` for the project in a directory, filled in from
//! what the directory holds: the Tonel source folder an Iceberg `.project` names (else the first
//! usual folder that holds packages), the packages found there, and `.hotpatch/` (the snapshot
//! cache) added to the `.gitignore` of a git work tree.

use std::path::{Path, PathBuf};

use crate::config::{FILE_NAME, template};
use crate::tonel::ston::{self, Ston};

/// Folders a Tonel project keeps its packages in when no `.project` says: Iceberg's default,
/// then the older Metacello habit.
const USUAL_SOURCE_FOLDERS: [&str; 2] = ["src", "repository"];

/// The line `init` adds to `.gitignore`.
const IGNORE_LINE: &str = ".hotpatch/";

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already exists; use --force to overwrite it")]
    Exists(PathBuf),
    #[error("{path}: {message} (Iceberg writes it as {{ 'srcDirectory' : 'src' }})")]
    BadProjectFile { path: PathBuf, message: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the configured source folder came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFrom {
    /// `srcDirectory` of the Iceberg `.project` file.
    ProjectFile,
    /// The first usual folder that holds Tonel packages.
    Found,
    /// Nothing found: Iceberg's default, `src`.
    Default,
}

/// What `.gitignore` needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gitignore {
    /// Not in a git work tree: nothing to ignore.
    NotGit,
    /// The file already ignores the cache.
    AlreadyIgnored(PathBuf),
    /// The line was added (the file was created when missing).
    Added(PathBuf),
}

/// What `init` wrote.
#[derive(Debug, Clone)]
pub struct Initialized {
    pub config: PathBuf,
    /// The source folder, relative to the configuration (as written).
    pub source: String,
    pub source_from: SourceFrom,
    /// The packages written as owned (sorted; `BaselineOf…`/`ConfigurationOf…` left out).
    pub packages: Vec<String>,
    pub gitignore: Gitignore,
}

/// Writes `hotpatch.toml` into `dir` (refusing to replace one unless `force`) and makes git
/// ignore the cache.
pub fn init(dir: &Path, force: bool) -> Result<Initialized, InitError> {
    let config = dir.join(FILE_NAME);
    if config.exists() && !force {
        return Err(InitError::Exists(config));
    }
    let (source, source_from) = source_folder(dir)?;
    let packages = packages_in(&dir.join(&source));
    let text = template(&source, &packages);
    write_atomically(&config, &text)?;
    let gitignore = ignore_cache(dir)?;
    Ok(Initialized {
        config,
        source,
        source_from,
        packages,
        gitignore,
    })
}

/// The source folder: `.project`'s `srcDirectory`, else the first usual folder holding
/// packages, else `src`.
fn source_folder(dir: &Path) -> Result<(String, SourceFrom), InitError> {
    let project = dir.join(".project");
    match std::fs::read(&project) {
        Ok(bytes) => return Ok((src_directory(&project, &bytes)?, SourceFrom::ProjectFile)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(InitError::Io {
                action: "read",
                path: project,
                source,
            });
        }
    }
    for name in USUAL_SOURCE_FOLDERS {
        if !packages_in(&dir.join(name)).is_empty() {
            return Ok((name.to_owned(), SourceFrom::Found));
        }
    }
    Ok(("src".to_owned(), SourceFrom::Default))
}

/// `srcDirectory` of an Iceberg `.project` file (STON: `{ 'srcDirectory' : 'src' }`); an empty
/// one means the project's root.
fn src_directory(path: &Path, bytes: &[u8]) -> Result<String, InitError> {
    let bad = |message: String| InitError::BadProjectFile {
        path: path.to_owned(),
        message,
    };
    let (value, _) = ston::parse_value(bytes, 0)
        .map_err(|e| bad(format!("not STON at byte {}: {}", e.offset, e.message)))?;
    if !matches!(value, Ston::Map(_)) {
        return Err(bad("not a map".into()));
    }
    match value.get("srcDirectory") {
        None => Ok(".".to_owned()),
        Some(v) => match v.as_text() {
            Some("") => Ok(".".to_owned()),
            Some(text) if is_relative_folder(text) => Ok(text.to_owned()),
            Some(text) => Err(bad(format!(
                "srcDirectory {text:?} is not a folder inside the project"
            ))),
            None => Err(bad("srcDirectory is not a string".into())),
        },
    }
}

/// A relative path that stays inside the project (no root, no `..`).
fn is_relative_folder(text: &str) -> bool {
    let path = Path::new(text);
    !text.contains('\0')
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// The Tonel packages in `source` (folders holding a `package.st`), sorted, without the
/// Metacello project descriptions (`BaselineOf…`, `ConfigurationOf…`), which load code rather
/// than being code the application runs.
fn packages_in(source: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(source) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("package.st").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !n.starts_with("BaselineOf") && !n.starts_with("ConfigurationOf"))
        .collect();
    names.sort();
    names
}

/// Adds `.hotpatch/` to the `.gitignore` beside the configuration when `dir` is in a git work
/// tree and nothing there ignores it yet.
fn ignore_cache(dir: &Path) -> Result<Gitignore, InitError> {
    if !in_git_work_tree(dir) {
        return Ok(Gitignore::NotGit);
    }
    let path = dir.join(".gitignore");
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(InitError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let ignored = old.lines().map(str::trim).any(|l| {
        matches!(
            l,
            ".hotpatch" | ".hotpatch/" | "/.hotpatch" | "/.hotpatch/" | ".hotpatch/*"
        )
    });
    if ignored {
        return Ok(Gitignore::AlreadyIgnored(path));
    }
    let mut text = old;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# hotpatch's snapshot cache (hotpatch init)\n");
    text.push_str(IGNORE_LINE);
    text.push('\n');
    write_atomically(&path, &text)?;
    Ok(Gitignore::Added(path))
}

/// Whether `dir` or a folder above it holds `.git` (a directory, or a file in a linked work
/// tree or submodule).
fn in_git_work_tree(dir: &Path) -> bool {
    let start = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    start.ancestors().any(|d| d.join(".git").exists())
}

/// Writes `text` to a temporary file beside `path` and renames it into place: a crash leaves
/// the old file or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> Result<(), InitError> {
    let io = |action, source| InitError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.hotpatch-{}", std::process::id()));
    std::fs::write(&temp, text).map_err(|e| io("write", e))?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io("replace", e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("hotpatch-init-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn an_iceberg_project_file_names_the_source_folder_and_its_packages_are_owned() {
        let s = Scratch::new("iceberg");
        s.file(".project", "{\n\t'srcDirectory' : 'code'\n}");
        s.file(
            "code/App-Core/package.st",
            "Package { #name : 'App-Core' }\n",
        );
        s.file("code/App-Web/package.st", "Package { #name : 'App-Web' }\n");
        s.file(
            "code/BaselineOfApp/package.st",
            "Package { #name : 'BaselineOfApp' }\n",
        );
        s.file("code/notes/readme.txt", "not a package");
        let done = init(&s.0, false).unwrap();
        assert_eq!(
            (done.source.as_str(), &done.source_from),
            ("code", &SourceFrom::ProjectFile)
        );
        assert_eq!(done.packages, ["App-Core", "App-Web"]);
        let config =
            crate::config::Config::from_str(&std::fs::read_to_string(&done.config).unwrap(), &s.0)
                .unwrap();
        assert_eq!(config.source, s.0.join("code"));
        assert_eq!(config.packages, ["App-Core", "App-Web"]);
        assert_eq!(done.gitignore, Gitignore::NotGit);
    }

    #[test]
    fn without_a_project_file_the_first_usual_folder_with_packages_is_taken() {
        let s = Scratch::new("found");
        s.file("src/README.md", "no packages here");
        s.file(
            "repository/Old-Core/package.st",
            "Package { #name : 'Old-Core' }\n",
        );
        let done = init(&s.0, false).unwrap();
        assert_eq!(
            (done.source.as_str(), &done.source_from),
            ("repository", &SourceFrom::Found)
        );
        let empty = Scratch::new("empty");
        let done = init(&empty.0, false).unwrap();
        assert_eq!(
            (done.source.as_str(), &done.source_from),
            ("src", &SourceFrom::Default)
        );
        assert!(done.packages.is_empty());
    }

    #[test]
    fn a_project_file_that_leaves_the_project_or_is_not_ston_writes_nothing() {
        for (name, text) in [
            ("escape", "{ 'srcDirectory' : '../elsewhere' }"),
            ("absolute", "{ 'srcDirectory' : '/etc' }"),
            ("garbage", "{ 'srcDirectory' : "),
        ] {
            let s = Scratch::new(name);
            s.file(".project", text);
            let e = init(&s.0, false).unwrap_err();
            assert!(matches!(e, InitError::BadProjectFile { .. }), "{name}: {e}");
            assert!(e.to_string().contains(".project"), "{e}");
            assert!(!s.0.join(FILE_NAME).exists(), "{name}");
        }
        let s = Scratch::new("root");
        s.file(".project", "{ 'srcDirectory' : '' }");
        assert_eq!(init(&s.0, false).unwrap().source, ".");
    }

    #[test]
    fn an_existing_configuration_is_kept_unless_forced() {
        let s = Scratch::new("exists");
        s.file(FILE_NAME, "source = \"mine\"\n");
        assert!(matches!(init(&s.0, false), Err(InitError::Exists(_))));
        assert_eq!(
            std::fs::read_to_string(s.0.join(FILE_NAME)).unwrap(),
            "source = \"mine\"\n"
        );
        init(&s.0, true).unwrap();
        assert!(
            std::fs::read_to_string(s.0.join(FILE_NAME))
                .unwrap()
                .contains("[targets.local]")
        );
    }

    #[test]
    fn in_a_git_work_tree_the_cache_is_ignored_once() {
        let s = Scratch::new("git");
        std::fs::create_dir_all(s.0.join(".git")).unwrap();
        s.file("app/.gitignore", "*.image");
        let app = s.0.join("app");
        let done = init(&app, false).unwrap();
        assert_eq!(done.gitignore, Gitignore::Added(app.join(".gitignore")));
        let text = std::fs::read_to_string(app.join(".gitignore")).unwrap();
        assert!(text.starts_with("*.image\n"), "{text}");
        assert_eq!(text.lines().filter(|l| *l == ".hotpatch/").count(), 1);
        let again = init(&app, true).unwrap();
        assert_eq!(
            again.gitignore,
            Gitignore::AlreadyIgnored(app.join(".gitignore"))
        );
        assert_eq!(
            std::fs::read_to_string(app.join(".gitignore")).unwrap(),
            text
        );
    }
}
