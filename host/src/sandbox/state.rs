//! `HostState`: what one store carries while a component runs: its WASI context (no files,
//! no sockets, no env, captured stdout/stderr), its grants, its limits and its audit trail.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::fs::FsRoots;
use super::limits::Budget;
use crate::audit::{AuditEvent, AuditLog, HostCall};
use crate::checkpoint::Checkpoints;
use crate::manifest::{Ceiling, Manifest};

/// The grants in force for a run: a call must match both.
pub(crate) struct RunGrants {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) ceiling: Ceiling,
}

/// Identifies the run for audit records and checkpoints.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's id.
    pub run_id: String,
    /// The incident's id (checkpoints are kept per incident).
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
    pub(crate) store_limits: StoreLimits,
    pub(crate) grants: Arc<RunGrants>,
    pub(crate) run: RunContext,
    pub(crate) operation: &'static str,
    pub(crate) audit: AuditLog,
    pub(crate) checkpoints: Checkpoints,
    pub(crate) fs_roots: FsRoots,
    pub(crate) budget: Budget,
    pub(crate) calls: Vec<HostCall>,
    pub(crate) logs: Vec<LogLine>,
    /// Environment values handed to the guest, redacted from everything it reports.
    pub(crate) revealed: Vec<(String, String)>,
    /// Set when an audit write failed: the run stops, since unrecorded calls are not allowed.
    pub(crate) audit_failure: Option<String>,
}

impl HostState {
    /// The remediation's name, for messages.
    pub(crate) fn remediation(&self) -> &str {
        &self.grants.manifest.name
    }

    /// Record one host call durably before the guest sees its result. If the audit log
    /// cannot be written the call must not be reported done: the caller traps.
    pub(crate) fn record(
        &mut self,
        capability: &str,
        target: String,
        decision: Result<String, String>,
        result: String,
        started: Instant,
    ) -> wasmtime::Result<()> {
        let (allowed, reason) = match decision {
            Ok(reason) => (true, reason),
            Err(reason) => (false, reason),
        };
        let call = HostCall {
            operation: self.operation.to_string(),
            capability: capability.to_string(),
            target,
            allowed,
            reason,
            result,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        if !allowed {
            tracing::debug!(remediation = %self.remediation(), capability, target = %call.target, reason = %call.reason, "denied");
        }
        if let Err(error) = self
            .audit
            .append(&self.run.run_id, &AuditEvent::HostCall(call.clone()))
        {
            let message = format!("audit log write failed, stopping the run: {error}");
            self.audit_failure = Some(message.clone());
            return Err(wasmtime::Error::msg(message));
        }
        self.calls.push(call);
        Ok(())
    }
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
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
        if (c.is_control() && c != '\t') || bidi {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    escaped
}
