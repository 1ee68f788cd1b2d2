//! The data directory: where medic keeps its database, compiled components, keys and run
//! locks. medic refuses a data directory another user could change or read (as ssh's
//! StrictModes refuses a home directory): it must belong to the user running medic with no
//! access for group or others (mode 0700), every directory above it must belong to root
//! or that user and be writable by nobody else unless it is sticky (`/tmp`), and no
//! symlink on the way to it may belong to another user.
//!
//! [`Protected`] is what the gates and the loaders check a granted root against, by the
//! identity of the opened directory: no root may be, contain or lie inside the data
//! directory, or contain the configuration file.

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::fstat;
use thiserror::Error;

use crate::nofollow::{self, Identity, OpenError};

/// Subdirectory holding keys (mode 0700, each key file 0600).
pub const KEYS_DIR: &str = "keys";
/// Subdirectory holding compiled components.
pub const COMPILED_DIR: &str = "compiled";
/// Length of every symmetric key medic keeps.
pub const KEY_BYTES: usize = 32;

/// Why the data directory cannot be used.
#[derive(Debug, Error)]
pub enum DataDirError {
    /// It could not be created.
    #[error("cannot create data directory `{path}`: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It could not be opened.
    #[error("cannot open data directory: {0}")]
    Open(#[from] OpenError),
    /// Someone other than this user could change it.
    #[error(
        "data directory `{path}` is unsafe: {reason}; medic refuses to keep its audit log and compiled code there (fix with `chown`/`chmod`, or choose another `--data-dir`)"
    )]
    Unsafe {
        /// The directory (or the ancestor at fault).
        path: PathBuf,
        /// Owner or mode, in words.
        reason: String,
    },
    /// A key file could not be read or created.
    #[error("key `{path}`: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// medic's data directory, opened and checked.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    canonical: PathBuf,
    fd: OwnedFd,
    protected: Protected,
}

impl DataDir {
    /// Open `path`, creating it (mode 0700) when missing, and check that only this user
    /// can change it or anything above it.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        if !path.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|source| DataDirError::Create {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        check_symlink_owners(path)?;
        let canonical = std::fs::canonicalize(path).map_err(|source| DataDirError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let fd = nofollow::open_dir(&canonical)?;
        check_owner(fd.as_fd(), &canonical, true)?;
        let mut ancestor = canonical.parent();
        while let Some(dir) = ancestor {
            let dir_fd = nofollow::open_dir(dir)?;
            check_owner(dir_fd.as_fd(), dir, false)?;
            ancestor = dir.parent();
        }
        let protected =
            Protected::new(&canonical, fd.as_fd()).map_err(|source| DataDirError::Create {
                path: canonical.clone(),
                source,
            })?;
        Ok(DataDir {
            path: path.to_path_buf(),
            canonical,
            fd,
            protected,
        })
    }

    /// The directory as the operator named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its canonical path.
    pub fn canonical(&self) -> &Path {
        &self.canonical
    }

    /// What no granted root may reach.
    pub fn protected(&self) -> &Protected {
        &self.protected
    }

    /// This data directory, protecting what `outer` protects instead of itself: for a
    /// directory inside another (`medic test`'s test bed inside medic's data directory), so
    /// no root may reach the outer one, which contains this.
    pub fn protecting(mut self, outer: &Protected) -> Self {
        self.protected = outer.clone();
        self
    }

    /// Also protect the configuration file at `path`: no root may contain it.
    pub fn protect_config(&mut self, path: &Path) {
        if let Some(parent) = std::fs::canonicalize(path)
            .ok()
            .and_then(|file| file.parent().map(Path::to_path_buf))
            && let Ok(fd) = nofollow::open_dir(&parent)
            && let Ok(identity) = Identity::of(fd.as_fd())
        {
            self.protected.config_dirs.push((parent, identity));
        }
    }

    /// Where compiled components are cached.
    pub fn compiled_dir(&self) -> PathBuf {
        self.canonical.join(COMPILED_DIR)
    }

    /// The descriptor of the directory itself.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The key called `name` (`keys/<name>.key`, 0600), created from the system's random
    /// source on first use. A key file that another user could read or change is refused.
    pub fn key(&self, name: &str) -> Result<[u8; KEY_BYTES], DataDirError> {
        let dir = self.canonical.join(KEYS_DIR);
        let file = dir.join(format!("{name}.key"));
        let fail = |reason: String| DataDirError::Key {
            path: file.clone(),
            reason,
        };
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .or_else(|error| match error.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(error),
            })
            .map_err(|error| fail(format!("cannot create `{}`: {error}", dir.display())))?;
        let dir_fd = nofollow::open_dir(&dir)?;
        check_owner(dir_fd.as_fd(), &dir, true)?;
        match nofollow::read_regular_file(&file, KEY_BYTES as u64) {
            Ok(bytes) => {
                let owned = nofollow::open_regular_file(&file)?;
                let stat = fstat(owned.as_fd()).map_err(|errno| fail(errno.to_string()))?;
                if stat.st_uid != nix::unistd::geteuid().as_raw() || stat.st_mode & 0o077 != 0 {
                    return Err(fail(
                        "must belong to this user and be readable by nobody else (mode 0600)"
                            .to_string(),
                    ));
                }
                bytes
                    .try_into()
                    .map_err(|_| fail(format!("must hold exactly {KEY_BYTES} bytes")))
            }
            Err(OpenError::NotFound { .. }) => {
                let mut key = [0u8; KEY_BYTES];
                getrandom::fill(&mut key)
                    .map_err(|error| fail(format!("no random source: {error}")))?;
                let temporary = dir.join(format!(".{name}.key.{}", std::process::id()));
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(&temporary)
                    .map_err(|error| fail(format!("cannot create: {error}")))?;
                out.write_all(&key)
                    .and_then(|()| out.sync_all())
                    .map_err(|error| fail(format!("cannot write: {error}")))?;
                // Two processes may race to create the key: the first link wins and both
                // use what it holds.
                let linked = std::fs::hard_link(&temporary, &file);
                let _ = std::fs::remove_file(&temporary);
                match linked {
                    Ok(()) => Ok(key),
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        self.key(name)
                    }
                    Err(error) => Err(fail(format!("cannot create: {error}"))),
                }
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// Refuse a directory someone other than this user (or root, for ancestors) could change.
fn check_owner(fd: BorrowedFd<'_>, path: &Path, own: bool) -> Result<(), DataDirError> {
    let stat = fstat(fd).map_err(|errno| DataDirError::Unsafe {
        path: path.to_path_buf(),
        reason: format!("cannot stat: {errno}"),
    })?;
    let me = nix::unistd::geteuid().as_raw();
    let unsafe_dir = |reason: String| DataDirError::Unsafe {
        path: path.to_path_buf(),
        reason,
    };
    if own {
        if stat.st_uid != me {
            return Err(unsafe_dir(format!(
                "it belongs to uid {}, not to this user (uid {me})",
                stat.st_uid
            )));
        }
        if stat.st_mode & 0o022 != 0 {
            return Err(unsafe_dir(format!(
                "it is writable by {} (mode {:o})",
                who_writes(stat.st_mode),
                stat.st_mode & 0o7777
            )));
        }
        if stat.st_mode & 0o077 != 0 {
            return Err(unsafe_dir(format!(
                "group or others may read it (mode {:o}); it holds incidents, the audit log and keys (use mode 0700)",
                stat.st_mode & 0o7777
            )));
        }
        return Ok(());
    }
    if stat.st_uid != 0 && stat.st_uid != me {
        return Err(unsafe_dir(format!(
            "this directory above it belongs to uid {}, neither root nor this user",
            stat.st_uid
        )));
    }
    let sticky = stat.st_mode & 0o1000 != 0;
    if stat.st_mode & 0o022 != 0 && !sticky {
        return Err(unsafe_dir(format!(
            "this directory above it is writable by {} without the sticky bit (mode {:o}), so another user could replace the data directory",
            who_writes(stat.st_mode),
            stat.st_mode & 0o7777
        )));
    }
    Ok(())
}

/// Refuse a path to the data directory that goes through a symlink another user owns:
/// they could point it elsewhere.
fn check_symlink_owners(path: &Path) -> Result<(), DataDirError> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        let Ok(metadata) = std::fs::symlink_metadata(&prefix) else {
            break;
        };
        if metadata.file_type().is_symlink() && metadata.uid() != 0 && metadata.uid() != me {
            return Err(DataDirError::Unsafe {
                path: prefix,
                reason: format!(
                    "this symlink on the way to the data directory belongs to uid {}, who could point it elsewhere",
                    metadata.uid()
                ),
            });
        }
    }
    Ok(())
}

fn who_writes(mode: u32) -> &'static str {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        _ => "others",
    }
}

/// How a granted root relates to medic's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The root is the data directory.
    Is,
    /// The root contains it.
    Contains,
    /// The root lies inside it.
    Inside,
}

impl Relation {
    /// In words, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Is => "is",
            Relation::Contains => "contains",
            Relation::Inside => "lies inside",
        }
    }
}

/// The directories no granted root may reach, by identity: the data directory (the root
/// may not be it, contain it, or lie inside it) and the configuration file's directory
/// (the root may not be or contain it).
#[derive(Debug, Clone, Default)]
pub struct Protected {
    data_dir: Option<(PathBuf, Identity)>,
    data_ancestors: HashSet<Identity>,
    config_dirs: Vec<(PathBuf, Identity)>,
}

impl Protected {
    fn new(canonical: &Path, fd: BorrowedFd<'_>) -> std::io::Result<Protected> {
        let chain = nofollow::ancestry(fd)?;
        Ok(Protected {
            data_dir: Some((canonical.to_path_buf(), chain[0])),
            data_ancestors: chain[1..].iter().copied().collect(),
            config_dirs: Vec::new(),
        })
    }

    /// How the open directory `root` relates to medic's state, if at all, with the
    /// protected path. `root_ancestry` is `nofollow::ancestry(root)`.
    pub fn relation(&self, root_ancestry: &[Identity]) -> Option<(Relation, &Path)> {
        let root = root_ancestry.first()?;
        if let Some((path, data)) = &self.data_dir {
            if root == data {
                return Some((Relation::Is, path));
            }
            if self.data_ancestors.contains(root) {
                return Some((Relation::Contains, path));
            }
            if root_ancestry[1..].contains(data) {
                return Some((Relation::Inside, path));
            }
        }
        self.config_dirs
            .iter()
            .find(|(_, config)| root == config)
            .map(|(path, _)| (Relation::Contains, path.as_path()))
    }

    /// The same check on paths, for load time: `root` is canonicalised as far as it
    /// exists (so a symlink anywhere on it counts), then compared component-wise.
    pub fn relation_of_path(&self, root: &Path) -> Option<(Relation, PathBuf)> {
        let resolved = canonical_prefix(root);
        if let Some((data, _)) = &self.data_dir {
            if &resolved == data {
                return Some((Relation::Is, data.clone()));
            }
            if data.starts_with(&resolved) {
                return Some((Relation::Contains, data.clone()));
            }
            if resolved.starts_with(data) {
                return Some((Relation::Inside, data.clone()));
            }
        }
        self.config_dirs
            .iter()
            .find(|(config, _)| config.starts_with(&resolved))
            .map(|(config, _)| (Relation::Contains, config.clone()))
    }
}

/// `path` with its longest existing prefix canonicalised and the rest appended.
fn canonical_prefix(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(&current) {
            return missing
                .iter()
                .rev()
                .fold(canonical, |path: PathBuf, part| path.join(part));
        }
        match (current.file_name(), current.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                current = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn data_dir_refuses_group_or_world_writable_and_foreign_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let opened = DataDir::open(&data).unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(opened);
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o770)).unwrap();
        match DataDir::open(&data) {
            Err(DataDirError::Unsafe { reason, .. }) => {
                assert_eq!(reason, "it is writable by its group (mode 770)")
            }
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        match DataDir::open(&data) {
            Err(DataDirError::Unsafe { reason, .. }) => assert!(
                reason.starts_with("group or others may read it (mode 755)"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        match DataDir::open(&data) {
            Err(DataDirError::Unsafe { path, .. }) => assert_eq!(path, tmp.path()),
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(DataDir::open(&data).is_ok(), "a sticky parent is fine");
    }

    #[test]
    fn roots_that_reach_the_data_dir_are_named_by_identity_and_by_path() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("state/data");
        std::fs::create_dir_all(tmp.path().join("state/other")).unwrap();
        let dir = DataDir::open(&data).unwrap();
        std::fs::create_dir_all(data.join("compiled")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("state"), tmp.path().join("alias")).unwrap();
        let relation = |path: &Path| {
            let fd = nofollow::open_dir(&std::fs::canonicalize(path).unwrap()).unwrap();
            let chain = nofollow::ancestry(fd.as_fd()).unwrap();
            dir.protected()
                .relation(&chain)
                .map(|(relation, _)| relation)
        };
        assert_eq!(relation(&data), Some(Relation::Is));
        assert_eq!(
            relation(&tmp.path().join("state")),
            Some(Relation::Contains)
        );
        assert_eq!(relation(&data.join("compiled")), Some(Relation::Inside));
        assert_eq!(relation(&tmp.path().join("state/other")), None);
        let by_path = |path: &Path| dir.protected().relation_of_path(path).map(|(r, _)| r);
        assert_eq!(by_path(&tmp.path().join("alias")), Some(Relation::Contains));
        assert_eq!(
            by_path(&tmp.path().join("alias/data/compiled/new")),
            Some(Relation::Inside)
        );
        assert_eq!(by_path(&tmp.path().join("alias/other")), None);
    }

    #[test]
    fn keys_are_created_once_private_and_refused_when_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(&tmp.path().join("data")).unwrap();
        let first = dir.key("cache").unwrap();
        assert_eq!(dir.key("cache").unwrap(), first);
        let file = dir.canonical().join("keys/cache.key");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(dir.key("cache"), Err(DataDirError::Key { .. })));
    }
}
