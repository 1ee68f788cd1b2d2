//! medic's end-to-end tests: the real `medic` binary, hostile guests from `tests/guests/`,
//! the bundled remediations against real local problems. Helpers live in `medic-tests`.
#![expect(
    clippy::disallowed_methods,
    reason = "tests spawn supervisord and read CI"
)]

mod audit;
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
mod heal;
mod http;
mod interrupt;
mod limits;
mod manifest;
mod params;
mod programs;
mod rates;
mod remediations;
mod secrets;
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
