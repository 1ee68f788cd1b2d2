//! Appending to and reading the audit log; signing its head when it has a [`Sealer`].

use std::time::SystemTime;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::seal::{self, SEAL_EVERY, Sealer, SignedHead};
use super::{AuditEvent, GENESIS_HASH};
use crate::store::db::{Database, DbError};

/// One stored record. `--json` prints these.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// The run it belongs to.
    pub run_id: String,
    /// RFC 3339 UTC time, milliseconds.
    pub at: String,
    /// The event kind.
    pub kind: String,
    /// The event, as JSON.
    pub data: serde_json::Value,
    /// The previous record's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// sha256 over this record's fields and `prev_hash`.
    pub hash: String,
}

/// The append-only audit log.
#[derive(Clone)]
pub struct AuditLog {
    db: Database,
    sealer: Option<Sealer>,
    /// Cuts the run's secret and env values out of every record before it is written.
    redactor: Option<std::sync::Arc<crate::secrets::Redactor>>,
    /// The last record this process wrote (seq, hash), shared by every clone: before each
    /// append and seal the records from it on must still chain to it, so a rewrite made
    /// while a run is under way is never extended, nor signed.
    written: std::sync::Arc<std::sync::Mutex<Option<(i64, String)>>>,
}

impl AuditLog {
    /// The audit log in `db`, unsigned (reading, and tests of the chain alone).
    pub fn new(db: Database) -> Self {
        AuditLog {
            db,
            sealer: None,
            redactor: None,
            written: Default::default(),
        }
    }

    /// This log, writing every record through `redactor`: the last net under a run's
    /// records, whatever field a value reached.
    pub fn redacting(&self, redactor: crate::secrets::Redactor) -> Self {
        AuditLog {
            redactor: (!redactor.is_empty()).then(|| std::sync::Arc::new(redactor)),
            ..self.clone()
        }
    }

    /// The audit log in `db`, signing its head with `sealer` every [`SEAL_EVERY`] records
    /// and whenever [`AuditLog::seal`] is called.
    pub fn sealed(db: Database, sealer: Sealer) -> Self {
        AuditLog {
            db,
            sealer: Some(sealer),
            redactor: None,
            written: Default::default(),
        }
    }

    /// The database the log lives in.
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// The sealer, if the log signs its head.
    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_ref()
    }

    /// Sign the current head (the end of a run), unless it is signed already, and publish
    /// it beside the database. Durable on return.
    pub fn seal(&self) -> Result<Option<SignedHead>, DbError> {
        let Some(sealer) = &self.sealer else {
            return Ok(None);
        };
        let head = {
            let mut connection = self.db.lock();
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|error| self.db.error(error))?;
            let last: Option<(i64, String, String)> = transaction
                .query_row(
                    "SELECT seq, hash, at FROM events ORDER BY seq DESC LIMIT 1",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .map_err(|error| self.db.error(error))?;
            let Some((seq, hash, at)) = last else {
                return Ok(None);
            };
            self.check_written(&transaction)?;
            let head = sealer
                .sign(&transaction, seq, &hash, &at)
                .map_err(|error| self.db.error(error))?;
            transaction.commit().map_err(|error| self.db.error(error))?;
            head
        };
        self.publish(&head)?;
        Ok(Some(head))
    }

    fn publish(&self, head: &SignedHead) -> Result<(), DbError> {
        if let Some(sealer) = &self.sealer {
            sealer.publish(head).map_err(|source| DbError::Io {
                path: self.db.path().with_file_name(seal::HEAD_FILE),
                source,
            })?;
        }
        Ok(())
    }

    /// Fail unless the records from the last one this process wrote still hold what it
    /// wrote and chain, hash by hash, to the end (other processes may have appended).
    fn check_written(&self, transaction: &rusqlite::Transaction<'_>) -> Result<(), DbError> {
        let Some((seq, hash)) = self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
        else {
            return Ok(());
        };
        let tampered = |message: String| DbError::Tampered {
            path: self.db.path().to_path_buf(),
            message,
        };
        let mut statement = transaction
            .prepare("SELECT seq, run_id, at, kind, data, prev_hash, hash FROM events WHERE seq >= ?1 ORDER BY seq")
            .map_err(|error| self.db.error(error))?;
        let rows = statement
            .query_map(params![seq], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .map_err(|error| self.db.error(error))?;
        let mut expected_prev: Option<String> = None;
        for (expected_seq, row) in (seq..).zip(rows) {
            let (row_seq, run_id, at, kind, data, prev_hash, row_hash) =
                row.map_err(|error| self.db.error(error))?;
            let recomputed = record_hash(row_seq, &run_id, &at, &kind, &data, &prev_hash);
            let fits = row_seq == expected_seq
                && recomputed == row_hash
                && match &expected_prev {
                    None => row_hash == hash,
                    Some(previous) => &prev_hash == previous,
                };
            if !fits {
                return Err(tampered(format!(
                    "audit record {row_seq} is not what this process wrote or chained to: the log was changed while medic was writing it; nothing more is appended or signed"
                )));
            }
            expected_prev = Some(row_hash);
        }
        if expected_prev.is_none() {
            return Err(tampered(format!(
                "audit record {seq}, which this process wrote, is gone; nothing more is appended or signed"
            )));
        }
        Ok(())
    }

    /// Append `event` for `run_id`, durably, and return how many bytes the record holds.
    /// Returns only once SQLite has committed it.
    pub fn append(&self, run_id: &str, event: &AuditEvent) -> Result<u64, DbError> {
        let data = serde_json::to_string(event).expect("audit events always serialise");
        let data = match &self.redactor {
            Some(redactor) => redactor.redact(&data).into_owned(),
            None => data,
        };
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut connection = self.db.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|error| self.db.error(error))?;
        let last: Option<(i64, String)> = transaction
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|error| self.db.error(error))?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_HASH.to_string()),
        };
        self.check_written(&transaction)?;
        let hash = record_hash(seq, run_id, &at, event.kind(), &data, &prev_hash);
        transaction
            .execute(
                "INSERT INTO events (seq, run_id, at, kind, data, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![seq, run_id, at, event.kind(), data, prev_hash, hash],
            )
            .map_err(|error| self.db.error(error))?;
        let mut signed = None;
        if let Some(sealer) = &self.sealer {
            let last = seal::last_signed(&transaction).map_err(|error| self.db.error(error))?;
            // The first record is signed with it, so that a log with records and a key but
            // no signed head can only be one whose heads were removed.
            if last.is_none_or(|last| seq - last >= SEAL_EVERY) {
                signed = Some(
                    sealer
                        .sign(&transaction, seq, &hash, &at)
                        .map_err(|error| self.db.error(error))?,
                );
            }
        }
        transaction.commit().map_err(|error| self.db.error(error))?;
        *self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((seq, hash.clone()));
        if let Some(head) = &signed {
            self.publish(head)?;
        }
        Ok((data.len() + run_id.len() + at.len() + 2 * hash.len()) as u64)
    }

    /// Every record, in order; of one run when `run_id` is given.
    pub fn records(&self, run_id: Option<&str>) -> Result<Vec<AuditRecord>, DbError> {
        let connection = self.db.lock();
        let mut statement = connection
            .prepare(
                "SELECT seq, run_id, at, kind, data, prev_hash, hash FROM events
                 WHERE ?1 IS NULL OR run_id = ?1 ORDER BY seq",
            )
            .map_err(|error| self.db.error(error))?;
        let rows = statement
            .query_map(params![run_id], |row| {
                let data: String = row.get(4)?;
                Ok(AuditRecord {
                    seq: row.get(0)?,
                    run_id: row.get(1)?,
                    at: row.get(2)?,
                    kind: row.get(3)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                    prev_hash: row.get(5)?,
                    hash: row.get(6)?,
                })
            })
            .map_err(|error| self.db.error(error))?;
        rows.collect::<Result<_, _>>()
            .map_err(|error| self.db.error(error))
    }

    /// Raw rows for verification: the stored text, not re-serialised JSON.
    pub(crate) fn raw_rows(&self) -> Result<Vec<RawRow>, DbError> {
        let connection = self.db.lock();
        let mut statement = connection
            .prepare("SELECT seq, run_id, at, kind, data, prev_hash, hash FROM events ORDER BY seq")
            .map_err(|error| self.db.error(error))?;
        let rows = statement
            .query_map([], |row| {
                Ok(RawRow {
                    seq: row.get(0)?,
                    run_id: row.get(1)?,
                    at: row.get(2)?,
                    kind: row.get(3)?,
                    data: row.get(4)?,
                    prev_hash: row.get(5)?,
                    hash: row.get(6)?,
                })
            })
            .map_err(|error| self.db.error(error))?;
        rows.collect::<Result<_, _>>()
            .map_err(|error| self.db.error(error))
    }

    /// The id of the most recent run, if any.
    pub fn last_run_id(&self) -> Result<Option<String>, DbError> {
        let connection = self.db.lock();
        connection
            .query_row(
                "SELECT run_id FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|error| self.db.error(error))
    }
}

/// A stored row exactly as SQLite holds it.
pub(crate) struct RawRow {
    pub(crate) seq: i64,
    pub(crate) run_id: String,
    pub(crate) at: String,
    pub(crate) kind: String,
    pub(crate) data: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

/// The chain hash: sha256 over the fields, each followed by a newline.
pub(crate) fn record_hash(
    seq: i64,
    run_id: &str,
    at: &str,
    kind: &str,
    data: &str,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    for field in [prev_hash, &seq.to_string(), run_id, at, kind, data] {
        hasher.update(field.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::data_dir::DataDir;

    fn event(result: &str) -> AuditEvent {
        AuditEvent::RunFinished {
            status: "healed".to_string(),
            summary: result.to_string(),
        }
    }

    #[test]
    fn a_record_rewritten_under_a_running_process_is_never_extended() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(&dir.path().join("data")).unwrap();
        let log = AuditLog::new(Database::open(&data).unwrap());
        log.append("run-1", &event("first")).unwrap();
        // Another process appending is fine: its records chain to this one's.
        let other = AuditLog::new(log.database().clone());
        other.append("run-2", &event("theirs")).unwrap();
        log.append("run-1", &event("second")).unwrap();
        // Someone rewrites record 3 with a recomputed hash while the run goes on.
        {
            let connection = log.db.lock();
            connection
                .execute_batch("DROP TRIGGER events_no_update;")
                .unwrap();
            let (run_id, at, kind, prev): (String, String, String, String) = connection
                .query_row(
                    "SELECT run_id, at, kind, prev_hash FROM events WHERE seq = 3",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .unwrap();
            let data = "{\"type\":\"run_finished\",\"status\":\"healed\",\"summary\":\"forged\"}";
            let hash = record_hash(3, &run_id, &at, &kind, data, &prev);
            connection
                .execute(
                    "UPDATE events SET data = ?1, hash = ?2 WHERE seq = 3",
                    params![data, hash],
                )
                .unwrap();
        }
        let error = log.append("run-1", &event("third")).unwrap_err();
        assert!(matches!(error, DbError::Tampered { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("audit record 3 is not what this process wrote"),
            "{error}"
        );
        assert_eq!(
            log.records(None).unwrap().len(),
            3,
            "nothing was appended after it"
        );
    }
}
