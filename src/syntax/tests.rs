//! The checker on methods written for these tests: every construct the dialects accept is
//! accepted, broken methods are refused where Squeak's compiler reports them (the same
//! positions are checked against the CI image's compiler in `tests/syntax.rs`).

use super::ast::{Expr, Literal, PragmaArgument, Statement};
use super::*;

fn ok(source: &str) {
    if let Err(e) = check_method(source) {
        panic!("{source:?} was refused: {e}");
    }
}

fn err(source: &str) -> SyntaxError {
    match check_method(source) {
        Ok(()) => panic!("{source:?} was accepted"),
        Err(e) => e,
    }
}

/// The error's message, line and column.
fn at(source: &str) -> (&'static str, u32, u32) {
    let e = err(source);
    (e.message, e.line, e.column)
}

#[test]
fn literals_of_every_kind() {
    ok(
        "lits\n\t^ { #(foo bar: #baz $a 'str' 1 #(nested) true false nil) . #[1 2 255] . 1.5s2 . 1.5s . 3s . 16r1F . 16rff . 2r1010 . 36rZZ . 1e10 . 1.5e-3 . 2d5 . 1q3 . -3 . -3.5 . 16r-1F . $  . $' . $\" . 'it''s' . #+ . #-> . #at:put: . #foo:bar . ##foo . #'odd ]' . #Foo:Bar: . #_ }",
    );
    ok("chars\n\t^ { $$ . $# . $( . $) . $. . $: }");
    ok("bytes\n\t^ #[ 0 16rFF 2r1111 1e2 -0 ]");
    ok("nested\n\t^ #(#(1 2) (3 4) #[5 6] foo:bar: #+ + - -> ^ . ; [ ] { } := : $a)");
    ok("spaced\n\t^ # foo , # 'bar' , # (1 2)");
}

#[test]
fn numbers_end_where_pharo_ends_them() {
    // `2e` is 2 sent `e`; `1.` ends a statement; `3sin` is 3 sent `sin`.
    ok("n\n\t^ 2e");
    ok("n\n\t^ 1.");
    ok("n: x\n\t^ 3sin + x");
    ok("n\n\t^ 1.5e");
    ok("n\n\t^ 2r101 printString: 2");
    assert_eq!(at("n\n\t^ 1r0"), ("Invalid radix", 2, 4));
    assert_eq!(
        at("n\n\t^ 16rZZ + 1"),
        ("Digit expected after the radix", 2, 4)
    );
}

#[test]
fn binary_selectors_of_any_run_of_binary_characters() {
    ok(
        "b: x\n\t^ (x -> 1) , (x ==> 2) , (x ~~ 3) , (x <= 4) , (x >= 5) , (x ~= 6) , (x \\\\ 7) , (x // 8) , (x | 9) , (x & 10) , (x ==== 11) , (x +- 12)",
    );
    ok("-> x\n\t^ x");
    ok("|| x\n\t^ x");
    ok("==> other\n\t^ self = other");
    ok("× x\n\t^ x");
    ok("b: x\n\t^ x-1 - -2 max: 3-4");
    ok("b: x\n\t^ x--1");
    ok("b: x\n\t^ 3 @ -4");
}

#[test]
fn keywords_pragmas_cascades_and_blocks() {
    ok("at: Key Put: Value\n\t^ self At: Key put: Value");
    ok("p\n\t<primitive: 1>\n\t^ nil");
    ok("p\n\t<primitive: 60 error: ec>\n\t^ ec");
    ok("p\n\t<primitive: 'prim' module: 'Plugin'>\n\t^ nil");
    ok(
        "p\n\t<foo: #bar>\n\t<script: 'self new'>\n\t<category: #(a b) flag: true>\n\t| t |\n\t<after>\n\t^ t",
    );
    ok("p\n\t| t |\n\t<primitive: 1>\n\t^ t");
    ok("p\n\t< + 1>\n\t^ 2");
    ok("c\n\t^ OrderedCollection new add: 1; add: 2 + 3 factorial; yourself");
    ok("c\n\tTranscript show: 'a'; cr; show: 'b' , 'c'; - 1; + 2");
    ok("b\n\t^ [ :x :y | | t u | t := x. u := y. ^ t + u ] value: 1 value: 2");
    ok("b\n\t^ [:x] value: 1");
    ok("b\n\t^ [ :x || t | t := x ] value: 1");
    ok("b\n\t^ [:x|-1] value: 2");
    ok("b\n\t^ [ | | ] value");
    ok("b\n\t^ [ ]");
    ok("b\n\t| |\n\t^ 1");
    ok("b\n\t^ { }");
    ok("b\n\t^ { 1. 2. }");
    ok("b\n\t^ { 1. . 2. ^ 3 }");
    ok("b\n\t^ thisContext sender");
}

#[test]
fn statements_comments_and_returns() {
    ok(
        "\"leading\" s \"after the selector\"\n\t\"comment\" | a \"in temps\" | \"x\"\n\ta := 3 \"mid\" + \"mid\" 4.\n\t^ a \"end\"",
    );
    ok("s\n\t\"a \"\"quoted\"\" word\" ^ 1");
    ok("s\n\t. . 1. . 2. .");
    ok("s\n\t^ 1. 2");
    ok("s\n\t^ 1.");
    ok("s\n\tx := y := 3");
    ok("s\n\t^ super foo");
    ok("s");
    ok("s\n");
}

#[test]
fn underscores_as_each_dialect_reads_them() {
    // Pharo: a letter.
    ok("a_b: c_d\n\t| _t |\n\t_t := c_d.\n\t^ [ :_ | _t ] value: 1");
    // Squeak and Cuis: an assignment when it stands alone.
    ok("s\n\t| x y_z |\n\tx _ 3.\n\ty_z _ x + 1.\n\t^ x _ y_z");
    // Squeak up to 3.8: always an assignment.
    ok("s\n\t| x |\n\tx_3.\n\t^ x");
    ok("s\n\t| x |\n\tx ← 3.\n\t^ x");
}

#[test]
fn cuis_chains_messages_with_a_double_colon() {
    ok("c\n\t^ 1 bitShift: 3 :: + 5");
    ok("c\n\t^ 3 + 4 :: negated + 2 :: negated - 2 bitShift: 2 :: bitShift: -1");
    ok("c\n\t^ 1 = 1 :: ifTrue: [2] ifFalse: [3] :: + 1 ; + 10");
    ok("c\n\t^ #(a :: b)");
    ok("c\n\t^ OrderedCollection new add: 1; yourself :: size");
    ok("c\n\t^ 2 ^ 10");
    ok("c\n\t<primitive: 90>\n\t^ `0@0` + `Point x: 1 y: 2`");
    assert_eq!(at("c\n\t^ 1 + 2 :: . 3"), ("Message expected", 2, 13));
    assert_eq!(at("c\n\t^ 1 :: foo"), ("End of block expected", 2, 6));
}

#[test]
fn squeak_2_reads_a_minus_before_a_number_as_its_sign() {
    ok("m\n\t^ 3 - - 4");
    ok("m\n\t^ - 4 abs");
}

#[test]
fn the_issue_example_is_refused_where_squeak_refuses_it() {
    let source = "sum\n\t| sum total |\n\tsum := 0.\n\ttotal := sum + + 99.\n\t^ total";
    assert_eq!(at(source), ("Argument expected", 4, 17));
}

#[test]
fn errors_are_placed_as_squeaks_parser_places_them() {
    let cases: &[(&str, (&str, u32, u32))] = &[
        ("m\n\t^ 'abc", ("Unmatched string quote", 2, 4)),
        ("m\n\t^ 1 \"oops", ("Unmatched comment quote", 2, 6)),
        (
            "m\n\t^ [ :x | x + 1",
            ("Period or right bracket expected", 2, 16),
        ),
        ("m\n\t^ (1 + 2", ("Right parenthesis expected", 2, 10)),
        ("m\n\t^ 1 +", ("Argument expected", 2, 7)),
        (
            "m\n\t| a b |\n\ta := 3\n\tb := 4.\n\t^ a + b",
            ("Nothing more expected", 4, 4),
        ),
        ("m\n\t^ #(1 2", ("Unmatched parenthesis", 2, 5)),
        ("m\n\t^ #(1 #(2 (3) 4", ("Unmatched parenthesis", 2, 9)),
        ("m\n\t^ #(1 'abc)", ("Unmatched string quote", 2, 8)),
        ("foo:", ("Argument name expected", 1, 5)),
        ("m\n\t^ self foo:", ("Argument expected", 2, 13)),
        ("m\n\t| a b\n\t^ a", ("Vertical bar expected", 3, 2)),
        ("m\n\t^ [ :x x ]", ("Vertical bar expected", 2, 9)),
        ("m\n\t^ { 1 2 }", ("Period or right brace expected", 2, 8)),
        ("m\n\t^ 1 ]", ("Nothing more expected", 2, 6)),
        ("m\n\tx := .", ("Expression expected", 2, 7)),
        ("m\n\t^ self foo; ; bar", ("Cascade expected", 2, 14)),
        ("m\n\t^ 3 + (4 * )", ("Argument expected", 2, 13)),
        ("m\n\t^ )", ("Expression to return expected", 2, 4)),
        ("m\n\t^ 1 2", ("End of block expected", 2, 6)),
        ("m\n\t^ 1 + 2 'x'", ("End of block expected", 2, 11)),
        ("m\n\t^ 3 #sym", ("End of block expected", 2, 8)),
        ("m\n\t^ 3 #(1 2) ", ("End of block expected", 2, 12)),
        ("m\n\t^ ( )", ("Expression expected", 2, 6)),
        ("m\n\t^ $", ("Character expected", 2, 3)),
        ("m\n\t^ #", ("Literal expected", 2, 3)),
        ("m\n\t^ #1", ("Literal expected", 2, 4)),
        ("m\n\t^ #[1 256]", ("8-bit integer expected", 2, 8)),
        ("m\n\t^ #[1 2", ("Unmatched bracket", 2, 5)),
        ("m\n\t^ 1 § 2 \x01 3", ("Unknown character", 2, 10)),
        ("3 foo", ("Message pattern expected", 1, 1)),
        ("m\n\t<foo: bar>", ("Literal constant expected", 2, 8)),
        ("m\n\t<primitive: 1", ("> expected", 2, 15)),
        (
            "m\n\t[:x | ^ x 1 ] value: 2",
            ("End of block expected", 2, 12),
        ),
    ];
    for (source, want) in cases {
        assert_eq!(at(source), *want, "{source:?}");
    }
}

#[test]
fn every_method_of_a_package_is_checked_and_placed_in_its_file() {
    let file = "Class {\n\t#name : 'Demo',\n\t#superclass : 'Object',\n\t#package : 'Demo'\n}\n\n\
                { #category : 'a' }\nDemo >> good [\n\n\t^ 1\n]\n\n\
                { #category : 'a' }\nDemo >> bad [\n\n\t| sum total |\n\ttotal := sum + + 99.\n\t^ total\n]\n\n\
                { #category : 'a' }\nDemo class >> worse: x [\n\t^ x +\n]\n";
    let parsed = crate::tonel::parse_file(std::path::Path::new("src/Demo/Demo.class.st"), file)
        .expect("tonel");
    let crate::tonel::ParsedFile::Class(class) = parsed else {
        panic!("a class file");
    };
    let package = Package {
        name: "Demo".into(),
        classes: vec![class],
        ..Default::default()
    };
    let errors = check_packages(&[package]);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "src/Demo/Demo.class.st:17:17: Argument expected (in Demo>>bad)",
            "src/Demo/Demo.class.st:23:7: Argument expected (in Demo class>>worse:)",
        ]
    );
}

#[test]
fn the_tree_keeps_sends_names_and_literals() {
    let source = "at: i put: v\n\t<primitive: 60 error: ec>\n\t| t |\n\tt := #(1 2) , { i }.\n\t^ t at: i put: (v ifNil: [ #none ]); yourself";
    let m = parse_method(source).expect("parses");
    assert_eq!(m.selector.text(), "at:put:");
    assert_eq!(
        m.arguments.iter().map(|a| a.text).collect::<Vec<_>>(),
        ["i", "v"]
    );
    assert!(matches!(
        m.pragmas[0].arguments[1],
        PragmaArgument::Name(n) if n.text == "ec"
    ));
    assert_eq!(m.body.temporaries[0].text, "t");
    let Statement::Expression(Expr::Assign { target, value }) = &m.body.statements[0] else {
        panic!("an assignment first");
    };
    assert_eq!(target.text, "t");
    let Expr::Send { receiver, message } = value.as_ref() else {
        panic!("a send");
    };
    assert_eq!(message.selector.text(), ",");
    assert_eq!(**receiver, Expr::Literal(Literal::Array("#(1 2)")));
    let Statement::Return(Expr::Cascade { messages, .. }) = &m.body.statements[1] else {
        panic!("a returned cascade");
    };
    let selectors: Vec<_> = messages.iter().map(|m| m.selector.text()).collect();
    assert_eq!(selectors, ["at:put:", "yourself"]);
}
