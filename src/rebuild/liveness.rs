//! Is the application down? Asked before a push falls back to a rebuild because its agent could
//! not be reached. An agent that cannot be reached is no proof that the application is down (a
//! wrong port, a firewall, an agent kept busy by someone else), and a rebuild restarts the
//! application, losing its in-memory state: only [`AppState::Down`] lets the rebuild go ahead.
//!
//! The answer comes from, in order:
//! 1. the target's `status` command (`systemctl is-active --quiet app`, `supervisor.sh status`):
//!    exit 0 running; 1, 2 or 3 not running (the LSB meanings); anything else (4 "unknown", 126
//!    and 127 "cannot run", a signal, a time-out) unknown;
//! 2. without one, and only when the agent's URL names this machine: no image file yet (first
//!    deploy) is down; otherwise the processes of this machine are looked at (Linux `/proc`): one
//!    whose command line names the image file is the application running.
//!
//! Anything that cannot be told is [`AppState::Unknown`], and no rebuild happens.

use super::Settings;
use crate::image::AgentUrl;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What is known about the application, with the evidence in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppState {
    /// Not running: a rebuild may start it.
    Down(String),
    /// Running (its agent merely could not be reached): never rebuild it.
    Running(String),
    /// Cannot tell: treated as running.
    Unknown(String),
}

impl AppState {
    /// True only when the application is known to be down.
    pub fn is_down(&self) -> bool {
        matches!(self, AppState::Down(_))
    }

    /// The evidence, for messages.
    pub fn evidence(&self) -> &str {
        match self {
            AppState::Down(s) | AppState::Running(s) | AppState::Unknown(s) => s,
        }
    }
}

/// Asks the status command, or looks for the image's process (see the module doc). `root` is
/// where the status command runs (the config file's directory); `timeout` bounds it.
pub async fn application_state(
    settings: &Settings,
    url: &AgentUrl,
    root: &Path,
    timeout: Duration,
) -> AppState {
    if let Some(command) = &settings.status {
        return by_status_command(command, root, timeout).await;
    }
    let set_status = format!(
        "set status = \"…\" in [targets.{}.rebuild] (a command that exits 0 when the application \
         runs, e.g. \"systemctl is-active --quiet app\")",
        settings.target
    );
    if !url.is_loopback() {
        return AppState::Unknown(format!(
            "the agent's host {} is not this machine, so hotpatch cannot see whether the \
             application runs; {set_status}",
            url.host()
        ));
    }
    if !settings.image.exists() {
        return AppState::Down(format!(
            "there is no image at {} yet (first deploy)",
            settings.image.display()
        ));
    }
    by_processes(&settings.image, &set_status)
}

async fn by_status_command(command: &str, root: &Path, timeout: Duration) -> AppState {
    let run = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            return AppState::Unknown(format!(
                "the status command `{command}` did not finish within {:.0} s",
                timeout.as_secs_f64()
            ));
        }
        Ok(Err(e)) => {
            return AppState::Unknown(format!("cannot run the status command `{command}`: {e}"));
        }
        Ok(Ok(output)) => output,
    };
    let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {}", said.lines().last().unwrap_or(""))
    };
    match output.status.code() {
        Some(0) => AppState::Running(format!("`{command}` says it runs{said}")),
        Some(code @ 1..=3) => AppState::Down(format!(
            "`{command}` says it is not running (exit {code}){said}"
        )),
        Some(code) => AppState::Unknown(format!(
            "`{command}` exited {code}, which says neither running (0) nor stopped (1-3){said}"
        )),
        None => AppState::Unknown(format!("`{command}` was killed ({})", output.status)),
    }
}

/// Looks for a process of this machine whose command line names `image`.
fn by_processes(image: &Path, set_status: &str) -> AppState {
    let Ok(wanted) = image.canonicalize() else {
        return AppState::Unknown(format!("cannot resolve {}; {set_status}", image.display()));
    };
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return AppState::Unknown(format!(
            "this system has no /proc to look for the image's process; {set_status}"
        ));
    };
    let me = std::process::id();
    let mut unsure = None;
    for entry in processes.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || is_zombie(&entry.path()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        for arg in cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()) {
            let arg = Path::new(std::ffi::OsStr::from_bytes(arg));
            if arg.file_name() != wanted.file_name() {
                continue;
            }
            match resolve(&entry.path(), arg) {
                Some(path) if path == wanted => {
                    return AppState::Running(format!("process {pid} runs {}", image.display()));
                }
                Some(_) => {}
                None => unsure = Some(pid),
            }
        }
    }
    match unsure {
        Some(pid) => AppState::Unknown(format!(
            "process {pid} runs an image named like {} whose directory cannot be seen; \
             {set_status}",
            image.display()
        )),
        None => AppState::Down(format!(
            "no process of this machine runs {}",
            image.display()
        )),
    }
}

/// The canonical path `arg` names in the process whose `/proc` entry is `proc`.
fn resolve(proc: &Path, arg: &Path) -> Option<PathBuf> {
    let full = if arg.is_absolute() {
        arg.to_path_buf()
    } else {
        std::fs::read_link(proc.join("cwd")).ok()?.join(arg)
    };
    full.canonicalize().ok()
}

/// A process that has exited but was not reaped still shows its command line.
fn is_zombie(proc: &Path) -> bool {
    std::fs::read_to_string(proc.join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(image: PathBuf, status: Option<&str>) -> Settings {
        Settings {
            target: "t".into(),
            vm: super::super::vm::VmCommand {
                vm: PathBuf::from("/bin/true"),
                vm_args: Vec::new(),
            },
            base_image: PathBuf::from("/nonexistent/base.image"),
            loader: super::super::Loader::FileIn,
            image,
            restart: "true".into(),
            status: status.map(str::to_owned),
            agent_source: PathBuf::from("/nonexistent"),
            post_load: None,
            build_timeout: Duration::from_secs(1),
            health_timeout: Duration::from_secs(1),
            verify_port: None,
        }
    }

    fn url(text: &str) -> AgentUrl {
        AgentUrl::parse(text).unwrap()
    }

    fn state(s: &Settings, u: &str) -> AppState {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(application_state(
                s,
                &url(u),
                Path::new("/"),
                Duration::from_secs(5),
            ))
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hotpatch-liveness-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_status_command_decides_by_its_exit_code() {
        let s = |cmd| settings(PathBuf::from("/x/app.image"), Some(cmd));
        let local = "ws://127.0.0.1:1/";
        assert!(matches!(state(&s("exit 0"), local), AppState::Running(_)));
        assert!(state(&s("echo stopped; exit 3"), local).is_down());
        assert!(state(&s("exit 1"), local).is_down());
        assert!(matches!(state(&s("exit 4"), local), AppState::Unknown(_)));
        assert!(matches!(
            state(&s("no-such-command-hotpatch"), local),
            AppState::Unknown(_)
        ));
        // A remote host is fine when the command says so.
        assert!(state(&s("exit 3"), "ssh://app1/").is_down());
    }

    #[test]
    fn without_a_status_command_a_remote_host_is_unknown() {
        let s = settings(PathBuf::from("/nonexistent/app.image"), None);
        let st = state(&s, "ws://10.1.2.3:7071/");
        assert!(matches!(st, AppState::Unknown(_)), "{st:?}");
        assert!(st.evidence().contains("status"), "{st:?}");
    }

    #[test]
    fn no_image_yet_is_down() {
        let s = settings(PathBuf::from("/nonexistent/app.image"), None);
        assert!(state(&s, "ws://127.0.0.1:7071/").is_down());
    }

    #[test]
    fn a_process_running_the_image_is_found_by_its_command_line() {
        let dir = temp_dir("proc");
        let image = dir.join("app.image");
        std::fs::write(&image, b"not really an image").unwrap();
        let s = settings(image.clone(), None);
        assert!(state(&s, "ws://127.0.0.1:7071/").is_down());
        // A stand-in process whose argument names the image, relative to its directory (as a
        // supervisor started in the image's directory would).
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("sleep 30")
            .arg("app.image")
            .current_dir(&dir)
            .spawn()
            .unwrap();
        let st = state(&s, "ws://127.0.0.1:7071/");
        let _ = child.kill();
        let _ = child.wait();
        assert!(matches!(st, AppState::Running(_)), "{st:?}");
        assert!(st.evidence().contains(&child.id().to_string()), "{st:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
