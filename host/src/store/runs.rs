//! The runs journal: which runs started, what they run, which phase they reached, and
//! whether they finished. A run holds an exclusive lock on `runs/<run id>.lock` in the data
//! directory while it lives, so a run whose row is unfinished but whose lock is free was
//! killed (kill -9, a crash, a power cut): the next medic command warns of it and
//! `medic recover` rolls it back from its checkpoints.

use std::fs::File;
use std::path::PathBuf;
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::data_dir::DataDir;
use super::db::{Database, DbError};

/// Subdirectory holding the locks of live runs.
pub const LOCKS_DIR: &str = "runs";

/// How far a run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Calling `plan` (nothing changed yet).
    Planning,
    /// Calling `apply`, `verify` or `rollback`: the host may have changed.
    Applying,
    /// Done, whatever the outcome.
    Finished,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Planning => "planning",
            Phase::Applying => "applying",
            Phase::Finished => "finished",
        }
    }

    fn parse(text: &str) -> Phase {
        match text {
            "planning" => Phase::Planning,
            "finished" => Phase::Finished,
            _ => Phase::Applying,
        }
    }
}

/// One row of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The run's id.
    pub run_id: String,
    /// The remediation's name.
    pub remediation: String,
    /// Where it was loaded from: a bundled name, or a directory path.
    pub location: String,
    /// The component that ran.
    pub sha256: String,
    /// The manifest's text hash: recovery refuses a changed manifest.
    pub manifest_sha256: String,
    /// The incident, as JSON.
    pub incident: String,
    /// Plan only.
    pub dry_run: bool,
    /// How far it got.
    pub phase: Phase,
    /// The process that ran it.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started_at: String,
}

/// A live run's entry, holding its lock. Dropping it without [`RunJournal::finish`]
/// leaves the run unfinished, as a crash would.
pub struct RunJournal {
    db: Database,
    run_id: String,
    lock: Option<Flock<File>>,
    lock_path: PathBuf,
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn lock_file(dir: &DataDir, run_id: &str) -> Result<(PathBuf, Option<Flock<File>>), DbError> {
    let locks = dir.canonical().join(LOCKS_DIR);
    let io = |source: std::io::Error| DbError::Io {
        path: locks.clone(),
        source,
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(&locks) {
            Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io(error));
            }
            _ => {}
        }
    }
    let path = locks.join(format!("{run_id}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).ok();
    Ok((path, lock))
}

impl RunJournal {
    /// Record that `record` starts now and take its lock.
    pub fn begin(db: &Database, dir: &DataDir, record: &RunRecord) -> Result<RunJournal, DbError> {
        let (lock_path, lock) = lock_file(dir, &record.run_id)?;
        db.lock()
            .execute(
                "INSERT INTO runs (run_id, remediation, location, sha256, manifest_sha256, incident, dry_run, phase, pid, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    record.run_id,
                    record.remediation,
                    record.location,
                    record.sha256,
                    record.manifest_sha256,
                    record.incident,
                    record.dry_run,
                    record.phase.as_str(),
                    record.pid,
                    record.started_at,
                ],
            )
            .map_err(|error| db.error(error))?;
        Ok(RunJournal {
            db: db.clone(),
            run_id: record.run_id.clone(),
            lock,
            lock_path,
        })
    }

    /// Record that the run reached `phase`; durable on return.
    pub fn phase(&self, phase: Phase) -> Result<(), DbError> {
        let finished = (phase == Phase::Finished).then(now);
        self.db
            .lock()
            .execute(
                "UPDATE runs SET phase = ?2, finished_at = ?3 WHERE run_id = ?1",
                params![self.run_id, phase.as_str(), finished],
            )
            .map_err(|error| self.db.error(error))?;
        Ok(())
    }

    /// Record that the run finished, and release its lock.
    pub fn finish(mut self) -> Result<(), DbError> {
        self.phase(Phase::Finished)?;
        let _ = std::fs::remove_file(&self.lock_path);
        drop(self.lock.take());
        Ok(())
    }
}

/// The columns `record_from_row` reads, in order.
const RECORD_COLUMNS: &str = "run_id, remediation, location, sha256, manifest_sha256, incident, dry_run, phase, pid, started_at";

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let phase: String = row.get(7)?;
    Ok(RunRecord {
        run_id: row.get(0)?,
        remediation: row.get(1)?,
        location: row.get(2)?,
        sha256: row.get(3)?,
        manifest_sha256: row.get(4)?,
        incident: row.get(5)?,
        dry_run: row.get(6)?,
        phase: Phase::parse(&phase),
        pid: row.get(8)?,
        started_at: row.get(9)?,
    })
}

/// Runs that did not finish and whose process is gone (their lock is free).
pub fn unfinished(db: &Database, dir: &DataDir) -> Result<Vec<RunRecord>, DbError> {
    let records: Vec<RunRecord> = {
        let connection = db.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {RECORD_COLUMNS} FROM runs WHERE phase != 'finished' ORDER BY started_at"
            ))
            .map_err(|error| db.error(error))?;
        let rows = statement
            .query_map([], record_from_row)
            .map_err(|error| db.error(error))?;
        rows.collect::<Result<_, _>>()
            .map_err(|error| db.error(error))?
    };
    let mut dead = Vec::new();
    for record in records {
        let (_, lock) = lock_file(dir, &record.run_id)?;
        if lock.is_some() {
            dead.push(record);
        }
    }
    Ok(dead)
}

/// Take over the unfinished run `run_id` (for `medic recover`): its record and a journal
/// holding its lock. `None` when no such run is unfinished, or its process still runs.
pub fn claim(
    db: &Database,
    dir: &DataDir,
    run_id: &str,
) -> Result<Option<(RunRecord, RunJournal)>, DbError> {
    let record = db
        .lock()
        .query_row(
            &format!("SELECT {RECORD_COLUMNS} FROM runs WHERE run_id = ?1 AND phase != 'finished'"),
            params![run_id],
            record_from_row,
        )
        .optional()
        .map_err(|error| db.error(error))?;
    let Some(record) = record else {
        return Ok(None);
    };
    let (lock_path, lock) = lock_file(dir, run_id)?;
    if lock.is_none() {
        return Ok(None);
    }
    Ok(Some((
        record,
        RunJournal {
            db: db.clone(),
            run_id: run_id.to_string(),
            lock,
            lock_path,
        },
    )))
}

/// The time now, as the journal records it.
pub fn timestamp() -> String {
    now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(run_id: &str) -> RunRecord {
        RunRecord {
            run_id: run_id.to_string(),
            remediation: "fix".to_string(),
            location: "fix".to_string(),
            sha256: "00".repeat(32),
            manifest_sha256: "11".repeat(32),
            incident: "{}".to_string(),
            dry_run: false,
            phase: Phase::Applying,
            pid: std::process::id(),
            started_at: timestamp(),
        }
    }

    #[test]
    fn a_run_whose_lock_is_free_is_unfinished_until_claimed_and_finished() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(&tmp.path().join("data")).unwrap();
        let db = Database::open(&dir).unwrap();
        let live = RunJournal::begin(&db, &dir, &record("run-live")).unwrap();
        let crashed = RunJournal::begin(&db, &dir, &record("run-crashed")).unwrap();
        let done = RunJournal::begin(&db, &dir, &record("run-done")).unwrap();
        done.finish().unwrap();
        drop(crashed);
        let found: Vec<String> = unfinished(&db, &dir)
            .unwrap()
            .into_iter()
            .map(|record| record.run_id)
            .collect();
        assert_eq!(found, vec!["run-crashed".to_string()]);
        assert!(
            claim(&db, &dir, "run-live").unwrap().is_none(),
            "its process holds it"
        );
        let (claimed, journal) = claim(&db, &dir, "run-crashed").unwrap().unwrap();
        assert_eq!(claimed.phase, Phase::Applying);
        journal.finish().unwrap();
        assert!(unfinished(&db, &dir).unwrap().is_empty());
        live.finish().unwrap();
    }
}
