//! `[limits]`: how long, how much memory and how much output a remediation may use.
//! Enforced by `sandbox/limits.rs`.

use std::time::Duration;

use toml::Spanned;

use super::error::ManifestError;
use super::grant::SourceText;
use super::schema::RawLimits;

/// Default wall-clock budget for one call (plan, apply, verify or rollback).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a component's linear memory.
pub const DEFAULT_MEMORY: u64 = 64 << 20;
/// Default cap on captured stdout, stderr and log output, each.
pub const DEFAULT_OUTPUT: u64 = 64 << 10;
/// No manifest or ceiling may go past these, whatever it says.
pub const HARD_MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// See [`HARD_MAX_TIMEOUT`].
pub const HARD_MAX_MEMORY: u64 = 4 << 30;
/// See [`HARD_MAX_TIMEOUT`].
pub const HARD_MAX_OUTPUT: u64 = 16 << 20;

/// Resource limits for each call into a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for one call, host calls included.
    pub timeout: Duration,
    /// Bytes of linear memory.
    pub memory: u64,
    /// Bytes of stdout, of stderr and of log messages.
    pub output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            memory: DEFAULT_MEMORY,
            output: DEFAULT_OUTPUT,
        }
    }
}

/// Parse `[limits]`; missing values take `defaults`.
pub(crate) fn parse_limits(
    raw: &RawLimits,
    src: &SourceText<'_>,
    prefix: &str,
    defaults: Limits,
) -> Result<Limits, ManifestError> {
    let mut limits = defaults;
    if let Some(timeout) = &raw.timeout {
        limits.timeout = humantime::parse_duration(timeout.get_ref()).or_else(|error| {
            src.invalid(
                format!("{prefix}timeout"),
                timeout.span(),
                format!(
                    "`{}` is not a duration such as `30s` or `2m`: {error}",
                    timeout.get_ref()
                ),
            )
        })?;
        if limits.timeout.is_zero() || limits.timeout > HARD_MAX_TIMEOUT {
            return src.invalid(
                format!("{prefix}timeout"),
                timeout.span(),
                format!(
                    "must be more than 0 and at most {}",
                    humantime::format_duration(HARD_MAX_TIMEOUT)
                ),
            );
        }
    }
    if let Some(memory) = &raw.memory {
        limits.memory = size(memory, src, &format!("{prefix}memory"), HARD_MAX_MEMORY)?;
    }
    if let Some(output) = &raw.output {
        limits.output = size(output, src, &format!("{prefix}output"), HARD_MAX_OUTPUT)?;
    }
    Ok(limits)
}

fn size(
    raw: &Spanned<String>,
    src: &SourceText<'_>,
    field: &str,
    max: u64,
) -> Result<u64, ManifestError> {
    match parse_size(raw.get_ref()) {
        Some(bytes) if bytes > 0 && bytes <= max => Ok(bytes),
        Some(_) => src.invalid(
            field,
            raw.span(),
            format!("must be more than 0 and at most {max} bytes"),
        ),
        None => src.invalid(
            field,
            raw.span(),
            format!(
                "`{}` is not a size such as `64MiB`, `512KiB` or `1048576`",
                raw.get_ref()
            ),
        ),
    }
}

/// `1048576`, `64MiB`, `512KiB`, `1GiB`, `10MB`, `3 KB`.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}
