//! What the commands that work on sources and images do, as library functions that take a
//! configuration and return a result (printing is the CLI's job).

pub mod compare;
pub mod drift;
pub mod files;
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

/// A project of its own under the temporary directory, for unit tests against the protocol-level
/// fake agent ([`crate::image::fake_agent`]): the sample's package folder with only its
/// `package.st`, and a configuration whose one target `t` is `url`. The fake takes any token;
/// the target reads it from `PATH`, which is set wherever tests run.
#[cfg(test)]
pub(crate) fn scratch_project(
    name: &str,
    url: &str,
) -> (crate::config::Config, Target, std::path::PathBuf) {
    let root = std::env::temp_dir().join(format!("hotpatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let package = root.join("src/Sample-Core");
    std::fs::create_dir_all(&package).expect("create the package folder");
    std::fs::write(
        package.join("package.st"),
        "Package { #name : 'Sample-Core' }\n",
    )
    .expect("write package.st");
    let text =
        format!("packages = ['Sample-Core']\n[targets.t]\nurl = '{url}'\ntoken_env = 'PATH'\n");
    let config = crate::config::Config::from_str(&text, &root).expect("config");
    let target = config.target(&Default::default()).expect("target");
    (config, target, root)
}
