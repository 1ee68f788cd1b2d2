//! Ask a server to reload its configuration through its loopback admin endpoint
//! (Prometheus and Alertmanager `POST /-/reload` style), then confirm through its status
//! endpoint that the reload succeeded and the configuration is newer than before.
//!
//! Parameters (incident `params`):
//! - `admin_url`: the server's base URL, e.g. `http://127.0.0.1:9090`.
//! - `reload_path`: default `/-/reload`.
//! - `status_path`: default `/api/v1/status/runtimeinfo`, whose JSON carries
//!   `reloadConfigSuccess` and `lastConfigTime` as Prometheus reports them.
//!
//! Works through HTTP only. A reload has no inverse: when it fails, the server keeps the
//! configuration it had, so `rollback` changes nothing and says so.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, http, log};

const BEFORE_KEY: &str = "last_config_time_before";

struct ReloadConfig;

struct Endpoints {
    reload: String,
    status: String,
}

fn endpoints(incident: &Incident) -> Result<Endpoints, Error> {
    let base = incident.require_param("admin_url")?.trim_end_matches('/');
    let reload = incident.param("reload_path").unwrap_or("/-/reload");
    let status = incident
        .param("status_path")
        .unwrap_or("/api/v1/status/runtimeinfo");
    Ok(Endpoints {
        reload: format!("{base}{reload}"),
        status: format!("{base}{status}"),
    })
}

/// The JSON value of `"key":` in `body`, as raw text (a string without its quotes, or a
/// literal such as `true`). Enough for the two flat fields this remediation reads.
fn json_field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\"");
    let rest = body[body.find(&needle)? + needle.len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.find('"').map(|end| &quoted[..end]);
    }
    let end = rest.find([',', '}', ' ', '\n']).unwrap_or(rest.len());
    Some(&rest[..end])
}

struct Status {
    success: Option<bool>,
    last_config_time: Option<String>,
}

fn read_status(url: &str) -> Result<Status, Error> {
    let response = http::get(url)?;
    if response.status != 200 {
        return Err(Error::failed(format!(
            "GET {url} answered {}",
            response.status
        )));
    }
    let body = response.text();
    Ok(Status {
        success: json_field(&body, "reloadConfigSuccess").map(|value| value == "true"),
        last_config_time: json_field(&body, "lastConfigTime").map(str::to_string),
    })
}

impl Remediation for ReloadConfig {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let endpoints = endpoints(incident)?;
        Ok(vec![
            Step::http(
                format!("GET {}", endpoints.status),
                "record the current configuration time",
            ),
            Step::http(
                format!("POST {}", endpoints.reload),
                "ask the server to reload its configuration",
            ),
            Step::http(
                format!("GET {}", endpoints.status),
                "confirm the reload succeeded",
            ),
        ])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let endpoints = endpoints(incident)?;
        let before = read_status(&endpoints.status)?;
        checkpoint::save_str(BEFORE_KEY, before.last_config_time.as_deref().unwrap_or(""))?;
        log::progress(30, "reloading");
        let response = http::post(&endpoints.reload, Vec::new())?;
        if !(200..300).contains(&response.status) {
            return Err(Error::failed(format!(
                "POST {} answered {}: {}",
                endpoints.reload,
                response.status,
                response.text().trim()
            )));
        }
        Ok(format!(
            "POST {} answered {}",
            endpoints.reload, response.status
        ))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let endpoints = endpoints(incident)?;
        let status = read_status(&endpoints.status)?;
        let before = checkpoint::load_string(BEFORE_KEY)?.unwrap_or_default();
        match (status.success, status.last_config_time) {
            (Some(true), Some(time)) if time != before => Ok(Verdict::healthy(format!(
                "reload succeeded; configuration loaded at {time}"
            ))),
            (Some(true), Some(time)) => Ok(Verdict::unhealthy(format!(
                "configuration time is still {time}: the reload did not happen"
            ))),
            (Some(false), _) => Ok(Verdict::unhealthy(
                "the server reports reloadConfigSuccess = false",
            )),
            _ => Ok(Verdict::unhealthy(format!(
                "{} does not report reloadConfigSuccess",
                endpoints.status
            ))),
        }
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo: a failed reload leaves the previous configuration active".to_string())
    }
}

medic_guest_sdk::export_remediation!(ReloadConfig);

#[cfg(test)]
mod tests {
    use super::json_field;

    #[test]
    fn reads_flat_json_fields() {
        let body = r#"{"status":"success","data":{"reloadConfigSuccess": true,"lastConfigTime":"2026-01-01T00:00:00Z"}}"#;
        assert_eq!(json_field(body, "reloadConfigSuccess"), Some("true"));
        assert_eq!(
            json_field(body, "lastConfigTime"),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(json_field(body, "missing"), None);
    }
}
