//! Programs that run other programs or code given the right arguments: shells, language
//! interpreters, launchers, editors, build tools, database shells. An exec grant may never
//! name one, however it is spelled: medic knows them by the file's canonical name and by
//! its identity (device and inode) or contents, so a symlink, a hard link or a copy under
//! another name is caught too.
//!
//! A shell or language interpreter may still run as the interpreter of a fixed script
//! (`#!/usr/bin/python3`), since arguments then reach the script, not the interpreter;
//! the other launchers may not (see `program.rs`).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::nofollow::{self, Identity};

/// What kind of code runner a program is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// A command shell: runs any command line.
    Shell,
    /// A language interpreter: runs code given inline or in a file.
    Interpreter,
    /// Runs another program named in its arguments (`env`, `sudo`, `xargs`, `timeout`...).
    Launcher,
    /// Runs commands as part of what it does (editors, pagers, `git`, `tar`, `make`,
    /// database shells, debuggers, remote shells, package builders).
    Indirect,
}

impl Runner {
    /// In words, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Runner::Shell => "a shell",
            Runner::Interpreter => "a language interpreter",
            Runner::Launcher => "a launcher that runs other programs",
            Runner::Indirect => "a program that can be made to run commands",
        }
    }
}

/// Shells, by canonical name.
const SHELLS: &[&str] = &[
    "sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "loksh", "oksh",
    "yash", "posh", "csh", "tcsh", "fish", "nu", "elvish", "xonsh", "busybox", "toybox",
];
/// Interpreters, by canonical name; families match any suffix (`python3.11`, `perl5.36`).
const INTERPRETERS: &[&str] = &[
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "original-awk",
    "sed",
    "gsed",
    "jq",
    "tclsh",
    "wish",
    "expect",
    "node",
    "nodejs",
    "deno",
    "bun",
    "rscript",
    "julia",
    "octave",
    "octave-cli",
    "erl",
    "escript",
    "elixir",
    "iex",
    "guile",
    "racket",
    "sbcl",
    "clisp",
    "ecl",
    "ocaml",
    "ghci",
    "runghc",
    "runhaskell",
    "scala",
    "groovy",
    "kotlin",
    "swift",
    "java",
    "jshell",
    "dotnet",
    "mono",
    "csi",
    "pwsh",
    "powershell",
    "osascript",
    "bc",
    "dc",
    "m4",
    "gdb",
    "lldb",
    "pdb",
    "sqlite3",
    "duckdb",
    "qjs",
    "rhino",
    "jjs",
    "gnuplot",
    "r",
    "cpan",
    "cpanm",
    "perlbug",
    "irb",
    "pry",
    "ipython",
    "jupyter",
    "pip-run",
    "uv",
    "uvx",
];
/// Interpreter families matched by prefix.
const INTERPRETER_FAMILIES: &[&str] = &[
    "python", "pypy", "jython", "perl", "ruby", "irb", "jruby", "php", "lua", "luajit", "tclsh",
    "wish", "node", "guile", "gawk",
];
/// Programs whose job is running another program named in their arguments.
const LAUNCHERS: &[&str] = &[
    // medic itself: `medic heal -- CMD` runs any command, `--verify` a shell line.
    "medic",
    "env",
    "xargs",
    "find",
    "setsid",
    "nohup",
    "timeout",
    "nice",
    "ionice",
    "flock",
    "stdbuf",
    "taskset",
    "chrt",
    "unshare",
    "nsenter",
    "setpriv",
    "prlimit",
    "systemd-run",
    "runuser",
    "su",
    "sudo",
    "sudoedit",
    "doas",
    "pkexec",
    "watch",
    "chroot",
    "time",
    "strace",
    "ltrace",
    "valgrind",
    "perf",
    "catchsegv",
    "numactl",
    "cpulimit",
    "cgexec",
    "capsh",
    "setarch",
    "linux32",
    "linux64",
    "sg",
    "newgrp",
    "login",
    "script",
    "unbuffer",
    "parallel",
    "run-parts",
    "start-stop-daemon",
    "daemonize",
    "dbus-run-session",
    "dbus-launch",
    "systemd-cat",
    "systemd-nspawn",
    "machinectl",
    "logsave",
    "faketime",
    "fakeroot",
    "fakechroot",
    "eatmydata",
    "proot",
    "bwrap",
    "firejail",
    "torsocks",
    "proxychains",
    "proxychains4",
    "tsocks",
    "sshpass",
    "entr",
    "chpst",
    "runsv",
    "s6-setuidgid",
    "ld.so",
    "ldd",
    "exec",
    "command",
    "builtin",
    "xdg-open",
    "sensible-editor",
    "sensible-pager",
    "sensible-browser",
    "pager",
    "editor",
    "x-terminal-emulator",
    "xterm",
    "tmux",
    "screen",
    "choom",
    "runcon",
    "ssh-agent",
    "systemd-inhibit",
    "pyenv",
    "rbenv",
    "nodenv",
    "asdf",
    "direnv",
    "nix-shell",
    "flatpak-spawn",
    "toolbox",
    "distrobox",
    "lxc-attach",
    "lxc-execute",
    "kexec",
];
/// Programs that run commands as part of their work.
const INDIRECT: &[&str] = &[
    "vi",
    "vim",
    "nvim",
    "view",
    "vimdiff",
    "ex",
    "rvim",
    "ed",
    "red",
    "nano",
    "pico",
    "emacs",
    "emacsclient",
    "joe",
    "jed",
    "mcedit",
    "mc",
    "micro",
    "kak",
    "helix",
    "hx",
    "less",
    "more",
    "most",
    "man",
    "git",
    "tar",
    "bsdtar",
    "zip",
    "make",
    "gmake",
    "bmake",
    "cmake",
    "ninja",
    "meson",
    "scons",
    "mvn",
    "gradle",
    "ant",
    "sbt",
    "cargo",
    "go",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "pip",
    "pip3",
    "pipx",
    "gem",
    "bundle",
    "bundler",
    "rake",
    "composer",
    "psql",
    "mysql",
    "mariadb",
    "mongo",
    "mongosh",
    "cqlsh",
    "clickhouse-client",
    "redis-cli",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "socat",
    "nc",
    "ncat",
    "netcat",
    "telnet",
    "ftp",
    "crontab",
    "at",
    "batch",
    "dpkg",
    "rpm",
    "ansible",
    "ansible-playbook",
    "vagrant",
    "ip",
    "sort",
    "apt",
    "apt-get",
    "aptitude",
    "apt-cache",
    "ctest",
    "cpack",
    "wget",
    "cpio",
    "pax",
    "gpg",
    "gpg2",
    "mutt",
    "mail",
    "mailx",
    "sendmail",
    "lynx",
    "w3m",
    "links",
    "elinks",
    "lftp",
    "tftp",
    "ncftp",
    "ssh-copy-id",
    "vipw",
    "vigr",
    "visudo",
    "journalctl",
    "mysqladmin",
    "pg_ctl",
    "initdb",
    "postgres",
    "mongod",
    "redis-server",
    "nmap",
    "tcpdump",
    "bpftrace",
    "bpftool",
    "busctl",
    "dbus-send",
    "ansible-console",
    "salt",
    "puppet",
    "chef-client",
    "terraform",
    "packer",
];
/// Where copies and links of the programs above are looked for.
const SEARCH_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/usr/libexec",
];
/// Largest file compared by contents against the known runners.
const MAX_COMPARED_BYTES: u64 = 256 << 20;

/// The runner a file called `name` (its canonical file name) is, if any.
pub fn runner_by_name(name: &str) -> Option<Runner> {
    let lower = name.to_ascii_lowercase();
    if SHELLS.contains(&lower.as_str()) {
        return Some(Runner::Shell);
    }
    if is_loader_name(&lower) {
        return Some(Runner::Launcher);
    }
    if LAUNCHERS.contains(&lower.as_str()) {
        return Some(Runner::Launcher);
    }
    // Another build or version of medic (`medic-0.1`, `medic-4f5333be`, `medic_old`): it
    // runs commands as this one does, and only this one is known by its contents.
    if lower.strip_prefix("medic").is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with(['-', '_', '.'])
            || rest.starts_with(|c: char| c.is_ascii_digit())
    }) {
        return Some(Runner::Launcher);
    }
    if INTERPRETERS.contains(&lower.as_str())
        || INTERPRETER_FAMILIES.iter().any(|family| {
            lower.strip_prefix(family).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            })
        })
    {
        return Some(Runner::Interpreter);
    }
    INDIRECT
        .contains(&lower.as_str())
        .then_some(Runner::Indirect)
}

/// True for a dynamic loader's name: `ld.so`, `ld-linux-x86-64.so.2`, `ld-musl-x86_64.so.1`.
pub fn is_loader_name(name: &str) -> bool {
    name == "ld.so"
        || (name.starts_with("ld-") || name.starts_with("ld64.")) && name.contains(".so")
}

/// One runner found on this system.
struct Known {
    name: String,
    runner: Runner,
    path: PathBuf,
    size: u64,
    digest: OnceLock<Option<[u8; 32]>>,
}

/// The runners installed on this system, by identity, build id and size, found once.
struct Catalogue {
    by_identity: HashMap<Identity, usize>,
    by_build_id: HashMap<Vec<u8>, usize>,
    by_size: HashMap<u64, Vec<usize>>,
    known: Vec<Known>,
}

impl Catalogue {
    /// Know the runner at canonical `path` as `name`, unless it is known already.
    fn add(&mut self, name: &str, runner: Runner, path: &Path) {
        use std::os::unix::fs::MetadataExt;
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        if !metadata.is_file() {
            return;
        }
        let identity = Identity {
            dev: metadata.dev(),
            ino: metadata.ino(),
        };
        if self.by_identity.contains_key(&identity) {
            return;
        }
        let index = self.known.len();
        self.by_identity.insert(identity, index);
        if let Some(id) = std::fs::File::open(path)
            .ok()
            .and_then(|file| super::elf::Elf::read(&file).ok().flatten()?.build_id())
        {
            self.by_build_id.entry(id).or_insert(index);
        }
        self.by_size.entry(metadata.len()).or_default().push(index);
        self.known.push(Known {
            name: name.to_string(),
            runner,
            path: path.to_path_buf(),
            size: metadata.len(),
            digest: OnceLock::new(),
        });
    }
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut catalogue = Catalogue {
            by_identity: HashMap::new(),
            by_build_id: HashMap::new(),
            by_size: HashMap::new(),
            known: Vec::new(),
        };
        let names = SHELLS
            .iter()
            .map(|name| (*name, Runner::Shell))
            .chain(INTERPRETERS.iter().map(|name| (*name, Runner::Interpreter)))
            .chain(LAUNCHERS.iter().map(|name| (*name, Runner::Launcher)))
            .chain(INDIRECT.iter().map(|name| (*name, Runner::Indirect)));
        for (name, runner) in names {
            for dir in SEARCH_DIRS {
                let candidate = Path::new(dir).join(name);
                if std::fs::symlink_metadata(&candidate).is_err() {
                    continue;
                }
                let Ok(path) = std::fs::canonicalize(&candidate) else {
                    continue;
                };
                catalogue.add(name, runner, &path);
            }
        }
        // The running medic, wherever it was installed and whatever it is called: known
        // by identity, build id and contents like any runner, so neither `/proc/self/exe`
        // nor a copy of it can be granted.
        let own = std::env::current_exe().and_then(std::fs::canonicalize);
        if let Ok(path) = own {
            catalogue.add("medic", Runner::Launcher, &path);
        }
        catalogue
    })
}

fn digest_file(file: &mut std::fs::File, size: u64) -> Option<[u8; 32]> {
    if size > MAX_COMPARED_BYTES {
        return None;
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let read = file.read(&mut buffer).ok()?;
        if read == 0 {
            return Some(hasher.finalize().into());
        }
        hasher.update(&buffer[..read]);
    }
}

/// The runner the open file `file` (of `size` bytes, identity `identity`) is, by identity,
/// GNU build id or contents, with the known runner's path: a hard link, a copy, or a copy
/// with bytes appended of `bash` is `bash`.
pub fn runner_by_identity(
    file: &std::fs::File,
    identity: Identity,
    size: u64,
) -> Option<(Runner, String)> {
    let catalogue = catalogue();
    if let Some(index) = catalogue.by_identity.get(&identity) {
        let known = &catalogue.known[*index];
        return Some((known.runner, known.name.clone()));
    }
    if let Some(index) = super::elf::Elf::read(file)
        .ok()
        .flatten()
        .and_then(|elf| elf.build_id())
        .and_then(|id| catalogue.by_build_id.get(&id))
    {
        let known = &catalogue.known[*index];
        return Some((
            known.runner,
            format!("{}, by its build id ({})", known.name, known.path.display()),
        ));
    }
    let candidates = catalogue.by_size.get(&size)?;
    let mut own = file.try_clone().ok()?;
    use std::io::Seek;
    own.rewind().ok()?;
    let digest = digest_file(&mut own, size)?;
    candidates.iter().find_map(|index| {
        let known = &catalogue.known[*index];
        let theirs = known.digest.get_or_init(|| {
            let mut file = nofollow::open_regular_file(&known.path).ok()?;
            digest_file(&mut file, known.size)
        });
        (*theirs == Some(digest)).then(|| {
            (
                known.runner,
                format!("{} ({})", known.name, known.path.display()),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn runners_are_known_by_name_and_family() {
        let cases = [
            ("bash", Some(Runner::Shell)),
            ("dash", Some(Runner::Shell)),
            ("busybox", Some(Runner::Shell)),
            ("python3.11", Some(Runner::Interpreter)),
            ("perl5.36.0", Some(Runner::Interpreter)),
            ("env", Some(Runner::Launcher)),
            ("ld-linux-x86-64.so.2", Some(Runner::Launcher)),
            ("git", Some(Runner::Indirect)),
            ("supervisorctl", None),
            ("touch", None),
            ("Rscript", Some(Runner::Interpreter)),
            ("choom", Some(Runner::Launcher)),
            ("sort", Some(Runner::Indirect)),
            ("apt-get", Some(Runner::Indirect)),
            ("pythonic-tool", None),
            ("systemctl", None),
            ("medic", Some(Runner::Launcher)),
            ("medic-4f5333be564b9701", Some(Runner::Launcher)),
            ("medic2", Some(Runner::Launcher)),
            ("medicate", None),
        ];
        for (name, expected) in cases {
            assert_eq!(runner_by_name(name), expected, "{name}");
        }
    }

    #[test]
    fn a_copy_of_a_shell_with_bytes_appended_is_still_a_shell() {
        let Ok(dash) = std::fs::canonicalize("/bin/sh") else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("fix-it");
        let mut bytes = std::fs::read(&dash).unwrap();
        bytes.push(0);
        std::fs::write(&copy, &bytes).unwrap();
        let file = std::fs::File::open(&copy).unwrap();
        let identity = Identity::of(file.as_fd()).unwrap();
        let (runner, name) =
            runner_by_identity(&file, identity, bytes.len() as u64).expect("a shell");
        assert_eq!(runner, Runner::Shell);
        assert!(name.contains("build id"), "{name}");
    }

    #[test]
    fn a_copy_of_a_shell_is_a_shell() {
        let Ok(bash) = std::fs::canonicalize("/bin/bash") else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join("totally-harmless");
        std::fs::copy(&bash, &copy).unwrap();
        let file = std::fs::File::open(&copy).unwrap();
        let identity = Identity::of(file.as_fd()).unwrap();
        let size = file.metadata().unwrap().len();
        let (runner, name) = runner_by_identity(&file, identity, size).expect("a copy of bash");
        assert_eq!(runner, Runner::Shell);
        assert!(name.starts_with("bash"), "{name}");
        let touch = std::fs::File::open("/usr/bin/touch").unwrap();
        let identity = Identity::of(touch.as_fd()).unwrap();
        let size = touch.metadata().unwrap().len();
        assert_eq!(runner_by_identity(&touch, identity, size), None);
    }
}
