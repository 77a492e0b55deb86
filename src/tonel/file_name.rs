//! Which file of a package folder holds a definition (`Foo.class.st`, `TFoo.trait.st`,
//! `Bar.extension.st`), and the rule a name must pass before it becomes part of a path. Names
//! may come from an image (`pull` writes the classes an image added), and an image is outside:
//! a name is checked as a name first, so it can never carry a separator, a `..`, an absolute
//! path or a control character into the file system.

use crate::model::ClassKind;
use crate::model::names::NameKind;

/// A name that cannot become a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}, so it cannot name a file")]
pub struct BadName {
    /// The name as given.
    pub name: String,
    /// What is wrong with it, the name shown escaped: `'X/../Y' is not a valid class name (…)`.
    pub problem: String,
}

/// Whether `name` can be a package folder: a valid package name
/// ([`crate::model::names`]) that does not start with `.` (a hidden folder, `.` or `..`) and
/// holds no path separator. Package names are freer than class names (`Sample-Core`).
pub fn is_package_name(name: &str) -> bool {
    NameKind::Package.accepts(name)
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
    if is_package_name(name) {
        return Ok(name);
    }
    let shown = crate::term::escape(name);
    Err(BadName {
        name: name.to_owned(),
        problem: format!(
            "'{shown}' is not a valid package folder (not empty, no leading '.', no '/', '\\' \
             or control characters)"
        ),
    })
}

/// `name` when it is a class name by the language's rule ([`crate::model::names`]): no
/// separator, `..`, absolute path or control character can pass it.
fn checked_class(name: &str) -> Result<&str, BadName> {
    match NameKind::Class.problem(name) {
        None => Ok(name),
        Some(problem) => Err(BadName {
            name: name.to_owned(),
            problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_class_names_name_class_files() {
        for good in ["Foo", "SampleApp", "Foo2", "Zeichenkette", "Ünïcode"] {
            assert!(extension_file_name(good).is_ok(), "{good}");
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
            assert!(extension_file_name(bad).is_err(), "{bad:?}");
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
