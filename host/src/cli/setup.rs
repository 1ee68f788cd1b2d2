//! What every command that touches medic's state sets up the same way: the data directory
//! (checked), the ceilings checked against it, the database with a warning for each run
//! that was killed before it finished, the sandbox with its authenticated cache, and the
//! signal handlers that stop a run.

use std::path::Path;

use anyhow::Context as _;
use medic::config::Config;
use medic::sandbox::{CacheKey, Sandbox};
use medic::stop::StopSignal;
use medic::store::audit::{AuditLog, Sealer};
use medic::store::data_dir::DataDir;
use medic::store::db::Database;

/// medic's state, opened and checked.
pub(crate) struct State {
    pub(crate) data_dir: DataDir,
    pub(crate) db: Database,
    /// The audit log, signing its head with the data directory's key.
    pub(crate) audit: AuditLog,
}

/// Open the data directory and database named by `config`, refusing a ceiling that reaches
/// them, and warn of runs that were killed before they finished.
pub(crate) fn open_state(config: &Config, config_path: Option<&Path>) -> anyhow::Result<State> {
    let data_dir = open_data_dir(config, config_path)?;
    open_db(data_dir, config)
}

/// Open and check the data directory only (no database yet), refusing a ceiling that
/// reaches it or the configuration file.
pub(crate) fn open_data_dir(
    config: &Config,
    config_path: Option<&Path>,
) -> anyhow::Result<DataDir> {
    let mut data_dir = DataDir::open(&config.data_dir)?;
    if let Some(path) = config_path {
        data_dir.protect_config(path);
    }
    config.check_state_reach(data_dir.protected())?;
    Ok(data_dir)
}

/// Open the database in a checked data directory, warning of unfinished runs; the audit
/// log signs its head unless `[audit] sign = false`.
pub(crate) fn open_db(data_dir: DataDir, config: &Config) -> anyhow::Result<State> {
    let db = Database::open(&data_dir)?;
    for run in medic::store::runs::unfinished(&db, &data_dir)? {
        tracing::warn!(
            "run {} of `{}` (started {}) did not finish{}; `medic recover` rolls it back",
            run.run_id,
            run.remediation,
            run.started_at,
            if run.phase == medic::store::runs::Phase::Applying {
                " while it was changing the host"
            } else {
                ""
            }
        );
    }
    let audit = if config.audit_sign {
        AuditLog::sealed(db.clone(), Sealer::open(&data_dir)?)
    } else {
        AuditLog::new(db.clone())
    };
    Ok(State {
        data_dir,
        db,
        audit,
    })
}

/// The sandbox, caching compiled components in the data directory under its cache key.
pub(crate) fn sandbox(state: &State) -> anyhow::Result<Sandbox> {
    let key = state.data_dir.key("cache")?;
    Ok(Sandbox::new(Some(CacheKey {
        dir: state.data_dir.compiled_dir(),
        key,
    }))?)
}

/// A stop signal raised by the first SIGINT, SIGTERM, SIGHUP or SIGQUIT; later ones are
/// ignored, so a rollback in progress finishes.
pub(crate) fn stop_on_signals(runtime: &tokio::runtime::Runtime) -> anyhow::Result<StopSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = StopSignal::new();
    let _guard = runtime.enter();
    for (kind, number) in [
        (SignalKind::interrupt(), 2),
        (SignalKind::terminate(), 15),
        (SignalKind::hangup(), 1),
        (SignalKind::quit(), 3),
    ] {
        let mut stream = signal(kind).context("cannot install a signal handler")?;
        let stop = stop.clone();
        runtime.spawn(async move {
            while stream.recv().await.is_some() {
                if stop.raised().is_none() {
                    tracing::warn!("signal {number}: stopping; rolling back what was applied");
                } else {
                    tracing::warn!("signal {number}: already stopping, rollback must finish");
                }
                stop.raise(number);
            }
        });
    }
    Ok(stop)
}
