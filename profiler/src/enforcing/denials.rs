//! Watching an enforced cgroup for the syscalls its seccomp filter denies.
//!
//! The kernel side (`profiler-ebpf/src/denials.rs`) counts a syscall as
//! denied when its task reaches `sys_exit` without having entered it: the
//! filter runs before the `sys_enter` tracepoint and skips what it denies.
//! So a syscall that ran and failed for its own reasons (ENOENT, EBADF) is
//! never reported, whatever its errno. A filter that kills is seen at the
//! kill (`force_sig_seccomp`, `do_exit(SIGSYS)`), since a killed thread
//! never leaves its syscall. The program each process executed is kept by
//! the kernel side too, so a denial names its executable even after the
//! process is gone.

use aya::{Ebpf, maps::HashMap};
use profiler_common::{
    Abi, DENIAL_KILLED_PROCESS, DENIAL_KILLED_THREAD, Denial, SyscallKey, maps, programs,
};

use crate::{
    profile::{Arch, table},
    session::{
        RunCgroup,
        ebpf::{self, TracerError},
        events::{self, KernelEvents},
    },
};

/// How a denial ended the calling thread, where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kill {
    /// `SCMP_ACT_KILL_THREAD` on a thread that was not the process's last:
    /// the thread died, the process went on.
    Thread,
    /// `SCMP_ACT_KILL_PROCESS`, or `SCMP_ACT_KILL_THREAD` on the process's
    /// last thread: the process died of SIGSYS.
    Process,
}

impl Kill {
    /// What the filter did, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Kill::Thread => "killed the thread (SCMP_ACT_KILL_THREAD)",
            Kill::Process => {
                "killed the process (SCMP_ACT_KILL_PROCESS, or SCMP_ACT_KILL_THREAD on its \
                 last thread)"
            }
        }
    }
}

/// A syscall the filter denied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeniedSyscall {
    /// The syscall's name, or `syscall_N` where no table names it.
    pub name: String,
    /// Its table (`x86_64`, `i386`).
    pub arch: String,
    pub nr: i64,
    pub count: u64,
    /// What the first denied call returned: the errno, where it was one.
    pub errno: Option<i64>,
    /// Where the denial killed the caller instead of returning.
    pub killed: Option<Kill>,
    /// The first process it was denied to; none where the kernel did not
    /// deny it (`--complain` reports what it would have denied).
    pub first: Option<Caller>,
}

/// The process a syscall was denied to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Caller {
    pub pid: u32,
    pub tid: u32,
    /// Its command name, as `ps` shows it.
    pub comm: String,
    /// Its executable, where known.
    pub exe: Option<String>,
}

/// The denial watcher, attached to one cgroup tree.
pub struct DenialWatch {
    ebpf: Ebpf,
    arch: Arch,
    /// Event hooks that could not be attached, and why.
    unwatched: Vec<String>,
}

impl DenialWatch {
    pub fn attach(cgroup: &RunCgroup, arch: Arch) -> Result<DenialWatch, TracerError> {
        let (mut ebpf, no_layout) = ebpf::load_object(cgroup, ebpf::Purpose::WatchDenials)?;
        // Events first, then entry, then exit: a syscall seen leaving must
        // have been seen entering.
        let unwatched = ebpf::attach_events(&mut ebpf, no_layout, true);
        let _ = ebpf::attach_raw(&mut ebpf, programs::ENFORCE_ENTER, "sys_enter")?;
        let _ = ebpf::attach_raw(&mut ebpf, programs::ENFORCE_EXIT, "sys_exit")?;
        Ok(DenialWatch {
            ebpf,
            arch,
            unwatched,
        })
    }

    /// What the event hooks saw so far: processes that left the watched
    /// cgroup (whose denials are no longer seen), programs executed in it.
    pub fn events(&self) -> Result<KernelEvents, TracerError> {
        events::read(&self.ebpf, &self.unwatched)
    }

    /// The denials so far, sorted by name.
    pub fn denials(&mut self) -> Result<Vec<DeniedSyscall>, TracerError> {
        let events = self.events()?;
        let map = self.ebpf.map(maps::DENIALS).ok_or(TracerError::Map {
            map: maps::DENIALS,
            source: aya::maps::MapError::InvalidName {
                name: maps::DENIALS.to_owned(),
            },
        })?;
        let denials: HashMap<_, SyscallKey, Denial> =
            HashMap::try_from(map).map_err(|source| TracerError::Map {
                map: maps::DENIALS,
                source,
            })?;
        let mut out = Vec::new();
        for entry in denials.iter() {
            let (key, denial) = entry.map_err(|source| TracerError::Map {
                map: maps::DENIALS,
                source,
            })?;
            let arch = Abi::from_u32(key.abi)
                .and_then(|abi| self.arch.of_abi(abi))
                .unwrap_or(self.arch);
            let name = u64::try_from(key.nr)
                .ok()
                .and_then(|nr| table::name_of(arch, nr))
                .map_or_else(|| format!("syscall_{}", key.nr), str::to_owned);
            let killed = match key.tag {
                DENIAL_KILLED_THREAD => Some(Kill::Thread),
                DENIAL_KILLED_PROCESS => Some(Kill::Process),
                _ => None,
            };
            // The kernel's record of the last exec; a process that never
            // executed anything in the cgroup (a fork) is asked while alive.
            let exe = events
                .executable(denial.tgid)
                .map(str::to_owned)
                .or_else(|| {
                    std::fs::read_link(format!("/proc/{}/exe", denial.tgid))
                        .ok()
                        .map(|p| p.display().to_string())
                });
            out.push(DeniedSyscall {
                name,
                arch: arch.short_name().to_owned(),
                nr: key.nr,
                count: denial.count,
                errno: (killed.is_none() && (-4095..0).contains(&denial.ret))
                    .then_some(-denial.ret),
                killed,
                first: Some(Caller {
                    pid: denial.tgid,
                    tid: denial.tid,
                    comm: events::text(&denial.comm),
                    exe,
                }),
            });
        }
        out.sort_by(|a, b| {
            (&a.name, &a.arch, a.killed.is_some()).cmp(&(&b.name, &b.arch, b.killed.is_some()))
        });
        Ok(out)
    }
}
