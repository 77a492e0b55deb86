//! Text renderings of [`Changes`] for people: a one-line-per-change summary, a per-class stat,
//! and unified diffs. Pure: each returns a `String`; printing happens in the CLI. What came from
//! outside (names, protocols, sources) is shown with its control characters escaped
//! ([`crate::term`]): names whole, sources with their tabs and newlines kept.

use super::{Changes, ClassChange, MethodChange, item_order, kind_label};
use crate::model::{ClassDef, ClassKind, normalize_line_endings};
use crate::term::{escape, escape_text};
use similar::{ChangeTag, TextDiff};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Widest histogram in [`render_stat`]; longer ones are scaled down, as `git diff --stat` does.
const STAT_WIDTH: usize = 40;

/// One change, class-level or method-level, in the order renderers show them: each class's
/// definition change first, then its methods.
enum Item<'a> {
    Class(&'a ClassChange),
    Method(&'a MethodChange),
}

fn items(changes: &Changes) -> Vec<Item<'_>> {
    let mut items: Vec<_> = changes
        .classes
        .iter()
        .map(|c| (item_order(c.name(), None), Item::Class(c)))
        .chain(changes.methods.iter().map(|m| {
            let key = m.key();
            (item_order(&key.class_name, Some(&key)), Item::Method(m))
        }))
        .collect();
    // Stable sort: ties keep input order, so the output is deterministic.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.into_iter().map(|(_, item)| item).collect()
}

/// One line per change: `+ class Foo`, `~ class Foo (superclass, inst vars)`, `- trait TBar`,
/// `+ Foo>>bar`, `~ Foo>>bar`, `- Foo class>>baz`, `> Foo>>x (accessing -> actions)`.
/// A changed method whose protocol changed too shows the move as well. Empty when nothing
/// differs.
pub fn render_summary(changes: &Changes) -> String {
    let mut out = String::new();
    for item in items(changes) {
        out.push_str(&escape(&summary_line(&item)));
        out.push('\n');
    }
    out
}

fn summary_line(item: &Item<'_>) -> String {
    match item {
        Item::Class(change) => change.summary(),
        Item::Method(change) => change.summary(),
    }
}

impl ClassChange {
    /// The change as one summary line: `+ class Foo`, `- trait TBar`,
    /// `~ class Foo (superclass, inst vars)`.
    pub fn summary(&self) -> String {
        match self {
            ClassChange::Added { new } => format!("+ {} {}", kind_label(new.kind), new.name),
            ClassChange::Removed { old } => format!("- {} {}", kind_label(old.kind), old.name),
            ClassChange::Changed { aspects, new, .. } => {
                let labels: Vec<&str> = aspects.iter().map(|a| a.label()).collect();
                format!(
                    "~ {} {} ({})",
                    kind_label(new.kind),
                    new.name,
                    labels.join(", ")
                )
            }
        }
    }
}

impl MethodChange {
    /// The change as one summary line: `+ Foo>>bar`, `- Foo class>>baz`, `~ Foo>>bar`,
    /// `~ Foo>>bar (old -> new protocol)`, `> Foo>>x (accessing -> actions)`.
    pub fn summary(&self) -> String {
        let key = self.key();
        match self {
            MethodChange::Added { .. } => format!("+ {key}"),
            MethodChange::Removed { .. } => format!("- {key}"),
            MethodChange::Changed { old, new } if old.method.protocol != new.method.protocol => {
                format!(
                    "~ {key} ({} -> {})",
                    old.method.protocol, new.method.protocol
                )
            }
            MethodChange::Changed { .. } => format!("~ {key}"),
            MethodChange::Moved { old, new } => {
                format!(
                    "> {key} ({} -> {})",
                    old.method.protocol, new.method.protocol
                )
            }
        }
    }
}

/// Per-class counts in the spirit of `git diff --stat`: one row per class touched, with the
/// number of changes (a definition change counts as one) and a histogram (`+` added, `~`
/// changed, `>` moved, `-` removed), then a totals line. Empty when nothing differs.
pub fn render_stat(changes: &Changes) -> String {
    #[derive(Default)]
    struct Row {
        note: &'static str,
        added: usize,
        changed: usize,
        moved: usize,
        removed: usize,
    }
    impl Row {
        fn total(&self) -> usize {
            self.added + self.changed + self.moved + self.removed
        }
    }

    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for class in &changes.classes {
        let row = rows.entry(class.name()).or_default();
        match class {
            ClassChange::Added { .. } => (row.note, row.added) = (" (new)", row.added + 1),
            ClassChange::Removed { .. } => {
                (row.note, row.removed) = (" (removed)", row.removed + 1)
            }
            ClassChange::Changed { .. } => {
                (row.note, row.changed) = (" (definition)", row.changed + 1)
            }
        }
    }
    for method in &changes.methods {
        let class_name = match method {
            MethodChange::Added { new } => new.method.class_name.as_str(),
            MethodChange::Removed { old }
            | MethodChange::Changed { old, .. }
            | MethodChange::Moved { old, .. } => old.method.class_name.as_str(),
        };
        let row = rows.entry(class_name).or_default();
        match method {
            MethodChange::Added { .. } => row.added += 1,
            MethodChange::Removed { .. } => row.removed += 1,
            MethodChange::Changed { .. } => row.changed += 1,
            MethodChange::Moved { .. } => row.moved += 1,
        }
    }
    if rows.is_empty() {
        return String::new();
    }

    let labels: Vec<String> = rows
        .iter()
        .map(|(n, r)| format!("{}{}", escape(n), r.note))
        .collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let max_total = rows.values().map(Row::total).max().unwrap_or(0);
    let count_width = max_total.to_string().len();
    let mut out = String::new();
    for (label, row) in labels.iter().zip(rows.values()) {
        let bar: String = [
            ('+', row.added),
            ('~', row.changed),
            ('>', row.moved),
            ('-', row.removed),
        ]
        .iter()
        .map(|&(mark, n)| mark.to_string().repeat(scaled(n, max_total)))
        .collect();
        let _ = writeln!(
            out,
            " {label:<label_width$} | {:>count_width$} {bar}",
            row.total()
        );
    }
    let totals = changes.counts();
    let _ = writeln!(
        out,
        " {} {} touched: {} added, {} changed, {} moved, {} removed",
        rows.len(),
        if rows.len() == 1 { "class" } else { "classes" },
        totals.classes_added + totals.methods_added,
        totals.classes_changed + totals.methods_changed,
        totals.methods_moved,
        totals.classes_removed + totals.methods_removed,
    );
    out
}

/// Width of a histogram segment: `n` itself when the widest row fits, else scaled (at least one
/// mark for a non-zero count, so no kind of change disappears).
fn scaled(n: usize, max_total: usize) -> usize {
    if max_total <= STAT_WIDTH || n == 0 {
        n
    } else {
        (n * STAT_WIDTH / max_total).max(1)
    }
}

/// A unified diff (3 lines of context) per changed class definition and per changed method,
/// image (`---`) against local (`+++`); added and removed items diff against `/dev/null`, and a
/// protocol change is shown as a `protocol old -> new` line. Line-ending-only differences don't
/// show. With `color`, removed lines are red, added lines green, hunk headers cyan, and the
/// per-item headers bold.
pub fn render_unified(changes: &Changes, color: bool) -> String {
    let mut out = String::new();
    for item in items(changes) {
        match item {
            Item::Class(change) => {
                let name = change.name();
                let label = match change.new_def().or(change.old()) {
                    Some(def) => kind_label(def.kind),
                    None => "class",
                };
                header_line(&mut out, &format!("diff {label} {}", escape(name)), color);
                let old = change.old().map(render_class_definition);
                let new = change.new_def().map(render_class_definition);
                text_diff(&mut out, old.as_deref(), new.as_deref(), name, color);
            }
            Item::Method(change) => {
                let key = change.key();
                header_line(
                    &mut out,
                    &format!("diff {}", escape(&key.to_string())),
                    color,
                );
                if let (Some(old), Some(new)) = (change.old(), change.new_side())
                    && old.method.protocol != new.method.protocol
                {
                    let _ = writeln!(
                        out,
                        "protocol {} -> {}",
                        escape(&old.method.protocol),
                        escape(&new.method.protocol)
                    );
                }
                if !matches!(change, MethodChange::Moved { .. }) {
                    let old = change.old().map(|m| m.method.source.as_str());
                    let new = change.new_side().map(|m| m.method.source.as_str());
                    text_diff(&mut out, old, new, &key.to_string(), color);
                }
            }
        }
    }
    out
}

fn header_line(out: &mut String, text: &str, color: bool) {
    if color {
        let _ = writeln!(out, "{BOLD}{text}{RESET}");
    } else {
        let _ = writeln!(out, "{text}");
    }
}

/// Appends the unified diff of `old` → `new` (`None` = absent, shown as `/dev/null`).
fn text_diff(out: &mut String, old: Option<&str>, new: Option<&str>, name: &str, color: bool) {
    // Normalising line endings first keeps CR/LF noise out of the diff; a final newline on both
    // sides keeps similar's "No newline at end of file" markers out (method sources have none).
    let prepare = |text: Option<&str>| {
        let mut text = normalize_line_endings(text.unwrap_or("")).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    };
    let (old_text, new_text) = (prepare(old), prepare(new));
    let name = escape(name);
    let a = old.map_or_else(|| "/dev/null".to_string(), |_| format!("image/{name}"));
    let b = new.map_or_else(|| "/dev/null".to_string(), |_| format!("local/{name}"));

    let diff = TextDiff::from_lines(old_text.as_str(), new_text.as_str());
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    let mut wrote_header = false;
    for hunk in unified.iter_hunks() {
        if !wrote_header {
            header_line(out, &format!("--- {a}"), color);
            header_line(out, &format!("+++ {b}"), color);
            wrote_header = true;
        }
        paint(out, &hunk.header().to_string(), CYAN, color);
        for change in hunk.iter_changes() {
            let line = change.value().strip_suffix('\n').unwrap_or(change.value());
            let line = escape_text(line);
            let (mark, paint_with) = match change.tag() {
                ChangeTag::Delete => ('-', Some(RED)),
                ChangeTag::Insert => ('+', Some(GREEN)),
                ChangeTag::Equal => (' ', None),
            };
            match paint_with {
                Some(code) => paint(out, &format!("{mark}{line}"), code, color),
                None => {
                    let _ = writeln!(out, "{mark}{line}");
                }
            }
        }
    }
}

fn paint(out: &mut String, text: &str, code: &str, color: bool) {
    if color {
        let _ = writeln!(out, "{code}{text}{RESET}");
    } else {
        let _ = writeln!(out, "{text}");
    }
}

/// A canonical, diff-friendly text of a class definition in Tonel's style (one variable per
/// line, empty fields left out), used by [`render_unified`]. Not meant to be parsed back: it
/// shows `#package` and `#tag` separately and always in the same field order, whatever the file
/// said.
pub fn render_class_definition(class: &ClassDef) -> String {
    let mut out = String::new();
    if let Some(comment) = class.comment.as_deref().filter(|c| !c.is_empty()) {
        let _ = writeln!(
            out,
            "\"{}\"",
            normalize_line_endings(comment).replace('"', "\"\"")
        );
    }
    let mut fields: Vec<String> = vec![format!("#name : {}", symbol(&class.name))];
    match (&class.kind, &class.superclass) {
        (_, Some(superclass)) => fields.push(format!("#superclass : {}", symbol(superclass))),
        (ClassKind::Class, None) => fields.push("#superclass : nil".to_string()),
        (ClassKind::Trait, None) => {}
    }
    if let Some(traits) = class.traits.as_deref().filter(|t| !t.is_empty()) {
        fields.push(format!("#traits : {}", string(traits)));
    }
    if let Some(traits) = class.class_traits.as_deref().filter(|t| !t.is_empty()) {
        fields.push(format!("#classTraits : {}", string(traits)));
    }
    if let Some(layout) = &class.layout {
        fields.push(format!("#type : {}", symbol(layout)));
    }
    for (field, names) in [
        ("#instVars", &class.inst_vars),
        ("#classVars", &class.class_vars),
        ("#pools", &class.pools),
        ("#classInstVars", &class.class_inst_vars),
    ] {
        if !names.is_empty() {
            let items: Vec<String> = names.iter().map(|n| format!("\t\t{}", string(n))).collect();
            fields.push(format!("{field} : [\n{}\n\t]", items.join(",\n")));
        }
    }
    fields.push(format!("#package : {}", string(&class.package)));
    if let Some(tag) = class.tag.as_deref().filter(|t| !t.is_empty()) {
        fields.push(format!("#tag : {}", string(tag)));
    }
    let keyword = match class.kind {
        ClassKind::Class => "Class",
        ClassKind::Trait => "Trait",
    };
    let _ = writeln!(out, "{keyword} {{\n\t{}\n}}", fields.join(",\n\t"));
    out
}

/// A Smalltalk symbol literal: `#Foo` for identifiers, `#'Foo-Bar'` otherwise.
fn symbol(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':');
    if plain {
        format!("#{name}")
    } else {
        format!("#{}", string(name))
    }
}

/// A Smalltalk string literal (quotes doubled).
fn string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
