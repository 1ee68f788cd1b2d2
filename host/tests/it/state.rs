//! medic's own state from the hostile side: no grant may reach the data directory, by any
//! spelling, a symlink planted mid-run, or a bind mount; an unsafe data directory is
//! refused; a tampered, swapped or foreign compiled-cache entry is never loaded.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use medic_tests::{Medic, Remediation, RunResult};

use super::{assert_denial_audited, assert_denied, assert_healed, call, medic};

/// An executable script owned by the test's user, mode 0755, for a local attacker's move.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run_steps(medic: &Medic, dir: &Path, id: &str, steps: &[String]) -> RunResult {
    medic.run_remediation(dir, &medic.incident(id, &[("steps", &steps.join("\n"))]))
}

#[test]
fn a_ceiling_or_grant_that_reaches_the_data_dir_is_refused_before_anything_runs() {
    let medic = medic();
    let private = medic.data_dir().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(medic.data_dir().join("compiled")).unwrap();
    std::fs::set_permissions(medic.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let alias = medic.root().join("alias");
    std::os::unix::fs::symlink(&private, &alias).unwrap();
    for (what, root, relation) in [
        ("the data dir itself", medic.data_dir(), "is"),
        ("its parent", private.clone(), "contains"),
        (
            "its compiled cache",
            medic.data_dir().join("compiled"),
            "lies inside",
        ),
        ("a symlink to its parent", alias.clone(), "contains"),
    ] {
        let dir = medic.install(&Remediation::new("fs-escape").fs(&root, "read"));
        let result = medic.run_remediation(
            &dir,
            &medic.incident(
                "reach",
                &[("op", "list"), ("path", &root.display().to_string())],
            ),
        );
        assert_eq!(result.code, 2, "{what}: {}{}", result.stdout, result.stderr);
        assert!(
            result
                .stderr
                .contains(&format!("{relation} medic's own state")),
            "{what}: {}",
            result.stderr
        );
        assert!(result.stdout.is_empty(), "{what}: nothing ran");
    }
    assert!(
        !medic.data_dir().join("medic.db").exists(),
        "nothing was recorded: no run started"
    );
}

#[test]
fn an_unsafe_data_dir_is_refused_and_says_why() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("limits-abuse"));
    let incident = medic.incident("unsafe", &[("attack", "none")]);
    assert_healed(&medic.run_remediation(&dir, &incident));
    std::fs::set_permissions(medic.data_dir(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let result = medic.run_remediation(&dir, &incident);
    assert_eq!(result.code, 2);
    assert!(
        result
            .stderr
            .contains("is unsafe: it is writable by its group (mode 770)"),
        "{}",
        result.stderr
    );
    std::fs::set_permissions(medic.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(
            &medic.data_dir(),
            Some(nix::unistd::Uid::from_raw(65534)),
            None,
        )
        .unwrap();
        let result = medic.run_remediation(&dir, &incident);
        assert_eq!(result.code, 2);
        assert!(
            result
                .stderr
                .contains("it belongs to uid 65534, not to this user"),
            "{}",
            result.stderr
        );
        nix::unistd::chown(&medic.data_dir(), Some(nix::unistd::geteuid()), None).unwrap();
    }
    assert_healed(&medic.run_remediation(&dir, &incident));
}

#[test]
fn a_symlink_planted_at_a_root_mid_run_is_not_followed() {
    let medic = medic();
    let work = medic.root().join("work");
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log"), "ordinary").unwrap();
    // The local attacker's move, run mid-run; it knows where medic's state is (an argument
    // naming it would be refused before the move).
    let attacker = script(
        &medic.private_dir().join("bin"),
        "swap",
        &format!(
            "mv \"$1\" \"$1.real\" && ln -s {} \"$1\"",
            medic.data_dir().display()
        ),
    );
    let remediation = Remediation::new("sequence")
        .risk("medium")
        .fs(&logs, "read")
        .exec_script(&attacker.display().to_string(), &["^/.*$"]);
    let dir = medic.install(&remediation);
    // First run: the attacker points the root at medic's data directory, then the guest
    // reads through it.
    assert_healed(&medic.run_remediation(
        &dir,
        &medic.incident(
            "warm",
            &[("steps", &format!("read {}/app.log", logs.display()))],
        ),
    ));
    let database = medic.data_dir().join("medic.db");
    let before = std::fs::read(&database).unwrap();
    let steps = [
        format!("exec {} {}", attacker.display(), logs.display()),
        format!("read {}/medic.db", logs.display()),
        format!("list {}", logs.display()),
    ];
    let result = run_steps(&medic, &dir, "swap", &steps);
    let report = result.json();
    let call = assert_denied(&result, "fs", "escape");
    assert!(
        call["reason"]
            .as_str()
            .unwrap()
            .contains("is reached through the symlink"),
        "{call:#}"
    );
    assert_eq!(
        report["host_calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|call| call["capability"] == "fs" && call["denial"] == "escape")
            .count(),
        2,
        "both the read and the list were refused: {report:#}"
    );
    assert!(
        std::fs::read(&database).unwrap().len() >= before.len(),
        "the database is medic's"
    );
    // While the planted symlink stands, the ceiling's root reaches medic's state, so the
    // next command refuses to start at all.
    let next = medic.run_remediation(&dir, &medic.incident("next", &[("steps", "list /")]));
    assert_eq!(next.code, 2);
    assert!(
        next.stderr.contains("is medic's own state"),
        "{}",
        next.stderr
    );
    std::fs::remove_file(&logs).unwrap();
    std::fs::rename(logs.with_extension("real"), &logs).unwrap();
    assert_denial_audited(&medic, "fs", "medic.db", "escape");
}

/// Bind-mount `source` at `target` for the rest of the test (needs root); `None` when
/// this machine does not allow it.
struct Mount(PathBuf);

impl Mount {
    fn bind(source: &Path, target: &Path) -> Option<Mount> {
        std::fs::create_dir_all(target).unwrap();
        let status = Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .status()
            .ok()?;
        status.success().then(|| Mount(target.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_bind_mount_of_proc_or_of_medics_state_is_refused_by_what_it_is() {
    let medic = medic();
    let granted = medic.root().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let dir = medic.install(&Remediation::new("fs-escape").fs(&granted, "read"));
    // The data directory exists once a run has been recorded.
    let warm = medic.incident(
        "warm",
        &[("op", "list"), ("path", &granted.display().to_string())],
    );
    assert_healed(&medic.run_remediation(&dir, &warm));
    let Some(_proc) = Mount::bind(Path::new("/proc"), &granted.join("procview")) else {
        println!("SKIPPED: this machine does not allow bind mounts");
        return;
    };
    let _state = Mount::bind(&medic.data_dir(), &granted.join("state")).expect("bind mount");
    for (path, kind) in [
        (granted.join("procview/1/environ"), "pseudo_filesystem"),
        (
            granted.join("procview/sys/kernel/hostname"),
            "pseudo_filesystem",
        ),
        (granted.join("state/medic.db"), "protected_state"),
        (granted.join("state/keys/cache.key"), "protected_state"),
    ] {
        let incident = medic.incident(
            "mounted",
            &[("op", "read"), ("path", &path.display().to_string())],
        );
        let result = medic.run_remediation(&dir, &incident);
        assert_denied(&result, "fs", kind);
        assert!(!result.stdout.contains("MEDIC"), "nothing of it was read");
    }
    assert_denial_audited(&medic, "fs", "cache.key", "protected_state");
}

/// One way a local attacker rewrites a cache entry.
type Tamper = Box<dyn Fn(&Path)>;

fn cache_entry(medic: &Medic, sha256: &str) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(medic.data_dir().join("compiled"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(sha256)
        })
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

fn compile_of(result: &RunResult) -> String {
    assert_healed(result)["compile"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn only_cache_entries_medic_wrote_are_loaded() {
    let medic = medic();
    let victim = medic.install(&Remediation::new("limits-abuse"));
    let behave = medic.incident("cache", &[("attack", "none")]);
    assert_eq!(
        compile_of(&medic.run_remediation(&victim, &behave)),
        "compiled"
    );
    assert_eq!(
        compile_of(&medic.run_remediation(&victim, &behave)),
        "cached"
    );
    let entry = cache_entry(&medic, &medic_tests::guest_sha256("limits-abuse"));
    let key = medic.data_dir().join("keys/cache.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A flipped byte, a swapped-in entry of another component, a raw artifact with the
    // old checksum sidecar, a symlink: each is compiled again, and the run is the victim's.
    let other = medic.root().join("other");
    let other_dir = {
        let mut remediation = Remediation::new("fs-escape");
        remediation.name = "other".to_string();
        let dir = medic.install(&remediation);
        std::fs::rename(&dir, &other).unwrap();
        other.clone()
    };
    let victim = medic.install(&Remediation::new("limits-abuse"));
    let list = medic.incident("other", &[("op", "list"), ("path", "/nonexistent")]);
    let _ = medic.run_remediation(&other_dir, &list);
    let foreign =
        std::fs::read(cache_entry(&medic, &medic_tests::guest_sha256("fs-escape"))).unwrap();
    let original = std::fs::read(&entry).unwrap();
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let tampers: Vec<(&str, Tamper)> = vec![
        (
            "flipped byte",
            Box::new(move |path: &Path| std::fs::write(path, &flipped).unwrap()),
        ),
        (
            "another component's entry",
            Box::new(move |path: &Path| std::fs::write(path, &foreign).unwrap()),
        ),
        (
            "raw artifact with a checksum",
            Box::new(move |path: &Path| {
                let raw = &original[40..];
                std::fs::write(path, raw).unwrap();
                use sha2::Digest;
                std::fs::write(
                    path.with_extension("sha256"),
                    hex::encode(sha2::Sha256::digest(raw)),
                )
                .unwrap();
            }),
        ),
        (
            "symlink",
            Box::new(|path: &Path| {
                let elsewhere = path.with_extension("elsewhere");
                std::fs::rename(path, &elsewhere).unwrap();
                std::os::unix::fs::symlink(&elsewhere, path).unwrap();
            }),
        ),
    ];
    for (what, tamper) in tampers {
        tamper(&entry);
        let result = medic.run_remediation(&victim, &behave);
        assert_eq!(compile_of(&result), "compiled", "{what}");
        assert_eq!(call(&result.json(), "apply")["detail"], "behaved", "{what}");
        let _ = std::fs::remove_file(entry.with_extension("elsewhere"));
        assert_eq!(
            compile_of(&medic.run_remediation(&victim, &behave)),
            "cached",
            "{what}: rewritten"
        );
    }
    // A key anyone could read would let them forge entries: medic refuses to use it.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let result = medic.run_remediation(&victim, &behave);
    assert_eq!(result.code, 2);
    assert!(
        result
            .stderr
            .contains("must belong to this user and be readable by nobody else"),
        "{}",
        result.stderr
    );
}
