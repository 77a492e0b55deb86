//! The Tonel engine: reads Tonel repositories (every format version Pharo has written) into the
//! shared [`crate::model`], writes it back in the style of the file it was read from (v3, as
//! Pharo 12/13 write it, for new files; see [`crate::model::TonelStyle`]), and exports chunk
//! format (file-in) for old Squeak images ([`chunk`]).
//!
//! # Layout on disk
//!
//! A repository is a directory holding one folder per package (usually `src/`), optionally with a
//! `.properties` file (`{ #format : #tonel }`). Each package folder has one file per class
//! (`Foo.class.st`), trait (`TFoo.trait.st`) and extended class (`Bar.extension.st`), and
//! usually a `package.st` (`Package { #name : 'Pkg', #tags : [ 'Core' ] }`); like Pharo's
//! `TonelReader`, a folder without one is the package named after the folder. Folders with
//! neither (scripts, documentation) are skipped and listed ([`crate::model::Repository::skipped`]);
//! hidden files and folders (`.Foo.class.st`, macOS `._Foo.class.st`) are ignored.
//!
//! [`read_repository`] accepts the package directory itself, a repository root containing
//! `src/` (or the directory named by `srcDirectory` in `.project`, `''` meaning the root), or a
//! single package folder. Repositories that hold one package per dialect may define a class in
//! several packages; that is checked only among packages used together
//! ([`duplicate_definitions`]).
//!
//! # File grammar
//!
//! ```text
//! file      := ws [ '"' comment '"' ] ws Type ws ston-map ws { method ws }
//! Type      := 'Class' | 'Trait' | 'Extension' | 'Package'
//! method    := [ ston-map ws ] ClassName [ ws ('class' | 'classSide') ] ws '>>' ws pattern ws '[' body ']'
//! ```
//!
//! Comments may stand anywhere in a method's pattern (`at: i "the slot" put: v [`): Pharo's
//! `extractSelector:` strips them to find the selector; they stay in the source.
//!
//! Headers are STON (parsed by [`ston`]): v1 writes symbols (`#name : #Foo`,
//! `#category : #'Foo-Core'`, `{ #category : #accessing }`), v2/v3 write strings and v3 adds
//! `#package` / `#tag`. Hand-written files may omit the space before a key's colon
//! (`{ #category: 'x' }`; `:` is not a STON symbol character). A v1/v2 `#category` is split
//! into package and tag as `TonelReader>>ensurePackagesAndTagsOfDefinitions:` does, ignoring
//! case: equal to the package, it is the package (keeping its own spelling); `Package-Tag`
//! gives the tag; naming another package is an error, as in Pharo. The class comment has `""`
//! for `"`.
//!
//! Method bodies are delimited with Smalltalk's lexical rules, not by counting brackets:
//! strings (`'it''s ]'`), comments (`"]"`), character literals (`$]`, `$'`, `$"`, `$$`),
//! symbols (`#'a]'`, `#+`), literal arrays (`#( ] #[ foo: )`, where only parentheses nest) and
//! byte arrays (`#[1 2]`) are skipped as units.
//!
//! # Method source: Pharo's rule
//!
//! The source handed to the compiler is what Pharo's `TonelParser` builds
//! (`TonelParser>>method`, `cleanSelector:`, `TonelSourceScanner>>scan` and
//! `removeFrom:enclosingStart:end:clean: #right`):
//!
//! 1. **Declaration**: the text between `>>` and the body's `[`, with exactly ONE trailing space
//!    removed (if there is one) and leading separators trimmed. So `Foo >> at: i put: v [` gives
//!    `at: i put: v`; a tab or newline before `[` is kept.
//! 2. **Body**: the text after `[` up to the matching `]`, untouched on the left (the newline
//!    right after `[` stays), and cleaned on the right: walking back from `]`, separators are
//!    dropped until ONE line ending has been dropped or a non-separator is met. So
//!    `[\n\t^ 1\n]` gives `\n\t^ 1`, `[\n\t^ 1 \n\t\n]` gives `\n\t^ 1 \n\t` and `[ ^ 1 ]` gives
//!    ` ^ 1`. Pharo counts the platform line ending's length; we count a `\r\n` pair as one line
//!    ending on every platform.
//! 3. **source = declaration + body**, with line endings normalised to `\n` (Pharo converts them
//!    to its internal CR; [`crate::model::same_text`] treats both as equal).
//!
//! The writer is the inverse (`TonelWriter>>writeMethodDefinition:`): it splits the source after
//! the method's pattern, parsed for the method's own selector (so a first statement such as
//! `via1:= b` is never taken for a keyword), and writes `Class >> declaration [body\n]`, so
//! `read(write(m)) == m`. A method it cannot write that way (a source that declares another
//! selector, a body whose brackets or quotes do not balance) is refused with a
//! [`WriteError`] rather than written as something else. Because the declaration and body are contiguous
//! file text except for that one space, line N of `source` is file line
//! `source_first_body_line + N - 2` ([`crate::model::MethodSpan`]).
//!
//! Class comments follow the same clean on both sides (`TonelCommentScanner`).

pub mod chunk;
pub mod file_name;
mod names;
mod reader;
mod repository;
pub mod ston;
mod text;
mod writer;

use std::path::{Path, PathBuf};

use crate::model::{ClassDef, Extension, Package};

pub use names::name_errors;
pub use repository::{duplicate_definitions, locate_packages_dir, read_repository};
pub use writer::{
    WriteError, write_class_file, write_class_file_in, write_extension_file,
    write_extension_file_in, write_package_file, write_repository,
};

/// A Tonel syntax error with the file position it was found at.
///
/// Displays as `path:line:col: message`, where the message says what was expected and what was
/// found, so editors and terminals can jump to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct TonelError {
    /// The file the error is in.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What was expected, what was found.
    pub message: String,
}

/// What one Tonel file defines.
// One value per file, moved straight into the repository: boxing the class would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedFile {
    /// A `Class { ... }` or `Trait { ... }` file with its methods.
    Class(ClassDef),
    /// An `Extension { ... }` file.
    Extension(Extension),
    /// A `package.st`: name and tags only (no classes).
    Package(Package),
}

/// Parses one Tonel file. The file kind comes from its content (`Class`, `Trait`, `Extension`,
/// `Package`), not its name.
///
/// For v1/v2 class files (no `#package`), the class's `package` is the whole `#category` and
/// `tag` is `None`; [`read_repository`] splits the category using the folder's package name.
pub fn parse_file(path: &Path, text: &str) -> Result<ParsedFile, TonelError> {
    reader::parse(path, text).map(|p| p.file)
}
