//! What one Smalltalk method source does, read from hotpatch's parse tree of it
//! ([`hotpatch::syntax::parse_method`], the parser a push checks every method with): every
//! message it sends (unary, binary, keyword, cascaded), every global it names, every global it
//! looks up by name (`Smalltalk globals at: #Foo ifAbsent: […]`), and what each `on:do:` handler
//! catches.
//!
//! No semantic analysis: a name is a global when it starts with an upper-case letter and is not
//! a method argument, a temporary, a block argument or one of the names the caller says the
//! class binds.

use hotpatch::syntax::ast::{Block, Body, Expr, Literal, Message, Method, PragmaArgument};
use hotpatch::syntax::{self, SyntaxError};
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

/// Everything found in one method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodFacts {
    /// Every send site, in evaluation order.
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

/// Reads one method source (pattern first, as Tonel stores it). `bound` holds the names the
/// class binds (instance, class-instance and class variables, pool names): they are not globals.
pub fn method_facts(source: &str, bound: &HashSet<String>) -> Result<MethodFacts, SyntaxError> {
    let method = syntax::parse_method(source)?;
    let mut walker = Walker {
        scopes: vec![Vec::new()],
        bound,
        facts: MethodFacts::default(),
        guard_depth: 0,
    };
    walker.method(&method);
    Ok(walker.facts)
}

/// What the walk knows about an expression it has read.
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

struct Walker<'b> {
    scopes: Vec<Vec<String>>,
    bound: &'b HashSet<String>,
    facts: MethodFacts,
    guard_depth: usize,
}

const PSEUDO_VARIABLES: &[&str] = &["self", "super", "thisContext", "true", "false", "nil"];
const GUARD_SELECTORS: &[&str] = &["ifTrue:", "ifFalse:", "and:", "or:"];

impl Walker<'_> {
    fn declare(&mut self, name: &str) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name.to_owned());
        }
    }

    fn is_local(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|n| n == name))
    }

    fn method(&mut self, method: &Method<'_>) {
        for argument in &method.arguments {
            self.declare(argument.text);
        }
        // `<primitive: 60 error: ec>` declares the temporary `ec`.
        for pragma in &method.pragmas {
            for argument in &pragma.arguments {
                if let PragmaArgument::Name(name) = argument {
                    self.declare(name.text);
                }
            }
        }
        self.body(&method.body);
    }

    fn body(&mut self, body: &Body<'_>) {
        for temporary in &body.temporaries {
            self.declare(temporary.text);
        }
        for statement in &body.statements {
            self.expression(statement.expression());
        }
    }

    fn block(&mut self, block: &Block<'_>) {
        self.scopes.push(Vec::new());
        for argument in &block.arguments {
            self.declare(argument.text);
        }
        self.body(&block.body);
        self.scopes.pop();
    }

    fn expression(&mut self, expr: &Expr<'_>) -> Info {
        match expr {
            Expr::Variable(name) => match self.variable(name.text) {
                Some(global) => Info {
                    global: Some(global.clone()),
                    globals: vec![global],
                    only_globals: true,
                    ..Info::default()
                },
                None => Info::default(),
            },
            Expr::Literal(Literal::Symbol(s)) => Info {
                symbol: Some(s.to_string()),
                ..Info::default()
            },
            Expr::Literal(_) => Info::default(),
            Expr::Assign { target, value } => {
                self.variable(target.text);
                self.expression(value)
            }
            Expr::Send { receiver, message } => {
                let receiver = self.expression(receiver);
                self.send(&receiver, message)
            }
            Expr::Cascade { receiver, messages } => {
                let receiver = self.expression(receiver);
                let mut info = Info::default();
                for message in messages {
                    let part = self.send(&receiver, message);
                    info.asks_responds_to |= part.asks_responds_to;
                    info.globals.extend(part.globals);
                }
                info
            }
            Expr::Block(block) => {
                self.block(block);
                Info::default()
            }
            Expr::Brace(elements) => {
                let mut info = Info::default();
                for element in elements {
                    let element = self.expression(element.expression());
                    info.asks_responds_to |= element.asks_responds_to;
                    info.globals.extend(element.globals);
                }
                info
            }
        }
    }

    /// `message` sent to an expression whose info is `receiver`: its arguments first, then the
    /// send itself (evaluation order).
    fn send(&mut self, receiver: &Info, message: &Message<'_>) -> Info {
        let selector = message.selector.text();
        match message.arguments.as_slice() {
            [] => {
                self.record(&selector, receiver);
                Info {
                    system_dictionary: receiver.global.as_deref() == Some("Smalltalk")
                        && selector == "globals",
                    asks_responds_to: receiver.asks_responds_to,
                    globals: receiver.globals.clone(),
                    ..Info::default()
                }
            }
            [argument] if message.selector.parts.len() == 1 && !selector.ends_with(':') => {
                let argument = self.expression(argument);
                self.record(&selector, receiver);
                Info {
                    asks_responds_to: receiver.asks_responds_to || argument.asks_responds_to,
                    only_globals: selector == "," && receiver.only_globals && argument.only_globals,
                    globals: receiver
                        .globals
                        .iter()
                        .cloned()
                        .chain(argument.globals)
                        .collect(),
                    ..Info::default()
                }
            }
            arguments => {
                let mut infos = Vec::with_capacity(arguments.len());
                for (part, argument) in message.selector.parts.iter().zip(arguments) {
                    let guards = receiver.asks_responds_to && GUARD_SELECTORS.contains(part);
                    if guards {
                        self.guard_depth += 1;
                    }
                    infos.push(self.expression(argument));
                    if guards {
                        self.guard_depth -= 1;
                    }
                }
                self.record(&selector, receiver);
                self.note_keyword_send(&selector, receiver, &infos);
                let mut info = Info {
                    asks_responds_to: receiver.asks_responds_to || selector == "respondsTo:",
                    globals: receiver.globals.clone(),
                    ..Info::default()
                };
                for argument in infos {
                    info.asks_responds_to |= argument.asks_responds_to;
                    info.globals.extend(argument.globals);
                }
                info
            }
        }
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
    fn broken_sources_are_errors_with_a_position() {
        let bound = HashSet::new();
        let e = method_facts("foo\n\t^ (1 + 2", &bound).unwrap_err();
        assert!(e.message.contains("parenthesis"), "{e}");
        assert!(method_facts("foo\n\t^ 'open", &bound).is_err());
        assert!(method_facts("foo\n\t^ 1 ]", &bound).is_err());
    }

    #[test]
    fn keyword_selector_parts_join_and_unary_after_keyword_argument() {
        let f = facts("k\n\t^ self at: 1 size put: 2 factorial + 3");
        assert_eq!(selectors(&f), vec!["size", "factorial", "+", "at:put:"]);
    }
}
