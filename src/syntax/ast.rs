//! The parse tree of one method, as [`super::parse_method`] builds it. Names and literals borrow
//! the method source; positions are byte offsets into it.
//!
//! The tree keeps what a reader of the code needs (who is sent what, which names are bound
//! where), not every token: literal arrays are kept as their span, comments are dropped.

use std::borrow::Cow;

/// A name in the source (variable, argument, temporary) and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name<'a> {
    pub text: &'a str,
    /// Byte offset of the name's first character.
    pub at: usize,
}

/// A selector as written: one part for a unary or binary selector, one part per keyword
/// (`at:`, `put:`) for a keyword selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector<'a> {
    pub parts: Vec<&'a str>,
}

impl Selector<'_> {
    /// The whole selector: `size`, `+`, `at:put:`.
    pub fn text(&self) -> Cow<'_, str> {
        match self.parts.as_slice() {
            [one] => Cow::Borrowed(one),
            parts => Cow::Owned(parts.concat()),
        }
    }
}

/// A whole method: its pattern, pragmas, temporaries and statements.
#[derive(Debug, Clone, PartialEq)]
pub struct Method<'a> {
    pub selector: Selector<'a>,
    pub arguments: Vec<Name<'a>>,
    pub pragmas: Vec<Pragma<'a>>,
    pub body: Body<'a>,
}

/// `<primitive: 60 error: ec>`, `<script>`, `<foo: #bar>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pragma<'a> {
    pub selector: Selector<'a>,
    pub arguments: Vec<PragmaArgument<'a>>,
}

/// An argument of a pragma.
#[derive(Debug, Clone, PartialEq)]
pub enum PragmaArgument<'a> {
    Literal(Literal<'a>),
    /// A name, as the error code of `<primitive: 60 error: ec>` (it declares a temporary).
    Name(Name<'a>),
}

/// The temporaries and statements of a method or a block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body<'a> {
    pub temporaries: Vec<Name<'a>>,
    pub statements: Vec<Statement<'a>>,
}

/// One statement: an expression, or `^ expression`.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement<'a> {
    Expression(Expr<'a>),
    Return(Expr<'a>),
}

impl<'a> Statement<'a> {
    /// The statement's expression, returned or not.
    pub fn expression(&self) -> &Expr<'a> {
        match self {
            Statement::Expression(e) | Statement::Return(e) => e,
        }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<'a> {
    /// A variable read: argument, temporary, instance variable, global, or a pseudo-variable
    /// (`self`, `super`, `thisContext`, `true`, `false`, `nil`).
    Variable(Name<'a>),
    Literal(Literal<'a>),
    /// `name := value` (or `name _ value` in Squeak).
    Assign {
        target: Name<'a>,
        value: Box<Expr<'a>>,
    },
    /// `receiver message`.
    Send {
        receiver: Box<Expr<'a>>,
        message: Message<'a>,
    },
    /// `receiver m1; m2; m3`: every message goes to the same receiver.
    Cascade {
        receiver: Box<Expr<'a>>,
        messages: Vec<Message<'a>>,
    },
    Block(Block<'a>),
    /// `{ a. b }`: an array built from the statements' values.
    Brace(Vec<Statement<'a>>),
}

/// A message: selector and arguments, and where its (first) selector part starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    pub selector: Selector<'a>,
    pub arguments: Vec<Expr<'a>>,
    pub at: usize,
}

/// `[ :a :b | | t | statements ]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block<'a> {
    pub arguments: Vec<Name<'a>>,
    pub body: Body<'a>,
}

/// A literal constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal<'a> {
    /// A number as written (`12`, `-3`, `16r1F`, `1.5e-3`, `2.5s2`).
    Number(&'a str),
    /// `$a`.
    Character(char),
    /// A string's contents, with doubled quotes made single.
    String(Cow<'a, str>),
    /// A symbol's value: `#foo:bar:` is `foo:bar:`, `#'a b'` is `a b`.
    Symbol(Cow<'a, str>),
    /// `#( … )`: the whole literal array as written (its elements are not kept).
    Array(&'a str),
    /// `#[ … ]`: the whole byte array as written.
    ByteArray(&'a str),
}
