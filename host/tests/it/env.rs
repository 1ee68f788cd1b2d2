//! The env gate from the hostile side: `env-escape` reads declared and undeclared names.

use medic_tests::Remediation;

use super::{assert_denial_audited, assert_denied, assert_healed, call, medic};

#[test]
fn env_gives_declared_names_and_denies_the_rest() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("env-escape").env("MEDIC_TEST_TOKEN"));
    let secrets = [
        ("MEDIC_TEST_TOKEN", "declared-value"),
        ("MEDIC_TEST_SECRET", "hunter2"),
    ];
    let run = |id: &str, name: &str| {
        let incident = medic.incident(id, &[("name", name)]);
        medic.run_with_env(
            &[
                "run",
                &dir.display().to_string(),
                "--incident",
                &incident.display().to_string(),
                "--json",
            ],
            &secrets,
        )
    };
    let report = assert_healed(&run("env-ok", "MEDIC_TEST_TOKEN"));
    // The guest got the value; what it reports back has the value redacted.
    assert!(
        call(&report, "apply")["detail"]
            .as_str()
            .unwrap()
            .contains("MEDIC_TEST_TOKEN=[redacted:MEDIC_TEST_TOKEN]"),
        "{report:#}"
    );
    for name in ["MEDIC_TEST_SECRET", "HOME", "PATH", "LD_PRELOAD"] {
        let result = run(&format!("env-{name}"), name);
        assert_denied(&result, "env", "not_in_manifest");
        assert!(!result.stdout.contains("hunter2"));
        assert_denial_audited(&medic, "env", name, "not_in_manifest");
    }
    let audit = serde_json::to_string(&medic.audit()).unwrap();
    assert!(
        !audit.contains("declared-value"),
        "values never reach the audit log"
    );
}
