//! The command line: `Cli` and `Command`, one file per subcommand. Transports only: each
//! command parses its arguments, calls one library function and renders the result.

mod approve;
mod audit;
mod build;
mod config;
mod context;
mod diagnose;
mod exit;
mod heal;
mod intake;
mod manifest;
mod new;
mod output;
mod patterns;
mod plan;
mod policy;
mod progress;
mod recover;
mod remediations;
mod run;
mod setup;
mod stats;
mod test;

/// Most bytes of a `--log` file read whole (`medic plan`, `medic heal`); `medic diagnose`
/// streams any size.
pub(crate) const MAX_LOG_BYTES: u64 = 64 << 20;

/// medic's version and the host/guest contract it implements.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (WIT medic:remediation@0.2.0)");

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use exit::Exit;
use output::Output;

const AFTER_HELP: &str = "\
Exit codes (`medic heal -- CMD` exits with the command's final status instead):
  0  success (healed, planned, valid, recovered)
  1  finished but not healed (verify failed, rolled back, escalated), a scenario failed
     (medic test), or the audit chain is broken
  2  usage, input or internal error (a missing or invalid parameter); nothing was half-applied
  3  approval required and not given; that option did not run
  4  denied: the sandbox refused a host call the remediation needed
  5  the remediation's plan failed; nothing was changed
  130, 143  stopped by SIGINT or SIGTERM; what apply changed was rolled back

Examples:
  medic heal -- make test
  medic heal --alert alert.json --yes
  medic plan --log build.log --resource-kind pipeline --resource-id org/repo#12
  medic diagnose --log build.log
  medic diagnose --alert alert.json --context --json
  medic remediations list
  medic manifest explain restart-service
  medic run free-disk-space --incident incident.json --dry-run
  medic recover
  medic audit verify
  medic new remediation my-fix --risk medium --lang rust
  medic build my-fix && medic test my-fix";

/// Heal failing infrastructure with sandboxed WebAssembly remediations.
///
/// Every remediation is a WebAssembly component that can reach only the programs, URLs,
/// paths and environment names its manifest declares and the operator's risk ceiling
/// permits. Every host call is recorded in a hash-chained audit log.
#[derive(Debug, Parser)]
#[command(name = "medic", version = VERSION, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Where medic keeps its audit log, checkpoints and compiled components
    /// [default: the config's `data_dir`, else ~/.local/share/medic].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Overlay this medic.toml on the embedded default and /etc/medic/medic.toml, section by
    /// section; `ceilings.d/*.toml` beside it add grants.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// More logging on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Name the root cause of a failure from its log, an alert and the host's context.
    Diagnose(diagnose::Args),
    /// Show this host's resources, probes, logs and connectivity.
    Context(context::Args),
    /// List the known-error patterns, or test which fire on a file.
    #[command(subcommand)]
    Patterns(patterns::Command),
    /// Rank the options for healing an incident: retry, remediations, manual, escalate.
    Plan(plan::Args),
    /// Heal an incident, or a command (`medic heal -- CMD`), deciding by policy.
    Heal(heal::Args),
    /// Run a remediation against an incident, in the sandbox.
    Run(run::Args),
    /// Lay out a new remediation: skeleton, manifest, scenarios, README (authors).
    #[command(subcommand)]
    New(new::Command),
    /// Build a remediation's component, pin its sha256 and check it (authors).
    Build(build::Args),
    /// Test a remediation: run its scenarios through the real sandbox against a scripted
    /// world (programs, HTTP, files), and report each as passed or failed.
    Test(test::Args),
    /// Roll back runs that were killed before they finished.
    Recover(recover::Args),
    /// Check or explain a remediation manifest.
    #[command(subcommand)]
    Manifest(manifest::Command),
    /// Show or verify the audit log, or print its signed head.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Show the effective configuration and where each value came from, or check it.
    #[command(subcommand)]
    Config(config::Command),
    /// List the bundled remediations, or show one.
    #[command(subcommand)]
    Remediations(remediations::Command),
    /// Check the policy, or explain what medic will do without asking.
    #[command(subcommand)]
    Policy(policy::Command),
    /// Success rates, counts and durations of each remediation version and of retries.
    Stats(stats::Args),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from this command line.
    Man,
}

impl Command {
    /// Whether the command was asked for JSON output (`--json`), so errors are JSON too.
    fn wants_json(&self) -> bool {
        match self {
            Command::Diagnose(args) => args.json,
            Command::Context(args) => args.json,
            Command::Plan(args) => args.json,
            Command::Heal(args) => args.json,
            Command::Run(args) => args.json,
            Command::Test(args) => args.json,
            Command::Build(args) => args.json,
            Command::New(command) => command.wants_json(),
            Command::Recover(args) => args.json,
            Command::Stats(args) => args.json,
            Command::Patterns(command) => command.wants_json(),
            Command::Manifest(command) => command.wants_json(),
            Command::Audit(command) => command.wants_json(),
            Command::Config(command) => command.wants_json(),
            Command::Remediations(command) => command.wants_json(),
            Command::Policy(command) => command.wants_json(),
            Command::Completions { .. } | Command::Man => false,
        }
    }
}

/// Parse the command line, run it, and return the process exit code.
pub(crate) fn main() -> i32 {
    let cli = Cli::parse();
    let json = cli.command.wants_json();
    init_tracing(cli.verbose, cli.quiet);
    let mut out = Output::stdout();
    let result = match cli.command {
        Command::Diagnose(args) => diagnose::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Context(args) => context::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Patterns(command) => patterns::run(command, &cli.config, cli.data_dir, &mut out),
        Command::Plan(args) => plan::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Heal(args) => heal::run(args, &cli.config, cli.data_dir, cli.quiet, &mut out),
        Command::Run(args) => run::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Test(args) => test::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Build(args) => build::run(args, &cli.config, cli.data_dir, &mut out),
        Command::New(command) => new::run(command, &mut out),
        Command::Recover(args) => recover::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Manifest(command) => manifest::run(command, &cli.config, cli.data_dir, &mut out),
        Command::Audit(command) => audit::run(command, &cli.config, cli.data_dir, &mut out),
        Command::Config(command) => config::run(command, &cli.config, cli.data_dir, &mut out),
        Command::Remediations(command) => remediations::run(command, &mut out),
        Command::Policy(command) => policy::run(command, &cli.config, cli.data_dir, &mut out),
        Command::Stats(args) => stats::run(args, &cli.config, cli.data_dir, &mut out),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "medic", &mut std::io::stdout());
            Ok(Exit::Success)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .map(|()| Exit::Success)
                .map_err(anyhow::Error::from)
        }
    };
    match result {
        Ok(exit) => exit.code(),
        Err(error) if output::is_broken_pipe(&error) => Exit::Success.code(),
        Err(error) => {
            let message = error_chain(&error);
            if json {
                // Under --json, a consumer reads errors as JSON too.
                eprintln!(
                    "{}",
                    serde_json::json!({
                        "version": 1,
                        "error": { "message": message, "exit_code": Exit::Error.code() },
                    })
                );
            } else {
                eprintln!("error: {}", medic::text::escape_control(&message));
            }
            Exit::Error.code()
        }
    }
}

/// An error and its causes on one line, each cause once: a cause whose text the message
/// before it already holds (a typed error that names its source) is not repeated.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// The async runtime a command runs its library calls on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = medic::config::log_filter()
        .and_then(|filter| tracing_subscriber::EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    // No ANSI codes: every control character on stderr is escaped (`output::StderrSink`),
    // so a guest's text in a log line cannot move the cursor or retitle the terminal.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| output::StderrSink)
        .with_ansi(false)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
        assert!(
            VERSION.ends_with(&format!("(WIT {})", medic::authoring::CONTRACT)),
            "--version names another contract than wit/medic.wit's"
        );
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "medic",
            "--data-dir",
            "/tmp/d",
            "run",
            "restart-service",
            "--incident",
            "i.json",
            "--dry-run",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/d")));
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.remediation, "restart-service");
        assert_eq!(args.incident, PathBuf::from("i.json"));
        assert!(args.dry_run && args.json);
        assert!(
            Cli::try_parse_from(["medic", "run", "x"]).is_err(),
            "--incident is required"
        );
    }

    #[test]
    fn audit_and_manifest_flags_parse() {
        let cli =
            Cli::try_parse_from(["medic", "audit", "verify", "--expect-head", "ab", "--json"])
                .unwrap();
        assert!(matches!(
            cli.command,
            Command::Audit(audit::Command::Verify { json: true, .. })
        ));
        let cli = Cli::try_parse_from(["medic", "manifest", "explain", "dir", "--json"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Manifest(manifest::Command::Explain { json: true, .. })
        ));
    }

    #[test]
    fn authoring_flags_parse() {
        let cli = Cli::try_parse_from([
            "medic",
            "new",
            "remediation",
            "fix",
            "--risk",
            "high",
            "--lang",
            "python",
        ])
        .unwrap();
        let Command::New(new::Command::Remediation {
            name,
            risk,
            lang,
            dir,
            json,
        }) = cli.command
        else {
            panic!("expected new remediation")
        };
        assert_eq!(name, "fix");
        assert!(matches!(risk, new::RiskArg::High));
        assert!(matches!(lang, new::LangArg::Python));
        assert_eq!(dir, PathBuf::from("."));
        assert!(!json);
        let defaults = Cli::try_parse_from(["medic", "new", "remediation", "fix"]).unwrap();
        assert!(matches!(
            defaults.command,
            Command::New(new::Command::Remediation {
                risk: new::RiskArg::Low,
                lang: new::LangArg::Rust,
                ..
            })
        ));
        assert!(
            Cli::try_parse_from(["medic", "new", "remediation", "fix", "--lang", "go"]).is_err()
        );

        let Command::Build(build) = Cli::try_parse_from(["medic", "build"]).unwrap().command else {
            panic!("expected build")
        };
        assert_eq!(build.dir, PathBuf::from("."));

        let cli = Cli::try_parse_from([
            "medic",
            "test",
            "fix",
            "--scenario",
            "a.toml",
            "--scenario",
            "b.toml",
            "--json",
        ])
        .unwrap();
        let Command::Test(test) = cli.command else {
            panic!("expected test")
        };
        assert_eq!(test.remediation, "fix");
        assert_eq!(
            test.scenario,
            [PathBuf::from("a.toml"), PathBuf::from("b.toml")]
        );
        assert!(test.json && !test.schema);
        assert!(
            Cli::try_parse_from(["medic", "test", "fix", "--schema"]).is_err(),
            "--schema stands alone"
        );

        let cli = Cli::try_parse_from(["medic", "manifest", "sign", "dir", "--key", "k"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Manifest(manifest::Command::Sign { .. })
        ));
        assert!(
            Cli::try_parse_from(["medic", "manifest", "sign", "dir"]).is_err(),
            "--key is required"
        );
        assert!(Cli::try_parse_from(["medic", "manifest", "keygen", "k"]).is_ok());
    }
}
