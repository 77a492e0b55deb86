//! `pharo-check PHARO_SRC [--label NAME] [--json]`: checks the hotpatch agent's Pharo code
//! against one Pharo version's own sources (a checkout of pharo-project/pharo, its `src/`).
//!
//! It reads the agent's Tonel packages that load into Pharo (`Hotpatch-Agent`,
//! `Hotpatch-Agent-Pharo`, `BaselineOfHotpatchAgent`) and the Pharo tree with hotpatch's Tonel
//! reader, parses every method with a small Smalltalk parser ([`sends`]) and reports:
//!
//! - every selector the agent sends that it does not define itself, and whether some Pharo
//!   class or trait implements it (a send to a named global, e.g. `Socket newTCP`, is checked
//!   against that class's side of the hierarchy); a missing send is accepted only when
//!   [`allow::GUARDED_SENDS`] lists it and every site is behind a `respondsTo:` test;
//! - every global the agent names, and whether Pharo defines it;
//! - every exception class the agent's handlers name, and what it is in that version (an
//!   `Error`, a `Notification`, missing);
//! - every exception class Pharo's compile path (`OpalCompiler-Core`, `AST-Core`) refers to,
//!   and which handler of the agent catches it: a non-`Error` signal that no handler names
//!   escapes every `on: Error do:` (that is how a `SyntaxErrorNotification` ends a headless
//!   Pharo 9-11 image).
//!
//! Exit status: 0 when nothing is unresolved and nothing escapes, 1 when something is, 2 when
//! the sources cannot be read. Files the Tonel reader refuses are counted and listed, and the
//! check goes on without them.

mod allow;
mod check;
mod index;
mod print;
mod sends;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use hotpatch::tonel;

/// Many small allocations (a string per selector and source) on a 100,000-method tree.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The agent packages that load into a Pharo image.
const AGENT_PACKAGES: &[&str] = &[
    "Hotpatch-Agent",
    "Hotpatch-Agent-Pharo",
    "BaselineOfHotpatchAgent",
];

/// Check the hotpatch agent's Pharo code against a Pharo version's sources.
#[derive(Parser, Debug)]
#[command(name = "pharo-check", version)]
struct Args {
    /// The Pharo sources: a checkout of pharo-project/pharo or its `src/` directory.
    pharo_src: PathBuf,
    /// A name for this Pharo version in the output (default: the directory name).
    #[arg(long)]
    label: Option<String>,
    /// The agent's Tonel sources.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../smalltalk-agent/src"))]
    agent: PathBuf,
    /// Print the report as JSON (always with every checked send).
    #[arg(long)]
    json: bool,
    /// In the table, list every checked send with its status, not only the findings.
    #[arg(long)]
    all: bool,
    /// Instead of checking, list who implements these selectors in the Pharo tree (`Foo`,
    /// `Foo class`), to read a finding against the sources.
    #[arg(long, value_name = "SELECTOR", num_args = 1..)]
    implementors: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("pharo-check: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<bool> {
    let (agent_repo, agent_errors) = tonel::read_repository(&args.agent)
        .with_context(|| format!("reading the agent sources {}", args.agent.display()))?;
    if let Some(first) = agent_errors.first() {
        anyhow::bail!(
            "the agent sources do not read ({} errors), first: {first}",
            agent_errors.len()
        );
    }
    let agent = index::Index::build(&agent_repo, |p| AGENT_PACKAGES.contains(&p));
    if let Some(first) = agent.unparsed.first() {
        anyhow::bail!(
            "{} agent methods do not parse, first: {first}",
            agent.unparsed.len()
        );
    }
    let (pharo_repo, pharo_errors) = tonel::read_repository(&args.pharo_src)
        .with_context(|| format!("reading the Pharo sources {}", args.pharo_src.display()))?;
    if pharo_repo.packages.is_empty() {
        anyhow::bail!(
            "{}: no Tonel packages found (expected a pharo-project/pharo checkout or its src/)",
            args.pharo_src.display()
        );
    }
    let pharo = index::Index::build(&pharo_repo, |_| true);
    if !args.implementors.is_empty() {
        for selector in &args.implementors {
            let who = pharo.implementors_of(selector);
            println!(
                "#{selector}: {}",
                if who.is_empty() {
                    "none".to_string()
                } else {
                    who.join(", ")
                }
            );
        }
        return Ok(true);
    }

    let mut report = check::check(&agent, &pharo);
    report.label = args
        .label
        .clone()
        .unwrap_or_else(|| default_label(&args.pharo_src));
    report.pharo_src = pharo_repo.root.display().to_string();
    report.pharo_commit = git_commit(&pharo_repo.root);
    let unreadable: Vec<String> = pharo_errors.iter().map(|e| e.to_string()).collect();
    report.unreadable_files = check::Listing::of(&unreadable, 5);
    report.agent_packages = agent_repo
        .packages
        .iter()
        .filter(|p| AGENT_PACKAGES.contains(&p.name.as_str()))
        .map(|p| p.name.clone())
        .collect();

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", print::table(&report, args.all));
    }
    Ok(report.ok)
}

fn default_label(path: &Path) -> String {
    let named = if path.file_name().is_some_and(|n| n == "src") {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The commit checked out at `dir`, when it is inside a git work tree.
fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository_agent() -> index::Index {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../smalltalk-agent/src");
        let (repo, errors) = match tonel::read_repository(&dir) {
            Ok(read) => read,
            Err(e) => panic!("reading {}: {e:#}", dir.display()),
        };
        assert!(errors.is_empty(), "{errors:?}");
        index::Index::build(&repo, |p| AGENT_PACKAGES.contains(&p))
    }

    /// The check is only as good as its parser: every method of the agent must parse, so no
    /// send of the agent goes unchecked.
    #[test]
    fn every_agent_method_parses() {
        let agent = repository_agent();
        assert!(agent.unparsed.is_empty(), "{:?}", agent.unparsed);
        assert!(agent.methods.len() > 300, "{} methods", agent.methods.len());
        assert!(agent.has_class("HpPharoPlatform") && agent.has_class("HpPlatform"));
    }

    /// A miniature Pharo 9-11 compile path, written for this test: a parser that signals a
    /// `SyntaxErrorNotification` that is a `Notification`.
    fn write_mini_pharo(root: &Path) {
        let files: &[(&str, &str)] = &[
            ("Kernel/package.st", "Package { #name : 'Kernel' }\n"),
            (
                "Kernel/ProtoObject.class.st",
                "Class { #name : 'ProtoObject', #superclass : nil, #category : 'Kernel' }\n",
            ),
            (
                "Kernel/Object.class.st",
                "Class { #name : 'Object', #superclass : 'ProtoObject', #category : 'Kernel' }\n",
            ),
            (
                "Kernel/Exception.class.st",
                "Class { #name : 'Exception', #superclass : 'Object', #category : 'Kernel' }\n",
            ),
            (
                "Kernel/Error.class.st",
                "Class { #name : 'Error', #superclass : 'Exception', #category : 'Kernel' }\n",
            ),
            (
                "Kernel/Notification.class.st",
                "Class { #name : 'Notification', #superclass : 'Exception', #category : 'Kernel' }\n",
            ),
            (
                "OpalCompiler-Core/package.st",
                "Package { #name : 'OpalCompiler-Core' }\n",
            ),
            (
                "OpalCompiler-Core/SyntaxErrorNotification.class.st",
                "Class { #name : 'SyntaxErrorNotification', #superclass : 'Notification', #category : 'OpalCompiler-Core' }\n",
            ),
            (
                "OpalCompiler-Core/MiniParser.class.st",
                "Class { #name : 'MiniParser', #superclass : 'Object', #category : 'OpalCompiler-Core' }\n\n{ #category : 'parsing' }\nMiniParser >> fail: aString [\n\t^ SyntaxErrorNotification new signal: aString\n]\n",
            ),
        ];
        for (path, text) in files {
            let path = root.join(path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            }
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    /// The agent's Pharo platform names SyntaxErrorNotification (by lookup): a compile path that
    /// signals it as a Notification, as Pharo 9-11 do, is caught, not escaping.
    #[test]
    fn the_agent_catches_a_syntax_error_notification_by_name() {
        let root = std::env::temp_dir().join(format!("pharo-check-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        write_mini_pharo(&root);
        let read = tonel::read_repository(&root);
        let _ = std::fs::remove_dir_all(&root);
        let (repo, errors) = match read {
            Ok(read) => read,
            Err(e) => panic!("{e:#}"),
        };
        assert!(errors.is_empty(), "{errors:?}");
        let pharo = index::Index::build(&repo, |_| true);
        let report = check::check(&repository_agent(), &pharo);
        let signal = report
            .compile_path_signals
            .iter()
            .find(|s| s.name == "SyntaxErrorNotification")
            .expect("the miniature parser signals it");
        assert_eq!(signal.kind, "Notification");
        assert_eq!(signal.caught_by.as_deref(), Some("SyntaxErrorNotification"));
        assert!(!signal.escapes());
    }
}
