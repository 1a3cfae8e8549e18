//! The cgroup v2 a run watches.
//!
//! A run (a recording, an enforced run, a check) gets a fresh cgroup of its own in the cgroup2 hierarchy: under
//! `/sys/fs/cgroup` on a pure v2 host, under the unified mount
//! (`/sys/fs/cgroup/unified`) on a hybrid one. The kernel side recognises the
//! recorded tasks by that cgroup's id (the inode number of its directory) and
//! its depth below the root.

use std::{
    fs,
    io::{self, Write},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::fs::MetadataExt,
    },
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use super::DOCTOR_HINT;
use super::ebpf::CgroupTree;

/// Where runs make their cgroups, below the cgroup2 root.
const PARENT: &str = "syscall-profile";

/// What a run's cgroup is for, as the first word of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Record,
    Enforce,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Record => "rec",
            Kind::Enforce => "enf",
        }
    }
}

/// Directory of markers for cgroups whose container was kept running on
/// request (`record --keep-running`): a later run leaves those alone.
const KEPT_DIR: &str = "/run/syscall-profile/kept";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "no cgroup2 filesystem is mounted (looked in /proc/self/mountinfo): mount one, \
         e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified` on a hybrid host; {DOCTOR_HINT}"
    )]
    NoCgroup2,
    #[error(
        "the cgroup2 mount here shows a subtree, not the host's whole cgroup tree (this tool \
         runs in a cgroup namespace of its own, a container's), and where that subtree sits \
         in the whole tree, by which the kernel side goes, cannot be learned from the kernel \
         ({why}); run it in the host's cgroup namespace (`docker run --cgroupns=host`, \
         `nsenter -t 1 -C`)"
    )]
    OwnNamespace { why: String },
    #[error(
        "the cgroup2 mount at {mount} shows the part {root} of this cgroup namespace's tree \
         (a bind mount), where cgroup paths would not be the ones processes are in: mount \
         cgroup2 itself there (`mount -t cgroup2 none {mount}`)"
    )]
    PartMounted { mount: PathBuf, root: String },
    #[error(
        "a container engine cannot be given this run's cgroup from here: this tool runs in a \
         cgroup namespace of its own, whose cgroup paths the engine would take for the \
         host's; run it in the host's cgroup namespace (`docker run --cgroupns=host`, \
         `nsenter -t 1 -C`)"
    )]
    EngineOutside,
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(io::Error),
    #[error(
        "cannot create cgroup {path}: {source} (recording needs root, with write access to the cgroup2 tree); {DOCTOR_HINT}"
    )]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// The id (kernfs inode) of the cgroup2 root cgroup.
const ROOT_CGROUP_ID: u64 = 1;

/// The level, in the host's whole cgroup2 tree, of the root of the cgroup2
/// mount at `mount`: 0 where it shows the whole tree. In a cgroup namespace
/// of its own (a container's), cgroup paths start lower, while the kernel
/// side compares the kernel's levels: a cgroup's level is then its depth
/// below the mount plus this. The kernel says it: the mount's root (its
/// directory's inode is the cgroup's id) is one of the ancestors of this
/// process's own cgroup, at that level. Refused where that cannot be
/// learned (this process's cgroup outside the namespace's root), or where
/// the mount shows only part of the namespace's tree (a bind mount), whose
/// paths are not those of `/proc/PID/cgroup`.
pub(crate) fn root_level(mount: &Path) -> Result<u32, CgroupError> {
    let root = match fs::metadata(mount) {
        Ok(root) if root.ino() != ROOT_CGROUP_ID => root.ino(),
        _ => return Ok(0),
    };
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::MountInfo)?;
    match mount_root(&mountinfo, mount) {
        Some(seen) if seen == "/" => {}
        seen => {
            return Err(CgroupError::PartMounted {
                mount: mount.to_owned(),
                root: seen.unwrap_or_else(|| "?".to_owned()),
            });
        }
    }
    let unknown = |why: String| CgroupError::OwnNamespace { why };
    let own = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| unknown(format!("cannot read /proc/self/cgroup: {e}")))?;
    let own = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(|path| Path::new(path.trim_end()))
        .filter(|path| {
            path.components()
                .all(|c| !matches!(c, std::path::Component::ParentDir))
        })
        .ok_or_else(|| {
            unknown("this process's cgroup2 cgroup is not below the namespace's root".to_owned())
        })?;
    let own_dir = mount.join(own.strip_prefix("/").unwrap_or(own));
    let own_id = fs::metadata(&own_dir)
        .map_err(|e| unknown(format!("{}: {e}", own_dir.display())))?
        .ino();
    let ancestry = super::probe::ancestry(own_id).map_err(|e| unknown(e.to_string()))?;
    ancestry
        .iter()
        .position(|&id| id == root)
        .and_then(|level| u32::try_from(level).ok())
        .ok_or_else(|| {
            unknown(format!(
                "the kernel gave no ancestry of this process's cgroup {} that holds the \
                 namespace's root",
                own.display()
            ))
        })
}

/// How much of `/proc/PID/cgroup` or a cgroup's file is read: one line a
/// hierarchy, or a pid a line.
const MOST_PROC_BYTES: u64 = 1 << 20;

/// A small kernel file's text, at most [`MOST_PROC_BYTES`] of it; `None`
/// where it cannot be read.
pub(crate) fn read_small(path: &Path) -> Option<String> {
    use io::Read;
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(MOST_PROC_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// The cgroup2 cgroup of process `pid` below the root (`/` for the root),
/// as `/proc/PID/cgroup` names it (relative to the reader's cgroup
/// namespace): `None` when there is no such process; `Some(None)` when it
/// is in no cgroup2 cgroup (a cgroup v1-only host).
pub(crate) fn cgroup_of(pid: u32) -> Option<Option<PathBuf>> {
    let text = read_small(Path::new(&format!("/proc/{pid}/cgroup")))?;
    Some(
        text.lines()
            .find_map(|line| line.strip_prefix("0::"))
            .map(|path| PathBuf::from(path.trim_end())),
    )
}

/// The cgroup of process `pid` (as this process's pid namespace numbers it)
/// as a path from the root of the cgroup2 mount at `mount`, which shows
/// the whole tree. `/proc/PID/cgroup` names it relative to the reader's
/// cgroup namespace, which in a namespace of its own (a pod's container)
/// is not a path of the whole tree: the named cgroup is taken when its
/// `cgroup.procs` holds `pid`; else the tree is searched, breadth first
/// and bounded, for the cgroup that does. `None` where none does.
pub(crate) fn cgroup_in_whole_tree(mount: &Path, pid: u32) -> Option<PathBuf> {
    /// Enough for any node's tree; a bound on a hostile one.
    const MOST_CGROUPS: usize = 100_000;
    let holds = |relative: &Path| {
        let procs = mount
            .join(relative.strip_prefix("/").unwrap_or(relative))
            .join("cgroup.procs");
        read_small(&procs)
            .is_some_and(|text| text.lines().any(|line| line.trim().parse() == Ok(pid)))
    };
    let named = cgroup_of(pid).flatten().filter(|path| {
        path.components()
            .all(|c| !matches!(c, std::path::Component::ParentDir))
    });
    if let Some(named) = named.filter(|path| holds(path)) {
        return Some(named);
    }
    let mut queue = std::collections::VecDeque::from([PathBuf::from("/")]);
    let mut seen = 0;
    while let Some(relative) = queue.pop_front() {
        if holds(&relative) {
            return Some(relative);
        }
        let dir = mount.join(relative.strip_prefix("/").unwrap_or(&relative));
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            // Cgroups are directories; a symbolic link is never followed.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                seen += 1;
                if seen > MOST_CGROUPS {
                    return None;
                }
                queue.push_back(relative.join(entry.file_name()));
            }
        }
    }
    None
}

/// The root, within its filesystem, of the mount at `mount_point` (field 4
/// of mountinfo; the last mount there, the one seen). For cgroup2 the
/// kernel gives it relative to the reader's cgroup namespace: `/` is the
/// namespace's own root.
fn mount_root(mountinfo: &str, mount_point: &Path) -> Option<String> {
    mountinfo.lines().rev().find_map(|line| {
        let mut fields = line.split_whitespace();
        let root = fields.nth(3)?;
        let point = fields.next()?;
        (Path::new(&unescape_mount_path(point)) == mount_point).then(|| unescape_mount_path(root))
    })
}

/// The depth of a cgroup path below the mount's root (`/` is 0).
pub(crate) fn depth(relative: &Path) -> u32 {
    let below = relative
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .count();
    u32::try_from(below).unwrap_or(u32::MAX)
}

/// The cgroup2 mount point of this host.
pub(crate) fn cgroup2_mount() -> Result<PathBuf, CgroupError> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::MountInfo)?;
    find_cgroup2_mount(&mountinfo).ok_or(CgroupError::NoCgroup2)
}

/// The mount points of the cgroup v1 hierarchies (none on a pure v2 host).
/// A container engine given `--cgroup-parent` makes that path in each of
/// them too, and leaves it behind when the container goes.
pub(crate) fn cgroup1_mounts() -> Vec<PathBuf> {
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
pub(crate) struct RunCgroup {
    path: PathBuf,
    /// The path below the cgroup2 root, e.g. `/syscall-profile/rec-1-2`.
    relative: PathBuf,
    id: u64,
    level: u32,
    /// The level of the cgroup2 mount's root in the whole tree (not 0: this
    /// tool runs in a cgroup namespace of its own).
    root_level: u32,
    removed: bool,
}

impl RunCgroup {
    /// Makes `<cgroup2 mount>/syscall-profile/<kind>-<pid>-<start>-<guardian>-<nanos>`,
    /// a name unique on this host. The pid and the start time of this
    /// process let a later run tell a stale one even after the pid is
    /// reused; the guardian's pid, that the guardian is still at work on it.
    pub(crate) fn create(kind: Kind, guardian: u32) -> Result<RunCgroup, CgroupError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let pid = std::process::id();
        let start = start_time(pid).unwrap_or(0);
        let name = format!("{}-{pid}-{start}-{guardian}-{nanos:09}", kind.prefix());
        let mount = cgroup2_mount()?;
        let root_level = root_level(&mount)?;
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
        let level = depth(&relative).saturating_add(root_level);
        Ok(RunCgroup {
            id: metadata.ino(),
            level,
            root_level,
            path,
            relative,
            removed: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path below the cgroup root, as a container engine's
    /// `--cgroup-parent` takes it: refused where this tool runs in a cgroup
    /// namespace of its own, whose paths the engine would take for paths
    /// of the host's whole tree.
    pub(crate) fn engine_parent(&self) -> Result<&Path, CgroupError> {
        match self.root_level {
            0 => Ok(&self.relative),
            _ => Err(CgroupError::EngineOutside),
        }
    }

    /// The tree the kernel side watches.
    pub(crate) fn tree(&self) -> CgroupTree {
        CgroupTree {
            id: self.id,
            level: self.level,
        }
    }

    /// The `cgroup.procs` file opened for writing: a process that writes
    /// `0` to it moves itself in.
    pub(crate) fn open_procs(&self) -> Result<fs::File, CgroupError> {
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
    pub(crate) fn processes(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        collect_pids(&self.path, &mut pids);
        pids
    }

    /// Whether any process is still in the cgroup or below it (the
    /// kernel's `populated` flag in `cgroup.events`, which counts no
    /// process that has already exited).
    pub(crate) fn populated(&self) -> bool {
        match fs::read_to_string(self.path.join("cgroup.events")) {
            Ok(events) => events
                .lines()
                .any(|line| line.split_whitespace().eq(["populated", "1"])),
            Err(_) => !self.processes().is_empty(),
        }
    }

    /// The processes still in the cgroup or below it, named as `ps` shows
    /// them.
    pub(crate) fn members(&self) -> Vec<Leftover> {
        named(&self.processes())
    }

    /// Sends `signal` to every process in the cgroup or below it, except
    /// those of the process group `except_group` (a terminal's Ctrl-C
    /// already reached them). Each process is held by a pidfd and checked
    /// to be in this cgroup before it is signalled, so that a pid reused
    /// meanwhile by another process of the host is never hit. Returns the
    /// processes signalled.
    pub(crate) fn signal_members(
        &self,
        signal: i32,
        except_group: Option<libc::pid_t>,
    ) -> Vec<Leftover> {
        let mut signalled = Vec::new();
        for pid in self.processes() {
            let Ok(raw) = libc::pid_t::try_from(pid) else {
                continue;
            };
            // SAFETY: getpgid(2) reads a process's group; no memory is touched.
            if except_group.is_some_and(|group| unsafe { libc::getpgid(raw) } == group) {
                continue;
            }
            // SAFETY: pidfd_open(2) returns a new descriptor, owned below.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
            let Ok(fd) = i32::try_from(fd) else {
                continue;
            };
            if fd < 0 {
                continue;
            }
            // SAFETY: `fd` was just returned by pidfd_open and is owned here.
            let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
            if !self.holds(pid) {
                continue;
            }
            let comm = comm_of(pid);
            // SAFETY: pidfd_send_signal(2) on a pidfd we own, with no siginfo.
            let sent = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if sent == 0 {
                signalled.push(Leftover { pid, comm });
            }
        }
        signalled
    }

    /// Names each of `processes` still in the cgroup by what it runs now
    /// (a forked shell that has since executed a program shows as the
    /// program).
    pub(crate) fn rename(&self, processes: &mut [Leftover]) {
        for process in processes {
            if self.holds(process.pid) {
                let comm = comm_of(process.pid);
                if comm != "?" {
                    process.comm = comm;
                }
            }
        }
    }

    /// Whether process `pid` is in this cgroup or below it, as its
    /// `/proc/PID/cgroup` says.
    fn holds(&self, pid: u32) -> bool {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            return false;
        };
        text.lines()
            .filter_map(|line| line.strip_prefix("0::"))
            .any(|path| Path::new(path).starts_with(&self.relative))
    }

    /// The name this cgroup has in its parent.
    pub(crate) fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Kills everything inside at once (`cgroup.kill`), without removing the
    /// cgroup: the command's whole tree, also what forks meanwhile.
    pub(crate) fn kill_all(&self) -> Result<(), CgroupError> {
        if self.processes().is_empty() {
            return Ok(());
        }
        write_file(&self.path.join("cgroup.kill"), "1")
    }

    /// Marks the cgroup as holding a container kept running on request, so
    /// that later runs do not take it for a stale one and kill it.
    pub(crate) fn keep(mut self) -> Result<(), CgroupError> {
        let marker = Path::new(KEPT_DIR).join(self.name());
        fs::create_dir_all(KEPT_DIR)
            .and_then(|()| fs::write(&marker, b""))
            .map_err(|source| CgroupError::Io {
                what: "write",
                path: marker,
                source,
            })?;
        self.removed = true;
        Ok(())
    }

    /// Kills whatever is still inside (the recorded command's leftovers, once
    /// the command itself has exited), waits for it to go, and removes the
    /// cgroup. Returns the processes that had to be killed.
    pub(crate) fn remove(mut self) -> Result<Vec<Leftover>, CgroupError> {
        let killed = self.empty_and_remove()?;
        self.removed = true;
        Ok(killed)
    }

    /// For a cgroup a container engine put a container below: waits up to
    /// `patience` for the engine to end the container, then gives the engine
    /// a moment to remove the container's own cgroup, and removes this one
    /// (and the paths the engine made in the v1 hierarchies). Whatever still
    /// runs then is killed and returned.
    pub(crate) fn remove_after_engine(
        mut self,
        patience: Duration,
    ) -> Result<Vec<Leftover>, CgroupError> {
        let deadline = Instant::now() + patience;
        while !self.processes().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        self.removed = true;
        if self.processes().is_empty() {
            // The engine removes its container's cgroup itself; give it the time.
            let deadline = Instant::now() + Duration::from_secs(2);
            while has_child_dirs(&self.path) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.empty_and_remove()
    }

    fn empty_and_remove(&self) -> Result<Vec<Leftover>, CgroupError> {
        let leftovers = kill_tree(&self.path)?;
        remove_tree(&self.path)?;
        // The shared parent (`syscall-profile`) stays: removing it while
        // another recording or an engine is creating a cgroup in it would
        // make that creation fail.
        remove_v1_mirrors(&self.relative);
        Ok(leftovers)
    }
}

/// A process of a run's cgroup, named: one still running when the command
/// exited (waited for, or killed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leftover {
    pub pid: u32,
    /// Its command name, as `ps` shows it.
    pub comm: String,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {})", self.comm, self.pid)
    }
}

/// Names a list of leftovers for a message: `sleep (pid 12), sh (pid 11)`.
pub(crate) fn describe(leftovers: &[Leftover]) -> String {
    leftovers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The command name of process `pid`, as `ps` shows it (`?` once gone).
fn comm_of(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The processes `pids`, named.
fn named(pids: &[u32]) -> Vec<Leftover> {
    pids.iter()
        .map(|&pid| Leftover {
            pid,
            comm: comm_of(pid),
        })
        .collect()
}

/// Kills every process of the cgroup tree at `dir` and waits (up to 5 s)
/// for them to go; returns them, named while they were alive.
fn kill_tree(dir: &Path) -> Result<Vec<Leftover>, CgroupError> {
    let mut pids = Vec::new();
    collect_pids(dir, &mut pids);
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    let leftovers = named(&pids);
    // cgroup.kill (Linux 5.14) kills the whole subtree at once, also
    // processes forking while it runs.
    write_file(&dir.join("cgroup.kill"), "1")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        pids.clear();
        collect_pids(dir, &mut pids);
        if pids.is_empty() || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(leftovers)
}

/// The start time of process `pid` (clock ticks after boot, field 22 of
/// `/proc/PID/stat`), which tells a process from a later one with its pid.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start after the last `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// What a later run did about an earlier run that ended without cleaning
/// up (its recorder was killed with SIGKILL, say).
#[derive(Debug, Clone)]
pub(crate) struct StaleRun {
    /// The cgroup's name, e.g. `rec-1234-5678-000000001`.
    pub name: String,
    /// The processes it still held, killed now.
    pub killed: Vec<Leftover>,
}

impl std::fmt::Display for StaleRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed the cgroup {} of an earlier run that ended without cleaning up",
            self.name
        )?;
        if !self.killed.is_empty() {
            write!(f, ", killing what it still ran: {}", describe(&self.killed))?;
        }
        Ok(())
    }
}

/// Cleans up after earlier runs whose recorder (or enforcer) is gone: the
/// processes left in their cgroups are killed and the cgroups removed, except
/// a cgroup marked as holding a container kept running on request, which is
/// only removed once empty. A run whose guardian (`is_guardian` tells one
/// by its pid) is still at work is left to it. Returns what was cleaned, to
/// be said.
pub(crate) fn remove_stale(is_guardian: fn(u32) -> bool) -> Vec<StaleRun> {
    let mut cleaned = Vec::new();
    let Ok(mount) = cgroup2_mount() else {
        return cleaned;
    };
    // Markers of kept containers whose cgroup is gone (the engine removed
    // it with the container).
    for marker in fs::read_dir(KEPT_DIR).into_iter().flatten().flatten() {
        if !mount.join(PARENT).join(marker.file_name()).exists() {
            let _ = fs::remove_file(marker.path());
        }
    }
    let Ok(entries) = fs::read_dir(mount.join(PARENT)) else {
        return cleaned;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) || owner_alive(&name, is_guardian) {
            continue;
        }
        let marker = Path::new(KEPT_DIR).join(&name);
        let kept = marker.exists();
        let mut pids = Vec::new();
        collect_pids(&entry.path(), &mut pids);
        let killed = if kept {
            if !pids.is_empty() {
                continue;
            }
            Vec::new()
        } else {
            kill_tree(&entry.path()).unwrap_or_default()
        };
        if remove_tree(&entry.path()).is_ok() {
            remove_v1_mirrors(&Path::new("/").join(PARENT).join(&name));
            let _ = fs::remove_file(&marker);
            if !kept {
                cleaned.push(StaleRun { name, killed });
            }
        }
    }
    cleaned
}

/// For the guardian: kills what is left in the cgroup at `path`, removes it
/// (and its v1 mirrors), and says what it did.
pub(crate) fn kill_and_remove(path: &Path) -> String {
    let killed = kill_tree(path).unwrap_or_default();
    let removed = remove_tree(path);
    if let (Ok(mount), Ok(())) = (cgroup2_mount(), &removed)
        && let Ok(relative) = path.strip_prefix(&mount)
    {
        remove_v1_mirrors(&Path::new("/").join(relative));
    }
    let mut text = if killed.is_empty() {
        "found nothing left running".to_owned()
    } else {
        format!("killed what the command still ran: {}", describe(&killed))
    };
    match removed {
        Ok(()) => text.push_str(&format!(" and removed the cgroup {}", path.display())),
        Err(e) => text.push_str(&format!("; {e}")),
    }
    text
}

/// Whether the run that made the cgroup `name` (`kind-pid-start-guardian-nanos`)
/// is still alive, or its guardian still at work: the pid exists with the
/// same start time, or the guardian's pid is still a guardian. Names of
/// older versions (`kind-pid-nanos`) are judged by the pid alone.
fn owner_alive(name: &str, is_guardian: fn(u32) -> bool) -> bool {
    let parts: Vec<&str> = name.split('-').skip(1).collect();
    let Some(pid) = parts.first().and_then(|p| p.parse::<u32>().ok()) else {
        // Not one of ours: leave it.
        return true;
    };
    if parts.len() < 4 {
        return start_time(pid).is_some();
    }
    let start = parts[1].parse::<u64>().ok();
    let owner = start_time(pid).is_some_and(|now| Some(now) == start);
    let guardian = parts[2].parse::<u32>().is_ok_and(is_guardian);
    owner || guardian
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

impl Drop for RunCgroup {
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

    /// In a cgroup namespace of its own, `/proc/self/cgroup` says `/`: the
    /// cgroup whose `cgroup.procs` holds the process is found instead.
    #[test]
    fn the_own_cgroup_is_found_by_its_processes_in_the_whole_tree() {
        let tree = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        let make = |path: &str, procs: &str| {
            let dir = tree.path().join(path);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("cgroup.procs"), procs).unwrap();
        };
        make("", "1\n");
        make("kubepods/besteffort/podu/aaaa", "7\n8\n");
        make("kubepods/besteffort/podu/bbbb", &format!("9\n{pid}\n"));
        make("system.slice", "");
        assert_eq!(
            cgroup_in_whole_tree(tree.path(), pid),
            Some(PathBuf::from("/kubepods/besteffort/podu/bbbb"))
        );
        assert_eq!(cgroup_in_whole_tree(tree.path(), 4_000_000), None);
    }

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

    /// The root of the mount seen at a point (the last one there), as the
    /// kernel gives it relative to the reader's cgroup namespace.
    #[test]
    fn reads_the_root_of_the_mount_seen_at_a_point() {
        let bound = "\
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
50 36 0:31 /kubepods/pod\\040a /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let point = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(mount_root(bound, point).as_deref(), Some("/kubepods/pod a"));
        assert_eq!(mount_root(HYBRID, point).as_deref(), Some("/"));
        assert_eq!(mount_root(HYBRID, Path::new("/mnt")), None);
    }

    #[test]
    fn a_depth_counts_the_cgroups_below_the_root() {
        assert_eq!(depth(Path::new("/")), 0);
        assert_eq!(depth(Path::new("/a/b")), 2);
    }

    #[test]
    fn no_cgroup2_mount() {
        assert_eq!(
            find_cgroup2_mount("37 35 0:32 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw"),
            None
        );
    }
}
