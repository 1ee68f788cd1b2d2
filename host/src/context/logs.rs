//! The last lines of declared log files, read from the end. Only regular files are read:
//! a FIFO or device named as a log is reported, never waited on.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use serde::Serialize;

/// Most bytes read from the end of one file.
const MAX_TAIL_BYTES: u64 = 1 << 20;

/// The end of one log file.
#[derive(Debug, Clone, Serialize)]
pub struct LogTail {
    /// The file.
    pub path: String,
    /// Its last lines, oldest first, invalid UTF-8 replaced.
    pub lines: Vec<String>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

pub(crate) async fn tail_logs(files: &[(PathBuf, usize)]) -> Vec<LogTail> {
    let files = files.to_vec();
    tokio::task::spawn_blocking(move || {
        files
            .iter()
            .map(|(path, lines)| tail_one(path, *lines))
            .collect()
    })
    .await
    .unwrap_or_default()
}

fn tail_one(path: &std::path::Path, wanted: usize) -> LogTail {
    match read_tail(path, wanted) {
        Ok(lines) => LogTail {
            path: path.display().to_string(),
            lines,
            error: None,
        },
        Err(error) => LogTail {
            path: path.display().to_string(),
            lines: Vec::new(),
            error: Some(error.to_string()),
        },
    }
}

fn read_tail(path: &std::path::Path, wanted: usize) -> std::io::Result<Vec<String>> {
    // A FIFO, socket or device is refused on the descriptor, never waited on.
    let mut file = crate::nofollow::open_regular_file(path).map_err(std::io::Error::other)?;
    let length = file.seek(SeekFrom::End(0))?;
    let start = length.saturating_sub(MAX_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(MAX_TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(wanted);
    Ok(lines[skip..].iter().map(|line| line.to_string()).collect())
}
