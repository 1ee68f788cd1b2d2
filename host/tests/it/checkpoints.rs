//! Checkpoints from the hostile side: `checkpoint-probe` saves state in `apply`, fails, and
//! reports what `rollback` finds. A rollback sees only what its own run saved, never an
//! earlier run's, nor another component's under the same name; keys and values are
//! capped; a bare name is a bundled remediation, never a directory of that name.

use medic_tests::{Medic, Remediation};

use super::{assert_denial_audited, call, medic};

fn rollback_detail(
    medic: &Medic,
    dir: &std::path::Path,
    id: &str,
    params: &[(&str, &str)],
) -> String {
    let result = medic.run_remediation(dir, &medic.incident(id, params));
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back", "{report:#}");
    call(&report, "rollback")["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_rollback_sees_only_its_own_runs_checkpoints() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("checkpoint-probe"));
    assert_eq!(
        rollback_detail(&medic, &dir, "same", &[("op", "save"), ("value", "mine")]),
        "found state=mine"
    );
    // The same incident, the same component, a later run: it must not undo the first.
    assert_eq!(
        rollback_detail(&medic, &dir, "same", &[("op", "none")]),
        "found nothing under state"
    );
    // Another component claiming the same remediation name: still nothing.
    let mut impostor = Remediation::new("limits-abuse");
    impostor.name = "checkpoint-probe".to_string();
    let impostor_dir = medic.install(&impostor);
    let result = medic.run_remediation(
        &impostor_dir,
        &medic.incident("same", &[("attack", "none")]),
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(
        rollback_detail(
            &medic,
            &medic.install(&Remediation::new("checkpoint-probe")),
            "same",
            &[("op", "none")]
        ),
        "found nothing under state"
    );
    medic.assert_audit_intact();
}

#[test]
fn checkpoint_keys_counts_and_sizes_are_capped() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("checkpoint-probe").limit("memory", "64MiB"));
    let cases = [
        ("flood-keys", "refused after 256 saves", "over_cap"),
        ("flood-bytes", "refused after 7 saves", "over_cap"),
        ("huge-value", "refused: denied", "over_cap"),
        ("long-key", "refused: denied", "malformed"),
    ];
    for (op, outcome, kind) in cases {
        let result = medic.run_remediation(&dir, &medic.incident(op, &[("op", op)]));
        let report = result.json();
        let detail = call(&report, "apply")["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(detail.contains(outcome), "{op}: {detail}");
        assert_eq!(report["status"], "denied", "{op}: {report:#}");
        assert_denial_audited(&medic, "checkpoint", "save", kind);
    }
    let result = medic.run_remediation(&dir, &medic.incident("long-load", &[("op", "long-key")]));
    let report = result.json();
    let detail = call(&report, "rollback")["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("load refused: denied: checkpoint keys are 1 to 128 bytes, got 129"),
        "{detail}"
    );
    assert_denial_audited(&medic, "checkpoint", "load", "malformed");
}

#[test]
fn a_bare_name_is_bundled_and_never_a_directory() {
    let medic = medic();
    // A directory named like a bundled remediation, in the directory medic runs from.
    let mut shadow = Remediation::new("limits-abuse");
    shadow.name = "free-disk-space".to_string();
    let shadow_dir = medic.install(&shadow);
    let incident = medic.incident_for(
        "shadow",
        "host",
        "disk_full",
        &[("dir", "/tmp/medic-no-such-dir"), ("max_bytes", "1")],
    );
    let incident = incident.display().to_string();
    let by_path = medic.run(&[
        "run",
        &shadow_dir.display().to_string(),
        "--incident",
        &incident,
        "--json",
    ]);
    assert_eq!(by_path.code, 2, "{}", by_path.stderr);
    assert!(
        by_path
            .stderr
            .contains("claims the name `free-disk-space`, which belongs to a bundled remediation"),
        "{}",
        by_path.stderr
    );
    let parent = shadow_dir.parent().unwrap();
    std::fs::rename(&shadow_dir, parent.join("free-disk-space")).unwrap();
    // The embedded configuration, whose ceilings the bundled remediation fits.
    std::fs::remove_file(medic.config_path()).unwrap();
    let by_name = medic.run_in(
        parent,
        &[
            "run",
            "free-disk-space",
            "--incident",
            &incident,
            "--json",
            "--dry-run",
        ],
    );
    let report = by_name.json();
    assert_eq!(report["remediation"], "free-disk-space");
    assert_ne!(
        report["sha256"],
        medic_tests::guest_sha256("limits-abuse"),
        "the bundled component ran, not the directory's"
    );
}
