//! How long it takes to start a remediation, beside the peers an operator would otherwise
//! use, measured in the same run so the ratios hold on any machine:
//!
//! - first run: compile the component (no cache);
//! - from the compiled cache: load it and link it;
//! - warm: instantiate a prepared no-op remediation and call `plan`, in process;
//! - a whole `medic run --dry-run` process, component in the authenticated cache;
//! - peers: `fork+exec` of `/bin/true` and `/usr/bin/python3 -c pass` (the system
//!   interpreter, never a pyenv shim);
//! - the fsyncs one `medic run` costs, counted with `strace -f -c` when it is installed.
//!
//! Run with `cargo bench -p medic-host --bench start`. Prints medians, p90s and ratios.
#![expect(
    clippy::disallowed_methods,
    reason = "the bench spawns peer processes and medic itself"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use medic::incident::parse_incident;
use medic::manifest::{parse_manifest, sha256_hex};
use medic::sandbox::{
    CacheKey, CallContext, CallOutcome, Operation, RunBudget, RunContext, Sandbox, Scope,
};
use medic::stop::StopSignal;
use medic::store::audit::AuditLog;
use medic::store::checkpoints::Checkpoints;
use medic::store::data_dir::DataDir;
use medic::store::db::Database;

struct Figure {
    name: &'static str,
    median: Duration,
    p90: Duration,
}

fn measure(name: &'static str, iterations: usize, mut run: impl FnMut()) -> Figure {
    run();
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    samples.sort();
    let figure = Figure {
        name,
        median: samples[samples.len() / 2],
        p90: samples[samples.len() * 9 / 10],
    };
    println!(
        "{:<44} median {:>10.1?}  p90 {:>10.1?}  ({iterations} runs)",
        figure.name, figure.median, figure.p90
    );
    figure
}

fn ratio(label: &str, ours: &Figure, peer: &Figure) {
    println!(
        "{label:<64} {:.3}",
        ours.median.as_secs_f64() / peer.median.as_secs_f64()
    );
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let wasm = std::fs::read(medic_tests::guest_wasm("limits-abuse")).unwrap();
    let sha256 = sha256_hex(&wasm);
    let manifest_text = format!(
        "name = \"no-op\"\nversion = \"0.1.0\"\ndescription = \"does nothing\"\nrisk = \"low\"\ncomponent = \"guest.wasm\"\nsha256 = \"{sha256}\"\n\n[[handles]]\nissue_type = \"bench\"\n\n[[params]]\nname = \"attack\"\npattern = \"none\"\n"
    );
    let remediation_dir = root.path().join("no-op");
    std::fs::create_dir_all(&remediation_dir).unwrap();
    std::fs::write(remediation_dir.join("guest.wasm"), &wasm).unwrap();
    std::fs::write(remediation_dir.join("remediation.toml"), &manifest_text).unwrap();
    let manifest = Arc::new(
        parse_manifest(&manifest_text, &remediation_dir.join("remediation.toml")).unwrap(),
    );
    let incident_text = r#"{"id":"bench","source":"cli","resource":{"kind":"service","id":"x"},"issue_type":"bench","params":{"attack":"none"}}"#;
    let incident_path = root.path().join("incident.json");
    std::fs::write(&incident_path, incident_text).unwrap();
    let incident = parse_incident(incident_text, Path::new("incident.json")).unwrap();
    // medic refuses a data directory a ceiling root (such as /tmp) contains.
    let private_parent = dirs::home_dir().unwrap().join(".cache/medic-bench");
    std::fs::create_dir_all(&private_parent).unwrap();
    let private = tempfile::tempdir_in(&private_parent).unwrap();
    let data_dir = private.path().join("data");
    let state = DataDir::open(&data_dir).unwrap();
    let db = Database::open(&state).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    println!("starting a remediation ({} byte component)", wasm.len());
    let uncached = Sandbox::new(None).unwrap();
    let compile = measure("first run: compile + link", 10, || {
        uncached
            .prepare(manifest.clone(), &wasm, &StopSignal::new())
            .unwrap();
    });
    let cached = Sandbox::new(Some(CacheKey {
        dir: state.compiled_dir(),
        key: state.key("cache").unwrap(),
    }))
    .unwrap();
    cached
        .prepare(manifest.clone(), &wasm, &StopSignal::new())
        .unwrap();
    let from_cache = measure("from the compiled cache: load + link", 50, || {
        cached
            .prepare(manifest.clone(), &wasm, &StopSignal::new())
            .unwrap();
    });
    let prepared = cached
        .prepare(manifest.clone(), &wasm, &StopSignal::new())
        .unwrap();
    let context = || CallContext {
        run: RunContext {
            run_id: "bench".to_string(),
            incident_id: "bench".to_string(),
        },
        audit: AuditLog::new(db.clone()),
        checkpoints: Checkpoints::new(db.clone(), "bench", &sha256),
        rates: medic::store::rates::Rates::new(db.clone()),
        scope: Arc::new(Scope::default()),
        run_budget: RunBudget::new(),
        stop: StopSignal::new(),
    };
    let warm = measure("warm: instantiate + call plan (in process)", 2000, || {
        let report =
            runtime.block_on(cached.call(&prepared, Operation::Plan, &incident, context()));
        assert!(
            matches!(report.outcome, CallOutcome::Steps(_)),
            "{:?}",
            report.outcome
        );
    });
    let config = private.path().join("medic.toml");
    std::fs::write(&config, "").unwrap();
    let medic_args = |command: &mut Command| {
        command
            .args(["--quiet", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data_dir)
            .args([
                "run",
                &remediation_dir.display().to_string(),
                "--incident",
                &incident_path.display().to_string(),
                "--dry-run",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let medic_process = measure("whole `medic run --dry-run` process, cached", 30, || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_medic"));
        medic_args(&mut command);
        assert!(command.status().unwrap().success());
    });
    let true_process = measure("peer: fork+exec /bin/true", 200, || {
        assert!(Command::new("/bin/true").status().unwrap().success());
    });
    let system_python = Path::new("/usr/bin/python3").exists().then(|| {
        measure("peer: /usr/bin/python3 -c pass", 30, || {
            assert!(
                Command::new("/usr/bin/python3")
                    .args(["-c", "pass"])
                    .status()
                    .unwrap()
                    .success()
            );
        })
    });
    count_fsyncs(&medic_args, &private.path().join("strace.txt"));

    println!("\nratios (ours / peer, median; below 1 is faster than the peer)");
    ratio(
        "warm instantiate+call / fork+exec /bin/true",
        &warm,
        &true_process,
    );
    ratio(
        "whole medic run process (cached) / fork+exec /bin/true",
        &medic_process,
        &true_process,
    );
    if let Some(system_python) = &system_python {
        ratio(
            "whole medic run process (cached) / /usr/bin/python3 -c pass",
            &medic_process,
            system_python,
        );
    }
    ratio("load from cache / compile", &from_cache, &compile);
    println!(
        "target: warm instantiate+call under 100 µs: {}",
        if warm.median < Duration::from_micros(100) {
            "met"
        } else {
            "missed"
        }
    );
    if let Some(system_python) = &system_python {
        println!(
            "target: medic run --dry-run under 0.25x /usr/bin/python3 -c pass: {}",
            if medic_process.median * 4 < system_python.median {
                "met"
            } else {
                "missed"
            }
        );
    }
}

/// Count the fsync-family calls of one whole `medic run --dry-run` with strace.
fn count_fsyncs(medic_args: &dyn Fn(&mut Command), report: &Path) {
    let mut command = Command::new("strace");
    command
        .args([
            "-f",
            "-c",
            "-e",
            "trace=fsync,fdatasync,sync_file_range",
            "-o",
        ])
        .arg(report)
        .arg(env!("CARGO_BIN_EXE_medic"));
    medic_args(&mut command);
    if !command.status().is_ok_and(|status| status.success()) {
        println!(
            "fsyncs per `medic run --dry-run`: strace is not installed (apt-get install strace)"
        );
        return;
    }
    let text = std::fs::read_to_string(report).unwrap_or_default();
    let total: u64 = text
        .lines()
        .filter(|line| line.contains("sync"))
        .filter_map(|line| line.split_whitespace().nth(3)?.parse::<u64>().ok())
        .sum();
    println!("fsyncs per `medic run --dry-run`: {total}");
}
