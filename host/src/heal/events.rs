//! Progress events: what the heal loop tells whoever watches it (a terminal, CI's log, a
//! JSON consumer). Each carries the incident id and a timestamp; `medic heal --json`
//! prints one per line, named by `event`.

use serde::Serialize;

use crate::diagnosis::Diagnosis;
use crate::plan::Plan;
use crate::policy::Decision;

/// One event of a heal loop.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HealEvent {
    /// The loop began (or resumed).
    HealingStart {
        /// The incident.
        incident_id: String,
        /// When (RFC 3339).
        at: String,
        /// The wrapped command, when there is one.
        command: Option<Vec<String>>,
        /// Whether it resumed a loop that was killed.
        resumed: bool,
    },
    /// A diagnosis was made.
    Diagnosis {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// The diagnosis.
        diagnosis: Box<Diagnosis>,
    },
    /// A plan was made.
    Plan {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// The plan (its diagnosis is the previous event's).
        plan: Box<Plan>,
    },
    /// The policy decided about one option.
    Decision {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// The option's kind.
        option: String,
        /// The remediation, for one.
        remediation: Option<String>,
        /// The decision.
        decision: Decision,
    },
    /// Something happened along the way: a command run, a retry wait, a remediation's
    /// result, a recovery.
    HealingProgress {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// `command`, `retry`, `remediation`, `verify`, `recover`, `approval`.
        stage: String,
        /// A sentence.
        message: String,
    },
    /// The incident is healed (or the command passed).
    HealingComplete {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// `passed` or `healed`.
        status: String,
        /// A sentence.
        summary: String,
    },
    /// The loop ended without healing.
    HealingFailed {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// `escalated`, `observed` or `interrupted`.
        status: String,
        /// A sentence.
        summary: String,
    },
    /// The incident was handed to a human.
    Escalated {
        /// The incident.
        incident_id: String,
        /// When.
        at: String,
        /// Why.
        reason: String,
        /// The ready-to-paste report.
        report: String,
        /// The webhook's result, when one is configured.
        webhook: Option<String>,
    },
}

/// Whoever watches a heal loop. Must not fail the loop: a sink that cannot write drops.
pub trait EventSink {
    /// Show or record one event.
    fn emit(&self, event: &HealEvent);
}

/// A sink that drops everything.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: &HealEvent) {}
}
