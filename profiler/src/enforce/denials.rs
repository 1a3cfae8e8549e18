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
//! process is gone. For the syscalls whose privilege is in an argument
//! ([`crate::syscall_args::CAPTURED`]), the values of the denied calls are
//! kept too, with exact counts, so the report names what was refused.

use std::collections::BTreeMap;

use aya::maps::HashMap;
use profiler_common::{
    Abi, CaptureSpec, DENIAL_KILLED_PROCESS, DENIAL_KILLED_THREAD, Denial, DeniedValuesKey,
    SyscallKey, maps, programs,
};

use crate::{
    judge::{
        denial::{Caller, DeniedSyscall, Kill},
        values,
    },
    profile::{Arch, table},
    session::{
        CgroupTree,
        ebpf::{Purpose, TracerError},
        events::{self, KernelEvents, Watch},
        hook::Hook,
        probe::{EverySyscall, HookPrograms, Hooks, Probe, Watched},
    },
};

/// The denial watcher, attached to one cgroup tree.
pub(crate) struct DenialWatch {
    probe: Probe,
    arch: Arch,
}

impl DenialWatch {
    /// Attaches the event hooks and, with `every_syscall`, the hooks on
    /// every syscall that find the denials (without: a seccomp listener
    /// finds the errno refusals, and only moves, execs, exits and the
    /// SIGSYS of a filter's kill or trap are watched here).
    pub(crate) fn start(
        cgroup: CgroupTree,
        arch: Arch,
        every_syscall: bool,
        hook: Hook,
    ) -> Result<DenialWatch, TracerError> {
        let mut probe = Probe::load(Purpose::WatchDenials { every_syscall }, cgroup)?;
        set_capture(&mut probe, arch)?;
        let mut watched = events::hooks(Watch::Enforcing);
        if !every_syscall {
            // Beside a listener: what the filter kills or traps never
            // reaches it, and is found at the SIGSYS the filter sends.
            watched.push(Watched {
                program: programs::SECCOMP_SIGNAL,
                tracepoint: "signal_generate",
                what: "the calls a seccomp filter kills a process for",
            });
        }
        // Events first, then entry, then exit: a syscall seen leaving must
        // have been seen entering. The BTF tracepoints read the task with
        // plain loads where the raw ones need helper calls (see
        // `session::hook`); they need the kernel's BTF and the fields'
        // offsets from it. Beside a listener nothing is attached on every
        // syscall.
        let every_syscall = every_syscall.then(|| EverySyscall {
            hook,
            programs: vec![
                (
                    HookPrograms {
                        raw: programs::ENFORCE_ENTER,
                        tracepoint: None,
                        btf: programs::ENFORCE_ENTER_BTF,
                    },
                    "sys_enter",
                ),
                (
                    HookPrograms {
                        raw: programs::ENFORCE_EXIT,
                        tracepoint: None,
                        btf: programs::ENFORCE_EXIT_BTF,
                    },
                    "sys_exit",
                ),
            ],
        });
        probe.start(&Hooks {
            watched,
            without_layout: events::without_layout(Watch::Enforcing),
            raw: Vec::new(),
            every_syscall,
        })?;
        Ok(DenialWatch { probe, arch })
    }

    /// Detaches the watch's hooks and frees the kernel side's maps.
    pub(crate) fn stop(self) -> Result<(), TracerError> {
        self.probe.stop()
    }

    /// What the event hooks saw so far: processes that left the watched
    /// cgroup (whose denials are no longer seen), programs executed in it.
    pub(crate) fn events(&self) -> Result<KernelEvents, TracerError> {
        events::read(&self.probe)
    }

    /// The denials so far, sorted by name.
    pub(crate) fn denials(&mut self) -> Result<Vec<DeniedSyscall>, TracerError> {
        let events = self.events()?;
        let map = self.probe.map(maps::DENIALS)?;
        let denials: HashMap<_, SyscallKey, Denial> =
            HashMap::try_from(map).map_err(|source| TracerError::Map {
                map: maps::DENIALS,
                source,
            })?;
        let mut values = self.denied_values()?;
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
            let values = match (
                crate::syscall_args::captured(&name),
                values.remove(&(key.nr, key.abi, key.tag)),
            ) {
                (Some(captured), Some(tuples)) => values::denied_values(captured, tuples),
                _ => Vec::new(),
            };
            out.push(DeniedSyscall {
                errno: (killed.is_none() && (-4095..0).contains(&denial.ret))
                    .then_some(-denial.ret),
                killed,
                first: Some(Caller {
                    pid: denial.tgid,
                    tid: denial.tid,
                    comm: events::text(&denial.comm),
                    exe,
                }),
                values,
                values_lost: denial.values_lost,
                first_args: Some(denial.args),
                ..DeniedSyscall::new(name, arch.short_name().to_owned(), key.nr, denial.count)
            });
        }
        out.sort_by(|a, b| {
            (&a.name, &a.arch, a.killed.is_some()).cmp(&(&b.name, &b.arch, b.killed.is_some()))
        });
        Ok(out)
    }

    /// The captured values of the denied calls, by denial.
    fn denied_values(&self) -> Result<BTreeMap<(i64, u32, u32), Tuples>, TracerError> {
        let map = self.probe.map(maps::DENIED_VALUES)?;
        let values: HashMap<_, DeniedValuesKey, u64> =
            HashMap::try_from(map).map_err(|source| TracerError::Map {
                map: maps::DENIED_VALUES,
                source,
            })?;
        let mut out: BTreeMap<(i64, u32, u32), Tuples> = BTreeMap::new();
        for entry in values.iter() {
            let (key, count) = entry.map_err(|source| TracerError::Map {
                map: maps::DENIED_VALUES,
                source,
            })?;
            let denial = key.denial;
            out.entry((denial.nr, denial.abi, denial.tag))
                .or_default()
                .push((key.values.to_vec(), count));
        }
        Ok(out)
    }
}

/// Tuples of captured values, each with its count.
type Tuples = Vec<(Vec<u64>, u64)>;

/// Tells the kernel side which arguments of the captured syscalls to keep
/// when one is denied, in every table of `arch` (a name a table lacks is
/// skipped there).
fn set_capture(probe: &mut Probe, arch: Arch) -> Result<(), TracerError> {
    let map = probe.map_mut(maps::DENIAL_CAPTURE)?;
    let mut specs: HashMap<_, SyscallKey, CaptureSpec> =
        HashMap::try_from(map).map_err(|source| TracerError::Map {
            map: maps::DENIAL_CAPTURE,
            source,
        })?;
    for abi in Abi::ALL {
        let Some(table_arch) = arch.of_abi(abi) else {
            continue;
        };
        for captured in crate::syscall_args::CAPTURED {
            let Some(nr) = table::number_of(table_arch, captured.syscall) else {
                continue;
            };
            let key = SyscallKey {
                nr: nr as i64,
                abi: abi as u32,
                tag: 0,
            };
            specs
                .insert(key, captured.kernel_spec(), 0)
                .map_err(|source| TracerError::Map {
                    map: maps::DENIAL_CAPTURE,
                    source,
                })?;
        }
    }
    Ok(())
}
