//! Hostile guest: uses std's file and socket APIs, which import wasi:filesystem and
//! wasi:sockets. medic links neither, so this component must fail to instantiate.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict};

struct WasiAmbient;

impl Remediation for WasiAmbient {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("read /etc/passwd directly")])
    }

    fn apply(_incident: &Incident) -> Result<String, Error> {
        let passwd = std::fs::read_to_string("/etc/passwd")
            .map_err(|error| Error::failed(error.to_string()))?;
        let socket = std::net::TcpStream::connect("127.0.0.1:22").is_ok();
        Ok(format!("{} bytes, socket {socket}", passwd.len()))
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("escaped"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(WasiAmbient);
