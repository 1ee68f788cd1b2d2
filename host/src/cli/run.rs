//! `medic run REMEDIATION --incident FILE [--dry-run] [--json]`.

use std::path::PathBuf;

use medic::run::{RunReport, RunRequest, RunStatus};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A bundled remediation's name, or a directory holding remediation.toml, named as a
    /// path (`./my-fix`, `/opt/fixes/my-fix`).
    pub(crate) remediation: String,
    /// The incident, as JSON (see README); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) incident: PathBuf,
    /// Only call `plan`: list the steps and the grants they use; the host refuses every
    /// change while it runs.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Run it even though its manifest does not say it handles this incident's resource
    /// kind and issue type.
    #[arg(long)]
    pub(crate) force: bool,
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
    let data_dir = super::setup::open_data_dir(&config, config_path.as_deref())?;
    let loaded =
        medic::catalog::load_remediation(&args.remediation, &config, data_dir.protected())?;
    let manifest = &loaded.manifest;
    if !args.force && !manifest.handles_incident(&incident, None) {
        let handles: Vec<String> = manifest.handles.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "`{}` does not say it handles incidents of kind `{}` and issue type `{}` (it handles: {}); pass --force to run it anyway",
            manifest.name,
            medic::text::escape_control(&incident.resource.kind),
            medic::text::escape_control(&incident.issue_type),
            if handles.is_empty() {
                "nothing declared".to_string()
            } else {
                handles.join("; ")
            }
        );
    }
    // Parameters, and the roots they name, are checked before anything is opened or run.
    loaded.bound(&incident, &config.ceilings, data_dir.protected())?;
    let state = super::setup::open_db(data_dir, &config)?;
    let sandbox = super::setup::sandbox(&state)?;
    let runtime = super::runtime()?;
    let stop = super::setup::stop_on_signals(&runtime)?;
    let report = runtime.block_on(medic::run::run_remediation(RunRequest {
        sandbox: &sandbox,
        loaded: &loaded,
        incident: &incident,
        db: &state.db,
        audit: &state.audit,
        data_dir: &state.data_dir,
        ceilings: &config.ceilings,
        secrets: &config.secrets,
        dry_run: args.dry_run,
        stop,
        world: medic::sandbox::World::Real,
        rollback_healed: false,
    }))?;
    if args.json {
        out.json(&report)?;
    } else {
        render(&report, out)?;
    }
    Ok(exit_for(&report))
}

/// The exit code a run's report calls for.
pub(crate) fn exit_for(report: &RunReport) -> Exit {
    match report.status {
        RunStatus::Healed | RunStatus::Planned => Exit::Success,
        RunStatus::RolledBack | RunStatus::NotHealed => Exit::NotHealed,
        RunStatus::Denied => Exit::Denied,
        RunStatus::Error | RunStatus::InvalidInput => Exit::Error,
        RunStatus::PlanFailed => Exit::PlanFailed,
        RunStatus::Interrupted => Exit::Interrupted(report.signal.unwrap_or(2)),
    }
}

/// Print a run report for a human.
pub(crate) fn render(report: &RunReport, out: &mut Output) -> anyhow::Result<()> {
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
            let detail = match (&call.denial, call.allowed) {
                (_, true) => call.result.clone(),
                (Some(kind), false) => format!("[{}] {}", kind.as_str(), call.reason),
                (None, false) => call.reason.clone(),
            };
            out.line(format!(
                "  {mark} {:<10} {:<10} {}  -- {detail}",
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
