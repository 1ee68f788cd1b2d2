//! Checkpoints: bytes a remediation saves during `apply` so that `rollback` can undo it.
//! They belong to one run of one component: keyed by the run's id and the component's
//! sha256, never by a name a manifest could claim, so a rollback restores only what this
//! run's `apply` saved and a later run never sees an earlier one's state. They live in
//! medic's database, so they outlive the process (`medic recover` rolls back a run that
//! was killed).

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};

use crate::store::db::{Database, DbError};

/// Most bytes one checkpoint value may hold.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Longest key, on save and on load.
pub const MAX_KEY_BYTES: usize = 128;
/// Most keys one run may save.
pub const MAX_KEYS_PER_RUN: u64 = 256;
/// Most bytes (keys and values) one run may save, all keys together.
pub const MAX_BYTES_PER_RUN: u64 = 8 << 20;

/// Why a save was refused before it reached the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointRefusal {
    /// The key is empty or too long.
    Key(String),
    /// One value, the run's key count or the run's bytes would pass a cap.
    OverCap(String),
}

/// The checkpoints of one run of one component.
#[derive(Clone)]
pub struct Checkpoints {
    db: Database,
    run_id: String,
    component: String,
}

impl Checkpoints {
    /// Checkpoints of run `run_id` of the component with sha256 `component`.
    pub fn new(db: Database, run_id: &str, component: &str) -> Self {
        Checkpoints {
            db,
            run_id: run_id.to_string(),
            component: component.to_string(),
        }
    }

    /// Refuse a key no save or load may use.
    pub fn check_key(key: &str) -> Result<(), CheckpointRefusal> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(CheckpointRefusal::Key(format!(
                "checkpoint keys are 1 to {MAX_KEY_BYTES} bytes, got {}",
                key.len()
            )));
        }
        Ok(())
    }

    /// Save `value` under `key`, replacing what was there; durable on return. Refused when
    /// the value or the run's total would pass a cap.
    pub fn save(&self, key: &str, value: &[u8]) -> Result<Result<(), CheckpointRefusal>, DbError> {
        if let Err(refusal) = Self::check_key(key) {
            return Ok(Err(refusal));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(CheckpointRefusal::OverCap(format!(
                "a checkpoint value holds at most {MAX_VALUE_BYTES} bytes, got {}",
                value.len()
            ))));
        }
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut connection = self.db.lock();
        let transaction = connection
            .transaction()
            .map_err(|error| self.db.error(error))?;
        let (count, bytes, existing): (u64, u64, Option<u64>) = transaction
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0),
                        (SELECT LENGTH(key) + LENGTH(value) FROM run_checkpoints WHERE run_id = ?1 AND component = ?2 AND key = ?3)
                 FROM run_checkpoints WHERE run_id = ?1 AND component = ?2",
                params![self.run_id, self.component, key],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(|error| self.db.error(error))?;
        let new_count = count + u64::from(existing.is_none());
        let new_bytes = bytes - existing.unwrap_or(0) + (key.len() + value.len()) as u64;
        if new_count > MAX_KEYS_PER_RUN {
            return Ok(Err(CheckpointRefusal::OverCap(format!(
                "a run may save at most {MAX_KEYS_PER_RUN} checkpoint keys"
            ))));
        }
        if new_bytes > MAX_BYTES_PER_RUN {
            return Ok(Err(CheckpointRefusal::OverCap(format!(
                "a run may save at most {MAX_BYTES_PER_RUN} bytes of checkpoints ({bytes} saved)"
            ))));
        }
        transaction
            .execute(
                "INSERT INTO run_checkpoints (run_id, component, key, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (run_id, component, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![self.run_id, self.component, key, value, at],
            )
            .map_err(|error| self.db.error(error))?;
        transaction.commit().map_err(|error| self.db.error(error))?;
        Ok(Ok(()))
    }

    /// How many bytes (key and value) `key` holds now, if it is saved.
    pub fn stored_size(&self, key: &str) -> Result<Option<u64>, DbError> {
        self.db
            .lock()
            .query_row(
                "SELECT LENGTH(key) + LENGTH(value) FROM run_checkpoints WHERE run_id = ?1 AND component = ?2 AND key = ?3",
                params![self.run_id, self.component, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|error| self.db.error(error))
    }

    /// The value under `key`, if any.
    pub fn load(&self, key: &str) -> Result<Option<Vec<u8>>, DbError> {
        self.db
            .lock()
            .query_row(
                "SELECT value FROM run_checkpoints WHERE run_id = ?1 AND component = ?2 AND key = ?3",
                params![self.run_id, self.component, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|error| self.db.error(error))
    }
}
