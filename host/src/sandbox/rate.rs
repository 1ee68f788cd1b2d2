//! Rate limits, where the gates ask before they act: a call the manifest's grant or a
//! matching ceiling entry limits is counted in medic's database (`store/rates.rs`) and
//! refused once its window is full. The manifest's limit counts per remediation; a
//! ceiling's limit counts across every remediation, so an operator's "restart nginx at
//! most 3 times an hour" holds whoever asks. `plan` is a dry run and is not counted.

use super::Operation;
use super::denial::{Denial, DenialKind};
use super::state::HostState;
use crate::manifest::grant::Target;
use crate::manifest::rate::{RateKey, RateLimit};
use crate::store::rates::Admission;

/// One limit that applies to a call.
pub(crate) struct Limit<'a> {
    /// Who counts: `remediation NAME` or `ceiling`, and the grant as written.
    pub(crate) scope: String,
    /// The limit.
    pub(crate) rate: &'a RateLimit,
}

/// What an exec call is counted by under `key`.
pub(crate) fn exec_key(key: &RateKey, target: &str, args: &[String]) -> String {
    match key {
        RateKey::Arg(index) => args.get(*index).cloned().unwrap_or_default(),
        _ => target.to_string(),
    }
}

/// What a request is counted by under `key`.
pub(crate) fn http_key(key: &RateKey, method: &str, target: &Target) -> String {
    let url = format!(
        "{}://{}:{}{}",
        target.scheme.as_str(),
        target.host,
        target.port,
        target.path
    );
    match key {
        RateKey::Host => target.host.to_string(),
        RateKey::Path => target.path.clone(),
        RateKey::Url => url,
        RateKey::Target | RateKey::Arg(_) => format!("{method} {url}"),
    }
}

impl HostState {
    /// Count the call against each of `limits` (with its key), or say which one is full.
    /// Nothing is counted during `plan`; a limit that is full counts nothing else.
    pub(crate) fn admit(&self, limits: &[(Limit<'_>, String)]) -> Result<(), Denial> {
        if self.operation == Operation::Plan {
            return Ok(());
        }
        for (limit, key) in limits {
            let admission = self
                .rates
                .admit(&limit.scope, key, limit.rate.max, limit.rate.per)
                .map_err(|error| {
                    Denial::new(
                        DenialKind::RateLimited,
                        format!(
                            "the rate counter could not be read, so the call is refused: {error}"
                        ),
                    )
                })?;
            if let Admission::Refused { retry_after } = admission {
                let retry = std::time::Duration::from_secs(retry_after.as_secs().max(1));
                return Err(Denial::new(
                    DenialKind::RateLimited,
                    format!(
                        "rate limit of {} is used up for `{key}` ({}); the next call fits in {}",
                        limit.rate.describe(),
                        limit.scope,
                        humantime::format_duration(retry)
                    ),
                ));
            }
        }
        Ok(())
    }
}
