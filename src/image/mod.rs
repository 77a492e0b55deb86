//! The only place that talks to an agent: the wire protocol's types ([`protocol`]) and the
//! WebSocket client ([`client`]).

pub mod client;
pub mod protocol;

pub use client::{Client, ClientError};
