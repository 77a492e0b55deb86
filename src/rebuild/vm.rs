//! Running the VM: a build run that must end on its own within a time limit (output streamed to
//! the user and kept in a file), and a background run for verification that we stop ourselves.
//!
//! Each run is its own process group, so a VM started through a wrapper script is stopped with
//! everything it started; stopping sends SIGKILL to that group (a VM that is stuck will not
//! react to anything gentler, and a build or verification image holds nothing worth saving).

use super::progress::Progress;
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Logs an image may write beside itself: the test image's boot hook writes `hotpatch.log`;
/// Squeak and Pharo write their debug logs on unhandled errors.
pub const IMAGE_LOGS: [&str; 3] = ["hotpatch.log", "SqueakDebug.log", "PharoDebug.log"];

/// How to start the VM on an image.
#[derive(Debug, Clone)]
pub struct VmCommand {
    /// The VM executable (or a wrapper script that execs it).
    pub vm: PathBuf,
    /// Arguments before the image (e.g. `-vm-display-null`).
    pub vm_args: Vec<String>,
}

impl VmCommand {
    fn command(&self, image: &Path, script_args: &[OsString], cwd: &Path) -> Command {
        let mut cmd = Command::new(&self.vm);
        cmd.args(&self.vm_args)
            .arg(image)
            .args(script_args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }

    fn describe(&self) -> String {
        let mut s = self.vm.display().to_string();
        for a in &self.vm_args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// How a build run ended.
#[derive(Debug)]
pub enum RunEnd {
    /// The VM quit on its own.
    Exited(ExitStatus),
    /// The time limit passed; the VM was killed.
    TimedOut,
}

/// Runs the VM on `image` until it quits or `timeout` passes. The VM's output is streamed to
/// `progress` and written to `out_file`; the image logs in `cwd` are streamed as they grow.
pub async fn run_to_end(
    vm: &VmCommand,
    image: &Path,
    script_args: &[OsString],
    cwd: &Path,
    out_file: &Path,
    timeout: Duration,
    progress: &Progress,
) -> Result<RunEnd> {
    let mut child = vm
        .command(image, script_args, cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start the VM `{}` (check `vm` in [targets.NAME.rebuild])",
                vm.describe()
            )
        })?;
    let mut out = tokio::fs::File::create(out_file)
        .await
        .with_context(|| format!("cannot create {}", out_file.display()))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(stdout) = child.stdout.take() {
        spawn_reader(stdout, tx.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        spawn_reader(stderr, tx.clone());
    }
    drop(tx);

    let mut logs = LogFollower::new(cwd);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut streams_open = true;
    let end = loop {
        tokio::select! {
            line = rx.recv(), if streams_open => match line {
                Some(line) => {
                    progress.output("vm", &line);
                    let _ = out.write_all(format!("{line}\n").as_bytes()).await;
                }
                None => streams_open = false,
            },
            status = child.wait() => {
                let status = status.context("waiting for the VM")?;
                break RunEnd::Exited(status);
            }
            _ = tick.tick() => logs.poll(progress),
            _ = tokio::time::sleep_until(deadline) => {
                kill_group(&mut child).await;
                break RunEnd::TimedOut;
            }
        }
    };
    // Whatever the VM printed last (often the reason it quit) is still in the pipes.
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
        progress.output("vm", &line);
        let _ = out.write_all(format!("{line}\n").as_bytes()).await;
    }
    logs.poll(progress);
    let _ = out.flush().await;
    Ok(end)
}

fn spawn_reader(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        // A VM may print bytes that are not UTF-8; `lines` then errors and we stop reading,
        // which only costs the rest of the echo (the output file is what counts).
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

/// Kills the child's process group (the VM and anything a wrapper started), then reaps it.
async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id() {
        // Our own group (process_group(0) made the child its leader): `kill -KILL -PGID`.
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{pid}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    let _ = child.kill().await;
    let _ = child.wait().await;
}

/// Streams new lines of the image's log files while the VM runs.
struct LogFollower {
    files: Vec<(PathBuf, u64)>,
}

impl LogFollower {
    fn new(dir: &Path) -> LogFollower {
        LogFollower {
            files: IMAGE_LOGS.iter().map(|n| (dir.join(n), 0)).collect(),
        }
    }

    fn poll(&mut self, progress: &Progress) {
        for (path, seen) in &mut self.files {
            let Ok(bytes) = std::fs::read(&*path) else {
                continue;
            };
            let start = usize::try_from(*seen).unwrap_or(usize::MAX);
            if bytes.len() <= start {
                continue;
            }
            // Only whole lines; a partial last line is shown at the next poll.
            let new = &bytes[start..];
            let Some(end) = new.iter().rposition(|b| *b == b'\n' || *b == b'\r') else {
                continue;
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for line in String::from_utf8_lossy(&new[..end]).lines() {
                progress.output(&name, line);
            }
            *seen += u64::try_from(end + 1).unwrap_or(0);
        }
    }
}

/// A VM running in the background (verification), stopped with [`RunningVm::stop`] or when
/// dropped.
#[derive(Debug)]
pub struct RunningVm {
    child: Child,
}

impl RunningVm {
    /// Starts the VM on `image`, its output going to `out_file`.
    pub fn spawn(
        vm: &VmCommand,
        image: &Path,
        script_args: &[OsString],
        cwd: &Path,
        out_file: &Path,
    ) -> Result<RunningVm> {
        let out = std::fs::File::create(out_file)
            .with_context(|| format!("cannot create {}", out_file.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("cannot share {}", out_file.display()))?;
        let child = vm
            .command(image, script_args, cwd)
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start the VM `{}`", vm.describe()))?;
        Ok(RunningVm { child })
    }

    /// The exit status, when the VM has already quit.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the VM and everything it started.
    pub async fn stop(mut self) {
        kill_group(&mut self.child).await;
    }
}

/// The last `lines` lines of the image logs in `dir` and of `out_file`, for error messages.
pub fn log_tail(dir: &Path, out_file: Option<&Path>, lines: usize) -> String {
    let mut s = String::new();
    let files = IMAGE_LOGS
        .iter()
        .map(|n| dir.join(n))
        .chain(out_file.map(Path::to_path_buf));
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if all.is_empty() {
            continue;
        }
        s.push_str(&format!("--- {} (last lines) ---\n", path.display()));
        for line in &all[all.len().saturating_sub(lines)..] {
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

/// Lines of the image logs in `dir` that report an error during the build: the test image's
/// hook logs `ERROR`, `SYNTAX ERROR`, `METHOD NOT COMPILED` and `… chunk(s) failed`; a Squeak or
/// Pharo debug log exists only when something went wrong.
pub fn build_errors(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for name in IMAGE_LOGS {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if name != "hotpatch.log" {
            if !text.trim().is_empty() {
                found.push(format!(
                    "{name} was written (an unhandled error in the image)"
                ));
            }
            continue;
        }
        for line in text.lines() {
            if is_error_line(line) {
                found.push(line.trim().to_owned());
            }
        }
    }
    found
}

fn is_error_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("ERROR")
        || l.starts_with("SYNTAX ERROR")
        || l.starts_with("UNHANDLED ERROR")
        || l.starts_with("METHOD NOT COMPILED")
        || l.contains("chunk(s) failed")
        || l.contains("cannot open script")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_of_the_image_log() {
        for line in [
            "SYNTAX ERROR at 12: 'Nothing more expected' in chunk: foo",
            "METHOD NOT COMPILED in SampleApp at 30: 'x' source: greet",
            "hotpatch: 2 chunk(s) failed in /w/build.st",
            "ERROR: MessageNotUnderstood",
        ] {
            assert!(is_error_line(line), "{line}");
        }
        assert!(!is_error_line("----STARTUP---- 26 November 2026"));
        assert!(!is_error_line("    SampleApp class>>initialize"));
    }
}
