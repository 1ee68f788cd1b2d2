//! Hostile guest: `apply` carries out `steps`, one per line, and reports each result in
//! its summary, going on after a refusal, so a test can interleave a local attacker's
//! move (a granted program that swaps a file or plants a symlink) with the guest's own
//! attempts. Steps: `exec PROGRAM [ARG...]`, `read PATH`, `write PATH TEXT`,
//! `write-bytes PATH COUNT`, `list PATH`, `mkdir PATH`, `metadata PATH`, `return-bytes
//! COUNT` (the summary becomes that many bytes). It ends with an error when any step was
//! refused.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, exec, fs};

struct Sequence;

fn step(line: &str) -> Result<String, Error> {
    let mut words = line.split(' ');
    let verb = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let first = rest.first().copied().unwrap_or_default();
    match verb {
        "exec" => {
            let output = exec::run(first, &rest[1..])?;
            Ok(format!(
                "status {:?} stdout {}",
                output.status,
                output.stdout_lossy().trim()
            ))
        }
        "read" => Ok(format!(
            "read {}",
            String::from_utf8_lossy(&fs::read(first)?).trim()
        )),
        "write" => fs::write(first, rest[1..].join(" ").as_bytes()).map(|()| "wrote".to_string()),
        "write-bytes" => {
            let count: usize = rest
                .get(1)
                .and_then(|count| count.parse().ok())
                .ok_or_else(|| Error::failed("write-bytes PATH COUNT"))?;
            fs::write(first, &vec![b'x'; count]).map(|()| format!("wrote {count}"))
        }
        "list" => Ok(format!("{} entries", fs::list(first)?.len())),
        "mkdir" => fs::create_dir(first).map(|()| "created".to_string()),
        "metadata" => fs::metadata(first).map(|entry| format!("{} bytes", entry.size)),
        "return-bytes" => {
            let count: usize = first
                .parse()
                .map_err(|_| Error::failed("return-bytes COUNT"))?;
            Ok("x".repeat(count))
        }
        other => Err(Error::failed(format!("unknown step {other}"))),
    }
}

impl Remediation for Sequence {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("carry out the steps")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let mut results = Vec::new();
        let mut refused = false;
        for line in incident.require_param("steps")?.lines() {
            match step(line) {
                Ok(result) => results.push(result),
                Err(error) => {
                    refused |= error.is_denied();
                    results.push(error.to_string());
                }
            }
        }
        let summary = results.join(" | ");
        if refused {
            return Err(Error::failed(summary));
        }
        Ok(summary)
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("done"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(Sequence);
