//! `[diagnosis]`: extra pattern files, the low-confidence threshold and the LLM advisor.

use std::path::{Path, PathBuf};

use super::raw;
use super::{ConfigError, invalid};
use crate::diagnosis::DEFAULT_LLM_THRESHOLD;
use crate::diagnosis::llm::{DEFAULT_TIMEOUT as LLM_TIMEOUT, LlmConfig};

/// `[diagnosis]`.
#[derive(Debug, Clone)]
pub struct DiagnosisConfig {
    /// Extra pattern files (`*.toml`), added to the built-in library.
    pub patterns_dir: Option<PathBuf>,
    /// Below this confidence a diagnosis is low and the advisor is asked.
    pub llm_threshold: f64,
    /// The advisor, when configured.
    pub llm: Option<LlmConfig>,
}

pub(super) fn parse_diagnosis(
    raw: &raw::RawDiagnosis,
    source: &Path,
) -> Result<DiagnosisConfig, ConfigError> {
    let llm_threshold = raw.llm_threshold.unwrap_or(DEFAULT_LLM_THRESHOLD);
    if !(0.0..=1.0).contains(&llm_threshold) {
        return Err(invalid(
            source,
            "diagnosis.llm_threshold",
            format!("must be between 0 and 1, got {llm_threshold}"),
        ));
    }
    let llm = match &raw.llm {
        None => None,
        Some(llm) => {
            let parsed = url::Url::parse(&llm.endpoint).map_err(|error| {
                invalid(
                    source,
                    "diagnosis.llm.endpoint",
                    format!("`{}` is not a URL: {error}", llm.endpoint),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    source,
                    "diagnosis.llm.endpoint",
                    format!("`{}` must be http or https", llm.endpoint),
                ));
            }
            let timeout = match &llm.timeout {
                Some(text) => humantime::parse_duration(text).map_err(|error| {
                    invalid(
                        source,
                        "diagnosis.llm.timeout",
                        format!("`{text}` is not a duration: {error}"),
                    )
                })?,
                None => LLM_TIMEOUT,
            };
            if let Some(proxy) = &llm.proxy {
                url::Url::parse(proxy).map_err(|error| {
                    invalid(
                        source,
                        "diagnosis.llm.proxy",
                        format!("`{proxy}` is not a URL: {error}"),
                    )
                })?;
            }
            Some(LlmConfig {
                endpoint: llm.endpoint.clone(),
                model: llm.model.clone(),
                api_key_env: llm.api_key_env.clone(),
                timeout,
                proxy: llm.proxy.clone(),
                follow_redirects: llm.follow_redirects.unwrap_or(false),
            })
        }
    };
    Ok(DiagnosisConfig {
        patterns_dir: raw.patterns_dir.clone(),
        llm_threshold,
        llm,
    })
}
