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

use aya::{Ebpf, maps::HashMap};
use profiler_common::{
    Abi, CaptureSpec, DENIAL_KILLED_PROCESS, DENIAL_KILLED_THREAD, Denial, DeniedValuesKey,
    SyscallKey, maps, programs,
};

use crate::{
    judging::{
        denial::{Caller, DeniedSyscall, Kill},
        values,
    },
    profile::{Arch, table},
    session::{
        RunCgroup,
        ebpf::{self, HookPrograms, TracerError},
        events::{self, KernelEvents},
        hook::Hook,
    },
};

/// The denial watcher, attached to one cgroup tree.
pub(crate) struct DenialWatch {
    ebpf: Ebpf,
    arch: Arch,
    /// Event hooks that could not be attached, and why.
    unwatched: Vec<String>,
}

impl DenialWatch {
    /// Attaches the event hooks and, with `every_syscall`, the hooks on
    /// every syscall that find the denials (without: a seccomp listener
    /// finds the errno refusals, and only moves, execs, exits and the
    /// SIGSYS of a filter's kill or trap are watched here).
    pub(crate) fn attach(
        cgroup: &RunCgroup,
        arch: Arch,
        every_syscall: bool,
        hook: Hook,
    ) -> Result<DenialWatch, TracerError> {
        let (mut ebpf, kernel) =
            ebpf::load_object(cgroup, ebpf::Purpose::WatchDenials { every_syscall })?;
        // Events first, then entry, then exit: a syscall seen leaving must
        // have been seen entering.
        // The BTF tracepoints read the task with plain loads where the raw
        // ones need helper calls (see `session::hook`); they need the
        // kernel's BTF and the fields' offsets from it. Beside a listener
        // nothing is attached on every syscall.
        let attach = match every_syscall {
            true => Some(ebpf::choose_hook(hook, &kernel)?),
            false => None,
        };
        let no_layout = kernel.err();
        let layout_known = no_layout.is_none();
        let mut unwatched = ebpf::attach_events(&mut ebpf, no_layout, true);
        set_capture(&mut ebpf, arch)?;
        if !every_syscall && layout_known {
            // Beside a listener: what the filter kills or traps never
            // reaches it, and is found at the SIGSYS the filter sends.
            if let Err(e) = ebpf::attach_raw(&mut ebpf, programs::SECCOMP_SIGNAL, "signal_generate")
            {
                unwatched.push(format!(
                    "cannot watch for the calls a seccomp filter kills a process for: {e}"
                ));
            }
        }
        if let Some(attach) = &attach {
            let entry = HookPrograms {
                raw: programs::ENFORCE_ENTER,
                tracepoint: None,
                btf: programs::ENFORCE_ENTER_BTF,
            };
            let exit = HookPrograms {
                raw: programs::ENFORCE_EXIT,
                tracepoint: None,
                btf: programs::ENFORCE_EXIT_BTF,
            };
            ebpf::attach_hook(&mut ebpf, attach, &entry, "sys_enter")?;
            ebpf::attach_hook(&mut ebpf, attach, &exit, "sys_exit")?;
        }
        Ok(DenialWatch {
            ebpf,
            arch,
            unwatched,
        })
    }

    /// What the event hooks saw so far: processes that left the watched
    /// cgroup (whose denials are no longer seen), programs executed in it.
    pub(crate) fn events(&self) -> Result<KernelEvents, TracerError> {
        events::read(&self.ebpf, &self.unwatched)
    }

    /// The denials so far, sorted by name.
    pub(crate) fn denials(&mut self) -> Result<Vec<DeniedSyscall>, TracerError> {
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
        let map = self.ebpf.map(maps::DENIED_VALUES).ok_or(TracerError::Map {
            map: maps::DENIED_VALUES,
            source: aya::maps::MapError::InvalidName {
                name: maps::DENIED_VALUES.to_owned(),
            },
        })?;
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
fn set_capture(ebpf: &mut Ebpf, arch: Arch) -> Result<(), TracerError> {
    let map = ebpf.map_mut(maps::DENIAL_CAPTURE).ok_or(TracerError::Map {
        map: maps::DENIAL_CAPTURE,
        source: aya::maps::MapError::InvalidName {
            name: maps::DENIAL_CAPTURE.to_owned(),
        },
    })?;
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
