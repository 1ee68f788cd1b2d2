//! The heal loops' journal and the remediation slots.
//!
//! A heal loop (`medic heal`) records its state (attempts made, options tried, what it is
//! doing) after every step, and holds an exclusive lock on `heals/<incident id>.lock`
//! while it lives. A loop whose row is unfinished but whose lock is free was killed; the
//! next `medic heal` of the same fingerprint takes it over and resumes from its state, so
//! nothing that was tried runs again blindly.
//!
//! Slots bound how many remediations run at once on this host, across processes: a run
//! holds `slots/<n>.lock` for `n` below the policy's `max_concurrent`, released when it
//! ends or its process dies.

use std::fs::File;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use rusqlite::{OptionalExtension, params};

use super::data_dir::DataDir;
use super::db::{Database, DbError};
use super::runs::timestamp;

/// Subdirectory holding the locks of live heal loops.
pub const HEALS_DIR: &str = "heals";
/// Subdirectory holding the remediation slots.
pub const SLOTS_DIR: &str = "slots";

fn lock_in(
    dir: &DataDir,
    sub: &str,
    name: &str,
) -> Result<(PathBuf, Option<Flock<File>>), DbError> {
    let locks = dir.canonical().join(sub);
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
    // The name is an incident id: keep the file name to safe characters, distinct per id.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(96)
        .collect();
    let digest = crate::manifest::sha256_hex(name.as_bytes());
    let path = locks.join(format!("{safe}-{}.lock", &digest[..12]));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).ok();
    // A lock taken on a file another process unlinked meanwhile (a loop that finished) is
    // no lock at all: only the file still at the path counts.
    if let Some(held) = &lock {
        use std::os::unix::fs::MetadataExt;
        let same = match (held.metadata(), std::fs::metadata(&path)) {
            (Ok(ours), Ok(now)) => ours.ino() == now.ino() && ours.dev() == now.dev(),
            _ => false,
        };
        if !same {
            return Ok((path, None));
        }
    }
    Ok((path, lock))
}

/// A live heal loop's row and lock.
pub struct HealJournal {
    db: Database,
    incident_id: String,
    _lock: Option<Flock<File>>,
    lock_path: PathBuf,
}

/// An unfinished loop found by fingerprint, whose process is gone.
#[derive(Debug, Clone)]
pub struct Abandoned {
    /// Its incident id.
    pub incident_id: String,
    /// Its last recorded state (the loop's own JSON).
    pub state: String,
    /// When it started.
    pub started_at: String,
}

impl HealJournal {
    /// Record that the loop for `incident_id` starts now with `state`, and take its lock.
    pub fn begin(
        db: &Database,
        dir: &DataDir,
        incident_id: &str,
        fingerprint: &str,
        state: &str,
    ) -> Result<HealJournal, DbError> {
        let (lock_path, lock) = lock_in(dir, HEALS_DIR, incident_id)?;
        if lock.is_none() {
            return Err(DbError::Tampered {
                path: lock_path,
                message: format!(
                    "incident `{incident_id}` is being healed by another medic process"
                ),
            });
        }
        let now = timestamp();
        // An incident healed before (an alert that fired again, the same file) starts a
        // new loop in the same row; its earlier records stay in the audit log.
        db.lock()
            .execute(
                "INSERT INTO heal_loops (incident_id, fingerprint, state, pid, started_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT(incident_id) DO UPDATE SET fingerprint = ?2, state = ?3, pid = ?4,
                     started_at = ?5, updated_at = ?5, finished_at = NULL",
                params![incident_id, fingerprint, state, std::process::id(), now],
            )
            .map_err(|error| db.error(error))?;
        Ok(HealJournal {
            db: db.clone(),
            incident_id: incident_id.to_string(),
            _lock: lock,
            lock_path,
        })
    }

    /// Take over an abandoned loop: `None` if another process holds it by now.
    pub fn resume(
        db: &Database,
        dir: &DataDir,
        abandoned: &Abandoned,
    ) -> Result<Option<HealJournal>, DbError> {
        let (lock_path, lock) = lock_in(dir, HEALS_DIR, &abandoned.incident_id)?;
        if lock.is_none() {
            return Ok(None);
        }
        db.lock()
            .execute(
                "UPDATE heal_loops SET pid = ?2, updated_at = ?3 WHERE incident_id = ?1",
                params![abandoned.incident_id, std::process::id(), timestamp()],
            )
            .map_err(|error| db.error(error))?;
        Ok(Some(HealJournal {
            db: db.clone(),
            incident_id: abandoned.incident_id.clone(),
            _lock: lock,
            lock_path,
        }))
    }

    /// Record the loop's state; durable on return.
    pub fn save(&self, state: &str) -> Result<(), DbError> {
        self.db
            .lock()
            .execute(
                "UPDATE heal_loops SET state = ?2, updated_at = ?3 WHERE incident_id = ?1",
                params![self.incident_id, state, timestamp()],
            )
            .map_err(|error| self.db.error(error))?;
        Ok(())
    }

    /// Record the final state and release the lock.
    pub fn finish(self, state: &str) -> Result<(), DbError> {
        let now = timestamp();
        self.db
            .lock()
            .execute(
                "UPDATE heal_loops SET state = ?2, updated_at = ?3, finished_at = ?3 WHERE incident_id = ?1",
                params![self.incident_id, state, now],
            )
            .map_err(|error| self.db.error(error))?;
        let _ = std::fs::remove_file(&self.lock_path);
        Ok(())
    }
}

/// The newest unfinished loop with `fingerprint` whose process is gone.
pub fn abandoned(
    db: &Database,
    dir: &DataDir,
    fingerprint: &str,
) -> Result<Option<Abandoned>, DbError> {
    let candidates: Vec<Abandoned> = {
        let connection = db.lock();
        let mut statement = connection
            .prepare(
                "SELECT incident_id, state, started_at FROM heal_loops
                 WHERE fingerprint = ?1 AND finished_at IS NULL ORDER BY started_at DESC",
            )
            .map_err(|error| db.error(error))?;
        let rows = statement
            .query_map(params![fingerprint], |row| {
                Ok(Abandoned {
                    incident_id: row.get(0)?,
                    state: row.get(1)?,
                    started_at: row.get(2)?,
                })
            })
            .map_err(|error| db.error(error))?;
        rows.collect::<Result<_, _>>()
            .map_err(|error| db.error(error))?
    };
    for candidate in candidates {
        let (_, lock) = lock_in(dir, HEALS_DIR, &candidate.incident_id)?;
        if lock.is_some() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// The last recorded state of the loop for `incident_id`, finished or not.
pub fn state_of(db: &Database, incident_id: &str) -> Result<Option<String>, DbError> {
    db.lock()
        .query_row(
            "SELECT state FROM heal_loops WHERE incident_id = ?1",
            params![incident_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(|error| db.error(error))
}

/// A held remediation slot; dropping it frees the slot.
pub struct Slot {
    /// Which slot.
    pub index: u32,
    _lock: Flock<File>,
}

/// Take a free slot of `max` now; `None` when every one is held (the caller waits).
pub fn try_slot(dir: &DataDir, max: u32) -> Result<Option<Slot>, DbError> {
    for index in 0..max.max(1) {
        if let (_, Some(lock)) = lock_in(dir, SLOTS_DIR, &format!("slot-{index}"))? {
            return Ok(Some(Slot { index, _lock: lock }));
        }
    }
    Ok(None)
}

/// Whether `data_dir` may hold a run or a heal loop that did not finish: a lock file of
/// either is there (each is removed when its run or loop ends). Reads two directories and
/// opens nothing, so `medic heal -- CMD` can run its command at once when it is `false`.
pub fn may_have_unfinished(data_dir: &std::path::Path) -> bool {
    [super::runs::LOCKS_DIR, HEALS_DIR].iter().any(|sub| {
        std::fs::read_dir(data_dir.join(sub)).is_ok_and(|mut entries| {
            entries.any(|entry| {
                entry.is_ok_and(|entry| entry.file_name().to_string_lossy().ends_with(".lock"))
            })
        })
    })
}
