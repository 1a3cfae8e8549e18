//! Watching an enforced cgroup for the syscalls its seccomp filter denies.
//!
//! The kernel side (`enforce_enter`/`enforce_exit` in profiler-ebpf) counts a
//! syscall as denied when its task reaches `sys_exit` without having entered
//! it: the filter runs before the `sys_enter` tracepoint and skips what it
//! denies. So a syscall that ran and failed for its own reasons (ENOENT,
//! EBADF) is never reported, whatever its errno.

use std::collections::BTreeMap;

use aya::{Ebpf, maps::HashMap};
use profiler_common::{Denial, DenialKey, maps, programs};

use crate::{
    profile::{Arch, table},
    recording::tracer::{self, TracerError},
    session::RunCgroup as RecordingCgroup,
};

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
    /// The first process denied it: pid, thread, command name, executable.
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    pub exe: Option<String>,
}

/// The denial watcher, attached to one cgroup tree.
pub struct DenialWatch {
    ebpf: Ebpf,
    arch: Arch,
    /// Executables, looked up while the processes are alive.
    exes: BTreeMap<u32, String>,
}

impl DenialWatch {
    pub fn attach(cgroup: &RecordingCgroup, arch: Arch) -> Result<DenialWatch, TracerError> {
        let mut ebpf = tracer::load_object(cgroup, tracer::Purpose::WatchDenials)?;
        // Entry first: a syscall seen leaving must have been seen entering.
        let _ = tracer::attach_raw(&mut ebpf, programs::ENFORCE_ENTER, "sys_enter")?;
        let _ = tracer::attach_raw(&mut ebpf, programs::ENFORCE_EXIT, "sys_exit")?;
        Ok(DenialWatch {
            ebpf,
            arch,
            exes: BTreeMap::new(),
        })
    }

    /// The denials so far, sorted by name.
    pub fn denials(&mut self) -> Result<Vec<DeniedSyscall>, TracerError> {
        let map = self.ebpf.map(maps::DENIALS).ok_or(TracerError::Map {
            map: maps::DENIALS,
            source: aya::maps::MapError::InvalidName {
                name: maps::DENIALS.to_owned(),
            },
        })?;
        let denials: HashMap<_, DenialKey, Denial> =
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
            let arch = self.arch.of_abi(key.abi as usize).unwrap_or(self.arch);
            let name = u64::try_from(key.nr)
                .ok()
                .and_then(|nr| table::name_of(arch, nr))
                .map_or_else(|| format!("syscall_{}", key.nr), str::to_owned);
            let exe = self
                .exes
                .entry(denial.tgid)
                .or_insert_with(|| {
                    std::fs::read_link(format!("/proc/{}/exe", denial.tgid))
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                })
                .clone();
            let comm_len = denial.comm.iter().position(|&b| b == 0).unwrap_or(16);
            out.push(DeniedSyscall {
                name,
                arch: arch.short_name().to_owned(),
                nr: key.nr,
                count: denial.count,
                errno: (-4095..0).contains(&denial.ret).then_some(-denial.ret),
                pid: denial.tgid,
                tid: denial.tid,
                comm: String::from_utf8_lossy(&denial.comm[..comm_len]).into_owned(),
                exe: (!exe.is_empty()).then_some(exe),
            });
        }
        out.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
        Ok(out)
    }
}
