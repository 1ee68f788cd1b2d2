//! Python remediations from the hostile side: a Python guest built by `medic build`
//! (componentize-py, composed with medic's deny component) makes the attacks of the Rust
//! guests `exec-escape`, `http-escape`, `fs-escape` and `env-escape`, with the same
//! grants and parameters, and each is refused exactly as theirs is: same exit code,
//! status, denied calls and denial kinds, audited, nothing done. CPython's own files,
//! sockets and environment reach nothing. The SDK's native tests run too.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;

use medic_tests::{Medic, Remediation, RunResult};

use super::{assert_denial_audited, medic};

/// The hostile Python guest, built once for every test here; `None` (the test says
/// SKIPPED) when componentize-py is not installed, outside CI.
fn python_guest() -> Option<&'static [u8]> {
    static BUILT: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let Some(tools) = medic_tests::componentize_py_dir() else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "componentize-py is missing in CI: scripts/setup installs it"
                );
                eprintln!("SKIPPED: componentize-py is not installed (scripts/setup installs it)");
                return None;
            };
            let medic = medic();
            let parent = medic.private_dir();
            std::fs::create_dir_all(&parent).unwrap();
            let created = medic.run(&[
                "new",
                "remediation",
                "py-escape",
                "--lang",
                "python",
                "--dir",
                &parent.display().to_string(),
            ]);
            assert_eq!(created.code, 0, "{}", created.stderr);
            let dir = parent.join("py-escape");
            std::fs::copy(
                medic_tests::workspace_root().join("tests/python-guests/escape/app.py"),
                dir.join("app.py"),
            )
            .unwrap();
            let path = medic_tests::path_with(&tools);
            let built = medic.run_with_env(
                &["build", &dir.display().to_string(), "--json"],
                &[("PATH", path.as_str())],
            );
            assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
            let report = built.json();
            assert_eq!(report["language"], "python");
            Some(std::fs::read(dir.join("py_escape.wasm")).unwrap())
        })
        .as_deref()
}

/// The parts of a run two guests must agree on.
fn outcome(result: &RunResult) -> (i32, serde_json::Value, Vec<(String, String, String)>) {
    let report = result.json();
    let denied = report["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["allowed"] == false)
        .map(|call| {
            (
                call["capability"].as_str().unwrap().to_string(),
                call["target"].as_str().unwrap().to_string(),
                call["denial"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (result.code, report["status"].clone(), denied)
}

/// Run `params` against the Rust guest `rust` and the Python guest, both under `grant`,
/// in one installation, and assert the two runs end the same way; returns the Python run.
fn same_as_rust(
    medic: &Medic,
    python: &[u8],
    grant: &Remediation,
    guest: &str,
    case: &str,
    params: &[(&str, &str)],
) -> RunResult {
    let rust_dir = medic.install(grant);
    let python_grant = grant.clone().named(&format!("{}-py", grant.name));
    let python_dir = medic.install_component(&python_grant, python, &grant.ceiling());
    let rust = medic.run_remediation(&rust_dir, &medic.incident(&format!("{case}-rust"), params));
    let mut python_params = params.to_vec();
    python_params.push(("guest", guest));
    let py = medic.run_remediation(
        &python_dir,
        &medic.incident(&format!("{case}-py"), &python_params),
    );
    assert_eq!(
        outcome(&py),
        outcome(&rust),
        "{case}: the Python guest's run differs from the Rust guest's\npython: {}\nrust: {}",
        py.stdout,
        rust.stdout
    );
    py
}

#[test]
fn python_guest_escapes_are_refused_exactly_as_rust_guests_are() {
    let Some(python) = python_guest() else { return };
    let medic = medic();
    let root = medic.root();
    let granted = root.join("granted");
    let outside = root.join("outside");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(granted.join("note"), "readable").unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), granted.join("link-out")).unwrap();
    let marker = root.join("allowed-mark");
    let text = |path: &PathBuf| path.display().to_string();

    // exec: the allowed call runs for both, then every escape is refused alike.
    let exec = Remediation::new("exec-escape").risk("medium").exec(
        "/usr/bin/touch",
        &["^/tmp/[A-Za-z0-9._-]+/allowed-[a-z]{1,8}$"],
    );
    let ok = same_as_rust(
        &medic,
        python,
        &exec,
        "exec",
        "exec-ok",
        &[("program", "/usr/bin/touch"), ("args", &text(&marker))],
    );
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();
    let shell = format!("-c\ntouch {}", text(&marker));
    for (case, program, args) in [
        ("exec-shell", "/bin/sh", shell.as_str()),
        ("exec-relative", "touch", "x"),
        ("exec-option", "/usr/bin/touch", "--help"),
        ("exec-traversal", "/usr/bin/touch", "../../etc/passwd"),
    ] {
        let run = same_as_rust(
            &medic,
            python,
            &exec,
            "exec",
            case,
            &[("program", program), ("args", args)],
        );
        assert_eq!(run.code, 4, "{case}: {}", run.stdout);
    }
    assert!(!marker.exists(), "no refused exec ran");

    // http: only the granted method, host, port and path.
    let http = Remediation::new("http-escape").http("GET", "http://127.0.0.1:*/health");
    for (case, method, url) in [
        (
            "http-metadata",
            "GET",
            "http://169.254.169.254/latest/meta-data/",
        ),
        ("http-method", "POST", "http://127.0.0.1:9/health"),
        ("http-path", "GET", "http://127.0.0.1:9/admin"),
        ("http-userinfo", "GET", "http://a@127.0.0.1:9/health"),
    ] {
        let run = same_as_rust(
            &medic,
            python,
            &http,
            "http",
            case,
            &[("method", method), ("url", url)],
        );
        assert_eq!(run.code, 4, "{case}: {}", run.stdout);
    }

    // fs: beneath the granted root only, no symlink followed, no `..`.
    let fs = Remediation::new("fs-escape").fs(&granted, "read");
    let ok = same_as_rust(
        &medic,
        python,
        &fs,
        "fs",
        "fs-ok",
        &[("op", "read"), ("path", &text(&granted.join("note")))],
    );
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    let dotdot = format!("{}/../outside/secret", text(&granted));
    for (case, op, path) in [
        ("fs-outside", "read", text(&outside.join("secret"))),
        ("fs-dotdot", "read", dotdot.clone()),
        ("fs-symlink", "read", text(&granted.join("link-out"))),
        ("fs-write-read-only", "write", text(&granted.join("note"))),
    ] {
        let run = same_as_rust(
            &medic,
            python,
            &fs,
            "fs",
            case,
            &[("op", op), ("path", &path)],
        );
        assert_eq!(run.code, 4, "{case}: {}", run.stdout);
    }
    assert_eq!(
        std::fs::read_to_string(granted.join("note")).unwrap(),
        "readable"
    );

    // env: a declared name only.
    let env = Remediation::new("env-escape").env("MEDIC_TEST_DECLARED");
    let run = same_as_rust(&medic, python, &env, "env", "env-home", &[("name", "HOME")]);
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert_denial_audited(&medic, "env", "HOME", "not_in_manifest");
    assert_denial_audited(&medic, "exec", "/bin/sh", "not_in_manifest");
    assert_denial_audited(&medic, "fs", "link-out", "escape");
    medic.assert_audit_intact();
}

#[test]
fn a_python_guests_own_files_sockets_and_environment_reach_nothing() {
    let Some(python) = python_guest() else { return };
    let medic = medic();
    let secret = medic.root().join("secret");
    std::fs::write(&secret, "top secret").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let grant = Remediation::new("py-ambient");
    let dir = medic.install_component(&grant, python, &grant.ceiling());
    let tcp = format!("127.0.0.1:{port}");
    let run = medic.run_remediation(
        &dir,
        &medic.incident(
            "ambient",
            &[
                ("guest", "ambient"),
                ("path", &secret.display().to_string()),
                ("tcp", &tcp),
            ],
        ),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        report["summary"].as_str().unwrap(),
        "open: PermissionError; write: PermissionError; listdir: PermissionError; stat: PermissionError; socket: PermissionError; environ: 0; verified: ran",
        "{report:#}"
    );
    assert!(
        report["host_calls"].as_array().unwrap().is_empty(),
        "none of it reached medic's gates: there was nothing to reach"
    );
    assert!(!medic.root().join("secret.py-was-here").exists());
    assert_eq!(
        listener.accept().map_err(|error| error.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "no connection reached the listener"
    );
}

#[test]
fn the_python_sdk_passes_its_native_tests() {
    let sdk = medic_tests::workspace_root().join("python");
    let output = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "unittest", "discover", "-s", "tests", "-t", "."])
        .current_dir(&sdk)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("OK"), "{stderr}");
}
