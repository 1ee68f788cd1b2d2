//! `medic heal [--incident FILE | --alert FILE | --log FILE ...] [--yes] [--dry-run] [--json]`
//! and `medic heal [--verify CMD] -- CMD ARGS...`: diagnose, plan, decide by policy, then
//! retry and/or remediate and verify, until healed or escalated.

use std::path::PathBuf;
use std::sync::Arc;

use medic::heal::events::{EventSink, HealEvent};
use medic::heal::{HealReport, HealRequest, HealStatus};
use medic::process::wrapped::Echo;

use super::approve::CliApprover;
use super::exit::Exit;
use super::intake::IncidentArgs;
use super::output::Output;
use super::progress::{Progress, Style};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  medic heal -- make test
  medic heal --verify 'test -s dist/app.js' -- npm run build
  medic heal --alert alert.json --yes
  medic heal --incident incident.json --dry-run --json

With a command, medic exits with the command's final status.")]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) input: IncidentArgs,
    /// A shell line that checks the result even when the command exits 0 (a "shadow
    /// error"); a failing check is healed like a failure. Runs under /bin/sh -c.
    #[arg(long, value_name = "CMD", requires = "command")]
    pub(crate) verify: Option<String>,
    /// Approve every option that needs approval (without it, and without a terminal to
    /// ask on, those options do not run and the incident escalates).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Print every decision and act on none.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Stream progress as one JSON object per line on stdout (the command's own output
    /// goes to stderr); the last line is the report.
    #[arg(long)]
    pub(crate) json: bool,
    /// The command to run and heal, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

pub(crate) fn run(
    args: Args,
    config_path: &Option<PathBuf>,
    data_dir: Option<PathBuf>,
    quiet: bool,
    out: &mut Output,
) -> anyhow::Result<Exit> {
    let (incident, log, signals, command) = if args.command.is_empty() {
        let Some(intake) = super::intake::read(&args.input)? else {
            anyhow::bail!(
                "nothing to heal: pass -- CMD ARGS..., --incident FILE, --alert FILE, or --log FILE with --resource-kind and --resource-id"
            );
        };
        (intake.incident, Some(intake.log), intake.signals, None)
    } else {
        if args.input.incident.is_some() || args.input.alert.is_some() || args.input.log.is_some() {
            anyhow::bail!(
                "a wrapped command is its own incident: drop --incident, --alert and --log, or the command"
            );
        }
        let incident = super::intake::for_command(&args.input, &args.command)?;
        (incident, None, Vec::new(), Some(args.command.clone()))
    };
    let fingerprint = match &command {
        Some(argv) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let mut text = format!(
                "{}\0{}\0{}",
                cwd.display(),
                incident.resource.kind,
                incident.resource.id
            );
            for arg in argv {
                text.push('\0');
                text.push_str(arg);
            }
            medic::manifest::sha256_hex(text.as_bytes())
        }
        None => incident
            .fingerprint
            .clone()
            .unwrap_or_else(|| incident.id.clone()),
    };
    let runtime = super::runtime()?;
    let stop = super::setup::stop_on_signals(&runtime)?;
    let style = if args.json {
        Style::Json
    } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Style::Live
    } else {
        Style::Plain
    };
    let echo = if args.json { Echo::Stderr } else { Echo::Same };
    let progress = Progress::new(style, medic::config::ci_environment(), quiet);

    // Configuration and the pattern library load beside the command (they open no state):
    // a failure's first decision does not wait for them.
    // The command's output is scanned as it arrives, on that thread too.
    let (tee, tee_reader) = medic::process::wrapped::Tee::new();
    // It starts once the command has run a moment (or failed): a command that passes at
    // once does not share the machine's cores with work it will never need.
    let (go, wait_to_go) = std::sync::mpsc::channel::<()>();
    let prepared = {
        let config_path = config_path.clone();
        let data_dir = data_dir.clone();
        std::thread::spawn(move || -> anyhow::Result<Prepared> {
            let _ = wait_to_go.recv_timeout(PREPARE_AFTER);
            let config = medic::config::load_config(config_path.as_deref(), data_dir)?;
            let library = medic::diagnosis::load_library(config.diagnosis.patterns_dir.as_deref())?;
            let manifests = super::intake::read_manifests(&config)?;
            let scan = medic::diagnosis::scan(&library, tee_reader, Default::default()).ok();
            Ok(Prepared {
                config,
                library,
                manifests,
                scan,
            })
        })
    };
    let mut tee = Some(tee);

    // The success path opens nothing: with no killed run or loop to take over first, the
    // command runs at once, and medic's state is opened only if it fails.
    let mut first_run = None;
    if let Some(argv) = &command {
        let dir = match &data_dir {
            Some(dir) => dir.clone(),
            None => {
                medic::config::load_config_without_ceilings(config_path.as_deref(), None)?.data_dir
            }
        };
        if !medic::store::heals::may_have_unfinished(&dir) {
            progress.emit(&HealEvent::HealingStart {
                incident_id: incident.id.clone(),
                at: medic::store::runs::timestamp(),
                command: Some(argv.clone()),
                resumed: false,
            });
            let run = runtime.block_on(medic::heal::run_checked(
                argv,
                args.verify.as_deref(),
                echo,
                &stop,
                tee.as_ref(),
            ))?;
            if run.passed {
                let report = HealReport::passed(&incident, &run);
                progress.emit(&HealEvent::HealingComplete {
                    incident_id: incident.id.clone(),
                    at: medic::store::runs::timestamp(),
                    status: report.status.as_str().to_string(),
                    summary: report.summary.clone(),
                });
                progress.finish(&report);
                print_json_report(&report, args.json);
                // The loading thread stays asleep until the process ends, and the runtime
                // is not torn down thread by thread: the process exits next.
                std::mem::forget(go);
                std::mem::forget(runtime);
                return Ok(Exit::Status(0));
            }
            if stop.raised().is_some() {
                return Ok(Exit::Interrupted(stop.raised().unwrap_or(2)));
            }
            let whole = tee.take().is_some_and(|tee| !tee.is_broken());
            first_run = Some((run, whole));
        }
    }
    // Preparing starts now if it has not; the scan ends when the tee does.
    drop(go);
    drop(tee);

    let started = std::time::Instant::now();
    let stage = |name: &str| {
        tracing::debug!(
            "setup: {name} at {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        )
    };
    let Prepared {
        config,
        library,
        manifests,
        scan,
    } = prepared
        .join()
        .map_err(|_| anyhow::anyhow!("loading the configuration panicked"))??;
    stage("configuration, pattern library, first scan");
    let first_run = first_run.map(|(mut run, whole)| {
        if whole {
            run.scan = scan;
        }
        run
    });
    let data_dir = super::setup::open_data_dir(&config, config_path.as_deref())?;
    stage("data directory");
    let state = super::setup::open_db(data_dir, &config)?;
    stage("database");
    let sandbox = super::setup::sandbox(&state)?;
    stage("sandbox");
    let candidates = super::intake::Catalog::new(&config, state.data_dir.protected(), manifests);
    stage("candidates' manifests");
    let approver = CliApprover {
        yes: args.yes,
        progress: Arc::clone(&progress),
    };
    let env = medic::run::RunEnv {
        sandbox: &sandbox,
        db: &state.db,
        audit: &state.audit,
        data_dir: &state.data_dir,
        ceilings: &config.ceilings,
        secrets: &config.secrets,
        stop: &stop,
    };
    let has_command = command.is_some();
    let report = runtime.block_on(medic::heal::heal(HealRequest {
        incident,
        command,
        verify: args.verify.clone(),
        echo,
        log,
        signals,
        library: &library,
        config: &config,
        candidates: &candidates,
        env,
        dry_run: args.dry_run,
        approver: &approver,
        events: progress.as_ref(),
        fingerprint,
        first_run,
    }))?;
    progress.finish(&report);
    print_json_report(&report, args.json);
    if !args.json && !has_command {
        out.line(format!(
            "status: {} -- {}",
            report.status.as_str(),
            report.summary
        ))?;
    }
    Ok(exit_for(&report, has_command, stop.raised()))
}

/// The exit code: the command's final status when there is a command; otherwise 0 when
/// healed (or only observed), 3 when an option needed approval that was not given, 1 when
/// it escalated.
fn exit_for(report: &HealReport, has_command: bool, signal: Option<i32>) -> Exit {
    if report.status == HealStatus::Interrupted {
        return Exit::Interrupted(signal.unwrap_or(2));
    }
    if has_command {
        return Exit::Status(report.exit_status.unwrap_or(1));
    }
    match report.status {
        HealStatus::Healed | HealStatus::Passed | HealStatus::Observed => Exit::Success,
        HealStatus::Escalated if report.approval_refused => Exit::ApprovalRequired,
        _ => Exit::NotHealed,
    }
}

/// Under `--json`, the report as the last line.
fn print_json_report(report: &HealReport, json: bool) {
    #[derive(serde::Serialize)]
    struct Last<'a> {
        event: &'static str,
        report: &'a HealReport,
    }
    if json {
        println!(
            "{}",
            super::progress::json_line(&Last {
                event: "report",
                report
            })
        );
    }
}

/// What loads beside the command: nothing in it opens medic's state.
struct Prepared {
    config: medic::config::Config,
    library: medic::diagnosis::PatternLibrary,
    manifests: super::intake::Manifests,
    /// The command's first run, scanned as it arrived.
    scan: Option<medic::diagnosis::matcher::Scan>,
}

/// How long the wrapped command runs before configuration and the pattern library start
/// loading beside it.
const PREPARE_AFTER: std::time::Duration = std::time::Duration::from_millis(5);
