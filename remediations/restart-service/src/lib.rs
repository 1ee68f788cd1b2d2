//! Restart a supervised service that stopped answering, then check its health.
//!
//! Parameters (incident `params`):
//! - `service`: the program or unit name; defaults to the incident's resource id.
//! - `controller`: `supervisorctl` (default) or `systemctl`.
//! - `supervisor_url`: for supervisorctl, the server URL (`-s`), e.g. `http://127.0.0.1:9001`;
//!   without it supervisorctl uses its default configuration file.
//! - `health_url`: an HTTP URL that must answer 2xx, or
//! - `health_tcp`: `host:port` that must accept a TCP connection.
//! - `health_timeout_secs`: how long verify keeps trying (default 10).
//!
//! A restart has no inverse, so `rollback` changes nothing and says so.

use std::time::{Duration, Instant};

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, exec, http, log};

const SUPERVISORCTL: &str = "/usr/bin/supervisorctl";
const SYSTEMCTL: &str = "/usr/bin/systemctl";
const DEFAULT_HEALTH_TIMEOUT_SECS: u64 = 10;
const HEALTH_POLL: Duration = Duration::from_millis(200);

struct RestartService;

enum Health<'a> {
    Http(&'a str),
    Tcp(&'a str, u16),
}

fn service(incident: &Incident) -> Result<&str, Error> {
    let name = incident.param("service").unwrap_or(&incident.resource_id);
    if name.is_empty() {
        return Err(Error::invalid_input(
            "no service named: set `service` or the resource id",
        ));
    }
    Ok(name)
}

/// The program and arguments that restart the service.
fn restart_command(incident: &Incident) -> Result<(&'static str, Vec<String>), Error> {
    let name = service(incident)?.to_string();
    match incident.param("controller").unwrap_or("supervisorctl") {
        "supervisorctl" => {
            let mut args = Vec::new();
            if let Some(url) = incident.param("supervisor_url") {
                args.extend(["-s".to_string(), url.to_string()]);
            }
            args.extend(["restart".to_string(), name]);
            Ok((SUPERVISORCTL, args))
        }
        "systemctl" => {
            let unit = if name.ends_with(".service") {
                name
            } else {
                format!("{name}.service")
            };
            Ok((SYSTEMCTL, vec!["restart".to_string(), unit]))
        }
        other => Err(Error::invalid_input(format!(
            "unknown controller `{other}`: expected `supervisorctl` or `systemctl`"
        ))),
    }
}

fn health(incident: &Incident) -> Result<Health<'_>, Error> {
    if let Some(url) = incident.param("health_url") {
        return Ok(Health::Http(url));
    }
    if let Some(address) = incident.param("health_tcp") {
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse().ok()?)))
            .ok_or_else(|| {
                Error::invalid_input(format!("`health_tcp` must be host:port, got `{address}`"))
            })?;
        return Ok(Health::Tcp(
            host.trim_start_matches('[').trim_end_matches(']'),
            port,
        ));
    }
    Err(Error::invalid_input(
        "no health check: set `health_url` or `health_tcp`",
    ))
}

fn check_once(health: &Health<'_>) -> Result<Result<String, String>, Error> {
    match health {
        Health::Http(url) => match http::get(url) {
            Ok(response) if (200..300).contains(&response.status) => {
                Ok(Ok(format!("GET {url} answered {}", response.status)))
            }
            Ok(response) => Ok(Err(format!("GET {url} answered {}", response.status))),
            Err(error @ Error::Denied { .. }) => Err(error),
            Err(error) => Ok(Err(format!("GET {url}: {error}"))),
        },
        Health::Tcp(host, port) => match http::connect(host, *port) {
            Ok(took) => Ok(Ok(format!(
                "{host}:{port} accepted a connection in {} ms",
                took.as_millis()
            ))),
            Err(error @ Error::Denied { .. }) => Err(error),
            Err(error) => Ok(Err(format!("{host}:{port}: {error}"))),
        },
    }
}

impl Remediation for RestartService {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let (program, args) = restart_command(incident)?;
        let check = match health(incident)? {
            Health::Http(url) => Step::http(format!("GET {url}"), "expect a 2xx answer"),
            Health::Tcp(host, port) => Step::http(
                format!("CONNECT tcp://{host}:{port}"),
                "expect the port to accept",
            ),
        };
        Ok(vec![
            Step::exec(
                format!("{program} {}", args.join(" ")),
                "restart the service",
            ),
            check,
        ])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        health(incident)?;
        let (program, args) = restart_command(incident)?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        log::progress(10, &format!("restarting {}", service(incident)?));
        let output = exec::run(program, &args)?;
        let stdout = output.stdout_lossy();
        let stderr = output.stderr_lossy();
        // supervisorctl prints `name: ERROR (not running)` for the stop half of a restart
        // of a stopped program, then `name: started`; older versions exit 0 on errors.
        let started = program != SUPERVISORCTL || stdout.contains(": started");
        if !output.success() || !started {
            return Err(Error::failed(format!(
                "{program} {} failed (status {:?}): {} {}",
                args.join(" "),
                output.status,
                stdout.trim(),
                stderr.trim()
            )));
        }
        log::progress(60, "restart issued");
        Ok(format!("{program} {}: {}", args.join(" "), stdout.trim()))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let health = health(incident)?;
        let timeout = incident
            .param("health_timeout_secs")
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(DEFAULT_HEALTH_TIMEOUT_SECS);
        let deadline = Instant::now() + Duration::from_secs(timeout);
        loop {
            match check_once(&health)? {
                Ok(detail) => return Ok(Verdict::healthy(detail)),
                Err(detail) if Instant::now() >= deadline => {
                    return Ok(Verdict::unhealthy(format!("{detail} (after {timeout}s)")));
                }
                Err(_) => std::thread::sleep(HEALTH_POLL),
            }
        }
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo: a restart has no inverse".to_string())
    }
}

medic_guest_sdk::export_remediation!(RestartService);
