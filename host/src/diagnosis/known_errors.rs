//! The pattern library: TOML files compiled into the binary (`host/patterns/`), plus any
//! in the operator's folder (`[diagnosis] patterns_dir` in medic.toml). A bad file fails
//! loading with the file, the pattern id and the regex error named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_syntax::hir::{Hir, HirKind};
use serde::Deserialize;
use thiserror::Error;

use super::{RootCause, Severity};

/// The built-in pattern files.
pub const BUILTIN: &[(&str, &str)] = &[
    ("build.toml", include_str!("../../patterns/build.toml")),
    (
        "configuration.toml",
        include_str!("../../patterns/configuration.toml"),
    ),
    (
        "credentials.toml",
        include_str!("../../patterns/credentials.toml"),
    ),
    ("network.toml", include_str!("../../patterns/network.toml")),
    (
        "packages.toml",
        include_str!("../../patterns/packages.toml"),
    ),
    (
        "resources.toml",
        include_str!("../../patterns/resources.toml"),
    ),
    (
        "services.toml",
        include_str!("../../patterns/services.toml"),
    ),
    ("state.toml", include_str!("../../patterns/state.toml")),
    ("storage.toml", include_str!("../../patterns/storage.toml")),
    ("tests.toml", include_str!("../../patterns/tests.toml")),
    (
        "timeouts.toml",
        include_str!("../../patterns/timeouts.toml"),
    ),
    ("unknown.toml", include_str!("../../patterns/unknown.toml")),
    (
        "virtualization.toml",
        include_str!("../../patterns/virtualization.toml"),
    ),
];

/// Patterns are compiled with Unicode classes off: `\\b`, `\\w`, `\\s` and case folding are
/// ASCII, `.` is any byte but newline, and non-ASCII literals match their UTF-8 bytes. That
/// keeps matching on the fast DFA path whatever bytes a log holds (a Unicode word boundary
/// forces a slow fallback on non-ASCII input).
/// Evidence ids medic gives lines it found by position rather than by a pattern (see
/// `score::STEP_OUTPUT_ID`); no pattern may take one.
pub const RESERVED_ID_PREFIX: &str = "medic.";
/// Longest regex source accepted.
const MAX_REGEX_LEN: usize = 4096;
/// Compiled size cap for one pattern and for the set.
const REGEX_SIZE_LIMIT: usize = 8 << 20;
const SET_SIZE_LIMIT: usize = 256 << 20;

/// One known error.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Stable id, e.g. `storage.enospc`.
    pub id: String,
    /// The regex as written.
    pub regex: String,
    /// The cause it points to.
    pub root_cause: RootCause,
    /// How bad it is.
    pub severity: Severity,
    /// What it means.
    pub description: String,
    /// Services it implicates.
    pub services: Vec<String>,
    /// A recovery step for a human.
    pub hint: String,
    /// How much a match counts.
    pub weight: f64,
    /// The file it came from.
    pub file: String,
    /// The regex, compiled.
    exact: Regex,
}

/// Patterns at or below this weight are wrappers: lines that report a step failed ("The
/// command ... exited with 1", `make: *** Error 1`) without saying why. Where they cluster
/// is where the job failed, and the lines just above them are what the step printed last.
pub const WRAPPER_WEIGHT: f64 = 0.2;

/// The wrapper that reports the whole job failed ("Done. Your build exited with 1"): it
/// marks the end of the log, not the failing step, which may be hundreds of lines above,
/// before cache uploads and `after_failure` output.
pub const JOB_EXIT_ID: &str = "unknown.job-exit";

impl Pattern {
    /// Whether this pattern only reports that a step failed; see [`WRAPPER_WEIGHT`].
    pub fn is_wrapper(&self) -> bool {
        self.weight <= WRAPPER_WEIGHT
    }

    /// Whether this is the job-level wrapper; see [`JOB_EXIT_ID`].
    pub fn is_job_exit(&self) -> bool {
        self.id == JOB_EXIT_ID
    }
}

/// Every pattern, compiled once into a set for one-pass matching.
#[derive(Debug, Clone)]
pub struct PatternLibrary {
    /// The patterns, in set order.
    pub patterns: Vec<Pattern>,
    /// Every pattern's candidate regex (see `candidate_regex`): which might match a line.
    set: RegexSet,
    /// Any candidate, multi-line: finds candidate lines fast in a whole block.
    pub(crate) any: Regex,
}

/// Why the library could not be loaded.
#[derive(Debug, Error)]
pub enum PatternError {
    /// A file could not be read.
    #[error("cannot read pattern file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or missing keys.
    #[error("pattern file `{file}`: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// toml's message with the line.
        message: String,
    },
    /// A regex does not compile.
    #[error("pattern file `{file}`: pattern `{id}`: regex does not compile: {message}")]
    Regex {
        /// The file.
        file: String,
        /// The pattern.
        id: String,
        /// The regex error.
        message: String,
    },
    /// A field is invalid.
    #[error("pattern file `{file}`: pattern `{id}`: `{field}` {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The pattern.
        id: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The whole set is too large to compile.
    #[error("the pattern set does not compile: {0}")]
    Set(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternFile {
    #[serde(default)]
    pattern: Vec<RawPattern>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    id: String,
    regex: String,
    root_cause: String,
    severity: String,
    description: String,
    #[serde(default)]
    services: Vec<String>,
    hint: String,
    weight: f64,
}

/// Parse one pattern file's text; `file` names it in errors.
pub fn parse_pattern_file(text: &str, file: &str) -> Result<Vec<Pattern>, PatternError> {
    let parsed: PatternFile = toml::from_str(text).map_err(|error| PatternError::Syntax {
        file: file.to_string(),
        message: error.to_string().trim_end().to_string(),
    })?;
    parsed
        .pattern
        .into_iter()
        .map(|raw| check_pattern(raw, file))
        .collect()
}

fn check_pattern(raw: RawPattern, file: &str) -> Result<Pattern, PatternError> {
    let invalid = |field, message: String| PatternError::Invalid {
        file: file.to_string(),
        id: raw.id.clone(),
        field,
        message,
    };
    if raw.id.is_empty()
        || raw.id.len() > 80
        || !raw
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(invalid(
            "id",
            format!(
                "must be 1 to 80 of a-z, 0-9, `.`, `_`, `-`, got `{}`",
                raw.id
            ),
        ));
    }
    if raw.id.starts_with(RESERVED_ID_PREFIX) {
        return Err(invalid(
            "id",
            format!(
                "`{}`: ids starting with `{RESERVED_ID_PREFIX}` are medic's own (evidence found by position)",
                raw.id
            ),
        ));
    }
    let root_cause = RootCause::parse(&raw.root_cause).ok_or_else(|| {
        invalid(
            "root_cause",
            format!("`{}` is not in the taxonomy", raw.root_cause),
        )
    })?;
    let severity = match raw.severity.as_str() {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        other => {
            return Err(invalid(
                "severity",
                format!("`{other}` is not low, medium, high or critical"),
            ));
        }
    };
    if !(raw.weight.is_finite() && raw.weight > 0.0 && raw.weight <= 10.0) {
        return Err(invalid(
            "weight",
            format!("must be more than 0 and at most 10, got {}", raw.weight),
        ));
    }
    if raw.regex.len() > MAX_REGEX_LEN {
        return Err(invalid(
            "regex",
            format!("is longer than {MAX_REGEX_LEN} bytes"),
        ));
    }
    let exact = compile_one(&raw.regex).map_err(|message| PatternError::Regex {
        file: file.to_string(),
        id: raw.id.clone(),
        message,
    })?;
    Ok(Pattern {
        id: raw.id,
        regex: raw.regex,
        root_cause,
        severity,
        description: raw.description,
        services: raw.services,
        hint: raw.hint,
        weight: raw.weight,
        file: file.to_string(),
        exact,
    })
}

impl PatternLibrary {
    /// The indexes of the patterns that match `line`: the candidate set narrows the 100-odd
    /// patterns to the few that might, in one pass, and each of those is confirmed exactly.
    pub(crate) fn matching<'a>(&'a self, line: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        self.set
            .matches(line)
            .into_iter()
            .filter(move |index| self.patterns[*index].exact.is_match(line))
    }
}

/// Bounded repeats longer than this are unbounded in the candidate regex.
const WIDEN_ABOVE: u32 = 4;

/// `pattern`'s regex made looser for finding candidate lines: a bounded repeat such as
/// `.{1,200}` becomes `.+`. Every line the pattern matches still matches (a line cannot
/// hold a newline, so `.+` stays on it), and the set confirms each candidate exactly. The
/// combined automaton otherwise needs a state per position inside every such window and
/// spends its time building states rather than matching.
fn candidate_regex(pattern: &Pattern) -> Result<String, PatternError> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .multi_line(true)
        .build()
        .parse(&pattern.regex)
        .map_err(|error| PatternError::Regex {
            file: pattern.file.clone(),
            id: pattern.id.clone(),
            message: error.to_string(),
        })?;
    Ok(widen(hir).to_string())
}

fn widen(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Repetition(mut repetition) => {
            if repetition.max.is_some_and(|max| max > WIDEN_ABOVE) {
                repetition.min = repetition.min.min(1);
                repetition.max = None;
            }
            repetition.sub = Box::new(widen(*repetition.sub));
            Hir::repetition(repetition)
        }
        HirKind::Capture(mut capture) => {
            capture.sub = Box::new(widen(*capture.sub));
            Hir::capture(capture)
        }
        HirKind::Concat(parts) => Hir::concat(parts.into_iter().map(widen).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.into_iter().map(widen).collect()),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(look),
    }
}

fn compile_one(regex: &str) -> Result<Regex, String> {
    let compiled = RegexBuilder::new(regex)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| error.to_string())?;
    if compiled.is_match(b"") {
        return Err("it matches the empty string, so it would match every line".to_string());
    }
    Ok(compiled)
}

impl PatternLibrary {
    /// Compile `patterns` into a library; ids must be unique.
    pub fn new(patterns: Vec<Pattern>) -> Result<Self, PatternError> {
        let mut seen = BTreeSet::new();
        for pattern in &patterns {
            if !seen.insert(pattern.id.as_str()) {
                return Err(PatternError::Invalid {
                    file: pattern.file.clone(),
                    id: pattern.id.clone(),
                    field: "id",
                    message: "is defined twice".to_string(),
                });
            }
        }
        let candidates = patterns
            .iter()
            .map(candidate_regex)
            .collect::<Result<Vec<_>, _>>()?;
        // The printed candidates carry their own flags (`(?-u:...)` for the ASCII classes
        // they were parsed as), so they are compiled with the defaults.
        let set = RegexSetBuilder::new(&candidates)
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|error| PatternError::Set(error.to_string()))?;
        let any_source: Vec<String> = candidates
            .iter()
            .map(|candidate| format!("(?:{candidate})"))
            .collect();
        let any = RegexBuilder::new(&any_source.join("|"))
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|error| PatternError::Set(error.to_string()))?;
        Ok(PatternLibrary { patterns, set, any })
    }

    /// The built-in patterns only.
    pub fn builtin() -> Result<Self, PatternError> {
        load_library(None)
    }
}

/// The built-in patterns plus every `*.toml` in `user_dir`, in file-name order.
pub fn load_library(user_dir: Option<&Path>) -> Result<PatternLibrary, PatternError> {
    let mut patterns = Vec::new();
    for (file, text) in BUILTIN {
        patterns.extend(parse_pattern_file(text, &format!("<builtin>/{file}"))?);
    }
    if let Some(dir) = user_dir {
        let entries = std::fs::read_dir(dir).map_err(|source| PatternError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| PatternError::Read {
                path: path.clone(),
                source,
            })?;
            patterns.extend(parse_pattern_file(&text, &path.display().to_string())?);
        }
    }
    PatternLibrary::new(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_match_every_line_their_pattern_matches() {
        let library = PatternLibrary::builtin().unwrap();
        let dev = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/failures/dev.jsonl"
        ))
        .unwrap();
        let mut confirmed = 0;
        for case in dev.lines() {
            let case: serde_json::Value = serde_json::from_str(case).unwrap();
            for line in case["log"].as_str().unwrap().lines() {
                let candidates = library.set.matches(line.as_bytes());
                for (index, pattern) in library.patterns.iter().enumerate() {
                    if pattern.exact.is_match(line.as_bytes()) {
                        assert!(
                            candidates.matched(index),
                            "{}'s candidate misses: {line}",
                            pattern.id
                        );
                        assert!(library.any.is_match(line.as_bytes()));
                        confirmed += 1;
                    }
                }
            }
        }
        assert!(confirmed > 100, "{confirmed} matches checked");
    }

    #[test]
    fn widening_loosens_only_long_bounded_repeats() {
        let pattern = parse_pattern_file(
            "[[pattern]]\nid = \"x.y\"\nregex = 'Failed to fetch .{1,200}(refused|reset) \\d{4}'\nroot_cause = \"network\"\nseverity = \"low\"\ndescription = \"d\"\nhint = \"h\"\nweight = 1.0\n",
            "x.toml",
        )
        .unwrap()
        .remove(0);
        let candidate = Regex::new(&candidate_regex(&pattern).unwrap()).unwrap();
        let long = format!("Failed to fetch {} refused 1234", "x".repeat(300));
        assert!(candidate.is_match(long.as_bytes()));
        assert!(!pattern.exact.is_match(long.as_bytes()));
        assert!(
            !candidate.is_match(b"Failed to fetch x refused 12"),
            "\\d{{4}} is kept"
        );
    }

    #[test]
    fn pattern_ids_in_medics_own_namespace_are_refused() {
        let text = "[[pattern]]\nid = \"medic.step-output\"\nregex = \"x\"\nroot_cause = \"build\"\nseverity = \"low\"\ndescription = \"d\"\nhint = \"h\"\nweight = 1.0\n";
        let error = parse_pattern_file(text, "mine.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("mine.toml")
                && error.contains("medic.step-output")
                && error.contains("medic's own"),
            "{error}"
        );
    }
}
