//! Bring a log or cache directory back under its size budget by moving its oldest rotated
//! and temporary files into a quarantine folder; `rollback` moves them back.
//!
//! Parameters (incident `params`):
//! - `dir`: the directory to clean (absolute; must be under one of the manifest's grants).
//! - `max_bytes`: the budget, in bytes or with a unit (`500MiB`, `2GiB`, `10KB`). Without
//!   one, every rotated and temporary file moves (what a full disk calls for when nobody
//!   set a budget), and verify checks that none is left.
//! - `quarantine`: where files go; defaults to `<dir>/.medic-quarantine/<incident id>`.
//!
//! Only rotated files (`app.log.1`, `app.log.2.gz`, `app-20240101.log.gz`, `*.old`, `*.bak`)
//! and temporary files (`*.tmp`, `*.temp`, `*.swp`, `*~`) are candidates, oldest first;
//! live logs are never touched, and neither are symlinks. The size counted is the regular
//! files under `dir`, quarantine excluded. Every move is checkpointed before the next one,
//! so a rollback after a crash still knows what moved.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, fs, log};

/// How deep below `dir` files are considered.
const MAX_DEPTH: usize = 4;
/// Checkpoint key holding `original\tquarantined` lines.
const MOVED_KEY: &str = "moved";
const QUARANTINE_DIR: &str = ".medic-quarantine";

struct FreeDiskSpace;

#[derive(Debug, Clone)]
struct File {
    path: String,
    size: u64,
    modified: u64,
}

struct Settings {
    dir: String,
    /// `None`: no budget; every candidate moves.
    max_bytes: Option<u64>,
    quarantine: String,
}

impl Settings {
    fn over(&self, total: u64) -> bool {
        self.max_bytes.is_none_or(|budget| total > budget)
    }

    fn budget(&self) -> String {
        self.max_bytes.map_or_else(
            || "none (every rotated and temporary file moves)".to_string(),
            |b| b.to_string(),
        )
    }
}

fn settings(incident: &Incident) -> Result<Settings, Error> {
    let dir = incident
        .require_param("dir")?
        .trim_end_matches('/')
        .to_string();
    if !dir.starts_with('/') {
        return Err(Error::invalid_input(format!(
            "`dir` must be an absolute path, got `{dir}`"
        )));
    }
    let max_bytes = incident.param("max_bytes").map(parse_size).transpose()?;
    let quarantine = match incident.param("quarantine") {
        Some(path) => path.trim_end_matches('/').to_string(),
        None => format!("{dir}/{QUARANTINE_DIR}/{}", safe_name(&incident.id)),
    };
    Ok(Settings {
        dir,
        max_bytes,
        quarantine,
    })
}

fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `1048576`, `500MiB`, `2GiB`, `10KB`, `3 MB`.
fn parse_size(text: &str) -> Result<u64, Error> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| Error::invalid_input(format!("`max_bytes`: `{text}` is not a size")))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(Error::invalid_input(format!(
                "`max_bytes`: unknown unit `{other}`"
            )));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| Error::invalid_input(format!("`max_bytes`: `{text}` is too large")))
}

/// Rotated or temporary, judged by name alone.
fn is_candidate(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let compressed = [".gz", ".bz2", ".xz", ".zst", ".z"];
    let base = compressed
        .iter()
        .find_map(|ext| lower.strip_suffix(ext))
        .unwrap_or(&lower);
    if base.len() != lower.len() {
        return true;
    }
    // A rotation number is small (`app.log.1` .. `app.log.999`): a long numeric suffix is a
    // live sequence file (`aria_log.00000001`, a database's WAL segment), never rotated.
    let numbered = base.rsplit_once('.').is_some_and(|(stem, tail)| {
        !stem.is_empty()
            && (1..=3).contains(&tail.len())
            && tail.bytes().all(|b| b.is_ascii_digit())
    });
    // A date stamp: `-YYYYMMDD` with a plausible year.
    let dated = base.rsplit_once('-').is_some_and(|(_, tail)| {
        tail.len() >= 8
            && tail[..8].bytes().all(|b| b.is_ascii_digit())
            && (tail.starts_with("19") || tail.starts_with("20"))
    });
    numbered
        || dated
        || [".old", ".bak", ".tmp", ".temp", ".swp"]
            .iter()
            .any(|ext| base.ends_with(ext))
        || base.ends_with('~')
}

/// Regular files under `dir`, skipping symlinks and the quarantine folder.
fn walk(dir: &str, quarantine: &str, depth: usize, files: &mut Vec<File>) -> Result<(), Error> {
    for entry in fs::list(dir)? {
        let path = format!("{dir}/{}", entry.name);
        if entry.is_symlink || path == quarantine || entry.name == QUARANTINE_DIR {
            continue;
        }
        if entry.is_dir {
            if depth < MAX_DEPTH {
                walk(&path, quarantine, depth + 1, files)?;
            }
        } else {
            files.push(File {
                path,
                size: entry.size,
                modified: entry.modified,
            });
        }
    }
    Ok(())
}

/// The total size, and the candidates to move (oldest first) to get under the budget.
fn choose(settings: &Settings) -> Result<(u64, Vec<File>), Error> {
    let mut files = Vec::new();
    walk(&settings.dir, &settings.quarantine, 0, &mut files)?;
    let total: u64 = files.iter().map(|file| file.size).sum();
    let mut candidates: Vec<File> = files
        .into_iter()
        .filter(|file| file.path.rsplit('/').next().is_some_and(is_candidate))
        .collect();
    candidates.sort_by(|a, b| {
        a.modified
            .cmp(&b.modified)
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut remaining = total;
    let chosen = candidates
        .into_iter()
        .take_while(|file| {
            let take = settings.over(remaining);
            if take {
                remaining -= file.size;
            }
            take
        })
        .collect();
    Ok((total, chosen))
}

/// Where `original` goes: its path below `dir`, flattened reversibly (`%` as `%25`, `/` as
/// `%2F`), so two files never share a quarantine name.
fn quarantined_path(settings: &Settings, original: &str) -> String {
    let relative = original
        .strip_prefix(&settings.dir)
        .unwrap_or(original)
        .trim_start_matches('/');
    format!(
        "{}/{}",
        settings.quarantine,
        relative.replace('%', "%25").replace('/', "%2F")
    )
}

fn load_moved() -> Result<Vec<(String, String)>, Error> {
    Ok(checkpoint::load_string(MOVED_KEY)?
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(from, to)| (from.to_string(), to.to_string()))
        .collect())
}

fn save_moved(moved: &[(String, String)]) -> Result<(), Error> {
    let text: Vec<String> = moved
        .iter()
        .map(|(from, to)| format!("{from}\t{to}"))
        .collect();
    checkpoint::save_str(MOVED_KEY, &text.join("\n"))
}

impl Remediation for FreeDiskSpace {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let settings = settings(incident)?;
        let (total, chosen) = choose(&settings)?;
        if chosen.is_empty() {
            return Ok(vec![Step::note(format!(
                "{} holds {total} bytes (budget {}): nothing to move",
                settings.dir,
                settings.budget()
            ))]);
        }
        let mut steps = vec![Step::fs(
            settings.quarantine.clone(),
            "create the quarantine folder",
        )];
        for file in &chosen {
            steps.push(Step::fs(
                format!(
                    "{} -> {}",
                    file.path,
                    quarantined_path(&settings, &file.path)
                ),
                format!("move {} bytes into quarantine", file.size),
            ));
        }
        let freed: u64 = chosen.iter().map(|file| file.size).sum();
        if settings.max_bytes.is_some() && settings.over(total - freed) {
            steps.push(Step::note(format!(
                "only {freed} bytes are rotated or temporary: {} stays over its budget",
                settings.dir
            )));
        }
        Ok(steps)
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let (total, chosen) = choose(&settings)?;
        if chosen.is_empty() {
            return Ok(format!(
                "{} holds {total} bytes: nothing to move",
                settings.dir
            ));
        }
        fs::create_dir(&settings.quarantine)?;
        let mut moved = load_moved()?;
        let count = chosen.len();
        let mut freed = 0;
        for (index, file) in chosen.iter().enumerate() {
            let target = quarantined_path(&settings, &file.path);
            // Never over another file: a name already taken in quarantine stops the run.
            if fs::metadata(&target).is_ok() {
                return Err(Error::failed(format!(
                    "{target} already exists in quarantine; not moving {} over it",
                    file.path
                )));
            }
            // Recorded before it moves: a run killed mid-move still knows to move it back.
            moved.push((file.path.clone(), target.clone()));
            save_moved(&moved)?;
            fs::rename(&file.path, &target)?;
            freed += file.size;
            log::progress(
                (10 + 80 * (index + 1) / count) as u8,
                &format!("moved {}", file.path),
            );
        }
        Ok(format!(
            "moved {count} files ({freed} bytes) from {} into {}",
            settings.dir, settings.quarantine
        ))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let settings = settings(incident)?;
        let (total, left) = choose(&settings)?;
        let detail = format!(
            "{} holds {total} bytes, budget {}",
            settings.dir,
            settings.budget()
        );
        let healthy = match settings.max_bytes {
            Some(budget) => total <= budget,
            None => left.is_empty(),
        };
        Ok(if healthy {
            Verdict::healthy(detail)
        } else {
            Verdict::unhealthy(detail)
        })
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        let mut moved = load_moved()?;
        let mut back = 0;
        let mut kept = Vec::new();
        while let Some((original, quarantined)) = moved.pop() {
            // A new file where the old one was is not overwritten: the old stays in quarantine.
            if fs::metadata(&original).is_ok() {
                if fs::metadata(&quarantined).is_ok() {
                    kept.push(quarantined);
                }
                save_moved(&moved)?;
                continue;
            }
            match fs::rename(&quarantined, &original) {
                Ok(()) => back += 1,
                // Recorded but never moved: the run stopped between the two.
                Err(Error::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
            save_moved(&moved)?;
        }
        if kept.is_empty() {
            Ok(format!("moved {back} files back from quarantine"))
        } else {
            Ok(format!(
                "moved {back} files back from quarantine; kept {} there because a new file took its place: {}",
                kept.len(),
                kept.join(", ")
            ))
        }
    }
}

medic_guest_sdk::export_remediation!(FreeDiskSpace);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_rotated_or_temporary() {
        for name in [
            "app.log.1",
            "app.log.2.gz",
            "syslog-20240101",
            "app-20240101.log.gz",
            "x.old",
            "y.bak",
            "z.tmp",
            "notes~",
            "a.swp",
        ] {
            assert!(is_candidate(name), "{name} should be a candidate");
        }
        for name in [
            "app.log",
            "current",
            "data.db",
            "log.",
            ".1",
            "aria_log.00000001",
            "000000010000000000000001.1234",
            "build-12345678",
        ] {
            assert!(!is_candidate(name), "{name} should not be a candidate");
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_size("3 MB").unwrap(), 3_000_000);
        assert_eq!(
            parse_size("1x"),
            Err(Error::invalid_input("`max_bytes`: unknown unit `x`"))
        );
    }
}
