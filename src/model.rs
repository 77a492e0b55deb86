//! The plain data both sides share: what a Tonel repository on disk holds and what the agent's
//! `snapshot` reports from a live image are both expressed as these types, so the diff compares
//! like with like.
//!
//! Spans (file positions) are only known for definitions read from disk; they are `None` for
//! definitions that came from an image, and they never take part in equality of definitions
//! (see [`MethodDef::same_definition`] and [`ClassDef::same_definition`]).

pub mod names;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A Tonel repository: the directory that holds one folder per package (usually `src/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Repository {
    /// The directory that was read.
    pub root: PathBuf,
    /// The Tonel format version declared in `.properties` (`#format : #tonel`, `#version: '1.0'` …),
    /// `None` when there is no `.properties` file.
    pub format: Option<String>,
    /// Packages in name order.
    pub packages: Vec<Package>,
    /// Folders beside the packages that are not Tonel packages (scripts, documentation), in
    /// name order: read past, not parsed.
    #[serde(default)]
    pub skipped: Vec<PathBuf>,
}

/// One package (a folder with a `package.st`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Package {
    /// Package name, e.g. `Sample-Core`.
    pub name: String,
    /// Tags declared in `package.st` (`#tags : [ 'Model' ]`), in file order.
    pub tags: Vec<String>,
    /// Class and trait definitions, in name order.
    pub classes: Vec<ClassDef>,
    /// Extension methods grouped by the class they extend, in class-name order.
    pub extensions: Vec<Extension>,
    /// The package folder on disk (`None` for packages from an image).
    pub path: Option<PathBuf>,
}

/// Whether a definition is a class or a trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassKind {
    #[default]
    Class,
    Trait,
}

/// A class or trait definition together with the methods its own file defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClassDef {
    pub kind: ClassKind,
    pub name: String,
    /// `None` for a root class (`#superclass : #nil`) and for traits.
    pub superclass: Option<String>,
    /// The `#type` / layout as Tonel writes it (`variable`, `bytes`, `words`, `weak`,
    /// `ephemeron`, `immediate`, `compiledMethod`, or a `...Layout` class name);
    /// `None` means a plain fixed-layout (pointers) class.
    pub layout: Option<String>,
    pub inst_vars: Vec<String>,
    pub class_vars: Vec<String>,
    pub pools: Vec<String>,
    pub class_inst_vars: Vec<String>,
    /// The trait composition as written (`'TFoo + TBar'`), if any.
    pub traits: Option<String>,
    /// The class-side trait composition as written, if any.
    pub class_traits: Option<String>,
    /// The package this class belongs to.
    pub package: String,
    /// The tag inside the package (the part after `Package-` in a system category), if any.
    pub tag: Option<String>,
    /// The class comment, unescaped; `None` when the file has none.
    pub comment: Option<String>,
    /// Methods defined in this class's file (both sides), in file order.
    pub methods: Vec<MethodDef>,
    /// Where this definition was read from (`None` for definitions from an image).
    pub origin: Option<Origin>,
}

/// Methods a package adds to a class it does not define.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Extension {
    /// The extended class (or trait) name.
    pub class_name: String,
    pub methods: Vec<MethodDef>,
    pub origin: Option<Origin>,
}

/// Instance side or class side of a class (`Foo >> bar` vs `Foo class >> bar`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    #[default]
    Instance,
    Class,
}

/// One method definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MethodDef {
    /// The class (or trait) the method is installed in, without ` class`.
    pub class_name: String,
    pub side: Side,
    pub selector: String,
    /// The protocol (method category), e.g. `accessing` or `*Sample-Extensions`.
    pub protocol: String,
    /// The exact source text handed to the compiler: header line plus body.
    pub source: String,
    /// Where the method sits in its file (`None` for methods from an image).
    pub span: Option<MethodSpan>,
}

/// A file position: 1-based line and column (column counts characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// Where a method's text sits in its Tonel file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MethodSpan {
    /// Start of the `Foo >> bar` header (after the metadata block).
    pub header: Pos,
    /// Position of the first character of the body, just after the opening `[`.
    pub body: Pos,
    /// Position of the closing `]`.
    pub end: Pos,
    /// The file line on which the method's `source` line 2 begins: line N of `source`
    /// (1-based) is file line `source_first_body_line + N - 2`. Lets compile errors reported
    /// against the method source be mapped back to the Tonel file.
    pub source_first_body_line: u32,
}

/// The file a definition was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Origin {
    pub path: PathBuf,
    /// Line of the `Class {` / `Trait {` / `Extension {` header.
    pub line: u32,
    /// How the file is written, so that it is written back the same way (not part of the JSON
    /// model: a detail of the file's text).
    #[serde(skip)]
    pub style: TonelStyle,
}

/// How a Tonel file is written, where the versions Pharo has written differ (v1: names and
/// categories as symbols, `#name : #Foo`, `{ #category : #accessing }`; v2: strings; v3:
/// strings and `#package`/`#tag` beside `#category`) and where writers of one version differ
/// (`Foo class >> bar` or `Foo classSide >> bar`). The default is what Pharo 12/13 write (v3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TonelStyle {
    /// `#name`, `#superclass` and `#type` (and an extension's `#name`) are symbols (v1).
    pub symbol_names: bool,
    /// A class's `#category` is written, and as a symbol (v1) or a string.
    pub category: Option<Quoting>,
    /// Method metadata names the protocol as a symbol, `{ #category : #accessing }` (v1).
    pub symbol_protocols: bool,
    /// Class definitions carry `#package` and `#tag` (v3).
    pub package_fields: bool,
    /// The word before `>>` of class-side methods; `None`: `classSide` in a trait's file,
    /// `class` everywhere else.
    pub class_side: Option<ClassSideWord>,
    /// How methods are sorted by selector (Pharo 9 compared selectors ignoring case).
    pub selector_order: SelectorOrder,
}

/// How a Tonel writer sorts methods by selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectorOrder {
    /// Byte order (`String>>#<` of Pharo 11 and later: `classNames` before `classes`).
    #[default]
    Bytes,
    /// ASCII case ignored, then byte order (Pharo 9 and earlier: `classes` before
    /// `classNames`).
    IgnoringCase,
}

/// How a text value is written in a Tonel header: `'text'` or `#text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    String,
    Symbol,
}

/// `Foo class >> bar` or `Foo classSide >> bar` (Pharo writes the latter for traits, and in
/// extension files for classes it did not have loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassSideWord {
    Class,
    ClassSide,
}

impl TonelStyle {
    /// Tonel v1 as Pharo 7–9 write it.
    pub const V1: TonelStyle = TonelStyle {
        symbol_names: true,
        category: Some(Quoting::Symbol),
        symbol_protocols: true,
        package_fields: false,
        class_side: None,
        selector_order: SelectorOrder::Bytes,
    };
    /// Tonel v2 (Pharo 10–11).
    pub const V2: TonelStyle = TonelStyle {
        symbol_names: false,
        category: Some(Quoting::String),
        symbol_protocols: false,
        package_fields: false,
        class_side: None,
        selector_order: SelectorOrder::Bytes,
    };
    /// Tonel v3 (Pharo 12–13).
    pub const V3: TonelStyle = TonelStyle {
        symbol_names: false,
        category: Some(Quoting::String),
        symbol_protocols: false,
        package_fields: true,
        class_side: None,
        selector_order: SelectorOrder::Bytes,
    };
}

impl Default for TonelStyle {
    fn default() -> TonelStyle {
        TonelStyle::V3
    }
}

/// Identity of a method across models: class, side, selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MethodKey {
    pub class_name: String,
    pub side: Side,
    pub selector: String,
}

impl std::fmt::Display for MethodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.side {
            Side::Instance => write!(f, "{}>>{}", self.class_name, self.selector),
            Side::Class => write!(f, "{} class>>{}", self.class_name, self.selector),
        }
    }
}

impl MethodDef {
    /// The method's identity.
    pub fn key(&self) -> MethodKey {
        MethodKey {
            class_name: self.class_name.clone(),
            side: self.side,
            selector: self.selector.clone(),
        }
    }

    /// Same definition, ignoring where it was read from and line-ending differences.
    pub fn same_definition(&self, other: &MethodDef) -> bool {
        self.class_name == other.class_name
            && self.side == other.side
            && self.selector == other.selector
            && self.protocol == other.protocol
            && same_text(&self.source, &other.source)
    }

    /// The file position of `line` and `column` of the method's source (1-based, as compilers
    /// report errors): line 1 is the declaration, which sits after `Foo >> ` on the header
    /// line; the other lines are the file's lines from `source_first_body_line` on. Without a
    /// span (a method not read from disk), the position in the source itself.
    pub fn file_position(&self, line: u32, column: u32) -> (u32, u32) {
        let Some(span) = self.span else {
            return (line, column);
        };
        if line >= 2 {
            return (span.source_first_body_line + line - 2, column);
        }
        let prefix = match self.side {
            Side::Instance => self.class_name.chars().count() + 4,
            Side::Class => self.class_name.chars().count() + 10,
        };
        let prefix = u32::try_from(prefix).unwrap_or(0);
        (
            span.header.line,
            span.header.column + prefix + column.saturating_sub(1),
        )
    }
}

/// An error in one definition (a syntax error the client found, a compile error or a refusal
/// the agent reported), placed in the Tonel file that defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodError {
    /// The file (`None` for a method not read from disk).
    pub path: Option<PathBuf>,
    /// 1-based line and column in the file (in the method source when there is no file);
    /// columns count characters.
    pub line: u32,
    pub column: u32,
    /// `Foo>>bar`, `Foo class>>bar`, or `class Foo` for a class definition.
    pub method: String,
    pub message: String,
}

impl std::fmt::Display for MethodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(
                f,
                "{}:{}:{}: {} (in {})",
                p.display(),
                self.line,
                self.column,
                self.message,
                self.method
            ),
            // A definition with no place of its own (a class the agent refuses to remove).
            None if self.line == 0 => write!(f, "{}: {}", self.method, self.message),
            None => write!(
                f,
                "{}: line {} column {}: {}",
                self.method, self.line, self.column, self.message
            ),
        }
    }
}

impl ClassDef {
    /// The system category Squeak and older Pharo use: `Package` or `Package-Tag`.
    pub fn category(&self) -> String {
        match &self.tag {
            Some(tag) if !tag.is_empty() => format!("{}-{}", self.package, tag),
            _ => self.package.clone(),
        }
    }

    /// Same class definition (shape, variables, category, comment), ignoring methods and origin.
    pub fn same_definition(&self, other: &ClassDef) -> bool {
        self.kind == other.kind
            && self.name == other.name
            && self.superclass == other.superclass
            && self.layout == other.layout
            && self.inst_vars == other.inst_vars
            // Class variables live in a dictionary: their order means nothing.
            && sorted(&self.class_vars) == sorted(&other.class_vars)
            && self.pools == other.pools
            && self.class_inst_vars == other.class_inst_vars
            && self.traits == other.traits
            && self.class_traits == other.class_traits
            && self.category() == other.category()
            && same_optional_text(&self.comment, &other.comment)
    }
}

impl Package {
    /// Every method of the package: class methods first, then extensions.
    pub fn methods(&self) -> impl Iterator<Item = &MethodDef> {
        self.classes
            .iter()
            .flat_map(|c| c.methods.iter())
            .chain(self.extensions.iter().flat_map(|e| e.methods.iter()))
    }
}

fn sorted(names: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

/// Text equality where `\r\n`, `\r` and `\n` count as the same line ending.
pub fn same_text(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    normalize_line_endings(a) == normalize_line_endings(b)
}

fn same_optional_text(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_text(a, b),
        (None, None) => true,
        // An empty comment and no comment are the same thing in an image.
        (Some(s), None) | (None, Some(s)) => s.is_empty(),
    }
}

/// Converts `\r\n` and lone `\r` to `\n`.
pub fn normalize_line_endings(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\r') {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_do_not_make_a_difference() {
        assert!(same_text("a\r\n\t^ 1", "a\n\t^ 1"));
        assert!(same_text("a\r\t^ 1", "a\n\t^ 1"));
        assert!(!same_text("a\n\t^ 1", "a\n\t^ 2"));
    }

    #[test]
    fn category_joins_package_and_tag() {
        let mut c = ClassDef {
            package: "Sample".into(),
            ..Default::default()
        };
        assert_eq!(c.category(), "Sample");
        c.tag = Some("Core".into());
        assert_eq!(c.category(), "Sample-Core");
    }

    #[test]
    fn class_variable_order_does_not_matter() {
        let a = ClassDef {
            name: "A".into(),
            class_vars: vec!["X".into(), "Y".into()],
            ..Default::default()
        };
        let mut b = a.clone();
        b.class_vars.reverse();
        assert!(a.same_definition(&b));
        b.class_vars.pop();
        assert!(!a.same_definition(&b));
    }

    #[test]
    fn empty_comment_equals_no_comment() {
        let a = ClassDef {
            name: "A".into(),
            comment: Some(String::new()),
            ..Default::default()
        };
        let b = ClassDef {
            name: "A".into(),
            ..Default::default()
        };
        assert!(a.same_definition(&b));
    }
}
