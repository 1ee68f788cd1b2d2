//! Rate limits from the hostile side: a remediation that calls a limited program in a loop
//! is refused once its window is full, in this run and the next, per key, and by an
//! operator's ceiling limit across remediations; each refusal is its own audited kind.

use medic_tests::Remediation;

use super::{assert_denial_audited, medic};

fn calls(report: &serde_json::Value) -> Vec<(bool, String)> {
    report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["capability"] == "exec")
        .map(|call| {
            (
                call["allowed"] == true,
                call["denial"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_grant_limit_holds_across_calls_and_runs() {
    let medic = medic();
    let dir = medic.install(
        &Remediation::new("sequence")
            .exec("/usr/bin/true", &[])
            .in_manifest(r#"rate = { max = 2, per = "1h" }"#),
    );
    let steps = "exec /usr/bin/true\nexec /usr/bin/true\nexec /usr/bin/true";
    let incident = medic.incident("loop", &[("steps", steps)]);
    let result = medic.run_remediation(&dir, &incident);
    let denied = super::assert_denied(&result, "exec", "rate_limited");
    assert!(
        denied["reason"]
            .as_str()
            .unwrap()
            .contains("rate limit of 2 per 1h"),
        "{denied:#}"
    );
    let report = result.json();
    assert_eq!(
        calls(&report),
        vec![
            (true, String::new()),
            (true, String::new()),
            (false, "rate_limited".to_string())
        ]
    );
    // The next run, another process, finds the window still full.
    let again = medic.run_remediation(
        &dir,
        &medic.incident("loop-again", &[("steps", "exec /usr/bin/true")]),
    );
    super::assert_denied(&again, "exec", "rate_limited");
    assert_denial_audited(&medic, "exec", "/usr/bin/true", "rate_limited");
    // Plan is a dry run and counts nothing; `manifest explain` shows the limit.
    let explained = medic.run(&[
        "manifest",
        "explain",
        &dir.join("remediation.toml").display().to_string(),
    ]);
    assert!(
        explained
            .stdout
            .contains("at most 2 per 1h, counted per the whole call"),
        "{}",
        explained.stdout
    );
}

#[test]
fn a_limit_keyed_by_an_argument_counts_each_value_apart() {
    let medic = medic();
    let dir = medic.install(
        &Remediation::new("sequence")
            .exec("/usr/bin/echo", &["[a-z]+"])
            .in_manifest(r#"rate = { max = 1, per = "10m", key = "arg:0" }"#),
    );
    let steps = "exec /usr/bin/echo nginx\nexec /usr/bin/echo nginx\nexec /usr/bin/echo redis";
    let result = medic.run_remediation(&dir, &medic.incident("per-name", &[("steps", steps)]));
    super::assert_denied(&result, "exec", "rate_limited");
    assert_eq!(
        calls(&result.json()),
        vec![
            (true, String::new()),
            (false, "rate_limited".to_string()),
            (true, String::new())
        ]
    );
}

#[test]
fn a_ceiling_limit_counts_across_remediations() {
    let medic = medic();
    let limited = |name: &str| {
        let mut remediation = Remediation::new("sequence")
            .exec("/usr/bin/true", &[])
            .in_ceiling(r#"rate = { max = 1, per = "1h" }"#);
        remediation.name = name.to_string();
        remediation
    };
    let first = medic.install(&limited("first"));
    let incident = medic.incident("restart", &[("steps", "exec /usr/bin/true")]);
    super::assert_healed(&medic.run_remediation(&first, &incident));
    let second = medic.install(&limited("second"));
    let result = medic.run_remediation(&second, &incident);
    let denied = super::assert_denied(&result, "exec", "rate_limited");
    assert!(
        denied["reason"].as_str().unwrap().contains("ceiling"),
        "{denied:#}"
    );
}
