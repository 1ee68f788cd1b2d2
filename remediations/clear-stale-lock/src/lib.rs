//! Clear a lock or pid file whose holder is gone, so the service it blocks can start again.
//!
//! Parameters (incident `params`):
//! - `lock`: the lock or pid file, an absolute path directly inside `dir`.
//! - `dir`: the directory holding it: the manifest's only root, bound to this value and
//!   checked against the operator's ceiling before anything runs.
//! - `process`: the program expected to hold the lock. A live pid running another program
//!   was reused, so the lock is stale; without `process`, any live pid holds the lock.
//! - `min_age`: for a lock that names no pid, how long since it last changed before it
//!   counts as stale (`10m`, `2h`); without it such a lock is never removed.
//!
//! A lock naming a pid is stale when `/usr/bin/ps -p PID -o comm=` (a read-only grant, so
//! `plan` asks too) says no process has that pid, or that it runs another program than
//! `process`. A symlink, a directory, a file over 64 KiB (`MAX_LOCK_BYTES`), or one that
//! does not read back byte for byte is never removed. `apply` judges again, saves the bytes
//! to a checkpoint, reads the file once more (a process that took the lock since has written
//! its own pid), then removes it; `verify` checks the stale lock is gone; `rollback` writes
//! the bytes back, unless a lock is there again.
//!
//! What it cannot see: a pid written in another pid namespace (a container) means nothing
//! to `ps` here; a file locked with `flock(2)` is held whatever its age, so give no
//! `min_age` for one that names no pid.

mod judge;

use std::time::{SystemTime, UNIX_EPOCH};

use judge::Staleness;
use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, exec, fs, log};

/// The program asked whether a pid is alive; the manifest grants exactly
/// `-p PID -o comm=`, read-only.
const PS: &str = "/usr/bin/ps";
/// A lock or pid file holds a pid and perhaps a line or two; a bigger file is something
/// else and is left alone (its bytes would also have to fit one checkpoint value).
const MAX_LOCK_BYTES: u64 = 64 << 10;
/// Checkpoint key: the lock's bytes, saved before anything changes.
const CONTENT_KEY: &str = "lock-content";
/// Checkpoint key: written just before the file is removed, so `rollback` restores only
/// a lock this run removed.
const REMOVING_KEY: &str = "lock-removing";

struct ClearStaleLock;

struct Settings {
    lock: String,
    process: Option<String>,
    /// Seconds.
    min_age: Option<u64>,
}

/// A lock file as found.
struct Lock {
    content: Vec<u8>,
    /// Seconds since the Unix epoch.
    modified: u64,
}

fn settings(incident: &Incident) -> Result<Settings, Error> {
    let lock = incident.require_param("lock")?;
    let dir = incident.require_param("dir")?;
    if !is_plain_absolute(lock) {
        return Err(Error::invalid_input(format!(
            "`lock` must be an absolute path without `.`, `..` or empty segments, got `{lock}`"
        )));
    }
    match lock.rsplit_once('/') {
        Some((parent, _)) if parent == dir => {}
        _ => {
            return Err(Error::invalid_input(format!(
                "`lock` must lie directly inside `dir`: `{lock}` is not a file in `{dir}`"
            )));
        }
    }
    let min_age = incident
        .param("min_age")
        .map(judge::parse_age)
        .transpose()
        .map_err(Error::invalid_input)?;
    Ok(Settings {
        lock: lock.to_string(),
        process: incident.param("process").map(str::to_string),
        min_age,
    })
}

fn is_plain_absolute(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
    })
}

fn refused(lock: &str, why: impl std::fmt::Display) -> Error {
    Error::failed(format!("refused: `{lock}` stays: {why}"))
}

/// The lock file, or `None` when there is none; what is not a small regular file that
/// reads back whole is refused.
fn inspect(lock: &str) -> Result<Option<Lock>, Error> {
    let entry = match fs::metadata(lock) {
        Ok(entry) => entry,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    if entry.is_symlink {
        return Err(refused(
            lock,
            "it is a symlink; medic judges and removes only a lock file itself",
        ));
    }
    if entry.is_dir {
        return Err(refused(lock, "it is a directory, not a lock file"));
    }
    if entry.size > MAX_LOCK_BYTES {
        return Err(refused(
            lock,
            format!(
                "it has {} bytes, more than a lock or pid file holds (at most {MAX_LOCK_BYTES})",
                entry.size
            ),
        ));
    }
    let content = match fs::read(lock) {
        Ok(content) => content,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    if content.len() as u64 != entry.size {
        return Err(refused(
            lock,
            format!(
                "it read as {} bytes but has {}: it changed while read, and rollback could not restore it exactly",
                content.len(),
                entry.size
            ),
        ));
    }
    Ok(Some(Lock {
        content,
        modified: entry.modified,
    }))
}

/// Judge `lock`: ask `ps` about the pid it names, or weigh its age.
fn judge(settings: &Settings, lock: &Lock) -> Result<Staleness, Error> {
    let Some(pid) = judge::parse_pid(&lock.content) else {
        let age = now().saturating_sub(lock.modified);
        return Ok(judge::judge_age(age, settings.min_age));
    };
    let pid_text = pid.to_string();
    let output = exec::run(PS, &["-p", &pid_text, "-o", "comm="])?;
    let holder = judge::holder_from_ps(
        output.status,
        &output.stdout_lossy(),
        &output.stderr_lossy(),
    )
    .map_err(|why| refused(&settings.lock, why))?;
    Ok(judge::judge_pid(pid, &holder, settings.process.as_deref()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `pid 4242`, or the size of a lock that names none.
fn describe(content: &[u8]) -> String {
    match judge::parse_pid(content) {
        Some(pid) => format!("pid {pid}"),
        None => format!("{} bytes, no pid", content.len()),
    }
}

impl Remediation for ClearStaleLock {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let settings = settings(incident)?;
        let Some(lock) = inspect(&settings.lock)? else {
            return Ok(vec![Step::note(format!(
                "no lock at `{}`: nothing to remove",
                settings.lock
            ))]);
        };
        let mut steps = Vec::new();
        if let Some(pid) = judge::parse_pid(&lock.content) {
            steps.push(Step::exec(
                format!("{PS} -p {pid} -o comm="),
                "ask whether the pid the lock names is alive (read-only; asked again before removing)",
            ));
        }
        match judge(&settings, &lock)? {
            Staleness::Held(why) => Err(refused(&settings.lock, why)),
            Staleness::Stale(why) => {
                steps.push(Step::fs(
                    settings.lock.clone(),
                    format!(
                        "remove the stale lock: {why}; its {} bytes are saved for rollback",
                        lock.content.len()
                    ),
                ));
                Ok(steps)
            }
        }
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let path = &settings.lock;
        let Some(lock) = inspect(path)? else {
            return Ok(format!("no lock at `{path}`: nothing removed"));
        };
        let why = match judge(&settings, &lock)? {
            Staleness::Held(why) => return Err(refused(path, why)),
            Staleness::Stale(why) => why,
        };
        checkpoint::save(CONTENT_KEY, &lock.content)?;
        // A process that took the lock since it was judged has written its own pid: read
        // it once more, as close to the removal as the host's calls allow.
        match fs::read(path) {
            Ok(again) if again == lock.content => {}
            Ok(again) => {
                return Err(refused(
                    path,
                    format!(
                        "it changed after it was judged (it now holds {}): a process may have taken it",
                        describe(&again)
                    ),
                ));
            }
            Err(Error::NotFound { .. }) => {
                return Ok(format!(
                    "`{path}` went away before medic removed it: nothing removed"
                ));
            }
            Err(error) => return Err(error),
        }
        checkpoint::save_str(REMOVING_KEY, path)?;
        log::progress(80, &format!("removing {path}"));
        match fs::remove_file(path) {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        Ok(format!(
            "removed the stale lock `{path}` ({why}); its {} bytes are saved for rollback",
            lock.content.len()
        ))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let settings = settings(incident)?;
        let path = &settings.lock;
        let gone = || Ok(Verdict::healthy(format!("`{path}` is gone")));
        match fs::metadata(path) {
            Ok(entry) if entry.is_symlink || entry.is_dir => {
                return Ok(Verdict::unhealthy(format!(
                    "`{path}` is there again, as a {}",
                    if entry.is_dir { "directory" } else { "symlink" }
                )));
            }
            Ok(_) => {}
            Err(Error::NotFound { .. }) => return gone(),
            Err(error) => return Err(error),
        }
        let found = match fs::read(path) {
            Ok(found) => found,
            Err(Error::NotFound { .. }) => return gone(),
            Err(error) => return Err(error),
        };
        match checkpoint::load(CONTENT_KEY)? {
            // A holder that started since wrote a lock of its own: the stale one is gone.
            Some(removed) if removed != found => Ok(Verdict::healthy(format!(
                "the stale lock is gone; `{path}` now holds a new lock ({})",
                describe(&found)
            ))),
            _ => Ok(Verdict::unhealthy(format!(
                "`{path}` is still there ({})",
                describe(&found)
            ))),
        }
    }

    fn rollback(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let path = &settings.lock;
        let content = checkpoint::load(CONTENT_KEY)?;
        let removing = checkpoint::load_string(REMOVING_KEY)?;
        let (Some(content), Some(_)) = (content, removing) else {
            return Ok(format!("nothing to undo: `{path}` was not removed"));
        };
        match fs::metadata(path) {
            Ok(_) => Ok(format!(
                "left `{path}` as it is: a lock is there again, and medic writes nothing over it"
            )),
            Err(Error::NotFound { .. }) => {
                fs::write(path, &content)?;
                Ok(format!(
                    "restored `{path}` with its {} bytes as they were (a new file: medic's owner and default mode)",
                    content.len()
                ))
            }
            Err(error) => Err(error),
        }
    }
}

medic_guest_sdk::export_remediation!(ClearStaleLock);

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(params: &[(&str, &str)]) -> Incident {
        Incident {
            id: "inc-1".to_string(),
            source: "cli".to_string(),
            resource_kind: "service".to_string(),
            resource_id: "app".to_string(),
            issue_type: "stale_lock".to_string(),
            summary: String::new(),
            labels: Vec::new(),
            params: params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    fn refusal(params: &[(&str, &str)]) -> Option<Error> {
        settings(&incident(params)).err()
    }

    #[test]
    fn the_lock_must_be_a_plain_path_directly_inside_dir() {
        let ok = [("lock", "/var/tmp/app/app.pid"), ("dir", "/var/tmp/app")];
        assert_eq!(refusal(&ok), None);
        let outside = |lock: &'static str| {
            Some(Error::invalid_input(format!(
                "`lock` must lie directly inside `dir`: `{lock}` is not a file in `/var/tmp/app`"
            )))
        };
        for lock in [
            "/var/tmp/app.pid",
            "/var/tmp/app/sub/app.pid",
            "/etc/app.pid",
        ] {
            assert_eq!(
                refusal(&[("lock", lock), ("dir", "/var/tmp/app")]),
                outside(lock)
            );
        }
        for lock in [
            "/var/tmp/app/../app.pid",
            "/var/tmp/app//x",
            "/var/tmp/app/",
        ] {
            assert_eq!(
                refusal(&[("lock", lock), ("dir", "/var/tmp/app")]),
                Some(Error::invalid_input(format!(
                    "`lock` must be an absolute path without `.`, `..` or empty segments, got `{lock}`"
                )))
            );
        }
        assert_eq!(
            refusal(&[("dir", "/var/tmp/app")]),
            Some(Error::invalid_input("incident has no parameter `lock`"))
        );
        assert_eq!(
            refusal(&[ok[0], ok[1], ("min_age", "soon")]),
            Some(Error::invalid_input(
                "`min_age`: `soon` is not a duration such as `10m`"
            ))
        );
    }

    #[test]
    fn described_by_the_pid_it_names() {
        assert_eq!(describe(b"4242\n"), "pid 4242");
        assert_eq!(describe(b""), "0 bytes, no pid");
    }
}
