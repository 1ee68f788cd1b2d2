//! `checkpoint`: the guest's save and load of rollback state, audited like any host call.
//! Checkpoints belong to this run of this component (`store/checkpoints.rs`), so one
//! remediation can never read another's, nor a later run an earlier one's. Keys and values
//! are capped; `plan` may load but never save. Keys and values are stored redacted.

use std::time::Instant;

use super::Operation;
use super::bindings::HostError;
use super::bindings::medic::remediation::checkpoint::Host;
use super::denial::{Denial, DenialKind};
use super::state::HostState;
use crate::store::checkpoints::{CheckpointRefusal, Checkpoints};

fn refusal(refused: CheckpointRefusal) -> Denial {
    match refused {
        CheckpointRefusal::Key(reason) => Denial::new(DenialKind::Malformed, reason),
        CheckpointRefusal::OverCap(reason) => Denial::new(DenialKind::OverCap, reason),
    }
}

impl Host for HostState {
    async fn save(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        let started = Instant::now();
        // What medic stores is redacted like all it writes: a declared env value saved in
        // `apply` is not in the database, and `verify` loads it redacted.
        let redactor = self.grants.scope.redactor.clone();
        let key = redactor.redact(&key).into_owned();
        let value = redactor.redact_bytes(&value).into_owned();
        let target = format!("save {key}");
        if let Err(denial) = self.begin()? {
            return self.deny("checkpoint", target, denial, started);
        }
        if self.operation == Operation::Plan {
            let denial = Denial::new(
                DenialKind::DuringPlan,
                "`plan` is a dry run and may not save checkpoints",
            );
            return self.deny("checkpoint", target, denial, started);
        }
        // Saving a key again replaces it: only the growth counts against the run's budget.
        let before = self
            .checkpoints
            .stored_size(&key)
            .ok()
            .flatten()
            .unwrap_or(0);
        let growth = ((key.len() + value.len()) as u64).saturating_sub(before);
        if let Err(denial) = self.run_budget.charge_record(growth) {
            return self.deny("checkpoint", target, denial, started);
        }
        match self.checkpoints.save(&key, &value) {
            Ok(Ok(())) => {
                let result = format!("saved {} bytes", value.len());
                self.record(
                    "checkpoint",
                    target,
                    Ok("this run".to_string()),
                    result,
                    started,
                )?;
                Ok(Ok(()))
            }
            Ok(Err(refused)) => self.deny("checkpoint", target, refusal(refused), started),
            Err(error) => {
                let result = format!("failed: {error}");
                self.record(
                    "checkpoint",
                    target,
                    Ok("this run".to_string()),
                    result,
                    started,
                )?;
                Ok(Err(HostError::Failed(error.to_string())))
            }
        }
    }

    async fn load(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, HostError>> {
        let started = Instant::now();
        let key = self.grants.scope.redactor.redact(&key).into_owned();
        let target = format!("load {key}");
        if let Err(denial) = self.begin()? {
            return self.deny("checkpoint", target, denial, started);
        }
        if let Err(refused) = Checkpoints::check_key(&key) {
            return self.deny("checkpoint", target, refusal(refused), started);
        }
        let outcome = self
            .checkpoints
            .load(&key)
            .map_err(|error| HostError::Failed(error.to_string()));
        if let Ok(Some(value)) = &outcome
            && value.len() > self.limiter.room()
        {
            let denial = Denial::new(
                DenialKind::OverCap,
                format!(
                    "checkpoint `{key}` holds {} bytes, more than the guest's remaining memory",
                    value.len()
                ),
            );
            return self.deny("checkpoint", target, denial, started);
        }
        let result = match &outcome {
            Ok(Some(value)) => format!("{} bytes", value.len()),
            Ok(None) => "none".to_string(),
            Err(error) => format!("failed: {error:?}"),
        };
        self.record(
            "checkpoint",
            target,
            Ok("this run".to_string()),
            result,
            started,
        )?;
        Ok(outcome)
    }
}
