//! The operator's own command, as `medic heal -- CMD ARGS...` wraps it: run directly (no
//! shell), with the operator's environment, working directory and stdin, its stdout and
//! stderr passed through live as it writes them and also captured, in arrival order, for
//! diagnosis. The capture keeps the last [`Wrapped::capture`] bytes (the failure is near
//! the end), and counts what it dropped. `--verify CMD`, a check the operator writes as a
//! shell line, runs the same way under `/bin/sh -c`.
//!
//! This is not the sandbox: it runs what the operator would have run without medic, with
//! the same rights, and nothing a remediation chooses.

use std::collections::VecDeque;
use std::io::Write;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::ProcessError;
use crate::stop::StopSignal;

/// Where the command's stdout goes while it is passed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Its stdout to medic's stdout, its stderr to medic's stderr.
    Same,
    /// Both to medic's stderr (medic's stdout carries JSON).
    Stderr,
    /// Neither (captured only).
    Quiet,
}

/// How to run a wrapped command.
#[derive(Debug, Clone)]
pub struct Wrapped<'a> {
    /// The program and its arguments.
    pub argv: &'a [String],
    /// Bytes of output kept for diagnosis (the last ones).
    pub capture: usize,
    /// Where its output is echoed.
    pub echo: Echo,
    /// Raised when medic is asked to stop: the command gets SIGTERM.
    pub stop: Option<&'a StopSignal>,
    /// Also hand each chunk of output to this reader as it arrives (for diagnosis while
    /// the command still runs).
    pub tee: Option<&'a Tee>,
}

/// A copy of a command's output, chunk by chunk, for a reader in another thread. Never
/// slows the command: when the reader falls behind by [`TEE_CHUNKS`] chunks, the tee
/// breaks (`is_broken`) and stops copying; the reader must then use the capture instead.
#[derive(Debug, Clone)]
pub struct Tee {
    sender: std::sync::mpsc::SyncSender<Vec<u8>>,
    broken: Arc<std::sync::atomic::AtomicBool>,
}

/// Chunks a [`Tee`] holds for its reader before it breaks.
pub const TEE_CHUNKS: usize = 1024;

impl Tee {
    /// A tee and the reader of what it copies.
    pub fn new() -> (Tee, TeeReader) {
        let (sender, receiver) = std::sync::mpsc::sync_channel(TEE_CHUNKS);
        (
            Tee {
                sender,
                broken: Arc::default(),
            },
            TeeReader {
                receiver,
                chunk: Vec::new(),
                at: 0,
            },
        )
    }

    /// Whether a chunk was dropped: what the reader read is not the whole output.
    pub fn is_broken(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn copy(&self, chunk: &[u8]) {
        if !self.is_broken() && self.sender.try_send(chunk.to_vec()).is_err() {
            self.broken.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Reads what a [`Tee`] copies; ends when every copy of the tee is dropped.
#[derive(Debug)]
pub struct TeeReader {
    receiver: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl std::io::Read for TeeReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let count = buffer.len().min(self.chunk.len() - self.at);
        buffer[..count].copy_from_slice(&self.chunk[self.at..self.at + count]);
        self.at += count;
        Ok(count)
    }
}

/// How a wrapped command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedOutput {
    /// Its exit status as a shell reports it: the code, or 128 + the signal; 127 when it
    /// could not be found, 126 when it could not be run.
    pub status: i32,
    /// The last bytes of stdout and stderr, interleaved as they arrived.
    pub output: Vec<u8>,
    /// Bytes dropped from the front of the capture.
    pub dropped: u64,
    /// Wall time.
    pub duration: Duration,
}

/// How long output is still read after the command exits (from what it left running).
pub const DRAIN: Duration = Duration::from_secs(2);

/// The shell a `--verify` check runs under.
pub const SHELL: &str = "/bin/sh";

struct Capture {
    kept: VecDeque<u8>,
    cap: usize,
    dropped: u64,
}

impl Capture {
    fn push(&mut self, bytes: &[u8]) {
        self.kept.extend(bytes);
        while self.kept.len() > self.cap {
            let excess = self.kept.len() - self.cap;
            self.kept.drain(..excess);
            self.dropped += excess as u64;
        }
    }
}

/// Where one stream is echoed.
type EchoTo = Box<dyn Write + Send>;

async fn pump(
    mut from: impl AsyncRead + Unpin,
    capture: Arc<Mutex<Capture>>,
    echo: Option<EchoTo>,
    tee: Option<Tee>,
) {
    let mut echo = echo;
    let mut buffer = vec![0u8; 16 << 10];
    loop {
        let count = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        let chunk = &buffer[..count];
        if let Some(out) = echo.as_mut() {
            // A closed terminal must not stop the command: echo is best effort.
            if out.write_all(chunk).and_then(|()| out.flush()).is_err() {
                echo = None;
            }
        }
        capture
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(chunk);
        if let Some(tee) = &tee {
            tee.copy(chunk);
        }
    }
}

/// Run the operator's command to completion, passing its output through and capturing it.
pub async fn run_wrapped(wrapped: Wrapped<'_>) -> Result<WrappedOutput, ProcessError> {
    let started = Instant::now();
    let Some((program, args)) = wrapped.argv.split_first() else {
        return Err(ProcessError::Start {
            program: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
        });
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "process/ is the one place medic starts processes"
    )]
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes one raw system call (`prctl`) and
    // touches no memory. It cannot be avoided: only the child can ask the kernel to
    // signal it when its parent dies, which is how a `kill -9` of medic (a cancelled CI
    // job) stops the command rather than leaving it running beside the next medic.
    #[expect(unsafe_code, reason = "setting up the child before exec; see SAFETY")]
    unsafe {
        command.pre_exec(|| {
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGTERM, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            // As a shell would: 127 not found, 126 found but not runnable.
            let status = if error.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let message = format!(
                "medic: cannot run `{}`: {error}\n",
                crate::text::escape_control(program)
            );
            if wrapped.echo != Echo::Quiet {
                let _ = std::io::stderr().write_all(message.as_bytes());
            }
            return Ok(WrappedOutput {
                status,
                output: message.into_bytes(),
                dropped: 0,
                duration: started.elapsed(),
            });
        }
    };
    let capture = Arc::new(Mutex::new(Capture {
        kept: VecDeque::new(),
        cap: wrapped.capture.max(1),
        dropped: 0,
    }));
    let (out_echo, err_echo): (Option<EchoTo>, Option<EchoTo>) = match wrapped.echo {
        Echo::Same => (
            Some(Box::new(std::io::stdout())),
            Some(Box::new(std::io::stderr())),
        ),
        Echo::Stderr => (
            Some(Box::new(std::io::stderr())),
            Some(Box::new(std::io::stderr())),
        ),
        Echo::Quiet => (None, None),
    };
    let stdout = child
        .stdout
        .take()
        .map(|out| tokio::spawn(pump(out, capture.clone(), out_echo, wrapped.tee.cloned())));
    let stderr = child
        .stderr
        .take()
        .map(|err| tokio::spawn(pump(err, capture.clone(), err_echo, wrapped.tee.cloned())));
    let shown = crate::text::escape_control(program);
    let status = match wrapped.stop {
        Some(stop) => {
            tokio::select! {
                status = child.wait() => status,
                () = stop.wait() => {
                    if let Some(pid) = child.id() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid as i32),
                            nix::sys::signal::Signal::SIGTERM,
                        );
                    }
                    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
                        Ok(status) => status,
                        Err(_) => {
                            let _ = child.start_kill();
                            child.wait().await
                        }
                    }
                }
            }
        }
        None => child.wait().await,
    }
    .map_err(|source| ProcessError::Wait {
        program: shown,
        source,
    })?;
    // A background process the command left behind may hold its output open: what it
    // writes within a moment is kept, then medic stops reading and goes on.
    for mut pump in [stdout, stderr].into_iter().flatten() {
        if tokio::time::timeout(DRAIN, &mut pump).await.is_err() {
            pump.abort();
        }
    }
    let code = {
        use std::os::unix::process::ExitStatusExt;
        status
            .code()
            .or_else(|| status.signal().map(|signal| 128 + signal))
            .unwrap_or(1)
    };
    let capture = capture
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(WrappedOutput {
        status: code,
        output: capture.kept.iter().copied().collect(),
        dropped: capture.dropped,
        duration: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capture_keeps_the_tail_and_counts_the_rest() {
        let mut capture = Capture {
            kept: VecDeque::new(),
            cap: 4,
            dropped: 0,
        };
        capture.push(b"abc");
        capture.push(b"defg");
        assert_eq!(capture.kept.iter().copied().collect::<Vec<u8>>(), b"defg");
        assert_eq!(capture.dropped, 3);
    }
}
