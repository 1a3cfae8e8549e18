//! Loads the kernel side, attaches it for one cgroup, and reads its counters.

pub mod events;
pub mod layout;

use std::collections::BTreeMap;

use aya::{
    Btf, Ebpf, EbpfLoader,
    maps::{Array, MapError, PerCpuArray, PerCpuHashMap},
    programs::{
        BtfTracePoint, ProgramError, RawTracePoint, TracePoint,
        raw_trace_point::RawTracePointLinkId,
    },
};
use profiler_common::{
    ABI_COUNT, Counts, KernelLayout, OutOfRangeKey, PHASE_RUNTIME, PHASE_WORKLOAD, TABLE_SIZE,
    globals, maps, programs,
};

use self::events::KernelEvents;
use super::hook::{self, Hook, TracefsError};
use crate::{profile::Arch, session::RunCgroup};

/// The kernel side, built by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/profiler.bpf.o"));

#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    #[error(
        "recording needs root, or the capabilities CAP_BPF and CAP_PERFMON (this process \
         has {have}): run it with sudo"
    )]
    Privileges { have: String },
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error("cannot load the eBPF object: {0}")]
    Object(#[source] aya::EbpfError),
    #[error("the kernel's verifier rejected the eBPF program {program}: {reason}")]
    Verifier {
        program: &'static str,
        reason: String,
    },
    #[error(
        "cannot read the kernel's BTF for the `btf-tracepoint` hook ({0}); use the default \
         hook, which needs no BTF"
    )]
    Btf(#[source] aya::BtfError),
    #[error("cannot {what} the eBPF program {program}: {source}")]
    Program {
        what: &'static str,
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("cannot read the eBPF map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
}

/// Which syscalls of the recorded cgroup count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// All of them, from the command's `execve` on (native commands).
    Everything,
    /// Only those of tasks under a seccomp filter (containers): what the
    /// filter will see. The runtime's syscalls between its filter install
    /// and the entrypoint's `execve` are counted apart.
    SeccompFilter,
}

/// What the kernel side counted so far.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Calls by table and number.
    pub calls: BTreeMap<(Arch, u64), u64>,
    /// Calls by the container runtime after its filter install and up to the
    /// entrypoint's `execve` (empty for native commands).
    pub runtime_calls: BTreeMap<(Arch, u64), u64>,
    /// Calls with a number outside the tables; exact in total.
    pub out_of_range_total: u64,
    /// The same split by raw number, as far as the kernel could keep them.
    pub out_of_range: BTreeMap<(Arch, i64), u64>,
    /// Processes that left the recorded cgroup, and the programs executed
    /// in it (see [`events`]).
    pub events: KernelEvents,
}

impl Observation {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum::<u64>()
            + self.runtime_calls.values().sum::<u64>()
            + self.out_of_range_total
    }

    /// Distinct syscalls (by table and number), both phases together.
    pub fn distinct(&self) -> usize {
        self.calls
            .keys()
            .chain(self.runtime_calls.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }
}

/// The counting program, attached and counting for one cgroup tree.
pub struct Tracer {
    ebpf: Ebpf,
    arch: Arch,
    /// The `sys_exit` program that tracks the runtime phase, while attached.
    exit_link: Option<RawTracePointLinkId>,
    /// Event hooks that could not be attached, and why.
    unwatched: Vec<String>,
}

/// What the eBPF object is loaded for: the maps the other use needs get one
/// entry, so they take next to no kernel memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Counting, with or without the seccomp-filter boundary.
    Record { require_seccomp: bool },
    /// Watching for denials.
    WatchDenials,
}

/// Loads the eBPF object for the cgroup tree of `cgroup` (nothing attached
/// yet), after checking the privileges it takes. With it comes why the
/// event hooks cannot work here, if they cannot (no kernel BTF).
pub(crate) fn load_object(
    cgroup: &RunCgroup,
    purpose: Purpose,
) -> Result<(Ebpf, Option<String>), TracerError> {
    check_privileges()?;
    // Kernel 6.18 charges BPF memory to the memory cgroup; RLIMIT_MEMLOCK
    // only matters on kernels before 5.11, and raising it needs
    // CAP_SYS_RESOURCE, which containers often lack. Try, never insist.
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a plain syscall with a valid pointer.
    let _ = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    let id = cgroup.id();
    let level = cgroup.level();
    let require_seccomp = u32::from(
        purpose
            == Purpose::Record {
                require_seccomp: true,
            },
    );
    let unused: &[&str] = match purpose {
        Purpose::Record {
            require_seccomp: true,
        } => &[maps::IN_SYSCALL, maps::DENIALS],
        Purpose::Record {
            require_seccomp: false,
        } => &[maps::IN_SYSCALL, maps::DENIALS, maps::RUNTIME_PROCESSES],
        Purpose::WatchDenials => &[maps::RUNTIME_PROCESSES, maps::OUT_OF_RANGE, maps::COUNTS],
    };
    let watch_kills = u32::from(purpose == Purpose::WatchDenials);
    let (layout, no_layout) = match events::kernel_layout() {
        Ok(layout) => (layout, None),
        Err(why) => (KernelLayout::default(), Some(why)),
    };
    let mut loader = EbpfLoader::new();
    loader
        .override_global(globals::TARGET_CGROUP_ID, &id, true)
        .override_global(globals::TARGET_CGROUP_LEVEL, &level, true)
        .override_global(globals::REQUIRE_SECCOMP, &require_seccomp, true)
        .override_global(globals::KERNEL_LAYOUT, &layout, true)
        .override_global(globals::WATCH_KILLS, &watch_kills, true);
    for map in unused {
        loader.map_max_entries(map, 1);
    }
    let ebpf = loader.load(OBJECT).map_err(TracerError::Object)?;
    Ok((ebpf, no_layout))
}

/// Attaches the hooks of the rare events (moves out of the cgroup, forks,
/// exits, execs), unless the kernel's layout is unknown. Returns what is not
/// watched, and why; `kills` only changes the words.
pub(crate) fn attach_events(
    ebpf: &mut Ebpf,
    no_layout: Option<String>,
    kills: bool,
) -> Vec<String> {
    match no_layout {
        Some(why) => vec![format!(
            "cannot watch for processes leaving the cgroup{}: {why}",
            if kills { " nor for seccomp kills" } else { "" }
        )],
        None => events::attach_event_hooks(ebpf, kills),
    }
}

/// This process's effective capability set, as the kernel's bit mask
/// (bit N is capability N), from `/proc/self/status`; empty if unreadable.
pub fn effective_capabilities() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

/// Checks for CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which implies both)
/// in the effective set, so that a user without them gets a message that says
/// so instead of an EPERM from the first map creation.
pub fn check_privileges() -> Result<(), TracerError> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let effective = effective_capabilities();
    let has = |cap: u32| effective & (1u64 << cap) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        Ok(())
    } else {
        Err(TracerError::Privileges {
            have: format!("effective capabilities {effective:#x}"),
        })
    }
}

impl Tracer {
    /// Loads the program for `cgroup` and attaches it with `hook`. From the
    /// moment this returns, every syscall entered in the cgroup is counted.
    pub fn attach(
        cgroup: &RunCgroup,
        hook: Hook,
        boundary: Boundary,
        arch: Arch,
    ) -> Result<Tracer, TracerError> {
        check_privileges()?;
        if hook == Hook::Tracepoint {
            hook::ensure_tracefs()?;
        }
        let (mut ebpf, no_layout) = load_object(
            cgroup,
            Purpose::Record {
                require_seccomp: boundary == Boundary::SeccompFilter,
            },
        )?;
        // Before the counting starts, so that no move out is missed.
        let unwatched = attach_events(&mut ebpf, no_layout, false);

        let name = match hook {
            Hook::RawTracepoint => programs::RAW_TRACEPOINT,
            Hook::Tracepoint => programs::TRACEPOINT,
            Hook::BtfTracepoint => programs::BTF_TRACEPOINT,
            Hook::VerifierSelftest => programs::VERIFIER_SELFTEST,
        };
        // The exit side goes on first, so that no filter install is missed
        // once the entry side counts.
        let exit_link = match boundary {
            Boundary::SeccompFilter => Some(attach_raw(&mut ebpf, programs::SYS_EXIT, "sys_exit")?),
            Boundary::Everything => None,
        };
        let program = ebpf.program_mut(name).ok_or(TracerError::Program {
            what: "find",
            program: name,
            source: ProgramError::UnexpectedProgramType,
        })?;
        let fail = |what| move |e| program_error(name, what, e);
        match hook {
            Hook::RawTracepoint | Hook::VerifierSelftest => {
                let p: &mut RawTracePoint = program.try_into().map_err(fail("load"))?;
                p.load().map_err(fail("load"))?;
                p.attach("sys_enter").map_err(fail("attach"))?;
            }
            Hook::Tracepoint => {
                let p: &mut TracePoint = program.try_into().map_err(fail("load"))?;
                p.load().map_err(fail("load"))?;
                p.attach("raw_syscalls", "sys_enter")
                    .map_err(fail("attach"))?;
            }
            Hook::BtfTracepoint => {
                let btf = Btf::from_sys_fs().map_err(TracerError::Btf)?;
                let p: &mut BtfTracePoint = program.try_into().map_err(fail("load"))?;
                p.load("sys_enter", &btf).map_err(fail("load"))?;
                p.attach().map_err(fail("attach"))?;
            }
        }
        Ok(Tracer {
            ebpf,
            arch,
            exit_link,
            unwatched,
        })
    }

    /// Once a container's entrypoint runs, the runtime phase is over: the
    /// `sys_exit` program goes, so that the rest of the recording costs the
    /// host's other tasks one hook, not two. Processes that a runtime starts
    /// later (`docker exec`) are then counted as the workload's from their
    /// first filtered syscall on; both go into the profile alike. Returns
    /// whether it detached now.
    pub fn end_runtime_phase_if_over(&mut self) -> Result<bool, TracerError> {
        if self.exit_link.is_none() {
            return Ok(false);
        }
        let map = self
            .ebpf
            .map(maps::ENTRYPOINTS_STARTED)
            .ok_or(TracerError::Map {
                map: maps::ENTRYPOINTS_STARTED,
                source: MapError::InvalidName {
                    name: maps::ENTRYPOINTS_STARTED.to_owned(),
                },
            })?;
        let started: Array<_, u64> = Array::try_from(map).map_err(|source| TracerError::Map {
            map: maps::ENTRYPOINTS_STARTED,
            source,
        })?;
        let count = started.get(&0, 0).map_err(|source| TracerError::Map {
            map: maps::ENTRYPOINTS_STARTED,
            source,
        })?;
        if count == 0 {
            return Ok(false);
        }
        if let Some(link) = self.exit_link.take()
            && let Some(program) = self.ebpf.program_mut(programs::SYS_EXIT)
        {
            let p: &mut RawTracePoint = program
                .try_into()
                .map_err(|e| program_error(programs::SYS_EXIT, "detach", e))?;
            p.detach(link)
                .map_err(|e| program_error(programs::SYS_EXIT, "detach", e))?;
        }
        Ok(true)
    }

    /// What the event hooks saw so far: processes that left the recorded
    /// cgroup, the programs executed in it.
    pub fn events(&self) -> Result<KernelEvents, TracerError> {
        events::read(&self.ebpf, &self.unwatched)
    }

    /// Reads the counters: one lookup for the tables (one value per CPU),
    /// one walk of the out-of-range map, and the events.
    pub fn snapshot(&self) -> Result<Observation, TracerError> {
        let map_err = |map: &'static str| move |source: MapError| TracerError::Map { map, source };
        let counts_map = self.ebpf.map(maps::COUNTS).ok_or(TracerError::Map {
            map: maps::COUNTS,
            source: MapError::InvalidName {
                name: maps::COUNTS.to_owned(),
            },
        })?;
        let counts: PerCpuArray<_, Counts> =
            PerCpuArray::try_from(counts_map).map_err(map_err(maps::COUNTS))?;
        let mut observation = Observation::default();
        for phase in [PHASE_WORKLOAD, PHASE_RUNTIME] {
            let per_cpu = counts.get(&phase, 0).map_err(map_err(maps::COUNTS))?;
            let calls = if phase == PHASE_RUNTIME {
                &mut observation.runtime_calls
            } else {
                &mut observation.calls
            };
            for cpu in per_cpu.iter() {
                for abi in 0..ABI_COUNT {
                    let Some(arch) = self.arch.of_abi(abi) else {
                        continue;
                    };
                    for nr in 0..TABLE_SIZE {
                        let n = cpu.calls[abi][nr];
                        if n > 0 {
                            *calls.entry((arch, nr as u64)).or_default() += n;
                        }
                    }
                }
                observation.out_of_range_total += cpu.out_of_range;
            }
        }

        if observation.out_of_range_total > 0
            && let Some(map) = self.ebpf.map(maps::OUT_OF_RANGE)
        {
            let oor: PerCpuHashMap<_, OutOfRangeKey, u64> =
                PerCpuHashMap::try_from(map).map_err(map_err(maps::OUT_OF_RANGE))?;
            for entry in oor.iter() {
                let (key, values) = entry.map_err(map_err(maps::OUT_OF_RANGE))?;
                let arch = self.arch.of_abi(key.abi as usize).unwrap_or(self.arch);
                *observation.out_of_range.entry((arch, key.nr)).or_default() +=
                    values.iter().sum::<u64>();
            }
        }
        observation.events = self.events()?;
        Ok(observation)
    }
}

/// A program's load or attach failure as an error naming the program, with
/// the verifier's reason where the verifier refused it.
pub(crate) fn program_error(
    program: &'static str,
    what: &'static str,
    source: ProgramError,
) -> TracerError {
    match source {
        ProgramError::LoadError { verifier_log, .. } => TracerError::Verifier {
            program,
            reason: verifier_reason(&verifier_log.to_string()),
        },
        source => TracerError::Program {
            what,
            program,
            source,
        },
    }
}

/// Loads and attaches the raw tracepoint program `name` to `tracepoint`.
pub(crate) fn attach_raw(
    ebpf: &mut Ebpf,
    name: &'static str,
    tracepoint: &str,
) -> Result<RawTracePointLinkId, TracerError> {
    let fail = |what| move |e| program_error(name, what, e);
    let program = ebpf.program_mut(name).ok_or(TracerError::Program {
        what: "find",
        program: name,
        source: ProgramError::UnexpectedProgramType,
    })?;
    let p: &mut RawTracePoint = program.try_into().map_err(fail("load"))?;
    p.load().map_err(fail("load"))?;
    p.attach(tracepoint).map_err(fail("attach"))
}

/// The lines of a verifier log that say why: the last few lines before its
/// closing statistics, where the verifier names the failing instruction and
/// the reason.
fn verifier_reason(log: &str) -> String {
    let is_statistics = |line: &str| {
        ["verification time", "stack depth", "processed "]
            .iter()
            .any(|prefix| line.starts_with(prefix))
    };
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_statistics(l))
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        "the verifier gave no log".to_owned()
    } else {
        tail.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::verifier_reason;

    #[test]
    fn verifier_reason_keeps_the_reason_and_drops_statistics() {
        let log = "0: R1=ctx() R10=fp0\n0: (b7) r1 = 4096\n1: (61) r0 = *(u32 *)(r1 +0)\n\
                   R1 invalid mem access 'scalar'\nverification time 36 usec\n\
                   stack depth 8\nprocessed 6 insns (limit 1000000)\n";
        assert_eq!(
            verifier_reason(log),
            "0: (b7) r1 = 4096 / 1: (61) r0 = *(u32 *)(r1 +0) / R1 invalid mem access 'scalar'"
        );
        assert_eq!(verifier_reason(""), "the verifier gave no log");
    }
}
