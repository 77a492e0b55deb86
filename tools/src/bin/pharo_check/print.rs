//! The report as text for a terminal: a summary, then one section per finding kind.

use std::fmt::Write as _;

use crate::check::{Report, SendFinding};

/// Renders the whole report; `all` adds one line per checked send.
pub fn table(r: &Report, all: bool) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "pharo-check: {}", r.label);
    let _ = writeln!(w, "  Pharo sources   {}", r.pharo_src);
    if let Some(commit) = &r.pharo_commit {
        let _ = writeln!(w, "  commit          {commit}");
    }
    let _ = writeln!(
        w,
        "  read            {} classes/traits, {} methods; {} files unreadable, {} methods unparsed",
        r.pharo_classes, r.pharo_methods, r.unreadable_files.count, r.unparsed_methods.count
    );
    for f in &r.unreadable_files.first {
        let _ = writeln!(w, "    unreadable: {f}");
    }
    for f in &r.unparsed_methods.first {
        let _ = writeln!(w, "    unparsed: {f}");
    }
    let _ = writeln!(
        w,
        "  agent           {} ({} methods)",
        r.agent_packages.join(", "),
        r.agent_methods
    );
    let _ = writeln!(
        w,
        "  sends           {} sites, {} selectors ({} defined by the agent); {} checked: {} resolved, {} unresolved, {} guarded",
        r.send_sites,
        r.selectors_sent,
        r.selectors_agent_defined,
        r.sends_checked,
        r.sends_resolved,
        r.unresolved_sends.len(),
        r.guarded_sends.len()
    );
    let _ = writeln!(
        w,
        "  globals         {} checked: {} unresolved, {} from the bootstrap",
        r.globals_checked,
        r.unresolved_globals.len(),
        r.bootstrap_globals.len()
    );
    let escaping = r
        .compile_path_signals
        .iter()
        .filter(|s| s.escapes())
        .count();
    let _ = writeln!(
        w,
        "  exceptions      {} handled classes; {} compile-path signals, {} escaping",
        r.handled_exceptions.len(),
        r.compile_path_signals.len(),
        escaping
    );

    sends(w, "UNRESOLVED sends", &r.unresolved_sends);
    sends(
        w,
        "Guarded sends (missing here, behind a respondsTo: test)",
        &r.guarded_sends,
    );

    if !r.unresolved_globals.is_empty() {
        let _ = writeln!(w, "\nUNRESOLVED globals");
        for g in &r.unresolved_globals {
            let _ = writeln!(w, "  {:<32} {}  [{}]", g.name, g.reason, g.sites.join(", "));
        }
    }
    if !r.bootstrap_globals.is_empty() {
        let _ = writeln!(w, "\nGlobals from the bootstrap (not defined in src/)");
        for g in &r.bootstrap_globals {
            let _ = writeln!(w, "  {:<32} {}", g.name, g.reason);
        }
    }
    if !r.optional_globals.is_empty() {
        let _ = writeln!(w, "\nGlobals looked up by name with an absent case");
        for g in &r.optional_globals {
            let state = if g.present { "present" } else { "absent" };
            let _ = writeln!(w, "  {:<32} {state}", g.name);
        }
    }
    if !r.capability_tests.is_empty() {
        let _ = writeln!(
            w,
            "\nCapability tests (respondsTo:) and whether any class here implements them"
        );
        for t in &r.capability_tests {
            let state = if t.implemented {
                "implemented"
            } else {
                "absent"
            };
            let _ = writeln!(w, "  #{:<40} {state}", t.selector);
        }
    }

    let _ = writeln!(w, "\nException classes the agent's handlers name");
    for e in &r.handled_exceptions {
        let how = if e.by_name {
            " (looked up by name)"
        } else {
            ""
        };
        let _ = writeln!(
            w,
            "  {:<32} {:<14} {}{how}",
            e.name,
            e.kind,
            e.chain.join(" < ")
        );
    }
    if !r.computed_handlers.is_empty() {
        let _ = writeln!(
            w,
            "  computed handler arguments in: {}",
            r.computed_handlers.join(", ")
        );
    }

    let _ = writeln!(
        w,
        "\nExceptions on the compile path ({})",
        crate::check::COMPILE_PATH_PACKAGES.join(", ")
    );
    for s in &r.compile_path_signals {
        let verdict = match (&s.caught_by, &s.quiet_because) {
            (Some(h), _)
                if r.handled_exceptions
                    .iter()
                    .any(|e| &e.name == h && e.by_name) =>
            {
                format!("caught (on: {h}, looked up by name)")
            }
            (Some(h), _) => format!("caught (on: {h})"),
            (None, Some(why)) => format!("quiet: {why}"),
            (None, None) => "ESCAPES every handler of the agent".to_string(),
        };
        let _ = writeln!(w, "  {:<36} {:<13} {verdict}", s.name, s.kind);
        if s.escapes() {
            let _ = writeln!(
                w,
                "  {:<36} referenced in {}",
                "",
                s.referenced_in.join(", ")
            );
        }
    }
    if all {
        let _ = writeln!(
            w,
            "\nEvery checked send (implementors: Pharo classes/traits defining the selector)"
        );
        for s in &r.sends {
            let target = match &s.receiver {
                Some(g) => format!("{g} {}", s.selector),
                None => format!("#{}", s.selector),
            };
            let _ = writeln!(
                w,
                "  {target:<48} {:<10} {:>5}  {}",
                s.status,
                s.implementors,
                first_sites(&s.sites)
            );
        }
    }
    if all {
        let _ = writeln!(w, "\nEvery checked global");
        for (name, what) in &r.globals {
            let _ = writeln!(w, "  {name:<48} {what}");
        }
    }
    let _ = writeln!(w, "\n{}", if r.ok { "OK" } else { "FAILED" });
    out
}

fn sends(w: &mut String, title: &str, list: &[SendFinding]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n{title}");
    for s in list {
        let target = match &s.receiver {
            Some(g) => format!("{g} {}", s.selector),
            None => format!("#{}", s.selector),
        };
        let _ = writeln!(w, "  {target:<40} {}", s.reason);
        let _ = writeln!(w, "  {:<40} sent in {}", "", s.sites.join(", "));
    }
}

/// The first three sites, and how many more.
fn first_sites(sites: &[String]) -> String {
    let shown = sites.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    match sites.len() {
        n if n > 3 => format!("{shown} … ({} more)", n - 3),
        _ => shown,
    }
}
