//! Hostile guest: performs `op` (`read`, `write`, `list`, `rename`, `remove`, `mkdir`) on
//! `path` (and `path2` for rename), to test that the fs gate keeps it beneath its roots.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, fs};

struct FsEscape;

impl Remediation for FsEscape {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("try to touch a file")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let path = incident.require_param("path")?;
        match incident.require_param("op")? {
            "read" => Ok(format!(
                "read: {}",
                String::from_utf8_lossy(&fs::read(path)?)
            )),
            "write" => fs::write(path, incident.param("data").unwrap_or("pwned").as_bytes())
                .map(|()| "wrote".to_string()),
            "list" => Ok(format!("{} entries", fs::list(path)?.len())),
            "rename" => {
                fs::rename(path, incident.require_param("path2")?).map(|()| "renamed".to_string())
            }
            "remove" => fs::remove_file(path).map(|()| "removed".to_string()),
            "mkdir" => fs::create_dir(path).map(|()| "created".to_string()),
            other => Err(Error::failed(format!("unknown op {other}"))),
        }
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("touched"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(FsEscape);
