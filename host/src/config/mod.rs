//! medic's configuration, in layers: the embedded default `medic.toml`, then
//! `/etc/medic/medic.toml`, then the file given with `--config`, each overlaying the one
//! below section by section (a file holding only `[diagnosis]` keeps every default
//! ceiling), then `ceilings.d/*.toml` drop-ins beside the top file adding grants to a
//! level's ceiling, then command-line overrides. Every file medic reads for it must belong
//! to root or medic's user and be writable by nobody else. The only reader of environment
//! variables (`host_env.rs`).
//!
//! Owns: where medic keeps its data, the risk ceilings, the operator's pins, the secrets'
//! sources, and where each value came from (`medic config show`). Does not own:
//! remediation manifests (`manifest/`).
//!
//! `mod.rs` reads and overlays the files; each section's checks live in their own file:
//! `ceilings.rs` (levels, drop-ins, medic's state), `secrets.rs`, `signatures.rs`,
//! `diagnosis.rs`; `raw.rs` is the TOML shape.

mod ceilings;
mod diagnosis;
mod host_env;
mod raw;
mod secrets;
mod signatures;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::diagnosis::DEFAULT_LLM_THRESHOLD;
use crate::manifest::{Ceiling, Ceilings, ManifestError, Origin};
use ceilings::{add_drop_in, check_drop_in_dir, parse_ceiling, parse_drop_in};
use diagnosis::parse_diagnosis;
use host_env::system_config_path;
use raw::{RawConfig, RawDropIn};
use secrets::{check_secret_reach, parse_secret};
use signatures::parse_signatures;

pub use diagnosis::DiagnosisConfig;
pub use host_env::{CiEnvironment, cargo_home, ci_environment, host_env, log_filter};
pub use secrets::SecretSource;
pub use signatures::Signatures;

/// The configuration compiled into the binary.
pub const DEFAULT_CONFIG: &str = include_str!("../../medic.default.toml");
/// How the embedded configuration is named in messages.
pub const EMBEDDED_NAME: &str = "<embedded medic.toml>";
/// Environment variable holding the tracing filter, e.g. `medic=debug`.
pub const LOG_ENV: &str = "MEDIC_LOG";
/// The system-wide configuration, read when it exists.
pub const SYSTEM_CONFIG: &str = "/etc/medic/medic.toml";
/// Environment variable naming another system configuration file (empty: none), for
/// tests and unusual installations.
pub const SYSTEM_CONFIG_ENV: &str = "MEDIC_SYSTEM_CONFIG";
/// The drop-in folder beside the top configuration file.
pub const DROP_IN_DIR: &str = "ceilings.d";
/// Largest configuration file medic reads.
const MAX_CONFIG_BYTES: u64 = 4 << 20;

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
    /// The top file read, or [`EMBEDDED_NAME`].
    pub source: PathBuf,
    /// Pattern folder, advisor and threshold.
    pub diagnosis: DiagnosisConfig,
    /// What `medic context` collects.
    pub context: crate::context::ContextConfig,
    /// Whether the audit chain's head is signed (`[audit] sign`, default true).
    pub audit_sign: bool,
    /// Secret handles and where the host reads each.
    pub secrets: BTreeMap<String, SecretSource>,
    /// What medic may do on its own (`[policy]`).
    pub policy: crate::policy::Policy,
    /// Which signatures a remediation from a directory needs (`[signatures]`).
    pub signatures: Signatures,
    /// Directories whose subdirectories each hold an installed remediation, offered by
    /// `medic plan` beside the bundled ones.
    pub remediation_dirs: Vec<PathBuf>,
    /// Where each section came from, in the order shown by `medic config show`.
    pub provenance: Vec<Provenance>,
}

/// Where a section of the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The section: `data_dir`, `ceilings.medium`, `pins.my-fix`, `diagnosis`, ...
    pub section: String,
    /// The file, or [`EMBEDDED_NAME`], or `--data-dir`.
    pub source: String,
}

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config `{path}`: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Someone other than root or medic's user could change the file.
    #[error(
        "config `{path}` is unsafe: {reason}; medic takes its ceilings only from files nobody else can change"
    )]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// Owner or mode, in words.
        reason: String,
    },
    /// Malformed TOML, or an unknown, missing or mistyped key.
    #[error("config {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A ceiling entry, pin or setting is invalid.
    #[error("config: {0}")]
    Invalid(#[from] ManifestError),
    /// No data directory given and none could be found for this user.
    #[error("no data directory: pass `--data-dir DIR` or set `data_dir` in medic.toml")]
    NoDataDir,
}

/// One file of the configuration, parsed.
struct Layer {
    source: PathBuf,
    text: String,
    raw: RawConfig,
}

fn parse_layer(text: String, source: &Path) -> Result<Layer, ConfigError> {
    let raw: RawConfig = toml::from_str(&text).map_err(|error| ConfigError::Syntax {
        path: source.to_path_buf(),
        message: crate::text::toml_error(&text, &error),
    })?;
    Ok(Layer {
        source: source.to_path_buf(),
        text,
        raw,
    })
}

/// Read a configuration file, refusing one that someone else could change.
fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    use std::os::fd::AsFd;
    let file = crate::nofollow::open_regular_file(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    let stat = nix::sys::stat::fstat(file.as_fd()).map_err(|errno| ConfigError::Read {
        path: path.to_path_buf(),
        reason: errno.to_string(),
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if stat.st_uid != 0 && stat.st_uid != me {
        return Err(ConfigError::Unsafe {
            path: path.to_path_buf(),
            reason: format!(
                "it belongs to uid {}, neither root nor this user",
                stat.st_uid
            ),
        });
    }
    if stat.st_mode & 0o022 != 0 {
        return Err(ConfigError::Unsafe {
            path: path.to_path_buf(),
            reason: format!(
                "it is writable by group or others (mode {:o})",
                stat.st_mode & 0o7777
            ),
        });
    }
    let bytes = crate::nofollow::read_capped(file, path, MAX_CONFIG_BYTES).map_err(|error| {
        ConfigError::Read {
            path: path.to_path_buf(),
            reason: error.to_string(),
        }
    })?;
    String::from_utf8(bytes).map_err(|_| ConfigError::Read {
        path: path.to_path_buf(),
        reason: "not valid UTF-8".to_string(),
    })
}

/// Load the configuration: the embedded default, overlaid by the system file (when it
/// exists), by `path` (when given), and by the drop-ins beside the top file. `data_dir`
/// overrides every file's `data_dir`.
pub fn load_config(path: Option<&Path>, data_dir: Option<PathBuf>) -> Result<Config, ConfigError> {
    load(path, data_dir, CeilingMode::Compiled)
}

/// Load the configuration as [`load_config`] does, but leave the risk ceilings empty
/// (they allow nothing) instead of compiling their grants: for commands that run no
/// remediation, such as `medic diagnose`, whose start would otherwise pay for every
/// ceiling's patterns. A ceiling that does not compile is reported by the commands that
/// use ceilings and by `medic config check`, not here.
pub fn load_config_without_ceilings(
    path: Option<&Path>,
    data_dir: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    load(path, data_dir, CeilingMode::Empty)
}

/// Whether [`build`] compiles the ceilings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CeilingMode {
    Compiled,
    Empty,
}

fn load(
    path: Option<&Path>,
    data_dir: Option<PathBuf>,
    ceilings: CeilingMode,
) -> Result<Config, ConfigError> {
    let mut layers = vec![parse_layer(
        DEFAULT_CONFIG.to_string(),
        Path::new(EMBEDDED_NAME),
    )?];
    let system = system_config_path().filter(|system| system.exists());
    if let Some(system) = &system {
        layers.push(parse_layer(read_config_file(system)?, system)?);
    }
    if let Some(path) = path {
        layers.push(parse_layer(read_config_file(path)?, path)?);
    }
    let top = path.map(Path::to_path_buf).or(system);
    let mut drop_ins = Vec::new();
    if let Some(dir) = top
        .as_deref()
        .and_then(Path::parent)
        .map(|dir| dir.join(DROP_IN_DIR))
        .filter(|dir| dir.is_dir())
    {
        check_drop_in_dir(&dir)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|error| ConfigError::Read {
                path: dir.clone(),
                reason: error.to_string(),
            })?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|file| {
                file.extension()
                    .is_some_and(|extension| extension == "toml")
            })
            .collect();
        files.sort();
        for file in files {
            let text = read_config_file(&file)?;
            let raw = parse_drop_in(&text, &file)?;
            drop_ins.push((file, text, raw));
        }
    }
    build(&layers, &drop_ins, data_dir, ceilings)
}

/// Parse configuration `text` read from `source` as the whole configuration, with no
/// default beneath it (a level it leaves out grants nothing).
pub fn parse_config(
    text: &str,
    source: &Path,
    data_dir: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let layer = parse_layer(text.to_string(), source)?;
    build(&[layer], &[], data_dir, CeilingMode::Compiled)
}

/// The last layer that sets a section, with its source.
fn last<'a, T>(
    layers: &'a [Layer],
    pick: impl Fn(&'a RawConfig) -> Option<&'a T>,
) -> Option<(&'a T, &'a Layer)> {
    layers
        .iter()
        .rev()
        .find_map(|layer| pick(&layer.raw).map(|value| (value, layer)))
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn build(
    layers: &[Layer],
    drop_ins: &[(PathBuf, String, RawDropIn)],
    data_dir: Option<PathBuf>,
    compile_ceilings: CeilingMode,
) -> Result<Config, ConfigError> {
    let top = layers.last().expect("at least one layer");
    let mut provenance = Vec::new();
    let mut note = |section: &str, source: &Path| {
        provenance.push(Provenance {
            section: section.to_string(),
            source: shown(source),
        });
    };

    let data_dir = match (data_dir, last(layers, |raw| raw.data_dir.as_ref())) {
        (Some(dir), _) => {
            note("data_dir", Path::new("--data-dir"));
            dir
        }
        (None, Some((dir, layer))) => {
            note("data_dir", &layer.source);
            dir.clone()
        }
        (None, None) => {
            note("data_dir", Path::new("the user's data directory"));
            dirs::data_dir()
                .map(|dir| dir.join("medic"))
                .ok_or(ConfigError::NoDataDir)?
        }
    };
    let require_pins = match last(layers, |raw| raw.require_pins.as_ref()) {
        Some((value, layer)) => {
            note("require_pins", &layer.source);
            *value
        }
        None => false,
    };

    let mut pins = BTreeMap::new();
    for layer in layers {
        for (name, hash) in layer.raw.pins.iter().flatten() {
            if hash.len() != 64
                || !hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(ManifestError::Invalid {
                    origin: Origin {
                        file: layer.source.clone(),
                        field: format!("pins.{name}"),
                        line: None,
                    },
                    message: format!("must be 64 lowercase hex digits, got `{hash}`"),
                }
                .into());
            }
            pins.insert(name.clone(), hash.clone());
        }
    }
    for name in pins.keys() {
        if let Some((_, layer)) = last(layers, |raw| {
            raw.pins.as_ref().and_then(|pins| pins.get(name))
        }) {
            note(&format!("pins.{name}"), &layer.source);
        }
    }

    let mut levels = Vec::new();
    for level in ["low", "medium", "high"] {
        if compile_ceilings == CeilingMode::Empty {
            levels.push(Ceiling::default());
            continue;
        }
        let mut ceiling = match last(layers, |raw| raw.ceilings.level(level)) {
            Some((raw, layer)) => {
                note(&format!("ceilings.{level}"), &layer.source);
                parse_ceiling(raw, level, layer)?
            }
            None => Ceiling::default(),
        };
        for (file, text, raw) in drop_ins {
            if add_drop_in(&mut ceiling, level, (file.as_path(), text.as_str(), raw))? {
                note(&format!("ceilings.{level} (added)"), file);
            }
        }
        levels.push(ceiling);
    }
    let [low, medium, high]: [Ceiling; 3] = levels.try_into().expect("three levels");
    let ceilings = Ceilings {
        low,
        medium,
        high,
        file: top.source.clone(),
    };

    let diagnosis = match last(layers, |raw| raw.diagnosis.as_ref()) {
        Some((raw, layer)) => {
            note("diagnosis", &layer.source);
            parse_diagnosis(raw, &layer.source)?
        }
        None => DiagnosisConfig {
            patterns_dir: None,
            llm_threshold: DEFAULT_LLM_THRESHOLD,
            llm: None,
        },
    };
    let context = match last(layers, |raw| raw.context.as_ref()) {
        Some((raw, layer)) => {
            note("context", &layer.source);
            crate::context::parse_context(raw.clone(), &layer.source)?
        }
        None => crate::context::parse_context(
            crate::context::RawContext::default(),
            Path::new(EMBEDDED_NAME),
        )?,
    };
    let audit_sign = match last(layers, |raw| {
        raw.audit.as_ref().and_then(|audit| audit.sign.as_ref())
    }) {
        Some((sign, layer)) => {
            note("audit", &layer.source);
            *sign
        }
        None => true,
    };
    let mut secrets = BTreeMap::new();
    for layer in layers {
        for (name, raw) in layer.raw.secrets.iter().flatten() {
            secrets.insert(name.clone(), parse_secret(name, raw, &layer.source)?);
        }
    }
    for name in secrets.keys() {
        if let Some((_, layer)) = last(layers, |raw| {
            raw.secrets.as_ref().and_then(|secrets| secrets.get(name))
        }) {
            note(&format!("secrets.{name}"), &layer.source);
        }
    }
    check_secret_reach(&ceilings, &secrets)?;
    let policy = match last(layers, |raw| raw.policy.as_ref()) {
        Some((raw, layer)) => {
            note("policy", &layer.source);
            crate::policy::parse_policy(raw, &layer.source, &layer.text)?
        }
        None => crate::policy::parse_policy(
            &crate::policy::RawPolicy::default(),
            Path::new(EMBEDDED_NAME),
            "",
        )?,
    };
    let signatures = match last(layers, |raw| raw.signatures.as_ref()) {
        Some((raw, layer)) => {
            note("signatures", &layer.source);
            parse_signatures(raw, &layer.source)?
        }
        None => Signatures::default(),
    };
    let remediation_dirs = match last(layers, |raw| raw.remediation_dirs.as_ref()) {
        Some((dirs, layer)) => {
            note("remediation_dirs", &layer.source);
            for dir in dirs {
                if !dir.is_absolute() {
                    return Err(invalid(
                        &layer.source,
                        "remediation_dirs",
                        format!("`{}` must be an absolute path", dir.display()),
                    ));
                }
            }
            dirs.clone()
        }
        None => Vec::new(),
    };
    Ok(Config {
        data_dir,
        ceilings,
        pins,
        require_pins,
        source: top.source.clone(),
        diagnosis,
        context,
        audit_sign,
        secrets,
        policy,
        signatures,
        remediation_dirs,
        provenance,
    })
}

fn invalid(source: &Path, field: &str, message: String) -> ConfigError {
    ManifestError::Invalid {
        origin: Origin {
            file: source.to_path_buf(),
            field: field.to_string(),
            line: None,
        },
        message,
    }
    .into()
}
