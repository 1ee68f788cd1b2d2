//! Hostile guest: runs the program and arguments the incident names (`program`, `args`
//! one per line), to test that the exec gate refuses everything the manifest does not
//! grant. `apply` returns the program's stdout when the call is allowed.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, exec};

struct ExecEscape;

impl Remediation for ExecEscape {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("try to run a program")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let program = incident.require_param("program")?;
        let args: Vec<&str> = match incident.param("args") {
            Some(text) if !text.is_empty() => text.split('\n').collect(),
            _ => Vec::new(),
        };
        let output = exec::run(program, &args)?;
        Ok(format!(
            "status {:?} stdout {}",
            output.status,
            output.stdout_lossy().trim()
        ))
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("ran"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(ExecEscape);
