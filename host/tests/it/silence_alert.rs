//! silence-alert, the Python example in `examples/python/silence-alert/`, built by
//! `medic build` and run against a real Alertmanager (Debian's
//! `/usr/bin/prometheus-alertmanager`), started here on a loopback port with its storage in
//! a temporary directory: the silence medic makes is the one Alertmanager shows, active,
//! with exactly the matchers asked for, and it mutes the alert it names and no other; when
//! verify cannot read it back, rollback expires it in Alertmanager. Its scenarios pass
//! under `medic test`, its native tests pass, and the `ceiling.toml` it ships is the one
//! `medic build` writes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use medic_tests::{Medic, Reply, Server};
use serde_json::{Value, json};

use super::{assert_healed, free_port, medic};

/// Debian's Alertmanager (`apt-get install prometheus-alertmanager`).
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
/// The example's name and folder.
const NAME: &str = "silence-alert";
/// The component `medic build` writes beside its manifest.
const COMPONENT: &str = "silence_alert.wasm";
/// How long Alertmanager may take to answer `/-/healthy` after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one request to Alertmanager may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What `medic build` made of the example, built once for every test here.
struct Built {
    /// `remediation.toml` with the component's sha256 pinned.
    manifest: String,
    /// The composed component.
    wasm: Vec<u8>,
    /// The ceiling drop-in `medic build` wrote.
    ceiling: String,
}

/// The example's source folder, in the repository.
fn example() -> PathBuf {
    medic_tests::workspace_root()
        .join("examples/python")
        .join(NAME)
}

/// The example built from a copy (the repository's copy stays as it is); `None` (the
/// test says SKIPPED) when componentize-py is not installed, outside CI.
fn built() -> Option<&'static Built> {
    static BUILT: OnceLock<Option<Built>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let Some(tools) = medic_tests::componentize_py_dir() else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "componentize-py is missing in CI: scripts/setup installs it"
                );
                eprintln!("SKIPPED: componentize-py is not installed (scripts/setup installs it)");
                return None;
            };
            let medic = medic();
            let dir = medic.root().join(NAME);
            copy_source(&example(), &dir);
            let path = medic_tests::path_with(&tools);
            let build = medic.run_with_env(
                &["build", &dir.display().to_string(), "--json"],
                &[("PATH", path.as_str())],
            );
            assert_eq!(build.code, 0, "{}\n{}", build.stdout, build.stderr);
            let report = build.json();
            assert_eq!(report["language"], "python", "{report:#}");
            assert_eq!(report["ceiling_drop_in"]["entries"], 2, "{report:#}");
            assert_eq!(report["check"]["ok"], true, "{report:#}");
            Some(Built {
                manifest: std::fs::read_to_string(dir.join("remediation.toml")).unwrap(),
                wasm: std::fs::read(dir.join(COMPONENT)).unwrap(),
                ceiling: std::fs::read_to_string(dir.join("ceiling.toml")).unwrap(),
            })
        })
        .as_ref()
}

/// Copy the example's sources from `from` into `to`: everything but a component or
/// Python cache left by a local build.
fn copy_source(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "__pycache__" || name.ends_with(".wasm") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_source(&entry.path(), &to.join(&*name));
        } else {
            std::fs::copy(entry.path(), to.join(&*name)).unwrap();
        }
    }
}

/// The built example installed in `medic`'s root, its `ceiling.toml` adopted as the
/// operator would (`ceilings.d/silence-alert.toml` beside `medic.toml`); its directory.
fn install(medic: &Medic, built: &Built) -> PathBuf {
    let dir = medic.root().join(NAME);
    copy_source(&example(), &dir);
    std::fs::write(dir.join("remediation.toml"), &built.manifest).unwrap();
    std::fs::write(dir.join(COMPONENT), &built.wasm).unwrap();
    std::fs::write(dir.join("ceiling.toml"), &built.ceiling).unwrap();
    medic.write_config("");
    let drop_ins = medic.config_path().parent().unwrap().join("ceilings.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    std::fs::write(drop_ins.join(format!("{NAME}.toml")), &built.ceiling).unwrap();
    dir
}

/// A flapping-alert incident naming the alert only by its labels, as medic's Alertmanager
/// intake gives them; its path.
fn incident(medic: &Medic, id: &str, alertmanager_url: &str) -> PathBuf {
    let incident = json!({
        "id": id, "source": "alertmanager",
        "resource": {"kind": "host", "id": "web-01:9100"},
        "issue_type": "alert_flapping",
        "summary": "HighLatency on web-01 fired and resolved 9 times in an hour",
        "labels": {"alertname": "HighLatency", "instance": "web-01:9100", "severity": "warning"},
        "params": {"alertmanager_url": alertmanager_url, "duration": "90m", "comment": "paging the owner"},
    });
    let path = medic.root().join(format!("{id}.json"));
    std::fs::write(&path, incident.to_string()).unwrap();
    path
}

/// An Alertmanager of our own on a loopback port, with no receivers to notify; killed
/// when dropped.
struct Alertmanager {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Start it and wait until it answers `/-/healthy`; `None` (the test says SKIPPED)
    /// when it is not installed, outside CI.
    fn start() -> Option<Alertmanager> {
        if !Path::new(ALERTMANAGER).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "Alertmanager is not installed; scripts/setup installs it (apt-get install prometheus-alertmanager)"
            );
            eprintln!(
                "SKIPPED: Alertmanager is not installed (apt-get install prometheus-alertmanager); the silence-alert tests need it"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("medic-alertmanager-")
            .tempdir()
            .unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: none\nreceivers:\n  - name: none\n",
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
        let port = free_port();
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut alertmanager = Alertmanager { child, port, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        while request(port, "GET", "/-/healthy", "")
            .ok()
            .map(|(status, _)| status)
            != Some(200)
        {
            let exited = alertmanager.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "Alertmanager did not answer /-/healthy ({exited:?}):\n{}",
                alertmanager.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(alertmanager)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// `path`'s JSON answer, which must be a 200.
    fn get(&self, path: &str) -> Value {
        let (status, body) = request(self.port, "GET", path, "").unwrap();
        assert_eq!(status, 200, "GET {path}: {body}\n{}", self.log());
        serde_json::from_str(&body).unwrap()
    }

    /// Every silence Alertmanager holds.
    fn silences(&self) -> Vec<Value> {
        self.get("/api/v2/silences").as_array().unwrap().clone()
    }

    /// Send alerts firing for an hour, each given by its labels.
    fn fire(&self, alerts: &[Value]) {
        let now = SystemTime::now();
        let alerts: Vec<Value> = alerts
            .iter()
            .map(|labels| {
                json!({
                    "labels": labels,
                    "startsAt": humantime::format_rfc3339_seconds(now).to_string(),
                    "endsAt": humantime::format_rfc3339_seconds(now + Duration::from_secs(3600)).to_string(),
                })
            })
            .collect();
        let body = Value::from(alerts).to_string();
        let (status, answer) = request(self.port, "POST", "/api/v2/alerts", &body).unwrap();
        assert_eq!(status, 200, "POST /api/v2/alerts: {answer}");
    }

    /// Each alert's `instance` label with its state (`active`, `suppressed`) and the
    /// silences muting it, sorted by instance.
    fn alert_states(&self) -> Vec<(String, String, Vec<String>)> {
        let mut states: Vec<(String, String, Vec<String>)> = self
            .get("/api/v2/alerts")
            .as_array()
            .unwrap()
            .iter()
            .map(|alert| {
                let silenced_by = alert["status"]["silencedBy"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| id.as_str().unwrap().to_string())
                    .collect();
                (
                    alert["labels"]["instance"].as_str().unwrap().to_string(),
                    alert["status"]["state"].as_str().unwrap().to_string(),
                    silenced_by,
                )
            })
            .collect();
        states.sort();
        states
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 request to `127.0.0.1:port` with a JSON body: the status and the body.
fn request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

/// The two alerts the tests fire: the flapping one, and the same alert on a neighbour the
/// silence must leave alone.
fn alerts() -> [Value; 2] {
    [
        json!({"alertname": "HighLatency", "instance": "web-01:9100", "severity": "warning"}),
        json!({"alertname": "HighLatency", "instance": "web-02:9100", "severity": "warning"}),
    ]
}

/// The silence ID in the last path segment of the run's verify request.
fn verified_id(report: &Value) -> String {
    let call = report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|call| call["operation"] == "verify" && call["capability"] == "http")
        .unwrap_or_else(|| panic!("no verify call in {report:#}"));
    let target = call["target"].as_str().unwrap();
    target.rsplit('/').next().unwrap().to_string()
}

fn seconds(rfc3339: &Value) -> f64 {
    humantime::parse_rfc3339(rfc3339.as_str().unwrap())
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn silence_alert_silences_exactly_the_flapping_alert_in_a_real_alertmanager() {
    let Some(built) = built() else { return };
    let Some(alertmanager) = Alertmanager::start() else {
        return;
    };
    let medic = medic();
    let dir = install(&medic, built);
    alertmanager.fire(&alerts());
    let incident = incident(&medic, "flapping-1", &alertmanager.url());

    let plan = medic.plan_remediation(&dir, &incident);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let steps: Vec<(String, String)> = plan.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["capability"].as_str().unwrap().to_string(),
                step["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let url = alertmanager.url();
    assert_eq!(
        steps,
        [
            ("http", format!("POST {url}/api/v2/silences")),
            ("http", format!("GET {url}/api/v2/silence/{{silenceID}}")),
            ("none", String::new()),
        ]
        .map(|(capability, target)| (capability.to_string(), target))
    );
    assert!(
        alertmanager.silences().is_empty(),
        "a dry run silences nothing"
    );

    let report = assert_healed(&medic.run_remediation(&dir, &incident));
    let id = verified_id(&report);
    let silences = alertmanager.silences();
    assert_eq!(silences.len(), 1, "{silences:#?}");
    let silence = &silences[0];
    assert_eq!(silence["id"], id.as_str(), "{silence:#}");
    assert_eq!(silence["status"]["state"], "active", "{silence:#}");
    assert_eq!(
        silence["matchers"],
        json!([
            {"name": "alertname", "value": "HighLatency", "isRegex": false, "isEqual": true},
            {"name": "instance", "value": "web-01:9100", "isRegex": false, "isEqual": true},
        ]),
        "{silence:#}"
    );
    assert_eq!(silence["createdBy"], "medic");
    assert_eq!(
        silence["comment"],
        "paging the owner (medic incident flapping-1)"
    );
    let lasts = seconds(&silence["endsAt"]) - seconds(&silence["startsAt"]);
    assert!(
        (90.0 * 60.0 - 5.0..=90.0 * 60.0).contains(&lasts),
        "the silence lasts {lasts}s, not 90m: {silence:#}"
    );
    assert_eq!(
        alertmanager.alert_states(),
        vec![
            (
                "web-01:9100".to_string(),
                "suppressed".to_string(),
                vec![id]
            ),
            ("web-02:9100".to_string(), "active".to_string(), vec![]),
        ],
        "the silence mutes the flapping alert and no other"
    );
}

#[test]
fn silence_alert_rollback_expires_the_silence_when_verify_cannot_read_it() {
    let Some(built) = built() else { return };
    let Some(alertmanager) = Alertmanager::start() else {
        return;
    };
    let medic = medic();
    let dir = install(&medic, built);
    alertmanager.fire(&alerts());
    // In front of Alertmanager: the first read of a silence (verify's) finds it
    // unavailable; every other request reaches Alertmanager as sent.
    let port = alertmanager.port;
    let reads = AtomicUsize::new(0);
    let front = Server::start(move |method, path, body| {
        if method == "GET"
            && path.starts_with("/api/v2/silence/")
            && reads.fetch_add(1, Ordering::SeqCst) == 0
        {
            return Reply::new(503, "unavailable");
        }
        let body = String::from_utf8_lossy(body);
        match request(port, method, path, &body) {
            Ok((status, answer)) => Reply::new(status, &answer),
            Err(error) => Reply::new(502, &error.to_string()),
        }
    });
    let incident = incident(&medic, "flapping-2", &front.url(""));

    let run = medic.run_remediation(&dir, &incident);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "rolled_back", "{report:#}");
    let id = verified_id(&report);
    let silence_path = format!("/api/v2/silence/{id}");
    assert_eq!(
        front.hits(),
        vec![
            "POST /api/v2/silences".to_string(),
            format!("GET {silence_path}"),
            format!("DELETE {silence_path}"),
        ]
    );
    assert_eq!(
        report["summary"]
            .as_str()
            .unwrap()
            .split_once("; verify failed: ")
            .unwrap()
            .1,
        format!(
            "GET {}{silence_path} answered 503: unavailable; rolled back: lifted silence {id}",
            front.url("")
        ),
        "{report:#}"
    );
    let silence = alertmanager.get(&silence_path);
    assert_eq!(silence["status"]["state"], "expired", "{silence:#}");
    assert_eq!(
        alertmanager.alert_states(),
        vec![
            ("web-01:9100".to_string(), "active".to_string(), vec![]),
            ("web-02:9100".to_string(), "active".to_string(), vec![]),
        ],
        "no alert stays muted"
    );
}

#[test]
fn silence_alert_passes_its_scenarios_and_ships_the_ceiling_medic_build_writes() {
    let Some(built) = built() else { return };
    assert_eq!(
        built.ceiling,
        std::fs::read_to_string(example().join("ceiling.toml")).unwrap(),
        "the example's ceiling.toml is the one `medic build` writes: rebuild it and commit it"
    );
    let medic = medic();
    let dir = medic.root().join(NAME);
    copy_source(&example(), &dir);
    std::fs::write(dir.join("remediation.toml"), &built.manifest).unwrap();
    std::fs::write(dir.join(COMPONENT), &built.wasm).unwrap();
    // No drop-in installed: `medic test` applies the remediation's own.
    let result = medic.run(&["test", &dir.display().to_string(), "--json"]);
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    let mut written: Vec<String> = std::fs::read_dir(example().join("scenarios"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut ran: Vec<String> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|scenario| {
            assert_eq!(scenario["passed"], true, "{scenario:#}");
            scenario["name"].as_str().unwrap().to_string()
        })
        .collect();
    ran.sort();
    assert_eq!(ran, written);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["unused_grants"], json!([]), "{report:#}");
    assert_eq!(
        report["ceiling_drop_in"],
        dir.join("ceiling.toml").display().to_string()
    );
}

#[test]
fn silence_alert_passes_its_native_tests() {
    // `-B`: no `__pycache__` is written into the repository's copy.
    let output = Command::new("/usr/bin/python3")
        .args(["-B", "-m", "unittest"])
        .current_dir(example())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().last(), Some("OK"), "{stderr}");
}

#[test]
fn silence_alert_vendors_the_sdk_and_contract_in_this_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let vendor = example().join("vendor");
    let mut pairs = vec![(root.join("wit/medic.wit"), vendor.join("wit/medic.wit"))];
    for entry in std::fs::read_dir(root.join("python/medic_guest")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "py") {
            let copy = vendor.join("medic_guest").join(path.file_name().unwrap());
            pairs.push((path, copy));
        }
    }
    for (source, copy) in pairs {
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap_or_default(),
            std::fs::read_to_string(&source).unwrap(),
            "{} differs from {}: copy it again",
            copy.display(),
            source.display()
        );
    }
}
