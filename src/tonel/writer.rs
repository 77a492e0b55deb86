//! Tonel writer: produces what Pharo's `TonelWriter` writes (tab indentation, class-side
//! methods first, each side sorted by selector, `Class >> declaration [body\n]`), in the style
//! of the file a definition was read from ([`TonelStyle`]: v1 symbols, v2 strings, v3 strings
//! with `#package` + `#tag`, `class` or `classSide`), and in v3, as Pharo 12/13 write it, for a
//! definition read from no file.
//!
//! For a file Pharo wrote, `write(read(file))` is byte-identical; for any model whose method
//! sources start with their method pattern, `read(write(model)) == model` (spans aside).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::file_name::{class_file_name, extension_file_name, package_folder_name};
use super::ston::{write_string, write_symbol};
use super::text::{
    find_body_end, is_binary_char, is_ident_char, is_ident_start, is_separator, skip_comment,
};
use crate::model::{
    ClassDef, ClassKind, ClassSideWord, Extension, MethodDef, Package, Quoting, Repository,
    SelectorOrder, Side, TonelStyle,
};

/// The text of a `Foo.class.st` / `TFoo.trait.st` file, in the style of the file it was read
/// from; an error when a method cannot be written without changing its selector or source (see
/// [`WriteError`]).
pub fn write_class_file(class: &ClassDef) -> Result<String, WriteError> {
    write_class_file_in(class, style_of(class.origin.as_ref()))
}

/// The style of the file `origin` names (v3 for a definition read from no file).
fn style_of(origin: Option<&crate::model::Origin>) -> TonelStyle {
    origin.map(|o| o.style).unwrap_or_default()
}

/// [`write_class_file`] in the given style.
pub fn write_class_file_in(class: &ClassDef, style: TonelStyle) -> Result<String, WriteError> {
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
    let name = |text| match style.symbol_names {
        true => Field::Symbol(text),
        false => Field::Text(text),
    };
    let mut fields: Vec<(&str, Field)> = vec![("name", name(&class.name))];
    if !is_trait {
        fields.push((
            "superclass",
            name(class.superclass.as_deref().unwrap_or("nil")),
        ));
    }
    if let Some(layout) = &class.layout {
        fields.push(("type", name(layout)));
    }
    let mut variables: Vec<(&str, Field)> = [
        ("instVars", &class.inst_vars),
        ("classVars", &class.class_vars),
        ("pools", &class.pools),
        ("classInstVars", &class.class_inst_vars),
    ]
    .into_iter()
    .filter(|(_, names)| !names.is_empty())
    .map(|(key, names)| (key, Field::List(names)))
    .collect();
    // `typeClassDefinitionOf:` writes the trait composition before the variables,
    // `typeTraitDefinitionOf:` after them.
    if is_trait {
        fields.append(&mut variables);
    }
    if let Some(t) = &class.traits {
        fields.push(("traits", Field::Text(t)));
    }
    if let Some(t) = &class.class_traits {
        fields.push(("classTraits", Field::Text(t)));
    }
    fields.append(&mut variables);
    let category = class.category();
    // Without `#package` the category is where the package and tag are; v3 files may omit it.
    let quoting = match style.category {
        None if !style.package_fields => Some(Quoting::String),
        quoting => quoting,
    };
    match quoting {
        Some(Quoting::Symbol) => fields.push(("category", Field::Symbol(&category))),
        Some(Quoting::String) => fields.push(("category", Field::Text(&category))),
        None => {}
    }
    if style.package_fields {
        fields.push(("package", Field::Text(&class.package)));
        if let Some(tag) = class.tag.as_deref().filter(|t| !t.is_empty()) {
            fields.push(("tag", Field::Text(tag)));
        }
    }
    write_fields(&mut out, &fields);
    out.push_str("}\n");
    let side = style.class_side.unwrap_or(match class.kind {
        ClassKind::Trait => ClassSideWord::ClassSide,
        ClassKind::Class => ClassSideWord::Class,
    });
    write_methods(&mut out, &class.methods, Some(&class.name), side, style)?;
    Ok(out)
}

/// The text of a `Bar.extension.st` file, in the style of the file it was read from (see
/// [`write_class_file`] for the error).
pub fn write_extension_file(ext: &Extension) -> Result<String, WriteError> {
    write_extension_file_in(ext, style_of(ext.origin.as_ref()))
}

/// [`write_extension_file`] in the given style.
pub fn write_extension_file_in(ext: &Extension, style: TonelStyle) -> Result<String, WriteError> {
    let mut out = String::new();
    out.push_str("Extension { #name : ");
    if style.symbol_names {
        write_symbol(&mut out, &ext.class_name);
    } else {
        write_string(&mut out, &ext.class_name);
    }
    out.push_str(" }\n");
    let side = style.class_side.unwrap_or(ClassSideWord::Class);
    write_methods(&mut out, &ext.methods, None, side, style)?;
    Ok(out)
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
/// when it rewrites a package. Every package and class name is checked before anything is
/// written (see [`super::file_name`]): a model may come from an image.
pub fn write_repository(repo: &Repository, dir: &Path) -> anyhow::Result<()> {
    for package in &repo.packages {
        package_folder_name(&package.name)?;
        for class in &package.classes {
            class_file_name(&class.name, class.kind)?;
        }
        for ext in &package.extensions {
            extension_file_name(&ext.class_name)?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_file(&dir.join(".properties"), "{\n\t#format : #tonel\n}")?;
    for package in &repo.packages {
        let pdir = dir.join(package_folder_name(&package.name)?);
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
            write_file(
                &pdir.join(class_file_name(&class.name, class.kind)?),
                &write_class_file(class)?,
            )?;
        }
        for ext in &package.extensions {
            write_file(
                &pdir.join(extension_file_name(&ext.class_name)?),
                &write_extension_file(ext)?,
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
    /// A symbol (Tonel v1 names and categories).
    Symbol(&'a str),
    List(&'a [String]),
}

/// STON pretty-printing as Pharo does it: one key per line, lists one item per line.
fn write_fields(out: &mut String, fields: &[(&str, Field)]) {
    for (i, (key, value)) in fields.iter().enumerate() {
        let _ = write!(out, "\t#{key} : ");
        match value {
            Field::Text(t) => write_string(out, t),
            Field::Symbol(t) => write_symbol(out, t),
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

/// Why a method cannot be written as Tonel: writing it would change what a reader gets back
/// (its selector or its source), so nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {class_name}{}>>{selector} as Tonel: {reason}", side_suffix(*side))]
pub struct WriteError {
    /// The method's class.
    pub class_name: String,
    /// Instance or class side.
    pub side: Side,
    /// The method's selector.
    pub selector: String,
    /// What is wrong with the source.
    pub reason: String,
}

fn side_suffix(side: Side) -> &'static str {
    match side {
        Side::Class => " class",
        Side::Instance => "",
    }
}

/// Methods as Pharo orders them: in a class file, class side first, then instance side, each
/// sorted by selector (`TonelWriter>>writeClassSideMethodDefinitions:` and its instance-side
/// twin); in an extension file by selector alone, both sides mixed
/// (`writeExtensionMethods:className:`). Selectors compare in byte order, like Pharo 11+'s
/// `String>>#<` (ASCII, case-sensitive; UTF-8 byte order is code point order), or ignoring
/// case in a file Pharo 9 wrote (`style.selector_order`). `owner`: the
/// class a class file defines (`None` in an extension file); `side`: the word of class-side
/// methods.
fn write_methods(
    out: &mut String,
    methods: &[MethodDef],
    owner: Option<&str>,
    side: ClassSideWord,
    style: TonelStyle,
) -> Result<(), WriteError> {
    let mut sorted: Vec<&MethodDef> = methods.iter().collect();
    let order = style.selector_order;
    if owner.is_some() {
        sorted.sort_by(|a, b| {
            (a.side != Side::Class)
                .cmp(&(b.side != Side::Class))
                .then_with(|| compare_selectors(&a.selector, &b.selector, order))
        });
    } else {
        sorted.sort_by(|a, b| compare_selectors(&a.selector, &b.selector, order));
    }
    for m in sorted {
        let (decl, body) = split_method(m)?;
        out.push_str("\n{ #category : ");
        if style.symbol_protocols {
            write_symbol(out, &m.protocol);
        } else {
            write_string(out, &m.protocol);
        }
        out.push_str(" }\n");
        out.push_str(owner.unwrap_or(&m.class_name));
        if m.side == Side::Class {
            out.push_str(match side {
                ClassSideWord::Class => " class",
                ClassSideWord::ClassSide => " classSide",
            });
        }
        out.push_str(" >> ");
        out.push_str(decl);
        out.push_str(" [");
        out.push_str(body);
        out.push_str("\n]\n");
    }
    Ok(())
}

/// Two selectors in `order`.
fn compare_selectors(a: &str, b: &str, order: SelectorOrder) -> std::cmp::Ordering {
    match order {
        SelectorOrder::Bytes => a.cmp(b),
        SelectorOrder::IgnoringCase => {
            let lower = |s: &str| {
                s.bytes()
                    .map(|c| c.to_ascii_lowercase())
                    .collect::<Vec<_>>()
            };
            lower(a).cmp(&lower(b)).then_with(|| a.cmp(b))
        }
    }
}

/// The order the methods of a file (in file order) are sorted in: byte order when every
/// neighbour pair (of one side, in a class file) agrees with it, else ignoring case when every
/// pair agrees with that, else byte order (a file sorted by neither was edited by hand).
pub(crate) fn selector_order_of(methods: &[MethodDef], class_file: bool) -> SelectorOrder {
    let pairs = || {
        methods
            .windows(2)
            .filter(move |w| !class_file || w[0].side == w[1].side)
    };
    let sorted_by =
        |order| pairs().all(|w| compare_selectors(&w[0].selector, &w[1].selector, order).is_le());
    if !sorted_by(SelectorOrder::Bytes) && sorted_by(SelectorOrder::IgnoringCase) {
        SelectorOrder::IgnoringCase
    } else {
        SelectorOrder::Bytes
    }
}

/// Splits a method's source into the declaration written before `[` and the body written
/// inside, checking that a reader gets the same selector and source back.
fn split_method(m: &MethodDef) -> Result<(&str, &str), WriteError> {
    let fail = |reason: String| WriteError {
        class_name: m.class_name.clone(),
        side: m.side,
        selector: m.selector.clone(),
        reason,
    };
    if ident_end(m.class_name.as_bytes(), 0) != Some(m.class_name.len()) {
        return Err(fail(format!(
            "the class name '{}' is not an identifier",
            m.class_name
        )));
    }
    let (decl, body) = split_source(&m.source, &m.selector).map_err(fail)?;
    // The reader finds the body's end with Smalltalk's lexical rules: a body with an
    // unterminated string or comment, or an unbalanced ']', would swallow or lose text.
    let framed = format!("[{body}\n]");
    match find_body_end(framed.as_bytes(), 0) {
        Ok(end) if end == framed.len() - 1 => Ok((decl, body)),
        Ok(_) => Err(fail(
            "the body has a ']' that closes it early (an unbalanced bracket outside strings and \
             comments)"
                .to_string(),
        )),
        Err(e) => Err(fail(format!("the body cannot be delimited: {}", e.message))),
    }
}

/// Splits a method source into its declaration (the method pattern for `selector`, with any
/// comments between its parts) and the body after it, as `TonelWriter>>splitMethodSource:into:`
/// does: the declaration ends after the last argument (unary: the selector). The pattern is
/// parsed for the given selector, so a first statement that looks like a keyword
/// (`via1:= b`, `at: 1 put: 2`) is never taken for part of it. Leading separators are not
/// written (Pharo's reader trims them too). A source whose pattern is not `selector`'s is
/// refused: written, it would read back as another method.
pub(crate) fn split_source<'s>(
    source: &'s str,
    selector: &str,
) -> Result<(&'s str, &'s str), String> {
    let b = source.as_bytes();
    let start = skip_separators(b, 0);
    let end = pattern_end(b, start, selector).ok_or_else(|| {
        let first_line = source[start..].lines().next().unwrap_or("");
        format!(
            "its source does not start with a pattern for #{selector} (it starts '{first_line}')"
        )
    })?;
    Ok((&source[start..end], &source[end..]))
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

/// Skips separators and whole comments; `None` at an unterminated comment.
fn skip_trivia(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = skip_separators(b, i);
        if b.get(i) != Some(&b'"') {
            return Some(i);
        }
        i = skip_comment(b, i).ok()?;
    }
}

/// The end of the method pattern for `selector` starting at `i` (comments may precede it and
/// stand between its parts), or `None` when the source declares something else.
fn pattern_end(b: &[u8], i: usize, selector: &str) -> Option<usize> {
    let i = skip_trivia(b, i)?;
    let sel = selector.as_bytes();
    if sel.first().copied().is_some_and(is_binary_char) {
        if !sel.iter().all(|&c| is_binary_char(c)) || !b[i..].starts_with(sel) {
            return None;
        }
        let after = i + sel.len();
        if b.get(after).copied().is_some_and(is_binary_char) {
            return None;
        }
        return ident_end(b, skip_trivia(b, after)?);
    }
    if !selector.ends_with(':') {
        let end = ident_end(b, i)?;
        return (&b[i..end] == sel && b.get(end) != Some(&b':')).then_some(end);
    }
    let mut at = i;
    let mut end = None;
    for keyword in selector.split_terminator(':') {
        at = skip_trivia(b, at)?;
        let kw_end = ident_end(b, at)?;
        if &b[at..kw_end] != keyword.as_bytes() || b.get(kw_end) != Some(&b':') {
            return None;
        }
        let arg_end = ident_end(b, skip_trivia(b, kw_end + 1)?)?;
        end = Some(arg_end);
        at = arg_end;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(source: &str, selector: &str) -> (String, String) {
        let (d, b) = split_source(source, selector).unwrap_or_else(|e| panic!("{e}"));
        (d.to_string(), b.to_string())
    }

    fn pair(d: &str, b: &str) -> (String, String) {
        (d.to_string(), b.to_string())
    }

    #[test]
    fn split_finds_every_pattern_shape() {
        assert_eq!(split("size\n\t^ 3", "size"), pair("size", "\n\t^ 3"));
        assert_eq!(split("- other\n\t^ 1", "-"), pair("- other", "\n\t^ 1"));
        assert_eq!(split("== x ^ true", "=="), pair("== x", " ^ true"));
        assert_eq!(
            split("key: k\n\tvalue: v\n\t^ v", "key:value:"),
            pair("key: k\n\tvalue: v", "\n\t^ v")
        );
        assert_eq!(split("key: k foo", "key:"), pair("key: k", " foo"));
        assert_eq!(split("size", "size"), pair("size", ""));
        // No space after the colons, nor before the body.
        assert_eq!(split("x:a y:b^a", "x:y:"), pair("x:a y:b", "^a"));
        // A dot right after the last argument or the selector stays in the body.
        assert_eq!(split("- n.\n\t^ 7", "-"), pair("- n", ".\n\t^ 7"));
        assert_eq!(
            split("low: l high: h.", "low:high:"),
            pair("low: l high: h", ".")
        );
        assert_eq!(split("reset.", "reset"), pair("reset", "."));
        // Leading separators are not part of the declaration (Pharo's reader trims them).
        assert_eq!(split("\n  size ^ 3", "size"), pair("size", " ^ 3"));
    }

    #[test]
    fn split_takes_argument_names_that_look_like_keywords_as_arguments() {
        // Each argument is named like the next keyword.
        assert_eq!(
            split("p: q q: r r: s ^ 7", "p:q:r:"),
            pair("p: q q: r r: s", " ^ 7")
        );
        // The first statement is an assignment with no space before `:=`: it is body, not a
        // third keyword (an earlier writer declared this method as `from:`).
        assert_eq!(
            split("from: a via: b\n\tvia1:= b.\n\t^ a", "from:via:"),
            pair("from: a via: b", "\n\tvia1:= b.\n\t^ a")
        );
        // The first statement is a keyword message to a variable.
        assert_eq!(
            split("at: i put: v dict at: i put: v", "at:put:"),
            pair("at: i put: v", " dict at: i put: v")
        );
        assert_eq!(split("value value: 3", "value"), pair("value", " value: 3"));
    }

    #[test]
    fn split_keeps_comments_inside_the_declaration() {
        assert_eq!(
            split("at: i \"the slot\" put: v\n\t^ v", "at:put:"),
            pair("at: i \"the slot\" put: v", "\n\t^ v")
        );
        assert_eq!(
            split("at: \"index\" i\n\"more\"\nput: v ^ v", "at:put:"),
            pair("at: \"index\" i\n\"more\"\nput: v", " ^ v")
        );
        // A comment after the last argument, or after a unary selector, is body.
        assert_eq!(split("size \"n\" ^ 3", "size"), pair("size", " \"n\" ^ 3"));
        assert_eq!(split("+ \"sum\" x ^ x", "+"), pair("+ \"sum\" x", " ^ x"));
        // A comment before the pattern stays with it.
        assert_eq!(
            split("\"from a diff\"\nname: s\n\tname := s", "name:"),
            pair("\"from a diff\"\nname: s", "\n\tname := s")
        );
    }

    #[test]
    fn split_refuses_a_source_that_declares_another_selector() {
        for (source, selector) in [
            ("named: s\n\t^ s", "name"),
            ("name\n\t^ 1", "name:"),
            ("at: i\n\t^ i", "at:put:"),
            ("+ x", "-"),
            ("++ x", "+"),
            ("", "foo"),
            ("\"open comment", "foo"),
        ] {
            let e = split_source(source, selector).unwrap_err();
            assert!(e.contains(selector), "{source:?}: {e}");
        }
    }

    fn method(selector: &str, side: Side, protocol: &str, source: &str) -> MethodDef {
        MethodDef {
            class_name: "Gadget".into(),
            side,
            selector: selector.into(),
            protocol: protocol.into(),
            source: source.into(),
            span: None,
        }
    }

    #[test]
    fn methods_are_written_as_pharo_writes_them() {
        let class = ClassDef {
            name: "Gadget".into(),
            superclass: Some("Object".into()),
            package: "Gadgets".into(),
            methods: vec![
                method("-", Side::Instance, "arithmetic", "- n.\n\t^ 7"),
                method("low:high:", Side::Instance, "x", "low: l high: h.\n\t^ 7"),
                method(
                    "=",
                    Side::Instance,
                    "comparing",
                    "= other\n\t^ self == other",
                ),
                method("kind", Side::Class, "naming", "kind\n\t^ #gadget"),
            ],
            ..Default::default()
        };
        let text = write_class_file(&class).unwrap();
        assert_eq!(
            text,
            "Class {\n\t#name : 'Gadget',\n\t#superclass : 'Object',\n\t#category : 'Gadgets',\n\
             \t#package : 'Gadgets'\n}\n\
             \n{ #category : 'naming' }\nGadget class >> kind [\n\t^ #gadget\n]\n\
             \n{ #category : 'arithmetic' }\nGadget >> - n [.\n\t^ 7\n]\n\
             \n{ #category : 'comparing' }\nGadget >> = other [\n\t^ self == other\n]\n\
             \n{ #category : 'x' }\nGadget >> low: l high: h [.\n\t^ 7\n]\n"
        );
    }

    #[test]
    fn class_definition_with_every_field_in_pharo_order() {
        let class = ClassDef {
            name: "Gadget".into(),
            superclass: Some("Object".into()),
            layout: Some("variable".into()),
            traits: Some("TOne + TTwo".into()),
            class_traits: Some("TOne classTrait + TTwo classTrait".into()),
            inst_vars: vec!["p".into(), "q".into()],
            class_vars: vec!["Shared".into()],
            pools: vec!["Constants".into()],
            class_inst_vars: vec!["registry".into()],
            package: "Gadgets".into(),
            tag: Some("Model".into()),
            comment: Some("I am a \"gadget\".".into()),
            ..Default::default()
        };
        assert_eq!(
            write_class_file(&class).unwrap(),
            "\"\nI am a \"\"gadget\"\".\n\"\nClass {\n\t#name : 'Gadget',\n\t#superclass : 'Object',\n\
             \t#type : 'variable',\n\t#traits : 'TOne + TTwo',\n\
             \t#classTraits : 'TOne classTrait + TTwo classTrait',\n\
             \t#instVars : [\n\t\t'p',\n\t\t'q'\n\t],\n\t#classVars : [\n\t\t'Shared'\n\t],\n\
             \t#pools : [\n\t\t'Constants'\n\t],\n\t#classInstVars : [\n\t\t'registry'\n\t],\n\
             \t#category : 'Gadgets-Model',\n\t#package : 'Gadgets',\n\t#tag : 'Model'\n}\n"
        );
    }

    #[test]
    fn trait_definition_writes_variables_before_the_composition() {
        let t = ClassDef {
            kind: ClassKind::Trait,
            name: "TCounting".into(),
            traits: Some("TBase".into()),
            class_traits: Some("TBase classTrait".into()),
            inst_vars: vec!["count".into()],
            class_inst_vars: vec!["instances".into()],
            package: "Gadgets".into(),
            methods: vec![MethodDef {
                class_name: "TCounting".into(),
                ..method("reset", Side::Class, "init", "reset\n\tinstances := 0")
            }],
            ..Default::default()
        };
        assert_eq!(
            write_class_file(&t).unwrap(),
            "Trait {\n\t#name : 'TCounting',\n\t#instVars : [\n\t\t'count'\n\t],\n\
             \t#classInstVars : [\n\t\t'instances'\n\t],\n\t#traits : 'TBase',\n\
             \t#classTraits : 'TBase classTrait',\n\t#category : 'Gadgets',\n\
             \t#package : 'Gadgets'\n}\n\
             \n{ #category : 'init' }\nTCounting classSide >> reset [\n\tinstances := 0\n]\n"
        );
    }

    #[test]
    fn extension_methods_are_sorted_by_selector_with_both_sides_mixed() {
        let ext = Extension {
            class_name: "Gadget".into(),
            methods: vec![
                method("zoom", Side::Instance, "*Gadgets", "zoom"),
                method("beta", Side::Class, "*Gadgets", "beta"),
                method("alpha", Side::Instance, "*Gadgets", "alpha"),
            ],
            origin: None,
        };
        assert_eq!(
            write_extension_file(&ext).unwrap(),
            "Extension { #name : 'Gadget' }\n\
             \n{ #category : '*Gadgets' }\nGadget >> alpha [\n]\n\
             \n{ #category : '*Gadgets' }\nGadget class >> beta [\n]\n\
             \n{ #category : '*Gadgets' }\nGadget >> zoom [\n]\n"
        );
    }

    #[test]
    fn a_method_that_cannot_be_written_exactly_is_refused() {
        let class = |m: MethodDef| ClassDef {
            name: "Gadget".into(),
            package: "Gadgets".into(),
            methods: vec![m],
            ..Default::default()
        };
        let cases = [
            method("name", Side::Instance, "", "named: s ^ s"),
            method("foo", Side::Instance, "", "foo ^ 'open string"),
            method("foo", Side::Instance, "", "foo ^ 1 ] extra ["),
            method("foo", Side::Instance, "", "foo \"open comment"),
        ];
        for m in cases {
            let e = write_class_file(&class(m.clone())).unwrap_err();
            assert_eq!(e.selector, m.selector);
            assert!(e.to_string().starts_with("cannot write Gadget>>"), "{e}");
        }
        let mut m = method("foo", Side::Instance, "", "foo");
        m.class_name = "Not A Name".into();
        let ext = Extension {
            class_name: "Not A Name".into(),
            methods: vec![m],
            origin: None,
        };
        assert!(write_extension_file(&ext).is_err());
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
