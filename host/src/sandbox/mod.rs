//! Runs one export of one remediation component in a fresh store, with only medic's host
//! interfaces and a minimal WASI (io, cli without env or args, clocks, random) linked.
//!
//! Owns: the engine and linker (`engine.rs`), the store's data (`state.rs`) and the gates,
//! one file per capability: `exec.rs`, `http.rs`, `fs.rs`, `env.rs`, `limits.rs`. Nothing
//! else decides a host call. Does not own: choosing what to call in which order (`heal/`).
//!
//! wasi:filesystem and wasi:sockets are never added to the linker, so a component that
//! imports them fails in `prepare`, before it runs.

mod bindings;
mod checkpoint;
pub mod denial;
mod engine;
pub mod env;
pub mod exec;
pub mod fs;
pub mod http;
pub mod limits;
mod log;
mod rate;
mod state;
pub mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::bindings::{cli, clocks, random};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

pub use denial::{Denial, DenialKind};
pub use engine::{CacheKey, CacheUse};
pub use limits::{Interrupted, RunBudget};
pub use state::{LogLine, RunContext, Scope};
pub use world::{Scripted, ScriptedExec, ScriptedResponse, World};

use crate::incident::Incident;
use crate::manifest::Manifest;
use crate::stop::StopSignal;
use crate::store::audit::{AuditLog, HostCall};
use crate::store::checkpoints::Checkpoints;
use bindings::{HostError, RemediationWorld, RemediationWorldPre};
use state::{HostState, RunGrants, escape_text};

/// Why a component could not be made ready to run.
#[derive(Debug, Error)]
pub enum SandboxError {
    /// The engine could not be set up.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component.
    #[error("component does not compile: {0}")]
    Compile(String),
    /// The component imports something medic does not provide (e.g. wasi:filesystem).
    #[error("component cannot be linked: {0}")]
    Link(String),
    /// medic was asked to stop (this signal) while it compiled.
    #[error("stopped by signal {0} while compiling")]
    Interrupted(i32),
    /// The component is larger than medic compiles.
    #[error("component has {size} bytes, more than the {cap}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        cap: u64,
    },
}

/// One of the four exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Dry run.
    Plan,
    /// Make the change.
    Apply,
    /// Check it worked.
    Verify,
    /// Undo it.
    Rollback,
}

impl Operation {
    /// The export's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Plan => "plan",
            Operation::Apply => "apply",
            Operation::Verify => "verify",
            Operation::Rollback => "rollback",
        }
    }
}

/// A step from `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// `exec`, `http`, `fs`, `env` or `none`.
    pub capability: String,
    /// What it touches.
    pub target: String,
    /// Why.
    pub detail: String,
}

/// How an export call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// `plan` returned steps.
    Steps(Vec<PlannedStep>),
    /// `apply` or `rollback` returned a summary.
    Summary(String),
    /// `verify` returned a verdict.
    Verdict {
        /// Healed or not.
        healthy: bool,
        /// The evidence.
        detail: String,
    },
    /// The guest returned an error.
    GuestError {
        /// `denied`, `not_found`, `failed` or `invalid_input`, as the guest said.
        kind: &'static str,
        /// The guest's message.
        message: String,
    },
    /// The guest was stopped: a limit, a trap, a timeout.
    Stopped(String),
    /// The guest was stopped because medic received this signal.
    Interrupted(i32),
}

/// Everything one export call produced.
#[derive(Debug, Clone)]
pub struct CallReport {
    /// Which export.
    pub operation: Operation,
    /// Its result.
    pub outcome: CallOutcome,
    /// Every host call, in order.
    pub host_calls: Vec<HostCall>,
    /// The manifest grants (`capabilities.exec[0]`, ...) that allowed a call.
    pub used_grants: std::collections::BTreeSet<String>,
    /// True when the host refused any of them, whatever the guest then returned.
    pub denied: bool,
    /// Log and progress lines.
    pub logs: Vec<LogLine>,
    /// Captured stdout, escaped.
    pub stdout: String,
    /// Captured stderr, escaped.
    pub stderr: String,
    /// Wall time.
    pub duration: Duration,
}

/// What a call needs besides the component: who it is for, what it may do besides its
/// manifest, where it records, and what stops it.
pub struct CallContext {
    /// The run and incident ids.
    pub run: RunContext,
    /// Where host calls are recorded.
    pub audit: AuditLog,
    /// This run's checkpoints.
    pub checkpoints: Checkpoints,
    /// The rate-limit counters.
    pub rates: crate::store::rates::Rates,
    /// The ceiling, the checked programs, the env values, what it may not reach.
    pub scope: Arc<Scope>,
    /// What the run has spent so far, across its calls.
    pub run_budget: Arc<RunBudget>,
    /// Raised by SIGINT or SIGTERM: the guest stops at its next host call or epoch tick.
    pub stop: StopSignal,
}

/// Most steps a `plan` report keeps.
pub const MAX_STEPS: usize = 256;

/// A guest's text, escaped for terminals and cut to [`state::MAX_AUDIT_FIELD_BYTES`]
/// (start, length and hash kept) before medic stores or copies it.
fn guest_text(text: String) -> String {
    state::bounded(escape_text(&text))
}

/// A compiled, linked remediation, ready to instantiate many times.
pub struct Prepared {
    pre: RemediationWorldPre<HostState>,
    manifest: Arc<Manifest>,
    /// Whether compiling was needed.
    pub cache: CacheUse,
}

/// The engine and linker; create one per process.
pub struct Sandbox {
    engine: engine::MedicEngine,
    linker: Linker<HostState>,
}

impl Sandbox {
    /// An engine caching compiled components under `cache` (none: no cache).
    pub fn new(cache: Option<CacheKey>) -> Result<Self, SandboxError> {
        let engine = engine::MedicEngine::new(cache)?;
        let linker = build_linker(&engine.engine)
            .map_err(|error| SandboxError::Engine(format!("{error:#}")))?;
        Ok(Sandbox { engine, linker })
    }

    /// Compile (or load from cache) and link `wasm`, whose sha256 the caller has checked
    /// against `manifest`. Fails if the component imports anything medic does not provide.
    pub fn prepare(
        &self,
        manifest: Arc<Manifest>,
        wasm: &[u8],
        stop: &StopSignal,
    ) -> Result<Prepared, SandboxError> {
        if wasm.len() as u64 > limits::MAX_COMPONENT_BYTES {
            return Err(SandboxError::TooLarge {
                size: wasm.len(),
                cap: limits::MAX_COMPONENT_BYTES,
            });
        }
        let (component, cache) = self.engine.compile(wasm, &manifest.sha256, stop)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| link_error(&format!("{error:#}")))?;
        let pre = RemediationWorldPre::new(instance_pre)
            .map_err(|error| link_error(&format!("{error:#}")))?;
        Ok(Prepared {
            pre,
            manifest,
            cache,
        })
    }

    /// Call one export in a fresh instance, under the manifest's limits. Never panics on
    /// anything the guest does; a trap or timeout comes back as [`CallOutcome::Stopped`].
    pub async fn call(
        &self,
        prepared: &Prepared,
        operation: Operation,
        incident: &Incident,
        context: CallContext,
    ) -> CallReport {
        let started = Instant::now();
        let limits = prepared.manifest.limits;
        let output_cap = usize::try_from(limits.output).unwrap_or(usize::MAX);
        let stdout = MemoryOutputPipe::new(output_cap);
        let stderr = MemoryOutputPipe::new(output_cap);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let stop = context.stop.clone();
        let context_stop = context.stop.clone();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: limits::GuestLimiter::new(&limits),
            grants: Arc::new(RunGrants {
                manifest: prepared.manifest.clone(),
                scope: context.scope,
            }),
            run: context.run,
            operation,
            audit: context.audit,
            checkpoints: context.checkpoints,
            rates: context.rates,
            budget: limits::Budget::new(&limits, context.stop.clone()),
            run_budget: context.run_budget,
            stop: context.stop,
            calls: Vec::new(),
            used_grants: Default::default(),
            logs: Vec::new(),
            audit_failure: None,
            deadline: started + limits.timeout,
            in_flight: None,
        };
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Check at every tick whether medic must stop; trap once the call's wall-clock time
        // (host calls included) is up.
        let deadline = started + limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if let Some(signal) = stop.raised() {
                return Err(wasmtime::Error::new(Interrupted(signal)));
            }
            if Instant::now() >= deadline {
                return Err(wasmtime::Error::new(wasmtime::Trap::Interrupt));
            }
            Ok(UpdateDeadline::Continue(1))
        });

        let wit_incident = to_wit(incident);
        let run = async {
            let instance: RemediationWorld = prepared.pre.instantiate_async(&mut store).await?;
            let guest = instance.medic_remediation_remediation();
            // Whatever the guest returns is cut to size before anything else holds a copy.
            let outcome = match operation {
                Operation::Plan => guest
                    .call_plan(&mut store, &wit_incident)
                    .await?
                    .map(|steps| {
                        CallOutcome::Steps(
                            steps
                                .into_iter()
                                .take(MAX_STEPS)
                                .map(|step| PlannedStep {
                                    capability: guest_text(step.capability),
                                    target: guest_text(step.target),
                                    detail: guest_text(step.detail),
                                })
                                .collect(),
                        )
                    }),
                Operation::Apply => guest
                    .call_apply(&mut store, &wit_incident)
                    .await?
                    .map(|text| CallOutcome::Summary(guest_text(text))),
                Operation::Verify => {
                    guest
                        .call_verify(&mut store, &wit_incident)
                        .await?
                        .map(|verdict| CallOutcome::Verdict {
                            healthy: verdict.healthy,
                            detail: guest_text(verdict.detail),
                        })
                }
                Operation::Rollback => guest
                    .call_rollback(&mut store, &wit_incident)
                    .await?
                    .map(|text| CallOutcome::Summary(guest_text(text))),
            };
            Ok::<_, wasmtime::Error>(outcome.unwrap_or_else(guest_error))
        };
        // The call ends at its result, at its time limit (even inside a host call: the
        // future is dropped, which kills any program it started), or when medic must stop
        // (even while the guest waits in a WASI poll, where no epoch check runs).
        let stopped = context_stop.clone();
        let outcome = tokio::select! {
            result = tokio::time::timeout(limits.timeout + limits::GRACE, run) => match result {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(error)) => match error.downcast_ref::<Interrupted>() {
                    Some(Interrupted(signal)) => CallOutcome::Interrupted(*signal),
                    None => {
                        let output_full = stdout.contents().len() >= output_cap
                            || stderr.contents().len() >= output_cap;
                        CallOutcome::Stopped(limits::describe_trap(&error, &limits, output_full))
                    }
                },
                Err(_) => CallOutcome::Stopped(format!(
                    "time limit: the call did not finish within {} (a host call was still running)",
                    humantime::format_duration(limits.timeout)
                )),
            },
            () = stopped.wait() => CallOutcome::Interrupted(stopped.raised().unwrap_or(0)),
        };
        if let Some(in_flight) = store.data_mut().in_flight.take() {
            let why = match &outcome {
                CallOutcome::Interrupted(signal) => format!("stopped by signal {signal}"),
                _ => "stopped at the call's time limit".to_string(),
            };
            let _ = store.data_mut().record(
                in_flight.capability,
                in_flight.target,
                Ok(in_flight.reason),
                format!("abandoned: {why} before it returned; anything it started was killed"),
                in_flight.started,
            );
        }
        let state = store.into_data();
        let outcome = match state.audit_failure {
            Some(failure) => CallOutcome::Stopped(failure),
            None => redact_outcome(outcome, &state.grants.scope.redactor),
        };
        let redactor = &state.grants.scope.redactor;
        let redact = |text: &str| redactor.redact(text).into_owned();
        let captured =
            |bytes: &[u8]| escape_text(&String::from_utf8_lossy(&redactor.redact_bytes(bytes)));
        let denied = state.calls.iter().any(|call| !call.allowed);
        CallReport {
            operation,
            outcome,
            denied,
            host_calls: state.calls,
            used_grants: state.used_grants,
            logs: state
                .logs
                .iter()
                .map(|line| LogLine {
                    level: line.level.clone(),
                    message: redact(&line.message),
                })
                .collect(),
            stdout: captured(&stdout.contents()),
            stderr: captured(&stderr.contents()),
            duration: started.elapsed(),
        }
    }
}

fn redact_outcome(outcome: CallOutcome, redactor: &crate::secrets::Redactor) -> CallOutcome {
    if redactor.is_empty() {
        return outcome;
    }
    let redact = |text: &str| redactor.redact(text).into_owned();
    match outcome {
        CallOutcome::Steps(steps) => CallOutcome::Steps(
            steps
                .into_iter()
                .map(|step| PlannedStep {
                    capability: step.capability,
                    target: redact(&step.target),
                    detail: redact(&step.detail),
                })
                .collect(),
        ),
        CallOutcome::Summary(text) => CallOutcome::Summary(redact(&text)),
        CallOutcome::Verdict { healthy, detail } => CallOutcome::Verdict {
            healthy,
            detail: redact(&detail),
        },
        CallOutcome::GuestError { kind, message } => CallOutcome::GuestError {
            kind,
            message: redact(&message),
        },
        CallOutcome::Stopped(reason) => CallOutcome::Stopped(redact(&reason)),
        CallOutcome::Interrupted(signal) => CallOutcome::Interrupted(signal),
    }
}

fn guest_error(error: HostError) -> CallOutcome {
    let (kind, message) = match error {
        HostError::Denied(message) => ("denied", message),
        HostError::NotFound(message) => ("not_found", message),
        HostError::Failed(message) => ("failed", message),
        HostError::InvalidInput(message) => ("invalid_input", message),
    };
    CallOutcome::GuestError {
        kind,
        message: guest_text(message),
    }
}

fn to_wit(incident: &Incident) -> bindings::Incident {
    bindings::Incident {
        id: incident.id.clone(),
        source: incident.source.as_str().to_string(),
        resource_kind: incident.resource.kind.clone(),
        resource_id: incident.resource.id.clone(),
        issue_type: incident.issue_type.clone(),
        summary: incident.summary.clone(),
        labels: incident
            .labels
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        params: incident
            .params
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    }
}

/// The linker: WASI io, cli (no env, args or stdin content), clocks and random, then
/// medic's interfaces. Nothing else, on purpose.
fn build_linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::clocks::WasiClocks;
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::{WasiView, cli::WasiCliView, clocks::WasiClocksView};

    let mut linker = Linker::new(engine);
    let l = &mut linker;
    wasmtime_wasi_io::add_to_linker_async(l)?;
    cli::exit::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stderr::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    clocks::wall_clock::add_to_linker::<HostState, WasiClocks>(l, HostState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<HostState, WasiClocks>(l, HostState::clocks)?;
    random::random::add_to_linker::<HostState, WasiRandom>(l, |state| state.ctx().ctx.random())?;
    random::insecure::add_to_linker::<HostState, WasiRandom>(l, |state| state.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(l, |state| {
        state.ctx().ctx.random()
    })?;
    RemediationWorld::add_to_linker::<HostState, HasSelf<HostState>>(l, |state| state)?;
    Ok(linker)
}

/// A link failure, saying what to do when the component speaks another version of
/// medic's contract (its imports or exports name `medic:remediation/...@` another version).
fn link_error(message: &str) -> SandboxError {
    let contract = crate::authoring::CONTRACT;
    if message.contains("medic:remediation/") {
        SandboxError::Link(format!(
            "{message}; this medic implements {contract}: rebuild the remediation against it (`medic new` vendors that contract; then `medic build`)"
        ))
    } else {
        SandboxError::Link(message.to_string())
    }
}
