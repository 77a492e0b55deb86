//! The Smalltalk method syntax, checked before anything is sent: a push whose sources hold a
//! method the image's compiler would refuse as a syntax error is refused by the client, with
//! every such method at its `file:line:col`, without connecting (issue 19).
//!
//! **What is accepted.** A method is accepted when Pharo, Squeak or Cuis would parse it: the
//! grammar is Pharo's `RBParser`/`RBScanner` (literal and byte arrays, scaled decimals `1.5s2`,
//! radix `16r1F`, exponents, negative literals, `#foo:bar:` and `#+` symbols, `{ }` arrays,
//! pragmas before and after the temporaries, cascades, binary selectors of any run of binary
//! characters), widened where another dialect reads more: `_` as assignment (Squeak and Cuis:
//! alone it is an assignment, touching a name it is part of it; Squeak up to 3.8: always an
//! assignment), `←` as assignment, `::` chains (`a foo: b :: bar`), `^` as a binary selector
//! and `` `0@0` `` compile-time values (Cuis), `# foo` with space after the `#` (Squeak, Cuis), a
//! minus before a number with space between (`x := - 4`, Squeak 2.x), statements after a
//! return (Pharo warns). Squeak 2.x accidents that no later dialect kept are refused: `#`
//! before a number or punctuation, control characters as binary selectors.
//!
//! **Where an error is.** Errors are placed, and worded, as Squeak's `Parser` (the CI image's
//! compiler) places them, so the client and the image name the same `line:col`
//! (`tests/syntax.rs` compares them on the real VM): at the token where that parser notices
//! the error, one error per method (the compilers stop at the first).
//!
//! Undeclared names, assignments to arguments and other semantic errors stay the image's to
//! judge. [`parse_method`] also gives the parse tree ([`ast`]), which the `pharo-check` tool
//! reads.

pub mod ast;
mod lexer;
mod parser;

use crate::model::{MethodDef, MethodError, Package};
use lexer::{Kind, Token, Underscore};
use parser::{Failure, Parser};
use rayon::prelude::*;
use std::path::PathBuf;

/// A syntax error in one method source, where Squeak's compiler reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} column {column}: {message}")]
pub struct SyntaxError {
    /// 1-based line in the method source (CR, LF and CR LF each end a line).
    pub line: u32,
    /// 1-based column, counting characters.
    pub column: u32,
    /// Byte offset in the source of the token the error is about.
    pub offset: usize,
    /// What was expected or is wrong, in the words of Squeak's compiler.
    pub message: &'static str,
}

/// Parses one method source (pattern first, as Tonel stores it).
pub fn parse_method(source: &str) -> Result<ast::Method<'_>, SyntaxError> {
    match parse(source) {
        Ok(method) => Ok(method),
        Err(Some(e)) => Err(e),
        Err(None) => Err(SyntaxError {
            line: 1,
            column: 1,
            offset: 0,
            message: "expressions nested too deeply to read",
        }),
    }
}

/// Checks one method source; `Ok` also when it is nested too deeply to check (the image
/// judges it then).
pub fn check_method(source: &str) -> Result<(), SyntaxError> {
    match parse(source) {
        Ok(_) | Err(None) => Ok(()),
        Err(Some(e)) => Err(e),
    }
}

/// Parses in each reading of `_` that the source could need, Pharo's first; the first that
/// parses wins. When none does, the error that comes latest in the source is the one reported
/// (the reading that got furthest is the one the author meant). `Err(None)`: too deep.
fn parse(source: &str) -> Result<ast::Method<'_>, Option<SyntaxError>> {
    let readings: &[Underscore] = if source.contains(['_', '←']) {
        &[
            Underscore::Letter,
            Underscore::Squeak,
            Underscore::Assignment,
        ]
    } else {
        &[Underscore::Letter]
    };
    let mut worst: Option<SyntaxError> = None;
    for &underscore in readings {
        let mut tokens = Vec::new();
        lexer::lex(source, underscore, &mut tokens);
        let mut parser = Parser::new(source, tokens);
        let parsed = parser.check_lookahead().and_then(|()| parser.method());
        match parsed {
            Ok(method) => return Ok(method),
            Err(Failure::TooDeep) => return Err(None),
            Err(failure) => {
                let error = locate(source, parser.tokens(), failure);
                if worst.as_ref().is_none_or(|w| error.offset > w.offset) {
                    worst = Some(error);
                }
            }
        }
    }
    Err(worst)
}

/// Where Squeak's parser reports `failure`: at the mark of the token it is about, the end of
/// the source for its end. Squeak's scanner marks a token that starts on the last character one
/// character early, and its `expected:` adds one when the next token is the end: both are kept,
/// so that the positions are the image's.
fn locate(source: &str, tokens: &[Token], failure: Failure) -> SyntaxError {
    let chars = source.chars().count();
    let marked = |offset: usize| {
        let index = source[..offset].chars().count() + 1;
        if index == chars && chars > 1 {
            index - 1
        } else {
            index
        }
    };
    let (position, offset, message) = match failure {
        Failure::Expected { token, message } => {
            let t = tokens[token];
            if t.kind == Kind::End {
                (chars + 1, source.len(), message)
            } else {
                let next = tokens[t.next.min(tokens.len() - 1)];
                let bump = usize::from(next.kind == Kind::End);
                (marked(t.mark) + bump, t.mark, message)
            }
        }
        Failure::Lexical { at, message } => (marked(at), at, message),
        Failure::TooDeep => (1, 0, "expressions nested too deeply to read"),
    };
    let (line, column) = line_and_column(source, position);
    SyntaxError {
        line,
        column,
        offset,
        message,
    }
}

/// The 1-based line and column of the 1-based character `position` (as the agent computes
/// them: `HpCompileResult>>lineAndColumnIn:`).
fn line_and_column(source: &str, position: usize) -> (u32, u32) {
    let mut line = 1u32;
    let mut column = 1u32;
    let before = position.saturating_sub(1);
    let mut chars = source.chars().take(before).peekable();
    while let Some(c) = chars.next() {
        if c == '\n' || c == '\r' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// Checks every method of `packages` (classes and extensions), in parallel; answers every
/// method that has a syntax error, in file and line order.
pub fn check_packages(packages: &[Package]) -> Vec<MethodError> {
    let methods: Vec<(&MethodDef, Option<&PathBuf>)> = packages
        .iter()
        .flat_map(|p| {
            let defined = p.classes.iter().flat_map(|c| {
                let path = c.origin.as_ref().map(|o| &o.path);
                c.methods.iter().map(move |m| (m, path))
            });
            let extended = p.extensions.iter().flat_map(|e| {
                let path = e.origin.as_ref().map(|o| &o.path);
                e.methods.iter().map(move |m| (m, path))
            });
            defined.chain(extended)
        })
        .collect();
    let mut errors: Vec<MethodError> = methods
        .par_iter()
        .filter_map(|&(method, path)| {
            let e = check_method(&method.source).err()?;
            let (line, column) = method.file_position(e.line, e.column);
            Some(MethodError {
                path: path.cloned(),
                line,
                column,
                method: method.key().to_string(),
                message: e.message.to_owned(),
            })
        })
        .collect();
    errors.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    errors
}

#[cfg(test)]
mod tests;
