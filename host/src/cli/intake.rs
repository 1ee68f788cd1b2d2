//! The inputs `medic plan` and `medic heal` share: an incident file, an Alertmanager
//! payload, or a log with the resource it is about; and the candidates a plan may offer
//! (bundled remediations and those installed under `remediation_dirs`).

use std::path::PathBuf;

use anyhow::Context as _;
use medic::catalog::Loaded;
use medic::config::Config;
use medic::diagnosis::{self, Signal};
use medic::incident::{Incident, Resource, Source};
use medic::store::data_dir::Protected;

/// Where the incident comes from.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IncidentArgs {
    /// The incident, as JSON (see README); `-` reads standard input.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["alert", "log"])]
    pub(crate) incident: Option<PathBuf>,
    /// An Alertmanager webhook payload (JSON): its first alert is the incident.
    #[arg(long, value_name = "FILE", conflicts_with = "log")]
    pub(crate) alert: Option<PathBuf>,
    /// A failure's log; needs --resource-kind and --resource-id.
    #[arg(long, value_name = "FILE", requires_all = ["resource_kind", "resource_id"])]
    pub(crate) log: Option<PathBuf>,
    /// The affected resource's kind (`service`, `host`, `pipeline`, ...).
    #[arg(long, value_name = "KIND")]
    pub(crate) resource_kind: Option<String>,
    /// The affected resource's id (`nginx`, `web-01`, `org/repo#12`, ...).
    #[arg(long, value_name = "ID")]
    pub(crate) resource_id: Option<String>,
    /// The issue type (default: `failure` for a log, `command_failed` for a command).
    #[arg(long, value_name = "TYPE")]
    pub(crate) issue_type: Option<String>,
}

/// An incident with what diagnosis reads of it.
pub(crate) struct Intake {
    pub(crate) incident: Incident,
    /// The failure's text: the incident's log, the alert's text, the log file.
    pub(crate) log: Vec<u8>,
    /// Evidence from an alert.
    pub(crate) signals: Vec<Signal>,
}

/// A fresh incident id.
pub(crate) fn new_incident_id(prefix: &str) -> String {
    let run = medic::run::new_run_id();
    format!("{prefix}-{}", run.trim_start_matches("run-"))
}

fn check_text(field: &str, value: &str) -> anyhow::Result<()> {
    if value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        anyhow::bail!("{field} must be 1 to 256 printable bytes");
    }
    Ok(())
}

/// Read the incident `args` name; `None` when they name none (a wrapped command).
pub(crate) fn read(args: &IncidentArgs) -> anyhow::Result<Option<Intake>> {
    if let Some(path) = &args.incident {
        let incident = medic::incident::load_incident(path)?;
        let log = incident.log.clone().unwrap_or_default().into_bytes();
        return Ok(Some(Intake {
            incident,
            log,
            signals: Vec::new(),
        }));
    }
    if let Some(path) = &args.alert {
        let text = medic::nofollow::read_regular_text(path, medic::incident::MAX_INCIDENT_BYTES)
            .with_context(|| format!("cannot read alert `{}`", path.display()))?;
        let mut incidents = medic::incident::alertmanager::parse_alertmanager(&text, path)?;
        if incidents.is_empty() {
            anyhow::bail!("alert `{}` holds no alerts", path.display());
        }
        let mut incident = incidents.remove(0);
        if let Some(kind) = &args.resource_kind {
            incident.resource.kind = kind.clone();
        }
        if let Some(id) = &args.resource_id {
            incident.resource.id = id.clone();
        }
        let mut signals = Vec::new();
        if let Some(cause) = diagnosis::cause_for_issue_type(&incident.issue_type) {
            signals.push(Signal {
                root_cause: cause,
                weight: 3.0,
                description: format!(
                    "alert `{}` on {} ({})",
                    incident
                        .labels
                        .get("alertname")
                        .map_or("unknown", String::as_str),
                    incident.resource.id,
                    incident.issue_type
                ),
                services: incident
                    .labels
                    .get("service")
                    .or(incident.labels.get("job"))
                    .cloned()
                    .into_iter()
                    .collect(),
            });
        }
        let log = incident.log.clone().unwrap_or_default().into_bytes();
        return Ok(Some(Intake {
            incident,
            log,
            signals,
        }));
    }
    if let Some(path) = &args.log {
        let mut file = super::diagnose::open_log(path, "--log -")?;
        let mut log = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&mut file, super::MAX_LOG_BYTES),
            &mut log,
        )
        .with_context(|| format!("cannot read log `{}`", path.display()))?;
        let kind = args.resource_kind.clone().unwrap_or_default();
        let id = args.resource_id.clone().unwrap_or_default();
        check_text("--resource-kind", &kind)?;
        check_text("--resource-id", &id)?;
        let issue_type = args
            .issue_type
            .clone()
            .unwrap_or_else(|| "failure".to_string());
        check_text("--issue-type", &issue_type)?;
        return Ok(Some(Intake {
            incident: Incident {
                id: new_incident_id("log"),
                source: Source::Cli,
                resource: Resource { kind, id },
                issue_type,
                summary: format!("failure logged in {}", path.display()),
                labels: Default::default(),
                params: Default::default(),
                log: None,
                fingerprint: None,
                started_at: Some(medic::store::runs::timestamp()),
            },
            log,
            signals: Vec::new(),
        }));
    }
    Ok(None)
}

/// The incident for a wrapped command: its resource is the command line unless named.
pub(crate) fn for_command(args: &IncidentArgs, command: &[String]) -> anyhow::Result<Incident> {
    // At most 200 bytes, cut on a character boundary: the resource id's limit is 256.
    let mut line = medic::text::escape_control(&command.join(" "));
    if line.len() > 200 {
        let mut cut = 200;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    let kind = args
        .resource_kind
        .clone()
        .unwrap_or_else(|| "command".to_string());
    let id = args.resource_id.clone().unwrap_or_else(|| line.clone());
    check_text("--resource-kind", &kind)?;
    check_text("--resource-id", &id)?;
    let issue_type = args
        .issue_type
        .clone()
        .unwrap_or_else(|| "command_failed".to_string());
    check_text("--issue-type", &issue_type)?;
    Ok(Incident {
        id: new_incident_id("heal"),
        source: Source::Command,
        resource: Resource { kind, id },
        issue_type,
        summary: format!("`{line}` failed"),
        labels: Default::default(),
        params: Default::default(),
        log: None,
        fingerprint: None,
        started_at: Some(medic::store::runs::timestamp()),
    })
}

/// Every remediation a plan may offer: the bundled ones, then each installed one under the
/// configured `remediation_dirs`. Their manifests are read at once (cheap); a remediation
/// is loaded and checked (ceiling, programs, pins) only when a diagnosis calls for it, and
/// one that fails its checks is left out with a warning.
pub(crate) struct Catalog<'a> {
    config: &'a Config,
    protected: &'a Protected,
    /// (how to load it: a bundled name or a directory path, its manifest)
    manifests: Vec<(String, medic::manifest::Manifest)>,
    loaded: std::sync::Mutex<std::collections::BTreeMap<String, Option<Loaded>>>,
}

/// The manifests of every remediation a plan may offer, by how each is loaded (a bundled
/// name or a directory path).
pub(crate) type Manifests = Vec<(String, medic::manifest::Manifest)>;

/// Read the bundled manifests and those under `remediation_dirs` (one that does not parse
/// is left out with a warning).
pub(crate) fn read_manifests(config: &Config) -> anyhow::Result<Manifests> {
    let mut manifests: Vec<(String, medic::manifest::Manifest)> =
        medic::catalog::bundled_manifests()?
            .into_iter()
            .map(|manifest| (manifest.name.clone(), manifest))
            .collect();
    for dir in &config.remediation_dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!("remediation_dirs: cannot read `{}`: {error}", dir.display());
                continue;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.join(medic::manifest::MANIFEST_FILE).is_file())
            .collect();
        paths.sort();
        for path in paths {
            match medic::manifest::load_manifest(&path) {
                Ok(manifest) => manifests.push((path.display().to_string(), manifest)),
                Err(error) => tracing::warn!("remediation `{}` left out: {error}", path.display()),
            }
        }
    }
    Ok(manifests)
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(config: &'a Config, protected: &'a Protected, manifests: Manifests) -> Self {
        Catalog {
            config,
            protected,
            manifests,
            loaded: Default::default(),
        }
    }
}

impl medic::heal::Candidates for Catalog<'_> {
    fn for_incident(
        &self,
        incident: &Incident,
        root_cause: medic::diagnosis::RootCause,
    ) -> Vec<Loaded> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut found = Vec::new();
        for (location, manifest) in &self.manifests {
            if !manifest.handles_incident(incident, Some(root_cause.as_str())) {
                continue;
            }
            let entry = loaded.entry(location.clone()).or_insert_with(|| {
                match medic::catalog::load_remediation(location, self.config, self.protected) {
                    Ok(remediation) => Some(remediation),
                    Err(error) => {
                        tracing::warn!("remediation `{location}` left out: {error}");
                        None
                    }
                }
            });
            if let Some(remediation) = entry {
                found.push(remediation.clone());
            }
        }
        found
    }
}
