//! Diagnosis: names the root cause of a failure from its log, an alert and the host's
//! context, with a confidence, the evidence lines, the affected services and what to do.
//!
//! Owns: the taxonomy (`RootCause`), the pattern library (`known_errors.rs`), the one-pass
//! streaming matcher (`matcher.rs`), scoring (`score.rs`), the optional LLM advisor
//! (`llm.rs`) and secret redaction for it (`redact.rs`). Pure apart from reading its
//! input and the advisor's one HTTP call: no side effects on the host.

mod blocks;
mod causality;
mod clean;
mod conditions;
pub mod known_errors;
mod literals;
pub mod llm;
pub mod matcher;
mod prebuilt;
pub mod redact;
pub mod score;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use blocks::Plan;
pub use conditions::exit_status_signal;
pub use known_errors::{PatternError, PatternLibrary, load_library};
pub use matcher::{ScanLimits, scan, scan_with};
pub use score::{Signal, score};

/// The root-cause taxonomy (stable strings; see `shared/corpus/failures/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootCause {
    /// Connectivity: refused, reset, unreachable, DNS, TLS, proxies.
    Network,
    /// Full, read-only or failing filesystems, missing mounts.
    Storage,
    /// Memory, descriptors, processes, CPU limits, rate and connection limits.
    ResourceExhaustion,
    /// A named service the job depends on is down.
    ServiceDependency,
    /// Authentication or authorization failed.
    Credential,
    /// Invalid or missing configuration.
    Configuration,
    /// An operation exceeded its time limit.
    Timeout,
    /// Package or dependency resolution or installation failed.
    Package,
    /// Compilation or build failed.
    Build,
    /// Tests ran and failed.
    Test,
    /// Hypervisor, KVM, qemu, container runtime.
    Virtualization,
    /// Locks held, interrupted operations, conflicts, things that already exist.
    StateMismatch,
    /// None of the above shows in the evidence.
    Unknown,
}

impl RootCause {
    /// Every cause, in a stable order.
    pub const ALL: [RootCause; 13] = [
        RootCause::Network,
        RootCause::Storage,
        RootCause::ResourceExhaustion,
        RootCause::ServiceDependency,
        RootCause::Credential,
        RootCause::Configuration,
        RootCause::Timeout,
        RootCause::Package,
        RootCause::Build,
        RootCause::Test,
        RootCause::Virtualization,
        RootCause::StateMismatch,
        RootCause::Unknown,
    ];

    /// The stable string.
    pub fn as_str(self) -> &'static str {
        match self {
            RootCause::Network => "network",
            RootCause::Storage => "storage",
            RootCause::ResourceExhaustion => "resource_exhaustion",
            RootCause::ServiceDependency => "service_dependency",
            RootCause::Credential => "credential",
            RootCause::Configuration => "configuration",
            RootCause::Timeout => "timeout",
            RootCause::Package => "package",
            RootCause::Build => "build",
            RootCause::Test => "test",
            RootCause::Virtualization => "virtualization",
            RootCause::StateMismatch => "state_mismatch",
            RootCause::Unknown => "unknown",
        }
    }

    /// Parse a stable string.
    pub fn parse(text: &str) -> Option<RootCause> {
        RootCause::ALL
            .into_iter()
            .find(|cause| cause.as_str() == text)
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Low,
    /// Degraded.
    Medium,
    /// Broken.
    High,
    /// Broken and risky (data loss, hardware).
    Critical,
}

/// One line that supports a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The pattern that matched.
    pub pattern_id: String,
    /// 1-based line number in the input.
    pub line: u64,
    /// The line, cleaned (ANSI and CR removed), cut at 400 characters.
    pub text: String,
    /// The cause the pattern points to.
    pub root_cause: RootCause,
    /// The named groups of the pattern's regex on this line (`(?P<path>/[^ :]+)` gives
    /// `path`): values a plan may fill a parameter with (`from = "evidence:path"`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
}

/// Another cause that also fits, with its share of the score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// The cause.
    pub root_cause: RootCause,
    /// Its confidence on the same scale as the main one.
    pub confidence: f64,
}

/// What the LLM advisor added, when it was asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmAdvice {
    /// The model asked.
    pub model: String,
    /// The cause it named.
    pub root_cause: RootCause,
    /// Its own confidence.
    pub confidence: f64,
    /// Its one-paragraph explanation.
    pub summary: String,
    /// Its suggested actions (also appended to `recommended_actions`, prefixed `llm: `).
    pub recommended_actions: Vec<String>,
    /// Whether the final root cause is the model's rather than the patterns'.
    pub root_cause_from_llm: bool,
}

/// The result of `medic diagnose`. `--json` prints it as is: `version` (1), `root_cause`,
/// `confidence` in [0, 1], `low_confidence`, `severity`, `summary`, `evidence` (strongest
/// first: `pattern_id`, `line`, `text`, `root_cause`), `services`, `recommended_actions`,
/// `alternatives`, `signals` (context that moved the score), `llm` (when a model was
/// asked), `lines` (lines read).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Always 1.
    pub version: u32,
    /// The named cause.
    pub root_cause: RootCause,
    /// How sure, from 0 to 1.
    pub confidence: f64,
    /// Below the configured threshold: a human should confirm.
    pub low_confidence: bool,
    /// The worst severity among the supporting evidence.
    pub severity: Severity,
    /// One sentence.
    pub summary: String,
    /// Supporting lines, strongest first.
    pub evidence: Vec<Evidence>,
    /// Services involved.
    pub services: Vec<String>,
    /// What a human (or a remediation) should do, most relevant first.
    pub recommended_actions: Vec<String>,
    /// Other causes that fit less well.
    pub alternatives: Vec<Alternative>,
    /// Context and alert signals that moved the score.
    pub signals: Vec<String>,
    /// The advisor's answer, when one was asked.
    pub llm: Option<LlmAdvice>,
    /// Lines read from the log.
    pub lines: u64,
}

impl Diagnosis {
    /// Each named capture of the evidence, the strongest line's value first: what
    /// `from = "evidence:NAME"` parameters are bound from.
    pub fn captures(&self) -> BTreeMap<String, String> {
        let mut merged = BTreeMap::new();
        for evidence in &self.evidence {
            for (name, value) in &evidence.captures {
                merged.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        merged
    }
}

/// Confidence below which a diagnosis is marked low and the advisor (if any) is asked.
pub const DEFAULT_LLM_THRESHOLD: f64 = 0.6;

/// The cause an alert's issue type points to, if any (`disk_full` -> `storage`).
pub fn cause_for_issue_type(issue_type: &str) -> Option<RootCause> {
    Some(match issue_type {
        "disk_full" => RootCause::Storage,
        "high_memory" | "high_cpu" => RootCause::ResourceExhaustion,
        "service_down" | "replication_lag" => RootCause::ServiceDependency,
        "certificate_expiry" => RootCause::Network,
        "connection_timeout" => RootCause::Timeout,
        "config_reload_failed" => RootCause::Configuration,
        _ => return None,
    })
}

/// Scan `input` and score it with `signals`; also returns the input's last lines (for
/// the advisor).
pub fn diagnose_input(
    library: &PatternLibrary,
    input: impl std::io::Read,
    signals: &[Signal],
    threshold: f64,
) -> std::io::Result<(Diagnosis, Vec<String>)> {
    let scanned = scan(library, input, ScanLimits::default())?;
    let diagnosis = score(library, &scanned, signals, threshold);
    Ok((diagnosis, scanned.tail.into_iter().collect()))
}

/// When `diagnosis` is low, ask the configured advisor and merge its answer; without one,
/// say that confidence is low. Never fails: an advisor that does not answer is a signal.
pub async fn consult(
    diagnosis: Diagnosis,
    tail: &[String],
    config: &crate::config::DiagnosisConfig,
) -> Diagnosis {
    if !diagnosis.low_confidence {
        return diagnosis;
    }
    match &config.llm {
        Some(llm) => {
            let prompt = llm::build_prompt(&diagnosis, tail);
            let key = llm.api_key_env.as_deref().and_then(crate::config::host_env);
            match llm::ask(llm, key.as_deref(), &prompt).await {
                Ok(advice) => llm::merge(diagnosis, advice, config.llm_threshold),
                Err(error) => {
                    let mut diagnosis = diagnosis;
                    diagnosis
                        .signals
                        .push(format!("LLM advisor gave no answer: {error}"));
                    diagnosis
                }
            }
        }
        None => note_low_confidence(diagnosis),
    }
}

/// Say that a low diagnosis had no advisor to ask.
pub fn note_low_confidence(mut diagnosis: Diagnosis) -> Diagnosis {
    diagnosis.signals.push(
        "confidence is low and no LLM advisor is configured ([diagnosis.llm] in medic.toml)"
            .to_string(),
    );
    diagnosis
}
