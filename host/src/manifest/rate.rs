//! Rate limits on a grant: at most `max` calls per `per`, counted per target (the whole
//! call, one argument, the URL, its host or path), durably in medic's database across
//! processes, runs and incidents, so a misfiring rule cannot restart a service in a loop.
//! Counting happens in `store/rates.rs`; the gates ask before they act.

use std::time::Duration;

use super::error::ManifestError;
use super::grant::SourceText;
use super::schema::RawRate;

/// The longest window a limit may count over.
const MAX_WINDOW: Duration = Duration::from_secs(31 * 24 * 3600);

/// What a call is counted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// The whole call (program and arguments, or method and URL).
    Target,
    /// One exec argument, by position from 0: `arg:1` counts `supervisorctl restart NAME`
    /// per name.
    Arg(usize),
    /// The request URL (without query).
    Url,
    /// The request's host.
    Host,
    /// The request's path.
    Path,
}

/// A grant's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed in one window.
    pub max: u32,
    /// The window.
    pub per: Duration,
    /// What is counted separately.
    pub key: RateKey,
}

impl RateLimit {
    /// `3 per 1h, counted per arg:1`, for reviewers and messages.
    pub fn describe(&self) -> String {
        let key = match &self.key {
            RateKey::Target => "the whole call".to_string(),
            RateKey::Arg(index) => format!("arg:{index}"),
            RateKey::Url => "url".to_string(),
            RateKey::Host => "host".to_string(),
            RateKey::Path => "path".to_string(),
        };
        format!(
            "{} per {}, counted per {key}",
            self.max,
            humantime::format_duration(self.per)
        )
    }
}

/// Parse `rate` of a grant at `field`; `exec_args` is the exec grant's argument count, or
/// `None` for an http grant.
pub(crate) fn parse_rate(
    raw: &RawRate,
    src: &SourceText<'_>,
    field: &str,
    exec_args: Option<usize>,
) -> Result<RateLimit, ManifestError> {
    let max = *raw.max.get_ref();
    if max == 0 {
        return src.invalid(
            format!("{field}.rate.max"),
            raw.max.span(),
            "must be at least 1 (to forbid the call, do not grant it)",
        );
    }
    let per = humantime::parse_duration(raw.per.get_ref()).or_else(|error| {
        src.invalid(
            format!("{field}.rate.per"),
            raw.per.span(),
            format!(
                "`{}` is not a duration such as `1h`: {error}",
                raw.per.get_ref()
            ),
        )
    })?;
    if per.is_zero() || per > MAX_WINDOW {
        return src.invalid(
            format!("{field}.rate.per"),
            raw.per.span(),
            "must be more than 0 and at most 31 days",
        );
    }
    let key = match raw
        .key
        .as_ref()
        .map(|key| (key.get_ref().as_str(), key.span()))
    {
        None => RateKey::Target,
        Some(("target", _)) => RateKey::Target,
        Some(("url", _)) if exec_args.is_none() => RateKey::Url,
        Some(("host", _)) if exec_args.is_none() => RateKey::Host,
        Some(("path", _)) if exec_args.is_none() => RateKey::Path,
        Some((text, span)) => {
            match (text.strip_prefix("arg:"), exec_args) {
                (Some(index), Some(count)) => match index.parse::<usize>() {
                    Ok(index) if index < count => RateKey::Arg(index),
                    _ => {
                        return src.invalid(
                        format!("{field}.rate.key"),
                        span,
                        format!("`{text}` names no argument of this grant (it has {count}, from arg:0)"),
                    );
                    }
                },
                _ => {
                    return src.invalid(
                        format!("{field}.rate.key"),
                        span,
                        format!(
                            "`{text}` is not a rate key: use `target`, {}",
                            if exec_args.is_some() {
                                "or `arg:N`"
                            } else {
                                "`url`, `host` or `path`"
                            }
                        ),
                    );
                }
            }
        }
    };
    Ok(RateLimit { max, per, key })
}
