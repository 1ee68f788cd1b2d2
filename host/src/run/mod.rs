//! Runs one remediation against one incident. `plan` always runs first, and the host holds
//! it to a dry run; on `--dry-run` that is all. Otherwise, when the plan succeeded, `apply`,
//! then `verify`, and `rollback` when `apply` failed, `verify` did not confirm the fix, or
//! medic was asked to stop. Each export runs in a fresh instance, so state passes between
//! them only through this run's checkpoints, and a trap in `apply` still leaves `rollback`
//! a clean instance.
//!
//! A run's status comes from the host's own records, never from the guest's word alone: a
//! call during which the host refused anything makes the run `denied`, whatever the guest
//! returned. The runs journal (`store/runs.rs`) records how far the run got, so a run that
//! was killed is found and rolled back by `medic recover` ([`recover_run`]).
//!
//! Every step is recorded in the audit log before the report says it happened.

mod report;

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

pub use report::{CallSummary, RunReport, RunStatus};

use crate::catalog::Loaded;
use crate::config::{self, SecretSource};
use crate::incident::Incident;
use crate::manifest::Ceilings;
use crate::sandbox::{
    CallContext, CallOutcome, CallReport, Operation, Prepared, RunBudget, RunContext, Sandbox,
    SandboxError, Scope, World,
};
use crate::secrets::{self, Redactor, SecretError};
use crate::stop::StopSignal;
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::checkpoints::Checkpoints;
use crate::store::data_dir::DataDir;
use crate::store::db::{Database, DbError};
use crate::store::runs::{Phase, RunJournal, RunRecord, timestamp};

/// Most bytes of an export call's logs (log lines, stdout, stderr) kept in its audit record
/// and report; the rest is counted, not kept.
const MAX_CALL_LOG_BYTES: usize = 256 << 10;

/// Why a run could not be carried out or recorded.
#[derive(Debug, Error)]
pub enum RunError {
    /// The audit log or the runs journal could not be written: nothing may run unrecorded.
    #[error("audit log: {0}")]
    Audit(#[from] DbError),
    /// The incident could not be recorded.
    #[error("incident: {0}")]
    Incident(#[from] serde_json::Error),
    /// The incident's parameters do not fit the remediation: nothing ran.
    #[error(transparent)]
    Params(#[from] crate::manifest::params::ParamError),
}

/// A fresh run id: time-ordered, with a random suffix.
pub fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let random = RandomState::new().hash_one((now.as_nanos(), std::process::id()));
    format!("run-{}-{:08x}", now.as_millis(), random as u32)
}

/// Everything one run needs.
pub struct RunRequest<'a> {
    /// The engine.
    pub sandbox: &'a Sandbox,
    /// The remediation, checked.
    pub loaded: &'a Loaded,
    /// What it is asked to heal.
    pub incident: &'a Incident,
    /// medic's database.
    pub db: &'a Database,
    /// The audit log (signing its head at the end of the run).
    pub audit: &'a AuditLog,
    /// medic's data directory, checked.
    pub data_dir: &'a DataDir,
    /// The operator's ceilings.
    pub ceilings: &'a Ceilings,
    /// Where each secret handle's value comes from (`[secrets.NAME]`).
    pub secrets: &'a BTreeMap<String, SecretSource>,
    /// Plan only.
    pub dry_run: bool,
    /// Raised by SIGINT or SIGTERM.
    pub stop: StopSignal,
    /// Where allowed calls take effect: [`World::Real`] for every run but `medic test`'s.
    pub world: World,
    /// Roll back a run that healed too (`medic test`, to exercise `rollback` against what
    /// `apply` saved); the status stays the run's own.
    pub rollback_healed: bool,
}

/// What every run on this host shares: the engine, medic's state, the ceilings and
/// secrets, and the stop signal. [`RunEnv::request`] makes one run's request from it.
#[derive(Clone, Copy)]
pub struct RunEnv<'a> {
    /// The engine.
    pub sandbox: &'a Sandbox,
    /// medic's database.
    pub db: &'a Database,
    /// The audit log.
    pub audit: &'a AuditLog,
    /// medic's data directory, checked.
    pub data_dir: &'a DataDir,
    /// The operator's ceilings.
    pub ceilings: &'a Ceilings,
    /// Where each secret handle's value comes from.
    pub secrets: &'a BTreeMap<String, SecretSource>,
    /// Raised by SIGINT or SIGTERM.
    pub stop: &'a StopSignal,
}

impl<'a> RunEnv<'a> {
    /// The request to run `loaded` against `incident`.
    pub fn request(
        &self,
        loaded: &'a Loaded,
        incident: &'a Incident,
        dry_run: bool,
    ) -> RunRequest<'a> {
        RunRequest {
            sandbox: self.sandbox,
            loaded,
            incident,
            db: self.db,
            audit: self.audit,
            data_dir: self.data_dir,
            ceilings: self.ceilings,
            secrets: self.secrets,
            dry_run,
            stop: self.stop.clone(),
            world: World::Real,
            rollback_healed: false,
        }
    }
}

/// Why a killed run could not be rolled back.
#[derive(Debug, Error)]
pub enum RecoverError {
    /// Its remediation no longer loads.
    #[error("run {run_id}: {source}")]
    Load {
        /// The run.
        run_id: String,
        /// Why it does not load.
        source: crate::manifest::ManifestError,
    },
    /// Its manifest or component changed since it ran.
    #[error("run {run_id}: {message}")]
    Changed {
        /// The run.
        run_id: String,
        /// What changed.
        message: String,
    },
    /// Its recorded incident does not parse.
    #[error("run {run_id}: {source}")]
    Incident {
        /// The run.
        run_id: String,
        /// Why.
        source: crate::incident::IncidentError,
    },
    /// The rollback could not be recorded.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Roll back the killed run `record` (its journal claimed) with the very component and
/// manifest it ran under; a changed one is refused.
pub async fn recover_record(
    env: &RunEnv<'_>,
    config: &config::Config,
    record: &RunRecord,
    journal: RunJournal,
) -> Result<RunReport, RecoverError> {
    let loaded =
        crate::catalog::load_remediation(&record.location, config, env.data_dir.protected())
            .map_err(|source| RecoverError::Load {
                run_id: record.run_id.clone(),
                source,
            })?;
    if loaded.manifest.text_sha256 != record.manifest_sha256 {
        return Err(RecoverError::Changed {
            run_id: record.run_id.clone(),
            message: format!(
                "the manifest of `{}` changed since it ran; not rolling back under different grants",
                record.location
            ),
        });
    }
    if loaded.manifest.sha256 != record.sha256 {
        return Err(RecoverError::Changed {
            run_id: record.run_id.clone(),
            message: format!(
                "`{}` is now component {}, not the {} that ran; not rolling back with a different component",
                record.location, loaded.manifest.sha256, record.sha256
            ),
        });
    }
    let incident = crate::incident::parse_incident(
        &record.incident,
        std::path::Path::new(&format!("<run {}>", record.run_id)),
    )
    .map_err(|source| RecoverError::Incident {
        run_id: record.run_id.clone(),
        source,
    })?;
    let request = RunRequest {
        stop: StopSignal::new(),
        ..env.request(&loaded, &incident, false)
    };
    Ok(recover_run(request, record, journal).await?)
}

/// One run in progress: its ids, records and the calls it makes.
struct Runner<'a> {
    request: &'a RunRequest<'a>,
    prepared: Prepared,
    audit: AuditLog,
    run_id: String,
    scope: Arc<Scope>,
    budget: Arc<RunBudget>,
    /// Rollback's own budget: a run that spent its budget can still undo what it did.
    rollback_budget: Arc<RunBudget>,
    report: RunReport,
}

impl Runner<'_> {
    async fn call(
        &mut self,
        operation: Operation,
        stop: StopSignal,
    ) -> Result<CallReport, RunError> {
        let request = self.request;
        let context = CallContext {
            run: RunContext {
                run_id: self.run_id.clone(),
                incident_id: request.incident.id.clone(),
            },
            audit: self.audit.clone(),
            checkpoints: Checkpoints::new(
                request.db.clone(),
                &self.run_id,
                &request.loaded.manifest.sha256,
            ),
            rates: crate::store::rates::Rates::new(request.db.clone()),
            scope: self.scope.clone(),
            run_budget: if operation == Operation::Rollback {
                self.rollback_budget.clone()
            } else {
                self.budget.clone()
            },
            stop,
        };
        let call = request
            .sandbox
            .call(&self.prepared, operation, request.incident, context)
            .await;
        record(&self.audit, &mut self.report, &call)?;
        Ok(call)
    }

    fn finish(mut self, status: RunStatus, summary: String) -> Result<RunReport, RunError> {
        self.audit.append(
            &self.run_id,
            &AuditEvent::RunFinished {
                status: status.as_str().to_string(),
                summary: summary.clone(),
            },
        )?;
        self.report.status = status;
        self.report.summary = summary;
        Ok(self.report)
    }
}

/// Where a run reads the values of its declared env names.
type EnvSource = Box<dyn Fn(&str) -> Option<String>>;

/// The run's scope: the ceiling, the checked programs, the declared env values and the
/// secrets read now, and what it may not reach.
async fn scope_for(request: &RunRequest<'_>) -> Result<Scope, SecretError> {
    let manifest = &request.loaded.manifest;
    let handles: BTreeSet<String> = manifest
        .secret_uses()
        .into_iter()
        .map(|(_, handle)| handle.clone())
        .collect();
    // A scripted world (`medic test`) answers for this host's environment and secrets.
    let (secrets, env_of): (_, EnvSource) = match &request.world {
        World::Real => (
            secrets::resolve(&handles, request.secrets).await?,
            Box::new(config::host_env),
        ),
        World::Scripted(world) => {
            let mut values = BTreeMap::new();
            for handle in &handles {
                let value = world
                    .secret(handle)
                    .ok_or_else(|| SecretError::NotConfigured {
                        handle: handle.clone(),
                    })?;
                values.insert(handle.clone(), value);
            }
            let world = world.clone();
            (
                secrets::Secrets::from_values(values),
                Box::new(move |name: &str| world.env(name)),
            )
        }
    };
    let env: Vec<(String, String)> = manifest
        .grants
        .env
        .iter()
        .filter_map(|grant| env_of(&grant.name).map(|value| (grant.name.clone(), value)))
        .collect();
    let mut redactor = Redactor::new(
        &secrets,
        env.iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    if matches!(request.world, World::Real) {
        for (handle, value) in secrets::known_values(request.secrets).await {
            redactor = redactor.also(value, format!("{}{handle}]", crate::secrets::SECRET_LABEL));
        }
    }
    // A header a server echoes back carries the secret encoded: cut that form too.
    for auth in manifest
        .grants
        .http
        .iter()
        .filter_map(|grant| grant.auth.as_ref())
    {
        if let Some(value) = secrets.get(&auth.secret) {
            let (_, header) = auth.header(value);
            let encoded = header.strip_prefix("Basic ").unwrap_or(&header).to_string();
            redactor = redactor.also(
                encoded,
                format!("{}{}]", crate::secrets::SECRET_LABEL, auth.secret),
            );
        }
    }
    Ok(Scope {
        ceiling: request.ceilings.for_risk(manifest.risk).clone(),
        programs: request.loaded.programs.clone(),
        env,
        protected: request.data_dir.protected().clone(),
        secrets,
        redactor,
        world: request.world.clone(),
    })
}

/// End a run that could not start its calls: record why, close its journal, seal the log.
fn end_before_calls(
    request: &RunRequest<'_>,
    run_id: &str,
    journal: RunJournal,
    mut report: RunReport,
    status: RunStatus,
    summary: String,
) -> Result<RunReport, RunError> {
    request.audit.append(
        run_id,
        &AuditEvent::RunFinished {
            status: status.as_str().to_string(),
            summary: summary.clone(),
        },
    )?;
    journal.finish()?;
    request.audit.seal()?;
    report.status = status;
    report.summary = summary;
    Ok(report)
}

/// Run `request.loaded` against `request.incident`.
pub async fn run_remediation(request: RunRequest<'_>) -> Result<RunReport, RunError> {
    // Bound here, whoever calls: no run starts with an unchecked value or a wide template.
    let crate::catalog::Bound {
        loaded: bound,
        params,
        narrowed,
        ..
    } = request.loaded.bound(
        request.incident,
        request.ceilings,
        request.data_dir.protected(),
    )?;
    let incident = Incident {
        params: params.clone(),
        ..request.incident.clone()
    };
    let request = RunRequest {
        loaded: &bound,
        incident: &incident,
        ..request
    };
    let run_id = new_run_id();
    let manifest = &request.loaded.manifest;
    let audit = request.audit.clone();
    let journal = RunJournal::begin(
        request.db,
        request.data_dir,
        &RunRecord {
            run_id: run_id.clone(),
            remediation: manifest.name.clone(),
            location: request.loaded.provenance.location(&manifest.name),
            sha256: manifest.sha256.clone(),
            manifest_sha256: manifest.text_sha256.clone(),
            incident: serde_json::to_string(request.incident)?,
            dry_run: request.dry_run,
            phase: Phase::Planning,
            pid: std::process::id(),
            started_at: timestamp(),
        },
    )?;
    audit.append(
        &run_id,
        &AuditEvent::RunStarted {
            remediation: manifest.name.clone(),
            version: manifest.version.clone(),
            sha256: manifest.sha256.clone(),
            risk: manifest.risk.as_str().to_string(),
            incident_id: request.incident.id.clone(),
            dry_run: request.dry_run,
            params,
            narrowed,
        },
    )?;
    let mut report = RunReport::new(&run_id, manifest, request.incident, request.dry_run);
    let scope = match scope_for(&request).await {
        Ok(scope) => scope,
        Err(error) => {
            let summary = format!("{error}; nothing was run");
            return end_before_calls(
                &request,
                &run_id,
                journal,
                report,
                RunStatus::Error,
                summary,
            );
        }
    };
    let prepared =
        match request
            .sandbox
            .prepare(manifest.clone(), &request.loaded.wasm, &request.stop)
        {
            Ok(prepared) => prepared,
            Err(error) => {
                let status = match error {
                    SandboxError::Interrupted(signal) => {
                        report.signal = Some(signal);
                        RunStatus::Interrupted
                    }
                    _ => RunStatus::Error,
                };
                let summary = error.to_string();
                return end_before_calls(&request, &run_id, journal, report, status, summary);
            }
        };
    report.compile = Some(prepared.cache);
    let runner = Runner {
        audit: audit.redacting(scope.redactor.clone()),
        scope: Arc::new(scope),
        request: &request,
        prepared,
        run_id,
        budget: RunBudget::new(),
        rollback_budget: RunBudget::new(),
        report,
    };
    let report = drive(runner, &journal).await?;
    journal.finish()?;
    request.audit.seal()?;
    Ok(report)
}

async fn drive(mut runner: Runner<'_>, journal: &RunJournal) -> Result<RunReport, RunError> {
    let stop = runner.request.stop.clone();
    let planned = runner.call(Operation::Plan, stop.clone()).await?;
    let steps = match (&planned.outcome, planned.denied) {
        (CallOutcome::Steps(steps), false) => steps.clone(),
        _ => {
            runner.report.signal = stop.raised();
            let (status, summary) = failure_status(&planned, "plan");
            let status = match status {
                RunStatus::RolledBack | RunStatus::NotHealed => RunStatus::PlanFailed,
                other => other,
            };
            return runner.finish(status, format!("{summary}; nothing was changed"));
        }
    };
    if runner.request.dry_run {
        let summary = format!("{} steps planned; nothing was changed", steps.len());
        runner.report.steps = Some(steps);
        return runner.finish(RunStatus::Planned, summary);
    }
    runner.report.steps = Some(steps);
    journal.phase(Phase::Applying)?;
    let applied = runner.call(Operation::Apply, stop.clone()).await?;
    let (failed_status, failure) = match (&applied.outcome, applied.denied) {
        (CallOutcome::Summary(summary), false) => {
            let summary = summary.clone();
            let verified = runner.call(Operation::Verify, stop.clone()).await?;
            match (&verified.outcome, verified.denied) {
                (
                    CallOutcome::Verdict {
                        healthy: true,
                        detail,
                    },
                    false,
                ) => {
                    let summary = format!("{summary}; verified: {detail}");
                    if runner.request.rollback_healed {
                        return rollback_healed(runner, summary).await;
                    }
                    return runner.finish(RunStatus::Healed, summary);
                }
                (
                    CallOutcome::Verdict {
                        healthy: false,
                        detail,
                    },
                    false,
                ) => (
                    RunStatus::RolledBack,
                    format!("{summary}; verify failed: {detail}"),
                ),
                _ => failure_status(&verified, "verify"),
            }
        }
        _ => failure_status(&applied, "apply"),
    };
    let signal = stop.raised();
    let (failed_status, failure) = match signal {
        Some(signal) if failed_status != RunStatus::Denied => (
            RunStatus::Interrupted,
            format!("{failure}; stopped by signal {signal}"),
        ),
        _ => (failed_status, failure),
    };
    runner.report.signal = signal;
    // Rollback must finish even when medic was asked to stop: it gets a signal of its own.
    let rolled_back = runner.call(Operation::Rollback, StopSignal::new()).await?;
    let (status, summary) = rollback_status(failed_status, &failure, &rolled_back);
    runner.finish(status, summary)
}

/// `medic test`'s `then_rollback`: undo a healed run, so a scenario exercises `rollback`
/// against what `apply` saved. The status stays `healed` when rollback succeeds.
async fn rollback_healed(mut runner: Runner<'_>, summary: String) -> Result<RunReport, RunError> {
    let rolled_back = runner.call(Operation::Rollback, StopSignal::new()).await?;
    let (status, summary) = match (&rolled_back.outcome, rolled_back.denied) {
        (CallOutcome::Summary(undo), false) => (
            RunStatus::Healed,
            format!("{summary}; then rolled back: {undo}"),
        ),
        (_, denied) => (
            if denied {
                RunStatus::Denied
            } else {
                RunStatus::NotHealed
            },
            format!(
                "{summary}; then rollback failed: {}",
                describe(&rolled_back)
            ),
        ),
    };
    runner.finish(status, summary)
}

/// The final status once `rollback` ran after a failure of status `failed_status`.
fn rollback_status(
    failed_status: RunStatus,
    failure: &str,
    rolled_back: &CallReport,
) -> (RunStatus, String) {
    match (&rolled_back.outcome, rolled_back.denied) {
        (CallOutcome::Summary(undo), false) => {
            (failed_status, format!("{failure}; rolled back: {undo}"))
        }
        _ if failed_status == RunStatus::Denied => (
            RunStatus::Denied,
            format!("{failure}; rollback failed: {}", describe(rolled_back)),
        ),
        _ => (
            RunStatus::NotHealed,
            format!("{failure}; rollback failed: {}", describe(rolled_back)),
        ),
    }
}

/// Roll back a run that was killed before it finished (`medic recover`): `rollback` from
/// that run's own checkpoints, recorded under its run id, with the outcome `interrupted`.
pub async fn recover_run(
    request: RunRequest<'_>,
    record: &RunRecord,
    journal: RunJournal,
) -> Result<RunReport, RunError> {
    // Only a run that reached apply runs anything now; that one runs narrowed as it was.
    let bound = if record.phase == Phase::Applying {
        Some(request.loaded.bound(
            request.incident,
            request.ceilings,
            request.data_dir.protected(),
        )?)
    } else {
        None
    };
    let incident = Incident {
        params: bound.as_ref().map_or_else(
            || request.incident.params.clone(),
            |bound| bound.params.clone(),
        ),
        ..request.incident.clone()
    };
    let request = RunRequest {
        loaded: bound.as_ref().map_or(request.loaded, |bound| &bound.loaded),
        incident: &incident,
        ..request
    };
    let manifest = &request.loaded.manifest;
    let audit = request.audit.clone();
    let mut report = RunReport::new(&record.run_id, manifest, request.incident, false);
    if record.phase != Phase::Applying {
        let summary = "interrupted before apply; nothing to roll back".to_string();
        audit.append(
            &record.run_id,
            &AuditEvent::RunFinished {
                status: RunStatus::Interrupted.as_str().to_string(),
                summary: summary.clone(),
            },
        )?;
        journal.finish()?;
        audit.seal()?;
        report.status = RunStatus::Interrupted;
        report.summary = summary;
        return Ok(report);
    }
    // Whatever the killed run's programs left running dies before its rollback starts.
    crate::process::sweep_orphaned_cgroups();
    // A rollback that cannot have its secrets or its component stays journalled, for a
    // later `medic recover` to try again.
    let scope = match scope_for(&request).await {
        Ok(scope) => scope,
        Err(error) => {
            report.summary = format!("cannot roll back: {error}");
            return Ok(report);
        }
    };
    let prepared =
        match request
            .sandbox
            .prepare(manifest.clone(), &request.loaded.wasm, &request.stop)
        {
            Ok(prepared) => prepared,
            Err(error) => {
                report.summary = format!("cannot roll back: {error}");
                return Ok(report);
            }
        };
    report.compile = Some(prepared.cache);
    let mut runner = Runner {
        audit: audit.redacting(scope.redactor.clone()),
        scope: Arc::new(scope),
        request: &request,
        prepared,
        run_id: record.run_id.clone(),
        budget: RunBudget::new(),
        rollback_budget: RunBudget::new(),
        report,
    };
    let rolled_back = runner.call(Operation::Rollback, StopSignal::new()).await?;
    let (status, summary) = rollback_status(
        RunStatus::Interrupted,
        "the run was killed before it finished; recovered by `medic recover`",
        &rolled_back,
    );
    let report = runner.finish(status, summary)?;
    journal.finish()?;
    request.audit.seal()?;
    Ok(report)
}

/// The status a failed export leads to, before rollback: interrupted, error (a limit or
/// trap stopped the guest), denied (the host refused a call, whatever the guest then
/// returned), invalid input, or rolled back (a plain failure, if rollback then succeeds).
fn failure_status(call: &CallReport, operation: &str) -> (RunStatus, String) {
    let text = format!("{operation}: {}", describe(call));
    let status = match &call.outcome {
        CallOutcome::Interrupted(_) => RunStatus::Interrupted,
        CallOutcome::Stopped(_) => RunStatus::Error,
        _ if call.denied => RunStatus::Denied,
        CallOutcome::GuestError { kind: "denied", .. } => RunStatus::Denied,
        CallOutcome::GuestError {
            kind: "invalid_input",
            ..
        } => RunStatus::InvalidInput,
        _ => RunStatus::RolledBack,
    };
    (status, text)
}

fn describe(call: &CallReport) -> String {
    let outcome = match &call.outcome {
        CallOutcome::Steps(steps) => format!("{} steps", steps.len()),
        CallOutcome::Summary(summary) => summary.clone(),
        CallOutcome::Verdict { healthy, detail } => format!(
            "{} ({detail})",
            if *healthy { "healthy" } else { "unhealthy" }
        ),
        CallOutcome::GuestError { kind, message } => format!("{kind}: {message}"),
        CallOutcome::Stopped(reason) => format!("stopped: {reason}"),
        CallOutcome::Interrupted(signal) => format!("interrupted by signal {signal}"),
    };
    match call.host_calls.iter().find(|host_call| !host_call.allowed) {
        Some(refused)
            if !matches!(call.outcome, CallOutcome::GuestError { kind: "denied", .. }) =>
        {
            format!(
                "{outcome} (the host refused `{}`: {})",
                refused.target, refused.reason
            )
        }
        _ => outcome,
    }
}

/// Keep at most [`MAX_CALL_LOG_BYTES`] of `lines`, noting what was cut.
fn bounded_logs(lines: Vec<String>) -> Vec<String> {
    let mut kept = Vec::new();
    let mut spent = 0usize;
    let mut cut = 0usize;
    for line in lines {
        if spent + line.len() > MAX_CALL_LOG_BYTES {
            cut += line.len();
            continue;
        }
        spent += line.len();
        kept.push(line);
    }
    if cut > 0 {
        kept.push(format!("medic: {cut} more bytes of output were not kept"));
    }
    kept
}

/// Audit the end of an export call and add it to the report.
fn record(audit: &AuditLog, report: &mut RunReport, call: &CallReport) -> Result<(), RunError> {
    let outcome = match &call.outcome {
        CallOutcome::Stopped(_) => "stopped",
        CallOutcome::Interrupted(_) => "interrupted",
        _ if call.denied => "denied",
        CallOutcome::GuestError { kind: "denied", .. } => "denied",
        CallOutcome::GuestError { .. } => "guest_error",
        _ => "ok",
    };
    let detail = describe(call);
    let mut logs: Vec<String> = call
        .logs
        .iter()
        .map(|line| format!("{}: {}", line.level, line.message))
        .collect();
    logs.extend(call.stdout.lines().map(|line| format!("stdout: {line}")));
    logs.extend(call.stderr.lines().map(|line| format!("stderr: {line}")));
    let logs = bounded_logs(logs);
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
    report.grants_used.extend(call.used_grants.iter().cloned());
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
    Ok(())
}
