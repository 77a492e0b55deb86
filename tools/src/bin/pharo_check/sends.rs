//! What one Smalltalk method source does, read with a small parser of method syntax: every
//! message it sends (unary, binary, keyword, cascaded), every global it names, every global it
//! looks up by name (`Smalltalk globals at: #Foo ifAbsent: […]`), and what each `on:do:` handler
//! catches.
//!
//! The parser knows the whole method grammar (pattern, pragmas, temporaries, statements, blocks,
//! cascades, brace arrays, literal arrays, every literal form) but does no semantic analysis:
//! a name is a global when it starts with an upper-case letter and is not a method argument, a
//! temporary, a block argument or one of the names the caller says the class binds.

use std::collections::HashSet;

/// Who a message is sent to, as far as the source says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receiver {
    /// A global named directly (`Socket newTCP`).
    Global(String),
    /// Anything else: a variable, a literal, the result of another send.
    Other,
}

/// One message send site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// The selector (`at:put:`, `+`, `size`).
    pub selector: String,
    /// The receiver, when it is a named global.
    pub receiver: Receiver,
    /// The send sits in a branch of a `respondsTo:` test (`(x respondsTo: #foo) ifTrue: […]`,
    /// `… and: […]`), i.e. it only runs where the image was asked first.
    pub guarded: bool,
}

/// How a global is looked up by name through `Smalltalk` or `Smalltalk globals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    /// `at: #Foo`: fails when the global is absent.
    Required,
    /// `at: #Foo ifAbsent: […]`, `includesKey: #Foo`, `at: #Foo ifPresent: […]`: absence is handled.
    Optional,
    /// `at: #Foo put: …`: defines the global.
    Define,
}

/// One `on: X do: […]` handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    /// The globals named in the exception-class argument (`Error`, `Error, ZeroDivide`).
    pub classes: Vec<String>,
    /// The argument is not only globals joined by `,` (e.g. `self syntaxErrors`): what it
    /// catches is decided at run time.
    pub dynamic: bool,
}

/// Everything the parser found in one method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodFacts {
    /// Every send site, in source order.
    pub sends: Vec<Send>,
    /// Globals named directly, in source order (repeats kept).
    pub globals: Vec<String>,
    /// Globals looked up by a literal name.
    pub lookups: Vec<(String, Lookup)>,
    /// The method's `on:do:` handlers.
    pub handlers: Vec<Handler>,
    /// Selectors the method asks about with `respondsTo: #foo` (capability tests).
    pub capability_tests: Vec<String>,
}

/// A method source the parser could not follow: what it expected and the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {message}")]
pub struct ParseError {
    /// Byte offset into the method source.
    pub offset: usize,
    /// What was expected and found.
    pub message: String,
}

/// Parses one method source (pattern first, as Tonel stores it). `bound` holds the names the
/// class binds (instance, class-instance and class variables, pool names): they are not globals.
pub fn method_facts(source: &str, bound: &HashSet<String>) -> Result<MethodFacts, ParseError> {
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        scopes: vec![Vec::new()],
        bound,
        facts: MethodFacts::default(),
        guard_depth: 0,
    };
    parser.method()?;
    Ok(parser.facts)
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `at:` (one keyword part).
    Keyword(String),
    Binary(String),
    Assign,
    Caret,
    Period,
    Semi,
    Colon,
    LParen,
    RParen,
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    Symbol(String),
    Str,
    /// Numbers and characters.
    Literal,
    /// `#(`
    LitArray,
    /// `#[`
    ByteArray,
    Eof,
}

struct Token {
    tok: Tok,
    offset: usize,
}

const BINARY_CHARS: &str = "+-*/\\<>=~@%|&?,!";

fn is_binary_char(c: char) -> bool {
    BINARY_CHARS.contains(c)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(source: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(source.len(), |&(o, _)| o);
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c == '"' {
            i += 1;
            loop {
                match at(i) {
                    None => return Err(error(offset(start), "comment not closed")),
                    Some('"') if at(i + 1) == Some('"') => i += 2,
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            continue;
        } else if c == '\'' {
            i = skip_string(&chars, i).ok_or_else(|| error(offset(start), "string not closed"))?;
            Tok::Str
        } else if c == '$' {
            if at(i + 1).is_none() {
                return Err(error(offset(start), "character literal at end of source"));
            }
            i += 2;
            Tok::Literal
        } else if c.is_ascii_digit() {
            // A leading `-` is a separate token: only the parser knows whether an operand or
            // an operator is expected there (`x-1` vs `-1 to: 3`).
            i = skip_number(&chars, i);
            Tok::Literal
        } else if is_ident_start(c) {
            let mut j = i;
            while at(j).is_some_and(is_ident_char) {
                j += 1;
            }
            let word: String = chars[i..j].iter().map(|&(_, c)| c).collect();
            if at(j) == Some(':') && at(j + 1) != Some('=') {
                i = j + 1;
                Tok::Keyword(format!("{word}:"))
            } else {
                i = j;
                Tok::Ident(word)
            }
        } else if c == '#' {
            let mut j = i + 1;
            while at(j) == Some('#') {
                j += 1;
            }
            match at(j) {
                Some('(') => {
                    i = j + 1;
                    Tok::LitArray
                }
                Some('[') => {
                    i = j + 1;
                    Tok::ByteArray
                }
                Some('\'') => {
                    let end = skip_string(&chars, j)
                        .ok_or_else(|| error(offset(start), "symbol not closed"))?;
                    let text: String = chars[j + 1..end - 1].iter().map(|&(_, c)| c).collect();
                    i = end;
                    Tok::Symbol(text.replace("''", "'"))
                }
                Some(c) if is_ident_start(c) => {
                    let mut k = j;
                    while at(k).is_some_and(|c| is_ident_char(c) || c == ':') {
                        k += 1;
                    }
                    i = k;
                    Tok::Symbol(chars[j..k].iter().map(|&(_, c)| c).collect())
                }
                Some(c) if is_binary_char(c) => {
                    let mut k = j;
                    while at(k).is_some_and(is_binary_char) {
                        k += 1;
                    }
                    i = k;
                    Tok::Symbol(chars[j..k].iter().map(|&(_, c)| c).collect())
                }
                _ => return Err(error(offset(start), "expected a literal after #")),
            }
        } else if c == ':' && at(i + 1) == Some('=') {
            i += 2;
            Tok::Assign
        } else if is_binary_char(c) {
            // `|` stands alone: it closes temporaries and block arguments (`[:x || t | …]`).
            let mut j = i + 1;
            if c != '|' {
                while at(j).is_some_and(|d| is_binary_char(d) && d != '|') {
                    // `a--1` is `a - -1`: a minus after the operator starts a number.
                    if d_is_minus_before_digit(&at, j) {
                        break;
                    }
                    j += 1;
                }
            }
            let op: String = chars[i..j].iter().map(|&(_, c)| c).collect();
            i = j;
            Tok::Binary(op)
        } else {
            i += 1;
            match c {
                '^' => Tok::Caret,
                '.' => Tok::Period,
                ';' => Tok::Semi,
                ':' => Tok::Colon,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '[' => Tok::LBrack,
                ']' => Tok::RBrack,
                '{' => Tok::LBrace,
                '}' => Tok::RBrace,
                // Old Squeak sources write `_` for assignment.
                _ => return Err(error(offset(start), &format!("unexpected character {c:?}"))),
            }
        };
        tokens.push(Token {
            tok,
            offset: offset(start),
        });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        offset: source.len(),
    });
    Ok(tokens)
}

fn d_is_minus_before_digit(at: &impl Fn(usize) -> Option<char>, j: usize) -> bool {
    at(j) == Some('-') && at(j + 1).is_some_and(|c| c.is_ascii_digit())
}

/// Index just past the closing quote of the string starting at `i`, or `None` if it never ends.
fn skip_string(chars: &[(usize, char)], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match chars.get(j).map(|&(_, c)| c) {
            None => return None,
            Some('\'') if chars.get(j + 1).map(|&(_, c)| c) == Some('\'') => j += 2,
            Some('\'') => return Some(j + 1),
            Some(_) => j += 1,
        }
    }
}

/// Index just past a number starting at `i`: `12`, `16r1F`, `1.5`, `1e10`, `2.5s2`, `1/2` is not one.
fn skip_number(chars: &[(usize, char)], mut i: usize) -> usize {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    while at(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
    }
    if at(i) == Some('r') {
        i += 1;
        if at(i) == Some('-') {
            i += 1;
        }
        while at(i).is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            i += 1;
        }
    }
    if at(i) == Some('.') && at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
        while at(i).is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            i += 1;
        }
    }
    if matches!(at(i), Some('e' | 'd' | 'q')) {
        let digits_from = if at(i + 1) == Some('-') { i + 2 } else { i + 1 };
        if at(digits_from).is_some_and(|c| c.is_ascii_digit()) {
            i = digits_from;
            while at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
        }
    }
    if at(i) == Some('s') {
        i += 1;
        while at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
    }
    i
}

fn error(offset: usize, message: &str) -> ParseError {
    ParseError {
        offset,
        message: message.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

/// What the parser knows about an expression it has read.
#[derive(Debug, Clone, Default)]
struct Info {
    /// The expression is exactly this global.
    global: Option<String>,
    /// The expression is exactly this symbol literal.
    symbol: Option<String>,
    /// The expression is `Smalltalk` or `Smalltalk globals`.
    system_dictionary: bool,
    /// The expression asks `respondsTo:` somewhere.
    asks_responds_to: bool,
    /// Globals named in the expression, and whether it is nothing but globals joined by `,`.
    globals: Vec<String>,
    only_globals: bool,
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    scopes: Vec<Vec<String>>,
    bound: &'a HashSet<String>,
    facts: MethodFacts,
    guard_depth: usize,
}

type Res<T> = Result<T, ParseError>;

const PSEUDO_VARIABLES: &[&str] = &["self", "super", "thisContext", "true", "false", "nil"];
const GUARD_SELECTORS: &[&str] = &["ifTrue:", "ifFalse:", "and:", "or:"];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)].tok
    }

    fn advance(&mut self) -> Tok {
        let tok = self.tokens[self.pos].tok.clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn fail<T>(&self, expected: &str) -> Res<T> {
        Err(error(
            self.tokens[self.pos].offset,
            &format!("expected {expected}, found {:?}", self.peek()),
        ))
    }

    fn declare(&mut self, name: String) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name);
        }
    }

    fn is_local(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|n| n == name))
    }

    fn method(&mut self) -> Res<()> {
        match self.advance() {
            Tok::Ident(_) => {}
            Tok::Binary(_) => self.argument_name()?,
            Tok::Keyword(_) => {
                self.argument_name()?;
                while matches!(self.peek(), Tok::Keyword(_)) {
                    self.advance();
                    self.argument_name()?;
                }
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return self.fail("a method pattern");
            }
        }
        loop {
            if *self.peek() == Tok::Binary("<".into()) {
                self.pragma()?;
            } else if *self.peek() == Tok::Binary("|".into()) {
                self.temporaries()?;
            } else {
                break;
            }
        }
        self.statements(&Tok::Eof)?;
        match self.peek() {
            Tok::Eof => Ok(()),
            _ => self.fail("the end of the method"),
        }
    }

    fn argument_name(&mut self) -> Res<()> {
        match self.advance() {
            Tok::Ident(name) => {
                self.declare(name);
                Ok(())
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                self.fail("an argument name")
            }
        }
    }

    /// `<primitive: 60 error: ec>`: literals and keywords up to `>`; a name in it (the error
    /// code of a primitive) is a temporary.
    fn pragma(&mut self) -> Res<()> {
        self.advance();
        loop {
            match self.advance() {
                Tok::Binary(op) if op == ">" => return Ok(()),
                Tok::Ident(name) => self.declare(name),
                Tok::LitArray => self.skip_literal_array()?,
                Tok::ByteArray => self.skip_byte_array()?,
                Tok::Eof => return self.fail("the end of a pragma (>)"),
                _ => {}
            }
        }
    }

    fn temporaries(&mut self) -> Res<()> {
        self.advance();
        loop {
            match self.advance() {
                Tok::Ident(name) => self.declare(name),
                Tok::Binary(op) if op == "|" => return Ok(()),
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return self.fail("a temporary name or |");
                }
            }
        }
    }

    fn statements(&mut self, end: &Tok) -> Res<()> {
        loop {
            while *self.peek() == Tok::Period {
                self.advance();
            }
            if self.peek() == end || *self.peek() == Tok::Eof {
                return Ok(());
            }
            if *self.peek() == Tok::Caret {
                self.advance();
            }
            self.expression()?;
            match self.peek() {
                Tok::Period => {}
                t if t == end => {}
                _ => return self.fail("a period or the end of the statements"),
            }
        }
    }

    fn expression(&mut self) -> Res<Info> {
        if let (Tok::Ident(name), Tok::Assign) = (self.peek().clone(), self.peek_at(1)) {
            self.advance();
            self.advance();
            self.variable(&name);
            return self.expression();
        }
        let receiver = self.primary()?;
        let (info, last_receiver) = self.messages(receiver, true)?;
        let mut info = info;
        while *self.peek() == Tok::Semi {
            self.advance();
            let (part, _) = self.messages(last_receiver.clone(), true)?;
            info = merge(info, part);
            info.global = None;
            info.only_globals = false;
        }
        Ok(info)
    }

    /// Unary, then binary, then one keyword message, sent to `receiver`. Answers the value's info
    /// and the info of the receiver of the last message (what a cascade goes on sending to).
    /// A keyword message's argument takes no keyword message itself (`keyword` false).
    fn messages(&mut self, receiver: Info, keyword: bool) -> Res<(Info, Info)> {
        let mut info = receiver.clone();
        let mut last = receiver;
        let mut sent = false;
        while let Tok::Ident(selector) = self.peek().clone() {
            self.advance();
            last = info.clone();
            info = self.unary_send(info, selector);
            sent = true;
        }
        while let Tok::Binary(op) = self.peek().clone() {
            self.advance();
            last = info.clone();
            let argument = self.primary()?;
            let argument = self.unary_only(argument)?;
            self.record(&op, &last);
            let only = op == "," && info.only_globals && argument.only_globals;
            info = merge(info, argument);
            info.global = None;
            info.symbol = None;
            info.system_dictionary = false;
            info.only_globals = only;
            sent = true;
        }
        if keyword && matches!(self.peek(), Tok::Keyword(_)) {
            last = info.clone();
            info = self.keyword_send(info)?;
            sent = true;
        }
        if !sent {
            last = info.clone();
        }
        Ok((info, last))
    }

    fn unary_only(&mut self, mut info: Info) -> Res<Info> {
        while let Tok::Ident(selector) = self.peek().clone() {
            self.advance();
            info = self.unary_send(info, selector);
        }
        Ok(info)
    }

    fn unary_send(&mut self, receiver: Info, selector: String) -> Info {
        self.record(&selector, &receiver);
        Info {
            system_dictionary: receiver.global.as_deref() == Some("Smalltalk")
                && selector == "globals",
            asks_responds_to: receiver.asks_responds_to,
            globals: receiver.globals,
            ..Info::default()
        }
    }

    fn keyword_send(&mut self, receiver: Info) -> Res<Info> {
        let mut selector = String::new();
        let mut arguments = Vec::new();
        while let Tok::Keyword(part) = self.peek().clone() {
            self.advance();
            let guards = receiver.asks_responds_to && GUARD_SELECTORS.contains(&part.as_str());
            if guards {
                self.guard_depth += 1;
            }
            let argument = self
                .primary()
                .and_then(|p| self.messages(p, false).map(|(i, _)| i));
            if guards {
                self.guard_depth -= 1;
            }
            selector.push_str(&part);
            arguments.push(argument?);
        }
        self.record(&selector, &receiver);
        self.note_keyword_send(&selector, &receiver, &arguments);
        let mut info = Info {
            asks_responds_to: receiver.asks_responds_to || selector == "respondsTo:",
            globals: receiver.globals,
            ..Info::default()
        };
        for argument in arguments {
            info.asks_responds_to |= argument.asks_responds_to;
            info.globals.extend(argument.globals);
        }
        Ok(info)
    }

    /// Handlers (`on:do:`) and lookups of globals by name.
    fn note_keyword_send(&mut self, selector: &str, receiver: &Info, arguments: &[Info]) {
        let parts: Vec<&str> = selector.split_inclusive(':').collect();
        for (part, argument) in parts.iter().zip(arguments) {
            if *part == "on:" && selector.starts_with("on:do:") {
                self.facts.handlers.push(Handler {
                    classes: argument.globals.clone(),
                    dynamic: !argument.only_globals,
                });
            }
        }
        if selector == "respondsTo:"
            && let Some(tested) = arguments.first().and_then(|a| a.symbol.clone())
        {
            self.facts.capability_tests.push(tested);
        }
        if !(receiver.system_dictionary || receiver.global.as_deref() == Some("Smalltalk")) {
            return;
        }
        let lookup = match selector {
            "at:" => Lookup::Required,
            "at:put:" => Lookup::Define,
            "at:ifAbsent:"
            | "at:ifPresent:"
            | "at:ifPresent:ifAbsent:"
            | "includesKey:"
            | "at:ifAbsentPut:"
            | "hasClassNamed:"
            | "classNamed:" => Lookup::Optional,
            _ => return,
        };
        if let Some(name) = arguments.first().and_then(|a| a.symbol.clone()) {
            self.facts.lookups.push((name, lookup));
        }
    }

    fn record(&mut self, selector: &str, receiver: &Info) {
        self.facts.sends.push(Send {
            selector: selector.to_string(),
            receiver: match &receiver.global {
                Some(name) => Receiver::Global(name.clone()),
                None => Receiver::Other,
            },
            guarded: self.guard_depth > 0,
        });
    }

    /// A name read or assigned: a global when it is not local, bound by the class, or a
    /// pseudo-variable, and starts with an upper-case letter.
    fn variable(&mut self, name: &str) -> Option<String> {
        if PSEUDO_VARIABLES.contains(&name) || self.is_local(name) || self.bound.contains(name) {
            return None;
        }
        if !name.starts_with(|c: char| c.is_uppercase()) {
            return None;
        }
        self.facts.globals.push(name.to_string());
        Some(name.to_string())
    }

    fn primary(&mut self) -> Res<Info> {
        // A negative number: `-` right before a number where an operand is expected.
        if let (Tok::Binary(op), Tok::Literal) = (self.peek(), self.peek_at(1))
            && op == "-"
            && self.tokens[self.pos + 1].offset == self.tokens[self.pos].offset + 1
        {
            self.advance();
            self.advance();
            return Ok(Info::default());
        }
        match self.advance() {
            Tok::Ident(name) => Ok(match self.variable(&name) {
                Some(global) => Info {
                    global: Some(global.clone()),
                    globals: vec![global],
                    only_globals: true,
                    ..Info::default()
                },
                None => Info::default(),
            }),
            Tok::Symbol(s) => Ok(Info {
                symbol: Some(s),
                ..Info::default()
            }),
            Tok::Str | Tok::Literal => Ok(Info::default()),
            Tok::LitArray => {
                self.skip_literal_array()?;
                Ok(Info::default())
            }
            Tok::ByteArray => {
                self.skip_byte_array()?;
                Ok(Info::default())
            }
            Tok::LBrack => self.block(),
            Tok::LParen => {
                let info = self.expression()?;
                match self.advance() {
                    Tok::RParen => Ok(info),
                    _ => {
                        self.pos = self.pos.saturating_sub(1);
                        self.fail(")")
                    }
                }
            }
            Tok::LBrace => {
                let mut info = Info::default();
                loop {
                    while *self.peek() == Tok::Period {
                        self.advance();
                    }
                    if *self.peek() == Tok::RBrace {
                        self.advance();
                        return Ok(info);
                    }
                    if *self.peek() == Tok::Caret {
                        self.advance();
                    }
                    let element = self.expression()?;
                    info.asks_responds_to |= element.asks_responds_to;
                    info.globals.extend(element.globals);
                    if !matches!(self.peek(), Tok::Period | Tok::RBrace) {
                        return self.fail("a period or }");
                    }
                }
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                self.fail("an expression")
            }
        }
    }

    fn block(&mut self) -> Res<Info> {
        self.scopes.push(Vec::new());
        let mut has_arguments = false;
        while *self.peek() == Tok::Colon {
            self.advance();
            self.argument_name()?;
            has_arguments = true;
        }
        if has_arguments {
            match self.peek() {
                Tok::Binary(op) if op == "|" => {
                    self.advance();
                }
                Tok::RBrack => {}
                _ => return self.fail("| after the block arguments"),
            }
        }
        if *self.peek() == Tok::Binary("|".into()) {
            self.temporaries()?;
        }
        self.statements(&Tok::RBrack)?;
        if self.advance() != Tok::RBrack {
            self.pos = self.pos.saturating_sub(1);
            return self.fail("]");
        }
        self.scopes.pop();
        Ok(Info::default())
    }

    /// The rest of `#( … )`: names in it are symbols, not variables; only parentheses nest.
    fn skip_literal_array(&mut self) -> Res<()> {
        let mut depth = 1;
        while depth > 0 {
            match self.advance() {
                Tok::LParen | Tok::LitArray => depth += 1,
                Tok::RParen => depth -= 1,
                Tok::ByteArray => self.skip_byte_array()?,
                Tok::Eof => return self.fail("the end of a literal array"),
                _ => {}
            }
        }
        Ok(())
    }

    fn skip_byte_array(&mut self) -> Res<()> {
        loop {
            match self.advance() {
                Tok::RBrack => return Ok(()),
                Tok::Eof => return self.fail("the end of a byte array"),
                _ => {}
            }
        }
    }
}

fn merge(mut a: Info, b: Info) -> Info {
    a.asks_responds_to |= b.asks_responds_to;
    a.globals.extend(b.globals);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(source: &str) -> MethodFacts {
        facts_bound(source, &[])
    }

    fn facts_bound(source: &str, bound: &[&str]) -> MethodFacts {
        let bound: HashSet<String> = bound.iter().map(|s| s.to_string()).collect();
        match method_facts(source, &bound) {
            Ok(f) => f,
            Err(e) => panic!("{source:?} did not parse: {e}"),
        }
    }

    fn selectors(f: &MethodFacts) -> Vec<&str> {
        f.sends.iter().map(|s| s.selector.as_str()).collect()
    }

    #[test]
    fn unary_binary_and_keyword_sends_in_evaluation_order() {
        let f = facts("total: aList\n\t^ aList inject: 0 into: [ :sum :each | sum + each size ]");
        assert_eq!(selectors(&f), vec!["size", "+", "inject:into:"]);
    }

    #[test]
    fn cascade_parts_are_sent_to_the_receiver_of_the_last_message() {
        let f = facts("build\n\t^ Dictionary new at: 1 put: 2; at: 3 put: 4; yourself");
        assert_eq!(selectors(&f), vec!["new", "at:put:", "at:put:", "yourself"]);
        assert_eq!(f.sends[0].receiver, Receiver::Global("Dictionary".into()));
        // the cascade goes to `Dictionary new`, not to the global
        assert!(f.sends[1..].iter().all(|s| s.receiver == Receiver::Other));
        let f = facts("show\n\tTranscript show: 'a'; cr; show: 'b'");
        assert_eq!(selectors(&f), vec!["show:", "cr", "show:"]);
        assert!(
            f.sends
                .iter()
                .all(|s| s.receiver == Receiver::Global("Transcript".into()))
        );
    }

    #[test]
    fn globals_exclude_arguments_temporaries_block_arguments_and_bound_names() {
        let f = facts_bound(
            "run: Arg\n\t| Temp |\n\tTemp := Arg.\n\t[ :Each | Each foo. Current bar ] value: OrderedCollection new.\n\t^ Registry",
            &["Registry"],
        );
        assert_eq!(f.globals, vec!["Current", "OrderedCollection"]);
    }

    #[test]
    fn literals_never_look_like_sends_or_globals() {
        let f = facts(
            "lits\n\t\"a comment with Foo bar: baz\"\n\t^ { #(Foo bar: #baz: (nested Qux) #[1 2 3]) . 'it''s Baz quux' . $' . $\" . #at:put: . #+ . #'odd ]' . 16r1F . 2.5e-3 . 1.5s2 . -3 }",
        );
        assert!(f.sends.is_empty(), "{:?}", f.sends);
        assert!(f.globals.is_empty(), "{:?}", f.globals);
    }

    #[test]
    fn negative_literals_and_subtraction() {
        let f = facts("d: x\n\t^ x-1 - -2 max: 3-4");
        assert_eq!(selectors(&f), vec!["-", "-", "-", "max:"]);
        let f = facts("d\n\t-1 to: 2 do: [ :i | i ].\n\t^ #(-1 2) , { -3 }");
        assert_eq!(selectors(&f), vec!["to:do:", ","]);
    }

    #[test]
    fn binary_and_keyword_patterns_bind_their_arguments() {
        let f = facts("= Other\n\t^ Other class == self class");
        assert!(f.globals.is_empty());
        assert_eq!(selectors(&f), vec!["class", "class", "=="]);
        let f = facts("at: Key put: Value\n\t^ Key -> Value");
        assert!(f.globals.is_empty());
    }

    #[test]
    fn pragmas_and_their_error_temporaries() {
        let f = facts(
            "basicAt: i\n\t<primitive: 60 error: ec>\n\t<category: #(a b)>\n\t^ ec isNil ifTrue: [ self primitiveFailed ]",
        );
        assert_eq!(selectors(&f), vec!["isNil", "primitiveFailed", "ifTrue:"]);
    }

    #[test]
    fn handlers_name_their_exception_classes() {
        let f = facts("guarded\n\t^ [ self run ] on: ZeroDivide, Warning do: [ :e | e return: 0 ]");
        assert_eq!(
            f.handlers,
            vec![Handler {
                classes: vec!["ZeroDivide".into(), "Warning".into()],
                dynamic: false
            }]
        );
        let f = facts("guarded\n\t^ [ self run ] on: self errors do: [ :e | nil ]");
        assert_eq!(
            f.handlers,
            vec![Handler {
                classes: vec![],
                dynamic: true
            }]
        );
        let f = facts(
            "guarded\n\t^ [ self run ] on: Error do: [ :e | 1 ] on: MyNotification do: [ :e | 2 ]",
        );
        let named: Vec<&[String]> = f.handlers.iter().map(|h| h.classes.as_slice()).collect();
        assert_eq!(
            named,
            vec![
                &["Error".to_string()][..],
                &["MyNotification".to_string()][..]
            ]
        );
    }

    #[test]
    fn sends_inside_a_responds_to_branch_are_guarded() {
        let f = facts(
            "pick: x\n\t^ (x respondsTo: #fancy)\n\t\tifTrue: [ x fancy ]\n\t\tifFalse: [ x plain ]",
        );
        let guarded: Vec<(&str, bool)> = f
            .sends
            .iter()
            .map(|s| (s.selector.as_str(), s.guarded))
            .collect();
        assert_eq!(
            guarded,
            vec![
                ("respondsTo:", false),
                ("fancy", true),
                ("plain", true),
                ("ifTrue:ifFalse:", false)
            ]
        );
        assert_eq!(f.capability_tests, vec!["fancy"]);
        let f = facts("pick: x\n\t^ ((x respondsTo: #a) and: [ x a ]) or: [ x b ]");
        assert!(
            f.sends
                .iter()
                .filter(|s| s.selector == "a")
                .all(|s| s.guarded)
        );
        let f = facts("pick: x\n\t^ x isNil ifTrue: [ x c ]");
        assert!(f.sends.iter().all(|s| !s.guarded));
    }

    #[test]
    fn lookups_by_name_through_smalltalk() {
        let f = facts(
            "look\n\t| a |\n\ta := Smalltalk globals at: #Alpha ifAbsent: [ nil ].\n\t(Smalltalk globals includesKey: #Beta) ifTrue: [ Smalltalk at: #Gamma put: 3 ].\n\t^ Smalltalk at: #Delta",
        );
        assert_eq!(
            f.lookups,
            vec![
                ("Alpha".into(), Lookup::Optional),
                ("Beta".into(), Lookup::Optional),
                ("Gamma".into(), Lookup::Define),
                ("Delta".into(), Lookup::Required),
            ]
        );
        let f = facts("look\n\t^ Other at: #Alpha");
        assert!(f.lookups.is_empty());
    }

    #[test]
    fn block_temporaries_and_empty_argument_bars() {
        let f = facts("b\n\t^ [ :x || t | t := x. Foo new ] value: 1");
        assert_eq!(f.globals, vec!["Foo"]);
        let f = facts("b\n\t^ [ | t | t ] value");
        assert!(f.globals.is_empty());
    }

    #[test]
    fn broken_sources_are_errors_with_an_offset() {
        let bound = HashSet::new();
        let e = method_facts("foo\n\t^ (1 + 2", &bound).unwrap_err();
        assert!(e.message.contains(")"), "{e}");
        assert!(method_facts("foo\n\t^ 'open", &bound).is_err());
        assert!(method_facts("foo\n\t^ 1 ]", &bound).is_err());
    }

    #[test]
    fn keyword_selector_parts_join_and_unary_after_keyword_argument() {
        let f = facts("k\n\t^ self at: 1 size put: 2 factorial + 3");
        assert_eq!(selectors(&f), vec!["size", "factorial", "+", "at:put:"]);
    }
}
