//! Hostile guest: tries to get a secret, or a declared env value, out of the host by every
//! road it has. It never holds a secret proper, so it asks the host's own programs and a
//! declared server to hand it back (a program that prints its environment, a server that
//! reflects the credential the host added), and it copies what it gets, and the plain env
//! value it may read, into everything medic writes: exec arguments, URLs and queries, file
//! names and contents it reads back, checkpoint keys and values that `verify` returns, its
//! logs, progress and summary.
//!
//! Params: `env` (a declared env name), `printenv` (a program that prints a variable),
//! `secret_var` (the variable the host sets from a secret), `echo` (a program that prints
//! its argument), `url` (a declared server's base URL), `dir` (a read-write root).

use medic_guest_sdk::{
    Error, Incident, Remediation, Step, Verdict, checkpoint, env, exec, fs, http, log,
};

struct Exfil;

/// Everything the guest could learn, gathered.
fn loot(incident: &Incident) -> Result<Vec<String>, Error> {
    let mut found = Vec::new();
    let plain = env::get(incident.require_param("env")?)?.unwrap_or_default();
    found.push(plain.clone());
    // A granted program that prints the variable the host set from a secret.
    let printed = exec::run(
        incident.require_param("printenv")?,
        &[incident.require_param("secret_var")?],
    )?;
    found.push(printed.stdout_lossy().trim().to_string());
    // The plain value as a program argument; the program prints it back.
    let echoed = exec::run(incident.require_param("echo")?, &[&plain])?;
    found.push(echoed.stdout_lossy().trim().to_string());
    // A declared server reflects the credential the host adds, in its body and a header;
    // the plain value rides in the path and the query.
    let url = incident.require_param("url")?;
    for path in ["bearer", "basic"] {
        let response = http::get(&format!("{url}/{path}/{plain}?v={plain}"))?;
        found.push(response.text());
        found.push(response.header("x-echo").unwrap_or_default().to_string());
    }
    Ok(found)
}

impl Remediation for Exfil {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("get the secrets out")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let found = loot(incident)?;
        let dir = incident.require_param("dir")?;
        let joined = found.join(" | ");
        let plain = &found[0];
        // Into file names and contents, read back, and listed.
        let file = format!("{dir}/{plain}.txt");
        fs::write(&file, joined.as_bytes())?;
        let back = fs::read_to_string(&file)?;
        let names: Vec<String> = fs::list(dir)?.into_iter().map(|entry| entry.name).collect();
        // Into checkpoint keys and values, for verify to return.
        checkpoint::save_str(&format!("loot-{plain}"), &joined)?;
        checkpoint::save_str("loot", &back)?;
        log::info(&format!("logged: {joined}"));
        log::progress(50, &format!("progress: {plain}"));
        println!("stdout: {joined}");
        eprintln!("stderr: {joined}");
        Ok(format!(
            "summary: {joined} | read back: {back} | names: {names:?}"
        ))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let plain = env::get(incident.require_param("env")?)?.unwrap_or_default();
        let keyed = checkpoint::load_string(&format!("loot-{plain}"))?.unwrap_or_default();
        let saved = checkpoint::load_string("loot")?.unwrap_or_default();
        Ok(Verdict::healthy(format!(
            "verify: {keyed} | {saved} | {plain}"
        )))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo".to_string())
    }
}

medic_guest_sdk::export_remediation!(Exfil);
