//! The `fs` gate: the only place a remediation's file access is decided and carried out.
//!
//! The guest names absolute host paths. A path is refused if it is relative, holds `.` or
//! `..` segments or a NUL, lies under no manifest grant, or lies under no ceiling grant
//! with enough access; a change under a `read` grant is refused. The rest of the path is
//! then opened beneath the grant's root with cap-std, which refuses any symlink or other
//! route that would leave the root ("a path led outside of the filesystem"); such an
//! escape is recorded as denied too. wasi:filesystem is not linked at all, so this is the
//! only way a component reaches a file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::bindings::HostError;
use super::bindings::medic::remediation::fs::{Entry, Host};
use super::state::HostState;
use crate::manifest::grant::FsGrant;
use crate::manifest::{Access, Ceiling};

/// Largest file `read` returns.
pub const MAX_READ_BYTES: u64 = 16 << 20;
/// Largest buffer `write` accepts.
pub const MAX_WRITE_BYTES: usize = 16 << 20;
/// Most entries `list-dir` returns.
pub const MAX_LIST_ENTRIES: usize = 100_000;
/// cap-std's message when a path would leave its root.
const ESCAPE_MESSAGE: &str = "a path led outside of the filesystem";

/// The manifest's fs grants with their opened root directories.
pub(crate) struct FsRoots {
    roots: Vec<(FsGrant, Option<Dir>)>,
}

impl FsRoots {
    /// Open every granted root that exists; a missing root makes its paths `not-found`.
    pub(crate) fn open(grants: &[FsGrant]) -> Self {
        let roots = grants
            .iter()
            .map(|grant| {
                (
                    grant.clone(),
                    Dir::open_ambient_dir(&grant.path, ambient_authority()).ok(),
                )
            })
            .collect();
        FsRoots { roots }
    }
}

/// Why a path could not be resolved.
enum Unresolved {
    /// The gate refused it.
    Denied(String),
    /// It is granted, but the granted root does not exist on this host.
    MissingRoot(String),
}

/// A path resolved to its root.
struct Resolved<'a> {
    dir: &'a Dir,
    relative: PathBuf,
    reason: String,
}

/// Decide `path` for `access`: the grant (most specific first) that allows it, or why not.
pub(crate) fn check_fs<'g>(
    grants: &'g [FsGrant],
    ceiling: &Ceiling,
    path: &str,
    access: Access,
) -> Result<&'g FsGrant, String> {
    if path.contains('\0') {
        return Err("path contains a NUL byte".to_string());
    }
    if !path.starts_with('/') {
        return Err(format!("`{path}` is not an absolute path"));
    }
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err(format!(
            "`{path}` contains `.` or `..`; name the file directly"
        ));
    }
    let path_ref = Path::new(path);
    let grant = grants
        .iter()
        .filter(|grant| grant.relative(path_ref).is_some())
        .max_by_key(|grant| grant.path.as_os_str().len())
        .ok_or_else(|| format!("`{path}` is under no fs grant of the manifest"))?;
    if access == Access::ReadWrite && grant.access == Access::Read {
        return Err(format!(
            "`{path}` is under `{}`, which is granted read-only",
            grant.path.display()
        ));
    }
    let within_ceiling = ceiling
        .grants
        .fs
        .iter()
        .any(|allowed| allowed.relative(path_ref).is_some() && allowed.access >= access);
    if !within_ceiling {
        return Err(format!(
            "`{path}` ({}) is beyond the operator's ceiling for this risk level",
            access.as_str()
        ));
    }
    Ok(grant)
}

impl HostState {
    fn resolve(&self, path: &str, access: Access) -> Result<Resolved<'_>, Unresolved> {
        let grant = check_fs(
            &self.grants.manifest.grants.fs,
            &self.grants.ceiling,
            path,
            access,
        )
        .map_err(Unresolved::Denied)?;
        let (_, dir) = self
            .fs_roots
            .roots
            .iter()
            .find(|(root, _)| root.path == grant.path)
            .expect("every manifest fs grant has a root entry");
        let dir = dir.as_ref().ok_or_else(|| {
            Unresolved::MissingRoot(format!(
                "granted root `{}` does not exist",
                grant.path.display()
            ))
        })?;
        let relative = grant.relative(Path::new(path)).expect("checked above");
        let relative = if relative.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            relative.to_path_buf()
        };
        Ok(Resolved {
            dir,
            relative,
            reason: format!(
                "under `{}` ({}, {})",
                grant.path.display(),
                grant.access.as_str(),
                grant.origin
            ),
        })
    }

    /// Run one fs operation through the gate and the audit log.
    fn gated<T>(
        &mut self,
        operation: &str,
        paths: &[(&str, Access)],
        act: impl FnOnce(&[Resolved<'_>]) -> std::io::Result<(T, String)>,
    ) -> wasmtime::Result<Result<T, HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        let target = format!(
            "{operation} {}",
            paths
                .iter()
                .map(|(path, _)| *path)
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        let resolved: Result<Vec<Resolved<'_>>, Unresolved> = paths
            .iter()
            .map(|(path, access)| self.resolve(path, *access))
            .collect();
        let (decision, outcome) = match resolved {
            Err(Unresolved::MissingRoot(missing)) => {
                (Ok("granted".to_string()), Err(HostError::NotFound(missing)))
            }
            Err(Unresolved::Denied(reason)) => {
                (Err(reason.clone()), Err(HostError::Denied(reason)))
            }
            Ok(resolved) => {
                let reason = resolved
                    .iter()
                    .map(|resolved| resolved.reason.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                match act(&resolved) {
                    Ok((value, summary)) => (Ok(reason), Ok((value, summary))),
                    Err(error) if error.to_string().contains(ESCAPE_MESSAGE) => {
                        let why =
                            format!("{target}: a symlink or path leads outside the granted root");
                        (Err(why.clone()), Err(HostError::Denied(why)))
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => (
                        Ok(reason),
                        Err(HostError::NotFound(format!("{target}: {error}"))),
                    ),
                    Err(error) => (
                        Ok(reason),
                        Err(HostError::Failed(format!("{target}: {error}"))),
                    ),
                }
            }
        };
        let result = match &outcome {
            Ok((_, summary)) => summary.clone(),
            Err(HostError::NotFound(what)) => format!("not found: {what}"),
            Err(HostError::Failed(what)) => format!("failed: {what}"),
            Err(HostError::Denied(_)) => String::new(),
        };
        self.record("fs", target, decision, result, started)?;
        Ok(outcome.map(|(value, _)| value))
    }
}

fn entry(name: String, metadata: &cap_std::fs::Metadata) -> Entry {
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.into_std().duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs());
    Entry {
        name,
        is_dir: metadata.is_dir(),
        is_symlink: metadata.is_symlink(),
        size: metadata.len(),
        modified,
    }
}

impl Host for HostState {
    async fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, HostError>> {
        self.gated("read", &[(&path, Access::Read)], |resolved| {
            let file = resolved[0].dir.open(&resolved[0].relative)?;
            let mut data = Vec::new();
            file.take(MAX_READ_BYTES + 1).read_to_end(&mut data)?;
            if data.len() as u64 > MAX_READ_BYTES {
                return Err(std::io::Error::other(format!(
                    "file is larger than the {MAX_READ_BYTES}-byte read cap"
                )));
            }
            let summary = format!("read {} bytes", data.len());
            Ok((data, summary))
        })
    }

    async fn write(
        &mut self,
        path: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        if data.len() > MAX_WRITE_BYTES {
            return Ok(Err(HostError::Failed(format!(
                "write of {} bytes is over the {MAX_WRITE_BYTES}-byte cap",
                data.len()
            ))));
        }
        self.gated("write", &[(&path, Access::ReadWrite)], |resolved| {
            resolved[0].dir.write(&resolved[0].relative, &data)?;
            Ok(((), format!("wrote {} bytes", data.len())))
        })
    }

    async fn list_dir(&mut self, path: String) -> wasmtime::Result<Result<Vec<Entry>, HostError>> {
        self.gated("list", &[(&path, Access::Read)], |resolved| {
            let mut entries = Vec::new();
            for item in resolved[0].dir.read_dir(&resolved[0].relative)? {
                let item = item?;
                let name = item.file_name().to_string_lossy().into_owned();
                let metadata = item.metadata()?;
                entries.push(entry(name, &metadata));
                if entries.len() > MAX_LIST_ENTRIES {
                    return Err(std::io::Error::other(format!(
                        "more than {MAX_LIST_ENTRIES} entries"
                    )));
                }
            }
            let summary = format!("{} entries", entries.len());
            Ok((entries, summary))
        })
    }

    async fn metadata(&mut self, path: String) -> wasmtime::Result<Result<Entry, HostError>> {
        let name = Path::new(&path)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.gated("metadata", &[(&path, Access::Read)], |resolved| {
            let metadata = resolved[0].dir.symlink_metadata(&resolved[0].relative)?;
            Ok((entry(name, &metadata), format!("{} bytes", metadata.len())))
        })
    }

    async fn create_dir(&mut self, path: String) -> wasmtime::Result<Result<(), HostError>> {
        self.gated("create-dir", &[(&path, Access::ReadWrite)], |resolved| {
            resolved[0].dir.create_dir_all(&resolved[0].relative)?;
            Ok(((), "created".to_string()))
        })
    }

    async fn rename(
        &mut self,
        src: String,
        dst: String,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.gated(
            "rename",
            &[(&src, Access::ReadWrite), (&dst, Access::ReadWrite)],
            |resolved| {
                resolved[0].dir.rename(
                    &resolved[0].relative,
                    resolved[1].dir,
                    &resolved[1].relative,
                )?;
                Ok(((), "renamed".to_string()))
            },
        )
    }

    async fn remove_file(&mut self, path: String) -> wasmtime::Result<Result<(), HostError>> {
        self.gated("remove-file", &[(&path, Access::ReadWrite)], |resolved| {
            resolved[0].dir.remove_file(&resolved[0].relative)?;
            Ok(((), "removed".to_string()))
        })
    }
}
