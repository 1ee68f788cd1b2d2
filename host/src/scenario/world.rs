//! The scripted world a scenario describes: its files in a temporary directory, and the
//! answers its programs, HTTP endpoints and ports give. Records every call it could not
//! answer, so the scenario fails rather than pass on a guest that swallowed the error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::Scenario;
use super::format::{RawConnectAnswer, RawExecAnswer, RawHttpAnswer, RawOperation};
use crate::sandbox::{Operation, Scripted, ScriptedExec, ScriptedResponse};

/// A scenario's world, alive while its directory is.
pub(crate) struct ScriptedWorld {
    root: tempfile::TempDir,
    exec: Mutex<Vec<(Answer, ScriptedExec)>>,
    http: Mutex<Vec<(Answer, HttpReply)>>,
    connect: Mutex<Vec<(Answer, bool)>>,
    env: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    unanswered: Mutex<Vec<String>>,
}

impl Drop for ScriptedWorld {
    /// Give back the owner's access to every directory a scenario (or the remediation
    /// under test) locked, so the temporary directory can be removed.
    fn drop(&mut self) {
        fn unlock(dir: &Path) {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    unlock(&entry.path());
                }
            }
        }
        unlock(self.root.path());
    }
}

/// When an answer applies, and how often it may still be given.
struct Answer {
    key: String,
    args: Option<Vec<String>>,
    operation: Option<RawOperation>,
    left: Option<u32>,
}

impl Answer {
    fn fits(&self, key: &str, args: Option<&[String]>, operation: Operation) -> bool {
        self.key == key
            && self.left != Some(0)
            && self.operation.is_none_or(|wanted| same(wanted, operation))
            && match (&self.args, args) {
                (Some(wanted), Some(args)) => wanted == args,
                _ => true,
            }
    }

    fn spend(&mut self) {
        if let Some(left) = &mut self.left {
            *left -= 1;
        }
    }
}

fn same(wanted: RawOperation, operation: Operation) -> bool {
    matches!(
        (wanted, operation),
        (RawOperation::Plan, Operation::Plan)
            | (RawOperation::Apply, Operation::Apply)
            | (RawOperation::Verify, Operation::Verify)
            | (RawOperation::Rollback, Operation::Rollback)
    )
}

#[derive(Clone)]
enum HttpReply {
    Response(ScriptedResponse),
    Error(String),
}

impl ScriptedWorld {
    /// Create the scenario's files in a fresh temporary directory.
    pub(crate) fn build(scenario: &Scenario) -> std::io::Result<ScriptedWorld> {
        let root = tempfile::Builder::new()
            .prefix("medic-scenario-")
            .tempdir()?;
        let world = &scenario.raw.world;
        for (path, spec) in &world.files {
            let at = beneath(root.path(), path);
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if spec.dir {
                std::fs::create_dir_all(&at)?;
            } else if let Some(target) = &spec.symlink {
                std::os::unix::fs::symlink(target, &at)?;
                continue;
            } else if let Some(size) = spec.size {
                let file = std::fs::File::create(&at)?;
                file.set_len(0)?;
                let mut writer = std::io::BufWriter::new(file);
                std::io::copy(
                    &mut std::io::Read::take(std::io::repeat(b'x'), size),
                    &mut writer,
                )?;
            } else {
                std::fs::write(&at, spec.content.as_deref().unwrap_or_default())?;
            }
        }
        // Modes and ages last, deepest first: a directory made read-only (or given an age)
        // before its children are created would refuse them (or lose its age to them).
        for (path, spec) in world.files.iter().rev() {
            if spec.symlink.is_some() {
                continue;
            }
            let at = beneath(root.path(), path);
            if let Some(age) = scenario.ages.get(path) {
                let when = SystemTime::now()
                    .checked_sub(*age)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                let file = std::fs::File::open(&at)?;
                file.set_times(std::fs::FileTimes::new().set_modified(when))?;
            }
            if let Some(mode) = spec.mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode))?;
            }
        }
        Ok(ScriptedWorld {
            root,
            exec: Mutex::new(world.exec.iter().map(exec_answer).collect()),
            http: Mutex::new(world.http.iter().map(http_answer).collect()),
            connect: Mutex::new(world.connect.iter().map(connect_answer).collect()),
            env: world.env.clone(),
            secrets: world.secrets.clone(),
            unanswered: Mutex::new(Vec::new()),
        })
    }

    /// Where a world path lies on this host.
    pub(crate) fn host_path(&self, path: &str) -> PathBuf {
        beneath(self.root.path(), path)
    }

    /// The calls nothing in the scenario answered, as `operation: call`.
    pub(crate) fn unanswered(&self) -> Vec<String> {
        self.unanswered.lock().expect("not poisoned").clone()
    }

    fn miss(&self, operation: Operation, call: String, hint: &str) -> String {
        let message = format!(
            "the scenario has no answer for `{call}` during {}; add {hint}",
            operation.as_str()
        );
        self.unanswered
            .lock()
            .expect("not poisoned")
            .push(format!("{}: {call}", operation.as_str()));
        message
    }
}

/// `path` (absolute, checked plain) beneath `root`.
fn beneath(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn exec_answer(raw: &RawExecAnswer) -> (Answer, ScriptedExec) {
    let reply = if raw.missing {
        ScriptedExec::Missing
    } else if let Some(message) = &raw.fail {
        ScriptedExec::Failed(message.clone())
    } else {
        ScriptedExec::Ran {
            status: (!raw.killed).then_some(raw.status),
            stdout: raw.stdout.clone().into_bytes(),
            stderr: raw.stderr.clone().into_bytes(),
        }
    };
    (
        Answer {
            key: raw.program.clone(),
            args: raw.args.clone(),
            operation: raw.operation,
            left: raw.times,
        },
        reply,
    )
}

/// A URL as the gate hands it over: parsed and serialised, so `http://127.0.0.1:8080`
/// and `http://127.0.0.1:8080/` are one key.
fn normal_url(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| url.to_string(), |url| url.to_string())
}

fn http_answer(raw: &RawHttpAnswer) -> (Answer, HttpReply) {
    let method = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let reply = match &raw.error {
        Some(message) => HttpReply::Error(message.clone()),
        None => HttpReply::Response(ScriptedResponse {
            status: raw.status.unwrap_or(200),
            headers: raw
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            body: raw.body.clone().into_bytes(),
        }),
    };
    (
        Answer {
            key: format!("{method} {}", normal_url(&raw.url)),
            args: None,
            operation: raw.operation,
            left: raw.times,
        },
        reply,
    )
}

fn connect_answer(raw: &RawConnectAnswer) -> (Answer, bool) {
    (
        Answer {
            key: format!("{}:{}", raw.host.to_ascii_lowercase(), raw.port),
            args: None,
            operation: raw.operation,
            left: raw.times,
        },
        raw.accepts.unwrap_or(true),
    )
}

/// The first answer that fits, spent once.
fn take<R: Clone>(
    answers: &Mutex<Vec<(Answer, R)>>,
    key: &str,
    args: Option<&[String]>,
    operation: Operation,
) -> Option<R> {
    let mut answers = answers.lock().expect("not poisoned");
    let (answer, reply) = answers
        .iter_mut()
        .find(|(answer, _)| answer.fits(key, args, operation))?;
    answer.spend();
    Some(reply.clone())
}

impl Scripted for ScriptedWorld {
    fn root(&self) -> &Path {
        self.root.path()
    }

    fn exec(&self, operation: Operation, program: &str, args: &[String]) -> ScriptedExec {
        match take(&self.exec, program, Some(args), operation) {
            Some(reply) => reply,
            None => {
                let call = std::iter::once(program.to_string())
                    .chain(args.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(" ");
                ScriptedExec::Failed(self.miss(
                    operation,
                    format!("exec {call}"),
                    "a `[[world.exec]]` entry",
                ))
            }
        }
    }

    fn http(
        &self,
        operation: Operation,
        method: &str,
        url: &str,
        _body: &[u8],
    ) -> Result<ScriptedResponse, String> {
        let key = format!("{method} {}", normal_url(url));
        match take(&self.http, &key, None, operation) {
            Some(HttpReply::Response(response)) => Ok(response),
            Some(HttpReply::Error(message)) => Err(message),
            None => Err(self.miss(operation, format!("http {key}"), "a `[[world.http]]` entry")),
        }
    }

    fn connect(&self, operation: Operation, host: &str, port: u16) -> Result<(), String> {
        let key = format!("{}:{port}", host.to_ascii_lowercase());
        match take(&self.connect, &key, None, operation) {
            Some(true) => Ok(()),
            Some(false) => Err(format!("connect to {key}: connection refused")),
            None => Err(self.miss(
                operation,
                format!("http CONNECT tcp://{key}"),
                "a `[[world.connect]]` entry",
            )),
        }
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn secret(&self, handle: &str) -> Option<String> {
        self.secrets.get(handle).cloned()
    }
}

/// A file's state afterwards.
pub(crate) struct Found {
    pub(crate) is_file: bool,
    pub(crate) bytes: Vec<u8>,
    pub(crate) size: u64,
}

impl ScriptedWorld {
    /// What lies at world path `path` now. Nothing is followed: a symlink on the way is
    /// an error, a symlink at the end is reported as what it is, and only a regular file's
    /// bytes are read, so a scenario or a guest cannot make this read a file of the host.
    pub(crate) fn inspect(&self, path: &str) -> std::io::Result<Option<Found>> {
        use std::os::fd::AsFd as _;
        let at = self.host_path(path);
        let (Some(parent), Some(name)) = (at.parent(), at.file_name()) else {
            return Ok(None);
        };
        let dir = match crate::nofollow::open_dir(parent) {
            Ok(dir) => dir,
            Err(crate::nofollow::OpenError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(std::io::Error::other(error.to_string())),
        };
        let stat = match nix::sys::stat::fstatat(
            dir.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(stat) => stat,
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(errno) => return Err(errno.into()),
        };
        let is_file = crate::nofollow::file_type(&stat) == nix::sys::stat::SFlag::S_IFREG;
        let size = u64::try_from(stat.st_size).unwrap_or_default();
        let mut bytes = Vec::new();
        if is_file && size <= MAX_INSPECTED_BYTES {
            use std::io::Read as _;
            let fd = nix::fcntl::openat(
                dir.as_fd(),
                name,
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_NOFOLLOW
                    | nix::fcntl::OFlag::O_NONBLOCK
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )?;
            std::fs::File::from(fd)
                .take(MAX_INSPECTED_BYTES)
                .read_to_end(&mut bytes)?;
        }
        Ok(Some(Found {
            is_file,
            bytes,
            size,
        }))
    }
}

/// Largest file whose content a scenario's expectations compare.
const MAX_INSPECTED_BYTES: u64 = 16 << 20;
