//! Whether a lock is stale, judged from what the host reported: the file's bytes and age,
//! and what `ps` said of the pid it names. Pure, so every rule is tested natively.
//!
//! Owns: reading a pid out of a lock file, parsing `min_age`, reading `ps -o comm=`'s
//! answer, and the judgement. Does not own: any host call (`lib.rs` makes them).

/// The largest pid Linux hands out (`PID_MAX_LIMIT`, 2^22): a bigger number in a lock file
/// is not a pid, and the manifest's `ps` grant admits at most seven digits.
pub(crate) const PID_MAX: u32 = 4_194_304;
/// How much of a program's name `ps -o comm=` prints: the kernel keeps 15 bytes
/// (`TASK_COMM_LEN` less its NUL), so `process` is compared on its first 15.
pub(crate) const COMM_LEN: usize = 15;

/// What `ps -p PID -o comm=` said about the pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    /// No process has that pid.
    Gone,
    /// A process has it, running the program named.
    Alive {
        /// Its name as `ps` prints it (at most 15 bytes).
        name: String,
    },
}

/// Whether the lock may go, with the reason in a phrase the summaries quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Staleness {
    /// Nothing holds the lock: it may be removed.
    Stale(String),
    /// Something may still hold it: it stays.
    Held(String),
}

/// The pid a lock file names: the first word of its first line, when that is a number
/// from 1 to [`PID_MAX`] without a leading zero (`1234`, `1234\n`, ` 1234 host\n`). A file
/// that is empty, or starts with anything else, names none.
pub(crate) fn parse_pid(content: &[u8]) -> Option<u32> {
    let first_line = content.split(|byte| *byte == b'\n').next()?;
    let text = std::str::from_utf8(first_line).ok()?;
    let word = text.split_whitespace().next()?;
    if word.starts_with('0') || !word.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    word.parse::<u32>()
        .ok()
        .filter(|pid| (1..=PID_MAX).contains(pid))
}

/// `min_age` in seconds: a whole number and a unit, `s`, `m`, `h` or `d` (`90s`, `10m`,
/// `2 h`, `1d`).
pub(crate) fn parse_age(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`min_age`: `{text}` is not a duration such as `10m`"))?;
    let seconds: u64 = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`min_age`: `{text}` needs a unit: `s`, `m`, `h` or `d`"
            ));
        }
    };
    number
        .checked_mul(seconds)
        .ok_or_else(|| format!("`min_age`: `{text}` is too long"))
}

/// Read `ps -p PID -o comm=`'s answer: status 0 with a name means a live process; status
/// 1 with nothing printed means none has that pid. Anything else is an answer medic cannot
/// judge from, and the lock stays.
pub(crate) fn holder_from_ps(
    status: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> Result<Holder, String> {
    let name = stdout.trim();
    match status {
        Some(0) if !name.is_empty() && !name.contains('\n') => Ok(Holder::Alive {
            name: name.to_string(),
        }),
        Some(1) if name.is_empty() => Ok(Holder::Gone),
        _ => Err(format!(
            "`ps` gave an answer medic cannot judge from (exit status {}, stdout {name:?}, stderr {:?})",
            status.map_or_else(|| "none: killed".to_string(), |status| status.to_string()),
            stderr.trim()
        )),
    }
}

/// The judgement on a lock naming `pid`: stale when no process has the pid, or when one has
/// it but runs another program than `expected` (the pid was reused); held otherwise.
pub(crate) fn judge_pid(pid: u32, holder: &Holder, expected: Option<&str>) -> Staleness {
    match (holder, expected) {
        (Holder::Gone, _) => Staleness::Stale(format!("no process has pid {pid}")),
        (Holder::Alive { name }, Some(expected)) if !same_program(name, expected) => {
            Staleness::Stale(format!(
                "pid {pid} now runs `{name}`, not `{expected}`: the pid was reused"
            ))
        }
        (Holder::Alive { name }, Some(_)) => Staleness::Held(format!(
            "pid {pid} is alive and runs `{name}`, the program expected to hold the lock"
        )),
        (Holder::Alive { name }, None) => Staleness::Held(format!(
            "pid {pid} is alive (`{name}`); name the expected program in `process` if the pid may have been reused"
        )),
    }
}

/// The judgement on a lock that names no pid: stale once it is at least `min_age` seconds
/// old; without `min_age`, held, since nothing tells its holder is gone.
pub(crate) fn judge_age(age: u64, min_age: Option<u64>) -> Staleness {
    match min_age {
        None => Staleness::Held(
            "it names no pid, and without `min_age` nothing tells whether its holder is gone"
                .to_string(),
        ),
        Some(min_age) if age >= min_age => Staleness::Stale(format!(
            "it names no pid and was last changed {age}s ago, at least `min_age` ({min_age}s)"
        )),
        Some(min_age) => Staleness::Held(format!(
            "it names no pid and was last changed {age}s ago, less than `min_age` ({min_age}s)"
        )),
    }
}

/// True when `ps`'s `name` is the program `expected`, compared as the kernel keeps names:
/// on their first [`COMM_LEN`] bytes.
fn same_program(name: &str, expected: &str) -> bool {
    let cut = |text: &str| -> Vec<u8> { text.bytes().take(COMM_LEN).collect() };
    cut(name) == cut(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_read_from_the_first_word_of_the_first_line() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"1234", Some(1234)),
            (b"1234\n", Some(1234)),
            (b"  42 web-01\nstarted 2026-01-01\n", Some(42)),
            (b"4194304\n", Some(PID_MAX)),
            (b"4194305\n", None),
            (b"99999999999\n", None),
            (b"0\n", None),
            (b"0123\n", None),
            (b"-5\n", None),
            (b"12a\n", None),
            (b"", None),
            (b"\n1234\n", None),
            (b"locked\n", None),
            (&[0xff, b'1'], None),
        ];
        for (content, expected) in cases {
            assert_eq!(
                parse_pid(content),
                *expected,
                "{:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("90s"), Ok(90));
        assert_eq!(parse_age("10m"), Ok(600));
        assert_eq!(parse_age("2 h"), Ok(7_200));
        assert_eq!(parse_age("1d"), Ok(86_400));
        assert_eq!(
            parse_age("10"),
            Err("`min_age`: `10` needs a unit: `s`, `m`, `h` or `d`".to_string())
        );
        assert_eq!(
            parse_age("10y"),
            Err("`min_age`: `10y` needs a unit: `s`, `m`, `h` or `d`".to_string())
        );
        assert_eq!(
            parse_age("m"),
            Err("`min_age`: `m` is not a duration such as `10m`".to_string())
        );
    }

    #[test]
    fn ps_answers_are_read_strictly() {
        assert_eq!(
            holder_from_ps(Some(0), "nginx\n", ""),
            Ok(Holder::Alive {
                name: "nginx".to_string()
            })
        );
        assert_eq!(holder_from_ps(Some(1), "", ""), Ok(Holder::Gone));
        for (status, stdout, stderr, shown) in [
            (
                Some(1),
                "nginx\n",
                "",
                r#"exit status 1, stdout "nginx", stderr """#,
            ),
            (Some(0), "", "", r#"exit status 0, stdout "", stderr """#),
            (
                Some(0),
                "a\nb\n",
                "",
                r#"exit status 0, stdout "a\nb", stderr """#,
            ),
            (
                Some(2),
                "",
                "error: unsupported option\n",
                r#"exit status 2, stdout "", stderr "error: unsupported option""#,
            ),
            (
                None,
                "",
                "",
                r#"exit status none: killed, stdout "", stderr """#,
            ),
        ] {
            assert_eq!(
                holder_from_ps(status, stdout, stderr),
                Err(format!(
                    "`ps` gave an answer medic cannot judge from ({shown})"
                ))
            );
        }
    }

    #[test]
    fn a_live_pid_holds_the_lock_unless_it_runs_another_program() {
        let alive = |name: &str| Holder::Alive {
            name: name.to_string(),
        };
        let check = |holder: Holder, expected: Option<&str>, stale: bool| {
            let verdict = judge_pid(7, &holder, expected);
            assert_eq!(
                matches!(verdict, Staleness::Stale(_)),
                stale,
                "{holder:?} expecting {expected:?}: {verdict:?}"
            );
        };
        check(Holder::Gone, None, true);
        check(Holder::Gone, Some("myapp"), true);
        check(alive("myapp"), None, false);
        check(alive("myapp"), Some("myapp"), false);
        check(alive("bash"), Some("myapp"), true);
        // ps prints 15 bytes of a longer name.
        check(
            alive("postgres-export"),
            Some("postgres-exporter-daemon"),
            false,
        );
        check(alive("postgres-export"), Some("postgres"), true);
    }

    #[test]
    fn a_lock_without_a_pid_is_stale_only_past_min_age() {
        assert!(matches!(judge_age(10_000, None), Staleness::Held(_)));
        assert!(matches!(judge_age(599, Some(600)), Staleness::Held(_)));
        assert!(matches!(judge_age(600, Some(600)), Staleness::Stale(_)));
        assert_eq!(
            judge_age(7_200, Some(3_600)),
            Staleness::Stale(
                "it names no pid and was last changed 7200s ago, at least `min_age` (3600s)"
                    .to_string()
            )
        );
    }
}
