//! The `env` gate: the only way a remediation reads an environment variable.
//!
//! The component's WASI environment is empty. `env.get` returns a value only for a name
//! the manifest declares and the ceiling allows, from the values the run read from medic's
//! environment when it started (this gate reads no configuration and no environment
//! itself); any other name is denied and audited. Values are never written to the audit
//! log, only whether the variable was set, and every value handed out is redacted from
//! what the guest reports back (summaries, logs, stdout, stderr) before it is recorded or
//! shown.

use std::time::Instant;

use super::bindings::HostError;
use super::bindings::medic::remediation::env::Host;
use super::denial::{Denial, DenialKind};
use super::state::HostState;
use crate::manifest::grant::EnvGrant;

/// Decide a read of `name`.
pub(crate) fn check_env(
    manifest: &[EnvGrant],
    ceiling: &[EnvGrant],
    name: &str,
) -> Result<(), Denial> {
    if !manifest.iter().any(|grant| grant.matches(name)) {
        return Err(Denial::new(
            DenialKind::NotInManifest,
            format!("environment variable `{name}` is not declared in the manifest"),
        ));
    }
    if !ceiling.iter().any(|grant| grant.matches(name)) {
        return Err(Denial::new(
            DenialKind::BeyondCeiling,
            format!(
                "environment variable `{name}` is beyond the operator's ceiling for this risk level"
            ),
        ));
    }
    Ok(())
}

impl Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, HostError>> {
        let started = Instant::now();
        if let Err(denial) = self.begin()? {
            return self.deny("env", name, denial, started);
        }
        let grants = self.grants.clone();
        if let Err(denial) = check_env(
            &grants.manifest.grants.env,
            &grants.scope.ceiling.grants.env,
            &name,
        ) {
            return self.deny("env", name, denial, started);
        }
        let value = grants
            .scope
            .env
            .iter()
            .find(|(declared, _)| *declared == name)
            .map(|(_, value)| value.clone());
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
