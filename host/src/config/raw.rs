//! The TOML shape of one configuration file (`medic.toml`) and of a ceiling drop-in
//! (`ceilings.d/*.toml`). Every section is optional, so a file holds only what it changes;
//! unknown keys are errors. These types only carry text; `mod.rs` checks them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::manifest::schema_for_config::{RawExec, RawFs, RawHttp, RawLimits};

/// One `medic.toml` layer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Example: `data_dir = "/var/lib/medic"`
    pub(crate) data_dir: Option<PathBuf>,
    /// Example: `require_pins = true`
    pub(crate) require_pins: Option<bool>,
    /// Example: `[pins] my-fix = "9f86d0…"`
    pub(crate) pins: Option<BTreeMap<String, String>>,
    /// Example: `[ceilings.medium] exec = [...]`
    #[serde(default)]
    pub(crate) ceilings: RawCeilings,
    /// Example: `[diagnosis] llm_threshold = 0.6`
    pub(crate) diagnosis: Option<RawDiagnosis>,
    /// Example: `[context] timeout = "3s"`
    pub(crate) context: Option<crate::context::RawContext>,
    /// Example: `[audit] sign = true`
    pub(crate) audit: Option<RawAudit>,
    /// Example: `remediation_dirs = ["/etc/medic/remediations"]`
    pub(crate) remediation_dirs: Option<Vec<PathBuf>>,
    /// Example: `[policy] flap_max = 3`
    pub(crate) policy: Option<crate::policy::RawPolicy>,
    /// Example: `[secrets.ci_token] env = "CI_TOKEN"`
    pub(crate) secrets: Option<BTreeMap<String, RawSecret>>,
    /// Example: `[signatures] require = true`
    pub(crate) signatures: Option<RawSignatures>,
}

/// `[signatures]`: which reviewers' keys a remediation from a directory must be signed by.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSignatures {
    /// Refuse every remediation from a directory without a trusted signature.
    /// Example: `require = true`
    pub(crate) require: Option<bool>,
    /// Reviewers' public keys by name. Example: `trusted = { platform = "ed25519:..." }`
    #[serde(default)]
    pub(crate) trusted: BTreeMap<String, String>,
}

/// `[diagnosis]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiagnosis {
    pub(crate) patterns_dir: Option<PathBuf>,
    pub(crate) llm_threshold: Option<f64>,
    pub(crate) llm: Option<RawLlm>,
}

/// `[diagnosis.llm]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLlm {
    pub(crate) endpoint: String,
    pub(crate) model: String,
    pub(crate) api_key_env: Option<String>,
    pub(crate) timeout: Option<String>,
    /// Example: `proxy = "http://proxy.internal:3128"` (default: no proxy)
    pub(crate) proxy: Option<String>,
    /// Example: `follow_redirects = true` (default: false)
    pub(crate) follow_redirects: Option<bool>,
}

/// `[audit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    /// Sign the chain's head. Example: `sign = true`
    pub(crate) sign: Option<bool>,
}

/// `[secrets.NAME]`: where the host reads one secret; exactly one source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecret {
    /// Example: `env = "CI_TOKEN"`
    pub(crate) env: Option<String>,
    /// A file only the operator can read. Example: `file = "/etc/medic/secrets/ci"`
    pub(crate) file: Option<PathBuf>,
    /// A command whose standard output is the secret. Example: `command = ["/usr/bin/pass", "ci"]`
    pub(crate) command: Option<Vec<String>>,
}

/// `[ceilings]`: one optional table per risk level.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCeilings {
    pub(crate) low: Option<RawCeiling>,
    pub(crate) medium: Option<RawCeiling>,
    pub(crate) high: Option<RawCeiling>,
}

impl RawCeilings {
    pub(crate) fn level(&self, level: &str) -> Option<&RawCeiling> {
        match level {
            "low" => self.low.as_ref(),
            "medium" => self.medium.as_ref(),
            _ => self.high.as_ref(),
        }
    }
}

/// `[ceilings.LEVEL]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCeiling {
    #[serde(default)]
    pub(crate) exec: Vec<RawExec>,
    #[serde(default)]
    pub(crate) http: Vec<RawHttp>,
    #[serde(default)]
    pub(crate) fs: Vec<RawFs>,
    #[serde(default)]
    pub(crate) env: Vec<toml::Spanned<String>>,
    /// Secret handles a remediation of this level may use. Example: `secrets = ["ci_token"]`
    #[serde(default)]
    pub(crate) secrets: Vec<String>,
    #[serde(default)]
    pub(crate) max_limits: RawLimits,
}

/// A `ceilings.d/*.toml` drop-in: grants to add to a level's ceiling, nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropIn {
    #[serde(default)]
    pub(crate) ceilings: RawDropInCeilings,
}

/// `[ceilings]` of a drop-in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropInCeilings {
    pub(crate) low: Option<RawDropInGrants>,
    pub(crate) medium: Option<RawDropInGrants>,
    pub(crate) high: Option<RawDropInGrants>,
}

/// The grants a drop-in adds to one level (no `max_limits`: those stay the config's).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropInGrants {
    #[serde(default)]
    pub(crate) exec: Vec<RawExec>,
    #[serde(default)]
    pub(crate) http: Vec<RawHttp>,
    #[serde(default)]
    pub(crate) fs: Vec<RawFs>,
    #[serde(default)]
    pub(crate) env: Vec<toml::Spanned<String>>,
    #[serde(default)]
    pub(crate) secrets: Vec<String>,
}
