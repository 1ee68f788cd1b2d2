//! Declared parameters from the operator's and the hostile side: a value must be declared
//! and match its pattern before anything runs, and a grant template (`"{target}"`) lets a
//! run touch exactly its incident's value, whatever else the ceiling would allow.

use medic_tests::Remediation;

use super::{assert_denial_audited, assert_denied, assert_healed, medic};

/// `touch {target}` in the manifest; the ceiling allows any marker under /tmp.
fn touch_template() -> Remediation {
    Remediation::new("exec-escape")
        .risk("medium")
        .param("target", "/tmp/[A-Za-z0-9._/-]{1,200}/allowed-[a-z]{1,8}")
        .exec_template(
            "/usr/bin/touch",
            &["{target}"],
            &["^/tmp/[A-Za-z0-9._/-]+/allowed-[a-z]{1,8}$"],
        )
}

#[test]
fn a_template_narrows_the_grant_to_the_incidents_value() {
    let medic = medic();
    let dir = medic.install(&touch_template());
    let bound = medic.root().join("allowed-mine");
    let beside = medic.root().join("allowed-other");
    let bound_text = bound.display().to_string();
    let incident = medic.incident(
        "narrow-ok",
        &[
            ("program", "/usr/bin/touch"),
            ("args", &bound_text),
            ("target", &bound_text),
        ],
    );
    assert_healed(&medic.run_remediation(&dir, &incident));
    assert!(bound.exists(), "the bound target was touched");

    // The ceiling allows `beside`, and the template's pattern does too; the run's value
    // does not, so the gate refuses it.
    let incident = medic.incident(
        "narrow-beside",
        &[
            ("program", "/usr/bin/touch"),
            ("args", &beside.display().to_string()),
            ("target", &bound_text),
        ],
    );
    assert_denied(
        &medic.run_remediation(&dir, &incident),
        "exec",
        "not_in_manifest",
    );
    assert!(
        !beside.exists(),
        "nothing beside the bound target was touched"
    );
    assert_denial_audited(&medic, "exec", "allowed-other", "not_in_manifest");

    // The run's audit record holds the bound value and the narrowed grant.
    let started = medic
        .audit()
        .into_iter()
        .rev()
        .find(|record| record["kind"] == "run_started")
        .expect("a run_started record");
    assert_eq!(started["data"]["params"]["target"], bound_text.as_str());
    let narrowed = started["data"]["narrowed"][0].as_str().unwrap();
    assert!(
        narrowed.starts_with("capabilities.exec[0]: /usr/bin/touch ")
            && narrowed.contains("mine")
            && !narrowed.contains("[a-z]"),
        "the grant as the run had it: {narrowed}"
    );

    // A template whose parameter has no value allows nothing.
    let incident = medic.incident(
        "narrow-unset",
        &[("program", "/usr/bin/touch"), ("args", &bound_text)],
    );
    assert_denied(
        &medic.run_remediation(&dir, &incident),
        "exec",
        "not_in_manifest",
    );
}

#[test]
fn an_undeclared_or_invalid_parameter_stops_the_run_before_anything_opens() {
    let medic = medic();
    let dir = medic.install(&touch_template());
    let cases = [
        (
            vec![("colour", "blue")],
            "`exec-escape` declares no parameter `colour`",
        ),
        (
            vec![("target", "/etc/passwd")],
            "parameter `target` = `/etc/passwd` (from the incident) does not match",
        ),
    ];
    for (params, wanted) in cases {
        let incident = medic.incident("bad-params", &params);
        let result = medic.run_remediation(&dir, &incident);
        assert_eq!(result.code, 2, "{}", result.stderr);
        assert!(
            result.stderr.contains(wanted),
            "{wanted:?} not in {}",
            result.stderr
        );
        assert!(
            !medic.data_dir().join("medic.db").exists(),
            "nothing was recorded, so nothing ran"
        );
    }
}

#[test]
fn a_remediation_runs_on_an_incident_it_does_not_handle_only_with_force() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("limits-abuse"));
    let incident = medic.incident_for("other", "host", "disk_full", &[("attack", "none")]);
    let incident = incident.display().to_string();
    let dir = dir.display().to_string();
    let refused = medic.run(&["run", &dir, "--incident", &incident, "--json"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "does not say it handles incidents of kind `host` and issue type `disk_full` (it handles: kind=service issue=test); pass --force"
        ),
        "{}",
        refused.stderr
    );
    let forced = medic.run(&["run", &dir, "--incident", &incident, "--json", "--force"]);
    assert_healed(&forced);
}
