//! Text from outside (an image's answers, the environment, files) shown to a person: every
//! printer of human-readable output passes it through [`escape`] or [`escape_text`], so no
//! class name, protocol, method source, version string or `HOTPATCH_USER` can send a terminal
//! an escape sequence (clear the screen, set the clipboard through OSC 52, retitle the window,
//! hide text with a carriage return). `--json` output is never escaped: JSON strings carry the
//! exact text.
//!
//! The rule, one for every printer:
//! - a control character (Unicode `Cc`: C0, DEL, C1) or a bidirectional formatting character
//!   (which reorders what the terminal shows, as in "Trojan Source") is shown as an escape:
//!   `\e` for ESC, `\t`, `\n`, `\r`, `\xNN` for the other C0 characters and DEL, `\u{NNNN}` for
//!   C1 and bidi characters;
//! - in a name or any one-line field ([`escape`]), tab and newline are escaped too, so a name
//!   can neither forge an output line nor shift columns;
//! - in multi-line text ([`escape_text`]: method sources in a diff, class comments, `eval`
//!   answers, messages) tab and newline are kept, they are its layout; everything else as above.
//!
//! A backslash is shown as it is: Smalltalk uses `\\` (modulo) and `\` in code, and the aim is
//! to keep the terminal safe, not to make the text reversible (that is `--json`'s job).
//!
//! The CLI prints human-readable text with `outln!`, `errln!`, `out!` and `err!` (`println!`,
//! `eprintln!`, `print!`, `eprint!` through [`escape_text`]), and names inside it are escaped
//! with [`escape`] where the line is built. The one text printed as it is, `diff`'s unified diff,
//! is escaped by its renderer ([`crate::diff::render_unified`]) so that its colours survive;
//! JSON, file-ins and generated scripts (completions, manual pages) are data, not shown text.

use std::borrow::Cow;

/// A name or one-line field, with every control and bidi character escaped (tab and newline
/// included).
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_with(text, false)
}

/// Multi-line text, with every control and bidi character escaped except tab and newline.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape_with(text, true)
}

fn escape_with(text: &str, keep_layout: bool) -> Cow<'_, str> {
    let shown = |c: char| !needs_escape(c) || (keep_layout && (c == '\n' || c == '\t'));
    if text.chars().all(shown) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if shown(c) {
            out.push(c);
            continue;
        }
        match c {
            '\x1b' => out.push_str("\\e"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Control characters and the bidirectional formatting characters (marks, embeddings,
/// overrides, isolates).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `println!` for human-readable output: the formatted line goes through [`escape_text`].
macro_rules! outln {
    () => { println!() };
    ($($arg:tt)*) => { println!("{}", $crate::term::escape_text(&format!($($arg)*))) };
}

/// `eprintln!` for human-readable output: the formatted line goes through [`escape_text`].
macro_rules! errln {
    ($($arg:tt)*) => { eprintln!("{}", $crate::term::escape_text(&format!($($arg)*))) };
}

/// `print!` for human-readable output: the formatted text goes through [`escape_text`].
macro_rules! out {
    ($($arg:tt)*) => { print!("{}", $crate::term::escape_text(&format!($($arg)*))) };
}

/// `eprint!` for human-readable output: the formatted text goes through [`escape_text`].
macro_rules! err {
    ($($arg:tt)*) => { eprint!("{}", $crate::term::escape_text(&format!($($arg)*))) };
}

pub(crate) use {err, errln, out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in ["SampleApp>>greet:", "a \\\\ b", "Zeichenkette äöü", ""] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
        }
        assert!(matches!(escape_text("a\n\tb"), Cow::Borrowed("a\n\tb")));
    }

    #[test]
    fn escapes_are_shown_visibly() {
        assert_eq!(escape("Evil\x1b[2JName"), "Evil\\e[2JName");
        assert_eq!(
            escape("\x1b]52;c;aGk=\x07"),
            "\\e]52;c;aGk=\\x07",
            "OSC 52 (clipboard)"
        );
        assert_eq!(escape("a\rb\0c\x7f"), "a\\rb\\x00c\\x7f");
        assert_eq!(escape("\u{9b}2J"), "\\u{9b}2J", "C1 CSI");
        assert_eq!(escape("abc\u{202e}def"), "abc\\u{202e}def", "bidi override");
    }

    #[test]
    fn names_escape_layout_and_text_keeps_it() {
        assert_eq!(escape("Evil\nName\tX"), "Evil\\nName\\tX");
        assert_eq!(
            escape_text("greet: a\n\t^ '\x1b[2J' , a\r"),
            "greet: a\n\t^ '\\e[2J' , a\\r"
        );
    }

    #[test]
    fn escaping_twice_changes_nothing_more() {
        let once = escape("x\x1by\nz").into_owned();
        assert_eq!(escape(&once), once);
        assert_eq!(escape_text(&once), once);
    }
}
