//! Checking an exec grant's program once, at load, and holding on to exactly the files it
//! needs.
//!
//! [`check_program`] resolves the declared path to its canonical file and refuses it
//! unless:
//! - it is a regular, executable file owned by root or by medic's own user, writable by
//!   nobody else, and outside every read-write grant;
//! - every directory on its path is trusted: owned by root or medic's user and writable by
//!   nobody else (a sticky directory such as `/tmp` is allowed, since the entry in it must
//!   itself be owned by root or medic's user), so nobody else can swap what the path names;
//! - it is not a shell, interpreter or launcher (`launchers.rs`: by canonical name,
//!   identity, GNU build id or contents);
//! - an ELF binary's dynamic loader is a known loader on a trusted path, and every
//!   directory of its `DT_RPATH`/`DT_RUNPATH` (with `$ORIGIN` expanded) is trusted as far
//!   as it exists, so no library can be planted for it;
//! - a `#!` script's interpreter is a checked binary on a trusted path (a shell or language
//!   interpreter may run a fixed script, since arguments then reach the script; whether
//!   the operator allows interpreted programs at all is the ceiling's `interpreted` flag,
//!   checked in `catalog.rs`); `env NAME` is followed to `NAME`; a script interpreter that
//!   is itself a script is refused.
//!
//! The checked files stay open: the exec gate runs the program (or, for a script, its
//! interpreter, with the script as `/proc/self/fd/N`) from the descriptors opened here,
//! never by path again, so a file swapped in after the check does not run.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::sys::stat::fstat;
use thiserror::Error;

use super::elf::Elf;
use super::launchers::{self, Runner};
use crate::nofollow::{self, Identity, OpenError};

/// Where `#!/usr/bin/env NAME` finds `NAME`: medic runs programs without a `PATH`, so
/// `env` falls back to the system's default path.
const ENV_DEFAULT_PATH: &[&str] = &["/bin", "/usr/bin"];

/// A program that passed the checks, held open.
#[derive(Debug, Clone)]
pub struct CheckedProgram {
    /// The path the grant names.
    pub declared: PathBuf,
    /// The file it resolves to.
    pub canonical: PathBuf,
    /// Device and inode of that file.
    pub identity: Identity,
    /// A binary, or a script and its interpreter.
    pub kind: ProgramKind,
    file: Arc<File>,
}

impl CheckedProgram {
    /// The open file the exec gate runs (for a script: reads as its script).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Whether this is a script an interpreter runs.
    pub fn is_interpreted(&self) -> bool {
        matches!(self.kind, ProgramKind::Script { .. })
    }
}

/// What kind of file a checked program is.
#[derive(Debug, Clone)]
pub enum ProgramKind {
    /// An executable binary.
    Binary,
    /// A `#!` script, run by `interpreter` (held open too) with `argument` before it.
    Script {
        /// The interpreter, checked and open.
        interpreter: Box<CheckedProgram>,
        /// The optional argument of the `#!` line (or `env`'s target's none).
        argument: Option<String>,
    },
}

/// Why a program may not be granted.
#[derive(Debug, Error)]
pub enum ProgramError {
    /// It could not be opened as a regular file.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Someone other than root or this user owns it.
    #[error("`{path}` belongs to uid {uid}; a program must belong to root or to medic's user")]
    Owner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// Its group or others may change it.
    #[error(
        "`{path}` is writable by group or others (mode {mode:o}), so it could be changed after it was checked"
    )]
    Writable {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A directory on its path could be changed by someone else.
    #[error(
        "`{path}` lies under `{dir}`, which {reason}: someone else could swap what the path names"
    )]
    UntrustedDirectory {
        /// The file.
        path: PathBuf,
        /// The directory at fault.
        dir: PathBuf,
        /// Owner or mode, in words.
        reason: String,
    },
    /// It has no execute bit.
    #[error("`{path}` is not executable")]
    NotExecutable {
        /// The file.
        path: PathBuf,
    },
    /// A remediation could rewrite it.
    #[error(
        "`{path}` lies inside the read-write grant `{root}`, so a remediation could rewrite the program it then runs"
    )]
    InsideWritableGrant {
        /// The file.
        path: PathBuf,
        /// The grant's root.
        root: PathBuf,
    },
    /// It is a shell, interpreter or launcher.
    #[error("`{path}` is {} (`{what}`) and is never granted", runner.as_str())]
    Runner {
        /// The file.
        path: PathBuf,
        /// Which one it is.
        what: String,
        /// What kind.
        runner: Runner,
    },
    /// Its `#!` line, ELF loader or library path is unacceptable.
    #[error("`{path}`: {reason}")]
    Loader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Check the program an exec grant declares. `None` when no such file exists on this host
/// (the grant stands; calls to it find nothing). `writable_roots` are the read-write
/// grants of every loaded manifest and ceiling.
pub fn check_program(
    declared: &Path,
    writable_roots: &[PathBuf],
) -> Result<Option<CheckedProgram>, ProgramError> {
    let canonical = match std::fs::canonicalize(declared) {
        Ok(canonical) => canonical,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OpenError::Io {
                path: declared.to_path_buf(),
                source,
            }
            .into());
        }
    };
    let checked = check_file(&canonical, writable_roots, false)?;
    Ok(Some(CheckedProgram {
        declared: declared.to_path_buf(),
        ..checked
    }))
}

fn check_file(
    canonical: &Path,
    writable_roots: &[PathBuf],
    as_interpreter: bool,
) -> Result<CheckedProgram, ProgramError> {
    let file = open_checked(canonical, writable_roots)?;
    let io = |source: std::io::Error| OpenError::Io {
        path: canonical.to_path_buf(),
        source,
    };
    let identity = Identity::of(file.as_fd()).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let name = canonical
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let runner = launchers::runner_by_name(&name)
        .map(|runner| (runner, name.clone()))
        .or_else(|| launchers::runner_by_identity(&file, identity, size));
    if let Some((runner, what)) = runner {
        let may_interpret = as_interpreter && matches!(runner, Runner::Shell | Runner::Interpreter);
        if !may_interpret {
            return Err(ProgramError::Runner {
                path: canonical.to_path_buf(),
                what,
                runner,
            });
        }
    }
    let mut head = [0u8; 256];
    let read = file.read_at(&mut head, 0).map_err(io)?;
    let head = &head[..read];
    let kind = if let Some(line) = head.strip_prefix(b"#!") {
        if as_interpreter {
            return Err(ProgramError::Loader {
                path: canonical.to_path_buf(),
                reason: "a script's interpreter is itself a script; medic runs only a binary as an interpreter".to_string(),
            });
        }
        script_interpreter(canonical, line, writable_roots)?
    } else {
        check_elf(canonical, &file, writable_roots)?;
        ProgramKind::Binary
    };
    Ok(CheckedProgram {
        declared: canonical.to_path_buf(),
        canonical: canonical.to_path_buf(),
        identity,
        kind,
        file: Arc::new(file),
    })
}

/// Refuse `path` unless every directory above it belongs to root or medic's user and is
/// writable by nobody else (or is sticky).
pub(crate) fn check_trusted_path(path: &Path) -> Result<(), ProgramError> {
    let me = nix::unistd::geteuid().as_raw();
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor {
        let untrusted = |reason: String| ProgramError::UntrustedDirectory {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            reason,
        };
        let metadata = std::fs::symlink_metadata(dir)
            .map_err(|error| untrusted(format!("cannot be examined ({error})")))?;
        use std::os::unix::fs::MetadataExt;
        if metadata.file_type().is_symlink() && metadata.uid() != 0 && metadata.uid() != me {
            return Err(untrusted(format!(
                "is a symlink owned by uid {}",
                metadata.uid()
            )));
        }
        let metadata = std::fs::metadata(dir)
            .map_err(|error| untrusted(format!("cannot be examined ({error})")))?;
        if metadata.uid() != 0 && metadata.uid() != me {
            return Err(untrusted(format!("belongs to uid {}", metadata.uid())));
        }
        if metadata.mode() & 0o022 != 0 && metadata.mode() & 0o1000 == 0 {
            return Err(untrusted(format!(
                "is writable by group or others (mode {:o})",
                metadata.mode() & 0o7777
            )));
        }
        ancestor = dir.parent();
    }
    Ok(())
}

/// Open `canonical` and check its type, owner, mode, place and path.
fn open_checked(canonical: &Path, writable_roots: &[PathBuf]) -> Result<File, ProgramError> {
    for root in writable_roots {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        if canonical.starts_with(&root) {
            return Err(ProgramError::InsideWritableGrant {
                path: canonical.to_path_buf(),
                root,
            });
        }
    }
    check_trusted_path(canonical)?;
    let file = nofollow::open_regular_file(canonical)?;
    let stat = fstat(file.as_fd()).map_err(|errno| OpenError::Io {
        path: canonical.to_path_buf(),
        source: errno.into(),
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if stat.st_uid != 0 && stat.st_uid != me {
        return Err(ProgramError::Owner {
            path: canonical.to_path_buf(),
            uid: stat.st_uid,
        });
    }
    if stat.st_mode & 0o022 != 0 {
        return Err(ProgramError::Writable {
            path: canonical.to_path_buf(),
            mode: stat.st_mode & 0o7777,
        });
    }
    if stat.st_mode & 0o111 == 0 {
        return Err(ProgramError::NotExecutable {
            path: canonical.to_path_buf(),
        });
    }
    Ok(file)
}

/// Check a `#!` line; the interpreter is returned checked and open.
fn script_interpreter(
    script: &Path,
    line: &[u8],
    writable_roots: &[PathBuf],
) -> Result<ProgramKind, ProgramError> {
    let loader = |reason: String| ProgramError::Loader {
        path: script.to_path_buf(),
        reason,
    };
    let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let trimmed = line.trim();
    let (interpreter, argument) = match trimmed.split_once(char::is_whitespace) {
        Some((interpreter, rest)) => (interpreter, Some(rest.trim().to_string())),
        None => (trimmed, None),
    };
    if !interpreter.starts_with('/') {
        return Err(loader(format!(
            "its `#!` interpreter `{interpreter}` is not an absolute path"
        )));
    }
    let resolved = std::fs::canonicalize(interpreter)
        .map_err(|error| loader(format!("its `#!` interpreter `{interpreter}`: {error}")))?;
    let is_env = resolved.file_name().is_some_and(|name| name == "env");
    let (target, argument) = if is_env {
        let program = argument.as_deref().unwrap_or_default();
        if program.is_empty()
            || program.contains(char::is_whitespace)
            || program.starts_with('-')
            || program.contains('/')
        {
            return Err(loader(format!(
                "`#!{trimmed}`: `env` must name exactly one program and no options"
            )));
        }
        open_checked(&resolved, writable_roots)?;
        let found = ENV_DEFAULT_PATH
            .iter()
            .find_map(|dir| std::fs::canonicalize(Path::new(dir).join(program)).ok())
            .ok_or_else(|| {
                loader(format!(
                    "`#!{trimmed}`: `{program}` is not in /bin or /usr/bin"
                ))
            })?;
        (found, None)
    } else {
        (resolved, argument)
    };
    let interpreter = check_file(&target, writable_roots, true)?;
    Ok(ProgramKind::Script {
        interpreter: Box::new(interpreter),
        argument,
    })
}

/// An ELF binary's loader must be a known loader on a trusted path, and its library search
/// path must be trusted.
fn check_elf(path: &Path, file: &File, writable_roots: &[PathBuf]) -> Result<(), ProgramError> {
    let loader = |reason: String| ProgramError::Loader {
        path: path.to_path_buf(),
        reason,
    };
    let Some(elf) = Elf::read(file).map_err(|reason| loader(reason.to_string()))? else {
        return Ok(());
    };
    if let Some(interp) = elf
        .interpreter()
        .map_err(|reason| loader(reason.to_string()))?
    {
        let resolved = std::fs::canonicalize(&interp).map_err(|error| {
            loader(format!(
                "its dynamic loader `{}`: {error}",
                interp.display()
            ))
        })?;
        let name = resolved
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !launchers::is_loader_name(&name) {
            return Err(loader(format!(
                "its dynamic loader `{}` is not a system loader",
                resolved.display()
            )));
        }
        // The kernel opens the loader by the path written in the binary.
        check_trusted_path(&interp)?;
        open_checked(&resolved, writable_roots)?;
    }
    let origin = path.parent().unwrap_or(Path::new("/"));
    for directory in elf
        .search_paths()
        .map_err(|reason| loader(reason.to_string()))?
    {
        let expanded = directory
            .replace("${ORIGIN}", &origin.display().to_string())
            .replace("$ORIGIN", &origin.display().to_string());
        if expanded.contains('$') || !expanded.starts_with('/') {
            return Err(loader(format!(
                "its library search path `{directory}` is relative or uses `$LIB`/`$PLATFORM`; medic cannot check what it loads"
            )));
        }
        let mut existing = PathBuf::from(&expanded);
        while !existing.exists() {
            if !existing.pop() {
                break;
            }
        }
        check_trusted_path(&existing.join("library"))
            .map_err(|error| loader(format!("its library search path `{directory}`: {error}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn script(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn refused(path: &Path, writable: &[PathBuf]) -> String {
        check_program(path, writable).unwrap_err().to_string()
    }

    fn private_dir() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        tmp
    }

    #[test]
    fn ordinary_binaries_pass_and_keep_their_file() {
        let checked = check_program(Path::new("/usr/bin/touch"), &[])
            .unwrap()
            .unwrap();
        assert!(matches!(checked.kind, ProgramKind::Binary));
        assert_eq!(
            checked.canonical,
            std::fs::canonicalize("/usr/bin/touch").unwrap()
        );
        assert!(
            check_program(Path::new("/usr/bin/no-such-program"), &[])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn shells_interpreters_and_launchers_are_refused_however_spelled() {
        let tmp = private_dir();
        std::os::unix::fs::symlink("/bin/sh", tmp.path().join("innocent")).unwrap();
        let copy = tmp.path().join("fix-it");
        std::fs::copy("/usr/bin/env", &copy).unwrap();
        for (path, what) in [
            (PathBuf::from("/bin/sh"), "a shell"),
            (tmp.path().join("innocent"), "a shell"),
            (copy.clone(), "a launcher"),
            (PathBuf::from("/usr/bin/env"), "a launcher"),
            (PathBuf::from("/usr/bin/git"), "run commands"),
        ] {
            if !path.exists() {
                continue;
            }
            let message = refused(&path, &[]);
            assert!(message.contains(what), "{}: {message}", path.display());
        }
    }

    #[test]
    fn scripts_run_by_checked_binary_interpreters_only() {
        let tmp = private_dir();
        let fine = script(tmp.path(), "fine", "#!/bin/sh -e\necho hi\n", 0o755);
        let checked = check_program(&fine, &[]).unwrap().unwrap();
        let ProgramKind::Script {
            interpreter,
            argument,
        } = &checked.kind
        else {
            panic!("a script");
        };
        assert_eq!(
            interpreter.canonical,
            std::fs::canonicalize("/bin/sh").unwrap()
        );
        assert_eq!(argument.as_deref(), Some("-e"));
        let via_env = script(tmp.path(), "via-env", "#!/usr/bin/env sh\necho hi\n", 0o755);
        assert!(check_program(&via_env, &[]).unwrap().is_some());
        let env_split = script(tmp.path(), "env-split", "#!/usr/bin/env -S sh -c\n", 0o755);
        assert!(refused(&env_split, &[]).contains("`env` must name"));
        let evil_interp = script(tmp.path(), "evil-interp", "#!/bin/true\n", 0o777);
        let wrapped = script(
            tmp.path(),
            "wrapped",
            &format!("#!{}\n", evil_interp.display()),
            0o755,
        );
        assert!(refused(&wrapped, &[]).contains("writable by group or others"));
        let nested_interp = script(tmp.path(), "nested", "#!/bin/sh\n", 0o755);
        let nested = script(
            tmp.path(),
            "uses-nested",
            &format!("#!{}\n", nested_interp.display()),
            0o755,
        );
        assert!(refused(&nested, &[]).contains("itself a script"));
        let launcher = script(tmp.path(), "launch", "#!/usr/bin/xargs\n", 0o755);
        assert!(refused(&launcher, &[]).contains("launcher"));
    }

    #[test]
    fn programs_someone_else_could_swap_are_refused() {
        let tmp = private_dir();
        let writable = script(tmp.path(), "w", "#!/bin/sh\n", 0o775);
        assert!(refused(&writable, &[]).contains("writable by group or others"));
        let inside = script(tmp.path(), "inside", "#!/bin/sh\n", 0o755);
        let message = refused(&inside, &[tmp.path().to_path_buf()]);
        assert!(message.contains("inside the read-write grant"), "{message}");
        let not_exec = script(tmp.path(), "plain", "#!/bin/sh\n", 0o644);
        assert!(refused(&not_exec, &[]).contains("not executable"));
        let open_dir = tmp.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        let tool = script(&open_dir, "tool", "#!/bin/sh\n", 0o755);
        std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let message = refused(&tool, &[]);
        assert!(
            message.contains("is writable by group or others (mode 777): someone else could swap"),
            "{message}"
        );
    }

    #[test]
    fn elf_loaders_are_checked() {
        let touch = File::open("/usr/bin/touch").unwrap();
        let interp = Elf::read(&touch)
            .unwrap()
            .unwrap()
            .interpreter()
            .unwrap()
            .unwrap();
        let loader = std::fs::canonicalize(&interp).unwrap();
        assert!(refused(&loader, &[]).contains("launcher"));
    }
}
