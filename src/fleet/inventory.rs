//! Who is in a group: names and globs over the configured targets, or the `name url` lines a
//! command prints (a dynamic inventory).

use anyhow::{Context, Result, bail};

use crate::config::{Config, Group, Members, Target};
use crate::image::AgentUrl;

/// The group's targets, in the order the group lists them (globs expand in name order), each
/// once, with the group's token variable applied.
pub fn members(config: &Config, group: &Group) -> Result<Vec<Target>> {
    let mut targets = match &group.members {
        Members::Names(patterns) => from_patterns(config, group, patterns)?,
        Members::Command(command) => from_command(config, group, command)?,
    };
    if let Some(var) = &group.token_env {
        for t in &mut targets {
            t.token_env = var.clone();
        }
    }
    Ok(targets)
}

fn from_patterns(config: &Config, group: &Group, patterns: &[String]) -> Result<Vec<Target>> {
    let mut out: Vec<Target> = Vec::new();
    for pattern in patterns {
        let matched: Vec<&Target> = config
            .targets
            .values()
            .filter(|t| glob_match(pattern, &t.name))
            .collect();
        if matched.is_empty() {
            bail!(
                "group '{}': {pattern:?} matches no [targets.*] section (known: {})",
                group.name,
                config
                    .targets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for t in matched {
            if !out.iter().any(|o| o.name == t.name) {
                out.push(t.clone());
            }
        }
    }
    Ok(out)
}

/// Runs the inventory command (`sh -c`, in the configuration's directory) and reads its
/// `name url` lines; blank lines and `#` comments are skipped. A member named like a configured
/// target keeps that target's settings with the inventory's url.
fn from_command(config: &Config, group: &Group, command: &str) -> Result<Vec<Target>> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&config.root)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "group '{}': cannot run targets_command {command:?}",
                group.name
            )
        })?;
    if !output.status.success() {
        bail!(
            "group '{}': targets_command {command:?} failed ({}): {}",
            group.name,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    parse_inventory(&String::from_utf8_lossy(&output.stdout), config, group)
}

fn parse_inventory(text: &str, config: &Config, group: &Group) -> Result<Vec<Target>> {
    let mut out: Vec<Target> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(url), None) = (words.next(), words.next(), words.next()) else {
            bail!(
                "group '{}': line {} of the inventory is {line:?}; expected `name url` \
                 (e.g. `prod-1 ws://10.0.0.5:7071/`)",
                group.name,
                n + 1
            );
        };
        let url = AgentUrl::parse(url).with_context(|| {
            format!(
                "group '{}': line {} of the inventory: the url of {name} is not usable",
                group.name,
                n + 1
            )
        })?;
        if out.iter().any(|t| t.name == name) {
            bail!(
                "group '{}': the inventory lists {name} twice (line {})",
                group.name,
                n + 1
            );
        }
        let mut target = config
            .targets
            .get(name)
            .cloned()
            .unwrap_or_else(|| config.ad_hoc(name, url.clone()));
        target.url = url;
        out.push(target);
    }
    if out.is_empty() {
        bail!(
            "group '{}': the inventory command listed no targets",
            group.name
        );
    }
    Ok(out)
}

/// `*` matches any run of characters, `?` one character; everything else itself.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_str(text, std::path::Path::new("/tmp")).unwrap()
    }

    const FLEET: &str = r#"
[targets.prod-1]
url = "ws://127.0.0.1:7001/"
[targets.prod-2]
url = "ws://127.0.0.1:7002/"
timeout_secs = 3
[targets.prod-10]
url = "ws://127.0.0.1:7010/"
[targets.staging]
url = "ws://127.0.0.1:7100/"
[groups.prod]
targets = ["prod-2", "prod-*"]
token_env = "PROD_TOKEN"
[groups.inv]
targets_command = "printf 'prod-2 ws://10.1.1.2:7071/\n# comment\n\nnew-1 ssh://deploy@10.1.1.9/?agent_port=7071\n'"
"#;

    #[test]
    fn globs() {
        assert!(glob_match("prod-*", "prod-10"));
        assert!(glob_match("*", ""));
        assert!(glob_match("p?od-*1", "prod-11"));
        assert!(!glob_match("prod-?", "prod-10"));
        assert!(!glob_match("prod", "prod-1"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn names_and_globs_in_order_once_each_with_the_group_token() {
        let c = config(FLEET);
        let ts = members(&c, c.group("prod").unwrap()).unwrap();
        let names: Vec<_> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["prod-2", "prod-1", "prod-10"]);
        assert!(ts.iter().all(|t| t.token_env == "PROD_TOKEN"));
        assert_eq!(ts[0].timeout.as_secs(), 3);
    }

    #[test]
    fn a_dynamic_inventory_gives_names_and_urls() {
        let c = config(FLEET);
        let ts = members(&c, c.group("inv").unwrap()).unwrap();
        let shown: Vec<_> = ts.iter().map(|t| format!("{} {}", t.name, t.url)).collect();
        assert_eq!(
            shown,
            [
                "prod-2 ws://10.1.1.2:7071/",
                "new-1 ssh://deploy@10.1.1.9/?agent_port=7071"
            ]
        );
        // Known targets keep their own settings.
        assert_eq!(ts[0].timeout.as_secs(), 3);
    }

    #[test]
    fn bad_members_are_refused_with_what_to_write() {
        let c = config(&format!("{FLEET}\n[groups.none]\ntargets = [\"dev-*\"]\n"));
        let e = members(&c, c.group("none").unwrap()).unwrap_err();
        assert!(e.to_string().contains("matches no [targets.*]"), "{e}");
        let c = config("[groups.g]\ntargets_command = \"echo just-a-name\"\n");
        let e = members(&c, c.group("g").unwrap()).unwrap_err();
        assert!(e.to_string().contains("expected `name url`"), "{e}");
        let c = config("[groups.g]\ntargets_command = \"echo a http://x/\"\n");
        assert!(members(&c, c.group("g").unwrap()).is_err());
        let c = config("[groups.g]\ntargets_command = \"exit 3\"\n");
        let e = members(&c, c.group("g").unwrap()).unwrap_err();
        assert!(e.to_string().contains("failed"), "{e}");
    }

    #[test]
    fn group_settings_are_checked_when_read() {
        for (text, wanted) in [
            ("[groups.g]\n", "has no members"),
            (
                "[groups.g]\ntargets = [\"a\"]\ntargets_command = \"x\"\n",
                "both set",
            ),
            (
                "[groups.g]\ntargets = [\"a\"]\nparallel = 0\n",
                "groups.g.parallel",
            ),
            (
                "[groups.g]\ntargets = [\"a\"]\ncanary = 0\n",
                "groups.g.canary",
            ),
            (
                "[groups.g]\ntargets = [\"a\"]\nhealth_url = \"ftp://x\"\n",
                "health_url",
            ),
            (
                "[groups.g]\ntargets = [\"a\"]\nhealth_timeout_secs = 1e300\n",
                "health_timeout_secs",
            ),
            (
                "[groups.g]\ntargets = [\"a\"]\ncanery = 1\n",
                "unknown field",
            ),
        ] {
            let e = Config::from_str(text, std::path::Path::new("/tmp")).unwrap_err();
            assert!(format!("{e:#}").contains(wanted), "{text}: {e:#}");
        }
    }
}
