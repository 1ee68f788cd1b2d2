//! Risk levels and the operator's ceilings: what a remediation of each level may be granted.
//!
//! At load, every grant in a manifest must fall inside the ceiling of its risk level, exactly:
//! exec: every argument tuple the grant's patterns accept is accepted by some ceiling entry
//! for the same program and argument count, decided on the automata (`inclusion.rs`); http:
//! same method and scheme, host and port covered, and every path the grant's pattern
//! accepts accepted by a covering ceiling entry, on the automata too; fs: under a ceiling
//! root with at least the access; env: a granted name; limits: no larger. When a grant is
//! not within, the error shows a call it would allow that the ceiling refuses. At run time
//! `sandbox/<capability>.rs` checks each call against the manifest and the ceiling again.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Manifest;
use super::error::{ManifestError, Origin};
use super::grant::{Grants, HostPattern, HttpGrant};
use super::inclusion::{self, Inclusion};
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
    /// The configuration file that defined this level (drop-ins name their own grants'
    /// origins); empty when no file defines it, so it grants nothing.
    pub source: PathBuf,
    /// The secret handles a remediation of this level may use.
    pub secrets: Vec<String>,
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
    match beyond_ceiling(manifest, ceilings).into_iter().next() {
        Some(beyond) => Err(beyond.error),
        None => Ok(()),
    }
}

/// A manifest entry its level's ceiling does not cover.
#[derive(Debug)]
pub struct Beyond {
    /// Which entry.
    pub grant: GrantRef,
    /// Why, with a call it would allow that the ceiling refuses.
    pub error: ManifestError,
}

/// A manifest entry, by capability and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRef {
    /// `capabilities.exec[i]`.
    Exec(usize),
    /// `capabilities.http[i]`.
    Http(usize),
    /// `capabilities.fs[i]`.
    Fs(usize),
    /// `capabilities.env[i]`.
    Env(usize),
    /// A secret handle a grant uses.
    Secret(String),
    /// `[limits]`.
    Limits,
}

/// Every manifest entry its level's ceiling does not cover, in manifest order.
pub fn beyond_ceiling(manifest: &Manifest, ceilings: &Ceilings) -> Vec<Beyond> {
    let mut found = Vec::new();
    let risk = manifest.risk;
    let ceiling = ceilings.for_risk(risk);
    let beyond = |origin: &Origin, what: String| ManifestError::BeyondCeiling {
        origin: origin.clone(),
        message: format!(
            "{what} is beyond the operator's `{}` ceiling ({})",
            risk.as_str(),
            if ceiling.source.as_os_str().is_empty() {
                format!("not defined in {}", ceilings.file.display())
            } else {
                ceiling.source.display().to_string()
            }
        ),
    };
    for (index, exec) in manifest.grants.exec.iter().enumerate() {
        let eligible: Vec<Vec<&str>> = ceiling
            .grants
            .exec
            .iter()
            .filter(|allowed| {
                allowed.program == exec.program
                    && allowed.args.len() == exec.args.len()
                    && (allowed.read_only || !exec.read_only)
            })
            .map(|allowed| allowed.args.iter().map(|arg| arg.source.as_str()).collect())
            .collect();
        let inner: Vec<&str> = exec.args.iter().map(|arg| arg.source.as_str()).collect();
        let what = |verdict: String| {
            format!(
                "{}exec `{}` with {} arguments {verdict}",
                if exec.read_only { "read-only " } else { "" },
                exec.program.display(),
                exec.args.len()
            )
        };
        match inclusion::within_union(&inner, &eligible) {
            Inclusion::Within => {}
            Inclusion::Beyond(tuple) => {
                let call = std::iter::once(exec.program.display().to_string())
                    .chain(tuple.iter().map(|arg| format!("{arg:?}")))
                    .collect::<Vec<_>>()
                    .join(" ");
                found.push(Beyond {
                    grant: GrantRef::Exec(index),
                    error: beyond(&exec.origin, what(format!("allows `{call}`, which"))),
                });
            }
            Inclusion::Undecided(reason) => {
                found.push(Beyond {
                    grant: GrantRef::Exec(index),
                    error: beyond(
                        &exec.origin,
                        what(format!(
                            "cannot be compared with the ceiling ({reason}), so it"
                        )),
                    ),
                });
            }
        }
    }
    for (index, http) in manifest.grants.http.iter().enumerate() {
        if let Some(verdict) = http_beyond(http, &ceiling.grants.http) {
            found.push(Beyond {
                grant: GrantRef::Http(index),
                error: beyond(
                    &http.origin,
                    format!("http `{} {}` {verdict}", http.method, http.url.source),
                ),
            });
        }
    }
    // A root named by a parameter is checked once it is bound (`catalog::Loaded::bound`).
    for (index, fs) in manifest.grants.fs.iter().enumerate() {
        if fs.param.is_some() {
            continue;
        }
        let covered = ceiling
            .grants
            .fs
            .iter()
            .any(|allowed| fs.path.starts_with(&allowed.path) && allowed.access >= fs.access);
        if !covered {
            found.push(Beyond {
                grant: GrantRef::Fs(index),
                error: beyond(
                    &fs.origin,
                    format!("fs `{}` ({})", fs.path.display(), fs.access.as_str()),
                ),
            });
        }
    }
    for (origin, handle) in manifest.secret_uses() {
        if !ceiling.secrets.iter().any(|allowed| allowed == handle)
            && !found
                .iter()
                .any(|beyond| beyond.grant == GrantRef::Secret(handle.clone()))
        {
            found.push(Beyond {
                grant: GrantRef::Secret(handle.clone()),
                error: beyond(origin, format!("secret `{handle}`")),
            });
        }
    }
    for (index, env) in manifest.grants.env.iter().enumerate() {
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
            found.push(Beyond {
                grant: GrantRef::Env(index),
                error: beyond(&origin, format!("env `{}`", env.name)),
            });
        }
    }
    let limits = &manifest.limits;
    let max = &ceiling.max_limits;
    let origin = Origin {
        file: manifest.file.clone(),
        field: "limits".to_string(),
        line: None,
    };
    let over = if limits.timeout > max.timeout {
        Some(format!(
            "timeout {}",
            humantime::format_duration(limits.timeout)
        ))
    } else if limits.memory > max.memory {
        Some(format!("memory {} bytes", limits.memory))
    } else if limits.output > max.output {
        Some(format!("output {} bytes", limits.output))
    } else {
        None
    };
    if let Some(what) = over {
        found.push(Beyond {
            grant: GrantRef::Limits,
            error: beyond(&origin, what),
        });
    }
    found
}

/// Why the manifest entry `http` is not within the ceiling entries `ceiling`, if it is
/// not: method, scheme, host and port must be covered by some entry, and every path its
/// pattern accepts must be accepted by one of those entries.
fn http_beyond(http: &HttpGrant, ceiling: &[HttpGrant]) -> Option<String> {
    let covering: Vec<&HttpGrant> = ceiling
        .iter()
        .filter(|allowed| {
            allowed.method == http.method
                && allowed.url.scheme == http.url.scheme
                && host_covers(&allowed.url.host, &http.url.host)
                && (allowed.url.port.is_none() || allowed.url.port == http.url.port)
                && (allowed.url.query || !http.url.query)
        })
        .collect();
    if covering.is_empty() {
        return Some(
            "names a method, scheme, host or port that no ceiling entry covers; it".to_string(),
        );
    }
    let Some(path) = &http.url.path else {
        return None;
    };
    let paths: Vec<Vec<&str>> = covering
        .iter()
        .filter_map(|allowed| allowed.url.path.as_ref().map(|path| vec![path.as_str()]))
        .collect();
    match inclusion::within_union(&[path.as_str()], &paths) {
        Inclusion::Within => None,
        Inclusion::Beyond(example) => Some(format!("allows the path `{}`, which", example[0])),
        Inclusion::Undecided(reason) => Some(format!(
            "cannot be compared with the ceiling ({reason}), so it"
        )),
    }
}

/// Whether the ceiling's host pattern covers every host the manifest's can match.
fn host_covers(allowed: &HostPattern, host: &HostPattern) -> bool {
    match (allowed, host) {
        (a, b) if a == b => true,
        (HostPattern::Suffix(suffix), HostPattern::Domain(name) | HostPattern::Suffix(name)) => {
            name.ends_with(&format!(".{suffix}"))
        }
        _ => false,
    }
}
