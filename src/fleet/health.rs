//! The health check a patched target must pass before a rollout goes on: a Smalltalk
//! expression that answers `true` in the image, and/or a URL that answers 2xx, within the
//! group's time limit (asked again every half second until then).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{HealthCheck, Target};

/// What the health check of one target found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HealthResult {
    pub healthy: bool,
    /// The last answer or failure of each check, for the report.
    pub detail: String,
    pub millis: u64,
}

/// Runs `check` against `target` until it passes or its time limit runs out. With no check
/// configured, the push's own success (the agent answered with the applied batch) is all there
/// is to know, and nothing more is asked.
pub async fn check(check: &HealthCheck, target: &Target, token: &str) -> HealthResult {
    let started = Instant::now();
    let deadline = started + check.timeout;
    let url = check.url.as_deref().map(|u| expand(u, target));
    loop {
        let mut detail = Vec::new();
        let mut healthy = true;
        if let Some(expression) = check.eval.as_deref() {
            match eval_once(expression, target, token).await {
                Ok(answer) => detail.push(answer),
                Err(e) => {
                    healthy = false;
                    detail.push(e);
                }
            }
        }
        if let Some(url) = &url {
            match http_once(url, check.timeout).await {
                Ok(status) => detail.push(format!("{url} answered {status}")),
                Err(e) => {
                    healthy = false;
                    detail.push(e);
                }
            }
        }
        if detail.is_empty() {
            detail.push("no health check configured (health_eval, health_url)".to_string());
        }
        let detail = detail.join("; ");
        if healthy || Instant::now() + Duration::from_millis(500) >= deadline {
            return HealthResult {
                healthy,
                detail,
                millis: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `{host}` and `{name}` in a health URL become the target's host and name.
fn expand(url: &str, target: &Target) -> String {
    url.replace("{host}", target.url.host())
        .replace("{name}", &target.name)
}

/// Evaluates `expression` in the image; healthy when it answers `true`.
async fn eval_once(expression: &str, target: &Target, token: &str) -> Result<String, String> {
    let mut client = crate::ops::connect(target, token)
        .await
        .map_err(|e| format!("agent: {e}"))?;
    let result = match client.eval(expression).await {
        Ok(value) if value.trim() == "true" => Ok(format!("{expression} answered true")),
        Ok(value) => Err(format!("{expression} answered {value}, not true")),
        Err(e) => Err(format!("{expression} failed: {e}")),
    };
    client.close().await;
    result
}

async fn http_once(url: &str, timeout: Duration) -> Result<u16, String> {
    let url = url.to_string();
    let call = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        match agent.get(&url).call() {
            Ok(response) => {
                let status = response.status().as_u16();
                if (200..300).contains(&status) {
                    Ok(status)
                } else {
                    Err(format!("{url} answered {status}, not 2xx"))
                }
            }
            Err(e) => Err(format!("{url}: {e}")),
        }
    });
    call.await.map_err(|e| format!("health check task: {e}"))?
}
