//! `medic patterns list` and `medic patterns test FILE`.

use std::path::PathBuf;

use medic::diagnosis::{self, ScanLimits};

use super::exit::Exit;
use super::output::Output;

/// Most hits `patterns test` prints.
const MAX_SHOWN: usize = 10_000;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Every pattern: built-in and the operator's folder.
    List {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which patterns fire on a file, and on which lines.
    Test {
        /// The log to scan; `-` reads standard input.
        file: PathBuf,
        /// Print the hits as JSON.
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
    let library = diagnosis::load_library(config.diagnosis.patterns_dir.as_deref())?;
    match command {
        Command::List { json } => {
            if json {
                let list: Vec<serde_json::Value> = library
                    .patterns
                    .iter()
                    .map(|p| serde_json::json!({"id": p.id, "root_cause": p.root_cause, "severity": p.severity, "weight": p.weight, "file": p.file, "description": p.description, "services": p.services, "hint": p.hint, "regex": p.regex}))
                    .collect();
                out.json(&serde_json::json!({"version": 1, "patterns": list}))?;
            } else {
                for pattern in &library.patterns {
                    out.line(format!(
                        "{:<32} {:<20} w{:<4} {}",
                        pattern.id,
                        pattern.root_cause.as_str(),
                        pattern.weight,
                        pattern.description
                    ))?;
                }
                out.line(format!("{} patterns", library.patterns.len()))?;
            }
        }
        Command::Test { file, json } => {
            let input: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(super::diagnose::open_log(&file, "-")?)
            };
            let scanned = diagnosis::scan(
                &library,
                input,
                ScanLimits {
                    keep_all: Some(MAX_SHOWN),
                },
            )?;
            let mut hits = scanned.all.clone();
            hits.sort_by_key(|(index, hit)| (hit.line, *index));
            if json {
                let list: Vec<serde_json::Value> = hits
                    .iter()
                    .map(|(index, hit)| serde_json::json!({"pattern_id": library.patterns[*index].id, "root_cause": library.patterns[*index].root_cause, "line": hit.line, "text": hit.text}))
                    .collect();
                out.json(&serde_json::json!({"version": 1, "lines": scanned.lines, "hits": list}))?;
            } else {
                for (index, hit) in &hits {
                    out.line(format!(
                        "line {:<7} {:<32} {}",
                        hit.line, library.patterns[*index].id, hit.text
                    ))?;
                }
                out.line(format!("{} hits in {} lines", hits.len(), scanned.lines))?;
            }
        }
    }
    Ok(Exit::Success)
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        match self {
            Command::List { json, .. } | Command::Test { json, .. } => *json,
        }
    }
}
