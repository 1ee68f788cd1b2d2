//! Scoring: from a scan (and context or alert signals) to a ranked diagnosis.
//!
//! Each pattern that fired contributes `weight × position × level × repetition`: `position`
//! grows from 0.25 at the top of the log to 1.0 where the job failed (the first line of
//! the last cluster of step wrappers such as "exited with 1", else the end) and is 0.5
//! after it, so the last errors before the failure count most; `level` halves lines
//! logged at INFO or DEBUG; `repetition` adds a little for each distinct line that agrees.
//! A category's score is its strongest pattern plus a share of the others that agree, and
//! the category holding the last specific error gets a bonus. Signals (a full disk, a down
//! probe, an alert's type) add to their category. Confidence is the winner's score against
//! the runner-up and a constant, so one weak match never reads as certain; `unknown` wins
//! only when nothing specific fired, and then with low confidence.
//!
//! Evidence text and the summary are redacted (`redact.rs`) as the diagnosis is built.
//!
//! The evidence adds the last lines the failing step printed, found by position rather
//! than by a pattern: a lint finding, a diff or a "commit the generated files" notice often
//! explains a failure without an error word in it.

use std::collections::{BTreeMap, BTreeSet};

use super::causality;
use super::known_errors::{Layer, PatternLibrary};
use super::matcher::Scan;
use super::redact::redact;
use super::{Alternative, Diagnosis, Evidence, RootCause, Severity};

/// A fact from outside the log that supports a cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The cause it supports.
    pub root_cause: RootCause,
    /// How much, on the patterns' weight scale.
    pub weight: f64,
    /// What was seen, for the report.
    pub description: String,
    /// Services it implicates.
    pub services: Vec<String>,
}

/// Evidence lines reported.
const MAX_EVIDENCE: usize = 10;
/// Leading evidence lines that must each come from a different pattern.
const DIVERSE_EVIDENCE: usize = 3;
/// Recommended actions reported.
const MAX_ACTIONS: usize = 5;
/// Keeps a lone weak match from reading as certain.
const CONFIDENCE_DAMPING: f64 = 2.0;
/// Patterns at or below this weight only point at lines; they do not name a cause.
const GENERIC_WEIGHT: f64 = 1.0;
/// Bonus for the category of the last specific error in the log.
const LAST_ERROR_BONUS: f64 = 1.3;
/// The highest confidence `unknown` is given.
const UNKNOWN_CONFIDENCE: f64 = 0.3;

/// What one pattern that fired adds to the score.
pub(crate) struct Contribution {
    /// The pattern's index in the library.
    pub(crate) pattern: usize,
    /// Its weight where it last matched.
    pub(crate) strength: f64,
    /// The line it last matched.
    pub(crate) last_line: u64,
    /// The cause it counts for: its pattern's, or the earlier cause that explains it
    /// (see `causality.rs`).
    pub(crate) counts_for: RootCause,
}

/// The `pattern_id` of evidence found by position rather than by a pattern: the last
/// lines the failing step printed before a wrapper line reported its failure.
pub const STEP_OUTPUT_ID: &str = "medic.step-output";

/// Wrapper lines at most this far apart belong to the same failure.
const WRAPPER_CLUSTER_LINES: u64 = 200;

/// Where in the log the job failed: the first line of the last cluster of wrapper lines,
/// else the end.
/// Errors just before it count most; lines after it (cleanup steps) count less.
struct Timeline {
    failure_line: f64,
    /// The wrapper line the job failed at, if any reported it.
    failure: Option<u64>,
}

impl Timeline {
    fn new(scan: &Scan) -> Self {
        let end = scan.lines.max(1) as f64;
        // The final cluster of wrapper lines ("The command ... exited with 1", then
        // "Done. Your build exited with 1"): the job failed at its first line.
        // The job-level wrapper ends the log; it marks the failure only when no step did.
        let steps_only = scan.step_ends.iter().any(|step| !step.job_exit);
        let mut wrappers = scan
            .step_ends
            .iter()
            .rev()
            .filter(|step| !(steps_only && step.job_exit))
            .map(|step| step.line);
        let mut failure = wrappers.next();
        if let Some(mut newer) = failure {
            for older in wrappers {
                if newer - older > WRAPPER_CLUSTER_LINES {
                    break;
                }
                failure = Some(older);
                newer = older;
            }
        }
        Timeline {
            failure_line: failure.map_or(end, |line| line as f64).max(1.0),
            failure,
        }
    }

    /// 0.25 at the top of the log, rising steeply to 1.0 at the failure; 0.5 after it.
    fn weight(&self, line: u64) -> f64 {
        let line = line as f64;
        if line > self.failure_line {
            return 0.5;
        }
        let fraction = (line / self.failure_line).clamp(0.0, 1.0);
        0.25 + 0.75 * fraction * fraction
    }
}

/// Rank the causes for `scan` and `signals`; `threshold` marks low confidence.
pub fn score(
    library: &PatternLibrary,
    scan: &Scan,
    signals: &[Signal],
    threshold: f64,
) -> Diagnosis {
    let timeline = Timeline::new(scan);
    let mut contributions: Vec<Contribution> = scan
        .hits
        .iter()
        .enumerate()
        .filter(|(_, hits)| hits.count > 0)
        .map(|(index, hits)| {
            let last_line = hits.last().map_or(0, |hit| hit.line);
            let position = timeline.weight(last_line)
                * level_factor(hits.last().map_or("", |hit| hit.text.as_str()));
            let repetition = 1.0 + 0.1 * (hits.count as f64).ln().min(3.0);
            Contribution {
                pattern: index,
                strength: library.patterns[index].weight * position * repetition,
                last_line,
                counts_for: library.patterns[index].root_cause,
            }
        })
        .collect();
    contributions.sort_by(|a, b| b.strength.total_cmp(&a.strength));
    let shadowed = shadowed_by_tools(library, scan, &contributions);
    contributions.retain(|c| !shadowed.contains(&c.pattern));
    causality::attribute(library, scan, &mut contributions);

    // One line is one vote per cause: patterns that agree on the same line count once,
    // at the strongest.
    let mut by_cause: BTreeMap<RootCause, Vec<f64>> = BTreeMap::new();
    let mut voted: BTreeSet<(RootCause, u64)> = BTreeSet::new();
    for contribution in &contributions {
        let pattern = &library.patterns[contribution.pattern];
        if (pattern.weight > GENERIC_WEIGHT || pattern.root_cause == RootCause::Unknown)
            && voted.insert((contribution.counts_for, contribution.last_line))
        {
            by_cause
                .entry(contribution.counts_for)
                .or_default()
                .push(contribution.strength);
        }
    }
    let mut scores: BTreeMap<RootCause, f64> = by_cause
        .iter()
        .map(|(cause, strengths)| {
            let score = if *cause == RootCause::Unknown {
                strengths[0]
            } else {
                strengths[0] + strengths[1..].iter().take(3).sum::<f64>() * 0.3
            };
            (*cause, score)
        })
        .collect();
    let last_specific = contributions
        .iter()
        .filter(|c| {
            library.patterns[c.pattern].weight > GENERIC_WEIGHT
                && library.patterns[c.pattern].root_cause != RootCause::Unknown
        })
        .max_by_key(|c| c.last_line);
    if let Some(last) = last_specific
        && let Some(score) = scores.get_mut(&last.counts_for)
    {
        *score *= LAST_ERROR_BONUS;
    }
    for signal in signals {
        *scores.entry(signal.root_cause).or_default() += signal.weight;
    }

    let mut ranked: Vec<(RootCause, f64)> = scores
        .into_iter()
        .filter(|(_, score)| *score > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // `unknown` only wins when nothing specific fired.
    if ranked.len() > 1 && ranked[0].0 == RootCause::Unknown {
        let unknown = ranked.remove(0);
        ranked.push(unknown);
    }
    let (root_cause, best) = ranked.first().copied().unwrap_or((RootCause::Unknown, 0.0));
    let runner_up = ranked.get(1).map_or(0.0, |(_, score)| *score);
    let confidence_of = |score: f64| score / (score + runner_up.max(0.0) + CONFIDENCE_DAMPING);
    let mut confidence = confidence_of(best);
    if root_cause == RootCause::Unknown {
        confidence = confidence.min(UNKNOWN_CONFIDENCE);
    }
    let alternatives = ranked
        .iter()
        .skip(1)
        .map(|(cause, score)| Alternative {
            root_cause: *cause,
            confidence: round(score / (best + score + CONFIDENCE_DAMPING)),
        })
        .collect();

    let mut evidence_from = contributions;
    // Shadowed lines still show: they are evidence, only not votes.
    for pattern in shadowed {
        let hits = &scan.hits[pattern];
        evidence_from.push(Contribution {
            pattern,
            strength: 0.0,
            last_line: hits.last().map_or(0, |hit| hit.line),
            counts_for: library.patterns[pattern].root_cause,
        });
    }
    let contributions = evidence_from;
    // The one place a diagnosis takes text from the log: secrets in it are redacted here,
    // so no output of the diagnosis (human, `--json`, reports, the advisor) shows them.
    let mut evidence = order_evidence(library, scan, &contributions, root_cause, &timeline);
    for item in &mut evidence {
        item.text = redact(&item.text);
        // A capture that held a secret is dropped, not bound: a parameter is never a
        // redacted stand-in, nor the secret itself.
        item.captures.retain(|_, value| redact(value) == *value);
    }
    let chosen: Vec<&Contribution> = contributions
        .iter()
        .filter(|c| library.patterns[c.pattern].root_cause == root_cause)
        .collect();

    let severity = chosen
        .iter()
        .map(|c| library.patterns[c.pattern].severity)
        .max()
        .unwrap_or(Severity::Low);
    let mut services: Vec<String> = Vec::new();
    let mut actions: Vec<String> = Vec::new();
    for contribution in &chosen {
        let pattern = &library.patterns[contribution.pattern];
        for service in &pattern.services {
            if !services.contains(service) {
                services.push(service.clone());
            }
        }
        if actions.len() < MAX_ACTIONS && !actions.contains(&pattern.hint) {
            actions.push(pattern.hint.clone());
        }
    }
    let mut signal_notes = causality::notes(library, &contributions, root_cause);
    for signal in signals {
        signal_notes.push(format!(
            "{} (supports {})",
            signal.description,
            signal.root_cause.as_str()
        ));
        if signal.root_cause == root_cause {
            for service in &signal.services {
                if !services.contains(service) {
                    services.push(service.clone());
                }
            }
        }
    }
    let summary = redact(&summarize(
        library,
        root_cause,
        round(confidence),
        chosen.first().map(|c| c.pattern),
        &evidence,
        signals,
    ));
    Diagnosis {
        version: 1,
        root_cause,
        confidence: round(confidence),
        low_confidence: confidence < threshold,
        severity,
        summary,
        evidence,
        services,
        recommended_actions: actions,
        alternatives,
        signals: signal_notes,
        llm: None,
        lines: scan.lines,
    }
}

/// The condition-layer patterns whose last line a tool's pattern also matched: there the
/// tool's pattern, which knows who printed the line, decides; the condition beneath it
/// does not vote (a `Connection refused` in psql's words is the database being down).
/// Unless the condition explains the tool's failure (`qemu-img: ... No space left on
/// device`): then the tool said who failed and the condition why, and causality decides.
fn shadowed_by_tools(
    library: &PatternLibrary,
    scan: &Scan,
    contributions: &[Contribution],
) -> BTreeSet<usize> {
    let mut tool_lines: BTreeMap<u64, BTreeSet<RootCause>> = BTreeMap::new();
    for contribution in contributions {
        let pattern = &library.patterns[contribution.pattern];
        if pattern.layer != Layer::Tool || pattern.weight <= GENERIC_WEIGHT {
            continue;
        }
        let hits = &scan.hits[contribution.pattern];
        for hit in hits.recent.iter().chain(hits.first.iter()) {
            tool_lines
                .entry(hit.line)
                .or_default()
                .insert(pattern.root_cause);
        }
    }
    contributions
        .iter()
        .filter(|c| {
            let pattern = &library.patterns[c.pattern];
            pattern.layer == Layer::Condition
                && tool_lines.get(&c.last_line).is_some_and(|causes| {
                    !causes
                        .iter()
                        .any(|tool_cause| causality::explains(pattern.root_cause, *tool_cause))
                })
        })
        .map(|c| c.pattern)
        .collect()
}

/// A line a program logged at INFO or DEBUG level is weaker evidence than a warning or an
/// error: the program itself did not think it a failure; so is a test runner's line for a
/// test that passed, whose name may quote an error.
pub(crate) fn level_factor(text: &str) -> f64 {
    let informational = [
        " PASSED",
        " ✓ ",
        ".. ok",
        " INFO ",
        " DEBUG ",
        " TRACE ",
        "[INFO]",
        "[DEBUG]",
        " I ",
        "level=info",
        "level=debug",
    ];
    if informational.iter().any(|marker| text.contains(marker)) {
        0.5
    } else {
        1.0
    }
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Evidence, strongest first: each kept line scores its pattern's weight (compressed, so
/// a late generic error can outrank an early specific one) times its place in the log,
/// with a bonus for the chosen cause; wrapper lines ("exited with 1") sink to the end.
/// The failing step's last output ([`STEP_OUTPUT_ID`]) is woven in; see [`Slot`].
fn order_evidence(
    library: &PatternLibrary,
    scan: &Scan,
    contributions: &[Contribution],
    root_cause: RootCause,
    timeline: &Timeline,
) -> Vec<Evidence> {
    let mut ranked: Vec<(f64, Evidence)> = Vec::new();
    for contribution in contributions {
        let pattern = &library.patterns[contribution.pattern];
        let hits = &scan.hits[contribution.pattern];
        let chosen = if pattern.root_cause == root_cause && pattern.weight > GENERIC_WEIGHT {
            1.5
        } else {
            1.0
        };
        // A summary names the cause but explains nothing: it ranks as a generic line.
        let weight = if pattern.summary {
            pattern.weight.min(GENERIC_WEIGHT)
        } else {
            pattern.weight
        };
        for hit in hits.recent.iter().rev().chain(hits.first.iter()) {
            let score = (1.0 + weight).ln() * chosen * timeline.weight(hit.line);
            ranked.push((
                score,
                Evidence {
                    pattern_id: pattern.id.clone(),
                    line: hit.line,
                    text: hit.text.clone(),
                    root_cause: pattern.root_cause,
                    captures: BTreeMap::new(),
                },
            ));
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.line.cmp(&a.1.line)));
    let step: Vec<Evidence> = timeline
        .failure
        .and_then(|line| scan.step_ends.iter().find(|step| step.line == line))
        .map(|step| {
            step.before
                .iter()
                .map(|hit| Evidence {
                    pattern_id: STEP_OUTPUT_ID.to_string(),
                    line: hit.line,
                    text: hit.text.clone(),
                    root_cause: RootCause::Unknown,
                    captures: BTreeMap::new(),
                })
                .collect()
        })
        .unwrap_or_default();

    // The first lines shown are each a different pattern's best, so a pattern repeated on
    // many lines does not crowd out a different kind of error; then the rest by score.
    let mut evidence: Vec<Evidence> = Vec::new();
    for (_, item) in &ranked {
        if evidence.len() == DIVERSE_EVIDENCE {
            break;
        }
        if !evidence
            .iter()
            .any(|seen| seen.line == item.line || seen.pattern_id == item.pattern_id)
        {
            evidence.push(item.clone());
        }
    }
    for (_, item) in ranked {
        if evidence.len() == MAX_EVIDENCE {
            break;
        }
        if !evidence.iter().any(|seen| seen.line == item.line) {
            evidence.push(item);
        }
    }
    let lead_specific = evidence.first().is_some_and(|item| {
        library
            .patterns
            .iter()
            .find(|pattern| pattern.id == item.pattern_id)
            .is_some_and(|pattern| pattern.weight > GENERIC_WEIGHT)
    });
    let mut evidence = interleave(evidence, step, lead_specific);
    for item in &mut evidence {
        if let Some(pattern) = library.patterns.iter().find(|p| p.id == item.pattern_id) {
            item.captures = pattern.captures(&item.text);
        }
    }
    evidence
}

/// Where each leading evidence slot comes from: the pattern-ranked lines or the failing
/// step's last output. A specific error stays first with the step's output beside it;
/// when only generic lines matched ("npm ERR!", "error:"), what the step printed last
/// explains more and leads. Past these slots, patterns; either source fills in for the
/// other when it runs out.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Pattern,
    Step,
}
const AFTER_SPECIFIC: [Slot; 5] = [
    Slot::Pattern,
    Slot::Step,
    Slot::Pattern,
    Slot::Step,
    Slot::Step,
];
const AFTER_GENERIC: [Slot; 3] = [Slot::Step, Slot::Step, Slot::Pattern];

fn interleave(patterns: Vec<Evidence>, step: Vec<Evidence>, lead_specific: bool) -> Vec<Evidence> {
    let slots: &[Slot] = if lead_specific {
        &AFTER_SPECIFIC
    } else {
        &AFTER_GENERIC
    };
    let mut patterns = patterns.into_iter();
    let mut step = step.into_iter();
    let mut merged: Vec<Evidence> = Vec::new();
    while merged.len() < MAX_EVIDENCE {
        let next = match slots.get(merged.len()).copied().unwrap_or(Slot::Pattern) {
            Slot::Pattern => unseen(&mut patterns, &merged).or_else(|| unseen(&mut step, &merged)),
            Slot::Step => unseen(&mut step, &merged).or_else(|| unseen(&mut patterns, &merged)),
        };
        let Some(item) = next else { break };
        merged.push(item);
    }
    merged
}

/// The next item of `source` on a line not already in `seen`.
fn unseen(source: &mut impl Iterator<Item = Evidence>, seen: &[Evidence]) -> Option<Evidence> {
    source.find(|item| !seen.iter().any(|kept| kept.line == item.line))
}

fn summarize(
    library: &PatternLibrary,
    root_cause: RootCause,
    confidence: f64,
    top: Option<usize>,
    evidence: &[Evidence],
    signals: &[Signal],
) -> String {
    let percent = (confidence * 100.0).round();
    // Quote a line of the named cause when there is one, not a neighbouring generic line.
    let quoted = evidence
        .iter()
        .find(|line| line.root_cause == root_cause)
        .or(evidence.first());
    match (top, quoted) {
        (Some(pattern), Some(line)) if root_cause != RootCause::Unknown => format!(
            "{} ({percent}%): {}; line {}: {}",
            root_cause.as_str(),
            library.patterns[pattern].description,
            line.line,
            line.text
        ),
        _ => match signals
            .iter()
            .find(|signal| signal.root_cause == root_cause)
        {
            Some(signal) if root_cause != RootCause::Unknown => format!(
                "{} ({percent}%): {}",
                root_cause.as_str(),
                signal.description
            ),
            _ => match evidence.first() {
                Some(line) if line.pattern_id == STEP_OUTPUT_ID => format!(
                    "unknown ({percent}%): no known cause fits; the failing step printed last, line {}: {}",
                    line.line, line.text
                ),
                Some(line) => format!(
                    "unknown ({percent}%): no known cause fits; the strongest error is line {}: {}",
                    line.line, line.text
                ),
                None => format!("unknown ({percent}%): no known error pattern matched"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{ScanLimits, scan};

    fn diagnose(text: &str) -> Diagnosis {
        let library = PatternLibrary::builtin().unwrap();
        let scanned = scan(&library, text.as_bytes(), ScanLimits::default()).unwrap();
        score(&library, &scanned, &[], 0.6)
    }

    fn leading(diagnosis: &Diagnosis) -> Vec<(&str, u64)> {
        diagnosis
            .evidence
            .iter()
            .take(3)
            .map(|item| (item.pattern_id.as_str(), item.line))
            .collect()
    }

    #[test]
    fn the_step_output_id_is_one_no_pattern_may_take() {
        assert!(STEP_OUTPUT_ID.starts_with(crate::diagnosis::known_errors::RESERVED_ID_PREFIX));
    }

    #[test]
    fn the_step_output_leads_when_only_generic_lines_matched() {
        let diagnosis = diagnose(
            "$ ./tools/check-generated.sh\n M dist/app.js\nPlease rebuild and commit the changes.\n\
The command \"./tools/check-generated.sh\" exited with 1.\nDone. Your build exited with 1.\n",
        );
        assert_eq!(diagnosis.root_cause, RootCause::Unknown);
        assert_eq!(
            leading(&diagnosis),
            [
                (STEP_OUTPUT_ID, 3),
                (STEP_OUTPUT_ID, 2),
                ("unknown.exit-status", 4)
            ]
        );
        assert!(
            diagnosis
                .summary
                .contains("the failing step printed last, line 3"),
            "{}",
            diagnosis.summary
        );
    }

    #[test]
    fn a_specific_error_stays_first_with_the_step_output_beside_it() {
        let diagnosis = diagnose(
            "$ cp big.img /mnt/out/\ncp: error writing '/mnt/out/big.img': No space left on device\n\
copied 0 files\nThe command \"cp big.img /mnt/out/\" exited with 1.\n",
        );
        assert_eq!(diagnosis.root_cause, RootCause::Storage);
        // The line names the file: the path-bearing pattern leads, its groups captured.
        assert_eq!(diagnosis.evidence[0].pattern_id, "storage.full-path");
        assert_eq!(
            diagnosis.captures().get("dir").map(String::as_str),
            Some("/mnt/out")
        );
        assert_eq!(
            diagnosis.captures().get("path").map(String::as_str),
            Some("/mnt/out/big.img")
        );
        assert_eq!(
            (
                diagnosis.evidence[1].pattern_id.as_str(),
                diagnosis.evidence[1].line
            ),
            (STEP_OUTPUT_ID, 3)
        );
    }

    #[test]
    fn the_job_exit_line_does_not_hide_the_failing_step() {
        // The step failed at line 3; hundreds of lines of cache upload follow before the
        // job-level line, which must not be taken for the failure.
        let mut text =
            String::from("$ make lint\nsrc/a.c: style: tabs\nmake: *** [lint] Error 1\n");
        for index in 0..400 {
            text.push_str(&format!("uploading cache part {index}\n"));
        }
        text.push_str("Done. Your build exited with 1.\n");
        let diagnosis = diagnose(&text);
        assert_eq!(leading(&diagnosis)[0], (STEP_OUTPUT_ID, 2), "{diagnosis:?}");
    }
}
