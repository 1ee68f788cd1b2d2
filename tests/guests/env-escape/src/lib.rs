//! Hostile guest: reads the environment variable `name` through the env capability, and
//! also looks at its own WASI environment, to test that only declared names are visible.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, env};

struct EnvEscape;

impl Remediation for EnvEscape {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("try to read a variable")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the guest checks that its own WASI environment is empty"
        )]
        let ambient = std::env::vars().count();
        if ambient != 0 {
            return Err(Error::failed(format!(
                "the WASI environment holds {ambient} variables"
            )));
        }
        let name = incident.require_param("name")?;
        let value = env::get(name)?;
        Ok(format!(
            "{name}={}",
            value.unwrap_or_else(|| "<unset>".to_string())
        ))
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("read"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(EnvEscape);
