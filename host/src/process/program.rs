//! Checking an exec grant's program once, at load, and holding on to exactly that file.
//!
//! [`check_program`] resolves the declared path to its canonical file and refuses it
//! unless it is a regular, executable file owned by root or by medic's own user, writable
//! by nobody else, outside every read-write grant, and not a shell, interpreter or
//! launcher (`launchers.rs`: by canonical name, identity or contents). An ELF binary's
//! dynamic loader must be a known loader that passes the same checks; a `#!` script's
//! interpreter must pass them too (a shell or language interpreter may run a fixed
//! script, since the arguments then reach the script; `env NAME` is followed to `NAME`;
//! any other launcher is refused). The checked file stays open: the exec gate runs that
//! descriptor (`/proc/self/fd/N`), never the path again, so a file swapped in after the
//! check does not run.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::sys::stat::fstat;
use thiserror::Error;

use super::launchers::{self, Runner};
use crate::nofollow::{self, Identity, OpenError};

/// How deep `#!` interpreters may nest (the kernel's own limit is 4).
const MAX_INTERPRETER_DEPTH: usize = 4;
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
    /// The open file the exec gate runs.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

/// What kind of file a checked program is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramKind {
    /// An executable binary.
    Binary,
    /// A `#!` script run by `interpreter`.
    Script {
        /// The interpreter's canonical path.
        interpreter: PathBuf,
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
    /// Its `#!` line or ELF loader is unacceptable.
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
    let checked = check_file(&canonical, writable_roots, 0, false)?;
    Ok(Some(CheckedProgram {
        declared: declared.to_path_buf(),
        ..checked
    }))
}

fn check_file(
    canonical: &Path,
    writable_roots: &[PathBuf],
    depth: usize,
    as_interpreter: bool,
) -> Result<CheckedProgram, ProgramError> {
    let file = open_checked(canonical, writable_roots)?;
    let identity = Identity::of(file.as_fd()).map_err(|source| OpenError::Io {
        path: canonical.to_path_buf(),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| OpenError::Io {
            path: canonical.to_path_buf(),
            source,
        })?
        .len();
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
    let read = file.read_at(&mut head, 0).map_err(|source| OpenError::Io {
        path: canonical.to_path_buf(),
        source,
    })?;
    let head = &head[..read];
    let kind = if let Some(line) = head.strip_prefix(b"#!") {
        let interpreter = script_interpreter(canonical, line, writable_roots, depth)?;
        ProgramKind::Script { interpreter }
    } else {
        if head.starts_with(b"\x7fELF") {
            check_elf_loader(canonical, &file, writable_roots)?;
        }
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

/// Open `canonical` and check its type, owner, mode and place.
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

/// Check a `#!` line and return the interpreter's canonical path.
fn script_interpreter(
    script: &Path,
    line: &[u8],
    writable_roots: &[PathBuf],
    depth: usize,
) -> Result<PathBuf, ProgramError> {
    let loader = |reason: String| ProgramError::Loader {
        path: script.to_path_buf(),
        reason,
    };
    if depth >= MAX_INTERPRETER_DEPTH {
        return Err(loader("`#!` interpreters nest too deeply".to_string()));
    }
    let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let interpreter = words
        .next()
        .ok_or_else(|| loader("its `#!` line names no interpreter".to_string()))?;
    if !interpreter.starts_with('/') {
        return Err(loader(format!(
            "its `#!` interpreter `{interpreter}` is not an absolute path"
        )));
    }
    let argument: Vec<&str> = words.collect();
    let resolved = std::fs::canonicalize(interpreter)
        .map_err(|error| loader(format!("its `#!` interpreter `{interpreter}`: {error}")))?;
    let is_env = resolved.file_name().is_some_and(|name| name == "env");
    let target = if is_env {
        let [program] = argument.as_slice() else {
            return Err(loader(format!(
                "`#!{line}`: `env` must name exactly one program and no options"
            )));
        };
        if program.starts_with('-') || program.contains('/') {
            return Err(loader(format!(
                "`#!{line}`: `env` must name a program, not `{program}`"
            )));
        }
        open_checked(&resolved, writable_roots)?;
        ENV_DEFAULT_PATH
            .iter()
            .find_map(|dir| std::fs::canonicalize(Path::new(dir).join(program)).ok())
            .ok_or_else(|| {
                loader(format!(
                    "`#!{line}`: `{program}` is not in /bin or /usr/bin"
                ))
            })?
    } else {
        resolved
    };
    let checked = check_file(&target, writable_roots, depth + 1, true)?;
    Ok(checked.canonical)
}

/// An ELF binary's `PT_INTERP` must be a known dynamic loader that passes the file checks.
fn check_elf_loader(
    path: &Path,
    file: &File,
    writable_roots: &[PathBuf],
) -> Result<(), ProgramError> {
    let loader = |reason: String| ProgramError::Loader {
        path: path.to_path_buf(),
        reason,
    };
    let Some(interp) = elf_interpreter(file).map_err(|reason| loader(reason.to_string()))? else {
        return Ok(());
    };
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
    open_checked(&resolved, writable_roots).map(|_| ())
}

/// The `PT_INTERP` path of an ELF file, if it has one.
fn elf_interpreter(file: &File) -> Result<Option<PathBuf>, &'static str> {
    const PT_INTERP: u64 = 3;
    let mut header = [0u8; 64];
    let read = file
        .read_at(&mut header, 0)
        .map_err(|_| "unreadable ELF header")?;
    if read < 52 {
        return Err("truncated ELF header");
    }
    let wide = match header[4] {
        1 => false,
        2 => true,
        _ => return Err("unknown ELF class"),
    };
    let little = match header[5] {
        1 => true,
        2 => false,
        _ => return Err("unknown ELF byte order"),
    };
    let u16_at = |bytes: &[u8], at: usize| -> u64 {
        let pair = [bytes[at], bytes[at + 1]];
        u64::from(if little {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        })
    };
    let u32_at = |bytes: &[u8], at: usize| -> u64 {
        let quad = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        u64::from(if little {
            u32::from_le_bytes(quad)
        } else {
            u32::from_be_bytes(quad)
        })
    };
    let u64_at = |bytes: &[u8], at: usize| -> u64 {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&bytes[at..at + 8]);
        if little {
            u64::from_le_bytes(eight)
        } else {
            u64::from_be_bytes(eight)
        }
    };
    let (phoff, phentsize, phnum) = if wide {
        (
            u64_at(&header, 32),
            u16_at(&header, 54),
            u16_at(&header, 56),
        )
    } else {
        (
            u32_at(&header, 28),
            u16_at(&header, 42),
            u16_at(&header, 44),
        )
    };
    if phnum > 512 || phentsize < if wide { 56 } else { 32 } || phentsize > 256 {
        return Err("implausible ELF program headers");
    }
    let mut entry = vec![0u8; phentsize as usize];
    for index in 0..phnum {
        let offset = phoff + index * phentsize;
        if file
            .read_at(&mut entry, offset)
            .map_err(|_| "unreadable program header")?
            < entry.len()
        {
            return Err("truncated program header");
        }
        if u32_at(&entry, 0) != PT_INTERP {
            continue;
        }
        let (at, size) = if wide {
            (u64_at(&entry, 8), u64_at(&entry, 32))
        } else {
            (u32_at(&entry, 4), u32_at(&entry, 16))
        };
        if size == 0 || size > 4096 {
            return Err("implausible PT_INTERP size");
        }
        let mut text = vec![0u8; size as usize];
        if file
            .read_at(&mut text, at)
            .map_err(|_| "unreadable PT_INTERP")?
            < text.len()
        {
            return Err("truncated PT_INTERP");
        }
        let text = text.split(|b| *b == 0).next().unwrap_or_default();
        use std::os::unix::ffi::OsStrExt;
        return Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(text))));
    }
    Ok(None)
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

    #[test]
    fn ordinary_binaries_pass_and_keep_their_file() {
        let checked = check_program(Path::new("/usr/bin/touch"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(checked.kind, ProgramKind::Binary);
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
        let tmp = tempfile::tempdir().unwrap();
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
    fn scripts_run_by_checked_interpreters_only() {
        let tmp = tempfile::tempdir().unwrap();
        let fine = script(tmp.path(), "fine", "#!/bin/sh\necho hi\n", 0o755);
        let checked = check_program(&fine, &[]).unwrap().unwrap();
        assert!(matches!(checked.kind, ProgramKind::Script { .. }));
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
        let launcher = script(tmp.path(), "launch", "#!/usr/bin/xargs\n", 0o755);
        assert!(refused(&launcher, &[]).contains("launcher"));
    }

    #[test]
    fn programs_a_remediation_could_rewrite_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let writable = script(tmp.path(), "w", "#!/bin/sh\n", 0o775);
        assert!(refused(&writable, &[]).contains("writable by group or others"));
        let inside = script(tmp.path(), "inside", "#!/bin/sh\n", 0o755);
        let message = refused(&inside, &[tmp.path().to_path_buf()]);
        assert!(message.contains("inside the read-write grant"), "{message}");
        let not_exec = script(tmp.path(), "plain", "#!/bin/sh\n", 0o644);
        assert!(refused(&not_exec, &[]).contains("not executable"));
    }

    #[test]
    fn elf_loaders_are_read_and_checked() {
        let touch = File::open("/usr/bin/touch").unwrap();
        let interp = elf_interpreter(&touch).unwrap().expect("touch is dynamic");
        assert!(
            interp.to_string_lossy().contains("ld-"),
            "{}",
            interp.display()
        );
        let loader = std::fs::canonicalize(&interp).unwrap();
        assert!(refused(&loader, &[]).contains("launcher"));
    }
}
