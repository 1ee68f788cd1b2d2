//! The `limits` gate: every cost a guest can cause is bounded before it is paid.
//!
//! - memory and tables: `GuestLimiter` caps each linear memory at the manifest's `memory`
//!   and each table at [`MAX_TABLE_ELEMENTS`], traps on a failed grow, and tracks how much
//!   memory the guest holds, so a host call never hands back more bytes than the guest has
//!   room for (`GuestLimiter::room`);
//! - CPU time: an epoch deadline (one tick every [`EPOCH_TICK`]) traps a guest that
//!   computes past its `timeout`; a tokio timeout around the whole call also covers time
//!   spent inside host calls, which epochs cannot interrupt;
//! - a stop (SIGINT, SIGTERM) traps the guest at its next host call or epoch tick;
//! - stack: the engine's `max_wasm_stack` ([`MAX_WASM_STACK`]);
//! - output: stdout and stderr pipes hold at most `output` bytes each, and log messages
//!   share a budget of `output` bytes; past it the guest traps;
//! - host calls: at most [`MAX_HOST_CALLS`] per call;
//! - per run ([`RunBudget`], shared by a run's export calls): bytes written to files
//!   ([`MAX_RUN_WRITE_BYTES`]) and bytes added to medic's database ([`MAX_RUN_RECORD_BYTES`]);
//!   a call past either is denied (`over_cap`) and audited like any other denial;
//! - compilation: a component larger than [`MAX_COMPONENT_BYTES`] is refused, and
//!   compiling stops waiting after [`COMPILE_DEADLINE`] (`engine.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use super::denial::{Denial, DenialKind};
use crate::manifest::Limits;
use crate::stop::StopSignal;

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The largest wasm stack a guest may use (wasmtime's default, stated here on purpose).
pub const MAX_WASM_STACK: usize = 512 << 10;
/// Host calls one export call may make (exec, http, fs, env, checkpoint, log).
pub const MAX_HOST_CALLS: u32 = 2_000;
/// Elements one table may hold: a Rust or Python component needs tens of thousands; a
/// table of millions is an attack on host memory (each element is a pointer).
pub const MAX_TABLE_ELEMENTS: usize = 1 << 18;
/// Core instances, tables and memories per store: enough for a Rust or Python component.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;
/// Extra wall time after `timeout` before the whole call is abandoned.
pub const GRACE: Duration = Duration::from_millis(500);
/// The largest component medic compiles (a Python component is about 40 MiB).
pub const MAX_COMPONENT_BYTES: u64 = 128 << 20;
/// How long medic waits for a component to compile.
pub const COMPILE_DEADLINE: Duration = Duration::from_secs(120);
/// Bytes one `fs.write` may carry.
pub const MAX_WRITE_BYTES: usize = 8 << 20;
/// Bytes one run may write to files, all calls together.
pub const MAX_RUN_WRITE_BYTES: u64 = 64 << 20;
/// Bytes one run may add to medic's database (audit records and checkpoints).
pub const MAX_RUN_RECORD_BYTES: u64 = 32 << 20;
/// Directories one `create-dir` may create (the missing parents included).
pub const MAX_DIRS_PER_CALL: usize = 16;
/// Directories one run may create, all calls together.
pub const MAX_RUN_DIRS: u64 = 1024;
/// Memory a host call leaves the guest beyond the bytes it returns, for the guest's own
/// copies and bookkeeping.
const ROOM_MARGIN: usize = 256 << 10;

/// Marker words in trap messages, so a report can say which limit stopped the guest.
pub(crate) const HOST_CALL_LIMIT: &str = "host-call limit exceeded";
pub(crate) const LOG_LIMIT: &str = "log output limit exceeded";

/// The guest was stopped because medic was asked to stop (SIGINT, SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted: medic received signal {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The store's resource limiter: wasmtime's `StoreLimits` (each memory, tables, counts),
/// plus the guest's linear memory in total across all its memories, capped at the
/// manifest's `memory` too, so extra memories buy no extra room.
pub(crate) struct GuestLimiter {
    limits: StoreLimits,
    memory_cap: usize,
    memory_held: usize,
}

/// The trap message for a memory growth past the total, in the words `describe_trap` knows.
const TOTAL_MEMORY_TRAP: &str =
    "forcing trap when growing memory: the guest's memories together would pass its limit";

impl GuestLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        let memory_cap = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        GuestLimiter {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_cap)
                .table_elements(MAX_TABLE_ELEMENTS)
                .instances(MAX_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .trap_on_grow_failure(true)
                .build(),
            memory_cap,
            memory_held: 0,
        }
    }

    /// Bytes a host call may hand the guest: what its memory can still grow by, less a
    /// margin.
    pub(crate) fn room(&self) -> usize {
        self.memory_cap
            .saturating_sub(self.memory_held)
            .saturating_sub(ROOM_MARGIN)
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_held
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.memory_cap {
            return Err(wasmtime::Error::msg(TOTAL_MEMORY_TRAP));
        }
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory_held = total;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// Per-call counters.
#[derive(Debug)]
pub(crate) struct Budget {
    host_calls: u32,
    log_bytes: u64,
    max_log_bytes: u64,
    stop: StopSignal,
}

impl Budget {
    pub(crate) fn new(limits: &Limits, stop: StopSignal) -> Self {
        Budget {
            host_calls: 0,
            log_bytes: 0,
            max_log_bytes: limits.output,
            stop,
        }
    }

    /// Count one host call; trap past [`MAX_HOST_CALLS`], or when medic must stop.
    pub(crate) fn charge_call(&mut self) -> wasmtime::Result<()> {
        if let Some(signal) = self.stop.raised() {
            return Err(wasmtime::Error::new(Interrupted(signal)));
        }
        self.host_calls += 1;
        if self.host_calls > MAX_HOST_CALLS {
            return Err(wasmtime::Error::msg(format!(
                "{HOST_CALL_LIMIT}: more than {MAX_HOST_CALLS} host calls"
            )));
        }
        Ok(())
    }

    /// Count `bytes` of log output; trap past the manifest's `output`.
    pub(crate) fn charge_log(&mut self, bytes: usize) -> wasmtime::Result<()> {
        self.log_bytes += bytes as u64;
        if self.log_bytes > self.max_log_bytes {
            return Err(wasmtime::Error::msg(format!(
                "{LOG_LIMIT}: more than {} bytes",
                self.max_log_bytes
            )));
        }
        Ok(())
    }
}

/// What one run has spent, shared by its export calls.
#[derive(Debug, Default)]
pub struct RunBudget {
    written: AtomicU64,
    recorded: AtomicU64,
    directories: AtomicU64,
}

impl RunBudget {
    /// A fresh budget.
    pub fn new() -> Arc<RunBudget> {
        Arc::new(RunBudget::default())
    }

    /// Reserve `bytes` of file writes, or say why not.
    pub(crate) fn charge_write(&self, bytes: u64) -> Result<(), Denial> {
        charge(&self.written, bytes, MAX_RUN_WRITE_BYTES).map_err(|spent| {
            Denial::new(
                DenialKind::OverCap,
                format!(
                    "writing {bytes} more bytes would take this run past its {MAX_RUN_WRITE_BYTES}-byte write budget ({spent} written)"
                ),
            )
        })
    }

    /// Reserve `bytes` of database growth, or say why not.
    pub(crate) fn charge_record(&self, bytes: u64) -> Result<(), Denial> {
        charge(&self.recorded, bytes, MAX_RUN_RECORD_BYTES).map_err(|spent| {
            Denial::new(
                DenialKind::OverCap,
                format!(
                    "this run has added {spent} bytes to medic's database; {bytes} more would pass its {MAX_RUN_RECORD_BYTES}-byte budget"
                ),
            )
        })
    }

    /// Whether `bytes` more could still be added to medic's database (without charging them).
    pub(crate) fn has_room(&self, bytes: u64) -> Result<(), Denial> {
        let spent = self.recorded.load(Ordering::Relaxed);
        if spent.saturating_add(bytes) > MAX_RUN_RECORD_BYTES {
            return Err(Denial::new(
                DenialKind::OverCap,
                format!(
                    "this run has added {spent} bytes to medic's database, too near its {MAX_RUN_RECORD_BYTES}-byte budget for another host call"
                ),
            ));
        }
        Ok(())
    }

    /// Reserve `count` directories to create, or say why not.
    pub(crate) fn charge_directories(&self, count: u64) -> Result<(), Denial> {
        charge(&self.directories, count, MAX_RUN_DIRS).map_err(|spent| {
            Denial::new(
                DenialKind::OverCap,
                format!(
                    "creating {count} more directories would take this run past its {MAX_RUN_DIRS} ({spent} created)"
                ),
            )
        })
    }

    /// Count `bytes` of database growth that must be recorded whatever the budget (the
    /// record of a denial).
    pub(crate) fn add_record(&self, bytes: u64) {
        self.recorded.fetch_add(bytes, Ordering::Relaxed);
    }
}

fn charge(counter: &AtomicU64, bytes: u64, cap: u64) -> Result<(), u64> {
    counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
            spent.checked_add(bytes).filter(|total| *total <= cap)
        })
        .map(|_| ())
}

/// Name the limit a trap came from, for the operator. `output_full` says whether stdout
/// or stderr reached its cap: a guest whose write failed there usually panics (a wasm
/// `unreachable` trap), so the full pipe is the real cause.
pub(crate) fn describe_trap(error: &wasmtime::Error, limits: &Limits, output_full: bool) -> String {
    let chain = format!("{error:#}");
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        return interrupted.to_string();
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::Interrupt => {
                return format!(
                    "time limit: stopped after {} of computation",
                    humantime::format_duration(limits.timeout)
                );
            }
            wasmtime::Trap::StackOverflow => {
                return "stack limit: the guest overflowed its wasm stack".to_string();
            }
            _ => {}
        }
    }
    if chain.contains("forcing trap when growing memory") || chain.contains("memory minimum size") {
        return format!(
            "memory limit: the guest tried to grow past {} bytes",
            limits.memory
        );
    }
    if chain.contains("forcing trap when growing table") || chain.contains("table minimum size") {
        return format!(
            "table limit: the guest asked for more than {MAX_TABLE_ELEMENTS} table elements"
        );
    }
    if output_full || chain.contains("write beyond capacity of MemoryOutputPipe") {
        return format!(
            "output limit: the guest wrote more than {} bytes to stdout or stderr",
            limits.output
        );
    }
    if let Some(cause) = error
        .chain()
        .map(ToString::to_string)
        .find(|cause| cause.contains(LOG_LIMIT) || cause.contains(HOST_CALL_LIMIT))
    {
        return cause;
    }
    format!("the guest trapped: {}", error.root_cause())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_budgets_refuse_past_their_cap_and_keep_the_count() {
        let budget = RunBudget::default();
        assert!(budget.charge_write(MAX_RUN_WRITE_BYTES - 1).is_ok());
        let denial = budget.charge_write(2).unwrap_err();
        assert_eq!(denial.kind, DenialKind::OverCap);
        assert!(
            budget.charge_write(1).is_ok(),
            "a refused charge is not counted"
        );
        assert!(budget.charge_write(1).is_err());
    }
}
