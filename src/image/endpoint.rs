//! Where an agent is and how hotpatch reaches it: the target's URL, checked when the
//! configuration is read, and the transport options that go with it.
//!
//! A URL that can never work (`http://`, a typo, no host) is a configuration error found before
//! anything is sent, never "the agent is unreachable": only a real connection failure to a valid
//! URL is that (see [`super::ClientError::Connect`]). Three forms are accepted:
//!
//! - `ws://HOST:PORT/[PATH]` — a plain WebSocket (the agent on loopback or a trusted network);
//!   the port is required (the agent has no standard port of its own on a web scheme).
//! - `wss://HOST[:PORT]/[PATH]` — WebSocket over TLS, for an agent behind a TLS terminator
//!   (nginx, stunnel); the port defaults to 443 and the path is passed on (a proxy may route by
//!   it). The certificate is verified against the system's CAs, or against `ca_file` alone.
//! - `ssh://[USER@]HOST[:PORT]/?agent_port=N[&agent_host=H]` — through an SSH connection that
//!   hotpatch opens with the system's `ssh` (`-W H:N`, the user's keys, agent and known_hosts);
//!   `agent_port` defaults to the agent's default port 7071 and `agent_host` to `127.0.0.1`,
//!   as seen from HOST.

use std::fmt;
use std::path::PathBuf;

/// The accepted forms, as every URL error lists them.
pub const ACCEPTED_FORMS: &str = "  ws://HOST:PORT/                              plain WebSocket (loopback or a trusted network)
  wss://HOST[:PORT]/[PATH]                     TLS, the agent behind a terminator (nginx, stunnel); ca_file = a private CA
  ssh://[USER@]HOST[:PORT]/?agent_port=N       through ssh, which hotpatch runs itself (-W to 127.0.0.1:N on HOST)";

/// The agent's default port (`HpAgent startOn: 7071 …`), the default of `agent_port`.
pub const DEFAULT_AGENT_PORT: u16 = 7071;

/// A target URL that cannot work: what is wrong with it (the message lists the accepted forms).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?} is not an agent URL: {problem}; use one of:\n{ACCEPTED_FORMS}")]
pub struct UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub problem: String,
}

/// How the connection to the agent is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `ws://`: a TCP connection to `host:port`.
    Plain { host: String, port: u16 },
    /// `wss://`: TLS to `host:port`, the certificate checked for `host`.
    Tls { host: String, port: u16 },
    /// `ssh://`: `ssh [-l user] [-p port] -W agent_host:agent_port host`.
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        agent_host: String,
        agent_port: u16,
    },
}

/// A checked agent URL (see the module doc for the forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUrl {
    text: String,
    route: Route,
    /// The path and query sent in the WebSocket handshake.
    resource: String,
}

impl AgentUrl {
    /// Checks `text`; the error says what is wrong and lists the accepted forms.
    pub fn parse(text: &str) -> Result<AgentUrl, UrlError> {
        let fail = |problem: String| UrlError {
            url: text.to_owned(),
            problem,
        };
        if text.trim().is_empty() {
            return Err(fail("it is empty".into()));
        }
        let Some((scheme, _)) = text.split_once("://") else {
            return Err(fail("it has no scheme (ws://, wss:// or ssh://)".into()));
        };
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "ws" | "wss" | "ssh") {
            return Err(fail(format!("the scheme {scheme}:// is not supported")));
        }
        let uri: http::Uri = text
            .parse()
            .map_err(|e| fail(format!("it cannot be parsed ({e})")))?;
        if text.contains('#') {
            return Err(fail("a fragment (#…) means nothing here".into()));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| fail("it has no host".into()))?;
        let (user, host_port) = match authority.as_str().rsplit_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, authority.as_str()),
        };
        let host = host_of(host_port).map_err(fail)?;
        let port = match authority.port() {
            None => None,
            Some(p) => match p.as_str().parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(fail(format!(
                        "the port {} is not a port (1 to 65535)",
                        p.as_str()
                    )));
                }
                Ok(n) => Some(n),
            },
        };
        let path = uri.path();
        let resource = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        let resource = if resource.is_empty() {
            "/".to_owned()
        } else {
            resource
        };
        let route = match scheme.as_str() {
            "ws" | "wss" => {
                if user.is_some() {
                    return Err(fail(
                        "user names and passwords do not belong in the URL (the agent's token is \
                         read from the environment variable named by token_env)"
                            .into(),
                    ));
                }
                if scheme == "ws" {
                    let port = port.ok_or_else(|| {
                        fail("ws:// needs a port (the agent's, e.g. ws://127.0.0.1:7071/)".into())
                    })?;
                    Route::Plain { host, port }
                } else {
                    Route::Tls {
                        host,
                        port: port.unwrap_or(443),
                    }
                }
            }
            _ => {
                if !matches!(path, "" | "/") {
                    return Err(fail(format!(
                        "an ssh:// URL has no path (found {path}); the agent's port goes in \
                         ?agent_port=N"
                    )));
                }
                let (agent_host, agent_port) = ssh_query(uri.query()).map_err(fail)?;
                let user = user.map(ssh_user).transpose().map_err(fail)?;
                Route::Ssh {
                    user,
                    host,
                    port,
                    agent_host,
                    agent_port,
                }
            }
        };
        Ok(AgentUrl {
            text: text.to_owned(),
            route,
            resource,
        })
    }

    /// The URL as written in the configuration (also the key of the snapshot cache).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How the connection is made.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The `ws://` / `wss://` URL of the WebSocket handshake: the URL itself, or for an ssh
    /// route the agent's address as seen from the ssh server.
    pub fn handshake_url(&self) -> String {
        match &self.route {
            Route::Plain { host, port } => {
                format!("ws://{}:{port}{}", bracket(host), self.resource)
            }
            Route::Tls { host, port } => format!("wss://{}:{port}{}", bracket(host), self.resource),
            Route::Ssh {
                agent_host,
                agent_port,
                ..
            } => format!("ws://{}:{agent_port}/", bracket(agent_host)),
        }
    }

    /// The host named in the URL (the ssh server for an ssh route).
    pub fn host(&self) -> &str {
        match &self.route {
            Route::Plain { host, .. } | Route::Tls { host, .. } | Route::Ssh { host, .. } => host,
        }
    }

    /// True when the URL's host is this machine (`localhost`, `127.0.0.0/8`, `::1`): only then
    /// can hotpatch look at the processes that run the image.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `ws`, `wss` or `ssh`.
    pub fn scheme(&self) -> &'static str {
        match self.route {
            Route::Plain { .. } => "ws",
            Route::Tls { .. } => "wss",
            Route::Ssh { .. } => "ssh",
        }
    }
}

impl fmt::Display for AgentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for AgentUrl {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for AgentUrl {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl serde::Serialize for AgentUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// An agent URL with the transport options of its target: everything needed to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where the agent is.
    pub url: AgentUrl,
    /// `wss://`: trust only the CA certificates in this PEM file (default: the system's CAs).
    pub ca_file: Option<PathBuf>,
    /// `ssh://`: extra `-o` options for ssh (`UserKnownHostsFile=…`, `IdentityFile=…`).
    pub ssh_options: Vec<String>,
    /// The largest message read or sent, in bytes (PROTOCOL.md, Size limit).
    pub max_message_bytes: u64,
}

impl From<AgentUrl> for Endpoint {
    fn from(url: AgentUrl) -> Endpoint {
        Endpoint {
            url,
            ca_file: None,
            ssh_options: Vec::new(),
            max_message_bytes: super::client::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// `[::1]` for IPv6 addresses in URLs and `host:port` strings.
pub(crate) fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The host of `host[:port]` (without brackets), checked with [`check_host`].
fn host_of(host_port: &str) -> Result<String, String> {
    if let Some(rest) = host_port.strip_prefix('[') {
        let (inner, _) = rest
            .split_once(']')
            .ok_or("the IPv6 address has no closing ]")?;
        return check_host(inner);
    }
    check_host(host_port.rsplit_once(':').map_or(host_port, |(h, _)| h))
}

/// A host name or an address (IPv6 without brackets), never empty and never starting with `-`
/// (it becomes an argument of ssh).
fn check_host(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if host.contains(':') {
        return match host.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(host.to_owned()),
            Err(_) => Err(format!("{host} is not an IPv6 address")),
        };
    }
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if host.starts_with(['-', '.']) || !host.chars().all(name_char) {
        return Err(format!("{host:?} is not a host name or address"));
    }
    Ok(host.to_owned())
}

/// An ssh user name: letters, digits, `.`, `_`, `-`, not starting with `-`; no password.
fn ssh_user(user: &str) -> Result<String, String> {
    if user.contains(':') {
        return Err(
            "passwords do not belong in the URL (ssh logs in with your keys or ssh agent)".into(),
        );
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if user.is_empty() || user.starts_with('-') || !user.chars().all(ok) {
        return Err(format!("{user:?} is not a user name"));
    }
    Ok(user.to_owned())
}

/// `agent_port=N&agent_host=H` of an ssh URL; both optional, nothing else allowed.
fn ssh_query(query: Option<&str>) -> Result<(String, u16), String> {
    let mut agent_host = "127.0.0.1".to_owned();
    let mut agent_port = DEFAULT_AGENT_PORT;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "agent_port" => {
                agent_port = value
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("agent_port={value} is not a port (1 to 65535)"))?;
            }
            "agent_host" => {
                agent_host = check_host(value.trim_start_matches('[').trim_end_matches(']'))
                    .map_err(|e| format!("agent_host: {e}"))?;
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?} (an ssh:// URL takes agent_port and agent_host)"
                ));
            }
        }
    }
    Ok((agent_host, agent_port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(text: &str) -> Route {
        AgentUrl::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .route
    }

    fn problem(text: &str) -> String {
        let e = AgentUrl::parse(text).expect_err(text);
        assert!(e.to_string().contains("ssh://[USER@]HOST"), "{e}");
        e.problem
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(
            route("ws://127.0.0.1:7071/"),
            Route::Plain {
                host: "127.0.0.1".into(),
                port: 7071
            }
        );
        assert_eq!(
            route("wss://agent.example.com/hotpatch"),
            Route::Tls {
                host: "agent.example.com".into(),
                port: 443
            }
        );
        assert_eq!(
            route("ssh://deploy@app1.example.com:2222/?agent_port=7072"),
            Route::Ssh {
                user: Some("deploy".into()),
                host: "app1.example.com".into(),
                port: Some(2222),
                agent_host: "127.0.0.1".into(),
                agent_port: 7072
            }
        );
        assert_eq!(
            route("ssh://app1"),
            Route::Ssh {
                user: None,
                host: "app1".into(),
                port: None,
                agent_host: "127.0.0.1".into(),
                agent_port: DEFAULT_AGENT_PORT
            }
        );
        assert_eq!(
            route("ws://[::1]:7071/"),
            Route::Plain {
                host: "::1".into(),
                port: 7071
            }
        );
    }

    #[test]
    fn handshake_urls() {
        let u = AgentUrl::parse("wss://h:8443/agent?x=1").unwrap();
        assert_eq!(u.handshake_url(), "wss://h:8443/agent?x=1");
        let u = AgentUrl::parse("ssh://h/?agent_port=9000&agent_host=::1").unwrap();
        assert_eq!(u.handshake_url(), "ws://[::1]:9000/");
        assert_eq!(
            AgentUrl::parse("ws://h:1").unwrap().handshake_url(),
            "ws://h:1/"
        );
    }

    #[test]
    fn urls_that_can_never_work_are_refused() {
        assert!(problem("http://127.0.0.1:7071/").contains("http://"));
        assert!(problem("wss//127.0.0.1:7071/").contains("no scheme"));
        assert!(problem("ws:/127.0.0.1:7071/").contains("no scheme"));
        assert!(problem("ws://:7071/").contains("no host"));
        assert!(problem("ws:///").contains("no host") || problem("ws:///").contains("parsed"));
        assert!(problem("ws://127.0.0.1/").contains("needs a port"));
        assert!(
            problem("ws://127.0.0.1:99999/").contains("port"),
            "{}",
            problem("ws://127.0.0.1:99999/")
        );
        assert!(problem("ws://127.0.0.1:0/").contains("not a port"));
        assert!(problem("ws://a b:1/").contains("parsed"));
        assert!(problem("ws://u:p@h:1/").contains("token"));
        assert!(problem("ssh://h/?agent_prot=1").contains("agent_prot"));
        assert!(problem("ssh://h/x").contains("no path"));
        assert!(problem("ssh://-oProxyCommand=x/").contains("host"));
        assert!(problem("ssh://u:pw@h/").contains("password"));
        assert!(problem("ssh://h/?agent_port=0").contains("agent_port"));
        assert!(problem("").contains("empty"));
        assert!(problem("ws://h:1/#x").contains("fragment"));
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "ws://127.0.0.1:1/",
            "ws://localhost:1/",
            "wss://[::1]/",
            "ssh://127.0.0.2",
        ] {
            assert!(AgentUrl::parse(u).unwrap().is_loopback(), "{u}");
        }
        for u in ["ws://10.0.0.1:1/", "ssh://app1"] {
            assert!(!AgentUrl::parse(u).unwrap().is_loopback(), "{u}");
        }
    }
}
