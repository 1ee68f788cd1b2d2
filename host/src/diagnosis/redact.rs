//! Removing secrets from text before it leaves the host: every line of a diagnosis taken
//! from the log (evidence and summary, redacted in `score.rs` as the diagnosis is built)
//! and the LLM advisor's prompt.
//!
//! Redacts `key=value` and `key: value` pairs whose key names a secret, bearer and basic
//! authorization headers, URL userinfo, private key blocks, JWTs, and the shapes of
//! well-known tokens (GitHub, GitLab, Slack, AWS access keys, OpenAI-style keys).

use std::sync::OnceLock;

use regex::Regex;

/// The replacement text.
pub const REDACTED: &str = "[REDACTED]";

fn rules() -> &'static [(Regex, &'static str)] {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    RULES.get_or_init(|| {
        [
            (r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", "[REDACTED PRIVATE KEY]"),
            (r"(?i)\b(authorization|proxy-authorization)\s*[:=]\s*(bearer|basic|token)?\s*[^\s,;]+", "$1: [REDACTED]"),
            (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", "Bearer [REDACTED]"),
            (r#"(?i)\b([a-z0-9_.-]*(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth)[a-z0-9_.-]*)(["']?\s*[:=]\s*["']?)[^\s"',;&]+"#, "$1$3[REDACTED]"),
            (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", "$1[REDACTED]@"),
            (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "[REDACTED JWT]"),
            (r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,})", "[REDACTED TOKEN]"),
        ]
        .into_iter()
        .map(|(pattern, replacement)| (Regex::new(pattern).expect("redaction rules are valid"), replacement))
        .collect()
    })
}

/// `text` with every secret-looking value replaced.
pub fn redact(text: &str) -> String {
    let mut text = text.to_string();
    for (rule, replacement) in rules() {
        text = rule.replace_all(&text, *replacement).into_owned();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let cases = [
            ("PGPASSWORD=hunter2 psql", "PGPASSWORD=[REDACTED] psql"),
            ("api_key: \"abc123def\"", "api_key: \"[REDACTED]\""),
            (
                "Authorization: Bearer abcdefghijklmnop",
                "Authorization: [REDACTED]",
            ),
            (
                "git clone https://bot:s3cr3t@git.example.com/x.git",
                "git clone https://[REDACTED]@git.example.com/x.git",
            ),
            (
                "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 used",
                "token [REDACTED TOKEN] used",
            ),
            ("key AKIAABCDEFGHIJKLMNOP", "key [REDACTED TOKEN]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
        let pem = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\ny";
        assert_eq!(redact(pem), "x\n[REDACTED PRIVATE KEY]\ny");
        assert_eq!(
            redact("connection refused on port 5432"),
            "connection refused on port 5432"
        );
    }
}
