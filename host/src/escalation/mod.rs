//! Escalation: handing an incident to a human with everything medic knows.
//!
//! [`report`] renders a ready-to-paste Markdown report: the incident, the diagnosis with
//! its evidence, what was tried and how each ended, and the options left (manual steps
//! included). [`post`] sends it, when `[policy] escalation_webhook` names a URL, as JSON
//! with a Slack-compatible `text` (and the structured fields beside it), with a timeout
//! per attempt and retries with backoff; no redirects, no proxy.

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::diagnosis::Diagnosis;
use crate::heal::state::Attempt;
use crate::incident::Incident;
use crate::plan::{OptionKind, Plan};

/// Why an escalation could not be posted.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// Every attempt failed; the last error.
    #[error("escalation webhook `{url}`: {attempts} attempts failed; last: {last}")]
    Failed {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// What [`post`] sends.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookBody<'a> {
    /// Slack-compatible text: the report.
    pub text: &'a str,
    /// The incident's id.
    pub incident_id: &'a str,
    /// Why it escalated.
    pub reason: &'a str,
    /// The root cause, when diagnosed.
    pub root_cause: Option<&'a str>,
    /// What was tried.
    pub tried: &'a [Attempt],
}

/// Text from a log or a guest, made inert in Markdown, HTML and Slack: no markup, link,
/// mention (`<!channel>`), table break or code span survives.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::text::escape_control(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '|' | '*' | '_' | '[' | ']' | '#' | '\\' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A log line for a code block: no fence breaks out, no Slack mention or link fires.
fn inert_code(text: &str) -> String {
    crate::text::escape_control(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("```", "'''")
}

/// A URL as medic prints it: scheme, host and port only. A webhook's path is often its
/// credential (Slack's is), and is never printed or recorded.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}{}/…",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default(),
            parsed
                .port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default()
        ),
        Err(_) => "the escalation webhook".to_string(),
    }
}

/// The Markdown report for a human.
pub fn report(
    incident: &Incident,
    diagnosis: Option<&Diagnosis>,
    plan: Option<&Plan>,
    tried: &[Attempt],
    reason: &str,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "## medic escalation: {} `{}` ({})\n\n",
        cell(&incident.resource.kind),
        cell(&incident.resource.id),
        cell(&incident.issue_type)
    ));
    out.push_str(&format!("**Why:** {}\n\n", cell(reason)));
    out.push_str(&format!("**Incident:** `{}`", cell(&incident.id)));
    if !incident.summary.is_empty() {
        out.push_str(&format!(" — {}", cell(&incident.summary)));
    }
    out.push_str("\n\n");
    if let Some(diagnosis) = diagnosis {
        out.push_str(&format!(
            "### Diagnosis\n\n**Root cause:** `{}` (confidence {:.2}{})\n\n{}\n\n",
            diagnosis.root_cause.as_str(),
            diagnosis.confidence,
            if diagnosis.low_confidence {
                ", low"
            } else {
                ""
            },
            cell(&diagnosis.summary)
        ));
        if !diagnosis.evidence.is_empty() {
            out.push_str("Evidence:\n\n```\n");
            for evidence in diagnosis.evidence.iter().take(8) {
                out.push_str(&format!(
                    "{:>6} [{}] {}\n",
                    evidence.line,
                    evidence.pattern_id,
                    inert_code(&evidence.text)
                ));
            }
            out.push_str("```\n\n");
        }
    }
    out.push_str("### What medic tried\n\n");
    if tried.is_empty() {
        out.push_str("Nothing.\n\n");
    } else {
        out.push_str("| # | option | result | time | detail |\n|---|---|---|---|---|\n");
        for (index, attempt) in tried.iter().enumerate() {
            let name = if attempt.kind == "retry" {
                "retry".to_string()
            } else {
                format!("{} {}", attempt.remediation, attempt.version)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} ms | {} |\n",
                index + 1,
                cell(&name),
                cell(&attempt.status),
                attempt.duration_ms,
                cell(&attempt.summary)
            ));
        }
        out.push('\n');
    }
    if let Some(plan) = plan {
        let manual: Vec<&str> = plan
            .options
            .iter()
            .filter(|option| option.kind == OptionKind::Manual)
            .flat_map(|option| option.steps.iter().map(|step| step.detail.as_str()))
            .collect();
        if !manual.is_empty() {
            out.push_str("### Steps for a human\n\n");
            for (index, step) in manual.iter().enumerate() {
                out.push_str(&format!("{}. {}\n", index + 1, cell(step)));
            }
            out.push('\n');
        }
        let left: Vec<String> = plan
            .options
            .iter()
            .filter(|option| option.kind == OptionKind::Remediation)
            .filter(|option| {
                !tried
                    .iter()
                    .any(|attempt| Some(&attempt.sha256) == option.sha256.as_ref())
            })
            .map(|option| {
                format!(
                    "- `{}` (risk {}, confidence {:.2}): {}",
                    option.remediation.as_deref().unwrap_or("?"),
                    option.risk.as_str(),
                    option.confidence,
                    cell(&option.reason)
                )
            })
            .collect();
        if !left.is_empty() {
            out.push_str("### Remediations not run\n\n");
            out.push_str(&left.join("\n"));
            out.push_str("\n\n");
        }
    }
    out.push_str(&format!(
        "Audit: `medic audit show {}`\n",
        cell(&incident.id)
    ));
    out
}

/// POST `body` to `url`: up to `attempts` tries, each within `timeout`, backing off
/// between them; a 2xx answer is success. Returns the status code.
pub async fn post(
    url: &str,
    body: &WebhookBody<'_>,
    timeout: Duration,
    attempts: u32,
) -> Result<u16, WebhookError> {
    let failed = |attempts: u32, last: String| WebhookError::Failed {
        url: shown_url(url),
        attempts,
        last,
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "the escalation webhook is one of the few places medic itself sends HTTP"
    )]
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|error| failed(0, error.to_string()))?;
    let mut last = String::new();
    let backoff = crate::plan::Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(5),
    };
    for attempt in 0..attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(backoff.max_delay(attempt - 1)).await;
        }
        let request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default());
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                return Ok(response.status().as_u16());
            }
            Ok(response) => last = format!("HTTP {}", response.status()),
            // reqwest's message names the URL: keep only what it says of the failure.
            Err(error) => last = error.without_url().to_string(),
        }
    }
    Err(failed(attempts.max(1), last))
}
