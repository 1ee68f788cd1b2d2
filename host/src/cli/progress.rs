//! How a heal loop shows its progress: a live view of the stages on a terminal
//! (indicatif), plain timestamped lines on stderr otherwise, one JSON object per line on
//! stdout under `--json`; under GitHub Actions also `::error`/`::notice` annotations and a
//! Markdown summary appended to `$GITHUB_STEP_SUMMARY`, under GitLab CI collapsible
//! sections around medic's own output.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use medic::config::CiEnvironment;
use medic::heal::events::{EventSink, HealEvent};
use medic::heal::{HealReport, HealStatus};
use medic::text::escape_control;

/// The form of human progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// A spinner with the current stage, events printed above it.
    Live,
    /// Timestamped lines on stderr.
    Plain,
    /// JSON lines on stdout.
    Json,
}

/// The progress sink the CLI uses.
pub(crate) struct Progress {
    style: Style,
    ci: CiEnvironment,
    bar: Option<ProgressBar>,
    quiet: bool,
    /// GitLab sections opened and not yet closed.
    open_section: Mutex<Option<String>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// `event` as one JSON line, `version` first.
pub(crate) fn json_line(event: &impl serde::Serialize) -> String {
    let body = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_string());
    match body.strip_prefix('{') {
        Some(rest) if rest != "}" => format!("{{\"version\":1,{rest}"),
        _ => "{\"version\":1}".to_string(),
    }
}

/// A GitHub workflow command's data, escaped as the runner expects.
fn github_escape(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

impl Progress {
    pub(crate) fn new(style: Style, ci: CiEnvironment, quiet: bool) -> Arc<Progress> {
        let bar = (style == Style::Live && !quiet).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} medic {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Arc::new(Progress {
            style,
            ci,
            bar,
            quiet,
            open_section: Mutex::new(None),
        })
    }

    /// Run `f` with the live view out of the way (a prompt, the command's own output).
    pub(crate) fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = escape_control(text);
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(format!("medic: {text}")),
            _ => {
                let at = humantime::format_rfc3339_seconds(SystemTime::now());
                let _ = writeln!(std::io::stderr().lock(), "{at} medic: {text}");
            }
        }
    }

    fn stage(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(escape_control(text));
        }
    }

    /// A GitHub annotation: on stdout, where the runner reads workflow commands, unless
    /// stdout carries JSON.
    fn annotate(&self, level: &str, title: &str, message: &str) {
        if !self.ci.github_actions {
            return;
        }
        let line = format!(
            "::{level} title={}::{}",
            github_escape(title).replace(',', "%2C").replace(':', "%3A"),
            github_escape(&escape_control(message))
        );
        if self.style == Style::Json {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }

    /// Open a GitLab collapsible section (closing the one open).
    fn section(&self, name: &str, header: &str) {
        if !self.ci.gitlab_ci || self.style == Style::Json {
            return;
        }
        self.close_section();
        let now = now_secs();
        let _ = write!(
            std::io::stderr().lock(),
            "\x1b[0Ksection_start:{now}:medic_{name}[collapsed=true]\r\x1b[0K{}\n",
            escape_control(header)
        );
        *self.open_section.lock().unwrap_or_else(|p| p.into_inner()) = Some(name.to_string());
    }

    pub(crate) fn close_section(&self) {
        let open = self
            .open_section
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(name) = open {
            let _ = write!(
                std::io::stderr().lock(),
                "\x1b[0Ksection_end:{}:medic_{name}\r\x1b[0K\n",
                now_secs()
            );
        }
    }

    /// End the view; under GitHub Actions append the summary.
    pub(crate) fn finish(&self, report: &HealReport) {
        self.close_section();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.ci.github_actions {
            return;
        }
        let Some(path) = &self.ci.github_step_summary else {
            return;
        };
        let markdown = summary_markdown(report);
        let written = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut file| file.write_all(markdown.as_bytes()));
        if let Err(error) = written {
            tracing::warn!(
                "cannot append to $GITHUB_STEP_SUMMARY `{}`: {error}",
                path.display()
            );
        }
    }
}

/// The step summary: the outcome, the diagnosis and what was tried (the escalation report
/// when there is one).
pub(crate) fn summary_markdown(report: &HealReport) -> String {
    if let Some(escalation) = &report.escalation {
        return format!("{}\n", escalation.markdown);
    }
    let mut out = format!(
        "## medic: {}\n\n{}\n\n",
        report.status.as_str(),
        escape_control(&report.summary)
    );
    if let Some(diagnosis) = &report.diagnosis
        && report.status != HealStatus::Passed
    {
        out.push_str(&format!(
            "**Root cause:** `{}` (confidence {:.2}): {}\n\n",
            diagnosis.root_cause.as_str(),
            diagnosis.confidence,
            escape_control(&diagnosis.summary).replace('|', "\\|")
        ));
    }
    if !report.tried.is_empty() {
        out.push_str("| option | result | time |\n|---|---|---|\n");
        for attempt in &report.tried {
            out.push_str(&format!(
                "| {} | {} | {} ms |\n",
                escape_control(&attempt.remediation),
                attempt.status,
                attempt.duration_ms
            ));
        }
        out.push('\n');
    }
    out
}

impl EventSink for Progress {
    fn emit(&self, event: &HealEvent) {
        // The wrapped command writes to the terminal itself: the live view steps aside
        // while it runs, and comes back with the next event.
        if let Some(bar) = &self.bar {
            let command_runs = matches!(
                event,
                HealEvent::HealingProgress { stage, message, .. }
                    if stage == "command" && message.starts_with("run ")
            );
            if command_runs {
                self.line(match event {
                    HealEvent::HealingProgress { message, .. } => message,
                    _ => "",
                });
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
                return;
            }
            if bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
        if self.style == Style::Json {
            let _ = writeln!(std::io::stdout().lock(), "{}", json_line(event));
        }
        match event {
            HealEvent::HealingStart {
                incident_id,
                command,
                resumed,
                ..
            } => {
                self.stage("starting");
                if self.style != Style::Json {
                    self.line(&format!(
                        "healing {incident_id}{}{}",
                        command
                            .as_ref()
                            .map(|c| format!(": {}", c.join(" ")))
                            .unwrap_or_default(),
                        if *resumed {
                            " (resuming a killed loop)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            HealEvent::Diagnosis { diagnosis, .. } => {
                self.section("diagnosis", "medic: diagnosis");
                self.stage("diagnosed");
                if self.style != Style::Json {
                    self.line(&format!(
                        "diagnosis: {} (confidence {:.2}) -- {}",
                        diagnosis.root_cause.as_str(),
                        diagnosis.confidence,
                        diagnosis.summary
                    ));
                }
                self.annotate(
                    "notice",
                    "medic diagnosis",
                    &format!(
                        "{} ({:.2}): {}",
                        diagnosis.root_cause.as_str(),
                        diagnosis.confidence,
                        diagnosis.summary
                    ),
                );
            }
            HealEvent::Plan { plan, .. } => {
                self.section("plan", "medic: plan and decisions");
                self.stage("planned");
                if self.style != Style::Json {
                    for (index, option) in plan.options.iter().enumerate() {
                        self.line(&format!(
                            "option {}: {}{} confidence {:.2} risk {}{}",
                            index + 1,
                            option.kind.as_str(),
                            option
                                .remediation
                                .as_ref()
                                .map(|name| format!(" {name}"))
                                .unwrap_or_default(),
                            option.confidence,
                            option.risk.as_str(),
                            if option.applicable {
                                String::new()
                            } else {
                                format!(" (not applicable: {})", option.reason)
                            }
                        ));
                    }
                }
            }
            HealEvent::Decision {
                option,
                remediation,
                decision,
                ..
            } => {
                if self.style != Style::Json {
                    self.line(&format!(
                        "decision: {}{} -> {} (rule `{}`: {})",
                        option,
                        remediation
                            .as_ref()
                            .map(|name| format!(" {name}"))
                            .unwrap_or_default(),
                        decision.action.as_str(),
                        decision.rule,
                        decision.reason
                    ));
                }
            }
            HealEvent::HealingProgress { stage, message, .. } => {
                if stage == "command" || stage == "verify" {
                    self.close_section();
                }
                self.stage(message);
                if self.style != Style::Json {
                    self.line(&format!("{stage}: {message}"));
                }
            }
            HealEvent::HealingComplete { summary, .. } => {
                self.close_section();
                if self.style != Style::Json {
                    self.line(summary);
                }
                self.annotate("notice", "medic", summary);
            }
            HealEvent::HealingFailed { summary, .. } => {
                self.close_section();
                if self.style != Style::Json {
                    self.line(summary);
                }
                self.annotate("error", "medic", summary);
            }
            HealEvent::Escalated {
                reason,
                report,
                webhook,
                ..
            } => {
                if self.style != Style::Json {
                    self.line(&format!("escalated: {reason}"));
                    if let Some(webhook) = webhook {
                        self.line(&format!("escalation webhook: {webhook}"));
                    }
                    self.suspend(|| {
                        let _ = writeln!(std::io::stderr().lock(), "{report}");
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_put_the_version_first() {
        #[derive(serde::Serialize)]
        struct Event {
            event: &'static str,
        }
        assert_eq!(
            json_line(&Event { event: "x" }),
            "{\"version\":1,\"event\":\"x\"}"
        );
    }

    #[test]
    fn github_commands_escape_their_data() {
        assert_eq!(github_escape("a%b\nc"), "a%25b%0Ac");
    }
}
