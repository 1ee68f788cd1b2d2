//! Hostile guest: `apply` saves checkpoints as `op` says (`save` one `key`=`value`,
//! `none`, `flood-keys`, `flood-bytes`, `grow`, `long-key`, `huge-value`), then fails so that
//! `rollback` runs; `rollback` reports what it finds under `key` (and `long-key` tries a
//! load with an over-long key). It tests that checkpoints belong to one run of one
//! component and that their caps hold.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint};

struct CheckpointProbe;

fn flood(key_of: impl Fn(usize) -> String, value: &[u8]) -> String {
    for index in 0..10_000 {
        if let Err(error) = checkpoint::save(&key_of(index), value) {
            return format!("refused after {index} saves: {error}");
        }
    }
    "never refused".to_string()
}

impl Remediation for CheckpointProbe {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("save and recall checkpoints")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let key = incident.param("key").unwrap_or("state");
        let report = match incident.require_param("op")? {
            "save" => {
                checkpoint::save_str(key, incident.require_param("value")?)?;
                "saved".to_string()
            }
            "none" => "saved nothing".to_string(),
            "flood-keys" => flood(|index| format!("key-{index}"), b"x"),
            "flood-bytes" => flood(|index| format!("big-{index}"), &vec![7u8; 1 << 20]),
            "long-key" => match checkpoint::save(&"k".repeat(129), b"x") {
                Ok(()) => "saved a long key".to_string(),
                Err(error) => format!("refused: {error}"),
            },
            "grow" => {
                // Save one key again and again, growing: like a list of moved files.
                for round in 1..=1000usize {
                    if let Err(error) = checkpoint::save(key, &vec![b'g'; round * 100]) {
                        return Err(Error::failed(format!("refused at round {round}: {error}")));
                    }
                }
                "grew to 100000 bytes".to_string()
            }
            "huge-value" => match checkpoint::save("huge", &vec![1u8; (1 << 20) + 1]) {
                Ok(()) => "saved a huge value".to_string(),
                Err(error) => format!("refused: {error}"),
            },
            other => return Err(Error::failed(format!("unknown op {other}"))),
        };
        Err(Error::failed(format!("apply gives up after: {report}")))
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::unhealthy("never healthy"))
    }

    fn rollback(incident: &Incident) -> Result<String, Error> {
        let key = incident.param("key").unwrap_or("state");
        if incident.param("op") == Some("long-key") {
            return match checkpoint::load(&"k".repeat(129)) {
                Ok(_) => Ok("loaded a long key".to_string()),
                Err(error) => Ok(format!("load refused: {error}")),
            };
        }
        Ok(match checkpoint::load_string(key)? {
            Some(value) => format!("found {key}={value}"),
            None => format!("found nothing under {key}"),
        })
    }
}

medic_guest_sdk::export_remediation!(CheckpointProbe);
