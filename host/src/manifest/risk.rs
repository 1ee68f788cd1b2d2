//! Risk levels and the operator's ceilings: what a remediation of each level may be granted.
//!
//! At load, every grant in a manifest must fall inside the ceiling of its risk level (exec:
//! same program and argument count; http: same method, scheme and port, host and path
//! covered; fs: under a ceiling root with at least the access; env: a granted name; limits:
//! no larger). At run time `sandbox/<capability>.rs` checks each call against the manifest
//! and the ceiling again, so a pattern the load check cannot compare (two regexes) is still
//! bounded by both.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Manifest;
use super::error::{ManifestError, Origin};
use super::grant::{Grants, HostPattern, HttpGrant, Scheme};
use super::limits::Limits;

/// How much harm a remediation can do; picks its ceiling and, later, its approval policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Reads, reloads, health checks.
    Low,
    /// Restarts, moves files within a grant.
    Medium,
    /// Anything that can lose data or stop a service for good.
    High,
}

impl Risk {
    /// Parse `low`, `medium` or `high`.
    pub fn parse(text: &str) -> Option<Risk> {
        match text {
            "low" => Some(Risk::Low),
            "medium" => Some(Risk::Medium),
            "high" => Some(Risk::High),
            _ => None,
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// The most a remediation of one risk level may be granted.
#[derive(Debug, Clone, Default)]
pub struct Ceiling {
    /// The whitelist.
    pub grants: Grants,
    /// The largest limits a manifest may ask for.
    pub max_limits: Limits,
}

/// The operator's ceilings, one per level. A level the operator leaves out grants nothing.
#[derive(Debug, Clone, Default)]
pub struct Ceilings {
    /// For `risk = "low"`.
    pub low: Ceiling,
    /// For `risk = "medium"`.
    pub medium: Ceiling,
    /// For `risk = "high"`.
    pub high: Ceiling,
    /// The file they came from, for messages.
    pub file: PathBuf,
}

impl Ceilings {
    /// The ceiling for `risk`.
    pub fn for_risk(&self, risk: Risk) -> &Ceiling {
        match risk {
            Risk::Low => &self.low,
            Risk::Medium => &self.medium,
            Risk::High => &self.high,
        }
    }
}

/// Fail with the first manifest entry that its level's ceiling does not cover.
pub fn check_within_ceiling(manifest: &Manifest, ceilings: &Ceilings) -> Result<(), ManifestError> {
    let risk = manifest.risk;
    let ceiling = ceilings.for_risk(risk);
    let beyond = |origin: &Origin, what: String| ManifestError::BeyondCeiling {
        origin: origin.clone(),
        message: format!(
            "{what} is beyond the operator's `{}` ceiling ({})",
            risk.as_str(),
            ceilings.file.display()
        ),
    };
    for exec in &manifest.grants.exec {
        let covered = ceiling.grants.exec.iter().any(|allowed| {
            allowed.program == exec.program && allowed.args.len() == exec.args.len()
        });
        if !covered {
            return Err(beyond(
                &exec.origin,
                format!(
                    "exec `{}` with {} arguments",
                    exec.program.display(),
                    exec.args.len()
                ),
            ));
        }
    }
    for http in &manifest.grants.http {
        if !ceiling
            .grants
            .http
            .iter()
            .any(|allowed| http_covers(allowed, http))
        {
            return Err(beyond(
                &http.origin,
                format!("http `{} {}`", http.method, http.url.source),
            ));
        }
    }
    for fs in &manifest.grants.fs {
        let covered = ceiling
            .grants
            .fs
            .iter()
            .any(|allowed| fs.path.starts_with(&allowed.path) && allowed.access >= fs.access);
        if !covered {
            return Err(beyond(
                &fs.origin,
                format!("fs `{}` ({})", fs.path.display(), fs.access.as_str()),
            ));
        }
    }
    for env in &manifest.grants.env {
        if !ceiling
            .grants
            .env
            .iter()
            .any(|allowed| allowed.matches(&env.name))
        {
            let origin = Origin {
                file: manifest.file.clone(),
                field: "capabilities.env".to_string(),
                line: None,
            };
            return Err(beyond(&origin, format!("env `{}`", env.name)));
        }
    }
    let limits = &manifest.limits;
    let max = &ceiling.max_limits;
    let origin = Origin {
        file: manifest.file.clone(),
        field: "limits".to_string(),
        line: None,
    };
    if limits.timeout > max.timeout {
        return Err(beyond(
            &origin,
            format!("timeout {}", humantime::format_duration(limits.timeout)),
        ));
    }
    if limits.memory > max.memory {
        return Err(beyond(&origin, format!("memory {} bytes", limits.memory)));
    }
    if limits.output > max.output {
        return Err(beyond(&origin, format!("output {} bytes", limits.output)));
    }
    Ok(())
}

/// Whether the ceiling entry `allowed` covers every request the manifest entry `http` can
/// match. Paths are compared by their pattern text: equal, or the ceiling's ends in `/**`
/// and the manifest's starts with that prefix.
fn http_covers(allowed: &HttpGrant, http: &HttpGrant) -> bool {
    let host = match (&allowed.url.host, &http.url.host) {
        (a, b) if a == b => true,
        (HostPattern::Suffix(suffix), HostPattern::Domain(name) | HostPattern::Suffix(name)) => {
            name.ends_with(&format!(".{suffix}"))
        }
        _ => false,
    };
    let port = allowed.url.port.is_none() || allowed.url.port == http.url.port;
    let path = http.url.scheme == Scheme::Tcp || path_covers(&allowed.url.source, &http.url.source);
    allowed.method == http.method && allowed.url.scheme == http.url.scheme && host && port && path
}

fn path_covers(allowed_url: &str, url: &str) -> bool {
    let path_of = |url: &str| -> String {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.find('/')
            .map_or("/".to_string(), |index| rest[index..].to_string())
    };
    let (allowed, wanted) = (path_of(allowed_url), path_of(url));
    allowed == wanted
        || allowed
            .strip_suffix("**")
            .is_some_and(|prefix| wanted.starts_with(prefix))
}
