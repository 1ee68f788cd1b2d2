//! The TOML shape of `[policy]`. Unknown keys are errors; spans give line numbers.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// `[policy]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Example: `max_concurrent = 2`
    pub(crate) max_concurrent: Option<Spanned<u32>>,
    /// Example: `flap_max = 3`
    pub(crate) flap_max: Option<Spanned<u32>>,
    /// Example: `flap_window = "1h"`
    pub(crate) flap_window: Option<Spanned<String>>,
    /// Example: `slot_wait = "60s"`
    pub(crate) slot_wait: Option<Spanned<String>>,
    /// The first retry's longest wait. Example: `retry_base = "1s"`
    pub(crate) retry_base: Option<Spanned<String>>,
    /// No retry waits longer. Example: `retry_cap = "30s"`
    pub(crate) retry_cap: Option<Spanned<String>>,
    /// Example: `escalation_webhook = "https://hooks.slack.com/services/..."`
    pub(crate) escalation_webhook: Option<Spanned<String>>,
    /// Example: `escalation_timeout = "5s"`
    pub(crate) escalation_timeout: Option<Spanned<String>>,
    /// Example: `escalation_attempts = 3`
    pub(crate) escalation_attempts: Option<Spanned<u32>>,
    /// Example: `[[policy.rules]] name = "services" resource_kind = "service" trust = "approve"`
    #[serde(default)]
    pub(crate) rules: Vec<Spanned<RawRule>>,
}

/// One `[[policy.rules]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Example: `name = "disk"`
    pub(crate) name: Option<Spanned<String>>,
    /// Example: `resource_kind = "host"`
    pub(crate) resource_kind: Option<Spanned<String>>,
    /// Example: `issue_type = "disk_full"`
    pub(crate) issue_type: Option<Spanned<String>>,
    /// Example: `root_cause = "storage"`
    pub(crate) root_cause: Option<Spanned<String>>,
    /// Example: `trust = "automate"`
    pub(crate) trust: Option<Spanned<String>>,
    /// Example: `automate_risk = ["low", "medium"]`
    pub(crate) automate_risk: Option<Vec<Spanned<String>>>,
    /// Example: `max_retries = 2`
    pub(crate) max_retries: Option<Spanned<u32>>,
    /// Example: `cooldown = "10m"`
    pub(crate) cooldown: Option<Spanned<String>>,
    /// Example: `params = { max_bytes = "1GiB" }`
    #[serde(default)]
    pub(crate) params: BTreeMap<String, Spanned<String>>,
}
