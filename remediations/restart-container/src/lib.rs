//! Restart a container through its engine's CLI, then check that it runs and answers its
//! health check.
//!
//! Parameters (incident `params`):
//! - `container`: the container's name or id; defaults to the incident's resource id.
//! - `runtime`: `docker` (default) or `podman`.
//! - `endpoint`: the engine's API, when not the CLI's default (`-H` for docker, `--url` for
//!   podman): `unix:///var/run/docker.sock`, `unix:///run/podman/podman.sock`, a rootless
//!   podman's `unix:///run/user/UID/podman/podman.sock`, or `tcp://127.0.0.1:PORT`.
//!   podman needs it: a local `podman restart` starts the container's monitor (`conmon`) as
//!   a child of the call, and medic ends everything a call started, container included;
//!   through its API service (`podman system service`) the service keeps the container.
//! - `health_url`: an HTTP URL that must answer 2xx, or
//! - `health_tcp`: `host:port` that must accept a TCP connection.
//! - `health_timeout_secs`: how long verify keeps trying (default 30, at most 100, so that
//!   verify ends within the manifest's 120 s).
//!
//! The docker CLI is Debian's `/usr/bin/docker` or else `/usr/local/bin/docker`; podman's
//! is `/usr/bin/podman`. `plan` inspects the container (a read-only status command), so a
//! run for a container the engine does not know stops before anything changes. `verify`
//! wants the container running, not reported `unhealthy` or `starting` by the engine's own
//! HEALTHCHECK, and the health check answering. A restart has no inverse, so `rollback`
//! changes nothing and says so.

use std::time::{Duration, Instant};

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, exec, http, log};

const DOCKER: &[&str] = &["/usr/bin/docker", "/usr/local/bin/docker"];
const PODMAN: &[&str] = &["/usr/bin/podman"];
/// What `container inspect` prints: the state, then the HEALTHCHECK's verdict if there is
/// one (`running healthy`, `exited `). The manifest grants exactly this template.
const STATE_FORMAT: &str = "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}";
const DEFAULT_HEALTH_TIMEOUT_SECS: u64 = 30;
/// Verify must end within the manifest's 120 s per call, inspections included.
const MAX_HEALTH_TIMEOUT_SECS: u64 = 100;
/// Why podman needs `endpoint`.
const PODMAN_NEEDS_ENDPOINT: &str = "podman restarts a container here only through its API \
    service: set `endpoint` (e.g. `unix:///run/podman/podman.sock`); a local `podman restart` \
    would leave the container's monitor a child of the call, which medic ends";
/// Between two checks: each one runs the CLI, which takes tens of milliseconds.
const POLL: Duration = Duration::from_millis(500);

struct RestartContainer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Docker,
    Podman,
}

#[derive(Debug, PartialEq, Eq)]
enum Health<'a> {
    Http(&'a str),
    Tcp(&'a str, u16),
}

/// Everything a run needs from the incident, checked before anything runs.
#[derive(Debug, PartialEq, Eq)]
struct Settings<'a> {
    container: &'a str,
    runtime: Runtime,
    endpoint: Option<&'a str>,
    health: Health<'a>,
    timeout_secs: u64,
}

fn settings(incident: &Incident) -> Result<Settings<'_>, Error> {
    let container = incident.param("container").unwrap_or(&incident.resource_id);
    if container.is_empty() {
        return Err(Error::invalid_input(
            "no container named: set `container` or the resource id",
        ));
    }
    let runtime = match incident.param("runtime").unwrap_or("docker") {
        "docker" => Runtime::Docker,
        "podman" => Runtime::Podman,
        other => {
            return Err(Error::invalid_input(format!(
                "unknown runtime `{other}`: expected `docker` or `podman`"
            )));
        }
    };
    let endpoint = incident.param("endpoint");
    if runtime == Runtime::Podman && endpoint.is_none() {
        return Err(Error::invalid_input(PODMAN_NEEDS_ENDPOINT));
    }
    let timeout_secs = match incident.param("health_timeout_secs") {
        None => DEFAULT_HEALTH_TIMEOUT_SECS,
        Some(text) => text
            .parse()
            .ok()
            .filter(|secs| *secs <= MAX_HEALTH_TIMEOUT_SECS)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "`health_timeout_secs` must be a number of seconds up to {MAX_HEALTH_TIMEOUT_SECS}, got `{text}`"
                ))
            })?,
    };
    Ok(Settings {
        container,
        runtime,
        endpoint,
        health: health(incident)?,
        timeout_secs,
    })
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
        return Ok(Health::Tcp(host, port));
    }
    Err(Error::invalid_input(
        "no health check: set `health_url` or `health_tcp`",
    ))
}

impl<'a> Settings<'a> {
    /// Where the runtime's CLI may be, in the order tried.
    fn programs(&self) -> &'static [&'static str] {
        match self.runtime {
            Runtime::Docker => DOCKER,
            Runtime::Podman => PODMAN,
        }
    }

    /// The CLI's arguments for `action`, after the endpoint flag when there is one.
    fn args(&self, action: &[&'a str]) -> Vec<&'a str> {
        let mut args = Vec::new();
        if let Some(endpoint) = self.endpoint {
            args.push(match self.runtime {
                Runtime::Docker => "-H",
                Runtime::Podman => "--url",
            });
            args.push(endpoint);
        }
        args.extend_from_slice(action);
        args
    }

    fn restart_args(&self) -> Vec<&'a str> {
        self.args(&["restart", self.container])
    }

    fn inspect_args(&self) -> Vec<&'a str> {
        self.args(&[
            "container",
            "inspect",
            "--format",
            STATE_FORMAT,
            self.container,
        ])
    }
}

/// Run the first of `programs` that exists on this host; returns which one ran.
fn run(programs: &[&'static str], args: &[&str]) -> Result<(&'static str, exec::Output), Error> {
    for program in programs {
        match exec::run(program, args) {
            Err(Error::NotFound { .. }) => continue,
            Ok(output) => return Ok((program, output)),
            Err(error) => return Err(error),
        }
    }
    Err(Error::failed(format!(
        "no container CLI on this host: looked for {}",
        programs.join(", ")
    )))
}

/// `program args...` as medic's audit log shows it: an argument holding a space quoted.
fn shown(program: &str, args: &[&str]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|arg| {
            if arg.contains(char::is_whitespace) {
                format!("{arg:?}")
            } else {
                arg.to_string()
            }
        })
        .collect();
    format!("{program} {}", args.join(" "))
}

/// A container's state as `container inspect` printed it with [`STATE_FORMAT`].
#[derive(Debug, PartialEq, Eq)]
struct State<'a> {
    status: &'a str,
    /// The HEALTHCHECK's verdict, when the container has one.
    health: Option<&'a str>,
}

fn parse_state(stdout: &str) -> Option<State<'_>> {
    let mut words = stdout.split_whitespace();
    let status = words.next()?;
    Some(State {
        status,
        health: words.next(),
    })
}

/// Running and not held back by its own HEALTHCHECK; otherwise what is wrong.
fn judge(container: &str, state: &State<'_>) -> Result<String, String> {
    if state.status != "running" {
        return Err(format!("container {container} is {}", state.status));
    }
    match state.health {
        Some(verdict @ ("unhealthy" | "starting")) => Err(format!(
            "container {container} is running but its HEALTHCHECK says {verdict}"
        )),
        Some(verdict) => Ok(format!("container {container} is running ({verdict})")),
        None => Ok(format!("container {container} is running")),
    }
}

/// Inspect the container: `Ok(Ok(state))`, or `Ok(Err(why))` when the engine could not say.
fn inspect(
    settings: &Settings<'_>,
    programs: &[&'static str],
) -> Result<(&'static str, Result<String, String>), Error> {
    let args = settings.inspect_args();
    let (program, output) = run(programs, &args)?;
    let stdout = output.stdout_lossy();
    let verdict = match parse_state(&stdout) {
        Some(state) if output.success() => judge(settings.container, &state),
        _ => Err(format!(
            "{} failed (status {:?}): {}",
            shown(program, &args),
            output.status,
            output.stderr_lossy().trim()
        )),
    };
    Ok((program, verdict))
}

fn check_health(health: &Health<'_>) -> Result<Result<String, String>, Error> {
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

fn health_step(health: &Health<'_>) -> Step {
    match health {
        Health::Http(url) => Step::http(format!("GET {url}"), "expect a 2xx answer"),
        Health::Tcp(host, port) => Step::http(
            format!("CONNECT tcp://{host}:{port}"),
            "expect the port to accept",
        ),
    }
}

impl Remediation for RestartContainer {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let settings = settings(incident)?;
        let (program, output) = run(settings.programs(), &settings.inspect_args())?;
        let stdout = output.stdout_lossy();
        let state = match parse_state(&stdout) {
            Some(state) if output.success() => state,
            _ => {
                return Err(Error::failed(format!(
                    "{program} cannot inspect container `{}` (status {:?}): {}",
                    settings.container,
                    output.status,
                    output.stderr_lossy().trim()
                )));
            }
        };
        let now = match judge(settings.container, &state) {
            Ok(detail) | Err(detail) => detail,
        };
        Ok(vec![
            Step::note(format!("now: {now}")),
            Step::exec(
                shown(program, &settings.restart_args()),
                "restart the container",
            ),
            Step::exec(
                shown(program, &settings.inspect_args()),
                "expect it running, and healthy if it has a HEALTHCHECK",
            ),
            health_step(&settings.health),
        ])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let args = settings.restart_args();
        log::progress(10, &format!("restarting container {}", settings.container));
        let (program, output) = run(settings.programs(), &args)?;
        if !output.success() {
            return Err(Error::failed(format!(
                "{} failed (status {:?}): {}",
                shown(program, &args),
                output.status,
                output.stderr_lossy().trim()
            )));
        }
        log::progress(60, "restart issued");
        Ok(format!(
            "{}: {}",
            shown(program, &args),
            output.stdout_lossy().trim()
        ))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let settings = settings(incident)?;
        let deadline = Instant::now() + Duration::from_secs(settings.timeout_secs);
        let mut found: Option<&'static str> = None;
        loop {
            let programs = found.as_slice();
            let programs = if programs.is_empty() {
                settings.programs()
            } else {
                programs
            };
            let (program, state) = inspect(&settings, programs)?;
            found = Some(program);
            let outcome = match state {
                Ok(running) => {
                    check_health(&settings.health)?.map(|answer| format!("{running}; {answer}"))
                }
                Err(detail) => Err(detail),
            };
            match outcome {
                Ok(detail) => return Ok(Verdict::healthy(detail)),
                Err(detail) if Instant::now() >= deadline => {
                    return Ok(Verdict::unhealthy(format!(
                        "{detail} (after {}s)",
                        settings.timeout_secs
                    )));
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo: a restart has no inverse".to_string())
    }
}

medic_guest_sdk::export_remediation!(RestartContainer);

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(params: &[(&str, &str)]) -> Incident {
        Incident {
            id: "i-1".to_string(),
            source: "cli".to_string(),
            resource_kind: "container".to_string(),
            resource_id: "web".to_string(),
            issue_type: "service_down".to_string(),
            summary: String::new(),
            labels: Vec::new(),
            params: params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    #[test]
    fn arguments_put_the_endpoint_flag_first() {
        let check = |params: &[(&str, &str)], restart: &[&str], inspect: &[&str]| {
            let incident = incident(params);
            let settings = settings(&incident).unwrap();
            assert_eq!(settings.restart_args(), restart, "{params:?}");
            assert_eq!(settings.inspect_args(), inspect, "{params:?}");
        };
        let health = ("health_tcp", "127.0.0.1:8080");
        check(
            &[health],
            &["restart", "web"],
            &["container", "inspect", "--format", STATE_FORMAT, "web"],
        );
        check(
            &[
                health,
                ("endpoint", "tcp://127.0.0.1:2375"),
                ("container", "api"),
            ],
            &["-H", "tcp://127.0.0.1:2375", "restart", "api"],
            &[
                "-H",
                "tcp://127.0.0.1:2375",
                "container",
                "inspect",
                "--format",
                STATE_FORMAT,
                "api",
            ],
        );
        check(
            &[
                health,
                ("runtime", "podman"),
                ("endpoint", "unix:///run/podman/podman.sock"),
            ],
            &["--url", "unix:///run/podman/podman.sock", "restart", "web"],
            &[
                "--url",
                "unix:///run/podman/podman.sock",
                "container",
                "inspect",
                "--format",
                STATE_FORMAT,
                "web",
            ],
        );
    }

    #[test]
    fn settings_refuse_what_cannot_work() {
        let check = |params: &[(&str, &str)], expected: &str| {
            assert_eq!(
                settings(&incident(params)),
                Err(Error::invalid_input(expected)),
                "{params:?}"
            );
        };
        check(&[], "no health check: set `health_url` or `health_tcp`");
        check(
            &[("health_tcp", "127.0.0.1")],
            "`health_tcp` must be host:port, got `127.0.0.1`",
        );
        check(
            &[
                ("health_tcp", "127.0.0.1:80"),
                ("health_timeout_secs", "101"),
            ],
            "`health_timeout_secs` must be a number of seconds up to 100, got `101`",
        );
        check(
            &[("health_tcp", "127.0.0.1:80"), ("runtime", "lxc")],
            "unknown runtime `lxc`: expected `docker` or `podman`",
        );
        check(
            &[("health_tcp", "127.0.0.1:80"), ("runtime", "podman")],
            PODMAN_NEEDS_ENDPOINT,
        );
    }

    #[test]
    fn a_container_is_healthy_only_running_and_not_held_back_by_its_healthcheck() {
        let check = |stdout: &str, expected: Result<&str, &str>| {
            let state = parse_state(stdout).unwrap();
            assert_eq!(
                judge("web", &state),
                expected.map(str::to_string).map_err(str::to_string),
                "{stdout:?}"
            );
        };
        check("running \n", Ok("container web is running"));
        check(
            "running healthy\n",
            Ok("container web is running (healthy)"),
        );
        check(
            "running unhealthy\n",
            Err("container web is running but its HEALTHCHECK says unhealthy"),
        );
        check(
            "running starting\n",
            Err("container web is running but its HEALTHCHECK says starting"),
        );
        check("exited \n", Err("container web is exited"));
        check("restarting \n", Err("container web is restarting"));
        assert_eq!(parse_state(" \n"), None);
    }
}
