//! The only reader of medic's environment variables: the system configuration's path,
//! a remediation's declared env values, cargo's home, the log filter, the CI system.

use std::path::PathBuf;

use super::{LOG_ENV, SYSTEM_CONFIG, SYSTEM_CONFIG_ENV};

/// The system configuration file, unless [`SYSTEM_CONFIG_ENV`] names another (or none).
pub(super) fn system_config_path() -> Option<PathBuf> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config/host_env.rs is the one reader of the environment"
    )]
    match std::env::var_os(SYSTEM_CONFIG_ENV) {
        Some(value) if value.is_empty() => None,
        Some(value) => Some(PathBuf::from(value)),
        None => Some(PathBuf::from(SYSTEM_CONFIG)),
    }
}

/// The value of environment variable `name` on this host, for a remediation's declared env.
pub fn host_env(name: &str) -> Option<String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config/host_env.rs is the one reader of the environment"
    )]
    std::env::var(name).ok()
}

/// Cargo's home, for `medic build`'s path remapping: `CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Option<PathBuf> {
    host_env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".cargo")))
}

/// The tracing filter from [`LOG_ENV`], if set.
pub fn log_filter() -> Option<String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "config/host_env.rs is the one reader of the environment"
    )]
    std::env::var(LOG_ENV).ok()
}

/// The CI system medic runs under, from its environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiEnvironment {
    /// `GITHUB_ACTIONS=true`.
    pub github_actions: bool,
    /// `GITHUB_STEP_SUMMARY`: the file a step appends its Markdown summary to.
    pub github_step_summary: Option<PathBuf>,
    /// `GITLAB_CI=true`.
    pub gitlab_ci: bool,
}

/// Which CI system, if any, runs medic now.
pub fn ci_environment() -> CiEnvironment {
    let set = |name: &str| host_env(name).is_some_and(|value| value == "true");
    CiEnvironment {
        github_actions: set("GITHUB_ACTIONS"),
        github_step_summary: host_env("GITHUB_STEP_SUMMARY")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from),
        gitlab_ci: set("GITLAB_CI"),
    }
}
