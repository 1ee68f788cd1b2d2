//! A stand-in for the Kubernetes API server on loopback, holding one Deployment: just the
//! endpoints the real `kubectl` calls for `rollout restart` and `rollout status`, found by
//! running kubectl against it with `-v=8` (discovery, get, strategic-merge patch, list and
//! a watch streamed with chunked encoding). No cluster runs on the machines medic is tested
//! on, so the tests drive the real kubectl against this instead; it records every request.
//!
//! Its one controller step: a patch of the pod template bumps the generation and starts a
//! rollout, one of two new replicas updated. With [`Rollout::Completes`] the watch then
//! streams the Deployment fully rolled out; with [`Rollout::Stalls`] it streams nothing
//! and kubectl waits until its timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// What the stand-in's controller does with a rollout once the pod template changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    /// The new replicas come up: the watch reports the rollout finished.
    Completes,
    /// One new replica never becomes available: the watch stays silent.
    Stalls,
}

/// Replicas the Deployment asks for.
const REPLICAS: u64 = 2;
/// The server version kubectl (and gcloud's kubectl dispatcher) is told.
const VERSION: &str =
    r#"{"major":"1","minor":"32","gitVersion":"v1.32.4","platform":"linux/amd64"}"#;
/// The largest request body read.
const MAX_BODY: usize = 1 << 20;

/// The one Deployment and what was done to it.
#[derive(Debug)]
struct Deployment {
    namespace: String,
    name: String,
    generation: u64,
    resource_version: u64,
    /// The pod template's `kubectl.kubernetes.io/restartedAt`, once patched.
    restarted_at: Option<String>,
    /// Whether the current generation has finished rolling out.
    rolled_out: bool,
}

impl Deployment {
    fn object(&self) -> Value {
        let mut template_annotations = serde_json::Map::new();
        if let Some(at) = &self.restarted_at {
            template_annotations.insert("kubectl.kubernetes.io/restartedAt".into(), json!(at));
        }
        let (updated, total, available) = if self.rolled_out {
            (REPLICAS, REPLICAS, REPLICAS)
        } else {
            (1, REPLICAS + 1, REPLICAS)
        };
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": "5c1b7c1e-0000-4000-8000-000000000001",
                "generation": self.generation,
                "resourceVersion": self.resource_version.to_string(),
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "annotations": {"deployment.kubernetes.io/revision": self.generation.to_string()},
            },
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": {"app": self.name}},
                "strategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": {"app": self.name}, "annotations": template_annotations},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}]},
                },
            },
            "status": {
                "observedGeneration": self.generation,
                "replicas": total,
                "updatedReplicas": updated,
                "readyReplicas": available,
                "availableReplicas": available,
                "conditions": [{
                    "type": "Progressing",
                    "status": "True",
                    "reason": if self.rolled_out { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                }],
            },
        })
    }
}

#[derive(Debug)]
struct State {
    deployment: Deployment,
    rollout: Rollout,
    hits: Vec<String>,
    patches: Vec<String>,
}

/// A running stand-in on 127.0.0.1 and an ephemeral port; stops when dropped.
pub struct KubeApi {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KubeApi {
    /// Serve the Deployment `namespace/name`, rolled out at generation 1.
    pub fn start(namespace: &str, name: &str, rollout: Rollout) -> KubeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let state = Arc::new(Mutex::new(State {
            deployment: Deployment {
                namespace: namespace.to_string(),
                name: name.to_string(),
                generation: 1,
                resource_version: 100,
                restarted_at: None,
                rolled_out: true,
            },
            rollout,
            hits: Vec::new(),
            patches: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let state = state.clone();
                        // A watch holds its connection open: every connection gets a thread.
                        std::thread::spawn(move || {
                            let _ = serve(stream, &state);
                        });
                    }
                }
            })
        };
        KubeApi {
            address,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for kubectl's `--server`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.address.port())
    }

    /// Every request so far, as `METHOD /path?query`.
    pub fn hits(&self) -> Vec<String> {
        self.state.lock().expect("state").hits.clone()
    }

    /// Every PATCH body so far.
    pub fn patches(&self) -> Vec<String> {
        self.state.lock().expect("state").patches.clone()
    }

    /// The Deployment's generation: 1 until its pod template changes.
    pub fn generation(&self) -> u64 {
        self.state.lock().expect("state").deployment.generation
    }

    /// The pod template's `kubectl.kubernetes.io/restartedAt`, once a restart set it.
    pub fn restarted_at(&self) -> Option<String> {
        self.state
            .lock()
            .expect("state")
            .deployment
            .restarted_at
            .clone()
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What one request gets.
enum Answer {
    /// A whole JSON body with this status.
    Json(u16, Value),
    /// A raw JSON body (the version).
    Text(u16, &'static str),
    /// A watch: these events, then the connection held until the client goes.
    Watch(Vec<Value>),
}

/// Serve requests on one connection until the client closes it.
fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length.min(MAX_BODY)];
        reader.read_exact(&mut body)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let answer = {
            let mut state = state.lock().expect("state");
            state.hits.push(format!("{method} {target}"));
            answer(&mut state, &method, &target, &body)
        };
        match answer {
            Answer::Json(status, value) => respond(&mut writer, status, &value.to_string())?,
            Answer::Text(status, text) => respond(&mut writer, status, text)?,
            Answer::Watch(events) => {
                write!(
                    writer,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )?;
                for event in events {
                    let line = format!("{event}\n");
                    write!(writer, "{:x}\r\n{line}\r\n", line.len())?;
                }
                writer.flush()?;
                // Held open, as a real watch is, until kubectl has what it waited for
                // (or gives up) and closes the connection.
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
                return Ok(());
            }
        }
    }
}

fn respond(writer: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    write!(
        writer,
        "HTTP/1.1 {status} Stand-in\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    writer.flush()
}

fn answer(state: &mut State, method: &str, target: &str, body: &str) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let deployment = &state.deployment;
    let collection = format!(
        "/apis/apps/v1/namespaces/{}/deployments",
        deployment.namespace
    );
    let object = format!("{collection}/{}", deployment.name);
    match (method, path) {
        ("GET", "/version") => Answer::Text(200, VERSION),
        ("GET", "/api") => Answer::Json(200, json!({"kind": "APIVersions", "versions": ["v1"]})),
        ("GET", "/apis") => Answer::Json(
            200,
            json!({
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [{
                    "name": "apps",
                    "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
                }],
            }),
        ),
        ("GET", "/api/v1") => Answer::Json(
            200,
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": []}),
        ),
        ("GET", "/apis/apps/v1") => Answer::Json(
            200,
            json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": "apps/v1",
                "resources": [{
                    "name": "deployments",
                    "singularName": "deployment",
                    "namespaced": true,
                    "kind": "Deployment",
                    "verbs": ["get", "list", "watch", "patch"],
                    "shortNames": ["deploy"],
                }],
            }),
        ),
        ("GET", p) if p == object => Answer::Json(200, deployment.object()),
        ("GET", p) if p == collection && query.contains("watch=true") => {
            let events = match state.rollout {
                Rollout::Stalls => Vec::new(),
                Rollout::Completes if !deployment.rolled_out => {
                    let deployment = &mut state.deployment;
                    deployment.rolled_out = true;
                    deployment.resource_version += 1;
                    vec![json!({"type": "MODIFIED", "object": deployment.object()})]
                }
                Rollout::Completes => Vec::new(),
            };
            Answer::Watch(events)
        }
        ("GET", p) if p == collection => Answer::Json(
            200,
            json!({
                "kind": "DeploymentList",
                "apiVersion": "apps/v1",
                "metadata": {"resourceVersion": deployment.resource_version.to_string()},
                "items": [deployment.object()],
            }),
        ),
        ("PATCH", p) if p == object => {
            state.patches.push(body.to_string());
            let restarted_at = serde_json::from_str::<Value>(body).ok().and_then(|patch| {
                patch["spec"]["template"]["metadata"]["annotations"]
                    ["kubectl.kubernetes.io/restartedAt"]
                    .as_str()
                    .map(str::to_string)
            });
            let deployment = &mut state.deployment;
            if restarted_at.is_some() && restarted_at != deployment.restarted_at {
                deployment.restarted_at = restarted_at;
                deployment.generation += 1;
                deployment.rolled_out = false;
            }
            deployment.resource_version += 1;
            Answer::Json(200, deployment.object())
        }
        _ => Answer::Json(
            404,
            json!({
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": format!("the stand-in does not serve {method} {path}"),
                "reason": "NotFound",
                "code": 404,
            }),
        ),
    }
}
