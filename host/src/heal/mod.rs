//! Runs one remediation against one incident: `plan` on a dry run; otherwise `apply`, then
//! `verify`, and `rollback` when `apply` failed or `verify` did not confirm the fix. Each
//! export runs in a fresh instance, so state passes between them only through checkpoints,
//! and a trap in `apply` still leaves `rollback` a clean instance.
//!
//! Every step is recorded in the audit log before the report says it happened.

mod report;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

pub use report::{CallSummary, RunReport, RunStatus};

use crate::audit::{AuditEvent, AuditLog};
use crate::catalog::Loaded;
use crate::checkpoint::Checkpoints;
use crate::db::{Database, DbError};
use crate::incident::Incident;
use crate::manifest::Ceilings;
use crate::sandbox::{CallContext, CallOutcome, CallReport, Operation, RunContext, Sandbox};

/// Why a run could not be carried out or recorded.
#[derive(Debug, Error)]
pub enum HealError {
    /// The audit log could not be written: nothing may run unrecorded.
    #[error("audit log: {0}")]
    Audit(#[from] DbError),
}

/// A fresh run id: time-ordered, with a random suffix.
pub fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let random = RandomState::new().hash_one((now.as_nanos(), std::process::id()));
    format!("run-{}-{:08x}", now.as_millis(), random as u32)
}

/// Run `loaded` against `incident`.
pub async fn run_remediation(
    sandbox: &Sandbox,
    loaded: &Loaded,
    incident: &Incident,
    db: &Database,
    ceilings: &Ceilings,
    dry_run: bool,
) -> Result<RunReport, HealError> {
    let run_id = new_run_id();
    let audit = AuditLog::new(db.clone());
    let manifest = &loaded.manifest;
    audit.append(
        &run_id,
        &AuditEvent::RunStarted {
            remediation: manifest.name.clone(),
            version: manifest.version.clone(),
            sha256: manifest.sha256.clone(),
            risk: manifest.risk.as_str().to_string(),
            incident_id: incident.id.clone(),
            dry_run,
        },
    )?;
    let mut report = RunReport::new(&run_id, manifest, incident, dry_run);

    let prepared = match sandbox.prepare(manifest.clone(), &loaded.wasm) {
        Ok(prepared) => prepared,
        Err(error) => return finish(&audit, report, RunStatus::Error, error.to_string()),
    };
    report.compile = Some(prepared.cache);
    let checkpoints = Checkpoints::new(db.clone(), &incident.id, &manifest.name);
    let ceiling = ceilings.for_risk(manifest.risk).clone();
    let call = |operation| {
        let context = CallContext {
            run: RunContext {
                run_id: run_id.clone(),
                incident_id: incident.id.clone(),
            },
            audit: audit.clone(),
            checkpoints: checkpoints.clone(),
            ceiling: ceiling.clone(),
        };
        sandbox.call(&prepared, operation, incident, context)
    };

    if dry_run {
        let planned = record(&audit, &mut report, call(Operation::Plan).await)?;
        let (status, summary) = match planned {
            CallOutcome::Steps(steps) => {
                let summary = format!("{} steps planned; nothing was changed", steps.len());
                report.steps = Some(steps);
                (RunStatus::Planned, summary)
            }
            other => failure_status(&other, "plan"),
        };
        return finish(&audit, report, status, summary);
    }

    let applied = record(&audit, &mut report, call(Operation::Apply).await)?;
    let (failed_status, failure) = match applied {
        CallOutcome::Summary(summary) => {
            let verified = record(&audit, &mut report, call(Operation::Verify).await)?;
            match verified {
                CallOutcome::Verdict {
                    healthy: true,
                    detail,
                } => {
                    return finish(
                        &audit,
                        report,
                        RunStatus::Healed,
                        format!("{summary}; verified: {detail}"),
                    );
                }
                CallOutcome::Verdict {
                    healthy: false,
                    detail,
                } => (
                    RunStatus::RolledBack,
                    format!("{summary}; verify failed: {detail}"),
                ),
                other => failure_status(&other, "verify"),
            }
        }
        other => failure_status(&other, "apply"),
    };
    let rolled_back = record(&audit, &mut report, call(Operation::Rollback).await)?;
    let (status, summary) = match (failed_status, rolled_back) {
        (RunStatus::RolledBack, CallOutcome::Summary(undo)) => (
            RunStatus::RolledBack,
            format!("{failure}; rolled back: {undo}"),
        ),
        (status @ (RunStatus::Denied | RunStatus::Error), CallOutcome::Summary(undo)) => {
            (status, format!("{failure}; rolled back: {undo}"))
        }
        (RunStatus::Denied, other) => (
            RunStatus::Denied,
            format!("{failure}; rollback failed: {}", describe(&other)),
        ),
        (_, other) => (
            RunStatus::NotHealed,
            format!("{failure}; rollback failed: {}", describe(&other)),
        ),
    };
    finish(&audit, report, status, summary)
}

/// The status a failed export leads to, before rollback: denied, error (a limit or
/// trap), or rolled back (a plain failure, if rollback then succeeds).
fn failure_status(outcome: &CallOutcome, operation: &str) -> (RunStatus, String) {
    let text = format!("{operation}: {}", describe(outcome));
    match outcome {
        CallOutcome::GuestError { kind: "denied", .. } => (RunStatus::Denied, text),
        CallOutcome::Stopped(_) => (RunStatus::Error, text),
        _ => (RunStatus::RolledBack, text),
    }
}

fn describe(outcome: &CallOutcome) -> String {
    match outcome {
        CallOutcome::Steps(steps) => format!("{} steps", steps.len()),
        CallOutcome::Summary(summary) => summary.clone(),
        CallOutcome::Verdict { healthy, detail } => format!(
            "{} ({detail})",
            if *healthy { "healthy" } else { "unhealthy" }
        ),
        CallOutcome::GuestError { kind, message } => format!("{kind}: {message}"),
        CallOutcome::Stopped(reason) => format!("stopped: {reason}"),
    }
}

/// Audit the end of an export call and add it to the report.
fn record(
    audit: &AuditLog,
    report: &mut RunReport,
    call: CallReport,
) -> Result<CallOutcome, HealError> {
    let (outcome, detail) = match &call.outcome {
        CallOutcome::GuestError { kind: "denied", .. } => ("denied", describe(&call.outcome)),
        CallOutcome::GuestError { .. } => ("guest_error", describe(&call.outcome)),
        CallOutcome::Stopped(_) => ("stopped", describe(&call.outcome)),
        _ => ("ok", describe(&call.outcome)),
    };
    let mut logs: Vec<String> = call
        .logs
        .iter()
        .map(|line| format!("{}: {}", line.level, line.message))
        .collect();
    logs.extend(call.stdout.lines().map(|line| format!("stdout: {line}")));
    logs.extend(call.stderr.lines().map(|line| format!("stderr: {line}")));
    audit.append(
        &report.run_id,
        &AuditEvent::CallFinished {
            operation: call.operation.as_str().to_string(),
            outcome: outcome.to_string(),
            detail: detail.clone(),
            duration_ms: call.duration.as_millis() as u64,
            logs: logs.clone(),
        },
    )?;
    report.host_calls.extend(call.host_calls.iter().cloned());
    report.calls.push(CallSummary {
        operation: call.operation,
        outcome: outcome.to_string(),
        detail,
        duration_ms: call.duration.as_millis() as u64,
        logs,
    });
    if let CallOutcome::Verdict { healthy, detail } = &call.outcome {
        report.verdict = Some(report::VerdictView {
            healthy: *healthy,
            detail: detail.clone(),
        });
    }
    Ok(call.outcome)
}

fn finish(
    audit: &AuditLog,
    mut report: RunReport,
    status: RunStatus,
    summary: String,
) -> Result<RunReport, HealError> {
    audit.append(
        &report.run_id,
        &AuditEvent::RunFinished {
            status: status.as_str().to_string(),
            summary: summary.clone(),
        },
    )?;
    report.status = status;
    report.summary = summary;
    Ok(report)
}
