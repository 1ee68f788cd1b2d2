//! `medic plan [--incident FILE | --alert FILE | --log FILE --resource-kind K --resource-id R] [--json]`:
//! diagnose, then rank the options, each remediation's steps from its own `plan` export in
//! the sandbox (nothing changes).

use std::path::PathBuf;

use medic::plan::{OptionKind, Plan, PlanInput};

use super::exit::Exit;
use super::intake::IncidentArgs;
use super::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) input: IncidentArgs,
    /// Print the plan as one JSON object: `diagnosis` and `options` in rank order.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let Some(intake) = super::intake::read(&args.input)? else {
        anyhow::bail!(
            "nothing to plan for: pass --incident FILE, --alert FILE, or --log FILE with --resource-kind and --resource-id"
        );
    };
    let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
    let library = medic::diagnosis::load_library(config.diagnosis.patterns_dir.as_deref())?;
    let data_dir = super::setup::open_data_dir(&config, config_path.as_deref())?;
    let state = super::setup::open_db(data_dir, &config)?;
    let sandbox = super::setup::sandbox(&state)?;
    let runtime = super::runtime()?;
    let stop = super::setup::stop_on_signals(&runtime)?;
    let threshold = config.diagnosis.llm_threshold;
    let (diagnosis, tail) = medic::diagnosis::diagnose_input(
        &library,
        std::io::Cursor::new(&intake.log),
        &intake.signals,
        threshold,
    )?;
    let diagnosis = runtime.block_on(medic::diagnosis::consult(
        diagnosis,
        &tail,
        &config.diagnosis,
    ));
    let rule = config
        .policy
        .rule_for(&intake.incident, diagnosis.root_cause);
    let manifests = super::intake::read_manifests(&config)?;
    let catalog = super::intake::Catalog::new(&config, state.data_dir.protected(), manifests);
    let candidates =
        medic::heal::Candidates::for_incident(&catalog, &intake.incident, diagnosis.root_cause);
    let outcomes = medic::store::outcomes::Outcomes::new(state.db.clone());
    let mut plan = medic::plan::build(&PlanInput {
        incident: &intake.incident,
        diagnosis: &diagnosis,
        candidates: &candidates,
        ceilings: &config.ceilings,
        protected: state.data_dir.protected(),
        outcomes: Some(&outcomes),
        rule: (&rule.name, &rule.params),
        command: None,
        backoff: config.policy.backoff,
        max_retries: rule.max_retries,
    })?;
    let env = medic::run::RunEnv {
        sandbox: &sandbox,
        db: &state.db,
        audit: &state.audit,
        data_dir: &state.data_dir,
        ceilings: &config.ceilings,
        secrets: &config.secrets,
        stop: &stop,
    };
    runtime.block_on(medic::plan::fill_steps(&mut plan, &intake.incident, &env))?;
    if args.json {
        out.json(&plan)?;
    } else {
        render(&plan, out)?;
    }
    Ok(Exit::Success)
}

/// Print a plan for a human.
pub(crate) fn render(plan: &Plan, out: &mut Output) -> anyhow::Result<()> {
    let diagnosis = &plan.diagnosis;
    out.line(format!(
        "incident {}: root cause {} (confidence {:.2}{}) -- {}",
        plan.incident_id,
        diagnosis.root_cause.as_str(),
        diagnosis.confidence,
        if diagnosis.low_confidence {
            ", LOW"
        } else {
            ""
        },
        diagnosis.summary
    ))?;
    out.line(format!(
        "options (policy rule `{}`), best first:",
        plan.rule
    ))?;
    for (index, option) in plan.options.iter().enumerate() {
        let name = match option.kind {
            OptionKind::Remediation => format!(
                "remediation {} {}",
                option.remediation.as_deref().unwrap_or("?"),
                option.remediation_version.as_deref().unwrap_or("")
            ),
            kind => kind.as_str().to_string(),
        };
        out.line(format!(
            "{:>2}. {name}{}  confidence {:.2}, risk {}, ~{:.1}s",
            index + 1,
            if option.applicable {
                ""
            } else {
                "  [NOT APPLICABLE]"
            },
            option.confidence,
            option.risk.as_str(),
            option.expected_duration_secs
        ))?;
        out.line(format!("      {}", option.reason))?;
        if !option.params.is_empty() {
            let params: Vec<String> = option
                .params
                .iter()
                .map(|(name, value)| {
                    let from = option
                        .param_sources
                        .get(name)
                        .map(|source| {
                            format!(
                                " ({})",
                                serde_json::to_value(source)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_string))
                                    .unwrap_or_default()
                            )
                        })
                        .unwrap_or_default();
                    format!("{name}={value}{from}")
                })
                .collect();
            out.line(format!("      params: {}", params.join(", ")))?;
        }
        for step in &option.steps {
            out.line(format!(
                "      - [{}] {}  -- {}",
                step.capability, step.target, step.detail
            ))?;
        }
        let radius = &option.blast_radius;
        for (label, items) in [
            ("programs", &radius.programs),
            ("urls", &radius.urls),
            ("paths", &radius.paths),
            ("env", &radius.env),
        ] {
            if !items.is_empty() {
                out.line(format!("      may touch {label}: {}", items.join("; ")))?;
            }
        }
    }
    for warning in &plan.warnings {
        out.line(format!("warning: {warning}"))?;
    }
    Ok(())
}
