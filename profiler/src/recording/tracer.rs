//! The counting program: attached for one cgroup tree, it counts every
//! syscall entered there; [`Tracer::snapshot`] reads the counters.

use std::collections::BTreeMap;

use aya::{
    Ebpf,
    maps::{Array, MapError, PerCpuArray, PerCpuHashMap},
    programs::{RawTracePoint, raw_trace_point::RawTracePointLinkId},
};
use profiler_common::{
    Abi, ArgKey, ArgPending, Counts, Phase, SyscallKey, TABLE_SIZE, arg_lost_index, maps, programs,
};

use crate::{
    profile::{Arch, table},
    session::{
        RunCgroup,
        ebpf::{self, HookPrograms, Purpose, TracerError, attach_raw, program_error},
        events::{self, KernelEvents},
        hook::Hook,
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
    ebpf: Ebpf,
    arch: Arch,
    /// The `sys_exit` program that tracks the runtime phase, while attached.
    exit_link: Option<RawTracePointLinkId>,
    /// Event hooks that could not be attached, and why.
    unwatched: Vec<String>,
}

impl Tracer {
    /// Loads the program for `cgroup` and attaches it with `hook`. From the
    /// moment this returns, every syscall entered in the cgroup is counted;
    /// with `capture_arguments`, the argument values of the syscalls whose
    /// privilege is in an argument too; with `watch_loads`, the shared
    /// objects loaded at run time (for the coverage scan).
    pub(crate) fn attach(
        cgroup: &RunCgroup,
        hook: Hook,
        boundary: Boundary,
        arch: Arch,
        capture_arguments: bool,
        watch_loads: bool,
    ) -> Result<Tracer, TracerError> {
        // The privileges are checked by `load_object`.
        if hook == Hook::Tracepoint {
            ebpf::ensure_tracefs()?;
        }
        let (mut ebpf, kernel) = ebpf::load_object(
            cgroup,
            Purpose::Record {
                require_seccomp: boundary == Boundary::SeccompFilter,
                capture_arguments,
                watch_loads,
            },
        )?;
        // The BTF tracepoint reads the task through the fields' offsets; it
        // cannot run without them.
        let attach = ebpf::choose_hook(hook, &kernel)?;
        let no_layout = kernel.as_ref().err().cloned();
        // Before the counting starts, so that no move out is missed.
        let unwatched = ebpf::attach_events(&mut ebpf, no_layout, false);

        // The exit side goes on first, so that no filter install is missed
        // once the entry side counts.
        let exit_link = match boundary {
            Boundary::SeccompFilter => Some(attach_raw(&mut ebpf, programs::SYS_EXIT, "sys_exit")?),
            Boundary::Everything => None,
        };
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
        ebpf::attach_hook(&mut ebpf, &attach, &counting, "sys_enter")?;
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
    pub(crate) fn end_runtime_phase_if_over(&mut self) -> Result<bool, TracerError> {
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
    pub(crate) fn events(&self) -> Result<KernelEvents, TracerError> {
        events::read(&self.ebpf, &self.unwatched)
    }

    /// Reads the counters: one lookup for the tables (one value per CPU),
    /// one walk of the out-of-range map, and the events.
    pub(crate) fn snapshot(&self) -> Result<Observation, TracerError> {
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
            && let Some(map) = self.ebpf.map(maps::OUT_OF_RANGE)
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
        let missing = |map: &'static str| TracerError::Map {
            map,
            source: MapError::InvalidName {
                name: map.to_owned(),
            },
        };
        let values_map = self
            .ebpf
            .map(maps::ARG_VALUES)
            .ok_or_else(|| missing(maps::ARG_VALUES))?;
        let values: PerCpuHashMap<_, ArgKey, u64> =
            PerCpuHashMap::try_from(values_map).map_err(map_err(maps::ARG_VALUES))?;
        let mut entries = Vec::new();
        for entry in values.iter() {
            let (key, per_cpu) = entry.map_err(map_err(maps::ARG_VALUES))?;
            entries.push((key, per_cpu.iter().sum::<u64>()));
        }
        let pending_map = self
            .ebpf
            .map(maps::ARG_PENDING)
            .ok_or_else(|| missing(maps::ARG_PENDING))?;
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

        let lost_map = self
            .ebpf
            .map(maps::ARG_LOST)
            .ok_or_else(|| missing(maps::ARG_LOST))?;
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
