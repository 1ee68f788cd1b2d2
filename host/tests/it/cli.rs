//! Bad input at the command line: clear errors, exit 2, nothing recorded or run.

use super::medic;

#[test]
fn cli_rejects_a_bad_incident_naming_the_field() {
    let medic = medic();
    let incident = medic.root().join("bad.json");
    std::fs::write(
        &incident,
        r#"{"id": "x", "source": "cli", "resource": {"kind": "host"}, "issue_type": "disk_full"}"#,
    )
    .unwrap();
    let result = medic.run(&[
        "run",
        "free-disk-space",
        "--incident",
        &incident.display().to_string(),
    ]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("missing field `id`") || result.stderr.contains("missing field"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("bad.json"), "{}", result.stderr);
    assert!(
        !medic.data_dir().join("medic.db").exists(),
        "nothing was recorded"
    );
}

#[test]
fn cli_rejects_an_unknown_remediation() {
    let medic = medic();
    let incident = medic.incident("unknown", &[]);
    let result = medic.run(&[
        "run",
        "no-such-fix",
        "--incident",
        &incident.display().to_string(),
    ]);
    assert_eq!(result.code, 2);
    assert!(
        result
            .stderr
            .contains("no bundled remediation `no-such-fix`"),
        "{}",
        result.stderr
    );
}

#[test]
fn cli_lists_bundled_remediations_with_risk_and_handles() {
    let result = medic().run(&["remediations", "list", "--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let list = result.json();
    let names: Vec<&str> = list["remediations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["free-disk-space", "reload-config", "restart-service"]
    );
    assert_eq!(list["remediations"][2]["risk"], "medium");
    assert_eq!(
        list["remediations"][2]["handles"][0]["issue_type"],
        "service_down"
    );
}
