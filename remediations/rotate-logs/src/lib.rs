//! Rotate a log that outgrew its limit: shift its numbered rotations up one (`NAME.1.gz`
//! to `NAME.2.gz`, ...), write its bytes gzip-compressed as `NAME.1.gz`, then truncate it in
//! place (copytruncate: the writer keeps its descriptor and goes on appending).
//!
//! Parameters (incident `params`):
//! - `log`: the log file, an absolute path directly inside `dir`.
//! - `dir`: the directory holding it and its rotations: the manifest's only root, bound to
//!   this value and checked against the operator's ceiling before anything runs.
//! - `max_bytes`: the log's limit, in bytes or with a unit (`50MiB`, `500KB`).
//! - `keep`: how many numbered rotations there may be (default 5). medic deletes nothing,
//!   so when rotations 1 to `keep` all exist the rotation is refused; move old ones away
//!   first (free-disk-space quarantines rotated files).
//!
//! A log over 6 MiB (`rotation::MAX_COMPRESS_BYTES`) is renamed to `NAME.1` instead,
//! uncompressed, and an empty log created; the writer keeps writing to `NAME.1` until it
//! reopens its log, and the summary says so. Every step is checkpointed before it is made
//! (`journal.rs`); `rollback` undoes them last first: the log gets its bytes back, followed
//! by whatever was written since, the archive goes, the rotations shift back down. Lines
//! written between the last size check and the truncation are lost, as with any
//! copytruncate.
//!
//! The files medic creates (`NAME.1.gz`, an empty log) are new: medic's user and default
//! mode, not the log's.

mod archive;
mod journal;
mod rotation;

use journal::{Action, Journal};
use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, fs, log};
use rotation::{Form, MAX_COMPRESS_BYTES, MAX_WRITE_BYTES, Mode};

/// How many times a growing log is read again before the rotation gives up.
const ATTEMPTS: usize = 3;

struct RotateLogs;

struct Settings {
    log: String,
    dir: String,
    /// The log's file name.
    name: String,
    max_bytes: u64,
    keep: u32,
}

impl Settings {
    /// The absolute path of `file` in the log's directory.
    fn path(&self, file: &str) -> String {
        format!("{}/{file}", self.dir)
    }

    fn rotated(&self, index: u32, form: Form) -> String {
        self.path(&rotation::rotated_name(&self.name, index, form))
    }
}

fn settings(incident: &Incident) -> Result<Settings, Error> {
    let log = incident.require_param("log")?;
    let dir = incident.require_param("dir")?;
    let plain = log.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
    });
    if !plain {
        return Err(Error::invalid_input(format!(
            "`log` must be an absolute path without `.`, `..` or empty segments, got `{log}`"
        )));
    }
    let name = match log.rsplit_once('/') {
        Some((parent, name)) if parent == dir => name,
        _ => {
            return Err(Error::invalid_input(format!(
                "`log` must lie directly inside `dir`: `{log}` is not a file in `{dir}`"
            )));
        }
    };
    let max_bytes =
        rotation::parse_size(incident.require_param("max_bytes")?).map_err(Error::invalid_input)?;
    let keep = match incident.param("keep") {
        None => 5,
        Some(text) => text.parse().ok().filter(|keep| *keep >= 1).ok_or_else(|| {
            Error::invalid_input(format!(
                "`keep` must be a whole number from 1, got `{text}`"
            ))
        })?,
    };
    Ok(Settings {
        log: log.to_string(),
        dir: dir.to_string(),
        name: name.to_string(),
        max_bytes,
        keep,
    })
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::failed(format!("refused: {why}"))
}

/// The log's size; a symlink or a directory where it should be is refused.
fn log_size(settings: &Settings) -> Result<u64, Error> {
    let log = &settings.log;
    match fs::metadata(log) {
        Ok(entry) if entry.is_symlink => Err(refused(format!(
            "`{log}` is a symlink; medic rotates only the log file itself"
        ))),
        Ok(entry) if entry.is_dir => Err(refused(format!("`{log}` is a directory"))),
        Ok(entry) => Ok(entry.size),
        Err(Error::NotFound { .. }) => Err(Error::failed(format!("there is no log at `{log}`"))),
        Err(error) => Err(error),
    }
}

/// The renames that free number 1, as absolute paths.
fn shifts(settings: &Settings) -> Result<Vec<(String, String)>, Error> {
    let rotated: Vec<rotation::Rotated> = fs::list(&settings.dir)?
        .iter()
        .filter_map(|entry| {
            let (index, form) = rotation::parse_rotated(&settings.name, &entry.name)?;
            Some(rotation::Rotated {
                index,
                form,
                regular: !entry.is_dir && !entry.is_symlink,
            })
        })
        .collect();
    let shifts = rotation::plan_shifts(&settings.name, &rotated, settings.keep).map_err(refused)?;
    Ok(shifts
        .into_iter()
        .map(|shift| (settings.path(&shift.from), settings.path(&shift.to)))
        .collect())
}

fn shifted_note(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => "; 1 older rotation shifted up".to_string(),
        count => format!("; {count} older rotations shifted up"),
    }
}

fn exists(path: &str) -> Result<bool, Error> {
    match fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

/// The log's bytes, read whole. A read whose length differs from the size medic saw is
/// made again while the log grows; one that differs while the size holds means the log
/// changed under the read, and rewriting it could lose lines. (A log holding a secret's
/// value is not handed over at all: the read is denied, `holds_secret`.)
fn read_whole(log: &str, mut expected: u64) -> Result<Vec<u8>, Error> {
    for _ in 0..ATTEMPTS {
        let content = fs::read(log)?;
        if content.len() as u64 == expected {
            return Ok(content);
        }
        let now = fs::metadata(log)?.size;
        if now == expected {
            return Err(refused(format!(
                "`{log}` reads as {} bytes but has {now}: it changed while it was read, so rewriting it could lose lines",
                content.len()
            )));
        }
        expected = now;
    }
    Err(Error::failed(format!(
        "`{log}` kept growing while it was read ({ATTEMPTS} tries); it was not truncated"
    )))
}

/// Write the log's bytes to `NAME.1.gz`, read them back, and truncate the log once its
/// size still matches what was archived.
fn compress_and_truncate(
    settings: &Settings,
    size: u64,
    journal: &mut Journal,
    shifted: usize,
) -> Result<String, Error> {
    let log = &settings.log;
    let archive = settings.rotated(1, Form::Gzip);
    let mut expected = size;
    for _ in 0..ATTEMPTS {
        let content = read_whole(log, expected)?;
        let packed = archive::compress(&content).map_err(Error::failed)?;
        if !journal.has_archive(&archive) {
            journal.record(Action::Archive {
                path: archive.clone(),
            })?;
        }
        fs::write(&archive, &packed)?;
        // Once the log is truncated the archive is the only copy: read it back first.
        let back = fs::read(&archive)?;
        if archive::decompress(&back, content.len() as u64).as_deref() != Ok(&content[..]) {
            return Err(Error::failed(format!(
                "`{archive}` did not read back as the log's bytes; `{log}` was not truncated"
            )));
        }
        log::progress(70, &format!("archived {log}"));
        let now = fs::metadata(log)?.size;
        if now != content.len() as u64 {
            // Lines were appended since the read: archive again, with them.
            expected = now;
            continue;
        }
        journal.record(Action::Truncate {
            log: log.clone(),
            archive: archive.clone(),
            size: now,
        })?;
        fs::write(log, &[])?;
        return Ok(format!(
            "rotated `{log}`: its {now} bytes compressed to {} bytes in `{archive}`, and the log truncated in place (its writer keeps its descriptor){}",
            packed.len(),
            shifted_note(shifted)
        ));
    }
    Err(Error::failed(format!(
        "`{log}` kept growing while it was archived ({ATTEMPTS} tries); it was not truncated"
    )))
}

/// Rename a log too big to compress in the sandbox to `NAME.1`, and create an empty one.
fn rename_and_create(
    settings: &Settings,
    size: u64,
    journal: &mut Journal,
    shifted: usize,
) -> Result<String, Error> {
    let log = &settings.log;
    let renamed = settings.rotated(1, Form::Plain);
    journal.record(Action::Rename {
        log: log.clone(),
        to: renamed.clone(),
    })?;
    fs::rename(log, &renamed)?;
    journal.record(Action::Create { log: log.clone() })?;
    // A writer that reopened its log at once has made it already: leave that one be.
    if !exists(log)? {
        fs::write(log, &[])?;
    }
    Ok(format!(
        "renamed `{log}` ({size} bytes, over the {MAX_COMPRESS_BYTES} a rotation compresses in the sandbox) to `{renamed}`, uncompressed, and created an empty log{}; its writer keeps writing to `{renamed}` until it reopens its log",
        shifted_note(shifted)
    ))
}

/// Undo `action`; what was done, if anything.
fn undo(action: &Action) -> Result<Option<String>, Error> {
    match action {
        Action::Create { log } => match fs::metadata(log) {
            Ok(entry) if entry.size > 0 => Err(Error::failed(format!(
                "`{log}` has {} bytes written since it was rotated; medic does not put the rotated log back over them (both are kept)",
                entry.size
            ))),
            Ok(_) | Err(Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        },
        Action::Rename { log, to } => {
            if !exists(to)? {
                return Ok(None);
            }
            // Over the empty log, if one was made: the writer's file is the log again.
            fs::rename(to, log)?;
            Ok(Some(format!("renamed `{to}` back to `{log}`")))
        }
        Action::Truncate { log, archive, size } => {
            let packed = fs::read(archive)?;
            let original = archive::decompress(&packed, *size).map_err(|why| {
                Error::failed(format!("`{archive}` {why}; `{log}` was not restored"))
            })?;
            let since = match fs::read(log) {
                Ok(since) => since,
                Err(Error::NotFound { .. }) => Vec::new(),
                Err(error) => return Err(error),
            };
            if since.starts_with(&original) {
                // Never truncated: the log still holds what was archived.
                return Ok(None);
            }
            if (original.len() + since.len()) as u64 > MAX_WRITE_BYTES {
                return Err(Error::failed(format!(
                    "`{log}` has {} bytes written since it was rotated; with its {} rotated bytes that is more than one write may put back ({MAX_WRITE_BYTES}), so `{archive}` is kept",
                    since.len(),
                    original.len()
                )));
            }
            let mut restored = original;
            let restored_len = restored.len();
            restored.extend_from_slice(&since);
            fs::write(log, &restored)?;
            Ok(Some(format!(
                "restored `{log}`: its {restored_len} bytes from `{archive}`, then the {} written since",
                since.len()
            )))
        }
        Action::Archive { path } => match fs::remove_file(path) {
            Ok(()) => Ok(Some(format!("removed `{path}`"))),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        },
        Action::Shift { from, to } => {
            if exists(from)? || !exists(to)? {
                return Ok(None);
            }
            fs::rename(to, from)?;
            Ok(Some(format!("moved `{to}` back to `{from}`")))
        }
    }
}

impl Remediation for RotateLogs {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let settings = settings(incident)?;
        let size = log_size(&settings)?;
        if size <= settings.max_bytes {
            return Ok(vec![Step::note(format!(
                "`{}` holds {size} bytes, within its limit of {}: nothing to rotate",
                settings.log, settings.max_bytes
            ))]);
        }
        let mut steps: Vec<Step> = shifts(&settings)?
            .into_iter()
            .map(|(from, to)| {
                Step::fs(
                    format!("{from} -> {to}"),
                    "move an older rotation up one number",
                )
            })
            .collect();
        match rotation::mode_for(size) {
            Mode::Compress => {
                steps.push(Step::fs(
                    settings.rotated(1, Form::Gzip),
                    format!("write the log's {size} bytes gzip-compressed"),
                ));
                steps.push(Step::fs(
                    settings.log.clone(),
                    "truncate it in place (copytruncate): its writer keeps its descriptor",
                ));
            }
            Mode::Rename => {
                let renamed = settings.rotated(1, Form::Plain);
                steps.push(Step::fs(
                    format!("{} -> {renamed}", settings.log),
                    format!(
                        "rename it: {size} bytes is over the {MAX_COMPRESS_BYTES} a rotation compresses in the sandbox"
                    ),
                ));
                steps.push(Step::fs(settings.log.clone(), "create an empty log"));
                steps.push(Step::note(format!(
                    "its writer keeps writing to `{renamed}` until it reopens its log"
                )));
            }
        }
        Ok(steps)
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let size = log_size(&settings)?;
        if size <= settings.max_bytes {
            return Ok(format!(
                "`{}` holds {size} bytes, within its limit of {}: nothing rotated",
                settings.log, settings.max_bytes
            ));
        }
        let shifts = shifts(&settings)?;
        let mut journal = Journal::load()?;
        for (from, to) in &shifts {
            journal.record(Action::Shift {
                from: from.clone(),
                to: to.clone(),
            })?;
            fs::rename(from, to)?;
        }
        log::progress(30, "rotations shifted");
        match rotation::mode_for(size) {
            Mode::Compress => compress_and_truncate(&settings, size, &mut journal, shifts.len()),
            Mode::Rename => rename_and_create(&settings, size, &mut journal, shifts.len()),
        }
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let settings = settings(incident)?;
        let (log, limit) = (&settings.log, settings.max_bytes);
        match fs::metadata(log) {
            Ok(entry) if entry.is_symlink || entry.is_dir => {
                Ok(Verdict::unhealthy(format!("`{log}` is not a regular file")))
            }
            Ok(entry) if entry.size <= limit => Ok(Verdict::healthy(format!(
                "`{log}` holds {} bytes, within its limit of {limit}",
                entry.size
            ))),
            Ok(entry) => Ok(Verdict::unhealthy(format!(
                "`{log}` holds {} bytes, over its limit of {limit}",
                entry.size
            ))),
            Err(Error::NotFound { .. }) => {
                Ok(Verdict::unhealthy(format!("there is no log at `{log}`")))
            }
            Err(error) => Err(error),
        }
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        let mut journal = Journal::load()?;
        let mut done = Vec::new();
        let mut shifted_back = 0;
        while let Some(action) = journal.last().cloned() {
            match undo(&action)? {
                Some(_) if matches!(action, Action::Shift { .. }) => shifted_back += 1,
                Some(what) => done.push(what),
                None => {}
            }
            journal.forget_last()?;
        }
        match shifted_back {
            0 => {}
            1 => done.push("shifted 1 rotation back down".to_string()),
            count => done.push(format!("shifted {count} rotations back down")),
        }
        if done.is_empty() {
            return Ok("nothing to undo: nothing was rotated".to_string());
        }
        Ok(done.join("; "))
    }
}

medic_guest_sdk::export_remediation!(RotateLogs);

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(params: &[(&str, &str)]) -> Incident {
        Incident {
            id: "inc-1".to_string(),
            source: "cli".to_string(),
            resource_kind: "service".to_string(),
            resource_id: "app".to_string(),
            issue_type: "log_too_large".to_string(),
            summary: String::new(),
            labels: Vec::new(),
            params: params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    #[test]
    fn settings_name_the_rotations_beside_the_log() {
        let settings = settings(&incident(&[
            ("log", "/var/log/app/app.log"),
            ("dir", "/var/log/app"),
            ("max_bytes", "10MiB"),
        ]))
        .unwrap();
        assert_eq!(settings.name, "app.log");
        assert_eq!(settings.max_bytes, 10 << 20);
        assert_eq!(settings.keep, 5);
        assert_eq!(settings.rotated(1, Form::Gzip), "/var/log/app/app.log.1.gz");
        assert_eq!(settings.rotated(2, Form::Plain), "/var/log/app/app.log.2");
    }

    #[test]
    fn bad_settings_are_invalid_input() {
        let check = |params: &[(&str, &str)], message: &str| {
            assert_eq!(
                settings(&incident(params)).err(),
                Some(Error::invalid_input(message)),
                "{params:?}"
            );
        };
        let dir = ("dir", "/var/log/app");
        let max = ("max_bytes", "1MB");
        check(
            &[("log", "/var/log/other/app.log"), dir, max],
            "`log` must lie directly inside `dir`: `/var/log/other/app.log` is not a file in `/var/log/app`",
        );
        check(
            &[("log", "/var/log/app/../app/app.log"), dir, max],
            "`log` must be an absolute path without `.`, `..` or empty segments, got `/var/log/app/../app/app.log`",
        );
        check(
            &[("log", "/var/log/app/app.log"), dir],
            "incident has no parameter `max_bytes`",
        );
        check(
            &[("log", "/var/log/app/app.log"), dir, ("max_bytes", "lots")],
            "`max_bytes`: `lots` is not a size",
        );
        check(
            &[("log", "/var/log/app/app.log"), dir, max, ("keep", "0")],
            "`keep` must be a whole number from 1, got `0`",
        );
    }

    #[test]
    fn the_summary_counts_what_shifted() {
        assert_eq!(shifted_note(0), "");
        assert_eq!(shifted_note(1), "; 1 older rotation shifted up");
        assert_eq!(shifted_note(3), "; 3 older rotations shifted up");
    }
}
