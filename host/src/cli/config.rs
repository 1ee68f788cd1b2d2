//! `medic config show [--json]` and `medic config check`.

use std::path::PathBuf;

use medic::config::{Config, SecretSource};
use medic::manifest::{Ceiling, check_within_ceiling};
use serde::Serialize;

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print the effective configuration and where each value came from.
    Show {
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate every configuration layer and drop-in without running anything.
    Check,
}

/// `medic config show --json`.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    version: u32,
    data_dir: String,
    require_pins: bool,
    audit_sign: bool,
    pins: &'a std::collections::BTreeMap<String, String>,
    ceilings: Vec<ShownCeiling>,
    secrets: Vec<ShownSecret>,
    provenance: &'a [medic::config::Provenance],
}

#[derive(Debug, Serialize)]
struct ShownCeiling {
    level: &'static str,
    exec: Vec<String>,
    http: Vec<String>,
    fs: Vec<String>,
    env: Vec<String>,
    max_timeout_ms: u128,
    max_memory_bytes: u64,
    max_output_bytes: u64,
}

#[derive(Debug, Serialize)]
struct ShownSecret {
    name: String,
    source: String,
}

fn ceiling_view(level: &'static str, ceiling: &Ceiling) -> ShownCeiling {
    let grants = &ceiling.grants;
    ShownCeiling {
        level,
        exec: grants
            .exec
            .iter()
            .map(|grant| format!("{}  ({})", grant.describe(), grant.origin))
            .collect(),
        http: grants
            .http
            .iter()
            .map(|grant| format!("{} {}  ({})", grant.method, grant.url.source, grant.origin))
            .collect(),
        fs: grants
            .fs
            .iter()
            .map(|grant| {
                format!(
                    "{} ({})  ({})",
                    grant.path.display(),
                    grant.access.as_str(),
                    grant.origin
                )
            })
            .collect(),
        env: grants.env.iter().map(|grant| grant.describe()).collect(),
        max_timeout_ms: ceiling.max_limits.timeout.as_millis(),
        max_memory_bytes: ceiling.max_limits.memory,
        max_output_bytes: ceiling.max_limits.output,
    }
}

fn shown(config: &Config) -> Shown<'_> {
    Shown {
        version: 1,
        data_dir: config.data_dir.display().to_string(),
        require_pins: config.require_pins,
        audit_sign: config.audit_sign,
        pins: &config.pins,
        ceilings: vec![
            ceiling_view("low", &config.ceilings.low),
            ceiling_view("medium", &config.ceilings.medium),
            ceiling_view("high", &config.ceilings.high),
        ],
        secrets: config
            .secrets
            .iter()
            .map(|(name, source)| ShownSecret {
                name: name.clone(),
                source: match source {
                    SecretSource::Env(variable) => format!("env {variable}"),
                    SecretSource::File(path) => format!("file {}", path.display()),
                    SecretSource::Command(command) => format!("command {}", command.join(" ")),
                },
            })
            .collect(),
        provenance: &config.provenance,
    }
}

pub(crate) fn run(
    command: Command,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    match command {
        Command::Show { json } => {
            let view = shown(&config);
            if json {
                out.json(&view)?;
                return Ok(Exit::Success);
            }
            let from_files = |section: &str| {
                config
                    .provenance
                    .iter()
                    .filter(|entry| entry.section == section)
                    .map(|entry| entry.source.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let from = |section: &str| match from_files(section) {
                sources if sources.is_empty() => "default".to_string(),
                sources => sources,
            };
            out.line(format!(
                "data_dir = {:?}  # {}",
                view.data_dir,
                from("data_dir")
            ))?;
            out.line(format!(
                "require_pins = {}  # {}",
                view.require_pins,
                from("require_pins")
            ))?;
            out.line(format!(
                "audit.sign = {}  # {}",
                view.audit_sign,
                from("audit")
            ))?;
            for (name, hash) in view.pins {
                out.line(format!(
                    "pins.{name} = {hash:?}  # {}",
                    from(&format!("pins.{name}"))
                ))?;
            }
            for ceiling in &view.ceilings {
                let mut sources = from_files(&format!("ceilings.{}", ceiling.level));
                let added = from_files(&format!("ceilings.{} (added)", ceiling.level));
                if !added.is_empty() {
                    sources.push_str(&format!("; added by {added}"));
                }
                out.line(format!(
                    "[ceilings.{}]  # {}",
                    ceiling.level,
                    if sources.is_empty() {
                        "not set: grants nothing".to_string()
                    } else {
                        sources
                    }
                ))?;
                for line in ceiling
                    .exec
                    .iter()
                    .map(|grant| format!("  exec {grant}"))
                    .chain(ceiling.http.iter().map(|grant| format!("  http {grant}")))
                    .chain(ceiling.fs.iter().map(|grant| format!("  fs {grant}")))
                {
                    out.line(line)?;
                }
                if !ceiling.env.is_empty() {
                    out.line(format!("  env {}", ceiling.env.join(", ")))?;
                }
                out.line(format!(
                    "  max_limits timeout {} ms, memory {} bytes, output {} bytes",
                    ceiling.max_timeout_ms, ceiling.max_memory_bytes, ceiling.max_output_bytes
                ))?;
            }
            for secret in &view.secrets {
                out.line(format!(
                    "secrets.{} = {}  # {}",
                    secret.name,
                    secret.source,
                    from(&format!("secrets.{}", secret.name))
                ))?;
            }
            for section in ["diagnosis", "context"] {
                let source = from_files(section);
                if !source.is_empty() {
                    out.line(format!("[{section}]  # {source}"))?;
                }
            }
            Ok(Exit::Success)
        }
        Command::Check => {
            let mut problems = 0;
            for manifest in medic::catalog::bundled_manifests()? {
                if let Err(error) = check_within_ceiling(&manifest, &config.ceilings) {
                    out.line(format!(
                        "note: bundled `{}` will not load: {error}",
                        manifest.name
                    ))?;
                    problems += 1;
                }
            }
            if config.data_dir.exists() {
                let data_dir = super::setup::open_data_dir(&config, config_path.as_deref())?;
                drop(data_dir);
            }
            let layers: Vec<String> = config
                .provenance
                .iter()
                .map(|entry| entry.source.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            out.line(format!(
                "ok: configuration valid ({}); {problems} bundled remediations do not fit its ceilings",
                layers.join(", ")
            ))?;
            Ok(Exit::Success)
        }
    }
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        matches!(self, Command::Show { json: true })
    }
}
