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
    let kinds: Vec<String> = result.json()["records"]
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
fn audit_verify_finds_a_cut_tail_by_the_signed_head() {
    let medic = medic();
    one_run(&medic);
    let (code, before) = verify(&medic, &[]);
    assert_eq!(code, 0, "{before:#}");
    assert_eq!(before["last_signed"]["seq"], 5, "the run's end was signed");
    let head = before["head"].as_str().unwrap().to_string();
    sql(
        &medic,
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 5;",
    );
    let (code, report) = verify(&medic, &[]);
    assert_eq!(
        code, 1,
        "the signed head catches a cut tail without an anchor"
    );
    assert_eq!(
        report["first_bad"]["problem"],
        "the log stops at record 4, but the head signed vouches for record 5: it was cut short or replaced by an older copy"
    );
    let (code, _) = verify(&medic, &["--expect-head", &head]);
    assert_eq!(code, 1);
}

/// Rewrite record `seq`'s data with `edit` and recompute every later hash, as someone who
/// can write the database (but not read medic's key) would.
fn rewrite_and_rechain(medic: &Medic, seq: i64, edit: impl Fn(&str) -> String) {
    use sha2::Digest;
    let connection = rusqlite::Connection::open(medic.data_dir().join("medic.db")).unwrap();
    connection
        .execute_batch("DROP TRIGGER events_no_update;")
        .unwrap();
    let rows: Vec<(i64, String, String, String, String)> = connection
        .prepare("SELECT seq, run_id, at, kind, data FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = "0".repeat(64);
    for (row_seq, run_id, at, kind, data) in rows {
        let data = if row_seq == seq { edit(&data) } else { data };
        let mut hasher = sha2::Sha256::new();
        for field in [
            prev.as_str(),
            &row_seq.to_string(),
            &run_id,
            &at,
            &kind,
            &data,
        ] {
            hasher.update(field.as_bytes());
            hasher.update(b"\n");
        }
        let hash = hex::encode(hasher.finalize());
        connection
            .execute(
                "UPDATE events SET data = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                rusqlite::params![data, prev, hash, row_seq],
            )
            .unwrap();
        prev = hash;
    }
}

#[test]
fn audit_verify_finds_a_rewrite_even_with_every_later_hash_recomputed() {
    let medic = medic();
    one_run(&medic);
    rewrite_and_rechain(&medic, 3, |data| data.replace("behaved", "tampered"));
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["first_bad"]["seq"], 5);
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("the log was rewritten (even with every later hash recomputed)"),
        "{report:#}"
    );
}

#[test]
fn audit_verify_fails_on_a_missing_empty_or_older_database() {
    let medic = medic();
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1);
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .starts_with("there is no audit database in"),
        "{report:#}"
    );
    assert!(
        !medic.data_dir().join("medic.db").exists(),
        "verify created nothing"
    );

    one_run(&medic);
    let database = medic.data_dir().join("medic.db");
    sql(&medic, "PRAGMA wal_checkpoint(TRUNCATE);");
    let older = std::fs::read(&database).unwrap();
    one_run(&medic);
    let witness = medic.root().join("witness.head");
    let head = medic.run(&["audit", "head", "--json"]);
    assert_eq!(head.code, 0, "{}", head.stderr);
    std::fs::write(&witness, &head.stdout).unwrap();
    assert_eq!(
        verify(&medic, &["--head", &witness.display().to_string()]).0,
        0
    );

    // Put the older copy back (and drop its write-ahead log).
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(database.with_file_name(format!("medic.db{suffix}")));
    }
    std::fs::write(&database, &older).unwrap();
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("the head medic last published (audit.head)"),
        "{report:#}"
    );
    // Someone who can write the data directory deletes audit.head too: the witness's
    // head, kept elsewhere, still catches it.
    std::fs::remove_file(medic.data_dir().join("audit.head")).unwrap();
    let (code, report) = verify(&medic, &["--head", &witness.display().to_string()]);
    assert_eq!(code, 1, "{report:#}");
    let problem = report["first_bad"]["problem"].as_str().unwrap();
    assert!(
        problem.contains("audit.head") || problem.contains("the witness's head"),
        "{problem}"
    );

    sql(&medic, "DROP TRIGGER events_no_delete; DELETE FROM events;");
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        report["first_bad"]["problem"],
        "the audit log holds no records"
    );
}

#[test]
fn signed_heads_are_append_only_and_the_key_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let medic = medic();
    one_run(&medic);
    let key = medic.data_dir().join("keys/audit.ed25519.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let connection = rusqlite::Connection::open(medic.data_dir().join("medic.db")).unwrap();
    let error = connection.execute("DELETE FROM heads", []).unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
    sql(&medic, "DROP TRIGGER heads_no_delete; DELETE FROM heads;");
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1);
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("holds no signed head as recent as the one medic published"),
        "{report:#}"
    );
}

#[test]
fn audit_verify_fails_when_every_signed_head_and_audit_head_are_gone() {
    let medic = medic();
    one_run(&medic);
    one_run(&medic);
    rewrite_and_rechain(&medic, 3, |data| data.replace("behaved", "tampered"));
    sql(&medic, "DROP TRIGGER heads_no_delete; DELETE FROM heads;");
    std::fs::remove_file(medic.data_dir().join("audit.head")).unwrap();
    let (code, report) = verify(&medic, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["first_bad"]["problem"]
            .as_str()
            .unwrap()
            .contains("its signed heads were removed"),
        "{report:#}"
    );
}
