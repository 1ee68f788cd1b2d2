//! `medic build [DIR] [--json]`: build a remediation's component, pin its sha256 in the
//! manifest, write the ceiling drop-in its grants need, and check the result as
//! `medic manifest check` does.

use std::path::PathBuf;

use medic::authoring::drop_in::{self, DropIn};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The remediation's folder (holding remediation.toml and Cargo.toml or app.py).
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    // The configuration first: a bad one fails before anything is built.
    let mut config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    let built = medic::authoring::build_remediation(&args.dir)?;
    let manifest = medic::manifest::load_manifest(&args.dir)?;
    let drop_in =
        drop_in::write_drop_in(&args.dir, &manifest, &config.ceilings).map_err(|error| {
            anyhow::anyhow!(
                "cannot write `{}`: {error}",
                args.dir.join(drop_in::DROP_IN_FILE).display()
            )
        })?;
    let drop_in_file = args.dir.join(drop_in::DROP_IN_FILE);
    if drop_in_file.is_file() {
        config.add_ceiling_drop_in(&drop_in_file)?;
    }
    let data_dir = super::setup::open_data_dir(&config, config_path.as_deref())?;
    let location = if medic::catalog::is_path(&args.dir.display().to_string()) {
        args.dir.display().to_string()
    } else {
        format!("./{}", args.dir.display())
    };
    // A bundled remediation built from medic's own source is checked as `medic test`
    // loads it: `medic run` never takes a directory for a bundled name.
    let bundled = medic::catalog::bundled(&manifest.name).is_some();
    let purpose = if bundled {
        medic::catalog::Purpose::Test
    } else {
        medic::catalog::Purpose::Run
    };
    let check = medic::catalog::load_for(&location, &config, data_dir.protected(), purpose);
    let warnings = medic::manifest::explain::explain(&manifest).warnings.len();
    let (check_ok, check_text) = match &check {
        Ok(_) if bundled => (
            true,
            "ok (a bundled name: checked as `medic test` loads it)".to_string(),
        ),
        Ok(_) if drop_in_file.is_file() => (
            true,
            format!(
                "ok, under this host's ceiling plus {}",
                drop_in_file.display()
            ),
        ),
        Ok(_) => (true, "ok".to_string()),
        Err(error) => (false, error.to_string()),
    };
    if args.json {
        out.json(&serde_json::json!({
            "version": 1,
            "name": built.name,
            "language": built.language,
            "component": built.component,
            "bytes": built.bytes,
            "sha256": built.sha256,
            "previous_sha256": built.previous_sha256,
            "ceiling_drop_in": match drop_in {
                DropIn::Written { entries } => serde_json::json!({"file": drop_in_file, "entries": entries}),
                DropIn::NotNeeded => serde_json::Value::Null,
                DropIn::KeptAuthors => serde_json::json!({"file": drop_in_file, "entries": null}),
            },
            "check": {"ok": check_ok, "message": check_text, "warnings": warnings},
        }))?;
    } else {
        out.line(format!(
            "built {} ({}, {} bytes) sha256 {}{}",
            built.component.display(),
            built.language.as_str(),
            built.bytes,
            built.sha256,
            if built.previous_sha256 == built.sha256 {
                " (unchanged)".to_string()
            } else {
                format!(
                    " (pinned in remediation.toml, was {})",
                    built.previous_sha256
                )
            }
        ))?;
        match drop_in {
            DropIn::Written { entries } => out.line(format!(
                "ceiling: {} holds the {entries} grant{} this host's `{}` ceiling lacks; the operator reviews it and copies it to /etc/medic/ceilings.d/{}.toml",
                drop_in_file.display(),
                if entries == 1 { "" } else { "s" },
                manifest.risk.as_str(),
                manifest.name
            ))?,
            DropIn::NotNeeded => out.line(format!(
                "ceiling: this host's `{}` ceiling allows every grant; no drop-in needed",
                manifest.risk.as_str()
            ))?,
            DropIn::KeptAuthors => out.line(format!(
                "ceiling: {} was not written by medic build; left as it is",
                drop_in_file.display()
            ))?,
        }
        out.line(format!(
            "check: {check_text} ({warnings} warning{}, see `medic manifest explain {}`)",
            if warnings == 1 { "" } else { "s" },
            location
        ))?;
    }
    Ok(if check_ok { Exit::Success } else { Exit::Error })
}
