//! The heal loop: from a failure to a verified fix or a clean escalation, deciding by
//! policy at every step.
//!
//! ```text
//! recover killed runs -> resume or begin the loop -> [run CMD (and --verify)] -> passed?
//!   -> diagnose its output -> flap guard -> plan -> for each option, in rank order:
//!        decide (policy) -> approve? -> retry (backoff, run CMD again)
//!                                     | remediate (sandbox: apply, verify, rollback)
//!                                       -> run CMD again
//!   -> options ran out: escalate (Markdown report, webhook)
//! ```
//!
//! Every decision, approval and outcome is in the audit log under the incident's id; the
//! loop's state is saved after each step (`store/heals.rs`), so a `medic heal` killed in
//! the middle is taken over by the next one: its unfinished run is rolled back first, and
//! the options it tried are not run again. A permanent cause (build, test, configuration,
//! credential) is never retried. Outcomes feed `learning/`.

pub mod events;
pub mod state;

use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;

use events::{EventSink, HealEvent};
use state::{Attempt, LoopState, Stage};

use crate::catalog::Loaded;
use crate::config::Config;
use crate::diagnosis::{self, Diagnosis, PatternLibrary, Signal};
use crate::incident::Incident;
use crate::plan::{self, OptionKind, Plan, PlanInput, PlanOption};
use crate::policy::{self, Action, Candidate, Counts, Decision};
use crate::process::wrapped::{self, Echo, Wrapped};
use crate::run::{RunEnv, RunStatus};
use crate::store::audit::AuditEvent;
use crate::store::db::DbError;
use crate::store::heals::{self, HealJournal};
use crate::store::outcomes::{Outcome, Outcomes, now_ms};

/// Bytes of a wrapped command's output kept for diagnosis (the last ones).
pub const CAPTURE_BYTES: usize = 16 << 20;

/// Why a heal loop could not go on. Anything else (a failed run, a refused approval) is an
/// outcome, reported in [`HealReport`].
#[derive(Debug, Error)]
pub enum HealError {
    /// The audit log, the journal or the outcomes could not be written.
    #[error("audit log: {0}")]
    Db(#[from] DbError),
    /// A run could not be carried out or recorded.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    /// A killed run could not be rolled back: nothing else may run until it is.
    #[error("cannot roll back a killed run before healing: {0}")]
    Recover(#[from] crate::run::RecoverError),
    /// The wrapped command could not be waited for.
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// The failure's output could not be read.
    #[error("reading the failure's output: {0}")]
    Read(#[from] std::io::Error),
    /// `--dry-run` found killed work that only a real run may roll back or resume.
    #[error("not a dry run to make now: {}; run `medic heal` without --dry-run first", pending_text(runs, resumable.as_deref()))]
    Pending {
        /// The killed runs.
        runs: Vec<String>,
        /// The killed loop of this fingerprint.
        resumable: Option<String>,
    },
}

fn pending_text(runs: &[String], resumable: Option<&str>) -> String {
    let mut parts = Vec::new();
    if !runs.is_empty() {
        parts.push(format!(
            "killed runs wait to be rolled back ({})",
            runs.join(", ")
        ));
    }
    if let Some(id) = resumable {
        parts.push(format!("the killed heal of `{id}` waits to resume"));
    }
    parts.join(", and ")
}

/// How a heal loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealStatus {
    /// The command succeeded (and its check passed) without medic doing anything.
    Passed,
    /// Healed by a retry or a remediation.
    Healed,
    /// Handed to a human.
    Escalated,
    /// `--dry-run`, or trust `observe`/`dry-run`: decisions recorded, nothing done.
    Observed,
    /// medic was asked to stop.
    Interrupted,
}

impl HealStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            HealStatus::Passed => "passed",
            HealStatus::Healed => "healed",
            HealStatus::Escalated => "escalated",
            HealStatus::Observed => "observed",
            HealStatus::Interrupted => "interrupted",
        }
    }
}

/// Where a plan's remediations come from: only those whose manifest handles the incident
/// (or the root cause) are loaded and checked, when a diagnosis first asks for them.
pub trait Candidates {
    /// The remediations that handle `incident` with `root_cause`, loaded and checked.
    fn for_incident(&self, incident: &Incident, root_cause: diagnosis::RootCause) -> Vec<Loaded>;
}

/// Asks a human whether an option may run.
pub trait Approver {
    /// Ask about `option` (its steps and blast radius filled); answer with who decided and
    /// how.
    fn approve(&self, incident: &Incident, option: &PlanOption, decision: &Decision) -> Approval;
}

/// An approver's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// Given or not.
    pub approved: bool,
    /// The OS user who answered.
    pub by: String,
    /// `tty`, `--yes`, or `no-tty`.
    pub how: String,
}

/// The result of `medic heal`. `--json` prints it last, as `"event": "report"`.
#[derive(Debug, Clone, Serialize)]
pub struct HealReport {
    /// Always 1.
    pub version: u32,
    /// The incident.
    pub incident_id: String,
    /// How it ended.
    pub status: HealStatus,
    /// The wrapped command's final exit status, when there is one.
    pub exit_status: Option<i32>,
    /// Command runs made.
    pub attempts: u32,
    /// What was carried out.
    pub tried: Vec<Attempt>,
    /// The last diagnosis.
    pub diagnosis: Option<Diagnosis>,
    /// The last plan.
    pub plan: Option<Plan>,
    /// Why it escalated, and the report.
    pub escalation: Option<EscalationView>,
    /// An option needed approval that was not given.
    pub approval_refused: bool,
    /// Whether it took over a killed loop.
    pub resumed: bool,
    /// Killed runs rolled back before it began.
    pub recovered: Vec<String>,
    /// A sentence.
    pub summary: String,
}

impl HealReport {
    /// The report of a command that passed on its first run: nothing to heal.
    pub fn passed(incident: &Incident, run: &CommandRun) -> HealReport {
        HealReport {
            version: 1,
            incident_id: incident.id.clone(),
            status: HealStatus::Passed,
            exit_status: Some(run.status),
            attempts: 1,
            tried: Vec::new(),
            diagnosis: None,
            plan: None,
            escalation: None,
            approval_refused: false,
            resumed: false,
            recovered: Vec::new(),
            summary: "the command succeeded; nothing to heal".to_string(),
        }
    }
}

/// An escalation as the report carries it.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationView {
    /// Why.
    pub reason: String,
    /// The Markdown report.
    pub markdown: String,
    /// The webhook's result, when one is configured.
    pub webhook: Option<String>,
}

/// Everything a heal loop needs.
pub struct HealRequest<'a> {
    /// The incident (for a wrapped command, built from it).
    pub incident: Incident,
    /// The wrapped command.
    pub command: Option<Vec<String>>,
    /// A shell line that checks the result even when the command reports success.
    pub verify: Option<String>,
    /// Where the command's output is echoed.
    pub echo: Echo,
    /// The failure's log when there is no command (an incident's, a `--log` file's).
    pub log: Option<Vec<u8>>,
    /// Evidence from elsewhere (an alert).
    pub signals: Vec<Signal>,
    /// The pattern library.
    pub library: &'a PatternLibrary,
    /// The configuration (policy, diagnosis, ceilings).
    pub config: &'a Config,
    /// Remediations that may be offered, loaded when a diagnosis asks for them.
    pub candidates: &'a dyn Candidates,
    /// The engine and medic's state.
    pub env: RunEnv<'a>,
    /// Act on nothing; print every decision.
    pub dry_run: bool,
    /// Who approves.
    pub approver: &'a dyn Approver,
    /// Who watches.
    pub events: &'a dyn EventSink,
    /// Identifies "the same failure" across processes, for resuming.
    pub fingerprint: String,
    /// The command's first run, when the caller made it already (the success path runs
    /// the command before opening any state; a failure hands its run over here).
    pub first_run: Option<CommandRun>,
}

fn at() -> String {
    crate::store::runs::timestamp()
}

/// One heal loop in progress.
struct Healer<'a> {
    request: &'a HealRequest<'a>,
    state: LoopState,
    journal: HealJournal,
    outcomes: Outcomes,
    diagnosis: Option<Diagnosis>,
    plan: Option<Plan>,
    approval_refused: bool,
    /// Output of the last failure (command and check), for diagnosis.
    failure: Vec<u8>,
    /// The same output, already scanned while the command ran.
    scanned: Option<diagnosis::matcher::Scan>,
}

impl Healer<'_> {
    fn id(&self) -> &str {
        &self.state.incident.id
    }

    fn audit(&self, event: &AuditEvent) -> Result<(), HealError> {
        self.request
            .env
            .audit
            .append(&self.state.incident.id, event)?;
        Ok(())
    }

    fn progress(&self, stage: &str, message: impl Into<String>) {
        self.request.events.emit(&HealEvent::HealingProgress {
            incident_id: self.id().to_string(),
            at: at(),
            stage: stage.to_string(),
            message: message.into(),
        });
    }

    fn save(&self) -> Result<(), HealError> {
        self.journal.save(&self.state.to_json())?;
        Ok(())
    }

    /// Run the command (and its check); true when both pass.
    async fn run_command(&mut self) -> Result<bool, HealError> {
        let Some(command) = self.state.command.clone() else {
            return Ok(false);
        };
        self.state.attempts += 1;
        self.state.stage = Stage::Running;
        self.save()?;
        self.progress(
            "command",
            format!(
                "run {}: {}",
                self.state.attempts,
                crate::text::escape_control(&command.join(" "))
            ),
        );
        let run = run_checked(
            &command,
            self.request.verify.as_deref(),
            self.request.echo,
            self.request.env.stop,
            None,
        )
        .await?;
        self.take_run(run)
    }

    /// Record a run of the command (and its check): its status, its output for diagnosis.
    fn take_run(&mut self, run: CommandRun) -> Result<bool, HealError> {
        self.audit(&AuditEvent::CommandRan {
            attempt: self.state.attempts,
            status: run.status,
            passed: run.passed,
            shadow: run.shadow.is_some(),
            duration_ms: run.duration.as_millis() as u64,
        })?;
        self.state.last_status = Some(run.status);
        self.failure = run.output;
        self.scanned = run.scan;
        match run.shadow {
            _ if run.passed => {
                if self.request.verify.is_some() {
                    self.progress("verify", "the check passed");
                }
            }
            // A shadow error: the command said it worked, the check says it did not.
            Some(check_status) => self.progress(
                "verify",
                format!(
                    "the command exited 0 but the check `{}` failed with {check_status}",
                    crate::text::escape_control(self.request.verify.as_deref().unwrap_or_default()),
                ),
            ),
            None => self.progress(
                "command",
                format!(
                    "exited with {} after {} ms",
                    run.status,
                    run.duration.as_millis()
                ),
            ),
        }
        Ok(run.passed)
    }

    /// Diagnose the last failure.
    async fn diagnose(&mut self) -> Result<Diagnosis, HealError> {
        let mut signals = self.request.signals.clone();
        if let Some(status) = self.state.last_status {
            signals.extend(diagnosis::exit_status_signal(i64::from(status)));
        }
        let input = std::io::Cursor::new(std::mem::take(&mut self.failure));
        let threshold = self.request.config.diagnosis.llm_threshold;
        let (found, tail) = match self.scanned.take() {
            Some(scan) => (
                diagnosis::score(self.request.library, &scan, &signals, threshold),
                scan.tail.into_iter().collect(),
            ),
            None => diagnosis::diagnose_input(self.request.library, input, &signals, threshold)?,
        };
        let found = if found.low_confidence && self.request.config.diagnosis.llm.is_some() {
            diagnosis::consult(found, &tail, &self.request.config.diagnosis).await
        } else {
            found
        };
        self.audit(&AuditEvent::Diagnosed {
            root_cause: found.root_cause.as_str().to_string(),
            confidence: found.confidence,
            summary: found.summary.clone(),
            evidence: found
                .evidence
                .iter()
                .map(|evidence| format!("{} {}", evidence.line, evidence.pattern_id))
                .collect(),
        })?;
        self.request.events.emit(&HealEvent::Diagnosis {
            incident_id: self.id().to_string(),
            at: at(),
            diagnosis: Box::new(found.clone()),
        });
        Ok(found)
    }

    fn counts(&self) -> Result<Counts, HealError> {
        let policy = &self.request.config.policy;
        let resource = &self.state.incident.resource;
        let since = now_ms() - policy.flap_window.as_millis() as i64;
        let healed_in_window = self
            .outcomes
            .healed_since(&resource.kind, &resource.id, since)?;
        let last = self.outcomes.last_remediation_by_other(
            &resource.kind,
            &resource.id,
            &self.state.incident.id,
        )?;
        Ok(Counts {
            retries: self.state.retries,
            healed_in_window,
            since_last_remediation: last
                .map(|at_ms| Duration::from_millis((now_ms() - at_ms).max(0) as u64)),
        })
    }

    fn outcome_of(&self, attempt: &Attempt, root_cause: &str) -> Outcome {
        let incident = &self.state.incident;
        Outcome {
            incident_id: incident.id.clone(),
            option_kind: attempt.kind.clone(),
            remediation: attempt.remediation.clone(),
            version: attempt.version.clone(),
            sha256: attempt.sha256.clone(),
            root_cause: root_cause.to_string(),
            resource_kind: incident.resource.kind.clone(),
            resource_id: incident.resource.id.clone(),
            issue_type: incident.issue_type.clone(),
            healed: attempt.healed,
            duration_ms: attempt.duration_ms,
        }
    }

    /// Record what `attempt` did: complete its started row, or add one (a retry); and say
    /// so in the audit log, with the run it was.
    fn record_outcome(&self, attempt: &Attempt, root_cause: &str) -> Result<(), HealError> {
        self.audit(&AuditEvent::Attempted {
            kind: attempt.kind.clone(),
            remediation: attempt.remediation.clone(),
            sha256: attempt.sha256.clone(),
            run_id: attempt.run_id.clone(),
            status: attempt.status.clone(),
            healed: attempt.healed,
            duration_ms: attempt.duration_ms,
        })?;
        match attempt.outcome {
            Some(id) => self
                .outcomes
                .finish(id, attempt.healed, attempt.duration_ms)?,
            None => self
                .outcomes
                .record(&self.outcome_of(attempt, root_cause))?,
        }
        Ok(())
    }

    /// Fill a remediation option's steps from its own `plan` export (a dry run).
    async fn fill_steps(&self, option: &mut PlanOption) -> Result<(), HealError> {
        plan::fill_option_steps(option, &self.state.incident, &self.request.env).await?;
        Ok(())
    }

    /// Run a remediation option for real; the attempt it made.
    async fn remediate(
        &mut self,
        option: &PlanOption,
        root_cause: &str,
    ) -> Result<Attempt, HealError> {
        let bound = option
            .bound
            .as_ref()
            .expect("an applicable remediation is bound");
        let policy = &self.request.config.policy;
        let data_dir = self.request.env.data_dir;
        let mut attempt = Attempt {
            kind: "remediation".to_string(),
            remediation: bound.manifest.name.clone(),
            version: bound.manifest.version.clone(),
            sha256: bound.manifest.sha256.clone(),
            run_id: None,
            params: option.params.clone(),
            status: "started".to_string(),
            healed: false,
            duration_ms: 0,
            summary: String::new(),
            outcome: None,
        };
        // Wait for a slot without holding the runtime, and stop waiting on a signal.
        let deadline = Instant::now() + policy.slot_wait;
        let slot = loop {
            if let Some(slot) = heals::try_slot(data_dir, policy.max_concurrent)? {
                break slot;
            }
            if Instant::now() >= deadline || self.request.env.stop.raised().is_some() {
                attempt.status = "skipped".to_string();
                attempt.summary = format!(
                    "no remediation slot freed within {} ({} already running)",
                    humantime::format_duration(policy.slot_wait),
                    policy.max_concurrent
                );
                return Ok(attempt);
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = self.request.env.stop.wait() => {}
            }
        };
        // Recorded before it runs: a loop killed now knows this option was started, and
        // a cooldown counts from now.
        attempt.outcome = Some(
            self.outcomes
                .start(&self.outcome_of(&attempt, root_cause))?,
        );
        self.state.tried.push(attempt.clone());
        self.state.stage = Stage::Remediating;
        self.save()?;
        self.progress(
            "remediation",
            format!(
                "running `{}` {} in the sandbox",
                attempt.remediation, attempt.version
            ),
        );
        let incident = Incident {
            params: option.params.clone(),
            ..self.state.incident.clone()
        };
        let started = Instant::now();
        let report =
            crate::run::run_remediation(self.request.env.request(bound, &incident, false)).await?;
        drop(slot);
        attempt.run_id = Some(report.run_id.clone());
        attempt.status = report.status.as_str().to_string();
        attempt.healed = report.status == RunStatus::Healed;
        attempt.duration_ms = started.elapsed().as_millis() as u64;
        attempt.summary = report.summary.clone();
        if let Some(last) = self.state.tried.last_mut() {
            *last = attempt.clone();
        }
        // Its own verify's verdict, durable now; the command's next run may correct it.
        if report.status != RunStatus::Interrupted {
            self.record_outcome(&attempt, root_cause)?;
        }
        self.state.stage = Stage::Deciding;
        self.save()?;
        self.progress(
            "remediation",
            format!(
                "`{}`: {} — {}",
                attempt.remediation, attempt.status, attempt.summary
            ),
        );
        Ok(attempt)
    }

    /// Hand over: the report, the webhook, the audit record.
    async fn escalate(&mut self, reason: String) -> Result<EscalationView, HealError> {
        let markdown = crate::escalation::report(
            &self.state.incident,
            self.diagnosis.as_ref(),
            self.plan.as_ref(),
            &self.state.tried,
            &reason,
        );
        let policy = &self.request.config.policy;
        let webhook = match (&policy.escalation_webhook, self.request.dry_run) {
            (Some(url), false) => {
                let body = crate::escalation::WebhookBody {
                    text: &markdown,
                    incident_id: &self.state.incident.id,
                    reason: &reason,
                    root_cause: self.diagnosis.as_ref().map(|d| d.root_cause.as_str()),
                    tried: &self.state.tried,
                };
                Some(
                    match crate::escalation::post(
                        url,
                        &body,
                        policy.escalation_timeout,
                        policy.escalation_attempts,
                    )
                    .await
                    {
                        Ok(status) => format!(
                            "posted to {} (HTTP {status})",
                            crate::escalation::shown_url(url)
                        ),
                        Err(error) => error.to_string(),
                    },
                )
            }
            (Some(url), true) => Some(format!(
                "would post to {} (--dry-run)",
                crate::escalation::shown_url(url)
            )),
            (None, _) => None,
        };
        self.audit(&AuditEvent::Escalated {
            reason: reason.clone(),
            webhook: webhook.clone(),
        })?;
        self.request.events.emit(&HealEvent::Escalated {
            incident_id: self.id().to_string(),
            at: at(),
            reason: reason.clone(),
            report: markdown.clone(),
            webhook: webhook.clone(),
        });
        Ok(EscalationView {
            reason,
            markdown,
            webhook,
        })
    }

    /// Decide and carry out options for the current diagnosis until one heals, the
    /// command must run again, or they run out. Returns what to do next.
    async fn act(&mut self, diagnosis: &Diagnosis) -> Result<Next, HealError> {
        let policy = &self.request.config.policy;
        let rule = policy
            .rule_for(&self.state.incident, diagnosis.root_cause)
            .clone();
        let counts = self.counts()?;
        if let Some(reason) = policy::flap_guard(policy, &counts) {
            let decision = Decision {
                action: Action::Escalate,
                rule: "flap_guard".to_string(),
                reason: reason.clone(),
            };
            self.decided("escalate", None, &decision)?;
            return Ok(Next::Escalate(reason));
        }
        let permanent = plan::is_permanent(diagnosis.root_cause);
        let candidates = self
            .request
            .candidates
            .for_incident(&self.state.incident, diagnosis.root_cause);
        let mut plan = plan::build(&PlanInput {
            incident: &self.state.incident,
            diagnosis,
            candidates: &candidates,
            ceilings: self.request.env.ceilings,
            protected: self.request.env.data_dir.protected(),
            outcomes: Some(&self.outcomes),
            rule: (&rule.name, &rule.params),
            command: self.state.command.as_deref(),
            backoff: policy.backoff,
            max_retries: rule.max_retries,
        })?;
        for option in &plan.options {
            tracing::debug!(
                "option {} {}: confidence {:.3}, risk {}, applicable {} ({})",
                option.kind.as_str(),
                option.remediation.as_deref().unwrap_or("-"),
                option.confidence,
                option.risk.as_str(),
                option.applicable,
                option.reason
            );
        }
        self.audit(&AuditEvent::Planned {
            rule: rule.name.clone(),
            options: plan
                .options
                .iter()
                .map(|option| {
                    format!(
                        "{} {} {:.2} {}",
                        option.kind.as_str(),
                        option.remediation.as_deref().unwrap_or("-"),
                        option.confidence,
                        if option.applicable {
                            "applicable"
                        } else {
                            "not-applicable"
                        }
                    )
                })
                .collect(),
        })?;
        if self.request.dry_run {
            for option in &mut plan.options {
                if option.kind == OptionKind::Remediation && option.applicable {
                    self.fill_steps(option).await?;
                }
            }
        }
        self.request.events.emit(&HealEvent::Plan {
            incident_id: self.id().to_string(),
            at: at(),
            plan: Box::new(plan.clone()),
        });
        self.plan = Some(plan.clone());
        let mut observed = false;
        for mut option in plan.options {
            if self.request.env.stop.raised().is_some() {
                return Ok(Next::Interrupted);
            }
            let candidate = match option.kind {
                OptionKind::Retry => Candidate::Retry,
                OptionKind::Remediation => Candidate::Remediation {
                    name: option.remediation.as_deref().unwrap_or_default(),
                    risk: option.risk,
                },
                OptionKind::Manual => Candidate::Manual,
                OptionKind::Escalate => Candidate::Escalate,
            };
            let decision = if !option.applicable {
                Decision {
                    action: Action::Skip,
                    rule: rule.name.clone(),
                    reason: format!("not applicable: {}", option.reason),
                }
            } else if option.kind == OptionKind::Retry && permanent {
                Decision {
                    action: Action::Skip,
                    rule: rule.name.clone(),
                    reason: format!(
                        "`{}` is permanent: a retry fails the same way",
                        diagnosis.root_cause.as_str()
                    ),
                }
            } else if option.kind == OptionKind::Remediation
                && option
                    .sha256
                    .as_deref()
                    .is_some_and(|sha| self.state.tried_component(sha))
            {
                Decision {
                    action: Action::Skip,
                    rule: rule.name.clone(),
                    reason: "already tried for this incident".to_string(),
                }
            } else {
                policy::decide(&rule, candidate, &counts, self.request.dry_run)
            };
            self.decided(option.kind.as_str(), option.remediation.clone(), &decision)?;
            match decision.action {
                Action::Skip | Action::Manual => continue,
                Action::Observe => {
                    observed = true;
                    continue;
                }
                Action::Escalate => {
                    return Ok(if observed {
                        Next::Observed
                    } else {
                        Next::Escalate(if self.approval_refused {
                            "an option needed approval that was not given, and no other option healed the incident".to_string()
                        } else if self.state.tried.is_empty() {
                            format!(
                                "no option medic may carry out fits `{}`",
                                diagnosis.root_cause.as_str()
                            )
                        } else {
                            "every option medic could carry out was tried, and the incident is not healed".to_string()
                        })
                    });
                }
                Action::DryRunOnly => {
                    self.fill_steps(&mut option).await?;
                    // The steps are what this trust level shows: into the recorded plan.
                    if let Some(planned) = self.plan.as_mut().and_then(|plan| {
                        plan.options.iter_mut().find(|planned| {
                            planned.sha256 == option.sha256 && planned.kind == option.kind
                        })
                    }) {
                        planned.steps = option.steps.clone();
                        planned.applicable = option.applicable;
                        planned.reason = option.reason.clone();
                    }
                    self.progress(
                        "remediation",
                        format!(
                            "dry run of `{}`: {} steps",
                            option.remediation.as_deref().unwrap_or_default(),
                            option.steps.len()
                        ),
                    );
                    observed = true;
                    continue;
                }
                Action::NeedsApproval => {
                    self.fill_steps(&mut option).await?;
                    if !option.applicable {
                        let skipped = Decision {
                            action: Action::Skip,
                            rule: rule.name.clone(),
                            reason: option.reason.clone(),
                        };
                        self.decided(option.kind.as_str(), option.remediation.clone(), &skipped)?;
                        continue;
                    }
                    let approval =
                        self.request
                            .approver
                            .approve(&self.state.incident, &option, &decision);
                    self.audit(&AuditEvent::Approval {
                        remediation: option.remediation.clone().unwrap_or_default(),
                        params: option.params.clone(),
                        approved: approval.approved,
                        by: approval.by.clone(),
                        how: approval.how.clone(),
                    })?;
                    self.progress(
                        "approval",
                        format!(
                            "`{}` {} by {} ({})",
                            option.remediation.as_deref().unwrap_or_default(),
                            if approval.approved {
                                "approved"
                            } else {
                                "not approved"
                            },
                            approval.by,
                            approval.how
                        ),
                    );
                    if !approval.approved {
                        self.approval_refused = true;
                        continue;
                    }
                }
                Action::Run => {}
            }
            // Carry it out.
            match option.kind {
                OptionKind::Retry => {
                    let delay = plan::backoff_delay(&policy.backoff, self.state.retries);
                    self.state.retries += 1;
                    self.save()?;
                    self.progress(
                        "retry",
                        format!(
                            "retry {} of {} in {} ms",
                            self.state.retries,
                            rule.max_retries,
                            delay.as_millis()
                        ),
                    );
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.request.env.stop.wait() => return Ok(Next::Interrupted),
                    }
                    return Ok(Next::Rerun(Some(Attempt {
                        kind: "retry".to_string(),
                        remediation: "retry".to_string(),
                        version: String::new(),
                        sha256: String::new(),
                        run_id: None,
                        params: Default::default(),
                        status: "started".to_string(),
                        healed: false,
                        duration_ms: delay.as_millis() as u64,
                        outcome: None,
                        summary: format!(
                            "retry {} after {} ms",
                            self.state.retries,
                            delay.as_millis()
                        ),
                    })));
                }
                OptionKind::Remediation => {
                    let attempt = self
                        .remediate(&option, diagnosis.root_cause.as_str())
                        .await?;
                    if attempt.status == "interrupted" || self.request.env.stop.raised().is_some() {
                        return Ok(Next::Interrupted);
                    }
                    if attempt.status == "skipped" {
                        let skipped = Decision {
                            action: Action::Skip,
                            rule: rule.name.clone(),
                            reason: attempt.summary.clone(),
                        };
                        self.decided(option.kind.as_str(), option.remediation.clone(), &skipped)?;
                        continue;
                    }
                    if !attempt.healed {
                        continue;
                    }
                    if self.state.command.is_some() {
                        return Ok(Next::Rerun(Some(attempt)));
                    }
                    return Ok(Next::Healed);
                }
                OptionKind::Manual | OptionKind::Escalate => unreachable!("handled above"),
            }
        }
        Ok(if observed {
            Next::Observed
        } else {
            Next::Escalate("options ran out".to_string())
        })
    }

    fn decided(
        &self,
        option: &str,
        remediation: Option<String>,
        decision: &Decision,
    ) -> Result<(), HealError> {
        tracing::info!(
            incident = %self.state.incident.id,
            "decision: {option}{} -> {} (rule `{}`: {})",
            remediation.as_deref().map(|name| format!(" {name}")).unwrap_or_default(),
            decision.action.as_str(),
            decision.rule,
            decision.reason
        );
        self.audit(&AuditEvent::Decided {
            option: option.to_string(),
            remediation: remediation.clone(),
            action: decision.action.as_str().to_string(),
            rule: decision.rule.clone(),
            reason: decision.reason.clone(),
        })?;
        self.request.events.emit(&HealEvent::Decision {
            incident_id: self.id().to_string(),
            at: at(),
            option: option.to_string(),
            remediation,
            decision: decision.clone(),
        });
        Ok(())
    }
}

/// What the loop does after deciding.
enum Next {
    /// Run the command again; the option that preceded it, whose outcome the run decides.
    Rerun(Option<Attempt>),
    /// Healed (no command to run again).
    Healed,
    /// Hand over, for this reason.
    Escalate(String),
    /// Only observed (dry run, observe trust).
    Observed,
    /// Stopped by a signal.
    Interrupted,
}

/// One run of the wrapped command and its check.
#[derive(Debug, Clone)]
pub struct CommandRun {
    /// Whether both passed.
    pub passed: bool,
    /// The final status: the command's, or the check's when the command exited 0.
    pub status: i32,
    /// The check's status when the command exited 0 and the check failed.
    pub shadow: Option<i32>,
    /// Their output, the command's then the check's (the last bytes).
    pub output: Vec<u8>,
    /// Wall time of the command.
    pub duration: Duration,
    /// The output already scanned as it arrived (see [`run_checked`]'s `tee`), when the
    /// scan saw all of it.
    pub scan: Option<diagnosis::matcher::Scan>,
}

/// Run `command`, then `verify` (a shell line) when it exited 0.
pub async fn run_checked(
    command: &[String],
    verify: Option<&str>,
    echo: Echo,
    stop: &crate::stop::StopSignal,
    tee: Option<&wrapped::Tee>,
) -> Result<CommandRun, crate::process::ProcessError> {
    let output = wrapped::run_wrapped(Wrapped {
        argv: command,
        capture: CAPTURE_BYTES,
        echo,
        stop: Some(stop),
        tee,
    })
    .await?;
    let mut run = CommandRun {
        passed: output.status == 0,
        status: output.status,
        shadow: None,
        output: output.output,
        duration: output.duration,
        scan: None,
    };
    if let (true, Some(check)) = (run.passed, verify) {
        let argv = vec![
            wrapped::SHELL.to_string(),
            "-c".to_string(),
            check.to_string(),
        ];
        let checked = wrapped::run_wrapped(Wrapped {
            argv: &argv,
            capture: CAPTURE_BYTES,
            echo,
            stop: Some(stop),
            tee,
        })
        .await?;
        if checked.status != 0 {
            run.passed = false;
            run.status = checked.status;
            run.shadow = Some(checked.status);
            run.output.extend_from_slice(&checked.output);
        }
    }
    Ok(run)
}

/// Roll back every run a killed medic left unfinished; their ids.
pub async fn recover_killed(env: &RunEnv<'_>, config: &Config) -> Result<Vec<String>, HealError> {
    let mut recovered = Vec::new();
    for record in crate::store::runs::unfinished(env.db, env.data_dir)? {
        let Some((record, journal)) =
            crate::store::runs::claim(env.db, env.data_dir, &record.run_id)?
        else {
            continue;
        };
        let report = crate::run::recover_record(env, config, &record, journal).await?;
        recovered.push(format!(
            "{} ({}): {}",
            record.run_id, record.remediation, report.summary
        ));
    }
    Ok(recovered)
}

/// Carry `request.incident` from failure to a verified fix or an escalation.
pub async fn heal(request: HealRequest<'_>) -> Result<HealReport, HealError> {
    let env = &request.env;
    // Nothing runs while a killed run may have left the host half-changed. A dry run
    // changes nothing, rollbacks included: it says what it would roll back, and leaves a
    // killed loop for a real run to resume.
    if request.dry_run {
        let pending = crate::store::runs::unfinished(env.db, env.data_dir)?;
        let abandoned = heals::abandoned(env.db, env.data_dir, &request.fingerprint)?;
        if !pending.is_empty() || abandoned.is_some() {
            return Err(HealError::Pending {
                runs: pending.iter().map(|run| run.run_id.clone()).collect(),
                resumable: abandoned.map(|loop_| loop_.incident_id),
            });
        }
    }
    let recovered = recover_killed(env, request.config).await?;
    let (state, journal, resumed) = match heals::abandoned(
        env.db,
        env.data_dir,
        &request.fingerprint,
    )? {
        Some(abandoned) => match (
            serde_json::from_str::<LoopState>(&abandoned.state),
            HealJournal::resume(env.db, env.data_dir, &abandoned)?,
        ) {
            (Ok(mut state), Some(journal)) => {
                for attempt in &mut state.tried {
                    if attempt.status == "started" {
                        attempt.status = "interrupted".to_string();
                        attempt.summary =
                            "medic was killed during it; rolled back on recovery".to_string();
                    }
                }
                (state, journal, true)
            }
            (Err(error), Some(journal)) => {
                // Its state does not parse: close it rather than leave it forever.
                tracing::warn!(
                    "the killed heal of `{}` left a state medic cannot read ({error}); starting afresh",
                    abandoned.incident_id
                );
                journal.finish(&abandoned.state)?;
                fresh(&request)?
            }
            (_, None) => fresh(&request)?,
        },
        None => fresh(&request)?,
    };
    let mut healer = Healer {
        request: &request,
        state,
        journal,
        outcomes: Outcomes::new(env.db.clone()),
        diagnosis: None,
        plan: None,
        approval_refused: false,
        failure: request.log.clone().unwrap_or_default(),
        scanned: None,
    };
    healer.audit(&AuditEvent::HealStarted {
        incident: serde_json::to_value(&healer.state.incident).unwrap_or_default(),
        command: healer.state.command.clone(),
        resumed,
        dry_run: request.dry_run,
    })?;
    // A caller that ran the command first announced the start already.
    if request.first_run.is_none() || resumed {
        request.events.emit(&HealEvent::HealingStart {
            incident_id: healer.id().to_string(),
            at: at(),
            command: healer.state.command.clone(),
            resumed,
        });
    }
    for line in &recovered {
        healer.audit(&AuditEvent::Recovered { run: line.clone() })?;
        healer.progress("recover", format!("rolled back killed run {line}"));
    }
    if resumed {
        healer.progress(
            "recover",
            format!(
                "resuming: {} command runs, {} options tried",
                healer.state.attempts,
                healer.state.tried.len()
            ),
        );
    }

    let mut escalation = None;
    let mut pending: Option<Attempt> = None;
    let mut first_run = if resumed {
        None
    } else {
        request.first_run.clone()
    };
    // Any error on the way still ends the loop on record: an error is not a kill, and
    // the next `medic heal` must not resume it as one.
    let driven: Result<HealStatus, HealError> = async {
        Ok(loop {
            if request.env.stop.raised().is_some() {
                break HealStatus::Interrupted;
            }
            if healer.state.command.is_some() {
                let passed = match first_run.take() {
                    Some(run) => {
                        healer.state.attempts += 1;
                        healer.progress(
                            "command",
                            "the first run came before medic opened its state",
                        );
                        healer.take_run(run)?
                    }
                    None => healer.run_command().await?,
                };
                if let Some(mut attempt) = pending.take() {
                    // A retry or a verified remediation is judged by the run that follows it.
                    attempt.healed = passed;
                    if attempt.kind == "retry" {
                        attempt.status = if passed { "passed" } else { "failed" }.to_string();
                        healer.state.tried.push(attempt.clone());
                    } else if let Some(last) = healer
                        .state
                        .tried
                        .iter_mut()
                        .rev()
                        .find(|tried| tried.run_id == attempt.run_id)
                    {
                        last.healed = passed;
                        if !passed {
                            // Its own verify passed; the incident is not healed.
                            last.status = "command_still_fails".to_string();
                            last.summary.push_str("; the command still fails");
                        }
                    }
                    let cause = healer
                        .diagnosis
                        .as_ref()
                        .map_or("unknown", |d| d.root_cause.as_str());
                    healer.record_outcome(&attempt, cause)?;
                    healer.save()?;
                }
                if request.env.stop.raised().is_some() {
                    break HealStatus::Interrupted;
                }
                if passed {
                    // Healed only by an option that healed: a resumed loop whose killed run was
                    // rolled back and whose command then passed did not heal anything.
                    break if healer.state.tried.iter().any(|attempt| attempt.healed) {
                        HealStatus::Healed
                    } else {
                        HealStatus::Passed
                    };
                }
            }
            healer.state.stage = Stage::Deciding;
            healer.save()?;
            let diagnosis = healer.diagnose().await?;
            healer.diagnosis = Some(diagnosis.clone());
            match healer.act(&diagnosis).await? {
                Next::Rerun(attempt) => pending = attempt,
                Next::Healed => break HealStatus::Healed,
                Next::Observed => break HealStatus::Observed,
                Next::Interrupted => break HealStatus::Interrupted,
                Next::Escalate(reason) => {
                    escalation = Some(healer.escalate(reason).await?);
                    break HealStatus::Escalated;
                }
            }
        })
    }
    .await;
    let status = match driven {
        Ok(status) => status,
        Err(error) => {
            let _ = healer.audit(&AuditEvent::HealFinished {
                status: "error".to_string(),
                attempts: healer.state.attempts,
                summary: error.to_string(),
            });
            healer.state.stage = Stage::Finished;
            let state = healer.state.to_json();
            let _ = healer.journal.finish(&state);
            let _ = env.audit.seal();
            return Err(error);
        }
    };

    let summary = match status {
        HealStatus::Passed if resumed || !healer.state.tried.is_empty() => {
            "the command passed; no option medic carried out healed it".to_string()
        }
        HealStatus::Passed => "the command succeeded; nothing to heal".to_string(),
        HealStatus::Healed => {
            let by: Vec<String> = healer
                .state
                .tried
                .iter()
                .filter(|attempt| attempt.healed)
                .map(|attempt| attempt.remediation.clone())
                .collect();
            format!(
                "healed by {} after {} command runs",
                if by.is_empty() {
                    "a retry".to_string()
                } else {
                    by.join(", ")
                },
                healer.state.attempts
            )
        }
        HealStatus::Escalated => format!(
            "escalated: {}",
            escalation.as_ref().map_or("", |e| e.reason.as_str())
        ),
        HealStatus::Observed => "observed only: every decision recorded, nothing done".to_string(),
        HealStatus::Interrupted => {
            "stopped by a signal; what was applied was rolled back".to_string()
        }
    };
    healer.state.stage = Stage::Finished;
    healer.audit(&AuditEvent::HealFinished {
        status: status.as_str().to_string(),
        attempts: healer.state.attempts,
        summary: summary.clone(),
    })?;
    match status {
        HealStatus::Passed | HealStatus::Healed => {
            request.events.emit(&HealEvent::HealingComplete {
                incident_id: healer.id().to_string(),
                at: at(),
                status: status.as_str().to_string(),
                summary: summary.clone(),
            })
        }
        _ => request.events.emit(&HealEvent::HealingFailed {
            incident_id: healer.id().to_string(),
            at: at(),
            status: status.as_str().to_string(),
            summary: summary.clone(),
        }),
    }
    // An interrupted loop stays resumable; every other ends here.
    let Healer {
        state,
        journal,
        diagnosis,
        plan,
        approval_refused,
        ..
    } = healer;
    if status == HealStatus::Interrupted {
        journal.save(&state.to_json())?;
    } else {
        journal.finish(&state.to_json())?;
    }
    env.audit.seal()?;
    Ok(HealReport {
        version: 1,
        incident_id: state.incident.id.clone(),
        status,
        exit_status: state.last_status,
        attempts: state.attempts,
        tried: state.tried,
        diagnosis,
        plan,
        escalation,
        approval_refused,
        resumed,
        recovered,
        summary,
    })
}

fn fresh(request: &HealRequest<'_>) -> Result<(LoopState, HealJournal, bool), HealError> {
    let state = LoopState {
        incident: request.incident.clone(),
        command: request.command.clone(),
        attempts: 0,
        retries: 0,
        tried: Vec::new(),
        stage: Stage::Running,
        last_status: None,
    };
    let journal = HealJournal::begin(
        request.env.db,
        request.env.data_dir,
        &state.incident.id,
        &request.fingerprint,
        &state.to_json(),
    )?;
    Ok((state, journal, false))
}
