//! The optional LLM advisor: when a diagnosis is unsure and the operator configured an
//! OpenAI-compatible chat-completions endpoint, send it the evidence (secrets redacted),
//! parse its structured answer and merge it, marking what came from the model.
//!
//! Never blocks the diagnosis: one request with a timeout; any failure leaves the
//! pattern-based diagnosis as it was and is reported as a signal.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use thiserror::Error;

use super::redact::redact;
use super::{Diagnosis, LlmAdvice, RootCause};

/// Longest time the advisor may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest answer read.
const MAX_ANSWER_BYTES: usize = 256 << 10;
/// Most actions taken from an answer.
const MAX_ADVISED_ACTIONS: usize = 5;

/// Where and how to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// The chat-completions URL, e.g. `http://127.0.0.1:8080/v1/chat/completions`.
    pub endpoint: String,
    /// The model name sent.
    pub model: String,
    /// The environment variable holding the API key, if the endpoint needs one.
    pub api_key_env: Option<String>,
    /// Request timeout.
    pub timeout: Duration,
    /// A proxy the operator configured (`[diagnosis.llm] proxy`); none by default, whatever
    /// the environment says.
    pub proxy: Option<String>,
    /// Follow redirects (`[diagnosis.llm] follow_redirects`); off by default.
    pub follow_redirects: bool,
}

/// Why the advisor gave nothing usable.
#[derive(Debug, Error)]
pub enum LlmError {
    /// The request failed or timed out.
    #[error("request to `{endpoint}` failed: {message}")]
    Request {
        /// The endpoint.
        endpoint: String,
        /// What happened.
        message: String,
    },
    /// The endpoint answered with an error status.
    #[error("`{endpoint}` answered {status}: {body}")]
    Status {
        /// The endpoint.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The answer was not the structured JSON asked for.
    #[error("the model's answer is not usable: {0}")]
    Answer(String),
}

const SYSTEM_PROMPT: &str = "You diagnose failed CI jobs and infrastructure incidents. \
Answer with one JSON object only: {\"root_cause\": one of network, storage, resource_exhaustion, \
service_dependency, credential, configuration, timeout, package, build, test, virtualization, \
state_mismatch, unknown; \"confidence\": a number from 0 to 1; \"summary\": one sentence naming \
the cause; \"recommended_actions\": up to 5 short imperative steps}.";

/// The prompt sent: the pattern engine's view, the evidence and the log's tail, redacted.
pub fn build_prompt(diagnosis: &Diagnosis, tail: &[String]) -> String {
    let mut prompt = format!(
        "Pattern engine: root_cause={} confidence={:.2}.\nEvidence lines:\n",
        diagnosis.root_cause.as_str(),
        diagnosis.confidence
    );
    for evidence in &diagnosis.evidence {
        prompt.push_str(&format!("  line {}: {}\n", evidence.line, evidence.text));
    }
    if !diagnosis.signals.is_empty() {
        prompt.push_str("Host context:\n");
        for signal in &diagnosis.signals {
            prompt.push_str(&format!("  {signal}\n"));
        }
    }
    prompt.push_str("Last lines of the log:\n");
    for line in tail {
        prompt.push_str(&format!("  {line}\n"));
    }
    redact(&prompt)
}

#[derive(Debug, Deserialize)]
struct Answer {
    root_cause: String,
    confidence: f64,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    recommended_actions: Vec<String>,
}

/// Parse a chat-completions response body into advice.
pub fn parse_answer(body: &str, model: &str) -> Result<LlmAdvice, LlmError> {
    let response: serde_json::Value = serde_json::from_str(body)
        .map_err(|error| LlmError::Answer(format!("response is not JSON: {error}")))?;
    let content = response["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| LlmError::Answer("no `choices[0].message.content` string".to_string()))?;
    let content = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let answer: Answer = serde_json::from_str(content)
        .map_err(|error| LlmError::Answer(format!("content is not the JSON asked for: {error}")))?;
    let root_cause = RootCause::parse(&answer.root_cause).ok_or_else(|| {
        LlmError::Answer(format!("`{}` is not in the taxonomy", answer.root_cause))
    })?;
    if !(0.0..=1.0).contains(&answer.confidence) {
        return Err(LlmError::Answer(format!(
            "confidence {} is not between 0 and 1",
            answer.confidence
        )));
    }
    Ok(LlmAdvice {
        model: model.to_string(),
        root_cause,
        confidence: answer.confidence,
        summary: answer.summary.chars().take(1000).collect(),
        recommended_actions: answer
            .recommended_actions
            .into_iter()
            .take(MAX_ADVISED_ACTIONS)
            .map(|action| action.chars().take(300).collect())
            .collect(),
        root_cause_from_llm: false,
    })
}

/// Ask the advisor. `api_key` is the value of `api_key_env`, read by the caller.
pub async fn ask(
    config: &LlmConfig,
    api_key: Option<&str>,
    prompt: &str,
) -> Result<LlmAdvice, LlmError> {
    let request_error = |message: String| LlmError::Request {
        endpoint: config.endpoint.clone(),
        message,
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "diagnosis/llm.rs is the one place that talks to the advisor"
    )]
    let mut builder = reqwest::Client::builder()
        .timeout(config.timeout)
        .no_proxy()
        .redirect(if config.follow_redirects {
            reqwest::redirect::Policy::limited(5)
        } else {
            reqwest::redirect::Policy::none()
        });
    if let Some(proxy) = &config.proxy {
        builder = builder
            .proxy(reqwest::Proxy::all(proxy).map_err(|error| request_error(error.to_string()))?);
    }
    let client = builder
        .build()
        .map_err(|error| request_error(error.to_string()))?;
    let body = json!({
        "model": config.model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
        ],
    });
    let mut request = client
        .post(&config.endpoint)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let mut response = request
        .send()
        .await
        .map_err(|error| request_error(error.to_string()))?;
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| request_error(error.to_string()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(LlmError::Answer(format!(
                "answer is larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    if !(200..300).contains(&status) {
        return Err(LlmError::Status {
            endpoint: config.endpoint.clone(),
            status,
            body: text.chars().take(300).collect(),
        });
    }
    parse_answer(&text, &config.model)
}

/// Merge advice into a diagnosis: agreement raises confidence; a confident disagreement
/// replaces the cause (marked `root_cause_from_llm`), keeping the patterns' cause as an
/// alternative. The model's actions are appended, prefixed `llm: `.
pub fn merge(mut diagnosis: Diagnosis, mut advice: LlmAdvice, threshold: f64) -> Diagnosis {
    if advice.root_cause == diagnosis.root_cause {
        diagnosis.confidence = diagnosis
            .confidence
            .max((diagnosis.confidence + advice.confidence * 0.5).min(0.95));
    } else if advice.confidence > diagnosis.confidence {
        diagnosis
            .alternatives
            .retain(|alternative| alternative.root_cause != advice.root_cause);
        diagnosis.alternatives.insert(
            0,
            super::Alternative {
                root_cause: diagnosis.root_cause,
                confidence: diagnosis.confidence,
            },
        );
        diagnosis.root_cause = advice.root_cause;
        diagnosis.confidence = ((advice.confidence * 0.8) * 1000.0).round() / 1000.0;
        diagnosis.summary = format!(
            "{} ({}%, from {}): {}",
            advice.root_cause.as_str(),
            (diagnosis.confidence * 100.0).round(),
            advice.model,
            advice.summary
        );
        advice.root_cause_from_llm = true;
    }
    diagnosis.confidence = (diagnosis.confidence * 1000.0).round() / 1000.0;
    diagnosis.low_confidence = diagnosis.confidence < threshold;
    for action in &advice.recommended_actions {
        diagnosis.recommended_actions.push(format!("llm: {action}"));
    }
    diagnosis.llm = Some(advice);
    diagnosis
}
