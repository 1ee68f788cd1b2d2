//! `medic policy check [--config FILE]` and `medic policy explain [--json]`.

use std::path::PathBuf;

use medic::policy::{Policy, Trust};

use super::exit::Exit;
use super::output::Output;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Check the policy (and the rest of the configuration); errors name the file, the
    /// field and the line.
    Check {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print, rule by rule, what medic will do without asking.
    Explain {
        /// Print the policy as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(
    command: Command,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    let policy = &config.policy;
    match command {
        Command::Check { json } => {
            if json {
                out.json(&serde_json::json!({
                    "version": 1, "valid": true, "source": policy.source, "rules": policy.rules.len(),
                }))?;
            } else {
                out.line(format!(
                    "policy from {} is valid: {} rules",
                    policy.source.display(),
                    policy.rules.len()
                ))?;
            }
        }
        Command::Explain { json } => {
            if json {
                out.json(&serde_json::json!({ "version": 1, "policy": policy }))?;
            } else {
                explain(policy, out)?;
            }
        }
    }
    Ok(Exit::Success)
}

fn explain(policy: &Policy, out: &mut Output) -> anyhow::Result<()> {
    out.line(format!(
        "policy from {} (the most specific matching rule decides)",
        policy.source.display()
    ))?;
    for rule in &policy.rules {
        out.line(String::new())?;
        out.line(format!(
            "rule `{}` ({}) -- for {}",
            rule.name,
            rule.location(),
            rule.scope()
        ))?;
        let automated: Vec<&str> = rule
            .automate_risk
            .iter()
            .map(|risk| risk.as_str())
            .collect();
        let without_asking = match rule.trust {
            Trust::Observe => {
                "nothing: it diagnoses and plans, and records what would have run".to_string()
            }
            Trust::DryRun => {
                "nothing that changes the host: it also runs each remediation's plan (a dry run)"
                    .to_string()
            }
            Trust::Approve => format!(
                "retries of a wrapped command (transient causes, up to {}); every remediation waits for approval",
                rule.max_retries
            ),
            Trust::Automate => format!(
                "retries of a wrapped command (transient causes, up to {}) and remediations of risk {}; others wait for approval",
                rule.max_retries,
                if automated.is_empty() {
                    "none".to_string()
                } else {
                    automated.join(", ")
                }
            ),
        };
        out.line(format!(
            "  trust {}: without asking, medic runs {without_asking}",
            rule.trust.as_str()
        ))?;
        out.line(format!(
            "  cooldown {}: a resource another incident remediated more recently is not remediated again",
            humantime::format_duration(rule.cooldown)
        ))?;
        if !rule.params.is_empty() {
            let params: Vec<String> = rule
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.line(format!("  params it fills: {}", params.join(", ")))?;
        }
    }
    out.line(String::new())?;
    out.line("a rule matched through the root cause (read from the log) never grants more than the most specific rule for the incident's resource kind or issue type, other than the catch-all")?;
    out.line(format!(
        "everywhere: at most {} remediations at once (waiting up to {} for a slot); a resource healed {} times within {} is not healed again, medic escalates",
        policy.max_concurrent,
        humantime::format_duration(policy.slot_wait),
        policy.flap_max,
        humantime::format_duration(policy.flap_window)
    ))?;
    out.line(format!(
        "retries back off exponentially from {} with full jitter, capped at {}; permanent causes (build, test, configuration, credential) are never retried",
        humantime::format_duration(policy.backoff.base),
        humantime::format_duration(policy.backoff.cap)
    ))?;
    match &policy.escalation_webhook {
        Some(url) => out.line(format!(
            "escalations are printed and POSTed to {} ({} attempts, {} each)",
            medic::escalation::shown_url(url),
            policy.escalation_attempts,
            humantime::format_duration(policy.escalation_timeout)
        ))?,
        None => {
            out.line("escalations are printed as a Markdown report (no escalation_webhook set)")?
        }
    }
    Ok(())
}

impl Command {
    /// Whether `--json` was asked for.
    pub(crate) fn wants_json(&self) -> bool {
        match self {
            Command::Check { json, .. } | Command::Explain { json, .. } => *json,
        }
    }
}
