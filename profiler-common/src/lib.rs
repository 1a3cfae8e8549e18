//! What the kernel side and the user side of syscall-profile agree on: the
//! layout of the in-kernel counters and the names of the globals the loader
//! sets before the program is verified.
#![no_std]

/// Syscall numbers below this are counted in [`Counts::calls`]; anything else
/// (negative numbers, x32 numbers with bit 30 set, numbers a future kernel
/// adds past this) goes to [`Counts::out_of_range`] and the out-of-range map.
///
/// x86_64 ends at 469 and i386 at 469 on Linux 6.18; 1024 leaves room for
/// growth while one per-CPU value (2 tables of 8 KiB) stays far below the
/// kernel's 32 KiB limit for per-CPU map values.
pub const TABLE_SIZE: usize = 1024;

/// Which syscall table a number belongs to. A 64-bit kernel serves 32-bit
/// (compat) tasks from a different table, where the same number means another
/// syscall, so the two must be counted apart.
pub const ABI_NATIVE: usize = 0;
/// The compat table (i386 on x86_64).
pub const ABI_COMPAT: usize = 1;
/// Number of syscall tables counted.
pub const ABI_COUNT: usize = 2;

/// Index in the counters map of the syscalls of the workload itself.
pub const PHASE_WORKLOAD: u32 = 0;
/// Index in the counters map of the syscalls a container runtime makes after
/// installing the seccomp filter and before the entrypoint runs.
pub const PHASE_RUNTIME: u32 = 1;
/// Number of phases counted apart.
pub const PHASE_COUNT: u32 = 2;

/// How many processes can be between filter install and entrypoint at once.
pub const RUNTIME_PROCESS_SLOTS: u32 = 1024;

/// How many distinct out-of-range numbers are kept with their own count.
/// Their total is always exact in [`Counts::out_of_range`], even when more
/// distinct numbers than this show up.
pub const OUT_OF_RANGE_SLOTS: u32 = 256;

/// The per-CPU counters of one recording phase. One value per CPU and phase
/// in a per-CPU array, so user space reads a phase with one lookup.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Counts {
    /// `calls[abi][nr]`: how many times syscall `nr` of table `abi` was entered.
    pub calls: [[u64; TABLE_SIZE]; ABI_COUNT],
    /// Entries with a number outside `0..TABLE_SIZE`, whatever the table.
    pub out_of_range: u64,
}

/// Key of the out-of-range map: the ABI and the raw number as the kernel saw it.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OutOfRangeKey {
    pub nr: i64,
    pub abi: u32,
    pub _pad: u32,
}

/// Slots of the direct-mapped table of the syscall each task of an enforced
/// cgroup is in, indexed by the low bits of the thread id (a power of two).
pub const IN_SYSCALL_SLOTS: u32 = 65_536;
/// How many distinct denied syscalls are kept.
pub const DENIAL_SLOTS: u32 = 1024;

/// A syscall the seccomp filter denied, by table and number.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DenialKey {
    pub nr: i64,
    pub abi: u32,
    pub _pad: u32,
}

/// What is known of the denials of one syscall.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Denial {
    /// How many times it was denied (atomically incremented).
    pub count: u64,
    /// The return value the first denial gave (minus the errno).
    pub ret: i64,
    /// The first task denied: thread id, process id and command name.
    pub tid: u32,
    pub tgid: u32,
    pub comm: [u8; 16],
}

/// Names of the read-only globals of the eBPF object, set by the loader.
pub mod globals {
    /// `u64`: id of the recorded cgroup (the inode number of its directory).
    pub const TARGET_CGROUP_ID: &str = "TARGET_CGROUP_ID";
    /// `u32`: depth of the recorded cgroup below the cgroup2 root (root is 0).
    pub const TARGET_CGROUP_LEVEL: &str = "TARGET_CGROUP_LEVEL";
    /// `u32`: 1 to count only tasks under a seccomp filter.
    pub const REQUIRE_SECCOMP: &str = "REQUIRE_SECCOMP";
}

/// Names of the maps of the eBPF object.
pub mod maps {
    pub const COUNTS: &str = "COUNTS";
    pub const RUNTIME_PROCESSES: &str = "RUNTIME_PROCESSES";
    pub const ENTRYPOINTS_STARTED: &str = "ENTRYPOINTS_STARTED";
    pub const IN_SYSCALL: &str = "IN_SYSCALL";
    pub const DENIALS: &str = "DENIALS";
    pub const OUT_OF_RANGE: &str = "OUT_OF_RANGE";
}

/// Names of the programs of the eBPF object, one per hook type. They share
/// one body; the loader attaches exactly one of them.
pub mod programs {
    pub const RAW_TRACEPOINT: &str = "sys_enter_raw";
    pub const TRACEPOINT: &str = "sys_enter_tp";
    pub const BTF_TRACEPOINT: &str = "sys_enter_btf";
    /// The `sys_exit` program that tracks the runtime phase.
    pub const SYS_EXIT: &str = "sys_exit_raw";
    /// `sys_enter` and `sys_exit` programs that find the syscalls a seccomp
    /// filter denied, while a profile is enforced.
    pub const ENFORCE_ENTER: &str = "enforce_enter";
    pub const ENFORCE_EXIT: &str = "enforce_exit";
    /// A program the verifier rejects, for testing that path.
    pub const VERIFIER_SELFTEST: &str = "verifier_selftest";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: both are `repr(C)`, made only of integers, with no padding the
    // kernel could leave uninitialised (the key's padding is explicit).
    unsafe impl aya::Pod for super::Counts {}
    unsafe impl aya::Pod for super::OutOfRangeKey {}
    unsafe impl aya::Pod for super::DenialKey {}
    // SAFETY: `repr(C)`, integers and a byte array; 8+8+4+4+16 bytes, no padding.
    unsafe impl aya::Pod for super::Denial {}
}
