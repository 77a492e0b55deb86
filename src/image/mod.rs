//! The only place that talks to an agent: where it is and how to reach it ([`endpoint`], checked
//! when the configuration is read), the byte stream to it ([`transport`]: TCP, TLS or ssh), the
//! wire protocol's types ([`protocol`]) and the WebSocket client ([`client`]).

pub mod client;
pub mod endpoint;
#[cfg(test)]
pub(crate) mod fake_agent;
pub mod protocol;
pub mod transport;

pub use client::{Client, ClientError, ProgressSink, TransportProblem};
pub use endpoint::{AgentUrl, Endpoint, UrlError};
