//! The `fs` gate: the only place a remediation's file access is decided and carried out.
//!
//! The guest names absolute host paths. A path is refused if it is relative, holds `.` or
//! `..` segments or a NUL, lies under no manifest grant, or under no ceiling grant with
//! enough access; a change under a `read` grant is refused, and so is every change while
//! `plan` runs. Then, on every call:
//! - the grant's root is opened from `/` one component at a time without following a
//!   symlink (`nofollow::open_dir`), so a symlink planted at or above it, by anyone or by
//!   the guest through a rename, cannot redirect it;
//! - the opened root, and the directory the call acts in, are refused when they lie on a
//!   kernel pseudo filesystem (by `statfs`) or are, contain or lie inside medic's data
//!   directory (by device and inode);
//! - beneath the root each directory is opened with `O_NOFOLLOW`, and the last component
//!   is acted on without following it: a symlink anywhere is refused, never followed;
//! - every directory opened beneath the root, and the file acted on, must lie on the root's
//!   own mount (`statx` mount ids, so a bind mount counts);
//! - a change happens only in a directory owned by root, medic's user or the owner of the
//!   granted root, so another user cannot tamper with what medic moves or writes there;
//! - a file is opened non-blocking and its type checked on the descriptor: a FIFO, socket,
//!   device, or a file with more than one hard link (it may be a file elsewhere) is
//!   refused; a read stops at the guest's remaining memory and the per-call cap before
//!   anything is allocated, a write at the per-call and per-run caps; `create-dir` makes
//!   at most `MAX_DIRS_PER_CALL` directories, a run at most `MAX_RUN_DIRS`.
//!
//! wasi:filesystem is not linked at all, so this is the only way a component reaches a file.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::Operation;
use super::bindings::HostError;
use super::bindings::medic::remediation::fs::{Entry, Host};
use super::denial::{Denial, DenialKind};
use super::limits::MAX_DIRS_PER_CALL;
use super::state::HostState;
use super::world::World;
use crate::manifest::grant::FsGrant;
use crate::manifest::{Access, Ceiling};
use crate::nofollow::{self, OpenError};
use crate::store::data_dir::Protected;

/// Largest file `read` returns.
pub const MAX_READ_BYTES: u64 = 16 << 20;
/// Most entries `list-dir` returns.
pub const MAX_LIST_ENTRIES: usize = 100_000;
/// Guest memory one listed entry costs besides its name.
const ENTRY_OVERHEAD: usize = 48;
/// Longest path a call may name.
const MAX_PATH_BYTES: usize = 4096;
/// Most components a path may have.
const MAX_PATH_COMPONENTS: usize = 64;
/// Mode of a file `write` creates (before the umask).
const NEW_FILE_MODE: u32 = 0o644;
/// Mode of a directory `create-dir` creates (before the umask).
const NEW_DIR_MODE: u32 = 0o755;

/// Decide `path` for `access` during `operation`: the grant (most specific first) that
/// allows it, or why not. Pure: the opened directories are checked in [`open_target`].
pub(crate) fn check_fs<'g>(
    grants: &'g [FsGrant],
    ceiling: &Ceiling,
    operation: Operation,
    path: &str,
    access: Access,
) -> Result<&'g FsGrant, Denial> {
    let malformed = |reason: String| Denial::new(DenialKind::Malformed, reason);
    if path.contains('\0') {
        return Err(malformed("path contains a NUL byte".to_string()));
    }
    if !path.starts_with('/') {
        return Err(malformed(format!("`{path}` is not an absolute path")));
    }
    if path.len() > MAX_PATH_BYTES || path.split('/').count() > MAX_PATH_COMPONENTS {
        return Err(malformed(format!(
            "a path is at most {MAX_PATH_BYTES} bytes and {MAX_PATH_COMPONENTS} components"
        )));
    }
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err(malformed(format!(
            "`{path}` contains `.` or `..`; name the file directly"
        )));
    }
    let path_ref = Path::new(path);
    let grant = grants
        .iter()
        .filter(|grant| grant.relative(path_ref).is_some())
        .max_by_key(|grant| grant.path.as_os_str().len())
        .ok_or_else(|| {
            Denial::new(
                DenialKind::NotInManifest,
                format!("`{path}` is under no fs grant of the manifest"),
            )
        })?;
    if access == Access::ReadWrite && grant.access == Access::Read {
        return Err(Denial::new(
            DenialKind::ReadOnly,
            format!(
                "`{path}` is under `{}`, which is granted read-only",
                grant.path.display()
            ),
        ));
    }
    let within_ceiling = ceiling
        .grants
        .fs
        .iter()
        .any(|allowed| allowed.relative(path_ref).is_some() && allowed.access >= access);
    if !within_ceiling {
        return Err(Denial::new(
            DenialKind::BeyondCeiling,
            format!(
                "`{path}` ({}) is beyond the operator's ceiling for this risk level",
                access.as_str()
            ),
        ));
    }
    if operation == Operation::Plan && access == Access::ReadWrite {
        return Err(Denial::new(
            DenialKind::DuringPlan,
            format!("`plan` is a dry run and may not change `{path}`"),
        ));
    }
    Ok(grant)
}

/// Why a granted call did not go ahead.
enum Refusal {
    Denied(Denial),
    NotFound(String),
    Failed(String),
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Self {
        Refusal::Denied(denial)
    }
}

/// The directory a call acts in, and the name it acts on (`None`: the root itself).
struct Target {
    dir: OwnedFd,
    name: Option<OsString>,
    shown: String,
    /// The mount the granted root lies on, when the kernel says.
    root_mount: Option<u64>,
    /// The owner of the granted root.
    root_owner: u32,
}

impl Target {
    /// Refuse `fd` (a directory or file opened for this call) on another mount than the
    /// root's.
    fn same_mount(&self, fd: BorrowedFd<'_>) -> Result<(), Refusal> {
        match (self.root_mount, nofollow::mount_id(fd)) {
            (Some(root), Some(here)) if root != here => Err(Refusal::Denied(Denial::new(
                DenialKind::CrossesMount,
                format!(
                    "`{}` lies on another mount than its granted root; medic does not cross mount points beneath a root",
                    self.shown
                ),
            ))),
            _ => Ok(()),
        }
    }

    /// Refuse a change in `dir` when another user owns it.
    fn changeable(&self, dir: BorrowedFd<'_>) -> Result<(), Refusal> {
        let stat = fstat(dir).map_err(|errno| Refusal::Failed(errno.to_string()))?;
        let me = nix::unistd::geteuid().as_raw();
        if stat.st_uid == 0 || stat.st_uid == me || stat.st_uid == self.root_owner {
            return Ok(());
        }
        Err(Refusal::Denied(Denial::new(
            DenialKind::ForeignDirectory,
            format!(
                "`{}` is in a directory owned by uid {}, who could tamper with what medic puts there; medic changes files only in directories owned by root, its own user or the owner of the granted root",
                self.shown, stat.st_uid
            ),
        )))
    }
}

/// Open the directory `path` acts in, beneath `grant`'s root, checking every opened
/// directory as the module documentation says.
fn open_target(
    grant: &FsGrant,
    path: &str,
    (protected, world): (&Protected, &World),
    create_parents: bool,
) -> Result<Target, Refusal> {
    let root = nofollow::open_dir(&world.root_of(&grant.path)).map_err(|error| match error {
        OpenError::NotFound { .. } => Refusal::NotFound(format!(
            "granted root `{}` does not exist",
            grant.path.display()
        )),
        OpenError::Symlink { path: link } => Refusal::Denied(Denial::new(
            DenialKind::Escape,
            format!(
                "granted root `{}` is reached through the symlink `{}`; medic opens roots without following symlinks",
                grant.path.display(),
                link.display()
            ),
        )),
        other => Refusal::Failed(other.to_string()),
    })?;
    check_opened(root.as_fd(), &grant.path, protected)?;
    let root_mount = nofollow::mount_id(root.as_fd());
    let root_owner = fstat(root.as_fd())
        .map_err(|errno| Refusal::Failed(errno.to_string()))?
        .st_uid;
    let relative = grant
        .relative(Path::new(path))
        .expect("check_fs matched this grant");
    let components: Vec<&OsStr> = relative.iter().collect();
    if create_parents && components.len() > MAX_DIRS_PER_CALL {
        return Err(over_cap(format!(
            "`create-dir` makes at most {MAX_DIRS_PER_CALL} directories in one call"
        )));
    }
    let Some((name, parents)) = components.split_last() else {
        return Ok(Target {
            dir: root,
            name: None,
            shown: path.to_string(),
            root_mount,
            root_owner,
        });
    };
    let dir = if parents.is_empty() {
        root
    } else {
        let opened = if create_parents {
            nofollow::create_dir_beneath(root.as_fd(), &grant.path, parents, NEW_DIR_MODE)
        } else {
            nofollow::open_dir_beneath(root.as_fd(), &grant.path, parents)
        };
        let dir = opened.map_err(|error| match error {
            OpenError::Symlink { path: link } => Refusal::Denied(Denial::new(
                DenialKind::Escape,
                format!(
                    "`{}` is a symlink; medic does not follow symlinks beneath a granted root",
                    link.display()
                ),
            )),
            OpenError::NotFound { path } => {
                Refusal::NotFound(format!("`{}` does not exist", path.display()))
            }
            other => Refusal::Failed(other.to_string()),
        })?;
        check_opened(dir.as_fd(), Path::new(path), protected)?;
        dir
    };
    let target = Target {
        dir,
        name: Some(name.to_os_string()),
        shown: path.to_string(),
        root_mount,
        root_owner,
    };
    target.same_mount(target.dir.as_fd())?;
    Ok(target)
}

/// Refuse an opened directory on a pseudo filesystem or reaching medic's own state.
fn check_opened(dir: BorrowedFd<'_>, shown: &Path, protected: &Protected) -> Result<(), Refusal> {
    let io = |error: std::io::Error| Refusal::Failed(format!("`{}`: {error}", shown.display()));
    if let Some(filesystem) = nofollow::forbidden_filesystem(dir).map_err(io)? {
        return Err(Refusal::Denied(Denial::new(
            DenialKind::PseudoFilesystem,
            format!(
                "`{}` lies on {filesystem}, which no remediation may reach",
                shown.display()
            ),
        )));
    }
    let ancestry = nofollow::ancestry(dir).map_err(io)?;
    if let Some((relation, state)) = protected.relation(&ancestry) {
        return Err(Refusal::Denied(Denial::new(
            DenialKind::ProtectedState,
            format!(
                "`{}` {} medic's own state `{}`, which no remediation may reach",
                shown.display(),
                relation.as_str(),
                state.display()
            ),
        )));
    }
    Ok(())
}

/// `stat` of `name` in `dir` without following it; `None` when nothing is there.
fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Refusal> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(stat)),
        Err(Errno::ENOENT) => Ok(None),
        Err(errno) => Err(Refusal::Failed(errno.to_string())),
    }
}

fn symlink_denial(shown: &str) -> Refusal {
    Refusal::Denied(Denial::new(
        DenialKind::Escape,
        format!("`{shown}` is a symlink; medic does not follow symlinks beneath a granted root"),
    ))
}

fn special_denial(shown: &str, kind: &str) -> Refusal {
    Refusal::Denied(Denial::new(
        DenialKind::SpecialFile,
        format!("`{shown}` is a {kind}, not a plain regular file"),
    ))
}

/// Open `name` in `target.dir` as a regular file with `flags`, never following it and
/// never blocking on a FIFO or device.
fn open_regular(target: &Target, flags: OFlag, mode: u32) -> Result<File, Refusal> {
    let name = target
        .name
        .as_deref()
        .ok_or_else(|| special_denial(&target.shown, "directory"))?;
    if let Some(stat) = lstat_at(target.dir.as_fd(), name)? {
        if nofollow::file_type(&stat) == SFlag::S_IFLNK {
            return Err(symlink_denial(&target.shown));
        }
        if let Some(kind) = nofollow::special_kind(&stat) {
            return Err(special_denial(&target.shown, kind));
        }
    }
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let fd = openat(
        target.dir.as_fd(),
        name,
        flags,
        Mode::from_bits_truncate(mode),
    )
    .map_err(|errno| match errno {
        Errno::ELOOP => symlink_denial(&target.shown),
        Errno::ENOENT => Refusal::NotFound(format!("`{}` does not exist", target.shown)),
        Errno::ENXIO => special_denial(&target.shown, "FIFO or device"),
        other => Refusal::Failed(format!("`{}`: {other}", target.shown)),
    })?;
    let stat = fstat(fd.as_fd()).map_err(|errno| Refusal::Failed(errno.to_string()))?;
    if let Some(kind) = nofollow::special_kind(&stat) {
        return Err(special_denial(&target.shown, kind));
    }
    if stat.st_nlink > 1 {
        return Err(special_denial(
            &target.shown,
            &format!(
                "file with {} hard links (it may be a file elsewhere too)",
                stat.st_nlink
            ),
        ));
    }
    target.same_mount(fd.as_fd())?;
    Ok(File::from(fd))
}

impl HostState {
    /// Run one fs operation through the gate and the audit log. `act` gets one opened
    /// target per path, in order.
    fn gated<T>(
        &mut self,
        operation: &str,
        paths: &[(&str, Access)],
        act: impl FnOnce(&mut Self, &[Target]) -> Result<(T, String), Refusal>,
    ) -> wasmtime::Result<Result<T, HostError>> {
        let started = Instant::now();
        let target_text = format!(
            "{operation} {}",
            paths
                .iter()
                .map(|(path, _)| *path)
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        if let Err(denial) = self.begin()? {
            return self.deny("fs", target_text, denial, started);
        }
        let grants = self.grants.clone();
        let mut reasons = Vec::new();
        let mut targets = Vec::new();
        for (path, access) in paths {
            let grant = match check_fs(
                &grants.manifest.grants.fs,
                &grants.scope.ceiling,
                self.operation,
                path,
                *access,
            ) {
                Ok(grant) => grant,
                Err(denial) => return self.deny("fs", target_text, denial, started),
            };
            reasons.push(format!(
                "under `{}` ({}, {})",
                grant.path.display(),
                grant.access.as_str(),
                grant.origin
            ));
            self.used_grant(&grant.origin);
            let opened = open_target(
                grant,
                path,
                (&grants.scope.protected, &grants.scope.world),
                operation == "create-dir",
            )
            .and_then(|target| {
                if *access == Access::ReadWrite {
                    target.changeable(target.dir.as_fd())?;
                }
                Ok(target)
            });
            match opened {
                Ok(target) => targets.push(target),
                Err(refusal) => {
                    return self.finish(target_text, reasons.join("; "), Err(refusal), started);
                }
            }
        }
        let outcome = act(self, &targets);
        self.finish(target_text, reasons.join("; "), outcome, started)
    }

    fn finish<T>(
        &mut self,
        target: String,
        reason: String,
        outcome: Result<(T, String), Refusal>,
        started: Instant,
    ) -> wasmtime::Result<Result<T, HostError>> {
        match outcome {
            Ok((value, summary)) => {
                self.record("fs", target, Ok(reason), summary, started)?;
                Ok(Ok(value))
            }
            Err(Refusal::Denied(denial)) => self.deny("fs", target, denial, started),
            Err(Refusal::NotFound(what)) => {
                self.record(
                    "fs",
                    target,
                    Ok(reason),
                    format!("not found: {what}"),
                    started,
                )?;
                Ok(Err(HostError::NotFound(what)))
            }
            Err(Refusal::Failed(what)) => {
                self.record("fs", target, Ok(reason), format!("failed: {what}"), started)?;
                Ok(Err(HostError::Failed(what)))
            }
        }
    }
}

fn over_cap(reason: String) -> Refusal {
    Refusal::Denied(Denial::new(DenialKind::OverCap, reason))
}

fn entry(name: String, stat: &FileStat) -> Entry {
    let kind = nofollow::file_type(stat);
    Entry {
        name,
        is_dir: kind == SFlag::S_IFDIR,
        is_symlink: kind == SFlag::S_IFLNK,
        size: u64::try_from(stat.st_size).unwrap_or(0),
        modified: u64::try_from(stat.st_mtime).unwrap_or(0),
    }
}

fn io_failed(shown: &str, error: std::io::Error) -> Refusal {
    Refusal::Failed(format!("`{shown}`: {error}"))
}

impl Host for HostState {
    async fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, HostError>> {
        self.gated("read", &[(&path, Access::Read)], |state, targets| {
            let target = &targets[0];
            let file = open_regular(target, OFlag::O_RDONLY, 0)?;
            let size = file
                .metadata()
                .map_err(|error| io_failed(&target.shown, error))?
                .len();
            let room = state.limiter.room() as u64;
            let cap = MAX_READ_BYTES.min(room);
            if size > cap {
                return Err(over_cap(format!(
                    "`{}` has {size} bytes; a read may return at most {cap} (the {MAX_READ_BYTES}-byte cap or the guest's remaining memory)",
                    target.shown
                )));
            }
            let mut data = Vec::with_capacity(size as usize);
            file.take(cap + 1)
                .read_to_end(&mut data)
                .map_err(|error| io_failed(&target.shown, error))?;
            if data.len() as u64 > cap {
                return Err(over_cap(format!(
                    "`{}` grew past the {cap}-byte read cap while it was read",
                    target.shown
                )));
            }
            // A secret never reaches a guest, and a copy with it cut out would not be the
            // file: a remediation that saves it for rollback would write back a broken
            // one. So a file holding a secret's value is refused whole. Declared env
            // values pass: the guest may read those itself.
            if let Some(label) = state.grants.scope.redactor.secret_in(&data) {
                return Err(Refusal::Denied(Denial::new(
                    DenialKind::HoldsSecret,
                    format!(
                        "`{}` holds the value of {label}; no secret reaches a remediation, and a copy without it would not be the file",
                        target.shown
                    ),
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
        self.gated("write", &[(&path, Access::ReadWrite)], |state, targets| {
            let target = &targets[0];
            if data.len() > super::limits::MAX_WRITE_BYTES {
                return Err(over_cap(format!(
                    "a write of {} bytes is over the {}-byte cap",
                    data.len(),
                    super::limits::MAX_WRITE_BYTES
                )));
            }
            state.run_budget.charge_write(data.len() as u64)?;
            let mut file = open_regular(target, OFlag::O_WRONLY | OFlag::O_CREAT, NEW_FILE_MODE)?;
            file.set_len(0)
                .and_then(|()| file.write_all(&data))
                .map_err(|error| io_failed(&target.shown, error))?;
            Ok(((), format!("wrote {} bytes", data.len())))
        })
    }

    async fn list_dir(&mut self, path: String) -> wasmtime::Result<Result<Vec<Entry>, HostError>> {
        self.gated("list", &[(&path, Access::Read)], |state, targets| {
            let target = &targets[0];
            let dir = match &target.name {
                None => openat(target.dir.as_fd(), ".", directory_flags(), Mode::empty()),
                Some(name) => openat(target.dir.as_fd(), name.as_os_str(), directory_flags(), Mode::empty()),
            }
            .map_err(|errno| match errno {
                Errno::ELOOP => symlink_denial(&target.shown),
                Errno::ENOENT => Refusal::NotFound(format!("`{}` does not exist", target.shown)),
                Errno::ENOTDIR => match target
                    .name
                    .as_deref()
                    .map(|name| lstat_at(target.dir.as_fd(), name))
                {
                    Some(Ok(Some(stat))) if nofollow::file_type(&stat) == SFlag::S_IFLNK => {
                        symlink_denial(&target.shown)
                    }
                    _ => Refusal::Failed(format!("`{}` is not a directory", target.shown)),
                },
                other => Refusal::Failed(format!("`{}`: {other}", target.shown)),
            })?;
            // The directory listed is checked like every directory opened: a mount root
            // beneath the granted root (procfs, medic's state) is refused here too.
            check_opened(dir.as_fd(), Path::new(&target.shown), &state.grants.scope.protected)?;
            target.same_mount(dir.as_fd())?;
            let listing = dir.try_clone().map_err(|error| io_failed(&target.shown, error))?;
            let mut listing = nix::dir::Dir::from_fd(listing)
                .map_err(|errno| Refusal::Failed(errno.to_string()))?;
            let room = state.limiter.room();
            let mut spent = 0usize;
            let mut entries = Vec::new();
            for item in listing.iter() {
                let item = item.map_err(|errno| Refusal::Failed(errno.to_string()))?;
                let name = item.file_name();
                if name.to_bytes() == b"." || name.to_bytes() == b".." {
                    continue;
                }
                use std::os::unix::ffi::OsStrExt;
                let os_name = OsStr::from_bytes(name.to_bytes());
                let Ok(stat) = fstatat(dir.as_fd(), os_name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
                    continue;
                };
                spent += name.to_bytes().len() + ENTRY_OVERHEAD;
                if entries.len() >= MAX_LIST_ENTRIES || spent > room {
                    return Err(over_cap(format!(
                        "`{}` has more entries than a listing may return ({MAX_LIST_ENTRIES} entries, {room} bytes of guest memory)",
                        target.shown
                    )));
                }
                let shown = state.grants.scope.redactor.redact(&os_name.to_string_lossy()).into_owned();
                entries.push(entry(shown, &stat));
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
        self.gated("metadata", &[(&path, Access::Read)], |_, targets| {
            let target = &targets[0];
            let stat = match &target.name {
                None => {
                    fstat(target.dir.as_fd()).map_err(|errno| Refusal::Failed(errno.to_string()))?
                }
                Some(file) => lstat_at(target.dir.as_fd(), file)?.ok_or_else(|| {
                    Refusal::NotFound(format!("`{}` does not exist", target.shown))
                })?,
            };
            let size = stat.st_size;
            Ok((entry(name, &stat), format!("{size} bytes")))
        })
    }

    async fn create_dir(&mut self, path: String) -> wasmtime::Result<Result<(), HostError>> {
        self.gated(
            "create-dir",
            &[(&path, Access::ReadWrite)],
            |state, targets| {
                let target = &targets[0];
                let Some(name) = &target.name else {
                    return Ok(((), "exists".to_string()));
                };
                // `open_target` created the missing directories above it, as `mkdir -p` does.
                state
                    .run_budget
                    .charge_directories(Path::new(&target.shown).components().count() as u64)?;
                let created = nofollow::create_dir_beneath(
                    target.dir.as_fd(),
                    Path::new(&target.shown),
                    &[name.as_os_str()],
                    NEW_DIR_MODE,
                )
                .map_err(|error| match error {
                    OpenError::Symlink { .. } => symlink_denial(&target.shown),
                    OpenError::NotDirectory { .. } => {
                        Refusal::Failed(format!("`{}` exists and is not a directory", target.shown))
                    }
                    other => Refusal::Failed(other.to_string()),
                })?;
                check_opened(
                    created.as_fd(),
                    Path::new(&target.shown),
                    &state.grants.scope.protected,
                )?;
                target.same_mount(created.as_fd())?;
                // A directory another user made first (a squatted name under /tmp) is
                // theirs to tamper with: medic does not use it.
                target.changeable(created.as_fd())?;
                Ok(((), "created".to_string()))
            },
        )
    }

    async fn rename(
        &mut self,
        src: String,
        dst: String,
    ) -> wasmtime::Result<Result<(), HostError>> {
        self.gated(
            "rename",
            &[(&src, Access::ReadWrite), (&dst, Access::ReadWrite)],
            |_, targets| {
                let (from, to) = (&targets[0], &targets[1]);
                let (Some(from_name), Some(to_name)) = (&from.name, &to.name) else {
                    return Err(Refusal::Denied(Denial::new(
                        DenialKind::Malformed,
                        "a granted root itself cannot be renamed, nor replaced by a rename",
                    )));
                };
                renameat(
                    from.dir.as_fd(),
                    from_name.as_os_str(),
                    to.dir.as_fd(),
                    to_name.as_os_str(),
                )
                .map_err(|errno| match errno {
                    Errno::ENOENT => Refusal::NotFound(format!("`{}` does not exist", from.shown)),
                    other => Refusal::Failed(format!("rename `{}`: {other}", from.shown)),
                })?;
                Ok(((), "renamed".to_string()))
            },
        )
    }

    async fn remove_file(&mut self, path: String) -> wasmtime::Result<Result<(), HostError>> {
        self.gated(
            "remove-file",
            &[(&path, Access::ReadWrite)],
            |_, targets| {
                let target = &targets[0];
                let name = target
                    .name
                    .as_deref()
                    .ok_or_else(|| special_denial(&target.shown, "directory"))?;
                match lstat_at(target.dir.as_fd(), name)? {
                    None => Err(Refusal::NotFound(format!(
                        "`{}` does not exist",
                        target.shown
                    ))),
                    Some(stat) if nofollow::file_type(&stat) == SFlag::S_IFDIR => {
                        Err(special_denial(&target.shown, "directory"))
                    }
                    Some(_) => {
                        unlinkat(target.dir.as_fd(), name, UnlinkatFlags::NoRemoveDir).map_err(
                            |errno| Refusal::Failed(format!("`{}`: {errno}", target.shown)),
                        )?;
                        Ok(((), "removed".to_string()))
                    }
                }
            },
        )
    }
}

fn directory_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}
