//! `medic audit show [RUN]`, `medic audit verify` and `medic audit head`.

use std::path::PathBuf;

use medic::store::audit::seal::{HEAD_FILE, read_head_file};
use medic::store::audit::{AuditLog, SignedHead, VerifyReport, Witness, verify_chain};

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
        /// Print `{"version": 1, "records": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain and every signed head; exit 1 naming the first problem: an
    /// edited, missing or rewritten record, a cut tail, an older copy, a missing database.
    Verify {
        /// A head saved earlier by a witness (`medic audit head > FILE`): the log must still
        /// hold the record it vouches for.
        #[arg(long, value_name = "FILE")]
        head: Option<PathBuf>,
        /// A record hash saved earlier: detects a cut-off tail.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the latest signed head, for an external witness to keep.
    Head {
        /// Print it as JSON (the format `verify --head` reads).
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
    if let Command::Verify { json, .. } = &command
        && !config.data_dir.join(medic::store::db::DB_FILE).is_file()
    {
        // Verifying never creates the database it is asked to vouch for.
        let report = VerifyReport {
            version: 1,
            records: 0,
            head: medic::store::audit::GENESIS_HASH.to_string(),
            signed_heads: 0,
            last_signed: None,
            first_bad: Some(medic::store::audit::BadRecord {
                seq: 0,
                problem: format!(
                    "there is no audit database in `{}`",
                    config.data_dir.display()
                ),
            }),
        };
        render_verify(&report, *json, out)?;
        return Ok(Exit::NotHealed);
    }
    let state = super::setup::open_state(&config, config_path.as_deref())?;
    let log: &AuditLog = &state.audit;
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
                out.json(&serde_json::json!({ "version": 1, "records": records }))?;
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
        Command::Verify {
            head,
            expect_head,
            json,
        } => {
            let published = read_head_file(&state.data_dir.canonical().join(HEAD_FILE))?;
            let kept = match &head {
                Some(path) => Some(read_witness(path)?),
                None => None,
            };
            let witness = Witness {
                key: log.sealer().map(|sealer| sealer.verifying_key()),
                published,
                kept,
                expect_hash: expect_head,
            };
            let report = verify_chain(log, &witness)?;
            render_verify(&report, json, out)?;
            Ok(if report.first_bad.is_none() {
                Exit::Success
            } else {
                Exit::NotHealed
            })
        }
        Command::Head { json } => {
            let head = log.seal()?.ok_or_else(|| {
                anyhow::anyhow!(
                    "the audit log in `{}` holds no records yet",
                    config.data_dir.display()
                )
            })?;
            if json {
                out.json(&head)?;
            } else {
                out.line(format!(
                    "record {} hash {} signed {} by {} ({})",
                    head.seq, head.hash, head.signature, head.public_key, head.at
                ))?;
            }
            Ok(Exit::Success)
        }
    }
}

fn read_witness(path: &std::path::Path) -> anyhow::Result<SignedHead> {
    use anyhow::Context as _;
    read_head_file(path)
        .with_context(|| format!("reading the witness head `{}`", path.display()))?
        .ok_or_else(|| anyhow::anyhow!("the witness head `{}` does not exist", path.display()))
}

fn render_verify(report: &VerifyReport, json: bool, out: &mut Output) -> anyhow::Result<()> {
    if json {
        return out.json(report);
    }
    match &report.first_bad {
        None => out.line(format!(
            "ok: {} records, chain intact; head {}; {} signed heads, the last at record {}",
            report.records,
            report.head,
            report.signed_heads,
            report
                .last_signed
                .as_ref()
                .map_or_else(|| "none".to_string(), |head| head.seq.to_string())
        ))?,
        Some(bad) => out.line(format!(
            "BROKEN at record {}: {} ({} records read)",
            bad.seq, bad.problem, report.records
        ))?,
    }
    Ok(())
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        match self {
            Command::Show { json, .. }
            | Command::Verify { json, .. }
            | Command::Head { json, .. } => *json,
        }
    }
}
