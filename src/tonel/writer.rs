//! Tonel v3 writer: produces what Pharo 12/13's `TonelWriter` writes (tab indentation, STON
//! strings, `#category` + `#package` + `#tag`, class-side methods first, each side sorted by
//! selector, `Class >> declaration [body\n]`).
//!
//! For a file Pharo wrote, `write(read(file))` is byte-identical; for any model whose method
//! sources start with their method pattern, `read(write(model)) == model` (spans aside).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::ston::write_string;
use super::text::{is_binary_char, is_ident_char, is_ident_start, is_separator};
use crate::model::{ClassDef, ClassKind, Extension, MethodDef, Package, Repository, Side};

/// The text of a `Foo.class.st` / `TFoo.trait.st` file.
pub fn write_class_file(class: &ClassDef) -> String {
    let mut out = String::with_capacity(
        256 + class
            .methods
            .iter()
            .map(|m| m.source.len() + 64)
            .sum::<usize>(),
    );
    if let Some(comment) = class.comment.as_deref().filter(|c| !c.is_empty()) {
        out.push_str("\"\n");
        out.push_str(&comment.replace('"', "\"\""));
        out.push_str("\n\"\n");
    }
    let is_trait = class.kind == ClassKind::Trait;
    out.push_str(if is_trait { "Trait {\n" } else { "Class {\n" });
    let mut fields: Vec<(&str, Field)> = vec![("name", Field::Text(&class.name))];
    if !is_trait {
        fields.push((
            "superclass",
            Field::Text(class.superclass.as_deref().unwrap_or("nil")),
        ));
    }
    if let Some(layout) = &class.layout {
        fields.push(("type", Field::Text(layout)));
    }
    if let Some(t) = &class.traits {
        fields.push(("traits", Field::Text(t)));
    }
    if let Some(t) = &class.class_traits {
        fields.push(("classTraits", Field::Text(t)));
    }
    for (key, names) in [
        ("instVars", &class.inst_vars),
        ("classVars", &class.class_vars),
        ("pools", &class.pools),
        ("classInstVars", &class.class_inst_vars),
    ] {
        if !names.is_empty() {
            fields.push((key, Field::List(names)));
        }
    }
    let category = class.category();
    fields.push(("category", Field::Text(&category)));
    fields.push(("package", Field::Text(&class.package)));
    if let Some(tag) = class.tag.as_deref().filter(|t| !t.is_empty()) {
        fields.push(("tag", Field::Text(tag)));
    }
    write_fields(&mut out, &fields);
    out.push_str("}\n");
    let owner = match (class.kind, &class.name) {
        (ClassKind::Trait, name) => (name.as_str(), "classSide"),
        (ClassKind::Class, name) => (name.as_str(), "class"),
    };
    write_methods(&mut out, &class.methods, Some(owner));
    out
}

/// The text of a `Bar.extension.st` file.
pub fn write_extension_file(ext: &Extension) -> String {
    let mut out = String::new();
    out.push_str("Extension { #name : ");
    write_string(&mut out, &ext.class_name);
    out.push_str(" }\n");
    write_methods(&mut out, &ext.methods, None);
    out
}

/// The text of a `package.st` file.
pub fn write_package_file(package: &Package) -> String {
    let mut out = String::new();
    if package.tags.is_empty() {
        out.push_str("Package { #name : ");
        write_string(&mut out, &package.name);
        out.push_str(" }\n");
        return out;
    }
    out.push_str("Package {\n\t#name : ");
    write_string(&mut out, &package.name);
    out.push_str(",\n\t#tags : [ ");
    for (i, tag) in package.tags.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(&mut out, tag);
    }
    out.push_str(" ]\n}\n");
    out
}

/// Writes a whole repository under `dir` (the package directory, e.g. `src/`): `.properties`,
/// then one folder per package. Stale `.st` files in those folders are removed, as Pharo does
/// when it rewrites a package.
pub fn write_repository(repo: &Repository, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_file(&dir.join(".properties"), "{\n\t#format : #tonel\n}")?;
    for package in &repo.packages {
        let pdir = dir.join(&package.name);
        std::fs::create_dir_all(&pdir).with_context(|| format!("creating {}", pdir.display()))?;
        for entry in
            std::fs::read_dir(&pdir).with_context(|| format!("reading {}", pdir.display()))?
        {
            let path = entry
                .with_context(|| format!("reading {}", pdir.display()))?
                .path();
            if path.extension().is_some_and(|e| e == "st") {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        write_file(&pdir.join("package.st"), &write_package_file(package))?;
        for class in &package.classes {
            let suffix = match class.kind {
                ClassKind::Class => "class",
                ClassKind::Trait => "trait",
            };
            write_file(
                &pdir.join(format!("{}.{suffix}.st", class.name)),
                &write_class_file(class),
            )?;
        }
        for ext in &package.extensions {
            write_file(
                &pdir.join(format!("{}.extension.st", ext.class_name)),
                &write_extension_file(ext),
            )?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

enum Field<'a> {
    Text(&'a str),
    List(&'a [String]),
}

/// STON pretty-printing as Pharo does it: one key per line, lists one item per line.
fn write_fields(out: &mut String, fields: &[(&str, Field)]) {
    for (i, (key, value)) in fields.iter().enumerate() {
        let _ = write!(out, "\t#{key} : ");
        match value {
            Field::Text(t) => write_string(out, t),
            Field::List(items) => {
                out.push_str("[\n");
                for (j, item) in items.iter().enumerate() {
                    out.push_str("\t\t");
                    write_string(out, item);
                    out.push_str(if j + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str("\t]");
            }
        }
        out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
    }
}

/// Methods as Pharo orders them: class side first, then instance side, each sorted by
/// selector (byte order, like Pharo's `String>>#<`).
fn write_methods(out: &mut String, methods: &[MethodDef], owner: Option<(&str, &str)>) {
    let mut sorted: Vec<&MethodDef> = methods.iter().collect();
    sorted.sort_by(|a, b| {
        (a.side != Side::Class, &a.selector).cmp(&(b.side != Side::Class, &b.selector))
    });
    for m in sorted {
        out.push_str("\n{ #category : ");
        write_string(out, &m.protocol);
        out.push_str(" }\n");
        let class_name = owner.map(|(n, _)| n).unwrap_or(&m.class_name);
        out.push_str(class_name);
        if m.side == Side::Class {
            out.push(' ');
            out.push_str(owner.map(|(_, s)| s).unwrap_or("class"));
        }
        out.push_str(" >> ");
        let (decl, body) = split_source(&m.source);
        out.push_str(decl);
        out.push_str(" [");
        out.push_str(body);
        out.push_str("\n]\n");
    }
}

/// Splits a method source into its declaration (the method pattern) and the body after it,
/// like `TonelWriter>>splitMethodSource:into:`. A source that does not start with a pattern
/// is split after its first line, so nothing is lost.
pub(crate) fn split_source(source: &str) -> (&str, &str) {
    let b = source.as_bytes();
    let mut i = 0;
    while i < b.len() && is_separator(b[i]) {
        i += 1;
    }
    let start = i;
    match pattern_end(b, i) {
        Some(end) => (&source[start..end], &source[end..]),
        None => match source[start..].find('\n') {
            Some(nl) => (&source[start..start + nl], &source[start + nl..]),
            None => (&source[start..], ""),
        },
    }
}

fn ident_end(b: &[u8], i: usize) -> Option<usize> {
    if i < b.len() && is_ident_start(b[i]) {
        let mut j = i + 1;
        while j < b.len() && is_ident_char(b[j]) {
            j += 1;
        }
        Some(j)
    } else {
        None
    }
}

fn skip_separators(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_separator(b[i]) {
        i += 1;
    }
    i
}

fn pattern_end(b: &[u8], i: usize) -> Option<usize> {
    if let Some(e) = ident_end(b, i) {
        if b.get(e) != Some(&b':') {
            return Some(e);
        }
        let mut kw_end = e;
        loop {
            let arg = skip_separators(b, kw_end + 1);
            let arg_end = ident_end(b, arg)?;
            let next = skip_separators(b, arg_end);
            match ident_end(b, next) {
                Some(k) if b.get(k) == Some(&b':') => kw_end = k,
                _ => return Some(arg_end),
            }
        }
    }
    if i < b.len() && is_binary_char(b[i]) {
        let mut j = i;
        while j < b.len() && is_binary_char(b[j]) {
            j += 1;
        }
        let arg = skip_separators(b, j);
        return ident_end(b, arg);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_finds_every_pattern_shape() {
        assert_eq!(split_source("foo\n\t^ 1"), ("foo", "\n\t^ 1"));
        assert_eq!(split_source("+ other\n\t^ 1"), ("+ other", "\n\t^ 1"));
        assert_eq!(
            split_source("at: i\n\tput: v\n\t^ v"),
            ("at: i\n\tput: v", "\n\t^ v")
        );
        assert_eq!(split_source("at: i foo"), ("at: i", " foo"));
        assert_eq!(split_source("foo"), ("foo", ""));
    }

    #[test]
    fn package_file_with_and_without_tags() {
        let mut p = Package {
            name: "Sample".into(),
            ..Default::default()
        };
        assert_eq!(write_package_file(&p), "Package { #name : 'Sample' }\n");
        p.tags = vec!["Core".into(), "UI".into()];
        assert_eq!(
            write_package_file(&p),
            "Package {\n\t#name : 'Sample',\n\t#tags : [ 'Core', 'UI' ]\n}\n"
        );
    }
}
