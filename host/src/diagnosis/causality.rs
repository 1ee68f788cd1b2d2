//! Cause before consequence: within one step, an earlier condition of the environment
//! (a connection refused, a name not resolved, a permission denied, a full disk) explains
//! a later failure of the task that needed it (no matching distribution, dependencies not
//! resolved, a test that failed because its service was down). The cause wins; the
//! consequence stays in the evidence, now counting for the cause.
//!
//! Which causes explain which consequences is a relation on the taxonomy ([`explains`]),
//! not on patterns: whatever tool printed either line. A step ends at a wrapper line
//! ("The command ... exited with 1"); a cause in an earlier step explains nothing here,
//! and neither does one more than [`CAUSE_WINDOW`] lines above. A cause may share the
//! consequence's line (`qemu-img: error while writing: No space left on device`): the
//! tool says who failed, the condition why. A test that failed on a connection refused or
//! reset is a service the suite needs being down ([`as_failed_in_tests`]). Pure: it
//! reorders nothing and reads only the scan.

use super::RootCause;
use super::known_errors::{Layer, PatternLibrary};
use super::matcher::Scan;
use super::score::{Contribution, level_factor};

/// Lines above a consequence that a cause may be: a step's own output, not the log's.
pub(crate) const CAUSE_WINDOW: u64 = 300;
/// Patterns at or below this weight only point at lines; they neither cause nor follow.
const GENERIC_WEIGHT: f64 = 1.0;

/// Whether a failure of kind `consequence` is explained by an earlier `cause`: the
/// conditions of the environment a task depends on explain the task's failing, never the
/// other way round.
pub(crate) fn explains(cause: RootCause, consequence: RootCause) -> bool {
    use RootCause::*;
    let environment = matches!(
        cause,
        Network | Timeout | Credential | Storage | ResourceExhaustion | ServiceDependency
    );
    match consequence {
        Package | Test | Build => environment,
        // A checker that cannot read its file or write its output reports a bad config.
        Configuration => matches!(cause, Credential | Storage),
        // A hypervisor or runtime that ran out of memory or disk reports its own failure;
        // a refused device or socket stays its own (KVM access is a virtualization issue).
        Virtualization => matches!(cause, Storage | ResourceExhaustion),
        _ => false,
    }
}

/// What `cause` is when it explains a failed test: the endpoint a test suite talks to is
/// a service it depends on (a database, a cache, an API under test), so a connection that
/// failed there is that service being down, not the network.
pub(crate) fn as_failed_in_tests(cause: RootCause) -> RootCause {
    match cause {
        RootCause::Network => RootCause::ServiceDependency,
        other => other,
    }
}

/// Credit each consequence to the strongest cause that precedes it in the same step.
pub(crate) fn attribute(library: &PatternLibrary, scan: &Scan, contributions: &mut [Contribution]) {
    let causes: Vec<(usize, RootCause, f64)> = contributions
        .iter()
        .filter(|c| library.patterns[c.pattern].weight > GENERIC_WEIGHT)
        .map(|c| {
            (
                c.pattern,
                library.patterns[c.pattern].root_cause,
                c.strength,
            )
        })
        .collect();
    // The causes that explained a failed test: they are read as a service being down.
    let mut failed_tests_causes: Vec<usize> = Vec::new();
    for contribution in contributions.iter_mut() {
        let pattern = &library.patterns[contribution.pattern];
        if pattern.weight <= GENERIC_WEIGHT {
            continue;
        }
        let consequence_line = contribution.last_line;
        let explained_by = causes
            .iter()
            .filter(|(_, cause, _)| explains(*cause, pattern.root_cause))
            .filter(|(index, _, _)| {
                latest_before(scan, *index, consequence_line).is_some_and(|(line, text)| {
                    // A cause is an error the program reported, not an informational line
                    // or a passing test's name. On the consequence's own line, an errno
                    // or a family of messages explains it, a tool's pattern only if it is
                    // at least as strong: a registry's "not found or you do not have
                    // permission" is a missing package, not a refusal.
                    let cause = &library.patterns[*index];
                    level_factor(text) >= 1.0
                        && same_step(scan, line, consequence_line)
                        && (line < consequence_line
                            || cause.layer == Layer::Condition
                            || cause.weight >= pattern.weight)
                })
            })
            .max_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((cause_pattern, cause, _)) = explained_by {
            if pattern.root_cause == RootCause::Test {
                contribution.counts_for = as_failed_in_tests(*cause);
                failed_tests_causes.push(*cause_pattern);
            } else {
                contribution.counts_for = *cause;
            }
        }
    }
    for contribution in contributions.iter_mut() {
        if failed_tests_causes.contains(&contribution.pattern) {
            contribution.counts_for = as_failed_in_tests(contribution.counts_for);
        }
    }
}

/// The last line up to `line` (itself included: a line may name both the failure and its
/// cause) that pattern `index` matched, among the hits kept, with its text.
fn latest_before(scan: &Scan, index: usize, line: u64) -> Option<(u64, &str)> {
    let hits = &scan.hits[index];
    hits.recent
        .iter()
        .chain(hits.first.iter())
        .filter(|hit| hit.line <= line)
        .max_by_key(|hit| hit.line)
        .map(|hit| (hit.line, hit.text.as_str()))
}

/// Whether lines `cause` and `consequence` (later) are in one step: near, with no step's
/// end between them.
fn same_step(scan: &Scan, cause: u64, consequence: u64) -> bool {
    consequence - cause <= CAUSE_WINDOW
        && !scan
            .step_ends
            .iter()
            .any(|step| !step.job_exit && step.line >= cause && step.line < consequence)
}

/// One note per consequence credited to `root_cause`, for the report.
pub(crate) fn notes(
    library: &PatternLibrary,
    contributions: &[Contribution],
    root_cause: RootCause,
) -> Vec<String> {
    contributions
        .iter()
        .filter(|c| {
            c.counts_for == root_cause && library.patterns[c.pattern].root_cause != root_cause
        })
        .map(|c| {
            let pattern = &library.patterns[c.pattern];
            format!(
                "line {} (`{}`, {}) follows an earlier {} error in the same step and is read as its consequence",
                c.last_line,
                pattern.id,
                pattern.root_cause.as_str(),
                root_cause.as_str()
            )
        })
        .collect()
}
