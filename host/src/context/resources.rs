//! CPU, memory, swap, load and every disk's space and inodes.

use serde::Serialize;
use sysinfo::{Disks, MINIMUM_CPU_UPDATE_INTERVAL, System};

/// The host's resources.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    /// Logical CPUs.
    pub cpus: usize,
    /// Busy share of all CPUs over a short sample, 0 to 100.
    pub cpu_percent: f64,
    /// 1, 5 and 15 minute load averages.
    pub load_average: [f64; 3],
    /// Total memory.
    pub memory_total_bytes: u64,
    /// Memory available to new work.
    pub memory_available_bytes: u64,
    /// Total swap.
    pub swap_total_bytes: u64,
    /// Swap in use.
    pub swap_used_bytes: u64,
    /// Every mounted disk.
    pub disks: Vec<DiskUsage>,
}

/// One mounted filesystem.
#[derive(Debug, Clone, Serialize)]
pub struct DiskUsage {
    /// Where it is mounted.
    pub mount_point: String,
    /// Its filesystem type.
    pub file_system: String,
    /// Size.
    pub total_bytes: u64,
    /// Free to unprivileged users.
    pub available_bytes: u64,
    /// Used share, 0 to 100.
    pub used_percent: f64,
    /// Inodes in all, when the filesystem has a fixed table.
    pub inodes_total: Option<u64>,
    /// Inodes used share, 0 to 100.
    pub inodes_used_percent: Option<f64>,
}

/// Sample the host (takes about 200 ms for the CPU sample).
pub(crate) fn collect_resources() -> Resources {
    let mut system = System::new();
    system.refresh_memory();
    system.refresh_cpu_usage();
    std::thread::sleep(MINIMUM_CPU_UPDATE_INTERVAL);
    system.refresh_cpu_usage();
    let load = System::load_average();
    let disks = Disks::new_with_refreshed_list();
    let mut usages: Vec<DiskUsage> = Vec::new();
    for disk in disks.list() {
        let mount_point = disk.mount_point().display().to_string();
        if usages.iter().any(|seen| seen.mount_point == mount_point) {
            continue;
        }
        let total = disk.total_space();
        let available = disk.available_space();
        let (inodes_total, inodes_used_percent) = inodes(disk.mount_point());
        usages.push(DiskUsage {
            mount_point,
            file_system: disk.file_system().to_string_lossy().into_owned(),
            total_bytes: total,
            available_bytes: available,
            used_percent: if total == 0 {
                0.0
            } else {
                round((total - available.min(total)) as f64 * 100.0 / total as f64)
            },
            inodes_total,
            inodes_used_percent,
        });
    }
    Resources {
        cpus: system.cpus().len(),
        cpu_percent: round(f64::from(system.global_cpu_usage())),
        load_average: [load.one, load.five, load.fifteen],
        memory_total_bytes: system.total_memory(),
        memory_available_bytes: system.available_memory(),
        swap_total_bytes: system.total_swap(),
        swap_used_bytes: system.used_swap(),
        disks: usages,
    }
}

fn inodes(mount_point: &std::path::Path) -> (Option<u64>, Option<f64>) {
    match nix::sys::statvfs::statvfs(mount_point) {
        Ok(stats) if stats.files() > 0 => {
            let total = stats.files();
            let free = stats.files_free();
            (
                Some(total),
                Some(round(
                    (total - free.min(total)) as f64 * 100.0 / total as f64,
                )),
            )
        }
        _ => (None, None),
    }
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}
