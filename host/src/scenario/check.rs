//! Comparing what a run did with what its scenario expected. Each mismatch is one line
//! that says what was expected and what happened; calls are shown in the scenario's own
//! syntax, so an author can paste them.

use std::collections::BTreeSet;

use super::Scenario;
use super::format::{RawCall, RawFileExpect, RawOperation, RawStatus};
use super::world::ScriptedWorld;
use crate::run::RunReport;
use crate::store::audit::HostCall;

/// One host call as a scenario names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallView {
    /// The export that made it.
    pub operation: String,
    /// `capability target`.
    pub call: String,
    /// The denial kind, for a refused call.
    pub denied: Option<String>,
}

impl CallView {
    pub(crate) fn of(call: &HostCall) -> Self {
        CallView {
            operation: call.operation.clone(),
            call: format!("{} {}", call.capability, call.target),
            denied: call.denial.map(|kind| {
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
        }
    }

    fn expected(call: &RawCall) -> Self {
        CallView {
            operation: operation_name(call.operation).to_string(),
            call: call.call.clone(),
            denied: call.denied.clone(),
        }
    }
}

impl std::fmt::Display for CallView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{{ operation = {:?}, call = {:?}",
            self.operation, self.call
        )?;
        if let Some(kind) = &self.denied {
            write!(f, ", denied = {kind:?}")?;
        }
        f.write_str(" }")
    }
}

pub(crate) fn operation_name(operation: RawOperation) -> &'static str {
    match operation {
        RawOperation::Plan => "plan",
        RawOperation::Apply => "apply",
        RawOperation::Verify => "verify",
        RawOperation::Rollback => "rollback",
    }
}

pub(crate) fn status_name(status: RawStatus) -> &'static str {
    match status {
        RawStatus::Healed => "healed",
        RawStatus::RolledBack => "rolled_back",
        RawStatus::NotHealed => "not_healed",
        RawStatus::Denied => "denied",
        RawStatus::Error => "error",
        RawStatus::Planned => "planned",
        RawStatus::PlanFailed => "plan_failed",
        RawStatus::InvalidInput => "invalid_input",
    }
}

/// The calls a scenario lists: every one but checkpoint saves and loads.
pub(crate) fn listed_calls(report: &RunReport) -> Vec<CallView> {
    report
        .host_calls
        .iter()
        .filter(|call| call.capability != "checkpoint")
        .map(CallView::of)
        .collect()
}

/// Every way the run differs from `scenario`'s expectations.
pub(crate) fn check(scenario: &Scenario, report: &RunReport, world: &ScriptedWorld) -> Vec<String> {
    let expect = &scenario.raw.expect;
    let mut failures = Vec::new();
    for call in world.unanswered() {
        failures.push(format!("unscripted call: {call}"));
    }
    let status = report.status.as_str();
    if status != status_name(expect.status) {
        failures.push(format!(
            "expected status `{}`, got `{status}`: {}",
            status_name(expect.status),
            report.summary
        ));
    }
    if let Some(text) = &expect.summary_contains
        && !report.summary.contains(text.as_str())
    {
        failures.push(format!(
            "expected the summary to hold {text:?}, got {:?}",
            report.summary
        ));
    }
    if let Some(steps) = &expect.steps {
        let actual: Vec<String> = report
            .steps
            .iter()
            .flatten()
            .map(|step| {
                format!("{} {}", step.capability, step.target)
                    .trim()
                    .to_string()
            })
            .collect();
        if &actual != steps {
            failures.push(format!(
                "expected the plan's steps {steps:?}, got {actual:?}"
            ));
        }
    }
    let calls = listed_calls(report);
    if let Some(expected) = &expect.calls {
        let expected: Vec<CallView> = expected.iter().map(CallView::expected).collect();
        if expected != calls {
            failures.push(format!(
                "expected exactly these calls (the calls made are below):\n{}",
                listing(&expected)
            ));
        }
    }
    if let Some(wanted) = &expect.calls_include {
        let mut rest = calls.iter();
        for call in wanted.iter().map(CallView::expected) {
            if !rest.any(|actual| *actual == call) {
                failures.push(format!(
                    "expected the call {call} (in this order among the others; the calls made are below)"
                ));
                break;
            }
        }
    }
    if let Some(expected) = &expect.capabilities {
        let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        let used: BTreeSet<&str> = report
            .host_calls
            .iter()
            .filter(|call| call.allowed)
            .map(|call| call.capability.as_str())
            .collect();
        if expected != used {
            failures.push(format!(
                "expected the capabilities {expected:?} to be used, got {used:?}"
            ));
        }
    }
    for (path, wanted) in &expect.files {
        if let Some(failure) = check_file(world, path, wanted) {
            failures.push(failure);
        }
    }
    let logs: Vec<&String> = report.calls.iter().flat_map(|call| &call.logs).collect();
    for text in &expect.logs_contain {
        if !logs.iter().any(|line| line.contains(text.as_str())) {
            failures.push(format!(
                "expected a log line holding {text:?}; got {logs:?}"
            ));
        }
    }
    failures
}

/// `calls` one per line in the scenario's syntax, a run of the same call on one line with
/// a count.
pub fn listing(calls: &[CallView]) -> String {
    if calls.is_empty() {
        return "  (none)".to_string();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut index = 0;
    while index < calls.len() {
        let repeats = calls[index..]
            .iter()
            .take_while(|call| **call == calls[index])
            .count();
        lines.push(if repeats > 1 {
            format!("  {},  # {repeats} times in a row", calls[index])
        } else {
            format!("  {},", calls[index])
        });
        index += repeats;
    }
    lines.join("\n")
}

fn check_file(world: &ScriptedWorld, path: &str, wanted: &RawFileExpect) -> Option<String> {
    let found = match world.inspect(path) {
        Ok(found) => found,
        Err(error) => return Some(format!("cannot inspect `{path}` afterwards: {error}")),
    };
    match (&found, wanted.exists) {
        (Some(_), Some(false)) => return Some(format!("expected `{path}` to be gone, it exists")),
        (None, Some(true)) => return Some(format!("expected `{path}` to exist, it does not")),
        (None, _)
            if wanted.content.is_some() || wanted.contains.is_some() || wanted.size.is_some() =>
        {
            return Some(format!("expected `{path}` to exist, it does not"));
        }
        _ => {}
    }
    let found = found?;
    if let Some(size) = wanted.size
        && found.size != size
    {
        return Some(format!(
            "expected `{path}` to have {size} bytes, it has {}",
            found.size
        ));
    }
    let text = String::from_utf8_lossy(&found.bytes);
    if (wanted.content.is_some() || wanted.contains.is_some()) && !found.is_file {
        return Some(format!("expected `{path}` to be a regular file"));
    }
    if let Some(content) = &wanted.content
        && text != content.as_str()
    {
        return Some(format!(
            "expected `{path}` to hold {content:?}, it holds {text:?}"
        ));
    }
    if let Some(part) = &wanted.contains
        && !text.contains(part.as_str())
    {
        return Some(format!(
            "expected `{path}` to contain {part:?}, it holds {text:?}"
        ));
    }
    None
}
