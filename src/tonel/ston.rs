//! The subset of STON (Smalltalk Object Notation) that Tonel headers use: maps, lists, symbols,
//! strings, `nil`/`true`/`false` and numbers. Parsed as a grammar, not with regexes, so quoted
//! keys, escapes and nesting all work.
//!
//! Strings accept both STON backslash escapes (`\'`, `\\`, `\n`, `\uXXXX` …, what Pharo's STON
//! writer produces) and Smalltalk-style doubled quotes (`''`, seen in hand-written files).

use std::borrow::Cow;

use super::text::{describe, is_separator};

/// A parsed STON value. Text borrows from the parsed bytes unless it had to be unescaped, so a
/// header costs no allocation per key or value.
#[derive(Debug, Clone, PartialEq)]
pub enum Ston<'a> {
    Nil,
    Bool(bool),
    /// A number kept as written (`42`, `-3`, `1.5`, `16r1F`).
    Number(Cow<'a, str>),
    Str(Cow<'a, str>),
    Symbol(Cow<'a, str>),
    List(Vec<Ston<'a>>),
    /// Key/value pairs in file order.
    Map(Vec<(Ston<'a>, Ston<'a>)>),
}

impl<'a> Ston<'a> {
    /// The text of a string or symbol (`'foo'` and `#foo` both give `foo`); `nil` gives `None`.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Ston::Str(s) | Ston::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a map by its text (`#name` and `'name'` are the same key).
    pub fn get(&self, key: &str) -> Option<&Ston<'a>> {
        match self {
            Ston::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A STON syntax error at a byte offset of the input given to [`parse_value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StonError {
    pub offset: usize,
    pub message: String,
}

/// Parses one STON value starting at `start` (leading whitespace allowed); returns the value
/// and the offset just after it.
pub fn parse_value(bytes: &[u8], start: usize) -> Result<(Ston<'_>, usize), StonError> {
    let mut p = Parser { bytes, i: start };
    let v = p.value(0)?;
    Ok((v, p.i))
}

struct Parser<'a> {
    bytes: &'a [u8],
    i: usize,
}

/// Deep nesting is never legitimate in a Tonel header; the cap keeps hostile input from
/// overflowing the stack.
const MAX_DEPTH: usize = 64;

impl<'a> Parser<'a> {
    fn err<T>(&self, at: usize, expected: &str) -> Result<T, StonError> {
        Err(StonError {
            offset: at,
            message: format!("expected {expected}, found {}", describe(self.bytes, at)),
        })
    }

    fn skip_ws(&mut self) {
        while self.i < self.bytes.len() {
            let b = self.bytes[self.i];
            if is_separator(b) {
                self.i += 1;
            } else if b == b'"' {
                // STON allows Smalltalk comments between tokens.
                match super::text::skip_comment(self.bytes, self.i) {
                    Ok(n) => self.i = n,
                    Err(_) => return,
                }
            } else {
                return;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Ston<'a>, StonError> {
        self.skip_ws();
        if depth > MAX_DEPTH {
            return self.err(self.i, "a less deeply nested value");
        }
        let Some(&b) = self.bytes.get(self.i) else {
            return self.err(self.i, "a STON value");
        };
        match b {
            b'{' => self.map(depth),
            b'[' => self.list(depth),
            b'\'' => Ok(Ston::Str(self.string()?)),
            b'#' => self.symbol(),
            b'-' | b'0'..=b'9' => Ok(self.number()),
            _ if b.is_ascii_alphabetic() => {
                let start = self.i;
                while self.i < self.bytes.len() && self.bytes[self.i].is_ascii_alphanumeric() {
                    self.i += 1;
                }
                match &self.bytes[start..self.i] {
                    b"nil" => Ok(Ston::Nil),
                    b"true" => Ok(Ston::Bool(true)),
                    b"false" => Ok(Ston::Bool(false)),
                    _ => self.err(
                        start,
                        "a STON value (map, list, string, symbol, number, nil)",
                    ),
                }
            }
            _ => self.err(
                self.i,
                "a STON value (map, list, string, symbol, number, nil)",
            ),
        }
    }

    fn map(&mut self, depth: usize) -> Result<Ston<'a>, StonError> {
        self.i += 1; // '{'
        let mut pairs = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Ston::Map(pairs));
        }
        loop {
            let key = self.value(depth + 1)?;
            self.skip_ws();
            if self.bytes.get(self.i) != Some(&b':') {
                return self.err(self.i, "':' after a map key");
            }
            self.i += 1;
            let val = self.value(depth + 1)?;
            pairs.push((key, val));
            self.skip_ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Ston::Map(pairs));
                }
                _ => return self.err(self.i, "',' or '}' in a map"),
            }
        }
    }

    fn list(&mut self, depth: usize) -> Result<Ston<'a>, StonError> {
        self.i += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Ston::List(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Ston::List(items));
                }
                _ => return self.err(self.i, "',' or ']' in a list"),
            }
        }
    }

    fn string(&mut self) -> Result<Cow<'a, str>, StonError> {
        let open = self.i;
        self.i += 1;
        // Nearly every string has no escape: borrow it.
        let rest: &'a [u8] = &self.bytes[self.i..];
        if let Some(len) = rest.iter().position(|&b| b == b'\'' || b == b'\\')
            && rest[len] == b'\''
            && rest.get(len + 1) != Some(&b'\'')
        {
            self.i += len + 1;
            return Ok(String::from_utf8_lossy(&rest[..len]));
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&b) = self.bytes.get(self.i) else {
                return Err(StonError {
                    offset: open,
                    message: "expected a closing quote for the string that starts here, found end of file"
                        .to_string(),
                });
            };
            match b {
                b'\'' => {
                    if self.bytes.get(self.i + 1) == Some(&b'\'') {
                        out.push(b'\'');
                        self.i += 2;
                    } else {
                        self.i += 1;
                        return Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()));
                    }
                }
                b'\\' => {
                    let esc_at = self.i;
                    let Some(&e) = self.bytes.get(self.i + 1) else {
                        return self.err(self.i + 1, "an escaped character");
                    };
                    self.i += 2;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'\'' | b'\\' | b'/' | b'"' => out.push(e),
                        b'u' => {
                            let hex = self
                                .bytes
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(c) = hex else {
                                return self.err(esc_at, "four hex digits after \\u");
                            };
                            self.i += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return self
                                .err(esc_at + 1, "a valid escape (\\' \\\\ \\n \\t \\r \\uXXXX)");
                        }
                    }
                }
                _ => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    fn symbol(&mut self) -> Result<Ston<'a>, StonError> {
        self.i += 1; // '#'
        if self.bytes.get(self.i) == Some(&b'\'') {
            return Ok(Ston::Symbol(self.string()?));
        }
        let start = self.i;
        while self.i < self.bytes.len() {
            let b = self.bytes[self.i];
            if b.is_ascii_alphanumeric()
                || b >= 0x80
                // STON's simple symbol characters (`STONReader>>isSimpleSymbolChar:`). `:` is
                // not one of them: `{ #category: 'x' }` is the key `#category`, then `:`.
                || matches!(b, b'_' | b'.' | b'/' | b'-')
            {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i == start {
            return self.err(start, "a symbol name after '#'");
        }
        Ok(Ston::Symbol(String::from_utf8_lossy(
            &self.bytes[start..self.i],
        )))
    }

    fn number(&mut self) -> Ston<'a> {
        let start = self.i;
        self.i += 1;
        while self.i < self.bytes.len()
            && (self.bytes[self.i].is_ascii_alphanumeric()
                || matches!(self.bytes[self.i], b'.' | b'-'))
        {
            self.i += 1;
        }
        Ston::Number(String::from_utf8_lossy(&self.bytes[start..self.i]))
    }
}

/// Writes a STON string literal the way Pharo's STON writer does (`'` and `\` escaped with a
/// backslash, control characters as `\n`, `\t`, …, everything else verbatim).
pub fn write_string(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// Writes a symbol the way Tonel v1 headers have them: `#accessing` when it is a letter
/// followed by letters and digits (ASCII), else `#` and a string literal (`#'Neo-JSON-Core'`,
/// `#'instance creation'`, `#'SDL_Color'`, `#'methodsFor:'`). That is what every file of
/// Pharo 9's and 11's own sources (Tonel v1) shows; STON's own writer would leave `-`, `_`, `.`
/// and `/` unquoted.
pub fn write_symbol(out: &mut String, s: &str) {
    out.push('#');
    let mut bytes = s.bytes();
    let plain = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric());
    if plain {
        out.push_str(s);
    } else {
        write_string(out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Ston<'_> {
        parse_value(s.as_bytes(), 0).unwrap().0
    }

    #[test]
    fn parses_tonel_headers_of_every_version() {
        let v1 = parse("{\n\t#name : #Foo,\n\t#superclass : #nil,\n\t#category : #'Foo-Core'\n}");
        assert_eq!(v1.get("name"), Some(&Ston::Symbol("Foo".into())));
        assert_eq!(v1.get("category").and_then(Ston::as_text), Some("Foo-Core"));
        let v3 = parse("{ #name : 'Foo', #instVars : [ 'a', 'b' ], #tag : 'T' }");
        assert_eq!(
            v3.get("instVars"),
            Some(&Ston::List(vec![
                Ston::Str("a".into()),
                Ston::Str("b".into())
            ]))
        );
    }

    #[test]
    fn strings_unescape_both_styles() {
        assert_eq!(parse(r"'it\'s'"), Ston::Str("it's".into()));
        assert_eq!(parse("'it''s'"), Ston::Str("it's".into()));
        assert_eq!(parse(r"'a\\b\nc\u00E9'"), Ston::Str("a\\b\ncé".into()));
    }

    #[test]
    fn scalars() {
        assert_eq!(parse("nil"), Ston::Nil);
        assert_eq!(parse("true"), Ston::Bool(true));
        assert_eq!(parse("-3"), Ston::Number("-3".into()));
        assert_eq!(parse("#'foo:bar:'"), Ston::Symbol("foo:bar:".into()));
        assert_eq!(
            parse("#Foo-Core.x/y_1"),
            Ston::Symbol("Foo-Core.x/y_1".into())
        );
    }

    #[test]
    fn a_colon_ends_a_symbol_so_keys_need_no_space_before_it() {
        // Hand-written and older files write `{ #category: 'x' }`: the key is `#category`.
        let v = parse("{ #category: 'accessing', #vars: [ #a, #b ], #uses: { #n: 42 } }");
        assert_eq!(v.get("category").and_then(Ston::as_text), Some("accessing"));
        assert_eq!(
            v.get("vars"),
            Some(&Ston::List(vec![
                Ston::Symbol("a".into()),
                Ston::Symbol("b".into())
            ]))
        );
        assert_eq!(
            v.get("uses").and_then(|u| u.get("n")),
            Some(&Ston::Number("42".into()))
        );
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse_value(b"{ #a : 1 #b : 2 }", 0).unwrap_err();
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("',' or '}'"), "{}", e.message);
        let e = parse_value(b"{ #a : 'x }", 0).unwrap_err();
        assert_eq!(e.offset, 7);
    }

    #[test]
    fn symbols_are_written_as_tonel_v1_files_have_them() {
        let written = |s: &str| {
            let mut out = String::new();
            write_symbol(&mut out, s);
            out
        };
        for (symbol, text) in [
            ("accessing", "#accessing"),
            ("NeoJSONWriter", "#NeoJSONWriter"),
            ("Foo2", "#Foo2"),
            ("at:put:", "#'at:put:'"),
            ("SDL_Color", "#'SDL_Color'"),
            ("+", "#'+'"),
            ("Neo-JSON-Core", "#'Neo-JSON-Core'"),
            ("instance creation", "#'instance creation'"),
            ("finding/searching", "#'finding/searching'"),
            ("*neo-json-core", "#'*neo-json-core'"),
            ("it's", "#'it\\'s'"),
            ("2d", "#'2d'"),
            ("", "#''"),
        ] {
            assert_eq!(written(symbol), text, "{symbol:?}");
        }
    }

    #[test]
    fn write_string_roundtrips() {
        for s in ["plain", "it's", "back\\slash", "nl\nx", "tab\t", "é∑"] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(parse(&out), Ston::Str(s.into()));
        }
    }
}
