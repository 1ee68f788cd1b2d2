//! Hostile guest: sends `method` to `url` (then, with `follow = "yes"`, to the response's
//! `Location`), or with `tcp = "host:port"` opens a TCP connection, to test that the http
//! gate refuses everything the manifest does not grant.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, http};

struct HttpEscape;

impl Remediation for HttpEscape {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("try to reach a server")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        if let Some(address) = incident.param("tcp") {
            let (host, port) = address
                .rsplit_once(':')
                .ok_or_else(|| Error::failed("tcp must be host:port"))?;
            let port: u16 = port.parse().map_err(|_| Error::failed("bad port"))?;
            let took = http::connect(host, port)?;
            return Ok(format!("connected in {} ms", took.as_millis()));
        }
        let method = incident.param("method").unwrap_or("GET");
        let url = incident.require_param("url")?;
        let mut request = http::Request::new(method, url);
        if let Some(header) = incident.param("header") {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| Error::failed("header must be name:value"))?;
            request = request.header(name, value.trim());
        }
        let response = http::send(request)?;
        if incident.param("follow") == Some("yes")
            && let Some(location) = response.header("location")
        {
            let next = http::get(location)?;
            return Ok(format!("followed to {} status {}", location, next.status));
        }
        Ok(format!(
            "status {} body {}",
            response.status,
            response.text().trim()
        ))
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("reached"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(HttpEscape);
