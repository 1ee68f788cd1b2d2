//! Opening paths without being redirected: directories from `/` one component at a time
//! without following a symlink, files whose type is checked on the descriptor, and the
//! filesystem a directory really lives on.
//!
//! The fs gate opens every granted root with [`open_dir`] on every call, so a symlink
//! planted at or above a root (by anyone, or by the guest through a rename) cannot redirect
//! it; beneath the root it opens each directory with [`open_dir_beneath`]. medic's own reads
//! of files an operator or a manifest names (a component, a pattern file, a log, an
//! incident) go through [`open_regular_file`], which never waits on a FIFO, socket or
//! device. This module decides nothing about grants; it only opens and reports.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};
use thiserror::Error;

/// Flags every directory is opened with: never a symlink, never inherited by a child.
const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);
/// Flags a file is opened with for reading: a FIFO or device must not block the open, and
/// a terminal must not become medic's controlling terminal.
const READ_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_NOCTTY)
    .union(OFlag::O_CLOEXEC);

/// Set by tests to exercise the per-component walk that kernels without `openat2` use.
static FORCE_WALK: AtomicBool = AtomicBool::new(false);

/// Why a path could not be opened as asked.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The path is relative, or holds `.`, `..` or an empty component.
    #[error("`{path}` is not a plain absolute path")]
    NotPlain {
        /// The path.
        path: PathBuf,
    },
    /// A component of the path is a symlink; medic does not follow it.
    #[error("`{path}` is a symlink; medic does not follow symlinks here")]
    Symlink {
        /// The path up to and including the symlink.
        path: PathBuf,
    },
    /// Something on the path is not a directory.
    #[error("`{path}` is not a directory")]
    NotDirectory {
        /// The path up to the component that is not a directory.
        path: PathBuf,
    },
    /// The file is not a regular file.
    #[error("`{path}` is a {kind}, not a regular file; medic never opens one")]
    SpecialFile {
        /// The file.
        path: PathBuf,
        /// `FIFO`, `socket`, `character device`, `block device` or `directory`.
        kind: &'static str,
    },
    /// The file is larger than the caller allows.
    #[error("`{path}` has {size} bytes, more than the {cap}-byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        cap: u64,
    },
    /// Nothing exists at the path.
    #[error("`{path}` does not exist")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// Any other failure.
    #[error("`{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl OpenError {
    fn from_errno(errno: Errno, path: &Path) -> Self {
        let path = path.to_path_buf();
        match errno {
            Errno::ELOOP => OpenError::Symlink { path },
            Errno::ENOTDIR => OpenError::NotDirectory { path },
            Errno::ENOENT => OpenError::NotFound { path },
            other => OpenError::Io {
                path,
                source: std::io::Error::from(other),
            },
        }
    }
}

/// A file's identity: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl Identity {
    /// The identity of an open descriptor.
    pub fn of(fd: BorrowedFd<'_>) -> std::io::Result<Identity> {
        let stat = fstat(fd).map_err(std::io::Error::from)?;
        Ok(Identity::from_stat(&stat))
    }

    /// The identity in a `stat` result.
    pub fn from_stat(stat: &FileStat) -> Identity {
        Identity {
            dev: stat.st_dev,
            ino: stat.st_ino,
        }
    }
}

/// The normal components of an absolute path, or `None` when it is relative or holds
/// `.`, `..` or doubled slashes that would make two spellings of one path.
pub fn plain_components(path: &Path) -> Option<Vec<&OsStr>> {
    let bytes = path.as_os_str().as_bytes();
    let rest = bytes.strip_prefix(b"/")?;
    if bytes.contains(&0) {
        return None;
    }
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let mut components = Vec::new();
    for part in rest.split(|b| *b == b'/') {
        if part.is_empty() || part == b"." || part == b".." {
            return None;
        }
        components.push(OsStr::from_bytes(part));
    }
    Some(components)
}

/// Open the directory at absolute `path` without following any symlink on the way:
/// `openat2` with `RESOLVE_NO_SYMLINKS` where the kernel has it, else one `openat` per
/// component with `O_NOFOLLOW | O_DIRECTORY`. Errors name the component at fault.
pub fn open_dir(path: &Path) -> Result<OwnedFd, OpenError> {
    let components = plain_components(path).ok_or_else(|| OpenError::NotPlain {
        path: path.to_path_buf(),
    })?;
    if !FORCE_WALK.load(Ordering::Relaxed) {
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        if let Ok(fd) = openat2(AT_FDCWD, path, how) {
            return Ok(fd);
        }
        // An error (or a kernel without openat2) falls through to the walk, which names
        // the component at fault.
    }
    let root = openat(AT_FDCWD, "/", DIR_FLAGS, Mode::empty())
        .map_err(|errno| OpenError::from_errno(errno, Path::new("/")))?;
    walk(root, Path::new("/"), &components)
}

/// Open the directory `components` beneath `dir` (named `dir_path` in errors), one
/// component at a time, never following a symlink and never leaving `dir`.
pub fn open_dir_beneath(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    components: &[&OsStr],
) -> Result<OwnedFd, OpenError> {
    let start = openat(dir, ".", DIR_FLAGS, Mode::empty())
        .map_err(|errno| OpenError::from_errno(errno, dir_path))?;
    walk(start, dir_path, components)
}

/// Like [`open_dir_beneath`], creating each missing directory with `mode` (before the
/// umask) on the way.
pub fn create_dir_beneath(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    components: &[&OsStr],
    mode: u32,
) -> Result<OwnedFd, OpenError> {
    let start = openat(dir, ".", DIR_FLAGS, Mode::empty())
        .map_err(|errno| OpenError::from_errno(errno, dir_path))?;
    walk_creating(
        start,
        dir_path,
        components,
        Some(Mode::from_bits_truncate(mode)),
    )
}

fn walk(fd: OwnedFd, base: &Path, components: &[&OsStr]) -> Result<OwnedFd, OpenError> {
    walk_creating(fd, base, components, None)
}

fn walk_creating(
    mut fd: OwnedFd,
    base: &Path,
    components: &[&OsStr],
    create: Option<Mode>,
) -> Result<OwnedFd, OpenError> {
    let mut path = base.to_path_buf();
    for component in components {
        path.push(component);
        let mut opened = openat(fd.as_fd(), *component, DIR_FLAGS, Mode::empty());
        if let (Err(Errno::ENOENT), Some(mode)) = (&opened, create) {
            match nix::sys::stat::mkdirat(fd.as_fd(), *component, mode) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => return Err(OpenError::from_errno(errno, &path)),
            }
            opened = openat(fd.as_fd(), *component, DIR_FLAGS, Mode::empty());
        }
        fd = match opened {
            Ok(next) => next,
            Err(Errno::ELOOP) => return Err(OpenError::Symlink { path }),
            // O_NOFOLLOW|O_DIRECTORY on a symlink may also answer ENOTDIR.
            Err(Errno::ENOTDIR) => {
                let is_link = nix::sys::stat::fstatat(
                    fd.as_fd(),
                    *component,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .is_ok_and(|stat| file_type(&stat) == SFlag::S_IFLNK);
                return Err(if is_link {
                    OpenError::Symlink { path }
                } else {
                    OpenError::NotDirectory { path }
                });
            }
            Err(errno) => return Err(OpenError::from_errno(errno, &path)),
        };
    }
    Ok(fd)
}

/// The type bits of a `stat` result.
pub fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
}

/// The name of a file type that is not a regular file, for messages; `None` for a
/// regular file.
pub fn special_kind(stat: &FileStat) -> Option<&'static str> {
    match file_type(stat) {
        SFlag::S_IFREG => None,
        SFlag::S_IFIFO => Some("FIFO"),
        SFlag::S_IFSOCK => Some("socket"),
        SFlag::S_IFCHR => Some("character device"),
        SFlag::S_IFBLK => Some("block device"),
        SFlag::S_IFDIR => Some("directory"),
        SFlag::S_IFLNK => Some("symlink"),
        _ => Some("special file"),
    }
}

/// Check on the descriptor that `fd` is a regular file; returns its `stat`.
pub fn check_regular(fd: BorrowedFd<'_>, path: &Path) -> Result<FileStat, OpenError> {
    let stat = fstat(fd).map_err(|errno| OpenError::from_errno(errno, path))?;
    match special_kind(&stat) {
        None => Ok(stat),
        Some(kind) => Err(OpenError::SpecialFile {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Open a file medic reads for itself (a component, a pattern file, a log, an incident):
/// symlinks are followed, since the operator chose the path, but the open never blocks
/// and anything other than a regular file is refused on the descriptor.
pub fn open_regular_file(path: &Path) -> Result<File, OpenError> {
    let fd = openat(AT_FDCWD, path, READ_FLAGS, Mode::empty())
        .map_err(|errno| OpenError::from_errno(errno, path))?;
    check_regular(fd.as_fd(), path)?;
    Ok(File::from(fd))
}

/// Read all of a regular file, refusing one larger than `cap` bytes before reading it
/// (and stopping at `cap` should it grow meanwhile).
pub fn read_regular_file(path: &Path, cap: u64) -> Result<Vec<u8>, OpenError> {
    let file = open_regular_file(path)?;
    read_capped(file, path, cap)
}

/// Read an open regular file whole, up to `cap` bytes.
pub fn read_capped(file: File, path: &Path, cap: u64) -> Result<Vec<u8>, OpenError> {
    let size = file
        .metadata()
        .map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > cap {
        return Err(OpenError::TooLarge {
            path: path.to_path_buf(),
            size,
            cap,
        });
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if data.len() as u64 > cap {
        return Err(OpenError::TooLarge {
            path: path.to_path_buf(),
            size: data.len() as u64,
            cap,
        });
    }
    Ok(data)
}

/// Read a regular file as UTF-8 text, up to `cap` bytes.
pub fn read_regular_text(path: &Path, cap: u64) -> Result<String, OpenError> {
    let bytes = read_regular_file(path, cap)?;
    String::from_utf8(bytes).map_err(|_| OpenError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"),
    })
}

/// Read a file of a remediation's folder (a scenario, a signature, a manifest medic
/// rewrites) as UTF-8 text, up to `cap` bytes: the folder may be someone else's, so the
/// last component is never followed if it is a symlink (medic would otherwise read, and
/// quote in its errors, whatever the link names), and the open never blocks.
pub fn read_folder_text(path: &Path, cap: u64) -> Result<String, OpenError> {
    let fd = openat(
        AT_FDCWD,
        path,
        READ_FLAGS | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|errno| OpenError::from_errno(errno, path))?;
    check_regular(fd.as_fd(), path)?;
    let bytes = read_capped(File::from(fd), path, cap)?;
    String::from_utf8(bytes).map_err(|_| OpenError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"),
    })
}

/// The identities of `fd` and every directory above it, up to `/`, found by opening `..`
/// repeatedly (so a rename or a symlink cannot make it lie).
pub fn ancestry(fd: BorrowedFd<'_>) -> std::io::Result<Vec<Identity>> {
    let mut identities = vec![Identity::of(fd)?];
    let mut current = openat(fd, ".", DIR_FLAGS, Mode::empty()).map_err(std::io::Error::from)?;
    // A path has at most PATH_MAX / 2 components; stop long before a loop could matter.
    for _ in 0..4096 {
        let parent = openat(current.as_fd(), "..", DIR_FLAGS, Mode::empty())
            .map_err(std::io::Error::from)?;
        let identity = Identity::of(parent.as_fd())?;
        if Some(&identity) == identities.last() {
            return Ok(identities);
        }
        identities.push(identity);
        current = parent;
    }
    Err(std::io::Error::other(
        "directory tree deeper than 4096 levels",
    ))
}

/// Pseudo filesystems a remediation must never reach, by `statfs` magic number.
const FORBIDDEN_FILESYSTEMS: &[(i64, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x1cd1, "devpts"),
    (0x27e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0xcafe_4a11, "bpf"),
    (0x6265_6570, "configfs"),
    (0x6165_676c, "pstore"),
    (0xde5e_81e4, "efivarfs"),
    (0x6573_5543, "fusectl"),
    (0x6e73_6673, "nsfs"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x1980_0202, "mqueue"),
];

/// The device `/dev` lives on, when it is its own (dev)tmpfs mount: devtmpfs reports
/// tmpfs's magic number, so `/dev` is known by its device instead.
fn dev_device() -> Option<u64> {
    static DEV: OnceLock<Option<u64>> = OnceLock::new();
    *DEV.get_or_init(|| {
        let dev = open_dir(Path::new("/dev")).ok()?;
        let root = open_dir(Path::new("/")).ok()?;
        let dev_id = Identity::of(dev.as_fd()).ok()?;
        let root_id = Identity::of(root.as_fd()).ok()?;
        (dev_id.dev != root_id.dev).then_some(dev_id.dev)
    })
}

/// `Some(name)` when the open directory `fd` lies on `/proc`, `/sys`, `/dev` or another
/// kernel pseudo filesystem, decided by `statfs` and the device, never by the path's text.
pub fn forbidden_filesystem(fd: BorrowedFd<'_>) -> std::io::Result<Option<&'static str>> {
    let stat = nix::sys::statfs::fstatfs(fd).map_err(std::io::Error::from)?;
    let magic = stat.filesystem_type().0 as i64;
    if let Some((_, name)) = FORBIDDEN_FILESYSTEMS.iter().find(|(m, _)| *m == magic) {
        return Ok(Some(name));
    }
    let identity = Identity::of(fd)?;
    Ok((Some(identity.dev) == dev_device()).then_some("devtmpfs (/dev)"))
}

/// The id of the mount `fd` lies on (`statx` `STATX_MNT_ID`, Linux 5.8 and later); `None`
/// where the kernel does not say.
pub fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    let statx = rustix::fs::statx(
        fd,
        "",
        rustix::fs::AtFlags::EMPTY_PATH,
        rustix::fs::StatxFlags::MNT_ID,
    )
    .ok()?;
    (statx.stx_mask & rustix::fs::StatxFlags::MNT_ID.bits() != 0).then_some(statx.stx_mnt_id)
}

/// `path` with its last component split off: the parent's components and the name.
pub fn split_last(components: &[&OsStr]) -> Option<(Vec<OsString>, OsString)> {
    let (name, parent) = components.split_last()?;
    Some((
        parent.iter().map(|part| part.to_os_string()).collect(),
        name.to_os_string(),
    ))
}

#[cfg(test)]
pub(crate) fn force_walk(on: bool) {
    FORCE_WALK.store(on, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_components_refuse_every_second_spelling() {
        assert_eq!(
            plain_components(Path::new("/var/log")).unwrap(),
            vec![OsStr::new("var"), OsStr::new("log")]
        );
        assert!(plain_components(Path::new("/")).unwrap().is_empty());
        for bad in [
            "var/log",
            "/var/../etc",
            "/var/./log",
            "/var//log",
            "/var/log/",
            "",
        ] {
            assert!(plain_components(Path::new(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn open_dir_refuses_a_symlink_anywhere_on_the_path_both_ways() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir_all(real.join("inner")).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        for walk in [false, true] {
            force_walk(walk);
            assert!(open_dir(&real.join("inner")).is_ok());
            match open_dir(&tmp.path().join("link").join("inner")) {
                Err(OpenError::Symlink { path }) => assert_eq!(path, tmp.path().join("link")),
                other => panic!("walk={walk}: {other:?}"),
            }
            match open_dir(&tmp.path().join("link")) {
                Err(OpenError::Symlink { path }) => assert_eq!(path, tmp.path().join("link")),
                other => panic!("walk={walk}: {other:?}"),
            }
            std::fs::write(real.join("file"), "x").unwrap();
            assert!(matches!(
                open_dir(&real.join("file")),
                Err(OpenError::NotDirectory { .. })
            ));
        }
        force_walk(false);
    }

    #[test]
    fn regular_files_only_and_fifos_never_block() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        match read_regular_file(&fifo, 10) {
            Err(OpenError::SpecialFile { kind, .. }) => assert_eq!(kind, "FIFO"),
            other => panic!("{other:?}"),
        }
        match read_regular_file(Path::new("/dev/null"), 10) {
            Err(OpenError::SpecialFile { kind, .. }) => assert_eq!(kind, "character device"),
            other => panic!("{other:?}"),
        }
        let file = tmp.path().join("file");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read_regular_file(&file, 5).unwrap(), b"hello");
        assert!(matches!(
            read_regular_file(&file, 4),
            Err(OpenError::TooLarge {
                size: 5,
                cap: 4,
                ..
            })
        ));
    }

    #[test]
    fn pseudo_filesystems_are_known_by_what_they_are() {
        let proc_dir = open_dir(Path::new("/proc")).unwrap();
        assert_eq!(
            forbidden_filesystem(proc_dir.as_fd()).unwrap(),
            Some("proc")
        );
        let sys = open_dir(Path::new("/sys")).unwrap();
        assert_eq!(forbidden_filesystem(sys.as_fd()).unwrap(), Some("sysfs"));
        let tmp = tempfile::tempdir().unwrap();
        let ordinary = open_dir(tmp.path()).unwrap();
        assert_eq!(forbidden_filesystem(ordinary.as_fd()).unwrap(), None);
        let dev = open_dir(Path::new("/dev")).unwrap();
        let root = open_dir(Path::new("/")).unwrap();
        if Identity::of(dev.as_fd()).unwrap().dev != Identity::of(root.as_fd()).unwrap().dev {
            assert_eq!(
                forbidden_filesystem(dev.as_fd()).unwrap(),
                Some("devtmpfs (/dev)")
            );
        }
    }

    #[test]
    fn ancestry_reaches_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        let deep = open_dir(&tmp.path().join("a/b")).unwrap();
        let top = open_dir(tmp.path()).unwrap();
        let root = open_dir(Path::new("/")).unwrap();
        let chain = ancestry(deep.as_fd()).unwrap();
        assert!(chain.contains(&Identity::of(top.as_fd()).unwrap()));
        assert_eq!(chain.last(), Some(&Identity::of(root.as_fd()).unwrap()));
    }
}
