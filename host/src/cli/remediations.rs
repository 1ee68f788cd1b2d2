//! `medic remediations list` and `medic remediations show NAME`.

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// The remediations compiled into medic, with their risk and what they handle.
    List {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One remediation: description, parameters, what it handles, what it may touch.
    Show {
        /// A bundled remediation's name, or a directory holding remediation.toml.
        name: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: Command, out: &mut Output) -> anyhow::Result<Exit> {
    let json = match command {
        Command::List { json } => json,
        Command::Show { name, json } => {
            let manifest = super::manifest::read_manifest(&name)?;
            let explanation = medic::manifest::explain::explain(&manifest);
            if json {
                out.json(&explanation)?;
            } else {
                super::manifest::render(&explanation, out)?;
            }
            return Ok(Exit::Success);
        }
    };
    let manifests = medic::catalog::bundled_manifests()?;
    if json {
        let list: Vec<serde_json::Value> = manifests
            .iter()
            .map(|manifest| {
                serde_json::json!({
                    "name": manifest.name, "version": manifest.version, "risk": manifest.risk.as_str(),
                    "description": manifest.description, "sha256": manifest.sha256, "handles": manifest.handles,
                })
            })
            .collect();
        out.json(&serde_json::json!({ "version": 1, "remediations": list }))?;
        return Ok(Exit::Success);
    }
    for manifest in &manifests {
        out.line(format!(
            "{:<18} {:<8} risk {:<7} {}",
            manifest.name,
            manifest.version,
            manifest.risk.as_str(),
            manifest.description
        ))?;
        let handles: Vec<String> = manifest.handles.iter().map(ToString::to_string).collect();
        out.line(format!("{:<18} handles: {}", "", handles.join("; ")))?;
    }
    Ok(Exit::Success)
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        match self {
            Command::List { json, .. } | Command::Show { json, .. } => *json,
        }
    }
}
