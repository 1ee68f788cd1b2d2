//! {{name}}: ask a service on this host to reload through its loopback admin endpoint,
//! then check that it answers its health URL.
//!
//! Replace the logic with your own; keep the shape. Every host call goes through the SDK
//! (`exec`, `http`, `fs`, `env`, `log`, `checkpoint`) and is allowed only when
//! `remediation.toml` grants it (and the operator's ceiling permits it). A refused call
//! returns `Error::Denied`: pass it on, never retry it another way. The SDK's docs:
//! `cargo doc --open -p medic-guest-sdk`.
//!
//! Parameters (declared in remediation.toml, checked by medic before anything runs):
//! - `base_url`: the service's loopback base URL, e.g. `http://127.0.0.1:9090`; the
//!   service answers `POST /-/reload` and `GET /health`.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, http, log};

struct {{type_name}};

/// The reload and health URLs for `incident`. Pure logic: `cargo test` tests it natively.
fn urls(incident: &Incident) -> Result<(String, String), Error> {
    let base = incident.require_param("base_url")?.trim_end_matches('/');
    Ok((format!("{base}/-/reload"), format!("{base}/health")))
}

impl Remediation for {{type_name}} {
    /// A dry run: say what `apply` would do. medic refuses every change while it runs.
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let (reload, health) = urls(incident)?;
        Ok(vec![
            Step::http(format!("POST {reload}"), "ask the service to reload"),
            Step::http(format!("GET {health}"), "expect a 2xx answer"),
        ])
    }

    /// Make the change. Save what `rollback` needs before changing anything.
    fn apply(incident: &Incident) -> Result<String, Error> {
        let (reload, _) = urls(incident)?;
        checkpoint::save_str("reloaded", &reload)?;
        log::progress(20, "asking for a reload");
        let response = http::post(&reload, Vec::new())?;
        if !(200..300).contains(&response.status) {
            return Err(Error::failed(format!(
                "POST {reload} answered {}: {}",
                response.status,
                response.text().trim()
            )));
        }
        Ok(format!("POST {reload} answered {}", response.status))
    }

    /// Check the incident is healed.
    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let (_, health) = urls(incident)?;
        match http::get(&health) {
            Ok(response) if (200..300).contains(&response.status) => Ok(Verdict::healthy(
                format!("GET {health} answered {}", response.status),
            )),
            Ok(response) => Ok(Verdict::unhealthy(format!(
                "GET {health} answered {}",
                response.status
            ))),
            Err(denied @ Error::Denied { .. }) => Err(denied),
            Err(other) => Ok(Verdict::unhealthy(format!("GET {health}: {other}"))),
        }
    }

    /// Undo what `apply` did, from its checkpoints. A reload has no inverse.
    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok(match checkpoint::load_string("reloaded")? {
            Some(url) => format!("nothing to undo: the reload at {url} has no inverse"),
            None => "nothing to undo: apply changed nothing".to_string(),
        })
    }
}

medic_guest_sdk::export_remediation!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_from_the_parameters() {
        let incident = Incident::new("service", "web", "config_reload_failed")
            .with_param("base_url", "http://127.0.0.1:9090/");
        assert_eq!(
            urls(&incident).unwrap(),
            (
                "http://127.0.0.1:9090/-/reload".to_string(),
                "http://127.0.0.1:9090/health".to_string()
            )
        );
        let missing = Incident::new("service", "web", "config_reload_failed");
        assert!(matches!(urls(&missing), Err(Error::InvalidInput { .. })));
    }

    #[test]
    fn host_calls_need_the_sandbox() {
        // Natively there is no host: the call is refused with `NotInSandbox`, nothing runs.
        assert_eq!(
            http::get("http://127.0.0.1:9090/health").unwrap_err(),
            Error::NotInSandbox { call: "http::send" }
        );
    }
}
