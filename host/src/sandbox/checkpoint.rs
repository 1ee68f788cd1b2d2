//! `checkpoint`: the guest's save and load of rollback state, audited like any host call
//! and capped in size. Keys are scoped to the run's incident and remediation, so one
//! remediation can never read another's checkpoints.

use std::time::Instant;

use super::bindings::HostError;
use super::bindings::medic::remediation::checkpoint::Host;
use super::state::HostState;
use crate::checkpoint::{MAX_KEY_BYTES, MAX_VALUE_BYTES};

impl Host for HostState {
    async fn save(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        if key.is_empty() || key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            let reason = format!(
                "checkpoint keys are 1 to {MAX_KEY_BYTES} bytes and values at most {MAX_VALUE_BYTES} bytes"
            );
            self.record(
                "checkpoint",
                format!("save {key}"),
                Err(reason.clone()),
                String::new(),
                started,
            )?;
            return Ok(Err(HostError::Denied(reason)));
        }
        let outcome = self
            .checkpoints
            .save(&key, &value)
            .map_err(|error| HostError::Failed(error.to_string()));
        let result = match &outcome {
            Ok(()) => format!("saved {} bytes", value.len()),
            Err(error) => format!("failed: {error:?}"),
        };
        self.record(
            "checkpoint",
            format!("save {key}"),
            Ok("own incident".to_string()),
            result,
            started,
        )?;
        Ok(outcome)
    }

    async fn load(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        let outcome = self
            .checkpoints
            .load(&key)
            .map_err(|error| HostError::Failed(error.to_string()));
        let result = match &outcome {
            Ok(Some(value)) => format!("{} bytes", value.len()),
            Ok(None) => "none".to_string(),
            Err(error) => format!("failed: {error:?}"),
        };
        self.record(
            "checkpoint",
            format!("load {key}"),
            Ok("own incident".to_string()),
            result,
            started,
        )?;
        Ok(outcome)
    }
}
