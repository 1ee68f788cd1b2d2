//! medic's end-to-end tests: the real `medic` binary, hostile guests from `tests/guests/`,
//! the bundled remediations against real local problems. Helpers live in `medic-tests`.
#![expect(
    clippy::disallowed_methods,
    reason = "tests spawn supervisord and read CI"
)]

mod audit;
mod authoring;
mod checkpoints;
mod cli;
mod config;
mod diagnosis;
mod dry_run;
mod env;
mod escapes;
mod exec;
mod files;
mod fs;
mod guide;
mod heal;
mod http;
mod interrupt;
mod limits;
mod manifest;
mod params;
mod programs;
mod python;
mod rates;
mod reload_nginx;
mod remediations;
mod restart_container;
mod rollout_restart;
mod rotate_logs;
mod secrets;
mod signatures;
mod silence_alert;
mod stale_lock;
mod state;
mod tidy;

use medic_tests::{Medic, RunResult};

/// One attack in a table: what it tries, the incident's params, the expected denial reason.
type Attack<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);

/// A fresh medic installation in a temporary directory.
fn medic() -> Medic {
    Medic::new(env!("CARGO_BIN_EXE_medic"))
}

/// Assert a run was denied: exit 4, status `denied`, and the first denied host call is of
/// `capability` with denial kind `kind` (`not_in_manifest`, `escape`, ...). Returns that
/// call.
fn assert_denied(result: &RunResult, capability: &str, kind: &str) -> serde_json::Value {
    assert_eq!(
        result.code, 4,
        "expected exit 4 (denied)\nstdout: {}\nstderr: {}",
        result.stdout, result.stderr
    );
    let report = result.json();
    assert_eq!(report["status"], "denied", "{report:#}");
    let denied: Vec<&serde_json::Value> = report["host_calls"]
        .as_array()
        .expect("host_calls")
        .iter()
        .filter(|call| call["allowed"] == false)
        .collect();
    let call = denied
        .first()
        .unwrap_or_else(|| panic!("no denied host call in {report:#}"));
    assert_eq!(call["capability"], capability, "{call:#}");
    assert_eq!(call["denial"], kind, "{call:#}");
    (*call).clone()
}

/// The report's entry for the export call `operation` (`plan`, `apply`, ...).
fn call<'a>(report: &'a serde_json::Value, operation: &str) -> &'a serde_json::Value {
    report["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .find(|call| call["operation"] == operation)
        .unwrap_or_else(|| panic!("no `{operation}` call in {report:#}"))
}

/// A loopback port nothing listens on now, for a server a test configures before it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Assert `medic test NAME --json` ran every scenario in `remediations/NAME/scenarios/`
/// (built into medic with the bundled remediation `name`), each passed, and no grant of its
/// manifest went unused.
fn assert_bundled_scenarios_pass(name: &str) {
    let dir = medic_tests::workspace_root()
        .join("remediations")
        .join(name)
        .join("scenarios");
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let result = medic().run(&["test", name, "--json"]);
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    let mut ran: Vec<String> = report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|scenario| {
            assert_eq!(scenario["passed"], true, "{scenario:#}");
            scenario["name"].as_str().unwrap().to_string()
        })
        .collect();
    ran.sort();
    assert_eq!(
        ran, written,
        "every scenario file is built in (cargo build -p medic-host)"
    );
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["unused_grants"], serde_json::json!([]), "{report:#}");
}

/// Assert `medic manifest check NAME` verifies the bundled remediation `name` within its
/// level's embedded ceiling, and `manifest explain` warns of exactly `warnings` (by code),
/// each named in the manifest's description, which says why it remains.
fn assert_bundled_manifest(name: &str, warnings: &[&str]) {
    let medic = medic();
    let check = medic.run(&["manifest", "check", name]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let explain = medic.run(&["manifest", "explain", name, "--json"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    let explanation = explain.json();
    let codes: Vec<&str> = explanation["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|warning| warning["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, warnings, "{explanation:#}");
    let description = explanation["description"].as_str().unwrap();
    for code in warnings {
        assert!(
            description.contains(code),
            "the description does not say why `{code}` remains: {description}"
        );
    }
}

/// Assert a run healed (exit 0, status `healed`) and return its report.
fn assert_healed(result: &RunResult) -> serde_json::Value {
    assert_eq!(
        result.code, 0,
        "expected exit 0 (healed)\nstdout: {}\nstderr: {}",
        result.stdout, result.stderr
    );
    let report = result.json();
    assert_eq!(report["status"], "healed", "{report:#}");
    report
}

/// Assert the audit log holds a denied host call of `capability` whose target contains
/// `target`, with denial kind `kind`, and that the chain verifies.
fn assert_denial_audited(medic: &Medic, capability: &str, target: &str, kind: &str) {
    let calls = medic.audited_calls(capability);
    assert!(
        calls.iter().any(|call| call["allowed"] == false
            && call["denial"] == kind
            && call["target"].as_str().unwrap_or_default().contains(target)),
        "no audited `{kind}` denial of {capability} `{target}` in {calls:#?}"
    );
    medic.assert_audit_intact();
}
