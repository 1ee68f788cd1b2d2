//! A heal loop's durable state: what it has done so far, saved after every step in the
//! heal journal (`store/heals.rs`), so a loop that was killed resumes where it stopped and
//! nothing it tried runs again blindly.

use serde::{Deserialize, Serialize};

use crate::incident::Incident;

/// One option the loop carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// `retry` or `remediation`.
    pub kind: String,
    /// The remediation's name (`retry` for a retry).
    pub remediation: String,
    /// Its version (empty for a retry).
    pub version: String,
    /// Its component (empty for a retry).
    pub sha256: String,
    /// The run id, for a remediation.
    pub run_id: Option<String>,
    /// The bound parameters it ran with.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// `started` until it ends; then the run's status (`healed`, `rolled_back`, ...) or, for
    /// a retry, `passed` or `failed`; `interrupted` when medic was killed during it.
    pub status: String,
    /// Whether it healed the incident.
    pub healed: bool,
    /// Wall time.
    pub duration_ms: u64,
    /// A sentence.
    pub summary: String,
    /// Its row in the outcomes, for a remediation (started before it runs).
    #[serde(default)]
    pub outcome: Option<i64>,
}

/// Where the loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Running the wrapped command (or about to).
    Running,
    /// Deciding what to do about a failure.
    Deciding,
    /// Running a remediation.
    Remediating,
    /// Done.
    Finished,
}

/// Everything the loop needs to resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// The incident.
    pub incident: Incident,
    /// The wrapped command, when there is one.
    pub command: Option<Vec<String>>,
    /// Runs of the command so far.
    pub attempts: u32,
    /// Retries so far (runs after the first that no remediation preceded).
    pub retries: u32,
    /// Every option carried out, in order.
    pub tried: Vec<Attempt>,
    /// Where it is.
    pub stage: Stage,
    /// The command's last exit status.
    pub last_status: Option<i32>,
}

impl LoopState {
    /// Whether the remediation with component `sha256` was already carried out.
    pub fn tried_component(&self, sha256: &str) -> bool {
        self.tried
            .iter()
            .any(|attempt| attempt.kind == "remediation" && attempt.sha256 == sha256)
    }

    /// The state as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}
