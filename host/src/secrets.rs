//! Secrets the host holds for remediations, and the one [`Redactor`] applied where medic
//! writes.
//!
//! A manifest names a secret by handle (`auth = "secret:ci_token"` on an http grant,
//! `env = { PGPASSWORD = "secret:db" }` on an exec grant); the operator maps each handle to
//! a source in `medic.toml` (`[secrets.NAME]`: an environment variable, a file only the
//! operator can read, or a program's output). The host resolves the value when a run
//! starts and uses it itself (it adds the header, it sets the child's variable): the guest
//! never holds it, and every byte medic hands a guest (responses, program output, file
//! contents) has it cut out.
//!
//! The [`Redactor`] knows every secret value and every value of the manifest's plain
//! declared env names. It is applied where medic writes (audit records, reports, logs on
//! stderr, checkpoints in the database) so neither appears there, across calls and runs.
//! It catches a value as it is, not an encoding of it (base64, reversed): a secret proper
//! never enters the guest, and a plain env value the guest can read is the operator's
//! choice to share.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::config::SecretSource;

/// Shortest secret medic accepts: a shorter one would be redacted out of ordinary text.
pub const MIN_SECRET_BYTES: usize = 6;
/// Shortest plain env value worth redacting.
pub const MIN_REDACTED_BYTES: usize = 4;
/// What replaces the tail a cap may have cut inside a known value.
pub const CUT_MARK: &str = "[cut]";
/// Largest secret read from a file or a program.
const MAX_SECRET_BYTES: u64 = 64 << 10;
/// How long a secret's program may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a secret could not be had.
#[derive(Debug, Error)]
pub enum SecretError {
    /// A manifest names a handle `medic.toml` does not map.
    #[error("secret `{handle}` is not configured: add `[secrets.{handle}]` to medic.toml")]
    NotConfigured {
        /// The handle.
        handle: String,
    },
    /// The source gave nothing.
    #[error("secret `{handle}`: {reason}")]
    Unavailable {
        /// The handle.
        handle: String,
        /// What went wrong.
        reason: String,
    },
    /// The source file could be read by someone else.
    #[error(
        "secret `{handle}`: `{path}` {reason}; a secret file must belong to root or medic's user with mode 0600 or 0400"
    )]
    Unsafe {
        /// The handle.
        handle: String,
        /// The file.
        path: PathBuf,
        /// Owner or mode, in words.
        reason: String,
    },
}

/// Resolved secret values, by handle. Their `Debug` never shows a value.
#[derive(Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Secrets {
    /// The value of `handle`, if resolved.
    pub fn get(&self, handle: &str) -> Option<&str> {
        self.values.get(handle).map(String::as_str)
    }

    /// Secrets whose values are already known: a `medic test` scenario's, which stand in
    /// for the operator's sources.
    pub fn from_values(values: BTreeMap<String, String>) -> Self {
        Secrets { values }
    }

    /// Every (handle, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .map(|(handle, value)| (handle.as_str(), value.as_str()))
    }
}

/// Read each of `handles` from its configured source.
pub async fn resolve(
    handles: &BTreeSet<String>,
    sources: &BTreeMap<String, SecretSource>,
) -> Result<Secrets, SecretError> {
    let mut values = BTreeMap::new();
    for handle in handles {
        let source = sources
            .get(handle)
            .ok_or_else(|| SecretError::NotConfigured {
                handle: handle.clone(),
            })?;
        let value = read_source(handle, source).await?;
        if value.len() < MIN_SECRET_BYTES {
            return Err(SecretError::Unavailable {
                handle: handle.clone(),
                reason: format!(
                    "its value is shorter than {MIN_SECRET_BYTES} bytes; medic would redact it out of ordinary text"
                ),
            });
        }
        values.insert(handle.clone(), value);
    }
    Ok(Secrets { values })
}

/// The values of every configured secret that is cheap to read (an environment variable, a
/// file), whether or not this run uses it, for the run's `Redactor`: a value that reaches
/// a remediation some other way is still cut from what medic writes. A source that cannot
/// be read is skipped (the run does not use it); commands are not run for this.
pub async fn known_values(sources: &BTreeMap<String, SecretSource>) -> Vec<(String, String)> {
    let mut values = Vec::new();
    for (handle, source) in sources {
        if matches!(source, SecretSource::Command(_)) {
            continue;
        }
        if let Ok(value) = read_source(handle, source).await
            && value.len() >= MIN_SECRET_BYTES
        {
            values.push((handle.clone(), value));
        }
    }
    values
}

async fn read_source(handle: &str, source: &SecretSource) -> Result<String, SecretError> {
    let unavailable = |reason: String| SecretError::Unavailable {
        handle: handle.to_string(),
        reason,
    };
    let text = match source {
        SecretSource::Env(variable) => crate::config::host_env(variable).ok_or_else(|| {
            unavailable(format!("the environment variable `{variable}` is not set"))
        })?,
        SecretSource::File(path) => {
            use std::os::fd::AsFd;
            let file = crate::nofollow::open_regular_file(path)
                .map_err(|error| unavailable(error.to_string()))?;
            let stat = nix::sys::stat::fstat(file.as_fd())
                .map_err(|errno| unavailable(format!("`{}`: {errno}", path.display())))?;
            let me = nix::unistd::geteuid().as_raw();
            let unsafe_file = |reason: String| SecretError::Unsafe {
                handle: handle.to_string(),
                path: path.clone(),
                reason,
            };
            if stat.st_uid != 0 && stat.st_uid != me {
                return Err(unsafe_file(format!("belongs to uid {}", stat.st_uid)));
            }
            if stat.st_mode & 0o077 != 0 {
                return Err(unsafe_file(format!(
                    "may be read by group or others (mode {:o})",
                    stat.st_mode & 0o7777
                )));
            }
            let bytes = crate::nofollow::read_capped(file, path, MAX_SECRET_BYTES)
                .map_err(|error| unavailable(error.to_string()))?;
            String::from_utf8(bytes).map_err(|_| unavailable("it is not UTF-8".to_string()))?
        }
        SecretSource::Command(command) => {
            let (program, args) = command
                .split_first()
                .ok_or_else(|| unavailable("the command is empty".to_string()))?;
            let output = crate::process::run(crate::process::Spawn {
                program: crate::process::Program::Path(std::path::Path::new(program)),
                args,
                env: &[],
                timeout: COMMAND_TIMEOUT,
                output_cap: MAX_SECRET_BYTES as usize,
                stop: None,
            })
            .await
            .map_err(|error| unavailable(error.to_string()))?;
            if output.status != Some(0) {
                return Err(unavailable(format!(
                    "`{}` exited with {:?}",
                    command.join(" "),
                    output.status
                )));
            }
            String::from_utf8(output.stdout)
                .map_err(|_| unavailable("its output is not UTF-8".to_string()))?
        }
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// How a secret's label begins: `[secret:NAME]`.
pub const SECRET_LABEL: &str = "[secret:";

/// Cuts known values out of whatever medic writes: each secret becomes `[secret:NAME]`,
/// each declared env value `[redacted:NAME]`, longest first.
#[derive(Default, Clone)]
pub struct Redactor {
    needles: Vec<(String, String)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.needles.iter().map(|(_, label)| label))
            .finish()
    }
}

impl Redactor {
    /// A redactor for these secrets and these declared env values.
    pub fn new<'a>(secrets: &Secrets, env: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut needles: Vec<(String, String)> = secrets
            .iter()
            // Every source refuses a short value; an empty one would match everywhere.
            .filter(|(_, value)| !value.is_empty())
            .map(|(handle, value)| (value.to_string(), format!("{SECRET_LABEL}{handle}]")))
            .chain(
                env.into_iter()
                    .filter(|(_, value)| value.len() >= MIN_REDACTED_BYTES)
                    .map(|(name, value)| (value.to_string(), format!("[redacted:{name}]"))),
            )
            .collect();
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.0.len()));
        needles.dedup_by(|a, b| a.0 == b.0);
        Redactor { needles }
    }

    /// Also cut `value` (a secret in another form: the base64 of a basic-auth header),
    /// shown as `label`.
    pub fn also(mut self, value: String, label: String) -> Self {
        if value.len() >= MIN_REDACTED_BYTES
            && !self.needles.iter().any(|(known, _)| *known == value)
        {
            self.needles.push((value, label));
            self.needles
                .sort_by_key(|needle| std::cmp::Reverse(needle.0.len()));
        }
        self
    }

    /// Whether there is nothing to cut.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every known value cut out.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self
            .needles
            .iter()
            .any(|(value, _)| text.contains(value.as_str()))
        {
            return Cow::Borrowed(text);
        }
        let mut text = text.to_string();
        for (value, label) in &self.needles {
            text = text.replace(value.as_str(), label);
        }
        Cow::Owned(text)
    }

    /// `bytes`, cut short at a cap, with every known value cut out, and then the last
    /// bytes that could start one dropped whatever they hold: where the cap falls (a guest
    /// can choose it) must not tell it whether a tail began a secret, so the cut never
    /// depends on the content.
    pub fn redact_truncated<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(longest) = self.needles.iter().map(|(value, _)| value.len()).max() else {
            return Cow::Borrowed(bytes);
        };
        let redacted = self.redact_bytes(bytes);
        let keep = redacted.len().saturating_sub(longest - 1);
        let mut out = redacted[..keep].to_vec();
        out.extend_from_slice(CUT_MARK.as_bytes());
        Cow::Owned(out)
    }

    /// The label (`[secret:NAME]`) of a secret whose value `bytes` hold, if any. Declared
    /// env values are not counted: the guest may read those itself.
    pub fn secret_in(&self, bytes: &[u8]) -> Option<&str> {
        self.needles
            .iter()
            .filter(|(_, label)| label.starts_with(SECRET_LABEL))
            .find(|(value, _)| memchr::memmem::find(bytes, value.as_bytes()).is_some())
            .map(|(_, label)| label.as_str())
    }

    /// `bytes` with every known value cut out.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut current: Cow<'a, [u8]> = Cow::Borrowed(bytes);
        for (value, label) in &self.needles {
            let needle = value.as_bytes();
            if memchr::memmem::find(&current, needle).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(current.len());
            let mut rest: &[u8] = &current;
            while let Some(at) = memchr::memmem::find(rest, needle) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(label.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            out.extend_from_slice(rest);
            current = Cow::Owned(out);
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_out_of_text_and_bytes_longest_first() {
        let secrets = Secrets {
            values: BTreeMap::from([("db".to_string(), "hunter2-hunter2".to_string())]),
        };
        let redactor = Redactor::new(&secrets, [("TOKEN", "hunter2"), ("SHORT", "ab")]);
        assert_eq!(
            redactor.redact("pw=hunter2-hunter2 tok=hunter2 ab"),
            "pw=[secret:db] tok=[redacted:TOKEN] ab"
        );
        assert_eq!(
            redactor.redact_bytes(b"\x00hunter2-hunter2\xff").as_ref(),
            b"\x00[secret:db]\xff"
        );
        assert!(matches!(redactor.redact("nothing"), Cow::Borrowed(_)));
        assert_eq!(format!("{secrets:?}"), "{\"db\"}");
    }

    #[test]
    fn secret_in_names_a_secret_but_not_a_declared_env_value() {
        let secrets = Secrets {
            values: BTreeMap::from([("db".to_string(), "hunter2-hunter2".to_string())]),
        };
        let redactor = Redactor::new(&secrets, [("MODE", "production-blue")]);
        assert_eq!(
            redactor.secret_in(b"password=hunter2-hunter2\n"),
            Some("[secret:db]")
        );
        assert_eq!(redactor.secret_in(b"mode=production-blue"), None);
        assert_eq!(redactor.secret_in(b"nothing here"), None);
    }

    #[test]
    fn a_cap_inside_a_value_leaves_none_of_it() {
        let secret = "S3cr3t-Tok3n-XYZZY-42";
        let secrets = Secrets {
            values: BTreeMap::from([("tok".to_string(), secret.to_string())]),
        };
        let redactor = Redactor::new(&secrets, []);
        // Wherever the cap falls, the same bytes go: the cut says nothing of what they held.
        for cut in 0..secret.len() {
            let shown = format!("{}{}", "P".repeat(40), &secret[..cut]);
            let redacted = redactor.redact_truncated(shown.as_bytes());
            let kept = shown.len() - (secret.len() - 1);
            assert_eq!(
                redacted.as_ref(),
                format!("{}{CUT_MARK}", &shown[..kept]).as_bytes(),
                "cut after {cut}"
            );
            assert!(
                !String::from_utf8_lossy(&redacted).contains("S3"),
                "cut after {cut}"
            );
        }
        let text = format!("{secret} and more text here, enough of it to keep");
        let whole = redactor.redact_truncated(text.as_bytes());
        let whole = String::from_utf8_lossy(&whole);
        assert!(
            whole.starts_with("[secret:tok] and more text here") && whole.ends_with(CUT_MARK),
            "{whole}"
        );
        let empty = Redactor::new(&Secrets::default(), []);
        assert_eq!(empty.redact_truncated(b"plain").as_ref(), b"plain");
    }

    #[tokio::test]
    async fn secret_files_must_be_private_and_handles_configured() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("token");
        std::fs::write(&file, "s3cret-token\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let sources = BTreeMap::from([
            ("file".to_string(), SecretSource::File(file.clone())),
            (
                "cmd".to_string(),
                SecretSource::Command(vec!["/usr/bin/printf".into(), "from-a-command".into()]),
            ),
        ]);
        let handles = BTreeSet::from(["file".to_string(), "cmd".to_string()]);
        let secrets = resolve(&handles, &sources).await.unwrap();
        assert_eq!(secrets.get("file"), Some("s3cret-token"));
        assert_eq!(secrets.get("cmd"), Some("from-a-command"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            resolve(&handles, &sources).await,
            Err(SecretError::Unsafe { .. })
        ));
        let unknown = BTreeSet::from(["nope".to_string()]);
        assert!(matches!(
            resolve(&unknown, &sources).await,
            Err(SecretError::NotConfigured { .. })
        ));
    }
}
