//! Restart a Kubernetes workload's pods with `kubectl rollout restart`, then wait for the
//! rollout with `kubectl rollout status`.
//!
//! Parameters (incident `params`):
//! - `name`: the deployment, statefulset or daemonset; defaults to the incident's resource id.
//! - `namespace`: its namespace; defaults to the incident's `namespace` label.
//! - `kind`: `deployment` (default), `statefulset` or `daemonset`.
//! - The cluster, exactly one of: `kubeconfig`, a `.conf`, `.yaml` or `.kubeconfig` file
//!   under `/etc/kubernetes` (root's to write, since a kubeconfig may name a credential
//!   program kubectl runs), or `server`, a loopback API server such as `kubectl proxy`
//!   (`http://127.0.0.1:8001`).
//! - `timeout_secs`: how long verify waits for the rollout (default 120, at most 140, so
//!   that kubectl ends within the half of the manifest's 300 s that medic gives one program).
//!
//! medic runs kubectl with a cleared environment: no `HOME`, no `KUBECONFIG`, so the
//! cluster is always named here, and `--cache-dir=/dev/null` keeps kubectl from writing its
//! discovery cache under its working directory `/`.
//!
//! A restart has no inverse: `kubectl rollout undo` would put an older pod template back,
//! a change of its own, not an undo. `rollback` changes nothing and says so.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, exec, log};

const KUBECTL: &str = "/usr/bin/kubectl";
/// A directory cannot be made inside `/dev/null`: kubectl keeps its cache in memory.
const NO_DISK_CACHE: &str = "--cache-dir=/dev/null";
const DEFAULT_TIMEOUT_SECS: u64 = 120;
/// medic gives one program half the manifest's 300 s; kubectl must give up first.
const MAX_TIMEOUT_SECS: u64 = 140;

struct RolloutRestart;

#[derive(Debug, PartialEq, Eq)]
enum Cluster<'a> {
    Kubeconfig(&'a str),
    Server(&'a str),
}

/// Everything a run needs from the incident, checked before anything runs.
#[derive(Debug, PartialEq, Eq)]
struct Settings<'a> {
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
    cluster: Cluster<'a>,
    timeout_secs: u64,
}

fn settings(incident: &Incident) -> Result<Settings<'_>, Error> {
    let name = incident.param("name").unwrap_or(&incident.resource_id);
    if name.is_empty() {
        return Err(Error::invalid_input(
            "no workload named: set `name` or the resource id",
        ));
    }
    let kind = incident.param("kind").unwrap_or("deployment");
    if !["deployment", "statefulset", "daemonset"].contains(&kind) {
        return Err(Error::invalid_input(format!(
            "unknown kind `{kind}`: expected `deployment`, `statefulset` or `daemonset`"
        )));
    }
    let cluster = match (incident.param("kubeconfig"), incident.param("server")) {
        (Some(path), None) => Cluster::Kubeconfig(path),
        (None, Some(url)) => Cluster::Server(url),
        (Some(_), Some(_)) => {
            return Err(Error::invalid_input(
                "both `kubeconfig` and `server` are set: name the cluster once",
            ));
        }
        (None, None) => {
            return Err(Error::invalid_input(
                "no cluster named: set `kubeconfig` (a file under /etc/kubernetes) or `server` (a loopback API server such as `kubectl proxy`)",
            ));
        }
    };
    let timeout_secs = match incident.param("timeout_secs") {
        None => DEFAULT_TIMEOUT_SECS,
        Some(text) => text
            .parse()
            .ok()
            .filter(|secs| (1..=MAX_TIMEOUT_SECS).contains(secs))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "`timeout_secs` must be a number of seconds from 1 to {MAX_TIMEOUT_SECS}, got `{text}`"
                ))
            })?,
    };
    Ok(Settings {
        kind,
        name,
        namespace: incident.require_param("namespace")?,
        cluster,
        timeout_secs,
    })
}

impl Settings<'_> {
    /// kubectl's arguments for `action`, after the cluster and cache flags.
    fn args(&self, action: &[&str]) -> Vec<String> {
        let (flag, value) = match self.cluster {
            Cluster::Kubeconfig(path) => ("--kubeconfig", path),
            Cluster::Server(url) => ("--server", url),
        };
        [flag, value, NO_DISK_CACHE]
            .iter()
            .chain(action)
            .map(|arg| arg.to_string())
            .collect()
    }

    fn restart_args(&self) -> Vec<String> {
        self.args(&[
            "rollout",
            "restart",
            self.kind,
            self.name,
            "--namespace",
            self.namespace,
        ])
    }

    fn status_args(&self) -> Vec<String> {
        let timeout = format!("{}s", self.timeout_secs);
        self.args(&[
            "rollout",
            "status",
            self.kind,
            self.name,
            "--namespace",
            self.namespace,
            "--timeout",
            &timeout,
        ])
    }

    fn workload(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

fn kubectl(args: &[String]) -> Result<exec::Output, Error> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    exec::run(KUBECTL, &args)
}

fn shown(args: &[String]) -> String {
    format!("{KUBECTL} {}", args.join(" "))
}

/// The last line of what kubectl said, where it puts its verdict.
fn last_line(output: &exec::Output) -> String {
    let stdout = output.stdout_lossy();
    let stderr = output.stderr_lossy();
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    text.trim().lines().last().unwrap_or_default().to_string()
}

impl Remediation for RolloutRestart {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let settings = settings(incident)?;
        Ok(vec![
            Step::exec(
                shown(&settings.restart_args()),
                "replace the workload's pods, a few at a time, as its rollout strategy says",
            ),
            Step::exec(
                shown(&settings.status_args()),
                "wait for every pod to be replaced and available",
            ),
        ])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let args = settings.restart_args();
        log::progress(10, &format!("restarting {}", settings.workload()));
        let output = kubectl(&args)?;
        if !output.success() {
            return Err(Error::failed(format!(
                "{} failed (status {:?}): {}",
                shown(&args),
                output.status,
                last_line(&output)
            )));
        }
        log::progress(40, "rollout started");
        Ok(format!("{}: {}", shown(&args), last_line(&output)))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let settings = settings(incident)?;
        let output = kubectl(&settings.status_args())?;
        let said = last_line(&output);
        Ok(if output.success() {
            Verdict::healthy(said)
        } else {
            Verdict::unhealthy(format!(
                "{} has not rolled out (kubectl status {:?}): {said}",
                settings.workload(),
                output.status
            ))
        })
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        Ok("nothing to undo: a rollout restart has no inverse (`kubectl rollout undo` would put an older pod template back, a change of its own)".to_string())
    }
}

medic_guest_sdk::export_remediation!(RolloutRestart);

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(params: &[(&str, &str)]) -> Incident {
        Incident {
            id: "i-1".to_string(),
            source: "cli".to_string(),
            resource_kind: "deployment".to_string(),
            resource_id: "web".to_string(),
            issue_type: "service_down".to_string(),
            summary: String::new(),
            labels: Vec::new(),
            params: params
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    #[test]
    fn arguments_name_the_cluster_first_and_never_cache_on_disk() {
        let check = |params: &[(&str, &str)], restart: &str, status: &str| {
            let incident = incident(params);
            let settings = settings(&incident).unwrap();
            assert_eq!(settings.restart_args().join(" "), restart, "{params:?}");
            assert_eq!(settings.status_args().join(" "), status, "{params:?}");
        };
        check(
            &[("namespace", "shop"), ("server", "http://127.0.0.1:8001")],
            "--server http://127.0.0.1:8001 --cache-dir=/dev/null rollout restart deployment web --namespace shop",
            "--server http://127.0.0.1:8001 --cache-dir=/dev/null rollout status deployment web --namespace shop --timeout 120s",
        );
        check(
            &[
                ("namespace", "db"),
                ("name", "pg"),
                ("kind", "statefulset"),
                ("kubeconfig", "/etc/kubernetes/admin.conf"),
                ("timeout_secs", "30"),
            ],
            "--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/dev/null rollout restart statefulset pg --namespace db",
            "--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/dev/null rollout status statefulset pg --namespace db --timeout 30s",
        );
    }

    #[test]
    fn settings_refuse_what_cannot_work() {
        let check = |params: &[(&str, &str)], expected: &str| {
            assert_eq!(
                settings(&incident(params)),
                Err(Error::invalid_input(expected)),
                "{params:?}"
            );
        };
        let server = ("server", "http://127.0.0.1:8001");
        check(&[server], "incident has no parameter `namespace`");
        check(
            &[("namespace", "shop")],
            "no cluster named: set `kubeconfig` (a file under /etc/kubernetes) or `server` (a loopback API server such as `kubectl proxy`)",
        );
        check(
            &[
                ("namespace", "shop"),
                server,
                ("kubeconfig", "/etc/kubernetes/admin.conf"),
            ],
            "both `kubeconfig` and `server` are set: name the cluster once",
        );
        check(
            &[("namespace", "shop"), server, ("timeout_secs", "141")],
            "`timeout_secs` must be a number of seconds from 1 to 140, got `141`",
        );
        check(
            &[("namespace", "shop"), server, ("timeout_secs", "0")],
            "`timeout_secs` must be a number of seconds from 1 to 140, got `0`",
        );
        check(
            &[("namespace", "shop"), server, ("kind", "cronjob")],
            "unknown kind `cronjob`: expected `deployment`, `statefulset` or `daemonset`",
        );
    }
}
