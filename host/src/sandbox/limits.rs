//! The `limits` gate: memory, CPU time, wasm stack, output and host-call counts.
//!
//! - memory: `StoreLimits` caps each linear memory at the manifest's `memory` and traps
//!   on a failed grow, so a memory bomb stops with a named error;
//! - CPU time: an epoch deadline (one engine tick every [`EPOCH_TICK`]) traps a guest
//!   that computes past its `timeout`; a tokio timeout around the whole call also covers
//!   time spent inside host calls, which epochs cannot interrupt;
//! - stack: the engine's `max_wasm_stack` ([`MAX_WASM_STACK`]) turns deep recursion into a
//!   stack-overflow trap;
//! - output: stdout and stderr pipes hold at most `output` bytes each, and log messages
//!   share a budget of `output` bytes; past it the guest traps;
//! - host calls: at most [`MAX_HOST_CALLS`] per call, so a guest cannot flood the audit log.

use std::time::Duration;

use wasmtime::{StoreLimits, StoreLimitsBuilder};

use crate::manifest::Limits;

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The largest wasm stack a guest may use (wasmtime's default, stated here on purpose).
pub const MAX_WASM_STACK: usize = 512 << 10;
/// Host calls one export call may make (exec, http, fs, env, checkpoint, log).
pub const MAX_HOST_CALLS: u32 = 2_000;
/// Core instances, tables and memories per store: enough for a Rust component.
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 8;
/// Extra wall time after `timeout` before the whole call is abandoned.
pub const GRACE: Duration = Duration::from_millis(500);

/// Marker words in trap messages, so a report can say which limit stopped the guest.
pub(crate) const HOST_CALL_LIMIT: &str = "host-call limit exceeded";
pub(crate) const LOG_LIMIT: &str = "log output limit exceeded";

/// Per-call counters.
#[derive(Debug)]
pub(crate) struct Budget {
    host_calls: u32,
    log_bytes: u64,
    max_log_bytes: u64,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Budget {
            host_calls: 0,
            log_bytes: 0,
            max_log_bytes: limits.output,
        }
    }

    /// Count one host call; trap past [`MAX_HOST_CALLS`].
    pub(crate) fn charge_call(&mut self) -> wasmtime::Result<()> {
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

/// The store limiter for a manifest's limits.
pub(crate) fn store_limits(limits: &Limits) -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(usize::try_from(limits.memory).unwrap_or(usize::MAX))
        .instances(MAX_INSTANCES)
        .tables(MAX_TABLES)
        .memories(MAX_MEMORIES)
        .trap_on_grow_failure(true)
        .build()
}

/// Epoch ticks for `timeout`, at least one.
pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Name the limit a trap came from, for the operator. `output_full` says whether stdout
/// or stderr reached its cap: a guest whose write failed there usually panics (a wasm
/// `unreachable` trap), so the full pipe is the real cause.
pub(crate) fn describe_trap(error: &wasmtime::Error, limits: &Limits, output_full: bool) -> String {
    let chain = format!("{error:#}");
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
