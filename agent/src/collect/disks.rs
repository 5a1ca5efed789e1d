//! Mounted file systems and their free space, from sysinfo.

use std::collections::HashSet;

use lifeline_shared::wire::Disk;
use sysinfo::{DiskRefreshKind, Disks};

/// Sorted by mount point. A file system mounted in several places (bind mounts, containers) is reported once, at
/// the first of its mount points, so one full disk does not read as several.
pub(super) fn collect(disks: &mut Disks) -> Vec<Disk> {
    disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
    let mut list: Vec<&sysinfo::Disk> = disks.iter().collect();
    list.sort_by(|a, b| a.mount_point().cmp(b.mount_point()));
    let mut seen = HashSet::new();
    list.into_iter()
        .filter(|d| d.id().is_none_or(|id| seen.insert(id)))
        .map(|d| Disk {
            mount_point: d.mount_point().display().to_string(),
            file_system: d.file_system().to_string_lossy().into_owned(),
            total_bytes: d.total_space(),
            available_bytes: d.available_space(),
            removable: d.is_removable(),
        })
        .collect()
}
