//! The bundled remediations, run for real through the sandbox on the embedded default
//! configuration against problems created here: an oversized log directory, a server
//! that needs a configuration reload, a supervised service that stopped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use medic_tests::{Medic, Reply, RunResult, Server};

use super::{assert_healed, medic};

/// A log directory under /tmp (the bundled manifest grants /tmp, not every temp dir).
fn log_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("medic-logs-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn write_aged(path: &Path, bytes: usize, days_old: u64) {
    std::fs::write(path, vec![b'x'; bytes]).unwrap();
    let mtime = std::time::SystemTime::now() - Duration::from_secs(days_old * 86_400);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

fn run_bundled(medic: &Medic, name: &str, incident: &Path, extra: &[&str]) -> RunResult {
    let incident = incident.display().to_string();
    let mut args = vec!["run", name, "--incident", incident.as_str(), "--json"];
    args.extend_from_slice(extra);
    medic.run(&args)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn free_disk_space_quarantines_oldest_rotated_files_until_under_budget() {
    let medic = medic();
    let logs = log_dir();
    let dir = logs.path();
    write_aged(&dir.join("app.log"), 100_000, 0);
    for day in 1..=5 {
        write_aged(&dir.join(format!("app.log.{day}")), 200_000, day);
    }
    write_aged(&dir.join("upload.tmp"), 50_000, 9);
    let before = names(dir);
    let incident = medic.incident_for(
        "disk-1",
        "host",
        "disk_full",
        &[("dir", &dir.display().to_string()), ("max_bytes", "500KB")],
    );

    // The run's root is exactly the incident's directory, held to the ceiling once bound.
    let outside = medic.incident_for(
        "disk-outside",
        "host",
        "disk_full",
        &[("dir", "/opt/elsewhere"), ("max_bytes", "500KB")],
    );
    let refused = run_bundled(&medic, "free-disk-space", &outside, &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("fs `/opt/elsewhere` (read-write) is beyond the operator's `medium` ceiling"),
        "{}",
        refused.stderr
    );

    let plan = run_bundled(&medic, "free-disk-space", &incident, &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan = plan.json();
    assert_eq!(plan["status"], "planned");
    let targets: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets.len(),
        5,
        "quarantine folder plus four moves: {targets:?}"
    );
    assert!(
        targets[1].starts_with(&format!("{}/upload.tmp ->", dir.display())),
        "oldest first: {targets:?}"
    );
    assert_eq!(names(dir), before, "a dry run changes nothing");

    let report = assert_healed(&run_bundled(&medic, "free-disk-space", &incident, &[]));
    assert_eq!(
        names(dir),
        [".medic-quarantine", "app.log", "app.log.1", "app.log.2"]
    );
    assert_eq!(
        names(&dir.join(".medic-quarantine").join("disk-1")),
        ["app.log.3", "app.log.4", "app.log.5", "upload.tmp"]
    );
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .contains("holds 500000 bytes")
    );
    medic.assert_audit_intact();
}

#[test]
fn free_disk_space_rolls_back_when_it_cannot_get_under_budget() {
    let medic = medic();
    let logs = log_dir();
    let dir = logs.path();
    write_aged(&dir.join("app.log"), 600_000, 0);
    write_aged(&dir.join("app.log.1"), 100_000, 1);
    let incident = medic.incident_for(
        "disk-2",
        "host",
        "disk_full",
        &[("dir", &dir.display().to_string()), ("max_bytes", "500KB")],
    );
    let result = run_bundled(&medic, "free-disk-space", &incident, &[]);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back");
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("moved 1 files back"),
        "{report:#}"
    );
    assert_eq!(names(dir), [".medic-quarantine", "app.log", "app.log.1"]);
    assert!(names(&dir.join(".medic-quarantine").join("disk-2")).is_empty());
}

/// A server with Prometheus's reload endpoints: `POST /-/reload` succeeds while its
/// configuration is valid, and `/api/v1/status/runtimeinfo` reports the outcome.
fn prometheus_like(config_valid: bool) -> Server {
    let state = Arc::new(Mutex::new((0u32, true)));
    Server::start(move |method, path, _| {
        let mut state = state.lock().unwrap();
        match (method, path) {
            ("POST", "/-/reload") if config_valid => {
                *state = (state.0 + 1, true);
                Reply::new(200, "")
            }
            ("POST", "/-/reload") => {
                state.1 = false;
                Reply::new(
                    500,
                    "failed to reload config: yaml: line 3: mapping values are not allowed",
                )
            }
            ("GET", "/api/v1/status/runtimeinfo") => Reply::new(
                200,
                &format!(
                    r#"{{"status":"success","data":{{"reloadConfigSuccess":{},"lastConfigTime":"2026-11-24T00:00:{:02}Z"}}}}"#,
                    state.1, state.0
                ),
            ),
            _ => Reply::new(404, "not found"),
        }
    })
}

#[test]
fn reload_config_reloads_and_confirms_through_the_status_endpoint() {
    let medic = medic();
    let server = prometheus_like(true);
    let incident = medic.incident_for(
        "reload-1",
        "service",
        "config_reload_failed",
        &[("admin_url", &server.url(""))],
    );
    let report = assert_healed(&run_bundled(&medic, "reload-config", &incident, &[]));
    assert_eq!(
        server.hits(),
        [
            "GET /api/v1/status/runtimeinfo",
            "POST /-/reload",
            "GET /api/v1/status/runtimeinfo"
        ]
    );
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .contains("2026-11-24T00:00:01Z")
    );
}

#[test]
fn reload_config_reports_a_failed_reload() {
    let medic = medic();
    let server = prometheus_like(false);
    let incident = medic.incident_for(
        "reload-2",
        "service",
        "config_reload_failed",
        &[("admin_url", &server.url(""))],
    );
    let result = run_bundled(&medic, "reload-config", &incident, &[]);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back");
    assert!(
        report["summary"].as_str().unwrap().contains("answered 500"),
        "{report:#}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A supervisord of our own, on loopback, with one program `web` (a Python HTTP server)
/// that is stopped: the incident. Shut down when dropped.
struct Supervisor {
    config: PathBuf,
    url: String,
    web_port: u16,
    _dir: tempfile::TempDir,
}

impl Supervisor {
    fn start() -> Option<Supervisor> {
        if !Path::new("/usr/bin/supervisord").exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "supervisor is not installed; .ci/run installs it (apt-get install supervisor)"
            );
            eprintln!(
                "SKIPPED: supervisor is not installed (apt-get install supervisor); the restart-service test needs it"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (port, web_port) = (free_port(), free_port());
        let config = dir.path().join("supervisord.conf");
        let root = dir.path().display();
        std::fs::write(
            &config,
            format!(
                "[inet_http_server]\nport = 127.0.0.1:{port}\n\n[supervisord]\nlogfile = {root}/supervisord.log\npidfile = {root}/supervisord.pid\nchildlogdir = {root}\n\n\
                 [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
                 [supervisorctl]\nserverurl = http://127.0.0.1:{port}\n\n\
                 [program:web]\ncommand = /usr/bin/python3 -m http.server {web_port} --bind 127.0.0.1\ndirectory = {root}\nautostart = false\nstartsecs = 0\n"
            ),
        )
        .unwrap();
        let status = Command::new("/usr/bin/supervisord")
            .arg("-c")
            .arg(&config)
            .status()
            .unwrap();
        assert!(status.success(), "supervisord started");
        let supervisor = Supervisor {
            config,
            url: format!("http://127.0.0.1:{port}"),
            web_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !supervisor.ctl(&["status", "web"]).contains("STOPPED") {
            assert!(Instant::now() < deadline, "supervisord answered within 10s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(supervisor)
    }

    fn ctl(&self, args: &[&str]) -> String {
        let output = Command::new("/usr/bin/supervisorctl")
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.ctl(&["shutdown"]);
    }
}

#[test]
fn restart_service_restarts_a_stopped_supervised_program_and_checks_health() {
    let Some(supervisor) = Supervisor::start() else {
        return;
    };
    let medic = medic();
    let health = format!("http://127.0.0.1:{}/", supervisor.web_port);
    let incident = medic.incident_for(
        "restart-1",
        "service",
        "service_down",
        &[
            ("service", "web"),
            ("supervisor_url", &supervisor.url),
            ("health_url", &health),
        ],
    );
    let report = assert_healed(&run_bundled(&medic, "restart-service", &incident, &[]));
    assert!(supervisor.ctl(&["status", "web"]).contains("RUNNING"));
    let calls = report["host_calls"].as_array().unwrap();
    assert_eq!(
        calls[0]["target"],
        format!("/usr/bin/supervisorctl -s {} restart web", supervisor.url)
    );
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .contains("answered 200"),
        "{report:#}"
    );

    // A value outside the declared pattern never reaches the guest: refused as input,
    // before anything runs.
    let hostile = medic.incident_for(
        "restart-2",
        "service",
        "service_down",
        &[
            ("service", "web;reboot"),
            ("supervisor_url", &supervisor.url),
            ("health_url", &health),
        ],
    );
    let runs_before = medic.run(&["audit", "show", "--all", "--json"]).json();
    let refused = run_bundled(&medic, "restart-service", &hostile, &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("parameter `service` = `web;reboot` (from the incident) does not match"),
        "{}",
        refused.stderr
    );
    let runs_after = medic.run(&["audit", "show", "--all", "--json"]).json();
    assert_eq!(runs_before, runs_after, "nothing ran, nothing was recorded");
}
