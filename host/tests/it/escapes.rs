//! Regression tests for issue 8, from the outside review of the sandbox: each one is a
//! class of attack that got through once (a dry run trusting the author, an interpreter
//! or library swapped by another user, a copied shell, a squatted directory, a hard link
//! or bind mount into medic's state, a guest's huge return value, a signal while the guest
//! sleeps, an argument pointing at medic's key...), and asserts the refusal, its kind in
//! the audit log, that nothing happened, and a healthy host after.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use medic_tests::{Medic, Remediation};

use super::{assert_denial_audited, assert_denied, assert_healed, call, medic};

fn executable(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn steps(medic: &Medic, dir: &Path, id: &str, lines: &[String]) -> medic_tests::RunResult {
    medic.run_remediation(dir, &medic.incident(id, &[("steps", &lines.join("\n"))]))
}

#[test]
fn a_dry_run_trusts_read_only_only_where_the_ceiling_says_it() {
    let medic = medic();
    let marker = medic.root().join("touched");
    let remediation =
        Remediation::new("plan-abuse").exec_read_only("/usr/bin/touch", &["^/tmp/.*$"]);
    let ceiling = "[[ceilings.low.exec]]\nprogram = \"/usr/bin/touch\"\nargs = [\"^/tmp/.*$\"]\n";
    let dir = medic.install_with_ceiling(&remediation, ceiling);
    let incident = medic.incident(
        "author-says-read-only",
        &[
            ("op", "exec"),
            ("program", "/usr/bin/touch"),
            ("args", &marker.display().to_string()),
        ],
    );
    let result = medic.plan_remediation(&dir, &incident);
    assert_eq!(result.code, 2, "{}{}", result.stdout, result.stderr);
    assert!(
        result
            .stderr
            .contains("read-only exec `/usr/bin/touch` with 1 arguments allows"),
        "the load check refuses a read-only grant the ceiling does not make read-only: {}",
        result.stderr
    );
    assert!(!marker.exists());
}

#[test]
fn a_scripts_interpreter_runs_from_the_file_checked_even_when_its_link_is_swapped() {
    let medic = medic();
    let bin = medic.private_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let interp = bin.join("interp");
    std::os::unix::fs::symlink("/bin/dash", &interp).unwrap();
    let tool = executable(
        &bin,
        "tool",
        &format!(
            "#!{}\necho \"bash=${{BASH_VERSION:-no}}\"\n",
            interp.display()
        ),
    );
    let swap = executable(
        &bin,
        "swap",
        &format!("#!/bin/sh\nln -sfn /bin/bash {}\n", interp.display()),
    );
    let dir = medic.install(
        &Remediation::new("sequence")
            .risk("medium")
            .exec_script(&swap.display().to_string(), &[])
            .exec_script(&tool.display().to_string(), &[]),
    );
    let report = assert_healed(&steps(
        &medic,
        &dir,
        "interp",
        &[
            format!("exec {}", swap.display()),
            format!("exec {}", tool.display()),
        ],
    ));
    let detail = call(&report, "apply")["detail"].as_str().unwrap();
    assert!(
        detail.ends_with("stdout bash=no"),
        "dash ran, as checked: {detail}"
    );
    assert_eq!(std::fs::read_link(&interp).unwrap(), Path::new("/bin/bash"));
}

#[test]
fn programs_whose_files_or_libraries_someone_else_could_swap_are_refused() {
    let medic = medic();
    let open = medic.private_dir().join("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = medic.private_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A program in a directory anyone may write: it could be swapped under its name.
    let in_open = executable(&open, "tool", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut cases = vec![(
        in_open,
        "someone else could swap what the path names".to_string(),
    )];
    // A binary whose library search path is a directory anyone can write.
    let source = medic.private_dir().join("hello.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
    let built = bin.join("with-runpath");
    let compiled = Command::new("cc")
        .arg("-o")
        .arg(&built)
        .arg(&source)
        .arg(format!("-Wl,-rpath,{}", open.display()))
        .status()
        .is_ok_and(|status| status.success());
    if compiled {
        cases.push((built, "its library search path".to_string()));
    } else {
        println!("SKIPPED the RUNPATH case: no C compiler");
    }
    // A copy of a shell with a byte appended keeps its build id.
    let mut shell = std::fs::read("/bin/dash").unwrap();
    shell.push(0);
    let copy = bin.join("renamed");
    std::fs::write(&copy, shell).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    cases.push((copy, "by its build id".to_string()));
    for program in ["/usr/bin/sort", "/usr/bin/choom"] {
        if Path::new(program).exists() {
            cases.push((PathBuf::from(program), "is ".to_string()));
        }
    }
    for (program, expected) in cases {
        let dir = medic.install(
            &Remediation::new("exec-escape")
                .risk("medium")
                .exec_script(&program.display().to_string(), &[]),
        );
        let result = medic.run_remediation(&dir, &medic.incident("swap", &[("program", "/x")]));
        assert_eq!(result.code, 2, "{}: {}", program.display(), result.stderr);
        assert!(
            result.stderr.contains(&expected),
            "{}: {}",
            program.display(),
            result.stderr
        );
    }
}

#[test]
fn a_program_may_not_be_pointed_at_medics_state() {
    let medic = medic();
    let dir = medic.install(
        &Remediation::new("exec-escape")
            .risk("medium")
            .exec("/usr/bin/stat", &["^(--file=)?/.*$"]),
    );
    let key = medic.data_dir().join("keys/cache.key");
    for (index, arg) in [
        key.display().to_string(),
        format!("/var/log/../..{}", key.display()),
        format!("--file={}", medic.data_dir().display()),
    ]
    .iter()
    .enumerate()
    {
        let incident = medic.incident(
            &format!("state-arg-{index}"),
            &[("program", "/usr/bin/stat"), ("args", arg)],
        );
        assert_denied(
            &medic.run_remediation(&dir, &incident),
            "exec",
            "protected_state",
        );
    }
    assert_denial_audited(&medic, "exec", "cache.key", "protected_state");
    let fine = medic.incident(
        "state-arg-fine",
        &[("program", "/usr/bin/stat"), ("args", "/")],
    );
    assert_healed(&medic.run_remediation(&dir, &fine));
}

#[test]
fn a_directory_another_user_made_first_is_not_used() {
    let medic = medic();
    if !nix::unistd::geteuid().is_root() {
        println!("SKIPPED: needs root to make another user's directory");
        return;
    }
    let logs = tempfile::Builder::new()
        .prefix("medic-squat-")
        .tempdir_in("/tmp")
        .unwrap();
    for day in 1..=3 {
        std::fs::write(
            logs.path().join(format!("app.log.{day}")),
            vec![b'x'; 100_000],
        )
        .unwrap();
    }
    let squatted = logs.path().join(".medic-quarantine");
    std::fs::create_dir(&squatted).unwrap();
    nix::unistd::chown(&squatted, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let incident = medic.incident_for(
        "squat",
        "host",
        "disk_full",
        &[
            ("dir", &logs.path().display().to_string()),
            ("max_bytes", "150KB"),
        ],
    );
    let result = medic.run(&[
        "run",
        "free-disk-space",
        "--incident",
        &incident.display().to_string(),
        "--json",
    ]);
    assert_denied(&result, "fs", "foreign_directory");
    for day in 1..=3 {
        assert!(
            logs.path().join(format!("app.log.{day}")).exists(),
            "nothing moved"
        );
    }
    assert!(std::fs::read_dir(&squatted).unwrap().next().is_none());
}

#[test]
fn hard_links_bind_mounts_and_listed_mount_roots_do_not_reach_outside() {
    let medic = medic();
    let granted = medic.root().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let outside = medic.root().join("outside");
    std::fs::write(&outside, "outside the root").unwrap();
    std::fs::hard_link(&outside, granted.join("linked")).unwrap();
    let dir = medic.install(
        &Remediation::new("sequence")
            .risk("medium")
            .fs(&granted, "read-write"),
    );
    let result = steps(
        &medic,
        &dir,
        "hard-link",
        &[format!("read {}/linked", granted.display())],
    );
    assert_denied(&result, "fs", "special_file");
    let result = steps(
        &medic,
        &dir,
        "hard-link-write",
        &[format!("write {}/linked owned", granted.display())],
    );
    assert_denied(&result, "fs", "special_file");
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "outside the root"
    );

    let elsewhere = medic.private_dir().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mount = granted.join("mounted");
    std::fs::create_dir_all(&mount).unwrap();
    let bound = Command::new("mount")
        .arg("--bind")
        .arg(&elsewhere)
        .arg(&mount)
        .status();
    if !bound.is_ok_and(|status| status.success()) {
        println!("SKIPPED the bind-mount cases: this machine does not allow bind mounts");
        return;
    }
    let result = steps(
        &medic,
        &dir,
        "bind-write",
        &[format!("write {}/planted text", mount.display())],
    );
    let _ = Command::new("umount").arg(&mount).status();
    assert_denied(&result, "fs", "crosses_mount");
    assert!(!elsewhere.join("planted").exists());
    let state_view = granted.join("state");
    std::fs::create_dir_all(&state_view).unwrap();
    let bound = Command::new("mount")
        .arg("--bind")
        .arg(medic.data_dir())
        .arg(&state_view)
        .status()
        .expect("mount");
    assert!(bound.success());
    let result = steps(
        &medic,
        &dir,
        "bind-list",
        &[format!("list {}", state_view.display())],
    );
    let _ = Command::new("umount").arg(&state_view).status();
    assert_denied(&result, "fs", "protected_state");
    assert_denial_audited(&medic, "fs", "list", "protected_state");
}

#[test]
fn creating_directories_and_returning_text_are_bounded() {
    let medic = medic();
    let granted = medic.root().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let dir = medic.install(
        &Remediation::new("sequence")
            .risk("medium")
            .fs(&granted, "read-write")
            .limit("memory", "64MiB"),
    );
    let deep: String = (0..20).map(|index| format!("/d{index}")).collect();
    let result = steps(
        &medic,
        &dir,
        "deep",
        &[format!("mkdir {}{deep}", granted.display())],
    );
    assert_denied(&result, "fs", "over_cap");
    assert!(!granted.join("d0").exists(), "no directory was made");
    let result = steps(
        &medic,
        &dir,
        "huge-summary",
        &["return-bytes 20000000".to_string()],
    );
    let report = assert_healed(&result);
    let detail = call(&report, "apply")["detail"].as_str().unwrap();
    assert!(detail.len() < 1000, "{} bytes kept", detail.len());
    assert!(
        detail.contains("(20000000 bytes, sha256 "),
        "{}",
        &detail[..200.min(detail.len())]
    );
    let database = std::fs::metadata(medic.data_dir().join("medic.db"))
        .unwrap()
        .len()
        + std::fs::metadata(medic.data_dir().join("medic.db-wal"))
            .map_or(0, |metadata| metadata.len());
    assert!(
        database < 8 << 20,
        "the database stayed small: {database} bytes"
    );
}

#[test]
fn a_checkpoint_saved_again_is_charged_by_its_growth() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("checkpoint-probe").limit("memory", "64MiB"));
    let result = medic.run_remediation(&dir, &medic.incident("grow", &[("op", "grow")]));
    let report = result.json();
    let detail = call(&report, "apply")["detail"].as_str().unwrap();
    assert!(detail.ends_with("grew to 100000 bytes"), "{detail}");
    assert_eq!(report["status"], "rolled_back", "{report:#}");
}

#[test]
fn http_refuses_method_overrides_bodies_in_plan_and_unlisted_queries() {
    let medic = medic();
    let server = medic_tests::Server::start(|_, _, _| medic_tests::Reply::new(200, "ok"));
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("GET", &format!("http://127.0.0.1:{}/health", server.port())),
    );
    let override_header = medic.incident(
        "override",
        &[
            ("url", &server.url("/health")),
            ("header", "X-HTTP-Method-Override: DELETE"),
        ],
    );
    assert_denied(
        &medic.run_remediation(&dir, &override_header),
        "http",
        "malformed",
    );
    let query = medic.incident("query", &[("url", &server.url("/health?action=shutdown"))]);
    assert_denied(
        &medic.run_remediation(&dir, &query),
        "http",
        "not_in_manifest",
    );
    assert!(server.hits().is_empty());
    let fine = medic.incident("fine", &[("url", &server.url("/health"))]);
    assert_healed(&medic.run_remediation(&dir, &fine));
}

#[test]
fn stderr_escapes_what_a_guest_puts_in_a_log_line() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("fs-escape"));
    let hostile = "/\u{1b}]0;owned\u{7}\u{1b}[2J";
    let incident = medic.incident("stderr", &[("op", "read"), ("path", hostile)]);
    let result = medic.run(&[
        "-vv",
        "run",
        &dir.display().to_string(),
        "--incident",
        &incident.display().to_string(),
    ]);
    assert_eq!(result.code, 4, "{}", result.stderr);
    assert!(
        !result.stderr.contains('\u{1b}') && !result.stderr.contains('\u{7}'),
        "{:?}",
        result.stderr
    );
    assert!(result.stderr.contains("\\u{1b}"), "{}", result.stderr);
}

#[test]
fn an_unsafe_or_redirected_data_dir_is_refused_and_the_database_is_private() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("limits-abuse"));
    let incident = medic.incident("private", &[("attack", "none")]);
    assert_healed(&medic.run_remediation(&dir, &incident));
    let mode = std::fs::metadata(medic.data_dir().join("medic.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::set_permissions(medic.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let result = medic.run_remediation(&dir, &incident);
    assert_eq!(result.code, 2);
    assert!(
        result
            .stderr
            .contains("group or others may read it (mode 755)"),
        "{}",
        result.stderr
    );
    std::fs::set_permissions(medic.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    if nix::unistd::geteuid().is_root() {
        let link = medic.root().join("data-link");
        std::os::unix::fs::symlink(medic.data_dir(), &link).unwrap();
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(nix::unistd::Uid::from_raw(65534)),
            None,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let result = Command::new(env!("CARGO_BIN_EXE_medic"))
            .arg("--data-dir")
            .arg(&link)
            .args(["audit", "show"])
            .env("MEDIC_SYSTEM_CONFIG", "")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2));
        assert!(
            stderr.contains("this symlink on the way to the data directory belongs to uid 65534"),
            "{stderr}"
        );
    }
}
