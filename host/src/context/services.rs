//! Service probes declared in medic.toml: TCP connect, HTTP GET with an expected status,
//! a process present by name, or a status command started by `process/` like every program
//! medic runs (absolute program, no shell, cleared environment, timeout, capped output,
//! nothing left running). HTTP probes use no proxy and follow no redirects.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Most output kept from a status command.
const COMMAND_OUTPUT_CAP: usize = 4096;

/// How a probe checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// `host:port` accepts a connection.
    Tcp(String),
    /// GET answers the expected status.
    Http {
        /// The URL.
        url: String,
        /// The status expected; any 2xx when unset.
        expect_status: Option<u16>,
    },
    /// A process with this name runs.
    Process(String),
    /// This command exits 0.
    Command(Vec<String>),
}

/// One `[[context.probes]]` entry.
#[derive(Debug, Clone)]
pub struct Probe {
    /// A label.
    pub name: String,
    /// The service it stands for, reported when it is down.
    pub service: Option<String>,
    /// The check.
    pub kind: ProbeKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProbe {
    name: String,
    service: Option<String>,
    tcp: Option<String>,
    http: Option<String>,
    expect_status: Option<u16>,
    process: Option<String>,
    command: Option<Vec<String>>,
}

pub(crate) fn parse_probe(raw: RawProbe) -> Result<Probe, String> {
    let kinds = [
        raw.tcp.is_some(),
        raw.http.is_some(),
        raw.process.is_some(),
        raw.command.is_some(),
    ];
    if kinds.iter().filter(|set| **set).count() != 1 {
        return Err(format!(
            "probe `{}` must set exactly one of `tcp`, `http`, `process`, `command`",
            raw.name
        ));
    }
    let kind = if let Some(address) = raw.tcp {
        ProbeKind::Tcp(address)
    } else if let Some(url) = raw.http {
        url::Url::parse(&url)
            .map_err(|error| format!("probe `{}`: `{url}` is not a URL: {error}", raw.name))?;
        ProbeKind::Http {
            url,
            expect_status: raw.expect_status,
        }
    } else if let Some(name) = raw.process {
        ProbeKind::Process(name)
    } else {
        let command = raw.command.unwrap_or_default();
        let program = command
            .first()
            .ok_or_else(|| format!("probe `{}`: `command` is empty", raw.name))?;
        if !program.starts_with('/') {
            return Err(format!(
                "probe `{}`: program `{program}` must be an absolute path (medic never searches PATH)",
                raw.name
            ));
        }
        ProbeKind::Command(command)
    };
    Ok(Probe {
        name: raw.name,
        service: raw.service,
        kind,
    })
}

/// One probe's answer.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// The probe's label.
    pub name: String,
    /// The service it stands for.
    pub service: Option<String>,
    /// The check.
    pub kind: ProbeKind,
    /// Healthy.
    pub up: bool,
    /// What was seen.
    pub detail: String,
    /// How long the check took.
    pub duration_ms: u64,
}

pub(crate) async fn run_probes(probes: &[Probe], timeout: Duration) -> Vec<ProbeResult> {
    futures::future::join_all(probes.iter().map(|probe| run_probe(probe, timeout))).await
}

async fn run_probe(probe: &Probe, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let (up, detail) = match tokio::time::timeout(timeout, check(&probe.kind, timeout)).await {
        Ok(result) => result,
        Err(_) => (
            false,
            format!("no answer within {}", humantime::format_duration(timeout)),
        ),
    };
    ProbeResult {
        name: probe.name.clone(),
        service: probe.service.clone(),
        kind: probe.kind.clone(),
        up,
        detail,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

async fn check(kind: &ProbeKind, timeout: Duration) -> (bool, String) {
    match kind {
        ProbeKind::Tcp(address) => match tokio::net::TcpStream::connect(address.as_str()).await {
            Ok(_) => (true, format!("{address} accepted a connection")),
            Err(error) => (false, format!("{address}: {error}")),
        },
        ProbeKind::Http { url, expect_status } => {
            #[expect(
                clippy::disallowed_methods,
                reason = "context/ probes may make read-only HTTP requests"
            )]
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build();
            let response = match client {
                Ok(client) => client
                    .get(url)
                    .send()
                    .await
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let up = expect_status
                        .map_or((200..300).contains(&status), |expected| expected == status);
                    (up, format!("GET {url} answered {status}"))
                }
                Err(error) => (false, format!("GET {url}: {error}")),
            }
        }
        ProbeKind::Process(name) => {
            let name = name.clone();
            let found = tokio::task::spawn_blocking(move || {
                let mut system = sysinfo::System::new();
                system.refresh_processes(sysinfo::ProcessesToUpdate::All, true);
                system
                    .processes_by_exact_name(std::ffi::OsStr::new(&name))
                    .count()
            })
            .await
            .unwrap_or(0);
            (
                found > 0,
                format!(
                    "{found} processes named `{}`",
                    match kind {
                        ProbeKind::Process(name) => name.as_str(),
                        _ => "",
                    }
                ),
            )
        }
        ProbeKind::Command(command) => {
            let (program, args) = command
                .split_first()
                .expect("parse_probe checked the command is not empty");
            match crate::process::run(crate::process::Spawn {
                program: crate::process::Program::Path(std::path::Path::new(program)),
                args,
                env: &[],
                timeout,
                output_cap: COMMAND_OUTPUT_CAP,
                stop: None,
            })
            .await
            {
                Ok(output) => {
                    let first = String::from_utf8_lossy(&output.stdout)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    (
                        output.status == Some(0),
                        format!(
                            "`{}` exited {:?}: {first}",
                            command.join(" "),
                            output.status
                        ),
                    )
                }
                Err(error) => (false, error.to_string()),
            }
        }
    }
}
