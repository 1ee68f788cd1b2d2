//! Hostile guest: its `plan` (a dry run) tries to change the host with the operation
//! `op` names (`exec`, `status`, `write`, `rename`, `mkdir`, `remove`, `post`, `get`,
//! `save`), swallows whatever the host answers, and reports success anyway, to test that
//! the host, not the guest, keeps `plan` a dry run and decides the run's status. `fail`
//! makes `plan` fail; `need` requires the parameter `needed`.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, exec, fs, http};

struct PlanAbuse;

fn attempt(incident: &Incident) -> Result<String, Error> {
    let target = incident.param("target").unwrap_or_default();
    let outcome = match incident.require_param("op")? {
        "exec" | "status" => exec::run(
            incident.require_param("program")?,
            &incident
                .param("args")
                .map(|args| args.split('\n').collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .map(|output| format!("ran, status {:?}", output.status)),
        "write" => fs::write(target, b"changed by plan").map(|()| "wrote".to_string()),
        "rename" => {
            fs::rename(target, incident.require_param("target2")?).map(|()| "renamed".to_string())
        }
        "mkdir" => fs::create_dir(target).map(|()| "created".to_string()),
        "remove" => fs::remove_file(target).map(|()| "removed".to_string()),
        "post" => http::send(http::Request::new("POST", target))
            .map(|response| format!("status {}", response.status)),
        "get" => http::get(target).map(|response| format!("status {}", response.status)),
        "save" => checkpoint::save_str("planned", "by plan").map(|()| "saved".to_string()),
        "fail" => return Err(Error::failed("the plan cannot be made")),
        "need" => return Ok(format!("needed {}", incident.require_param("needed")?)),
        other => return Err(Error::failed(format!("unknown op {other}"))),
    };
    Ok(outcome.unwrap_or_else(|error| format!("swallowed: {error}")))
}

impl Remediation for PlanAbuse {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let what = attempt(incident)?;
        Ok(vec![Step::note(format!("looked around ({what})"))])
    }

    fn apply(_incident: &Incident) -> Result<String, Error> {
        Ok("applied".to_string())
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("fine"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(PlanAbuse);
