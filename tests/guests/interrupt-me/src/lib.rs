//! Hostile guest: `apply` writes the file `marker`, saves its path in a checkpoint, then
//! computes forever (`spin`), sleeps in a WASI poll (`sleep`), or waits on a program
//! (`wait`: the granted `program` with `args`), so the test can signal medic, or kill it,
//! mid-apply. With `plan = "spin"`, `plan` computes forever instead. `rollback` removes the
//! file it finds in the checkpoint, so the test can see the rollback ran.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, exec, fs};

struct InterruptMe;

impl Remediation for InterruptMe {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        if incident.param("plan") == Some("spin") {
            let marker = incident.require_param("marker")?;
            // The test waits for this sign that plan is running.
            let _ = fs::list(marker.rsplit_once('/').map_or("/", |(dir, _)| dir));
            let mut counter: u64 = 0;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        Ok(vec![Step::note("change something, then take forever")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let marker = incident.require_param("marker")?;
        checkpoint::save_str("marker", marker)?;
        fs::write(marker, b"applied")?;
        match incident.param("mode").unwrap_or("spin") {
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(600));
                Ok("woke up".to_string())
            }
            "wait" => {
                let args: Vec<&str> = incident
                    .param("args")
                    .map(|args| args.split('\n').collect())
                    .unwrap_or_default();
                exec::run(incident.require_param("program")?, &args)?;
                Ok("the program returned".to_string())
            }
            _ => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
        }
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("done"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        match checkpoint::load_string("marker")? {
            Some(marker) => {
                fs::remove_file(&marker)?;
                Ok(format!("removed {marker}"))
            }
            None => Ok("nothing to undo".to_string()),
        }
    }
}

medic_guest_sdk::export_remediation!(InterruptMe);
