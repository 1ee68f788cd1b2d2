//! Running the real `medic` binary against a temporary data directory and configuration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// A remediation under test: a guest component plus the manifest written for it. The
/// configuration's ceiling for its risk level is, unless a test says otherwise, the same
/// grants, so the manifest loads and the gate is what decides.
#[derive(Debug, Clone)]
pub struct Remediation {
    /// The manifest name.
    pub name: String,
    /// The guest crate whose component is used.
    pub guest: String,
    /// `low`, `medium` or `high`.
    pub risk: String,
    tables: String,
    env: Vec<String>,
    secrets: Vec<String>,
    limits: String,
    /// Declared parameters whose pattern is not the harness's catch-all: (name, pattern).
    params: Vec<(String, String)>,
    /// Override the component hash written into the manifest.
    pub sha256: Option<String>,
    /// Extra `[[handles]]` entries, each its keys as TOML lines.
    handles: Vec<String>,
    /// Extra top-level manifest keys (`confidence = 0.9`).
    top: String,
}

impl Remediation {
    /// A manifest for `guest` with no grants, risk `low`.
    pub fn new(guest: &str) -> Self {
        Remediation {
            name: guest.to_string(),
            guest: guest.to_string(),
            risk: "low".to_string(),
            tables: String::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            limits: String::new(),
            params: Vec::new(),
            sha256: None,
            handles: Vec::new(),
            top: String::new(),
        }
    }

    /// Rename it (the manifest's `name`), so one guest can be installed twice.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Also handle what `entry` says (`root_cause = "storage"`), besides the harness's
    /// `service`/`test` incidents.
    pub fn handles(mut self, entry: &str) -> Self {
        self.handles.push(entry.to_string());
        self
    }

    /// Add a top-level manifest key (`confidence = 0.9`).
    pub fn top(mut self, line: &str) -> Self {
        self.top.push_str(line);
        self.top.push('\n');
        self
    }

    /// Set the risk level.
    pub fn risk(mut self, risk: &str) -> Self {
        self.risk = risk.to_string();
        self
    }

    /// Declare parameter `name` with `pattern` (the harness otherwise declares each guest
    /// parameter with a pattern that accepts anything).
    pub fn param(mut self, name: &str, pattern: &str) -> Self {
        self.params.push((name.to_string(), pattern.to_string()));
        self
    }

    /// Grant a program whose manifest arguments are `manifest_args` (templates such as
    /// `{target}` included) and whose ceiling entry has `ceiling_args`.
    pub fn exec_template(
        mut self,
        program: &str,
        manifest_args: &[&str],
        ceiling_args: &[&str],
    ) -> Self {
        let list = |args: &[&str]| {
            args.iter()
                .map(|arg| toml_string(arg))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            self.tables,
            "[[capabilities.exec]]\nprogram = {}\nargs = [{}] {MANIFEST_ONLY}\nargs = [{}] {CEILING_ONLY}",
            toml_string(program),
            list(manifest_args),
            list(ceiling_args)
        )
        .unwrap();
        self
    }

    /// Grant a program with argument patterns.
    pub fn exec(mut self, program: &str, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|arg| toml_string(arg)).collect();
        writeln!(
            self.tables,
            "[[capabilities.exec]]\nprogram = {}\nargs = [{}]",
            toml_string(program),
            args.join(", ")
        )
        .unwrap();
        self
    }

    /// Grant a program with argument patterns as a read-only status command, which the
    /// host lets `plan` run.
    pub fn exec_read_only(mut self, program: &str, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|arg| toml_string(arg)).collect();
        writeln!(
            self.tables,
            "[[capabilities.exec]]\nprogram = {}\nargs = [{}]\nread_only = true",
            toml_string(program),
            args.join(", ")
        )
        .unwrap();
        self
    }

    /// Grant a script an interpreter runs, with argument patterns (`interpreted = true` in
    /// the manifest and in the ceiling written from it).
    pub fn exec_script(mut self, program: &str, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|arg| toml_string(arg)).collect();
        writeln!(
            self.tables,
            "[[capabilities.exec]]\nprogram = {}\nargs = [{}]\ninterpreted = true",
            toml_string(program),
            args.join(", ")
        )
        .unwrap();
        self
    }

    /// Grant a method and URL pattern.
    pub fn http(mut self, method: &str, url: &str) -> Self {
        writeln!(
            self.tables,
            "[[capabilities.http]]\nmethod = {}\nurl = {}",
            toml_string(method),
            toml_string(url)
        )
        .unwrap();
        self
    }

    /// Grant a path (`read` or `read-write`).
    pub fn fs(mut self, path: &Path, access: &str) -> Self {
        writeln!(
            self.tables,
            "[[capabilities.fs]]\npath = {}\naccess = {}",
            toml_string(&path.display().to_string()),
            toml_string(access)
        )
        .unwrap();
        self
    }

    /// Grant an environment name.
    pub fn env(mut self, name: &str) -> Self {
        self.env.push(toml_string(name));
        self
    }

    /// Add `line` (e.g. `auth = "secret:token"`) to the last grant, in the manifest only:
    /// a ceiling entry takes no secret uses.
    pub fn in_manifest(mut self, line: &str) -> Self {
        writeln!(self.tables, "{line} {MANIFEST_ONLY}").unwrap();
        self
    }

    /// Add `line` (e.g. `rate = { max = 2, per = "1h" }`) to the last grant, in the ceiling
    /// written from it only.
    pub fn in_ceiling(mut self, line: &str) -> Self {
        writeln!(self.tables, "{line} {CEILING_ONLY}").unwrap();
        self
    }

    /// Let the ceiling's level use secret `handle`.
    pub fn ceiling_secret(mut self, handle: &str) -> Self {
        self.secrets.push(toml_string(handle));
        self
    }

    /// Set a `[limits]` entry, e.g. `("timeout", "2s")`.
    pub fn limit(mut self, key: &str, value: &str) -> Self {
        writeln!(self.limits, "{key} = {}", toml_string(value)).unwrap();
        self
    }

    fn manifest(&self, sha256: &str) -> String {
        // The test guests read these parameters; any value is allowed, as the guests test
        // the sandbox, not the parameter checks. The harness's incidents are `test` ones.
        let params: String = GUEST_PARAMS
            .iter()
            .map(|name| {
                let pattern = self
                    .params
                    .iter()
                    .find(|(declared, _)| declared == name)
                    .map_or("(?s).*", |(_, pattern)| pattern.as_str());
                format!(
                    "[[params]]\nname = \"{name}\"\npattern = {}\n\n",
                    toml_string(pattern)
                )
            })
            .collect();
        let handles: String = self
            .handles
            .iter()
            .map(|entry| format!("[[handles]]\n{entry}\n\n"))
            .collect();
        format!(
            "name = {}\nversion = \"0.1.0\"\ndescription = \"test guest {}\"\nrisk = {}\ncomponent = \"guest.wasm\"\nsha256 = {}\n{}\n[[handles]]\nresource_kind = \"service\"\nissue_type = \"test\"\n\n{handles}{params}[capabilities]\nenv = [{}]\n\n{}\n[limits]\n{}",
            toml_string(&self.name),
            self.guest,
            toml_string(&self.risk),
            toml_string(sha256),
            self.top,
            self.env.join(", "),
            without(&self.tables, CEILING_ONLY),
            self.limits
        )
    }

    /// The same grants and limits as a ceiling for `medic.toml`.
    pub fn ceiling(&self) -> String {
        let level = &self.risk;
        let tables = without(&self.tables, MANIFEST_ONLY)
            .replace("[[capabilities.", &format!("[[ceilings.{level}."));
        let limits = if self.limits.is_empty() {
            String::new()
        } else {
            format!("[ceilings.{level}.max_limits]\n{}", self.limits)
        };
        format!(
            "[ceilings.{level}]\nenv = [{}]\nsecrets = [{}]\n\n{tables}\n{limits}",
            self.env.join(", "),
            self.secrets.join(", ")
        )
    }
}

/// The incident parameters the test guests read (`grep 'param("' tests/guests`).
const GUEST_PARAMS: &[&str] = &[
    "args",
    "attack",
    "data",
    "dir",
    "echo",
    "env",
    "follow",
    "guest",
    "header",
    "key",
    "marker",
    "method",
    "mode",
    "name",
    "needed",
    "op",
    "path",
    "path2",
    "plan",
    "printenv",
    "program",
    "secret_var",
    "steps",
    "target",
    "target2",
    "tcp",
    "url",
    "value",
];

/// Marks a line of [`Remediation::in_manifest`].
const MANIFEST_ONLY: &str = "# manifest only";
/// Marks a line of [`Remediation::in_ceiling`].
const CEILING_ONLY: &str = "# ceiling only";

/// `tables` without the lines marked `marker`.
fn without(tables: &str, marker: &str) -> String {
    tables
        .lines()
        .filter(|line| !line.ends_with(marker))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

/// A temporary medic installation: remediations, incidents and test files under a
/// temporary directory in `/tmp` (which the default ceilings grant), and medic's data
/// directory and configuration in a private temporary directory outside every ceiling
/// root (`~/.cache/medic-tests/`), since medic refuses a data directory a remediation
/// could reach.
pub struct Medic {
    binary: PathBuf,
    root: TempDir,
    private: TempDir,
    extra_config: String,
}

/// The private parent for test data directories: outside `/tmp`, `/var/tmp` and every
/// other root the default ceilings grant.
fn private_parent() -> PathBuf {
    let home = dirs::home_dir().expect("tests need a home directory");
    let parent = home.join(".cache").join("medic-tests");
    std::fs::create_dir_all(&parent).expect("create ~/.cache/medic-tests");
    parent
}

/// What one `medic` invocation did.
#[derive(Debug)]
pub struct RunResult {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl RunResult {
    /// Standard output parsed as JSON; panics with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl Medic {
    /// A fresh installation using the `medic` binary at `binary`.
    pub fn new(binary: &str) -> Self {
        Medic {
            binary: PathBuf::from(binary),
            root: tempfile::tempdir().expect("temp dir"),
            private: tempfile::tempdir_in(private_parent()).expect("private temp dir"),
            extra_config: String::new(),
        }
    }

    /// The temporary root, for files a test creates.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A private directory outside every default ceiling root, for programs a test grants:
    /// medic refuses a program that a read-write root (such as `/tmp`) contains.
    pub fn private_dir(&self) -> PathBuf {
        self.private.path().join("private")
    }

    /// medic's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.private.path().join("data")
    }

    /// Add lines to every configuration written from now on (e.g. pins).
    pub fn config_extra(&mut self, text: &str) {
        self.extra_config.push_str(text);
        self.extra_config.push('\n');
    }

    /// Write `remediation` (its component and manifest) into its own directory, and a
    /// configuration whose ceiling for its level matches its grants. Returns the directory.
    pub fn install(&self, remediation: &Remediation) -> PathBuf {
        self.install_with_ceiling(remediation, &remediation.ceiling())
    }

    /// Like [`Medic::install`], with the given ceiling text (`[[ceilings.low.exec]]` ...).
    pub fn install_with_ceiling(&self, remediation: &Remediation, ceiling: &str) -> PathBuf {
        let wasm = std::fs::read(crate::guest_wasm(&remediation.guest)).expect("guest component");
        self.install_component(remediation, &wasm, ceiling)
    }

    /// Like [`Medic::install_with_ceiling`], with a component built elsewhere (a Python
    /// guest built by `medic build`) instead of the Rust test guest's.
    pub fn install_component(
        &self,
        remediation: &Remediation,
        wasm: &[u8],
        ceiling: &str,
    ) -> PathBuf {
        let dir = self
            .root
            .path()
            .join("remediations")
            .join(&remediation.name);
        std::fs::create_dir_all(&dir).expect("remediation dir");
        let sha256 = remediation
            .sha256
            .clone()
            .unwrap_or_else(|| hex::encode(Sha256::digest(wasm)));
        std::fs::write(dir.join("guest.wasm"), wasm).expect("write component");
        std::fs::write(dir.join("remediation.toml"), remediation.manifest(&sha256))
            .expect("write manifest");
        std::fs::write(
            self.config_path(),
            format!("{}\n{ceiling}", self.extra_config),
        )
        .expect("write config");
        dir
    }

    /// Where [`Medic::install`] puts remediations: a directory `remediation_dirs` can name.
    pub fn remediations_dir(&self) -> PathBuf {
        self.root.path().join("remediations")
    }

    /// Write the configuration: the extra lines, then `text`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), format!("{}\n{text}", self.extra_config))
            .expect("write config");
    }

    /// The configuration file tests pass with `--config`.
    pub fn config_path(&self) -> PathBuf {
        self.private.path().join("medic.toml")
    }

    /// Write a `test` incident (resource kind `service`, the harness's guests handle it)
    /// with `params` and return its path.
    pub fn incident(&self, id: &str, params: &[(&str, &str)]) -> PathBuf {
        self.incident_for(id, "service", "test", params)
    }

    /// Write an incident of resource `kind` and `issue_type` with `params`.
    pub fn incident_for(
        &self,
        id: &str,
        kind: &str,
        issue_type: &str,
        params: &[(&str, &str)],
    ) -> PathBuf {
        let params: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(key, value)| (key.to_string(), serde_json::Value::from(*value)))
            .collect();
        let incident = serde_json::json!({
            "id": id, "source": "cli", "resource": {"kind": kind, "id": "test"},
            "issue_type": issue_type, "summary": "a test incident", "params": params,
        });
        let path = self.root.path().join(format!("{id}.json"));
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&incident).expect("json"),
        )
        .expect("write incident");
        path
    }

    /// Run `medic --data-dir D [--config C] ARGS` (the config only once one was written).
    pub fn run(&self, args: &[&str]) -> RunResult {
        self.run_with_env(args, &[])
    }

    /// `medic run DIR --incident INCIDENT --json`.
    pub fn run_remediation(&self, dir: &Path, incident: &Path) -> RunResult {
        self.run(&[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--json",
        ])
    }

    /// `medic run DIR --incident INCIDENT --dry-run --json`.
    pub fn plan_remediation(&self, dir: &Path, incident: &Path) -> RunResult {
        self.run(&[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--dry-run",
            "--json",
        ])
    }

    /// Every audit record, via `medic audit show --all --json`.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let result = self.run(&["audit", "show", "--all", "--json"]);
        assert_eq!(result.code, 0, "audit show failed: {}", result.stderr);
        result.json()["records"]
            .as_array()
            .expect("records")
            .clone()
    }

    /// The host-call records in the audit log whose capability is `capability`.
    pub fn audited_calls(&self, capability: &str) -> Vec<serde_json::Value> {
        self.audit()
            .into_iter()
            .filter(|record| {
                record["kind"] == "host_call" && record["data"]["capability"] == capability
            })
            .map(|record| record["data"].clone())
            .collect()
    }

    /// Assert the audit chain verifies.
    pub fn assert_audit_intact(&self) {
        let result = self.run(&["audit", "verify"]);
        assert_eq!(
            result.code, 0,
            "audit verify: {}{}",
            result.stdout, result.stderr
        );
    }
}

impl Medic {
    /// Like [`Medic::run`], with extra environment variables for the medic process.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> RunResult {
        self.run_full(args, env, None)
    }

    /// Like [`Medic::run`], from the working directory `cwd`.
    pub fn run_in(&self, cwd: &Path, args: &[&str]) -> RunResult {
        self.run_full(args, &[], Some(cwd))
    }

    /// The `medic` command with the data directory and configuration set, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--data-dir").arg(self.data_dir());
        if self.config_path().exists() {
            command.arg("--config").arg(self.config_path());
        }
        // No system configuration: each test's configuration is its own.
        command
            .args(args)
            .env_remove("MEDIC_LOG")
            .env("MEDIC_SYSTEM_CONFIG", "");
        command
    }

    fn run_full(&self, args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> RunResult {
        let mut command = self.command(args);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().expect("run medic");
        RunResult {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
