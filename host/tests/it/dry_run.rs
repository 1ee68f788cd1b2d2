//! Dry runs from the hostile side: `plan-abuse` tries to change the host from `plan` and
//! swallows every refusal. The host refuses each change with `during_plan`, nothing
//! happens, and the run is `denied` whatever the guest returned; a read-only status
//! command and a GET still work; a failed plan and a missing parameter have statuses and
//! exit codes of their own.

use std::path::Path;

use medic_tests::{Medic, Remediation, Reply, Server};

use super::{Attack, assert_denial_audited, assert_denied, medic};

fn layout(medic: &Medic) -> std::path::PathBuf {
    let dir = medic.root().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config"), "original").unwrap();
    dir
}

fn abuse(work: &Path, server: &Server) -> Remediation {
    Remediation::new("plan-abuse")
        .risk("medium")
        .fs(work, "read-write")
        .exec("/usr/bin/touch", &["^/tmp/[A-Za-z0-9._/-]+$"])
        .exec_read_only("/usr/bin/stat", &["^/tmp/[A-Za-z0-9._/-]+$"])
        .http("POST", &format!("http://127.0.0.1:{}/**", server.port()))
        .http("GET", &format!("http://127.0.0.1:{}/**", server.port()))
}

#[test]
fn plan_cannot_change_anything_whatever_the_guest_returns() {
    let medic = medic();
    let work = layout(&medic);
    let server = Server::start(|_, _, _| Reply::new(200, "ok"));
    let dir = medic.install(&abuse(&work, &server));
    let path = |name: &str| work.join(name).display().to_string();
    let marker = path("touched");
    let cases: Vec<Attack> = vec![
        (
            "exec",
            vec![
                ("op", "exec".into()),
                ("program", "/usr/bin/touch".into()),
                ("args", marker.clone()),
            ],
            "exec",
        ),
        (
            "write",
            vec![("op", "write".into()), ("target", path("config"))],
            "fs",
        ),
        (
            "rename",
            vec![
                ("op", "rename".into()),
                ("target", path("config")),
                ("target2", path("moved")),
            ],
            "fs",
        ),
        (
            "mkdir",
            vec![("op", "mkdir".into()), ("target", path("new-dir"))],
            "fs",
        ),
        (
            "remove",
            vec![("op", "remove".into()), ("target", path("config"))],
            "fs",
        ),
        (
            "post",
            vec![("op", "post".into()), ("target", server.url("/reload"))],
            "http",
        ),
        ("save", vec![("op", "save".into())], "checkpoint"),
    ];
    for (index, (what, params, capability)) in cases.iter().enumerate() {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        let incident = medic.incident(&format!("plan-{index}"), &params);
        let result = medic.plan_remediation(&dir, &incident);
        assert_denied(&result, capability, "during_plan");
        let report = result.json();
        assert!(
            report["steps"].is_null(),
            "{what}: a plan the host refused shows no steps: {report:#}"
        );
        assert_eq!(
            std::fs::read_to_string(work.join("config")).unwrap(),
            "original",
            "{what}: the file is unchanged"
        );
        assert!(
            !work.join("touched").exists()
                && !work.join("moved").exists()
                && !work.join("new-dir").exists(),
            "{what}: nothing was created"
        );
        assert!(server.hits().is_empty(), "{what}: nothing was sent");
    }
    assert_denial_audited(&medic, "exec", "/usr/bin/touch", "during_plan");
    assert_denial_audited(&medic, "checkpoint", "save planned", "during_plan");
    // What changes nothing still works while planning.
    let status = medic.incident(
        "plan-status",
        &[
            ("op", "status"),
            ("program", "/usr/bin/stat"),
            ("args", &path("config")),
        ],
    );
    let result = medic.plan_remediation(&dir, &status);
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    assert_eq!(result.json()["status"], "planned");
    let get = medic.incident(
        "plan-get",
        &[("op", "get"), ("target", &server.url("/health"))],
    );
    let result = medic.plan_remediation(&dir, &get);
    assert_eq!(result.code, 0, "{}{}", result.stdout, result.stderr);
    assert_eq!(server.hits(), vec!["GET /health"]);
}

#[test]
fn a_real_run_plans_first_and_applies_nothing_when_the_plan_is_refused() {
    let medic = medic();
    let work = layout(&medic);
    let server = Server::start(|_, _, _| Reply::new(200, "ok"));
    let dir = medic.install(&abuse(&work, &server));
    let incident = medic.incident(
        "plan-then-apply",
        &[
            ("op", "write"),
            ("target", &work.join("config").display().to_string()),
        ],
    );
    let result = medic.run_remediation(&dir, &incident);
    assert_denied(&result, "fs", "during_plan");
    let report = result.json();
    let operations: Vec<&str> = report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| call["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["plan"], "apply never ran: {report:#}");
    assert_eq!(
        std::fs::read_to_string(work.join("config")).unwrap(),
        "original"
    );
}

#[test]
fn a_failed_plan_and_a_missing_parameter_have_their_own_status() {
    let medic = medic();
    let work = layout(&medic);
    let server = Server::start(|_, _, _| Reply::new(200, "ok"));
    let dir = medic.install(&abuse(&work, &server));
    for (args, op, code, status) in [
        (&[][..], "fail", 5, "plan_failed"),
        (&["--dry-run"][..], "fail", 5, "plan_failed"),
        (&[][..], "need", 2, "invalid_input"),
        (&["--dry-run"][..], "need", 2, "invalid_input"),
    ] {
        let incident = medic.incident(&format!("plan-{op}-{}", args.len()), &[("op", op)]);
        let incident = incident.display().to_string();
        let dir = dir.display().to_string();
        let mut command = vec![
            "run",
            dir.as_str(),
            "--incident",
            incident.as_str(),
            "--json",
        ];
        command.extend_from_slice(args);
        let result = medic.run(&command);
        assert_eq!(
            result.code, code,
            "{op} {args:?}: {}{}",
            result.stdout, result.stderr
        );
        let report = result.json();
        assert_eq!(report["status"], status, "{report:#}");
        assert_eq!(
            report["calls"].as_array().unwrap().len(),
            1,
            "only plan ran"
        );
    }
    medic.assert_audit_intact();
}
