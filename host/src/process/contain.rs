//! Keeping every process a call starts from outliving it, even one that detaches
//! (`setsid`, a double fork).
//!
//! Where medic may create a cgroup (a writable cgroup v2 hierarchy above its own), each
//! program runs in a fresh child cgroup that it joins before `exec`; when the call ends
//! the whole cgroup is killed (`cgroup.kill`, or each member) and removed. Otherwise medic
//! makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`): a detached descendant is
//! re-parented to medic instead of init, and when a call ends medic kills every such
//! orphan, with its descendants, and reaps it. The process group is killed in both modes.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// How long ending a call waits for its processes to be gone.
const END_WAIT: Duration = Duration::from_secs(5);

/// How this process contains the programs it starts.
#[derive(Debug)]
enum Mode {
    /// Child cgroups are created under `base`.
    Cgroup { base: PathBuf },
    /// medic is a child subreaper and kills orphans itself.
    Subreaper,
}

fn mode() -> &'static Mode {
    static MODE: OnceLock<Mode> = OnceLock::new();
    MODE.get_or_init(|| match cgroup_base() {
        Some(base) => Mode::Cgroup { base },
        None => {
            if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
                tracing::warn!("cannot become a child subreaper ({error}); a program that detaches may outlive its call");
            }
            Mode::Subreaper
        }
    })
}

/// Whether programs run in their own cgroup, for messages and tests.
pub fn uses_cgroups() -> bool {
    matches!(mode(), Mode::Cgroup { .. })
}

/// medic's own cgroup v2 directory, when medic may create children in it.
fn cgroup_base() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let relative = own.lines().find_map(|line| line.strip_prefix("0::"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let fstype = after.split_whitespace().next()?;
        (fstype == "cgroup2").then(|| before.split_whitespace().nth(4).map(PathBuf::from))?
    })?;
    let base = mount.join(relative.trim_start_matches('/'));
    let probe = base.join(format!("medic-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).ok()?;
    let usable = probe.join("cgroup.procs").exists();
    let _ = std::fs::remove_dir(&probe);
    usable.then_some(base)
}

/// Pids medic started and is still waiting for: never taken for orphans.
fn running() -> &'static Mutex<HashSet<i32>> {
    static RUNNING: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    RUNNING.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The containment of one program run.
#[derive(Debug)]
pub(crate) struct Containment {
    cgroup: Option<(PathBuf, OwnedFd)>,
    pid: Option<i32>,
}

impl Containment {
    /// Prepare to contain one program: a fresh cgroup when medic may make one.
    pub(crate) fn new() -> Containment {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let cgroup = match mode() {
            Mode::Cgroup { base } => {
                let dir = base.join(format!(
                    "medic-{}-{}",
                    std::process::id(),
                    SEQUENCE.fetch_add(1, Ordering::Relaxed)
                ));
                let procs = std::fs::create_dir(&dir).and_then(|()| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(dir.join("cgroup.procs"))
                });
                match procs {
                    Ok(file) => Some((dir, OwnedFd::from(file))),
                    Err(error) => {
                        tracing::warn!(cgroup = %dir.display(), "cannot create a cgroup for the program ({error}); relying on its process group");
                        let _ = std::fs::remove_dir(&dir);
                        None
                    }
                }
            }
            Mode::Subreaper => None,
        };
        Containment { cgroup, pid: None }
    }

    /// The descriptor of the cgroup's `cgroup.procs`, which the child writes `0` to before
    /// `exec` to join it.
    pub(crate) fn join_fd(&self) -> Option<RawFd> {
        self.cgroup.as_ref().map(|(_, fd)| fd.as_raw_fd())
    }

    /// The program started as `pid`.
    pub(crate) fn started(&mut self, pid: i32) {
        self.pid = Some(pid);
        running()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(pid);
    }

    /// The call is over: kill the program's process group and everything it left, wait
    /// for them to be gone, and remove the cgroup.
    pub(crate) async fn end(mut self) {
        self.end_now();
        match self.cgroup.take() {
            Some((dir, _)) => end_cgroup(&dir).await,
            None if matches!(mode(), Mode::Subreaper) => kill_orphans().await,
            None => {}
        }
    }

    /// Kill the program's group and unregister it, without waiting.
    fn end_now(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
            running()
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&pid);
        }
    }
}

impl Drop for Containment {
    /// A call abandoned mid-program (its time limit, a signal) still leaves nothing running:
    /// kill the group and the cgroup's members at once, and remove the cgroup when it has
    /// emptied within a moment.
    fn drop(&mut self) {
        self.end_now();
        if let Some((dir, _)) = self.cgroup.take() {
            for _ in 0..50 {
                let members = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                if members.trim().is_empty() {
                    break;
                }
                let kill_file = dir.join("cgroup.kill");
                if kill_file.exists() {
                    let _ = std::fs::write(&kill_file, "1");
                } else {
                    for pid in members
                        .lines()
                        .filter_map(|line| line.trim().parse::<i32>().ok())
                    {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                }
                reap_children_in(&members);
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Kill and remove the cgroups of medic processes that are gone (killed with -9 while a
/// program ran): their programs must not outlive them. Run before a recovery's rollback.
pub fn sweep_orphaned_cgroups() {
    let Mode::Cgroup { base } = mode() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("medic-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() as i32 || Path::new(&format!("/proc/{pid}")).exists();
        if alive {
            continue;
        }
        let dir = entry.path();
        let kill_file = dir.join("cgroup.kill");
        for _ in 0..50 {
            let members = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            if members.trim().is_empty() {
                break;
            }
            if kill_file.exists() {
                let _ = std::fs::write(&kill_file, "1");
            } else {
                for member in members
                    .lines()
                    .filter_map(|line| line.trim().parse::<i32>().ok())
                {
                    let _ = kill(Pid::from_raw(member), Signal::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if std::fs::remove_dir(&dir).is_ok() {
            tracing::warn!(cgroup = %dir.display(), "killed what a medic process that is gone (pid {pid}) left running");
        }
    }
}

async fn end_cgroup(dir: &Path) {
    let deadline = Instant::now() + END_WAIT;
    let kill_file = dir.join("cgroup.kill");
    loop {
        let members = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if members.trim().is_empty() {
            break;
        }
        if kill_file.exists() {
            let _ = std::fs::write(&kill_file, "1");
        } else {
            for pid in members
                .lines()
                .filter_map(|line| line.trim().parse::<i32>().ok())
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        reap_children_in(&members);
        if Instant::now() > deadline {
            tracing::warn!(cgroup = %dir.display(), "processes of the call are still running after SIGKILL");
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if let Err(error) = std::fs::remove_dir(dir) {
        tracing::debug!(cgroup = %dir.display(), "cannot remove the call's cgroup: {error}");
    }
}

/// Reap those of `members` that are medic's own children (zombies re-parented to it).
fn reap_children_in(members: &str) {
    for pid in members
        .lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
    {
        let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
    }
}

/// Kill every child of medic that medic did not start (an orphan re-parented to it), with
/// all its descendants, and reap them.
async fn kill_orphans() {
    let me = std::process::id() as i32;
    let deadline = Instant::now() + END_WAIT;
    loop {
        let table = process_table();
        let known = running()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let orphans: Vec<i32> = table
            .iter()
            .filter(|(pid, parent)| *parent == me && !known.contains(pid))
            .map(|(pid, _)| *pid)
            .collect();
        if orphans.is_empty() || Instant::now() > deadline {
            return;
        }
        for orphan in &orphans {
            for pid in descendants(&table, *orphan) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = kill(Pid::from_raw(*orphan), Signal::SIGKILL);
        }
        for orphan in &orphans {
            let _ = waitpid(Pid::from_raw(*orphan), Some(WaitPidFlag::WNOHANG));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Every process's (pid, parent pid), from `/proc`.
fn process_table() -> Vec<(i32, i32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let parent = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, parent))
        })
        .collect()
}

/// The descendants of `root` in `table`.
fn descendants(table: &[(i32, i32)], root: i32) -> Vec<i32> {
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            table
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_walk_the_whole_tree() {
        let table = [(2, 1), (3, 2), (4, 3), (5, 1), (6, 2)];
        let mut found = descendants(&table, 2);
        found.sort();
        assert_eq!(found, vec![3, 4, 6]);
        assert!(descendants(&table, 4).is_empty());
    }
}
