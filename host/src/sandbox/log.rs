//! `log` and `progress`: messages from the guest, redacted and escaped before they reach
//! stderr or the run, and capped by the output budget in `limits.rs`.

use super::bindings::medic::remediation::log::{Host, Level};
use super::state::{HostState, LogLine, escape_text};

impl Host for HostState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.budget.charge_call()?;
        self.budget.charge_log(message.len())?;
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let message = escape_text(&self.grants.scope.redactor.redact(&message));
        tracing::info!(remediation = %self.remediation(), level, "{message}");
        self.logs.push(LogLine {
            level: level.to_string(),
            message,
        });
        Ok(())
    }

    async fn progress(&mut self, percent: u8, message: String) -> wasmtime::Result<()> {
        self.budget.charge_call()?;
        self.budget.charge_log(message.len())?;
        let message = format!(
            "{:>3}% {}",
            percent.min(100),
            escape_text(&self.grants.scope.redactor.redact(&message))
        );
        tracing::info!(remediation = %self.remediation(), "{message}");
        self.logs.push(LogLine {
            level: "progress".to_string(),
            message,
        });
        Ok(())
    }
}
