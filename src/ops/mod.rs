//! What the commands that work on sources and images do, as library functions that take a
//! configuration and return a result (printing is the CLI's job).

pub mod compare;
pub mod drift;
pub mod identity;
pub mod init;
pub mod local;
pub mod overrides;
pub mod push;
pub mod state;

use crate::config::Target;
use crate::image::{Client, ClientError};

/// Connects to `target`'s agent with the target's time limits: `timeout_secs` for connecting and
/// quick requests, `apply_timeout_secs` for snapshot, apply and rollback.
pub async fn connect(target: &Target, token: &str) -> Result<Client, ClientError> {
    let mut client = Client::connect_to(&target.endpoint(), token, target.timeout).await?;
    client.set_work_timeout(target.apply_timeout);
    Ok(client)
}
