//! What a rotation does, decided from names and sizes alone: which files are rotations of
//! a log (`NAME.N`, `NAME.N.gz`), the renames that free `NAME.1` without writing over or
//! deleting anything, the `keep` bound, `max_bytes` with units, and whether the log is
//! compressed or renamed. Pure, so every rule is tested natively. Does not own: any host
//! call (`lib.rs`).

/// A rotation compresses at most this much in the sandbox. `rollback` puts the log's bytes
/// back with one fs write, which the host caps at 8 MiB (`MAX_WRITE_BYTES` in
/// `host/src/sandbox/limits.rs`); 6 MiB leaves room for the lines written since, and keeps
/// the guest's copies (the log, its archive, the archive read back) well inside its memory.
/// A bigger log is renamed instead.
pub(crate) const MAX_COMPRESS_BYTES: u64 = 6 << 20;
/// The host's cap on one fs write: what `rollback` may write back at once.
pub(crate) const MAX_WRITE_BYTES: u64 = 8 << 20;
/// The highest rotation number recognised (`app.log.999.gz`); `keep` is far below it.
const MAX_INDEX: u32 = 999;

/// How a rotated file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `NAME.N`, as a renamed log is left.
    Plain,
    /// `NAME.N.gz`.
    Gzip,
}

/// A file already rotated, as the directory listing shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rotated {
    /// `N` in `NAME.N`.
    pub(crate) index: u32,
    /// Compressed or not.
    pub(crate) form: Form,
    /// A regular file: not a directory, not a symlink.
    pub(crate) regular: bool,
}

/// One rename that moves a rotation up a number, by file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shift {
    /// `app.log.1.gz`.
    pub(crate) from: String,
    /// `app.log.2.gz`.
    pub(crate) to: String,
}

/// What happens to the log itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Written gzip-compressed as `NAME.1.gz`, then truncated in place.
    Compress,
    /// Renamed to `NAME.1`, and an empty log created.
    Rename,
}

/// The mode for a log of `size` bytes.
pub(crate) fn mode_for(size: u64) -> Mode {
    if size <= MAX_COMPRESS_BYTES {
        Mode::Compress
    } else {
        Mode::Rename
    }
}

/// The file name of rotation `index` of `log_name` in `form`.
pub(crate) fn rotated_name(log_name: &str, index: u32, form: Form) -> String {
    match form {
        Form::Plain => format!("{log_name}.{index}"),
        Form::Gzip => format!("{log_name}.{index}.gz"),
    }
}

/// The rotation `entry` is of `log_name`, if it is one: `app.log.3` or `app.log.3.gz`,
/// numbered 1 to 999 without a leading zero.
pub(crate) fn parse_rotated(log_name: &str, entry: &str) -> Option<(u32, Form)> {
    let rest = entry.strip_prefix(log_name)?.strip_prefix('.')?;
    let (digits, form) = match rest.strip_suffix(".gz") {
        Some(digits) => (digits, Form::Gzip),
        None => (rest, Form::Plain),
    };
    if digits.is_empty()
        || digits.starts_with('0')
        || !digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        return None;
    }
    let index: u32 = digits.parse().ok()?;
    (index <= MAX_INDEX).then_some((index, form))
}

/// The renames that free number 1: each file of the unbroken run `1..=m` moves up one,
/// highest first, so no rename lands on a file (number `m + 1` is free, or the run would
/// be longer). Refused when the run holds a number twice (`NAME.2` and `NAME.2.gz`) or
/// something that is not a regular file, or when shifting would number more than `keep`
/// rotations: medic deletes none.
pub(crate) fn plan_shifts(
    log_name: &str,
    rotated: &[Rotated],
    keep: u32,
) -> Result<Vec<Shift>, String> {
    let mut run = Vec::new();
    for index in 1.. {
        let found: Vec<&Rotated> = rotated.iter().filter(|r| r.index == index).collect();
        match found.as_slice() {
            [] => break,
            [one] if one.regular => run.push(**one),
            [one] => {
                return Err(format!(
                    "`{}` is not a regular file; medic shifts only plain rotations",
                    rotated_name(log_name, index, one.form)
                ));
            }
            _ => {
                return Err(format!(
                    "`{}` and `{}` both exist; medic does not guess which is older",
                    rotated_name(log_name, index, Form::Plain),
                    rotated_name(log_name, index, Form::Gzip)
                ));
            }
        }
    }
    let highest = run.len() as u32;
    if highest >= keep {
        return Err(format!(
            "rotations 1 to {highest} of `{log_name}` exist and `keep` is {keep}: another would make {}, and medic deletes none; move the oldest away (free-disk-space quarantines rotated files) or raise `keep`",
            highest + 1
        ));
    }
    Ok(run
        .iter()
        .rev()
        .map(|rotated| Shift {
            from: rotated_name(log_name, rotated.index, rotated.form),
            to: rotated_name(log_name, rotated.index + 1, rotated.form),
        })
        .collect())
}

/// `1048576`, `500KB`, `2MiB`, `1G`, `3 MB`: decimal units are powers of 1000, binary
/// ones (and a bare `K`, `M`, `G`) powers of 1024.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`max_bytes`: `{text}` is not a size"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("`max_bytes`: unknown unit `{other}`")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`max_bytes`: `{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_are_recognised_by_name() {
        let cases = [
            ("app.log.1", Some((1, Form::Plain))),
            ("app.log.1.gz", Some((1, Form::Gzip))),
            ("app.log.12.gz", Some((12, Form::Gzip))),
            ("app.log.999", Some((999, Form::Plain))),
            ("app.log.1000.gz", None),
            ("app.log.0.gz", None),
            ("app.log.01.gz", None),
            ("app.log", None),
            ("app.log.", None),
            ("app.log.gz", None),
            ("app.log.1.bz2", None),
            ("app.log.1.gz.tmp", None),
            ("app.logx.1.gz", None),
            ("other.log.1.gz", None),
            ("app.log-20240101.gz", None),
        ];
        for (entry, expected) in cases {
            assert_eq!(parse_rotated("app.log", entry), expected, "{entry}");
        }
    }

    fn regular(index: u32, form: Form) -> Rotated {
        Rotated {
            index,
            form,
            regular: true,
        }
    }

    fn shift(from: &str, to: &str) -> Shift {
        Shift {
            from: from.to_string(),
            to: to.to_string(),
        }
    }

    #[test]
    fn shifts_move_the_unbroken_run_up_highest_first() {
        assert_eq!(plan_shifts("app.log", &[], 5), Ok(Vec::new()));
        let rotated = [
            regular(1, Form::Gzip),
            regular(2, Form::Plain),
            regular(3, Form::Gzip),
            // Past the gap at 4: left alone.
            regular(5, Form::Gzip),
        ];
        assert_eq!(
            plan_shifts("app.log", &rotated, 5),
            Ok(vec![
                shift("app.log.3.gz", "app.log.4.gz"),
                shift("app.log.2", "app.log.3"),
                shift("app.log.1.gz", "app.log.2.gz"),
            ])
        );
        // Nothing at 1: nothing moves, whatever lies beyond.
        assert_eq!(
            plan_shifts("app.log", &[regular(2, Form::Gzip)], 5),
            Ok(Vec::new())
        );
    }

    #[test]
    fn shifts_are_refused_rather_than_deleting_or_guessing() {
        let full: Vec<Rotated> = (1..=3).map(|index| regular(index, Form::Gzip)).collect();
        assert_eq!(
            plan_shifts("app.log", &full, 3),
            Err("rotations 1 to 3 of `app.log` exist and `keep` is 3: another would make 4, and medic deletes none; move the oldest away (free-disk-space quarantines rotated files) or raise `keep`".to_string())
        );
        assert_eq!(plan_shifts("app.log", &full, 4).map(|s| s.len()), Ok(3));
        assert_eq!(
            plan_shifts(
                "app.log",
                &[regular(1, Form::Gzip), regular(1, Form::Plain)],
                5
            ),
            Err(
                "`app.log.1` and `app.log.1.gz` both exist; medic does not guess which is older"
                    .to_string()
            )
        );
        assert_eq!(
            plan_shifts(
                "app.log",
                &[
                    regular(1, Form::Gzip),
                    Rotated {
                        index: 2,
                        form: Form::Gzip,
                        regular: false
                    }
                ],
                5
            ),
            Err(
                "`app.log.2.gz` is not a regular file; medic shifts only plain rotations"
                    .to_string()
            )
        );
    }

    #[test]
    fn big_logs_are_renamed_not_compressed() {
        assert_eq!(mode_for(0), Mode::Compress);
        assert_eq!(mode_for(MAX_COMPRESS_BYTES), Mode::Compress);
        assert_eq!(mode_for(MAX_COMPRESS_BYTES + 1), Mode::Rename);
        const { assert!(MAX_COMPRESS_BYTES < MAX_WRITE_BYTES) };
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("500KB"), Ok(500_000));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("3 MB"), Ok(3_000_000));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(
            parse_size("1x"),
            Err("`max_bytes`: unknown unit `x`".to_string())
        );
        assert_eq!(
            parse_size("MiB"),
            Err("`max_bytes`: `MiB` is not a size".to_string())
        );
        assert_eq!(
            parse_size("99999999999999GiB"),
            Err("`max_bytes`: `99999999999999GiB` is too large".to_string())
        );
    }
}
