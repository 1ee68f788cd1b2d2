//! Exec programs from the hostile side: a shell, interpreter or launcher is refused
//! however it is spelled (a symlink, a copy, a script run by a writable interpreter), so
//! is a program a remediation could rewrite; the program that runs is the file checked at
//! load even when a local attacker swaps it mid-run; a program's detached children die
//! with its call; an over-long argument is audited by length and hash.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use medic_tests::{Medic, Remediation};

use super::{assert_healed, call, medic};

fn executable(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn refused_at_load(medic: &Medic, remediation: &Remediation, expected: &str) {
    let dir = medic.install(remediation);
    let result = medic.run_remediation(&dir, &medic.incident("load", &[("program", "/x")]));
    assert_eq!(result.code, 2, "{}{}", result.stdout, result.stderr);
    assert!(
        result.stderr.contains("capabilities.exec[0].program"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains(expected), "{}", result.stderr);
    assert!(!medic.data_dir().join("medic.db").exists(), "nothing ran");
}

#[test]
fn programs_that_run_code_or_that_a_remediation_could_rewrite_are_refused_at_load() {
    let medic = medic();
    let bin = medic.private_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("innocent")).unwrap();
    std::fs::copy("/usr/bin/env", bin.join("helper")).unwrap();
    std::fs::hard_link("/usr/bin/env", bin.join("linked")).ok();
    let writable_interpreter = executable(&bin, "interp", "#!/bin/sh\n", 0o777);
    let wrapped = executable(
        &bin,
        "wrapped",
        &format!("#!{}\n", writable_interpreter.display()),
        0o755,
    );
    let env_split = executable(&bin, "env-split", "#!/usr/bin/env -S sh -c\n", 0o755);
    let group_writable = executable(&bin, "shared", "#!/bin/sh\necho hi\n", 0o775);
    let work = medic.root().join("work");
    let inside = executable(&work, "tool", "#!/bin/sh\necho hi\n", 0o755);
    let exec = |program: &Path| {
        Remediation::new("exec-escape")
            .risk("medium")
            .exec(&program.display().to_string(), &["^x$"])
    };
    let mut cases = vec![
        (exec(&bin.join("innocent")), "is a shell"),
        (
            exec(&bin.join("helper")),
            "is a launcher that runs other programs",
        ),
        (exec(&wrapped), "writable by group or others"),
        (exec(&env_split), "`env` must name exactly one program"),
        (exec(&group_writable), "writable by group or others"),
        (
            exec(&inside).fs(&work, "read-write"),
            "lies inside the read-write grant",
        ),
        (
            exec(Path::new("/usr/bin/git")),
            "can be made to run commands",
        ),
    ];
    // medic itself runs commands (`medic heal --verify LINE -- CMD`): not by its path in
    // /proc, not by a copy under another name.
    let medic_binary = PathBuf::from(env!("CARGO_BIN_EXE_medic"));
    std::fs::copy(&medic_binary, bin.join("doctor")).unwrap();
    cases.push((
        exec(&bin.join("doctor")),
        "is a launcher that runs other programs (`medic, by its build id",
    ));
    if bin.join("linked").exists() {
        cases.push((
            exec(&bin.join("linked")),
            "is a launcher that runs other programs",
        ));
    }
    for (remediation, expected) in &cases {
        refused_at_load(&medic, remediation, expected);
    }
}

/// The running medic named by `/proc/self/exe` is medic, known by identity wherever it
/// was built. The embedded ceilings grant `/tmp` read-write, and a medic built under
/// `/tmp` would be refused for lying there first, so here no level grants any root.
#[test]
fn the_running_medic_is_never_a_grantable_program() {
    let mut medic = medic();
    medic.config_extra("[ceilings.low]\n[ceilings.high]\n");
    let remediation = Remediation::new("exec-escape")
        .risk("medium")
        .exec("/proc/self/exe", &["^x$"]);
    refused_at_load(
        &medic,
        &remediation,
        "is a launcher that runs other programs (`medic`)",
    );
}

#[test]
fn the_program_that_runs_is_the_file_checked_at_load() {
    let medic = medic();
    let bin = medic.private_dir().join("bin");
    let tool = executable(&bin, "tool", "#!/bin/sh\necho original \"$@\"\n", 0o755);
    let pwned = medic.root().join("pwned");
    let swap = executable(
        &bin,
        "swap",
        &format!(
            "#!/bin/sh\nrm -f {tool}\nprintf '#!/bin/sh\\ntouch {pwned}\\necho swapped\\n' > {tool}\nchmod 755 {tool}\n",
            tool = tool.display(),
            pwned = pwned.display()
        ),
        0o755,
    );
    let dir = medic.install(
        &Remediation::new("sequence")
            .risk("medium")
            .exec_script(&swap.display().to_string(), &[])
            .exec_script(&tool.display().to_string(), &["^[a-z]+$"]),
    );
    let steps = format!("exec {}\nexec {} checked", swap.display(), tool.display());
    let report =
        assert_healed(&medic.run_remediation(&dir, &medic.incident("swap", &[("steps", &steps)])));
    let detail = call(&report, "apply")["detail"].as_str().unwrap();
    assert!(
        detail.ends_with("status Some(0) stdout original checked"),
        "{detail}"
    );
    assert!(!pwned.exists(), "the swapped-in file never ran");
    assert!(
        std::fs::read_to_string(&tool).unwrap().contains("swapped"),
        "the attacker did swap the file"
    );
}

#[test]
fn a_programs_detached_children_do_not_outlive_its_call() {
    let medic = medic();
    let bin = medic.private_dir().join("bin");
    let pid_file = medic.root().join("pid");
    let detach = executable(
        &bin,
        "detach",
        "#!/bin/sh\nsetsid sleep 600 </dev/null >/dev/null 2>&1 &\necho $! > \"$1\"\n",
        0o755,
    );
    let dir = medic.install(
        &Remediation::new("exec-escape")
            .risk("medium")
            .exec_script(&detach.display().to_string(), &["^/tmp/[A-Za-z0-9._/-]+$"]),
    );
    let incident = medic.incident(
        "detach",
        &[
            ("program", &detach.display().to_string()),
            ("args", &pid_file.display().to_string()),
        ],
    );
    assert_healed(&medic.run_remediation(&dir, &incident));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .next()
                .map(str::to_string)
        });
    assert!(
        state.is_none() || state.as_deref() == Some("Z"),
        "the detached sleep {pid} outlived the call: {state:?}"
    );
}

#[test]
fn an_overlong_argument_is_audited_by_length_and_hash() {
    let medic = medic();
    let dir = medic.install(
        &Remediation::new("exec-escape")
            .risk("medium")
            .exec("/usr/bin/true", &["^a*$"]),
    );
    let long = "a".repeat(60_000);
    let incident = medic.incident("long", &[("program", "/usr/bin/true"), ("args", &long)]);
    assert_healed(&medic.run_remediation(&dir, &incident));
    let calls = medic.audited_calls("exec");
    let target = calls[0]["target"].as_str().unwrap();
    assert!(target.len() < 600, "{} bytes", target.len());
    assert!(target.contains("(60014 bytes, sha256 "), "{target}");
}
