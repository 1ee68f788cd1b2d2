//! medic's configuration: the embedded default `medic.toml`, or the file given with
//! `--config`, plus command-line overrides. The only reader of environment variables.
//!
//! Owns: where medic keeps its data, the risk ceilings, the operator's pins. Does not own:
//! remediation manifests (`manifest/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::diagnosis::DEFAULT_LLM_THRESHOLD;
use crate::diagnosis::llm::{DEFAULT_TIMEOUT as LLM_TIMEOUT, LlmConfig};
use crate::manifest::grant::{self, SourceText};
use crate::manifest::limits::{self, Limits};
use crate::manifest::schema_for_config::{RawCapabilities, RawExec, RawFs, RawHttp, RawLimits};
use crate::manifest::{Ceiling, Ceilings, ManifestError};

/// The configuration compiled into the binary.
pub const DEFAULT_CONFIG: &str = include_str!("../medic.default.toml");
/// How the embedded configuration is named in messages.
pub const EMBEDDED_NAME: &str = "<embedded medic.toml>";
/// Environment variable holding the tracing filter, e.g. `medic=debug`.
pub const LOG_ENV: &str = "MEDIC_LOG";

/// Everything medic reads from its configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the audit log, checkpoints and compiled components live.
    pub data_dir: PathBuf,
    /// Per-risk-level whitelists.
    pub ceilings: Ceilings,
    /// Remediation name to the sha256 its component must have.
    pub pins: BTreeMap<String, String>,
    /// Refuse remediations that are neither bundled nor pinned.
    pub require_pins: bool,
    /// The file read, or [`EMBEDDED_NAME`].
    pub source: PathBuf,
    /// Pattern folder, advisor and threshold.
    pub diagnosis: DiagnosisConfig,
    /// What `medic context` collects.
    pub context: crate::context::ContextConfig,
}

/// `[diagnosis]`.
#[derive(Debug, Clone)]
pub struct DiagnosisConfig {
    /// Extra pattern files (`*.toml`), added to the built-in library.
    pub patterns_dir: Option<PathBuf>,
    /// Below this confidence a diagnosis is low and the advisor is asked.
    pub llm_threshold: f64,
    /// The advisor, when configured.
    pub llm: Option<LlmConfig>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Malformed TOML, or an unknown, missing or mistyped key.
    #[error("config {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A ceiling entry or pin is invalid.
    #[error("config: {0}")]
    Invalid(#[from] ManifestError),
    /// No data directory given and none could be found for this user.
    #[error("no data directory: pass `--data-dir DIR` or set `data_dir` in medic.toml")]
    NoDataDir,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    #[serde(default)]
    require_pins: bool,
    #[serde(default)]
    pins: BTreeMap<String, String>,
    #[serde(default)]
    ceilings: RawCeilings,
    #[serde(default)]
    diagnosis: RawDiagnosis,
    #[serde(default)]
    context: crate::context::RawContext,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiagnosis {
    patterns_dir: Option<PathBuf>,
    llm_threshold: Option<f64>,
    llm: Option<RawLlm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLlm {
    endpoint: String,
    model: String,
    api_key_env: Option<String>,
    timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCeilings {
    low: Option<RawCeiling>,
    medium: Option<RawCeiling>,
    high: Option<RawCeiling>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCeiling {
    #[serde(default)]
    exec: Vec<RawExec>,
    #[serde(default)]
    http: Vec<RawHttp>,
    #[serde(default)]
    fs: Vec<RawFs>,
    #[serde(default)]
    env: Vec<toml::Spanned<String>>,
    #[serde(default)]
    max_limits: RawLimits,
}

/// Load the configuration: `path` if given, else the embedded default. `data_dir`
/// overrides the file's `data_dir`.
pub fn load_config(path: Option<&Path>, data_dir: Option<PathBuf>) -> Result<Config, ConfigError> {
    let (text, source) = match path {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
            path.to_path_buf(),
        ),
        None => (DEFAULT_CONFIG.to_string(), PathBuf::from(EMBEDDED_NAME)),
    };
    parse_config(&text, &source, data_dir)
}

/// Parse configuration `text` read from `source`.
pub fn parse_config(
    text: &str,
    source: &Path,
    data_dir: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Syntax {
        path: source.to_path_buf(),
        message: error.to_string().trim_end().to_string(),
    })?;
    let src = SourceText { file: source, text };
    let ceiling = |raw: Option<RawCeiling>, level: &str| -> Result<Ceiling, ConfigError> {
        let Some(raw) = raw else {
            return Ok(Ceiling::default());
        };
        let prefix = format!("ceilings.{level}.");
        let capabilities = RawCapabilities {
            exec: raw.exec,
            http: raw.http,
            fs: raw.fs,
            env: raw.env,
        };
        let grants = grant::parse_grants(&capabilities, &src, &prefix, true)?;
        let max_limits = limits::parse_limits(
            &raw.max_limits,
            &src,
            &format!("{prefix}max_limits."),
            Limits::default(),
        )?;
        Ok(Ceiling { grants, max_limits })
    };
    let ceilings = Ceilings {
        low: ceiling(raw.ceilings.low, "low")?,
        medium: ceiling(raw.ceilings.medium, "medium")?,
        high: ceiling(raw.ceilings.high, "high")?,
        file: source.to_path_buf(),
    };
    for (name, hash) in &raw.pins {
        if hash.len() != 64
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ManifestError::Invalid {
                origin: crate::manifest::Origin {
                    file: source.to_path_buf(),
                    field: format!("pins.{name}"),
                    line: None,
                },
                message: format!("must be 64 lowercase hex digits, got `{hash}`"),
            }
            .into());
        }
    }
    let invalid = |field: &str, message: String| -> ConfigError {
        ManifestError::Invalid {
            origin: crate::manifest::Origin {
                file: source.to_path_buf(),
                field: field.to_string(),
                line: None,
            },
            message,
        }
        .into()
    };
    let llm_threshold = raw.diagnosis.llm_threshold.unwrap_or(DEFAULT_LLM_THRESHOLD);
    if !(0.0..=1.0).contains(&llm_threshold) {
        return Err(invalid(
            "diagnosis.llm_threshold",
            format!("must be between 0 and 1, got {llm_threshold}"),
        ));
    }
    let llm = match raw.diagnosis.llm {
        None => None,
        Some(llm) => {
            let parsed = url::Url::parse(&llm.endpoint).map_err(|error| {
                invalid(
                    "diagnosis.llm.endpoint",
                    format!("`{}` is not a URL: {error}", llm.endpoint),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    "diagnosis.llm.endpoint",
                    format!("`{}` must be http or https", llm.endpoint),
                ));
            }
            let timeout = match llm.timeout {
                Some(text) => humantime::parse_duration(&text).map_err(|error| {
                    invalid(
                        "diagnosis.llm.timeout",
                        format!("`{text}` is not a duration: {error}"),
                    )
                })?,
                None => LLM_TIMEOUT,
            };
            Some(LlmConfig {
                endpoint: llm.endpoint,
                model: llm.model,
                api_key_env: llm.api_key_env,
                timeout,
            })
        }
    };
    let diagnosis = DiagnosisConfig {
        patterns_dir: raw.diagnosis.patterns_dir,
        llm_threshold,
        llm,
    };
    let context = crate::context::parse_context(raw.context, source)?;
    let data_dir = match data_dir.or(raw.data_dir) {
        Some(dir) => dir,
        None => dirs::data_dir()
            .map(|dir| dir.join("medic"))
            .ok_or(ConfigError::NoDataDir)?,
    };
    Ok(Config {
        data_dir,
        ceilings,
        pins: raw.pins,
        require_pins: raw.require_pins,
        source: source.to_path_buf(),
        diagnosis,
        context,
    })
}

impl Config {
    /// Refuse a ceiling whose fs root is, contains or lies inside medic's own state (the
    /// data directory, the configuration file): no remediation may ever be granted it.
    pub fn check_state_reach(
        &self,
        protected: &crate::store::data_dir::Protected,
    ) -> Result<(), ConfigError> {
        for (level, ceiling) in [
            ("low", &self.ceilings.low),
            ("medium", &self.ceilings.medium),
            ("high", &self.ceilings.high),
        ] {
            for grant in &ceiling.grants.fs {
                if let Some((relation, state)) = protected.relation_of_path(&grant.path) {
                    return Err(ConfigError::Invalid(ManifestError::Unsafe {
                        origin: grant.origin.clone(),
                        message: format!(
                            "the `{level}` ceiling's `{}` {} medic's own state `{}`: a remediation granted it could rewrite medic's audit log, checkpoints or compiled code; keep the data directory (`--data-dir`, `data_dir`) outside every ceiling root, or narrow the root",
                            grant.path.display(),
                            relation.as_str(),
                            state.display()
                        ),
                    }));
                }
            }
        }
        Ok(())
    }
}

/// The value of environment variable `name` on this host, for a remediation's declared env.
pub fn host_env(name: &str) -> Option<String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config.rs is the one reader of the environment"
    )]
    std::env::var(name).ok()
}

/// The tracing filter from [`LOG_ENV`], if set.
pub fn log_filter() -> Option<String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config.rs is the one reader of the environment"
    )]
    std::env::var(LOG_ENV).ok()
}
