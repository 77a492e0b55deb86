//! Tokens of a method source.
//!
//! The lexer follows Pharo's `RBScanner` (numbers as `NumberParser` reads them, binary
//! selectors of any run of binary characters, `#foo:bar:`, `##foo`), widened where Squeak or
//! Cuis read more (see the module doc of [`super`]). It stops at the first lexical error, which
//! becomes the last token: the parser reports it when it gets there, as Squeak's parser, whose
//! scanner reads one token ahead, does.
//!
//! A literal array (`#( … )`, `#[ … ]`) is checked here for its closing parenthesis or
//! bracket, and an error inside one is put where the literal array starts: the Squeak scanner
//! reads a literal array as one token.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Ident,
    /// `at:` (one keyword part, colon included).
    Keyword,
    /// A run of binary characters (`+`, `->`, `==>`, `|`, `||`).
    Binary,
    /// A number, negative when its text starts with `-`.
    Number,
    Character,
    String,
    Symbol,
    /// `#(`
    LiteralArray,
    /// `#[`
    ByteArray,
    Assign,
    /// `::` (Cuis): the messages after it go to the result of the expression before it.
    Chain,
    /// `` ` `` (Cuis): around an expression evaluated when the method is compiled.
    BackQuote,
    Caret,
    Period,
    Semicolon,
    Colon,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    LeftBrace,
    RightBrace,
    End,
    /// A lexical error: `start` is where it points, `message` says what.
    Error,
}

/// One token: its kind and byte range in the source.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// Where Squeak's scanner marks the token (what its parser reports an error at): its
    /// start, but a symbol's name after the `#`, and a literal array's closing `)`.
    pub mark: usize,
    /// The index of the token after this one as Squeak's scanner reads them: the next one, or
    /// for a literal array the one after its closing `)` or `]`.
    pub next: usize,
    /// For [`Kind::Error`]: what is wrong.
    pub message: &'static str,
}

/// How `_` is read: the dialects disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Underscore {
    /// Pharo: a letter (`_` alone is a name, `a_b` one identifier).
    Letter,
    /// Squeak 3.9+ and Cuis: part of an identifier when it touches one, an assignment alone
    /// (`x _ 3`); `←` is an assignment too.
    Squeak,
    /// Squeak up to 3.8: always an assignment, never in identifiers.
    Assignment,
}

/// The binary characters of Pharo's `Character class>>specialCharacters` (non-ASCII symbols
/// are binary characters too, see [`is_binary`]).
const ASCII_BINARY: &[u8] = b"+-/\\*~<>=@,%|&?!";

fn is_binary(c: char) -> bool {
    if c.is_ascii() {
        ASCII_BINARY.contains(&(c as u8))
    } else {
        // `×`, `÷`, `±`, `·`, `≤`, `→` …: binary in Pharo (a few), Squeak and Cuis.
        !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\0') || (!c.is_ascii() && c.is_whitespace())
}

/// Reads every token of `source` into `tokens` (cleared first), ending with [`Kind::End`] or,
/// at the first lexical error, [`Kind::Error`].
pub(super) fn lex(source: &str, underscore: Underscore, tokens: &mut Vec<Token>) {
    tokens.clear();
    Lexer {
        source,
        bytes: source.as_bytes(),
        at: 0,
        underscore,
        tokens,
        open: Vec::new(),
    }
    .run();
}

/// An open literal array: what opened it, the token index of the outermost one, and the
/// offset of its `(` or `[`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    /// `(` inside a literal array.
    Paren,
    /// `#(` at this offset of its `(`.
    Array(usize),
    /// `#[` at this offset of its `[`.
    Bytes(usize),
}

struct Lexer<'s, 't> {
    source: &'s str,
    bytes: &'s [u8],
    at: usize,
    underscore: Underscore,
    tokens: &'t mut Vec<Token>,
    /// Literal arrays being read, innermost last, with the index of the outermost one's token.
    open: Vec<(Open, usize)>,
}

impl Lexer<'_, '_> {
    fn run(&mut self) {
        loop {
            if let Err((at, message)) = self.skip_separators() {
                return self.fail(at, message);
            }
            let start = self.at;
            let Some(c) = self.peek() else {
                return self.finish();
            };
            let mut mark = start;
            let kind = match self.token(c, &mut mark) {
                Ok(kind) => kind,
                Err((at, message)) => return self.fail(at, message),
            };
            let index = self.tokens.len();
            self.tokens.push(Token {
                kind,
                start,
                end: self.at,
                mark,
                next: index + 1,
                message: "",
            });
            self.track_literal_arrays(kind, index);
        }
    }

    /// The end of the source: an open literal array is an error at its innermost `#(`/`#[`.
    fn finish(&mut self) {
        let innermost = self.open.iter().rev().find_map(|(o, _)| match o {
            Open::Array(at) => Some((*at, "Unmatched parenthesis")),
            Open::Bytes(at) => Some((*at, "Unmatched bracket")),
            Open::Paren => None,
        });
        if let Some((at, message)) = innermost {
            return self.fail(at, message);
        }
        self.push_last(Kind::End, self.bytes.len(), "");
    }

    /// A lexical error ends the tokens. Inside a literal array it replaces the whole array.
    fn fail(&mut self, at: usize, message: &'static str) {
        if let Some(&(_, outermost)) = self.open.first() {
            self.tokens.truncate(outermost);
        }
        self.push_last(Kind::Error, at, message);
    }

    fn push_last(&mut self, kind: Kind, at: usize, message: &'static str) {
        let index = self.tokens.len();
        self.tokens.push(Token {
            kind,
            start: at,
            end: at,
            mark: at,
            next: index,
            message,
        });
    }

    /// Keeps the stack of open literal arrays; when the outermost one closes, its token learns
    /// where it ends (`mark`, `next`).
    fn track_literal_arrays(&mut self, kind: Kind, index: usize) {
        let outermost = self.open.first().map_or(index, |&(_, i)| i);
        let closing = match kind {
            Kind::LiteralArray => {
                self.open.push((Open::Array(self.at - 1), outermost));
                false
            }
            Kind::ByteArray => {
                self.open.push((Open::Bytes(self.at - 1), outermost));
                false
            }
            _ if self.open.is_empty() => false,
            Kind::LeftParen => {
                self.open.push((Open::Paren, outermost));
                false
            }
            Kind::RightParen => matches!(self.open.last(), Some((Open::Paren | Open::Array(_), _))),
            Kind::RightBracket => matches!(self.open.last(), Some((Open::Bytes(_), _))),
            _ => false,
        };
        if closing {
            self.open.pop();
            if self.open.is_empty() {
                let close = self.tokens[index];
                let first = &mut self.tokens[outermost];
                first.next = index + 1;
                if first.kind == Kind::LiteralArray {
                    first.mark = close.start;
                }
            }
        }
    }

    fn peek(&self) -> Option<char> {
        let b = *self.bytes.get(self.at)?;
        if b.is_ascii() {
            Some(b as char)
        } else {
            self.source[self.at..].chars().next()
        }
    }

    fn peek_at(&self, at: usize) -> Option<char> {
        let b = *self.bytes.get(at)?;
        if b.is_ascii() {
            Some(b as char)
        } else {
            self.source.get(at..)?.chars().next()
        }
    }

    fn bump(&mut self, c: char) {
        self.at += c.len_utf8();
    }

    /// Whitespace and comments (`"…"`; `""` inside one is a quote, as in Pharo).
    fn skip_separators(&mut self) -> Result<(), (usize, &'static str)> {
        while let Some(c) = self.peek() {
            if is_separator(c) {
                self.bump(c);
            } else if c == '"' {
                self.quoted(b'"', "Unmatched comment quote")?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn is_letter(&self, c: char) -> bool {
        c.is_ascii_alphabetic()
            || (c == '_' && self.underscore != Underscore::Assignment)
            || (!c.is_ascii() && c.is_alphabetic())
    }

    fn is_name_char(&self, c: char) -> bool {
        self.is_letter(c) || c.is_ascii_digit()
    }

    /// Reads one token starting with `c`; sets `mark` when Squeak marks it elsewhere than at
    /// its start.
    fn token(&mut self, c: char, mark: &mut usize) -> Result<Kind, (usize, &'static str)> {
        let start = self.at;
        if c == '_' {
            match self.underscore {
                Underscore::Letter => {}
                Underscore::Assignment => {
                    self.at += 1;
                    return Ok(Kind::Assign);
                }
                Underscore::Squeak => {
                    if !self
                        .peek_at(start + 1)
                        .is_some_and(|d| self.is_name_char(d))
                    {
                        self.at += 1;
                        return Ok(Kind::Assign);
                    }
                }
            }
        }
        if c == '←' && self.underscore == Underscore::Squeak {
            self.bump(c);
            return Ok(Kind::Assign);
        }
        if self.is_letter(c) {
            self.skip_name();
            if self.peek() == Some(':') && self.peek_at(self.at + 1) != Some('=') {
                self.at += 1;
                return Ok(Kind::Keyword);
            }
            return Ok(Kind::Ident);
        }
        if c.is_ascii_digit()
            || (c == '-' && self.peek_at(start + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            self.number()?;
            return Ok(Kind::Number);
        }
        if is_binary(c) {
            self.skip_binary();
            return Ok(Kind::Binary);
        }
        self.bump(c);
        Ok(match c {
            '\'' => {
                self.at = start;
                self.string()?;
                Kind::String
            }
            '$' => match self.peek() {
                Some(d) => {
                    self.bump(d);
                    Kind::Character
                }
                None => return Err((start, "Character expected")),
            },
            '#' => self.literal(start, mark)?,
            ':' if self.peek() == Some('=') => {
                self.at += 1;
                Kind::Assign
            }
            ':' if self.peek() == Some(':') && self.peek_at(self.at + 1) != Some('=') => {
                self.at += 1;
                Kind::Chain
            }
            ':' => Kind::Colon,
            '^' => Kind::Caret,
            '.' => Kind::Period,
            ';' => Kind::Semicolon,
            '(' => Kind::LeftParen,
            ')' => Kind::RightParen,
            '[' => Kind::LeftBracket,
            ']' => Kind::RightBracket,
            '{' => Kind::LeftBrace,
            '}' => Kind::RightBrace,
            '`' => Kind::BackQuote,
            _ => return Err((start, "Unknown character")),
        })
    }

    /// A run of binary characters, `-` and `|` included (Pharo reads `->`, `||`, `+-` as one).
    fn skip_binary(&mut self) {
        while let Some(d) = self.peek().filter(|&d| is_binary(d)) {
            self.bump(d);
        }
    }

    fn skip_name(&mut self) {
        while let Some(c) = self.peek().filter(|&c| self.is_name_char(c)) {
            self.bump(c);
        }
    }

    /// `'…'` with `''` for a quote; `self.at` is on the opening quote.
    fn string(&mut self) -> Result<(), (usize, &'static str)> {
        self.quoted(b'\'', "Unmatched string quote")
    }

    /// Skips text between two `quote`s, a doubled one standing for itself (strings; comments,
    /// where Pharo reads `""` so); `self.at` is on the opening one. Unclosed: an error there.
    fn quoted(&mut self, quote: u8, unclosed: &'static str) -> Result<(), (usize, &'static str)> {
        let start = self.at;
        self.at += 1;
        loop {
            match self.bytes[self.at..].iter().position(|&b| b == quote) {
                None => return Err((start, unclosed)),
                Some(i) => {
                    self.at += i + 1;
                    if self.bytes.get(self.at) != Some(&quote) {
                        return Ok(());
                    }
                    self.at += 1;
                }
            }
        }
    }

    /// What follows `#` (already read): a symbol, a string symbol, a literal or byte array.
    /// Pharo wants it right after the `#` (and takes `##foo`); Squeak and Cuis also skip
    /// whitespace and comments first (`# foo`).
    fn literal(&mut self, hash: usize, mark: &mut usize) -> Result<Kind, (usize, &'static str)> {
        loop {
            self.skip_separators()?;
            match self.peek() {
                Some('#') => self.at += 1,
                _ => break,
            }
        }
        *mark = self.at;
        let Some(c) = self.peek() else {
            return Err((hash, "Literal expected"));
        };
        if c == '(' {
            self.at += 1;
            return Ok(Kind::LiteralArray);
        }
        if c == '[' {
            self.at += 1;
            return Ok(Kind::ByteArray);
        }
        if c == '\'' {
            self.string()?;
            return Ok(Kind::Symbol);
        }
        if is_binary(c) {
            self.skip_binary();
            return Ok(Kind::Symbol);
        }
        if self.is_letter(c) {
            // Names and colons: `#foo`, `#at:put:`, `#foo:bar`.
            while let Some(d) = self.peek() {
                if self.is_letter(d) {
                    self.skip_name();
                } else if d == ':' {
                    self.at += 1;
                } else {
                    break;
                }
            }
            return Ok(Kind::Symbol);
        }
        if c == '_' && self.underscore == Underscore::Assignment {
            // Squeak up to 3.8 reads `#_` as the symbol of the assignment arrow.
            self.at += 1;
            return Ok(Kind::Symbol);
        }
        Err((hash, "Literal expected"))
    }

    /// A number as Pharo's `NumberParser` reads it: `[-]digits[r[-]digits][.digits][e[-]digits | s[digits]]`.
    /// An exponent or a scale with no digits is not part of the number, nor a period without a
    /// digit after it.
    fn number(&mut self) -> Result<(), (usize, &'static str)> {
        let start = self.at;
        if self.peek() == Some('-') {
            self.at += 1;
        }
        let digits_from = self.at;
        self.digits(10);
        let mut base = 10u32;
        if self.peek() == Some('r') {
            base = self.source[digits_from..self.at]
                .parse::<u32>()
                .unwrap_or(u32::MAX);
            if base < 2 {
                return Err((start, "Invalid radix"));
            }
            self.at += 1;
            if self.peek() == Some('-') {
                self.at += 1;
            }
            if self.digits(base) == 0 {
                return Err((start, "Digit expected after the radix"));
            }
        }
        if self.peek() == Some('.') && self.peek_at(self.at + 1).is_some_and(|d| digit(d, base)) {
            self.at += 1;
            self.digits(base);
        }
        if matches!(self.peek(), Some('e' | 'd' | 'q')) {
            let mut end = self.at + 1;
            if self.peek_at(end) == Some('-') {
                end += 1;
            }
            if self.peek_at(end).is_some_and(|d| d.is_ascii_digit()) {
                self.at = end;
                self.digits(10);
                return Ok(());
            }
        }
        if self.peek() == Some('s') {
            match self.peek_at(self.at + 1) {
                Some(d) if d.is_ascii_digit() => {
                    self.at += 1;
                    self.digits(10);
                }
                Some(d) if self.is_letter(d) => {}
                _ => self.at += 1,
            }
        }
        Ok(())
    }

    /// Skips digits of `base`; answers how many.
    fn digits(&mut self, base: u32) -> usize {
        let from = self.at;
        while let Some(&b) = self.bytes.get(self.at) {
            if digit(b as char, base) {
                self.at += 1;
            } else {
                break;
            }
        }
        self.at - from
    }
}

/// A digit of `base` (letters for the digits above 9, either case, as Pharo reads them).
fn digit(c: char, base: u32) -> bool {
    c.to_digit(36).is_some_and(|d| d < base)
}

/// The value of an integer literal (`255`, `16rFF`, `2r1010`, `1e2`, `-0`), `None` when the
/// number is not an integer or is too large for a byte array.
pub(super) fn integer_value(text: &str) -> Option<i64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (base, digits) = match text.split_once('r') {
        Some((base, rest)) => (base.parse::<u32>().ok()?, rest),
        None => (10, text),
    };
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (!negative, rest),
        None => (negative, digits),
    };
    let end = digits
        .char_indices()
        .find(|&(_, c)| !digit(c, base))
        .map_or(digits.len(), |(i, _)| i);
    let mut value: i64 = 0;
    for c in digits[..end].chars() {
        value = value
            .checked_mul(i64::from(base))?
            .checked_add(i64::from(c.to_digit(36)?))?;
    }
    let rest = &digits[end..];
    if let Some(exponent) = rest.strip_prefix(['e', 'd', 'q']) {
        let exponent: u32 = exponent.parse().ok()?;
        value = value.checked_mul(i64::from(base).checked_pow(exponent)?)?;
    } else if !rest.is_empty() {
        return None;
    }
    Some(if negative { -value } else { value })
}
