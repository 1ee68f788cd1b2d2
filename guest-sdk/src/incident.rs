//! The incident a remediation receives, and the values it returns.

use crate::Error;
use crate::bindings::medic::remediation::types as wit;

/// The incident medic asks a remediation to heal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// medic's id for the incident.
    pub id: String,
    /// Where it came from: `cli`, `alertmanager`, `github`, ...
    pub source: String,
    /// What kind of thing is affected: `service`, `host`, `pipeline`, ...
    pub resource_kind: String,
    /// Which one: `nginx`, `web-01`, ...
    pub resource_id: String,
    /// The issue type: `service_down`, `disk_full`, ...
    pub issue_type: String,
    /// A one-line summary.
    pub summary: String,
    /// Labels from the source (alert labels, CI metadata).
    pub labels: Vec<(String, String)>,
    /// Parameters chosen by the operator or the plan.
    pub params: Vec<(String, String)>,
}

impl Incident {
    /// An incident with no labels or parameters, for an author's native tests of the
    /// logic that reads one: `Incident::new("service", "web", "service_down")`.
    pub fn new(resource_kind: &str, resource_id: &str, issue_type: &str) -> Self {
        Incident {
            id: "test".to_string(),
            source: "cli".to_string(),
            resource_kind: resource_kind.to_string(),
            resource_id: resource_id.to_string(),
            issue_type: issue_type.to_string(),
            summary: String::new(),
            labels: Vec::new(),
            params: Vec::new(),
        }
    }

    /// This incident with parameter `name` set to `value`.
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(key, _)| key != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// This incident with label `name` set to `value`.
    pub fn with_label(mut self, name: &str, value: &str) -> Self {
        self.labels.retain(|(key, _)| key != name);
        self.labels.push((name.to_string(), value.to_string()));
        self
    }

    /// The parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        lookup(&self.params, name)
    }

    /// The parameter `name`, or [`Error::InvalidInput`] naming it: the run ends as
    /// `invalid_input`, not as a failed remediation.
    pub fn require_param(&self, name: &str) -> Result<&str, Error> {
        self.param(name)
            .ok_or_else(|| Error::invalid_input(format!("incident has no parameter `{name}`")))
    }

    /// The label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        lookup(&self.labels, name)
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

impl From<wit::Incident> for Incident {
    fn from(incident: wit::Incident) -> Self {
        Incident {
            id: incident.id,
            source: incident.source,
            resource_kind: incident.resource_kind,
            resource_id: incident.resource_id,
            issue_type: incident.issue_type,
            summary: incident.summary,
            labels: incident.labels,
            params: incident.params,
        }
    }
}

/// One step of a plan: what `apply` would do, through which capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `exec`, `http`, `fs`, `env`, or `none`.
    pub capability: String,
    /// The program and arguments, method and URL, or path.
    pub target: String,
    /// Why, in a sentence.
    pub detail: String,
}

impl Step {
    fn new(capability: &str, target: impl Into<String>, detail: impl Into<String>) -> Self {
        Step {
            capability: capability.to_string(),
            target: target.into(),
            detail: detail.into(),
        }
    }

    /// A step that runs a program.
    pub fn exec(target: impl Into<String>, detail: impl Into<String>) -> Self {
        Step::new("exec", target, detail)
    }

    /// A step that makes an HTTP request.
    pub fn http(target: impl Into<String>, detail: impl Into<String>) -> Self {
        Step::new("http", target, detail)
    }

    /// A step that changes files.
    pub fn fs(target: impl Into<String>, detail: impl Into<String>) -> Self {
        Step::new("fs", target, detail)
    }

    /// A step that touches nothing (a note for the operator).
    pub fn note(detail: impl Into<String>) -> Self {
        Step::new("none", "", detail)
    }
}

impl From<Step> for wit::Step {
    fn from(step: Step) -> Self {
        wit::Step {
            capability: step.capability,
            target: step.target,
            detail: step.detail,
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the incident is healed.
    pub healthy: bool,
    /// The evidence, in a sentence.
    pub detail: String,
}

impl Verdict {
    /// The incident is healed.
    pub fn healthy(detail: impl Into<String>) -> Self {
        Verdict {
            healthy: true,
            detail: detail.into(),
        }
    }

    /// The incident is not healed.
    pub fn unhealthy(detail: impl Into<String>) -> Self {
        Verdict {
            healthy: false,
            detail: detail.into(),
        }
    }
}

impl From<Verdict> for wit::Verdict {
    fn from(verdict: Verdict) -> Self {
        wit::Verdict {
            healthy: verdict.healthy,
            detail: verdict.detail,
        }
    }
}
