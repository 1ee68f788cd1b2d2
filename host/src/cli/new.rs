//! `medic new remediation NAME [--risk low|medium|high] [--lang rust|python]`: lay out a
//! working remediation that builds, tests and explains itself.

use std::path::PathBuf;

use medic::authoring::Language;
use medic::authoring::scaffold::{NewRemediation, new_remediation};
use medic::manifest::Risk;

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create NAME/: a remediation skeleton, its manifest, passing scenarios and a README.
    ///
    /// Refuses to overwrite anything. Inside a cargo workspace (Rust), the crate is added
    /// to its members, as `cargo new` does; inside medic's own repository it uses the
    /// workspace's SDK, elsewhere the SDK is vendored under NAME/vendor/.
    Remediation {
        /// Kebab-case name: the folder, the crate and the manifest's `name`.
        name: String,
        /// The manifest's risk level: picks the operator's ceiling and approval policy.
        #[arg(long, value_enum, default_value_t = RiskArg::Low)]
        risk: RiskArg,
        /// The language to write it in.
        #[arg(long = "lang", value_enum, default_value_t = LangArg::Rust)]
        lang: LangArg,
        /// Where to create NAME/ [default: the current directory].
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum RiskArg {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LangArg {
    Rust,
    Python,
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        match self {
            Command::Remediation { json, .. } => *json,
        }
    }
}

pub(crate) fn run(command: Command, out: &mut Output) -> anyhow::Result<Exit> {
    let Command::Remediation {
        name,
        risk,
        lang,
        dir,
        json,
    } = command;
    let language = match lang {
        LangArg::Rust => Language::Rust,
        LangArg::Python => Language::Python,
    };
    let created = new_remediation(&NewRemediation {
        name: name.clone(),
        risk: match risk {
            RiskArg::Low => Risk::Low,
            RiskArg::Medium => Risk::Medium,
            RiskArg::High => Risk::High,
        },
        language,
        parent: dir,
    })?;
    if json {
        out.json(&serde_json::json!({
            "version": 1,
            "name": name,
            "language": language,
            "dir": created.dir,
            "files": created.files,
            "workspace": created.workspace,
        }))?;
        return Ok(Exit::Success);
    }
    out.line(format!(
        "created {} ({} remediation, {} files)",
        created.dir.display(),
        language.as_str(),
        created.files.len()
    ))?;
    if let Some(workspace) = &created.workspace {
        out.line(format!(
            "added to the workspace members in {}",
            workspace.join("Cargo.toml").display()
        ))?;
    }
    let shown = created.dir.display();
    out.line("next:")?;
    out.line(format!("  cd {shown}"))?;
    match language {
        Language::Rust => {
            out.line("  cargo test          # its logic, natively")?;
            out.line("  cargo doc --open -p medic-guest-sdk   # the SDK's reference")?;
        }
        Language::Python => {
            out.line("  python3 -m unittest # its logic, natively")?;
            out.line(format!(
                "  pip install componentize-py=={}   # once, to build",
                medic::authoring::python::COMPONENTIZE_PY_VERSION
            ))?;
        }
    }
    out.line("  medic build         # the component; its sha256 pinned in remediation.toml")?;
    out.line("  medic test          # its scenarios through the real sandbox")?;
    out.line("  medic manifest explain .   # what a reviewer sees")?;
    Ok(Exit::Success)
}
