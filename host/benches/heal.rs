//! What `medic heal -- CMD` costs, beside its peers in the same run:
//!
//! - the success path: `medic heal -- /bin/true` against `/bin/true` alone (the wrapper's
//!   added wall time), and `/usr/bin/python3 -c pass` (the system interpreter, never a
//!   pyenv shim) as a yardstick;
//! - the failure path: from the moment a failing command exits (it prints a real 200 KB CI
//!   log, then records the time) to medic's first `decision` line under `--json`, with the
//!   bundled remediations as candidates and a fresh database each time.
//!
//! Run with `cargo bench -p medic-host --bench heal`. Prints medians, p90s and ratios.
#![expect(
    clippy::disallowed_methods,
    reason = "the bench spawns medic and its peers"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A real failed CI job's log, about 216 KB (LogChunks, Lua, openface).
const CI_LOG: &str = "tests/fixtures/logchunks/logs/Lua/cmusatyalab@openface/failed/199278645.log";
const RUNS: usize = 40;

fn median_p90(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn wall(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}

fn private_dir(name: &str) -> PathBuf {
    // Outside every default ceiling root (/tmp is one), as medic requires of its data.
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    let dir = home.join(".cache").join("medic-bench").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn main() {
    let medic = env!("CARGO_BIN_EXE_medic");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let data = private_dir("heal-success");

    // Interleaved, so a change of machine load hits both alike.
    let (mut alone, mut wrapped, mut python) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        alone.push(wall(&mut Command::new("/bin/true")));
        wrapped.push(wall(
            Command::new(medic)
                .arg("--data-dir")
                .arg(&data)
                .args(["heal", "--", "/bin/true"])
                .env("MEDIC_SYSTEM_CONFIG", ""),
        ));
        python.push(wall(Command::new("/usr/bin/python3").args(["-c", "pass"])));
    }
    let (alone, alone_p90) = median_p90(alone);
    let (wrapped, wrapped_p90) = median_p90(wrapped);
    let (python, python_p90) = median_p90(python);
    println!("success path, wall time, median (p90) of {RUNS}, interleaved:");
    println!("  /bin/true                         {alone:>10.2?} ({alone_p90:.2?})");
    println!("  medic heal -- /bin/true           {wrapped:>10.2?} ({wrapped_p90:.2?})");
    println!("  /usr/bin/python3 -c pass          {python:>10.2?} ({python_p90:.2?})");
    println!(
        "  added by medic: {:.2?} (aim: under 2 ms); medic heal = {:.2}x python3 -c pass",
        wrapped.saturating_sub(alone),
        wrapped.as_secs_f64() / python.as_secs_f64()
    );

    // Failure path: exit -> first decision.
    let log = root.join(CI_LOG);
    let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let work = private_dir("heal-failure");
    let stamp = work.join("exited-at");
    for (label, pause) in [
        ("exits at once", ""),
        ("runs 1 s after its output", "sleep 1; "),
    ] {
        let script = format!(
            "cat '{}' >&2; {pause}date +%s%N > '{}'; exit 1",
            log.display(),
            stamp.display()
        );
        let runs = if pause.is_empty() { RUNS / 2 } else { RUNS / 4 };
        let median = exit_to_decision(medic, &work, &stamp, &script, runs);
        println!(
            "failure path, a {} KB CI log, the command {label}: exit -> first decision, median {median:.2?} of {runs} (aim: under 30 ms); = {:.2}x python3 -c pass",
            size / 1000,
            median.as_secs_f64() / python.as_secs_f64()
        );
    }
}

/// The median time from the failing command's exit (the time `script` records) to medic's
/// first `decision` line.
fn exit_to_decision(medic: &str, work: &Path, stamp: &Path, script: &str, runs: usize) -> Duration {
    let mut latencies = Vec::new();
    for run in 0..runs {
        let data = work.join(format!("data-{run}"));
        let mut child = Command::new(medic)
            .arg("--data-dir")
            .arg(&data)
            .args(["heal", "--json", "--", "/bin/sh", "-c", script])
            .env("MEDIC_SYSTEM_CONFIG", "")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("medic heal");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut decided_at = None;
        for line in stdout.lines() {
            let line = line.unwrap();
            if decided_at.is_none() && line.contains("\"event\":\"decision\"") {
                decided_at = Some(SystemTime::now());
            }
        }
        child.wait().unwrap();
        let exited: u128 = std::fs::read_to_string(stamp)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let decided = decided_at
            .expect("a decision line")
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        latencies.push(Duration::from_nanos(decided.saturating_sub(exited) as u64));
    }
    median_p90(latencies).0
}
