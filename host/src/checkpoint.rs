//! Checkpoints: bytes a remediation saves during `apply` so that `rollback` can undo it,
//! kept in medic's database per incident and remediation, so they outlive the process.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};

use crate::db::{Database, DbError};

/// Most bytes one checkpoint value may hold.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Longest key.
pub const MAX_KEY_BYTES: usize = 128;

/// The checkpoints of one (incident, remediation) pair.
#[derive(Clone)]
pub struct Checkpoints {
    db: Database,
    incident_id: String,
    remediation: String,
}

impl Checkpoints {
    /// Checkpoints for `remediation` working on `incident_id`.
    pub fn new(db: Database, incident_id: &str, remediation: &str) -> Self {
        Checkpoints {
            db,
            incident_id: incident_id.to_string(),
            remediation: remediation.to_string(),
        }
    }

    /// Save `value` under `key`, replacing what was there; durable on return.
    pub fn save(&self, key: &str, value: &[u8]) -> Result<(), DbError> {
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        self.db
            .lock()
            .execute(
                "INSERT INTO checkpoints (incident_id, remediation, key, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (incident_id, remediation, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![self.incident_id, self.remediation, key, value, at],
            )
            .map_err(|error| self.db.error(error))?;
        Ok(())
    }

    /// The value under `key`, if any.
    pub fn load(&self, key: &str) -> Result<Option<Vec<u8>>, DbError> {
        self.db
            .lock()
            .query_row(
                "SELECT value FROM checkpoints WHERE incident_id = ?1 AND remediation = ?2 AND key = ?3",
                params![self.incident_id, self.remediation, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|error| self.db.error(error))
    }
}
