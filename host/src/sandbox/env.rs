//! The `env` gate: the only way a remediation reads an environment variable.
//!
//! The component's WASI environment is empty. `env.get` returns a value only for a name
//! the manifest declares and the ceiling allows, from the values the run read from medic's
//! environment when it started (this gate reads no configuration and no environment
//! itself); any other name is denied and audited. Values are never written to the audit
//! log, only whether the variable was set, and the run's [`crate::secrets::Redactor`]
//! cuts every declared value out of what the guest reports back (summaries, logs,
//! stdout, stderr) before it is recorded or shown.

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
        if let Some(index) = grants
            .manifest
            .grants
            .env
            .iter()
            .position(|grant| grant.matches(&name))
        {
            self.used_grants
                .insert(format!("capabilities.env[{index}]"));
        }
        let value = grants
            .scope
            .env
            .iter()
            .find(|(declared, _)| *declared == name)
            .map(|(_, value)| value.clone());
        let result = if value.is_some() { "set" } else { "not set" };
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
