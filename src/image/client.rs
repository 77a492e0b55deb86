//! The WebSocket client that talks to an agent: connect (over TCP, TLS or ssh, see
//! [`super::transport`]), authenticate with `hello`, then one request at a time, each bounded by
//! a timeout.

use super::endpoint::{AgentUrl, Endpoint, UrlError};
use super::protocol::*;
use super::transport::{self, Connection, SshTunnel, Stream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// Why talking to an agent failed. Callers branch on the variant: a connection failure is safe
/// to retry and may lead to a rebuild, a URL or transport refusal is a configuration problem, a
/// `stale` answer is retried, a compile failure is shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A real connection failure to a valid URL: nothing listening, refused, no answer in time,
    /// the host not found, the agent's port closed behind ssh. The only "unreachable" case.
    #[error("cannot connect to the agent at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The URL can never work (checked before anything is sent).
    #[error(transparent)]
    BadUrl(#[from] UrlError),
    /// The transport refused to connect for a reason retrying does not fix: an unknown or
    /// changed ssh host key, a failed ssh login, an untrusted TLS certificate, no ssh client.
    #[error("{url}: {detail}")]
    Transport {
        url: String,
        problem: TransportProblem,
        detail: String,
    },
    #[error("the agent at {url} did not answer {what} within {secs:.1} s")]
    Timeout {
        url: String,
        what: &'static str,
        secs: f64,
    },
    #[error("the agent at {url} closed the connection during {what}")]
    Closed { url: String, what: &'static str },
    #[error("the agent at {url} broke the protocol during {what}: {detail}")]
    Protocol {
        url: String,
        what: &'static str,
        detail: String,
    },
    /// A message over the size limit (PROTOCOL.md, Size limit): a request this client did not
    /// send, an answer it did not read, or one the agent refused or would not send. Retrying
    /// does not help; the message says which setting raises the limit.
    #[error("{detail}")]
    TooLarge {
        url: String,
        what: &'static str,
        /// The message's size in bytes, when known.
        size: Option<u64>,
        /// The limit it is over, in bytes.
        limit: u64,
        detail: String,
    },
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// The default of `max_message_bytes` on both sides (PROTOCOL.md, Size limit): 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// Where to raise the limit, for messages.
const RAISE_LIMIT: &str = "raise max_message_bytes on both sides (the target's max_message_bytes \
     in hotpatch.toml, max_message_bytes in the agent's hotpatch-agent.conf)";

/// Why the transport refused a connection (see [`ClientError::Transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportProblem {
    /// The ssh server's host key is not in known_hosts, or differs from it.
    HostKey,
    /// ssh could not log in with the user's keys.
    SshLogin,
    /// ssh is missing, refused its options, or the server forbids the forwarding.
    SshSetup,
    /// The TLS certificate is not trusted (other CA, wrong name, expired).
    Certificate,
    /// A `wss://` URL names something that does not speak TLS.
    NotTls,
    /// `ca_file` cannot be read or holds no certificate (or the system has no CAs).
    CaFile,
}

impl ClientError {
    /// The agent's error, when the failure is an answer from the agent.
    pub fn agent(&self) -> Option<&AgentError> {
        match self {
            ClientError::Agent(e) => Some(e),
            _ => None,
        }
    }

    /// True when no agent could be reached at a valid URL (nothing listening, refused, timed out
    /// while connecting): safe to retry, and the only case in which a rebuild may be considered
    /// (after confirming that the application is down, see `rebuild::liveness`).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Connect { .. })
    }

    /// True when the failure is the configuration's (a URL that can never work, a host key or
    /// certificate that is not trusted): retrying does not help, nothing was sent.
    pub fn is_configuration(&self) -> bool {
        matches!(self, ClientError::BadUrl(_) | ClientError::Transport { .. })
    }
}

/// Where a client delivers the agent's progress messages (PROTOCOL.md, Progress), as they come
/// in while a request is worked on. Cheap to clone.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Fn(&Progress) + Send + Sync>);

impl ProgressSink {
    /// A sink that calls `report` with every progress message.
    pub fn new(report: impl Fn(&Progress) + Send + Sync + 'static) -> ProgressSink {
        ProgressSink(Arc::new(report))
    }

    /// Delivers one progress message.
    pub fn report(&self, progress: &Progress) {
        (self.0)(progress)
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// An authenticated connection to one agent.
pub struct Client {
    ws: WebSocketStream<Stream>,
    /// The ssh process carrying the connection of an `ssh://` target.
    tunnel: Option<SshTunnel>,
    url: String,
    next_id: u64,
    /// Limit for connecting and for quick requests (hello, ping, eval).
    timeout: Duration,
    /// Limit for requests whose work grows with the code involved (snapshot, apply, rollback).
    work_timeout: Duration,
    /// What the agent said in answer to `hello`.
    pub hello: HelloInfo,
    /// Where progress messages go; when set, snapshot and apply ask for them.
    progress: Option<ProgressSink>,
    /// The largest message this client reads or sends (the target's `max_message_bytes`).
    max_message_bytes: u64,
}

impl Client {
    /// Connects to `url` (any accepted form without transport options: see
    /// [`Client::connect_to`]), authenticates with `token` and returns the client with the
    /// agent's `hello` answer. `timeout` bounds the connection and every later request.
    pub async fn connect(url: &str, token: &str, timeout: Duration) -> Result<Client, ClientError> {
        let endpoint = Endpoint::from(AgentUrl::parse(url)?);
        Client::connect_to(&endpoint, token, timeout).await
    }

    /// Connects to `endpoint` (TCP, TLS or ssh, see [`super::transport`]), authenticates with
    /// `token` and returns the client with the agent's `hello` answer. `timeout` bounds the
    /// whole connection set-up and every later request.
    pub async fn connect_to(
        endpoint: &Endpoint,
        token: &str,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let url = endpoint.url.as_str();
        let deadline = tokio::time::Instant::now() + timeout;
        let no_answer = || ClientError::Connect {
            url: url.to_owned(),
            reason: format!("no answer within {:.1} s", timeout.as_secs_f64()),
        };
        let opened = tokio::time::timeout_at(deadline, transport::open(endpoint, timeout)).await;
        let Connection { stream, tunnel } = opened.map_err(|_| no_answer())??;
        // Frames and messages up to the limit, whole: the agent never sends more, and a larger
        // answer is reported as too large, not as a broken connection.
        let limit = usize::try_from(endpoint.max_message_bytes).unwrap_or(usize::MAX);
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let handshake = tokio::time::timeout_at(
            deadline,
            tokio_tungstenite::client_async_with_config(
                endpoint.url.handshake_url(),
                stream,
                Some(config),
            ),
        )
        .await;
        let ws = match handshake {
            Ok(Ok((ws, _response))) => ws,
            Ok(Err(e)) => {
                let reason = handshake_failure(&e);
                let error = ClientError::Connect {
                    url: url.to_owned(),
                    reason,
                };
                return Err(explained(tunnel, error).await);
            }
            Err(_) => return Err(explained(tunnel, no_answer()).await),
        };
        let mut client = Client {
            ws,
            tunnel,
            url: url.to_owned(),
            next_id: 1,
            timeout,
            work_timeout: timeout,
            hello: HelloInfo {
                dialect: String::new(),
                dialect_version: String::new(),
                image: String::new(),
                agent_version: String::new(),
                protocol: 0,
                session: String::new(),
                epoch: 0,
                evals: None,
                features: Vec::new(),
                max_message_bytes: None,
                characters: None,
            },
            progress: None,
            max_message_bytes: endpoint.max_message_bytes,
        };
        let hello = Request::Hello {
            token: token.to_owned(),
            protocol: PROTOCOL_VERSION,
            client: format!("hotpatch {}", env!("CARGO_PKG_VERSION")),
            max_message_bytes: Some(endpoint.max_message_bytes),
        };
        match client.call_as(hello).await {
            Ok(info) => {
                client.hello = info;
                Ok(client)
            }
            Err(e) => {
                client.close().await;
                Err(e)
            }
        }
    }

    /// The largest message this client sends to its agent: the smaller of its own limit and the
    /// agent's, when the agent said (older agents do not).
    pub fn send_limit(&self) -> u64 {
        self.hello
            .max_message_bytes
            .map_or(self.max_message_bytes, |agent| {
                agent.min(self.max_message_bytes)
            })
    }

    /// The url this client is connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sets the time limit for snapshot, apply and rollback, whose work grows with the amount of
    /// code (a first push of a large project compiles thousands of methods). By default it is the
    /// limit given to [`Client::connect`].
    pub fn set_work_timeout(&mut self, timeout: Duration) {
        self.work_timeout = timeout;
    }

    /// Asks for progress messages during snapshot and apply and delivers them to `sink` (`None`:
    /// ask for none). Agents that send none (older ones, short requests) are fine.
    pub fn set_progress(&mut self, sink: Option<ProgressSink>) {
        self.progress = sink;
    }

    /// `ping`: the agent's current session and epoch.
    pub async fn ping(&mut self) -> Result<PingInfo, ClientError> {
        self.call_as(Request::Ping).await
    }

    /// `snapshot` of the given packages (optionally only some classes), or `unchanged` when
    /// the image is still at the mark `since` (its epoch, and its eval count where the agent
    /// counts evals).
    pub async fn snapshot(
        &mut self,
        packages: Vec<String>,
        classes: Option<Vec<String>>,
        since: Option<Mark>,
    ) -> Result<SnapshotResult, ClientError> {
        // Drift comes with every snapshot from an agent that can report it: a push must see
        // hand edits it would overwrite, and a cached snapshot keeps what it reported.
        let drift = self.hello.has("drift");
        // A snapshot over the size limit comes in parts from an agent that can send them.
        let parts = self.hello.has("parts");
        self.call_as(Request::Snapshot {
            packages,
            classes,
            since_epoch: since.map(|m| m.epoch),
            since_evals: since.and_then(|m| m.evals),
            drift,
            parts,
        })
        .await
    }

    /// `apply` a batch, all or nothing.
    pub async fn apply(&mut self, batch: Batch) -> Result<ApplyResult, ClientError> {
        self.apply_with(batch, ApplyOptions::default()).await
    }

    /// `apply` a batch with carries or without initializers (see [`ApplyOptions`]).
    pub async fn apply_with(
        &mut self,
        batch: Batch,
        options: ApplyOptions,
    ) -> Result<ApplyResult, ClientError> {
        self.call_as(Request::Apply {
            batch,
            options,
            timeout_ms: None,
        })
        .await
    }

    /// `check` a batch: validated and compiled as `apply` would, nothing installed (agents
    /// with the `check` feature). A method that does not compile is `compile_failed`, as for
    /// `apply`.
    pub async fn check(&mut self, batch: Batch) -> Result<CheckResult, ClientError> {
        self.call_as(Request::Check { batch }).await
    }

    /// `census`: what live objects hold in the variables a batch would drop, counted under a
    /// time limit (`None`: the agent's default).
    pub async fn census(
        &mut self,
        classes: Vec<CensusClass>,
        limit: Option<Duration>,
    ) -> Result<CensusResult, ClientError> {
        self.call_as(Request::Census {
            classes,
            timeout_ms: limit.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        })
        .await
    }

    /// `rollback` the last applied batch.
    pub async fn rollback(&mut self) -> Result<RollbackResult, ClientError> {
        self.rollback_as(None).await
    }

    /// `rollback`, telling the agent who asks (for its audit log).
    pub async fn rollback_as(
        &mut self,
        client: Option<ClientIdentity>,
    ) -> Result<RollbackResult, ClientError> {
        self.rollback_with(client, None).await
    }

    /// `rollback`, telling the agent who asks and which application hooks to run on what
    /// changed back (`None`: the agent's default, `hotpatchChanged:` only).
    pub async fn rollback_with(
        &mut self,
        client: Option<ClientIdentity>,
        hooks: Option<Hooks>,
    ) -> Result<RollbackResult, ClientError> {
        self.call_as(Request::Rollback { client, hooks }).await
    }

    /// `adopt`: make the image's current state of these definitions the installed one.
    pub async fn adopt(
        &mut self,
        packages: Vec<String>,
        methods: Vec<AdoptMethod>,
        classes: Vec<String>,
        client: Option<ClientIdentity>,
    ) -> Result<AdoptResult, ClientError> {
        self.call_as(Request::Adopt {
            packages,
            methods,
            classes,
            client,
        })
        .await
    }

    /// `log`: the agent's audit entries, newest first (`None`: the agent's default count,
    /// `Some(0)`: all it keeps).
    pub async fn log(&mut self, limit: Option<u64>) -> Result<LogResult, ClientError> {
        self.call_as(Request::Log { limit }).await
    }

    /// `overrides`: which of `methods` (put with the protocols given, by `packages`) would
    /// replace a method of another package, and whose.
    pub async fn overrides(
        &mut self,
        packages: Vec<String>,
        methods: Vec<MethodProbe>,
    ) -> Result<OverridesResult, ClientError> {
        self.call_as(Request::Overrides { packages, methods }).await
    }

    /// `eval` an expression and answer its printString.
    pub async fn eval(&mut self, expression: &str) -> Result<String, ClientError> {
        self.eval_within(expression, None).await
    }

    /// `eval` with a time limit for the expression (`None`: the agent's default).
    pub async fn eval_within(
        &mut self,
        expression: &str,
        limit: Option<Duration>,
    ) -> Result<String, ClientError> {
        let r: EvalResult = self
            .call_as(Request::Eval {
                expression: expression.to_owned(),
                timeout_ms: limit.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            })
            .await?;
        Ok(r.value)
    }

    /// Closes the connection politely (and stops its ssh process); errors are of no interest
    /// at that point.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
        if let Some(tunnel) = self.tunnel.take() {
            tunnel.close().await;
        }
    }

    async fn call_as<T: serde::de::DeserializeOwned>(
        &mut self,
        request: Request,
    ) -> Result<T, ClientError> {
        let what = request.name();
        let result = self.call(request).await?;
        serde_json::from_value(result).map_err(|e| self.protocol_error(what, e.to_string()))
    }

    /// Sends one request and waits for its answer; answers the `result` of an ok answer.
    pub async fn call(&mut self, request: Request) -> Result<serde_json::Value, ClientError> {
        let what = request.name();
        let id = self.next_id;
        self.next_id += 1;
        let timeout = match &request {
            Request::Snapshot { .. }
            | Request::Apply { .. }
            | Request::Check { .. }
            | Request::Rollback { .. }
            | Request::Adopt { .. }
            | Request::Census { .. } => self.work_timeout,
            // The agent answers when the expression's own limit runs out: wait that long too.
            Request::Eval {
                timeout_ms: Some(ms),
                ..
            } => self.timeout + Duration::from_millis(*ms),
            _ => self.timeout,
        };
        let progress = self.progress.is_some()
            && matches!(
                request,
                Request::Snapshot { .. } | Request::Apply { .. } | Request::Check { .. }
            );
        let text = serde_json::to_string(&Envelope {
            id,
            progress,
            request,
        })
        .map_err(|e| self.protocol_error(what, e.to_string()))?;
        let size = text.len() as u64;
        if size > self.send_limit() {
            return Err(self.unsent(what, size));
        }
        let exchange = async {
            if self.ws.send(Message::text(text)).await.is_err() {
                // The agent may have closed first and said why (1009: too large).
                return Err(match self.read_answer(id, what).await {
                    Err(e) => e,
                    Ok(_) => self.closed(what),
                });
            }
            self.read_answer(id, what).await
        };
        let answer = match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(ClientError::Timeout {
                    url: self.url.clone(),
                    what,
                    secs: timeout.as_secs_f64(),
                });
            }
        };
        if answer.ok {
            return answer
                .result
                .ok_or_else(|| self.protocol_error(what, "ok answer without a result".into()));
        }
        match answer.error {
            Some(e) if e.kind == ErrorKind::TooLarge => Err(ClientError::TooLarge {
                url: self.url.clone(),
                what,
                size: e.too_large().map(|t| t.size),
                limit: e.too_large().map_or_else(|| self.send_limit(), |t| t.limit),
                detail: format!(
                    "the agent at {} did not send its answer to {what}: {}",
                    self.url, e.message
                ),
            }),
            Some(e) => Err(ClientError::Agent(e)),
            None => Err(self.protocol_error(what, "error answer without an error".into())),
        }
    }

    /// A request over the limit, not sent.
    fn unsent(&self, what: &'static str, size: u64) -> ClientError {
        let limit = self.send_limit();
        let whose = if limit < self.max_message_bytes {
            "the agent's max_message_bytes"
        } else {
            "this client's max_message_bytes"
        };
        ClientError::TooLarge {
            url: self.url.clone(),
            what,
            size: Some(size),
            limit,
            detail: format!(
                "the {what} request is {size} bytes, more than the limit of {limit} bytes ({whose}); \
                 nothing was sent to {}. Send less at once (push some paths first), or {RAISE_LIMIT}",
                self.url
            ),
        }
    }

    /// What reading an answer failed with: an answer over this client's limit, the agent
    /// refusing our request as too large (close code 1009, older agents), or a broken connection.
    fn read_failure(&self, what: &'static str, error: Option<tungstenite::Error>) -> ClientError {
        match error {
            Some(tungstenite::Error::Capacity(
                tungstenite::error::CapacityError::MessageTooLong { size, max_size },
            )) => ClientError::TooLarge {
                url: self.url.clone(),
                what,
                size: Some(size as u64),
                limit: max_size as u64,
                detail: format!(
                    "the answer of the agent at {} to {what} is {size} bytes, more than this \
                     client's limit of {max_size} bytes (max_message_bytes); {RAISE_LIMIT}",
                    self.url
                ),
            },
            _ => self.closed(what),
        }
    }

    /// The agent closed the connection: with code 1009 it refused our request as too large.
    fn closed_by(&self, what: &'static str, frame: Option<&CloseFrame>) -> ClientError {
        match frame {
            Some(f) if f.code == CloseCode::Size => ClientError::TooLarge {
                url: self.url.clone(),
                what,
                size: None,
                limit: self.send_limit(),
                detail: format!(
                    "the agent at {} refused the {what} request as larger than its limit (close \
                     code 1009: {}); {RAISE_LIMIT}",
                    self.url,
                    if f.reason.is_empty() {
                        "no reason given"
                    } else {
                        f.reason.as_str()
                    }
                ),
            },
            _ => self.closed(what),
        }
    }

    async fn read_answer(&mut self, id: u64, what: &'static str) -> Result<Answer, ClientError> {
        let mut parts = Vec::new();
        loop {
            let message = match self.ws.next().await {
                None => return Err(self.closed(what)),
                Some(Err(e)) => return Err(self.read_failure(what, Some(e))),
                Some(Ok(m)) => m,
            };
            let text = match message {
                Message::Text(t) => t,
                Message::Close(frame) => return Err(self.closed_by(what, frame.as_ref())),
                // tungstenite answers pings itself; pongs and binary frames carry nothing for us.
                _ => continue,
            };
            let value: serde_json::Value = serde_json::from_str(text.as_str())
                .map_err(|e| self.protocol_error(what, format!("answer is not valid JSON: {e}")))?;
            // An answer has `ok`; before it may come progress messages and, for a snapshot
            // over the size limit, its parts. Each carries the request's id (or none).
            let about_this = match value.get("id") {
                Some(serde_json::Value::Number(n)) => n.as_u64() == Some(id),
                _ => true,
            };
            if value.get("ok").is_none() && about_this {
                if let Some(part) = value.get("part") {
                    parts.push(part.clone());
                    continue;
                }
                if let Ok(m) = serde_json::from_value::<ProgressMessage>(value.clone()) {
                    if let Some(sink) = &self.progress {
                        sink.report(&m.progress);
                    }
                    continue;
                }
            }
            let mut answer: Answer = serde_json::from_value(value)
                .map_err(|e| self.protocol_error(what, format!("not an answer: {e}")))?;
            match answer.id {
                // An error about an unparseable request comes without an id; ours was sent
                // by serde_json, so such an answer is still about this request.
                Some(got) if got != id => {
                    return Err(
                        self.protocol_error(what, format!("answer has id {got}, expected {id}"))
                    );
                }
                _ => {}
            }
            if let Some(result) = answer.result.as_mut().filter(|_| answer.ok) {
                merge_parts(result, parts).map_err(|e| self.protocol_error(what, e))?;
            }
            return Ok(answer);
        }
    }

    fn closed(&self, what: &'static str) -> ClientError {
        ClientError::Closed {
            url: self.url.clone(),
            what,
        }
    }

    fn protocol_error(&self, what: &'static str, detail: String) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            what,
            detail,
        }
    }
}

/// Puts the parts of a snapshot that came before its answer (PROTOCOL.md, Size limit) back
/// into the answer's packages, in order: a class (or extension) that continues the last one of
/// its package gets the part's methods appended. The answer's `parts` says how many there are.
fn merge_parts(
    result: &mut serde_json::Value,
    parts: Vec<serde_json::Value>,
) -> Result<(), String> {
    use serde_json::Value;
    let expected = result.get("parts").and_then(Value::as_u64).unwrap_or(0);
    if expected != parts.len() as u64 {
        return Err(format!(
            "the answer says {expected} part(s), {} came before it",
            parts.len()
        ));
    }
    if parts.is_empty() {
        return Ok(());
    }
    let Some(packages) = result.get_mut("packages").and_then(Value::as_array_mut) else {
        return Err("an answer in parts without packages".into());
    };
    for part in parts {
        let name = part
            .get("package")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(package) = packages
            .iter_mut()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        else {
            return Err(format!(
                "a part of package {name:?}, which the answer does not list"
            ));
        };
        for (key, name_key) in [("classes", "name"), ("extensions", "class_name")] {
            let items = match part.get(key) {
                Some(Value::Array(items)) => items.clone(),
                _ => continue,
            };
            let Some(Value::Array(into)) = package.get_mut(key) else {
                return Err(format!("package {name:?} of the answer has no {key}"));
            };
            for item in items {
                let continues = into.last().is_some_and(|last| {
                    last.get(name_key).is_some() && last.get(name_key) == item.get(name_key)
                });
                match (continues, into.last_mut(), item.get("methods")) {
                    (true, Some(last), Some(Value::Array(more))) => {
                        if let Some(Value::Array(methods)) = last.get_mut("methods") {
                            methods.extend(more.iter().cloned());
                        }
                    }
                    _ => into.push(item),
                }
            }
        }
    }
    Ok(())
}

/// What went wrong in the WebSocket handshake, in words.
fn handshake_failure(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => format!(
            "the server answered HTTP {} instead of a WebSocket handshake (is this the agent's \
             port? a proxy whose agent is down?)",
            response.status()
        ),
        tungstenite::Error::Io(io) => format!(
            "the connection broke during the WebSocket handshake ({io}; behind a TLS terminator \
             or ssh: is the agent running?)"
        ),
        other => format!("the WebSocket handshake failed: {other}"),
    }
}

/// `error`, or what the ssh process says went wrong when there is one (it is stopped).
async fn explained(tunnel: Option<SshTunnel>, error: ClientError) -> ClientError {
    match tunnel {
        Some(mut tunnel) => {
            let error = tunnel.explain(error).await;
            tunnel.close().await;
            error
        }
        None => error,
    }
}

/// Unit tests of the client against the protocol-level fake agent ([`super::fake_agent`]): they
/// check the client's handling of the wire, never an image's behaviour.
#[cfg(test)]
mod fake_agent_tests {
    use super::*;
    use crate::image::fake_agent::{Reply, error, ok, serve};
    use serde_json::json;
    use tokio::net::TcpListener;

    /// Answers `hello` with session s1 at epoch 3, then `ping` with epoch 7.
    async fn friendly() -> String {
        serve(|r| match r["cmd"].as_str() {
            Some("hello") => ok(
                r,
                json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": 3}),
            ),
            _ => ok(r, json!({"session": "s1", "epoch": 7})),
        })
        .await
    }

    const SHORT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn hello_then_ping() {
        let url = friendly().await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        assert_eq!((c.hello.session.as_str(), c.hello.epoch), ("s1", 3));
        assert_eq!(c.ping().await.unwrap().epoch, 7);
    }

    #[tokio::test]
    async fn refused_token_is_an_agent_error() {
        let url = serve(|r| {
            error(
                r,
                json!({"kind": "unauthorized", "message": "wrong or missing token"}),
            )
        })
        .await;
        let err = Client::connect(&url, "t", SHORT).await.err().unwrap();
        assert_eq!(err.agent().map(|e| e.kind), Some(ErrorKind::Unauthorized));
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let url = serve(|_| Reply::Silence).await;
        let err = Client::connect(&url, "t", SHORT).await.err().unwrap();
        assert!(
            matches!(err, ClientError::Timeout { what: "hello", .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn work_requests_get_the_longer_limit() {
        // The fake answers snapshots only after 500 ms: too slow for the short limit, fine for
        // the work limit.
        let url = serve(|r| match r["cmd"].as_str() {
            Some("hello") => ok(
                r,
                json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": 3}),
            ),
            Some("snapshot") => {
                std::thread::sleep(Duration::from_millis(500));
                ok(r, json!({"session": "s1", "epoch": 3, "packages": []}))
            }
            _ => Reply::Silence,
        })
        .await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        c.set_work_timeout(Duration::from_secs(5));
        assert_eq!(c.snapshot(vec![], None, None).await.unwrap().epoch, 3);
        let err = c.ping().await.err().unwrap();
        assert!(
            matches!(err, ClientError::Timeout { what: "ping", .. }),
            "{err}"
        );
    }

    /// Answers `apply` with two progress messages before the answer, and records whether each
    /// request asked for progress.
    async fn progressing(asked: Arc<std::sync::Mutex<Vec<bool>>>) -> String {
        serve(move |r| {
            asked
                .lock()
                .unwrap()
                .push(r["progress"].as_bool().unwrap_or(false));
            match r["cmd"].as_str() {
                Some("hello") => ok(
                    r,
                    json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": 3}),
                ),
                _ => Reply::Messages(vec![
                    json!({"id": r["id"], "progress": {"phase": "compile", "done": 5, "total": 10}}),
                    json!({"id": r["id"], "progress": {"phase": "install", "done": 10, "total": 10}}),
                    json!({"id": r["id"], "ok": true, "result": {"batch": "b", "epoch": 4}}),
                ]),
            }
        })
        .await
    }

    fn batch() -> Batch {
        Batch {
            id: "b".into(),
            epoch: 3,
            packages: None,
            ops: vec![],
        }
    }

    #[tokio::test]
    async fn progress_messages_go_to_the_sink_in_order_then_the_answer() {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let url = progressing(asked.clone()).await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = seen.clone();
        c.set_progress(Some(ProgressSink::new(move |p| {
            into.lock()
                .unwrap()
                .push((p.phase.clone(), p.done, p.total))
        })));
        assert_eq!(c.apply(batch()).await.unwrap().epoch, 4);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                ("compile".to_owned(), 5, 10),
                ("install".to_owned(), 10, 10)
            ]
        );
        // hello never asks for progress; apply does, because a sink is set.
        assert_eq!(*asked.lock().unwrap(), vec![false, true]);
    }

    #[tokio::test]
    async fn progress_messages_are_skipped_without_a_sink() {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let url = progressing(asked.clone()).await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        assert_eq!(c.apply(batch()).await.unwrap().epoch, 4);
        assert_eq!(*asked.lock().unwrap(), vec![false, false]);
    }

    #[tokio::test]
    async fn progress_about_another_request_is_a_protocol_error() {
        let url = serve(|r| match r["cmd"].as_str() {
            Some("hello") => ok(
                r,
                json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": 3}),
            ),
            _ => Reply::Messages(vec![
                json!({"id": 999, "progress": {"phase": "compile", "done": 1, "total": 2}}),
            ]),
        })
        .await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        let err = c.apply(batch()).await.err().unwrap();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_dropped_connection_is_closed() {
        let url = serve(|_| Reply::Close).await;
        let err = Client::connect(&url, "t", SHORT).await.err().unwrap();
        assert!(matches!(err, ClientError::Closed { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_answer_to_another_request_is_a_protocol_error() {
        let url = serve(|r| {
            Reply::Answer(
                json!({"id": r["id"].as_u64().unwrap_or(0) + 100, "ok": true, "result": {}}),
            )
        })
        .await;
        let err = Client::connect(&url, "t", SHORT).await.err().unwrap();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    }

    /// Answers `hello` like [`friendly`] (saying its own `max_message_bytes` when given), and
    /// every other request as `reply` says.
    async fn answering(
        agent_limit: Option<u64>,
        reply: impl Fn(&serde_json::Value) -> Reply + Send + 'static,
    ) -> String {
        serve(move |r| match r["cmd"].as_str() {
            Some("hello") => ok(
                r,
                json!({"dialect": "fake", "protocol": 1, "session": "s1", "epoch": 3,
                       "features": ["parts"], "max_message_bytes": agent_limit}),
            ),
            _ => reply(r),
        })
        .await
    }

    fn endpoint(url: &str, limit: u64) -> Endpoint {
        let mut e = Endpoint::from(AgentUrl::parse(url).unwrap());
        e.max_message_bytes = limit;
        e
    }

    #[tokio::test]
    async fn a_fragmented_answer_is_read_whole() {
        let url = answering(None, |r| {
            Reply::Fragmented(
                json!({"id": r["id"], "ok": true, "result": {"value": "x".repeat(1000)}}),
                7,
            )
        })
        .await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        assert_eq!(c.eval("x").await.unwrap(), "x".repeat(1000));
    }

    #[tokio::test]
    async fn a_request_over_the_limit_is_not_sent_and_says_whose_limit() {
        let asked = Arc::new(std::sync::Mutex::new(0));
        let count = asked.clone();
        let url = answering(Some(5000), move |r| {
            *count.lock().unwrap() += 1;
            ok(r, json!({"value": "1"}))
        })
        .await;
        let mut c = Client::connect_to(&endpoint(&url, 1 << 20), "t", SHORT)
            .await
            .unwrap();
        assert_eq!(c.send_limit(), 5000);
        let err = c.eval(&"x".repeat(5000)).await.unwrap_err();
        assert!(
            matches!(err, ClientError::TooLarge { limit: 5000, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("the agent's max_message_bytes"),
            "{err}"
        );
        assert_eq!(*asked.lock().unwrap(), 0, "the request was sent");
        c.close().await;
        // The client's own limit when it is the smaller one (the fake serves one at a time).
        let mut c = Client::connect_to(&endpoint(&url, 4096), "t", SHORT)
            .await
            .unwrap();
        let err = c.eval(&"x".repeat(4096)).await.unwrap_err();
        assert!(
            err.to_string().contains("this client's max_message_bytes"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_too_large_not_a_broken_connection() {
        let url = answering(None, |r| ok(r, json!({"value": "x".repeat(10_000)}))).await;
        let mut c = Client::connect_to(&endpoint(&url, 4096), "t", SHORT)
            .await
            .unwrap();
        let err = c.eval("x").await.unwrap_err();
        assert!(matches!(err, ClientError::TooLarge { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("this client's limit of 4096 bytes"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn close_code_1009_and_a_too_large_answer_are_too_large() {
        let url = answering(None, |_| Reply::CloseWith(1009)).await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        let err = c.eval("x").await.unwrap_err();
        assert!(matches!(err, ClientError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("close code 1009"), "{err}");
        let url = answering(None, |r| {
            error(r, json!({"kind": "too_large", "message": "the answer would be 9 bytes", "size": 9, "limit": 8}))
        })
        .await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        let err = c.eval("x").await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::TooLarge {
                    size: Some(9),
                    limit: 8,
                    ..
                }
            ),
            "{err}"
        );
        // Any other close is a broken connection.
        let url = answering(None, |_| Reply::CloseWith(1011)).await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        assert!(matches!(
            c.eval("x").await.unwrap_err(),
            ClientError::Closed { .. }
        ));
    }

    #[tokio::test]
    async fn a_snapshot_in_parts_is_put_back_together() {
        let method = |class: &str, sel: &str| json!({"class_name": class, "side": "instance", "selector": sel, "protocol": "p", "source": sel});
        let class = |name: &str, methods: Vec<serde_json::Value>| json!({"kind": "class", "name": name, "superclass": "Object", "package": "P", "methods": methods});
        let url = answering(None, move |r| {
            assert_eq!(r["parts"], true, "a snapshot asks for parts");
            Reply::Messages(vec![
                json!({"id": r["id"], "part": {"package": "P", "classes": [class("A", vec![method("A", "a1")]), class("B", vec![method("B", "b1")])], "extensions": []}}),
                json!({"id": r["id"], "progress": {"phase": "classes", "done": 1, "total": 2}}),
                json!({"id": r["id"], "part": {"package": "P", "classes": [class("B", vec![method("B", "b2")])], "extensions": []}}),
                json!({"id": r["id"], "part": {"package": "P", "classes": [], "extensions": [{"class_name": "String", "methods": [method("String", "s1")]}]}}),
                json!({"id": r["id"], "ok": true, "result": {"session": "s1", "epoch": 3, "unchanged": false, "parts": 3,
                       "packages": [{"name": "P", "classes": [], "extensions": []}]}}),
            ])
        })
        .await;
        let mut c = Client::connect(&url, "t", SHORT).await.unwrap();
        let snap = c.snapshot(vec!["P".into()], None, None).await.unwrap();
        let p = &snap.packages[0];
        let names: Vec<(&str, usize)> = p
            .classes
            .iter()
            .map(|c| (c.name.as_str(), c.methods.len()))
            .collect();
        assert_eq!(names, [("A", 1), ("B", 2)]);
        assert_eq!(p.extensions[0].methods[0].selector, "s1");
    }

    #[test]
    fn parts_that_do_not_add_up_are_a_protocol_error() {
        let mut result =
            json!({"parts": 2, "packages": [{"name": "P", "classes": [], "extensions": []}]});
        let part = json!({"package": "P", "classes": [], "extensions": []});
        assert!(merge_parts(&mut result, vec![part.clone()]).is_err());
        let other = json!({"package": "Q", "classes": [], "extensions": []});
        assert!(merge_parts(&mut result, vec![part, other]).is_err());
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        drop(listener);
        let err = Client::connect(&url, "t", SHORT).await.err().unwrap();
        assert!(err.is_unreachable(), "{err}");
    }

    #[tokio::test]
    async fn a_url_that_cannot_work_is_a_configuration_error() {
        for url in [
            "http://127.0.0.1:1/",
            "ws://:1/",
            "wss//x",
            "ws://127.0.0.1/",
        ] {
            let err = Client::connect(url, "t", SHORT).await.err().unwrap();
            assert!(!err.is_unreachable(), "{url}: {err}");
            assert!(err.is_configuration(), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn tls_to_a_plain_server_is_refused_as_not_tls() {
        // A plain HTTP server, as the agent is: it answers a TLS hello with an HTTP error.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("wss://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let err = Client::connect(&url, "t", SHORT).await.err().unwrap();
        assert!(
            matches!(
                err,
                ClientError::Transport {
                    problem: TransportProblem::NotTls,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_configuration() && !err.is_unreachable(), "{err}");
    }
}
