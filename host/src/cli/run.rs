//! `medic run REMEDIATION --incident FILE [--dry-run] [--json]`.

use std::path::{Path, PathBuf};

use medic::heal::{RunReport, RunStatus};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A bundled remediation's name, or a directory holding remediation.toml.
    pub(crate) remediation: String,
    /// The incident, as JSON (see README); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) incident: PathBuf,
    /// Only call `plan`: list the steps and the grants they use; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Print the report as one JSON object.
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
    let incident = medic::incident::load_incident(&args.incident)?;
    let loaded = medic::catalog::load_remediation(&args.remediation, &config)?;
    let db = medic::db::Database::open(&config.data_dir)?;
    let sandbox = medic::sandbox::Sandbox::new(Some(compiled_dir(&config.data_dir)))?;
    let runtime = super::runtime()?;
    let report = runtime.block_on(medic::heal::run_remediation(
        &sandbox,
        &loaded,
        &incident,
        &db,
        &config.ceilings,
        args.dry_run,
    ))?;
    if args.json {
        out.json(&report)?;
    } else {
        render(&report, out)?;
    }
    Ok(match report.status {
        RunStatus::Healed | RunStatus::Planned => Exit::Success,
        RunStatus::RolledBack | RunStatus::NotHealed => Exit::NotHealed,
        RunStatus::Denied => Exit::Denied,
        RunStatus::Error => Exit::Error,
    })
}

/// Where compiled components are cached.
pub(crate) fn compiled_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("compiled")
}

fn render(report: &RunReport, out: &mut Output) -> anyhow::Result<()> {
    out.line(format!(
        "{} {} (risk {}) on incident {}  [run {}]",
        report.remediation,
        report.remediation_version,
        report.risk,
        report.incident_id,
        report.run_id
    ))?;
    if let Some(steps) = &report.steps {
        out.line("plan:")?;
        for (index, step) in steps.iter().enumerate() {
            out.line(format!(
                "  {}. [{}] {}  -- {}",
                index + 1,
                step.capability,
                step.target,
                step.detail
            ))?;
        }
    }
    for call in &report.calls {
        out.line(format!(
            "{:<9}{:<12}{} ({} ms)",
            call.operation.as_str(),
            call.outcome,
            call.detail,
            call.duration_ms
        ))?;
        for line in &call.logs {
            out.line(format!("           {line}"))?;
        }
    }
    if !report.host_calls.is_empty() {
        out.line("host calls:")?;
        for call in &report.host_calls {
            let mark = if call.allowed { "allowed" } else { "DENIED " };
            let detail = if call.allowed {
                &call.result
            } else {
                &call.reason
            };
            out.line(format!(
                "  {mark} {:<10} {:<6} {}  -- {detail}",
                call.operation, call.capability, call.target
            ))?;
        }
    }
    out.line(format!(
        "status: {} -- {}",
        report.status.as_str(),
        report.summary
    ))?;
    Ok(())
}
