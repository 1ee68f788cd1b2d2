//! `rotate-logs`, run for real on the embedded default configuration: logs under a
//! directory in /tmp, held open for appending the way their writer holds them; and its
//! scenarios through `medic test`.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::Command;

use medic_tests::{Medic, RunResult};

use super::stale_lock::assert_scenarios_pass;
use super::{assert_denial_audited, assert_denied, assert_healed, medic};

/// A log directory under /tmp: the default ceilings grant /tmp, and `dir` must lie inside.
fn log_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("medic-rotate-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn rotate(medic: &Medic, id: &str, params: &[(&str, &str)], extra: &[&str]) -> RunResult {
    let incident = medic.incident_for(id, "service", "log_too_large", params);
    let incident = incident.display().to_string();
    let mut args = vec!["run", "rotate-logs", "--incident", &incident, "--json"];
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

/// The log's writer: the file opened for appending, as a daemon holds its log.
fn writer(log: &Path) -> std::fs::File {
    std::fs::File::options().append(true).open(log).unwrap()
}

/// What `gzip -dc` makes of `archive`: an independent reading of medic's gzip.
fn gunzip(archive: &Path) -> Vec<u8> {
    let output = Command::new("/usr/bin/gzip")
        .arg("-dc")
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "gzip -dc {}: {}",
        archive.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn rotate_logs_compresses_a_log_while_its_writer_keeps_appending() {
    let medic = medic();
    let logs = log_dir();
    let dir = logs.path();
    let log = dir.join("app.log");
    let original: Vec<u8> = (0..4_000)
        .flat_map(|line| {
            format!(
                "2026-01-01T00:00:00Z INFO request {line} served in {}ms\n",
                line % 97
            )
            .into_bytes()
        })
        .collect();
    std::fs::write(&log, &original).unwrap();
    std::fs::write(dir.join("app.log.1.gz"), b"an older rotation").unwrap();
    std::fs::write(dir.join("other.log"), b"another log").unwrap();
    let mut held = writer(&log);
    let inode = std::fs::metadata(&log).unwrap().ino();
    let dir_text = dir.display().to_string();
    let log_text = log.display().to_string();
    let params = [
        ("log", log_text.as_str()),
        ("dir", dir_text.as_str()),
        ("max_bytes", "100KB"),
    ];

    let plan = rotate(&medic, "rotate-1", &params, &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json()["status"], "planned");
    assert_eq!(names(dir), ["app.log", "app.log.1.gz", "other.log"]);
    assert_eq!(
        std::fs::read(&log).unwrap(),
        original,
        "a dry run changes nothing"
    );

    let report = assert_healed(&rotate(&medic, "rotate-2", &params, &[]));
    assert!(
        report["summary"].as_str().unwrap().starts_with(&format!(
            "rotated `{log_text}`: its {} bytes compressed to",
            original.len()
        )),
        "{report:#}"
    );
    assert_eq!(
        names(dir),
        ["app.log", "app.log.1.gz", "app.log.2.gz", "other.log"]
    );
    assert_eq!(gunzip(&dir.join("app.log.1.gz")), original);
    assert_eq!(
        std::fs::read(dir.join("app.log.2.gz")).unwrap(),
        b"an older rotation"
    );
    assert_eq!(
        std::fs::read(dir.join("other.log")).unwrap(),
        b"another log"
    );

    // Truncated in place: the writer's descriptor still reaches the log at its path.
    assert_eq!(std::fs::metadata(&log).unwrap().ino(), inode);
    held.write_all(b"after the rotation\n").unwrap();
    assert_eq!(std::fs::read(&log).unwrap(), b"after the rotation\n");
    medic.assert_audit_intact();
}

#[test]
fn rotate_logs_undoes_its_shifts_when_the_host_refuses_a_hard_linked_log() {
    let medic = medic();
    let logs = log_dir();
    let dir = logs.path();
    let log = dir.join("app.log");
    std::fs::write(&log, vec![b'x'; 2_000]).unwrap();
    std::fs::write(dir.join("app.log.1.gz"), b"an older rotation").unwrap();
    // A second name for the log: the host reads no file with more than one link.
    std::fs::hard_link(&log, dir.join("mirror")).unwrap();
    let dir_text = dir.display().to_string();
    let log_text = log.display().to_string();

    let result = rotate(
        &medic,
        "linked-1",
        &[("log", &log_text), ("dir", &dir_text), ("max_bytes", "1KB")],
        &[],
    );
    assert_denied(&result, "fs", "special_file");
    let summary = result.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.ends_with("rolled back: shifted 1 rotation back down"),
        "{summary}"
    );
    assert_eq!(names(dir), ["app.log", "app.log.1.gz", "mirror"]);
    assert_eq!(std::fs::read(&log).unwrap(), vec![b'x'; 2_000]);
    assert_eq!(
        std::fs::read(dir.join("app.log.1.gz")).unwrap(),
        b"an older rotation"
    );
    assert_denial_audited(&medic, "fs", &log_text, "special_file");
}

#[test]
fn rotate_logs_renames_a_log_too_big_to_compress_and_says_its_writer_follows() {
    let medic = medic();
    let logs = log_dir();
    let dir = logs.path();
    let log = dir.join("big.log");
    let size: u64 = 7 << 20;
    std::fs::File::create(&log).unwrap().set_len(size).unwrap();
    let mut held = writer(&log);
    let dir_text = dir.display().to_string();
    let log_text = log.display().to_string();
    let renamed = format!("{log_text}.1");

    let report = assert_healed(&rotate(
        &medic,
        "big-1",
        &[
            ("log", &log_text),
            ("dir", &dir_text),
            ("max_bytes", "1MiB"),
        ],
        &[],
    ));
    assert_eq!(
        report["summary"],
        format!(
            "renamed `{log_text}` ({size} bytes, over the 6291456 a rotation compresses in the sandbox) to `{renamed}`, uncompressed, and created an empty log; its writer keeps writing to `{renamed}` until it reopens its log; verified: `{log_text}` holds 0 bytes, within its limit of 1048576"
        )
    );
    assert_eq!(names(dir), ["big.log", "big.log.1"]);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
    // As the summary says: the old descriptor writes to the renamed file.
    held.write_all(b"still here\n").unwrap();
    assert_eq!(std::fs::metadata(&renamed).unwrap().len(), size + 11);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
}

#[test]
fn rotate_logs_scenarios_all_pass() {
    assert_scenarios_pass(&medic(), "rotate-logs");
}

#[test]
fn rotate_logs_manifest_is_within_the_default_ceiling_and_explains_its_warning() {
    super::assert_bundled_manifest("rotate-logs", &["fs-read-write"]);
}
