//! Exit codes: the only place they are defined. Listed in `--help` and the README.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Healed, planned, valid.
    Success,
    /// Finished but not healed, or the audit chain is broken.
    NotHealed,
    /// Usage, input or internal error; nothing half-applied.
    Error,
    /// The sandbox refused a host call the remediation needed.
    Denied,
    /// The remediation's plan failed; nothing was changed.
    PlanFailed,
    /// An option needed approval that was not given; nothing of it ran.
    ApprovalRequired,
    /// The wrapped command's own final status (`medic heal -- CMD`).
    Status(i32),
    /// Stopped by this signal; what was applied was rolled back.
    Interrupted(i32),
}

impl Exit {
    pub(crate) fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::NotHealed => 1,
            Exit::Error => 2,
            Exit::Denied => 4,
            Exit::PlanFailed => 5,
            Exit::ApprovalRequired => 3,
            Exit::Status(code) => code.clamp(0, 255),
            Exit::Interrupted(signal) => 128 + signal,
        }
    }
}
