//! `medic recover [RUN] [--json]`: roll back runs that were killed (kill -9, a crash, a
//! power cut) while they were changing the host, from their own checkpoints.

use std::path::PathBuf;

use medic::run::{RunReport, RunStatus};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run to recover (default: every run that did not finish).
    pub(crate) run: Option<String>,
    /// Print the reports as a JSON array.
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
    let state = super::setup::open_state(&config, config_path.as_deref())?;
    let mut pending = medic::store::runs::unfinished(&state.db, &state.data_dir)?;
    if let Some(run) = &args.run {
        pending.retain(|record| record.run_id == *run);
        if pending.is_empty() {
            anyhow::bail!(
                "run `{run}` is not an unfinished run (it finished, its process still runs, or it does not exist)"
            );
        }
    }
    let sandbox = super::setup::sandbox(&state)?;
    let runtime = super::runtime()?;
    // A rollback is not stopped by a signal: it must finish.
    let stop = medic::stop::StopSignal::new();
    let mut reports: Vec<RunReport> = Vec::new();
    for record in pending {
        let Some((record, journal)) =
            medic::store::runs::claim(&state.db, &state.data_dir, &record.run_id)?
        else {
            continue;
        };
        let env = medic::run::RunEnv {
            sandbox: &sandbox,
            db: &state.db,
            audit: &state.audit,
            data_dir: &state.data_dir,
            ceilings: &config.ceilings,
            secrets: &config.secrets,
            stop: &stop,
        };
        let report =
            runtime.block_on(medic::run::recover_record(&env, &config, &record, journal))?;
        reports.push(report);
    }
    if args.json {
        out.json(&serde_json::json!({ "version": 1, "recovered": reports }))?;
    } else if reports.is_empty() {
        out.line("nothing to recover: every run finished")?;
    } else {
        for report in &reports {
            super::run::render(report, out)?;
        }
    }
    Ok(
        if reports
            .iter()
            .all(|report| report.status == RunStatus::Interrupted)
        {
            Exit::Success
        } else {
            Exit::NotHealed
        },
    )
}
