//! One authenticated connection to a target's agent, kept open from push to push: what
//! `hotpatch watch` pushes each save over, so that a save costs the push's own round trips and
//! not a new connection, WebSocket handshake and `hello` each time.
//!
//! When the agent went away meanwhile (the image restarted, the connection timed out on the way),
//! the first request of the next push finds the connection broken: it is opened again and that
//! push runs again on the new one, once. Nothing was applied over a connection that broke before
//! the answer came back, or else the agent answers the same batch id as `replayed` (or the fresh
//! comparison finds nothing left to push), so running the push again is safe.

use super::identity::Pending;
use super::push::{PushFailure, PushOptions, PushReport, push_over};
use crate::config::{Config, Target};
use crate::image::{Client, ClientError};

/// A target's agent, connected on first use and kept connected.
pub struct KeptConnection {
    target: Target,
    token: String,
    client: Option<Client>,
    /// How many connections were opened so far (for the watch's log).
    opened: u64,
}

impl KeptConnection {
    /// Nothing is opened yet: [`KeptConnection::open`] or the first push does.
    pub fn new(target: Target, token: String) -> KeptConnection {
        KeptConnection {
            target,
            token,
            client: None,
            opened: 0,
        }
    }

    /// The target pushed to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How many connections were opened so far (1 while the agent stays up).
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Opens the connection now, when it is not open (so the first save finds it ready).
    pub async fn open(&mut self) -> Result<(), ClientError> {
        self.client().await.map(|_| ())
    }

    /// The open connection, opened when it is not.
    async fn client(&mut self) -> Result<&mut Client, ClientError> {
        let client = match self.client.take() {
            Some(client) => client,
            None => {
                let client = super::connect(&self.target, &self.token).await?;
                self.opened += 1;
                client
            }
        };
        Ok(self.client.insert(client))
    }

    /// Pushes over the kept connection (opening it when needed); `identity`: who pushes, being
    /// found since the save was seen ([`super::push::identity_of`]). A connection that turns out
    /// to be broken is opened again and the push runs again, once; after any failure of the
    /// connection itself (a timeout leaves an answer on its way) it is dropped, and the next push
    /// opens a new one.
    pub async fn push(
        &mut self,
        config: &Config,
        options: &PushOptions,
        identity: &mut Pending,
    ) -> Result<PushReport, PushFailure> {
        let was_open = self.client.is_some();
        let result = self.push_once(config, options, identity).await;
        match result {
            Err(PushFailure::Agent(e)) if was_open && broken(&e) => {
                self.drop_client().await;
                self.push_once(config, options, identity).await
            }
            other => other,
        }
    }

    async fn push_once(
        &mut self,
        config: &Config,
        options: &PushOptions,
        identity: &mut Pending,
    ) -> Result<PushReport, PushFailure> {
        let target = self.target.clone();
        let client = self.client().await?;
        let result = push_over(client, config, &target, options, identity).await;
        if let Err(PushFailure::Agent(e)) = &result
            && e.agent().is_none()
        {
            self.drop_client().await;
        }
        result
    }

    async fn drop_client(&mut self) {
        if let Some(client) = self.client.take() {
            client.close().await;
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        self.drop_client().await;
    }
}

/// The connection broke (the agent closed it or went away): opening a new one may well work.
fn broken(e: &ClientError) -> bool {
    matches!(e, ClientError::Closed { .. })
}
