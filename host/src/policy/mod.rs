//! Policy: what medic may do on its own, from `[policy]` in `medic.toml`.
//!
//! Rules match an incident by resource kind, issue type and root cause; the most specific
//! matching rule decides (ties: the first written). A rule's trust level says how far
//! medic goes: `observe` (diagnose and plan, record what would have run), `dry-run` (also
//! run the remediation's `plan`), `approve` (run after approval), `automate` (run the risk
//! levels it lists without approval, ask for the rest). Retries of a wrapped command are
//! bounded by `max_retries`; a resource remediated less than `cooldown` ago is not
//! remediated again by another incident; and the flap guard stops healing a resource that
//! was healed `flap_max` times within `flap_window`, and escalates instead. The counters
//! behind these live in the database (`store/outcomes.rs`), shared by every process.
//!
//! [`decide`] is pure: it takes the counts and returns a [`Decision`] naming the rule.

mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use raw::{RawPolicy, RawRule};

use crate::diagnosis::RootCause;
use crate::incident::Incident;
use crate::manifest::{ManifestError, Origin, Risk};

/// How far medic goes on its own under a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// Diagnose and plan only; record what would have run.
    Observe,
    /// Also run each remediation's `plan` (a dry run); change nothing.
    DryRun,
    /// Run a remediation only after approval.
    Approve,
    /// Run remediations of the listed risk levels without approval; ask for the rest.
    Automate,
}

impl Trust {
    /// The level as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Observe => "observe",
            Trust::DryRun => "dry-run",
            Trust::Approve => "approve",
            Trust::Automate => "automate",
        }
    }

    fn parse(text: &str) -> Option<Trust> {
        Some(match text {
            "observe" => Trust::Observe,
            "dry-run" => Trust::DryRun,
            "approve" => Trust::Approve,
            "automate" => Trust::Automate,
            _ => return None,
        })
    }
}

/// One checked rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// Its name, for the audit log and `medic policy explain`.
    pub name: String,
    /// Matches this resource kind only.
    pub resource_kind: Option<String>,
    /// Matches this issue type only.
    pub issue_type: Option<String>,
    /// Matches this root cause only.
    pub root_cause: Option<RootCause>,
    /// How far medic goes.
    pub trust: Trust,
    /// Risk levels that run without approval under `automate`.
    pub automate_risk: Vec<Risk>,
    /// Most retries of a wrapped command per incident.
    pub max_retries: u32,
    /// Least time between remediations of one resource by different incidents.
    #[serde(with = "humantime_serde_secs")]
    pub cooldown: Duration,
    /// Parameters a plan may fill from this rule.
    pub params: BTreeMap<String, String>,
    /// Where it was written.
    #[serde(skip)]
    pub origin: Origin,
}

mod humantime_serde_secs {
    pub(super) fn serialize<S: serde::Serializer>(
        value: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }
}

fn shown_webhook<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_some(&crate::escalation::shown_url(url)),
        None => serializer.serialize_none(),
    }
}

impl Rule {
    /// How many of its fields narrow the match (the more, the more specific).
    fn specificity(&self) -> usize {
        usize::from(self.resource_kind.is_some())
            + usize::from(self.issue_type.is_some())
            + usize::from(self.root_cause.is_some())
    }

    /// Whether it applies to `incident` with `root_cause`.
    pub fn matches(&self, incident: &Incident, root_cause: RootCause) -> bool {
        self.resource_kind
            .as_ref()
            .is_none_or(|kind| *kind == incident.resource.kind)
            && self
                .issue_type
                .as_ref()
                .is_none_or(|issue| *issue == incident.issue_type)
            && self.root_cause.is_none_or(|cause| cause == root_cause)
    }

    /// Where it was written, as `file:line`.
    pub fn location(&self) -> String {
        match self.origin.line {
            Some(line) => format!("{}:{line}", self.origin.file.display()),
            None => self.origin.file.display().to_string(),
        }
    }

    /// What the rule matches, in words.
    pub fn scope(&self) -> String {
        let mut parts = Vec::new();
        if let Some(kind) = &self.resource_kind {
            parts.push(format!("resource kind `{kind}`"));
        }
        if let Some(issue) = &self.issue_type {
            parts.push(format!("issue type `{issue}`"));
        }
        if let Some(cause) = self.root_cause {
            parts.push(format!("root cause `{}`", cause.as_str()));
        }
        if parts.is_empty() {
            "every incident".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The checked `[policy]`.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// Rules, as written.
    pub rules: Vec<Rule>,
    /// Most remediations running at once on this host, across processes.
    pub max_concurrent: u32,
    /// Healings of one resource within `flap_window` after which medic stops and escalates.
    pub flap_max: u32,
    /// The flap guard's window.
    #[serde(with = "humantime_serde_secs")]
    pub flap_window: Duration,
    /// How long a remediation waits for a free slot before the incident escalates.
    #[serde(with = "humantime_serde_secs")]
    pub slot_wait: Duration,
    /// The retry backoff (exponential, full jitter, capped).
    #[serde(skip)]
    pub backoff: crate::plan::Backoff,
    /// Where escalations are posted, when set (printed as its origin only: the path is
    /// often the credential).
    #[serde(serialize_with = "shown_webhook")]
    pub escalation_webhook: Option<String>,
    /// The webhook's timeout per attempt.
    #[serde(with = "humantime_serde_secs")]
    pub escalation_timeout: Duration,
    /// Attempts at posting an escalation.
    pub escalation_attempts: u32,
    /// The file `[policy]` came from.
    pub source: PathBuf,
}

/// Why a policy could not be read. Names the file, the field and the line.
pub type PolicyError = ManifestError;

impl Policy {
    /// The rule that decides for `incident` with `root_cause`: the most specific match,
    /// the first written among equals. A policy always holds a catch-all rule (parsing adds
    /// one when a file has none).
    ///
    /// The root cause is read from the failure's text, which whoever wrote the log chose:
    /// a rule matched through it never grants more than the most specific rule matched on
    /// the incident's own facts (resource kind, issue type), when there is one besides the
    /// catch-all. Its trust, automated risks and
    /// retries are capped by that rule's, and its cooldown is at least that rule's.
    pub fn rule_for(&self, incident: &Incident, root_cause: RootCause) -> Rule {
        fn most_specific<'r>(candidates: impl Iterator<Item = &'r Rule>) -> Option<&'r Rule> {
            let mut best: Option<&Rule> = None;
            for rule in candidates {
                if best.is_none_or(|kept| rule.specificity() > kept.specificity()) {
                    best = Some(rule);
                }
            }
            best
        }
        let fallback = &self.rules[self.rules.len() - 1];
        let best = most_specific(
            self.rules
                .iter()
                .filter(|r| r.matches(incident, root_cause)),
        )
        .unwrap_or(fallback);
        if best.root_cause.is_none() {
            return best.clone();
        }
        // Only an operator's rule about this kind or issue binds: the catch-all does not.
        let Some(facts) = most_specific(self.rules.iter().filter(|r| {
            r.root_cause.is_none() && r.specificity() > 0 && r.matches(incident, root_cause)
        })) else {
            return best.clone();
        };
        let mut capped = best.clone();
        capped.trust = best.trust.min(facts.trust);
        capped
            .automate_risk
            .retain(|risk| facts.automate_risk.contains(risk));
        capped.max_retries = best.max_retries.min(facts.max_retries);
        capped.cooldown = best.cooldown.max(facts.cooldown);
        if capped.trust != best.trust
            || capped.automate_risk != best.automate_risk
            || capped.max_retries != best.max_retries
            || capped.cooldown != best.cooldown
        {
            capped.name = format!("{} (capped by `{}`)", best.name, facts.name);
        }
        capped
    }
}

/// The catch-all rule a policy without one ends with.
fn catch_all(source: &Path) -> Rule {
    Rule {
        name: "default".to_string(),
        resource_kind: None,
        issue_type: None,
        root_cause: None,
        trust: Trust::Automate,
        automate_risk: vec![Risk::Low],
        max_retries: 2,
        cooldown: Duration::from_secs(300),
        params: BTreeMap::new(),
        origin: Origin {
            file: source.to_path_buf(),
            field: "policy.rules (implicit catch-all)".to_string(),
            line: None,
        },
    }
}

/// The range each duration of `[policy]` must fall in: a value outside it is a typo or an
/// overflow waiting to happen (a flap window of a century disables the guard).
fn bounds(field: &str) -> (Duration, Duration) {
    let minute = Duration::from_secs(60);
    let hour = Duration::from_secs(3600);
    let day = Duration::from_secs(86_400);
    match field {
        "retry_base" => (Duration::from_millis(1), minute * 10),
        "retry_cap" => (Duration::from_millis(1), hour),
        "slot_wait" => (Duration::ZERO, hour),
        "escalation_timeout" => (Duration::from_secs(1), minute * 5),
        "flap_window" => (minute, day * 30),
        _ => (Duration::ZERO, day * 30),
    }
}

fn within(
    found: Duration,
    field: &str,
    text: &toml::Spanned<String>,
    src: &crate::manifest::grant::SourceText<'_>,
) -> Result<Duration, PolicyError> {
    let (least, most) = bounds(field.rsplit('.').next().unwrap_or(field));
    if found < least || found > most {
        return src.invalid(
            format!("policy.{field}"),
            text.span(),
            format!(
                "`{}` is out of range: {} to {}",
                text.get_ref(),
                humantime::format_duration(least),
                humantime::format_duration(most)
            ),
        );
    }
    Ok(found)
}

/// Check `raw` (from `source`, whose text is `text`, for line numbers).
pub fn parse_policy(raw: &RawPolicy, source: &Path, text: &str) -> Result<Policy, PolicyError> {
    let src = crate::manifest::grant::SourceText { file: source, text };
    let duration =
        |value: &Option<toml::Spanned<String>>, field: &str, default: Duration| match value {
            None => Ok(default),
            Some(text) => match humantime::parse_duration(text.get_ref()) {
                Ok(found) => within(found, field, text, &src),
                Err(error) => src.invalid(
                    format!("policy.{field}"),
                    text.span(),
                    format!(
                        "`{}` is not a duration (\"30s\", \"5m\", \"1h\"): {error}",
                        text.get_ref()
                    ),
                ),
            },
        };
    let mut rules = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (index, spanned) in raw.rules.iter().enumerate() {
        let rule = spanned.get_ref();
        let field = |name: &str| format!("policy.rules[{index}].{name}");
        let name = rule.name.as_ref().map_or_else(
            || format!("rule-{}", index + 1),
            |name| name.get_ref().clone(),
        );
        if !names.insert(name.clone()) {
            let span = rule.name.as_ref().map_or(0..0, toml::Spanned::span);
            return src.invalid(
                field("name"),
                span,
                format!("rule name `{name}` is used twice"),
            );
        }
        let trust = match &rule.trust {
            None => Trust::Approve,
            Some(text) => match Trust::parse(text.get_ref()) {
                Some(trust) => trust,
                None => {
                    return src.invalid(
                        field("trust"),
                        text.span(),
                        format!(
                            "must be `observe`, `dry-run`, `approve` or `automate`, got `{}`",
                            text.get_ref()
                        ),
                    );
                }
            },
        };
        let root_cause = match &rule.root_cause {
            None => None,
            Some(text) => match RootCause::parse(text.get_ref()) {
                Some(cause) => Some(cause),
                None => {
                    let known: Vec<&str> = RootCause::ALL.iter().map(|c| c.as_str()).collect();
                    return src.invalid(
                        field("root_cause"),
                        text.span(),
                        format!(
                            "unknown root cause `{}` (known: {})",
                            text.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
            },
        };
        let mut automate_risk = Vec::new();
        match &rule.automate_risk {
            None => automate_risk.push(Risk::Low),
            Some(levels) => {
                for level in levels {
                    match Risk::parse(level.get_ref()) {
                        Some(risk) => automate_risk.push(risk),
                        None => {
                            return src.invalid(
                                field("automate_risk"),
                                level.span(),
                                format!(
                                    "must list `low`, `medium` or `high`, got `{}`",
                                    level.get_ref()
                                ),
                            );
                        }
                    }
                }
            }
        }
        let max_retries = match &rule.max_retries {
            None => 2,
            Some(value) if *value.get_ref() > 20 => {
                return src.invalid(
                    field("max_retries"),
                    value.span(),
                    format!("at most 20, got {}", value.get_ref()),
                );
            }
            Some(value) => *value.get_ref(),
        };
        let cooldown = match &rule.cooldown {
            None => Duration::from_secs(300),
            Some(text) => match humantime::parse_duration(text.get_ref()) {
                Ok(found) => within(found, &format!("rules[{index}].cooldown"), text, &src)?,
                Err(error) => {
                    return src.invalid(
                        field("cooldown"),
                        text.span(),
                        format!("`{}` is not a duration: {error}", text.get_ref()),
                    );
                }
            },
        };
        for (key, value) in &rule.params {
            if value.get_ref().len() > crate::manifest::params::MAX_VALUE_LEN {
                return src.invalid(field(&format!("params.{key}")), value.span(), "is too long");
            }
        }
        let origin = src.origin(format!("policy.rules[{index}]"), spanned.span());
        rules.push(Rule {
            name,
            resource_kind: rule
                .resource_kind
                .as_ref()
                .map(|text| text.get_ref().clone()),
            issue_type: rule.issue_type.as_ref().map(|text| text.get_ref().clone()),
            root_cause,
            trust,
            automate_risk,
            max_retries,
            cooldown,
            params: rule
                .params
                .iter()
                .map(|(key, value)| (key.clone(), value.get_ref().clone()))
                .collect(),
            origin,
        });
    }
    if !rules.iter().any(|rule| rule.specificity() == 0) {
        rules.push(catch_all(source));
    }
    let flap_max = match &raw.flap_max {
        Some(value) if *value.get_ref() == 0 => {
            return src.invalid("policy.flap_max", value.span(), "must be at least 1");
        }
        Some(value) => *value.get_ref(),
        None => 3,
    };
    let max_concurrent = match &raw.max_concurrent {
        Some(value) if *value.get_ref() == 0 || *value.get_ref() > 64 => {
            return src.invalid("policy.max_concurrent", value.span(), "must be 1 to 64");
        }
        Some(value) => *value.get_ref(),
        None => 2,
    };
    let escalation_webhook = match &raw.escalation_webhook {
        None => None,
        Some(text) => {
            let parsed = url::Url::parse(text.get_ref());
            match parsed {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    Some(text.get_ref().clone())
                }
                _ => {
                    return src.invalid(
                        "policy.escalation_webhook",
                        text.span(),
                        format!("must be an http(s) URL, got `{}`", text.get_ref()),
                    );
                }
            }
        }
    };
    let escalation_attempts = match &raw.escalation_attempts {
        Some(value) if *value.get_ref() == 0 || *value.get_ref() > 10 => {
            return src.invalid(
                "policy.escalation_attempts",
                value.span(),
                "must be 1 to 10",
            );
        }
        Some(value) => *value.get_ref(),
        None => 3,
    };
    Ok(Policy {
        rules,
        max_concurrent,
        flap_max,
        flap_window: duration(&raw.flap_window, "flap_window", Duration::from_secs(3600))?,
        slot_wait: duration(&raw.slot_wait, "slot_wait", Duration::from_secs(60))?,
        backoff: crate::plan::Backoff {
            base: duration(&raw.retry_base, "retry_base", Duration::from_secs(1))?,
            cap: duration(&raw.retry_cap, "retry_cap", Duration::from_secs(30))?,
        },
        escalation_webhook,
        escalation_timeout: duration(
            &raw.escalation_timeout,
            "escalation_timeout",
            Duration::from_secs(5),
        )?,
        escalation_attempts,
        source: source.to_path_buf(),
    })
}

/// What medic does with one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Carry it out now.
    Run,
    /// Carry it out only after approval.
    NeedsApproval,
    /// Run the remediation's `plan` only (trust `dry-run`).
    DryRunOnly,
    /// Record what would have run (trust `observe`, or `--dry-run`).
    Observe,
    /// Do not carry it out (not applicable, limits reached, cooldown).
    Skip,
    /// A human's steps: listed in the escalation, never run by medic.
    Manual,
    /// Stop and hand the incident to a human.
    Escalate,
}

impl Action {
    /// The action's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::NeedsApproval => "needs_approval",
            Action::DryRunOnly => "dry_run_only",
            Action::Observe => "observe",
            Action::Skip => "skip",
            Action::Manual => "manual",
            Action::Escalate => "escalate",
        }
    }
}

/// A decision about one option, with the rule that made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// What medic does.
    pub action: Action,
    /// The rule's name.
    pub rule: String,
    /// Why, in a sentence.
    pub reason: String,
}

/// What kind of option is being decided (see `plan::OptionKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate<'a> {
    /// Re-run the wrapped command.
    Retry,
    /// Run this remediation, of this risk.
    Remediation {
        /// Its name.
        name: &'a str,
        /// Its risk.
        risk: Risk,
    },
    /// Steps for a human.
    Manual,
    /// Hand over.
    Escalate,
}

/// The durable counts a decision depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Retries this incident's loop already made.
    pub retries: u32,
    /// Healings of the resource within the flap window.
    pub healed_in_window: u64,
    /// How long ago another incident last remediated the resource.
    pub since_last_remediation: Option<Duration>,
}

/// Whether the flap guard stops healing this resource.
pub fn flap_guard(policy: &Policy, counts: &Counts) -> Option<String> {
    (counts.healed_in_window >= u64::from(policy.flap_max)).then(|| {
        format!(
            "flap guard: the resource was healed {} times in the last {} (limit {}); stop healing it and escalate",
            counts.healed_in_window,
            humantime::format_duration(policy.flap_window),
            policy.flap_max
        )
    })
}

/// Decide one applicable option under `rule`. `dry_run` (the operator's `--dry-run`)
/// turns every action into [`Action::Observe`].
pub fn decide(rule: &Rule, candidate: Candidate<'_>, counts: &Counts, dry_run: bool) -> Decision {
    let decision = |action: Action, reason: String| Decision {
        action,
        rule: rule.name.clone(),
        reason,
    };
    let observe = |what: String| {
        let why = if dry_run {
            "--dry-run".to_string()
        } else {
            format!("trust `{}`", rule.trust.as_str())
        };
        decision(Action::Observe, format!("would {what} ({why})"))
    };
    match candidate {
        Candidate::Escalate => decision(Action::Escalate, "options ran out".to_string()),
        Candidate::Manual => decision(Action::Manual, "steps for a human".to_string()),
        Candidate::Retry => {
            if counts.retries >= rule.max_retries {
                return decision(
                    Action::Skip,
                    format!("max_retries {} reached", rule.max_retries),
                );
            }
            if dry_run || matches!(rule.trust, Trust::Observe | Trust::DryRun) {
                return observe("retry the command".to_string());
            }
            decision(
                Action::Run,
                format!("retry {} of {}", counts.retries + 1, rule.max_retries),
            )
        }
        Candidate::Remediation { name, risk } => {
            if let Some(ago) = counts.since_last_remediation
                && ago < rule.cooldown
            {
                return decision(
                    Action::Skip,
                    format!(
                        "cooldown: the resource was remediated {} ago (cooldown {})",
                        humantime::format_duration(Duration::from_secs(ago.as_secs())),
                        humantime::format_duration(rule.cooldown)
                    ),
                );
            }
            if dry_run || rule.trust == Trust::Observe {
                return observe(format!("run `{name}`"));
            }
            match rule.trust {
                Trust::DryRun => decision(
                    Action::DryRunOnly,
                    format!("trust `dry-run`: run `{name}`'s plan only"),
                ),
                Trust::Approve => decision(
                    Action::NeedsApproval,
                    "trust `approve`: every remediation needs approval".to_string(),
                ),
                Trust::Automate if rule.automate_risk.contains(&risk) => decision(
                    Action::Run,
                    format!(
                        "trust `automate` runs {} risk without approval",
                        risk.as_str()
                    ),
                ),
                _ => decision(
                    Action::NeedsApproval,
                    format!(
                        "{} risk needs approval (automated: {})",
                        risk.as_str(),
                        rule.automate_risk
                            .iter()
                            .map(|risk| risk.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests;
