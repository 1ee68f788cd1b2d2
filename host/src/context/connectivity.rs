//! TCP reachability and connect latency of declared targets.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A target from `[[context.connectivity]]`.
#[derive(Debug, Clone)]
pub struct Target {
    /// A label.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    name: String,
    host: String,
    port: u16,
}

impl From<RawTarget> for Target {
    fn from(raw: RawTarget) -> Self {
        Target {
            name: raw.name,
            host: raw.host,
            port: raw.port,
        }
    }
}

/// Whether a target answered.
#[derive(Debug, Clone, Serialize)]
pub struct Reachability {
    /// The target's label.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// A TCP connection was accepted.
    pub reachable: bool,
    /// Connect time, when reachable.
    pub latency_ms: Option<f64>,
    /// What happened.
    pub detail: String,
}

pub(crate) async fn measure(targets: &[Target], timeout: Duration) -> Vec<Reachability> {
    let checks = targets.iter().map(|target| measure_one(target, timeout));
    futures::future::join_all(checks).await
}

async fn measure_one(target: &Target, timeout: Duration) -> Reachability {
    let address = format!("{}:{}", target.host, target.port);
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await;
    let (reachable, latency_ms, detail) = match outcome {
        Ok(Ok(_)) => {
            let latency = started.elapsed().as_secs_f64() * 1000.0;
            (
                true,
                Some((latency * 100.0).round() / 100.0),
                "connected".to_string(),
            )
        }
        Ok(Err(error)) => (false, None, error.to_string()),
        Err(_) => (
            false,
            None,
            format!("no answer within {}", humantime::format_duration(timeout)),
        ),
    };
    Reachability {
        name: target.name.clone(),
        address,
        reachable,
        latency_ms,
        detail,
    }
}
