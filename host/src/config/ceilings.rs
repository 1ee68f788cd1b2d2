//! The risk ceilings' files: a level's `[ceilings.LEVEL]` section, the `ceilings.d/`
//! drop-ins that add grants to it (and the folder that holds them), and the check that no
//! ceiling root reaches medic's own state.

use std::path::Path;

use super::raw::{self, RawDropIn};
use super::{Config, ConfigError, Layer, Provenance, read_config_file, shown};
use crate::manifest::grant::{self, SourceText};
use crate::manifest::limits::{self, Limits};
use crate::manifest::schema_for_config::RawCapabilities;
use crate::manifest::{Ceiling, ManifestError};

/// Refuse a drop-in directory someone else could change: whoever can add, remove or swap
/// its files changes the ceilings (and their rate limits) as surely as the file above it.
pub(super) fn check_drop_in_dir(dir: &Path) -> Result<(), ConfigError> {
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

pub(super) fn parse_ceiling(
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

/// Add what drop-in `raw` (read from `file`) grants `level` to `ceiling`; false when it
/// grants that level nothing.
pub(super) fn add_drop_in(
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
pub(super) fn parse_drop_in(text: &str, file: &Path) -> Result<RawDropIn, ConfigError> {
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
        super::secrets::check_secret_reach(&self.ceilings, &self.secrets)
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
