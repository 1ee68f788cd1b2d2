//! `Denial`: why a gate refused a host call. Its kind (`DenialKind`, part of the audit
//! record's vocabulary) is carried into the audit record, so operators and tests rely on the
//! kind, never on the wording of the reason.

pub use crate::store::audit::DenialKind;

/// A refused host call: its kind and, in words, what was refused and what would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// What sort of refusal.
    pub kind: DenialKind,
    /// The explanation given to the guest and recorded in the audit log.
    pub reason: String,
}

impl Denial {
    /// A denial of `kind` with `reason`.
    pub fn new(kind: DenialKind, reason: impl Into<String>) -> Self {
        Denial {
            kind,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}
