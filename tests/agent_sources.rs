//! Checks of the agent's own Smalltalk sources that need no VM: the shared package
//! (`Hotpatch-Agent`) sends nothing dialect-specific (everything that differs between Squeak 2.x,
//! Squeak 5/6, Cuis and Pharo goes through `HpPlatform`), and every platform class implements
//! what `HpPlatform` leaves to its subclasses.

use std::path::Path;

use hotpatch::model::{ClassDef, Repository, Side};

/// Sends the shared package must not make, each with why (which dialect lacks it) and what to use.
/// A rule is a sequence of tokens that must follow each other in a method's code (comments,
/// strings and character literals taken out).
const DIALECT_SENDS: &[(&[&str], &str)] = &[
    (
        &["Character", "value:"],
        "Cuis has no Character value: (use platform characterFor:)",
    ),
    (
        &["asInteger"],
        "Cuis has no Character>>asInteger (use asciiValue, Smalltalk-80)",
    ),
    (
        &["codePoint:"],
        "Squeak 2.x has no codePoint: (use platform characterFor:)",
    ),
    (
        &["numericValue"],
        "Cuis only (use asciiValue, Smalltalk-80)",
    ),
    (
        &["doWithIndex:"],
        "Cuis has no doWithIndex: (use withIndexDo:)",
    ),
    (
        &["errorHandler:"],
        "Squeak 2.x only (use platform handle:onError:)",
    ),
    (
        &["ensure:"],
        "Squeak 2.x has no ensure: (catch through the platform)",
    ),
    (
        &["ifCurtailed:"],
        "Squeak 2.x has no ifCurtailed: (catch through the platform)",
    ),
    (
        &["Transcript"],
        "cr/newLine differ by dialect (log through platform log:)",
    ),
    (
        &["FileDirectory"],
        "not in Cuis or Pharo (use the platform)",
    ),
    (&["FileStream"], "not in Pharo (use the platform)"),
    (&["FileEntry"], "Cuis only (use the platform)"),
    (&["asFileReference"], "Pharo only (use the platform)"),
    (
        &["Socket"],
        "socket APIs differ by dialect (use the platform)",
    ),
    (
        &["deadlineSecs:"],
        "not in Cuis or Pharo (use the platform)",
    ),
    (
        &["String", "crlf"],
        "not in Cuis (build it with platform characterFor:)",
    ),
    (&["utf8Encoded"], "Pharo only (use platform utf8Encode:)"),
    (&["utf8Decoded"], "Pharo only (use platform utf8Decode:)"),
    (&["squeakToUtf8"], "Squeak only (use platform utf8Encode:)"),
    (&["utf8ToSqueak"], "Squeak only (use platform utf8Decode:)"),
];

fn agent_sources() -> Repository {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("smalltalk-agent/src");
    let (repo, errors) = hotpatch::tonel::read_repository(&root).expect("read the agent's sources");
    assert!(
        errors.is_empty(),
        "the agent's sources have Tonel errors: {errors:#?}"
    );
    repo
}

/// The code tokens of a method source: identifiers, keywords (`at:`), and other characters one by
/// one; comments, string literals, symbols' quoted forms and character literals are left out.
fn code_tokens(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A string; '' inside it is an escaped quote.
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
        } else if c == '$' {
            i += 2;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if chars.get(i) == Some(&':') && chars.get(i + 1) != Some(&'=') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// The rules of `DIALECT_SENDS` that `source` breaks.
fn dialect_sends_in(source: &str) -> Vec<&'static str> {
    let tokens = code_tokens(source);
    DIALECT_SENDS
        .iter()
        .filter(|(rule, _)| {
            tokens
                .windows(rule.len())
                .any(|w| w.iter().zip(rule.iter()).all(|(t, r)| t == r))
        })
        .map(|(_, why)| *why)
        .collect()
}

/// Why the rule that starts with `first` exists.
fn reason(first: &str) -> &'static str {
    DIALECT_SENDS
        .iter()
        .find(|(rule, _)| rule[0] == first)
        .map(|(_, why)| *why)
        .unwrap_or_else(|| panic!("no rule starts with {first}"))
}

#[test]
fn the_scanner_sees_sends_but_not_comments_strings_or_characters() {
    let found = dialect_sends_in(
        "foo\n\t\"Character value: 10 in a comment\"\n\t^ 'Transcript cr' , $\" asString , (Character value: 10) asString",
    );
    assert_eq!(found, vec![reason("Character")], "{found:?}");
    assert!(dialect_sends_in("bar ^ 'it''s Transcript' size").is_empty());
    assert!(dialect_sends_in("baz ^ $' asciiValue").is_empty());
    assert_eq!(
        dialect_sends_in("qux #(1 2) doWithIndex: [ :e :i | e ]"),
        vec![reason("doWithIndex:")]
    );
}

#[test]
fn the_shared_package_sends_nothing_dialect_specific() {
    let repo = agent_sources();
    let shared = repo
        .packages
        .iter()
        .find(|p| p.name == "Hotpatch-Agent")
        .expect("package Hotpatch-Agent");
    let mut offences = Vec::new();
    for method in shared.methods() {
        for why in dialect_sends_in(&method.source) {
            offences.push(format!("{}>>{}: {why}", method.class_name, method.selector));
        }
    }
    assert!(
        offences.is_empty(),
        "dialect-specific sends in the shared package:\n{}",
        offences.join("\n")
    );
}

fn class<'a>(repo: &'a Repository, name: &str) -> &'a ClassDef {
    repo.packages
        .iter()
        .flat_map(|p| p.classes.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no class {name} in the agent's sources"))
}

#[test]
fn every_platform_implements_what_hp_platform_leaves_to_it() {
    let repo = agent_sources();
    let abstract_selectors: Vec<&str> = class(&repo, "HpPlatform")
        .methods
        .iter()
        .filter(|m| m.side == Side::Instance)
        .filter(|m| {
            code_tokens(&m.source)
                .iter()
                .any(|t| t == "subclassResponsibility")
        })
        .map(|m| m.selector.as_str())
        .collect();
    assert!(abstract_selectors.contains(&"characterFor:"));
    let mut missing = Vec::new();
    for name in [
        "HpSqueakPlatform",
        "HpModernSqueakPlatform",
        "HpPharoPlatform",
    ] {
        let platform = class(&repo, name);
        let defines = |selector: &str| {
            platform
                .methods
                .iter()
                .any(|m| m.side == Side::Instance && m.selector == selector)
        };
        for selector in &abstract_selectors {
            // writeLog: and writeFallbackLog: serve HpPlatform>>log:; a platform that overrides
            // log: itself does not need them.
            let serves_log = *selector == "writeLog:" || *selector == "writeFallbackLog:";
            let covered = defines(selector) || (serves_log && defines("log:"));
            if !covered {
                missing.push(format!("{name}>>{selector}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "platform methods missing:\n{}",
        missing.join("\n")
    );
}
