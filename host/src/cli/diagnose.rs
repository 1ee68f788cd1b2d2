//! `medic diagnose [--log FILE|-] [--alert FILE] [--exit-code N] [--context] [--json]`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use medic::diagnosis::{self, Diagnosis, Signal};
use medic::nofollow::{self, OpenError};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The failure's log; `-` reads standard input. Streamed: any size works.
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    /// An Alertmanager webhook payload (JSON): its alerts' types and text are evidence.
    #[arg(long, value_name = "FILE")]
    pub(crate) alert: Option<PathBuf>,
    /// The failed command's own exit status, when known (`medic heal -- CMD` passes it):
    /// 128+N means killed by signal N (137: SIGKILL), 124 timed out, 127 not found.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub(crate) exit_code: Option<i64>,
    /// Also collect this host's context (resources, probes, logs, connectivity from medic.toml).
    #[arg(long)]
    pub(crate) context: bool,
    /// Print the diagnosis as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    if args.log.is_none() && args.alert.is_none() && args.exit_code.is_none() && !args.context {
        anyhow::bail!(
            "nothing to diagnose: pass --log FILE (or - for stdin), --alert FILE, --exit-code N, or --context"
        );
    }
    // Diagnosis runs no remediation: the ceilings are not compiled.
    let config = medic::config::load_config_without_ceilings(config_path.as_deref(), data_dir)?;
    let library = diagnosis::load_library(config.diagnosis.patterns_dir.as_deref())?;
    let mut signals: Vec<Signal> = Vec::new();
    signals.extend(args.exit_code.and_then(diagnosis::exit_status_signal));
    let mut alert_text = String::new();
    if let Some(path) = &args.alert {
        // A webhook payload is small; a FIFO, a device or a runaway file is refused.
        let text = nofollow::read_regular_text(path, medic::incident::MAX_INCIDENT_BYTES)
            .context("cannot read alert")?;
        for incident in medic::incident::alertmanager::parse_alertmanager(&text, path)? {
            if let Some(cause) = diagnosis::cause_for_issue_type(&incident.issue_type) {
                signals.push(Signal {
                    root_cause: cause,
                    weight: 3.0,
                    description: format!(
                        "alert `{}` on {} ({})",
                        incident
                            .labels
                            .get("alertname")
                            .map_or("unknown", String::as_str),
                        incident.resource.id,
                        incident.issue_type
                    ),
                    services: incident
                        .labels
                        .get("service")
                        .or(incident.labels.get("job"))
                        .cloned()
                        .into_iter()
                        .collect(),
                });
            }
            alert_text.push_str(incident.log.as_deref().unwrap_or_default());
            alert_text.push('\n');
        }
    }
    // The async runtime starts only for the probes and the advisor: a plain diagnosis
    // reads a file and should start as fast as the process can.
    if args.context {
        let context = super::runtime()?.block_on(medic::context::collect_context(&config.context));
        signals.extend(medic::context::signals(&context));
    }
    let log: Box<dyn Read> = match &args.log {
        Some(path) if path == Path::new("-") => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(open_log(path, "--log -")?),
        None => Box::new(std::io::empty()),
    };
    let input = log.chain(std::io::Cursor::new(alert_text.into_bytes()));
    let threshold = config.diagnosis.llm_threshold;
    let (mut diagnosis, tail) = diagnosis::diagnose_input(&library, input, &signals, threshold)
        .context("reading the log")?;
    if diagnosis.low_confidence {
        diagnosis = if config.diagnosis.llm.is_some() {
            super::runtime()?.block_on(diagnosis::consult(diagnosis, &tail, &config.diagnosis))
        } else {
            // No advisor: nothing to wait for, so no runtime is started.
            diagnosis::note_low_confidence(diagnosis)
        };
    }
    if args.json {
        out.json(&diagnosis)?;
    } else {
        render(&diagnosis, out)?;
    }
    // The process exits next: freeing the library's automata and the configuration one
    // allocation at a time would cost more than the rest of a short diagnosis.
    std::mem::forget(library);
    std::mem::forget(config);
    Ok(Exit::Success)
}

/// Open a log file an operator named: a regular file only, streamed, so its size does not
/// matter; a FIFO, socket or device is refused at once rather than waited on or read
/// without end. `stdin_flag` is how the command reads standard input instead, for the
/// message about a pipe.
pub(crate) fn open_log(path: &Path, stdin_flag: &str) -> anyhow::Result<std::fs::File> {
    nofollow::open_regular_file(path).map_err(|error| {
        let hint = match &error {
            OpenError::SpecialFile { kind: "FIFO", .. } => format!(
                "; to read a pipe, pass `{stdin_flag}` and connect the pipe to standard input"
            ),
            _ => String::new(),
        };
        anyhow::anyhow!("cannot open log: {error}{hint}")
    })
}

fn render(diagnosis: &Diagnosis, out: &mut Output) -> anyhow::Result<()> {
    out.line(format!(
        "root cause: {} (confidence {:.2}{}, severity {:?})",
        diagnosis.root_cause.as_str(),
        diagnosis.confidence,
        if diagnosis.low_confidence {
            ", LOW"
        } else {
            ""
        },
        diagnosis.severity
    ))?;
    out.line(format!("summary: {}", diagnosis.summary))?;
    if !diagnosis.evidence.is_empty() {
        out.line("evidence:")?;
        for evidence in &diagnosis.evidence {
            out.line(format!(
                "  line {:<6} [{}] {}",
                evidence.line, evidence.pattern_id, evidence.text
            ))?;
        }
    }
    if !diagnosis.services.is_empty() {
        out.line(format!("services: {}", diagnosis.services.join(", ")))?;
    }
    if !diagnosis.recommended_actions.is_empty() {
        out.line("recommended actions:")?;
        for (index, action) in diagnosis.recommended_actions.iter().enumerate() {
            out.line(format!("  {}. {action}", index + 1))?;
        }
    }
    if !diagnosis.alternatives.is_empty() {
        let alternatives: Vec<String> = diagnosis
            .alternatives
            .iter()
            .map(|alt| format!("{} {:.2}", alt.root_cause.as_str(), alt.confidence))
            .collect();
        out.line(format!("alternatives: {}", alternatives.join(", ")))?;
    }
    for signal in &diagnosis.signals {
        out.line(format!("signal: {signal}"))?;
    }
    out.line(format!("({} lines read)", diagnosis.lines))?;
    Ok(())
}
