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
    /// How often it heals what it handles, before medic has seen it run (0 to 1, default
    /// 0.5): the prior of its learned confidence. Example: `confidence = 0.8`
    pub(crate) confidence: Option<Spanned<f64>>,
    /// How long a run usually takes, until medic has measured it (default: a tenth of the
    /// timeout). Example: `expected_duration = "5s"`
    pub(crate) expected_duration: Option<Spanned<String>>,
    /// What incidents it handles. Example: `[[handles]] resource_kind = "service"`
    #[serde(default)]
    pub(crate) handles: Vec<RawHandles>,
    /// The incident parameters it reads. Example: `[[params]] name = "service"`
    #[serde(default)]
    pub(crate) params: Vec<super::params::RawParam>,
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
    /// Variables the host sets for the program from secrets; the guest never sees them.
    /// Example: `env = { PGPASSWORD = "secret:db" }`
    pub(crate) env: Option<std::collections::BTreeMap<String, Spanned<String>>>,
    /// Calls allowed per window, counted durably. Example: `rate = { max = 3, per = "1h", key = "arg:1" }`
    pub(crate) rate: Option<RawRate>,
}

/// Example: `{ max = 3, per = "1h", key = "arg:1" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRate {
    pub(crate) max: Spanned<u32>,
    pub(crate) per: Spanned<String>,
    pub(crate) key: Option<Spanned<String>>,
}

/// Example: `auth = "secret:ci_token"` (bearer) or
/// `auth = { secret = "ci_token", scheme = "header", header = "PRIVATE-TOKEN" }`
/// (Not `#[serde(untagged)]`: that buffers the value and loses the spans of the table
/// form's fields.)
#[derive(Debug, Clone)]
pub(crate) enum RawAuth {
    Handle(String),
    Table(RawAuthTable),
}

impl<'de> Deserialize<'de> for RawAuth {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AuthVisitor;
        impl<'de> serde::de::Visitor<'de> for AuthVisitor {
            type Value = RawAuth;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a secret handle such as \"secret:ci_token\", or a table { secret, scheme, header, user }")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RawAuth, E> {
                Ok(RawAuth::Handle(text.to_string()))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<RawAuth, M::Error> {
                RawAuthTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawAuth::Table)
            }
        }
        deserializer.deserialize_any(AuthVisitor)
    }
}

/// The table form of `auth`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthTable {
    pub(crate) secret: Spanned<String>,
    /// `bearer` (default), `basic` or `header`.
    pub(crate) scheme: Option<Spanned<String>>,
    /// For `scheme = "header"`: the header's name.
    pub(crate) header: Option<Spanned<String>>,
    /// For `scheme = "basic"`: the user name.
    pub(crate) user: Option<String>,
}

/// Example: `{ method = "GET", url = "http://127.0.0.1:*/health" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub(crate) method: Spanned<String>,
    pub(crate) url: Spanned<String>,
    /// The host adds this authorisation from a secret. Example: `auth = "secret:ci_token"`
    pub(crate) auth: Option<Spanned<RawAuth>>,
    /// Calls allowed per window. Example: `rate = { max = 10, per = "1m" }`
    pub(crate) rate: Option<RawRate>,
}

/// Example: `{ path = "/var/log/app", access = "read" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFs {
    pub(crate) path: Spanned<String>,
    pub(crate) access: Spanned<String>,
    /// Ceilings only: a remediation's parameter may name this root itself, not only a
    /// directory inside it. Example: `bind_whole = true`
    pub(crate) bind_whole: Option<Spanned<bool>>,
}

/// `[limits]`. Example: `timeout = "30s"`, `memory = "64MiB"`, `output = "64KiB"`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) memory: Option<Spanned<String>>,
    pub(crate) output: Option<Spanned<String>>,
}
