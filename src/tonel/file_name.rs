//! Which file of a package folder holds a definition (`Foo.class.st`, `TFoo.trait.st`,
//! `Bar.extension.st`), and the rule a name must pass before it becomes part of a path. Names
//! may come from an image (`pull` writes the classes an image added), and an image is outside:
//! a name is checked as a name first, so it can never carry a separator, a `..`, an absolute
//! path or a control character into the file system.

use crate::model::ClassKind;

/// A name that cannot become a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{}' is not a valid {what} name ({rule}), so it cannot name a file",
    crate::term::escape(name)
)]
pub struct BadName {
    /// The name as given.
    pub name: String,
    /// What it names: `class`, `package`.
    pub what: &'static str,
    /// The rule it breaks, in words.
    pub rule: &'static str,
}

/// Whether `name` is a class (or trait) name: a letter or `_`, then letters, digits or `_`, as
/// Smalltalk identifiers are (letters and digits of any script count; `:` does not).
pub fn is_class_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Whether `name` can be a package folder: not empty, not starting with `.` (a hidden folder,
/// `.` or `..`), and free of path separators and control characters. Package names are freer
/// than class names (`Sample-Core`, `Grease-Pharo90-Core`).
pub fn is_package_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// The file of a class or trait definition: `Foo.class.st`, `TFoo.trait.st`.
pub fn class_file_name(name: &str, kind: ClassKind) -> Result<String, BadName> {
    let suffix = match kind {
        ClassKind::Class => "class",
        ClassKind::Trait => "trait",
    };
    Ok(format!("{}.{suffix}.st", checked_class(name)?))
}

/// The file of a package's extension methods on class `name`: `Foo.extension.st`.
pub fn extension_file_name(name: &str) -> Result<String, BadName> {
    Ok(format!("{}.extension.st", checked_class(name)?))
}

/// The folder of package `name`.
pub fn package_folder_name(name: &str) -> Result<&str, BadName> {
    checked(
        name,
        is_package_name,
        "package",
        "not empty, no leading '.', no '/', '\\' or control characters",
    )
}

fn checked_class(name: &str) -> Result<&str, BadName> {
    checked(
        name,
        is_class_name,
        "class",
        "a letter or '_', then letters, digits or '_'",
    )
}

fn checked<'n>(
    name: &'n str,
    valid: fn(&str) -> bool,
    what: &'static str,
    rule: &'static str,
) -> Result<&'n str, BadName> {
    if valid(name) {
        Ok(name)
    } else {
        Err(BadName {
            name: name.to_owned(),
            what,
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_identifiers() {
        for good in [
            "Foo",
            "SampleApp",
            "_Private",
            "Foo2",
            "Zeichenkette",
            "Ünïcode",
        ] {
            assert!(is_class_name(good), "{good}");
        }
        for bad in [
            "",
            "X/../../../../tmp/hp_pwn1",
            "SampleApp/../SampleCounter",
            "/tmp/hp_abs",
            "..",
            "Evil\nName",
            "Evil\x1b[2JName",
            "Foo Bar",
            "Foo.Bar",
            "Foo:",
            "2Foo",
            "Foo\\Bar",
            "Foo\u{202e}",
        ] {
            assert!(!is_class_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn file_names_follow_the_kind() {
        assert_eq!(
            class_file_name("Foo", ClassKind::Class).unwrap(),
            "Foo.class.st"
        );
        assert_eq!(
            class_file_name("TFoo", ClassKind::Trait).unwrap(),
            "TFoo.trait.st"
        );
        assert_eq!(extension_file_name("Bar").unwrap(), "Bar.extension.st");
        let e = class_file_name("A/../B", ClassKind::Class).unwrap_err();
        assert_eq!(e.name, "A/../B");
        assert!(e.to_string().contains("not a valid class name"), "{e}");
    }

    #[test]
    fn the_message_shows_control_characters_escaped() {
        let e = extension_file_name("Evil\x1b[2J").unwrap_err();
        assert!(!e.to_string().contains('\x1b'), "{e}");
        assert!(e.to_string().contains("Evil\\e[2J"), "{e}");
    }

    #[test]
    fn package_folders_are_single_visible_names() {
        for good in [
            "Sample-Core",
            "Grease-Pharo90-Core",
            "My Package",
            "Pkg.Sub",
        ] {
            assert!(package_folder_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a\\b", "a\nb", "/abs"] {
            assert!(package_folder_name(bad).is_err(), "{bad:?}");
        }
    }
}
