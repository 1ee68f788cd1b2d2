//! Outcomes: one row per option medic carried out (a retry or a remediation run), healed or
//! not, with how long it took. `learning/` reads them to rank options; `policy/` reads them
//! for cooldowns and the flap guard. Every medic process sharing the database adds to
//! them, so the counts hold across processes; a remediation's row is added when it starts
//! and completed (healed, duration) when it ends, and never removed.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::params;
use serde::Serialize;

use super::db::{Database, DbError};

/// One carried-out option.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The incident it was for.
    pub incident_id: String,
    /// `retry` or `remediation`.
    pub option_kind: String,
    /// The remediation's name (`retry` for a retry).
    pub remediation: String,
    /// Its version (empty for a retry).
    pub version: String,
    /// The component's sha256 (empty for a retry).
    pub sha256: String,
    /// The diagnosis's root cause.
    pub root_cause: String,
    /// The incident's resource kind.
    pub resource_kind: String,
    /// The incident's resource id.
    pub resource_id: String,
    /// The incident's issue type.
    pub issue_type: String,
    /// Whether it healed the incident (its verify passed, or the command then succeeded).
    pub healed: bool,
    /// Wall time.
    pub duration_ms: u64,
}

/// Successes and failures seen for one component (or retry) on one root cause.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Outcomes that healed.
    pub healed: u64,
    /// Outcomes that did not.
    pub failed: u64,
    /// Mean wall time in milliseconds, over all of them.
    pub mean_duration_ms: f64,
}

/// One line of `medic stats`: a remediation version's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentStats {
    /// The remediation's name (`retry` for retries).
    pub remediation: String,
    /// Its version.
    pub version: String,
    /// The component's sha256.
    pub sha256: String,
    /// How many times it ran.
    pub runs: u64,
    /// How many of those healed.
    pub healed: u64,
    /// healed / runs.
    pub success_rate: f64,
    /// Mean wall time in milliseconds.
    pub mean_duration_ms: f64,
    /// The root causes it ran for, most frequent first.
    pub root_causes: Vec<String>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// The outcomes table of `db`.
#[derive(Clone)]
pub struct Outcomes {
    db: Database,
}

impl Outcomes {
    /// The outcomes in `db`.
    pub fn new(db: Database) -> Self {
        Outcomes { db }
    }

    /// Record one outcome; durable on return.
    pub fn record(&self, outcome: &Outcome) -> Result<(), DbError> {
        self.db
            .lock()
            .execute(
                "INSERT INTO outcomes (at_ms, incident_id, option_kind, remediation, version, sha256, root_cause, resource_kind, resource_id, issue_type, healed, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    now_ms(),
                    outcome.incident_id,
                    outcome.option_kind,
                    outcome.remediation,
                    outcome.version,
                    outcome.sha256,
                    outcome.root_cause,
                    outcome.resource_kind,
                    outcome.resource_id,
                    outcome.issue_type,
                    outcome.healed,
                    outcome.duration_ms as i64,
                ],
            )
            .map_err(|error| self.db.error(error))?;
        Ok(())
    }

    /// Record that a remediation starts now (so a cooldown counts from here, whatever
    /// happens to this process); [`Outcomes::finish`] completes it. An outcome never
    /// finished (its medic was killed) counts for cooldowns, not for learning.
    pub fn start(&self, outcome: &Outcome) -> Result<i64, DbError> {
        let connection = self.db.lock();
        connection
            .execute(
                "INSERT INTO outcomes (at_ms, incident_id, option_kind, remediation, version, sha256, root_cause, resource_kind, resource_id, issue_type, healed, duration_ms, finished)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, 0)",
                params![
                    now_ms(),
                    outcome.incident_id,
                    outcome.option_kind,
                    outcome.remediation,
                    outcome.version,
                    outcome.sha256,
                    outcome.root_cause,
                    outcome.resource_kind,
                    outcome.resource_id,
                    outcome.issue_type,
                ],
            )
            .map_err(|error| self.db.error(error))?;
        Ok(connection.last_insert_rowid())
    }

    /// Complete (or correct) the outcome `id` that [`Outcomes::start`] began.
    pub fn finish(&self, id: i64, healed: bool, duration_ms: u64) -> Result<(), DbError> {
        self.db
            .lock()
            .execute(
                "UPDATE outcomes SET healed = ?2, duration_ms = ?3, finished = 1 WHERE id = ?1",
                params![id, healed, duration_ms as i64],
            )
            .map_err(|error| self.db.error(error))?;
        Ok(())
    }

    /// What `remediation` with component `sha256` did on `root_cause` (for a retry, the
    /// name is `retry` and the hash empty).
    pub fn tally(
        &self,
        remediation: &str,
        sha256: &str,
        root_cause: &str,
    ) -> Result<Tally, DbError> {
        self.db
            .lock()
            .query_row(
                "SELECT coalesce(sum(healed), 0), count(*) - coalesce(sum(healed), 0), coalesce(avg(duration_ms), 0)
                 FROM outcomes WHERE remediation = ?1 AND sha256 = ?2 AND root_cause = ?3 AND finished = 1",
                params![remediation, sha256, root_cause],
                |row| {
                    Ok(Tally {
                        healed: row.get::<_, i64>(0)? as u64,
                        failed: row.get::<_, i64>(1)? as u64,
                        mean_duration_ms: row.get(2)?,
                    })
                },
            )
            .map_err(|error| self.db.error(error))
    }

    /// How many times the resource was healed (by any option) since `since_ms`.
    pub fn healed_since(&self, kind: &str, id: &str, since_ms: i64) -> Result<u64, DbError> {
        self.db
            .lock()
            .query_row(
                "SELECT count(*) FROM outcomes WHERE resource_kind = ?1 AND resource_id = ?2 AND healed = 1 AND at_ms >= ?3",
                params![kind, id, since_ms],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count as u64)
            .map_err(|error| self.db.error(error))
    }

    /// When a remediation for another incident than `incident_id` last ran on the resource
    /// (milliseconds since the epoch): what a cooldown counts from.
    pub fn last_remediation_by_other(
        &self,
        kind: &str,
        id: &str,
        incident_id: &str,
    ) -> Result<Option<i64>, DbError> {
        self.db
            .lock()
            .query_row(
                "SELECT max(at_ms) FROM outcomes WHERE resource_kind = ?1 AND resource_id = ?2 AND option_kind = 'remediation' AND incident_id != ?3",
                params![kind, id, incident_id],
                |row| row.get::<_, Option<i64>>(0),
            )
            .map_err(|error| self.db.error(error))
    }

    /// Every component's record, by remediation then version, newest versions side by side.
    pub fn stats(&self) -> Result<Vec<ComponentStats>, DbError> {
        let connection = self.db.lock();
        let mut statement = connection
            .prepare(
                "SELECT remediation, version, sha256, count(*), sum(healed), avg(duration_ms),
                        (SELECT group_concat(root_cause, ',') FROM (
                            SELECT root_cause FROM outcomes AS inner
                            WHERE inner.remediation = outer.remediation AND inner.sha256 = outer.sha256 AND inner.finished = 1
                            GROUP BY root_cause ORDER BY count(*) DESC, root_cause))
                 FROM outcomes AS outer WHERE finished = 1
                 GROUP BY remediation, version, sha256
                 ORDER BY remediation, max(at_ms) DESC",
            )
            .map_err(|error| self.db.error(error))?;
        let rows = statement
            .query_map([], |row| {
                let runs = row.get::<_, i64>(3)? as u64;
                let healed = row.get::<_, i64>(4)? as u64;
                let causes: Option<String> = row.get(6)?;
                Ok(ComponentStats {
                    remediation: row.get(0)?,
                    version: row.get(1)?,
                    sha256: row.get(2)?,
                    runs,
                    healed,
                    success_rate: if runs == 0 {
                        0.0
                    } else {
                        healed as f64 / runs as f64
                    },
                    mean_duration_ms: row.get(5)?,
                    root_causes: causes
                        .unwrap_or_default()
                        .split(',')
                        .filter(|cause| !cause.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
            })
            .map_err(|error| self.db.error(error))?;
        rows.collect::<Result<_, _>>()
            .map_err(|error| self.db.error(error))
    }
}
