//! The method grammar, read by recursive descent over the lexer's tokens.
//!
//! The structure and the error messages follow Squeak's `Parser` (the compiler of the CI
//! image): an error is reported at the token where that parser notices it, with its wording.
//! What Pharo accepts beyond it is accepted too (see the module doc of [`super`]).

use super::ast::{
    Block, Body, Expr, Literal, Message, Method, Name, Pragma, PragmaArgument, Selector, Statement,
};
use super::lexer::{Kind, Token, integer_value};
use std::borrow::Cow;

/// Why a method did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The parser expected something else at this token.
    Expected { token: usize, message: &'static str },
    /// A lexical error at this byte offset (an unclosed string, a bad number …).
    Lexical { at: usize, message: &'static str },
    /// Expressions nested deeper than [`MAX_DEPTH`]: no verdict.
    TooDeep,
}

type Res<T> = Result<T, Failure>;

/// Nesting (parentheses, blocks, arrays, assignments, arguments) beyond which the parser gives
/// up rather than exhaust the stack; no real method comes near it.
const MAX_DEPTH: usize = 400;

pub(super) struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(source: &'a str, tokens: Vec<Token>) -> Parser<'a> {
        Parser {
            source,
            tokens,
            pos: 0,
            depth: 0,
        }
    }

    pub(super) fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    // -----------------------------------------------------------------------------------------
    // Tokens

    fn here(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn kind(&self) -> Kind {
        self.here().kind
    }

    fn text(&self) -> &'a str {
        let t = self.here();
        &self.source[t.start..t.end]
    }

    fn kind_at(&self, index: usize) -> Kind {
        self.tokens[index.min(self.tokens.len() - 1)].kind
    }

    fn is_binary(&self, op: &str) -> bool {
        self.kind() == Kind::Binary && self.text() == op
    }

    /// Whether `here` is a `|` or a binary token starting with one (`||`, `|-`): Pharo reads
    /// `||` as one selector, and takes its bars one at a time where bars delimit names.
    fn at_bar(&self) -> bool {
        self.kind() == Kind::Binary && self.text().starts_with('|')
    }

    /// Consumes one `|` of the bar token at `here`.
    fn take_bar(&mut self) -> Res<()> {
        let t = &mut self.tokens[self.pos];
        if t.end - t.start > 1 {
            t.start += 1;
            t.mark = t.start;
            return Ok(());
        }
        self.advance()
    }

    /// Moves to the next token. Squeak's scanner reads one token ahead of its parser, so a
    /// lexical error is reported as soon as it is the token after `here`.
    fn advance(&mut self) -> Res<()> {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        self.check_lookahead()
    }

    /// Reports the lexical error the scanner would hit reading the token after `here`.
    pub(super) fn check_lookahead(&self) -> Res<()> {
        let last = self.tokens.len() - 1;
        let error = &self.tokens[last];
        if error.kind == Kind::Error && self.here().next >= last {
            return Err(Failure::Lexical {
                at: error.start,
                message: error.message,
            });
        }
        Ok(())
    }

    fn expected(&self, message: &'static str) -> Failure {
        Failure::Expected {
            token: self.pos,
            message,
        }
    }

    fn name(&self) -> Name<'a> {
        Name {
            text: self.text(),
            at: self.here().start,
        }
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Failure::TooDeep);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // -----------------------------------------------------------------------------------------
    // Method

    pub(super) fn method(&mut self) -> Res<Method<'a>> {
        let (selector, arguments) = self.pattern()?;
        let mut pragmas = Vec::new();
        // Pragmas before and after the temporaries (Pharo, Squeak 3.9+); Squeak 2.x knows
        // `<primitive: …>` after them only.
        self.pragmas(&mut pragmas)?;
        let temporaries = self.temporaries()?;
        self.pragmas(&mut pragmas)?;
        let statements = self.statements()?;
        if self.kind() != Kind::End {
            return Err(self.expected("Nothing more expected"));
        }
        Ok(Method {
            selector,
            arguments,
            pragmas,
            body: Body {
                temporaries,
                statements,
            },
        })
    }

    fn pattern(&mut self) -> Res<(Selector<'a>, Vec<Name<'a>>)> {
        match self.kind() {
            Kind::Ident => {
                let selector = Selector {
                    parts: vec![self.text()],
                };
                self.advance()?;
                Ok((selector, Vec::new()))
            }
            Kind::Binary => {
                let selector = Selector {
                    parts: vec![self.text()],
                };
                self.advance()?;
                let argument = self.argument_name()?;
                Ok((selector, vec![argument]))
            }
            Kind::Keyword => {
                let mut parts = Vec::new();
                let mut arguments = Vec::new();
                while self.kind() == Kind::Keyword {
                    parts.push(self.text());
                    self.advance()?;
                    arguments.push(self.argument_name()?);
                }
                Ok((Selector { parts }, arguments))
            }
            _ => Err(self.expected("Message pattern expected")),
        }
    }

    fn argument_name(&mut self) -> Res<Name<'a>> {
        if self.kind() != Kind::Ident {
            return Err(self.expected("Argument name expected"));
        }
        let name = self.name();
        self.advance()?;
        Ok(name)
    }

    /// `| a b |` (also `||`), or nothing.
    fn temporaries(&mut self) -> Res<Vec<Name<'a>>> {
        let mut names = Vec::new();
        if !self.at_bar() {
            return Ok(names);
        }
        self.take_bar()?;
        while self.kind() == Kind::Ident {
            names.push(self.name());
            self.advance()?;
        }
        if !self.at_bar() {
            return Err(self.expected("Vertical bar expected"));
        }
        self.take_bar()?;
        Ok(names)
    }

    fn pragmas(&mut self, into: &mut Vec<Pragma<'a>>) -> Res<()> {
        while self.is_binary("<") {
            self.advance()?;
            into.push(self.pragma()?);
            if !self.is_binary(">") {
                return Err(self.expected("> expected"));
            }
            self.advance()?;
        }
        Ok(())
    }

    /// The inside of `< … >`: `<foo>`, `<foo: #lit bar: 3>`, `<+ 1>`; the arguments of
    /// `primitive:` may be any token (`<primitive: 60 error: ec>` names the error code).
    fn pragma(&mut self) -> Res<Pragma<'a>> {
        match self.kind() {
            Kind::Ident => {
                let selector = Selector {
                    parts: vec![self.text()],
                };
                self.advance()?;
                Ok(Pragma {
                    selector,
                    arguments: Vec::new(),
                })
            }
            Kind::Keyword => {
                let primitive = self.text() == "primitive:";
                let mut parts = Vec::new();
                let mut arguments = Vec::new();
                while self.kind() == Kind::Keyword {
                    parts.push(self.text());
                    self.advance()?;
                    arguments.push(self.pragma_argument(primitive)?);
                }
                Ok(Pragma {
                    selector: Selector { parts },
                    arguments,
                })
            }
            Kind::Binary if !self.is_binary(">") => {
                let selector = Selector {
                    parts: vec![self.text()],
                };
                self.advance()?;
                let argument = self.pragma_argument(false)?;
                Ok(Pragma {
                    selector,
                    arguments: vec![argument],
                })
            }
            _ => Err(self.expected("Pragma selector expected")),
        }
    }

    fn pragma_argument(&mut self, primitive: bool) -> Res<PragmaArgument<'a>> {
        if let Some(literal) = self.literal()? {
            return Ok(PragmaArgument::Literal(literal));
        }
        let name = self.name();
        let literal_name = matches!(name.text, "true" | "false" | "nil");
        if (self.kind() == Kind::Ident && literal_name) || (primitive && self.kind() != Kind::End) {
            self.advance()?;
            return Ok(PragmaArgument::Name(name));
        }
        Err(self.expected("Literal constant expected"))
    }

    // -----------------------------------------------------------------------------------------
    // Statements

    fn statements(&mut self) -> Res<Vec<Statement<'a>>> {
        let mut statements = Vec::new();
        loop {
            if self.kind() == Kind::Caret {
                self.advance()?;
                let Some(value) = self.expression()? else {
                    return Err(self.expected("Expression to return expected"));
                };
                statements.push(Statement::Return(value));
                if self.kind() != Kind::Period {
                    // Squeak wants the end of the block after a return; Pharo also takes more
                    // statements after a period (unreachable, a warning).
                    if !matches!(self.kind(), Kind::End | Kind::RightBracket) {
                        return Err(self.expected("End of block expected"));
                    }
                    return Ok(statements);
                }
            } else if let Some(e) = self.expression()? {
                statements.push(Statement::Expression(e));
            }
            if self.kind() != Kind::Period {
                return Ok(statements);
            }
            self.advance()?;
        }
    }

    /// An assignment, or a primary with its messages and cascade; `None` when no expression
    /// starts here (the caller says what it expected).
    fn expression(&mut self) -> Res<Option<Expr<'a>>> {
        self.enter()?;
        let expression = self.expression_inner();
        self.leave();
        expression
    }

    fn expression_inner(&mut self) -> Res<Option<Expr<'a>>> {
        if self.kind() == Kind::Ident && self.kind_at(self.pos + 1) == Kind::Assign {
            let target = self.name();
            self.advance()?;
            self.advance()?;
            let Some(value) = self.expression()? else {
                return Err(self.expected("Expression expected"));
            };
            return Ok(Some(Expr::Assign {
                target,
                value: Box::new(value),
            }));
        }
        let Some(primary) = self.primary()? else {
            return Ok(None);
        };
        let after_primary = self.pos;
        let mut expr = self.messages(primary, Level::Keyword)?;
        // Nothing to cascade or chain after a lone primary (`3; foo`, `(a foo); bar`): the
        // caller finds the `;` where it wants a period.
        let sent = self.pos != after_primary;
        loop {
            if sent && self.kind() == Kind::Semicolon {
                expr = self.cascade(expr)?;
            }
            // Cuis: `a foo: b :: bar` sends `bar` to the result of `a foo: b`.
            if !(sent && self.kind() == Kind::Chain) {
                return Ok(Some(expr));
            }
            self.advance()?;
            let before = self.pos;
            expr = self.messages(expr, Level::Keyword)?;
            if self.pos == before {
                return Err(self.expected("Message expected"));
            }
        }
    }

    /// `; message` after `expr`, a send: every message goes to the receiver of its last one.
    fn cascade(&mut self, expr: Expr<'a>) -> Res<Expr<'a>> {
        let Expr::Send {
            receiver,
            message: first,
        } = expr
        else {
            return Ok(expr);
        };
        let mut messages = vec![first];
        while self.kind() == Kind::Semicolon {
            self.advance()?;
            match self.message(Level::Keyword)? {
                Some(m) => messages.push(m),
                None => return Err(self.expected("Cascade expected")),
            }
        }
        Ok(Expr::Cascade { receiver, messages })
    }

    /// Messages sent in turn to `receiver`, up to `level` (keyword > binary > unary).
    fn messages(&mut self, mut receiver: Expr<'a>, level: Level) -> Res<Expr<'a>> {
        while let Some(message) = self.message(level)? {
            receiver = Expr::Send {
                receiver: Box::new(receiver),
                message,
            };
        }
        Ok(receiver)
    }

    /// One message of at most `level` (the caller builds the send), or `None` when none starts
    /// here.
    fn message(&mut self, level: Level) -> Res<Option<Message<'a>>> {
        let at = self.here().start;
        match self.kind() {
            Kind::Keyword if level >= Level::Keyword => {
                let mut parts = Vec::new();
                let mut arguments = Vec::new();
                while self.kind() == Kind::Keyword {
                    parts.push(self.text());
                    self.advance()?;
                    arguments.push(self.argument(Level::Binary)?);
                }
                Ok(Some(Message {
                    selector: Selector { parts },
                    arguments,
                    at,
                }))
            }
            // Cuis also reads `^` as a binary selector where a message may stand.
            Kind::Binary | Kind::Caret if level >= Level::Binary => {
                let op = self.text();
                self.advance()?;
                let argument = self.argument(Level::Unary)?;
                Ok(Some(Message {
                    selector: Selector { parts: vec![op] },
                    arguments: vec![argument],
                    at,
                }))
            }
            // `x-1`: the scanner made `-1` a number; after an operand it is a subtraction.
            Kind::Number if level >= Level::Binary && self.text().starts_with('-') => {
                let t = *self.here();
                self.advance()?;
                let number = Expr::Literal(Literal::Number(&self.source[t.start + 1..t.end]));
                let argument = self.messages(number, Level::Unary)?;
                Ok(Some(Message {
                    selector: Selector {
                        parts: vec![&self.source[t.start..t.start + 1]],
                    },
                    arguments: vec![argument],
                    at,
                }))
            }
            Kind::Ident => {
                let selector = Selector {
                    parts: vec![self.text()],
                };
                self.advance()?;
                Ok(Some(Message {
                    selector,
                    arguments: Vec::new(),
                    at,
                }))
            }
            _ => Ok(None),
        }
    }

    /// A message argument: a primary and its messages up to `level`.
    fn argument(&mut self, level: Level) -> Res<Expr<'a>> {
        self.enter()?;
        let argument = match self.primary()? {
            Some(p) => self.messages(p, level),
            None => Err(self.expected("Argument expected")),
        };
        self.leave();
        argument
    }

    fn primary(&mut self) -> Res<Option<Expr<'a>>> {
        match self.kind() {
            Kind::Ident => {
                let name = self.name();
                self.advance()?;
                Ok(Some(Expr::Variable(name)))
            }
            Kind::LeftBracket => {
                self.advance()?;
                Ok(Some(Expr::Block(self.block()?)))
            }
            Kind::LeftBrace => {
                self.advance()?;
                Ok(Some(Expr::Brace(self.brace()?)))
            }
            Kind::LeftParen => {
                self.advance()?;
                let Some(e) = self.expression()? else {
                    return Err(self.expected("Expression expected"));
                };
                if self.kind() != Kind::RightParen {
                    return Err(self.expected("Right parenthesis expected"));
                }
                self.advance()?;
                Ok(Some(e))
            }
            // Cuis: `` `0@0` `` is the value of the expression, computed when compiling.
            Kind::BackQuote => {
                self.advance()?;
                let Some(e) = self.expression()? else {
                    return Err(self.expected("Expression expected"));
                };
                if self.kind() != Kind::BackQuote {
                    return Err(self.expected("Back quote expected"));
                }
                self.advance()?;
                Ok(Some(e))
            }
            // `- 4`: Squeak 2.x reads a minus before a number as its sign, space or not.
            Kind::Binary
                if self.text() == "-"
                    && self.kind_at(self.pos + 1) == Kind::Number
                    && !self.source[self.tokens[self.pos + 1].start..].starts_with('-') =>
            {
                let start = self.here().start;
                self.advance()?;
                let end = self.here().end;
                self.advance()?;
                Ok(Some(Expr::Literal(Literal::Number(
                    &self.source[start..end],
                ))))
            }
            _ => Ok(self.literal()?.map(Expr::Literal)),
        }
    }

    /// A literal constant at `here`, or `None`.
    fn literal(&mut self) -> Res<Option<Literal<'a>>> {
        let t = *self.here();
        let text = &self.source[t.start..t.end];
        let literal = match t.kind {
            Kind::Number => Literal::Number(text),
            Kind::Character => Literal::Character(text[1..].chars().next().unwrap_or(' ')),
            Kind::String => Literal::String(unquote(text)),
            Kind::Symbol => Literal::Symbol(symbol_value(text)),
            Kind::LiteralArray => {
                self.literal_array()?;
                let end = self.tokens[self.pos.saturating_sub(1)].end;
                return Ok(Some(Literal::Array(&self.source[t.start..end])));
            }
            Kind::ByteArray => {
                self.byte_array()?;
                let end = self.tokens[self.pos.saturating_sub(1)].end;
                return Ok(Some(Literal::ByteArray(&self.source[t.start..end])));
            }
            _ => return Ok(None),
        };
        self.advance()?;
        Ok(Some(literal))
    }

    /// The rest of `#( … )` (`here` is `#(` or a nested `(`): any token is an element (a name
    /// or keyword is a symbol, `true`/`false`/`nil` their values, punctuation a symbol as
    /// Pharo reads it); parentheses nest. The lexer has checked that it is closed.
    fn literal_array(&mut self) -> Res<()> {
        self.enter()?;
        self.step_in_literal();
        loop {
            match self.kind() {
                Kind::RightParen => break,
                Kind::LeftParen | Kind::LiteralArray => self.literal_array()?,
                Kind::ByteArray => self.byte_array()?,
                Kind::End | Kind::Error => return Err(self.expected("Right parenthesis expected")),
                _ => self.step_in_literal(),
            }
        }
        self.leave();
        self.step_out_of_literal()
    }

    /// The rest of `#[ … ]`: integers from 0 to 255.
    fn byte_array(&mut self) -> Res<()> {
        self.step_in_literal();
        loop {
            match self.kind() {
                Kind::RightBracket => break,
                Kind::Number
                    if integer_value(self.text()).is_some_and(|v| (0..=255).contains(&v)) =>
                {
                    self.step_in_literal()
                }
                Kind::End | Kind::Error => return Err(self.expected("Right bracket expected")),
                _ => return Err(self.expected("8-bit integer expected")),
            }
        }
        self.step_out_of_literal()
    }

    /// Inside a literal array the scanner has read the whole array already: no lookahead check.
    fn step_in_literal(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    /// Past the closing token of a literal array: the lookahead check applies again once the
    /// outermost array is done.
    fn step_out_of_literal(&mut self) -> Res<()> {
        self.step_in_literal();
        self.check_lookahead()
    }

    /// The rest of a block, after its `[`.
    fn block(&mut self) -> Res<Block<'a>> {
        self.enter()?;
        let mut arguments = Vec::new();
        while self.kind() == Kind::Colon {
            self.advance()?;
            arguments.push(self.argument_name()?);
        }
        if !arguments.is_empty() && self.kind() != Kind::RightBracket {
            if !self.at_bar() {
                return Err(self.expected("Vertical bar expected"));
            }
            self.take_bar()?;
        }
        let temporaries = self.temporaries()?;
        let statements = self.statements()?;
        if self.kind() != Kind::RightBracket {
            return Err(self.expected("Period or right bracket expected"));
        }
        self.advance()?;
        self.leave();
        Ok(Block {
            arguments,
            body: Body {
                temporaries,
                statements,
            },
        })
    }

    /// The rest of a brace array, after its `{`: expressions separated by periods. Pharo also
    /// takes empty statements and returns there.
    fn brace(&mut self) -> Res<Vec<Statement<'a>>> {
        self.enter()?;
        let mut elements = Vec::new();
        loop {
            while self.kind() == Kind::Period {
                self.advance()?;
            }
            if self.kind() == Kind::RightBrace {
                break;
            }
            if self.kind() == Kind::Caret {
                self.advance()?;
                match self.expression()? {
                    Some(e) => elements.push(Statement::Return(e)),
                    None => return Err(self.expected("Expression to return expected")),
                }
            } else {
                match self.expression()? {
                    Some(e) => elements.push(Statement::Expression(e)),
                    None => return Err(self.expected("Variable or expression expected")),
                }
            }
            if self.kind() != Kind::Period {
                break;
            }
        }
        if self.kind() != Kind::RightBrace {
            return Err(self.expected("Period or right brace expected"));
        }
        self.advance()?;
        self.leave();
        Ok(elements)
    }
}

/// How much of a message chain an operand takes: an argument of a keyword takes unary and
/// binary messages, an argument of a binary only unary ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Unary,
    Binary,
    Keyword,
}

/// A string literal's contents (`'it''s'` → `it's`).
fn unquote(text: &str) -> Cow<'_, str> {
    let inner = &text[1..text.len() - 1];
    if inner.contains("''") {
        Cow::Owned(inner.replace("''", "'"))
    } else {
        Cow::Borrowed(inner)
    }
}

/// A symbol's value: `#foo:` → `foo:`, `##bar` → `bar`, `#'a b'` → `a b`, `# baz` → `baz`.
fn symbol_value(text: &str) -> Cow<'_, str> {
    let body = text.trim_start_matches(|c: char| c == '#' || c.is_whitespace());
    if body.starts_with('\'') {
        unquote(body)
    } else {
        Cow::Borrowed(body)
    }
}
