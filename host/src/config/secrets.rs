//! Where the host reads each secret (`[secrets.NAME]`), and the check that no ceiling
//! lets a remediation reach a secret's source by a plain grant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::raw;
use super::{ConfigError, invalid};
use crate::manifest::{Ceilings, ManifestError, Origin};

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

/// Refuse a ceiling that lets a remediation reach a secret's source by a plain grant: an fs
/// root holding a secret's file, an exec argument pattern that accepts its path, an env
/// name (or prefix) that is a secret's variable. A secret reaches a remediation only
/// through the host, by handle.
pub(super) fn check_secret_reach(
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

pub(super) fn parse_secret(
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
