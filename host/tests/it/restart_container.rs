//! restart-container against a real container engine: podman (as root) runs a busybox
//! container from a root filesystem made here, and serves its API (`podman system
//! service`, Docker-compatible) on a loopback port. The bundled remediation restarts the
//! stopped container through the real docker CLI and through podman's own CLI, both
//! talking to that service, and checks it with `container inspect` and its health URL.
//!
//! The container runs with runc and explicit file and process limits: the test machines'
//! kernel refuses crun's cgroup setup and the default limits podman asks for.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use medic_tests::{Medic, RunResult};

use super::{
    assert_bundled_manifest, assert_bundled_scenarios_pass, assert_healed, free_port, medic,
};

const PODMAN: &str = "/usr/bin/podman";
const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/bin/busybox";
/// Where Debian's docker.io puts the docker CLI, then where Docker's own builds do.
const DOCKER: &[&str] = &["/usr/bin/docker", "/usr/local/bin/docker"];

/// A podman API service on loopback and one stopped container, `httpd` serving `/health`;
/// all removed when dropped.
struct Engine {
    service: Child,
    endpoint: String,
    container: String,
    image: String,
    health_port: u16,
    _dir: tempfile::TempDir,
}

impl Engine {
    fn start(name: &str) -> Option<Engine> {
        let missing: Vec<&str> = [PODMAN, RUNC, BUSYBOX]
            .into_iter()
            .filter(|program| !Path::new(program).exists())
            .collect();
        if !missing.is_empty() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{missing:?} missing; scripts/setup installs them (apt-get install podman runc busybox-static)"
            );
            eprintln!(
                "SKIPPED: {missing:?} not installed (apt-get install podman runc busybox-static); the restart-container tests need them"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::create_dir_all(rootfs.join("www")).unwrap();
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        std::fs::write(rootfs.join("www/health"), "ok\n").unwrap();
        let tarball = dir.path().join("rootfs.tar");
        podman_ok(
            Command::new("/usr/bin/tar")
                .arg("-cf")
                .arg(&tarball)
                .arg("-C")
                .arg(&rootfs)
                .arg("."),
        );
        let unique = format!("medic-test-{name}-{}", std::process::id());
        let image = format!("localhost/{unique}:latest");
        podman_ok(Command::new(PODMAN).arg("import").arg(&tarball).arg(&image));
        let health_port = free_port();
        let container = unique.clone();
        podman_ok(Command::new(PODMAN).args([
            "--runtime",
            RUNC,
            "run",
            "--detach",
            "--name",
            &container,
            "--network",
            "host",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            &image,
            "/bin/busybox",
            "httpd",
            "-f",
            "-p",
            &format!("127.0.0.1:{health_port}"),
            "-h",
            "/www",
        ]));
        // The incident: the container stopped.
        podman_ok(Command::new(PODMAN).args(["stop", "--time", "0", &container]));
        let api_port = free_port();
        let service = Command::new(PODMAN)
            .args([
                "system",
                "service",
                "--time=0",
                &format!("tcp:127.0.0.1:{api_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let engine = Engine {
            service,
            endpoint: format!("tcp://127.0.0.1:{api_port}"),
            container,
            image,
            health_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "podman's API service listened within 30s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(engine.state(), "exited");
        Some(engine)
    }

    /// The container's status as podman itself reports it.
    fn state(&self) -> String {
        let output = Command::new(PODMAN)
            .args([
                "container",
                "inspect",
                "--format",
                "{{.State.Status}}",
                &self.container,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn incident(&self, medic: &Medic, id: &str, params: &[(&str, &str)]) -> PathBuf {
        let mut all = vec![
            ("container", self.container.as_str()),
            ("endpoint", self.endpoint.as_str()),
            ("health_timeout_secs", "10"),
        ];
        all.extend_from_slice(params);
        medic.incident_for(id, "container", "service_down", &all)
    }

    fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}/health", self.health_port)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = Command::new(PODMAN)
            .args(["rm", "--force", "--time", "0", &self.container])
            .output();
        let _ = Command::new(PODMAN).args(["rmi", &self.image]).output();
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}

/// Run `command` (podman or tar) and insist it succeeded.
fn podman_ok(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run(medic: &Medic, incident: &Path, extra: &[&str]) -> RunResult {
    let incident = incident.display().to_string();
    let mut args = vec![
        "run",
        "restart-container",
        "--incident",
        &incident,
        "--json",
    ];
    args.extend_from_slice(extra);
    medic.run(&args)
}

/// The targets of the run's allowed exec calls that found their program, in order.
fn programs_run(report: &serde_json::Value) -> Vec<String> {
    report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| {
            call["capability"] == "exec"
                && call["allowed"] == true
                && !call["result"].as_str().unwrap().starts_with("not found")
        })
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
fn restart_container_starts_a_stopped_container_through_the_docker_cli() {
    let Some(docker) = DOCKER.iter().find(|path| Path::new(path).exists()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the docker CLI is not installed"
        );
        eprintln!(
            "SKIPPED: the docker CLI is not installed; the docker half of restart-container's test needs it"
        );
        return;
    };
    let Some(engine) = Engine::start("docker") else {
        return;
    };
    let medic = medic();
    let incident = engine.incident(
        &medic,
        "container-1",
        &[("health_url", &engine.health_url())],
    );

    let plan = run(&medic, &incident, &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json()["status"], "planned");
    assert_eq!(engine.state(), "exited", "a dry run changes nothing");

    let report = assert_healed(&run(&medic, &incident, &[]));
    assert_eq!(engine.state(), "running");
    let format = "\"{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}\"";
    let (endpoint, container) = (&engine.endpoint, &engine.container);
    assert_eq!(
        programs_run(&report),
        [
            format!("plan {docker} -H {endpoint} container inspect --format {format} {container}"),
            format!("apply {docker} -H {endpoint} restart {container}"),
            format!(
                "verify {docker} -H {endpoint} container inspect --format {format} {container}"
            ),
        ]
    );
    assert_eq!(
        report["verdict"]["detail"],
        format!(
            "container {container} is running; GET {} answered 200",
            engine.health_url()
        )
    );
    medic.assert_audit_intact();
}

#[test]
fn restart_container_through_podman_reports_a_health_check_that_never_answers() {
    let Some(engine) = Engine::start("podman") else {
        return;
    };
    let medic = medic();
    let nothing_listens = format!("127.0.0.1:{}", free_port());
    let incident = engine.incident(
        &medic,
        "container-2",
        &[
            ("runtime", "podman"),
            ("health_tcp", &nothing_listens),
            ("health_timeout_secs", "2"),
        ],
    );
    let result = run(&medic, &incident, &[]);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back", "{report:#}");
    let (endpoint, container) = (&engine.endpoint, &engine.container);
    assert_eq!(
        programs_run(&report)[..2],
        [
            format!(
                "plan {PODMAN} --url {endpoint} container inspect --format \"{{{{.State.Status}}}} {{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{end}}}}\" {container}"
            ),
            format!("apply {PODMAN} --url {endpoint} restart {container}"),
        ]
    );
    assert_eq!(
        report["verdict"]["detail"],
        format!(
            "{nothing_listens}: connect to {nothing_listens}: Connection refused (os error 111) (after 2s)"
        )
    );
    assert_eq!(
        report["calls"][3]["detail"],
        "nothing to undo: a restart has no inverse"
    );
    // Restarted through the API service, the container outlives medic's call.
    assert_eq!(engine.state(), "running");
}

#[test]
fn restart_container_scenarios_pass() {
    assert_bundled_scenarios_pass("restart-container");
}

#[test]
fn restart_container_manifest_is_within_its_ceiling_and_explains_its_warnings() {
    assert_bundled_manifest("restart-container", &["http-any-path"]);
}
