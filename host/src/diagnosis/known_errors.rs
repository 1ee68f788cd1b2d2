//! The pattern library: TOML files compiled into the binary (`host/patterns/`), the
//! condition tables expanded into patterns (`conditions.rs`), plus any pattern files in the
//! operator's folder (`[diagnosis] patterns_dir` in medic.toml). A bad file fails loading
//! with the file, the pattern id and the regex error named.
//!
//! Loading is cheap: the built-in patterns come ready from `patterns/library.jsonl`
//! (`prebuilt.rs`): checked, expanded, each regex cut into its top-level alternatives, each
//! alternative with the literals every match of it contains (`literals.rs`). One
//! Aho-Corasick automaton over all those literals finds the lines that might match and the
//! alternatives they might match. An alternative is compiled the first time a line holds
//! one of its literals, so a short log pays for the few small regexes it needs, not for
//! whole patterns. The operator's patterns are parsed at load, each as one alternative,
//! and compiled there, so a regex too large to compile fails naming its file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_syntax::hir::Hir;
use serde::Deserialize;
use thiserror::Error;

use super::{RootCause, Severity, conditions, literals, prebuilt};

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

/// The built-in condition-layer pattern files: message families any tool prints.
pub const BUILTIN_CONDITIONS: &[(&str, &str)] = &[(
    "conditions/families.toml",
    include_str!("../../patterns/conditions/families.toml"),
)];

/// Which layer a pattern belongs to. A tool's pattern knows who printed a line; a
/// condition pattern (an errno, a signal, a family of messages) knows only what the line
/// says, and gives way to a tool's pattern on the same line when scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Written for one tool or service (`host/patterns/*.toml`, the operator's files).
    Tool,
    /// Beneath the tools: `host/patterns/conditions/`.
    Condition,
}

/// Patterns are compiled with Unicode classes off: `\\b`, `\\w`, `\\s` and case folding are
/// ASCII, `.` is any byte but newline, and non-ASCII literals match their UTF-8 bytes. That
/// keeps matching on the fast DFA path whatever bytes a log holds (a Unicode word boundary
/// forces a slow fallback on non-ASCII input).
/// Evidence ids medic gives lines it found by position rather than by a pattern (see
/// `score::STEP_OUTPUT_ID`); no pattern may take one.
pub const RESERVED_ID_PREFIX: &str = "medic.";
/// Largest pattern file read from the operator's folder: thousands of patterns fit; a
/// runaway file or a device does not get read into memory.
pub const MAX_PATTERN_FILE_BYTES: u64 = 4 << 20;
/// Longest regex source accepted.
const MAX_REGEX_LEN: usize = 4096;
/// Compiled size cap for one pattern.
const REGEX_SIZE_LIMIT: usize = 8 << 20;

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
    /// Its layer.
    pub layer: Layer,
    /// Whether its lines count or announce failures ("3 failed", "BUILD FAILED") rather
    /// than explain one: it names a cause, but as evidence it ranks below the lines it sums
    /// up.
    pub summary: bool,
    /// The regex's top-level alternatives: a line matches the pattern when it matches one.
    pub(crate) branches: Vec<Branch>,
}

/// One top-level alternative of a pattern's regex (or the whole regex), with its own
/// prefilter.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// The alternative as a regex of its own (leading flags of the whole repeated).
    pub(crate) regex: String,
    /// Literals every line it matches holds (ASCII-lowercased); `None` if it has none, and
    /// then every line is checked against it.
    pub(crate) literals: Option<BTreeSet<Vec<u8>>>,
    /// The regex, compiled on first use (or at load, for the operator's patterns).
    exact: OnceLock<Regex>,
}

impl Branch {
    pub(crate) fn new(regex: String, literals: Option<BTreeSet<Vec<u8>>>) -> Branch {
        Branch {
            regex,
            literals,
            exact: OnceLock::new(),
        }
    }

    fn is_match(&self, line: &[u8]) -> bool {
        self.exact
            .get_or_init(|| {
                compile_one(&self.regex).expect("a pattern's regex compiled when it was checked")
            })
            .is_match(line)
    }
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
    /// Whether `line` matches this pattern's regex (its alternatives compiled now if they
    /// were not yet).
    pub fn is_match(&self, line: &[u8]) -> bool {
        self.branches.iter().any(|branch| branch.is_match(line))
    }

    /// Compile the regex now, reporting an error naming the file and pattern.
    fn compile(&self) -> Result<(), PatternError> {
        for branch in &self.branches {
            if branch.exact.get().is_some() {
                continue;
            }
            let compiled = compile_one(&branch.regex).map_err(|message| PatternError::Regex {
                file: self.file.clone(),
                id: self.id.clone(),
                message,
            })?;
            let _ = branch.exact.set(compiled);
        }
        Ok(())
    }

    /// The named groups of the regex on `line`, empty when it names none or does not
    /// match. Compiled here, only for patterns that name groups and only for the few
    /// evidence lines a diagnosis keeps, so the scan's matchers stay capture-free.
    pub fn captures(&self, line: &str) -> BTreeMap<String, String> {
        let mut found = BTreeMap::new();
        if !(self.regex.contains("(?P<") || self.regex.contains("(?<")) {
            return found;
        }
        let Ok(regex) = regex::RegexBuilder::new(&self.regex)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        else {
            return found;
        };
        if let Some(groups) = regex.captures(line) {
            for name in regex.capture_names().flatten() {
                if let Some(value) = groups.name(name) {
                    found.insert(name.to_string(), value.as_str().to_string());
                }
            }
        }
        found
    }

    /// Whether this pattern only reports that a step failed; see [`WRAPPER_WEIGHT`].
    pub fn is_wrapper(&self) -> bool {
        self.weight <= WRAPPER_WEIGHT
    }

    /// Whether this is the job-level wrapper; see [`JOB_EXIT_ID`].
    pub fn is_job_exit(&self) -> bool {
        self.id == JOB_EXIT_ID
    }
}

/// Every pattern, with one automaton over their literals for one-pass matching.
#[derive(Debug, Clone)]
pub struct PatternLibrary {
    /// The patterns, in library order.
    pub patterns: Vec<Pattern>,
    /// Every alternative's literals, ASCII-case-insensitively: finds candidate lines in a
    /// whole block, then the alternatives a candidate line might match.
    finder: AhoCorasick,
    /// Per literal of `finder`, the alternatives (pattern index, branch index) that
    /// require it.
    owners: Vec<Vec<(usize, usize)>>,
    /// Alternatives without literals, checked on every line.
    unfiltered: Vec<(usize, usize)>,
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
    /// A pattern file is not a regular file or is larger than [`MAX_PATTERN_FILE_BYTES`].
    #[error("cannot read pattern file: {0}")]
    Open(crate::nofollow::OpenError),
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
    /// The literals' automaton could not be built.
    #[error("the pattern library's literal automaton does not build: {0}")]
    Set(String),
    /// A built-in condition table is malformed (see `conditions.rs`).
    #[error("condition table `{file}`: {message}")]
    Condition {
        /// The table.
        file: String,
        /// What is wrong.
        message: String,
    },
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
    #[serde(default)]
    summary: bool,
}

/// Parse one pattern file's text and compile its regexes; `file` names it in errors.
pub fn parse_pattern_file(text: &str, file: &str) -> Result<Vec<Pattern>, PatternError> {
    let patterns = parse_pattern_file_lazily(text, file, Layer::Tool)?;
    for pattern in &patterns {
        pattern.compile()?;
    }
    Ok(patterns)
}

/// Parse one pattern file's text, checking each regex's syntax but compiling none (each is
/// compiled when first needed); for the built-in files, whose regexes a test compiles.
fn parse_pattern_file_lazily(
    text: &str,
    file: &str,
    layer: Layer,
) -> Result<Vec<Pattern>, PatternError> {
    let parsed: PatternFile = toml::from_str(text).map_err(|error| PatternError::Syntax {
        file: file.to_string(),
        message: crate::text::toml_error(text, &error),
    })?;
    parsed
        .pattern
        .into_iter()
        .map(|raw| check_pattern(raw, file, layer))
        .collect()
}

/// The fields of one pattern, as a pattern file or a condition table gives them.
#[derive(Debug, Clone)]
pub(crate) struct PatternSpec {
    pub(crate) id: String,
    pub(crate) regex: String,
    pub(crate) root_cause: String,
    pub(crate) severity: String,
    pub(crate) description: String,
    pub(crate) services: Vec<String>,
    pub(crate) hint: String,
    pub(crate) weight: f64,
    pub(crate) summary: bool,
    pub(crate) layer: Layer,
}

fn check_pattern(raw: RawPattern, file: &str, layer: Layer) -> Result<Pattern, PatternError> {
    check_spec(
        PatternSpec {
            id: raw.id,
            regex: raw.regex,
            root_cause: raw.root_cause,
            severity: raw.severity,
            description: raw.description,
            services: raw.services,
            hint: raw.hint,
            weight: raw.weight,
            summary: raw.summary,
            layer,
        },
        file,
    )
}

/// Check one pattern's fields and its regex's syntax; the regex is not compiled.
pub(crate) fn check_spec(raw: PatternSpec, file: &str) -> Result<Pattern, PatternError> {
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
    // Parsing checks the syntax; the whole regex is one alternative here (the prebuilt
    // library cuts the built-in ones finer).
    let hir = parse_hir(&raw.regex).map_err(|message| PatternError::Regex {
        file: file.to_string(),
        id: raw.id.clone(),
        message,
    })?;
    let branches = vec![Branch::new(
        raw.regex.clone(),
        literals::required_literals(&hir),
    )];
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
        layer: raw.layer,
        summary: raw.summary,
        branches,
    })
}

impl PatternLibrary {
    /// The indexes of the patterns that match `line`, in library order: the automaton
    /// narrows the patterns to those whose literals the line holds, and each of those is
    /// confirmed with its regex.
    pub(crate) fn matching(&self, line: &[u8]) -> Vec<usize> {
        let mut candidates: Vec<(usize, usize)> = self.unfiltered.clone();
        for found in self.finder.find_overlapping_iter(line) {
            candidates.extend_from_slice(&self.owners[found.pattern().as_usize()]);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut matched: Vec<usize> = Vec::new();
        for (pattern, branch) in candidates {
            if matched.last() != Some(&pattern)
                && self.patterns[pattern].branches[branch].is_match(line)
            {
                matched.push(pattern);
            }
        }
        matched
    }

    /// Where the next line that might match some pattern starts and ends, searching
    /// `region` from `from` (a line start); `None` when no line left can match.
    pub(crate) fn next_candidate(&self, region: &[u8], from: usize) -> Option<(usize, usize)> {
        let line_start = if self.unfiltered.is_empty() {
            let found = self.finder.find(&region[from..])?;
            let at = from + found.start();
            memchr::memrchr(b'\n', &region[from..at]).map_or(from, |index| from + index + 1)
        } else if from < region.len() {
            from
        } else {
            return None;
        };
        let line_end = memchr::memchr(b'\n', &region[line_start..])
            .map_or(region.len(), |index| line_start + index);
        Some((line_start, line_end))
    }
}

/// Parse `regex` as patterns are compiled (ASCII classes, bytes), checking that it cannot
/// match an empty string: such a pattern would match every line.
pub(crate) fn parse_hir(regex: &str) -> Result<Hir, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(regex)
        .map_err(|error| error.to_string())?;
    if hir.properties().minimum_len() == Some(0) {
        return Err("it matches the empty string, so it would match every line".to_string());
    }
    Ok(hir)
}

/// Compile one pattern's regex for confirming candidate lines: short inputs, one
/// question (does it match?), so no prefilter, full DFA, one-pass DFA, backtracker or
/// capture states are built; the lazy DFA (falling back to the PikeVM) answers it, and
/// compiling, most of what a short log costs, stays cheap.
fn compile_one(regex: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(
            Regex::config()
                .auto_prefilter(false)
                .dfa(false)
                .onepass(false)
                .backtrack(false)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
                .utf8_empty(false),
        )
        .build(regex)
        .map_err(|error| error.to_string())
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
        let mut literal_ids: BTreeMap<&[u8], usize> = BTreeMap::new();
        let mut owners: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut unfiltered = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            for (branch_index, branch) in pattern.branches.iter().enumerate() {
                let Some(literals) = &branch.literals else {
                    unfiltered.push((index, branch_index));
                    continue;
                };
                for literal in literals {
                    let id = *literal_ids.entry(literal).or_insert_with(|| {
                        owners.push(Vec::new());
                        owners.len() - 1
                    });
                    owners[id].push((index, branch_index));
                }
            }
        }
        let mut by_id: Vec<&[u8]> = vec![&[]; literal_ids.len()];
        for (literal, id) in &literal_ids {
            by_id[*id] = literal;
        }
        let finder = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // Builds in about half the time of the noncontiguous NFA and scans about twice
            // as fast; a DFA scans faster still but takes several times longer to build.
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&by_id)
            .map_err(|error| PatternError::Set(error.to_string()))?;
        Ok(PatternLibrary {
            patterns,
            finder,
            owners,
            unfiltered,
        })
    }

    /// The built-in patterns only.
    pub fn builtin() -> Result<Self, PatternError> {
        load_library(None)
    }
}

/// The built-in patterns plus every `*.toml` in `user_dir`, in file-name order.
pub fn load_library(user_dir: Option<&Path>) -> Result<PatternLibrary, PatternError> {
    let mut patterns = match prebuilt::load() {
        Some(patterns) => patterns,
        None => builtin_from_sources()?,
    };
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
            // Never waits on a FIFO or reads a device: only regular files, capped.
            let text = crate::nofollow::read_regular_text(&path, MAX_PATTERN_FILE_BYTES)
                .map_err(PatternError::Open)?;
            patterns.extend(parse_pattern_file(&text, &path.display().to_string())?);
        }
    }
    PatternLibrary::new(patterns)
}

/// The built-in patterns built from their sources: the TOML files parsed, the condition
/// tables expanded, every regex parsed for its literals; each regex is one alternative.
/// `library.jsonl` holds the same patterns ready, cut finer (`prebuilt.rs`).
pub(crate) fn builtin_from_sources() -> Result<Vec<Pattern>, PatternError> {
    let mut patterns = Vec::new();
    for (file, text) in BUILTIN {
        patterns.extend(parse_pattern_file_lazily(
            text,
            &format!("<builtin>/{file}"),
            Layer::Tool,
        )?);
    }
    for (file, text) in BUILTIN_CONDITIONS {
        patterns.extend(parse_pattern_file_lazily(
            text,
            &format!("<builtin>/{file}"),
            Layer::Condition,
        )?);
    }
    patterns.extend(conditions::builtin_patterns()?);
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of the failure sets tuned on and of the LogChunks logs.
    fn corpus_lines() -> Vec<Vec<u8>> {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
        let mut lines = Vec::new();
        // Not heldout.jsonl: a failure here prints the line, and its logs stay unseen.
        for file in ["dev.jsonl", "tune.jsonl"] {
            let path = format!("{fixtures}/failures/{file}");
            for case in std::fs::read_to_string(&path).unwrap().lines() {
                let case: serde_json::Value = serde_json::from_str(case).unwrap();
                let log = case["log"].as_str().unwrap();
                lines.extend(log.lines().map(|line| line.as_bytes().to_vec()));
            }
        }
        let index = std::fs::read_to_string(format!("{fixtures}/logchunks/chunks.jsonl")).unwrap();
        for case in index.lines() {
            let case: serde_json::Value = serde_json::from_str(case).unwrap();
            let log = std::fs::read(format!(
                "{fixtures}/logchunks/{}",
                case["log"].as_str().unwrap()
            ))
            .unwrap();
            lines.extend(log.split(|byte| *byte == b'\n').map(<[u8]>::to_vec));
        }
        lines
    }

    #[test]
    fn every_line_a_pattern_matches_is_a_candidate_for_it() {
        let library = PatternLibrary::builtin().unwrap();
        let mut confirmed = 0;
        for line in corpus_lines() {
            let line = &line[..line.len().min(crate::diagnosis::matcher::MATCHED_PREFIX)];
            let matching = library.matching(line);
            let candidate = library.next_candidate(line, 0);
            for (index, pattern) in library.patterns.iter().enumerate() {
                if pattern.is_match(line) {
                    assert!(
                        matching.contains(&index),
                        "{}'s literals miss: {}",
                        pattern.id,
                        String::from_utf8_lossy(line)
                    );
                    assert_eq!(candidate, Some((0, line.len())));
                    confirmed += 1;
                }
            }
        }
        assert!(confirmed > 1000, "{confirmed} matches checked");
    }

    #[test]
    fn every_builtin_pattern_compiles_and_has_literals_of_two_bytes() {
        let library = PatternLibrary::builtin().unwrap();
        for pattern in &library.patterns {
            pattern.compile().unwrap();
            for branch in &pattern.branches {
                let shortest = branch.literals.as_ref().map_or(0, literals::shortest);
                assert!(
                    shortest >= 2,
                    "{}: `{}`: shortest literal {shortest} bytes ({:?})",
                    pattern.id,
                    branch.regex,
                    branch.literals
                );
            }
        }
        assert!(library.unfiltered.is_empty());
    }

    #[test]
    fn a_pattern_without_literals_is_checked_on_every_line() {
        let patterns = parse_pattern_file(
            "[[pattern]]\nid = \"x.digits\"\nregex = '^\\d+$'\nroot_cause = \"build\"\nseverity = \"low\"\ndescription = \"d\"\nhint = \"h\"\nweight = 1.0\n",
            "x.toml",
        )
        .unwrap();
        let library = PatternLibrary::new(patterns).unwrap();
        assert_eq!(library.unfiltered, [(0, 0)]);
        assert_eq!(library.matching(b"12345"), [0]);
        assert_eq!(library.matching(b"12a45"), Vec::<usize>::new());
        assert_eq!(library.next_candidate(b"ab\n12", 3), Some((3, 5)));
    }

    #[test]
    fn regexes_that_can_match_nothing_are_refused() {
        let text = "[[pattern]]\nid = \"x.y\"\nregex = 'a*'\nroot_cause = \"build\"\nseverity = \"low\"\ndescription = \"d\"\nhint = \"h\"\nweight = 1.0\n";
        let error = parse_pattern_file(text, "mine.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "pattern file `mine.toml`: pattern `x.y`: regex does not compile: it matches the empty string, so it would match every line"
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
