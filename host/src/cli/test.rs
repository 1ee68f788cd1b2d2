//! `medic test [DIR] [--scenario FILE]... [--json]`: run a remediation's scenarios through
//! the real sandbox against a scripted world, and report like a test runner.

use std::path::{Path, PathBuf};

use medic::scenario::{self, Scenario, TestReport};

use super::exit::Exit;
use super::output::Output;

use medic::authoring::drop_in::DROP_IN_FILE as CEILING_DROP_IN;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The remediation: a directory holding remediation.toml (default `.`; a folder here
    /// may be named bare, `my-fix`), or a bundled remediation's name (its own scenarios
    /// are built into medic).
    #[arg(default_value = ".")]
    pub(crate) remediation: String,
    /// Run this scenario file instead of every `scenarios/*.toml` (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) scenario: Vec<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print the scenario format's JSON Schema and exit.
    #[arg(long, exclusive = true)]
    pub(crate) schema: bool,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    if args.schema {
        // Printed as JSON (not a human line): its newlines are its own.
        let schema: serde_json::Value = serde_json::from_str(&scenario::json_schema())?;
        out.json(&schema)?;
        return Ok(Exit::Success);
    }
    let mut config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    // A folder of the current directory named bare (`medic test my-fix`, as `medic build
    // my-fix`) is that folder: a test runs nothing on this host, so unlike `medic run` a
    // folder may be named without `./`. Any other bare name is a bundled remediation.
    let target = if !medic::catalog::is_path(&args.remediation)
        && Path::new(&args.remediation)
            .join(medic::manifest::MANIFEST_FILE)
            .is_file()
    {
        format!("./{}", args.remediation)
    } else {
        args.remediation.clone()
    };
    let target = target.as_str();
    let dir = medic::catalog::is_path(target).then(|| {
        let path = PathBuf::from(target);
        if path.is_file() {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            path
        }
    });
    // The drop-in the remediation ships is the ceiling it will run under once the
    // operator adopts it.
    let drop_in = dir
        .as_ref()
        .map(|dir| dir.join(CEILING_DROP_IN))
        .filter(|file| file.is_file());
    if let Some(file) = &drop_in {
        config.add_ceiling_drop_in(file)?;
    }
    let scenarios = scenarios_of(target, dir.as_deref(), &args.scenario)?;

    let real = super::setup::open_data_dir(&config, config_path.as_deref())?;
    let bed = scenario::TestBed::new(&real);
    let state = super::setup::open_db(bed.open()?, &config_without_signing(&config))?;
    let loaded = medic::catalog::load_for(
        target,
        &config,
        state.data_dir.protected(),
        medic::catalog::Purpose::Test,
    )?;
    let sandbox = medic::sandbox::Sandbox::new(Some(medic::sandbox::CacheKey {
        dir: real.compiled_dir(),
        key: real.key("cache")?,
    }))?;
    let runtime = super::runtime()?;
    let stop = super::setup::stop_on_signals(&runtime)?;
    let env = medic::run::RunEnv {
        sandbox: &sandbox,
        db: &state.db,
        audit: &state.audit,
        data_dir: &state.data_dir,
        ceilings: &config.ceilings,
        secrets: &config.secrets,
        stop: &stop,
    };
    let mut report = runtime.block_on(scenario::run_scenarios(&env, &loaded, &scenarios));
    report.ceiling_drop_in = drop_in.map(|file| file.display().to_string());
    drop(state);
    drop(bed);
    if args.json {
        out.json(&report)?;
    } else {
        render(&report, out)?;
    }
    Ok(if report.failed == 0 {
        Exit::Success
    } else {
        Exit::NotHealed
    })
}

/// The scenarios to run: the files named, else the remediation's `scenarios/` (for a
/// bundled one, those built into medic).
fn scenarios_of(
    target: &str,
    dir: Option<&Path>,
    files: &[PathBuf],
) -> anyhow::Result<Vec<Scenario>> {
    if !files.is_empty() {
        return files
            .iter()
            .map(|file| Ok(scenario::load_scenario(file)?))
            .collect();
    }
    match dir {
        Some(dir) => Ok(scenario::load_scenario_dir(
            &dir.join(scenario::SCENARIO_DIR),
        )?),
        None => {
            let bundled = medic::catalog::bundled(target).ok_or_else(|| {
                medic::manifest::ManifestError::UnknownRemediation {
                    name: target.to_string(),
                }
            })?;
            if bundled.scenarios.is_empty() {
                anyhow::bail!("bundled remediation `{target}` has no scenarios");
            }
            bundled
                .scenarios
                .iter()
                .map(|(file, text)| {
                    let path = PathBuf::from(format!("<bundled>/{target}/scenarios/{file}"));
                    Ok(scenario::parse_scenario(text, &path)?)
                })
                .collect()
        }
    }
}

/// The configuration a test bed's audit log runs under: unsigned, since its database is
/// thrown away with it.
fn config_without_signing(config: &medic::config::Config) -> medic::config::Config {
    medic::config::Config {
        audit_sign: false,
        ..config.clone()
    }
}

fn render(report: &TestReport, out: &mut Output) -> anyhow::Result<()> {
    out.line(format!(
        "testing {} {} (component {}) on {} scenario{}",
        report.remediation,
        report.remediation_version,
        &report.sha256[..12.min(report.sha256.len())],
        report.scenarios.len(),
        if report.scenarios.len() == 1 { "" } else { "s" }
    ))?;
    if let Some(file) = &report.ceiling_drop_in {
        out.line(format!(
            "ceilings: the effective configuration plus {file} (the operator must adopt it)"
        ))?;
    }
    for result in &report.scenarios {
        out.line(format!(
            "{} {} ({} ms){}",
            if result.passed { "PASS" } else { "FAIL" },
            result.name,
            result.duration_ms,
            if result.description.is_empty() {
                String::new()
            } else {
                format!(" -- {}", result.description)
            }
        ))?;
        if result.passed {
            continue;
        }
        for failure in &result.failures {
            for (index, line) in failure.lines().enumerate() {
                out.line(format!(
                    "    {}{line}",
                    if index == 0 { "- " } else { "  " }
                ))?;
            }
        }
        out.line("    calls made:")?;
        for line in scenario::listing(&result.calls).lines() {
            out.line(format!("    {line}"))?;
        }
    }
    if !report.unused_grants.is_empty() {
        out.line("grants no scenario used (a missing scenario, or a grant wider than needed):")?;
        for grant in &report.unused_grants {
            out.line(format!("  {grant}"))?;
        }
    }
    out.line(format!(
        "{} passed, {} failed",
        report.passed, report.failed
    ))?;
    Ok(())
}
