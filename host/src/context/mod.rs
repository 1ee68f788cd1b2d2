//! Context: what the host looks like when a failure is diagnosed. Read-only probes, each
//! with a timeout, run concurrently; a failed probe is evidence, not an error.
//!
//! Owns: system resources (`resources.rs`), service probes declared in medic.toml
//! (`services.rs`), the last lines of declared log files (`logs.rs`), TCP reachability and
//! latency of declared targets (`connectivity.rs`), and turning all of it into diagnosis
//! signals. Does not own: deciding anything from it (that is `diagnosis/score.rs`).

mod connectivity;
mod logs;
mod resources;
mod services;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use connectivity::Reachability;
pub use logs::LogTail;
pub use resources::{DiskUsage, Resources};
pub use services::{ProbeKind, ProbeResult};

use crate::config::ConfigError;
use crate::diagnosis::{RootCause, Signal};
use crate::manifest::{ManifestError, Origin};

/// Default time a probe may take.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Lines of each log file kept by default.
pub const DEFAULT_LOG_LINES: usize = 50;
/// A disk or inode table this full supports `storage`.
pub const FULL_PERCENT: f64 = 95.0;
/// Available memory below this share of the total supports `resource_exhaustion`.
pub const LOW_MEMORY_PERCENT: f64 = 5.0;

/// What `medic context` collects, from `[context]` in medic.toml.
#[derive(Debug, Clone, Default)]
pub struct ContextConfig {
    /// Service probes.
    pub probes: Vec<services::Probe>,
    /// Log files to tail.
    pub logs: Vec<(PathBuf, usize)>,
    /// Targets whose reachability is measured.
    pub connectivity: Vec<connectivity::Target>,
    /// Time limit of each probe.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContext {
    timeout: Option<String>,
    #[serde(default)]
    probes: Vec<services::RawProbe>,
    #[serde(default)]
    logs: Vec<RawLog>,
    #[serde(default)]
    connectivity: Vec<connectivity::RawTarget>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    path: PathBuf,
    lines: Option<usize>,
}

/// Check `[context]`; errors name the field.
pub(crate) fn parse_context(raw: RawContext, source: &Path) -> Result<ContextConfig, ConfigError> {
    let invalid = |field: String, message: String| -> ConfigError {
        ManifestError::Invalid {
            origin: Origin {
                file: source.to_path_buf(),
                field,
                line: None,
            },
            message,
        }
        .into()
    };
    let timeout = match raw.timeout {
        Some(text) => humantime::parse_duration(&text).map_err(|error| {
            invalid(
                "context.timeout".to_string(),
                format!("`{text}` is not a duration: {error}"),
            )
        })?,
        None => DEFAULT_PROBE_TIMEOUT,
    };
    let mut probes = Vec::new();
    for (index, probe) in raw.probes.into_iter().enumerate() {
        probes.push(
            services::parse_probe(probe)
                .map_err(|message| invalid(format!("context.probes[{index}]"), message))?,
        );
    }
    let mut logs = Vec::new();
    for (index, log) in raw.logs.into_iter().enumerate() {
        if !log.path.is_absolute() {
            return Err(invalid(
                format!("context.logs[{index}].path"),
                format!("must be absolute, got `{}`", log.path.display()),
            ));
        }
        logs.push((
            log.path,
            log.lines.unwrap_or(DEFAULT_LOG_LINES).clamp(1, 1000),
        ));
    }
    let connectivity = raw
        .connectivity
        .into_iter()
        .map(connectivity::Target::from)
        .collect();
    Ok(ContextConfig {
        probes,
        logs,
        connectivity,
        timeout,
    })
}

/// Everything collected. `--json` prints it as is.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// Always 1.
    pub version: u32,
    /// CPU, memory, swap, load, disks.
    pub resources: Resources,
    /// Each configured probe.
    pub services: Vec<ProbeResult>,
    /// Each configured log file's last lines.
    pub logs: Vec<LogTail>,
    /// Each configured target.
    pub connectivity: Vec<Reachability>,
    /// How long collecting took.
    pub collected_in_ms: u64,
}

/// Collect everything concurrently; never fails: a probe that fails says so in its result.
pub async fn collect_context(config: &ContextConfig) -> Context {
    let started = Instant::now();
    let resources = tokio::task::spawn_blocking(resources::collect_resources);
    let services = services::run_probes(&config.probes, config.timeout);
    let logs = logs::tail_logs(&config.logs);
    let reach = connectivity::measure(&config.connectivity, config.timeout);
    let (resources, services, logs, connectivity) = tokio::join!(resources, services, logs, reach);
    Context {
        version: 1,
        resources: resources.unwrap_or_default(),
        services,
        logs,
        connectivity,
        collected_in_ms: started.elapsed().as_millis() as u64,
    }
}

/// The facts in `context` that support a root cause.
pub fn signals(context: &Context) -> Vec<Signal> {
    let mut signals = Vec::new();
    let mut add = |root_cause, weight, description: String, services: Vec<String>| {
        signals.push(Signal {
            root_cause,
            weight,
            description,
            services,
        })
    };
    for disk in &context.resources.disks {
        if disk.used_percent >= FULL_PERCENT {
            add(
                RootCause::Storage,
                2.5,
                format!(
                    "disk {} is {:.0}% full",
                    disk.mount_point, disk.used_percent
                ),
                Vec::new(),
            );
        }
        if disk
            .inodes_used_percent
            .is_some_and(|used| used >= FULL_PERCENT)
        {
            add(
                RootCause::Storage,
                2.5,
                format!(
                    "disk {} has used {:.0}% of its inodes",
                    disk.mount_point,
                    disk.inodes_used_percent.unwrap_or_default()
                ),
                Vec::new(),
            );
        }
    }
    let memory = &context.resources;
    if memory.memory_total_bytes > 0
        && (memory.memory_available_bytes as f64 / memory.memory_total_bytes as f64) * 100.0
            < LOW_MEMORY_PERCENT
    {
        add(
            RootCause::ResourceExhaustion,
            2.0,
            format!(
                "only {} MiB of {} MiB memory available",
                memory.memory_available_bytes >> 20,
                memory.memory_total_bytes >> 20
            ),
            Vec::new(),
        );
    }
    if memory.cpus > 0 && memory.load_average[0] > 2.0 * memory.cpus as f64 {
        add(
            RootCause::ResourceExhaustion,
            1.0,
            format!("load {:.1} on {} CPUs", memory.load_average[0], memory.cpus),
            Vec::new(),
        );
    }
    for probe in context.services.iter().filter(|probe| !probe.up) {
        add(
            RootCause::ServiceDependency,
            2.5,
            format!("probe `{}` is down: {}", probe.name, probe.detail),
            probe.service.iter().cloned().collect(),
        );
    }
    for target in context
        .connectivity
        .iter()
        .filter(|target| !target.reachable)
    {
        add(
            RootCause::Network,
            2.0,
            format!(
                "`{}` ({}) is unreachable: {}",
                target.name, target.address, target.detail
            ),
            Vec::new(),
        );
    }
    signals
}
