//! The `exec` gate: the only place a remediation's request to run a program is decided
//! and carried out.
//!
//! A call is allowed only when the program is an absolute path listed in both the manifest
//! and the risk ceiling, with exactly as many arguments as the grant has patterns and each
//! argument matching its pattern in both. The program then runs directly (never through a
//! shell) in its own process group, with a cleared environment holding only the manifest's
//! env names (values from medic's environment) plus [`FIXED_ENV`], working directory
//! [`WORKDIR`], stdin from `/dev/null`, stdout and stderr captured up to the manifest's
//! `output` bytes each (the rest drained and dropped, truncation flagged), and a timeout
//! of half the call's own (at most [`MAX_EXEC_TIME`]) after which the whole process group
//! is killed, so the guest keeps time to react to a hung program. Every call, allowed or denied, is
//! audited before the guest sees the result.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::bindings::HostError;
use super::bindings::medic::remediation::exec::{Host, Output};
use super::state::HostState;
use crate::config;
use crate::manifest::grant::ExecGrant;

/// The working directory of every program medic runs for a remediation.
pub const WORKDIR: &str = "/";
/// Set for every program: pagers off, so a tool never waits on a terminal.
pub const FIXED_ENV: &[(&str, &str)] = &[
    ("PAGER", "cat"),
    ("SYSTEMD_PAGER", ""),
    ("GIT_PAGER", "cat"),
    ("LC_ALL", "C"),
];
/// Longest one exec may run, even when the call's own timeout is longer.
pub const MAX_EXEC_TIME: Duration = Duration::from_secs(300);
/// Most arguments a call may pass; more is denied before any matching.
const MAX_CALL_ARGS: usize = 64;

/// Decide a request: the grant that allows it, or why not.
pub(crate) fn check_exec<'g>(
    manifest: &'g [ExecGrant],
    ceiling: &[ExecGrant],
    program: &str,
    args: &[String],
) -> Result<&'g ExecGrant, String> {
    if !Path::new(program).is_absolute() {
        return Err(format!(
            "program `{program}` is not an absolute path; medic never searches PATH"
        ));
    }
    if args.len() > MAX_CALL_ARGS {
        return Err(format!(
            "{} arguments is more than any grant allows",
            args.len()
        ));
    }
    if args.iter().any(|arg| arg.contains('\0')) || program.contains('\0') {
        return Err("an argument contains a NUL byte".to_string());
    }
    let listed: Vec<&ExecGrant> = manifest
        .iter()
        .filter(|grant| Path::new(program) == grant.program)
        .collect();
    if listed.is_empty() {
        return Err(format!(
            "program `{program}` is not in the manifest's exec grants"
        ));
    }
    let Some(grant) = listed.iter().find(|grant| grant.matches(program, args)) else {
        let wanted: Vec<String> = listed.iter().map(|grant| grant.describe()).collect();
        return Err(format!(
            "arguments {args:?} match no exec grant for `{program}` (granted: {})",
            wanted.join(" | ")
        ));
    };
    if !ceiling.iter().any(|allowed| allowed.matches(program, args)) {
        return Err(format!(
            "`{program}` with arguments {args:?} is beyond the operator's ceiling for this risk level"
        ));
    }
    Ok(grant)
}

impl Host for HostState {
    async fn run(
        &mut self,
        program: String,
        args: Vec<String>,
    ) -> wasmtime::Result<Result<Output, HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        let target = describe(&program, &args);
        let grants = self.grants.clone();
        let decision = check_exec(
            &grants.manifest.grants.exec,
            &grants.ceiling.grants.exec,
            &program,
            &args,
        )
        .map(|grant| format!("matches `{}` ({})", grant.describe(), grant.origin));
        let reason = match decision {
            Ok(reason) => reason,
            Err(reason) => {
                self.record("exec", target, Err(reason.clone()), String::new(), started)?;
                return Ok(Err(HostError::Denied(reason)));
            }
        };
        let env: Vec<(String, String)> = grants
            .manifest
            .grants
            .env
            .iter()
            .filter_map(|grant| {
                config::host_env(&grant.name).map(|value| (grant.name.clone(), value))
            })
            .collect();
        let timeout = (grants.manifest.limits.timeout / 2).min(MAX_EXEC_TIME);
        let cap = usize::try_from(grants.manifest.limits.output).unwrap_or(usize::MAX);
        let outcome = spawn_and_wait(&program, &args, &env, timeout, cap).await;
        let result = match &outcome {
            Ok(output) => format!(
                "exit {} stdout {}B{} stderr {}B{}",
                output
                    .status
                    .map_or_else(|| "signal".to_string(), |status| status.to_string()),
                output.stdout.len(),
                if output.stdout_truncated {
                    " (truncated)"
                } else {
                    ""
                },
                output.stderr.len(),
                if output.stderr_truncated {
                    " (truncated)"
                } else {
                    ""
                },
            ),
            Err(error) => format!("failed: {error}"),
        };
        self.record("exec", target, Ok(reason), result, started)?;
        Ok(outcome.map_err(HostError::Failed))
    }
}

fn describe(program: &str, args: &[String]) -> String {
    let mut text = program.to_string();
    for arg in args {
        text.push(' ');
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            text.push_str(&format!("{arg:?}"));
        } else {
            text.push_str(arg);
        }
    }
    text
}

/// Kills the child's whole process group when dropped, so a timeout, or the guest being
/// abandoned mid-call, leaves no process behind.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

pub(crate) async fn spawn_and_wait(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    timeout: Duration,
    cap: usize,
) -> Result<Output, String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "sandbox/exec.rs is the exec gate: the one place remediation programs are spawned"
    )]
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(FIXED_ENV.iter().copied())
        .envs(
            env.iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
        .current_dir(WORKDIR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start `{program}`: {error}"))?;
    let guard = GroupGuard(child.id().and_then(|pid| i32::try_from(pid).ok()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let run = async {
        let (stdout, stderr, status) = tokio::join!(
            read_capped(stdout, cap),
            read_capped(stderr, cap),
            child.wait()
        );
        (stdout, stderr, status)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((stdout, stderr, status)) => {
            let status = status.map_err(|error| format!("waiting for `{program}`: {error}"))?;
            // The leader exited; anything it left in its group goes with the guard.
            drop(guard);
            let ((stdout, stdout_truncated), (stderr, stderr_truncated)) = (stdout, stderr);
            Ok(Output {
                status: status.code(),
                stdout,
                stderr,
                stdout_truncated,
                stderr_truncated,
            })
        }
        Err(_) => {
            drop(guard);
            Err(format!(
                "`{program}` timed out after {} and was killed",
                humantime::format_duration(timeout)
            ))
        }
    }
}

/// Read all of `reader`, keeping the first `cap` bytes; the flag says whether more came.
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
                truncated |= read > room;
            }
        }
    }
    (kept, truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use crate::manifest::grant::ArgPattern;

    fn grant(program: &str, args: &[&str]) -> ExecGrant {
        ExecGrant {
            program: program.into(),
            args: args
                .iter()
                .map(|arg| ArgPattern::parse(arg).unwrap())
                .collect(),
            origin: Origin {
                file: "t.toml".into(),
                field: "capabilities.exec[0]".into(),
                line: Some(1),
            },
        }
    }

    fn check(program: &str, args: &[&str]) -> Result<(), String> {
        let grants = [grant(
            "/usr/bin/supervisorctl",
            &["restart", "^[a-z][a-z0-9_-]{0,63}$"],
        )];
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        check_exec(&grants, &grants, program, &args).map(|_| ())
    }

    #[test]
    fn exec_allows_only_exact_program_and_matching_arguments() {
        assert_eq!(check("/usr/bin/supervisorctl", &["restart", "web"]), Ok(()));
        let denied = |program: &str, args: &[&str]| check(program, args).unwrap_err();
        assert!(denied("supervisorctl", &["restart", "web"]).contains("not an absolute path"));
        assert!(denied("/bin/sh", &["-c", "id"]).contains("not in the manifest"));
        assert!(
            denied("/usr/bin/../bin/supervisorctl", &["restart", "web"])
                .contains("not in the manifest")
        );
        assert!(
            denied("/usr/bin/supervisorctl", &["restart", "web; rm -rf /"])
                .contains("match no exec grant")
        );
        assert!(
            denied("/usr/bin/supervisorctl", &["restart", "--help"])
                .contains("match no exec grant")
        );
        assert!(
            denied("/usr/bin/supervisorctl", &["restart", "../../etc/passwd"])
                .contains("match no exec grant")
        );
        assert!(
            denied("/usr/bin/supervisorctl", &["restart", "web", "extra"])
                .contains("match no exec grant")
        );
        assert!(denied("/usr/bin/supervisorctl", &["restart"]).contains("match no exec grant"));
        assert!(
            denied("/usr/bin/supervisorctl", &["restart", "web\n"]).contains("match no exec grant")
        );
    }

    #[test]
    fn exec_checks_the_ceiling_too() {
        let manifest = [grant(
            "/usr/bin/systemctl",
            &["restart|stop", "[a-z]+\\.service"],
        )];
        let ceiling = [grant(
            "/usr/bin/systemctl",
            &["restart", "[a-z]+\\.service"],
        )];
        let args = vec!["stop".to_string(), "web.service".to_string()];
        let reason = check_exec(&manifest, &ceiling, "/usr/bin/systemctl", &args).unwrap_err();
        assert!(reason.contains("beyond the operator's ceiling"), "{reason}");
    }
}
