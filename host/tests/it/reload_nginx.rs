//! reload-nginx against a real nginx (Debian's, `/usr/sbin/nginx`), started here with a
//! configuration in a directory under /tmp, on a loopback port: a candidate that passes
//! `nginx -t` is installed and reloaded; one nginx rejects is refused and never reloaded;
//! one that passes the test but breaks the health URL is rolled back and nginx serves the
//! previous configuration again.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use medic_tests::{Medic, RunResult};

use super::{
    assert_bundled_manifest, assert_bundled_scenarios_pass, assert_healed, free_port, medic,
};

const NGINX: &str = "/usr/sbin/nginx";

/// An nginx master of our own, serving `GET /health` on a loopback port; stopped when
/// dropped. Its directory lies under /tmp, inside a root the default high ceiling grants.
struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    /// Start nginx with a configuration whose `/health` answers 200 `v1`.
    fn start() -> Option<Nginx> {
        if !Path::new(NGINX).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "nginx is not installed; scripts/setup installs it (apt-get install nginx-light)"
            );
            eprintln!(
                "SKIPPED: nginx is not installed (apt-get install nginx-light); the reload-nginx tests need it"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("medic-nginx-")
            .tempdir_in("/tmp")
            .unwrap();
        let nginx = Nginx {
            dir,
            port: free_port(),
        };
        std::fs::write(nginx.config(), nginx.config_text("return 200 \"v1\\n\";")).unwrap();
        let status = Command::new(NGINX)
            .arg("-c")
            .arg(nginx.config())
            .status()
            .unwrap();
        assert!(status.success(), "nginx started");
        nginx.wait_for("200 v1");
        Some(nginx)
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A whole configuration whose `location /health` does `health`; everything nginx
    /// writes stays in the directory.
    fn config_text(&self, health: &str) -> String {
        let root = self.dir.path().display();
        format!(
            "pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\nhttp {{\n    access_log off;\n    \
             client_body_temp_path {root}/body;\n    proxy_temp_path {root}/proxy;\n    fastcgi_temp_path {root}/fastcgi;\n    \
             uwsgi_temp_path {root}/uwsgi;\n    scgi_temp_path {root}/scgi;\n    \
             server {{\n        listen 127.0.0.1:{};\n        location /health {{ {health} }}\n    }}\n}}\n",
            self.port
        )
    }

    /// `STATUS BODY` of `GET /health`, or the error.
    fn health(&self) -> String {
        let answer = || -> std::io::Result<String> {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            let status = response.split_whitespace().nth(1).unwrap_or_default();
            let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
            Ok(format!("{status} {}", body.trim()))
        };
        answer().unwrap_or_else(|error| format!("error: {error}"))
    }

    /// Wait until `GET /health` answers `expected` (nginx applies a reload asynchronously).
    fn wait_for(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.health();
            if answer == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx answered `{answer}`, not `{expected}`, for 10s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn master_pid(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nginx.pid")).unwrap()
    }

    /// Stage `text` as a candidate beside the configuration; returns its path.
    fn stage(&self, text: &str) -> String {
        let path = self.path("nginx.conf.next");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn incident(&self, medic: &Medic, id: &str, candidate: &str) -> PathBuf {
        medic.incident_for(
            id,
            "service",
            "config_reload_failed",
            &[
                ("config_dir", &self.dir.path().display().to_string()),
                ("config", &self.config().display().to_string()),
                ("candidate", candidate),
                (
                    "health_url",
                    &format!("http://127.0.0.1:{}/health", self.port),
                ),
                ("health_timeout_secs", "3"),
            ],
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT to the master by its pid, not `nginx -s quit`, which needs a configuration
        // that parses. The master removes its pid file as it exits: wait for that, so no
        // nginx outlives the test and its directory is not removed under it.
        let pid_file = self.dir.path().join("nginx.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|pid| pid.trim().parse().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGQUIT,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn run(medic: &Medic, incident: &Path, extra: &[&str]) -> RunResult {
    let incident = incident.display().to_string();
    let mut args = vec!["run", "reload-nginx", "--incident", &incident, "--json"];
    args.extend_from_slice(extra);
    medic.run(&args)
}

/// The targets of the run's allowed exec calls, in order.
fn programs_run(report: &serde_json::Value) -> Vec<String> {
    report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["capability"] == "exec" && call["allowed"] == true)
        .map(|call| {
            format!(
                "{} {}",
                call["operation"].as_str().unwrap(),
                call["target"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn reload_nginx_installs_a_candidate_that_passes_nginx_t_and_reloads() {
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let medic = medic();
    let before = std::fs::read_to_string(nginx.config()).unwrap();
    let next = nginx.config_text("return 200 \"v2\\n\";");
    let candidate = nginx.stage(&next);
    let incident = nginx.incident(&medic, "nginx-1", &candidate);

    let plan = run(&medic, &incident, &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json()["status"], "planned");
    assert_eq!(
        std::fs::read_to_string(nginx.config()).unwrap(),
        before,
        "a dry run changes nothing"
    );
    assert_eq!(nginx.health(), "200 v1");

    let report = assert_healed(&run(&medic, &incident, &[]));
    assert_eq!(std::fs::read_to_string(nginx.config()).unwrap(), next);
    assert_eq!(
        nginx.health(),
        "200 v2",
        "verify waited for the new workers"
    );
    let config = nginx.config().display().to_string();
    assert_eq!(
        programs_run(&report),
        [
            format!("apply {NGINX} -t -c {config}"),
            format!("apply {NGINX} -s reload -c {config}"),
        ]
    );
    assert!(
        !Path::new(&nginx.path("nginx.conf.medic-new")).exists(),
        "the staged copy was renamed into place"
    );
    medic.assert_audit_intact();
}

#[test]
fn reload_nginx_refuses_a_candidate_that_nginx_t_rejects() {
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let medic = medic();
    let before = std::fs::read_to_string(nginx.config()).unwrap();
    let master = nginx.master_pid();
    let candidate = nginx.stage(&nginx.config_text("proxy_pas http://127.0.0.1:1;"));
    let result = run(&medic, &nginx.incident(&medic, "nginx-2", &candidate), &[]);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back", "{report:#}");
    let config = nginx.config().display().to_string();
    assert_eq!(
        report["summary"],
        format!(
            "apply: failed: {NGINX} -t -c {config} failed (status Some(1)): [emerg] unknown directive \"proxy_pas\" in {config}:13; \
             put the previous {config} back, nginx was not reloaded; rolled back: nothing to undo: the previous {config} was put back before any reload"
        )
    );
    assert_eq!(
        programs_run(&report),
        [format!("apply {NGINX} -t -c {config}")],
        "nginx was never told to reload"
    );
    assert_eq!(std::fs::read_to_string(nginx.config()).unwrap(), before);
    assert_eq!(nginx.master_pid(), master);
    assert_eq!(nginx.health(), "200 v1");
}

#[test]
fn reload_nginx_rolls_back_a_candidate_that_breaks_health() {
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let medic = medic();
    let before = std::fs::read_to_string(nginx.config()).unwrap();
    let candidate = nginx.stage(&nginx.config_text("return 503 \"v2 broken\\n\";"));
    let result = run(&medic, &nginx.incident(&medic, "nginx-3", &candidate), &[]);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back", "{report:#}");
    let config = nginx.config().display().to_string();
    assert_eq!(
        report["verdict"]["detail"],
        format!(
            "GET http://127.0.0.1:{}/health answered 503 (within 3s)",
            nginx.port
        )
    );
    assert_eq!(
        programs_run(&report),
        [
            format!("apply {NGINX} -t -c {config}"),
            format!("apply {NGINX} -s reload -c {config}"),
            format!("rollback {NGINX} -t -c {config}"),
            format!("rollback {NGINX} -s reload -c {config}"),
        ]
    );
    assert_eq!(std::fs::read_to_string(nginx.config()).unwrap(), before);
    nginx.wait_for("200 v1");
}

#[test]
fn reload_nginx_scenarios_pass() {
    assert_bundled_scenarios_pass("reload-nginx");
}

#[test]
fn reload_nginx_manifest_is_within_its_ceiling_and_explains_its_warnings() {
    assert_bundled_manifest("reload-nginx", &["http-any-path", "fs-read-write"]);
}
