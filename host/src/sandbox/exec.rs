//! The `exec` gate: the only place a remediation's request to run a program is decided.
//!
//! A call is allowed only when the program is an absolute path listed in both the manifest
//! and the risk ceiling, with exactly as many arguments as the grant has patterns and each
//! argument matching its pattern in both. While `plan` runs, only grants marked
//! `read_only = true` (status commands) may run. The program that runs is the file checked
//! when the remediation was loaded (`process/program.rs`), from the descriptor opened then;
//! `process/` starts it without a shell, with a cleared environment holding only the
//! manifest's declared env names, and kills everything it started when the call ends.
//! Every call, allowed or denied, is audited before the guest sees the result.

use std::path::Path;
use std::time::{Duration, Instant};

use super::Operation;
use super::bindings::HostError;
use super::bindings::medic::remediation::exec::{Host, Output};
use super::denial::{Denial, DenialKind};
use super::rate::{Limit, exec_key};
use super::state::HostState;
use super::world::{ScriptedExec, World};
use crate::manifest::grant::ExecGrant;
use crate::process::{self, ProcessError, Program, Spawn};

/// Longest one exec may run, even when the call's own timeout is longer.
pub const MAX_EXEC_TIME: Duration = Duration::from_secs(300);
/// Most arguments a call may pass (as many as a grant may declare); more is malformed.
const MAX_CALL_ARGS: usize = crate::manifest::grant::MAX_ARGS;

/// Decide a request: the grant that allows it, or why not.
pub(crate) fn check_exec<'g>(
    manifest: &'g [ExecGrant],
    ceiling: &[ExecGrant],
    operation: Operation,
    program: &str,
    args: &[String],
) -> Result<&'g ExecGrant, Denial> {
    let malformed = |reason: String| Denial::new(DenialKind::Malformed, reason);
    if !Path::new(program).is_absolute() {
        return Err(malformed(format!(
            "program `{program}` is not an absolute path; medic never searches PATH"
        )));
    }
    if args.len() > MAX_CALL_ARGS {
        return Err(malformed(format!(
            "{} arguments is more than any grant allows",
            args.len()
        )));
    }
    if args.iter().any(|arg| arg.contains('\0')) || program.contains('\0') {
        return Err(malformed("an argument contains a NUL byte".to_string()));
    }
    let listed: Vec<&ExecGrant> = manifest
        .iter()
        .filter(|grant| Path::new(program) == grant.program)
        .collect();
    if listed.is_empty() {
        return Err(Denial::new(
            DenialKind::NotInManifest,
            format!("program `{program}` is not in the manifest's exec grants"),
        ));
    }
    let Some(grant) = listed.iter().find(|grant| grant.matches(program, args)) else {
        let wanted: Vec<String> = listed.iter().map(|grant| grant.describe()).collect();
        return Err(Denial::new(
            DenialKind::NotInManifest,
            format!(
                "arguments {args:?} match no exec grant for `{program}` (granted: {})",
                wanted.join(" | ")
            ),
        ));
    };
    let allowed: Vec<&ExecGrant> = ceiling
        .iter()
        .filter(|allowed| allowed.matches(program, args))
        .collect();
    if allowed.is_empty() {
        return Err(Denial::new(
            DenialKind::BeyondCeiling,
            format!(
                "`{program}` with arguments {args:?} is beyond the operator's ceiling for this risk level"
            ),
        ));
    }
    // A read-only status command is the operator's statement, not the author's: the
    // manifest's flag counts only where a matching ceiling entry says so too.
    if operation == Operation::Plan
        && !(grant.read_only && allowed.iter().any(|entry| entry.read_only))
    {
        return Err(Denial::new(
            DenialKind::DuringPlan,
            format!(
                "`plan` is a dry run and may not run `{program}`: only grants marked `read_only = true` in both the manifest and the operator's ceiling run during plan ({})",
                grant.origin
            ),
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
        let started = Instant::now();
        let target = describe(&program, &args);
        if let Err(denial) = self.begin()? {
            return self.deny("exec", target, denial, started);
        }
        let grants = self.grants.clone();
        let grant = match check_exec(
            &grants.manifest.grants.exec,
            &grants.scope.ceiling.grants.exec,
            self.operation,
            &program,
            &args,
        ) {
            Ok(grant) => grant,
            Err(denial) => return self.deny("exec", target, denial, started),
        };
        if let Some(denial) = args
            .iter()
            .find_map(|arg| reaches_state(arg, &grants.scope.protected))
        {
            return self.deny("exec", target, denial, started);
        }
        let limits = rate_limits(
            grant,
            &grants.scope.ceiling.grants.exec,
            &self.grants.manifest.name,
            (&program, &args),
            &target,
        );
        if let Err(denial) = self.admit(&limits) {
            return self.deny("exec", target, denial, started);
        }
        let env = match child_env(grant, &grants.scope) {
            Ok(env) => env,
            Err(denial) => return self.deny("exec", target, denial, started),
        };
        let reason = format!("matches `{}` ({})", grant.describe(), grant.origin);
        self.used_grant(&grant.origin);
        if let World::Scripted(world) = &grants.scope.world {
            let output_cap = usize::try_from(grants.manifest.limits.output)
                .unwrap_or(usize::MAX)
                .min(self.limiter.room() / 2);
            let answer = scripted(
                world.exec(self.operation, &program, &args),
                &program,
                output_cap,
            );
            let result = match &answer {
                Ok(output) => describe_result(
                    output.status,
                    None,
                    (output.stdout.len(), output.stdout_truncated),
                    (output.stderr.len(), output.stderr_truncated),
                ),
                Err(HostError::NotFound(what)) => format!("not found: {what}"),
                Err(HostError::Failed(message)) => format!("failed: {message}"),
                Err(_) => "failed".to_string(),
            };
            self.record("exec", target, Ok(reason), result, started)?;
            let redactor = &grants.scope.redactor;
            return Ok(answer.map(|output| Output {
                stdout: bounded(redactor, &output.stdout, output.stdout_truncated),
                stderr: bounded(redactor, &output.stderr, output.stderr_truncated),
                ..output
            }));
        }
        let Some(Some(checked)) = grants.scope.programs.get(&grant.program) else {
            let missing = format!("`{program}` does not exist on this host");
            self.record(
                "exec",
                target,
                Ok(reason),
                format!("not found: {missing}"),
                started,
            )?;
            return Ok(Err(HostError::NotFound(missing)));
        };
        let timeout = self.remaining((grants.manifest.limits.timeout / 2).min(MAX_EXEC_TIME));
        self.acting("exec", &target, &reason, started);
        let output_cap = usize::try_from(grants.manifest.limits.output)
            .unwrap_or(usize::MAX)
            .min(self.limiter.room() / 2);
        let outcome = process::run(Spawn {
            program: Program::Checked(checked),
            args: &args,
            env: &env,
            timeout,
            output_cap,
            stop: Some(&self.stop),
        })
        .await;
        let result = match &outcome {
            Ok(output) => describe_result(
                output.status,
                output.signal,
                (output.stdout.len(), output.stdout_truncated),
                (output.stderr.len(), output.stderr_truncated),
            ),
            Err(error) => format!("failed: {error}"),
        };
        self.record("exec", target, Ok(reason), result, started)?;
        let redactor = &grants.scope.redactor;
        match outcome {
            Ok(output) => Ok(Ok(Output {
                status: output.status,
                stdout: bounded(redactor, &output.stdout, output.stdout_truncated),
                stderr: bounded(redactor, &output.stderr, output.stderr_truncated),
                stdout_truncated: output.stdout_truncated,
                stderr_truncated: output.stderr_truncated,
            })),
            Err(ProcessError::Stopped { signal, .. }) => {
                Err(wasmtime::Error::new(super::limits::Interrupted(signal)))
            }
            Err(error) => Ok(Err(HostError::Failed(error.to_string()))),
        }
    }
}

/// The audit line for a finished program: its status and how much it printed.
fn describe_result(
    status: Option<i32>,
    signal: Option<i32>,
    (stdout, stdout_truncated): (usize, bool),
    (stderr, stderr_truncated): (usize, bool),
) -> String {
    let cut = |truncated: bool| if truncated { " (truncated)" } else { "" };
    format!(
        "exit {} stdout {stdout}B{} stderr {stderr}B{}",
        match (status, signal) {
            (Some(status), _) => status.to_string(),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "unknown".to_string(),
        },
        cut(stdout_truncated),
        cut(stderr_truncated),
    )
}

/// A scripted world's answer as the guest gets it: output cut at `cap` as a real run's
/// would be.
fn scripted(answer: ScriptedExec, program: &str, cap: usize) -> Result<Output, HostError> {
    let cut = |mut bytes: Vec<u8>| {
        let truncated = bytes.len() > cap;
        bytes.truncate(cap);
        (bytes, truncated)
    };
    match answer {
        ScriptedExec::Ran {
            status,
            stdout,
            stderr,
        } => {
            let (stdout, stdout_truncated) = cut(stdout);
            let (stderr, stderr_truncated) = cut(stderr);
            Ok(Output {
                status,
                stdout,
                stderr,
                stdout_truncated,
                stderr_truncated,
            })
        }
        ScriptedExec::Missing => Err(HostError::NotFound(format!(
            "`{program}` does not exist on this host"
        ))),
        ScriptedExec::Failed(message) => Err(HostError::Failed(message)),
    }
}

/// The limits on this call: its grant's, counted for this remediation, and each matching
/// ceiling entry's, counted across remediations.
fn rate_limits<'g>(
    grant: &'g ExecGrant,
    ceiling: &'g [ExecGrant],
    remediation: &str,
    (program, args): (&str, &[String]),
    target: &str,
) -> Vec<(Limit<'g>, String)> {
    let own = grant.rate.as_ref().map(|rate| Limit {
        scope: format!("remediation {remediation}: exec {}", grant.describe()),
        rate,
    });
    let operator = ceiling
        .iter()
        .filter(|entry| entry.matches(program, args))
        .filter_map(|entry| {
            entry.rate.as_ref().map(|rate| Limit {
                scope: format!("ceiling: exec {}", entry.describe()),
                rate,
            })
        });
    own.into_iter()
        .chain(operator)
        .map(|limit| {
            let key = exec_key(&limit.rate.key, target, args);
            (limit, key)
        })
        .collect()
}

/// The child's environment: the manifest's declared names that are set, and the grant's
/// secret variables, which the host sets from values the guest never sees.
fn child_env(
    grant: &ExecGrant,
    scope: &super::state::Scope,
) -> Result<Vec<(String, String)>, Denial> {
    let mut env: Vec<(String, String)> = scope
        .env
        .iter()
        .filter(|(name, _)| !grant.secret_env.iter().any(|(secret, _)| secret == name))
        .cloned()
        .collect();
    for (name, handle) in &grant.secret_env {
        let value = scope.secrets.get(handle).ok_or_else(|| {
            Denial::new(
                DenialKind::BeyondCeiling,
                format!("secret `{handle}` for `{name}` was not resolved for this run"),
            )
        })?;
        env.push((name.clone(), value.to_string()));
    }
    Ok(env)
}

/// Refuse an argument that names medic's own state (its data directory, anything in it,
/// a directory above it other than `/` itself, or the configuration file) by any
/// spelling: `..`, a symlink, `--opt=/path`. Programs run as medic's user and could
/// otherwise read or rewrite it for the guest.
fn reaches_state(arg: &str, protected: &crate::store::data_dir::Protected) -> Option<Denial> {
    let candidates = std::iter::once(arg).chain(arg.split_once('=').map(|(_, value)| value));
    for candidate in candidates.filter(|candidate| candidate.contains('/')) {
        let mut normal = std::path::PathBuf::from(WORKDIR_ROOT);
        for part in Path::new(candidate).components() {
            match part {
                std::path::Component::RootDir => normal = std::path::PathBuf::from("/"),
                std::path::Component::ParentDir => {
                    normal.pop();
                }
                std::path::Component::Normal(name) => normal.push(name),
                _ => {}
            }
        }
        if normal == Path::new("/") {
            continue;
        }
        if let Some((relation, state)) = protected.relation_of_path(&normal) {
            return Some(Denial::new(
                DenialKind::ProtectedState,
                format!(
                    "argument `{arg}` names `{}`, which {} medic's own state `{}`; no program may be pointed at it",
                    normal.display(),
                    relation.as_str(),
                    state.display()
                ),
            ));
        }
    }
    None
}

/// Where a relative argument is resolved from: the working directory of every program.
const WORKDIR_ROOT: &str = crate::process::WORKDIR;

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

/// A program's output, redacted; cut short at its cap, a tail that starts a secret goes too.
fn bounded(redactor: &crate::secrets::Redactor, bytes: &[u8], truncated: bool) -> Vec<u8> {
    if truncated {
        redactor.redact_truncated(bytes).into_owned()
    } else {
        redactor.redact_bytes(bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use crate::manifest::grant::ArgPattern;

    fn grant(program: &str, args: &[&str], read_only: bool) -> ExecGrant {
        ExecGrant {
            program: program.into(),
            args: args
                .iter()
                .map(|arg| ArgPattern::parse(arg).unwrap())
                .collect(),
            read_only,
            interpreted: false,
            secret_env: Vec::new(),
            rate: None,
            origin: Origin {
                file: "t.toml".into(),
                field: "capabilities.exec[0]".into(),
                line: Some(1),
            },
        }
    }

    fn check(operation: Operation, program: &str, args: &[&str]) -> Result<(), DenialKind> {
        let grants = [
            grant(
                "/usr/bin/supervisorctl",
                &["restart", "^[a-z][a-z0-9_-]{0,63}$"],
                false,
            ),
            grant("/usr/bin/supervisorctl", &["status", "^[a-z]+$"], true),
        ];
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        check_exec(&grants, &grants, operation, program, &args)
            .map(|_| ())
            .map_err(|denial| denial.kind)
    }

    #[test]
    fn exec_allows_only_exact_program_and_matching_arguments() {
        use DenialKind::*;
        let apply = Operation::Apply;
        let ctl = "/usr/bin/supervisorctl";
        let cases: &[(&str, &[&str], Result<(), DenialKind>)] = &[
            (ctl, &["restart", "web"], Ok(())),
            ("supervisorctl", &["restart", "web"], Err(Malformed)),
            ("/bin/sh", &["-c", "id"], Err(NotInManifest)),
            (
                "/usr/bin/../bin/supervisorctl",
                &["restart", "web"],
                Err(NotInManifest),
            ),
            (ctl, &["restart", "web; rm -rf /"], Err(NotInManifest)),
            (ctl, &["restart", "--help"], Err(NotInManifest)),
            (ctl, &["restart", "../../etc/passwd"], Err(NotInManifest)),
            (ctl, &["restart", "web", "extra"], Err(NotInManifest)),
            (ctl, &["restart"], Err(NotInManifest)),
            (ctl, &["restart", "web\n"], Err(NotInManifest)),
            (ctl, &["restart", "we\0b"], Err(Malformed)),
        ];
        for (program, args, expected) in cases {
            assert_eq!(check(apply, program, args), *expected, "{program} {args:?}");
        }
    }

    #[test]
    fn plan_runs_only_grants_the_manifest_and_the_ceiling_both_call_read_only() {
        let ctl = "/usr/bin/supervisorctl";
        assert_eq!(
            check(Operation::Plan, ctl, &["restart", "web"]),
            Err(DenialKind::DuringPlan)
        );
        assert_eq!(check(Operation::Plan, ctl, &["status", "web"]), Ok(()));
        assert_eq!(check(Operation::Verify, ctl, &["restart", "web"]), Ok(()));
        // The author calls `restart` read-only; the operator's ceiling does not.
        let manifest = [grant(ctl, &["restart", "[a-z]+"], true)];
        let ceiling = [grant(ctl, &["restart", "[a-z]+"], false)];
        let args = vec!["restart".to_string(), "web".to_string()];
        let denial = check_exec(&manifest, &ceiling, Operation::Plan, ctl, &args).unwrap_err();
        assert_eq!(denial.kind, DenialKind::DuringPlan);
    }

    #[test]
    fn exec_checks_the_ceiling_too() {
        let manifest = [grant(
            "/usr/bin/systemctl",
            &["restart|stop", "[a-z]+\\.service"],
            false,
        )];
        let ceiling = [grant(
            "/usr/bin/systemctl",
            &["restart", "[a-z]+\\.service"],
            false,
        )];
        let args = vec!["stop".to_string(), "web.service".to_string()];
        let denial = check_exec(
            &manifest,
            &ceiling,
            Operation::Apply,
            "/usr/bin/systemctl",
            &args,
        )
        .unwrap_err();
        assert_eq!(denial.kind, DenialKind::BeyondCeiling);
    }
}
