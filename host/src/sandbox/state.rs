//! `HostState`: what one store carries while a component runs: its WASI context (no files,
//! no sockets, no env, captured stdout/stderr), its grants, its limits, what it may not
//! reach, and its audit trail.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Operation;
use super::bindings::HostError;
use super::denial::Denial;
use super::limits::{Budget, GuestLimiter, RunBudget};
use crate::manifest::{Ceiling, Manifest};
use crate::process::CheckedProgram;
use crate::stop::StopSignal;
use crate::store::audit::{AuditEvent, AuditLog, HostCall};
use crate::store::checkpoints::Checkpoints;
use crate::store::data_dir::Protected;

/// Longest target, reason or result an audit record holds; a longer one is recorded by
/// its start, its length and its sha256, so a guest cannot bloat the log with one call.
pub(crate) const MAX_AUDIT_FIELD_BYTES: usize = 2048;
/// Bytes of an over-long field kept at its start.
const KEPT_PREFIX_BYTES: usize = 256;
/// Time kept, before a call's deadline, to record the host call under way.
const RECORD_MARGIN: std::time::Duration = std::time::Duration::from_millis(200);
/// Room a run must have left in its database budget for a host call to go ahead: the
/// largest record one call can add.
const RECORD_RESERVE: u64 = 4 * MAX_AUDIT_FIELD_BYTES as u64 + 1024;

/// What a run may do besides what its manifest says, decided by the caller before the run
/// starts: the gates read no configuration and no environment themselves.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The operator's ceiling for the manifest's risk level: every call must match it too.
    pub ceiling: Ceiling,
    /// Each exec grant's program, by its declared path, as checked at load; `None` when it
    /// does not exist on this host.
    pub programs: BTreeMap<PathBuf, Option<CheckedProgram>>,
    /// The values of the manifest's declared env names that are set on this host.
    pub env: Vec<(String, String)>,
    /// What no fs call may reach: medic's own state.
    pub protected: Protected,
    /// The secrets the manifest's grants use, resolved by the host.
    pub secrets: crate::secrets::Secrets,
    /// Cuts secret and declared env values out of everything this run writes or hands
    /// the guest.
    pub redactor: crate::secrets::Redactor,
    /// Where allowed calls take effect: this host, or a `medic test` scenario's script.
    pub world: super::world::World,
}

/// The grants in force for a call: the manifest and the run's scope.
pub(crate) struct RunGrants {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) scope: Arc<Scope>,
}

/// Identifies the run for audit records and checkpoints.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's id.
    pub run_id: String,
    /// The incident's id.
    pub incident_id: String,
}

/// A line the guest logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// `debug`, `info`, `warn`, `error` or `progress`.
    pub level: String,
    /// The message, control characters escaped.
    pub message: String,
}

/// The store's data.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: GuestLimiter,
    pub(crate) grants: Arc<RunGrants>,
    pub(crate) run: RunContext,
    pub(crate) operation: Operation,
    pub(crate) audit: AuditLog,
    pub(crate) checkpoints: Checkpoints,
    pub(crate) rates: crate::store::rates::Rates,
    pub(crate) budget: Budget,
    pub(crate) run_budget: Arc<RunBudget>,
    pub(crate) stop: StopSignal,
    pub(crate) calls: Vec<HostCall>,
    /// The manifest grants (`capabilities.exec[0]`, ...) that allowed a call.
    pub(crate) used_grants: std::collections::BTreeSet<String>,
    pub(crate) logs: Vec<LogLine>,
    /// Set when an audit write failed: the run stops, since unrecorded calls are not allowed.
    pub(crate) audit_failure: Option<String>,
    /// When the call's time is up: every host call's own waits end before it.
    pub(crate) deadline: Instant,
    /// The host call under way, allowed and acting, until it is recorded: if the call is
    /// abandoned (time limit, signal) it is recorded as abandoned.
    pub(crate) in_flight: Option<InFlight>,
}

/// A host call that was allowed and is acting.
pub(crate) struct InFlight {
    pub(crate) capability: &'static str,
    pub(crate) target: String,
    pub(crate) reason: String,
    pub(crate) started: Instant,
}

impl HostState {
    /// The remediation's name, for messages.
    pub(crate) fn remediation(&self) -> &str {
        &self.grants.manifest.name
    }

    /// Start a host call: count it (trapping past the call limit or when medic must stop)
    /// and refuse it when the run's database budget could not hold its record.
    pub(crate) fn begin(&mut self) -> wasmtime::Result<Result<(), Denial>> {
        self.budget.charge_call()?;
        Ok(self.run_budget.has_room(RECORD_RESERVE))
    }

    /// Record a refused call and hand the guest its denial.
    pub(crate) fn deny<T>(
        &mut self,
        capability: &str,
        target: String,
        denial: Denial,
        started: Instant,
    ) -> wasmtime::Result<Result<T, HostError>> {
        let reason = denial.reason.clone();
        self.record(capability, target, Err(denial), String::new(), started)?;
        Ok(Err(HostError::Denied(reason)))
    }

    /// How long a host call may still wait: up to the call's deadline less a margin for
    /// recording it, at least a moment, at most `cap`.
    pub(crate) fn remaining(&self, cap: std::time::Duration) -> std::time::Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(RECORD_MARGIN)
            .max(std::time::Duration::from_millis(10))
            .min(cap)
    }

    /// Note that the manifest grant declared at `origin` allowed a call.
    pub(crate) fn used_grant(&mut self, origin: &crate::manifest::Origin) {
        if !self.used_grants.contains(&origin.field) {
            self.used_grants.insert(origin.field.clone());
        }
    }

    /// Mark an allowed call as acting, until [`HostState::record`] records it.
    pub(crate) fn acting(
        &mut self,
        capability: &'static str,
        target: &str,
        reason: &str,
        started: Instant,
    ) {
        self.in_flight = Some(InFlight {
            capability,
            target: target.to_string(),
            reason: reason.to_string(),
            started,
        });
    }

    /// Record one host call durably before the guest sees its result. If the audit log
    /// cannot be written the call must not be reported done: the caller traps.
    pub(crate) fn record(
        &mut self,
        capability: &str,
        target: String,
        decision: Result<String, Denial>,
        result: String,
        started: Instant,
    ) -> wasmtime::Result<()> {
        let (allowed, reason, denial) = match decision {
            Ok(reason) => (true, reason, None),
            Err(denial) => (false, denial.reason, Some(denial.kind)),
        };
        let redactor = &self.grants.scope.redactor;
        let call = HostCall {
            operation: self.operation.as_str().to_string(),
            capability: capability.to_string(),
            target: bounded(redactor.redact(&target).into_owned()),
            allowed,
            reason: bounded(redactor.redact(&reason).into_owned()),
            denial,
            result: bounded(redactor.redact(&result).into_owned()),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        if !allowed {
            tracing::debug!(remediation = %self.remediation(), capability, target = %call.target, reason = %call.reason, "denied");
        }
        let event = AuditEvent::HostCall(call.clone());
        match self.audit.append(&self.run.run_id, &event) {
            Ok(written) => self.run_budget.add_record(written),
            Err(error) => {
                let message = format!("audit log write failed, stopping the run: {error}");
                self.audit_failure = Some(message.clone());
                return Err(wasmtime::Error::msg(message));
            }
        }
        self.in_flight = None;
        self.calls.push(call);
        Ok(())
    }
}

/// `text` whole when short, else its start, its length and its sha256.
pub(crate) fn bounded(text: String) -> String {
    if text.len() <= MAX_AUDIT_FIELD_BYTES {
        return text;
    }
    let mut cut = KEPT_PREFIX_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… ({} bytes, sha256 {})",
        &text[..cut],
        text.len(),
        hex::encode(Sha256::digest(text.as_bytes()))
    )
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for HostState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl super::bindings::medic::remediation::types::Host for HostState {}

/// Escape control and bidi characters so guest text cannot rewrite an operator's terminal.
pub(crate) fn escape_text(text: &str) -> String {
    crate::text::escape_control(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_audit_fields_keep_their_start_length_and_hash() {
        assert_eq!(bounded("short".to_string()), "short");
        let long = "é".repeat(MAX_AUDIT_FIELD_BYTES);
        let kept = bounded(long.clone());
        assert!(kept.len() < 400, "{}", kept.len());
        assert!(kept.ends_with(&format!(
            "… ({} bytes, sha256 {})",
            long.len(),
            hex::encode(Sha256::digest(long.as_bytes()))
        )));
    }
}
