//! The scenario file format (`scenarios/*.toml`), as written. Unknown keys are errors.
//! These types only carry text; `mod.rs` checks them. The JSON Schema in
//! `docs/scenario.schema.json` is generated from them (`medic test --schema`), so the two
//! cannot drift apart.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A `medic test` scenario: an incident, the world as the remediation will find it, and
/// what must come of running it there.
///
/// Example:
/// ```toml
/// description = "a stopped container is restarted and answers again"
/// [incident]
/// resource = { kind = "container", id = "web" }
/// issue_type = "service_down"
/// params = { health_url = "http://127.0.0.1:8080/health" }
/// [[world.exec]]
/// program = "/usr/bin/docker"
/// args = ["restart", "web"]
/// stdout = "web\n"
/// [[world.http]]
/// url = "http://127.0.0.1:8080/health"
/// status = 200
/// [expect]
/// status = "healed"
/// calls = [
///   { operation = "apply", call = "exec /usr/bin/docker restart web" },
///   { operation = "verify", call = "http GET http://127.0.0.1:8080/health" },
/// ]
/// ```
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "medic scenario")]
pub(crate) struct RawScenario {
    /// What the scenario shows, in a sentence; the file name is its name.
    pub(crate) description: Option<String>,
    /// Only call `plan` (as `medic run --dry-run`).
    #[serde(default)]
    pub(crate) dry_run: bool,
    /// After a run that healed, call `rollback` too, so the scenario tests that it undoes
    /// what `apply` did; the expected status stays the run's own.
    #[serde(default)]
    pub(crate) then_rollback: bool,
    /// Run it even though the manifest does not say it handles this incident.
    #[serde(default)]
    pub(crate) force: bool,
    /// The incident the remediation is asked to heal.
    pub(crate) incident: RawIncident,
    /// What the host holds and answers; everything else is absent.
    #[serde(default)]
    pub(crate) world: RawWorld,
    /// What must come of the run.
    pub(crate) expect: RawExpect,
}

/// The incident, in the shape of `medic run --incident` JSON; `id` and `source` may be
/// left out.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Incident")]
pub(crate) struct RawIncident {
    /// Default: `scenario-` and the file name.
    pub(crate) id: Option<String>,
    /// `cli` (default), `alertmanager`, `github`, `gitlab`, `jenkins`, `generic`, `command`.
    pub(crate) source: Option<String>,
    /// What is affected.
    pub(crate) resource: RawResource,
    /// `service_down`, `disk_full`, ...
    pub(crate) issue_type: String,
    /// One line.
    pub(crate) summary: Option<String>,
    /// Labels from the source.
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    /// The remediation's parameters; each is checked against its declared pattern, as in
    /// a real run.
    #[serde(default)]
    pub(crate) params: BTreeMap<String, String>,
}

/// The affected resource.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Resource")]
pub(crate) struct RawResource {
    /// `service`, `host`, `container`, `deployment`, ...
    pub(crate) kind: String,
    /// `nginx`, `web-01`, ...
    pub(crate) id: String,
}

/// The scripted host. Files live in a temporary directory that every granted root is
/// opened beneath; programs, requests and TCP checks are answered from these lists (the
/// first entry that matches and has uses left); a call nothing answers fails the
/// scenario.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "World")]
pub(crate) struct RawWorld {
    /// Files and directories by absolute path. Example:
    /// `"/var/log/app/app.log" = { content = "started\n", age = "2d" }`
    #[serde(default)]
    pub(crate) files: BTreeMap<String, RawFile>,
    /// Answers to program runs.
    #[serde(default)]
    pub(crate) exec: Vec<RawExecAnswer>,
    /// Answers to HTTP requests.
    #[serde(default)]
    pub(crate) http: Vec<RawHttpAnswer>,
    /// Answers to TCP connect checks (`CONNECT tcp://host:port`).
    #[serde(default)]
    pub(crate) connect: Vec<RawConnectAnswer>,
    /// The host's environment variables the manifest declares. Example:
    /// `env = { APP_ENV = "staging" }`
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Values for the secret handles the manifest uses (the operator's sources are not
    /// read). Example: `secrets = { ci_token = "t0k3n-for-tests" }`
    #[serde(default)]
    pub(crate) secrets: BTreeMap<String, String>,
}

/// A file, directory or symlink in the scripted world.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "File")]
pub(crate) struct RawFile {
    /// The file's text.
    pub(crate) content: Option<String>,
    /// Instead of `content`: this many bytes of filler (`x`).
    pub(crate) size: Option<u64>,
    /// A directory rather than a file.
    #[serde(default)]
    pub(crate) dir: bool,
    /// A symlink to this path rather than a file (the sandbox never follows one).
    pub(crate) symlink: Option<String>,
    /// Permission bits. Example: `mode = 0o600`
    pub(crate) mode: Option<u32>,
    /// Last modified this long ago. Example: `age = "3d"`
    pub(crate) age: Option<String>,
}

/// One program run's answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExecAnswer")]
pub(crate) struct RawExecAnswer {
    /// The absolute program path, as the remediation names it.
    pub(crate) program: String,
    /// Exactly these arguments; left out, any arguments.
    pub(crate) args: Option<Vec<String>>,
    /// Only during this export: `plan`, `apply`, `verify` or `rollback`.
    pub(crate) operation: Option<RawOperation>,
    /// The exit status (default 0).
    #[serde(default)]
    pub(crate) status: i32,
    /// Killed by a signal: no exit status.
    #[serde(default)]
    pub(crate) killed: bool,
    /// Standard output.
    #[serde(default)]
    pub(crate) stdout: String,
    /// Standard error.
    #[serde(default)]
    pub(crate) stderr: String,
    /// The program does not exist on this host.
    #[serde(default)]
    pub(crate) missing: bool,
    /// Running it fails with this message (as when it cannot be started).
    pub(crate) fail: Option<String>,
    /// Used at most this many times (default: any number).
    pub(crate) times: Option<u32>,
}

/// One HTTP request's answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HttpAnswer")]
pub(crate) struct RawHttpAnswer {
    /// The method (default `GET`).
    pub(crate) method: Option<String>,
    /// The whole URL, as the gate normalises it.
    pub(crate) url: String,
    /// Only during this export.
    pub(crate) operation: Option<RawOperation>,
    /// The status (default 200).
    pub(crate) status: Option<u16>,
    /// Response headers.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// The body.
    #[serde(default)]
    pub(crate) body: String,
    /// Instead of a response: the request fails with this message (connection refused,
    /// timed out).
    pub(crate) error: Option<String>,
    /// Used at most this many times (default: any number).
    pub(crate) times: Option<u32>,
}

/// One TCP connect check's answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ConnectAnswer")]
pub(crate) struct RawConnectAnswer {
    /// The host, as the remediation names it.
    pub(crate) host: String,
    /// The port.
    pub(crate) port: u16,
    /// Only during this export.
    pub(crate) operation: Option<RawOperation>,
    /// Whether the port accepts (default true).
    pub(crate) accepts: Option<bool>,
    /// Used at most this many times (default: any number).
    pub(crate) times: Option<u32>,
}

/// An export of the remediation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Operation")]
pub(crate) enum RawOperation {
    /// The dry run.
    Plan,
    /// The change.
    Apply,
    /// The check.
    Verify,
    /// The undo.
    Rollback,
}

/// How a run ends (`medic run`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Status")]
pub(crate) enum RawStatus {
    /// Applied and verified.
    Healed,
    /// Not healed; rollback undid what apply changed.
    RolledBack,
    /// Not healed, and rollback failed too.
    NotHealed,
    /// The sandbox refused a host call.
    Denied,
    /// The component could not run or hit a limit.
    Error,
    /// Dry run: steps listed.
    Planned,
    /// `plan` failed; nothing was applied.
    PlanFailed,
    /// A parameter is missing or invalid.
    InvalidInput,
}

/// What must come of the run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Expect")]
pub(crate) struct RawExpect {
    /// The run's status.
    pub(crate) status: RawStatus,
    /// Text the run's summary holds.
    pub(crate) summary_contains: Option<String>,
    /// The plan's steps, each `capability target` (`exec /usr/bin/docker restart web`).
    pub(crate) steps: Option<Vec<String>>,
    /// Every exec, http, fs and env host call, in order (checkpoint calls are not listed).
    pub(crate) calls: Option<Vec<RawCall>>,
    /// Host calls that must be made, in this order, among others.
    pub(crate) calls_include: Option<Vec<RawCall>>,
    /// Exactly the capabilities the allowed host calls used (`exec`, `http`, `fs`, `env`,
    /// `checkpoint`).
    pub(crate) capabilities: Option<Vec<String>>,
    /// The world's files afterwards, by absolute path.
    #[serde(default)]
    pub(crate) files: BTreeMap<String, RawFileExpect>,
    /// Text the remediation's log lines (and stdout, stderr) hold, one entry each.
    #[serde(default)]
    pub(crate) logs_contain: Vec<String>,
}

/// One host call. Example: `{ operation = "apply", call = "exec /usr/bin/docker restart web" }`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Call")]
pub(crate) struct RawCall {
    /// The export that made it.
    pub(crate) operation: RawOperation,
    /// `capability target` as the audit log records it: `exec PROGRAM ARGS...`,
    /// `http METHOD URL`, `http CONNECT tcp://HOST:PORT`, `fs read PATH`, `env NAME`.
    pub(crate) call: String,
    /// The call was refused, with this kind (`not_in_manifest`, `beyond_ceiling`,
    /// `during_plan`, `escape`, ...); left out, it was allowed.
    pub(crate) denied: Option<String>,
}

/// A file afterwards.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FileExpect")]
pub(crate) struct RawFileExpect {
    /// Whether it exists.
    pub(crate) exists: Option<bool>,
    /// Its whole text.
    pub(crate) content: Option<String>,
    /// Text it holds.
    pub(crate) contains: Option<String>,
    /// Its size in bytes.
    pub(crate) size: Option<u64>,
}
