//! `RunReport`: what `medic run` prints, and `--json` serialises as is.
//!
//! JSON (snake_case): `version` (1), `run_id`, `remediation`, `remediation_version`,
//! `sha256`, `risk`, `incident_id`, `dry_run`, `status` (`healed`, `rolled_back`,
//! `not_healed`, `denied`, `error`, `planned`, `plan_failed`, `invalid_input`,
//! `interrupted`), `signal` (for `interrupted`), `summary`, `compile` (`compiled` or
//! `cached`), `steps` (dry run), `verdict`, `calls` (one per export called) and
//! `host_calls` (each with `operation`, `capability`, `target`, `allowed`, `reason`,
//! `result`, `duration_ms`), `grants_used` (the manifest fields of the grants that allowed
//! a call, such as `capabilities.exec[0]`).

use serde::Serialize;

use crate::incident::Incident;
use crate::manifest::Manifest;
use crate::sandbox::{CacheUse, Operation, PlannedStep};
use crate::store::audit::HostCall;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Applied and verified.
    Healed,
    /// Not healed; what apply changed was undone.
    RolledBack,
    /// Not healed, and rollback failed too: a human must look.
    NotHealed,
    /// Stopped by the sandbox: a host call was refused.
    Denied,
    /// The component could not run, or hit a limit.
    Error,
    /// Dry run: steps listed, nothing changed.
    Planned,
    /// `plan` failed, so nothing was applied.
    PlanFailed,
    /// The incident lacks a parameter the remediation needs, or one is invalid.
    InvalidInput,
    /// medic was asked to stop (SIGINT, SIGTERM); what `apply` did was rolled back.
    Interrupted,
}

impl RunStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Healed => "healed",
            RunStatus::RolledBack => "rolled_back",
            RunStatus::NotHealed => "not_healed",
            RunStatus::Denied => "denied",
            RunStatus::Error => "error",
            RunStatus::Planned => "planned",
            RunStatus::PlanFailed => "plan_failed",
            RunStatus::InvalidInput => "invalid_input",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// One export call in a run.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    /// Which export.
    pub operation: Operation,
    /// `ok`, `guest_error`, `denied`, `stopped` or `interrupted`.
    pub outcome: String,
    /// The guest's summary, error or the limit that stopped it.
    pub detail: String,
    /// Wall time.
    pub duration_ms: u64,
    /// Log, progress, stdout and stderr lines.
    pub logs: Vec<String>,
}

/// `verify`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictView {
    /// Healed or not.
    pub healthy: bool,
    /// The evidence.
    pub detail: String,
}

/// The result of `medic run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Always 1.
    pub version: u32,
    /// The run's id, as in the audit log.
    pub run_id: String,
    /// The remediation.
    pub remediation: String,
    /// Its version.
    pub remediation_version: String,
    /// The component hash that ran.
    pub sha256: String,
    /// Its risk level.
    pub risk: &'static str,
    /// The incident.
    pub incident_id: String,
    /// Plan only.
    pub dry_run: bool,
    /// How it ended.
    pub status: RunStatus,
    /// The signal that interrupted it, for `interrupted`.
    pub signal: Option<i32>,
    /// A sentence.
    pub summary: String,
    /// Whether the component was compiled for this run or loaded from the cache.
    pub compile: Option<CacheUse>,
    /// The plan, on a dry run.
    pub steps: Option<Vec<PlannedStep>>,
    /// `verify`'s answer, if it ran.
    pub verdict: Option<VerdictView>,
    /// Each export called.
    pub calls: Vec<CallSummary>,
    /// Every host call, allowed or denied.
    pub host_calls: Vec<HostCall>,
    /// The manifest grants that allowed a call (`capabilities.exec[0]`, ...).
    pub grants_used: std::collections::BTreeSet<String>,
}

impl RunReport {
    pub(crate) fn new(
        run_id: &str,
        manifest: &Manifest,
        incident: &Incident,
        dry_run: bool,
    ) -> Self {
        RunReport {
            version: 1,
            run_id: run_id.to_string(),
            remediation: manifest.name.clone(),
            remediation_version: manifest.version.clone(),
            sha256: manifest.sha256.clone(),
            risk: manifest.risk.as_str(),
            incident_id: incident.id.clone(),
            dry_run,
            status: RunStatus::Error,
            signal: None,
            summary: String::new(),
            compile: None,
            steps: None,
            verdict: None,
            calls: Vec::new(),
            host_calls: Vec::new(),
            grants_used: Default::default(),
        }
    }
}
