//! Handing a push to a running `hotpatch watch`: the watch keeps one authenticated connection to
//! its target's agent, and listens on a unix socket beside hotpatch.toml
//! (`.hotpatch/watch.sock`, mode 0600, only the same user may talk to it). An editor's save hook
//! that runs `hotpatch push FILE` first offers FILE there; the watch pushes it over its open
//! connection and sends back the exit code and what the push prints, which the hook's process
//! prints as its own. With no watch listening (no socket, or one left behind by a watch that was
//! killed), or a watch for another target, the push connects by itself as always.
//!
//! On the socket: one request, one reply, each a line of JSON ([`Request`], [`Reply`]).

use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The socket of a project's watch.
pub fn socket_path(root: &Path) -> PathBuf {
    root.join(".hotpatch").join("watch.sock")
}

/// A push handed to the watch: `hotpatch push --target TARGET PATHS…` with the few options a
/// save hook uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The target the push is for; a watch of another target declines.
    pub target: String,
    /// Absolute paths of the files (or package folders) to push.
    pub paths: Vec<PathBuf>,
    /// `--json`.
    #[serde(default)]
    pub json: bool,
    /// `--dry-run`.
    #[serde(default)]
    pub dry_run: bool,
    /// `--no-hooks`.
    #[serde(default)]
    pub no_hooks: bool,
}

/// The watch's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The push ran: its exit code and what it printed.
    Done {
        code: i32,
        stdout: String,
        stderr: String,
    },
    /// The watch will not run this push (another target); the caller pushes by itself.
    Declined { reason: String },
}

/// Why a watch could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(
        "another `hotpatch watch` is running for this project (it answers on {0}); stop it first"
    )]
    AlreadyWatched(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Offers `request` to the watch of the project at `root`; `None` when no watch takes it (none
/// listening, a socket left behind by a watch that died, a watch of another target, a watch that
/// broke off): then nothing was pushed for certain only in the first cases, but pushing again is
/// always safe (a push that finds the image already matching does nothing). `limit` bounds the
/// wait for the reply (the push's own time limits, and some).
pub fn hand_off(root: &Path, request: &Request, limit: Duration) -> Option<Reply> {
    let mut stream = StdUnixStream::connect(socket_path(root)).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    let mut line = serde_json::to_vec(request).ok()?;
    line.push(b'\n');
    stream.write_all(&line).ok()?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).ok()?;
    match serde_json::from_str::<Reply>(&answer).ok()? {
        Reply::Declined { .. } => None,
        done => Some(done),
    }
}

/// A watch's listening socket: [`Listener::bind`], then [`Listener::serve`].
pub struct Listener {
    listener: tokio::net::UnixListener,
    file: SocketFile,
}

/// The socket file, removed when dropped (only if it is still the one bound: a watch started
/// after this one was declared dead keeps its own).
struct SocketFile {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let now = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if now.is_some() && now == self.inode {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Longest request a watch reads (a save hook's request is a few hundred bytes).
const MAX_REQUEST: u64 = 1 << 20;

/// How long a connected client may take to send its request.
const REQUEST_LIMIT: Duration = Duration::from_secs(2);

impl Listener {
    /// Listens on the socket of the project at `root`. A socket file nobody answers on (left by
    /// a watch that was killed) is replaced; one a live watch answers on is an error.
    pub fn bind(root: &Path) -> Result<Listener, ListenError> {
        let path = socket_path(root);
        let io = |source| ListenError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        if std::fs::symlink_metadata(&path).is_ok() {
            if StdUnixStream::connect(&path).is_ok() {
                return Err(ListenError::AlreadyWatched(path));
            }
            std::fs::remove_file(&path).map_err(io)?;
        }
        let listener = tokio::net::UnixListener::bind(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let inode = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        Ok(Listener {
            listener,
            file: SocketFile { path, inode },
        })
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Accepts clients on a task of their own (so that a request is never lost half read while
    /// the watch does something else) and hands over their requests, in order. Clients of other
    /// users are turned away; a client that sends no valid request in time is dropped. Must be
    /// called within a tokio runtime.
    pub fn serve(self) -> Incomings {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let Listener { listener, file } = self;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                if !stream.peer_cred().is_ok_and(|c| c.uid() == own_uid()) {
                    continue;
                }
                let (read, write) = stream.into_split();
                let mut reader =
                    tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
                let mut line = String::new();
                let got = tokio::time::timeout(REQUEST_LIMIT, reader.read_line(&mut line)).await;
                if !matches!(got, Ok(Ok(n)) if n > 0) {
                    continue;
                }
                let Ok(request) = serde_json::from_str::<Request>(&line) else {
                    continue;
                };
                if tx.send(Incoming { request, write }).await.is_err() {
                    return;
                }
            }
        });
        Incomings {
            rx,
            task,
            _file: file,
        }
    }
}

/// The requests of a serving [`Listener`]; dropping it stops listening and removes the socket.
pub struct Incomings {
    rx: tokio::sync::mpsc::Receiver<Incoming>,
    task: tokio::task::JoinHandle<()>,
    _file: SocketFile,
}

impl Incomings {
    /// The next request (cancel-safe: none is lost when the caller stops waiting).
    pub async fn next(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }
}

impl Drop for Incomings {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request received, to be answered.
pub struct Incoming {
    pub request: Request,
    write: tokio::net::unix::OwnedWriteHalf,
}

impl Incoming {
    /// Sends the reply (a client that went away meanwhile is of no concern).
    pub async fn reply(mut self, reply: &Reply) {
        if let Ok(mut line) = serde_json::to_vec(reply) {
            line.push(b'\n');
            let _ = self.write.write_all(&line).await;
            let _ = self.write.shutdown().await;
        }
    }
}

/// This process's real user id.
fn own_uid() -> u32 {
    // SAFETY: getuid cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}
