//! `clear-stale-lock`, run for real on the embedded default configuration: pid files under
//! a directory in /tmp naming processes this test started, one that has exited and one
//! still running, which `/usr/bin/ps` is asked about; and its scenarios through `medic test`.

use std::path::Path;
use std::process::{Child, Command};

use medic_tests::{Medic, RunResult};

use super::{assert_healed, medic};

/// A directory under /tmp: the default ceilings grant /tmp, and `dir` must lie inside it.
fn lock_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("medic-locks-")
        .tempdir_in("/tmp")
        .unwrap()
}

/// The pid of a process that has exited and been reaped: no process has it, until the
/// kernel has handed out every other pid.
fn exited_pid() -> u32 {
    let mut child = Command::new("/usr/bin/true").spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    pid
}

/// A running `sleep`, killed when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("/usr/bin/sleep").arg("600").spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn clear(medic: &Medic, id: &str, params: &[(&str, &str)], extra: &[&str]) -> RunResult {
    let incident = medic.incident_for(id, "service", "stale_lock", params);
    let incident = incident.display().to_string();
    let mut args = vec!["run", "clear-stale-lock", "--incident", &incident, "--json"];
    args.extend_from_slice(extra);
    medic.run(&args)
}

/// Assert `plan` refused (exit 5, `plan_failed`, nothing changed) because of `reason`.
fn assert_refused(result: &RunResult, lock: &str, reason: &str) {
    assert_eq!(result.code, 5, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "plan_failed", "{report:#}");
    assert_eq!(
        report["summary"],
        format!("plan: failed: refused: `{lock}` stays: {reason}; nothing was changed")
    );
}

#[test]
fn clear_stale_lock_removes_the_pid_file_of_an_exited_process() {
    let medic = medic();
    let locks = lock_dir();
    let dir = locks.path().display().to_string();
    let lock = locks.path().join("worker.pid");
    let pid = exited_pid();
    std::fs::write(&lock, format!("{pid}\n")).unwrap();
    let lock_text = lock.display().to_string();
    let params = [("lock", lock_text.as_str()), ("dir", dir.as_str())];
    let ps = format!("/usr/bin/ps -p {pid} -o comm=");

    // The dry run asks `ps` (a read-only grant) and changes nothing.
    let plan = clear(&medic, "lock-1", &params, &["--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan = plan.json();
    assert_eq!(plan["status"], "planned", "{plan:#}");
    let targets: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, [ps.as_str(), lock_text.as_str()]);
    assert!(lock.exists(), "a dry run removes nothing");

    let report = assert_healed(&clear(&medic, "lock-2", &params, &[]));
    assert!(!lock.exists(), "the stale lock is gone");
    assert_eq!(
        report["summary"],
        format!(
            "removed the stale lock `{lock_text}` (no process has pid {pid}); its {} bytes are saved for rollback; verified: `{lock_text}` is gone",
            pid.to_string().len() + 1
        )
    );
    // Asked in plan, and again in apply, each allowed and audited.
    let asked: Vec<&serde_json::Value> = report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["capability"] == "exec")
        .collect();
    assert_eq!(asked.len(), 2, "{report:#}");
    assert!(
        asked
            .iter()
            .all(|call| call["allowed"] == true && call["target"] == ps.as_str()),
        "{asked:#?}"
    );
    assert!(
        medic
            .audited_calls("exec")
            .iter()
            .any(|call| call["allowed"] == true && call["target"] == ps.as_str()),
        "the ps call is audited"
    );
    medic.assert_audit_intact();
}

#[test]
fn clear_stale_lock_never_removes_the_lock_of_a_running_process() {
    let medic = medic();
    let locks = lock_dir();
    let dir = locks.path().display().to_string();
    let lock = locks.path().join("worker.pid");
    let mut sleeper = Sleeper::start();
    let pid = sleeper.pid();
    let content = format!("{pid}\n");
    std::fs::write(&lock, &content).unwrap();
    let lock_text = lock.display().to_string();
    let params = [("lock", lock_text.as_str()), ("dir", dir.as_str())];

    assert_refused(
        &clear(&medic, "live-1", &params, &[]),
        &lock_text,
        &format!(
            "pid {pid} is alive (`sleep`); name the expected program in `process` if the pid may have been reused"
        ),
    );
    let expecting_sleep = [params[0], params[1], ("process", "sleep")];
    assert_refused(
        &clear(&medic, "live-2", &expecting_sleep, &[]),
        &lock_text,
        &format!("pid {pid} is alive and runs `sleep`, the program expected to hold the lock"),
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), content);
    assert!(sleeper.running());

    // The pid runs another program than the one that wrote the lock: it was reused, and the
    // lock is stale. The running process is not touched.
    let expecting_worker = [params[0], params[1], ("process", "worker")];
    let report = assert_healed(&clear(&medic, "live-3", &expecting_worker, &[]));
    assert_eq!(
        report["summary"],
        format!(
            "removed the stale lock `{lock_text}` (pid {pid} now runs `sleep`, not `worker`: the pid was reused); its {} bytes are saved for rollback; verified: `{lock_text}` is gone",
            content.len()
        )
    );
    assert!(!lock.exists());
    assert!(sleeper.running());
    medic.assert_audit_intact();
}

#[test]
fn clear_stale_lock_refuses_a_symlink_and_a_directory_beyond_the_ceiling() {
    let medic = medic();
    let locks = lock_dir();
    let elsewhere = lock_dir();
    let dir = locks.path().display().to_string();
    let target = elsewhere.path().join("real.pid");
    let pid = exited_pid();
    std::fs::write(&target, format!("{pid}\n")).unwrap();
    let lock = locks.path().join("worker.pid");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let lock_text = lock.display().to_string();

    assert_refused(
        &clear(
            &medic,
            "link-1",
            &[("lock", &lock_text), ("dir", &dir)],
            &[],
        ),
        &lock_text,
        "it is a symlink; medic judges and removes only a lock file itself",
    );
    assert!(lock.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        format!("{pid}\n")
    );

    // `dir` is the run's root, bound and held to the ceiling before anything runs.
    let refused = clear(
        &medic,
        "outside-1",
        &[
            ("lock", "/opt/medic-locks/worker.pid"),
            ("dir", "/opt/medic-locks"),
        ],
        &[],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "fs `/opt/medic-locks` (read-write) is beyond the operator's `medium` ceiling"
        ),
        "{}",
        refused.stderr
    );
}

#[test]
fn clear_stale_lock_scenarios_all_pass() {
    assert_scenarios_pass(&medic(), "clear-stale-lock");
}

/// `medic test NAME --json` runs every scenario in `remediations/NAME/scenarios` and each
/// passes.
pub(crate) fn assert_scenarios_pass(medic: &Medic, name: &str) {
    let files = std::fs::read_dir(
        medic_tests::workspace_root()
            .join("remediations")
            .join(name)
            .join("scenarios"),
    )
    .unwrap()
    .filter(|entry| {
        Path::new(&entry.as_ref().unwrap().file_name())
            .extension()
            .is_some_and(|extension| extension == "toml")
    })
    .count();
    let result = medic.run(&["test", name, "--json"]);
    let report = result.json();
    let failed: Vec<&serde_json::Value> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|scenario| scenario["passed"] != true)
        .collect();
    assert!(failed.is_empty(), "failed scenarios: {failed:#?}");
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(report["passed"], files, "{report:#}");
    assert_eq!(report["failed"], 0);
    assert_eq!(report["unused_grants"], serde_json::json!([]), "{report:#}");
}

#[test]
fn clear_stale_lock_manifest_is_within_the_default_ceiling_and_explains_its_warning() {
    super::assert_bundled_manifest("clear-stale-lock", &["fs-read-write"]);
}
