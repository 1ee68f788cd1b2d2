//! The limits gate from the hostile side: `limits-abuse` exhausts time, memory, stack,
//! output and host calls; each is stopped with a named limit, rollback still runs in a
//! fresh instance, and the host carries on. `wasi-ambient` imports wasi:filesystem and
//! wasi:sockets and must not instantiate.

use medic_tests::Remediation;

use super::{assert_healed, medic};

fn abuse(timeout: &str) -> Remediation {
    Remediation::new("limits-abuse")
        .limit("timeout", timeout)
        .limit("memory", "16MiB")
        .limit("output", "4KiB")
}

#[test]
fn limits_stop_each_kind_of_exhaustion_and_the_host_carries_on() {
    let medic = medic();
    // Each host call is an fsync'd audit record (about a millisecond here), so the
    // call flood gets time enough to reach the call limit before the time limit.
    let cases = [
        ("loop", "time limit", "2s"),
        ("memory", "memory limit", "2s"),
        ("recursion", "stack limit", "2s"),
        ("log-flood", "log output limit exceeded", "2s"),
        ("stdout-flood", "output limit", "2s"),
        ("call-flood", "host-call limit exceeded", "60s"),
    ];
    for (attack, limit, timeout) in cases {
        let dir = medic.install(&abuse(timeout));
        let incident = medic.incident(&format!("limits-{attack}"), &[("attack", attack)]);
        let result = medic.run_remediation(&dir, &incident);
        assert_eq!(
            result.code, 2,
            "{attack}: exit 2\n{}\n{}",
            result.stdout, result.stderr
        );
        let report = result.json();
        assert_eq!(report["status"], "error", "{attack}: {report:#}");
        let summary = report["summary"].as_str().unwrap();
        assert!(
            summary.contains(limit),
            "{attack}: `{summary}` should name `{limit}`"
        );
        assert!(
            summary.contains("rolled back: rolled back"),
            "{attack}: rollback ran in a fresh instance: {summary}"
        );
        let calls = report["calls"].as_array().unwrap();
        assert_eq!(calls.last().unwrap()["operation"], "rollback");
    }
    let dir = medic.install(&abuse("2s"));
    let incident = medic.incident("limits-none", &[("attack", "none")]);
    assert_healed(&medic.run_remediation(&dir, &incident));
    medic.assert_audit_intact();
}

#[test]
fn limits_refuse_a_component_that_imports_files_or_sockets() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("wasi-ambient"));
    let result = medic.run_remediation(&dir, &medic.incident("ambient", &[]));
    assert_eq!(result.code, 2, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "error");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("cannot be linked") && summary.contains("wasi:"),
        "{summary}"
    );
    assert!(
        summary.contains("filesystem") || summary.contains("sockets"),
        "{summary}"
    );
    assert!(
        report["calls"].as_array().unwrap().is_empty(),
        "nothing ran"
    );
}

/// A component built for another version of medic's contract does not load, and the
/// refusal says which contract this medic implements and what to do.
#[test]
fn a_component_for_another_contract_version_is_refused_saying_so() {
    let medic = medic();
    // The `sequence` guest, its imports and exports renamed from `medic:remediation/...@0.2.0`
    // to `@0.1.0` (same length, so the binary stays valid): what an older SDK would build.
    let mut wasm = std::fs::read(medic_tests::guest_wasm("sequence")).unwrap();
    let (package, current, older) = (b"medic:remediation/", b"@0.2.0", b"@0.1.0");
    let mut renamed = 0;
    let mut at = 0;
    while let Some(found) = wasm[at..]
        .windows(package.len())
        .position(|window| window == package)
    {
        let start = at + found + package.len();
        let end = (start + 48).min(wasm.len());
        if let Some(offset) = wasm[start..end]
            .windows(current.len())
            .position(|window| window == current)
        {
            wasm[start + offset..start + offset + current.len()].copy_from_slice(older);
            renamed += 1;
        }
        at = start;
    }
    assert!(renamed > 0, "the guest names medic's contract");
    let remediation = Remediation::new("sequence");
    let dir = medic.install_component(&remediation, &wasm, &remediation.ceiling());
    let result = medic.run_remediation(&dir, &medic.incident("old", &[("steps", "")]));
    assert_eq!(result.code, 2, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("cannot be linked")
            && summary.contains("@0.1.0")
            && summary.contains("this medic implements medic:remediation@0.2.0"),
        "{summary}"
    );
    assert!(
        report["calls"].as_array().unwrap().is_empty(),
        "nothing ran"
    );
}
