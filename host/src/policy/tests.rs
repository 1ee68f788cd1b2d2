//! Policy parsing, rule matching and decisions, checked without a database.

use std::path::Path;

use super::*;
use crate::incident::{Incident, Resource, Source};

fn policy(text: &str) -> Result<Policy, PolicyError> {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        policy: RawPolicy,
    }
    let raw: Wrapper = toml::from_str(text).expect("toml");
    parse_policy(&raw.policy, Path::new("medic.toml"), text)
}

fn incident(kind: &str, issue: &str) -> Incident {
    Incident {
        id: "i".into(),
        source: Source::Cli,
        resource: Resource {
            kind: kind.into(),
            id: "web".into(),
        },
        issue_type: issue.into(),
        summary: String::new(),
        labels: Default::default(),
        params: Default::default(),
        log: None,
        fingerprint: None,
        started_at: None,
    }
}

#[test]
fn the_most_specific_rule_decides() {
    let policy = policy(
        r#"
[policy]
[[policy.rules]]
name = "all"
trust = "observe"
[[policy.rules]]
name = "services"
resource_kind = "service"
trust = "approve"
[[policy.rules]]
name = "service-down"
resource_kind = "service"
issue_type = "service_down"
trust = "automate"
automate_risk = ["low", "medium"]
"#,
    )
    .unwrap();
    let cause = RootCause::ServiceDependency;
    assert_eq!(
        policy
            .rule_for(&incident("service", "service_down"), cause)
            .name,
        "service-down"
    );
    assert_eq!(
        policy
            .rule_for(&incident("service", "high_cpu"), cause)
            .name,
        "services"
    );
    assert_eq!(
        policy.rule_for(&incident("host", "disk_full"), cause).name,
        "all"
    );
    assert_eq!(policy.rules.len(), 3, "a catch-all was written: none added");
}

#[test]
fn a_rule_matched_through_the_root_cause_grants_no_more_than_the_facts_rule() {
    let policy = policy(
        r#"
[policy]
[[policy.rules]]
name = "disks"
issue_type = "disk_full"
trust = "approve"
[[policy.rules]]
name = "net"
resource_kind = "host"
root_cause = "network"
trust = "automate"
automate_risk = ["low", "medium"]
"#,
    )
    .unwrap();
    // A log that says "Connection refused" cannot buy the disk_full incident automation.
    let rule = policy.rule_for(&incident("host", "disk_full"), RootCause::Network);
    assert_eq!(rule.trust, Trust::Approve);
    assert!(rule.name.contains("capped by `disks`"), "{}", rule.name);
    // With no operator rule about the incident's kind or issue, the cause rule stands.
    let rule = policy.rule_for(&incident("host", "other"), RootCause::Network);
    assert_eq!(rule.name, "net");
    assert_eq!(rule.automate_risk, vec![Risk::Low, Risk::Medium]);
}

#[test]
fn a_policy_without_a_catch_all_gets_one() {
    let policy =
        policy("[policy]\n[[policy.rules]]\nresource_kind = \"host\"\ntrust = \"observe\"\n")
            .unwrap();
    let rule = policy.rule_for(&incident("service", "x"), RootCause::Unknown);
    assert_eq!(rule.name, "default");
    assert_eq!(rule.trust, Trust::Automate);
    assert_eq!(rule.automate_risk, vec![Risk::Low]);
}

#[test]
fn errors_name_the_field_and_line() {
    let error = policy("[policy]\n[[policy.rules]]\nname = \"x\"\ntrust = \"yolo\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("policy.rules[0].trust"), "{error}");
    assert!(error.contains(":4") || error.contains("line 4"), "{error}");
    assert!(error.contains("yolo"), "{error}");
    let error = policy("[policy]\n[[policy.rules]]\nroot_cause = \"gremlins\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown root cause `gremlins`"), "{error}");
    let error = policy("[policy]\nflap_window = \"soon\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("policy.flap_window"), "{error}");
    let error =
        policy("[policy]\n[[policy.rules]]\nname = \"a\"\n[[policy.rules]]\nname = \"a\"\n")
            .unwrap_err()
            .to_string();
    assert!(error.contains("used twice"), "{error}");
}

#[test]
fn decisions_follow_trust_risk_and_limits() {
    let policy = policy(
        "[policy]\n[[policy.rules]]\nname = \"r\"\ntrust = \"automate\"\nautomate_risk = [\"low\"]\nmax_retries = 1\ncooldown = \"10m\"\n",
    )
    .unwrap();
    let rule = &policy.rules[0];
    let counts = Counts::default();
    let low = Candidate::Remediation {
        name: "a",
        risk: Risk::Low,
    };
    let high = Candidate::Remediation {
        name: "b",
        risk: Risk::High,
    };
    assert_eq!(decide(rule, low, &counts, false).action, Action::Run);
    assert_eq!(
        decide(rule, high, &counts, false).action,
        Action::NeedsApproval
    );
    assert_eq!(decide(rule, low, &counts, true).action, Action::Observe);
    assert_eq!(
        decide(rule, Candidate::Retry, &counts, false).action,
        Action::Run
    );
    let retried = Counts {
        retries: 1,
        ..counts
    };
    let skipped = decide(rule, Candidate::Retry, &retried, false);
    assert_eq!(skipped.action, Action::Skip);
    assert!(
        skipped.reason.contains("max_retries 1"),
        "{}",
        skipped.reason
    );
    let recent = Counts {
        since_last_remediation: Some(Duration::from_secs(60)),
        ..counts
    };
    let cooling = decide(rule, low, &recent, false);
    assert_eq!(cooling.action, Action::Skip);
    assert!(cooling.reason.starts_with("cooldown"), "{}", cooling.reason);
    assert_eq!(decide(rule, low, &recent, false).rule, "r");
}

#[test]
fn the_flap_guard_trips_at_its_limit() {
    let policy = policy("[policy]\nflap_max = 2\n").unwrap();
    let below = Counts {
        healed_in_window: 1,
        ..Counts::default()
    };
    let at = Counts {
        healed_in_window: 2,
        ..Counts::default()
    };
    assert!(flap_guard(&policy, &below).is_none());
    assert!(flap_guard(&policy, &at).unwrap().contains("flap guard"));
}
