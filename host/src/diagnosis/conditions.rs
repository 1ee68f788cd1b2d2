//! Condition layers beneath the per-tool patterns: tables of the conditions an operating
//! system names (errnos, signals, exit statuses), each expanded into one pattern that
//! matches the condition in every wording tools print it in (`host/patterns/conditions/`).
//!
//! A table entry says what a condition is and which cause it points to; the table's
//! `[[wording]]` templates say how tools print such conditions. So a new tool that prints
//! `ENOSPC` as `os error 28`, `[Errno 28]` or `no space left on device` is recognised
//! without a pattern of its own. The same signal table answers what a wrapped command's
//! own exit status means ([`exit_status_signal`]). Pure: the tables are compiled into the
//! binary; nothing here reads a file.

use serde::Deserialize;

use super::known_errors::{Layer, Pattern, PatternError, PatternSpec, check_spec};
use super::{RootCause, Signal};

const ERRNO_FILE: &str = "<builtin>/conditions/errno.toml";
const ERRNO: &str = include_str!("../../patterns/conditions/errno.toml");
const SIGNALS_FILE: &str = "<builtin>/conditions/signals.toml";
const SIGNALS: &str = include_str!("../../patterns/conditions/signals.toml");

/// Weight of the wrapped command's own exit status, when medic knows it: less than a line
/// that names a cause, so the log's own words decide whenever they say something.
const EXIT_STATUS_WEIGHT: f64 = 2.5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wording {
    family: String,
    template: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrnoTable {
    wording: Vec<Wording>,
    errno: Vec<Errno>,
}

/// One errno (or resolver or Winsock code).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Errno {
    family: String,
    name: String,
    number: i64,
    message: String,
    root_cause: String,
    severity: String,
    weight: f64,
    #[serde(default)]
    aliases: Vec<String>,
    hint: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalTable {
    wording: Vec<Wording>,
    signal: Vec<SignalEntry>,
    exit: Vec<ExitEntry>,
}

/// One signal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalEntry {
    name: String,
    number: i64,
    short: String,
    message: String,
    root_cause: String,
    severity: String,
    weight: f64,
    hint: String,
}

/// One exit status with a meaning shared across tools.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExitEntry {
    code: i64,
    message: String,
    root_cause: String,
    severity: String,
    weight: f64,
    hint: String,
}

/// A shell reports a child killed by signal N as this plus N.
const SIGNAL_EXIT_BASE: i64 = 128;

/// The patterns the built-in condition tables expand into.
pub(crate) fn builtin_patterns() -> Result<Vec<Pattern>, PatternError> {
    let mut patterns = errno_patterns(ERRNO, ERRNO_FILE)?;
    patterns.extend(signal_patterns(SIGNALS, SIGNALS_FILE)?);
    Ok(patterns)
}

/// What the wrapped command's exit status `code` says, if anything: a signal that killed
/// it (128+N) or a status with a shared meaning (124, 127); `None` for the rest, whose
/// meaning is each tool's own.
pub fn exit_status_signal(code: i64) -> Option<Signal> {
    let table: SignalTable = toml::from_str(SIGNALS).ok()?;
    let (cause, description) = if let Some(signal) = table
        .signal
        .iter()
        .find(|signal| SIGNAL_EXIT_BASE + signal.number == code)
    {
        (
            &signal.root_cause,
            format!(
                "the command exited with {code}: killed by {} ({})",
                signal.name, signal.message
            ),
        )
    } else {
        let exit = table.exit.iter().find(|exit| exit.code == code)?;
        (
            &exit.root_cause,
            format!("the command exited with {code}: {}", exit.message),
        )
    };
    Some(Signal {
        root_cause: RootCause::parse(cause)?,
        weight: EXIT_STATUS_WEIGHT,
        description,
        services: Vec::new(),
    })
}

/// Fields a template may name, with their values (unescaped).
type Fields<'a> = [(&'static str, Option<String>); 6];

/// `template` with each `{field}` replaced by its regex-escaped value; `None` if it names
/// a field this entry lacks.
fn fill(template: &str, fields: &Fields<'_>) -> Option<String> {
    let mut regex = template.to_string();
    for (field, value) in fields {
        let placeholder = format!("{{{field}}}");
        if regex.contains(&placeholder) {
            regex = regex.replace(&placeholder, &regex::escape(value.as_deref()?));
        }
    }
    Some(regex)
}

/// The alternation of every wording of `family` for one entry; templates naming
/// `{alias}` are repeated for each alias.
fn expand(
    wordings: &[Wording],
    family: &str,
    fields: &Fields<'_>,
    aliases: &[String],
) -> Result<String, String> {
    let mut branches = Vec::new();
    for wording in wordings.iter().filter(|wording| wording.family == family) {
        if wording.template.contains("{alias}") {
            for alias in aliases {
                let mut with_alias = fields.clone();
                with_alias[5] = ("alias", Some(alias.clone()));
                branches.extend(fill(&wording.template, &with_alias));
            }
        } else {
            branches.extend(fill(&wording.template, fields));
        }
    }
    if branches.is_empty() {
        return Err(format!("no wording of family `{family}` applies"));
    }
    Ok(branches
        .iter()
        .map(|branch| format!("(?:{branch})"))
        .collect::<Vec<_>>()
        .join("|"))
}

fn table_error(file: &str, message: String) -> PatternError {
    PatternError::Condition {
        file: file.to_string(),
        message,
    }
}

fn errno_patterns(text: &str, file: &str) -> Result<Vec<Pattern>, PatternError> {
    let table: ErrnoTable =
        toml::from_str(text).map_err(|error| table_error(file, error.to_string()))?;
    table
        .errno
        .iter()
        .map(|entry| {
            let fields: Fields<'_> = [
                ("name", Some(entry.name.clone())),
                ("number", Some(entry.number.to_string())),
                ("message", Some(entry.message.clone())),
                ("short", None),
                ("code", None),
                ("alias", None),
            ];
            let regex = expand(&table.wording, &entry.family, &fields, &entry.aliases)
                .map_err(|message| table_error(file, format!("`{}`: {message}", entry.name)))?;
            check_spec(
                PatternSpec {
                    id: format!("errno.{}", entry.name.to_ascii_lowercase()),
                    regex,
                    root_cause: entry.root_cause.clone(),
                    severity: entry.severity.clone(),
                    description: format!("{} ({}): {}", entry.name, entry.number, entry.message),
                    services: Vec::new(),
                    hint: entry.hint.clone(),
                    weight: entry.weight,
                    summary: false,
                    layer: Layer::Condition,
                },
                file,
            )
        })
        .collect()
}

fn signal_patterns(text: &str, file: &str) -> Result<Vec<Pattern>, PatternError> {
    let table: SignalTable =
        toml::from_str(text).map_err(|error| table_error(file, error.to_string()))?;
    let mut patterns = Vec::new();
    for entry in &table.signal {
        let fields: Fields<'_> = [
            ("name", Some(entry.name.clone())),
            ("number", Some(entry.number.to_string())),
            ("message", Some(entry.message.clone())),
            ("short", Some(entry.short.clone())),
            ("code", Some((SIGNAL_EXIT_BASE + entry.number).to_string())),
            ("alias", None),
        ];
        let regex = expand(&table.wording, "signal", &fields, &[])
            .map_err(|message| table_error(file, format!("`{}`: {message}", entry.name)))?;
        patterns.push(check_spec(
            PatternSpec {
                id: format!("signal.{}", entry.name.to_ascii_lowercase()),
                regex,
                root_cause: entry.root_cause.clone(),
                severity: entry.severity.clone(),
                description: format!(
                    "killed by {} ({}, signal {})",
                    entry.name, entry.message, entry.number
                ),
                services: Vec::new(),
                hint: entry.hint.clone(),
                weight: entry.weight,
                summary: false,
                layer: Layer::Condition,
            },
            file,
        )?);
    }
    for entry in &table.exit {
        let fields: Fields<'_> = [
            ("name", None),
            ("number", None),
            ("message", None),
            ("short", None),
            ("code", Some(entry.code.to_string())),
            ("alias", None),
        ];
        let regex = expand(&table.wording, "exit", &fields, &[])
            .map_err(|message| table_error(file, format!("exit {}: {message}", entry.code)))?;
        patterns.push(check_spec(
            PatternSpec {
                id: format!("exit.{}", entry.code),
                regex,
                root_cause: entry.root_cause.clone(),
                severity: entry.severity.clone(),
                description: format!("exit status {}: {}", entry.code, entry.message),
                services: Vec::new(),
                hint: entry.hint.clone(),
                weight: entry.weight,
                summary: false,
                layer: Layer::Condition,
            },
            file,
        )?);
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::PatternLibrary;

    /// The condition patterns that match `line`.
    fn conditions(library: &PatternLibrary, line: &str) -> Vec<String> {
        library
            .matching(line.as_bytes())
            .into_iter()
            .map(|index| library.patterns[index].id.clone())
            .filter(|id| {
                id.starts_with("errno.") || id.starts_with("signal.") || id.starts_with("exit.")
            })
            .collect()
    }

    #[test]
    fn conditions_are_recognised_in_every_wording() {
        let library = PatternLibrary::builtin().unwrap();
        let cases: &[(&str, &[&str])] = &[
            (
                "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
                &["errno.eaddrinuse"],
            ),
            (
                "Lost connection to server at 'handshake', system error: 110",
                &["errno.etimedout"],
            ),
            (
                "Error: EACCES: permission denied, open '/srv/x'",
                &["errno.eacces"],
            ),
            (
                "thread 'main' panicked: Os { code: 28, kind: StorageFull, message: \"x\" } (os error 28)",
                &["errno.enospc"],
            ),
            (
                "ConnectionRefusedError: [Errno 111] Connection refused",
                &["errno.econnrefused"],
            ),
            ("write failed errno=13", &["errno.eacces"]),
            (
                "dial tcp 127.0.0.1:5432: connect: connection refused",
                &["errno.econnrefused"],
            ),
            (
                "java.net.BindException: Address already in use (Bind failed)",
                &["errno.eaddrinuse"],
            ),
            (
                "socket.gaierror: [Errno -2] Name or service not known",
                &["errno.eai_noname"],
            ),
            ("  errno: -111,", &["errno.econnrefused"]),
            (
                "bash: line 1:  4242 Killed                  python3 big.py",
                &["signal.sigkill"],
            ),
            ("Segmentation fault (core dumped)", &["signal.sigsegv"]),
            ("make: *** [Makefile:3: all] Error 137", &["signal.sigkill"]),
            ("signal: killed", &["signal.sigkill"]),
            (
                "Main process exited, code=killed, status=9/KILL",
                &["signal.sigkill"],
            ),
            (
                "subprocess.CalledProcessError: Command '['x']' returned non-zero exit status -9.",
                &["signal.sigkill"],
            ),
            (
                "process didn't exit successfully: `target/debug/x` (signal: 11, SIGSEGV: invalid memory reference)",
                &["signal.sigsegv"],
            ),
            (
                "File size limit exceeded (core dumped)",
                &["signal.sigxfsz"],
            ),
            ("Process completed with exit code 124.", &["exit.124"]),
            ("ERROR: exited with 127", &["exit.127"]),
            ("make: *** [all] Error 1", &[]),
            ("exited with 12", &[]),
            ("Killed 3 stale workers", &[]),
        ];
        for (line, expected) in cases {
            assert_eq!(conditions(&library, line), *expected, "{line}");
        }
    }

    #[test]
    fn a_wrapped_commands_exit_status_names_its_condition() {
        let cases: &[(i64, Option<(RootCause, &str)>)] = &[
            (
                137,
                Some((
                    RootCause::ResourceExhaustion,
                    "the command exited with 137: killed by SIGKILL (Killed)",
                )),
            ),
            (
                139,
                Some((
                    RootCause::Unknown,
                    "the command exited with 139: killed by SIGSEGV (Segmentation fault)",
                )),
            ),
            (
                153,
                Some((
                    RootCause::ResourceExhaustion,
                    "the command exited with 153: killed by SIGXFSZ (File size limit exceeded)",
                )),
            ),
            (
                124,
                Some((
                    RootCause::Timeout,
                    "the command exited with 124: the command timed out (GNU timeout)",
                )),
            ),
            (1, None),
            (2, None),
            (255, None),
        ];
        for (code, expected) in cases {
            let found =
                exit_status_signal(*code).map(|signal| (signal.root_cause, signal.description));
            assert_eq!(
                found,
                expected.map(|(cause, text)| (cause, text.to_string())),
                "{code}"
            );
        }
    }
}
