//! rollout-restart through the real kubectl (`/usr/bin/kubectl`). The cluster is a stand-in:
//! no Kubernetes cluster runs on the machines medic is tested on, so kubectl talks to
//! `medic_tests::KubeApi`, a loopback server implementing just the API endpoints kubectl
//! calls for `rollout restart` and `rollout status` (discovery, get, strategic-merge patch,
//! list, and a chunked watch), holding one Deployment. Everything else is real: medic, the
//! sandbox, the bundled component, and kubectl's own requests, parsing and verdicts.

use std::path::Path;

use medic_tests::{KubeApi, Medic, Rollout, RunResult};

use super::{assert_bundled_manifest, assert_bundled_scenarios_pass, assert_healed, medic};

const KUBECTL: &str = "/usr/bin/kubectl";

fn kubectl_installed() -> bool {
    if Path::new(KUBECTL).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "kubectl is not installed at {KUBECTL} (Debian: apt-get install kubernetes-client)"
    );
    eprintln!(
        "SKIPPED: kubectl is not installed (apt-get install kubernetes-client); the rollout-restart tests need it"
    );
    false
}

fn run(medic: &Medic, api: &KubeApi, id: &str, timeout_secs: &str) -> RunResult {
    let incident = medic.incident_for(
        id,
        "deployment",
        "service_down",
        &[
            ("name", "web"),
            ("namespace", "shop"),
            ("server", &api.url()),
            ("timeout_secs", timeout_secs),
        ],
    );
    let incident = incident.display().to_string();
    medic.run(&["run", "rollout-restart", "--incident", &incident, "--json"])
}

/// The stand-in's hits without their query strings, as kubectl sent them.
fn paths(api: &KubeApi) -> Vec<String> {
    api.hits()
        .iter()
        .map(|hit| hit.split('?').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn rollout_restart_restarts_a_deployment_and_waits_for_the_rollout() {
    if !kubectl_installed() {
        return;
    }
    let api = KubeApi::start("shop", "web", Rollout::Completes);
    let medic = medic();
    let report = assert_healed(&run(&medic, &api, "rollout-1", "60"));
    assert_eq!(
        report["verdict"]["detail"],
        "deployment \"web\" successfully rolled out"
    );
    // One patch, setting only the restart annotation: the spec is otherwise untouched.
    let patches = api.patches();
    assert_eq!(patches.len(), 1, "{patches:?}");
    let patch: serde_json::Value = serde_json::from_str(&patches[0]).unwrap();
    let restarted_at = api.restarted_at().expect("the pod template was annotated");
    assert_eq!(
        patch,
        serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": restarted_at
        }}}}})
    );
    assert_eq!(api.generation(), 2);
    let paths = paths(&api);
    let object = "/apis/apps/v1/namespaces/shop/deployments/web";
    assert!(paths.contains(&format!("PATCH {object}")), "{paths:?}");
    // rollout status listed the Deployment, then watched it until the stand-in's
    // controller reported the new replicas available.
    let watched = api.hits().iter().any(|hit| {
        hit.starts_with("GET /apis/apps/v1/namespaces/shop/deployments?")
            && hit.contains("watch=true")
    });
    assert!(watched, "{:?}", api.hits());
    // kubectl ran with no HOME and `--cache-dir=/dev/null`: no discovery cache was written
    // under its working directory `/`.
    let port = api.url().rsplit(':').next().unwrap().to_string();
    assert!(!Path::new(&format!("/.kube/cache/discovery/127.0.0.1_{port}")).exists());
    medic.assert_audit_intact();
}

#[test]
fn rollout_restart_reports_a_stalled_rollout_and_does_not_undo_it() {
    if !kubectl_installed() {
        return;
    }
    let api = KubeApi::start("shop", "web", Rollout::Stalls);
    let medic = medic();
    let result = run(&medic, &api, "rollout-2", "2");
    assert_eq!(result.code, 1, "{}{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["status"], "rolled_back", "{report:#}");
    assert_eq!(
        report["verdict"]["detail"],
        "deployment shop/web has not rolled out (kubectl status Some(1)): error: timed out waiting for the condition"
    );
    assert_eq!(
        report["calls"][3]["detail"],
        "nothing to undo: a rollout restart has no inverse (`kubectl rollout undo` would put an older pod template back, a change of its own)"
    );
    // The restart was made, and nothing patched the Deployment again (no `rollout undo`).
    assert_eq!(api.patches().len(), 1);
    assert_eq!(api.generation(), 2);
}

#[test]
fn rollout_restart_scenarios_pass() {
    assert_bundled_scenarios_pass("rollout-restart");
}

#[test]
fn rollout_restart_manifest_is_within_its_ceiling_and_explains_its_warnings() {
    assert_bundled_manifest("rollout-restart", &[]);
}
