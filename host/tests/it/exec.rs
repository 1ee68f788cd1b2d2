//! The exec gate from the hostile side: `exec-escape` tries programs and arguments the
//! manifest does not grant.

use medic_tests::Remediation;

use super::{assert_denial_audited, assert_denied, assert_healed, call, medic};

fn touch_grant() -> Remediation {
    Remediation::new("exec-escape").risk("medium").exec(
        "/usr/bin/touch",
        &["^/tmp/[A-Za-z0-9._-]+/allowed-[a-z]{1,8}$"],
    )
}

#[test]
fn exec_runs_a_granted_program_with_matching_arguments() {
    let medic = medic();
    let dir = medic.install(&touch_grant());
    let marker = medic.root().join("allowed-ok");
    let incident = medic.incident(
        "exec-ok",
        &[
            ("program", "/usr/bin/touch"),
            ("args", &marker.display().to_string()),
        ],
    );
    let report = assert_healed(&medic.run_remediation(&dir, &incident));
    assert!(marker.exists(), "the granted program ran");
    assert_eq!(report["host_calls"][0]["capability"], "exec");
    assert_eq!(report["host_calls"][0]["allowed"], true);
}

#[test]
fn exec_denies_what_the_manifest_does_not_grant() {
    let medic = medic();
    let dir = medic.install(&touch_grant());
    let marker = medic.root().join("allowed-bad");
    let marker_text = marker.display().to_string();
    let cases: &[(&str, &str, String, &str)] = &[
        (
            "undeclared program",
            "/usr/bin/id",
            String::new(),
            "not_in_manifest",
        ),
        (
            "shell",
            "/bin/sh",
            format!("-c\ntouch {marker_text}"),
            "not_in_manifest",
        ),
        ("relative name", "touch", marker_text.clone(), "malformed"),
        (
            "dot-dot program",
            "/usr/bin/../bin/touch",
            marker_text.clone(),
            "not_in_manifest",
        ),
        (
            "metacharacters",
            "/usr/bin/touch",
            format!("{marker_text}; rm -rf /"),
            "not_in_manifest",
        ),
        (
            "option",
            "/usr/bin/touch",
            "--help".to_string(),
            "not_in_manifest",
        ),
        (
            "traversal",
            "/usr/bin/touch",
            "../../etc/passwd".to_string(),
            "not_in_manifest",
        ),
        (
            "extra argument",
            "/usr/bin/touch",
            format!("{marker_text}\n/tmp/other"),
            "not_in_manifest",
        ),
        (
            "option before operand",
            "/usr/bin/touch",
            format!("-d\n2000-01-01\n{marker_text}"),
            "not_in_manifest",
        ),
    ];
    for (what, program, args, reason) in cases {
        let incident = medic.incident(
            &format!("exec-{}", what.replace(' ', "-")),
            &[("program", program), ("args", args)],
        );
        let result = medic.run_remediation(&dir, &incident);
        let call = assert_denied(&result, "exec", reason);
        assert!(
            call["target"].as_str().unwrap().starts_with(program),
            "{what}: target names the program"
        );
        assert!(!marker.exists(), "{what}: nothing ran");
        assert_denial_audited(&medic, "exec", program, reason);
    }
    // The host is still healthy: the granted call works after all those denials.
    let incident = medic.incident(
        "exec-after",
        &[("program", "/usr/bin/touch"), ("args", &marker_text)],
    );
    assert_healed(&medic.run_remediation(&dir, &incident));
    assert!(marker.exists());
}

#[test]
fn exec_clears_the_environment_to_declared_names() {
    let medic = medic();
    let remediation = Remediation::new("exec-escape")
        .risk("medium")
        .exec("/usr/bin/printenv", &[])
        .env("MEDIC_TEST_DECLARED");
    let dir = medic.install(&remediation);
    let incident = medic.incident("exec-env", &[("program", "/usr/bin/printenv")]);
    let result = medic.run_with_env(
        &[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--json",
        ],
        &[
            ("MEDIC_TEST_DECLARED", "visible"),
            ("MEDIC_TEST_SECRET", "hunter2"),
        ],
    );
    let report = assert_healed(&result);
    let summary = call(&report, "apply")["detail"].as_str().unwrap();
    // The child had the value; the guest gets it back redacted, as everything medic
    // hands a guest or writes.
    assert!(
        summary.contains("MEDIC_TEST_DECLARED=[redacted:MEDIC_TEST_DECLARED]"),
        "{summary}"
    );
    assert!(
        !summary.contains("hunter2") && !summary.contains("MEDIC_TEST_SECRET"),
        "{summary}"
    );
    assert!(
        !summary.contains("PATH=") && !summary.contains("HOME="),
        "no inherited variables: {summary}"
    );
}

#[test]
fn exec_kills_a_program_that_outlives_its_timeout() {
    let medic = medic();
    let remediation = Remediation::new("exec-escape")
        .risk("medium")
        .exec("/usr/bin/sleep", &["^[0-9]{1,3}$"])
        .limit("timeout", "2s");
    let dir = medic.install(&remediation);
    let incident = medic.incident(
        "exec-sleep",
        &[("program", "/usr/bin/sleep"), ("args", "317")],
    );
    let result = medic.run_remediation(&dir, &incident);
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back");
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s and was killed"),
        "{report:#}"
    );
    let survivors = std::process::Command::new("pgrep")
        .args(["-f", "^/usr/bin/sleep 317$"])
        .output()
        .expect("pgrep");
    assert!(survivors.stdout.is_empty(), "the sleep process was killed");
}
