//! Writing results to stdout: the only place the binary prints them. Every human line is
//! made safe to print here, once, whatever it holds (a guest's summary, a manifest's
//! description, a log line): control characters and escape sequences are written as
//! visible escapes (`medic::text`). JSON is written as serde makes it, which escapes them
//! itself. A closed pipe (`medic audit show | head`) ends the command quietly.

use std::io::{self, Write};

use serde::Serialize;

/// Where results go.
pub(crate) struct Output {
    stdout: io::Stdout,
}

impl Output {
    pub(crate) fn stdout() -> Self {
        Output {
            stdout: io::stdout(),
        }
    }

    /// One line of human output, control characters escaped (a newline inside `text`
    /// too, so a guest cannot forge a line of medic's own).
    pub(crate) fn line(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        self.raw(&medic::text::escape_control(text.as_ref()))
    }

    /// One JSON document, pretty-printed.
    pub(crate) fn json(&mut self, value: &impl Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.raw(&text)?;
        Ok(())
    }

    fn raw(&mut self, text: &str) -> io::Result<()> {
        let mut lock = self.stdout.lock();
        lock.write_all(text.as_bytes())?;
        lock.write_all(b"\n")
    }
}

/// Standard error for tracing: every byte a guest, manifest or log could have put in a log
/// line is escaped here, once, as on stdout (a newline ends a line; nothing else passes).
pub(crate) struct StderrSink;

impl Write for StderrSink {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buffer);
        let mut escaped = String::with_capacity(text.len());
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                escaped.push('\n');
            }
            escaped.push_str(&medic::text::escape_control(line));
        }
        io::stderr().lock().write_all(escaped.as_bytes())?;
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// True when `error` is a write to a closed pipe.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
