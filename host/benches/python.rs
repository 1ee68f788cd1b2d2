//! What a Python remediation costs to start, beside the same remediation in Rust and
//! `/usr/bin/python3 -c pass` (the system interpreter, never a pyenv shim), in one run:
//!
//! - `medic build` of each (componentize-py + composition for Python, cargo for Rust);
//! - the first run's compile (no cache), and loading from the authenticated cache;
//! - warm: instantiate the prepared component and call `plan`, in process;
//! - a whole `medic run --dry-run` process with the component cached.
//!
//! Both remediations are the skeleton `medic new` writes (the same logic in each
//! language). Needs componentize-py (`scripts/setup` installs it in `target/py-tools`).
//! Run with `cargo bench -p medic-host --bench python`.
#![expect(
    clippy::disallowed_methods,
    reason = "the bench spawns medic, cargo and python"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use medic::incident::parse_incident;
use medic::manifest::load_manifest;
use medic::sandbox::{
    CacheKey, CallContext, CallOutcome, Operation, RunBudget, RunContext, Sandbox, Scope,
};
use medic::stop::StopSignal;
use medic::store::audit::AuditLog;
use medic::store::checkpoints::Checkpoints;
use medic::store::data_dir::DataDir;
use medic::store::db::Database;

const MEDIC: &str = env!("CARGO_BIN_EXE_medic");

fn measure(name: &str, iterations: usize, mut run: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{name:<52} median {median:>10.1?}  max {:>10.1?}  ({iterations} runs)",
        samples[samples.len() - 1]
    );
    median
}

struct Built {
    dir: PathBuf,
    wasm: Vec<u8>,
}

fn build(parent: &Path, data_dir: &Path, name: &str, lang: &str, path: &str) -> Built {
    let status = Command::new(MEDIC)
        .args(["new", "remediation", name, "--lang", lang, "--dir"])
        .arg(parent)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let dir = parent.join(name);
    let started = Instant::now();
    let output = Command::new(MEDIC)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("build")
        .arg(&dir)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "{:<52} {:>10.1?}  (once)",
        format!("`medic build`, {lang}"),
        started.elapsed()
    );
    let manifest = load_manifest(&dir).unwrap();
    let wasm = std::fs::read(dir.join(&manifest.component)).unwrap();
    Built { dir, wasm }
}

fn main() {
    let Some(tools) = medic_tests::componentize_py_dir() else {
        println!("componentize-py is not installed: run scripts/setup");
        return;
    };
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // medic refuses a data directory a ceiling root (such as /tmp) contains.
    let parent = dirs::home_dir().unwrap().join(".cache/medic-bench");
    std::fs::create_dir_all(&parent).unwrap();
    let work = tempfile::tempdir_in(&parent).unwrap();
    let data_dir = work.path().join("data");
    let rust = build(work.path(), &data_dir, "bench-rust", "rust", &path);
    let python = build(work.path(), &data_dir, "bench-python", "python", &path);
    println!(
        "component sizes: rust {} bytes, python {} bytes",
        rust.wasm.len(),
        python.wasm.len()
    );

    let state = DataDir::open(&data_dir).unwrap();
    let db = Database::open(&state).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let incident_text = r#"{"id":"bench","source":"cli","resource":{"kind":"service","id":"web"},"issue_type":"config_reload_failed","params":{"base_url":"http://127.0.0.1:9"}}"#;
    let incident_path = work.path().join("incident.json");
    std::fs::write(&incident_path, incident_text).unwrap();
    let incident = parse_incident(incident_text, Path::new("incident.json")).unwrap();
    let mut figures = Vec::new();
    for (lang, built, compiles) in [("rust", &rust, 5), ("python", &python, 3)] {
        let manifest = Arc::new(load_manifest(&built.dir).unwrap());
        let uncached = Sandbox::new(None).unwrap();
        let compile = measure(
            &format!("{lang}: first run, compile + link"),
            compiles,
            || {
                uncached
                    .prepare(manifest.clone(), &built.wasm, &StopSignal::new())
                    .unwrap();
            },
        );
        let cached = Sandbox::new(Some(CacheKey {
            dir: state.compiled_dir(),
            key: state.key("cache").unwrap(),
        }))
        .unwrap();
        let prepared = cached
            .prepare(manifest.clone(), &built.wasm, &StopSignal::new())
            .unwrap();
        let load = measure(
            &format!("{lang}: from the compiled cache, load + link"),
            10,
            || {
                cached
                    .prepare(manifest.clone(), &built.wasm, &StopSignal::new())
                    .unwrap();
            },
        );
        let context = || CallContext {
            run: RunContext {
                run_id: "bench".to_string(),
                incident_id: "bench".to_string(),
            },
            audit: AuditLog::new(db.clone()),
            checkpoints: Checkpoints::new(db.clone(), "bench", &manifest.sha256),
            rates: medic::store::rates::Rates::new(db.clone()),
            scope: Arc::new(Scope::default()),
            run_budget: RunBudget::new(),
            stop: StopSignal::new(),
        };
        let warm = measure(
            &format!("{lang}: warm, instantiate + call plan"),
            100,
            || {
                let report =
                    runtime.block_on(cached.call(&prepared, Operation::Plan, &incident, context()));
                assert!(
                    matches!(report.outcome, CallOutcome::Steps(_)),
                    "{:?}",
                    report.outcome
                );
            },
        );
        let dir = built.dir.display().to_string();
        let incident = incident_path.display().to_string();
        let process = measure(
            &format!("{lang}: whole `medic run --dry-run`, cached"),
            10,
            || {
                let status = Command::new(MEDIC)
                    .arg("--quiet")
                    .arg("--data-dir")
                    .arg(&data_dir)
                    .args(["run", &dir, "--incident", &incident, "--dry-run"])
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
            },
        );
        figures.push((lang, compile, load, warm, process));
    }
    let python_peer = measure("peer: /usr/bin/python3 -c pass", 20, || {
        assert!(
            Command::new("/usr/bin/python3")
                .args(["-c", "pass"])
                .status()
                .unwrap()
                .success()
        );
    });
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let (_, rust_compile, rust_load, rust_warm, rust_process) = figures[0];
    let (_, py_compile, py_load, py_warm, py_process) = figures[1];
    println!("\nratios (median)");
    println!(
        "{:<64} {:.2}",
        "python / rust, first-run compile",
        ratio(py_compile, rust_compile)
    );
    println!(
        "{:<64} {:.2}",
        "python / rust, load from cache",
        ratio(py_load, rust_load)
    );
    println!(
        "{:<64} {:.2}",
        "python / rust, warm instantiate + call",
        ratio(py_warm, rust_warm)
    );
    println!(
        "{:<64} {:.2}",
        "python / rust, whole medic run process",
        ratio(py_process, rust_process)
    );
    println!(
        "{:<64} {:.2}",
        "python remediation's whole medic run / /usr/bin/python3 -c pass",
        ratio(py_process, python_peer)
    );
}
