//! `medic manifest check PATH` and `medic manifest explain PATH`.

use std::path::{Path, PathBuf};

use medic::manifest::{self, Manifest, signature};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Validate a manifest: syntax, grants, the risk ceiling, and the component hash when
    /// the component is present.
    Check {
        /// A remediation directory, its remediation.toml, or a bundled name.
        path: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a reviewer's signing key (ed25519) in FILE, readable by you only, and print
    /// its public key for operators' `[signatures] trusted`.
    Keygen {
        /// Where to write the key; never over an existing file.
        file: PathBuf,
    },
    /// Sign a remediation (its manifest and component) with a reviewer's key, writing
    /// DIR/remediation.sig; operators who `[signatures] require = true` run only
    /// remediations a trusted key signed.
    Sign {
        /// The remediation's directory.
        path: String,
        /// The signing key (`medic manifest keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Print everything a remediation can touch, with warnings, for a security review.
    Explain {
        /// A remediation directory, its remediation.toml, or a bundled name.
        path: String,
        /// Print the explanation as JSON.
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
    match command {
        Command::Check { path, json } => {
            let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
            let data_dir = super::setup::open_data_dir(&config, config_path.as_deref())?;
            let loaded = medic::catalog::load_remediation(&path, &config, data_dir.protected())?;
            let warnings = manifest::explain::explain(&loaded.manifest).warnings.len();
            let signed_by = match &loaded.provenance {
                medic::catalog::Provenance::Directory(dir)
                    if dir.join(signature::SIGNATURE_FILE).exists()
                        && !config.signatures.trusted.is_empty() =>
                {
                    Some(
                        signature::verify_signature(
                            dir,
                            &loaded.manifest,
                            &config.signatures.trusted,
                        )
                        .map_err(|error| error.to_string()),
                    )
                }
                _ => None,
            };
            // Without `[signatures] require`, `medic run` ignores signatures, so check
            // accepts what run accepts and only reports one that does not verify (with
            // `require`, loading above already refused it).
            let (signed_by, signature_error) = match signed_by {
                Some(Ok(signer)) => (Some(signer), None),
                Some(Err(message)) => (None, Some(message)),
                None => (None, None),
            };
            if json {
                out.json(&serde_json::json!({
                    "version": 1, "name": loaded.manifest.name, "valid": true,
                    "sha256": loaded.manifest.sha256, "warnings": warnings,
                    "signed_by": signed_by, "signature_error": signature_error,
                }))?;
            } else {
                out.line(format!(
                    "{}: ok ({} {}, risk {}, component sha256 {} verified, within the `{}` ceiling; {warnings} warnings, see `medic manifest explain`)",
                    loaded.manifest.file.display(),
                    loaded.manifest.name,
                    loaded.manifest.version,
                    loaded.manifest.risk.as_str(),
                    loaded.manifest.sha256,
                    loaded.manifest.risk.as_str()
                ))?;
                if let Some(signer) = &signed_by {
                    out.line(format!("signed by `{signer}` (a key medic.toml trusts)"))?;
                }
                if let Some(message) = &signature_error {
                    out.line(format!(
                        "warning: its signature does not hold ({message}); medic runs it only because signatures are not required here"
                    ))?;
                }
            }
            Ok(Exit::Success)
        }
        Command::Keygen { file } => {
            let public = signature::generate_key(&file)?;
            out.line(signature::show_public_key(&public))?;
            tracing::info!("signing key written to {}", file.display());
            Ok(Exit::Success)
        }
        Command::Sign { path, key } => {
            let dir = PathBuf::from(&path);
            if !dir.is_dir() {
                anyhow::bail!("`{path}` is not a remediation directory");
            }
            let manifest = manifest::load_manifest(&dir)?;
            let component = dir.join(&manifest.component);
            let wasm = medic::nofollow::read_regular_file(
                &component,
                medic::sandbox::limits::MAX_COMPONENT_BYTES,
            )
            .map_err(|error| anyhow::anyhow!("cannot read `{}`: {error}", component.display()))?;
            // Sign only what verifies: the component must be the one the manifest pins.
            manifest::check_component_hash(&manifest, &component, &wasm)?;
            let signing_key = signature::load_signing_key(&key)?;
            let file = dir.join(signature::SIGNATURE_FILE);
            let signed = signature::sign(&manifest, &signing_key);
            // Whole or not at all: a cut signature would refuse a reviewed remediation.
            medic::authoring::write_atomically(&file, signature::render(&signed).as_bytes())
                .map_err(|error| anyhow::anyhow!("cannot write `{}`: {error}", file.display()))?;
            out.line(format!(
                "signed {} {} (manifest sha256 {}, component sha256 {}) with {}: {}",
                manifest.name,
                manifest.version,
                signed.manifest_sha256,
                signed.component_sha256,
                signed.key,
                file.display()
            ))?;
            Ok(Exit::Success)
        }
        Command::Explain { path, json } => {
            let manifest = read_manifest(&path)?;
            let explanation = manifest::explain::explain(&manifest);
            if json {
                out.json(&explanation)?;
            } else {
                render(&explanation, out)?;
            }
            Ok(Exit::Success)
        }
    }
}

/// A manifest from a path, or a bundled one by name; no component or ceiling needed.
pub(crate) fn read_manifest(path: &str) -> anyhow::Result<Manifest> {
    if medic::catalog::is_path(path) {
        return Ok(manifest::load_manifest(Path::new(path))?);
    }
    let manifests = medic::catalog::bundled_manifests()?;
    manifests
        .into_iter()
        .find(|manifest| manifest.name == path)
        .ok_or_else(|| {
            manifest::ManifestError::UnknownRemediation {
                name: path.to_string(),
            }
            .into()
        })
}

pub(crate) fn render(
    explanation: &manifest::explain::Explanation,
    out: &mut Output,
) -> anyhow::Result<()> {
    out.line(format!(
        "{} {} -- {}",
        explanation.name, explanation.remediation_version, explanation.description
    ))?;
    out.line(format!(
        "risk: {}; prior confidence {:.2}, expected duration {:.1}s",
        explanation.risk, explanation.confidence, explanation.expected_duration_secs
    ))?;
    out.line(format!("component sha256: {}", explanation.sha256))?;
    if !explanation.handles.is_empty() {
        out.line(format!("handles: {}", explanation.handles.join("; ")))?;
    }
    out.line(
        "reads parameters (each value must match its pattern, checked before anything runs):",
    )?;
    if explanation.params.is_empty() {
        out.line("  none")?;
    }
    for param in &explanation.params {
        let mut notes = vec![
            if param.required {
                "required"
            } else {
                "optional"
            }
            .to_string(),
        ];
        if let Some(default) = &param.default {
            notes.push(format!("default `{default}`"));
        }
        if let Some(from) = &param.from {
            notes.push(format!("from {from}"));
        }
        out.line(format!(
            "  {} = `{}` ({}) -- {}",
            param.name,
            param.pattern,
            notes.join(", "),
            param.description
        ))?;
    }
    out.line("can run (directly, no shell; cleared environment; one pattern per argument, whole-argument match):")?;
    if explanation.exec.is_empty() {
        out.line("  nothing")?;
    }
    for exec in &explanation.exec {
        out.line(format!(
            "  {} {}{}",
            exec.program,
            exec.args
                .iter()
                .map(|arg| format!("<{arg}>"))
                .collect::<Vec<_>>()
                .join(" "),
            if exec.read_only {
                "  (read-only: may run during plan)"
            } else {
                ""
            }
        ))?;
        if !exec.secret_env.is_empty() {
            out.line(format!(
                "      with {} (set by the host; the remediation never sees the value)",
                exec.secret_env.join(", ")
            ))?;
        }
        if let Some(rate) = &exec.rate {
            out.line(format!("      at most {rate}"))?;
        }
    }
    out.line("can reach (no redirects followed; names must resolve to public addresses):")?;
    if explanation.http.is_empty() {
        out.line("  nothing")?;
    }
    for http in &explanation.http {
        out.line(format!("  {} {}", http.method, http.url))?;
        if let Some(auth) = &http.auth {
            out.line(format!(
                "      authorised with {auth} (added by the host; the remediation never sees the value)"
            ))?;
        }
        if let Some(rate) = &http.rate {
            out.line(format!("      at most {rate}"))?;
        }
    }
    out.line("can touch files (beneath these roots only; symlinks are never followed; FIFOs, sockets and devices are refused):")?;
    if explanation.fs.is_empty() {
        out.line("  nothing")?;
    }
    for fs in &explanation.fs {
        out.line(format!("  {} ({})", fs.path, fs.access))?;
    }
    out.line(format!(
        "can read env: {}",
        if explanation.env.is_empty() {
            "nothing".to_string()
        } else {
            explanation.env.join(", ")
        }
    ))?;
    out.line(format!(
        "limits: {} ms per call, {} bytes of memory, {} bytes of output",
        explanation.limits.timeout_ms,
        explanation.limits.memory_bytes,
        explanation.limits.output_bytes
    ))?;
    if explanation.warnings.is_empty() {
        out.line("warnings: none")?;
    } else {
        out.line(format!("warnings ({}):", explanation.warnings.len()))?;
        for warning in &explanation.warnings {
            out.line(format!(
                "  warning[{}] {}: {}",
                warning.code, warning.field, warning.message
            ))?;
        }
    }
    Ok(())
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        match self {
            Command::Check { json, .. } | Command::Explain { json, .. } => *json,
            Command::Keygen { .. } | Command::Sign { .. } => false,
        }
    }
}
