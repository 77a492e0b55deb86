//! Parses one Tonel file (`.class.st`, `.trait.st`, `.extension.st`, `package.st`) into model
//! definitions. See the module doc of [`crate::tonel`] for the grammar and Pharo's body rule.

use std::path::Path;

use super::ston::{self, Ston};
use super::text::{
    LineIndex, clean_left, clean_right, contains_byte, count_byte, describe, find_body_end,
    is_binary_char, is_ident_char, is_ident_start, is_separator, to_lf_string,
};
use super::{ParsedFile, TonelError};
use crate::model::{
    ClassDef, ClassKind, ClassSideWord, Extension, MethodDef, MethodSpan, Origin, Package, Pos,
    Quoting, Side, TonelStyle,
};

/// What one file parse yields, plus the legacy category when the file predates `#package`
/// (Tonel v1/v2): the repository reader splits it into package and tag using the folder's
/// package name.
pub(crate) struct Parsed {
    pub file: ParsedFile,
    pub legacy_category: Option<String>,
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<Parsed, TonelError> {
    let mut p = FileParser::new(path, text);
    p.file()
}

struct FileParser<'a> {
    path: &'a Path,
    text: &'a str,
    bytes: &'a [u8],
    /// Full line index, built only for CR-containing files and for error positions.
    lines: std::cell::OnceCell<LineIndex>,
    /// Forward-only line cursor for LF files: positions are asked for in increasing order, so
    /// counting newlines since the previous position costs one pass over the file in total.
    cursor: std::cell::Cell<(usize, u32, usize)>,
    /// Whether the file has any `\r`; if not, sources are copied without line-ending work.
    has_cr: bool,
    i: usize,
    /// How the file is written, as far as read so far (see [`TonelStyle`]).
    style: TonelStyle,
    /// Whether a method's metadata has been seen (the first one says how protocols are written).
    protocol_seen: bool,
}

/// Where a method header's pieces sit.
struct Header<'s> {
    class_name: &'s str,
    side: Side,
    selector: String,
    /// Start of the declaration text (after `>>` and leading separators).
    decl_start: usize,
    /// End of the declaration text (Pharo drops one space before `[`).
    decl_end: usize,
    /// Offset of the body's `[`.
    open: usize,
}

impl<'a> FileParser<'a> {
    fn new(path: &'a Path, text: &'a str) -> FileParser<'a> {
        let bytes = text.as_bytes();
        FileParser {
            path,
            text,
            bytes,
            lines: std::cell::OnceCell::new(),
            cursor: std::cell::Cell::new((0, 1, 0)),
            has_cr: contains_byte(bytes, b'\r'),
            i: 0,
            style: TonelStyle::default(),
            protocol_seen: false,
        }
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> TonelError {
        let pos = self.index().pos(self.bytes, offset);
        TonelError {
            path: self.path.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    fn expected(&self, offset: usize, what: &str) -> TonelError {
        self.error(
            offset,
            format!("expected {what}, found {}", describe(self.bytes, offset)),
        )
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.i < self.bytes.len() && is_separator(self.bytes[self.i]) {
            self.i += 1;
        }
    }

    /// Skips separators and comments: what may stand between the parts of a method
    /// declaration (`at: index "the slot" put: anObject`). Pharo's `TonelParser` strips
    /// comments when it extracts the selector; the comments stay in the source.
    fn skip_trivia(&mut self) -> Result<(), TonelError> {
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Ok(());
            }
            self.i = super::text::skip_comment(self.bytes, self.i)
                .map_err(|e| self.error(e.offset, e.message))?;
        }
    }

    fn index(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(self.bytes))
    }

    /// Position of `offset`; offsets must be asked for in increasing order (errors excepted,
    /// which use the full index).
    fn pos(&self, offset: usize) -> Pos {
        match self.advance(offset) {
            Some((line, line_start)) => Pos {
                line,
                column: char_count(&self.bytes[line_start..offset]) + 1,
            },
            None => self.index().pos(self.bytes, offset),
        }
    }

    /// Line of `offset` (same order rule as [`Self::pos`]), without counting its column.
    fn line(&self, offset: usize) -> u32 {
        match self.advance(offset) {
            Some((line, _)) => line,
            None => self.index().line(offset),
        }
    }

    /// Moves the forward line cursor to `offset` and returns its line and line start; `None`
    /// when the cursor cannot answer (CR line endings, or an offset behind the cursor).
    fn advance(&self, offset: usize) -> Option<(u32, usize)> {
        let (at, mut line, mut line_start) = self.cursor.get();
        if self.has_cr || offset < at {
            return None;
        }
        let seg = &self.bytes[at..offset];
        if let Some(last) = seg.iter().rposition(|&b| b == b'\n') {
            line += 1 + count_newlines(&seg[..last]) as u32;
            line_start = at + last + 1;
        }
        self.cursor.set((offset, line, line_start));
        Some((line, line_start))
    }

    /// Source text between two offsets that sit next to ASCII delimiters (always char
    /// boundaries), with line endings normalised to `\n`.
    fn text(&self, from: usize, to: usize) -> std::borrow::Cow<'a, str> {
        if self.has_cr {
            return std::borrow::Cow::Owned(to_lf_string(&self.bytes[from..to]));
        }
        match self.text.get(from..to) {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => String::from_utf8_lossy(&self.bytes[from..to]),
        }
    }

    fn file(&mut self) -> Result<Parsed, TonelError> {
        if self.bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.i = 3;
        }
        self.skip_ws();
        let comment = if self.peek() == Some(b'"') {
            Some(self.class_comment()?)
        } else {
            None
        };
        self.skip_ws();
        let type_at = self.i;
        let word = self.identifier();
        let kind = match word.as_str() {
            "Class" => Some(ClassKind::Class),
            "Trait" => Some(ClassKind::Trait),
            "Extension" | "Package" => None,
            _ => {
                return Err(self.expected(
                    type_at,
                    "'Class {', 'Trait {', 'Extension {' or 'Package {'",
                ));
            }
        };
        self.skip_ws();
        let map_at = self.i;
        if self.peek() != Some(b'{') {
            return Err(self.expected(map_at, &format!("'{{' opening the {word} definition")));
        }
        let (map, after) =
            ston::parse_value(self.bytes, self.i).map_err(|e| self.error(e.offset, e.message))?;
        self.i = after;
        let mut origin = Origin {
            path: self.path.to_path_buf(),
            line: self.line(type_at),
            style: TonelStyle::default(),
        };
        self.style.symbol_names = matches!(map.get("name"), Some(Ston::Symbol(_)));
        self.style.package_fields = map.get("package").is_some();
        self.style.category = match map.get("category") {
            Some(Ston::Symbol(_)) => Some(Quoting::Symbol),
            Some(_) => Some(Quoting::String),
            None => None,
        };
        match word.as_str() {
            "Package" => {
                let package = self.package_def(&map, map_at)?;
                self.skip_ws();
                if self.i < self.bytes.len() {
                    return Err(self.expected(self.i, "end of file after the package definition"));
                }
                Ok(Parsed {
                    file: ParsedFile::Package(package),
                    legacy_category: None,
                })
            }
            "Extension" => {
                let class_name = self.required_text(&map, "name", map_at, "Extension")?;
                let methods = self.methods(None)?;
                self.style.selector_order = super::writer::selector_order_of(&methods, false);
                origin.style = self.style;
                Ok(Parsed {
                    file: ParsedFile::Extension(Extension {
                        class_name,
                        methods,
                        origin: Some(origin),
                    }),
                    legacy_category: None,
                })
            }
            _ => {
                let kind = kind.unwrap_or_default();
                let (mut class, legacy_category) = self.class_def(kind, &map, map_at)?;
                class.comment = comment;
                class.methods = self.methods(Some(&class.name))?;
                self.style.selector_order = super::writer::selector_order_of(&class.methods, true);
                origin.style = self.style;
                class.origin = Some(origin);
                Ok(Parsed {
                    file: ParsedFile::Class(class),
                    legacy_category,
                })
            }
        }
    }

    fn identifier(&mut self) -> String {
        let start = self.i;
        self.i = identifier_end(self.bytes, start);
        self.text(start, self.i).into_owned()
    }

    /// Like [`Self::identifier`] but borrowed from the file (no allocation).
    fn identifier_slice(&mut self) -> &'a str {
        let start = self.i;
        self.i = identifier_end(self.bytes, start);
        self.text.get(start..self.i).unwrap_or("")
    }

    /// The `"..."` before the definition: `""` unescaped, then Pharo's clean on both sides
    /// (one leading and one trailing line ending, with the separators next to them, dropped).
    fn class_comment(&mut self) -> Result<String, TonelError> {
        let open = self.i;
        let close = super::text::skip_comment(self.bytes, open)
            .map_err(|e| self.error(e.offset, e.message))?;
        self.i = close;
        let inner = &self.bytes[open + 1..close - 1];
        let unescaped: Vec<u8>;
        let inner = if inner.windows(2).any(|w| w == b"\"\"") {
            let mut v = Vec::with_capacity(inner.len());
            let mut k = 0;
            while k < inner.len() {
                v.push(inner[k]);
                k += if inner[k] == b'"' { 2 } else { 1 };
            }
            unescaped = v;
            &unescaped[..]
        } else {
            inner
        };
        let s = clean_left(inner, 0, inner.len());
        let e = clean_right(inner, s, inner.len());
        Ok(to_lf_string(&inner[s..e]))
    }

    fn required_text(
        &self,
        map: &Ston<'_>,
        key: &str,
        at: usize,
        what: &str,
    ) -> Result<String, TonelError> {
        match map.get(key) {
            Some(v) => v.as_text().map(str::to_string).ok_or_else(|| {
                self.error(
                    at,
                    format!("expected #{key} to be a string or symbol in the {what} definition, found {v:?}"),
                )
            }),
            None => Err(self.error(
                at,
                format!("expected #{key} in the {what} definition, found none"),
            )),
        }
    }

    fn optional_text(
        &self,
        map: &Ston<'_>,
        key: &str,
        at: usize,
    ) -> Result<Option<String>, TonelError> {
        match map.get(key) {
            None | Some(Ston::Nil) => Ok(None),
            Some(v) => match v.as_text() {
                Some(t) => Ok(Some(t.to_string())),
                None => Err(self.error(
                    at,
                    format!("expected #{key} to be a string or symbol, found {v:?}"),
                )),
            },
        }
    }

    fn names(&self, map: &Ston<'_>, key: &str, at: usize) -> Result<Vec<String>, TonelError> {
        match map.get(key) {
            None | Some(Ston::Nil) => Ok(Vec::new()),
            Some(Ston::List(items)) => items
                .iter()
                .map(|v| {
                    v.as_text().map(str::to_string).ok_or_else(|| {
                        self.error(
                            at,
                            format!("expected the items of #{key} to be strings, found {v:?}"),
                        )
                    })
                })
                .collect(),
            // A space-separated string, as old hand-written files sometimes have.
            Some(Ston::Str(s)) => Ok(s.split_whitespace().map(str::to_string).collect()),
            Some(v) => Err(self.error(at, format!("expected #{key} to be a list, found {v:?}"))),
        }
    }

    fn package_def(&self, map: &Ston<'_>, at: usize) -> Result<Package, TonelError> {
        Ok(Package {
            name: self.required_text(map, "name", at, "Package")?,
            tags: self.names(map, "tags", at)?,
            path: self.path.parent().map(Path::to_path_buf),
            ..Default::default()
        })
    }

    fn class_def(
        &self,
        kind: ClassKind,
        map: &Ston<'_>,
        at: usize,
    ) -> Result<(ClassDef, Option<String>), TonelError> {
        let what = if kind == ClassKind::Trait {
            "Trait"
        } else {
            "Class"
        };
        let name = self.required_text(map, "name", at, what)?;
        let superclass = match kind {
            ClassKind::Trait => None,
            ClassKind::Class => match self.optional_text(map, "superclass", at)? {
                Some(s) if s != "nil" => Some(s),
                _ => None,
            },
        };
        // `#type` is what every Tonel version writes; `#layout` is accepted for layout classes
        // written by newer tools.
        let layout = match self.optional_text(map, "type", at)? {
            Some(t) if t != "normal" => Some(t),
            Some(_) => None,
            None => self.optional_text(map, "layout", at)?,
        };
        let mut inst_vars = self.names(map, "instVars", at)?;
        inst_vars.extend(self.names(map, "slots", at)?);
        let mut class_inst_vars = self.names(map, "classInstVars", at)?;
        class_inst_vars.extend(self.names(map, "classSlots", at)?);
        let category = self.optional_text(map, "category", at)?;
        let package = self.optional_text(map, "package", at)?;
        let tag = self.optional_text(map, "tag", at)?;
        let (package, tag, legacy) = match package {
            Some(p) => (p, tag.filter(|t| !t.is_empty()), None),
            // No #package: the repository reader splits the category using the folder's
            // package name (no category at all: the class is in the folder's package).
            None => {
                let category = category.unwrap_or_default();
                (category.clone(), None, Some(category))
            }
        };
        Ok((
            ClassDef {
                kind,
                name,
                superclass,
                layout,
                inst_vars,
                class_vars: self.names(map, "classVars", at)?,
                pools: self.names(map, "pools", at)?,
                class_inst_vars,
                traits: self.optional_text(map, "traits", at)?,
                class_traits: self.optional_text(map, "classTraits", at)?,
                package,
                tag,
                comment: None,
                methods: Vec::new(),
                origin: None,
            },
            legacy,
        ))
    }

    /// Reads method definitions to the end of the file. `owner` is the class a class/trait file
    /// defines (its methods must be its own); extension files take any class.
    ///
    /// Methods are gathered in a per-thread scratch vector and moved into one of the exact size:
    /// no reallocation (and copy) as a class's method list grows, no unused capacity kept.
    fn methods(&mut self, owner: Option<&str>) -> Result<Vec<MethodDef>, TonelError> {
        thread_local! {
            static SCRATCH: std::cell::Cell<Vec<MethodDef>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let mut scratch = SCRATCH.take();
        scratch.clear();
        let result = self.collect_methods(owner, &mut scratch).map(|()| {
            let mut methods = Vec::with_capacity(scratch.len());
            methods.append(&mut scratch);
            methods
        });
        scratch.clear();
        SCRATCH.set(scratch);
        result
    }

    fn collect_methods(
        &mut self,
        owner: Option<&str>,
        methods: &mut Vec<MethodDef>,
    ) -> Result<(), TonelError> {
        loop {
            self.skip_ws();
            if self.i >= self.bytes.len() {
                return Ok(());
            }
            let mut protocol = String::new();
            if let Some((category, after)) = self.plain_category() {
                protocol = category;
                self.protocol_seen = true;
                self.i = after;
                self.skip_ws();
            } else if self.peek() == Some(b'{') {
                let meta_at = self.i;
                let (meta, after) = ston::parse_value(self.bytes, self.i)
                    .map_err(|e| self.error(e.offset, e.message))?;
                if !matches!(meta, Ston::Map(_)) {
                    return Err(
                        self.expected(meta_at, "a method metadata map '{ #category : ... }'")
                    );
                }
                protocol = self
                    .optional_text(&meta, "category", meta_at)?
                    .unwrap_or_default();
                if !self.protocol_seen {
                    self.protocol_seen = true;
                    self.style.symbol_protocols =
                        matches!(meta.get("category"), Some(Ston::Symbol(_)));
                }
                self.i = after;
                self.skip_ws();
            }
            let header_at = self.i;
            let header = self.header()?;
            if let Some(owner) = owner
                && header.class_name != owner
            {
                return Err(self.error(
                    header_at,
                    format!(
                        "expected a method of {owner} (this file defines {owner}), found a method of {}",
                        header.class_name
                    ),
                ));
            }
            let close = find_body_end(self.bytes, header.open).map_err(|e| {
                let message = if e.offset == header.open {
                    format!(
                        "expected ']' closing the body of {}>>{} that starts here, found end of file",
                        header.class_name, header.selector
                    )
                } else {
                    e.message
                };
                self.error(e.offset, message)
            })?;
            let header_pos = self.pos(header_at);
            let decl_line = self.line(header.decl_start);
            let body_start = header.open + 1;
            let body_pos = self.pos(body_start);
            let body_end = clean_right(self.bytes, body_start, close);
            let mut source =
                String::with_capacity(header.decl_end - header.decl_start + body_end - body_start);
            source.push_str(&self.text(header.decl_start, header.decl_end));
            source.push_str(&self.text(body_start, body_end));
            let span = MethodSpan {
                header: header_pos,
                body: body_pos,
                end: self.pos(close),
                source_first_body_line: decl_line + 1,
            };
            methods.push(MethodDef {
                class_name: header.class_name.to_string(),
                side: header.side,
                selector: header.selector,
                protocol,
                source,
                span: Some(span),
            });
            self.i = close + 1;
        }
    }

    /// Fast path for the metadata Pharo writes for nearly every method,
    /// `{ #category : 'plain text' }`, without building a STON value. Anything else (escapes,
    /// symbols, more keys) returns `None` and goes through the STON parser.
    fn plain_category(&self) -> Option<(String, usize)> {
        const PREFIX: &[u8] = b"{ #category : '";
        if !self.bytes[self.i..].starts_with(PREFIX) {
            return None;
        }
        let start = self.i + PREFIX.len();
        let len = self.bytes[start..]
            .iter()
            .position(|&b| matches!(b, b'\'' | b'\\' | b'\n' | b'\r'))?;
        let end = start + len;
        if self.bytes[end] != b'\'' || !self.bytes[end + 1..].starts_with(b" }") {
            return None;
        }
        Some((self.text(start, end).into_owned(), end + 3))
    }

    /// `Foo >> sel`, `Foo class >> sel`, `TFoo classSide >> sel`, up to the body's `[`.
    fn header(&mut self) -> Result<Header<'a>, TonelError> {
        let name_at = self.i;
        let class_name = self.identifier_slice();
        if class_name.is_empty() {
            return Err(self.expected(
                name_at,
                "a method definition ('{ #category : ... }' or 'ClassName >> selector [')",
            ));
        }
        self.skip_ws();
        let mut side = Side::Instance;
        if self.peek().is_some_and(is_ident_start) {
            let word_at = self.i;
            let word = self.identifier_slice();
            if word == "class" || word == "classSide" {
                side = Side::Class;
                if self.style.class_side.is_none() {
                    self.style.class_side = Some(if word == "class" {
                        ClassSideWord::Class
                    } else {
                        ClassSideWord::ClassSide
                    });
                }
            } else {
                return Err(self.expected(word_at, "'>>', 'class >>' or 'classSide >>'"));
            }
            self.skip_ws();
        }
        if !self.bytes[self.i.min(self.bytes.len())..].starts_with(b">>") {
            return Err(self.expected(self.i, "'>>' after the class name"));
        }
        self.i += 2;
        let after_arrows = self.i;
        self.skip_ws();
        let decl_start = self.i;
        self.skip_trivia()?;
        let selector = self.method_pattern(class_name)?;
        self.skip_trivia()?;
        let open = self.i;
        if self.peek() != Some(b'[') {
            return Err(self.expected(
                open,
                &format!("'[' starting the body of {class_name}>>{selector}"),
            ));
        }
        // Pharo's `cleanSelector:`: the text between `>>` and `[`, minus ONE trailing space,
        // trimmed on the left.
        let mut decl_end = open;
        if decl_end > after_arrows && self.bytes[decl_end - 1] == b' ' {
            decl_end -= 1;
        }
        Ok(Header {
            class_name,
            side,
            selector,
            decl_start,
            decl_end: decl_end.max(decl_start),
            open,
        })
    }

    /// Parses a unary, binary or keyword method pattern and returns the selector.
    fn method_pattern(&mut self, class_name: &str) -> Result<String, TonelError> {
        let at = self.i;
        match self.peek() {
            Some(b) if is_ident_start(b) => {
                let first = self.identifier_slice();
                if self.peek() != Some(b':') {
                    return Ok(first.to_string());
                }
                let mut selector = String::with_capacity(32);
                selector.push_str(first);
                loop {
                    // at ':' of a keyword
                    self.i += 1;
                    selector.push(':');
                    self.skip_trivia()?;
                    self.argument(class_name, &selector)?;
                    let save = self.i;
                    self.skip_trivia()?;
                    if self.peek().is_some_and(is_ident_start) {
                        let kw_at = self.i;
                        let kw = self.identifier_slice();
                        if self.peek() == Some(b':') {
                            selector.push_str(kw);
                            continue;
                        }
                        return Err(self.expected(
                            kw_at,
                            &format!("a keyword or '[' after {class_name}>>{selector}"),
                        ));
                    }
                    self.i = save;
                    return Ok(selector);
                }
            }
            Some(b) if is_binary_char(b) => {
                while self.peek().is_some_and(is_binary_char) {
                    self.i += 1;
                }
                let selector = String::from_utf8_lossy(&self.bytes[at..self.i]).into_owned();
                self.skip_trivia()?;
                self.argument(class_name, &selector)?;
                Ok(selector)
            }
            _ => Err(self.expected(at, &format!("a selector after '{class_name} >>'"))),
        }
    }

    fn argument(&mut self, class_name: &str, selector: &str) -> Result<(), TonelError> {
        let at = self.i;
        if self.identifier_slice().is_empty() {
            return Err(self.expected(at, &format!("an argument name in {class_name}>>{selector}")));
        }
        Ok(())
    }
}

/// End of the identifier starting at `start` (`start` itself when there is none).
fn identifier_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    if bytes.get(i).copied().is_some_and(is_ident_start) {
        i += 1;
        while i < bytes.len() && is_ident_char(bytes[i]) {
            i += 1;
        }
    }
    i
}

/// Counts `\n` bytes; this and the body scanner are the only passes over method bodies
/// ([`count_byte`] is vectorised). Short segments (the
/// gaps between a method's header pieces) are counted a word at a time instead: the vector
/// loop's set-up would cost more than the count.
fn count_newlines(s: &[u8]) -> usize {
    if s.len() < 64 {
        return count_in_words(s, |w| {
            // Bytes equal to '\n' become zero; mark zero bytes exactly (no carries).
            let x = w ^ (ONES * u64::from(b'\n'));
            !(((x & !HIGHS) + !HIGHS) | x) & HIGHS
        });
    }
    count_byte(s, b'\n')
}

/// Characters (UTF-8 code points) in `s`: bytes that are not continuation bytes (`10xxxxxx`).
fn char_count(s: &[u8]) -> u32 {
    // A continuation byte has bit 7 set and bit 6 clear; `w << 1` moves each bit 6 to bit 7.
    let continuations = count_in_words(s, |w| w & !(w << 1) & HIGHS);
    (s.len() - continuations) as u32
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Sums the set bits of `mark` over `s` read as little-endian 64-bit words (the tail padded
/// with zero bytes); `mark` sets the high bit of each byte to count, and nothing else, and
/// must not mark a zero byte.
fn count_in_words(s: &[u8], mark: impl Fn(u64) -> u64) -> usize {
    let mut words = s.chunks_exact(8);
    let mut n = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        n += mark(u64::from_le_bytes(b)).count_ones() as usize;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut b = [0u8; 8];
        b[..tail.len()].copy_from_slice(tail);
        n += mark(u64::from_le_bytes(b)).count_ones() as usize;
    }
    n
}

/// Splits a legacy system category (`Kernel-Objects`) into package and tag as Pharo's
/// `TonelReader>>ensurePackagesAndTagsOfDefinitions:` does, comparing case-insensitively: a
/// category equal to the folder's package keeps its own spelling (`Foo-tests` in folder
/// `Foo-Tests`) and has no tag; `Package-Tag` gives the folder's package and the tag. `None`
/// when the category names another package.
pub(crate) fn split_category(category: &str, package: &str) -> Option<(String, Option<String>)> {
    if category.to_lowercase() == package.to_lowercase() {
        return Some((category.to_string(), None));
    }
    let prefix_len = package.len() + 1;
    let head = category.get(..prefix_len)?;
    let (name, dash) = head.split_at(package.len());
    if dash != "-" || name.to_lowercase() != package.to_lowercase() {
        return None;
    }
    let tag = &category[prefix_len..];
    Some((
        package.to_string(),
        (!tag.is_empty()).then(|| tag.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ParsedFile {
        parse(Path::new("t.st"), text)
            .unwrap_or_else(|e| panic!("{e}"))
            .file
    }

    fn class(text: &str) -> ClassDef {
        match parse_ok(text) {
            ParsedFile::Class(c) => c,
            other => panic!("not a class: {other:?}"),
        }
    }

    #[test]
    fn source_is_declaration_plus_body_without_final_line_ending() {
        let c =
            class("Class { #name : 'A' }\n\n{ #category : 'x' }\nA >> foo: a bar: b [\n\t^ a\n]\n");
        let m = &c.methods[0];
        assert_eq!(m.selector, "foo:bar:");
        assert_eq!(m.source, "foo: a bar: b\n\t^ a");
        assert_eq!(m.protocol, "x");
        let span = m.span.unwrap();
        assert_eq!(span.header.line, 4);
        assert_eq!(span.source_first_body_line, 5);
        assert_eq!((span.end.line, span.end.column), (6, 1));
    }

    #[test]
    fn selectors_of_every_shape() {
        let c = class(
            "Class { #name : 'A' }\nA >> + x [ ]\nA >> ==> x [ ]\nA >> , x [ ]\nA class >> y [ ]\nA >> at:i put:v [ ]\n",
        );
        let sels: Vec<_> = c
            .methods
            .iter()
            .map(|m| (m.selector.as_str(), m.side))
            .collect();
        assert_eq!(
            sels,
            vec![
                ("+", Side::Instance),
                ("==>", Side::Instance),
                (",", Side::Instance),
                ("y", Side::Class),
                ("at:put:", Side::Instance)
            ]
        );
        assert_eq!(c.methods[0].source, "+ x");
    }

    #[test]
    fn word_at_a_time_counts_match_byte_counts() {
        let text = "a\nbé\n\n∑x\t\n".repeat(9);
        let bytes = text.as_bytes();
        for start in 0..bytes.len() {
            for end in start..=bytes.len() {
                let s = &bytes[start..end];
                assert_eq!(count_newlines(s), s.iter().filter(|&&b| b == b'\n').count());
                let chars = s.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
                assert_eq!(char_count(s) as usize, chars);
            }
        }
    }

    #[test]
    fn category_split() {
        let split = |c, p| split_category(c, p);
        assert_eq!(
            split("Kernel-Objects", "Kernel"),
            Some(("Kernel".into(), Some("Objects".into())))
        );
        assert_eq!(split("Kernel", "Kernel"), Some(("Kernel".into(), None)));
        assert_eq!(split("Kernel-", "Kernel"), Some(("Kernel".into(), None)));
        // Case differs: the category's spelling is kept when it is the package itself, the
        // folder's when it names a tag (as Pharo's TonelReader does).
        assert_eq!(
            split("Tonel-tests-mocks", "Tonel-Tests-Mocks"),
            Some(("Tonel-tests-mocks".into(), None))
        );
        assert_eq!(
            split("tonel-tests-Base", "Tonel-Tests"),
            Some(("Tonel-Tests".into(), Some("Base".into())))
        );
        assert_eq!(split("KernelX", "Kernel"), None);
        assert_eq!(split("Other-Objects", "Kernel"), None);
        assert_eq!(split("Ké", "KÉ"), Some(("Ké".into(), None)));
    }
}
