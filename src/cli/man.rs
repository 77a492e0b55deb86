//! `hotpatch man [--dir DIR]`: manual pages generated from the same clap definitions as the
//! parser (so every option they list is one the binary accepts), with the sections clap does
//! not know of: EXIT STATUS (from [`exit::TABLE`]), ENVIRONMENT and FILES.
//!
//! ```text
//! hotpatch man --dir /usr/local/share/man/man1
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use roff::{Roff, bold, roman};

use super::{Cli, exit, report_error};

/// Options of `hotpatch man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write `hotpatch.1` and one `hotpatch-COMMAND.1` per command into this directory, instead
    /// of printing `hotpatch.1` on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The environment variables hotpatch reads, with what each does.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "HOTPATCH_TOKEN",
        "the agent's token, unless the target's token_env (or --token-env) names another variable",
    ),
    (
        "HOTPATCH_CONFIG",
        "the configuration file, as --config (default: the nearest hotpatch.toml upwards)",
    ),
    ("HOTPATCH_TARGET", "the target, as --target"),
    ("HOTPATCH_URL", "the agent's url, as --url"),
    (
        "HOTPATCH_TOKEN_ENV",
        "the variable that holds the token, as --token-env",
    ),
    ("HOTPATCH_SOURCE", "the Tonel source directory, as --source"),
    (
        "HOTPATCH_SET",
        "settings of hotpatch.toml, KEY=VALUE pairs separated by ';', as --set",
    ),
    (
        "HOTPATCH_USER",
        "who pushes, as recorded in the image's audit log (default: USER, LOGNAME, else the login name of the process's user)",
    ),
    (
        "NO_COLOR",
        "when set, diff prints no colours (as --no-color)",
    ),
];

/// The files hotpatch reads and writes.
const FILES: &[(&str, &str)] = &[
    (
        "hotpatch.toml",
        "the project's configuration, found by walking up from the current directory; written by hotpatch init",
    ),
    (
        ".hotpatch/",
        "beside hotpatch.toml: the cached snapshots of each target's image (safe to delete; keep it out of version control)",
    ),
    (
        ".project",
        "Iceberg's project file: hotpatch init takes the source directory from its srcDirectory",
    ),
];

/// Prints the main manual page, or writes every page into `args.dir`.
pub fn man(args: &ManArgs) -> i32 {
    let result = match &args.dir {
        None => render(&built(), &mut std::io::stdout()).context("writing the manual page"),
        Some(dir) => write_pages(dir),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            report_error(&e);
            exit::ERROR
        }
    }
}

/// The whole command tree, built (so subcommands carry their full names, `hotpatch-push`).
fn built() -> clap::Command {
    // No pages for the `help` pseudo-command (one per command, all alike).
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

fn write_pages(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = built();
    let mut commands = vec![root.clone()];
    commands.extend(root.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    for command in commands {
        let page = clap_mangen::Man::new(command.clone());
        let path = dir.join(page.get_filename());
        let mut file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        render(&command, &mut file).with_context(|| format!("writing {}", path.display()))?;
        file.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One page: clap's sections, then ours, then the version.
fn render(command: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(command.clone());
    page.render_title(w)?;
    page.render_name_section(w)?;
    page.render_synopsis_section(w)?;
    page.render_description_section(w)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        page.render_options_section(w)?;
    }
    if command.has_subcommands() {
        page.render_subcommands_section(w)?;
    }
    let mut roff = Roff::default();
    section(
        &mut roff,
        "EXIT STATUS",
        exit::TABLE.iter().map(|(c, m)| (c.to_string(), *m)),
    );
    section(
        &mut roff,
        "ENVIRONMENT",
        ENVIRONMENT.iter().map(|(n, m)| (n.to_string(), *m)),
    );
    section(
        &mut roff,
        "FILES",
        FILES.iter().map(|(n, m)| (n.to_string(), *m)),
    );
    roff.to_writer(w)?;
    if command
        .get_version()
        .or(command.get_long_version())
        .is_some()
    {
        page.render_version_section(w)?;
    }
    Ok(())
}

/// A section of tagged paragraphs: each term in bold, its meaning indented under it.
fn section<'a>(roff: &mut Roff, title: &str, rows: impl Iterator<Item = (String, &'a str)>) {
    roff.control("SH", [title]);
    for (term, meaning) in rows {
        roff.control("TP", []);
        roff.text([bold(term)]);
        roff.text([roman(meaning)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(command: &clap::Command) -> String {
        let mut out = Vec::new();
        render(command, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_page_has_exit_status_environment_and_files() {
        let root = built();
        let push = root
            .get_subcommands()
            .find(|c| c.get_name() == "push")
            .unwrap()
            .clone();
        for text in [page(&root), page(&push)] {
            for heading in ["EXIT STATUS", "ENVIRONMENT", "FILES", "OPTIONS"] {
                assert!(
                    text.contains(&format!(".SH \"{heading}\""))
                        || text.contains(&format!(".SH {heading}")),
                    "{heading} missing:\n{text}"
                );
            }
            for (code, _) in exit::TABLE {
                assert!(
                    text.contains(&format!("\\fB{code}\\fR")),
                    "exit {code} missing"
                );
            }
            assert!(text.contains("HOTPATCH_TOKEN") && text.contains("hotpatch.toml"));
        }
    }

    #[test]
    fn the_exit_codes_are_the_readmes() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("### Exit codes")
            .expect("the README's exit-code table");
        let codes: Vec<i32> = readme[start..]
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                l.trim_start_matches('|')
                    .split('|')
                    .next()?
                    .trim()
                    .parse()
                    .ok()
            })
            .collect();
        let mut table: Vec<i32> = exit::TABLE.iter().map(|(c, _)| *c).collect();
        table.dedup();
        assert_eq!(codes, table);
    }
}
