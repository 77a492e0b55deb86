//! `ssh://`: the WebSocket runs over the standard input and output of
//! `ssh -W AGENT_HOST:AGENT_PORT HOST`, the system's OpenSSH client with the user's keys, ssh
//! agent, `~/.ssh/config` and known_hosts. The crypto is ssh's.
//!
//! Why `-W` (stdio forwarding) rather than `-L` (a local port): no local port is opened, so no
//! other local user can use the tunnel while it is up and there is no free-port race; the ssh
//! process lives exactly as long as the connection; and ssh's refusal (unknown host key, failed
//! login, closed agent port) arrives as its exit and its messages, which are turned into errors
//! here. `BatchMode=yes` comes first on the command line (ssh keeps the first value of an option),
//! so ssh never prompts — not for a password, not to accept an unknown host key.

use super::super::client::{ClientError, TransportProblem};
use super::Stream;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// The ssh hop of an `ssh://` URL.
pub(super) struct Hop<'a> {
    pub user: Option<&'a str>,
    pub host: &'a str,
    pub port: Option<u16>,
    pub agent_host: &'a str,
    pub agent_port: u16,
}

/// How much of ssh's messages is kept for the error.
const STDERR_LIMIT: usize = 16 * 1024;

/// A running `ssh -W` process; killed and reaped by [`SshTunnel::close`], killed when dropped.
pub struct SshTunnel {
    child: Child,
    stderr: Arc<Mutex<String>>,
    pump: Option<JoinHandle<()>>,
    url: String,
    /// `user@host:port`, for messages.
    server: String,
    /// `agent_host:agent_port`, for messages.
    agent: String,
}

impl SshTunnel {
    /// Starts ssh; the stream is its stdio. Failures of the connection show later, as the end of
    /// the stream: [`SshTunnel::explain`] then says why.
    pub(super) fn open(
        url: &str,
        hop: Hop<'_>,
        options: &[String],
        timeout: Duration,
    ) -> Result<(Stream, SshTunnel), ClientError> {
        let agent = format!(
            "{}:{}",
            super::super::endpoint::bracket(hop.agent_host),
            hop.agent_port
        );
        let mut command = Command::new("ssh");
        command
            .args(["-o", "BatchMode=yes"])
            .args(["-o", "ExitOnForwardFailure=yes"])
            .arg("-o")
            .arg(format!("ConnectTimeout={}", timeout.as_secs().max(1)))
            // No terminal, no X11 or agent forwarding: this connection carries one stream.
            .args(["-T", "-x", "-a"]);
        for option in options {
            command.arg("-o").arg(option);
        }
        if let Some(port) = hop.port {
            command.arg("-p").arg(port.to_string());
        }
        if let Some(user) = hop.user {
            command.arg("-l").arg(user);
        }
        command
            .arg("-W")
            .arg(&agent)
            .arg("--")
            .arg(hop.host)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| ClientError::Transport {
            url: url.to_owned(),
            problem: TransportProblem::SshSetup,
            detail: format!(
                "cannot run ssh ({e}); ssh:// targets need the OpenSSH client (apt-get install \
                 openssh-client)"
            ),
        })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ClientError::Transport {
                url: url.to_owned(),
                problem: TransportProblem::SshSetup,
                detail: "ssh started without its pipes".into(),
            });
        };
        let said = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&said);
        let pump = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
                if text.len() < STDERR_LIMIT {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let server = match (hop.user, hop.port) {
            (Some(u), Some(p)) => format!("{u}@{}:{p}", hop.host),
            (Some(u), None) => format!("{u}@{}", hop.host),
            (None, Some(p)) => format!("{}:{p}", hop.host),
            (None, None) => hop.host.to_owned(),
        };
        let tunnel = SshTunnel {
            child,
            stderr: said,
            pump: Some(pump),
            url: url.to_owned(),
            server,
            agent,
        };
        Ok((Box::new(tokio::io::join(stdout, stdin)), tunnel))
    }

    /// Why the stream failed, when ssh says so: waits briefly for ssh to exit and reads its
    /// messages. `otherwise` is answered when ssh is still running or said nothing we know.
    pub async fn explain(&mut self, otherwise: ClientError) -> ClientError {
        let exited = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        if let Some(pump) = self.pump.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), pump).await;
        }
        let status = match exited {
            Ok(Ok(status)) => status,
            _ => return otherwise,
        };
        let said = self
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        classify(&self.url, &self.server, &self.agent, &said, status)
    }

    /// Stops ssh and waits for it (no process is left behind).
    pub async fn close(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
    }
}

/// Turns ssh's exit and messages into an error the user can act on.
fn classify(
    url: &str,
    server: &str,
    agent: &str,
    said: &str,
    status: std::process::ExitStatus,
) -> ClientError {
    let lines: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("@@@") && !l.starts_with("Warning: Permanently")
        })
        .collect();
    // ssh's advice around a changed host key (how to delete the old one) is not ours to give.
    let key_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.to_ascii_lowercase().contains("host key"))
        .collect();
    let lines = if key_lines.is_empty() {
        lines
    } else {
        key_lines
    };
    let quoted = if lines.is_empty() {
        format!("ssh exited with {status} and said nothing")
    } else {
        format!(
            "ssh: {}",
            lines
                .iter()
                .rev()
                .take(4)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join(" / ")
        )
    };
    let lower = said.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    let refused = |problem, detail: String| ClientError::Transport {
        url: url.to_owned(),
        problem,
        detail,
    };
    let unreachable = |reason: String| ClientError::Connect {
        url: url.to_owned(),
        reason,
    };
    if has("host key verification failed")
        || has("remote host identification has changed")
        || has("host key is known")
    {
        let changed = has("has changed") || has("identification has changed");
        return refused(
            TransportProblem::HostKey,
            format!(
                "the ssh host key of {server} is {}; nothing was sent. hotpatch runs ssh with \
                 BatchMode=yes and never accepts a host key by itself: check the key's \
                 fingerprint with the host's administrator, then add it to known_hosts \
                 ({quoted})",
                if changed {
                    "NOT the one in known_hosts (it has changed: a reinstalled host, or someone \
                     in the middle)"
                } else {
                    "not in known_hosts"
                }
            ),
        );
    }
    if has("permission denied") || has("too many authentication failures") {
        return refused(
            TransportProblem::SshLogin,
            format!(
                "ssh could not log in to {server}: no key was accepted (hotpatch uses your ssh \
                 keys and ssh agent, never a password prompt; add your public key to the \
                 server's authorized_keys, or name the key with ssh_options = \
                 [\"IdentityFile=…\"]) ({quoted})"
            ),
        );
    }
    if has("administratively prohibited") {
        return refused(
            TransportProblem::SshSetup,
            format!(
                "the ssh server {server} does not allow forwarding to {agent} (AllowTcpForwarding \
                 or PermitOpen in its sshd_config) ({quoted})"
            ),
        );
    }
    if has("bad configuration option")
        || has("unsupported option")
        || has("command-line line")
        || has("keyword")
        || has("usage: ssh")
    {
        return refused(
            TransportProblem::SshSetup,
            format!("ssh refused its options (check ssh_options) ({quoted})"),
        );
    }
    if has("open failed") || has("stdio forwarding failed") || has("connect failed") {
        return unreachable(format!(
            "logged in to {server}, but nothing accepts connections at {agent} there (is the \
             agent running, on that port?) ({quoted})"
        ));
    }
    unreachable(format!("ssh could not connect to {server} ({quoted})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn kind(said: &str) -> String {
        let e = classify(
            "ssh://h",
            "h",
            "127.0.0.1:7071",
            said,
            std::process::ExitStatus::from_raw(255 << 8),
        );
        match e {
            ClientError::Transport { problem, .. } => format!("{problem:?}"),
            ClientError::Connect { .. } => "unreachable".into(),
            other => format!("{other}"),
        }
    }

    #[test]
    fn ssh_messages_become_errors_of_the_right_kind() {
        assert_eq!(
            kind(
                "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n"
            ),
            "HostKey"
        );
        assert_eq!(
            kind(
                "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n"
            ),
            "HostKey"
        );
        assert_eq!(
            kind("root@127.0.0.1: Permission denied (publickey).\n"),
            "SshLogin"
        );
        assert_eq!(
            kind(
                "channel 0: open failed: connect failed: Connection refused\nstdio forwarding failed\n"
            ),
            "unreachable"
        );
        assert_eq!(
            kind("ssh: connect to host 127.0.0.1 port 1: Connection refused\n"),
            "unreachable"
        );
        assert_eq!(
            kind("command-line line 0: Bad configuration option: nosuchoption\n"),
            "SshSetup"
        );
        assert_eq!(
            kind("channel 0: open failed: administratively prohibited: open failed\n"),
            "SshSetup"
        );
    }
}
