//! Signed remediations: a reviewer's key signs a remediation's manifest and component;
//! an operator who requires signatures runs only what a trusted key signed, and an
//! unsigned, tampered or untrusted one is refused with the reason, nothing run.

use std::os::unix::fs::PermissionsExt as _;

use medic_tests::{Medic, Remediation};

use super::{assert_healed, medic};

/// A reviewer's key in the test's private folder; returns (key file, public key).
fn keygen(medic: &Medic, name: &str) -> (String, String) {
    let key = medic.private_dir().join(name);
    std::fs::create_dir_all(medic.private_dir()).unwrap();
    let result = medic.run(&["manifest", "keygen", &key.display().to_string()]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let public = result.stdout.trim().to_string();
    assert!(public.starts_with("ed25519:"), "{public}");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    (key.display().to_string(), public)
}

fn require(medic: &Medic, remediation: &Remediation, trusted: &str) {
    medic.write_config(&format!(
        "{}\n[signatures]\nrequire = true\ntrusted = {{ reviewers = \"{trusted}\" }}\n",
        remediation.ceiling()
    ));
}

#[test]
fn only_remediations_a_trusted_key_signed_run_when_signatures_are_required() {
    let medic = medic();
    let remediation = Remediation::new("exec-escape").exec("/usr/bin/true", &[]);
    let dir = medic.install(&remediation);
    let dir_text = dir.display().to_string();
    let (key, public) = keygen(&medic, "reviewer.key");
    let incident = medic.incident("signed", &[("program", "/usr/bin/true")]);

    // Unsigned: refused before anything runs.
    require(&medic, &remediation, &public);
    let unsigned = medic.run_remediation(&dir, &incident);
    assert_eq!(unsigned.code, 2, "{}", unsigned.stdout);
    assert!(
        unsigned.stderr.contains("is not signed")
            && unsigned.stderr.contains("requires signatures"),
        "{}",
        unsigned.stderr
    );

    // Signed by the trusted key: it runs, and `manifest check` names the signer.
    let signed = medic.run(&["manifest", "sign", &dir_text, "--key", &key]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    assert_healed(&medic.run_remediation(&dir, &incident));
    let check = medic.run(&["manifest", "check", &dir_text, "--json"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert_eq!(check.json()["signed_by"], "reviewers");

    // The manifest edited after signing: refused, naming why.
    let manifest = dir.join("remediation.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, original.replace("test guest", "a wider guest")).unwrap();
    let tampered = medic.run_remediation(&dir, &incident);
    assert_eq!(tampered.code, 2);
    assert!(
        tampered
            .stderr
            .contains("the manifest changed since it was signed"),
        "{}",
        tampered.stderr
    );
    std::fs::write(&manifest, &original).unwrap();
    assert_healed(&medic.run_remediation(&dir, &incident));

    // A key the operator does not trust.
    let (other_key, _) = keygen(&medic, "stranger.key");
    let resigned = medic.run(&["manifest", "sign", &dir_text, "--key", &other_key]);
    assert_eq!(resigned.code, 0, "{}", resigned.stderr);
    let untrusted = medic.run_remediation(&dir, &incident);
    assert_eq!(untrusted.code, 2);
    assert!(
        untrusted
            .stderr
            .contains("which is not in medic.toml `[signatures] trusted`"),
        "{}",
        untrusted.stderr
    );

    // Rebuilt after review: a new component with its pin updated changes the manifest's
    // bytes, so the old signature no longer holds.
    let resigned = medic.run(&["manifest", "sign", &dir_text, "--key", &key]);
    assert_eq!(resigned.code, 0, "{}", resigned.stderr);
    let other = std::fs::read(medic_tests::guest_wasm("sequence")).unwrap();
    std::fs::write(dir.join("guest.wasm"), &other).unwrap();
    std::fs::write(
        &manifest,
        original.replace(
            &medic_tests::guest_sha256("exec-escape"),
            &medic_tests::guest_sha256("sequence"),
        ),
    )
    .unwrap();
    let rebuilt = medic.run_remediation(&dir, &incident);
    assert_eq!(rebuilt.code, 2, "{}", rebuilt.stdout);
    assert!(
        rebuilt
            .stderr
            .contains("the manifest changed since it was signed"),
        "{}",
        rebuilt.stderr
    );

    // A signature copied from another reviewed remediation signs that one, not this.
    let second = Remediation::new("sequence");
    let second_dir = medic.install(&second);
    require(&medic, &remediation, &public);
    std::fs::copy(
        dir.join("remediation.sig"),
        second_dir.join("remediation.sig"),
    )
    .unwrap();
    let copied = medic.run_remediation(&second_dir, &medic.incident("copied", &[("steps", "")]));
    assert_eq!(copied.code, 2, "{}", copied.stdout);
    assert!(
        copied
            .stderr
            .contains("the manifest changed since it was signed"),
        "{}",
        copied.stderr
    );

    // Without `require`, medic runs it, and `manifest check` accepts it as `run` does,
    // saying the signature does not hold.
    medic.write_config(&format!(
        "{}\n[signatures]\ntrusted = {{ reviewers = \"{public}\" }}\n",
        remediation.ceiling()
    ));
    let check = medic.run(&["manifest", "check", &dir_text]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("warning: its signature does not hold"),
        "{}",
        check.stdout
    );
    std::fs::write(
        dir.join("guest.wasm"),
        std::fs::read(medic_tests::guest_wasm("exec-escape")).unwrap(),
    )
    .unwrap();
    std::fs::write(&manifest, &original).unwrap();
    require(&medic, &remediation, &public);

    // Bundled remediations are part of medic and need no signature.
    let dry = medic.run(&[
        "run",
        "restart-service",
        "--incident",
        &medic
            .incident_for(
                "bundled",
                "service",
                "service_down",
                &[("health_tcp", "127.0.0.1:9")],
            )
            .display()
            .to_string(),
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
}

#[test]
fn signing_refuses_exposed_keys_and_components_that_do_not_match() {
    let medic = medic();
    let remediation = Remediation::new("exec-escape").exec("/usr/bin/true", &[]);
    let dir = medic.install(&remediation);
    let dir_text = dir.display().to_string();
    let (key, _) = keygen(&medic, "reviewer.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let exposed = medic.run(&["manifest", "sign", &dir_text, "--key", &key]);
    assert_eq!(exposed.code, 2);
    assert!(
        exposed
            .stderr
            .contains("is readable by group or others (mode 640)"),
        "{}",
        exposed.stderr
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.join("guest.wasm"), b"\0asm not the pinned one").unwrap();
    let mismatch = medic.run(&["manifest", "sign", &dir_text, "--key", &key]);
    assert_eq!(mismatch.code, 2);
    assert!(
        mismatch.stderr.contains("but the manifest pins"),
        "{}",
        mismatch.stderr
    );
    assert!(!dir.join("remediation.sig").exists(), "nothing was signed");
    let again = medic.run(&["manifest", "keygen", &key]);
    assert_eq!(again.code, 2, "a key is never overwritten");

    medic.write_config("[signatures]\nrequire = true\n");
    let config = medic.run(&["config", "check"]);
    assert_eq!(config.code, 2);
    assert!(
        config
            .stderr
            .contains("requires signatures but trusts no key"),
        "{}",
        config.stderr
    );
}
