//! The TOML shape of `remediation.toml` and of the capability sections that the operator's
//! ceilings reuse. Unknown keys are errors. These types only carry text; `grant.rs` turns
//! them into checked, typed grants.

use serde::Deserialize;
use toml::Spanned;

/// `remediation.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    /// Kebab-case id, e.g. `restart-service`.
    /// Example: `name = "restart-service"`
    pub(crate) name: Spanned<String>,
    /// Semantic version. Example: `version = "0.1.0"`
    pub(crate) version: Spanned<String>,
    /// One sentence for operators. Example: `description = "Restart a stopped service"`
    pub(crate) description: String,
    /// `low`, `medium` or `high`: picks the operator's ceiling. Example: `risk = "medium"`
    pub(crate) risk: Spanned<String>,
    /// The component file, relative to the manifest. Example: `component = "restart_service.wasm"`
    pub(crate) component: Spanned<String>,
    /// Lowercase hex sha256 of the component. Example: `sha256 = "9f86d0…"`
    pub(crate) sha256: Spanned<String>,
    /// What incidents it handles. Example: `[[handles]] resource_kind = "service"`
    #[serde(default)]
    pub(crate) handles: Vec<RawHandles>,
    /// What it may touch. Example: `[[capabilities.exec]] program = "/usr/bin/systemctl"`
    #[serde(default)]
    pub(crate) capabilities: RawCapabilities,
    /// Resource limits. Example: `[limits] timeout = "30s"`
    #[serde(default)]
    pub(crate) limits: RawLimits,
}

/// One `[[handles]]` entry; each field narrows the match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHandles {
    /// Example: `resource_kind = "service"`
    pub(crate) resource_kind: Option<String>,
    /// Example: `issue_type = "service_down"`
    pub(crate) issue_type: Option<String>,
    /// Example: `root_cause = "storage"`
    pub(crate) root_cause: Option<String>,
}

/// `[capabilities]`: the same shape in a manifest and in a risk ceiling.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapabilities {
    #[serde(default)]
    pub(crate) exec: Vec<RawExec>,
    #[serde(default)]
    pub(crate) http: Vec<RawHttp>,
    #[serde(default)]
    pub(crate) fs: Vec<RawFs>,
    #[serde(default)]
    pub(crate) env: Vec<Spanned<String>>,
}

/// Example: `{ program = "/usr/bin/systemctl", args = ["restart", "^[a-z]+\\.service$"] }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExec {
    pub(crate) program: Spanned<String>,
    #[serde(default)]
    pub(crate) args: Vec<Spanned<String>>,
    /// A status command that changes nothing, so `plan` may run it; a manifest's flag
    /// counts only where the ceiling's matching entry says so too.
    /// Example: `read_only = true`
    pub(crate) read_only: Option<bool>,
    /// The program is a script an interpreter runs (a Python tool, say); it runs only when
    /// the manifest and the ceiling's entry both say so (off by default).
    /// Example: `interpreted = true`
    pub(crate) interpreted: Option<bool>,
}

/// Example: `{ method = "GET", url = "http://127.0.0.1:*/health" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub(crate) method: Spanned<String>,
    pub(crate) url: Spanned<String>,
}

/// Example: `{ path = "/var/log/app", access = "read" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFs {
    pub(crate) path: Spanned<String>,
    pub(crate) access: Spanned<String>,
}

/// `[limits]`. Example: `timeout = "30s"`, `memory = "64MiB"`, `output = "64KiB"`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) memory: Option<Spanned<String>>,
    pub(crate) output: Option<Spanned<String>>,
}
