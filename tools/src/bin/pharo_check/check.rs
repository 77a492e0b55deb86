//! The comparison: every send, global and exception class of the agent against one Pharo tree.
//! Pure: takes two [`Index`]es, answers a [`Report`]; printing is in `print`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use hotpatch::model::Side;

use crate::allow::{BOOTSTRAP_GLOBALS, GUARDED_SENDS, QUIET_SIGNALS};
use crate::index::Index;
use crate::sends::{Lookup, Receiver};

/// The Pharo packages that make up the compile path (parser, semantic analysis, code
/// generation, error and notice classes) in Pharo 9 to 13.
pub const COMPILE_PATH_PACKAGES: &[&str] = &["OpalCompiler-Core", "AST-Core"];

/// The exception roots a class's kind is named after, nearest first.
const EXCEPTION_KINDS: &[&str] = &["Error", "Warning", "Notification", "Exception"];

/// What the check found for one Pharo tree.
#[derive(Debug, Serialize)]
pub struct Report {
    /// A name for the Pharo version (`--label`).
    pub label: String,
    /// The Pharo `src/` directory that was read.
    pub pharo_src: String,
    /// The commit of that checkout, when it is a git work tree.
    pub pharo_commit: Option<String>,
    /// Pharo files the Tonel reader refused (count and the first few).
    pub unreadable_files: Listing,
    /// Pharo methods the send parser could not follow (count and the first few).
    pub unparsed_methods: Listing,
    /// Pharo classes and traits read.
    pub pharo_classes: usize,
    /// Pharo methods read.
    pub pharo_methods: usize,
    /// The agent packages read.
    pub agent_packages: Vec<String>,
    /// Agent methods read.
    pub agent_methods: usize,
    /// Send sites in the agent's methods.
    pub send_sites: usize,
    /// Distinct selectors the agent sends.
    pub selectors_sent: usize,
    /// Of those, defined by the agent itself (and not sent to a Pharo global).
    pub selectors_agent_defined: usize,
    /// Distinct selectors (and `Global selector` pairs) checked against Pharo.
    pub sends_checked: usize,
    /// Checked and implemented.
    pub sends_resolved: usize,
    /// Every checked send: selector, receiver, how many Pharo classes implement it, status.
    pub sends: Vec<SendStatus>,
    /// Not implemented and not accepted: each is a defect.
    pub unresolved_sends: Vec<SendFinding>,
    /// Not implemented in this version but only sent behind a capability test.
    pub guarded_sends: Vec<SendFinding>,
    /// Selectors the agent asks `respondsTo:` about, and whether this version has them anywhere.
    pub capability_tests: Vec<CapabilityTest>,
    /// Globals the agent names (directly or with `Smalltalk globals at: #Name`).
    pub globals_checked: usize,
    /// Every global checked and what defines it here: `class`, `trait`, `defined in src`
    /// (`Smalltalk globals at: #Name put:`), `bootstrap` or `unresolved`.
    pub globals: Vec<(String, &'static str)>,
    /// Globals this version does not define: each is a defect.
    pub unresolved_globals: Vec<GlobalFinding>,
    /// Globals created by the bootstrap rather than by a source in `src/`.
    pub bootstrap_globals: Vec<GlobalFinding>,
    /// Globals looked up with an absent case (`ifAbsent:`, `includesKey:`), present or not.
    pub optional_globals: Vec<OptionalGlobal>,
    /// Exception classes the agent's handlers name, and what each is in this version.
    pub handled_exceptions: Vec<ExceptionFinding>,
    /// Handlers whose exception argument is computed (`on: self compileErrors do:`).
    pub computed_handlers: Vec<String>,
    /// Exception classes the compile path refers to, and who catches each.
    pub compile_path_signals: Vec<SignalFinding>,
    /// Nothing unresolved, nothing escaping.
    pub ok: bool,
}

/// A count with the first few items.
#[derive(Debug, Serialize, Default)]
pub struct Listing {
    /// How many.
    pub count: usize,
    /// The first few.
    pub first: Vec<String>,
}

impl Listing {
    /// The count of `items` and its first `n`.
    pub fn of(items: &[String], n: usize) -> Listing {
        Listing {
            count: items.len(),
            first: items.iter().take(n).cloned().collect(),
        }
    }
}

/// A send Pharo does not implement (or that a named receiver does not understand).
#[derive(Debug, Serialize, Clone)]
pub struct SendFinding {
    /// The selector.
    pub selector: String,
    /// The global it is sent to, when the check was receiver-specific.
    pub receiver: Option<String>,
    /// Why it is unresolved (or accepted).
    pub reason: String,
    /// The agent methods that send it.
    pub sites: Vec<String>,
}

/// One checked send and what this Pharo version has for it.
#[derive(Debug, Serialize, Clone)]
pub struct SendStatus {
    /// The selector.
    pub selector: String,
    /// The global it is sent to, when the check was receiver-specific.
    pub receiver: Option<String>,
    /// How many classes or traits (each side counted) implement the selector here.
    pub implementors: usize,
    /// `resolved`, `guarded` or `unresolved`.
    pub status: &'static str,
    /// The agent methods that send it.
    pub sites: Vec<String>,
}

/// One `respondsTo: #selector` test of the agent.
#[derive(Debug, Serialize)]
pub struct CapabilityTest {
    /// The selector tested.
    pub selector: String,
    /// Some class or trait in this version implements it.
    pub implemented: bool,
}

/// A global the agent refers to.
#[derive(Debug, Serialize)]
pub struct GlobalFinding {
    /// The global's name.
    pub name: String,
    /// Why it is unresolved, or where it comes from.
    pub reason: String,
    /// The agent methods that refer to it.
    pub sites: Vec<String>,
}

/// A global looked up with an absent case.
#[derive(Debug, Serialize)]
pub struct OptionalGlobal {
    /// The global's name.
    pub name: String,
    /// This version defines it.
    pub present: bool,
}

/// An exception class the agent's handlers name.
#[derive(Debug, Serialize)]
pub struct ExceptionFinding {
    /// The class.
    pub name: String,
    /// `Error`, `Notification`, `Warning`, `Exception`; `missing` when this version lacks it;
    /// `not an exception` when it is a class outside `Exception`.
    pub kind: String,
    /// The superclass chain in this version, the class first.
    pub chain: Vec<String>,
    /// Named only through a lookup by name (`Smalltalk globals at: #Name ifAbsent:`).
    pub by_name: bool,
}

/// An exception class Pharo's compile path refers to.
#[derive(Debug, Serialize)]
pub struct SignalFinding {
    /// The class.
    pub name: String,
    /// `Error`, `Notification`, `Warning` or `Exception`.
    pub kind: String,
    /// The compile-path methods that refer to it (first few).
    pub referenced_in: Vec<String>,
    /// The agent's handler class that catches it, if any.
    pub caught_by: Option<String>,
    /// Why it may stay uncaught (see `allow::QUIET_SIGNALS`), if it is not caught.
    pub quiet_because: Option<String>,
}

impl SignalFinding {
    /// Neither caught nor documented as quiet: it escapes the agent's handlers.
    pub fn escapes(&self) -> bool {
        self.caught_by.is_none() && self.quiet_because.is_none()
    }
}

/// Compares the agent with one Pharo tree.
pub fn check(agent: &Index, pharo: &Index) -> Report {
    let mut report = Report {
        label: String::new(),
        pharo_src: String::new(),
        pharo_commit: None,
        unreadable_files: Listing::default(),
        unparsed_methods: Listing::of(&pharo.unparsed, 5),
        pharo_classes: pharo.classes.len(),
        pharo_methods: pharo.methods.len() + pharo.unparsed.len(),
        agent_packages: Vec::new(),
        agent_methods: agent.methods.len(),
        send_sites: 0,
        selectors_sent: 0,
        selectors_agent_defined: 0,
        sends_checked: 0,
        sends_resolved: 0,
        sends: Vec::new(),
        unresolved_sends: Vec::new(),
        guarded_sends: Vec::new(),
        capability_tests: Vec::new(),
        globals_checked: 0,
        globals: Vec::new(),
        unresolved_globals: Vec::new(),
        bootstrap_globals: Vec::new(),
        optional_globals: Vec::new(),
        handled_exceptions: Vec::new(),
        computed_handlers: Vec::new(),
        compile_path_signals: Vec::new(),
        ok: false,
    };
    check_sends(agent, pharo, &mut report);
    check_globals(agent, pharo, &mut report);
    check_exceptions(agent, pharo, &mut report);
    report.ok = report.unresolved_sends.is_empty()
        && report.unresolved_globals.is_empty()
        && report.compile_path_signals.iter().all(|s| !s.escapes())
        && report
            .handled_exceptions
            .iter()
            .all(|e| e.by_name || e.kind != "missing");
    report
}

/// The class whose instances a global holds, for globals that are not classes.
fn instance_class_of(global: &str) -> Option<&'static str> {
    BOOTSTRAP_GLOBALS
        .iter()
        .find(|g| g.name == global && !g.class.is_empty())
        .map(|g| g.class)
}

/// Per send site: the key it is checked under ((receiver global or none), selector).
type SendKey = (Option<String>, String);

fn check_sends(agent: &Index, pharo: &Index, report: &mut Report) {
    // key -> (sites, every site guarded)
    let mut keys: BTreeMap<SendKey, (BTreeSet<String>, bool)> = BTreeMap::new();
    let mut all_selectors: BTreeSet<&str> = BTreeSet::new();
    let mut agent_defined: BTreeSet<&str> = BTreeSet::new();
    let mut tests: BTreeSet<String> = BTreeSet::new();
    for m in &agent.methods {
        tests.extend(m.facts.capability_tests.iter().cloned());
        for send in &m.facts.sends {
            report.send_sites += 1;
            all_selectors.insert(&send.selector);
            let receiver = match &send.receiver {
                // The agent's own classes answer for themselves.
                Receiver::Global(g) if agent.has_class(g) => None,
                Receiver::Global(g) if pharo.has_class(g) || instance_class_of(g).is_some() => {
                    Some(g.clone())
                }
                _ => None,
            };
            if receiver.is_none() && agent.implementors.contains_key(&send.selector) {
                agent_defined.insert(&send.selector);
                continue;
            }
            let entry = keys
                .entry((receiver, send.selector.clone()))
                .or_insert_with(|| (BTreeSet::new(), true));
            entry.0.insert(m.label.clone());
            entry.1 &= send.guarded;
        }
    }
    report.selectors_sent = all_selectors.len();
    report.selectors_agent_defined = agent_defined.len();
    report.sends_checked = keys.len();
    for ((receiver, selector), (sites, all_guarded)) in keys {
        let missing = match &receiver {
            Some(g) if pharo.has_class(g) => (!pharo.understands(g, Side::Class, &selector))
                .then(|| format!("{g} (the class) does not understand #{selector}")),
            Some(g) => {
                let class = instance_class_of(g).unwrap_or_default();
                (!pharo.understands(class, Side::Instance, &selector))
                    .then(|| format!("{g} (a {class}) does not understand #{selector}"))
            }
            None => (!pharo.implementors.contains_key(&selector))
                .then(|| format!("no class or trait implements #{selector}")),
        };
        let sites: Vec<String> = sites.into_iter().collect();
        let mut status = SendStatus {
            implementors: pharo.implementors.get(&selector).copied().unwrap_or(0),
            selector: selector.clone(),
            receiver: receiver.clone(),
            status: "resolved",
            sites: sites.clone(),
        };
        let Some(reason) = missing else {
            report.sends_resolved += 1;
            report.sends.push(status);
            continue;
        };
        let allowed = GUARDED_SENDS.iter().find(|g| g.selector == selector);
        status.status = if allowed.is_some() && all_guarded {
            "guarded"
        } else {
            "unresolved"
        };
        report.sends.push(status);
        match allowed {
            Some(entry) if all_guarded => report.guarded_sends.push(SendFinding {
                selector,
                receiver,
                reason: entry.reason.to_string(),
                sites,
            }),
            Some(_) => report.unresolved_sends.push(SendFinding {
                selector,
                receiver,
                reason: format!(
                    "{reason}; listed as guarded, but a site is not behind a respondsTo: test"
                ),
                sites,
            }),
            None => report.unresolved_sends.push(SendFinding {
                selector,
                receiver,
                reason,
                sites,
            }),
        }
    }
    report.capability_tests = tests
        .into_iter()
        .map(|selector| CapabilityTest {
            implemented: pharo.implementors.contains_key(&selector),
            selector,
        })
        .collect();
}

/// Whether this version defines a global: a class or trait, or `Smalltalk globals at: #X put:`
/// somewhere in `src/`.
fn defined_by_sources(pharo: &Index, defined: &BTreeSet<String>, name: &str) -> bool {
    pharo.has_class(name) || defined.contains(name)
}

fn check_globals(agent: &Index, pharo: &Index, report: &mut Report) {
    let defined: BTreeSet<String> = pharo
        .methods
        .iter()
        .flat_map(|m| m.facts.lookups.iter())
        .filter(|(_, how)| *how == Lookup::Define)
        .map(|(name, _)| name.clone())
        .collect();
    let mut required: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut optional: BTreeSet<String> = BTreeSet::new();
    for m in &agent.methods {
        for g in &m.facts.globals {
            required
                .entry(g.clone())
                .or_default()
                .insert(m.label.clone());
        }
        for (name, how) in &m.facts.lookups {
            match how {
                Lookup::Required => {
                    required
                        .entry(name.clone())
                        .or_default()
                        .insert(m.label.clone());
                }
                Lookup::Optional => {
                    optional.insert(name.clone());
                }
                Lookup::Define => {}
            }
        }
    }
    // Superclasses outside the agent (Object, BaselineOf) must exist too.
    for (name, class) in &agent.classes {
        if let Some(superclass) = &class.superclass {
            required
                .entry(superclass.clone())
                .or_default()
                .insert(format!("{name} (superclass)"));
        }
    }
    required.retain(|name, _| !agent.has_class(name));
    report.globals_checked = required.len();
    for (name, sites) in required {
        if let Some(class) = pharo.classes.get(&name) {
            let what = if class.is_trait { "trait" } else { "class" };
            report.globals.push((name, what));
            continue;
        }
        if defined.contains(&name) {
            report.globals.push((name, "defined in src"));
            continue;
        }
        let sites: Vec<String> = sites.into_iter().collect();
        let bootstrap = BOOTSTRAP_GLOBALS.iter().find(|g| g.name == name);
        report.globals.push((
            name.clone(),
            if bootstrap.is_some() {
                "bootstrap"
            } else {
                "unresolved"
            },
        ));
        match bootstrap {
            Some(g) => report.bootstrap_globals.push(GlobalFinding {
                name,
                reason: g.reason.to_string(),
                sites,
            }),
            None => report.unresolved_globals.push(GlobalFinding {
                name,
                reason: "no class, trait or `Smalltalk globals at: #Name put:` defines it".into(),
                sites,
            }),
        }
    }
    report.optional_globals = optional
        .into_iter()
        .filter(|name| !agent.has_class(name))
        .map(|name| OptionalGlobal {
            present: defined_by_sources(pharo, &defined, &name),
            name,
        })
        .collect();
}

/// `Error`, `Notification`, … for an exception class; `None` when `name` is not under
/// `Exception` in this tree.
fn exception_kind(pharo: &Index, name: &str) -> Option<&'static str> {
    let chain = pharo.superclass_chain(name);
    if !chain.iter().any(|c| c == "Exception") {
        return None;
    }
    EXCEPTION_KINDS
        .iter()
        .find(|k| chain.iter().any(|c| c == *k))
        .copied()
}

fn check_exceptions(agent: &Index, pharo: &Index, report: &mut Report) {
    // Named in a handler, or looked up by name and an exception here.
    let mut handled: BTreeMap<String, bool> = BTreeMap::new();
    for m in &agent.methods {
        for h in &m.facts.handlers {
            for c in &h.classes {
                handled.insert(c.clone(), false);
            }
            if h.dynamic {
                report.computed_handlers.push(m.label.clone());
            }
        }
    }
    for m in &agent.methods {
        for (name, how) in &m.facts.lookups {
            if *how != Lookup::Define
                && !handled.contains_key(name)
                && (exception_kind(pharo, name).is_some() || looks_like_exception(name))
            {
                handled.insert(name.clone(), true);
            }
        }
    }
    report.computed_handlers.sort();
    report.computed_handlers.dedup();
    for (name, by_name) in &handled {
        let kind = if !pharo.has_class(name) {
            "missing".to_string()
        } else {
            exception_kind(pharo, name)
                .unwrap_or("not an exception")
                .to_string()
        };
        report.handled_exceptions.push(ExceptionFinding {
            chain: if pharo.has_class(name) {
                pharo.superclass_chain(name)
            } else {
                Vec::new()
            },
            name: name.clone(),
            kind,
            by_name: *by_name,
        });
    }

    // Exception classes the compile path refers to other than as a handler argument.
    let mut signals: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in pharo
        .methods
        .iter()
        .filter(|m| COMPILE_PATH_PACKAGES.contains(&m.package.as_str()))
    {
        let mut counts: BTreeMap<&str, isize> = BTreeMap::new();
        for g in &m.facts.globals {
            *counts.entry(g).or_default() += 1;
        }
        for h in &m.facts.handlers {
            for c in &h.classes {
                *counts.entry(c).or_default() -= 1;
            }
        }
        for (name, count) in counts {
            if count > 0 && exception_kind(pharo, name).is_some() {
                signals
                    .entry(name.to_string())
                    .or_default()
                    .push(m.label.clone());
            }
        }
    }
    let handlers: Vec<&String> = handled.keys().collect();
    for (name, mut sites) in signals {
        sites.sort();
        sites.truncate(3);
        let chain = pharo.superclass_chain(&name);
        let caught_by = chain
            .iter()
            .find(|c| handlers.contains(c))
            .map(|c| c.to_string());
        let quiet_because = QUIET_SIGNALS
            .iter()
            .find(|q| q.class == name)
            .map(|q| q.reason.to_string());
        report.compile_path_signals.push(SignalFinding {
            kind: exception_kind(pharo, &name).unwrap_or("").to_string(),
            name,
            referenced_in: sites,
            caught_by,
            quiet_because: if caught_by_is_some(&chain, &handlers) {
                None
            } else {
                quiet_because
            },
        });
    }
}

fn caught_by_is_some(chain: &[String], handlers: &[&String]) -> bool {
    chain.iter().any(|c| handlers.contains(&c))
}

/// A name looked up by the agent that this version lacks still counts as a handler class when
/// it is named like one (`…Error`, `…Notification`, `…Warning`, `…Exception`).
fn looks_like_exception(name: &str) -> bool {
    EXCEPTION_KINDS.iter().any(|k| name.ends_with(k))
}

#[cfg(test)]
mod tests {
    //! A miniature "Pharo" and a miniature agent, written for these tests: a compile path that
    //! signals a Notification, and agents that do or do not name it.

    use super::*;
    use hotpatch::model::{ClassDef, MethodDef, Package, Repository};

    fn method(class: &str, side: Side, source: &str) -> MethodDef {
        let selector = source
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        MethodDef {
            class_name: class.into(),
            side,
            selector,
            protocol: "test".into(),
            source: source.into(),
            span: None,
        }
    }

    fn class(name: &str, superclass: Option<&str>, methods: Vec<MethodDef>) -> ClassDef {
        ClassDef {
            name: name.into(),
            superclass: superclass.map(str::to_string),
            methods,
            ..ClassDef::default()
        }
    }

    fn repo(packages: Vec<(&str, Vec<ClassDef>)>) -> Repository {
        Repository {
            packages: packages
                .into_iter()
                .map(|(name, classes)| Package {
                    name: name.into(),
                    classes,
                    ..Package::default()
                })
                .collect(),
            ..Repository::default()
        }
    }

    /// Exceptions, a parser that signals a notification on bad input, and a socket class.
    fn mini_pharo() -> Index {
        let kernel = vec![
            class("ProtoObject", None, vec![]),
            class(
                "Object",
                Some("ProtoObject"),
                vec![method(
                    "Object",
                    Side::Instance,
                    "respondsTo: aSymbol\n\t^ true",
                )],
            ),
            class("Behavior", Some("Object"), vec![]),
            class("ClassDescription", Some("Behavior"), vec![]),
            class(
                "Class",
                Some("ClassDescription"),
                vec![method("Class", Side::Instance, "name\n\t^ #x")],
            ),
            class(
                "Exception",
                Some("Object"),
                vec![
                    method("Exception", Side::Instance, "messageText\n\t^ nil"),
                    method("Exception", Side::Class, ", other\n\t^ self"),
                ],
            ),
            class("Error", Some("Exception"), vec![]),
            class("Notification", Some("Exception"), vec![]),
            class(
                "Socket",
                Some("Object"),
                vec![method("Socket", Side::Class, "newTCP\n\t^ self new")],
            ),
        ];
        let compiler = vec![
            class("BadSyntaxNotice", Some("Notification"), vec![]),
            class(
                "MiniParser",
                Some("Object"),
                vec![method(
                    "MiniParser",
                    Side::Instance,
                    "parse: aString\n\taString isEmpty ifTrue: [ ^ BadSyntaxNotice new signal ].\n\t^ [ aString ] on: Error do: [ :e | nil ]",
                )],
            ),
        ];
        Index::build(
            &repo(vec![("Kernel", kernel), ("OpalCompiler-Core", compiler)]),
            |_| true,
        )
    }

    fn agent(methods: &[&str]) -> Index {
        let methods = methods
            .iter()
            .map(|m| method("HpMiniPlatform", Side::Instance, m))
            .collect();
        Index::build(
            &repo(vec![(
                "Hotpatch-Agent-Pharo",
                vec![class("HpMiniPlatform", Some("Object"), methods)],
            )]),
            |_| true,
        )
    }

    #[test]
    fn a_notification_on_the_compile_path_escapes_an_agent_that_only_catches_error() {
        let report = check(
            &agent(&["check: s\n\t^ [ s parse ] on: Error do: [ :e | e messageText ]"]),
            &mini_pharo(),
        );
        let notice = report
            .compile_path_signals
            .iter()
            .find(|s| s.name == "BadSyntaxNotice")
            .expect("the parser's notification is on the compile path");
        assert!(notice.escapes());
        assert_eq!(notice.kind, "Notification");
        assert!(!report.ok);
        // Error itself is only caught in the parser, never signalled: not a compile-path signal.
        assert!(
            report
                .compile_path_signals
                .iter()
                .all(|s| s.name != "Error")
        );
    }

    #[test]
    fn naming_the_notification_by_lookup_catches_it() {
        let report = check(
            &agent(&[
                "check: s\n\t^ [ s parse ] on: Error , self notice do: [ :e | e messageText ]",
                "notice\n\t^ Smalltalk globals at: #BadSyntaxNotice ifAbsent: [ nil ]",
            ]),
            &mini_pharo(),
        );
        let notice = report
            .compile_path_signals
            .iter()
            .find(|s| s.name == "BadSyntaxNotice")
            .expect("on the compile path");
        assert_eq!(notice.caught_by.as_deref(), Some("BadSyntaxNotice"));
        assert!(
            report
                .handled_exceptions
                .iter()
                .any(|e| e.name == "BadSyntaxNotice" && e.by_name)
        );
        assert!(report.compile_path_signals.iter().all(|s| !s.escapes()));
    }

    #[test]
    fn unimplemented_sends_are_unresolved_unless_guarded_and_listed() {
        // #compileOrFail is on the guarded list: accepted only behind respondsTo:.
        let guarded = check(
            &agent(&["c: x\n\t^ (x respondsTo: #compileOrFail) ifTrue: [ x compileOrFail ]"]),
            &mini_pharo(),
        );
        let names = |list: &[SendFinding]| -> Vec<String> {
            list.iter().map(|s| s.selector.clone()).collect()
        };
        assert_eq!(names(&guarded.guarded_sends), vec!["compileOrFail"]);
        // (the miniature has no #ifTrue:, so that one is unresolved here)
        assert_eq!(names(&guarded.unresolved_sends), vec!["ifTrue:"]);
        let bare = check(&agent(&["c: x\n\t^ x compileOrFail"]), &mini_pharo());
        assert_eq!(names(&bare.unresolved_sends), vec!["compileOrFail"]);
        assert!(
            bare.unresolved_sends[0]
                .reason
                .contains("not behind a respondsTo:")
        );
        // Not listed at all: unresolved even when guarded.
        let unlisted = check(
            &agent(&["c: x\n\t^ (x respondsTo: #frobnicate) ifTrue: [ x frobnicate ]"]),
            &mini_pharo(),
        );
        assert_eq!(
            names(&unlisted.unresolved_sends),
            vec!["frobnicate", "ifTrue:"]
        );
    }

    #[test]
    fn sends_to_a_named_class_are_checked_against_its_class_side() {
        let report = check(
            &agent(&[
                "l\n\t^ Socket newTCP",
                "m\n\t^ Socket respondsTo: #x",
                "n\n\t^ Socket listenTwice",
            ]),
            &mini_pharo(),
        );
        let unresolved: Vec<(&str, Option<&str>)> = report
            .unresolved_sends
            .iter()
            .map(|s| (s.selector.as_str(), s.receiver.as_deref()))
            .collect();
        // newTCP on the class side, respondsTo: inherited through Class from Object.
        assert_eq!(unresolved, vec![("listenTwice", Some("Socket"))]);
    }

    #[test]
    fn unknown_globals_are_unresolved_and_bootstrap_globals_are_listed() {
        let report = check(
            &agent(&["g\n\t^ Array with: Missing with: Processor"]),
            &mini_pharo(),
        );
        let unresolved: Vec<&str> = report
            .unresolved_globals
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(unresolved, vec!["Array", "Missing"]);
        assert_eq!(report.bootstrap_globals[0].name, "Processor");
    }
}
