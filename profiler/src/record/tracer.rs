//! The counting program: attached for one cgroup tree, it counts every
//! syscall entered there; [`Tracer::snapshot`] reads the counters. It is
//! built on the probe (`session::probe`), which loads, attaches and
//! detaches: what is the counting's own is which programs go on (the
//! runtime phase's `sys_exit` for a container) and how the counters read.

use std::collections::BTreeMap;

use aya::maps::{Array, MapError, PerCpuArray, PerCpuHashMap};
use profiler_common::{
    Abi, ArgKey, ArgPending, Counts, Phase, SyscallKey, TABLE_SIZE, arg_lost_index, maps, programs,
};

use crate::{
    profile::{Arch, table},
    session::{
        CgroupTree,
        ebpf::{self, Purpose, TracerError},
        events::{self, KernelEvents, Watch},
        hook::Hook,
        probe::{EverySyscall, HookPrograms, Hooks, Probe},
    },
    syscall_args::{self, ArgObservations},
};

/// Which syscalls of the recorded cgroup count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Boundary {
    /// All of them, from the command's `execve` on (native commands).
    Everything,
    /// Only those of tasks under a seccomp filter (containers): what the
    /// filter will see. The runtime's syscalls between its filter install
    /// and the entrypoint's `execve` are counted apart.
    SeccompFilter,
}

/// What the kernel side counted so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observation {
    /// Calls by table and number.
    pub calls: BTreeMap<(Arch, u64), u64>,
    /// Calls by the container runtime after its filter install and up to the
    /// entrypoint's `execve` (empty for native commands).
    pub runtime_calls: BTreeMap<(Arch, u64), u64>,
    /// The captured argument values of the workload's calls (the syscalls
    /// of [`syscall_args::CAPTURED`]), per syscall; the values of each are
    /// as many as its table entry captures.
    pub arguments: ArgObservations,
    /// The same for the runtime's calls (`runtime_calls`).
    pub runtime_arguments: ArgObservations,
    /// Calls with a number outside the tables; exact in total.
    pub out_of_range_total: u64,
    /// The same split by raw number, as far as the kernel could keep them.
    pub out_of_range: BTreeMap<(Arch, i64), u64>,
    /// Processes that left the recorded cgroup, and the programs executed
    /// in it (see [`events`]).
    pub events: KernelEvents,
}

impl Observation {
    pub(crate) fn total_calls(&self) -> u64 {
        self.calls.values().sum::<u64>()
            + self.runtime_calls.values().sum::<u64>()
            + self.out_of_range_total
    }

    /// Distinct syscalls (by table and number), both phases together.
    pub(crate) fn distinct(&self) -> usize {
        self.calls
            .keys()
            .chain(self.runtime_calls.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }
}

/// The counting program, attached and counting for one cgroup tree.
pub(crate) struct Tracer {
    probe: Probe,
    arch: Arch,
    /// The hook the counting program went on with.
    hook: Hook,
}

impl Tracer {
    /// Loads the program for `cgroup` and attaches it with `hook`. From the
    /// moment this returns, every syscall entered in the cgroup is counted;
    /// with `capture_arguments`, the argument values of the syscalls whose
    /// privilege is in an argument too; with `watch_loads`, the shared
    /// objects loaded at run time (for the coverage scan).
    pub(crate) fn start(
        cgroup: CgroupTree,
        hook: Hook,
        boundary: Boundary,
        arch: Arch,
        capture_arguments: bool,
        watch_loads: bool,
    ) -> Result<Tracer, TracerError> {
        let purpose = Purpose::Record {
            require_seccomp: boundary == Boundary::SeccompFilter,
            capture_arguments,
            watch_loads,
        };
        let mut probe = Probe::load(purpose, cgroup)?;
        let counting = match hook {
            // Not a hook: a program the verifier rejects, for the tests.
            Hook::VerifierSelftest => HookPrograms {
                raw: programs::VERIFIER_SELFTEST,
                tracepoint: None,
                btf: programs::VERIFIER_SELFTEST,
            },
            _ => HookPrograms {
                raw: programs::RAW_TRACEPOINT,
                tracepoint: Some(programs::TRACEPOINT),
                btf: programs::BTF_TRACEPOINT,
            },
        };
        // The events go on before the counting starts, so that no move out
        // is missed. The exit side goes on before the entry side, so that
        // no filter install is missed once the entry side counts.
        let attached = probe.start(&Hooks {
            watched: events::hooks(Watch::Recording),
            without_layout: events::without_layout(Watch::Recording),
            raw: match boundary {
                Boundary::SeccompFilter => vec![(programs::SYS_EXIT, "sys_exit")],
                Boundary::Everything => Vec::new(),
            },
            every_syscall: Some(EverySyscall {
                hook,
                programs: vec![(counting, "sys_enter")],
            }),
        })?;
        Ok(Tracer {
            probe,
            arch,
            hook: attached.unwrap_or(hook),
        })
    }

    /// The hook the counting program went on with (`Auto` resolved).
    pub(crate) fn hook(&self) -> Hook {
        self.hook
    }

    /// Hooks of rare events that could not be attached, and why.
    pub(crate) fn unwatched(&self) -> &[String] {
        self.probe.unwatched()
    }

    /// Once a container's entrypoint runs, the runtime phase is over: the
    /// `sys_exit` program goes, so that the rest of the recording costs the
    /// host's other tasks one hook, not two. Processes that a runtime starts
    /// later (`docker exec`) are then counted as the workload's from their
    /// first filtered syscall on; both go into the profile alike. Returns
    /// whether it detached now.
    pub(crate) fn end_runtime_phase_if_over(&mut self) -> Result<bool, TracerError> {
        if !self.probe.is_attached(programs::SYS_EXIT) {
            return Ok(false);
        }
        let map_err = |source| TracerError::Map {
            map: maps::ENTRYPOINTS_STARTED,
            source,
        };
        let started: Array<_, u64> =
            Array::try_from(self.probe.map(maps::ENTRYPOINTS_STARTED)?).map_err(map_err)?;
        if started.get(&0, 0).map_err(map_err)? == 0 {
            return Ok(false);
        }
        self.probe.detach(programs::SYS_EXIT)?;
        Ok(true)
    }

    /// Detaches the counting program and its event hooks, and frees the
    /// kernel side's maps.
    pub(crate) fn stop(self) -> Result<(), TracerError> {
        self.probe.stop()
    }

    /// What the event hooks saw so far: processes that left the recorded
    /// cgroup, the programs executed in it.
    pub(crate) fn events(&self) -> Result<KernelEvents, TracerError> {
        events::read(&self.probe)
    }

    /// Reads the counters: one lookup for the tables (one value per CPU),
    /// one walk of the out-of-range map, and the events.
    pub(crate) fn snapshot(&self) -> Result<Observation, TracerError> {
        let map_err = |map: &'static str| move |source: MapError| TracerError::Map { map, source };
        let counts: PerCpuArray<_, Counts> =
            PerCpuArray::try_from(self.probe.map(maps::COUNTS)?).map_err(map_err(maps::COUNTS))?;
        let mut observation = Observation::default();
        // A native recording's map has the workload's entry only.
        for phase in Phase::ALL
            .into_iter()
            .filter(|&phase| (phase as u32) < counts.len())
        {
            let per_cpu = counts
                .get(&(phase as u32), 0)
                .map_err(map_err(maps::COUNTS))?;
            let calls = match phase {
                Phase::Runtime => &mut observation.runtime_calls,
                Phase::Workload => &mut observation.calls,
            };
            for cpu in per_cpu.iter() {
                for abi in Abi::ALL {
                    let Some(arch) = self.arch.of_abi(abi) else {
                        continue;
                    };
                    for nr in 0..TABLE_SIZE {
                        let n = cpu.calls[abi.index()][nr];
                        if n > 0 {
                            *calls.entry((arch, nr as u64)).or_default() += n;
                        }
                    }
                }
                observation.out_of_range_total += cpu.out_of_range;
            }
        }

        if observation.out_of_range_total > 0
            && let Ok(map) = self.probe.map(maps::OUT_OF_RANGE)
        {
            let oor: PerCpuHashMap<_, SyscallKey, u64> =
                PerCpuHashMap::try_from(map).map_err(map_err(maps::OUT_OF_RANGE))?;
            for entry in oor.iter() {
                let (key, values) = entry.map_err(map_err(maps::OUT_OF_RANGE))?;
                let arch = Abi::from_u32(key.abi)
                    .and_then(|abi| self.arch.of_abi(abi))
                    .unwrap_or(self.arch);
                *observation.out_of_range.entry((arch, key.nr)).or_default() +=
                    values.iter().sum::<u64>();
            }
        }
        self.read_arguments(&mut observation)?;
        observation.events = self.events()?;
        Ok(observation)
    }

    /// Reads the captured values (one walk of their map, plus the calls
    /// each CPU holds for the last tuple of each syscall) and the calls whose
    /// values were lost (one lookup per capture slot and phase). Exact
    /// once the recorded tasks are gone; while they run, a tuple moving from
    /// the pending slot to the map between the two reads can be counted
    /// twice or not at all (the live line only).
    fn read_arguments(&self, observation: &mut Observation) -> Result<(), TracerError> {
        let map_err = |map: &'static str| move |source: MapError| TracerError::Map { map, source };
        let values_map = self.probe.map(maps::ARG_VALUES)?;
        let values: PerCpuHashMap<_, ArgKey, u64> =
            PerCpuHashMap::try_from(values_map).map_err(map_err(maps::ARG_VALUES))?;
        let mut entries = Vec::new();
        for entry in values.iter() {
            let (key, per_cpu) = entry.map_err(map_err(maps::ARG_VALUES))?;
            entries.push((key, per_cpu.iter().sum::<u64>()));
        }
        let pending_map = self.probe.map(maps::ARG_PENDING)?;
        let pending: PerCpuArray<_, ArgPending> =
            PerCpuArray::try_from(pending_map).map_err(map_err(maps::ARG_PENDING))?;
        for slot in 0..pending.len() {
            let per_cpu = pending.get(&slot, 0).map_err(map_err(maps::ARG_PENDING))?;
            entries.extend(
                per_cpu
                    .iter()
                    .filter(|p| p.calls > 0)
                    .map(|p| (p.key, p.calls)),
            );
        }
        for (key, calls) in entries {
            let Some(arch) = Abi::from_u32(u32::from(key.abi)).and_then(|a| self.arch.of_abi(a))
            else {
                continue;
            };
            let nr = u64::from(key.nr);
            let width = table::name_of(arch, nr)
                .and_then(syscall_args::captured)
                .map_or(key.values.len(), |c| c.args.len().min(key.values.len()));
            if calls == 0 {
                continue;
            }
            let observations = if key.phase == Phase::Runtime as u8 {
                &mut observation.runtime_arguments
            } else {
                &mut observation.arguments
            };
            *observations
                .entry((arch, nr))
                .or_default()
                .values
                .entry(key.values[..width].to_vec())
                .or_default() += calls;
        }

        let lost_map = self.probe.map(maps::ARG_LOST)?;
        let lost: PerCpuArray<_, u64> =
            PerCpuArray::try_from(lost_map).map_err(map_err(maps::ARG_LOST))?;
        // The slots as the loader filled them (for the host's tables).
        let slots = Arch::host().map(ebpf::capture_slot_syscalls);
        for (slot, &(abi, nr)) in slots.iter().flatten().enumerate() {
            let Some(arch) = self.arch.of_abi(abi) else {
                continue;
            };
            for phase in Phase::ALL {
                let index = arg_lost_index(phase as u8, slot as u32);
                // A native recording's map has the workload's slots only.
                if index >= lost.len() {
                    continue;
                }
                let n: u64 = lost
                    .get(&index, 0)
                    .map_err(map_err(maps::ARG_LOST))?
                    .iter()
                    .sum();
                if n > 0 {
                    let observations = match phase {
                        Phase::Runtime => &mut observation.runtime_arguments,
                        Phase::Workload => &mut observation.arguments,
                    };
                    observations.entry((arch, nr as u64)).or_default().lost += n;
                }
            }
        }
        Ok(())
    }
}
