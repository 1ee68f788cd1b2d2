//! `medic stats [--json]`: what each remediation version (and retry) did: runs, success
//! rate, mean duration, the causes it ran for. The same outcomes rank `medic plan`.

use std::path::PathBuf;

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the statistics as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let config = medic::config::load_config_without_ceilings(config_path.as_deref(), data_dir)?;
    let state = super::setup::open_state(&config, config_path.as_deref())?;
    let stats = medic::store::outcomes::Outcomes::new(state.db.clone()).stats()?;
    if args.json {
        out.json(&serde_json::json!({ "version": 1, "remediations": stats }))?;
        return Ok(Exit::Success);
    }
    if stats.is_empty() {
        out.line("no outcomes yet: `medic heal` records one for every retry and remediation it carries out")?;
        return Ok(Exit::Success);
    }
    out.line(format!(
        "{:<20} {:<9} {:<14} {:>5} {:>7} {:>8} {:>10}  causes",
        "remediation", "version", "component", "runs", "healed", "success", "mean"
    ))?;
    for line in &stats {
        out.line(format!(
            "{:<20} {:<9} {:<14} {:>5} {:>7} {:>7.0}% {:>8.0}ms  {}",
            line.remediation,
            if line.version.is_empty() {
                "-"
            } else {
                &line.version
            },
            if line.sha256.is_empty() {
                "-".to_string()
            } else {
                line.sha256.chars().take(12).collect()
            },
            line.runs,
            line.healed,
            line.success_rate * 100.0,
            line.mean_duration_ms,
            line.root_causes.join(", ")
        ))?;
    }
    Ok(Exit::Success)
}
