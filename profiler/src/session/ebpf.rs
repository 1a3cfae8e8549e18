//! The kernel side's object, built by build.rs, and how it is loaded for
//! one cgroup tree: its globals, and each map sized for the purpose it is
//! loaded for from the uses the map declares, so the maps a purpose does
//! not use get one entry and take next to no kernel memory. The probe
//! ([`super::probe`]) loads it here, and attaches and detaches its hooks.

use std::{io, path::Path};

use aya::{Ebpf, EbpfLoader, maps::MapError, programs::ProgramError};
use profiler_common::{
    Abi, CAPTURE_SPECS, CaptureSpec, KernelLayout, TABLE_SIZE, globals, maps, uses,
};

use super::DOCTOR_HINT;
use super::layout::KernelTypes;
use crate::{
    profile::{Arch, table},
    syscall_args::CAPTURED,
};

/// A cgroup2 tree the kernel side watches: the cgroup's id and its depth
/// below the root, which is all the eBPF programs need to tell whether a
/// task is in it or below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CgroupTree {
    /// The id `bpf_get_current_cgroup_id()` gives for a task inside it (the
    /// directory's inode number).
    pub(crate) id: u64,
    /// Depth below the cgroup2 root (the root is 0).
    pub(crate) level: u32,
}

/// The kernel side, built by build.rs; empty where build.rs embedded its
/// placeholder (clippy, or a dev build without bpf-linker): see
/// [`TracerError::NoObject`].
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/profiler.bpf.o"));

#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    #[error(
        "this syscall-profile was built without its eBPF program (bpf-linker was missing, or \
         SYSCALL_PROFILE_EBPF=placeholder was set, when it was built): run `cargo xtask setup \
         --bpf-linker` and build it again"
    )]
    NoObject,
    #[error(
        "recording needs root, or the capabilities CAP_BPF and CAP_PERFMON (this process \
         has {have}): run it with sudo; {DOCTOR_HINT}"
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
         hook, which needs no BTF; {DOCTOR_HINT}"
    )]
    Btf(#[source] aya::BtfError),
    #[error(
        "the `{hook}` hook needs the offsets of a few kernel fields, which cannot be read \
         here ({why}); use `--hook raw-tracepoint`; {DOCTOR_HINT}"
    )]
    NoLayout { hook: &'static str, why: String },
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

/// What the eBPF object is loaded for: the maps that serve none of its
/// uses ([`maps::ALL`]) get one entry, so they take next to no kernel
/// memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Counting, with or without the seccomp-filter boundary, and with or
    /// without the argument values of the syscalls whose privilege is in
    /// an argument.
    Record {
        require_seccomp: bool,
        capture_arguments: bool,
        /// Note the shared objects the tree loads at run time, for the
        /// coverage scan.
        watch_loads: bool,
    },
    /// Watching for denials: on every syscall (the eBPF watch), or only
    /// the rare events beside a seccomp listener, which finds the errno
    /// refusals itself: the kills (of a call from an architecture the
    /// filter does not name, too) and traps are found at the SIGSYS the
    /// filter sends, or at the killed thread's exit.
    WatchDenials { every_syscall: bool },
    /// The node agent: every container of the host, counted by container.
    Agent,
    /// Learning the ancestry in the whole tree of the cgroup with this id,
    /// this process's own ([`maps::ANCESTRY`]).
    OwnAncestry { cgroup: u64 },
}

impl Purpose {
    /// The uses of the object this purpose makes ([`uses`]).
    fn uses(self) -> u16 {
        match self {
            Purpose::Record {
                require_seccomp,
                capture_arguments,
                watch_loads,
            } => {
                let mut made = match require_seccomp {
                    true => uses::RECORD_CONTAINER,
                    false => uses::RECORD_NATIVE,
                };
                if capture_arguments {
                    made |= uses::CAPTURE_ARGUMENTS;
                }
                if watch_loads {
                    made |= uses::WATCH_LOADS;
                }
                made
            }
            Purpose::WatchDenials {
                every_syscall: true,
            } => uses::WATCH_EVERY_SYSCALL,
            Purpose::WatchDenials {
                every_syscall: false,
            } => uses::WATCH_BESIDE_LISTENER,
            Purpose::Agent => uses::AGENT,
            Purpose::OwnAncestry { .. } => uses::OWN_ANCESTRY,
        }
    }
}

/// The entries of the maps `purpose` loads other than as the object
/// declares them: one for each map that serves none of its uses (as each
/// map declares, [`maps::ALL`]); a native recording's counts and capture
/// losses of the workload's phase only (it has no runtime phase: the
/// `sys_exit` program that starts one is attached for containers only);
/// a recording's pending tuples for the capture slots in use only (a slot
/// beyond the array goes to the hash map directly).
fn map_sizes(
    purpose: Purpose,
    capture_index: &[[u8; TABLE_SIZE]; Abi::COUNT],
) -> Vec<(&'static str, u32)> {
    let made = purpose.uses();
    let mut sizes: Vec<(&'static str, u32)> = maps::ALL
        .iter()
        .filter(|map| map.serves & made == 0)
        .map(|map| (map.name, 1))
        .collect();
    if made & uses::RECORD_NATIVE != 0 {
        sizes.push((maps::COUNTS, 1));
        if made & uses::CAPTURE_ARGUMENTS != 0 {
            sizes.push((maps::ARG_LOST, CAPTURE_SPECS as u32));
        }
    }
    if made & uses::RECORD != 0 {
        sizes.push((maps::ARG_PENDING, capture_slots_used(capture_index).max(1)));
    }
    sizes
}

/// Loads the eBPF object for the cgroup tree of `cgroup` (nothing attached
/// yet), after checking the privileges it takes. With it comes what the
/// kernel's BTF gave the loader, or why the event hooks and the BTF
/// tracepoints cannot work here (no kernel BTF).
pub(super) fn load_object(
    cgroup: CgroupTree,
    purpose: Purpose,
) -> Result<(Ebpf, Result<KernelTypes, String>), TracerError> {
    if OBJECT.is_empty() {
        return Err(TracerError::NoObject);
    }
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
    let CgroupTree { id, level } = cgroup;
    let require_seccomp = u32::from(matches!(
        purpose,
        Purpose::Record {
            require_seccomp: true,
            ..
        }
    ));
    let capture_arguments = matches!(
        purpose,
        Purpose::Record {
            capture_arguments: true,
            ..
        }
    );
    let capture_flag = u32::from(capture_arguments);
    let watch_loads = matches!(
        purpose,
        Purpose::Record {
            watch_loads: true,
            ..
        }
    );
    let watch_loads_flag = u32::from(watch_loads);
    let ancestry_of = match purpose {
        Purpose::OwnAncestry { cgroup } => cgroup,
        _ => 0,
    };
    // Enforcing captures nothing, nor a recording that learns no values:
    // the tables stay empty (all zero).
    let (capture_index, capture) = match (capture_arguments, Arch::host()) {
        (true, Some(arch)) => capture_tables(arch),
        _ => (
            [[0; TABLE_SIZE]; Abi::COUNT],
            [CaptureSpec::default(); CAPTURE_SPECS],
        ),
    };
    let watch_kills = u32::from(matches!(purpose, Purpose::WatchDenials { .. }));
    // A recording needs the programs executed, not the process of each once
    // it is gone; enforcing names a denial by its process's program.
    let programs_by_exec = u32::from(matches!(purpose, Purpose::Record { .. }));
    let kernel = super::layout::kernel_types().map_err(|e| e.to_string());
    let layout = kernel
        .as_ref()
        .map_or_else(|_| KernelLayout::default(), |k| k.layout);
    let mut loader = EbpfLoader::new();
    loader
        .override_global(globals::TARGET_CGROUP_ID, &id, true)
        .override_global(globals::TARGET_CGROUP_LEVEL, &level, true)
        .override_global(globals::REQUIRE_SECCOMP, &require_seccomp, true)
        .override_global(globals::KERNEL_LAYOUT, &layout, true)
        .override_global(globals::WATCH_KILLS, &watch_kills, true)
        .override_global(globals::PROGRAMS_BY_EXEC, &programs_by_exec, true)
        .override_global(globals::CAPTURE_INDEX, &capture_index, true)
        .override_global(globals::CAPTURE, &capture, true)
        .override_global(globals::CAPTURE_ARGUMENTS, &capture_flag, true)
        .override_global(globals::WATCH_LOADS, &watch_loads_flag, true)
        .override_global(globals::ANCESTRY_OF, &ancestry_of, true);
    for (map, entries) in map_sizes(purpose, &capture_index) {
        loader.map_max_entries(map, entries);
    }
    let ebpf = loader.load(OBJECT).map_err(TracerError::Object)?;
    Ok((ebpf, kernel))
}

/// The kernel side's capture tables for a host of `arch`, from
/// [`CAPTURED`]: each syscall's number in the native table and in the
/// compat one (a name a table lacks is skipped there), pointing at its spec.
pub(crate) fn capture_tables(
    arch: Arch,
) -> ([[u8; TABLE_SIZE]; Abi::COUNT], [CaptureSpec; CAPTURE_SPECS]) {
    let mut index = [[0u8; TABLE_SIZE]; Abi::COUNT];
    let mut specs = [CaptureSpec::default(); CAPTURE_SPECS];
    let mut used = 0;
    for captured in CAPTURED {
        let spec = captured.kernel_spec();
        for abi in Abi::ALL {
            let Some(nr) = arch
                .of_abi(abi)
                .and_then(|table_arch| table::number_of(table_arch, captured.syscall))
                .and_then(|nr| usize::try_from(nr).ok())
                .filter(|&nr| nr < TABLE_SIZE)
            else {
                continue;
            };
            // The table has room for every syscall of both tables (a unit
            // test holds it to that); one that does not fit is not captured.
            if used == CAPTURE_SPECS {
                break;
            }
            specs[used] = spec;
            used += 1;
            index[abi.index()][nr] = used as u8;
        }
    }
    (index, specs)
}

/// How many capture slots `index` (as [`capture_tables`] fills it) uses:
/// each used slot is named by exactly one syscall, and they come first.
fn capture_slots_used(index: &[[u8; TABLE_SIZE]; Abi::COUNT]) -> u32 {
    index.iter().flatten().filter(|&&i| i > 0).count() as u32
}

/// The syscall (table and number) of each capture slot [`capture_tables`]
/// fills for `arch`, by slot: how the counters kept per slot
/// ([`maps::ARG_LOST`]) are read back.
pub(crate) fn capture_slot_syscalls(arch: Arch) -> Vec<(Abi, usize)> {
    let (index, _) = capture_tables(arch);
    let mut slots = vec![None; CAPTURE_SPECS];
    for abi in Abi::ALL {
        for (nr, &i) in index[abi.index()].iter().enumerate() {
            if i > 0 {
                slots[usize::from(i) - 1] = Some((abi, nr));
            }
        }
    }
    slots.into_iter().map_while(|slot| slot).collect()
}

/// Checks for CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which implies both)
/// in the effective set, so that a user without them gets a message that says
/// so instead of an EPERM from the first map creation.
pub(crate) fn check_privileges() -> Result<(), TracerError> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let effective = crate::profile::effective_capabilities();
    let has = |cap: u32| effective & (1u64 << cap) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        Ok(())
    } else {
        Err(TracerError::Privileges {
            have: format!("effective capabilities {effective:#x}"),
        })
    }
}

/// A program's load or attach failure as an error naming the program, with
/// the verifier's reason where the verifier refused it.
pub(super) fn program_error(
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
    use super::{capture_slot_syscalls, capture_slots_used, capture_tables, verifier_reason};
    use crate::profile::{Arch, table};
    use profiler_common::{Abi, NO_ARG, SOURCE_CLONE3_FLAGS, maps, programs};

    #[test]
    fn capture_tables_point_each_syscall_of_both_tables_at_its_arguments() {
        let (index, specs) = capture_tables(Arch::X86_64);
        let spec_of = |arch: Arch, abi: Abi, name: &str| {
            let nr = table::number_of(arch, name).expect("a syscall") as usize;
            let i = index[abi.index()][nr];
            assert!(i > 0, "{name} of {arch:?} is captured");
            specs[i as usize - 1]
        };
        let socket = spec_of(Arch::X86_64, Abi::Native, "socket");
        assert_eq!(socket.args, [0, 1, 2]);
        assert_eq!(socket.masks[1], 0xffff_ffff & !(0x800 | 0x80000));
        let ioctl = spec_of(Arch::X86, Abi::Compat, "ioctl");
        assert_eq!(ioctl.args, [1, NO_ARG, NO_ARG]);
        assert_eq!(
            spec_of(Arch::X86_64, Abi::Native, "clone3").source,
            SOURCE_CLONE3_FLAGS
        );
        // i386 only, and x86_64 only.
        spec_of(Arch::X86, Abi::Compat, "fcntl64");
        spec_of(Arch::X86_64, Abi::Native, "arch_prctl");
        let getppid = table::number_of(Arch::X86_64, "getppid").expect("a syscall") as usize;
        assert_eq!(index[Abi::Native.index()][getppid], 0);
    }

    #[test]
    fn each_capture_slot_names_the_syscall_that_points_at_it() {
        let (index, specs) = capture_tables(Arch::X86_64);
        let slots = capture_slot_syscalls(Arch::X86_64);
        assert_eq!(slots.len() as u32, capture_slots_used(&index));
        assert!(
            slots.len() > 20,
            "both tables' captured syscalls: {slots:?}"
        );
        for (slot, &(abi, nr)) in slots.iter().enumerate() {
            assert_eq!(usize::from(index[abi.index()][nr]), slot + 1);
            assert_ne!(specs[slot], Default::default());
        }
        let socket = table::number_of(Arch::X86_64, "socket").expect("a syscall") as usize;
        assert!(slots.contains(&(Abi::Native, socket)));
    }

    /// Where program `name` of the object calls a function of its own (a
    /// BPF-to-BPF call, which the loader links): instruction indexes.
    fn function_calls(object: &aya_obj::Object, name: &str) -> Vec<usize> {
        use aya_obj::generated::{BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL};
        let program = object.programs.get(name).expect("a program of the object");
        object.functions[&program.function_key()]
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, insn)| {
                u32::from(insn.code) == BPF_JMP | BPF_CALL
                    && u32::from(insn.src_reg()) == BPF_PSEUDO_CALL
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Every map of the object declares the uses it serves, so that no
    /// use loads a map it never touches at full size unnoticed: a map
    /// added to the kernel side without a declaration fails here.
    #[test]
    fn every_map_of_the_object_is_declared() {
        let object = aya_obj::Object::parse(super::OBJECT).expect("the embedded object parses");
        let in_object: std::collections::BTreeSet<&str> = object
            .maps
            .keys()
            .map(String::as_str)
            // The globals' sections (.bss, .data, .rodata).
            .filter(|name| !name.starts_with('.'))
            .collect();
        let declared: std::collections::BTreeSet<&str> =
            maps::ALL.iter().map(|map| map.name).collect();
        assert_eq!(in_object, declared);
    }

    /// The programs that run on every syscall of the host call no function
    /// of their own: under a return-thunk mitigation (this kernel's SRSO
    /// "safe RET") each call and return costs as much as the counting;
    /// zeroing a captured tuple once became a `memset` call on every
    /// captured syscall, 18 ns of its 24.
    #[test]
    fn the_counting_programs_call_no_function() {
        let object = aya_obj::Object::parse(super::OBJECT).expect("the embedded object parses");
        for name in [
            programs::RAW_TRACEPOINT,
            programs::TRACEPOINT,
            programs::BTF_TRACEPOINT,
            programs::AGENT_ENTER_BTF,
            programs::AGENT_ENTER_RAW,
        ] {
            assert_eq!(function_calls(&object, name), Vec::<usize>::new(), "{name}");
        }
        // The check sees calls where there are some: the denial watch's
        // exit program builds its reports (with `memset`) on the rare
        // denial path.
        assert!(!function_calls(&object, programs::ENFORCE_EXIT_BTF).is_empty());
    }

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

/// Where tracefs is expected.
pub(crate) const TRACEFS: &str = "/sys/kernel/tracing";

#[derive(Debug, thiserror::Error)]
#[error(
    "tracefs is not mounted at {TRACEFS} and mounting it failed ({source}): mount it with \
     `mount -t tracefs tracefs {TRACEFS}`, or leave out `--hook tracepoint` (the default \
     raw tracepoint needs no tracefs); {DOCTOR_HINT}"
)]
pub struct TracefsError {
    source: io::Error,
}

/// Makes sure tracefs is mounted, mounting it where it is not.
pub(super) fn ensure_tracefs() -> Result<(), TracefsError> {
    let events = Path::new(TRACEFS).join("events/raw_syscalls/sys_enter");
    if events.exists() {
        return Ok(());
    }
    let mount = || -> io::Result<()> {
        let c = |s: &str| std::ffi::CString::new(s).expect("no NUL in a constant");
        let (source, target, fstype) = (c("tracefs"), c(TRACEFS), c("tracefs"));
        // SAFETY: all pointers are valid NUL-terminated strings; no data.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    mount().map_err(|source| TracefsError { source })?;
    if events.exists() {
        Ok(())
    } else {
        Err(TracefsError {
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "raw_syscalls/sys_enter is missing from it",
            ),
        })
    }
}
