//! `hotpatch.toml`: where the sources are, which packages hotpatch owns, and the targets (live
//! images) it pushes to. Found by walking up from the current directory, or named with
//! `--config` / `HOTPATCH_CONFIG`; every setting can be overridden on the command line or by an
//! environment variable (see [`Overrides`]).

use crate::image::protocol::OnHookFailure;
use crate::image::{AgentUrl, Endpoint};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name looked for.
pub const FILE_NAME: &str = "hotpatch.toml";

/// The file as written (all paths relative to the file's directory).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    source: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    default_target: Option<String>,
    #[serde(default)]
    targets: BTreeMap<String, RawTarget>,
    #[serde(default)]
    groups: BTreeMap<String, RawGroup>,
    hooks: Option<Hooks>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    targets: Option<Vec<String>>,
    targets_command: Option<String>,
    token_env: Option<String>,
    canary: Option<toml::Value>,
    parallel: Option<i64>,
    rollback_on_failure: Option<bool>,
    health_eval: Option<String>,
    health_url: Option<String>,
    health_timeout_secs: Option<f64>,
}

/// A fleet: targets pushed together, canary first (see `src/fleet/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// Who belongs to the group.
    pub members: Members,
    /// The token variable of every member (default: each target's own `token_env`).
    pub token_env: Option<String>,
    /// Which targets get the batch first and must pass the health check alone.
    pub canary: Canary,
    /// How many targets a wave after the canary patches at once.
    pub parallel: usize,
    /// On the first failure, roll back every target already patched (default true).
    pub rollback_on_failure: bool,
    pub health: HealthCheck,
}

/// The members of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum Members {
    /// Target names or globs (`prod-*`) over the `[targets.*]` sections, in the order written.
    Names(Vec<String>),
    /// A shell command that prints one `name url` line per member (a dynamic inventory:
    /// Consul, a cloud API, Kubernetes), run in the configuration's directory.
    Command(String),
}

/// The canary of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum Canary {
    /// The first N members that need the batch.
    First(usize),
    /// This member.
    Named(String),
}

/// What a patched target must pass before the rollout goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// A Smalltalk expression evaluated in the image that must answer `true`.
    pub eval: Option<String>,
    /// A URL that must answer 2xx; `{host}` and `{name}` are replaced by the target's host and
    /// name.
    pub url: Option<String>,
    /// How long a target may take to become healthy.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: Option<String>,
    token_env: Option<String>,
    timeout_secs: Option<f64>,
    apply_timeout_secs: Option<f64>,
    ca_file: Option<PathBuf>,
    ssh_options: Option<Vec<String>>,
    max_message_bytes: Option<i64>,
    rebuild: Option<RebuildConfig>,
    hooks: Option<Hooks>,
}

/// How the application is told that hotpatch changed its code (`[hooks]` for every target, or a
/// target's own `[targets.NAME.hooks]`, which replaces it): the agent runs them inside the
/// batch, under the time limit for pushed code (PROTOCOL.md, apply: hooks).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Smalltalk the agent evaluates in the image after each push (once the batch is installed,
    /// after the class-side `hotpatchChanged:` methods) and after each rollback.
    pub after_change: Option<String>,
    /// `undo` (default): a failing hook undoes the push; `report`: the push stays and the
    /// failure is reported. A rollback always stays.
    #[serde(default)]
    pub on_failure: OnHookFailure,
    /// Send `hotpatchChanged:` to the classes of changed packages that define it (default true).
    #[serde(default = "yes")]
    pub notify: bool,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            after_change: None,
            on_failure: OnHookFailure::Undo,
            notify: true,
        }
    }
}

fn yes() -> bool {
    true
}

impl Hooks {
    /// Checks the settings read from `key` (`hooks` or `targets.NAME.hooks`).
    fn check(self, origin: &str, key: &str) -> Result<Hooks> {
        if let Some(expression) = &self.after_change
            && expression.trim().is_empty()
        {
            bail!(
                "{origin}: {key}.after_change is empty: give a Smalltalk expression (e.g. \
                 \"MyApp default rebuildRoutes\") or leave the key out"
            );
        }
        Ok(self)
    }
}

/// What to do when a push contains a change that cannot go live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnNeedsRebuild {
    /// Apply nothing, explain why, exit non-zero (the default: a rebuild restarts the app).
    #[default]
    Refuse,
    /// Fall back to `hotpatch rebuild`.
    Rebuild,
}

/// How a fresh image is built and swapped in for a target (see `src/rebuild/`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RebuildConfig {
    #[serde(default)]
    pub on_needs_rebuild: OnNeedsRebuild,
    /// The VM executable.
    pub vm: Option<PathBuf>,
    /// Arguments put before the image name (e.g. `-vm-display-null`).
    #[serde(default)]
    pub vm_args: Vec<String>,
    /// The clean base image to build from; never modified.
    pub base_image: Option<PathBuf>,
    /// `filein` (chunk export, any image) or `tonel` (Pharo's Tonel loader, no network).
    pub loader: Option<String>,
    /// `tonel` loader: the project's Metacello baseline (`Foo` for `BaselineOfFoo`) in `source`;
    /// without one, each owned package is loaded on its own.
    pub baseline: Option<String>,
    /// The image the application runs from; replaced atomically, the previous one kept as backup.
    pub image: Option<PathBuf>,
    /// The command that restarts the application (`systemctl restart app`, `monit restart app`…).
    pub restart: Option<String>,
    /// The command that tells whether the application runs (`systemctl is-active --quiet app`,
    /// `supervisor.sh status`): exit 0 running, 1-3 not running (LSB), anything else unknown.
    /// Asked before a push falls back to a rebuild because the agent is unreachable.
    pub status: Option<String>,
    /// The agent's Tonel sources to load into the new image (default: the bundled agent).
    pub agent_source: Option<PathBuf>,
    /// Smalltalk run at the end of the build, after loading (e.g. to register the app).
    pub post_load: Option<String>,
    pub build_timeout_secs: Option<f64>,
    pub health_timeout_secs: Option<f64>,
    /// Loopback port used to verify a freshly built image before it goes live.
    pub verify_port: Option<u16>,
}

/// A live image hotpatch can push to.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    /// Where the agent is (`ws://`, `wss://` or `ssh://`, checked when the configuration is read).
    pub url: AgentUrl,
    /// `wss://` targets: the PEM file of the CA(s) to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// `ssh://` targets: extra `ssh -o` options (`UserKnownHostsFile=…`, `IdentityFile=…`).
    pub ssh_options: Vec<String>,
    /// The environment variable holding the agent's token.
    pub token_env: String,
    /// Time limit for connecting and for each ordinary request.
    pub timeout: Duration,
    /// Time limit for `snapshot`, `apply` and `rollback`, whose work grows with the code involved.
    pub apply_timeout: Duration,
    /// The largest message read from or sent to the agent (PROTOCOL.md, Size limit).
    pub max_message_bytes: u64,
    pub rebuild: RebuildConfig,
    /// The application's hooks: the target's own, else the file's `[hooks]`.
    pub hooks: Hooks,
}

impl Target {
    /// The url with its transport options: what [`crate::image::Client::connect_to`] needs.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            ca_file: self.ca_file.clone(),
            ssh_options: self.ssh_options.clone(),
            max_message_bytes: self.max_message_bytes,
        }
    }

    /// Checks that the transport options fit the url's scheme (`ca_file` only for `wss://`,
    /// `ssh_options` only for `ssh://`): an option that would be ignored is a mistake.
    fn check_transport(&self, origin: &str) -> Result<()> {
        let scheme = self.url.scheme();
        if self.ca_file.is_some() && scheme != "wss" {
            bail!(
                "{origin}: targets.{}.ca_file is set, but the url {} is not wss:// (a CA file \
                 only applies to TLS)",
                self.name,
                self.url
            );
        }
        if !self.ssh_options.is_empty() && scheme != "ssh" {
            bail!(
                "{origin}: targets.{}.ssh_options is set, but the url {} is not ssh://",
                self.name,
                self.url
            );
        }
        for option in &self.ssh_options {
            let key = option.split(['=', ' ']).next().unwrap_or("");
            if key.is_empty()
                || option.starts_with('-')
                || !key.chars().all(|c| c.is_ascii_alphanumeric())
            {
                bail!(
                    "{origin}: targets.{}.ssh_options: {option:?} is not an ssh option; write \
                     them as ssh -o takes them, e.g. [\"UserKnownHostsFile=/etc/hotpatch/known_hosts\", \
                     \"IdentityFile=/etc/hotpatch/id_ed25519\"]",
                    self.name
                );
            }
        }
        Ok(())
    }

    /// The token from the environment; an error that says which variable to set.
    pub fn token(&self) -> Result<String> {
        match std::env::var(&self.token_env) {
            Ok(t) if !t.is_empty() => Ok(t),
            _ => bail!(
                "target '{}': the agent token is read from the environment variable {}, which is not set \
                 (export {}=<the token the agent was started with>)",
                self.name,
                self.token_env,
                self.token_env
            ),
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file, when one was found.
    pub file: Option<PathBuf>,
    /// The directory relative paths are resolved against.
    pub root: PathBuf,
    /// The Tonel source directory.
    pub source: PathBuf,
    /// Packages hotpatch owns; empty means every package found in `source`.
    pub packages: Vec<String>,
    pub default_target: Option<String>,
    pub targets: BTreeMap<String, Target>,
    pub groups: BTreeMap<String, Group>,
    /// `[hooks]`: the application hooks of every target that has none of its own.
    pub hooks: Hooks,
}

/// Settings given on the command line or in the environment; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub source: Option<PathBuf>,
    pub target: Option<String>,
    pub url: Option<String>,
    pub token_env: Option<String>,
    /// Any setting of the file, as `dotted.key=value` (`--set`): e.g.
    /// `packages=["A","B"]`, `targets.prod.timeout_secs=30`,
    /// `targets.prod.rebuild.on_needs_rebuild=rebuild`. The value is read as TOML, and as a
    /// plain string when it is not valid TOML.
    pub set: Vec<String>,
    /// The same from `HOTPATCH_SET` (`;`-separated), applied before `set`, so the command
    /// line's win. Kept apart so that an error names where the bad value came from.
    pub env_set: Vec<String>,
}

/// One `KEY=VALUE` setting given outside the file, and where it was given.
#[derive(Debug, Clone, Copy)]
struct Setting<'a> {
    text: &'a str,
    from_env: bool,
}

impl std::fmt::Display for Setting<'_> {
    /// `--set KEY=VALUE` or `HOTPATCH_SET (KEY=VALUE)`: what an error about it starts with.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from_env {
            write!(f, "HOTPATCH_SET ({})", self.text)
        } else {
            write!(f, "--set {}", self.text)
        }
    }
}

impl Overrides {
    /// Fills unset fields from `HOTPATCH_CONFIG`, `HOTPATCH_SOURCE`, `HOTPATCH_TARGET`,
    /// `HOTPATCH_URL` and `HOTPATCH_TOKEN_ENV`.
    pub fn with_env(mut self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        self.config = self
            .config
            .or_else(|| var("HOTPATCH_CONFIG").map(PathBuf::from));
        self.source = self
            .source
            .or_else(|| var("HOTPATCH_SOURCE").map(PathBuf::from));
        self.target = self.target.or_else(|| var("HOTPATCH_TARGET"));
        self.url = self.url.or_else(|| var("HOTPATCH_URL"));
        self.token_env = self.token_env.or_else(|| var("HOTPATCH_TOKEN_ENV"));
        if let Some(env) = var("HOTPATCH_SET") {
            self.env_set = env
                .split([';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        self
    }

    /// Every `KEY=VALUE` setting, in the order they apply: `HOTPATCH_SET`'s, then `--set`'s.
    fn settings(&self) -> Vec<Setting<'_>> {
        let env = self.env_set.iter().map(|text| Setting {
            text,
            from_env: true,
        });
        let cli = self.set.iter().map(|text| Setting {
            text,
            from_env: false,
        });
        env.chain(cli).collect()
    }
}

/// The default token variable when neither the file nor an override names one.
pub const DEFAULT_TOKEN_ENV: &str = "HOTPATCH_TOKEN";

impl Config {
    /// Loads the configuration: the file named by `overrides.config`, else the nearest
    /// `hotpatch.toml` from `cwd` upwards, else defaults (sources in `cwd/src`).
    pub fn load(cwd: &Path, overrides: &Overrides) -> Result<Config> {
        let file = match &overrides.config {
            Some(p) => Some(cwd.join(p)),
            None => find_upwards(cwd),
        };
        let (table, root) = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                let table: toml::Table = toml::from_str(&text)
                    .with_context(|| format!("{}: invalid configuration", path.display()))?;
                let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
                (table, root)
            }
            None => (toml::Table::new(), cwd.to_path_buf()),
        };
        let settings = overrides.settings();
        let with = |skipped: Option<usize>| -> Result<toml::Table> {
            let mut table = table.clone();
            for (i, setting) in settings.iter().enumerate() {
                if Some(i) != skipped {
                    apply_setting(&mut table, setting)?;
                }
            }
            Ok(table)
        };
        let origin = match &file {
            Some(path) => path.display().to_string(),
            None => "the settings given".to_owned(),
        };
        let read = |table: toml::Table, origin: &str| -> Result<Config> {
            let raw: RawConfig = toml::Value::Table(table)
                .try_into()
                .with_context(|| format!("{origin}: invalid configuration"))?;
            Self::resolve(raw, root.clone(), file.clone(), cwd, overrides, origin)
        };
        let error = match read(with(None)?, &origin) {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        // Whose mistake is it: the file's, or a setting's? The first setting without which the
        // error is another (or none) is to blame; when there is none, the file is.
        let message = format!("{error:#}");
        let differs_without = |i: usize| match with(Some(i)).and_then(|t| read(t, &origin)) {
            Ok(_) => true,
            Err(e) => format!("{e:#}") != message,
        };
        let blamed = (0..settings.len()).find(|&i| differs_without(i));
        match blamed {
            Some(i) => Err(read(with(None)?, &settings[i].to_string())
                .err()
                .unwrap_or(error)),
            None => Err(error),
        }
    }

    /// Parses a config file's text (for tests and `init`'s check of its own template).
    pub fn from_str(text: &str, root: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).context("invalid configuration")?;
        Self::resolve(
            raw,
            root.to_path_buf(),
            None,
            root,
            &Overrides::default(),
            "the configuration",
        )
    }

    fn resolve(
        raw: RawConfig,
        root: PathBuf,
        file: Option<PathBuf>,
        cwd: &Path,
        overrides: &Overrides,
        origin: &str,
    ) -> Result<Config> {
        let source = match &overrides.source {
            Some(s) => cwd.join(s),
            None => root.join(raw.source.as_deref().unwrap_or("src")),
        };
        let hooks = match raw.hooks {
            Some(h) => h.check(origin, "hooks")?,
            None => Hooks::default(),
        };
        let mut targets = BTreeMap::new();
        for (name, t) in raw.targets {
            let key = |k: &str| format!("targets.{name}.{k}");
            let secs = |v: Option<f64>, default: f64, k: &str| {
                seconds(origin, &key(k), v.unwrap_or(default))
            };
            let mut rebuild = t.rebuild.unwrap_or_default();
            for p in [&mut rebuild.vm, &mut rebuild.base_image, &mut rebuild.image]
                .into_iter()
                .chain([&mut rebuild.agent_source])
            {
                if let Some(path) = p.as_mut() {
                    *path = root.join(&*path);
                }
            }
            for (v, k) in [
                (rebuild.build_timeout_secs, "rebuild.build_timeout_secs"),
                (rebuild.health_timeout_secs, "rebuild.health_timeout_secs"),
            ] {
                if let Some(v) = v {
                    seconds(origin, &key(k), v)?;
                }
            }
            if rebuild.verify_port == Some(0) {
                bail!(
                    "{origin}: {} = 0 is not a port: give one from 1 to 65535, or leave it out \
                     for any free port",
                    key("rebuild.verify_port")
                );
            }
            let url = t.url.with_context(|| {
                format!(
                    "{origin}: target '{name}' has no url (e.g. url = \"ws://127.0.0.1:7071/\")"
                )
            })?;
            let url = AgentUrl::parse(&url)
                .with_context(|| format!("{origin}: {} is not usable", key("url")))?;
            let ca_file = t.ca_file.map(|f| root.join(f));
            if let Some(f) = &ca_file
                && !f.is_file()
            {
                bail!(
                    "{origin}: {} = {} does not exist (it should be the PEM file of the CA that \
                     signed the TLS terminator's certificate)",
                    key("ca_file"),
                    f.display()
                );
            }
            let target = Target {
                url,
                ca_file,
                ssh_options: t.ssh_options.unwrap_or_default(),
                token_env: t.token_env.unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
                timeout: secs(t.timeout_secs, 10.0, "timeout_secs")?,
                apply_timeout: secs(t.apply_timeout_secs, 120.0, "apply_timeout_secs")?,
                max_message_bytes: message_bytes(
                    origin,
                    &key("max_message_bytes"),
                    t.max_message_bytes,
                )?,
                rebuild,
                hooks: match t.hooks {
                    Some(h) => h.check(origin, &format!("targets.{name}.hooks"))?,
                    None => hooks.clone(),
                },
                name: name.clone(),
            };
            target.check_transport(origin)?;
            targets.insert(name, target);
        }
        if let Some(d) = &raw.default_target
            && !targets.contains_key(d)
        {
            bail!("default_target = '{d}' names no [targets.{d}] section");
        }
        let mut groups = BTreeMap::new();
        for (name, g) in raw.groups {
            let group = resolve_group(&name, g, origin)?;
            groups.insert(name, group);
        }
        Ok(Config {
            file,
            root,
            source,
            packages: raw.packages,
            default_target: raw.default_target,
            targets,
            groups,
            hooks,
        })
    }

    /// The group called `name`; an error listing the known groups otherwise.
    pub fn group(&self, name: &str) -> Result<&Group> {
        self.groups.get(name).with_context(|| {
            format!(
                "no group named '{name}' in {} (known: {}); add a [groups.{name}] section with \
                 targets = [\"…\"] or targets_command = \"…\"",
                self.describe_file(),
                if self.groups.is_empty() {
                    "none".to_string()
                } else {
                    self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )
        })
    }

    /// The target to talk to: `--target`/`HOTPATCH_TARGET`, else `default_target`, else the only
    /// one; `--url` alone makes an ad-hoc target. Overrides of url and token variable apply.
    pub fn target(&self, overrides: &Overrides) -> Result<Target> {
        let name = overrides
            .target
            .clone()
            .or_else(|| self.default_target.clone())
            .or_else(|| {
                (self.targets.len() == 1)
                    .then(|| self.targets.keys().next().cloned())
                    .flatten()
            });
        let url = match &overrides.url {
            Some(text) => {
                Some(AgentUrl::parse(text).context("--url (or HOTPATCH_URL) is not usable")?)
            }
            None => None,
        };
        let mut target = match (name, url.clone()) {
            (Some(name), url) => match (self.targets.get(&name), url) {
                (Some(t), _) => t.clone(),
                (None, Some(url)) => self.ad_hoc(&name, url),
                (None, None) => bail!(
                    "no target named '{name}' in {} (known: {})",
                    self.describe_file(),
                    self.target_names()
                ),
            },
            (None, Some(url)) => self.ad_hoc("default", url),
            (None, None) if self.targets.is_empty() => bail!(
                "no target configured: add a [targets.NAME] section with a url to {}, or pass --url ws://HOST:PORT/",
                self.describe_file()
            ),
            (None, None) => bail!(
                "several targets configured ({}): choose one with --target NAME or set default_target",
                self.target_names()
            ),
        };
        if let Some(url) = url {
            target.url = url;
            target.check_transport("--url")?;
        }
        if let Some(var) = &overrides.token_env {
            target.token_env = var.clone();
        }
        Ok(target)
    }

    /// A target known only by name and url (`--url`, a dynamic inventory), with the file's
    /// `[hooks]`.
    pub fn ad_hoc(&self, name: &str, url: AgentUrl) -> Target {
        Target {
            hooks: self.hooks.clone(),
            ..ad_hoc(name, url)
        }
    }

    fn target_names(&self) -> String {
        self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    fn describe_file(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => format!("{FILE_NAME} (none found; `hotpatch init` writes one)"),
        }
    }
}

/// A target known only by name and url (`--url`, a dynamic inventory): default time limits,
/// token in `HOTPATCH_TOKEN`, no rebuild settings.
pub fn ad_hoc(name: &str, url: AgentUrl) -> Target {
    Target {
        name: name.to_owned(),
        url,
        ca_file: None,
        ssh_options: Vec::new(),
        token_env: DEFAULT_TOKEN_ENV.into(),
        timeout: Duration::from_secs(10),
        apply_timeout: Duration::from_secs(120),
        max_message_bytes: crate::image::client::DEFAULT_MAX_MESSAGE_BYTES,
        rebuild: RebuildConfig::default(),
        hooks: Hooks::default(),
    }
}

/// The accepted range of every `*_secs` setting: a tenth of a second to one day. Less cannot
/// work; more is a mistake (and `1e300` would not even fit a duration).
pub const SECONDS_RANGE: (f64, f64) = (0.1, 86_400.0);

/// Checks a `[groups.NAME]` section; every mistake names its key and what is accepted.
fn resolve_group(name: &str, g: RawGroup, origin: &str) -> Result<Group> {
    let key = |k: &str| format!("groups.{name}.{k}");
    let members = match (g.targets, g.targets_command) {
        (Some(names), None) if !names.is_empty() => Members::Names(names),
        (None, Some(command)) if !command.trim().is_empty() => Members::Command(command),
        (Some(_), Some(_)) => bail!(
            "{origin}: {} and {} are both set: list the members, or name the command that lists \
             them, not both",
            key("targets"),
            key("targets_command")
        ),
        _ => bail!(
            "{origin}: group '{name}' has no members: set {} = [\"prod-1\", \"prod-*\"] or {} = \
             \"a command printing `name url` lines\"",
            key("targets"),
            key("targets_command")
        ),
    };
    let canary = match g.canary {
        None => Canary::First(1),
        Some(toml::Value::Integer(n)) if n >= 1 => Canary::First(n as usize),
        Some(toml::Value::String(s)) if !s.is_empty() => Canary::Named(s),
        Some(other) => bail!(
            "{origin}: {} = {other} is not accepted: give a number of targets (1 or more) or a \
             target's name",
            key("canary")
        ),
    };
    let parallel = match g.parallel {
        None => 2,
        Some(n) if (1..=64).contains(&n) => n as usize,
        Some(n) => bail!(
            "{origin}: {} = {n} is out of range: give how many targets a wave patches at once, \
             from 1 to 64",
            key("parallel")
        ),
    };
    if let Some(url) = &g.health_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!(
            "{origin}: {} = {url:?} is not an http:// or https:// URL",
            key("health_url")
        );
    }
    Ok(Group {
        name: name.to_string(),
        members,
        token_env: g.token_env,
        canary,
        parallel,
        rollback_on_failure: g.rollback_on_failure.unwrap_or(true),
        health: HealthCheck {
            eval: g.health_eval.filter(|e| !e.trim().is_empty()),
            url: g.health_url,
            timeout: seconds(
                origin,
                &key("health_timeout_secs"),
                g.health_timeout_secs.unwrap_or(30.0),
            )?,
        },
    })
}

/// Checks a `*_secs` setting named `key` (e.g. `targets.prod.timeout_secs`); the error names the
/// key, the value and the accepted range.
pub fn seconds(origin: &str, key: &str, value: f64) -> Result<Duration> {
    let (min, max) = SECONDS_RANGE;
    if !(value.is_finite() && (min..=max).contains(&value)) {
        bail!(
            "{origin}: {key} = {value:?} is out of range: give a number of seconds from {min} to \
             {max} (one day)"
        );
    }
    Ok(Duration::from_secs_f64(value))
}

/// The accepted range of `max_message_bytes`: 4 KiB (a hello must fit) to 1 GiB.
pub const MESSAGE_BYTES_RANGE: (i64, i64) = (4096, 1 << 30);

/// Checks a `max_message_bytes` setting named `key` (absent: the protocol's default, 64 MiB);
/// the error names the key, the value and the accepted range.
pub fn message_bytes(origin: &str, key: &str, value: Option<i64>) -> Result<u64> {
    let Some(value) = value else {
        return Ok(crate::image::client::DEFAULT_MAX_MESSAGE_BYTES);
    };
    let (min, max) = MESSAGE_BYTES_RANGE;
    if !(min..=max).contains(&value) {
        bail!(
            "{origin}: {key} = {value} is out of range: give a number of bytes from {min} (4 KiB) \
             to {max} (1 GiB); the default is 67108864 (64 MiB)"
        );
    }
    Ok(value as u64)
}

/// Sets `dotted.key=value` in the configuration table, creating tables on the way.
fn apply_setting(table: &mut toml::Table, setting: &Setting<'_>) -> Result<()> {
    let Some((key, value)) = setting.text.split_once('=') else {
        bail!("{setting}: expected KEY=VALUE, e.g. targets.prod.timeout_secs=30");
    };
    let path: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if path.iter().any(|p| p.is_empty()) {
        bail!("{setting}: the key has an empty part");
    }
    // `x = VALUE` parsed as TOML gives numbers, booleans and arrays their type; anything that is
    // not TOML (a bare word, a path) is taken as a string.
    let value = toml::from_str::<toml::Table>(&format!("x = {}", value.trim()))
        .ok()
        .and_then(|mut t| t.remove("x"))
        .unwrap_or_else(|| toml::Value::String(value.trim().to_owned()));
    let (last, parents) = path.split_last().expect("split yields at least one part");
    let mut here = table;
    for part in parents {
        let entry = here
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("{setting}: {part} is not a table in the configuration"),
        };
    }
    here.insert(last.to_string(), value);
    Ok(())
}

fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// The commented starting configuration `hotpatch init` writes, with `{source}` and `{packages}`
/// to fill in (see [`template`]).
const TEMPLATE: &str = r#"# hotpatch.toml: how hotpatch finds your sources and your running images.
# Every setting can be overridden: --source / HOTPATCH_SOURCE, --target / HOTPATCH_TARGET,
# --url / HOTPATCH_URL, --token-env / HOTPATCH_TOKEN_ENV, --config / HOTPATCH_CONFIG.

# The Tonel source directory (the folder holding one folder per package), relative to this file.
source = "{source}"

# The packages hotpatch owns in the image: diff and push only look at these. Leave empty to own
# every package found under `source`.
packages = {packages}

# The target used when --target is not given (optional when there is only one target).
default_target = "local"

# How the application learns that its code changed (every target; a [targets.NAME.hooks]
# section replaces this for one target). The agent runs the hooks inside the push, after the
# batch is installed, each under its time limit for pushed code (5 s by default), and again
# after a rollback: first the class-side `hotpatchChanged:` of every class of a changed package
# that defines it (told which of its classes and methods changed), then `after_change`.
[hooks]
# after_change = "MyApp default rebuildRoutes"   # Smalltalk evaluated in the image
# "undo" (default): a hook that fails, halts, loops past the limit or ends its process undoes
# the push; "report": the push stays and the failure is reported. A rollback always stays.
on_failure = "undo"
# notify = false                                 # send no hotpatchChanged:

[targets.local]
# Where the hotpatch agent listens inside the running image.
url = "ws://127.0.0.1:7071/"
# The environment variable that holds the agent's token. Never write the token itself here.
token_env = "HOTPATCH_TOKEN"
# Time limits in seconds: connecting and quick requests; snapshot, apply and rollback (these
# grow with the amount of code: a first push of a large project compiles thousands of methods).
timeout_secs = 10
apply_timeout_secs = 120
# The largest message sent to or read from the agent, in bytes (default 64 MiB; the agent has
# its own, max_message_bytes in hotpatch-agent.conf: the smaller one applies).
# max_message_bytes = 67108864
# Other hosts: url = "ssh://deploy@app1.example.com/?agent_port=7071" (hotpatch runs ssh -W with
# your keys and known_hosts; ssh_options = ["IdentityFile=..."] adds ssh -o options), or
# url = "wss://app1.example.com/" behind a TLS terminator (ca_file = "ca.pem" for a private CA).

# What to do when a change cannot be applied live (see `hotpatch rebuild`).
[targets.local.rebuild]
# "refuse" (default): apply nothing and explain; "rebuild": build a fresh image and restart.
on_needs_rebuild = "refuse"
# vm = "/usr/lib/squeak/4.10.2.2614+20120917~dfsg/squeakvm"
# vm_args = ["-vm-display-null", "-vm-sound-null"]
# base_image = "base/Base.image"        # clean image to build from; never modified
# loader = "filein"                     # "filein" (any image) or "tonel" (Pharo)
# baseline = "MyApp"                    # tonel loader: load BaselineOfMyApp from `source`
# image = "/srv/app/app.image"          # the image the application runs from
# restart = "systemctl restart app"     # how the supervisor restarts the application
# status = "systemctl is-active --quiet app"  # exit 0 when the application runs: a push whose
#                                       # agent is unreachable rebuilds only when it is down
# agent_source = "smalltalk-agent/src"  # the agent's Tonel sources (default: found beside)
# post_load = "MyApp install"            # Smalltalk run after loading, before saving
# build_timeout_secs = 600
# health_timeout_secs = 60
# verify_port = 7099                    # loopback port to check a new image (default: any free)
"#;

/// The commented starting configuration for sources in `source` (relative to the file) owning
/// `packages` (empty: every package found there). The values are written as TOML strings, so
/// any folder or package name is written safely.
pub fn template(source: &str, packages: &[String]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let list = format!(
        "[{}]",
        packages
            .iter()
            .map(|p| quote(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    TEMPLATE
        .replacen("\"{source}\"", &quote(source), 1)
        .replacen("{packages}", &list, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_takes_any_source_and_package_names() {
        let text = template("my \"src\"", &["A-Core".into(), "B'x".into()]);
        let c = Config::from_str(&text, Path::new("/p")).unwrap();
        assert_eq!(c.source, Path::new("/p/my \"src\""));
        assert_eq!(c.packages, vec!["A-Core", "B'x"]);
    }

    #[test]
    fn template_is_a_valid_config() {
        let c = Config::from_str(&template("src", &[]), Path::new("/p")).unwrap();
        assert_eq!(c.source, Path::new("/p/src"));
        let t = c.target(&Overrides::default()).unwrap();
        assert_eq!(t.url, "ws://127.0.0.1:7071/");
        assert_eq!(t.token_env, "HOTPATCH_TOKEN");
        assert_eq!(t.rebuild.on_needs_rebuild, OnNeedsRebuild::Refuse);
    }

    #[test]
    fn overrides_win_over_the_file() {
        let c = Config::from_str(&template("src", &[]), Path::new("/p")).unwrap();
        let o = Overrides {
            url: Some("ws://127.0.0.1:9/".into()),
            token_env: Some("OTHER".into()),
            ..Default::default()
        };
        let t = c.target(&o).unwrap();
        assert_eq!(
            (t.url.as_str(), t.token_env.as_str()),
            ("ws://127.0.0.1:9/", "OTHER")
        );
    }

    #[test]
    fn unknown_target_is_named_with_the_known_ones() {
        let c = Config::from_str(&template("src", &[]), Path::new("/p")).unwrap();
        let o = Overrides {
            target: Some("prod".into()),
            ..Default::default()
        };
        let e = c.target(&o).unwrap_err().to_string();
        assert!(e.contains("'prod'") && e.contains("local"), "{e}");
    }

    #[test]
    fn several_targets_need_a_choice() {
        let text = "[targets.a]\nurl='ws://x:1/'\n[targets.b]\nurl='ws://y:1/'\n";
        let c = Config::from_str(text, Path::new("/p")).unwrap();
        let e = c.target(&Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("--target"), "{e}");
    }

    #[test]
    fn any_setting_can_be_set_from_outside() {
        let dir = std::env::temp_dir().join(format!("hotpatch-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), template("src", &[])).unwrap();
        let o = Overrides {
            set: vec![
                "packages=[\"A\", \"B\"]".into(),
                "targets.local.timeout_secs=2.5".into(),
                "targets.local.rebuild.on_needs_rebuild=rebuild".into(),
                "targets.prod.url=ws://10.0.0.1:7071/".into(),
            ],
            target: Some("local".into()),
            ..Default::default()
        };
        let c = Config::load(&dir, &o).unwrap();
        assert_eq!(c.packages, vec!["A", "B"]);
        let t = c.target(&o).unwrap();
        assert_eq!(t.timeout, Duration::from_millis(2500));
        assert_eq!(t.rebuild.on_needs_rebuild, OnNeedsRebuild::Rebuild);
        assert_eq!(c.targets["prod"].url, "ws://10.0.0.1:7071/");
        let bad = Overrides {
            set: vec!["targets.local.timeout_secs".into()],
            ..Default::default()
        };
        assert!(
            Config::load(&dir, &bad)
                .unwrap_err()
                .to_string()
                .contains("KEY=VALUE")
        );
        let typo = Overrides {
            set: vec!["targets.local.timeout=3".into()],
            ..Default::default()
        };
        assert!(
            Config::load(&dir, &typo).is_err(),
            "unknown keys are refused as in the file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_setting_given_outside_the_file_is_named_as_such() {
        let dir = std::env::temp_dir().join(format!("hotpatch-config-set-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), template("src", &[])).unwrap();
        let file = dir.join(FILE_NAME).display().to_string();
        let error = |set: &[&str], env_set: &[&str]| {
            let o = Overrides {
                set: set.iter().map(|s| s.to_string()).collect(),
                env_set: env_set.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            format!("{:#}", Config::load(&dir, &o).unwrap_err())
        };
        // A value out of range, one of the wrong type, a misspelt key: the --set is named, not
        // the file, which is fine.
        for bad in [
            "targets.local.timeout_secs=1e300",
            "targets.local.timeout_secs=abc",
            "targets.local.tmeout_secs=3",
            "targets.local.url=http://x/",
        ] {
            let e = error(&["targets.local.apply_timeout_secs=30", bad], &[]);
            assert!(e.starts_with(&format!("--set {bad}:")), "{bad}: {e}");
            assert!(!e.contains(&file), "{bad}: {e}");
            let e = error(&[], &["packages=[]", bad]);
            assert!(
                e.starts_with(&format!("HOTPATCH_SET ({bad}):")),
                "{bad}: {e}"
            );
        }
        // The file's own mistake stays the file's, whatever good settings are given.
        std::fs::write(
            dir.join(FILE_NAME),
            template("src", &[]).replace("timeout_secs = 10", "timeout_secs = 0"),
        )
        .unwrap();
        let e = error(&["targets.local.apply_timeout_secs=30"], &[]);
        assert!(e.starts_with(&file), "{e}");
        // A setting that replaces the file's bad value with another bad one is to blame.
        let e = error(&["targets.local.timeout_secs=-1"], &[]);
        assert!(e.starts_with("--set targets.local.timeout_secs=-1:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hooks_apply_to_every_target_unless_it_has_its_own() {
        let text = "[hooks]\nafter_change = 'App rebuild'\non_failure = 'report'\n\
                    [targets.a]\nurl = 'ws://h:1/'\n\
                    [targets.b]\nurl = 'ws://h:2/'\n[targets.b.hooks]\nnotify = false\n";
        let c = Config::from_str(text, Path::new("/p")).unwrap();
        let a = &c.targets["a"].hooks;
        assert_eq!(a.after_change.as_deref(), Some("App rebuild"));
        assert_eq!(a.on_failure, OnHookFailure::Report);
        assert!(a.notify);
        // A target's own section replaces [hooks] as a whole: b has no expression.
        let b = &c.targets["b"].hooks;
        assert_eq!(
            (b.after_change.as_deref(), b.on_failure, b.notify),
            (None, OnHookFailure::Undo, false)
        );
        // A target known only by its url (--url, an inventory) gets [hooks] too.
        let o = Overrides {
            target: Some("adhoc".into()),
            url: Some("ws://h:3/".into()),
            ..Default::default()
        };
        assert_eq!(c.target(&o).unwrap().hooks, *a);
        // Without [hooks]: hotpatchChanged: is sent, a failure undoes the push.
        let t = Config::from_str(&template("src", &[]), Path::new("/p")).unwrap();
        assert_eq!(t.targets["local"].hooks, Hooks::default());
    }

    #[test]
    fn hook_settings_are_checked_when_the_configuration_is_read() {
        let e = config_error("[hooks]\nafter_change = '  '\n");
        assert!(e.contains("hooks.after_change is empty"), "{e}");
        let e =
            config_error("[targets.p]\nurl = 'ws://h:1/'\n[targets.p.hooks]\nafter_change = ''\n");
        assert!(e.contains("targets.p.hooks.after_change is empty"), "{e}");
        let e = config_error("[hooks]\non_failure = 'ignore'\n");
        assert!(e.contains("ignore"), "{e}");
        let e = config_error("[hooks]\nafter = 'x'\n");
        assert!(e.contains("after"), "misspelt keys are refused: {e}");
    }

    #[test]
    fn misspelt_keys_are_errors() {
        assert!(Config::from_str("sorce = 'x'", Path::new("/p")).is_err());
    }

    #[test]
    fn bad_default_target_is_an_error() {
        let e = Config::from_str("default_target='x'", Path::new("/p")).unwrap_err();
        assert!(e.to_string().contains("[targets.x]"));
    }

    fn config_error(text: &str) -> String {
        let e = Config::from_str(text, Path::new("/p")).expect_err(text);
        format!("{e:#}")
    }

    #[test]
    fn urls_are_checked_when_the_configuration_is_read() {
        for url in [
            "http://127.0.0.1:7071/",
            "wss//h/",
            "ws://:7071/",
            "not a url",
            "ws://h/",
        ] {
            let e = config_error(&format!("[targets.p]\nurl = '{url}'\n"));
            assert!(e.contains("targets.p.url"), "{e}");
            assert!(
                e.contains("ssh://[USER@]HOST"),
                "the accepted forms are listed: {e}"
            );
        }
        let c = Config::from_str(&template("src", &[]), Path::new("/p")).unwrap();
        let o = Overrides {
            url: Some("htp://127.0.0.1:7071/".into()),
            ..Default::default()
        };
        let e = format!("{:#}", c.target(&o).unwrap_err());
        assert!(e.contains("--url") && e.contains("htp://"), "{e}");
    }

    #[test]
    fn transport_options_must_fit_the_scheme() {
        let e = config_error("[targets.p]\nurl = 'ws://h:1/'\nssh_options = ['Port=22']\n");
        assert!(e.contains("ssh_options") && e.contains("not ssh://"), "{e}");
        let e = config_error("[targets.p]\nurl = 'ws://h:1/'\nca_file = 'Cargo.toml'\n");
        assert!(e.contains("ca_file"), "{e}");
        let e = config_error("[targets.p]\nurl = 'wss://h/'\nca_file = 'no-such-ca.pem'\n");
        assert!(e.contains("does not exist"), "{e}");
        let e = config_error("[targets.p]\nurl = 'ssh://h/'\nssh_options = ['-oProxyCommand=x']\n");
        assert!(e.contains("not an ssh option"), "{e}");
        let ok = Config::from_str(
            "[targets.p]\nurl = 'ssh://u@h:2222/?agent_port=7072'\nssh_options = ['IdentityFile=/k', 'UserKnownHostsFile /kh']\n",
            Path::new("/p"),
        )
        .unwrap();
        assert_eq!(ok.targets["p"].endpoint().ssh_options.len(), 2);
    }

    #[test]
    fn numeric_limits_are_checked_when_the_configuration_is_read() {
        for (key, value) in [
            ("timeout_secs", "1e300"),
            ("timeout_secs", "-1"),
            ("timeout_secs", "nan"),
            ("timeout_secs", "inf"),
            ("timeout_secs", "0"),
            ("apply_timeout_secs", "1e9"),
        ] {
            let e = config_error(&format!(
                "[targets.p]\nurl = 'ws://h:1/'\n{key} = {value}\n"
            ));
            assert!(
                e.contains(&format!("targets.p.{key}")) && e.contains("0.1 to 86400"),
                "{key} = {value}: {e}"
            );
        }
        for (key, value) in [
            ("build_timeout_secs", "1e300"),
            ("health_timeout_secs", "-5"),
        ] {
            let e = config_error(&format!(
                "[targets.p]\nurl = 'ws://h:1/'\n[targets.p.rebuild]\n{key} = {value}\n"
            ));
            assert!(e.contains(&format!("targets.p.rebuild.{key}")), "{e}");
        }
        let e =
            config_error("[targets.p]\nurl = 'ws://h:1/'\n[targets.p.rebuild]\nverify_port = 0\n");
        assert!(e.contains("verify_port"), "{e}");
        assert!(
            Config::from_str(
                "[targets.p]\nurl = 'ws://h:1/'\ntimeout_secs = 86400\n",
                Path::new("/p")
            )
            .is_ok()
        );
    }
}
