//! The only place that talks to an agent: the wire protocol's types ([`protocol`]) and the
//! WebSocket client ([`client`]).

pub mod client;
#[cfg(test)]
pub(crate) mod fake_agent;
pub mod protocol;

pub use client::{Client, ClientError};
