//! Writing results to stdout: the only place the binary prints them. A closed pipe
//! (`medic audit show | head`) ends the command quietly.

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

    /// One line of human output.
    pub(crate) fn line(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        let mut lock = self.stdout.lock();
        lock.write_all(text.as_ref().as_bytes())?;
        lock.write_all(b"\n")
    }

    /// One JSON document, pretty-printed.
    pub(crate) fn json(&mut self, value: &impl Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(text)?;
        Ok(())
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
