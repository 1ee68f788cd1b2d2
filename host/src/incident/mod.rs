//! `Incident`: what enters medic, in one shape whatever its source. This module holds the
//! type and the reader of its JSON form (`medic run --incident FILE`); intake parsers for
//! alerts and webhooks produce the same type.

pub mod alertmanager;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where an incident came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Typed by an operator.
    Cli,
    /// An Alertmanager webhook.
    Alertmanager,
    /// A GitHub webhook.
    Github,
    /// A GitLab webhook.
    Gitlab,
    /// A Jenkins notification.
    Jenkins,
    /// Any other JSON.
    Generic,
    /// A wrapped command (`medic heal -- CMD`).
    Command,
}

impl Source {
    /// The source's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Alertmanager => "alertmanager",
            Source::Github => "github",
            Source::Gitlab => "gitlab",
            Source::Jenkins => "jenkins",
            Source::Generic => "generic",
            Source::Command => "command",
        }
    }
}

/// The affected resource: a kind and an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// `service`, `host`, `pipeline`, ...
    pub kind: String,
    /// `nginx`, `web-01`, `org/repo#123`, ...
    pub id: String,
}

/// An incident. Its JSON form (snake_case keys) is what `medic run --incident` reads:
///
/// ```json
/// {"id": "inc-42", "source": "cli", "resource": {"kind": "service", "id": "web"},
///  "issue_type": "service_down", "summary": "web stopped answering",
///  "labels": {"team": "platform"}, "params": {"health_url": "http://127.0.0.1:8080/health"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Unique id; checkpoints are kept per incident.
    pub id: String,
    /// Where it came from.
    pub source: Source,
    /// What is affected.
    pub resource: Resource,
    /// Open string: `service_down`, `disk_full`, `ci_failure`, ...
    pub issue_type: String,
    /// One line.
    #[serde(default)]
    pub summary: String,
    /// Labels from the source.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Parameters for the remediation.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Log text, when the source had one.
    #[serde(default)]
    pub log: Option<String>,
    /// De-duplication key.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// When it started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
}

/// Longest id accepted.
const MAX_ID_BYTES: usize = 256;

/// Why an incident could not be read.
#[derive(Debug, Error)]
pub enum IncidentError {
    /// The file could not be read.
    #[error("cannot read incident `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not JSON, or a field is missing, unknown or of the wrong type.
    #[error("incident `{path}`: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// serde's message, naming the field, line and column.
        message: String,
    },
    /// A field has a value medic refuses.
    #[error("incident `{path}`: `{field}` {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Parse the JSON form of an incident; `path` names it in errors.
pub fn parse_incident(text: &str, path: &Path) -> Result<Incident, IncidentError> {
    let incident: Incident = serde_json::from_str(text).map_err(|error| IncidentError::Syntax {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    let invalid = |field, message: &str| IncidentError::Invalid {
        path: path.to_path_buf(),
        field,
        message: message.to_string(),
    };
    if incident.id.trim().is_empty() || incident.id.len() > MAX_ID_BYTES {
        return Err(invalid("id", "must be 1 to 256 bytes"));
    }
    if incident.id.chars().any(char::is_control) {
        return Err(invalid("id", "must not contain control characters"));
    }
    if incident.resource.kind.trim().is_empty() {
        return Err(invalid("resource.kind", "must not be empty"));
    }
    if incident.issue_type.trim().is_empty() {
        return Err(invalid("issue_type", "must not be empty"));
    }
    Ok(incident)
}

/// Largest incident file medic reads.
pub const MAX_INCIDENT_BYTES: u64 = 4 << 20;

/// Read an incident file (`-` for standard input).
pub fn load_incident(path: &Path) -> Result<Incident, IncidentError> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).map_err(|source| IncidentError::Read {
            path: path.to_path_buf(),
            source,
        })?
    } else {
        crate::nofollow::read_regular_text(path, MAX_INCIDENT_BYTES).map_err(|error| {
            IncidentError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::other(error.to_string()),
            }
        })?
    };
    parse_incident(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Incident, String> {
        parse_incident(text, Path::new("i.json")).map_err(|error| error.to_string())
    }

    #[test]
    fn incident_errors_name_the_field() {
        let ok = r#"{"id":"a","source":"cli","resource":{"kind":"service","id":"web"},"issue_type":"service_down"}"#;
        assert_eq!(parse(ok).unwrap().resource.id, "web");
        assert!(
            parse(r#"{"source":"cli"}"#)
                .unwrap_err()
                .contains("missing field `id`")
        );
        assert!(
            parse(&ok.replace("\"cli\"", "\"pager\""))
                .unwrap_err()
                .contains("unknown variant `pager`")
        );
        assert!(
            parse(&ok.replace("\"issue_type\"", "\"issue\""))
                .unwrap_err()
                .contains("unknown field `issue`")
        );
        assert_eq!(
            parse(&ok.replace("\"id\":\"a\"", "\"id\":\" \"")).unwrap_err(),
            "incident `i.json`: `id` must be 1 to 256 bytes"
        );
    }
}
