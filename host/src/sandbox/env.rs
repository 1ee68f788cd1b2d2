//! The `env` gate: the only way a remediation reads an environment variable.
//!
//! The component's WASI environment is empty. `env.get` returns a value only for a name
//! the manifest declares and the ceiling allows, read from medic's environment at that
//! moment; any other name is denied and audited. Values are never written to the audit
//! log, only whether the variable was set, and every value handed out is redacted from
//! what the guest reports back (summaries, logs, stdout, stderr) before it is recorded or
//! shown.

use std::time::Instant;

use super::bindings::HostError;
use super::bindings::medic::remediation::env::Host;
use super::state::HostState;
use crate::config;
use crate::manifest::grant::EnvGrant;

/// Decide a read of `name`.
pub(crate) fn check_env(
    manifest: &[EnvGrant],
    ceiling: &[EnvGrant],
    name: &str,
) -> Result<(), String> {
    if !manifest.iter().any(|grant| grant.matches(name)) {
        return Err(format!(
            "environment variable `{name}` is not declared in the manifest"
        ));
    }
    if !ceiling.iter().any(|grant| grant.matches(name)) {
        return Err(format!(
            "environment variable `{name}` is beyond the operator's ceiling for this risk level"
        ));
    }
    Ok(())
}

impl Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        let grants = self.grants.clone();
        if let Err(reason) = check_env(
            &grants.manifest.grants.env,
            &grants.ceiling.grants.env,
            &name,
        ) {
            self.record("env", name, Err(reason.clone()), String::new(), started)?;
            return Ok(Err(HostError::Denied(reason)));
        }
        let value = config::host_env(&name);
        let result = if value.is_some() { "set" } else { "not set" };
        if let Some(value) = &value {
            self.revealed.push((name.clone(), value.clone()));
        }
        self.record(
            "env",
            name,
            Ok("declared".to_string()),
            result.to_string(),
            started,
        )?;
        Ok(Ok(value))
    }
}

/// Shortest value worth redacting; shorter ones would blank out ordinary words.
const MIN_REDACTED_LEN: usize = 4;

/// Replace every revealed value in `text` with `[redacted:NAME]`.
pub(crate) fn redact(text: &str, revealed: &[(String, String)]) -> String {
    let mut text = text.to_string();
    for (name, value) in revealed {
        if value.len() >= MIN_REDACTED_LEN {
            text = text.replace(value.as_str(), &format!("[redacted:{name}]"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_redacted_from_guest_text() {
        let revealed = vec![
            ("TOKEN".to_string(), "s3cr3t-value".to_string()),
            ("SHORT".to_string(), "ab".to_string()),
        ];
        assert_eq!(
            redact("token=s3cr3t-value, ab", &revealed),
            "token=[redacted:TOKEN], ab"
        );
    }
}
