//! `medic audit show [RUN]` and `medic audit verify`.

use std::path::PathBuf;

use medic::store::audit::{AuditLog, verify_chain};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print the records of one run (default: the latest run), or of all runs with `--all`.
    Show {
        /// The run id, as printed by `medic run`.
        run: Option<String>,
        /// Every record of every run.
        #[arg(long, conflicts_with = "run")]
        all: bool,
        /// Print the records as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain; exit 1 and name the first bad record after any edit or deletion.
    Verify {
        /// A head hash saved earlier (from a previous verify): detects a cut-off tail.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(
    command: Command,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    let state = super::setup::open_state(&config, config_path.as_deref())?;
    let log = AuditLog::new(state.db.clone());
    match command {
        Command::Show { run, all, json } => {
            let run = match (run, all) {
                (Some(run), _) => Some(run),
                (None, true) => None,
                (None, false) => Some(log.last_run_id()?.ok_or_else(|| {
                    anyhow::anyhow!("the audit log in `{}` is empty", config.data_dir.display())
                })?),
            };
            let records = log.records(run.as_deref())?;
            if records.is_empty() {
                anyhow::bail!("no audit records for run `{}`", run.unwrap_or_default());
            }
            if json {
                out.json(&records)?;
            } else {
                for record in &records {
                    out.line(format!(
                        "#{:<5} {} {} {:<13} {}",
                        record.seq, record.at, record.run_id, record.kind, record.data
                    ))?;
                }
            }
            Ok(Exit::Success)
        }
        Command::Verify { expect_head, json } => {
            let report = verify_chain(&log, expect_head.as_deref())?;
            if json {
                out.json(&report)?;
            } else {
                match &report.first_bad {
                    None => out.line(format!(
                        "ok: {} records, chain intact; head {}",
                        report.records, report.head
                    ))?,
                    Some(bad) => out.line(format!(
                        "BROKEN at record {}: {} ({} records read)",
                        bad.seq, bad.problem, report.records
                    ))?,
                }
            }
            Ok(if report.first_bad.is_none() {
                Exit::Success
            } else {
                Exit::NotHealed
            })
        }
    }
}
