//! `medic context [--json]`.

use std::path::PathBuf;

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the context as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    let runtime = super::runtime()?;
    let context = runtime.block_on(medic::context::collect_context(&config.context));
    if args.json {
        out.json(&context)?;
        return Ok(Exit::Success);
    }
    let resources = &context.resources;
    out.line(format!(
        "cpu: {} cores, {:.1}% busy, load {:.2} {:.2} {:.2}",
        resources.cpus,
        resources.cpu_percent,
        resources.load_average[0],
        resources.load_average[1],
        resources.load_average[2]
    ))?;
    out.line(format!(
        "memory: {} MiB available of {} MiB; swap {} MiB used of {} MiB",
        resources.memory_available_bytes >> 20,
        resources.memory_total_bytes >> 20,
        resources.swap_used_bytes >> 20,
        resources.swap_total_bytes >> 20
    ))?;
    for disk in &resources.disks {
        let inodes = disk
            .inodes_used_percent
            .map_or_else(|| "n/a".to_string(), |used| format!("{used:.1}%"));
        out.line(format!(
            "disk {:<24} {:>5.1}% used of {} MiB ({}), inodes {inodes}",
            disk.mount_point,
            disk.used_percent,
            disk.total_bytes >> 20,
            disk.file_system
        ))?;
    }
    for probe in &context.services {
        out.line(format!(
            "probe {:<20} {} {}",
            probe.name,
            if probe.up { "up  " } else { "DOWN" },
            probe.detail
        ))?;
    }
    for target in &context.connectivity {
        let latency = target
            .latency_ms
            .map_or_else(String::new, |ms| format!(" in {ms} ms"));
        out.line(format!(
            "reach {:<20} {} {}{latency}",
            target.name,
            if target.reachable { "ok  " } else { "FAIL" },
            target.address
        ))?;
    }
    for log in &context.logs {
        out.line(format!(
            "log {} ({} lines){}",
            log.path,
            log.lines.len(),
            log.error
                .as_ref()
                .map_or_else(String::new, |error| format!(": {error}"))
        ))?;
        for line in &log.lines {
            out.line(format!("  {line}"))?;
        }
    }
    out.line(format!("collected in {} ms", context.collected_in_ms))?;
    Ok(Exit::Success)
}
