//! The heal loop end to end: `medic heal -- CMD` and `medic heal --incident`, real
//! processes and real files, the bundled remediations and test guests as candidates.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use medic_tests::{Medic, Remediation, RunResult};

use super::medic;

/// A policy with fast retries, and the installed remediations offered as candidates.
fn policy(m: &Medic, extra_rule: &str, extra_policy: &str) -> String {
    format!(
        "remediation_dirs = [{:?}]\n\n[policy]\nretry_base = \"10ms\"\nretry_cap = \"50ms\"\n{extra_policy}\n\n[[policy.rules]]\nname = \"default\"\ntrust = \"automate\"\nautomate_risk = [\"low\"]\nmax_retries = 2\ncooldown = \"0s\"\n{extra_rule}\n",
        m.remediations_dir().display().to_string()
    )
}

/// Write a shell script `name` under the test root that runs `body`.
fn script(m: &Medic, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = m.root().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `medic heal --json ARGS -- CMD` from the test root; the report and the events.
fn heal(
    m: &Medic,
    args: &[&str],
    command: &[&str],
) -> (RunResult, serde_json::Value, Vec<serde_json::Value>) {
    heal_env(m, args, command, &[])
}

fn heal_env(
    m: &Medic,
    args: &[&str],
    command: &[&str],
    env: &[(&str, &str)],
) -> (RunResult, serde_json::Value, Vec<serde_json::Value>) {
    let mut full = vec!["heal", "--json"];
    full.extend_from_slice(args);
    if !command.is_empty() {
        full.push("--");
        full.extend_from_slice(command);
    }
    let mut cmd = m.command(&full);
    cmd.current_dir(m.root());
    for (name, value) in env {
        cmd.env(name, value);
    }
    let output = cmd.output().expect("run medic");
    let result = RunResult {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let events: Vec<serde_json::Value> = result
        .stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let report = events
        .iter()
        .find(|event| event["event"] == "report")
        .map(|event| event["report"].clone())
        .unwrap_or_else(|| panic!("no report:\n{}\n{}", result.stdout, result.stderr));
    for event in &events {
        assert_eq!(event["version"], 1, "{event}");
        if event["event"] != "report" {
            assert!(
                event["incident_id"].is_string() && event["at"].is_string(),
                "{event}"
            );
        }
    }
    (result, report, events)
}

fn decisions(events: &[serde_json::Value]) -> Vec<(&str, &str)> {
    events
        .iter()
        .filter(|event| event["event"] == "decision")
        .map(|event| {
            (
                event["option"].as_str().unwrap(),
                event["decision"]["action"].as_str().unwrap(),
            )
        })
        .collect()
}

/// A log directory over any budget: three rotated logs and a live one.
fn log_dir(m: &Medic) -> PathBuf {
    let logs = m.root().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log"), vec![b'x'; 4000]).unwrap();
    for day in 1..=3 {
        std::fs::write(logs.join(format!("app.log.{day}")), vec![b'y'; 20_000]).unwrap();
    }
    logs
}

/// A job that fails with a real-looking quota error naming a file in `logs` while any
/// rotated log is there, and passes once none is.
fn quota_job(m: &Medic, logs: &Path) -> PathBuf {
    script(
        m,
        "ship-logs",
        &format!(
            "if ls {dir}/app.log.* >/dev/null 2>&1; then echo \"ship-logs: cannot write {dir}/archive.tar: Disk quota exceeded\" >&2; exit 1; fi\necho shipped",
            dir = logs.display()
        ),
    )
}

#[test]
fn a_transient_failure_is_healed_by_a_retry() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let job = script(
        &m,
        "flaky",
        "if [ -e flag ]; then echo fetched; exit 0; fi\ntouch flag\necho 'curl: (7) Failed to connect to 127.0.0.1 port 9: Connection refused' >&2\nexit 7",
    );
    let (result, report, events) = heal(&m, &[], &[job.to_str().unwrap()]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(report["status"], "healed");
    assert_eq!(report["attempts"], 2);
    assert_eq!(report["tried"][0]["kind"], "retry");
    assert_eq!(report["tried"][0]["status"], "passed");
    assert!(decisions(&events).contains(&("retry", "run")), "{events:?}");
    assert!(result.stderr.contains("fetched") || result.stderr.contains("Connection refused"));
    // The outcome is learned.
    let stats = m.run(&["stats", "--json"]).json();
    let retry = &stats["remediations"][0];
    assert_eq!(
        (retry["remediation"].as_str(), retry["healed"].as_u64()),
        (Some("retry"), Some(1))
    );
    m.assert_audit_intact();
}

#[test]
fn a_remediation_takes_its_directory_from_the_evidence_and_is_verified() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let logs = log_dir(&m);
    let job = quota_job(&m, &logs);
    let (result, report, events) = heal(&m, &["--yes"], &[job.to_str().unwrap()]);
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    assert_eq!(report["status"], "healed");
    let plan = events.iter().find(|e| e["event"] == "plan").unwrap();
    let option = &plan["plan"]["options"][0];
    assert_eq!(option["kind"], "remediation");
    assert_eq!(option["remediation"], "free-disk-space");
    assert_eq!(option["params"]["dir"], logs.display().to_string());
    assert_eq!(option["param_sources"]["dir"], "from");
    assert!(
        option["blast_radius"]["paths"][0]
            .as_str()
            .unwrap()
            .starts_with(&logs.display().to_string()),
        "{option}"
    );
    assert_eq!(report["tried"][0]["remediation"], "free-disk-space");
    assert_eq!(report["tried"][0]["status"], "healed");
    assert!(logs.join("app.log").exists(), "the live log stays");
    assert!(
        !logs.join("app.log.1").exists(),
        "rotated logs moved to quarantine"
    );
    // Decided by the default rule, approved by --yes, all audited.
    let audit = m.audit();
    let kinds: Vec<&str> = audit.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for kind in [
        "heal_started",
        "diagnosed",
        "planned",
        "decided",
        "approval",
        "run_started",
        "heal_finished",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let approval = audit.iter().find(|r| r["kind"] == "approval").unwrap();
    assert_eq!(approval["data"]["how"], "--yes");
    assert_eq!(approval["data"]["approved"], true);
    m.assert_audit_intact();
}

#[test]
fn a_remediation_whose_verify_fails_is_rolled_back_and_the_next_option_runs() {
    let m = medic();
    let logs = log_dir(&m);
    let marker = m.root().join("fixed");
    // free-disk-space with a budget no directory meets: it moves files, verify fails, it
    // rolls back. Then a low-risk second remediation writes the marker the job needs.
    let rule = format!(
        "params = {{ max_bytes = \"1\", steps = \"write {} ok\" }}",
        marker.display()
    );
    let second = Remediation::new("sequence")
        .named("second-fix")
        .handles("root_cause = \"storage\"")
        .fs(m.root(), "read-write");
    m.install_with_ceiling(&second, &second.ceiling());
    m.write_config(&format!("{}\n{}", policy(&m, &rule, ""), second.ceiling()));
    let job = script(
        &m,
        "job",
        &format!(
            "test -e {marker} && exit 0\necho \"cp: error writing '{dir}/out.bin': No space left on device\" >&2\nexit 1",
            marker = marker.display(),
            dir = logs.display()
        ),
    );
    let (result, report, _) = heal(&m, &["--yes"], &[job.to_str().unwrap()]);
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    let tried = report["tried"].as_array().unwrap();
    assert_eq!(tried[0]["remediation"], "free-disk-space", "{report}");
    assert_eq!(tried[0]["status"], "rolled_back", "{report}");
    assert_eq!(tried[1]["remediation"], "second-fix");
    assert_eq!(tried[1]["status"], "healed");
    for day in 1..=3 {
        assert!(
            logs.join(format!("app.log.{day}")).exists(),
            "rolled back: moved files are back"
        );
    }
    assert!(marker.exists());
    m.assert_audit_intact();
}

#[test]
fn a_high_risk_option_without_approval_does_not_run_and_escalates() {
    let m = medic();
    let marker = m.root().join("touched");
    let risky = Remediation::new("sequence")
        .named("risky-fix")
        .risk("high")
        .handles("root_cause = \"storage\"")
        .fs(m.root(), "read-write");
    let rule = format!("params = {{ steps = \"write {} ok\" }}", marker.display());
    m.install_with_ceiling(&risky, &risky.ceiling());
    m.write_config(&format!("{}\n{}", policy(&m, &rule, ""), risky.ceiling()));
    let log = m.root().join("fail.log");
    std::fs::write(
        &log,
        "tar: /srv/backups/db.tar: Cannot write: No space left on device\n",
    )
    .unwrap();
    // No TTY, no --yes: it must not run; the incident escalates, exit 3.
    let mut cmd = m.command(&[
        "heal",
        "--json",
        "--log",
        log.to_str().unwrap(),
        "--resource-kind",
        "host",
        "--resource-id",
        "db-1",
    ]);
    let output = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!marker.exists(), "the high-risk remediation did not run");
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["report"]["status"], "escalated");
    assert!(
        last["report"]["escalation"]["markdown"]
            .as_str()
            .unwrap()
            .contains("## medic escalation")
    );
    let audit = m.audit();
    let approval = audit
        .iter()
        .find(|r| r["kind"] == "approval")
        .expect("approval audited");
    assert_eq!(approval["data"]["approved"], false);
    assert_eq!(approval["data"]["how"], "no-tty");
    assert!(audit.iter().any(|r| r["kind"] == "escalated"));
    m.assert_audit_intact();
}

#[test]
fn the_flap_guard_trips_across_processes() {
    let m = medic();
    m.write_config(&policy(&m, "", "flap_max = 2\nflap_window = \"1h\""));
    // Fails on every odd run: each heal is a failure then a passing retry.
    let job = script(
        &m,
        "flapping",
        "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\nif [ $((n % 2)) -eq 1 ]; then echo 'read tcp 10.0.0.1:5432: i/o timeout' >&2; exit 3; fi",
    );
    for round in 0..2 {
        let (result, report, _) = heal(&m, &[], &[job.to_str().unwrap()]);
        assert_eq!(result.code, 0, "round {round}: {}", result.stderr);
        assert_eq!(report["status"], "healed");
    }
    let (result, report, events) = heal(&m, &[], &[job.to_str().unwrap()]);
    assert_eq!(
        result.code, 3,
        "the command's own status: {}",
        result.stderr
    );
    assert_eq!(report["status"], "escalated");
    assert!(
        report["escalation"]["reason"]
            .as_str()
            .unwrap()
            .contains("flap guard"),
        "{report}"
    );
    assert!(
        decisions(&events)
            .iter()
            .all(|(_, action)| *action == "escalate")
    );
}

#[test]
fn a_shadow_error_is_caught_by_verify_and_healed() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let check = "test -e ready || { touch ready; echo 'upstream connect error: connection timed out' >&2; exit 1; }";
    let (result, report, events) = heal(&m, &["--verify", check], &["true"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(report["status"], "healed");
    assert_eq!(report["attempts"], 2);
    assert!(events.iter().any(|e| {
        e["event"] == "healing_progress"
            && e["stage"] == "verify"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("exited 0 but the check")
    }));
}

#[test]
fn a_permanent_build_failure_passes_through_without_a_retry() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let job = script(
        &m,
        "build",
        "echo 'error[E0308]: mismatched types' >&2\necho 'error: could not compile `app` due to 1 previous error' >&2\nexit 101",
    );
    let started = Instant::now();
    let (result, report, events) = heal(&m, &[], &[job.to_str().unwrap()]);
    assert_eq!(result.code, 101, "{}", result.stderr);
    assert_eq!(report["attempts"], 1, "never retried");
    assert!(report["tried"].as_array().unwrap().is_empty());
    assert_eq!(report["diagnosis"]["root_cause"], "build");
    assert!(
        !decisions(&events)
            .iter()
            .any(|(option, action)| *option == "retry" && *action == "run")
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn under_github_actions_it_annotates_and_writes_the_step_summary() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let summary = m.root().join("summary.md");
    let job = script(
        &m,
        "build",
        "echo 'error[E0425]: cannot find value `x` in this scope' >&2\nexit 1",
    );
    let mut cmd = m.command(&["heal", "--", job.to_str().unwrap()]);
    cmd.current_dir(m.root())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary);
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.contains("::notice title=medic diagnosis::build"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::error title=medic::escalated"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&summary).expect("summary written");
    assert!(written.contains("## medic escalation"), "{written}");
    assert!(written.contains("`build`"), "{written}");
}

#[test]
fn killed_mid_apply_the_next_heal_rolls_back_and_resumes_without_rerunning() {
    let m = medic();
    let marker = m.root().join("applied");
    let slow = Remediation::new("interrupt-me")
        .named("slow-fix")
        .handles("root_cause = \"storage\"")
        .fs(m.root(), "read-write");
    let rule = format!(
        "params = {{ marker = {:?}, mode = \"sleep\" }}",
        marker.display().to_string()
    );
    m.install_with_ceiling(&slow, &slow.ceiling());
    m.write_config(&format!("{}\n{}", policy(&m, &rule, ""), slow.ceiling()));
    let job = script(
        &m,
        "job",
        "echo 'write /var/lib/app/data.db: no space left on device' >&2\nexit 1",
    );
    let mut child = m.command(&["heal", "--json", "--", job.to_str().unwrap()]);
    child
        .current_dir(m.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = child.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "apply never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        marker.exists(),
        "killed mid-apply: the change is still there"
    );

    let (result, report, events) = heal(&m, &[], &[job.to_str().unwrap()]);
    assert!(!marker.exists(), "rolled back before anything else");
    assert_eq!(report["resumed"], true, "{report}");
    assert_eq!(report["recovered"].as_array().unwrap().len(), 1, "{report}");
    let tried = report["tried"].as_array().unwrap();
    assert_eq!(tried.len(), 1, "not run again: {report}");
    assert_eq!(tried[0]["status"], "interrupted");
    assert!(events.iter().any(|e| e["event"] == "decision"
        && e["remediation"] == "slow-fix"
        && e["decision"]["reason"] == "already tried for this incident"));
    assert_eq!(result.code, 1);
    assert_eq!(report["status"], "escalated");
    m.assert_audit_intact();
}

#[test]
fn plan_prints_ranked_options_with_their_shape() {
    let m = medic();
    let logs = log_dir(&m);
    let log = m.root().join("fail.log");
    std::fs::write(
        &log,
        format!(
            "gzip: {}/app.log.gz: No space left on device\n",
            logs.display()
        ),
    )
    .unwrap();
    let result = m.run(&[
        "plan",
        "--log",
        log.to_str().unwrap(),
        "--resource-kind",
        "host",
        "--resource-id",
        "web-1",
        "--json",
    ]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let plan = result.json();
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["diagnosis"]["root_cause"], "storage");
    let options = plan["options"].as_array().unwrap();
    let first = &options[0];
    for key in [
        "kind",
        "remediation",
        "params",
        "applicable",
        "reason",
        "confidence",
        "risk",
        "expected_duration_secs",
        "steps",
        "blast_radius",
    ] {
        assert!(first.get(key).is_some(), "option lacks {key}: {first}");
    }
    assert_eq!(first["remediation"], "free-disk-space");
    assert_eq!(first["applicable"], true);
    assert!(
        first["steps"].as_array().unwrap().len() >= 2,
        "steps from the guest's plan: {first}"
    );
    assert_eq!(options.last().unwrap()["kind"], "escalate");
    // A dry run only: nothing moved.
    assert!(logs.join("app.log.1").exists());
    // Without evidence of a directory, the option is shown as not applicable, with why.
    std::fs::write(&log, "No space left on device\n").unwrap();
    let plan = m
        .run(&[
            "plan",
            "--log",
            log.to_str().unwrap(),
            "--resource-kind",
            "host",
            "--resource-id",
            "web-1",
            "--json",
        ])
        .json();
    let option = plan["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["remediation"] == "free-disk-space")
        .unwrap()
        .clone();
    assert_eq!(option["applicable"], false);
    assert!(
        option["reason"].as_str().unwrap().contains("`dir`"),
        "{option}"
    );
}

#[test]
fn policy_check_names_the_line_and_explain_says_what_runs_unasked() {
    let m = medic();
    m.write_config("[policy]\n[[policy.rules]]\nname = \"x\"\ntrust = \"sometimes\"\n");
    let result = m.run(&["policy", "check"]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("policy.rules[0].trust"),
        "{}",
        result.stderr
    );
    assert!(
        // The harness's configuration starts with a blank line: `trust` is on line 5.
        result.stderr.contains("medic.toml:5:"),
        "{}",
        result.stderr
    );
    m.write_config("[policy]\n[[policy.rules]]\nname = \"disks\"\nresource_kind = \"host\"\nissue_type = \"disk_full\"\ntrust = \"automate\"\nautomate_risk = [\"low\", \"medium\"]\n");
    let result = m.run(&["policy", "explain"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(result.stdout.contains("rule `disks`"), "{}", result.stdout);
    assert!(
        result.stdout.contains("remediations of risk low, medium"),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("rule `default`"),
        "a catch-all is added: {}",
        result.stdout
    );
}

#[test]
fn an_invalid_parameter_is_an_input_error_before_anything_runs() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let incident = m.incident_for("bad-1", "host", "disk_full", &[("dir", "relative/path")]);
    let result = m.run(&["heal", "--incident", incident.to_str().unwrap(), "--json"]);
    // The option is not applicable (its reason names the parameter), nothing ran.
    let last: serde_json::Value =
        serde_json::from_str(result.stdout.lines().last().unwrap()).unwrap();
    let plan = &last["report"]["plan"];
    let option = plan["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["remediation"] == "free-disk-space")
        .unwrap()
        .clone();
    assert_eq!(option["applicable"], false);
    assert!(
        option["reason"].as_str().unwrap().contains("`dir`"),
        "{option}"
    );
    assert!(last["report"]["tried"].as_array().unwrap().is_empty());
    // `medic run` with the same incident exits 2 and runs nothing.
    let result = m.run(&[
        "run",
        "free-disk-space",
        "--incident",
        incident.to_str().unwrap(),
    ]);
    assert_eq!(result.code, 2, "{}", result.stderr);
}

#[test]
fn the_cli_has_completions_a_man_page_and_a_versioned_contract() {
    let m = medic();
    let version = m.run(&["--version"]);
    assert!(
        version.stdout.contains("WIT medic:remediation@0.2.0"),
        "{}",
        version.stdout
    );
    let completions = m.run(&["completions", "bash"]);
    assert_eq!(completions.code, 0);
    assert!(
        completions.stdout.contains("heal"),
        "bash completion lists heal"
    );
    let man = m.run(&["man"]);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.contains(".TH medic"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    let show = m.run(&["remediations", "show", "free-disk-space", "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let show = show.json();
    assert_eq!(show["name"], "free-disk-space");
    assert!(
        show["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "dir")
    );
    assert!(!show["handles"].as_array().unwrap().is_empty());
    let unknown = m.run(&["remediations", "show", "no-such-fix"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no-such-fix"), "{}", unknown.stderr);
}

#[test]
fn a_passing_command_runs_at_once_and_opens_nothing() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let (result, report, events) = heal(&m, &[], &["sh", "-c", "echo all good; exit 0"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(report["status"], "passed");
    assert!(
        result.stderr.contains("all good"),
        "output passed through: {}",
        result.stderr
    );
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["healing_start", "healing_complete", "report"]);
    assert!(
        !m.data_dir().exists(),
        "no state was opened on the success path"
    );
    // A failing one hands its first run over: it is not run twice before the decision.
    let job = script(
        &m,
        "count",
        "echo run >> runs.txt\necho 'error: linking with `cc` failed' >&2\nexit 4",
    );
    let (result, report, _) = heal(&m, &[], &[job.to_str().unwrap()]);
    assert_eq!(result.code, 4);
    assert_eq!(report["attempts"], 1);
    assert_eq!(
        std::fs::read_to_string(m.root().join("runs.txt")).unwrap(),
        "run\n"
    );
}

#[test]
fn an_escalation_is_posted_to_the_webhook_with_retries_and_its_path_never_printed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let m = medic();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // The first attempt fails: medic retries.
    let server = medic_tests::Server::start(move |_, _, _| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            medic_tests::Reply::new(503, "busy")
        } else {
            medic_tests::Reply::new(200, "ok")
        }
    });
    let hook = server.url("/services/T000/B000/SECRETPATH");
    m.write_config(&policy(
        &m,
        "",
        &format!(
            "escalation_webhook = {hook:?}\nescalation_timeout = \"2s\"\nescalation_attempts = 3"
        ),
    ));
    let job = script(
        &m,
        "build",
        "echo 'error[E0308]: mismatched types <!channel> *bold*' >&2\nexit 1",
    );
    let (result, report, _) = heal(&m, &[], &[job.to_str().unwrap()]);
    assert_eq!(result.code, 1);
    assert_eq!(server.hits(), ["POST /services/T000/B000/SECRETPATH"; 2]);
    let body: serde_json::Value = serde_json::from_str(&server.bodies()[1]).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("## medic escalation"), "{text}");
    assert!(
        !text.contains("<!channel>") && text.contains("&lt;!channel&gt;"),
        "log text is inert: {text}"
    );
    assert_eq!(body["root_cause"], "build");
    let webhook = report["escalation"]["webhook"].as_str().unwrap();
    assert!(
        webhook.contains("HTTP 200") && !webhook.contains("SECRETPATH"),
        "{webhook}"
    );
    for text in [&result.stdout, &result.stderr] {
        assert!(
            !text.contains("SECRETPATH"),
            "the webhook's path is a credential: {text}"
        );
    }
    let audit = serde_json::to_string(&m.audit()).unwrap();
    assert!(!audit.contains("SECRETPATH"));
}

#[test]
fn a_log_line_cannot_hand_a_remediation_a_whole_ceiling_root() {
    let m = medic();
    let log = m.root().join("fail.log");
    std::fs::write(&log, "write /tmp/x: No space left on device\n").unwrap();
    let plan = m
        .run(&[
            "plan",
            "--log",
            log.to_str().unwrap(),
            "--resource-kind",
            "host",
            "--resource-id",
            "h",
            "--json",
        ])
        .json();
    let option = plan["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["remediation"] == "free-disk-space")
        .unwrap()
        .clone();
    assert_eq!(option["applicable"], false, "{option}");
    assert!(
        option["reason"]
            .as_str()
            .unwrap()
            .contains("names the whole root `/tmp`"),
        "{option}"
    );
}

#[test]
fn the_same_incident_can_be_healed_again_and_dry_run_leaves_killed_work_alone() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let log_dir = log_dir(&m);
    let incident = m.incident_for(
        "again-1",
        "host",
        "disk_full",
        &[("dir", log_dir.to_str().unwrap())],
    );
    for round in 0..2 {
        let result = m.run(&[
            "heal",
            "--incident",
            incident.to_str().unwrap(),
            "--yes",
            "--json",
        ]);
        let last: serde_json::Value =
            serde_json::from_str(result.stdout.lines().last().unwrap()).unwrap();
        assert!(
            last["report"]["status"].is_string(),
            "round {round}: {}",
            result.stderr
        );
    }
    // --dry-run changes nothing, rollbacks included: with a killed run waiting, it refuses.
    m.write_config(&format!("{}\n", policy(&m, "", "")));
    let db = m.data_dir().join("runs");
    std::fs::create_dir_all(&db).unwrap();
    let job = script(&m, "fails", "echo 'No space left on device' >&2; exit 1");
    let (result, ..) = {
        // Make a killed run: start a heal whose remediation sleeps, kill it mid-apply.
        let marker = m.root().join("applied");
        let slow = Remediation::new("interrupt-me")
            .named("slow-fix")
            .handles("root_cause = \"storage\"")
            .fs(m.root(), "read-write");
        let rule = format!(
            "params = {{ marker = {:?}, mode = \"sleep\" }}",
            marker.display().to_string()
        );
        m.install_with_ceiling(&slow, &slow.ceiling());
        m.write_config(&format!("{}\n{}", policy(&m, &rule, ""), slow.ceiling()));
        let mut child = m.command(&["heal", "--", job.to_str().unwrap()]);
        let mut child = child
            .current_dir(m.root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !marker.exists() {
            assert!(Instant::now() < deadline, "apply never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let mut cmd = m.command(&["heal", "--dry-run", "--", job.to_str().unwrap()]);
        let output = cmd.current_dir(m.root()).output().unwrap();
        assert!(marker.exists(), "a dry run rolled nothing back");
        (
            RunResult {
                code: output.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            },
            (),
        )
    };
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result.stderr.contains("without --dry-run first"),
        "{}",
        result.stderr
    );
}

#[test]
fn under_gitlab_ci_its_own_output_is_in_collapsible_sections() {
    let m = medic();
    m.write_config(&policy(&m, "", ""));
    let job = script(
        &m,
        "build",
        "echo 'error[E0425]: cannot find value `x`' >&2\nexit 1",
    );
    let mut cmd = m.command(&["heal", "--", job.to_str().unwrap()]);
    let output = cmd
        .current_dir(m.root())
        .env("GITLAB_CI", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    for marker in [
        "section_start:",
        ":medic_diagnosis[collapsed=true]",
        "section_end:",
        ":medic_plan",
    ] {
        assert!(stderr.contains(marker), "no {marker} in:\n{stderr}");
    }
    // Without GitLab CI, no escape sequence reaches a stderr that is not a terminal.
    let mut cmd = m.command(&["heal", "--", job.to_str().unwrap()]);
    let output = cmd.current_dir(m.root()).output().unwrap();
    assert!(
        !output.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn on_a_terminal_it_asks_showing_the_steps_and_the_blast_radius() {
    use std::io::Write;
    let m = medic();
    let marker = m.root().join("touched");
    let risky = Remediation::new("sequence")
        .named("risky-fix")
        .risk("high")
        .handles("root_cause = \"storage\"")
        .fs(m.root(), "read-write");
    let rule = format!("params = {{ steps = \"write {} ok\" }}", marker.display());
    m.install_with_ceiling(&risky, &risky.ceiling());
    m.write_config(&format!("{}\n{}", policy(&m, &rule, ""), risky.ceiling()));
    let log = m.root().join("fail.log");
    std::fs::write(
        &log,
        "tar: /srv/backups/db.tar: Cannot write: No space left on device\n",
    )
    .unwrap();
    // `script` gives medic a terminal; the answer comes in on it.
    let medic = m.command(&[
        "heal",
        "--log",
        log.to_str().unwrap(),
        "--resource-kind",
        "host",
        "--resource-id",
        "db-1",
    ]);
    let mut line = String::new();
    for part in std::iter::once(medic.get_program()).chain(medic.get_args()) {
        line.push_str(&format!(
            "'{}' ",
            part.to_str().unwrap().replace('\'', "'\\''")
        ));
    }
    let wrapper = script(&m, "ask", &format!("exec {line}"));
    for (answer, approved) in [("n", false), ("y", true)] {
        let mut child = std::process::Command::new("script")
            .args(["-qec", wrapper.to_str().unwrap(), "/dev/null"])
            .env("MEDIC_SYSTEM_CONFIG", "")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Typed once the prompt is up (the pty holds it until medic reads).
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&output.stdout);
        assert!(
            shown.contains("medic wants to run `risky-fix` (risk high"),
            "{shown}"
        );
        assert!(
            shown.contains("may touch paths:"),
            "the blast radius: {shown}"
        );
        assert!(shown.contains("Run it? [y/N]"), "{shown}");
        assert_eq!(marker.exists(), approved, "answer {answer}: {shown}");
        let approval = m
            .audit()
            .into_iter()
            .rev()
            .find(|r| r["kind"] == "approval")
            .expect("approval audited");
        assert_eq!(approval["data"]["how"], "tty");
        assert_eq!(approval["data"]["approved"], approved);
        assert!(
            approval["data"]["params"]["steps"].is_string(),
            "{approval}"
        );
    }
    let kinds: Vec<String> = m
        .audit()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.iter().any(|k| k == "attempted"), "{kinds:?}");
}
