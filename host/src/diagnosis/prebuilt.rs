//! The built-in pattern library in ready form: `patterns/library.jsonl`, one pattern a
//! line, generated from the pattern sources (`known_errors::builtin_from_sources`) by the
//! test `library_jsonl_is_current` (rewritten with `UPDATE_EXPECT=1`). A start reads these
//! lines instead of parsing the TOML files, expanding the condition tables and parsing every
//! regex for its literals. Each regex is also cut into its top-level alternatives, each with
//! its own literals, so a line that fires one literal compiles one small regex rather than
//! a whole pattern.
//!
//! The file is used only when its first line names the fingerprint of the sources this
//! binary was built from (`build.rs` computes it); otherwise the library is built from the
//! sources, which is slower and gives the same result. Knows nothing of matching.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::known_errors::{Branch, Layer, Pattern};
use super::{RootCause, Severity};

include!(concat!(env!("OUT_DIR"), "/pattern_sources.rs"));

/// The prebuilt library: a header line (`sources`), then one [`Entry`] a line.
const LIBRARY: &str = include_str!("../../patterns/library.jsonl");

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    /// The fingerprint of the sources the library was generated from.
    sources: String,
}

/// One pattern, as checked and expanded from its source.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    file: String,
    layer: String,
    regex: String,
    root_cause: RootCause,
    severity: Severity,
    description: String,
    services: Vec<String>,
    hint: String,
    weight: f64,
    summary: bool,
    branches: Vec<BranchEntry>,
}

/// One top-level alternative and its literals (hex, ASCII-lowercased), `None` for none.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchEntry {
    regex: String,
    literals: Option<Vec<String>>,
}

/// The built-in patterns from `library.jsonl`; `None` when it was generated from other
/// sources than this binary's, or does not read.
pub(crate) fn load() -> Option<Vec<Pattern>> {
    let mut lines = LIBRARY.lines();
    let header: Header = serde_json::from_str(lines.next()?).ok()?;
    if header.sources != PATTERN_SOURCES {
        return None;
    }
    lines
        .map(|line| serde_json::from_str::<Entry>(line).ok().and_then(pattern))
        .collect()
}

fn pattern(entry: Entry) -> Option<Pattern> {
    let layer = match entry.layer.as_str() {
        "tool" => Layer::Tool,
        "condition" => Layer::Condition,
        _ => return None,
    };
    let branches = entry
        .branches
        .into_iter()
        .map(|branch| {
            let literals = match branch.literals {
                None => None,
                Some(list) => Some(
                    list.iter()
                        .map(|literal| hex::decode(literal).ok())
                        .collect::<Option<BTreeSet<Vec<u8>>>>()?,
                ),
            };
            Some(Branch::new(branch.regex, literals))
        })
        .collect::<Option<Vec<Branch>>>()?;
    Some(Pattern {
        id: entry.id,
        regex: entry.regex,
        root_cause: entry.root_cause,
        severity: entry.severity,
        description: entry.description,
        services: entry.services,
        hint: entry.hint,
        weight: entry.weight,
        file: entry.file,
        layer,
        summary: entry.summary,
        branches,
    })
}

#[cfg(test)]
mod tests {
    use regex_syntax::hir::{Hir, HirKind, Repetition};

    use super::*;
    use crate::diagnosis::known_errors::{builtin_from_sources, parse_hir};
    use crate::diagnosis::literals;

    /// `regex` cut at its top-level `|`, each alternative prefixed with the flags the regex
    /// opens with (`(?i)`); the regex whole when it sets flags anywhere else at the top
    /// level, which would reach into the alternatives after them.
    fn split_alternatives(regex: &str) -> Vec<String> {
        use regex_syntax::ast::{Ast, parse::Parser};
        let whole = vec![regex.to_string()];
        let Ok(ast) = Parser::new().parse(regex) else {
            return whole;
        };
        let Ast::Alternation(alternation) = &ast else {
            return whole;
        };
        let mut flags = "";
        let mut out = Vec::new();
        for (index, branch) in alternation.asts.iter().enumerate() {
            let items: &[Ast] = match branch {
                Ast::Concat(concat) => &concat.asts,
                other => std::slice::from_ref(other),
            };
            let mut start = branch.span().start.offset;
            for (position, item) in items.iter().enumerate() {
                if let Ast::Flags(set) = item {
                    if index != 0 || position != 0 {
                        return whole;
                    }
                    flags = &regex[set.span.start.offset..set.span.end.offset];
                    start = set.span.end.offset;
                }
            }
            let body = &regex[start..branch.span().end.offset];
            if body.is_empty() || parse_hir(body).is_err() {
                return whole;
            }
            out.push(format!("{flags}{body}"));
        }
        out
    }

    /// The `library.jsonl` the pattern sources call for.
    fn generate() -> String {
        let mut out = serde_json::to_string(&Header {
            sources: PATTERN_SOURCES.to_string(),
        })
        .unwrap();
        out.push('\n');
        for pattern in builtin_from_sources().unwrap() {
            let branches = split_alternatives(&pattern.regex)
                .into_iter()
                .map(|regex| {
                    let literals = literals::required_literals(&parse_hir(&regex).unwrap())
                        .map(|set| set.iter().map(hex::encode).collect());
                    BranchEntry { regex, literals }
                })
                .collect();
            let entry = Entry {
                id: pattern.id,
                file: pattern.file,
                layer: match pattern.layer {
                    Layer::Tool => "tool",
                    Layer::Condition => "condition",
                }
                .to_string(),
                regex: pattern.regex,
                root_cause: pattern.root_cause,
                severity: pattern.severity,
                description: pattern.description,
                services: pattern.services,
                hint: pattern.hint,
                weight: pattern.weight,
                summary: pattern.summary,
                branches,
            };
            out.push_str(&serde_json::to_string(&entry).unwrap());
            out.push('\n');
        }
        out
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "golden files are rewritten when UPDATE_EXPECT is set"
    )]
    fn library_jsonl_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/patterns/library.jsonl");
        let expected = generate();
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(path, &expected).unwrap();
        }
        assert!(
            LIBRARY == expected,
            "{path} is stale: rerun with UPDATE_EXPECT=1 and review the diff"
        );
    }

    /// `hir` with every capture group replaced by what it holds: numbering differs once a
    /// regex is cut into alternatives, what they match does not.
    fn without_captures(hir: &Hir) -> Hir {
        match hir.kind() {
            HirKind::Capture(capture) => without_captures(&capture.sub),
            HirKind::Concat(parts) => Hir::concat(parts.iter().map(without_captures).collect()),
            HirKind::Alternation(branches) => {
                Hir::alternation(branches.iter().map(without_captures).collect())
            }
            HirKind::Repetition(repetition) => Hir::repetition(Repetition {
                sub: Box::new(without_captures(&repetition.sub)),
                ..repetition.clone()
            }),
            _ => hir.clone(),
        }
    }

    #[test]
    fn the_prebuilt_library_is_the_one_built_from_the_sources() {
        let prebuilt = load().expect("library.jsonl is current, so the binary uses it");
        let built = builtin_from_sources().unwrap();
        assert_eq!(prebuilt.len(), built.len());
        let mut cut = 0;
        for (ready, source) in prebuilt.iter().zip(&built) {
            let fields = |pattern: &Pattern| {
                format!(
                    "{} {:?} {:?} {:?} {} {:?} {} {} {} {:?} {}",
                    pattern.id,
                    pattern.regex,
                    pattern.root_cause,
                    pattern.severity,
                    pattern.description,
                    pattern.services,
                    pattern.hint,
                    pattern.weight,
                    pattern.file,
                    pattern.layer,
                    pattern.summary
                )
            };
            assert_eq!(fields(ready), fields(source));
            // The alternatives together are the regex: same syntax tree but for group
            // numbers; and each holds the literals computed for it.
            let alternatives: Vec<Hir> = ready
                .branches
                .iter()
                .map(|branch| parse_hir(&branch.regex).unwrap())
                .collect();
            for (branch, hir) in ready.branches.iter().zip(&alternatives) {
                assert_eq!(
                    branch.literals,
                    literals::required_literals(hir),
                    "{}",
                    ready.id
                );
            }
            assert_eq!(
                without_captures(&Hir::alternation(alternatives)),
                without_captures(&parse_hir(&source.regex).unwrap()),
                "{}",
                ready.id
            );
            cut += usize::from(ready.branches.len() > 1);
        }
        assert!(cut > 100, "only {cut} patterns were cut into alternatives");
    }

    #[test]
    fn regexes_are_cut_only_where_flags_stay_the_same() {
        let cases: &[(&str, &[&str])] = &[
            ("a|b", &["a", "b"]),
            ("(?i)ab|cd", &["(?i)ab", "(?i)cd"]),
            ("(?i)(?:ab|cd)", &["(?i)(?:ab|cd)"]),
            ("ab|c(?i)d|ef", &["ab|c(?i)d|ef"]),
            ("(?m)^x$|y", &["(?m)^x$", "(?m)y"]),
            ("abc", &["abc"]),
        ];
        for (regex, expected) in cases {
            assert_eq!(split_alternatives(regex), *expected, "{regex}");
        }
    }
}
