//! Every name in a set of packages held to Smalltalk's rule for its kind
//! ([`crate::model::names`]), each offending one reported at its place in its Tonel file.
//!
//! The reader takes any text where Tonel has a string or a symbol; whether that text is a class
//! name, a class variable name or a selector is the language's business, checked here for the
//! packages a command uses together (as [`super::duplicate_definitions`] is). Files are read
//! again only to place an offending name: a clean repository costs one pass over the model.

use std::path::{Path, PathBuf};

use super::TonelError;
use super::text::LineIndex;
use crate::model::names::NameKind;
use crate::model::{ClassDef, Extension, MethodDef, Package, Side};

/// Every name in `packages` that breaks its kind's rule, as `path:line:col: <what> <name> of
/// <definition>: '<name>' is not a valid <kind> (<rule>)`, in file order.
pub fn name_errors(packages: &[Package]) -> Vec<TonelError> {
    let mut found = Vec::new();
    for package in packages {
        check_package(package, &mut found);
        for class in &package.classes {
            check_class(class, package, &mut found);
        }
        for extension in &package.extensions {
            check_extension(extension, &mut found);
        }
    }
    let mut files = Files::default();
    let mut errors: Vec<TonelError> = found.into_iter().map(|f| f.place(&mut files)).collect();
    errors.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    errors
}

/// A name that breaks its rule, and where to look for it.
struct Offence {
    path: PathBuf,
    /// The line from which the name is looked for (a definition's header).
    from_line: u32,
    /// The STON key whose value holds the name (`classVars`), when it sits in a header.
    key: Option<&'static [&'static str]>,
    name: String,
    /// `class variable electricConstant of PMConstant: '…' is not a valid …`.
    message: String,
}

impl Offence {
    /// The error at the name's place in its file (the definition's line when it cannot be
    /// found there: the file changed, or the name is spelt differently, as a legacy category).
    fn place(self, files: &mut Files) -> TonelError {
        let (line, column) = files
            .find(&self.path, self.from_line, self.key, &self.name)
            .unwrap_or((self.from_line.max(1), 1));
        TonelError {
            path: self.path,
            line,
            column,
            message: self.message,
        }
    }
}

fn check_package(package: &Package, found: &mut Vec<Offence>) {
    let Some(dir) = &package.path else { return };
    let file = dir.join("package.st");
    let path = if file.is_file() { file } else { dir.clone() };
    let mut check = |kind: NameKind, name: &str, what: &str, key: &'static [&'static str]| {
        if let Some(problem) = kind.problem(name) {
            found.push(Offence {
                path: path.clone(),
                from_line: 1,
                key: Some(key),
                name: name.to_owned(),
                message: format!("{what} of package {}: {problem}", package.name),
            });
        }
    };
    check(NameKind::Package, &package.name, "the name", &["name"]);
    for tag in &package.tags {
        check(NameKind::Tag, tag, "a tag", &["tags"]);
    }
}

fn check_class(class: &ClassDef, package: &Package, found: &mut Vec<Offence>) {
    let Some(origin) = &class.origin else { return };
    let mut check = |kind: NameKind, name: &str, what: &str, key: &'static [&'static str]| {
        if let Some(problem) = kind.problem(name) {
            found.push(Offence {
                path: origin.path.clone(),
                from_line: origin.line,
                key: Some(key),
                name: name.to_owned(),
                message: format!("{what} of {}: {problem}", class.name),
            });
        }
    };
    check(NameKind::Class, &class.name, "the name", &["name"]);
    if let Some(superclass) = &class.superclass {
        check(
            NameKind::Class,
            superclass,
            "the superclass",
            &["superclass"],
        );
    }
    for var in class.inst_vars.iter().map(|v| slot_name(v)) {
        check(
            NameKind::InstanceVariable,
            var,
            &format!("instance variable {var}"),
            &["instVars", "slots"],
        );
    }
    for var in &class.class_vars {
        check(
            NameKind::ClassVariable,
            var,
            &format!("class variable {var}"),
            &["classVars"],
        );
    }
    for pool in &class.pools {
        check(NameKind::Pool, pool, &format!("pool {pool}"), &["pools"]);
    }
    for var in class.class_inst_vars.iter().map(|v| slot_name(v)) {
        check(
            NameKind::ClassInstanceVariable,
            var,
            &format!("class-instance variable {var}"),
            &["classInstVars", "classSlots"],
        );
    }
    // A bad package name is reported once, at package.st.
    if class.package != package.name {
        check(
            NameKind::Package,
            &class.package,
            "the package",
            &["package", "category"],
        );
    }
    if let Some(tag) = &class.tag {
        check(NameKind::Tag, tag, "the tag", &["tag", "category"]);
    }
    check_methods(&class.methods, &origin.path, found);
}

/// The variable a Pharo slot definition declares (`#count`, `#x => ObservableSlot` from
/// `#slots`): its name is what the rule applies to; the slot class is Pharo's business.
fn slot_name(var: &str) -> &str {
    match var.strip_prefix('#') {
        Some(slot) => slot.split_whitespace().next().unwrap_or(slot),
        None => var,
    }
}

fn check_extension(extension: &Extension, found: &mut Vec<Offence>) {
    let Some(origin) = &extension.origin else {
        return;
    };
    if let Some(problem) = NameKind::Class.problem(&extension.class_name) {
        found.push(Offence {
            path: origin.path.clone(),
            from_line: origin.line,
            key: Some(&["name"]),
            name: extension.class_name.clone(),
            message: format!("the extended class: {problem}"),
        });
    }
    check_methods(&extension.methods, &origin.path, found);
}

fn check_methods(methods: &[MethodDef], path: &Path, found: &mut Vec<Offence>) {
    for method in methods {
        let Some(span) = method.span else { continue };
        let name = method_name(method);
        if let Some(problem) = NameKind::Selector.problem(&method.selector) {
            found.push(Offence {
                path: path.to_path_buf(),
                from_line: span.header.line,
                key: None,
                name: String::new(),
                message: format!("the selector of {name}: {problem}"),
            });
        }
        if let Some(problem) = NameKind::Protocol.problem(&method.protocol) {
            // The `{ #category : … }` line just above the method.
            found.push(Offence {
                path: path.to_path_buf(),
                from_line: span.header.line.saturating_sub(2).max(1),
                key: Some(&["category"]),
                name: method.protocol.clone(),
                message: format!("the protocol of {name}: {problem}"),
            });
        }
    }
}

fn method_name(m: &MethodDef) -> String {
    match m.side {
        Side::Instance => format!("{}>>{}", m.class_name, m.selector),
        Side::Class => format!("{} class>>{}", m.class_name, m.selector),
    }
}

/// The files offending names were found in, each read once.
#[derive(Default)]
struct Files {
    read: Vec<(PathBuf, Option<String>)>,
}

impl Files {
    fn text(&mut self, path: &Path) -> Option<&str> {
        let at = match self.read.iter().position(|(p, _)| p == path) {
            Some(at) => at,
            None => {
                self.read
                    .push((path.to_path_buf(), std::fs::read_to_string(path).ok()));
                self.read.len() - 1
            }
        };
        self.read[at].1.as_deref()
    }

    /// Line and column of `name` as the value of one of `keys` (`#classVars : [ 'a', 'b' ]`),
    /// looked for from `from_line` on; without keys (or a name), where the line starts.
    fn find(
        &mut self,
        path: &Path,
        from_line: u32,
        keys: Option<&[&str]>,
        name: &str,
    ) -> Option<(u32, u32)> {
        let text = self.text(path)?;
        let bytes = text.as_bytes();
        let lines = LineIndex::new(bytes);
        let start = nth_line_start(text, from_line)?;
        let found = match keys {
            Some(keys) if !name.is_empty() => keys
                .iter()
                .find_map(|key| key_at(text, start, key))
                .map(|after_key| {
                    value_at(text, after_key, name).unwrap_or_else(|| value_start(text, after_key))
                }),
            _ => None,
        };
        let at = found.unwrap_or(start);
        let pos = lines.pos(bytes, at);
        Some((pos.line, pos.column))
    }
}

/// The byte offset where 1-based line `line` starts.
fn nth_line_start(text: &str, line: u32) -> Option<usize> {
    if line <= 1 {
        return Some(0);
    }
    text.match_indices('\n')
        .nth(line as usize - 2)
        .map(|(at, _)| at + 1)
}

/// Just after the STON key `#key` (or `'key'`) at or after `from`.
fn key_at(text: &str, from: usize, key: &str) -> Option<usize> {
    [format!("#{key}"), format!("'{key}'")]
        .iter()
        .filter_map(|pattern| {
            text[from..]
                .match_indices(pattern.as_str())
                .find_map(|(at, m)| {
                    let end = from + at + m.len();
                    let next = text[end..].chars().next();
                    (!next.is_some_and(|c| c.is_alphanumeric() || c == '_')).then_some(end)
                })
        })
        .min()
}

/// Where the value after a key starts (past ` : ` and an opening quote or `#`): for a name
/// written differently from how it reads (escapes in a string).
fn value_start(text: &str, after_key: usize) -> usize {
    let rest = &text[after_key..];
    let skipped = rest.len()
        - rest
            .trim_start_matches(|c: char| c.is_whitespace() || c == ':')
            .trim_start_matches('#')
            .trim_start_matches('\'')
            .len();
    after_key + skipped
}

/// The offset of `name`'s first character where it is written as a string or symbol
/// (`'name'`, `#name`, `#'name'`) after `from`, within the value that follows the key (up to
/// the next `#key :` of the map, or its end).
fn value_at(text: &str, from: usize, name: &str) -> Option<usize> {
    let rest = &text[from..];
    let end = rest.find(['\n']).map_or(rest.len(), |line_end| {
        // A list may span lines: up to its closing bracket.
        if rest[..line_end].contains('[') && !rest[..line_end].contains(']') {
            rest.find(']').unwrap_or(rest.len())
        } else {
            line_end
        }
    });
    let value = &rest[..end];
    for quote in [format!("'{name}'"), format!("#{name}")] {
        for (at, m) in value.match_indices(quote.as_str()) {
            let after = value[at + m.len()..].chars().next();
            let complete = quote.starts_with('\'')
                || !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if complete {
                return Some(from + at + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with(files: &[(&str, &str)]) -> (PathBuf, Vec<Package>) {
        let dir = std::env::temp_dir().join(format!(
            "hotpatch-names-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let package = dir.join("Names-Core");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(
            package.join("package.st"),
            "Package { #name : 'Names-Core' }\n",
        )
        .unwrap();
        for (name, text) in files {
            std::fs::write(package.join(name), text).unwrap();
        }
        let (repo, errors) = crate::tonel::read_repository(&dir).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        (dir, repo.packages)
    }

    #[test]
    fn lower_case_class_variables_pass_and_every_bad_name_is_placed() {
        let (dir, packages) = repo_with(&[
            (
                "NamesConstants.class.st",
                "\"I hold constants.\"\nClass {\n\t#name : 'NamesConstants',\n\t#superclass : 'Object',\n\
                 \t#slots : [ '#unit', '#cached => ObservableSlot' ],\n\t#classVars : [\n\t\t'electricConstant',\n\t\t'Planck'\n\t],\n\t#package : 'Names-Core'\n}\n",
            ),
            (
                "NamesBad.class.st",
                "Class {\n\t#name : 'NamesBad',\n\t#superclass : 'Object',\n\
                 \t#instVars : [ 'ok', 'self' ],\n\t#classVars : [ 'two words' ],\n\
                 \t#pools : [ 'lowerPool' ],\n\t#package : 'Names-Core'\n}\n\n\
                 { #category : 'bad\\tprotocol' }\nNamesBad >> foo [\n\t^ 1\n]\n",
            ),
        ]);
        let errors = name_errors(&packages);
        let shown: Vec<String> = errors
            .iter()
            .map(|e| {
                format!(
                    "{}:{}:{}: {}",
                    e.path.file_name().unwrap().to_string_lossy(),
                    e.line,
                    e.column,
                    e.message
                )
            })
            .collect();
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(
            shown[0].starts_with(
                "NamesBad.class.st:4:23: instance variable self of NamesBad: 'self' is not a valid \
                 instance variable name"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with(
                "NamesBad.class.st:5:18: class variable two words of NamesBad: 'two words' is not \
                 a valid class variable name"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[2].starts_with("NamesBad.class.st:6:14: pool lowerPool of NamesBad:"),
            "{shown:#?}"
        );
        assert!(
            shown[3].starts_with("NamesBad.class.st:10:16: the protocol of NamesBad>>foo:"),
            "{shown:#?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
