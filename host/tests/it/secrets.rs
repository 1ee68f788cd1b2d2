//! Secrets and redaction from the hostile side: the host adds a credential the guest
//! never holds, and `exfil` tries every road to get it (or a declared env value) back out
//! into what medic writes; then the operator's mistakes (an unmapped handle, a secret
//! file others can read) stop a run before anything runs.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use medic_tests::{Remediation, Server};

use super::{assert_healed, call, medic};

const API_TOKEN: &str = "tok-API-7f3a9c2e55";
const DB_PASSWORD: &str = "db-PASS-5e6d0a41";
const PLAIN: &str = "plain-VALUE-91b4c8";

/// Every file under `dir`, as bytes, with its path.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

fn exfil(medic: &medic_tests::Medic, port: u16, dir: &std::path::Path) -> Remediation {
    let _ = medic;
    Remediation::new("exfil")
        .env("MEDIC_TEST_PLAIN")
        .exec("/usr/bin/printenv", &["PGPASSWORD"])
        .in_manifest(r#"env = { PGPASSWORD = "secret:db" }"#)
        .exec("/usr/bin/echo", &["[a-zA-Z0-9-]+"])
        .http("GET", &format!("http://127.0.0.1:{port}/bearer/*?*"))
        .in_manifest(r#"auth = "secret:api""#)
        .http("GET", &format!("http://127.0.0.1:{port}/basic/*?*"))
        .in_manifest(r#"auth = { secret = "api", scheme = "basic", user = "medic" }"#)
        .fs(dir, "read-write")
        .ceiling_secret("api")
        .ceiling_secret("db")
}

/// The database password in an operator-only file (mode 0600), for `[secrets.db]`.
fn db_password_file(medic: &medic_tests::Medic) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let private = medic.private_dir();
    std::fs::create_dir_all(&private).unwrap();
    let file = private.join("db-password");
    std::fs::write(&file, format!("{DB_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    file
}

#[test]
fn no_secret_or_declared_value_reaches_anything_medic_writes() {
    let mut medic = medic();
    let secret_file = db_password_file(&medic);
    medic.config_extra(&format!(
        "[secrets.api]\nenv = \"MEDIC_TEST_API_TOKEN\"\n[secrets.db]\nfile = {:?}\n",
        secret_file.display().to_string()
    ));
    let received = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let received = received.clone();
        Server::start_with_headers(move |method, path, headers, _| {
            let mut reply = medic_tests::Reply::new(200, "");
            let mut body = format!("{method} {path}\n");
            for (name, value) in headers {
                body.push_str(&format!("{name}: {value}\n"));
                if name.eq_ignore_ascii_case("authorization") {
                    received.lock().unwrap().push(value.clone());
                    reply.headers.push(("x-echo".to_string(), value.clone()));
                }
            }
            reply.body = body;
            reply
        })
    };
    let work = medic.root().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let dir = medic.install(&exfil(&medic, server.port(), &work));
    let incident = medic.incident(
        "exfil",
        &[
            ("env", "MEDIC_TEST_PLAIN"),
            ("printenv", "/usr/bin/printenv"),
            ("secret_var", "PGPASSWORD"),
            ("echo", "/usr/bin/echo"),
            ("url", &server.url("")),
            ("dir", &work.display().to_string()),
        ],
    );
    let result = medic.run_with_env(
        &[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--json",
        ],
        &[
            ("MEDIC_TEST_API_TOKEN", API_TOKEN),
            ("MEDIC_TEST_PLAIN", PLAIN),
            ("MEDIC_LOG", "debug"),
        ],
    );
    let report = assert_healed(&result);

    // The host did its part: the server got the real credential, both ways, and the
    // program got the real password (it printed it, and the guest got it redacted).
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("medic:{API_TOKEN}"));
    assert_eq!(
        *received.lock().unwrap(),
        vec![format!("Bearer {API_TOKEN}"), format!("Basic {basic}")]
    );
    let summary = call(&report, "apply")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    for shown in ["[secret:db]", "[secret:api]", "[redacted:MEDIC_TEST_PLAIN]"] {
        assert!(summary.contains(shown), "`{shown}` not in {summary}");
    }
    let verified = call(&report, "verify")["detail"].as_str().unwrap();
    assert!(verified.contains("[secret:api]"), "{verified}");

    // Nothing medic wrote holds a value: its output, its logs, its audit log as shown,
    // and every file in its data directory, the SQLite database and its WAL included.
    let audit = serde_json::to_string(&medic.audit()).unwrap();
    let mut written: Vec<(String, Vec<u8>)> = vec![
        ("stdout".to_string(), result.stdout.clone().into_bytes()),
        ("stderr".to_string(), result.stderr.clone().into_bytes()),
        ("audit show".to_string(), audit.into_bytes()),
    ];
    written.extend(
        files_under(&medic.data_dir())
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes)),
    );
    assert!(written.iter().any(|(name, _)| name.ends_with("medic.db")));
    for value in [API_TOKEN, DB_PASSWORD, PLAIN, basic.as_str()] {
        for (name, bytes) in &written {
            assert!(
                memchr::memmem::find(bytes, value.as_bytes()).is_none(),
                "`{value}` is in {name}"
            );
        }
    }
    // The denial-free run left an intact chain, and the guest did reach every road.
    medic.assert_audit_intact();
    assert_eq!(server.hits().len(), 2, "{:?}", server.hits());
    assert!(
        result.stderr.contains("logged:"),
        "the guest's log reached stderr: {}",
        result.stderr
    );
}

#[test]
fn a_guest_may_not_set_the_header_the_host_adds() {
    let mut medic = medic();
    medic.config_extra("[secrets.api]\nenv = \"MEDIC_TEST_API_TOKEN\"\n");
    let server = Server::echo();
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("GET", &format!("http://127.0.0.1:{}/health", server.port()))
            .in_manifest(r#"auth = "secret:api""#)
            .ceiling_secret("api"),
    );
    let incident = medic.incident(
        "own-auth",
        &[
            ("url", &server.url("/health")),
            ("header", "Authorization: Bearer guest-chosen"),
        ],
    );
    let result = medic.run_with_env(
        &[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--json",
        ],
        &[("MEDIC_TEST_API_TOKEN", API_TOKEN)],
    );
    let denied = super::assert_denied(&result, "http", "malformed");
    assert!(
        denied["reason"]
            .as_str()
            .unwrap()
            .contains("set by the host"),
        "{denied:#}"
    );
    assert!(server.hits().is_empty());
}

#[test]
fn a_run_whose_secret_cannot_be_had_runs_nothing() {
    let mut medic = medic();
    let private = medic.private_dir();
    std::fs::create_dir_all(&private).unwrap();
    let secret_file = private.join("db-password");
    std::fs::write(&secret_file, DB_PASSWORD).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    medic.config_extra(&format!(
        "[secrets.db]\nfile = {:?}\n",
        secret_file.display().to_string()
    ));
    let remediation = Remediation::new("sequence")
        .exec("/usr/bin/printenv", &["PGPASSWORD"])
        .in_manifest(r#"env = { PGPASSWORD = "secret:db" }"#)
        .ceiling_secret("db");
    let dir = medic.install(&remediation);
    let incident = medic.incident(
        "no-secret",
        &[("steps", "exec /usr/bin/printenv PGPASSWORD")],
    );
    let result = medic.run_remediation(&dir, &incident);
    assert_ne!(result.code, 0, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "error", "{report:#}");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("may be read by group or others") && summary.contains("nothing was run"),
        "{summary}"
    );
    assert!(report["calls"].as_array().unwrap().is_empty(), "{report:#}");

    // A handle the operator never mapped, or one the ceiling does not list, is refused
    // when the remediation loads.
    let unmapped = medic.install(
        &Remediation::new("sequence")
            .exec("/usr/bin/printenv", &["PGPASSWORD"])
            .in_manifest(r#"env = { PGPASSWORD = "secret:nowhere" }"#)
            .ceiling_secret("nowhere"),
    );
    let result = medic.run_remediation(&unmapped, &incident);
    assert_ne!(result.code, 0);
    assert!(
        result.stderr.contains("secret `nowhere` is not configured"),
        "{}",
        result.stderr
    );
    let unlisted = medic.install(
        &Remediation::new("sequence")
            .exec("/usr/bin/printenv", &["PGPASSWORD"])
            .in_manifest(r#"env = { PGPASSWORD = "secret:db" }"#),
    );
    let result = medic.run_remediation(&unlisted, &incident);
    assert_ne!(result.code, 0);
    assert!(result.stderr.contains("secret"), "{}", result.stderr);
    assert!(result.stderr.contains("ceiling"), "{}", result.stderr);
}

#[test]
fn a_file_holding_a_secret_is_refused_whole_not_handed_over_cut() {
    let mut medic = medic();
    let secret_file = db_password_file(&medic);
    medic.config_extra(&format!(
        "[secrets.db]\nfile = {:?}\n",
        secret_file.display().to_string()
    ));
    // An application's configuration, in a root the remediation may read, that happens to
    // hold the database password the operator mapped to a handle. The remediation uses no
    // secret: every configured one counts.
    let app = medic.root().join("app");
    std::fs::create_dir_all(&app).unwrap();
    let config = app.join("app.conf");
    let original = format!("listen 8080\ndb_password {DB_PASSWORD}\n");
    std::fs::write(&config, &original).unwrap();
    std::fs::write(app.join("plain.conf"), "listen 8080\n").unwrap();
    let dir = medic.install(
        &Remediation::new("fs-escape")
            .risk("medium")
            .fs(&app, "read"),
    );

    let read = |name: &str| {
        let incident = medic.incident(
            &format!("read-{name}"),
            &[
                ("op", "read"),
                ("path", &app.join(name).display().to_string()),
            ],
        );
        medic.run_remediation(&dir, &incident)
    };
    let result = read("app.conf");
    let report = super::assert_denied(&result, "fs", "holds_secret");
    let shown = serde_json::to_string(&report).unwrap();
    assert!(shown.contains("[secret:db]"), "{shown}");
    super::assert_denial_audited(&medic, "fs", "app.conf", "holds_secret");
    // Nothing of it went anywhere: not the value, not the file with the value cut out.
    let audit = serde_json::to_string(&medic.audit()).unwrap();
    for written in [&result.stdout, &result.stderr, &audit] {
        assert!(!written.contains(DB_PASSWORD));
        assert!(!written.contains("db_password"), "{written}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    // The host is fine: a file without the value reads as ever.
    let report = assert_healed(&read("plain.conf"));
    assert!(
        call(&report, "apply")["detail"]
            .as_str()
            .unwrap()
            .contains("read: listen 8080"),
        "{report:#}"
    );
}
