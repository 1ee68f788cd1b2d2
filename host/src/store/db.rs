//! medic's SQLite database in the data directory: the audit log, the runs journal, the
//! checkpoints and the rate counters. Opening creates the schema; the directory itself is
//! opened and checked by `data_dir.rs` first.

use std::path::{Path, PathBuf};

use super::data_dir::DataDir;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use thiserror::Error;

/// The database file inside the data directory.
pub const DB_FILE: &str = "medic.db";
/// How long a writer waits for another medic process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A fingerprint of [`SCHEMA`] (FNV-1a, 31 bits) kept in SQLite's `user_version`, so that
/// changing the schema's text runs it again on the next open.
const SCHEMA_ID: i64 = {
    let bytes = SCHEMA.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    ((hash & 0x7fff_ffff) | 1) as i64
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY,
    run_id    TEXT NOT NULL,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS heads (
    seq        INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL,
    signature  TEXT NOT NULL,
    public_key TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS heads_no_update BEFORE UPDATE ON heads
    BEGIN SELECT RAISE(ABORT, 'signed heads are append-only'); END;
CREATE TRIGGER IF NOT EXISTS heads_no_delete BEFORE DELETE ON heads
    BEGIN SELECT RAISE(ABORT, 'signed heads are append-only'); END;
DROP TABLE IF EXISTS checkpoints;
CREATE TABLE IF NOT EXISTS run_checkpoints (
    run_id      TEXT NOT NULL,
    component   TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, component, key)
);
CREATE TABLE IF NOT EXISTS rate_events (
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_key ON rate_events(scope, key, at_ms);
CREATE TABLE IF NOT EXISTS outcomes (
    id            INTEGER PRIMARY KEY,
    at_ms         INTEGER NOT NULL,
    incident_id   TEXT NOT NULL,
    option_kind   TEXT NOT NULL,
    remediation   TEXT NOT NULL,
    version       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    root_cause    TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    issue_type    TEXT NOT NULL,
    healed        INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    finished      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS outcomes_component ON outcomes(sha256, root_cause);
CREATE INDEX IF NOT EXISTS outcomes_resource ON outcomes(resource_kind, resource_id, at_ms);
CREATE TABLE IF NOT EXISTS heal_loops (
    incident_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS heal_loops_open ON heal_loops(fingerprint, finished_at);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    remediation TEXT NOT NULL,
    location    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    incident    TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    phase       TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
";

/// A database failure, naming the file.
#[derive(Debug, Error)]
pub enum DbError {
    /// A file beside the database (a run's lock) could not be made.
    #[error("`{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The audit log no longer holds what this process wrote to it.
    #[error("database `{path}`: {message}")]
    Tampered {
        /// The database file.
        path: PathBuf,
        /// What changed.
        message: String,
    },
    /// SQLite refused.
    #[error("database `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// A shared handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Database {
    /// Open (or create) `medic.db` in the checked data directory.
    pub fn open(data_dir: &DataDir) -> Result<Self, DbError> {
        let path = data_dir.canonical().join(DB_FILE);
        if let Ok(metadata) = std::fs::symlink_metadata(&path)
            && !metadata.file_type().is_file()
        {
            return Err(DbError::Sqlite {
                path,
                source: rusqlite::Error::InvalidPath("not a regular file".into()),
            });
        }
        // Created readable by medic's user only; SQLite gives its journal files the same mode.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|source| DbError::Io {
                    path: path.clone(),
                    source,
                })?;
        }
        let sqlite = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let connection = Connection::open(&path).map_err(sqlite)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sqlite)?;
        // The schema is created once per version of its text: a start that finds it (the
        // usual case) reads one pragma instead of parsing every statement again.
        // A dropped append-only trigger is put back as well.
        let (found, triggers): (i64, i64) = connection
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master WHERE type = 'trigger')",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(sqlite)?;
        if found != SCHEMA_ID || triggers < SCHEMA.matches("CREATE TRIGGER").count() as i64 {
            connection
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE; {SCHEMA}; PRAGMA user_version = {SCHEMA_ID}; COMMIT;"
                ))
                .map_err(sqlite)?;
        }
        Ok(Database {
            connection: Arc::new(Mutex::new(connection)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lock the connection. A poisoned lock is recovered: SQLite keeps its own consistency.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wrap a SQLite error with the file name.
    pub(crate) fn error(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}
