//! Install a staged nginx configuration, refuse it unless `nginx -t` passes, reload nginx
//! and check its health URL; `rollback` puts the previous configuration back and reloads.
//!
//! Parameters (incident `params`):
//! - `config_dir`: the directory holding the configuration; the run's one read-write root.
//! - `config`: the file nginx runs with (`nginx -c`), inside `config_dir`.
//! - `candidate`: a new configuration inside `config_dir` to install as `config`. Without
//!   it, the current configuration is tested and reloaded, and there is nothing to restore.
//! - `health_url`: a URL nginx must answer with 2xx.
//! - `health_timeout_secs` (default 10, at most 50) and `health_stable_secs` (default 2):
//!   verify wants the health URL answering 2xx without a failure for the second, within
//!   the first. A reload is asynchronous: `nginx -s reload` returns once the master has
//!   the signal, and the old workers answer until the new ones take over.
//!
//! `apply` saves the current configuration as a checkpoint before it changes anything,
//! installs the candidate (written beside `config`, then renamed over it, so nginx never
//! reads half a file), and runs `nginx -t -c CONFIG`: when that fails it puts the previous
//! file back at once and stops without reloading. `config` and `candidate` must lie inside
//! `config_dir` (checked here, since `nginx -t -c` reads its file outside any fs grant);
//! the sandbox refuses any file call outside `config_dir` besides.

use std::time::{Duration, Instant};

use medic_guest_sdk::{
    Error, Incident, Remediation, Step, Verdict, checkpoint, exec, fs, http, log,
};

const NGINX: &str = "/usr/sbin/nginx";
/// The configuration `apply` replaced.
const PREVIOUS_KEY: &str = "previous";
/// How far `apply` got, one of the `PHASE_*` values.
const PHASE_KEY: &str = "phase";
/// The candidate is in place; nginx has not been signalled.
const PHASE_INSTALLED: &str = "installed";
/// `nginx -t` refused the candidate and the previous file is back; nginx was not signalled.
const PHASE_RESTORED: &str = "restored";
/// nginx was (or may have been) told to reload the candidate.
const PHASE_RELOADING: &str = "reloading";
/// The largest configuration a checkpoint holds (the host's cap on one value).
const MAX_CONFIG_BYTES: usize = 1 << 20;
const DEFAULT_HEALTH_TIMEOUT_SECS: u64 = 10;
/// Verify must end within the manifest's 60 s per call.
const MAX_HEALTH_TIMEOUT_SECS: u64 = 50;
const DEFAULT_HEALTH_STABLE_SECS: u64 = 2;
const POLL: Duration = Duration::from_millis(200);

struct ReloadNginx;

/// Everything a run needs from the incident, checked before anything runs.
#[derive(Debug, PartialEq, Eq)]
struct Settings<'a> {
    config: &'a str,
    candidate: Option<&'a str>,
    health_url: &'a str,
    timeout_secs: u64,
    stable_secs: u64,
}

fn settings(incident: &Incident) -> Result<Settings<'_>, Error> {
    let config = incident.require_param("config")?;
    let config_dir = incident.require_param("config_dir")?.trim_end_matches('/');
    // `nginx -t -c CONFIG` reads CONFIG whatever the fs grants say (a configuration can
    // load modules): it must be the file this run may write, inside `config_dir`.
    for (name, path) in [
        ("config", Some(config)),
        ("candidate", incident.param("candidate")),
    ] {
        if let Some(path) = path
            && !path
                .strip_prefix(config_dir)
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        {
            return Err(Error::invalid_input(format!(
                "`{name}` (`{path}`) must lie inside `config_dir` (`{config_dir}`)"
            )));
        }
    }
    let candidate = incident.param("candidate");
    if candidate == Some(config) {
        return Err(Error::invalid_input(format!(
            "`candidate` is `config` itself (`{config}`): stage the new configuration beside it"
        )));
    }
    let secs = |name: &str, default: u64, max: u64| match incident.param(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .ok()
            .filter(|secs| *secs <= max)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "`{name}` must be a number of seconds up to {max}, got `{text}`"
                ))
            }),
    };
    let timeout_secs = secs(
        "health_timeout_secs",
        DEFAULT_HEALTH_TIMEOUT_SECS,
        MAX_HEALTH_TIMEOUT_SECS,
    )?;
    let stable_secs = secs(
        "health_stable_secs",
        DEFAULT_HEALTH_STABLE_SECS.min(timeout_secs),
        timeout_secs,
    )?;
    Ok(Settings {
        config,
        candidate,
        health_url: incident.require_param("health_url")?,
        timeout_secs,
        stable_secs,
    })
}

/// What `nginx` said, when it did not succeed.
fn nginx(args: &[&str]) -> Result<Result<(), String>, Error> {
    let output = exec::run(NGINX, args)?;
    if output.success() {
        return Ok(Ok(()));
    }
    Ok(Err(format!(
        "{NGINX} {} failed (status {:?}): {}",
        args.join(" "),
        output.status,
        complaint(&output.stderr_lossy())
    )))
}

/// nginx's first `[emerg]` or `[error]` line, without the time and process ids it carries
/// once a configuration's `error_log` is read (`2024/01/02 03:04:05 [emerg] 12#12: ...`)
/// or the `nginx: ` it starts with before; else all it said.
fn complaint(stderr: &str) -> String {
    let Some((level, rest)) = stderr.lines().find_map(|line| {
        ["[emerg] ", "[error] "]
            .iter()
            .find_map(|level| Some((*level, line.split_once(level)?.1)))
    }) else {
        return stderr.trim().to_string();
    };
    let rest = match rest.split_once(": ") {
        Some((ids, message))
            if ids
                .split('#')
                .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())) =>
        {
            message
        }
        _ => rest,
    };
    format!("{level}{rest}")
}

fn test(config: &str) -> Result<Result<(), String>, Error> {
    nginx(&["-t", "-c", config])
}

fn reload(config: &str) -> Result<Result<(), String>, Error> {
    nginx(&["-s", "reload", "-c", config])
}

/// Replace `config` with `bytes` in one step: written beside it, then renamed over it.
fn install(config: &str, bytes: &[u8]) -> Result<(), Error> {
    let staged = format!("{config}.medic-new");
    fs::write(&staged, bytes)?;
    fs::rename(&staged, config)
}

fn checkpoint_phase(phase: &str) -> Result<(), Error> {
    checkpoint::save_str(PHASE_KEY, phase)
}

/// Verify's judgement of a run of health answers, pure so it can be tested: the first
/// healthy answer of the current streak, and the latest failure.
#[derive(Debug, Default)]
struct Streak {
    since: Option<Instant>,
    failure: Option<String>,
}

impl Streak {
    /// Record an answer at `now`; `Some(detail)` once health held for `stable`.
    fn record(
        &mut self,
        answer: Result<String, String>,
        now: Instant,
        stable: Duration,
    ) -> Option<String> {
        match answer {
            Ok(detail) => {
                let since = *self.since.get_or_insert(now);
                let held = now.duration_since(since);
                if stable.is_zero() {
                    Some(detail)
                } else {
                    (held >= stable)
                        .then(|| format!("{detail}, without a failure for {} ms", held.as_millis()))
                }
            }
            Err(detail) => {
                self.since = None;
                self.failure = Some(detail);
                None
            }
        }
    }
}

fn check_health(url: &str) -> Result<Result<String, String>, Error> {
    match http::get(url) {
        Ok(response) if (200..300).contains(&response.status) => {
            Ok(Ok(format!("GET {url} answered {}", response.status)))
        }
        Ok(response) => Ok(Err(format!("GET {url} answered {}", response.status))),
        Err(error @ Error::Denied { .. }) => Err(error),
        Err(error) => Ok(Err(format!("GET {url}: {error}"))),
    }
}

impl Remediation for ReloadNginx {
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error> {
        let settings = settings(incident)?;
        let config = settings.config;
        fs::metadata(config)?;
        let mut steps = Vec::new();
        if let Some(candidate) = settings.candidate {
            let staged = fs::metadata(candidate)?;
            steps.push(Step::fs(
                config,
                "keep the current configuration as a checkpoint for rollback",
            ));
            steps.push(Step::fs(
                format!("{candidate} -> {config}"),
                format!(
                    "install the candidate ({} bytes) beside the configuration, then rename it over",
                    staged.size
                ),
            ));
        }
        steps.push(Step::exec(
            format!("{NGINX} -t -c {config}"),
            "test the configuration; refuse to reload (and put the previous one back) when it fails",
        ));
        steps.push(Step::exec(
            format!("{NGINX} -s reload -c {config}"),
            "reload nginx's master",
        ));
        steps.push(Step::http(
            format!("GET {}", settings.health_url),
            format!("expect 2xx without a failure for {}s", settings.stable_secs),
        ));
        Ok(steps)
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let config = settings.config;
        let Some(candidate) = settings.candidate else {
            if let Err(said) = test(config)? {
                return Err(Error::failed(format!("{said}; nginx was not reloaded")));
            }
            reload(config)?.map_err(Error::failed)?;
            return Ok(format!("{config} passed nginx -t; reloaded nginx"));
        };
        let previous = fs::read(config)?;
        let staged = fs::read(candidate)?;
        if previous.len() > MAX_CONFIG_BYTES {
            return Err(Error::failed(format!(
                "{config} is {} bytes, more than the {MAX_CONFIG_BYTES} a checkpoint holds; nothing was changed",
                previous.len()
            )));
        }
        // Saved before anything changes: a run stopped from here on is rolled back.
        checkpoint::save(PREVIOUS_KEY, &previous)?;
        checkpoint_phase(PHASE_INSTALLED)?;
        install(config, &staged)?;
        log::progress(30, &format!("installed {candidate} as {config}"));
        if let Err(said) = test(config)? {
            install(config, &previous)?;
            checkpoint_phase(PHASE_RESTORED)?;
            return Err(Error::failed(format!(
                "{said}; put the previous {config} back, nginx was not reloaded"
            )));
        }
        checkpoint_phase(PHASE_RELOADING)?;
        reload(config)?.map_err(Error::failed)?;
        log::progress(60, "reload signalled");
        Ok(format!(
            "installed {candidate} as {config}, nginx -t passed, reloaded nginx"
        ))
    }

    fn verify(incident: &Incident) -> Result<Verdict, Error> {
        let settings = settings(incident)?;
        let stable = Duration::from_secs(settings.stable_secs);
        let deadline = Instant::now() + Duration::from_secs(settings.timeout_secs);
        let mut streak = Streak::default();
        loop {
            let answer = check_health(settings.health_url)?;
            let now = Instant::now();
            if let Some(detail) = streak.record(answer, now, stable) {
                return Ok(Verdict::healthy(detail));
            }
            if now >= deadline {
                let failure = streak
                    .failure
                    .unwrap_or_else(|| "no failure, but not healthy for long enough".to_string());
                return Ok(Verdict::unhealthy(format!(
                    "{failure} (within {}s)",
                    settings.timeout_secs
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    fn rollback(incident: &Incident) -> Result<String, Error> {
        let settings = settings(incident)?;
        let config = settings.config;
        let Some(previous) = checkpoint::load(PREVIOUS_KEY)? else {
            return Ok(format!("nothing was installed: {config} is as it was"));
        };
        let phase = checkpoint::load_string(PHASE_KEY)?.unwrap_or_default();
        if phase == PHASE_RESTORED {
            return Ok(format!(
                "nothing to undo: the previous {config} was put back before any reload"
            ));
        }
        install(config, &previous)?;
        if phase == PHASE_INSTALLED {
            return Ok(format!(
                "put the previous {config} back; nginx had not been reloaded"
            ));
        }
        if let Err(said) = test(config)? {
            return Err(Error::failed(format!(
                "put the previous {config} back, but {said}; nginx was not reloaded"
            )));
        }
        reload(config)?
            .map_err(|said| Error::failed(format!("put the previous {config} back, but {said}")))?;
        Ok(format!("put the previous {config} back and reloaded nginx"))
    }
}

medic_guest_sdk::export_remediation!(ReloadNginx);

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(params: &[(&str, &str)]) -> Incident {
        let mut all = vec![
            ("config_dir", "/srv/nginx"),
            ("config", "/srv/nginx/nginx.conf"),
            ("health_url", "http://127.0.0.1:8080/health"),
        ];
        all.retain(|(name, _)| !params.iter().any(|(given, _)| given == name));
        all.extend_from_slice(params);
        Incident {
            id: "i-1".to_string(),
            source: "cli".to_string(),
            resource_kind: "service".to_string(),
            resource_id: "nginx".to_string(),
            issue_type: "config_reload_failed".to_string(),
            summary: String::new(),
            labels: Vec::new(),
            params: all
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    #[test]
    fn settings_take_defaults_and_refuse_what_cannot_work() {
        let incident_with_defaults = incident(&[]);
        assert_eq!(
            settings(&incident_with_defaults),
            Ok(Settings {
                config: "/srv/nginx/nginx.conf",
                candidate: None,
                health_url: "http://127.0.0.1:8080/health",
                timeout_secs: 10,
                stable_secs: 2,
            })
        );
        let check = |params: &[(&str, &str)], expected: &str| {
            assert_eq!(
                settings(&incident(params)),
                Err(Error::invalid_input(expected)),
                "{params:?}"
            );
        };
        check(
            &[("config", "/etc/nginx/nginx.conf")],
            "`config` (`/etc/nginx/nginx.conf`) must lie inside `config_dir` (`/srv/nginx`)",
        );
        check(
            &[("candidate", "/srv/nginx-evil/x.conf")],
            "`candidate` (`/srv/nginx-evil/x.conf`) must lie inside `config_dir` (`/srv/nginx`)",
        );
        check(
            &[("candidate", "/srv/nginx/nginx.conf")],
            "`candidate` is `config` itself (`/srv/nginx/nginx.conf`): stage the new configuration beside it",
        );
        check(
            &[("health_timeout_secs", "51")],
            "`health_timeout_secs` must be a number of seconds up to 50, got `51`",
        );
        check(
            &[("health_timeout_secs", "3"), ("health_stable_secs", "4")],
            "`health_stable_secs` must be a number of seconds up to 3, got `4`",
        );
        let short = incident(&[("health_timeout_secs", "1")]);
        assert_eq!(settings(&short).map(|settings| settings.stable_secs), Ok(1));
    }

    #[test]
    fn complaints_lose_the_time_and_process_ids() {
        let check = |stderr: &str, expected: &str| assert_eq!(complaint(stderr), expected);
        check(
            "nginx: [emerg] unknown directive \"proxy_pas\" in /srv/nginx/nginx.conf:2\nnginx: configuration file /srv/nginx/nginx.conf test failed\n",
            "[emerg] unknown directive \"proxy_pas\" in /srv/nginx/nginx.conf:2",
        );
        check(
            "2026/12/05 08:23:41 [emerg] 765#765: unknown directive \"proxy_pas\" in /tmp/n/nginx.conf:13\nnginx: configuration file /tmp/n/nginx.conf test failed\n",
            "[emerg] unknown directive \"proxy_pas\" in /tmp/n/nginx.conf:13",
        );
        check(
            "nginx: [error] open() \"/run/nginx.pid\" failed (2: No such file or directory)\n",
            "[error] open() \"/run/nginx.pid\" failed (2: No such file or directory)",
        );
        check("segmentation fault\n", "segmentation fault");
    }

    #[test]
    fn health_must_hold_for_the_stable_time_and_a_failure_starts_over() {
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let stable = Duration::from_secs(2);
        let ok = || Ok("GET / answered 200".to_string());
        let mut streak = Streak::default();
        assert_eq!(streak.record(ok(), at(0), stable), None);
        assert_eq!(streak.record(ok(), at(1_000), stable), None);
        // An old worker answered first; the new configuration fails: start over.
        assert_eq!(
            streak.record(Err("GET / answered 503".to_string()), at(1_200), stable),
            None
        );
        assert_eq!(streak.failure.as_deref(), Some("GET / answered 503"));
        assert_eq!(streak.record(ok(), at(1_400), stable), None);
        assert_eq!(streak.record(ok(), at(3_000), stable), None);
        assert_eq!(
            streak.record(ok(), at(3_400), stable),
            Some("GET / answered 200, without a failure for 2000 ms".to_string())
        );
        // No stable time: the first healthy answer is enough.
        let mut immediate = Streak::default();
        assert_eq!(
            immediate.record(ok(), at(0), Duration::ZERO),
            Some("GET / answered 200".to_string())
        );
    }
}
