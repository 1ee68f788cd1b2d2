//! Bad input at the command line: clear errors, exit 2, nothing recorded or run.

use medic_tests::Remediation;

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
        [
            "clear-stale-lock",
            "free-disk-space",
            "reload-config",
            "reload-nginx",
            "restart-container",
            "restart-service",
            "rollout-restart",
            "rotate-logs",
        ]
    );
    let restart = list["remediations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == "restart-service")
        .unwrap();
    assert_eq!(restart["risk"], "medium");
    assert_eq!(restart["handles"][0]["issue_type"], "service_down");
}

#[test]
fn human_output_escapes_what_guests_and_manifests_supply() {
    let medic = medic();
    let granted = medic.root().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let hostile = granted.join("note");
    std::fs::write(
        &hostile,
        "\x1b]0;owned\x07\x1b[2Jcleared\nstatus: healed -- forged",
    )
    .unwrap();
    let dir = medic.install(&Remediation::new("fs-escape").fs(&granted, "read"));
    let incident = medic.incident(
        "escape-out",
        &[("op", "read"), ("path", &hostile.display().to_string())],
    );
    let run = medic.run(&[
        "run",
        &dir.display().to_string(),
        "--incident",
        &incident.display().to_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let show = medic.run(&["audit", "show"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let manifest = dir.join("remediation.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "description = \"test guest fs-escape\"",
            "description = \"nice \\u001b[31mred\\u001b[0m\"",
        ),
    )
    .unwrap();
    let explain = medic.run(&["manifest", "explain", &dir.display().to_string()]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    for (what, output) in [
        ("run", &run.stdout),
        ("audit show", &show.stdout),
        ("explain", &explain.stdout),
    ] {
        assert!(
            !output.contains('\x1b') && !output.contains('\x07'),
            "{what}: {output:?}"
        );
        assert!(
            output.contains("\\u{1b}") || output.contains("\\u001b"),
            "{what}: {output}"
        );
    }
    assert!(
        !run.stdout
            .lines()
            .any(|line| line == "status: healed -- forged"),
        "a guest cannot forge one of medic's lines: {}",
        run.stdout
    );
}
