//! Diagnosis start-up and throughput, beside the system's Python and ripgrep given the same
//! regexes, in the same run so the ratios hold on any machine.
//!
//! Start-up: CPU time (user + system, GNU time, median of [`SMALL_RUNS`]) of
//! `medic diagnose --json` on a 2-line log and on a ~150 KB real CI log (LogChunks,
//! `square@retrofit` job 494086613), beside `/usr/bin/python3 -c pass` (the system
//! interpreter, not a shim) and `rg -c -f` with every built-in regex on the same files.
//! These need no corpus and always run.
//!
//! The log (about 100 MB) is built from the loghub samples in `../shared/corpus/loghub`
//! with the labelled real failures of `tests/fixtures/failures/dev.jsonl` spliced in
//! between repetitions. loghub's licence is research-only, so the samples are not copied
//! into this project: without `../shared/` the bench says so and stops.
//!
//! Measured, each as a whole process (median of 3 runs after a warm-up, wall time, and
//! peak RSS through GNU time):
//! - `medic diagnose --log big.log --json`;
//! - `rg -c -f patterns.txt big.log` with every built-in regex, as written (ripgrep's
//!   default Unicode mode);
//! - `rg --no-unicode -c -f` with the same regexes, non-ASCII literals as bytes: the same
//!   ASCII semantics medic compiles its patterns with.
//!
//! Then medic on a tenth and on three times the log, to show memory does not grow with
//! the input. Needs `rg` and `/usr/bin/time` (Debian: ripgrep, time).
//!
//! Run with `cargo bench -p medic-host --bench diagnose`.
#![expect(
    clippy::disallowed_methods,
    reason = "the bench spawns medic and ripgrep and reads its paths from the environment"
)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use medic::diagnosis::PatternLibrary;

/// Size of the main log.
const TARGET_BYTES: usize = 100 << 20;
const RUNS: usize = 3;
/// Runs per start-up figure; the median is reported.
const SMALL_RUNS: usize = 9;
/// The real CI log of about 150 KB.
const CI_LOG: &str = "tests/fixtures/logchunks/logs/Java/square@retrofit/failed/494086613.log";

struct Figure {
    wall: Duration,
    rss_kib: Option<u64>,
    stdout: String,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    for tool in ["rg", "/usr/bin/time", "/usr/bin/python3"] {
        if Command::new(tool).arg("--version").output().is_err() {
            println!("skipped: `{tool}` is not installed (apt-get install ripgrep time python3)");
            return;
        }
    }
    let work = root.join("target/bench-diagnose");
    std::fs::create_dir_all(&work).unwrap();
    let library = PatternLibrary::builtin().unwrap();
    let as_bytes: String = library
        .patterns
        .iter()
        .map(|pattern| format!("{}\n", escape_non_ascii(&pattern.regex)))
        .collect();
    std::fs::write(work.join("patterns-bytes.txt"), &as_bytes).unwrap();
    startup(&root, &work);

    let loghub = root.join("../shared/corpus/loghub");
    if !loghub.is_dir() {
        println!(
            "skipped: {} is absent (loghub is research-only and not copied here)",
            loghub.display()
        );
        return;
    }
    let big = work.join("big.log");
    let spliced = build_log(
        &loghub,
        &root.join("tests/fixtures/failures/dev.jsonl"),
        &big,
    );
    let as_written: String = library
        .patterns
        .iter()
        .map(|pattern| format!("{}\n", pattern.regex))
        .collect();
    std::fs::write(work.join("patterns.txt"), as_written).unwrap();

    let size = std::fs::metadata(&big).unwrap().len();
    println!(
        "log: {} ({:.1} MB, {spliced} failures spliced in); {} patterns",
        big.display(),
        size as f64 / 1e6,
        library.patterns.len()
    );
    let medic = env!("CARGO_BIN_EXE_medic");
    let data_dir = work.join("data");
    let diagnose = |log: &Path| {
        vec![
            medic.to_string(),
            "--data-dir".to_string(),
            data_dir.display().to_string(),
            "diagnose".to_string(),
            "--log".to_string(),
            log.display().to_string(),
            "--json".to_string(),
        ]
    };
    let ours = measure("medic diagnose --json", &diagnose(&big));
    let diagnosis: serde_json::Value = serde_json::from_str(&ours.stdout).unwrap();
    let peer = measure(
        "rg -c -f (Unicode, as written)",
        &strings(&[
            "rg",
            "-c",
            "-f",
            &path(&work.join("patterns.txt")),
            &path(&big),
        ]),
    );
    let ascii = measure(
        "rg --no-unicode -c -f (bytes)",
        &strings(&[
            "rg",
            "--no-unicode",
            "-c",
            "-f",
            &path(&work.join("patterns-bytes.txt")),
            &path(&big),
        ]),
    );
    println!(
        "medic: root cause {}, {} evidence lines; rg counted {} / {} matching lines",
        diagnosis["root_cause"],
        diagnosis["evidence"].as_array().map_or(0, Vec::len),
        peer.stdout.trim(),
        ascii.stdout.trim()
    );
    for (label, other) in [("rg (Unicode)", &peer), ("rg --no-unicode", &ascii)] {
        println!(
            "throughput ratio, medic vs {label:<16} {:.2}  (>= 1.0: medic is at least as fast)",
            other.wall.as_secs_f64() / ours.wall.as_secs_f64()
        );
    }

    // Memory against input size: a tenth, the whole, three times.
    let tenth = work.join("tenth.log");
    let triple = work.join("triple.log");
    let bytes = std::fs::read(&big).unwrap();
    std::fs::write(&tenth, &bytes[..bytes.len() / 10]).unwrap();
    let mut file = std::fs::File::create(&triple).unwrap();
    for _ in 0..3 {
        file.write_all(&bytes).unwrap();
    }
    drop(file);
    drop(bytes);
    let small = measure("medic diagnose, a tenth", &diagnose(&tenth));
    let large = measure("medic diagnose, three times", &diagnose(&triple));
    let mut line = String::from("peak RSS by input size:");
    for (label, figure) in [("10%", &small), ("100%", &ours), ("300%", &large)] {
        let _ = write!(
            line,
            " {label} {}",
            figure.rss_kib.map_or("n/a".to_string(), |kib| format!(
                "{:.1} MB",
                kib as f64 / 1024.0
            ))
        );
    }
    println!("{line}");
    std::fs::remove_file(&triple).ok();
    std::fs::remove_file(&tenth).ok();
}

/// CPU seconds (user + system) of one run of `command` under GNU time.
fn cpu_seconds(command: &[String]) -> f64 {
    let report = std::env::temp_dir().join(format!("medic-bench-cpu-{}", std::process::id()));
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%U %S")
        .arg("-o")
        .arg(&report)
        .args(command)
        .output()
        .unwrap();
    assert!(
        output.status.success() || output.status.code() == Some(1),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::remove_file(&report).ok();
    text.lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|field| field.parse::<f64>().unwrap())
        .sum()
}

/// The median CPU time of [`SMALL_RUNS`] runs, after one to warm the page cache.
fn median_cpu(command: &[String]) -> f64 {
    cpu_seconds(command);
    let mut runs: Vec<f64> = (0..SMALL_RUNS).map(|_| cpu_seconds(command)).collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// Start-up figures: medic on a 2-line and a 150 KB log beside python3 and rg.
fn startup(root: &Path, work: &Path) {
    let small = work.join("two-lines.log");
    std::fs::write(
        &small,
        "Step 3/7 : RUN cp cache.bin /var/lib/app/\ncp: error writing '/var/lib/app/cache.bin': No space left on device\n",
    )
    .unwrap();
    let ci = root.join(CI_LOG);
    let medic = env!("CARGO_BIN_EXE_medic");
    let data_dir = work.join("data");
    let diagnose = |log: &Path| {
        strings(&[
            medic,
            "--data-dir",
            &path(&data_dir),
            "diagnose",
            "--log",
            &path(log),
            "--json",
        ])
    };
    let patterns = path(&work.join("patterns-bytes.txt"));
    let rg = |log: &Path| strings(&["rg", "--no-unicode", "-c", "-f", &patterns, &path(log)]);
    let python = median_cpu(&strings(&["/usr/bin/python3", "-c", "pass"]));
    println!("start-up, CPU time (user + system), median of {SMALL_RUNS}:");
    println!(
        "  /usr/bin/python3 -c pass              {:>7.1} ms",
        python * 1e3
    );
    for (label, log) in [("2-line log", &small), ("150 KB CI log", &ci)] {
        let ours = median_cpu(&diagnose(log));
        let theirs = median_cpu(&rg(log));
        println!(
            "  medic diagnose, {label:<14}        {:>7.1} ms  = {:.2}x python3 -c pass, {:.2}x rg -f ({:.1} ms)",
            ours * 1e3,
            ours / python,
            ours / theirs,
            theirs * 1e3
        );
    }
}

/// Write `out` from the loghub samples, repeated, with one failure log from `failures`
/// after each repetition, until it holds [`TARGET_BYTES`]; returns how many were spliced.
fn build_log(loghub: &Path, failures: &Path, out: &Path) -> usize {
    let mut samples: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(loghub).unwrap().flatten() {
        if let Ok(files) = std::fs::read_dir(entry.path()) {
            samples.extend(
                files
                    .flatten()
                    .map(|file| file.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "log")),
            );
        }
    }
    samples.sort();
    let background: Vec<u8> = samples
        .iter()
        .flat_map(|path| std::fs::read(path).unwrap())
        .collect();
    assert!(
        !background.is_empty(),
        "no .log files under {}",
        loghub.display()
    );
    let failures: Vec<String> = std::fs::read_to_string(failures)
        .unwrap()
        .lines()
        .map(|line| {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            case["log"].as_str().unwrap().to_string()
        })
        .collect();
    let mut log = Vec::with_capacity(TARGET_BYTES + background.len());
    let mut spliced = 0;
    while log.len() < TARGET_BYTES {
        log.extend_from_slice(&background);
        let failure = &failures[spliced % failures.len()];
        log.extend_from_slice(failure.as_bytes());
        log.push(b'\n');
        spliced += 1;
    }
    std::fs::write(out, log).unwrap();
    spliced
}

/// `regex` with each non-ASCII character written as its UTF-8 bytes, so ripgrep accepts
/// it with `--no-unicode`.
fn escape_non_ascii(regex: &str) -> String {
    let mut out = String::with_capacity(regex.len());
    for character in regex.chars() {
        if character.is_ascii() {
            out.push(character);
        } else {
            let mut buffer = [0u8; 4];
            out.push_str("(?:");
            for byte in character.encode_utf8(&mut buffer).bytes() {
                let _ = write!(out, "\\x{byte:02X}");
            }
            out.push(')');
        }
    }
    out
}

/// Run `command` once to warm the page cache, then [`RUNS`] times under GNU time; the
/// median wall time and the peak RSS of that run.
fn measure(name: &str, command: &[String]) -> Figure {
    let mut figures: Vec<Figure> = (0..=RUNS).map(|_| run_timed(command)).skip(1).collect();
    figures.sort_by_key(|figure| figure.wall);
    let figure = figures.swap_remove(figures.len() / 2);
    println!(
        "{name:<36} median {:>8.3} s  peak RSS {}",
        figure.wall.as_secs_f64(),
        figure.rss_kib.map_or("n/a".to_string(), |kib| format!(
            "{:.1} MB",
            kib as f64 / 1024.0
        ))
    );
    figure
}

fn run_timed(command: &[String]) -> Figure {
    let report = std::env::temp_dir().join(format!("medic-bench-time-{}", std::process::id()));
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .args(command)
        .output()
        .unwrap();
    let wall = started.elapsed();
    assert!(
        output.status.success() || output.status.code() == Some(1),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rss_kib = std::fs::read_to_string(&report)
        .ok()
        .and_then(|text| text.lines().last()?.trim().parse().ok());
    std::fs::remove_file(&report).ok();
    Figure {
        wall,
        rss_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| part.to_string()).collect()
}
