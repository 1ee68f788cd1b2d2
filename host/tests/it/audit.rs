//! The audit log: every run recorded, the chain verifies, and any edit or deletion is
//! found and named.

use medic_tests::{Medic, Remediation};

use super::{assert_healed, medic};

fn one_run(medic: &Medic) -> String {
    let dir = medic.install(&Remediation::new("limits-abuse"));
    let report = assert_healed(
        &medic.run_remediation(&dir, &medic.incident("audited", &[("attack", "none")])),
    );
    report["run_id"].as_str().unwrap().to_string()
}

fn sql(medic: &Medic, statement: &str) {
    let connection = rusqlite::Connection::open(medic.data_dir().join("medic.db")).unwrap();
    connection.execute_batch(statement).unwrap();
}

fn verify(medic: &Medic, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["audit", "verify", "--json"];
    args.extend_from_slice(extra);
    let result = medic.run(&args);
    (result.code, result.json())
}

#[test]
fn audit_records_each_run_and_shows_it() {
    let medic = medic();
    let run_id = one_run(&medic);
    let result = medic.run(&["audit", "show", &run_id, "--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let kinds: Vec<String> = result
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "call_finished",
            "call_finished",
            "call_finished",
            "run_finished"
        ]
    );
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["records"], 5);
    assert!(report["first_bad"].is_null());
}

#[test]
fn audit_refuses_updates_and_deletes_through_sqlite() {
    let medic = medic();
    one_run(&medic);
    let connection = rusqlite::Connection::open(medic.data_dir().join("medic.db")).unwrap();
    let error = connection
        .execute("UPDATE events SET data = '{}' WHERE seq = 2", [])
        .unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
    let error = connection
        .execute("DELETE FROM events WHERE seq = 2", [])
        .unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
}

#[test]
fn audit_verify_names_the_first_edited_record() {
    let medic = medic();
    one_run(&medic);
    sql(
        &medic,
        "DROP TRIGGER events_no_update; UPDATE events SET data = replace(data, 'behaved', 'tampered') WHERE seq = 3;",
    );
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["first_bad"]["seq"], 3);
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("edited")
    );
}

#[test]
fn audit_verify_names_a_deleted_record() {
    let medic = medic();
    one_run(&medic);
    sql(
        &medic,
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 3;",
    );
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["first_bad"]["seq"], 3);
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
}

#[test]
fn audit_verify_finds_a_cut_tail_given_the_old_head() {
    let medic = medic();
    one_run(&medic);
    let (_, before) = verify(&medic, &[]);
    let head = before["head"].as_str().unwrap().to_string();
    sql(
        &medic,
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 5;",
    );
    assert_eq!(
        verify(&medic, &[]).0,
        0,
        "without an anchor a cut tail looks intact"
    );
    let (code, report) = verify(&medic, &["--expect-head", &head]);
    assert_eq!(code, 1);
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("cut short")
    );
}
