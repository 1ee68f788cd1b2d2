//! Interrupted runs: `interrupt-me` changes a file in `apply`, saves its checkpoint, then
//! computes (or waits on a program) forever. SIGINT or SIGTERM sent to the real medic
//! process stops the guest, rolls back from this run's checkpoint, records `interrupted`
//! and exits 128 + the signal. After a kill -9, the next command warns of the unfinished
//! run and `medic recover` rolls it back.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use medic_tests::{Medic, Remediation};

use super::{call, medic};

/// Wait (up to a minute) until `done` holds; the guest's apply is then in progress.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Started {
    child: Child,
    marker: PathBuf,
}

fn start(medic: &Medic, id: &str, mode: &str) -> Started {
    start_with(medic, id, mode, &[])
}

fn start_with(medic: &Medic, id: &str, mode: &str, extra: &[(&str, &str)]) -> Started {
    let work = medic.root().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let dir = medic.install(
        &Remediation::new("interrupt-me")
            .risk("medium")
            .fs(&work, "read-write")
            .exec("/usr/bin/sleep", &["^[0-9]+$"])
            .limit("timeout", "300s"),
    );
    let marker = work.join(format!("{id}.marker"));
    let marker_text = marker.display().to_string();
    let mut params = vec![
        ("marker", marker_text.as_str()),
        ("mode", mode),
        ("program", "/usr/bin/sleep"),
        ("args", "600"),
    ];
    params.extend_from_slice(extra);
    let incident = medic.incident(id, &params);
    let child = medic
        .command(&[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start medic");
    let started = Started { child, marker };
    if extra.iter().all(|(key, _)| *key != "plan") {
        let marker = started.marker.clone();
        wait_until("apply to write its marker", || marker.exists());
    }
    started
}

fn sleeping_programs() -> Vec<u8> {
    std::process::Command::new("pgrep")
        .args(["-f", "^/usr/bin/sleep 600$"])
        .output()
        .expect("pgrep")
        .stdout
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal medic");
}

#[test]
fn a_signal_mid_apply_rolls_back_and_exits_128_plus_the_signal() {
    for (mode, sent, code) in [
        ("spin", Signal::SIGINT, 130),
        ("wait", Signal::SIGTERM, 143),
        ("sleep", Signal::SIGINT, 130),
        ("sleep", Signal::SIGHUP, 129),
    ] {
        let medic = medic();
        let started = start(&medic, &format!("signal-{mode}"), mode);
        signal(&started.child, sent);
        let output = started.child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["status"], "interrupted", "{report:#}");
        assert_eq!(report["signal"], code - 128);
        assert_eq!(call(&report, "apply")["outcome"], "interrupted");
        assert_eq!(
            call(&report, "rollback")["detail"],
            format!("removed {}", started.marker.display())
        );
        assert!(
            !started.marker.exists(),
            "{mode}: the change was rolled back"
        );
        if mode == "wait" {
            let survivors = std::process::Command::new("pgrep")
                .args(["-f", "^/usr/bin/sleep 600$"])
                .output()
                .expect("pgrep");
            assert!(
                survivors.stdout.is_empty(),
                "the waited-on program was killed"
            );
        }
        let finished = medic
            .audit()
            .into_iter()
            .filter(|record| record["kind"] == "run_finished")
            .map(|record| record["data"]["status"].clone())
            .collect::<Vec<_>>();
        assert_eq!(finished, ["interrupted"]);
        medic.assert_audit_intact();
        let again = medic.run(&["recover"]);
        assert_eq!(again.code, 0);
        assert_eq!(
            again.stdout.trim(),
            "nothing to recover: every run finished"
        );
    }
}

#[test]
fn a_signal_during_plan_exits_with_that_signal_and_changes_nothing() {
    let medic = medic();
    let started = start_with(&medic, "signal-plan", "spin", &[("plan", "spin")]);
    // plan lists the work directory before it computes forever.
    wait_until("plan to start", || {
        let shown = medic.run(&["audit", "show", "--all", "--json"]);
        shown.code == 0 && shown.stdout.contains("\"operation\": \"plan\"")
    });
    signal(&started.child, Signal::SIGTERM);
    let output = started.child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["signal"], 15);
    assert_eq!(
        report["calls"].as_array().unwrap().len(),
        1,
        "only plan ran"
    );
    assert!(!started.marker.exists());
}

#[test]
fn after_kill_9_nothing_the_run_started_outlives_it_and_a_changed_manifest_is_not_recovered() {
    let medic = medic();
    let mut started = start(&medic, "killed-wait", "wait");
    signal(&started.child, Signal::SIGKILL);
    started.child.wait().unwrap();
    wait_until("the killed run's program to die with it", || {
        sleeping_programs().is_empty()
    });
    let manifest = medic
        .root()
        .join("remediations/interrupt-me/remediation.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("test guest interrupt-me", "changed since"),
    )
    .unwrap();
    let recover = medic.run(&["recover"]);
    assert_eq!(recover.code, 2, "{}{}", recover.stdout, recover.stderr);
    assert!(
        recover
            .stderr
            .contains("changed since it ran; not rolling back under different grants"),
        "{}",
        recover.stderr
    );
    std::fs::write(&manifest, text).unwrap();
    let recover = medic.run(&["recover", "--json"]);
    assert_eq!(recover.code, 0, "{}{}", recover.stdout, recover.stderr);
    assert!(!started.marker.exists());
}

#[test]
fn after_kill_9_the_next_command_warns_and_recover_rolls_back() {
    let medic = medic();
    let mut started = start(&medic, "killed", "spin");
    signal(&started.child, Signal::SIGKILL);
    started.child.wait().unwrap();
    assert!(started.marker.exists(), "apply's change is still there");

    let verify = medic.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(
        verify.stderr.contains(
            "did not finish while it was changing the host; `medic recover` rolls it back"
        ),
        "{}",
        verify.stderr
    );
    let recover = medic.run(&["recover", "--json"]);
    assert_eq!(recover.code, 0, "{}{}", recover.stdout, recover.stderr);
    let recovered = recover.json();
    let report = &recovered["recovered"][0];
    assert_eq!(report["status"], "interrupted", "{recovered:#}");
    assert_eq!(
        call(report, "rollback")["detail"],
        format!("removed {}", started.marker.display())
    );
    assert!(!started.marker.exists(), "recover rolled the change back");
    let quiet = medic.run(&["audit", "verify"]);
    assert!(!quiet.stderr.contains("did not finish"), "{}", quiet.stderr);
    assert_eq!(
        medic.run(&["recover"]).stdout.trim(),
        "nothing to recover: every run finished"
    );
    medic.assert_audit_intact();
    assert!(Path::new(&started.marker).parent().unwrap().exists());
}
