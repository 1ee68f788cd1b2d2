//! What a security reviewer needs to know about a manifest: everything it can touch, and
//! warnings for grants that are wider than they look. Pure: the CLI renders it.

use serde::Serialize;

use super::Manifest;
use super::grant::{Access, ArgPattern, HostPattern, Scheme};

/// Arguments an option-matching pattern would accept; a pattern matching any of these can
/// be fed an option instead of an operand.
const OPTION_PROBES: &[&str] = &[
    "-",
    "-x",
    "-rf",
    "--help",
    "--config=/tmp/x",
    "-oProxyCommand=sh",
];
/// Arguments no operand pattern should accept.
const CATCH_ALL_PROBES: &[&str] = &[
    "",
    "; rm -rf /",
    "$(reboot)",
    "a b",
    "../../etc/passwd",
    "x\ny",
];

/// The reviewer's view of one manifest. `--json` prints it as is.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// Always 1.
    pub version: u32,
    /// The remediation's id.
    pub name: String,
    /// Its version.
    pub remediation_version: String,
    /// Its risk level.
    pub risk: &'static str,
    /// Its description.
    pub description: String,
    /// The prior of its learned confidence.
    pub confidence: f64,
    /// How long a run is expected to take, until measured.
    pub expected_duration_secs: f64,
    /// The pinned component hash.
    pub sha256: String,
    /// The incidents it says it handles, e.g. `kind=service issue=service_down`.
    pub handles: Vec<String>,
    /// The parameters it reads; an argument `{name}` narrows to the value at run time.
    pub params: Vec<ParamView>,
    /// Programs, with one pattern per argument.
    pub exec: Vec<ExecView>,
    /// Methods and URL patterns.
    pub http: Vec<HttpView>,
    /// Roots and access.
    pub fs: Vec<FsView>,
    /// Environment names.
    pub env: Vec<String>,
    /// Limits.
    pub limits: LimitsView,
    /// What looks wider than intended.
    pub warnings: Vec<Warning>,
}

/// One declared parameter.
#[derive(Debug, Serialize)]
pub struct ParamView {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// A run needs a value.
    pub required: bool,
    /// The value when nothing gives one.
    pub default: Option<String>,
    /// The anchored pattern every value must match.
    pub pattern: String,
    /// Where a plan takes it from: `resource.id`, `label:NAME`, `evidence:GROUP`.
    pub from: Option<String>,
}

/// One exec grant.
#[derive(Debug, Serialize)]
pub struct ExecView {
    /// Absolute program path.
    pub program: String,
    /// Patterns, one per argument, in order.
    pub args: Vec<String>,
    /// A status command `plan` may run.
    pub read_only: bool,
    /// Variables the host sets from secrets: `NAME = secret:HANDLE`.
    pub secret_env: Vec<String>,
    /// The rate limit, in words.
    pub rate: Option<String>,
}

/// One http grant.
#[derive(Debug, Serialize)]
pub struct HttpView {
    /// The method.
    pub method: String,
    /// The URL pattern.
    pub url: String,
    /// The credential the host adds, by handle (`bearer secret:ci_token`).
    pub auth: Option<String>,
    /// The rate limit, in words.
    pub rate: Option<String>,
}

/// One fs grant.
#[derive(Debug, Serialize)]
pub struct FsView {
    /// The root.
    pub path: String,
    /// `read` or `read-write`.
    pub access: &'static str,
}

/// Limits, in plain units.
#[derive(Debug, Serialize)]
pub struct LimitsView {
    /// Per call.
    pub timeout_ms: u128,
    /// Linear memory.
    pub memory_bytes: u64,
    /// Each of stdout, stderr and log.
    pub output_bytes: u64,
}

/// A lint finding.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// Stable id, e.g. `exec-option-pattern`.
    pub code: &'static str,
    /// The field it is about, e.g. `capabilities.exec[0].args[1]`.
    pub field: String,
    /// What is wrong and why it matters.
    pub message: String,
}

/// Build the reviewer's view of `manifest`.
pub fn explain(manifest: &Manifest) -> Explanation {
    let mut warnings = Vec::new();
    for (index, exec) in manifest.grants.exec.iter().enumerate() {
        let program = exec.program.display().to_string();
        let trusted_dir = [
            "/usr/bin/",
            "/usr/sbin/",
            "/bin/",
            "/sbin/",
            "/usr/local/bin/",
            "/usr/local/sbin/",
        ]
        .iter()
        .any(|dir| program.starts_with(dir));
        if !trusted_dir {
            warnings.push(Warning {
                code: "exec-program-location",
                field: format!("capabilities.exec[{index}].program"),
                message: format!("`{program}` is outside the system program directories; make sure only root can write it"),
            });
        }
        for (position, arg) in exec.args.iter().enumerate() {
            lint_arg(
                arg,
                &format!("capabilities.exec[{index}].args[{position}]"),
                &mut warnings,
            );
        }
    }
    for (index, http) in manifest.grants.http.iter().enumerate() {
        let field = format!("capabilities.http[{index}].url");
        if let HostPattern::Suffix(suffix) = &http.url.host {
            warnings.push(Warning {
                code: "http-wildcard-host",
                field: field.clone(),
                message: format!(
                    "`*.{suffix}` allows every host under `{suffix}`, including ones created later"
                ),
            });
        }
        if http.url.is_catch_all_path() {
            warnings.push(Warning {
                code: "http-any-path",
                field: field.clone(),
                message: format!(
                    "`{}` allows every path on the host, admin endpoints included",
                    http.url.source
                ),
            });
        }
        let loopback = matches!(&http.url.host, HostPattern::Ip(ip) if ip.is_loopback())
            || matches!(&http.url.host, HostPattern::Domain(name) if name == "localhost");
        if http.url.scheme == Scheme::Http && !loopback {
            warnings.push(Warning {
                code: "http-cleartext",
                field,
                message: format!("`{}` is plain HTTP to a host that is not loopback: anything sent can be read on the way", http.url.source),
            });
        }
    }
    for (index, fs) in manifest.grants.fs.iter().enumerate() {
        if fs.access == Access::ReadWrite {
            warnings.push(Warning {
                code: "fs-read-write",
                field: format!("capabilities.fs[{index}]"),
                message: format!("`{}` is read-write: the remediation can change, rename and delete any file under it", fs.path.display()),
            });
        }
    }
    Explanation {
        version: 1,
        name: manifest.name.clone(),
        remediation_version: manifest.version.clone(),
        risk: manifest.risk.as_str(),
        description: manifest.description.clone(),
        confidence: manifest.confidence,
        expected_duration_secs: manifest.expected_duration.as_secs_f64(),
        sha256: manifest.sha256.clone(),
        handles: manifest.handles.iter().map(ToString::to_string).collect(),
        params: manifest
            .params
            .iter()
            .map(|param| ParamView {
                name: param.name.clone(),
                description: param.description.clone(),
                required: param.required,
                default: param.default.clone(),
                pattern: param.pattern.source.clone(),
                from: param.from.as_ref().map(ToString::to_string),
            })
            .collect(),
        exec: manifest
            .grants
            .exec
            .iter()
            .map(|exec| ExecView {
                program: exec.program.display().to_string(),
                args: exec.args.iter().map(ArgPattern::shown).collect(),
                read_only: exec.read_only,
                secret_env: exec
                    .secret_env
                    .iter()
                    .map(|(name, handle)| format!("{name} = secret:{handle}"))
                    .collect(),
                rate: exec.rate.as_ref().map(|rate| rate.describe()),
            })
            .collect(),
        http: manifest
            .grants
            .http
            .iter()
            .map(|http| HttpView {
                method: http.method.clone(),
                url: http.url.source.clone(),
                auth: http.auth.as_ref().map(|auth| auth.describe()),
                rate: http.rate.as_ref().map(|rate| rate.describe()),
            })
            .collect(),
        fs: manifest
            .grants
            .fs
            .iter()
            .map(|fs| FsView {
                path: fs.path.display().to_string(),
                access: fs.access.as_str(),
            })
            .collect(),
        env: manifest
            .grants
            .env
            .iter()
            .map(|env| env.describe())
            .collect(),
        limits: LimitsView {
            timeout_ms: manifest.limits.timeout.as_millis(),
            memory_bytes: manifest.limits.memory,
            output_bytes: manifest.limits.output,
        },
        warnings,
    }
}

fn lint_arg(arg: &ArgPattern, field: &str, warnings: &mut Vec<Warning>) {
    if arg.literal().is_some() {
        return;
    }
    let catch_all: Vec<&str> = CATCH_ALL_PROBES
        .iter()
        .copied()
        .filter(|probe| arg.matches(probe))
        .collect();
    if catch_all.len() >= 3 || arg.source.contains(".*") || arg.source.contains(".+") {
        warnings.push(Warning {
            code: "exec-catch-all-pattern",
            field: field.to_string(),
            message: format!("`{}` accepts almost anything (e.g. {:?}); list the values or use a tight character class", arg.source, catch_all),
        });
    } else if arg.matches("../../etc/passwd") || arg.matches("..") {
        warnings.push(Warning {
            code: "exec-path-traversal",
            field: field.to_string(),
            message: format!(
                "`{}` accepts `..`, so a path argument can climb out of its directory",
                arg.source
            ),
        });
    }
    if let Some(probe) = OPTION_PROBES.iter().find(|probe| arg.matches(probe)) {
        warnings.push(Warning {
            code: "exec-option-pattern",
            field: field.to_string(),
            message: format!("`{}` can match `{probe}`: a value starting with `-` is read as an option; exclude a leading `-`", arg.source),
        });
    }
    if arg.param.is_none() && !(arg.source.starts_with('^') && arg.source.ends_with('$')) {
        warnings.push(Warning {
            code: "exec-unanchored-pattern",
            field: field.to_string(),
            message: format!("`{}` is not written as `^...$`; medic matches whole arguments anyway, so check it means the whole value", arg.source),
        });
    }
}
