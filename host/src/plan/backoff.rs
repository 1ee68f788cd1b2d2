//! Retry backoff: exponential from a base, capped, with full jitter (each wait is drawn
//! uniformly from zero to the capped exponential), so retries of many failing jobs spread
//! out instead of arriving together.

use std::time::Duration;

/// The backoff's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's longest wait.
    pub base: Duration,
    /// No wait is longer.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The longest wait before retry `attempt` (0-based): `min(cap, base * 2^attempt)`.
    pub fn max_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// The wait before retry `attempt`: uniform in `[0, max_delay(attempt)]`.
pub fn backoff_delay(backoff: &Backoff, attempt: u32) -> Duration {
    let most = backoff.max_delay(attempt);
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return most / 2;
    }
    let fraction = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    most.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap_with_jitter_below() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        assert_eq!(backoff.max_delay(0), Duration::from_millis(100));
        assert_eq!(backoff.max_delay(2), Duration::from_millis(400));
        assert_eq!(backoff.max_delay(10), Duration::from_millis(1000));
        assert_eq!(backoff.max_delay(u32::MAX), Duration::from_millis(1000));
        let draws: Vec<Duration> = (0..64).map(|_| backoff_delay(&backoff, 3)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(800)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "jittered");
    }
}
