//! The byte stream a WebSocket to the agent runs over, opened according to the URL's route
//! (see [`super::endpoint`]): a TCP connection (`ws://`), TLS over TCP (`wss://`, [`tls`]), or
//! the standard input and output of an `ssh -W` process (`ssh://`, [`ssh`]).
//!
//! No TLS or SSH code runs in the image: old images have no crypto. Encryption ends at a TLS
//! terminator or at the ssh server, next to the agent, which then listens on loopback only.

mod ssh;
mod tls;

pub use ssh::SshTunnel;

use super::client::ClientError;
use super::endpoint::{Endpoint, Route};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream (TCP, TLS, or an ssh process's stdio).
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// The stream a WebSocket runs over.
pub type Stream = Box<dyn Duplex>;

/// An open stream to the agent, with the ssh process behind it when there is one.
pub struct Connection {
    /// Where the WebSocket handshake goes.
    pub stream: Stream,
    /// The `ssh -W` process carrying the stream (closed with the connection).
    pub tunnel: Option<SshTunnel>,
}

/// Opens the stream for `endpoint`. `timeout` bounds ssh's own connection set-up.
pub async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Connection, ClientError> {
    let url = endpoint.url.as_str();
    match endpoint.url.route() {
        Route::Plain { host, port } => {
            let tcp = tcp(url, host, *port).await?;
            Ok(Connection {
                stream: Box::new(tcp),
                tunnel: None,
            })
        }
        Route::Tls { host, port } => {
            let tcp = tcp(url, host, *port).await?;
            let stream = tls::handshake(url, host, tcp, endpoint.ca_file.as_deref()).await?;
            Ok(Connection {
                stream: Box::new(stream),
                tunnel: None,
            })
        }
        Route::Ssh {
            user,
            host,
            port,
            agent_host,
            agent_port,
        } => {
            let (stream, tunnel) = SshTunnel::open(
                url,
                ssh::Hop {
                    user: user.as_deref(),
                    host,
                    port: *port,
                    agent_host,
                    agent_port: *agent_port,
                },
                &endpoint.ssh_options,
                timeout,
            )?;
            Ok(Connection {
                stream,
                tunnel: Some(tunnel),
            })
        }
    }
}

async fn tcp(url: &str, host: &str, port: u16) -> Result<tokio::net::TcpStream, ClientError> {
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| ClientError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    // Requests are small and answered one at a time: send them at once.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}
