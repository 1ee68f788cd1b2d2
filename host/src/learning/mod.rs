//! Learning: how much to trust an option, from what it did before.
//!
//! Every carried-out option's outcome is stored (`store/outcomes.rs`). An option's
//! confidence is the mean of a Beta posterior: the manifest's prior (or, for a retry, the
//! cause's) counts as [`PRIOR_WEIGHT`] outcomes, and each observed outcome of that exact
//! component on that root cause counts as one. A remediation that keeps failing sinks in
//! the ranking, one that works rises, and a new version (a new sha256) starts from its prior.

use serde::Serialize;

use crate::store::db::DbError;
use crate::store::outcomes::{Outcomes, Tally};

/// How many observations the prior is worth.
pub const PRIOR_WEIGHT: f64 = 4.0;

/// An option's learned confidence, with what it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Learned {
    /// The posterior mean in [0, 1].
    pub confidence: f64,
    /// The prior it started from.
    pub prior: f64,
    /// Observed outcomes that healed.
    pub healed: u64,
    /// Observed outcomes that did not.
    pub failed: u64,
    /// Mean observed wall time in seconds, when there were outcomes.
    pub mean_duration_secs: Option<f64>,
}

/// The Beta posterior mean for `prior` after `tally`.
pub fn posterior(prior: f64, tally: Tally) -> f64 {
    let prior = prior.clamp(0.01, 0.99);
    let alpha = prior * PRIOR_WEIGHT + tally.healed as f64;
    let beta = (1.0 - prior) * PRIOR_WEIGHT + tally.failed as f64;
    alpha / (alpha + beta)
}

/// What is known of `remediation` (component `sha256`) on `root_cause`, starting from
/// `prior`.
pub fn learned(
    outcomes: &Outcomes,
    remediation: &str,
    sha256: &str,
    root_cause: &str,
    prior: f64,
) -> Result<Learned, DbError> {
    let tally = outcomes.tally(remediation, sha256, root_cause)?;
    let seen = tally.healed + tally.failed;
    Ok(Learned {
        confidence: posterior(prior, tally),
        prior,
        healed: tally.healed,
        failed: tally.failed,
        mean_duration_secs: (seen > 0).then(|| tally.mean_duration_ms / 1000.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(healed: u64, failed: u64) -> Tally {
        Tally {
            healed,
            failed,
            mean_duration_ms: 0.0,
        }
    }

    #[test]
    fn the_prior_holds_until_outcomes_arrive() {
        assert!((posterior(0.7, tally(0, 0)) - 0.7).abs() < 1e-9);
    }

    #[test]
    fn failures_sink_and_successes_rise() {
        let prior = 0.7;
        let failing = posterior(prior, tally(0, 3));
        let working = posterior(prior, tally(3, 0));
        assert!(failing < 0.45, "{failing}");
        assert!(working > 0.8, "{working}");
        // More evidence moves it further, never past the bounds.
        assert!(posterior(prior, tally(0, 30)) < failing);
        assert!(posterior(prior, tally(1000, 0)) < 1.0);
    }
}
