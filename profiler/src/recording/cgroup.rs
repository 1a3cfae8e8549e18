//! The cgroup v2 a recording watches.
//!
//! A recording gets a fresh cgroup of its own in the cgroup2 hierarchy: under
//! `/sys/fs/cgroup` on a pure v2 host, under the unified mount
//! (`/sys/fs/cgroup/unified`) on a hybrid one. The kernel side recognises the
//! recorded tasks by that cgroup's id (the inode number of its directory) and
//! its depth below the root.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

/// Where recordings make their cgroups, below the cgroup2 root.
const PARENT: &str = "syscall-profile";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "no cgroup2 filesystem is mounted (looked in /proc/self/mountinfo): mount one, \
         e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified` on a hybrid host"
    )]
    NoCgroup2,
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(io::Error),
    #[error(
        "cannot create cgroup {path}: {source} (recording needs root, with write access to the cgroup2 tree)"
    )]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// The cgroup2 mount point of this host.
pub fn cgroup2_mount() -> Result<PathBuf, CgroupError> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::MountInfo)?;
    find_cgroup2_mount(&mountinfo).ok_or(CgroupError::NoCgroup2)
}

/// The mount points of the cgroup v1 hierarchies (none on a pure v2 host).
/// A container engine given `--cgroup-parent` makes that path in each of
/// them too, and leaves it behind when the container goes.
fn cgroup1_mounts() -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mounts_of_type(&mountinfo, "cgroup")
}

/// The mount points of filesystems of type `fstype` in a mountinfo text: a
/// mount point is field 5; the type follows the ` - ` separator.
fn mounts_of_type(mountinfo: &str, fstype: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            (right.split_whitespace().next()? == fstype)
                .then(|| PathBuf::from(unescape_mount_path(mount_point)))
        })
        .collect()
}

/// Picks the cgroup2 mount out of a mountinfo text. Where there are several
/// (bind mounts), `/sys/fs/cgroup` is preferred, then the shortest path.
fn find_cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    let mut mounts = mounts_of_type(mountinfo, "cgroup2");
    mounts.sort_by_key(|p| (p != Path::new("/sys/fs/cgroup"), p.as_os_str().len()));
    mounts.into_iter().next()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(raw: &str) -> String {
    raw.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// A cgroup made for one recording, removed when dropped.
#[derive(Debug)]
pub struct RecordingCgroup {
    path: PathBuf,
    /// The path below the cgroup2 root, e.g. `/syscall-profile/rec-1-2`.
    relative: PathBuf,
    id: u64,
    level: u32,
    removed: bool,
}

impl RecordingCgroup {
    /// Makes `<cgroup2 mount>/syscall-profile/<kind>-<pid>-<nanos>`, a name
    /// unique on this host (`kind`: `rec` for recordings, `enf` for
    /// enforcement). The pid lets a later run tell a stale one.
    pub fn create(kind: &str) -> Result<RecordingCgroup, CgroupError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("{kind}-{}-{nanos:09}", std::process::id());
        let mount = cgroup2_mount()?;
        let parent = mount.join(PARENT);
        let path = parent.join(name);
        for dir in [&parent, &path] {
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir == &parent => {}
                Err(source) => {
                    return Err(CgroupError::Create {
                        path: dir.clone(),
                        source,
                    });
                }
            }
        }
        let metadata = fs::metadata(&path).map_err(|source| CgroupError::Io {
            what: "stat",
            path: path.clone(),
            source,
        })?;
        let relative = Path::new("/").join(path.strip_prefix(&mount).unwrap_or(&path));
        // `/` is component 0, the root cgroup's level.
        let level = u32::try_from(relative.components().count() - 1).unwrap_or(u32::MAX);
        Ok(RecordingCgroup {
            id: metadata.ino(),
            level,
            path,
            relative,
            removed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path below the cgroup root, as `--cgroup-parent` takes it.
    pub fn relative(&self) -> &Path {
        &self.relative
    }

    /// The id `bpf_get_current_cgroup_id()` gives for a task inside it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Depth below the cgroup2 root (the root is 0).
    pub fn level(&self) -> u32 {
        self.level
    }

    /// The `cgroup.procs` file opened for writing: a process that writes
    /// `0` to it moves itself in.
    pub fn open_procs(&self) -> Result<fs::File, CgroupError> {
        let path = self.path.join("cgroup.procs");
        fs::File::options()
            .write(true)
            .open(&path)
            .map_err(|source| CgroupError::Io {
                what: "open",
                path,
                source,
            })
    }

    /// The processes still in the cgroup or below it.
    pub fn processes(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        collect_pids(&self.path, &mut pids);
        pids
    }

    /// Kills whatever is still inside (the recorded command's leftovers, once
    /// the command itself has exited), waits for it to go, and removes the
    /// cgroup. Returns how many processes had to be killed.
    pub fn remove(mut self) -> Result<usize, CgroupError> {
        let killed = self.empty_and_remove()?;
        self.removed = true;
        Ok(killed)
    }

    /// For a cgroup a container engine put a container below: waits up to
    /// `patience` for the engine to end and remove the container, then
    /// removes the cgroup and the paths the engine made in the v1
    /// hierarchies. A container still running then is left alone, and so is
    /// the cgroup (a later recording removes it once empty): returns whether
    /// it was removed.
    pub fn remove_after_engine(mut self, patience: Duration) -> Result<bool, CgroupError> {
        let deadline = Instant::now() + patience;
        while !self.processes().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        self.removed = true;
        if !self.processes().is_empty() {
            return Ok(false);
        }
        // The engine removes its container's cgroup itself; give it the time.
        let deadline = Instant::now() + Duration::from_secs(2);
        while has_child_dirs(&self.path) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        self.empty_and_remove()?;
        Ok(true)
    }

    fn empty_and_remove(&self) -> Result<usize, CgroupError> {
        let leftovers = self.processes().len();
        if leftovers > 0 {
            // cgroup.kill (Linux 5.14) kills the whole subtree at once, also
            // processes forking while it runs.
            write_file(&self.path.join("cgroup.kill"), "1")?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.processes().is_empty() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
        }
        remove_tree(&self.path)?;
        // The shared parent (`syscall-profile`) stays: removing it while
        // another recording or an engine is creating a cgroup in it would
        // make that creation fail.
        remove_v1_mirrors(&self.relative);
        Ok(leftovers)
    }
}

/// Removes the cgroups of earlier recordings whose recorder is gone and
/// which hold no process any more (containers that outlived a recording).
pub fn remove_stale() {
    let Ok(mount) = cgroup2_mount() else { return };
    let Ok(entries) = fs::read_dir(mount.join(PARENT)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .split('-')
            .nth(1)
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let mut pids = Vec::new();
        collect_pids(&entry.path(), &mut pids);
        if Path::new(&format!("/proc/{pid}")).exists() || !pids.is_empty() {
            continue;
        }
        if remove_tree(&entry.path()).is_ok() {
            remove_v1_mirrors(&Path::new("/").join(PARENT).join(&name));
        }
    }
}

/// Best effort: the directories an engine made for `relative` in the v1
/// hierarchies, once empty.
fn remove_v1_mirrors(relative: &Path) {
    let Ok(relative) = relative.strip_prefix("/") else {
        return;
    };
    for mount in cgroup1_mounts() {
        let dir = mount.join(relative);
        if dir.is_dir() {
            let _ = remove_tree(&dir);
        }
    }
}

fn has_child_dirs(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()))
    })
}

impl Drop for RecordingCgroup {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.empty_and_remove();
        }
    }
}

fn collect_pids(dir: &Path, pids: &mut Vec<u32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), pids);
            }
        }
    }
}

/// Removes a cgroup and the child cgroups a recorded program made in it,
/// deepest first (cgroup directories are removed with rmdir, never unlink).
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path())?;
            }
        }
    }
    // A cgroup whose last process just exited can stay busy for a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    what: "remove cgroup",
                    path: dir.to_owned(),
                    source,
                });
            }
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), CgroupError> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| CgroupError::Io {
            what: "write",
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
37 35 0:32 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
";
    const PURE_V2: &str = "\
30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
99 30 0:26 / /mnt/other\\040dir rw - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_the_unified_mount_on_a_hybrid_host() {
        assert_eq!(
            find_cgroup2_mount(HYBRID),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn prefers_sys_fs_cgroup_on_a_pure_v2_host() {
        assert_eq!(
            find_cgroup2_mount(PURE_V2),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
    }

    #[test]
    fn no_cgroup2_mount() {
        assert_eq!(
            find_cgroup2_mount("37 35 0:32 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw"),
            None
        );
    }
}
