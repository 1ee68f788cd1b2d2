//! What the signed audit chain costs, measured in the same run so the ratios hold on any
//! machine:
//!
//! - a whole `medic run` (plan, apply, verify of a no-op remediation) with `[audit] sign =
//!   true` against the same run with `sign = false`, interleaved;
//! - `medic audit verify` on a log of 100,000 records (every hash recomputed, every signed
//!   head checked) against `/usr/bin/python3` reading the same rows with its `sqlite3`
//!   module and hashing each one with `hashlib.sha256`: the least a check could do.
//!
//! Run with `cargo bench -p medic-host --bench audit`. Prints medians and ratios.
#![expect(
    clippy::disallowed_methods,
    reason = "the bench spawns medic itself and its peer"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use medic::manifest::sha256_hex;
use medic::store::audit::{AuditEvent, AuditLog, HostCall, Sealer};
use medic::store::data_dir::DataDir;
use medic::store::db::Database;

const RECORDS: usize = 100_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A private directory outside every ceiling root; on tmpfs when there is one, so that
/// filling a log of 100,000 durable records does not take minutes of fsyncs.
fn private_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    let parent = dirs::home_dir().unwrap().join(".cache/medic-bench");
    std::fs::create_dir_all(&parent).unwrap();
    tempfile::tempdir_in(&parent).unwrap()
}

fn medic(config: &Path, data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medic"));
    command
        .args(["--quiet", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn main() {
    let root = private_dir();
    let wasm = std::fs::read(medic_tests::guest_wasm("limits-abuse")).unwrap();
    let sha256 = sha256_hex(&wasm);
    let remediation = root.path().join("no-op");
    std::fs::create_dir_all(&remediation).unwrap();
    std::fs::write(remediation.join("guest.wasm"), &wasm).unwrap();
    std::fs::write(
        remediation.join("remediation.toml"),
        format!(
            "name = \"no-op\"\nversion = \"0.1.0\"\ndescription = \"does nothing\"\nrisk = \"low\"\ncomponent = \"guest.wasm\"\nsha256 = \"{sha256}\"\n\n[[handles]]\nissue_type = \"bench\"\n\n[[params]]\nname = \"attack\"\npattern = \"none\"\n"
        ),
    )
    .unwrap();
    let incident = root.path().join("incident.json");
    std::fs::write(
        &incident,
        r#"{"id":"bench","source":"cli","resource":{"kind":"service","id":"x"},"issue_type":"bench","params":{"attack":"none"}}"#,
    )
    .unwrap();

    println!("a whole `medic run` of a no-op remediation, signed and unsigned, interleaved");
    let setups: Vec<(PathBuf, PathBuf)> = [true, false]
        .iter()
        .map(|sign| {
            let config = root.path().join(format!("sign-{sign}.toml"));
            std::fs::write(&config, format!("[audit]\nsign = {sign}\n")).unwrap();
            (config, root.path().join(format!("data-{sign}")))
        })
        .collect();
    let run = |(config, data_dir): &(PathBuf, PathBuf)| {
        let started = Instant::now();
        let status = medic(config, data_dir)
            .arg("run")
            .arg(&remediation)
            .arg("--incident")
            .arg(&incident)
            .status()
            .unwrap();
        assert!(status.success(), "medic run failed: {status}");
        started.elapsed()
    };
    for setup in &setups {
        run(setup);
    }
    let (mut signed, mut unsigned) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        signed.push(run(&setups[0]));
        unsigned.push(run(&setups[1]));
    }
    let (signed, unsigned) = (median(signed), median(unsigned));
    println!("signed chain      median {signed:>10.1?}  (30 runs)");
    println!("unsigned chain    median {unsigned:>10.1?}  (30 runs)");
    println!(
        "signed / unsigned {:.3}  (added {:.2?} a run)",
        signed.as_secs_f64() / unsigned.as_secs_f64(),
        signed.saturating_sub(unsigned)
    );

    println!("\n`medic audit verify` on {RECORDS} records");
    let data_dir = root.path().join("data-large");
    let state = DataDir::open(&data_dir).unwrap();
    let db = Database::open(&state).unwrap();
    let log = AuditLog::sealed(db.clone(), Sealer::open(&state).unwrap());
    let filling = Instant::now();
    for index in 0..RECORDS {
        let call = HostCall {
            operation: "apply".to_string(),
            capability: "fs".to_string(),
            target: format!("/var/log/app/app.log.{index}"),
            allowed: true,
            reason: "granted by capabilities.fs[0]".to_string(),
            denial: None,
            result: "removed 1048576 bytes".to_string(),
            duration_ms: 1,
        };
        log.append(&format!("run-{}", index / 50), &AuditEvent::HostCall(call))
            .unwrap();
    }
    log.seal().unwrap();
    println!(
        "filled in {:.1?} (one durable append each)",
        filling.elapsed()
    );
    let config = &setups[0].0;
    let verify_times: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let status = medic(config, &data_dir)
                .args(["audit", "verify"])
                .status()
                .unwrap();
            assert!(status.success(), "audit verify failed: {status}");
            started.elapsed()
        })
        .collect();
    let verify = median(verify_times);
    println!("medic audit verify          median {verify:>10.1?}  (5 runs)");
    if Path::new("/usr/bin/python3").exists() {
        let script = "import sqlite3, hashlib, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             n = 0\n\
             for row in c.execute('SELECT seq, run_id, at, kind, data, prev_hash, hash FROM events ORDER BY seq'):\n\
             \x20   hashlib.sha256('|'.join(map(str, row[:6])).encode()).hexdigest()\n\
             \x20   n += 1\n\
             assert n >= 100000\n";
        let database = db.path().to_path_buf();
        let python_times: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                let status = Command::new("/usr/bin/python3")
                    .args(["-c", script])
                    .arg(&database)
                    .status()
                    .unwrap();
                assert!(status.success(), "python3 peer failed: {status}");
                started.elapsed()
            })
            .collect();
        let python = median(python_times);
        println!("peer: python3 sqlite3+sha256 median {python:>10.1?}  (5 runs)");
        println!(
            "medic audit verify / python3 peer {:.3}",
            verify.as_secs_f64() / python.as_secs_f64()
        );
    }
}
