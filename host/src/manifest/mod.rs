//! Remediation manifests (`remediation.toml`): parsed, checked and turned into typed grants
//! at load, so a bad manifest fails before anything runs.
//!
//! Owns: the schema (`schema.rs`), typed grants and what is never granted (`grant.rs`),
//! risk levels and ceilings (`risk.rs`), limits (`limits.rs`), the reviewer's view
//! (`explain.rs`). Does not own: deciding host calls (that is `sandbox/`), finding
//! remediations by name (`catalog.rs`).

mod error;
pub mod explain;
pub mod grant;
pub mod inclusion;
pub mod limits;
pub mod params;
pub mod rate;
pub mod risk;
mod schema;
pub mod secret_use;
pub mod signature;

/// The capability shapes `config/` reuses for ceilings.
pub(crate) mod schema_for_config {
    pub(crate) use super::schema::{RawCapabilities, RawExec, RawFs, RawHttp, RawLimits};
}

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::{ManifestError, Origin};
pub use grant::{Access, Grants};
pub use limits::Limits;
pub use risk::{Beyond, Ceiling, Ceilings, GrantRef, Risk, beyond_ceiling, check_within_ceiling};

use grant::SourceText;
use schema::RawManifest;

/// The file name medic looks for in a remediation directory.
pub const MANIFEST_FILE: &str = "remediation.toml";
/// Largest manifest medic reads.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// A checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Kebab-case id.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// One sentence.
    pub description: String,
    /// Picks the ceiling.
    pub risk: Risk,
    /// The component file, relative to the manifest.
    pub component: String,
    /// Lowercase hex sha256 the component must hash to.
    pub sha256: String,
    /// The prior of its learned confidence: how often it heals what it handles.
    pub confidence: f64,
    /// How long a run usually takes, until measured.
    pub expected_duration: std::time::Duration,
    /// What incidents it handles.
    pub handles: Vec<Handles>,
    /// The incident parameters it reads, each with the pattern its value must match.
    pub params: Vec<params::ParamSpec>,
    /// What it may touch.
    pub grants: Grants,
    /// Resource limits.
    pub limits: Limits,
    /// Where it was read from.
    pub file: PathBuf,
    /// Lowercase hex sha256 of the manifest's text, so a run can be tied to the exact grants
    /// it ran under.
    pub text_sha256: String,
}

/// One `[[handles]]` entry: the incidents a remediation says it can heal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handles {
    /// `service`, `host`, ...
    pub resource_kind: Option<String>,
    /// `service_down`, `disk_full`, ...
    pub issue_type: Option<String>,
    /// A root cause from the taxonomy.
    pub root_cause: Option<String>,
}

impl std::fmt::Display for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            ("kind", &self.resource_kind),
            ("issue", &self.issue_type),
            ("cause", &self.root_cause),
        ]
        .iter()
        .filter_map(|(label, value)| value.as_ref().map(|value| format!("{label}={value}")))
        .collect();
        f.write_str(&parts.join(" "))
    }
}

impl Handles {
    /// True when every field this entry sets matches: the incident's resource kind and issue
    /// type, and the diagnosed root cause (an entry naming a root cause never matches
    /// without one).
    pub fn matches(&self, incident: &crate::incident::Incident, root_cause: Option<&str>) -> bool {
        let fits = |wanted: &Option<String>, actual: Option<&str>| {
            wanted
                .as_deref()
                .is_none_or(|wanted| Some(wanted) == actual)
        };
        (self.resource_kind.is_some() || self.issue_type.is_some() || self.root_cause.is_some())
            && fits(&self.resource_kind, Some(&incident.resource.kind))
            && fits(&self.issue_type, Some(&incident.issue_type))
            && fits(&self.root_cause, root_cause)
    }
}

impl Manifest {
    /// True when one of its `[[handles]]` entries matches the incident (and the diagnosed
    /// root cause, when there is one).
    pub fn handles_incident(
        &self,
        incident: &crate::incident::Incident,
        root_cause: Option<&str>,
    ) -> bool {
        self.handles
            .iter()
            .any(|handles| handles.matches(incident, root_cause))
    }

    /// Every secret handle the manifest uses, with the grant that uses it.
    pub fn secret_uses(&self) -> Vec<(&Origin, &String)> {
        let auth = self.grants.http.iter().filter_map(|grant| {
            grant
                .auth
                .as_ref()
                .map(|auth| (&grant.origin, &auth.secret))
        });
        let env = self.grants.exec.iter().flat_map(|grant| {
            grant
                .secret_env
                .iter()
                .map(move |(_, handle)| (&grant.origin, handle))
        });
        auth.chain(env).collect()
    }
}

/// Parse and check manifest `text` read from `file`.
pub fn parse_manifest(text: &str, file: &Path) -> Result<Manifest, ManifestError> {
    let raw: RawManifest = toml::from_str(text).map_err(|error| ManifestError::Syntax {
        path: file.to_path_buf(),
        message: crate::text::toml_error(text, &error),
    })?;
    let src = SourceText { file, text };

    let name = raw.name.get_ref();
    let valid_name = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_name {
        return src.invalid(
            "name",
            raw.name.span(),
            format!("must be kebab-case (a-z, 0-9, `-`, at most 63), got `{name}`"),
        );
    }
    let version = raw.version.get_ref();
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()))
    {
        return src.invalid(
            "version",
            raw.version.span(),
            format!("must be MAJOR.MINOR.PATCH, got `{version}`"),
        );
    }
    let risk = Risk::parse(raw.risk.get_ref()).map_or_else(
        || {
            src.invalid(
                "risk",
                raw.risk.span(),
                format!(
                    "must be `low`, `medium` or `high`, got `{}`",
                    raw.risk.get_ref()
                ),
            )
        },
        Ok,
    )?;
    let component = raw.component.get_ref();
    let plain_component = !component.is_empty()
        && !component.starts_with('/')
        && component
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !plain_component || !component.ends_with(".wasm") {
        return src.invalid("component", raw.component.span(), format!("must be a relative `.wasm` path inside the remediation directory, got `{component}`"));
    }
    let sha256 = raw.sha256.get_ref();
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return src.invalid(
            "sha256",
            raw.sha256.span(),
            format!("must be 64 lowercase hex digits, got `{sha256}`"),
        );
    }

    let params = params::parse_params(&raw.params, &src)?;
    let grants = grant::parse_manifest_grants(&raw.capabilities, &src, &params)?;
    let limits = limits::parse_limits(&raw.limits, &src, "limits.", Limits::default())?;
    let confidence = match &raw.confidence {
        Some(value) if !(0.0..=1.0).contains(value.get_ref()) => {
            return src.invalid(
                "confidence",
                value.span(),
                format!("must be between 0 and 1, got {}", value.get_ref()),
            );
        }
        Some(value) => *value.get_ref(),
        None => 0.5,
    };
    let expected_duration = match &raw.expected_duration {
        Some(text) => match humantime::parse_duration(text.get_ref()) {
            Ok(duration) if duration <= limits.timeout => duration,
            Ok(_) => {
                return src.invalid(
                    "expected_duration",
                    text.span(),
                    format!(
                        "`{}` is longer than the timeout ({})",
                        text.get_ref(),
                        humantime::format_duration(limits.timeout)
                    ),
                );
            }
            Err(error) => {
                return src.invalid(
                    "expected_duration",
                    text.span(),
                    format!("`{}` is not a duration: {error}", text.get_ref()),
                );
            }
        },
        None => limits.timeout / 10,
    };
    let handles = raw
        .handles
        .into_iter()
        .map(|handles| Handles {
            resource_kind: handles.resource_kind,
            issue_type: handles.issue_type,
            root_cause: handles.root_cause,
        })
        .collect();
    Ok(Manifest {
        name: name.clone(),
        version: version.clone(),
        description: raw.description,
        risk,
        component: component.clone(),
        sha256: sha256.clone(),
        confidence,
        expected_duration,
        handles,
        params,
        grants,
        limits,
        file: file.to_path_buf(),
        text_sha256: sha256_hex(text.as_bytes()),
    })
}

/// Read and check a manifest; `path` is the file or the directory holding it.
pub fn load_manifest(path: &Path) -> Result<Manifest, ManifestError> {
    let file = if path.is_dir() {
        path.join(MANIFEST_FILE)
    } else {
        path.to_path_buf()
    };
    let text = crate::nofollow::read_regular_text(&file, MAX_MANIFEST_BYTES).map_err(|error| {
        ManifestError::Read {
            path: file.clone(),
            source: std::io::Error::other(error.to_string()),
        }
    })?;
    parse_manifest(&text, &file)
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Fail unless `wasm` hashes to the manifest's `sha256`.
pub fn check_component_hash(
    manifest: &Manifest,
    component_path: &Path,
    wasm: &[u8],
) -> Result<(), ManifestError> {
    let actual = sha256_hex(wasm);
    if actual != manifest.sha256 {
        return Err(ManifestError::HashMismatch {
            name: manifest.name.clone(),
            component: component_path.to_path_buf(),
            expected: manifest.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
