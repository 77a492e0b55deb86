//! What the commands that work on sources and images do, as library functions that take a
//! configuration and return a result (printing is the CLI's job).

pub mod compare;
pub mod drift;
pub mod files;
pub mod identity;
pub mod init;
pub mod local;
pub mod overrides;
pub mod provenance;
pub mod push;
pub mod state;

use crate::config::Target;
use crate::image::protocol::{HelloInfo, Hooks};
use crate::image::{Client, ClientError};

/// Connects to `target`'s agent with the target's time limits: `timeout_secs` for connecting and
/// quick requests, `apply_timeout_secs` for snapshot, apply and rollback.
pub async fn connect(target: &Target, token: &str) -> Result<Client, ClientError> {
    let mut client = Client::connect_to(&target.endpoint(), token, target.timeout).await?;
    client.set_work_timeout(target.apply_timeout);
    Ok(client)
}

/// The `hooks` member to send with an apply or rollback to `target`'s agent (`hello`): its
/// configured hooks, or with `run` false none at all (`--no-hooks`: no `hotpatchChanged:`, no
/// expression). `None` for an agent that predates hooks when the configuration asks nothing it
/// would not do anyway; an error naming the target when it asks for more.
pub fn hooks_for(target: &Target, hello: &HelloInfo, run: bool) -> anyhow::Result<Option<Hooks>> {
    let settings = &target.hooks;
    let wire = if run {
        Hooks {
            expression: settings.after_change.clone(),
            on_failure: Some(settings.on_failure),
            notify: Some(settings.notify),
        }
    } else {
        Hooks {
            expression: None,
            on_failure: None,
            notify: Some(false),
        }
    };
    if hello.has("hooks") {
        return Ok(Some(wire));
    }
    if run && settings.after_change.is_some() {
        anyhow::bail!(
            "target '{}': hooks.after_change is set, but the agent there (version {}) cannot run \
             application hooks; update the agent in the image, or push with --no-hooks",
            target.name,
            hello.agent_version
        );
    }
    Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::image::protocol::OnHookFailure;
    use std::path::Path;

    fn hello(features: &[&str]) -> HelloInfo {
        HelloInfo {
            dialect: "squeak".into(),
            dialect_version: String::new(),
            image: String::new(),
            agent_version: "0.0.9".into(),
            protocol: 1,
            session: "s".into(),
            epoch: 0,
            evals: None,
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            max_message_bytes: None,
            characters: None,
        }
    }

    #[test]
    fn hooks_are_sent_as_configured_and_refused_to_an_agent_that_cannot_run_them() {
        let text = "[hooks]\nafter_change = 'App rebuild'\non_failure = 'report'\n\
                    [targets.t]\nurl = 'ws://h:1/'\n";
        let config = Config::from_str(text, Path::new("/p")).unwrap();
        let target = &config.targets["t"];
        let sent = hooks_for(target, &hello(&["hooks"]), true)
            .unwrap()
            .unwrap();
        assert_eq!(sent.expression.as_deref(), Some("App rebuild"));
        assert_eq!(sent.on_failure, Some(OnHookFailure::Report));
        // --no-hooks: nothing runs, not even hotpatchChanged:.
        let none = hooks_for(target, &hello(&["hooks"]), false)
            .unwrap()
            .unwrap();
        assert_eq!((none.expression, none.notify), (None, Some(false)));
        // An agent that predates hooks would ignore the expression: refused, naming the target.
        let e = hooks_for(target, &hello(&["drift"]), true).unwrap_err();
        assert!(e.to_string().contains("target 't'"), "{e}");
        assert_eq!(hooks_for(target, &hello(&[]), false).unwrap(), None);
        // Without an expression there is nothing it would not do anyway.
        let plain = Config::from_str("[targets.t]\nurl = 'ws://h:1/'\n", Path::new("/p")).unwrap();
        assert_eq!(
            hooks_for(&plain.targets["t"], &hello(&[]), true).unwrap(),
            None
        );
    }
}
