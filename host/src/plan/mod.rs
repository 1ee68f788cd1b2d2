//! Plan: from a diagnosis and an incident, the ranked options for healing it.
//!
//! Candidates: `retry` for a transient cause when there is a command to run again
//! (exponential backoff with full jitter, capped); every remediation whose manifest
//! `handles` the incident's resource kind and issue type or its root cause, with its
//! parameters bound (the incident's, then the declaration's `from`: labels, resource id,
//! the evidence's named captures, then the policy rule's, then defaults) and checked
//! before anything runs; `manual` (the pattern hints a human runs); and `escalate`,
//! always last. Each option carries a learned confidence (`learning/`), its risk, an
//! expected duration, its steps and its blast radius: the programs, URLs, paths and env
//! names its manifest, narrowed to this incident, lets it touch.
//!
//! [`build`] is pure apart from reading outcome counts; [`fill_steps`] asks each
//! applicable remediation's own `plan` export, in the sandbox, where the host refuses
//! every change.

mod backoff;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

pub use backoff::{Backoff, backoff_delay};

use crate::catalog::Loaded;
use crate::diagnosis::{Diagnosis, RootCause};
use crate::incident::Incident;
use crate::manifest::params::{BindSources, Provenance};
use crate::manifest::{Ceilings, Risk};
use crate::sandbox::PlannedStep;
use crate::store::data_dir::Protected;
use crate::store::db::DbError;
use crate::store::outcomes::Outcomes;

/// What an option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    /// Run the failed command again after a backoff.
    Retry,
    /// Run a remediation in the sandbox.
    Remediation,
    /// Steps for a human.
    Manual,
    /// Hand the incident to a human.
    Escalate,
}

impl OptionKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionKind::Retry => "retry",
            OptionKind::Remediation => "remediation",
            OptionKind::Manual => "manual",
            OptionKind::Escalate => "escalate",
        }
    }
}

/// What an option may touch: a remediation's grants, narrowed to the incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlastRadius {
    /// Programs with their argument patterns.
    pub programs: Vec<String>,
    /// HTTP methods and URL patterns.
    pub urls: Vec<String>,
    /// Paths with their access.
    pub paths: Vec<String>,
    /// Environment names it may read.
    pub env: Vec<String>,
}

impl BlastRadius {
    fn of(loaded: &Loaded) -> BlastRadius {
        let grants = &loaded.manifest.grants;
        BlastRadius {
            programs: grants.exec.iter().map(|exec| exec.describe()).collect(),
            urls: grants
                .http
                .iter()
                .map(|http| format!("{} {}", http.method, http.url.source))
                .collect(),
            paths: grants
                .fs
                .iter()
                .map(|fs| format!("{} ({})", fs.path.display(), fs.access.as_str()))
                .collect(),
            env: grants.env.iter().map(|env| env.describe()).collect(),
        }
    }

    /// Whether it touches nothing.
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
            && self.urls.is_empty()
            && self.paths.is_empty()
            && self.env.is_empty()
    }
}

/// One ranked option. `medic plan --json` prints these fields in this order.
#[derive(Debug, Clone, Serialize)]
pub struct PlanOption {
    /// What it does.
    pub kind: OptionKind,
    /// The remediation's name, for a remediation.
    pub remediation: Option<String>,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation_version: Option<String>,
    /// Its component's sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The bound parameters.
    pub params: BTreeMap<String, String>,
    /// Where each parameter's value came from.
    pub param_sources: BTreeMap<String, Provenance>,
    /// Whether medic could carry it out (parameters bound, a command to re-run, ...).
    pub applicable: bool,
    /// Why it fits, or why it is not applicable.
    pub reason: String,
    /// How likely it is to heal the incident, in [0, 1], learned from outcomes.
    pub confidence: f64,
    /// The remediation's risk (`low` for retry, manual and escalate).
    pub risk: Risk,
    /// How long it is expected to take.
    pub expected_duration_secs: f64,
    /// What it would do, in order.
    pub steps: Vec<PlannedStep>,
    /// What it may touch.
    pub blast_radius: BlastRadius,
    /// Observed outcomes behind the confidence: healed, then failed.
    pub outcomes: [u64; 2],
    /// The remediation, bound to the incident (not printed).
    #[serde(skip)]
    pub bound: Option<Loaded>,
}

/// The result of `medic plan`: `version` (1), the incident, the diagnosis, the options in
/// rank order, and warnings (an incident parameter no candidate declares).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Always 1.
    pub version: u32,
    /// The incident's id.
    pub incident_id: String,
    /// The policy rule whose params the plan drew on.
    pub rule: String,
    /// The diagnosis it plans for.
    pub diagnosis: Diagnosis,
    /// Ranked options; `escalate` is last.
    pub options: Vec<PlanOption>,
    /// Things the operator should know.
    pub warnings: Vec<String>,
}

/// Everything [`build`] needs.
pub struct PlanInput<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// Its diagnosis.
    pub diagnosis: &'a Diagnosis,
    /// Every remediation medic could offer (bundled and installed), loaded and checked.
    pub candidates: &'a [Loaded],
    /// The operator's ceilings, for roots a parameter names.
    pub ceilings: &'a Ceilings,
    /// medic's own state, which no root may reach.
    pub protected: &'a Protected,
    /// Learned outcomes, when a database is open.
    pub outcomes: Option<&'a Outcomes>,
    /// The deciding rule's name and params.
    pub rule: (&'a str, &'a BTreeMap<String, String>),
    /// The command to re-run, when there is one (`medic heal -- CMD`).
    pub command: Option<&'a [String]>,
    /// The retry backoff.
    pub backoff: Backoff,
    /// Retries the rule allows.
    pub max_retries: u32,
}

/// Causes a retry may cure: the failure may not happen again.
pub fn is_transient(cause: RootCause) -> bool {
    matches!(
        cause,
        RootCause::Network
            | RootCause::Timeout
            | RootCause::ResourceExhaustion
            | RootCause::ServiceDependency
    )
}

/// Causes a retry never cures: the same input fails the same way.
pub fn is_permanent(cause: RootCause) -> bool {
    matches!(
        cause,
        RootCause::Build | RootCause::Test | RootCause::Configuration | RootCause::Credential
    )
}

/// How often a retry heals a failure of `cause`, before medic has seen any.
fn retry_prior(cause: RootCause) -> f64 {
    match cause {
        RootCause::Network => 0.6,
        RootCause::Timeout => 0.5,
        RootCause::ServiceDependency => 0.45,
        RootCause::ResourceExhaustion => 0.35,
        _ => 0.1,
    }
}

fn base_option(kind: OptionKind) -> PlanOption {
    PlanOption {
        kind,
        remediation: None,
        remediation_version: None,
        sha256: None,
        params: BTreeMap::new(),
        param_sources: BTreeMap::new(),
        applicable: true,
        reason: String::new(),
        confidence: 0.0,
        risk: Risk::Low,
        expected_duration_secs: 0.0,
        steps: Vec::new(),
        blast_radius: BlastRadius::default(),
        outcomes: [0, 0],
        bound: None,
    }
}

fn step(capability: &str, target: impl Into<String>, detail: impl Into<String>) -> PlannedStep {
    PlannedStep {
        capability: capability.to_string(),
        target: target.into(),
        detail: detail.into(),
    }
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Rank the options for `input`.
pub fn build(input: &PlanInput<'_>) -> Result<Plan, DbError> {
    let cause = input.diagnosis.root_cause;
    let captures = input.diagnosis.captures();
    let mut options = Vec::new();
    let mut warnings = Vec::new();

    // Retry.
    if is_transient(cause) {
        let mut retry = base_option(OptionKind::Retry);
        let learned = match input.outcomes {
            Some(outcomes) => Some(crate::learning::learned(
                outcomes,
                "retry",
                "",
                cause.as_str(),
                retry_prior(cause),
            )?),
            None => None,
        };
        retry.confidence = round(learned.map_or(retry_prior(cause), |l| l.confidence));
        if let Some(learned) = learned {
            retry.outcomes = [learned.healed, learned.failed];
        }
        let wait = input.backoff.max_delay(0);
        match input.command {
            Some(command) => {
                retry.reason = format!(
                    "`{}` is often transient: run the command again, up to {} times",
                    cause.as_str(),
                    input.max_retries
                );
                retry.expected_duration_secs = round(wait.as_secs_f64() / 2.0);
                retry.steps = vec![
                    step(
                        "none",
                        "wait",
                        format!(
                            "up to {} (exponential backoff from {} with full jitter, capped at {})",
                            humantime::format_duration(wait),
                            humantime::format_duration(input.backoff.base),
                            humantime::format_duration(input.backoff.cap)
                        ),
                    ),
                    step(
                        "exec",
                        crate::text::escape_control(&command.join(" ")),
                        "run the command again",
                    ),
                ];
            }
            None => {
                retry.applicable = false;
                retry.reason =
                    "no command to run again: the incident came from an alert or a log".to_string();
            }
        }
        options.push(retry);
    }

    // Remediations.
    let declared: std::collections::BTreeSet<&str> = input
        .candidates
        .iter()
        .flat_map(|loaded| loaded.manifest.params.iter().map(|spec| spec.name.as_str()))
        .collect();
    for name in input.incident.params.keys() {
        if !declared.contains(name.as_str()) {
            warnings.push(format!(
                "incident parameter `{}` is declared by no remediation that handles this incident",
                crate::text::escape_control(name)
            ));
        }
    }
    for loaded in input.candidates {
        let manifest = &loaded.manifest;
        if !manifest.handles_incident(input.incident, Some(cause.as_str())) {
            continue;
        }
        let by_issue = manifest.handles_incident(input.incident, None);
        let mut option = base_option(OptionKind::Remediation);
        option.remediation = Some(manifest.name.clone());
        option.remediation_version = Some(manifest.version.clone());
        option.sha256 = Some(manifest.sha256.clone());
        option.risk = manifest.risk;
        let learned = match input.outcomes {
            Some(outcomes) => Some(crate::learning::learned(
                outcomes,
                &manifest.name,
                &manifest.sha256,
                cause.as_str(),
                manifest.confidence,
            )?),
            None => None,
        };
        // Matched on the root cause alone, it is only as good as the diagnosis.
        let relevance = if by_issue {
            1.0
        } else {
            input.diagnosis.confidence.max(0.2)
        };
        option.confidence =
            round(learned.map_or(manifest.confidence, |l| l.confidence) * relevance);
        if let Some(learned) = learned {
            option.outcomes = [learned.healed, learned.failed];
        }
        option.expected_duration_secs = round(
            learned
                .and_then(|l| l.mean_duration_secs)
                .unwrap_or(manifest.expected_duration.as_secs_f64()),
        );
        // Only the parameters it declares: others are for other remediations.
        let incident = Incident {
            params: input
                .incident
                .params
                .iter()
                .filter(|(name, _)| manifest.params.iter().any(|spec| &spec.name == *name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            ..input.incident.clone()
        };
        let sources = BindSources {
            evidence: Some(&captures),
            policy: Some(input.rule.1),
        };
        match loaded.bound_with(&incident, &sources, input.ceilings, input.protected) {
            Ok(bound) => {
                option.params = bound.params;
                option.param_sources = bound.provenance;
                option.blast_radius = BlastRadius::of(&bound.loaded);
                option.reason = if by_issue {
                    format!(
                        "handles {} `{}` with issue type `{}`",
                        input.incident.resource.kind,
                        input.incident.resource.id,
                        input.incident.issue_type
                    )
                } else {
                    format!("handles root cause `{}`", cause.as_str())
                };
                option.bound = Some(bound.loaded);
            }
            Err(error) => {
                option.applicable = false;
                option.reason = error.to_string();
                option.blast_radius = BlastRadius::of(loaded);
            }
        }
        options.push(option);
    }

    // Rank: applicable first, by confidence, then lower risk, then shorter.
    options.sort_by(|a, b| {
        b.applicable
            .cmp(&a.applicable)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.risk.cmp(&b.risk))
            .then(
                a.expected_duration_secs
                    .total_cmp(&b.expected_duration_secs),
            )
    });

    // Manual: what the diagnosis tells a human to do.
    if !input.diagnosis.recommended_actions.is_empty() {
        let mut manual = base_option(OptionKind::Manual);
        manual.reason = format!("what a human can do about `{}`", cause.as_str());
        manual.confidence = round(input.diagnosis.confidence * 0.5);
        manual.steps = input
            .diagnosis
            .recommended_actions
            .iter()
            .map(|action| step("none", "human", action.clone()))
            .collect();
        options.push(manual);
    }

    let mut escalate = base_option(OptionKind::Escalate);
    escalate.reason = "hand the incident, its diagnosis and what was tried to a human".to_string();
    escalate.steps = vec![step(
        "none",
        "human",
        "read the escalation report and take over",
    )];
    options.push(escalate);

    Ok(Plan {
        version: 1,
        incident_id: input.incident.id.clone(),
        rule: input.rule.0.to_string(),
        diagnosis: input.diagnosis.clone(),
        options,
        warnings,
    })
}

/// The longest a plan's dry runs may take together before the rest are skipped.
pub const STEPS_BUDGET: Duration = Duration::from_secs(60);

/// Ask each applicable remediation option's own `plan` export for its steps, in the
/// sandbox where the host refuses every change; an option whose plan fails becomes not
/// applicable, with the reason.
pub async fn fill_steps(
    plan: &mut Plan,
    incident: &Incident,
    env: &crate::run::RunEnv<'_>,
) -> Result<(), crate::run::RunError> {
    let started = std::time::Instant::now();
    for option in &mut plan.options {
        if option.kind != OptionKind::Remediation || !option.applicable {
            continue;
        }
        if started.elapsed() > STEPS_BUDGET {
            option
                .reason
                .push_str("; steps not listed: the plan's time budget ran out");
            continue;
        }
        fill_option_steps(option, incident, env).await?;
    }
    Ok(())
}

/// [`fill_steps`] for one option.
pub async fn fill_option_steps(
    option: &mut PlanOption,
    incident: &Incident,
    env: &crate::run::RunEnv<'_>,
) -> Result<(), crate::run::RunError> {
    let Some(bound) = &option.bound else {
        return Ok(());
    };
    let incident = Incident {
        params: option.params.clone(),
        ..incident.clone()
    };
    let report = crate::run::run_remediation(env.request(bound, &incident, true)).await?;
    match (report.steps, report.status) {
        (Some(steps), crate::run::RunStatus::Planned) => option.steps = steps,
        (_, status) => {
            option.applicable = false;
            option.reason = format!(
                "its plan did not succeed ({}): {}",
                status.as_str(),
                report.summary
            );
        }
    }
    Ok(())
}
