//! `medic test`: a remediation run through the real sandbox against a scenario that
//! scripts the world it meets.
//!
//! A scenario (`scenarios/*.toml` beside a remediation's manifest; format in `format.rs`,
//! JSON Schema in `docs/scenario.schema.json`) names an incident, the files the host holds,
//! what its programs print, what its HTTP endpoints and ports answer, and what must come
//! of the run: its status, the host calls it made (allowed or refused), the capabilities
//! it needed, the files afterwards. The run is a real `run::run_remediation`: the
//! component, its manifest, the operator's ceilings, parameter binding, every gate, the
//! audit log and the checkpoints are medic's own. Only what happens once a gate allowed a
//! call is scripted (`sandbox::World::Scripted`): granted roots are opened beneath a
//! temporary directory, programs and requests are answered from the scenario.
//!
//! Owns: the format and its checks (`format.rs`, here), the scripted world (`world.rs`),
//! comparing a run with what was expected (`check.rs`), running scenarios (`runner.rs`).
//! Does not own: deciding calls (`sandbox/`), loading remediations (`catalog.rs`).

mod check;
mod format;
mod runner;
mod test_bed;
mod world;

use std::path::{Component, Path, PathBuf};

use thiserror::Error;

pub use check::{CallView, listing};
pub use runner::{ScenarioResult, TestReport, run_scenarios};
pub use test_bed::TestBed;

use crate::incident::Incident;
use format::RawScenario;

/// The folder beside a manifest that holds its scenarios.
pub const SCENARIO_DIR: &str = "scenarios";
/// Largest scenario file medic reads.
const MAX_SCENARIO_BYTES: u64 = 4 << 20;
/// Most bytes of filler a scenario may ask for, over all its files.
const MAX_FILLER_BYTES: u64 = 256 << 20;

/// A scenario, parsed and checked.
#[derive(Debug)]
pub struct Scenario {
    /// The file name without `.toml`.
    pub name: String,
    /// Where it was read from.
    pub file: PathBuf,
    /// What it shows.
    pub description: String,
    pub(crate) raw: RawScenario,
    /// The incident, checked as `medic run --incident` checks one.
    pub incident: Incident,
    /// Each world file's age, parsed.
    pub(crate) ages: std::collections::BTreeMap<String, std::time::Duration>,
}

/// Why a scenario could not be read.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file or folder could not be read.
    #[error("cannot read scenario `{path}`: {reason}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Malformed TOML, or an unknown, missing or mistyped key.
    #[error("scenario {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A value is invalid.
    #[error("scenario {path}: `{field}` {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// There is nothing to run.
    #[error("no scenarios in `{dir}`: write one as `{dir}/NAME.toml` (see docs/authoring.md)")]
    Empty {
        /// Where medic looked.
        dir: PathBuf,
    },
}

/// The JSON Schema of the scenario format, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawScenario);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

/// Parse and check scenario `text` read from `file`.
pub fn parse_scenario(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|error| ScenarioError::Syntax {
        path: file.to_path_buf(),
        message: crate::text::toml_error(text, &error),
    })?;
    let name = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    let invalid = |field: String, message: String| ScenarioError::Invalid {
        path: file.to_path_buf(),
        field,
        message,
    };
    let mut ages = std::collections::BTreeMap::new();
    let filler: u64 = raw.world.files.values().filter_map(|spec| spec.size).sum();
    if filler > MAX_FILLER_BYTES {
        return Err(invalid(
            "world.files".to_string(),
            format!(
                "ask for {filler} bytes of filler in all, over the {MAX_FILLER_BYTES}-byte limit of a scenario"
            ),
        ));
    }
    for (handle, value) in &raw.world.secrets {
        // As for a real source: a short value would be cut out of ordinary text, and an
        // empty one out of everything.
        if value.len() < crate::secrets::MIN_SECRET_BYTES {
            return Err(invalid(
                format!("world.secrets.{handle}"),
                format!(
                    "is shorter than {} bytes, which no real secret source may be",
                    crate::secrets::MIN_SECRET_BYTES
                ),
            ));
        }
    }
    for (path, spec) in &raw.world.files {
        let field = format!("world.files.{path:?}");
        check_world_path(path).map_err(|message| invalid(field.clone(), message))?;
        let kinds = [
            spec.content.is_some(),
            spec.size.is_some(),
            spec.dir,
            spec.symlink.is_some(),
        ];
        if kinds.iter().filter(|set| **set).count() > 1 {
            return Err(invalid(
                field,
                "sets more than one of `content`, `size`, `dir` and `symlink`".to_string(),
            ));
        }
        if spec.size.is_some_and(|size| size > MAX_FILLER_BYTES) {
            return Err(invalid(
                format!("{field}.size"),
                format!("is over the {MAX_FILLER_BYTES}-byte limit of a scenario file"),
            ));
        }
        if spec.mode.is_some_and(|mode| mode > 0o7777) {
            return Err(invalid(
                format!("{field}.mode"),
                "must be permission bits, at most 0o7777".to_string(),
            ));
        }
        if let Some(age) = &spec.age {
            let parsed = humantime::parse_duration(age)
                .map_err(|error| invalid(format!("{field}.age"), format!("`{age}`: {error}")))?;
            ages.insert(path.clone(), parsed);
        }
    }
    for (index, answer) in raw.world.exec.iter().enumerate() {
        if !answer.program.starts_with('/') {
            return Err(invalid(
                format!("world.exec[{index}].program"),
                format!("must be an absolute path, got `{}`", answer.program),
            ));
        }
    }
    for (index, answer) in raw.world.http.iter().enumerate() {
        url::Url::parse(&answer.url).map_err(|error| {
            invalid(
                format!("world.http[{index}].url"),
                format!("`{}` is not a URL: {error}", answer.url),
            )
        })?;
    }
    // A declared symlink is a leaf: nothing is created or inspected through it, so no
    // scenario can write or read a file of the host by way of one.
    let symlinks: Vec<&String> = raw
        .world
        .files
        .iter()
        .filter(|(_, spec)| spec.symlink.is_some())
        .map(|(path, _)| path)
        .collect();
    let through_symlink = |path: &str| {
        symlinks
            .iter()
            .find(|link| {
                path.strip_prefix(link.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .map(|link| {
                format!(
                    "lies beneath `{link}`, which the scenario declares a symlink; nothing is made or read through one"
                )
            })
    };
    for path in raw.world.files.keys() {
        if let Some(message) = through_symlink(path) {
            return Err(invalid(format!("world.files.{path:?}"), message));
        }
    }
    for path in raw.expect.files.keys() {
        check_world_path(path)
            .map_err(|message| invalid(format!("expect.files.{path:?}"), message))?;
        if let Some(message) = through_symlink(path) {
            return Err(invalid(format!("expect.files.{path:?}"), message));
        }
    }
    for (list, calls) in [
        ("expect.calls", raw.expect.calls.as_deref()),
        ("expect.calls_include", raw.expect.calls_include.as_deref()),
    ] {
        for (index, call) in calls.unwrap_or_default().iter().enumerate() {
            if let Some(kind) = &call.denied
                && serde_json::from_value::<crate::sandbox::DenialKind>(serde_json::json!(kind))
                    .is_err()
            {
                return Err(invalid(
                    format!("{list}[{index}].denied"),
                    format!(
                        "`{kind}` is not a denial kind (`not_in_manifest`, `beyond_ceiling`, `during_plan`, `escape`, ...)"
                    ),
                ));
            }
        }
    }
    for capability in raw.expect.capabilities.iter().flatten() {
        if !["exec", "http", "fs", "env", "checkpoint"].contains(&capability.as_str()) {
            return Err(invalid(
                "expect.capabilities".to_string(),
                format!("`{capability}` is not a capability (exec, http, fs, env, checkpoint)"),
            ));
        }
    }
    let incident = incident_of(&raw, &name, file)?;
    Ok(Scenario {
        description: raw.description.clone().unwrap_or_default(),
        name,
        file: file.to_path_buf(),
        raw,
        incident,
        ages,
    })
}

/// The scenario's incident, checked as an incident file is.
fn incident_of(raw: &RawScenario, name: &str, file: &Path) -> Result<Incident, ScenarioError> {
    let incident = &raw.incident;
    let json = serde_json::json!({
        "id": incident.id.clone().unwrap_or_else(|| format!("scenario-{name}")),
        "source": incident.source.clone().unwrap_or_else(|| "cli".to_string()),
        "resource": {"kind": incident.resource.kind, "id": incident.resource.id},
        "issue_type": incident.issue_type,
        "summary": incident.summary.clone().unwrap_or_default(),
        "labels": incident.labels,
        "params": incident.params,
    });
    crate::incident::parse_incident(&json.to_string(), file).map_err(|error| {
        ScenarioError::Invalid {
            path: file.to_path_buf(),
            field: "incident".to_string(),
            message: error.to_string(),
        }
    })
}

/// A world path must be absolute and plain: no `.`, `..` or empty segments.
fn check_world_path(path: &str) -> Result<(), String> {
    let plain = path.starts_with('/')
        && path.len() > 1
        && !path.contains('\0')
        && Path::new(path)
            .components()
            .all(|part| matches!(part, Component::RootDir | Component::Normal(_)))
        && !path
            .split('/')
            .skip(1)
            .any(|part| part.is_empty() || part == "." || part == "..");
    if plain {
        Ok(())
    } else {
        Err(format!(
            "must be an absolute path without `.`, `..` or empty segments, got `{path}`"
        ))
    }
}

/// Read and check one scenario file.
pub fn load_scenario(file: &Path) -> Result<Scenario, ScenarioError> {
    let text = crate::nofollow::read_regular_text(file, MAX_SCENARIO_BYTES).map_err(|error| {
        ScenarioError::Read {
            path: file.to_path_buf(),
            reason: error.to_string(),
        }
    })?;
    parse_scenario(&text, file)
}

/// Every `*.toml` in `dir`, in name order, each parsed and checked: one bad file fails
/// them all, before anything runs.
pub fn load_scenario_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let read_error = |reason: String| ScenarioError::Read {
        path: dir.to_path_buf(),
        reason,
    };
    // The folder's own `scenarios/`, never one a symlink points at elsewhere.
    if std::fs::symlink_metadata(dir).is_ok_and(|metadata| metadata.file_type().is_symlink()) {
        return Err(read_error(
            "is a symlink; medic reads a remediation's scenarios only from its own folder"
                .to_string(),
        ));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| read_error(error.to_string()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ScenarioError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    // A file of the folder, not one the author named: never read through a symlink.
    files
        .iter()
        .map(|file| {
            let text =
                crate::nofollow::read_folder_text(file, MAX_SCENARIO_BYTES).map_err(|error| {
                    ScenarioError::Read {
                        path: file.to_path_buf(),
                        reason: error.to_string(),
                    }
                })?;
            parse_scenario(&text, file)
        })
        .collect()
}

#[cfg(test)]
mod tests;
