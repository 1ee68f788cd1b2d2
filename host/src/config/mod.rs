//! medic's configuration, in layers: the embedded default `medic.toml`, then
//! `/etc/medic/medic.toml`, then the file given with `--config`, each overlaying the one
//! below section by section (a file holding only `[diagnosis]` keeps every default
//! ceiling), then `ceilings.d/*.toml` drop-ins beside the top file adding grants to a
//! level's ceiling, then command-line overrides. Every file medic reads for it must belong
//! to root or medic's user and be writable by nobody else. The only reader of environment
//! variables.
//!
//! Owns: where medic keeps its data, the risk ceilings, the operator's pins, the secrets'
//! sources, and where each value came from (`medic config show`). Does not own:
//! remediation manifests (`manifest/`).

mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::diagnosis::DEFAULT_LLM_THRESHOLD;
use crate::diagnosis::llm::{DEFAULT_TIMEOUT as LLM_TIMEOUT, LlmConfig};
use crate::manifest::grant::{self, SourceText};
use crate::manifest::limits::{self, Limits};
use crate::manifest::schema_for_config::RawCapabilities;
use crate::manifest::{Ceiling, Ceilings, ManifestError, Origin};
use raw::{RawConfig, RawDropIn};

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

/// `[signatures]`: an operator can require that only remediations a trusted reviewer
/// signed (`medic manifest sign`) run; bundled ones are part of medic and need none.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    /// Refuse a remediation from a directory without a signature by a trusted key.
    pub require: bool,
    /// Reviewers' public keys, by the name the operator gave each.
    pub trusted: BTreeMap<String, ed25519_dalek::VerifyingKey>,
}

/// Where a section of the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The section: `data_dir`, `ceilings.medium`, `pins.my-fix`, `diagnosis`, ...
    pub section: String,
    /// The file, or [`EMBEDDED_NAME`], or `--data-dir`.
    pub source: String,
}

/// Where the host reads a secret. The value never enters a guest and is redacted from
/// everything medic writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable of medic's.
    Env(String),
    /// A file only the operator can read (owner root or medic's user, mode 0600 or 0400).
    File(PathBuf),
    /// A program (absolute path, no shell) whose standard output, trimmed, is the secret.
    Command(Vec<String>),
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

/// Refuse a drop-in directory someone else could change: whoever can add, remove or swap
/// its files changes the ceilings (and their rate limits) as surely as the file above it.
fn check_drop_in_dir(dir: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_dir = |reason: String| ConfigError::Unsafe {
        path: dir.to_path_buf(),
        reason,
    };
    let metadata = std::fs::symlink_metadata(dir).map_err(|error| ConfigError::Read {
        path: dir.to_path_buf(),
        reason: error.to_string(),
    })?;
    if !metadata.file_type().is_dir() {
        return Err(unsafe_dir("it is a symlink, not a directory".to_string()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if metadata.uid() != 0 && metadata.uid() != me {
        return Err(unsafe_dir(format!(
            "it belongs to uid {}, neither root nor this user",
            metadata.uid()
        )));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "it is writable by group or others (mode {:o})",
            metadata.mode() & 0o7777
        )));
    }
    Ok(())
}

/// The system configuration file, unless [`SYSTEM_CONFIG_ENV`] names another (or none).
fn system_config_path() -> Option<PathBuf> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config.rs is the one reader of the environment"
    )]
    match std::env::var_os(SYSTEM_CONFIG_ENV) {
        Some(value) if value.is_empty() => None,
        Some(value) => Some(PathBuf::from(value)),
        None => Some(PathBuf::from(SYSTEM_CONFIG)),
    }
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

fn parse_signatures(raw: &raw::RawSignatures, source: &Path) -> Result<Signatures, ConfigError> {
    let mut trusted = BTreeMap::new();
    for (name, key) in &raw.trusted {
        let key = crate::manifest::signature::parse_public_key(key).map_err(|message| {
            invalid(
                source,
                &format!("signatures.trusted.{name}"),
                format!("the key {message}"),
            )
        })?;
        trusted.insert(name.clone(), key);
    }
    let require = raw.require.unwrap_or(false);
    if require && trusted.is_empty() {
        return Err(invalid(
            source,
            "signatures.require",
            "requires signatures but trusts no key: add `trusted = { NAME = \"ed25519:...\" }` (`medic manifest keygen` prints one)".to_string(),
        ));
    }
    Ok(Signatures { require, trusted })
}

/// Add what drop-in `raw` (read from `file`) grants `level` to `ceiling`; false when it
/// grants that level nothing.
fn add_drop_in(
    ceiling: &mut Ceiling,
    level: &str,
    (file, text, raw): (&Path, &str, &RawDropIn),
) -> Result<bool, ConfigError> {
    let grants = match level {
        "low" => raw.ceilings.low.as_ref(),
        "medium" => raw.ceilings.medium.as_ref(),
        _ => raw.ceilings.high.as_ref(),
    };
    let Some(grants) = grants else {
        return Ok(false);
    };
    let src = SourceText { file, text };
    let capabilities = RawCapabilities {
        exec: grants.exec.clone(),
        http: grants.http.clone(),
        fs: grants.fs.clone(),
        env: grants.env.clone(),
    };
    let added = grant::parse_grants(&capabilities, &src, &format!("ceilings.{level}."), true)?;
    ceiling.grants.exec.extend(added.exec);
    ceiling.grants.http.extend(added.http);
    ceiling.grants.fs.extend(added.fs);
    ceiling.grants.env.extend(added.env);
    ceiling.secrets.extend(grants.secrets.iter().cloned());
    Ok(true)
}

/// Parse drop-in `text` read from `file` (the `ceilings.d/*.toml` shape).
fn parse_drop_in(text: &str, file: &Path) -> Result<RawDropIn, ConfigError> {
    toml::from_str(text).map_err(|error| ConfigError::Syntax {
        path: file.to_path_buf(),
        message: crate::text::toml_error(text, &error),
    })
}

impl Config {
    /// Add the grants of one more ceiling drop-in, `file`, as if it lay in `ceilings.d/`
    /// beside the top configuration file: `medic test` applies the drop-in a remediation
    /// ships for its operator to review, since that is the ceiling it will run under.
    pub fn add_ceiling_drop_in(&mut self, file: &Path) -> Result<(), ConfigError> {
        let text = read_config_file(file)?;
        let raw = parse_drop_in(&text, file)?;
        for (level, ceiling) in [
            ("low", &mut self.ceilings.low),
            ("medium", &mut self.ceilings.medium),
            ("high", &mut self.ceilings.high),
        ] {
            if add_drop_in(ceiling, level, (file, &text, &raw))? {
                self.provenance.push(Provenance {
                    section: format!("ceilings.{level} (added)"),
                    source: shown(file),
                });
            }
        }
        check_secret_reach(&self.ceilings, &self.secrets)
    }
}

/// Refuse a ceiling that lets a remediation reach a secret's source by a plain grant: an fs
/// root holding a secret's file, an exec argument pattern that accepts its path, an env
/// name (or prefix) that is a secret's variable. A secret reaches a remediation only
/// through the host, by handle.
fn check_secret_reach(
    ceilings: &Ceilings,
    secrets: &BTreeMap<String, SecretSource>,
) -> Result<(), ConfigError> {
    let reaches = |origin: &Origin, message: String| {
        Err(ConfigError::Invalid(ManifestError::Unsafe {
            origin: origin.clone(),
            message,
        }))
    };
    for (level, ceiling) in [
        ("low", &ceilings.low),
        ("medium", &ceilings.medium),
        ("high", &ceilings.high),
    ] {
        for (name, source) in secrets {
            match source {
                SecretSource::File(path) => {
                    // As written and as resolved: a symlink may lead into a root.
                    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                    if let Some(grant) = ceiling.grants.fs.iter().find(|grant| {
                        path.starts_with(&grant.path) || resolved.starts_with(&grant.path)
                    }) {
                        return reaches(
                            &grant.origin,
                            format!(
                                "the `{level}` ceiling's `{}` holds `{}`, the file of secret `{name}`: a remediation could read it without naming it; keep secret files outside every ceiling root",
                                grant.path.display(),
                                path.display()
                            ),
                        );
                    }
                    let text = path.to_string_lossy();
                    if let Some(grant) = ceiling
                        .grants
                        .exec
                        .iter()
                        .find(|grant| grant.args.iter().any(|arg| arg.matches(&text)))
                    {
                        return reaches(
                            &grant.origin,
                            format!(
                                "the `{level}` ceiling's `{}` accepts `{}`, the file of secret `{name}`, as an argument; narrow the pattern",
                                grant.describe(),
                                path.display()
                            ),
                        );
                    }
                }
                SecretSource::Env(variable) => {
                    if let Some(grant) = ceiling
                        .grants
                        .env
                        .iter()
                        .find(|grant| grant.matches(variable))
                    {
                        let origin = Origin {
                            file: PathBuf::from("<configuration>"),
                            field: format!("ceilings.{level}.env"),
                            line: None,
                        };
                        return reaches(
                            &origin,
                            format!(
                                "the `{level}` ceiling's env `{}` lets a remediation read `{variable}`, the variable of secret `{name}`; a secret reaches a remediation only by handle",
                                grant.describe()
                            ),
                        );
                    }
                }
                SecretSource::Command(_) => {}
            }
        }
    }
    Ok(())
}

fn parse_ceiling(
    raw: &raw::RawCeiling,
    level: &str,
    layer: &Layer,
) -> Result<Ceiling, ConfigError> {
    let src = SourceText {
        file: &layer.source,
        text: &layer.text,
    };
    let prefix = format!("ceilings.{level}.");
    let capabilities = RawCapabilities {
        exec: raw.exec.clone(),
        http: raw.http.clone(),
        fs: raw.fs.clone(),
        env: raw.env.clone(),
    };
    let grants = grant::parse_grants(&capabilities, &src, &prefix, true)?;
    let max_limits = limits::parse_limits(
        &raw.max_limits,
        &src,
        &format!("{prefix}max_limits."),
        Limits::default(),
    )?;
    Ok(Ceiling {
        grants,
        max_limits,
        source: layer.source.clone(),
        secrets: raw.secrets.clone(),
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

fn parse_diagnosis(raw: &raw::RawDiagnosis, source: &Path) -> Result<DiagnosisConfig, ConfigError> {
    let llm_threshold = raw.llm_threshold.unwrap_or(DEFAULT_LLM_THRESHOLD);
    if !(0.0..=1.0).contains(&llm_threshold) {
        return Err(invalid(
            source,
            "diagnosis.llm_threshold",
            format!("must be between 0 and 1, got {llm_threshold}"),
        ));
    }
    let llm = match &raw.llm {
        None => None,
        Some(llm) => {
            let parsed = url::Url::parse(&llm.endpoint).map_err(|error| {
                invalid(
                    source,
                    "diagnosis.llm.endpoint",
                    format!("`{}` is not a URL: {error}", llm.endpoint),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    source,
                    "diagnosis.llm.endpoint",
                    format!("`{}` must be http or https", llm.endpoint),
                ));
            }
            let timeout = match &llm.timeout {
                Some(text) => humantime::parse_duration(text).map_err(|error| {
                    invalid(
                        source,
                        "diagnosis.llm.timeout",
                        format!("`{text}` is not a duration: {error}"),
                    )
                })?,
                None => LLM_TIMEOUT,
            };
            if let Some(proxy) = &llm.proxy {
                url::Url::parse(proxy).map_err(|error| {
                    invalid(
                        source,
                        "diagnosis.llm.proxy",
                        format!("`{proxy}` is not a URL: {error}"),
                    )
                })?;
            }
            Some(LlmConfig {
                endpoint: llm.endpoint.clone(),
                model: llm.model.clone(),
                api_key_env: llm.api_key_env.clone(),
                timeout,
                proxy: llm.proxy.clone(),
                follow_redirects: llm.follow_redirects.unwrap_or(false),
            })
        }
    };
    Ok(DiagnosisConfig {
        patterns_dir: raw.patterns_dir.clone(),
        llm_threshold,
        llm,
    })
}

fn parse_secret(
    name: &str,
    raw: &raw::RawSecret,
    source: &Path,
) -> Result<SecretSource, ConfigError> {
    let field = format!("secrets.{name}");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            source,
            &field,
            "a secret's name is letters, digits, `_` and `-`".to_string(),
        ));
    }
    match (&raw.env, &raw.file, &raw.command) {
        (Some(env), None, None) => Ok(SecretSource::Env(env.clone())),
        (None, Some(file), None)
            if file.is_absolute()
                && file.components().all(|part| {
                    matches!(
                        part,
                        std::path::Component::RootDir | std::path::Component::Normal(_)
                    )
                }) =>
        {
            Ok(SecretSource::File(file.clone()))
        }
        (None, None, Some(command))
            if command
                .first()
                .is_some_and(|program| program.starts_with('/')) =>
        {
            Ok(SecretSource::Command(command.clone()))
        }
        (None, Some(file), None) => Err(invalid(
            source,
            &field,
            format!(
                "`file` must be an absolute path without `.` or `..`, got `{}`",
                file.display()
            ),
        )),
        (None, None, Some(_)) => Err(invalid(
            source,
            &field,
            "`command` must start with an absolute program path (no shell)".to_string(),
        )),
        _ => Err(invalid(
            source,
            &field,
            "set exactly one of `env`, `file` or `command`".to_string(),
        )),
    }
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

/// Cargo's home, for `medic build`'s path remapping: `CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Option<PathBuf> {
    host_env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".cargo")))
}

/// The tracing filter from [`LOG_ENV`], if set.
pub fn log_filter() -> Option<String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config.rs is the one reader of the environment"
    )]
    std::env::var(LOG_ENV).ok()
}

/// The CI system medic runs under, from its environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiEnvironment {
    /// `GITHUB_ACTIONS=true`.
    pub github_actions: bool,
    /// `GITHUB_STEP_SUMMARY`: the file a step appends its Markdown summary to.
    pub github_step_summary: Option<PathBuf>,
    /// `GITLAB_CI=true`.
    pub gitlab_ci: bool,
}

/// Which CI system, if any, runs medic now.
pub fn ci_environment() -> CiEnvironment {
    let set = |name: &str| host_env(name).is_some_and(|value| value == "true");
    CiEnvironment {
        github_actions: set("GITHUB_ACTIONS"),
        github_step_summary: host_env("GITHUB_STEP_SUMMARY")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from),
        gitlab_ci: set("GITLAB_CI"),
    }
}
