//! Alertmanager webhook payloads (format version 4): one incident per alert, never losing
//! one. Missing `status` or `labels.alertname` are explicit (`unknown`), not errors, as
//! real senders omit them; a body that is not a v4 payload is an error naming the field.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{Incident, IncidentError, Resource, Source};

#[derive(Debug, Deserialize)]
struct Payload {
    version: Option<String>,
    #[serde(default)]
    status: Option<String>,
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
struct Alert {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// Parse an Alertmanager webhook body into one incident per alert.
pub fn parse_alertmanager(text: &str, path: &Path) -> Result<Vec<Incident>, IncidentError> {
    let payload: Payload = serde_json::from_str(text).map_err(|error| IncidentError::Syntax {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    if let Some(version) = &payload.version
        && version != "4"
    {
        return Err(IncidentError::Invalid {
            path: path.to_path_buf(),
            field: "version",
            message: format!("is `{version}`; medic reads Alertmanager webhook version 4"),
        });
    }
    if payload.alerts.is_empty() {
        return Err(IncidentError::Invalid {
            path: path.to_path_buf(),
            field: "alerts",
            message: "is empty".to_string(),
        });
    }
    Ok(payload
        .alerts
        .into_iter()
        .enumerate()
        .map(|(index, alert)| {
            let alert_name = alert
                .labels
                .get("alertname")
                .cloned()
                .unwrap_or_else(|| "unknown".to_string());
            let resource_id = ["instance", "pod", "service", "job"]
                .iter()
                .find_map(|key| alert.labels.get(*key))
                .cloned()
                .unwrap_or_else(|| "unknown".to_string());
            let status = alert
                .status
                .or(payload.status.clone())
                .unwrap_or_else(|| "unknown".to_string());
            let summary = alert
                .annotations
                .get("summary")
                .or(alert.annotations.get("description"))
                .cloned()
                .unwrap_or_else(|| alert_name.clone());
            let mut text = vec![format!("alert {alert_name} is {status}")];
            text.extend(alert.annotations.values().cloned());
            let mut labels = alert.labels.clone();
            labels.insert("alert_status".to_string(), status);
            let fingerprint = alert
                .fingerprint
                .clone()
                .unwrap_or_else(|| format!("{alert_name}/{resource_id}"));
            Incident {
                id: format!(
                    "alertmanager-{}-{index}",
                    fingerprint.replace(['/', ' '], "_")
                ),
                source: Source::Alertmanager,
                resource: Resource {
                    kind: resource_kind(&alert.labels).to_string(),
                    id: resource_id,
                },
                issue_type: issue_type_for_alert(&alert_name).to_string(),
                summary,
                labels,
                params: BTreeMap::new(),
                log: Some(text.join("\n")),
                fingerprint: Some(fingerprint),
                started_at: alert.starts_at,
            }
        })
        .collect())
}

fn resource_kind(labels: &BTreeMap<String, String>) -> &'static str {
    if labels.contains_key("pod") {
        "pod"
    } else if labels.contains_key("service") || labels.contains_key("job") {
        "service"
    } else {
        "host"
    }
}

/// The issue type an alert name stands for (`DiskSpace` -> `disk_full`), or `unknown`.
pub fn issue_type_for_alert(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    if has(&["certificate", "ssl", "tls", "cert"]) {
        "certificate_expiry"
    } else if has(&[
        "disk",
        "filesystem",
        "space",
        "inode",
        "volume",
        "persistentvolume",
        "storage",
    ]) {
        "disk_full"
    } else if has(&["memory", "oom", "swap"]) {
        "high_memory"
    } else if has(&["reload", "config"]) {
        "config_reload_failed"
    } else if has(&["cpu", "load", "throttl"]) {
        "high_cpu"
    } else if has(&["replication", "lag", "replica"]) {
        "replication_lag"
    } else if has(&["latency", "slow", "timeout"]) {
        "connection_timeout"
    } else if has(&[
        "down",
        "absent",
        "unreachable",
        "probefailed",
        "probe failed",
        "ping",
        "notready",
        "crashloop",
        "failed",
        "missing",
        "killed",
        "restart",
        "unavailable",
        "offline",
    ]) {
        "service_down"
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_map_to_issue_types() {
        let cases = [
            ("DiskSpace", "disk_full"),
            ("HostOutOfDiskSpace", "disk_full"),
            ("ICMP ping failed", "service_down"),
            ("high_memory_load", "high_memory"),
            ("CPUThrottlingHigh", "high_cpu"),
            ("PostgresqlReplicationLag", "replication_lag"),
            ("SslCertificateExpiry(<7Days)", "certificate_expiry"),
            ("RedisDown", "service_down"),
            (
                "PrometheusConfigurationReloadFailure",
                "config_reload_failed",
            ),
            ("Watchdog", "unknown"),
        ];
        for (name, expected) in cases {
            assert_eq!(issue_type_for_alert(name), expected, "{name}");
        }
    }

    #[test]
    fn a_payload_without_alerts_is_an_error_naming_the_field() {
        let error =
            parse_alertmanager(r#"{"version":"4","alerts":[]}"#, Path::new("a.json")).unwrap_err();
        assert_eq!(error.to_string(), "incident `a.json`: `alerts` is empty");
        let error = parse_alertmanager(r#"{"status":"firing"}"#, Path::new("a.json")).unwrap_err();
        assert!(
            error.to_string().contains("missing field `alerts`"),
            "{error}"
        );
    }
}
