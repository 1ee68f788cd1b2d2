//! Manifests from the operator's and the reviewer's side: `manifest check`, `manifest
//! explain`, hash pinning, ceilings, and clear errors for bad manifests.

use medic_tests::{Medic, Remediation};

use super::medic;

fn check(medic: &Medic, target: &str) -> medic_tests::RunResult {
    medic.run(&["manifest", "check", target])
}

#[test]
fn manifest_check_accepts_every_bundled_remediation() {
    let medic = medic();
    for name in ["restart-service", "free-disk-space", "reload-config"] {
        let result = check(&medic, name);
        assert_eq!(result.code, 0, "{name}: {}", result.stderr);
        assert!(result.stdout.contains("verified"), "{}", result.stdout);
    }
}

#[test]
fn manifest_with_wrong_hash_fails_to_load_and_nothing_runs() {
    let medic = medic();
    let mut remediation = Remediation::new("limits-abuse");
    remediation.sha256 = Some("ab".repeat(32));
    let dir = medic.install(&remediation);
    let result = medic.run_remediation(&dir, &medic.incident("hash", &[("attack", "none")]));
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("but the manifest pins `abab"),
        "{}",
        result.stderr
    );
    assert!(
        !medic.data_dir().join("medic.db").exists(),
        "nothing ran or was recorded"
    );
}

#[test]
fn manifest_beyond_its_ceiling_fails_naming_the_entry() {
    let medic = medic();
    let remediation = Remediation::new("exec-escape").exec("/usr/bin/touch", &["^/tmp/x$"]);
    let dir = medic.install_with_ceiling(&remediation, "[ceilings.low]\nenv = []\n");
    let result = check(&medic, &dir.display().to_string());
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("`capabilities.exec[0]`"),
        "{}",
        result.stderr
    );
    assert!(
        result
            .stderr
            .contains("beyond the operator's `low` ceiling"),
        "{}",
        result.stderr
    );
}

#[test]
fn manifest_pins_from_the_operator_are_enforced() {
    let mut medic = medic();
    medic.config_extra(&format!(
        "require_pins = true\n[pins]\nlimits-abuse = \"{}\"",
        "cd".repeat(32)
    ));
    let dir = medic.install(&Remediation::new("limits-abuse"));
    let result = check(&medic, &dir.display().to_string());
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("the operator pins sha256 `cdcd"),
        "{}",
        result.stderr
    );
    let mut unpinned = Remediation::new("limits-abuse");
    unpinned.name = "unpinned".to_string();
    let other = medic.install(&unpinned);
    let result = check(&medic, &other.display().to_string());
    assert!(result.stderr.contains("is not pinned"), "{}", result.stderr);
}

/// Write `text` as a manifest and return `manifest check`'s stderr.
fn check_text(medic: &Medic, text: &str) -> String {
    let dir = medic.root().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("remediation.toml"), text).unwrap();
    let result = medic.run(&["manifest", "explain", &dir.display().to_string()]);
    assert_eq!(result.code, 2, "should fail: {text}\n{}", result.stdout);
    result.stderr
}

const HEADER: &str = "name = \"bad\"\nversion = \"0.1.0\"\ndescription = \"d\"\nrisk = \"low\"\ncomponent = \"bad.wasm\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";

#[test]
fn manifest_errors_name_the_file_field_and_line() {
    let medic = medic();
    let cases = [
        (
            "[[capabilities.exec]]\nprogram = \"supervisorctl\"\nargs = []\n",
            "bad/remediation.toml:8: `capabilities.exec[0].program`: must be an absolute path",
        ),
        (
            "[[capabilities.exec]]\nprogram = \"/bin/bash\"\nargs = []\n",
            "can run arbitrary code",
        ),
        (
            "[[capabilities.exec]]\nprogram = \"/usr/bin/x\"\nargs = [\"(\"]\n",
            "`capabilities.exec[0].args[0]`: `(`: not a valid regex",
        ),
        (
            "[[capabilities.http]]\nmethod = \"GET\"\nurl = \"http://*:80/\"\n",
            "bare `*` host",
        ),
        (
            "[[capabilities.http]]\nmethod = \"GET\"\nurl = \"http://user@host/\"\n",
            "userinfo",
        ),
        (
            "[[capabilities.fs]]\npath = \"/\"\naccess = \"read\"\n",
            "`/` is never granted",
        ),
        (
            "[[capabilities.fs]]\npath = \"/proc/1\"\naccess = \"read\"\n",
            "under `/proc`",
        ),
        (
            "[[capabilities.fs]]\npath = \"/var/log/../..\"\naccess = \"read\"\n",
            "without `.`, `..`",
        ),
        (
            "[capabilities]\nenv = [\"LD_PRELOAD\"]\n",
            "dynamic-loader variables are never granted",
        ),
        (
            "[limits]\ntimeout = \"soon\"\n",
            "`limits.timeout`: `soon` is not a duration",
        ),
        ("unknown = 1\n", "unknown field `unknown`"),
    ];
    for (body, expected) in cases {
        let stderr = check_text(&medic, &format!("{HEADER}{body}"));
        assert!(
            stderr.contains(expected),
            "expected `{expected}` in:\n{stderr}"
        );
    }
    let stderr = check_text(&medic, "name = \"x\"\nrisk = [\n");
    assert!(
        stderr.contains("line 2"),
        "toml syntax errors carry the line: {stderr}"
    );
}

#[test]
fn manifest_explain_lists_everything_and_warns_about_wide_grants() {
    let medic = medic();
    let dir = medic.root().join("wide");
    std::fs::create_dir_all(&dir).unwrap();
    let body = "[[capabilities.exec]]\nprogram = \"/opt/tool/bin/tool\"\nargs = [\"run\", \".*\", \"[a-z-]+\"]\n\
                [[capabilities.http]]\nmethod = \"POST\"\nurl = \"http://*.example.com/**\"\n\
                [[capabilities.fs]]\npath = \"/srv/data\"\naccess = \"read-write\"\n";
    std::fs::write(dir.join("remediation.toml"), format!("{HEADER}{body}")).unwrap();
    let result = medic.run(&["manifest", "explain", &dir.display().to_string(), "--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let explanation = result.json();
    assert_eq!(explanation["exec"][0]["program"], "/opt/tool/bin/tool");
    assert_eq!(explanation["http"][0]["url"], "http://*.example.com/**");
    assert_eq!(explanation["fs"][0]["access"], "read-write");
    let codes: Vec<&str> = explanation["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    for code in [
        "exec-program-location",
        "exec-catch-all-pattern",
        "exec-option-pattern",
        "exec-unanchored-pattern",
        "http-wildcard-host",
        "http-any-path",
        "http-cleartext",
        "fs-read-write",
    ] {
        assert!(codes.contains(&code), "missing warning {code} in {codes:?}");
    }
    let fields: Vec<&str> = explanation["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"capabilities.exec[0].args[2]"),
        "the option warning names `[a-z-]+`: {fields:?}"
    );
    assert!(
        !fields.contains(&"capabilities.exec[0].args[0]"),
        "a literal is not warned about: {fields:?}"
    );
    let human = medic.run(&["manifest", "explain", "restart-service"]);
    assert!(
        human
            .stdout
            .contains("/usr/bin/supervisorctl <restart> <{service}>"),
        "a template is shown as such: {}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("service = `[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}` (required, from resource.id)"),
        "{}",
        human.stdout
    );
}
