//! The audit log: every run, every host call (allowed or denied, and why), every outcome,
//! in an append-only, hash-chained SQLite table.
//!
//! Owns: the event types (`AuditEvent`), appending (`log.rs`), signed heads (`seal.rs`)
//! and checking the chain and its signatures (`verify.rs`). Each record's `hash` covers its
//! own fields and the previous record's hash, so editing or deleting any record breaks
//! every hash after it; a signed head pins the chain, so recomputing every later hash does
//! not hide an edit either.

mod log;
pub mod seal;
mod verify;

use serde::{Deserialize, Serialize};

pub use log::{AuditLog, AuditRecord};
pub use seal::{Sealer, SignedHead};
pub use verify::{BadRecord, VerifyReport, Witness, verify_chain};

/// The hash the first record chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What sort of refusal a denial is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialKind {
    /// No grant of the manifest covers the call.
    NotInManifest,
    /// The manifest grants it, but the operator's ceiling for its risk level does not.
    BeyondCeiling,
    /// The request itself is ill-formed: a relative or dotted path, a NUL, a bad URL, a
    /// forbidden header, an encoded separator.
    Malformed,
    /// A host name resolved to an address a name may not reach (loopback, private, ...).
    PrivateAddress,
    /// A host name could not be resolved, so its addresses could not be checked.
    Unresolvable,
    /// A symlink, rename or path would lead outside the granted root.
    Escape,
    /// The target is a FIFO, socket, device or directory where a file was expected.
    SpecialFile,
    /// A change beneath a read-only grant.
    ReadOnly,
    /// `plan` is a dry run: the host refuses every change while it runs.
    DuringPlan,
    /// A size or count cap: bytes read or written, entries, checkpoints, audit growth.
    OverCap,
    /// The target is medic's own state (its data directory or configuration).
    ProtectedState,
    /// The target lies on `/proc`, `/sys`, `/dev` or another kernel pseudo filesystem.
    PseudoFilesystem,
    /// The path crosses a mount point beneath its granted root (a bind mount included).
    CrossesMount,
    /// A change in a directory that belongs to another user than root, medic's user or the
    /// owner of the granted root: that user could tamper with what medic puts there.
    ForeignDirectory,
    /// The grant's (or the ceiling's) rate limit is used up for this window.
    RateLimited,
    /// A file read would hand the guest a secret's value.
    HoldsSecret,
}

impl DenialKind {
    /// The kind's name, as in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            DenialKind::NotInManifest => "not_in_manifest",
            DenialKind::BeyondCeiling => "beyond_ceiling",
            DenialKind::Malformed => "malformed",
            DenialKind::PrivateAddress => "private_address",
            DenialKind::Unresolvable => "unresolvable",
            DenialKind::Escape => "escape",
            DenialKind::SpecialFile => "special_file",
            DenialKind::ReadOnly => "read_only",
            DenialKind::DuringPlan => "during_plan",
            DenialKind::OverCap => "over_cap",
            DenialKind::ProtectedState => "protected_state",
            DenialKind::PseudoFilesystem => "pseudo_filesystem",
            DenialKind::CrossesMount => "crosses_mount",
            DenialKind::ForeignDirectory => "foreign_directory",
            DenialKind::RateLimited => "rate_limited",
            DenialKind::HoldsSecret => "holds_secret",
        }
    }
}

/// One host call, as the gate decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCall {
    /// `plan`, `apply`, `verify` or `rollback`.
    pub operation: String,
    /// `exec`, `http`, `fs`, `env` or `checkpoint`.
    pub capability: String,
    /// What was asked for: a program and arguments, a method and URL, a path, a name.
    pub target: String,
    /// Whether the gate let it through.
    pub allowed: bool,
    /// Why: the grant that matched, or what refused it.
    pub reason: String,
    /// For a refused call, what sort of refusal (`not_in_manifest`, `during_plan`, ...).
    #[serde(default)]
    pub denial: Option<DenialKind>,
    /// What happened, in a line (exit status, HTTP status, bytes), for allowed calls.
    pub result: String,
    /// How long the call took on the host.
    pub duration_ms: u64,
}

/// What the audit log records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A run began.
    RunStarted {
        /// The remediation.
        remediation: String,
        /// Its version.
        version: String,
        /// The component hash that ran.
        sha256: String,
        /// Its risk level.
        risk: String,
        /// The incident.
        incident_id: String,
        /// Plan only.
        dry_run: bool,
        /// The bound parameters the run used.
        #[serde(default)]
        params: std::collections::BTreeMap<String, String>,
        /// Each grant a parameter narrowed, as it then read.
        #[serde(default)]
        narrowed: Vec<String>,
    },
    /// A host call was decided (and, if allowed, performed).
    HostCall(HostCall),
    /// One export call ended.
    CallFinished {
        /// `plan`, `apply`, `verify` or `rollback`.
        operation: String,
        /// `ok`, `guest_error`, `denied` or `trapped`.
        outcome: String,
        /// The guest's summary, error or trap.
        detail: String,
        /// Wall time.
        duration_ms: u64,
        /// Log and progress lines.
        logs: Vec<String>,
    },
    /// A run ended.
    RunFinished {
        /// `healed`, `rolled_back`, `not_healed`, `denied`, `error` or `planned`.
        status: String,
        /// A sentence.
        summary: String,
    },
    /// A heal loop began (or resumed) for an incident; its records carry the incident id.
    HealStarted {
        /// The incident, as the loop sees it.
        incident: serde_json::Value,
        /// The wrapped command, when there is one.
        command: Option<Vec<String>>,
        /// Whether it took over a loop that was killed.
        resumed: bool,
        /// `--dry-run`.
        dry_run: bool,
    },
    /// A diagnosis was made.
    Diagnosed {
        /// The root cause.
        root_cause: String,
        /// Its confidence.
        confidence: f64,
        /// One sentence.
        summary: String,
        /// The evidence's line numbers and pattern ids.
        evidence: Vec<String>,
    },
    /// A plan was made: its options in rank order, one line each.
    Planned {
        /// The rule whose params it drew on.
        rule: String,
        /// `kind name confidence applicable` per option.
        options: Vec<String>,
    },
    /// The policy decided about one option.
    Decided {
        /// `retry`, `remediation`, `manual` or `escalate`.
        option: String,
        /// The remediation, for a remediation.
        remediation: Option<String>,
        /// `run`, `needs_approval`, `dry_run_only`, `observe`, `skip`, `manual`, `escalate`.
        action: String,
        /// The rule that decided.
        rule: String,
        /// Why.
        reason: String,
    },
    /// An approval was asked for and given or refused.
    Approval {
        /// The remediation.
        remediation: String,
        /// The parameters it would run with.
        #[serde(default)]
        params: std::collections::BTreeMap<String, String>,
        /// Given or not.
        approved: bool,
        /// The OS user who answered (or medic's user for `--yes`).
        by: String,
        /// `tty`, `--yes`, or `no-tty` (nobody could be asked).
        how: String,
    },
    /// The wrapped command (and its check) ran once.
    CommandRan {
        /// Which run of the loop (1 for the first).
        attempt: u32,
        /// Its final status (the check's when the command exited 0).
        status: i32,
        /// Whether the command and its check passed.
        passed: bool,
        /// The command exited 0 but the check failed.
        shadow: bool,
        /// Wall time of the command.
        duration_ms: u64,
    },
    /// An option was carried out and judged.
    Attempted {
        /// `retry` or `remediation`.
        kind: String,
        /// The remediation (`retry` for a retry).
        remediation: String,
        /// Its component.
        sha256: String,
        /// The remediation's run, whose records carry its host calls.
        run_id: Option<String>,
        /// How it ended.
        status: String,
        /// Whether it healed the incident.
        healed: bool,
        /// Wall time.
        duration_ms: u64,
    },
    /// A run a killed medic left unfinished was rolled back before this loop went on.
    Recovered {
        /// The run, its remediation and how the rollback went.
        run: String,
    },
    /// The incident was handed to a human.
    Escalated {
        /// Why.
        reason: String,
        /// Where it was posted, and how that went.
        webhook: Option<String>,
    },
    /// A heal loop ended.
    HealFinished {
        /// `healed`, `passed`, `escalated`, `observed` or `interrupted`.
        status: String,
        /// Command runs made.
        attempts: u32,
        /// A sentence.
        summary: String,
    },
}

impl AuditEvent {
    /// The event's kind, stored in its own column.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::RunStarted { .. } => "run_started",
            AuditEvent::HostCall(_) => "host_call",
            AuditEvent::CallFinished { .. } => "call_finished",
            AuditEvent::RunFinished { .. } => "run_finished",
            AuditEvent::HealStarted { .. } => "heal_started",
            AuditEvent::Diagnosed { .. } => "diagnosed",
            AuditEvent::Planned { .. } => "planned",
            AuditEvent::Decided { .. } => "decided",
            AuditEvent::Approval { .. } => "approval",
            AuditEvent::CommandRan { .. } => "command_ran",
            AuditEvent::Attempted { .. } => "attempted",
            AuditEvent::Recovered { .. } => "recovered",
            AuditEvent::Escalated { .. } => "escalated",
            AuditEvent::HealFinished { .. } => "heal_finished",
        }
    }
}
