//! Making text from outside medic (a guest, a manifest, a log, an incident) safe to print
//! on an operator's terminal: control characters, escape sequences and bidi overrides are
//! written as visible escapes (`\u{1b}`), as ripgrep and ls escape file names. JSON output
//! needs none of this: serde escapes control characters itself.

/// Escape every control character except tab, and the bidi controls that reorder text.
pub fn escape_control(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// A TOML parse error of `text` on one line: `line L, column C: message`. toml's own
/// rendering spans several lines (a source excerpt with a caret), which reads badly once
/// its line breaks are escaped for a terminal.
pub fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    let Some(span) = error.span() else {
        return message.to_string();
    };
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
    format!("line {line}, column {column}: {message}")
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_rewrite_a_terminal() {
        let cases = [
            ("plain text", "plain text"),
            ("tab\tkept", "tab\tkept"),
            ("\x1b[2J\x1b]0;owned\x07", "\\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
            ("line\nbreak\r", "line\\u{a}break\\u{d}"),
            ("\u{202e}txt.exe", "\\u{202e}txt.exe"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("café ✓", "café ✓"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_control(input), expected, "{input:?}");
        }
    }

    #[test]
    fn toml_errors_fit_on_one_line() {
        let text = "a = 1\nb = = 2\n";
        let error = toml::from_str::<toml::Table>(text).unwrap_err();
        let message = toml_error(text, &error);
        assert!(message.starts_with("line 2, column 5: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}
