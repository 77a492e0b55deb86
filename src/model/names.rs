//! Smalltalk's rules for names, one rule per kind of name, in one place: what the Tonel check
//! ([`crate::tonel::name_errors`]) and `--rename-var` hold the sources to before anything is
//! sent, the same rules the agent's `HpNameCheck` applies to what arrives on the wire.
//!
//! The rules are the language's, as Pharo's and Squeak's class builders and compilers take them:
//!
//! | kind | rule |
//! | --- | --- |
//! | class (also superclass, extended class) | an identifier starting with an upper-case letter |
//! | pool | a global's name: an identifier starting with an upper-case letter |
//! | class variable | an identifier, not a reserved word; lower case is allowed (Pharo and Squeak take `electricConstant`, Squeak after a warning) |
//! | instance and class-instance variable | an identifier, not a reserved word |
//! | selector | unary (`foo`), binary (`+`, `->`, `~=`) or keywords (`at:put:`) |
//! | protocol, package, tag | 1 to 255 characters, no control characters |
//!
//! An identifier is a letter or `_` followed by letters, digits and `_`, at most 255 characters;
//! letters are Unicode letters (Pharo takes them).

/// What a name names; each kind has its rule (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Class,
    Pool,
    ClassVariable,
    InstanceVariable,
    ClassInstanceVariable,
    Selector,
    Protocol,
    Package,
    Tag,
}

/// The words Smalltalk reserves: no variable may be named so.
pub const RESERVED: [&str; 6] = ["self", "super", "thisContext", "nil", "true", "false"];

/// The characters a binary selector is made of.
pub const BINARY_CHARACTERS: &str = "!%&*+,-/<=>?@\\~|";

/// The longest name (and category) accepted.
pub const MAX_LENGTH: usize = 255;

impl NameKind {
    /// What the kind is called in a message: `class variable name`.
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Class => "class name",
            NameKind::Pool => "pool name",
            NameKind::ClassVariable => "class variable name",
            NameKind::InstanceVariable => "instance variable name",
            NameKind::ClassInstanceVariable => "class-instance variable name",
            NameKind::Selector => "selector",
            NameKind::Protocol => "protocol",
            NameKind::Package => "package name",
            NameKind::Tag => "tag",
        }
    }

    /// The rule, as the message states it.
    pub fn rule(self) -> &'static str {
        match self {
            NameKind::Class | NameKind::Pool => {
                "letters, digits and _, starting with an upper-case letter"
            }
            NameKind::ClassVariable => {
                "letters, digits and _, not starting with a digit, not a reserved word; lower \
                 case is allowed"
            }
            NameKind::InstanceVariable | NameKind::ClassInstanceVariable => {
                "letters, digits and _, not starting with a digit, not a reserved word"
            }
            NameKind::Selector => "unary (foo), binary (+) or keywords (at:put:)",
            NameKind::Protocol | NameKind::Package | NameKind::Tag => {
                "1 to 255 characters, no control characters"
            }
        }
    }

    /// Whether `name` is a valid name of this kind.
    pub fn accepts(self, name: &str) -> bool {
        match self {
            NameKind::Class | NameKind::Pool => is_class_name(name),
            NameKind::ClassVariable
            | NameKind::InstanceVariable
            | NameKind::ClassInstanceVariable => is_variable_name(name),
            NameKind::Selector => is_selector(name),
            NameKind::Protocol | NameKind::Package | NameKind::Tag => is_category(name),
        }
    }

    /// `None` when `name` is valid, else what is wrong with it:
    /// `'electric Constant' is not a valid class variable name (an identifier …)`.
    pub fn problem(self, name: &str) -> Option<String> {
        (!self.accepts(name)).then(|| {
            format!(
                "{} is not a valid {} ({})",
                quoted(name),
                self.noun(),
                self.rule()
            )
        })
    }
}

/// `name` in quotes for a message, control characters shown escaped ([`crate::term::escape`]),
/// cut at 60 characters.
fn quoted(name: &str) -> String {
    let cut: String = name.chars().take(60).collect();
    let mut shown = crate::term::escape(&cut).into_owned();
    if name.chars().count() > 60 {
        shown.push('…');
    }
    format!("'{shown}'")
}

/// A letter or `_`, then letters, digits and `_`; 1 to 255 characters.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.chars().count() <= MAX_LENGTH
        && (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// An identifier starting with an upper-case letter.
pub fn is_class_name(name: &str) -> bool {
    is_identifier(name) && name.chars().next().is_some_and(char::is_uppercase)
}

/// An identifier that is not a reserved word (any case).
pub fn is_variable_name(name: &str) -> bool {
    is_identifier(name) && !RESERVED.contains(&name)
}

/// A unary, binary or keyword selector.
pub fn is_selector(name: &str) -> bool {
    if name.is_empty() || name.chars().count() > MAX_LENGTH {
        return false;
    }
    if name.chars().all(|c| BINARY_CHARACTERS.contains(c)) {
        return true;
    }
    match name.strip_suffix(':') {
        None => is_identifier(name),
        Some(keywords) => keywords.split(':').all(is_identifier),
    }
}

/// 1 to 255 characters without (ASCII) control characters: they break file-outs and browsers.
pub fn is_category(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_LENGTH
        && !name.chars().any(|c| c.is_ascii_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_start_with_an_upper_case_letter() {
        for ok in ["SampleApp", "PMConstant", "Ünïcode", "A_b1"] {
            assert!(NameKind::Class.accepts(ok), "{ok}");
        }
        for bad in [
            "sampleApp",
            "Sample App",
            "",
            "1Foo",
            "_Foo",
            "Foo-Bar",
            "Foo:",
        ] {
            assert!(!NameKind::Class.accepts(bad), "{bad:?}");
        }
        assert!(!NameKind::Class.accepts(&"A".repeat(256)));
    }

    #[test]
    fn class_variables_may_be_lower_case_but_not_reserved() {
        for ok in ["electricConstant", "Default", "_cache", "x1"] {
            assert!(NameKind::ClassVariable.accepts(ok), "{ok}");
        }
        for bad in ["self", "nil", "two words", "1st", ""] {
            assert!(!NameKind::ClassVariable.accepts(bad), "{bad:?}");
        }
        let problem = NameKind::ClassVariable
            .problem("electric constant")
            .unwrap();
        assert!(
            problem.starts_with("'electric constant' is not a valid class variable name ("),
            "{problem}"
        );
        assert!(problem.contains("lower case is allowed"), "{problem}");
        assert_eq!(NameKind::ClassVariable.problem("electricConstant"), None);
    }

    #[test]
    fn instance_variables_are_identifiers_that_are_not_reserved() {
        assert!(NameKind::InstanceVariable.accepts("count"));
        assert!(NameKind::InstanceVariable.accepts("Count"));
        for bad in [
            "self",
            "super",
            "thisContext",
            "true",
            "false",
            "nil",
            "a-b",
            "a b",
        ] {
            assert!(!NameKind::InstanceVariable.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn selectors_are_unary_binary_or_keywords() {
        for ok in [
            "foo",
            "+",
            "->",
            "~=",
            "at:",
            "at:put:",
            "with:with:with:",
            "_private",
        ] {
            assert!(is_selector(ok), "{ok}");
        }
        for bad in [
            "", "foo bar", "at:put", ":", "at::", "1foo", "+a", "at: put:", "foo\n",
        ] {
            assert!(!is_selector(bad), "{bad:?}");
        }
    }

    #[test]
    fn categories_have_no_control_characters() {
        assert!(NameKind::Protocol.accepts("*Sample-Extensions"));
        assert!(NameKind::Package.accepts("Sample-Core"));
        assert!(!NameKind::Package.accepts(""));
        assert!(!NameKind::Tag.accepts("a\nb"));
        assert!(!NameKind::Protocol.accepts("\u{1b}[2J"));
        let problem = NameKind::Tag.problem("a\u{1b}b").unwrap();
        assert!(problem.contains("a\\eb"), "escaped: {problem}");
    }
}
