//! Running a remediation's scenarios and reporting like a test runner.
//!
//! JSON (`medic test --json`, snake_case): `version` (1), `remediation`,
//! `remediation_version`, `sha256`, `ceiling_drop_in` (the remediation's own drop-in
//! applied to the ceilings, if any), `scenarios` (each `name`, `file`, `description`,
//! `passed`, `status`, `summary`, `failures`, `calls` with `operation`, `call`, `denied`,
//! `duration_ms`), `unused_grants` (manifest grants no scenario's run used), `passed`,
//! `failed`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::Scenario;
use super::check::{self, CallView};
use super::world::ScriptedWorld;
use crate::catalog::Loaded;
use crate::run::{RunEnv, RunError, RunReport, RunStatus};
use crate::sandbox::World;

/// One scenario's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// The file name without `.toml`.
    pub name: String,
    /// The file.
    pub file: String,
    /// What it shows.
    pub description: String,
    /// Whether every expectation held.
    pub passed: bool,
    /// The run's status.
    pub status: String,
    /// The run's summary.
    pub summary: String,
    /// Every expectation that did not hold, one line (or block) each.
    pub failures: Vec<String>,
    /// The exec, http, fs and env calls the run made, in the scenario's syntax.
    pub calls: Vec<CallView>,
    /// Wall time.
    pub duration_ms: u64,
}

/// Every scenario's outcome, and the grants none of them used.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Always 1.
    pub version: u32,
    /// The remediation.
    pub remediation: String,
    /// Its version.
    pub remediation_version: String,
    /// Its component's sha256.
    pub sha256: String,
    /// The remediation's own ceiling drop-in, when one was added to the ceilings.
    pub ceiling_drop_in: Option<String>,
    /// In the order run.
    pub scenarios: Vec<ScenarioResult>,
    /// Manifest grants (`capabilities.http[1]: GET http://...`) that no scenario's run
    /// used: either a scenario is missing, or the grant is wider than the remediation needs.
    pub unused_grants: Vec<String>,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
}

/// Run each of `scenarios` against `loaded`, in order, each in a world of its own.
pub async fn run_scenarios(
    env: &RunEnv<'_>,
    loaded: &Loaded,
    scenarios: &[Scenario],
) -> TestReport {
    let mut results = Vec::new();
    let mut used = BTreeSet::new();
    for scenario in scenarios {
        let (result, grants) = run_one(env, loaded, scenario).await;
        used.extend(grants);
        results.push(result);
    }
    let manifest = &loaded.manifest;
    let passed = results.iter().filter(|result| result.passed).count();
    TestReport {
        version: 1,
        remediation: manifest.name.clone(),
        remediation_version: manifest.version.clone(),
        sha256: manifest.sha256.clone(),
        ceiling_drop_in: None,
        failed: results.len() - passed,
        passed,
        scenarios: results,
        unused_grants: grant_list(manifest)
            .into_iter()
            .filter(|(field, _)| !used.contains(field))
            .map(|(field, shown)| format!("{field}: {shown}"))
            .collect(),
    }
}

/// Every grant of `manifest` by its field, as a reviewer reads it.
fn grant_list(manifest: &crate::manifest::Manifest) -> Vec<(String, String)> {
    let grants = &manifest.grants;
    let exec = grants
        .exec
        .iter()
        .map(|grant| (grant.origin.field.clone(), grant.describe()));
    let http = grants.http.iter().map(|grant| {
        (
            grant.origin.field.clone(),
            format!("{} {}", grant.method, grant.url.source),
        )
    });
    let fs = grants.fs.iter().map(|grant| {
        (
            grant.origin.field.clone(),
            format!("{} ({})", grant.path.display(), grant.access.as_str()),
        )
    });
    let env = grants.env.iter().enumerate().map(|(index, grant)| {
        (
            format!("capabilities.env[{index}]"),
            format!("{}{}", grant.name, if grant.prefix { "*" } else { "" }),
        )
    });
    exec.chain(http).chain(fs).chain(env).collect()
}

async fn run_one(
    env: &RunEnv<'_>,
    loaded: &Loaded,
    scenario: &Scenario,
) -> (ScenarioResult, BTreeSet<String>) {
    let started = Instant::now();
    let result = |status: &str, summary: String, failures: Vec<String>, calls| ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.display().to_string(),
        description: scenario.description.clone(),
        passed: failures.is_empty(),
        status: status.to_string(),
        summary,
        failures,
        calls,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let world = match ScriptedWorld::build(scenario) {
        Ok(world) => Arc::new(world),
        Err(error) => {
            let message = format!("cannot create the scenario's files: {error}");
            return (
                result("error", message.clone(), vec![message], Vec::new()),
                BTreeSet::new(),
            );
        }
    };
    let manifest = &loaded.manifest;
    if !scenario.raw.force && !manifest.handles_incident(&scenario.incident, None) {
        let message = format!(
            "`{}` does not say it handles incidents of kind `{}` and issue type `{}`; add a `[[handles]]` entry, or `force = true` to the scenario",
            manifest.name, scenario.incident.resource.kind, scenario.incident.issue_type
        );
        return (
            result("error", message.clone(), vec![message], Vec::new()),
            BTreeSet::new(),
        );
    }
    let request = crate::run::RunRequest {
        world: World::Scripted(world.clone()),
        rollback_healed: scenario.raw.then_rollback,
        ..env.request(loaded, &scenario.incident, scenario.raw.dry_run)
    };
    let report = match crate::run::run_remediation(request).await {
        Ok(report) => report,
        // Parameters that do not bind stop a run before it starts, as `medic run` does.
        Err(RunError::Params(error)) => {
            let mut report = RunReport::new("-", manifest, &scenario.incident, false);
            report.status = RunStatus::InvalidInput;
            report.summary = error.to_string();
            report
        }
        Err(error) => {
            let message = format!("the run could not be recorded: {error}");
            return (
                result("error", message.clone(), vec![message], Vec::new()),
                BTreeSet::new(),
            );
        }
    };
    let failures = check::check(scenario, &report, &world);
    (
        result(
            report.status.as_str(),
            report.summary.clone(),
            failures,
            check::listed_calls(&report),
        ),
        report.grants_used.clone(),
    )
}
