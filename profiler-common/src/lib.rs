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
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Abi {
    /// The kernel's own table (x86_64 on x86_64).
    Native = 0,
    /// The compat table (i386 on x86_64).
    Compat = 1,
}

impl Abi {
    /// Number of syscall tables counted.
    pub const COUNT: usize = 2;
    /// Every table, by index.
    pub const ALL: [Abi; Abi::COUNT] = [Abi::Native, Abi::Compat];

    /// Its index in [`Counts::calls`] and its value in [`SyscallKey::abi`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The table of a [`SyscallKey::abi`] value.
    pub fn from_u32(value: u32) -> Option<Abi> {
        Abi::ALL.into_iter().find(|abi| *abi as u32 == value)
    }
}

/// Which part of a container's run a syscall belongs to: an index in the
/// counters map.
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    /// The workload itself.
    Workload = 0,
    /// The container runtime, after installing the seccomp filter and
    /// before the entrypoint runs.
    Runtime = 1,
}

impl Phase {
    /// Number of phases counted apart.
    pub const COUNT: u32 = 2;
    /// Every phase.
    pub const ALL: [Phase; 2] = [Phase::Workload, Phase::Runtime];
}

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
    pub calls: [[u64; TABLE_SIZE]; Abi::COUNT],
    /// Entries with a number outside `0..TABLE_SIZE`, whatever the table.
    pub out_of_range: u64,
}

/// Key of the maps that keep syscalls by number: the raw number as the
/// kernel saw it, its table, and a tag: 0 in the out-of-range map; in the
/// denials map, what the denial did to the caller ([`DENIAL_RETURNED`],
/// [`DENIAL_KILLED_THREAD`] or [`DENIAL_KILLED_PROCESS`]).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SyscallKey {
    pub nr: i64,
    /// An [`Abi`], as its `u32`.
    pub abi: u32,
    pub tag: u32,
}

/// Slots of the direct-mapped table of the syscall each task of an enforced
/// cgroup is in, indexed by the low bits of the thread id (a power of two).
pub const IN_SYSCALL_SLOTS: u32 = 65_536;
/// How many distinct denied syscalls are kept.
pub const DENIAL_SLOTS: u32 = 1024;

/// The syscall returned to its caller (an errno, or SIGSYS with
/// `SCMP_ACT_TRAP`): the task went on.
pub const DENIAL_RETURNED: u32 = 0;
/// The filter killed the calling thread (`SCMP_ACT_KILL_THREAD` on a
/// thread that was not the last of its process): `do_exit(SIGSYS)` from
/// inside the syscall, which never returns.
pub const DENIAL_KILLED_THREAD: u32 = 1;
/// The filter killed the process (`SCMP_ACT_KILL_PROCESS`, or
/// `SCMP_ACT_KILL_THREAD` on the last thread): `force_sig_seccomp`, after
/// which the syscall still passes `sys_exit` on its way to the signal.
pub const DENIAL_KILLED_PROCESS: u32 = 2;

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
    /// The six arguments of the first denied call, as the registers held
    /// them (the lower 32 bits for a compat call).
    pub args: [u64; 6],
    /// Denied calls of a captured syscall whose values found no room in
    /// [`maps::DENIED_VALUES`] (or could not be read): exact.
    pub values_lost: u64,
}

/// How many distinct (denial, captured values) pairs are kept, all
/// syscalls together.
pub const DENIED_VALUE_SLOTS: u32 = 1024;

/// Key of the denied-values map: the denial ([`SyscallKey`] of the denials
/// map) and the captured (masked) argument values of one denied call, laid
/// out as [`ArgKey::values`] for the same [`CaptureSpec`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeniedValuesKey {
    pub denial: SyscallKey,
    pub values: [u64; CAPTURED_ARGS],
}

/// Offsets in bytes of the kernel structure fields the event hooks read,
/// taken by the loader from the running kernel's BTF
/// (`/sys/kernel/btf/vmlinux`): struct layouts change between kernel builds,
/// and the eBPF side, built without CO-RE, cannot relocate them itself.
/// `valid` is 0 while unknown; the hooks that need the layout are then not
/// attached.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelLayout {
    /// `task_struct.pid` (pid_t): the thread id.
    pub task_pid: u32,
    /// `task_struct.tgid` (pid_t).
    pub task_tgid: u32,
    /// `task_struct.comm` (char[16]).
    pub task_comm: u32,
    /// `task_struct.cgroups` (struct css_set *).
    pub task_cgroups: u32,
    /// `task_struct.seccomp.mode` (int).
    pub task_seccomp_mode: u32,
    /// `task_struct.exit_code` (int).
    pub task_exit_code: u32,
    /// `task_struct.signal` (struct signal_struct *).
    pub task_signal: u32,
    /// `signal_struct.flags` (unsigned int).
    pub signal_flags: u32,
    /// `css_set.dfl_cgrp` (struct cgroup *): the task's cgroup2 cgroup.
    pub css_set_dfl_cgrp: u32,
    /// `cgroup.kn` (struct kernfs_node *).
    pub cgroup_kn: u32,
    /// `cgroup.root` (struct cgroup_root *).
    pub cgroup_root: u32,
    /// `cgroup.level` (int).
    pub cgroup_level: u32,
    /// `cgroup.ancestors` (struct cgroup *[], by level).
    pub cgroup_ancestors: u32,
    /// `cgroup.self.parent` (struct cgroup_subsys_state *): the parent's
    /// own state, whose `cgroup` is the parent cgroup.
    pub cgroup_parent_css: u32,
    /// `cgroup_subsys_state.cgroup` (struct cgroup *).
    pub css_cgroup: u32,
    /// `cgroup_root.hierarchy_id` (int; 0 is the cgroup2 hierarchy).
    pub root_hierarchy_id: u32,
    /// `kernfs_node.id` (u64): the cgroup id, its directory's inode number.
    pub kernfs_node_id: u32,
    /// `linux_binprm.filename` (const char *).
    pub bprm_filename: u32,
    /// 1 once the fields above are filled in.
    pub valid: u32,
}

/// How many moves of a task out of the watched cgroup are kept in full;
/// [`maps::ESCAPE_COUNT`] counts them all.
pub const ESCAPE_SLOTS: u32 = 16;
/// Bytes kept of a destination cgroup's path (with its NUL).
pub const ESCAPE_PATH_LEN: usize = 128;

/// A process of the watched cgroup moved out of it, to a cgroup outside.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Escape {
    /// Id of the destination cgroup.
    pub dst_cgroup_id: u64,
    /// The process (thread group leader) moved.
    pub tgid: u32,
    /// The process that wrote the move (the same one when it moved itself).
    pub writer_tgid: u32,
    pub comm: [u8; 16],
    pub writer_comm: [u8; 16],
    /// The destination's path below the cgroup2 root, as the kernel gave it.
    pub path: [u8; ESCAPE_PATH_LEN],
}

/// How many processes of the watched tree are known at once (to tell,
/// when a process is moved, whether it was in the tree). Entries are
/// allocated as processes start, but the hash table's buckets are not:
/// 1024 slots cost 16 KiB of kernel memory (8192 cost 129 KiB).
pub const MEMBER_SLOTS: u32 = 1024;

/// How many programs are kept: while enforcing, the last one of each
/// process of the watched cgroup (`EXECS`); while recording, each distinct
/// program run in it (`PROGRAMS`). The maps are allocated entry by entry
/// (no preallocation): 17 KiB of buckets, and some 300 bytes for each
/// entry kept.
pub const EXEC_SLOTS: u32 = 1024;
/// Bytes kept of an executed file's name (with its NUL).
pub const EXEC_PATH_LEN: usize = 240;

/// The last successful `execve` of a process of the watched cgroup.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Exec {
    /// The command name after the exec.
    pub comm: [u8; 16],
    /// The file name given to `execve` (as the caller wrote it: absolute
    /// when a shell or `env` searched `PATH`).
    pub filename: [u8; EXEC_PATH_LEN],
}

/// Bytes kept of the path of an object loaded at run time (with its NUL).
/// A longer path is not kept, and counted in
/// [`event_counts::LOADS_LOST`].
pub const LOADED_PATH_LEN: usize = 256;
/// How many distinct (program, object) pairs loaded at run time are kept;
/// more are counted in [`event_counts::LOADS_LOST`]. Allocated entry by
/// entry: 64 KiB of buckets, some 300 bytes for each entry kept.
pub const LOADED_SLOTS: u32 = 4096;
/// How many threads can have a shared object opened and not yet mapped
/// (entries are removed when it is mapped, or when the thread exits).
pub const LOAD_PENDING_SLOTS: u32 = 1024;

/// An object a process of the recorded tree mapped executable: the program
/// the process runs, as the [`program_id`] of its [`Exec::filename`] (0
/// when unknown), and the absolute path it was opened by, as the process
/// saw it (inside its root), NUL-padded: the key of [`maps::LOADED`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Loaded {
    pub program: u32,
    pub _pad: u32,
    pub path: [u8; LOADED_PATH_LEN],
}

/// A program's id in [`Loaded::program`]: the 32-bit FNV-1a hash of its
/// file name's bytes up to the NUL (never 0, which stands for unknown).
/// Both sides compute it, the kernel side at each exec.
#[inline(always)]
pub fn program_id(filename: &[u8; EXEC_PATH_LEN]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in filename.iter() {
        if byte == 0 {
            break;
        }
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash.max(1)
}

/// How many syscalls (of both tables together) can have arguments captured.
pub const CAPTURE_SPECS: usize = 64;

/// Levels of the whole cgroup2 tree whose ids [`maps::ANCESTRY`] holds: the
/// ancestry of this tool's own cgroup, root (level 0) first. A cgroup
/// namespace's root deeper than this cannot be placed (the tool refuses).
pub const ANCESTRY_LEVELS: u32 = 64;
/// How many arguments of one syscall are captured together.
pub const CAPTURED_ARGS: usize = 3;
/// An unused slot of [`CaptureSpec::args`].
pub const NO_ARG: u8 = 0xff;
/// Where a captured value comes from: the syscall's argument registers.
pub const SOURCE_REGISTERS: u8 = 0;
/// Where a captured value comes from: `clone3`'s `struct clone_args`,
/// whose first field (`flags`, a u64) is read from the caller's memory at
/// the address in argument 0.
pub const SOURCE_CLONE3_FLAGS: u8 = 1;
/// How many distinct argument tuples are kept with their count (all
/// syscalls and phases together). Calls whose tuple finds no room are
/// counted in [`maps::ARG_LOST`], per syscall: nothing is dropped silently.
///
/// The map is allocated tuple by tuple (`BPF_F_NO_PREALLOC`): what stays
/// is its buckets, 16 bytes each (64 KiB here), plus about 128 bytes per
/// tuple kept on a 2-CPU host. Real programs use tens of tuples (ioctl
/// requests, socket options, prctl options...); preallocated, the map took
/// 481 KiB whatever the run used. The room itself is what a profile can
/// name one by one: a filter holds a few thousand distinct ioctl requests
/// before they are widened (the test suite records 4000).
pub const ARG_VALUE_SLOTS: u32 = 4096;

/// Entries of [`maps::ARG_LOST`]: one per phase and capture slot (the
/// index of a syscall's [`CaptureSpec`], which stands for one syscall of
/// one table). A native recording has only [`Phase::Workload`], and the
/// loader gives it the first [`CAPTURE_SPECS`] entries only.
pub const ARG_LOST_SLOTS: u32 = Phase::COUNT * CAPTURE_SPECS as u32;

/// The [`maps::ARG_LOST`] index of capture slot `slot` (below
/// [`CAPTURE_SPECS`]) in `phase` (a [`Phase`] as u8): phase-major, so
/// that the workload's entries come first.
pub const fn arg_lost_index(phase: u8, slot: u32) -> u32 {
    ((phase as usize & 1) * CAPTURE_SPECS + (slot as usize & (CAPTURE_SPECS - 1))) as u32
}

/// The calls of the last tuple one captured syscall passed on one CPU, not
/// yet added to [`maps::ARG_VALUES`]: a loop that passes the same values
/// over and over costs an in-place add here, not a hash lookup. When the
/// next call passes another tuple, these calls go to the hash map. Readers
/// add them to what the hash map holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgPending {
    pub key: ArgKey,
    /// 0 when the slot holds nothing.
    pub calls: u64,
}

/// Which arguments of one syscall the kernel side captures, and how. Set by
/// the loader from the user side's table (`profiler/src/syscall_args`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureSpec {
    /// Argument indexes (0..6), in the order they are kept; [`NO_ARG`] for
    /// an unused slot.
    pub args: [u8; CAPTURED_ARGS],
    /// [`SOURCE_REGISTERS`] or [`SOURCE_CLONE3_FLAGS`].
    pub source: u8,
    pub _pad: [u8; 4],
    /// What of each argument is kept (`value & mask`): e.g. a socket type
    /// without `SOCK_NONBLOCK | SOCK_CLOEXEC`, or only `PROT_EXEC` of a
    /// protection.
    pub masks: [u64; CAPTURED_ARGS],
}

/// Key of the captured-values map: a syscall, the phase its call was in,
/// and the tuple of its captured (masked) argument values.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArgKey {
    pub nr: u32,
    /// An [`Abi`], as its `u8`.
    pub abi: u8,
    /// A [`Phase`], as its `u8`.
    pub phase: u8,
    pub _pad: [u8; 2],
    pub values: [u64; CAPTURED_ARGS],
}

/// Names of the read-only globals of the eBPF object, set by the loader.
pub mod globals {
    /// `u64`: id of the recorded cgroup (the inode number of its directory).
    pub const TARGET_CGROUP_ID: &str = "TARGET_CGROUP_ID";
    /// `u32`: depth of the recorded cgroup below the cgroup2 root (root is 0).
    pub const TARGET_CGROUP_LEVEL: &str = "TARGET_CGROUP_LEVEL";
    /// `u32`: 1 to count only tasks under a seccomp filter.
    pub const REQUIRE_SECCOMP: &str = "REQUIRE_SECCOMP";
    /// `u32`: 1 to look for threads a seccomp filter kills (enforcing).
    pub const WATCH_KILLS: &str = "WATCH_KILLS";
    /// [`super::KernelLayout`]: field offsets from the kernel's BTF.
    pub const KERNEL_LAYOUT: &str = "KERNEL_LAYOUT";
    /// `[[u8; TABLE_SIZE]; Abi::COUNT]`: for each syscall, 0 when its
    /// arguments are not captured, else 1 + its index in [`CAPTURE`].
    pub const CAPTURE_INDEX: &str = "CAPTURE_INDEX";
    /// `[CaptureSpec; CAPTURE_SPECS]`.
    pub const CAPTURE: &str = "CAPTURE";
    /// `u32`: 1 to keep execs by program in [`super::maps::PROGRAMS`] and
    /// drop a process's [`super::maps::EXECS`] entry when it exits
    /// (recording).
    pub const PROGRAMS_BY_EXEC: &str = "PROGRAMS_BY_EXEC";
    /// `u32`: 1 to capture the arguments of the syscalls [`CAPTURE_INDEX`]
    /// names (a recording that learns argument values); 0 leaves the
    /// capture code out of the verified program.
    pub const CAPTURE_ARGUMENTS: &str = "CAPTURE_ARGUMENTS";
    /// `u32`: 1 to note the shared objects the tree's processes load
    /// ([`super::maps::LOADED`]); 0 leaves that code out of the verified
    /// program.
    pub const WATCH_LOADS: &str = "WATCH_LOADS";
    /// `u64`: the id of the cgroup whose ancestry the `own_ancestry`
    /// program writes into [`super::maps::ANCESTRY`] (0: none).
    pub const ANCESTRY_OF: &str = "ANCESTRY_OF";
}

/// The uses the eBPF object is loaded for. Each map declares the uses it
/// serves ([`maps::ALL`]); loaded for none of them, it gets one entry, so
/// that it takes next to no kernel memory.
pub mod uses {
    /// Counting a native command's syscalls.
    pub const RECORD_NATIVE: u16 = 1;
    /// Counting a container's, its runtime phase apart (the seccomp
    /// filter's install as the boundary).
    pub const RECORD_CONTAINER: u16 = 1 << 1;
    /// Watching for denials beside a seccomp listener: only the rare
    /// events (kills, traps, moves, execs).
    pub const WATCH_BESIDE_LISTENER: u16 = 1 << 2;
    /// Watching for denials on every syscall (the eBPF watch).
    pub const WATCH_EVERY_SYSCALL: u16 = 1 << 3;
    /// A recording that captures argument values.
    pub const CAPTURE_ARGUMENTS: u16 = 1 << 4;
    /// A recording that notes the shared objects loaded at run time.
    pub const WATCH_LOADS: u16 = 1 << 5;
    /// The node agent: every container of the host, counted by container.
    pub const AGENT: u16 = 1 << 7;
    /// Learning where this tool's own cgroup sits in the whole tree (a
    /// tool in a cgroup namespace of its own).
    pub const OWN_ANCESTRY: u16 = 1 << 6;
    pub const RECORD: u16 = RECORD_NATIVE | RECORD_CONTAINER;
    pub const WATCH: u16 = WATCH_BESIDE_LISTENER | WATCH_EVERY_SYSCALL;
    /// Every use (maps of one entry anyway, and those all uses need).
    pub const EVERY: u16 = RECORD | WATCH;
}

/// Declares the maps of the eBPF object: a constant naming each, and
/// [`maps::ALL`], each with the uses it serves.
macro_rules! maps {
    ($($(#[$doc:meta])* $name:ident: $serves:expr;)*) => {
        $( $(#[$doc])* pub const $name: &str = stringify!($name); )*
        /// Every map of the object (a test checks the object has no other),
        /// with the uses it serves.
        pub const ALL: &[Map] = &[$(Map { name: $name, serves: $serves }),*];
    };
}

/// Names of the maps of the eBPF object, and the uses each serves.
pub mod maps {
    use super::uses::*;

    /// A map and the uses it serves ([`super::uses`]).
    #[derive(Debug, Clone, Copy)]
    pub struct Map {
        pub name: &'static str,
        pub serves: u16,
    }

    maps! {
        /// Per-CPU array of the counts, by phase (a native recording has
        /// the workload's phase only: it is loaded with one entry).
        COUNTS: RECORD;
        /// Processes between their filter's install and their entrypoint.
        RUNTIME_PROCESSES: RECORD_CONTAINER;
        ENTRYPOINTS_STARTED: EVERY;
        RUNTIME_ACTIVE: EVERY;
        IN_SYSCALL: WATCH_EVERY_SYSCALL;
        DENIALS: WATCH;
        OUT_OF_RANGE: RECORD;
        MEMBERS: EVERY;
        ESCAPES: EVERY;
        /// Counters of the events, by [`super::event_counts`] index.
        ESCAPE_COUNT: EVERY;
        /// While enforcing: the program each process executed.
        EXECS: WATCH;
        /// While recording: hash of [`super::Exec`] (NUL-padded) to the
        /// first process that executed it.
        PROGRAMS: RECORD;
        EXEC_SCRATCH: EVERY;
        /// Per-CPU hash of [`super::ArgKey`] to calls.
        ARG_VALUES: CAPTURE_ARGUMENTS;
        /// Per-CPU array of [`super::ArgPending`], one per
        /// [`super::CaptureSpec`] (loaded with the slots in use only).
        ARG_PENDING: RECORD;
        /// Per-CPU array, index [`super::arg_lost_index`] (phase and capture
        /// slot): calls of a captured syscall whose values found no room in
        /// [`ARG_VALUES`] (or, for `clone3`, could not be read from the
        /// caller's memory).
        ARG_LOST: CAPTURE_ARGUMENTS;
        /// While enforcing: hash of [`super::SyscallKey`] (tag 0) to the
        /// [`super::CaptureSpec`] of each captured syscall, set by the user
        /// side.
        DENIAL_CAPTURE: WATCH;
        /// While enforcing: hash of [`super::DeniedValuesKey`] to denied
        /// calls.
        DENIED_VALUES: WATCH;
        /// While recording with coverage: hash of [`super::Loaded`] to the
        /// time of its first load (the kernel's monotonic clock, in ns),
        /// which orders the loads.
        LOADED: WATCH_LOADS;
        /// Hash of thread id to the [`super::Loaded`] it opened last, until
        /// it maps it executable.
        LOAD_PENDING: WATCH_LOADS;
        /// Hash of process id to its program (the first process that ran
        /// it).
        PROCESS_PROGRAM: WATCH_LOADS;
        LOAD_SCRATCH: EVERY;
        /// The agent's index of the watched cgroups: [`super::agent`].
        AGENT_INDEX: AGENT;
        /// The agent's counters, one [`super::AgentCounts`] per slot.
        AGENT_COUNTS: AGENT;
        /// The agent's free slots (a queue the kernel pops at a mkdir).
        AGENT_FREE: AGENT;
        /// Hash of cgroup id to [`super::AgentNew`]: cgroups made since
        /// user space last looked.
        AGENT_NEW: AGENT;
        /// Hash of cgroup id to its slot: watched cgroups removed since user
        /// space last looked.
        AGENT_ENDED: AGENT;
        /// Counters of what the agent's hooks could not keep, by
        /// [`super::agent::lost`] index.
        AGENT_LOST: AGENT;
        AGENT_SCRATCH: AGENT;
        /// Array of cgroup ids by level of the whole tree: the ancestry of
        /// the cgroup [`super::globals::ANCESTRY_OF`], up to itself (0 past
        /// it).
        ANCESTRY: OWN_ANCESTRY;
    }
}

/// The node agent's kernel side: every cgroup made on the host is given a
/// slot of counters at its `mkdir` (a container's first process is counted
/// from its first syscall), user space keeps the containers' and frees the
/// others'.
///
/// The index is a direct-mapped table of [`INDEX_SLOTS`] `u64` entries
/// with two places per cgroup ([`places`]): a task's cgroup is looked up
/// with two array loads and no hash, so a task outside every container
/// pays about what a recording's cgroup test costs. An entry is the
/// cgroup's inode number (its id's low 32 bits, unique among the cgroups
/// alive), its slot and [`flags`]: [`entry`].
pub mod agent {
    /// Entries of the index (a power of two).
    pub const INDEX_SLOTS: u32 = 1 << 16;
    /// Slots of counters: containers (with their cgroups below) watched at
    /// once.
    pub const SLOTS: u32 = 256;
    /// Syscall numbers counted one by one (x86_64 has fewer than 470 in
    /// either table); a larger number is counted in `out_of_range`.
    pub const TABLE: usize = 512;
    /// Cgroups made and not yet seen by user space, or removed.
    pub const NEW_SLOTS: u32 = 1024;
    /// Bytes kept of a new cgroup's path (with its NUL).
    pub const PATH_LEN: usize = 256;

    /// Bits of an entry's flags.
    pub mod flags {
        /// User space has taken the cgroup for a container: a cgroup made
        /// below it is counted in its slot.
        pub const CONTAINER: u16 = 1;
    }

    /// Indexes of the [`super::maps::AGENT_LOST`] counters.
    pub mod lost {
        /// A cgroup made when no slot was free: not counted.
        pub const NO_SLOT: u32 = 0;
        /// A cgroup whose two index places were taken: not counted.
        pub const NO_PLACE: u32 = 1;
        /// A new or removed cgroup not told to user space (a full map).
        pub const UNTOLD: u32 = 2;
        pub const COUNT: u32 = 3;
    }

    /// The index entry of cgroup `ino` in `slot`.
    pub const fn entry(ino: u32, slot: u16, flags: u16) -> u64 {
        ((ino as u64) << 32) | ((slot as u64) << 16) | flags as u64
    }

    /// The inode number, slot and flags of an entry.
    pub const fn parts(entry: u64) -> (u32, u16, u16) {
        ((entry >> 32) as u32, (entry >> 16) as u16, entry as u16)
    }

    /// The two places of cgroup `ino` in the index.
    pub const fn places(ino: u32) -> [u32; 2] {
        let mask = INDEX_SLOTS - 1;
        [ino & mask, (ino.wrapping_mul(0x9e37_79b1) >> 16) & mask]
    }

    /// Where a syscall's counts are in [`super::AgentCounts::calls`]: by
    /// whether the task was under a seccomp filter, then by table.
    pub const fn row(filtered: bool, abi: super::Abi) -> usize {
        (filtered as usize) * 2 + abi.index()
    }
}

/// The counters of one agent slot. Shared by the CPUs (added to
/// atomically), so that a slot takes the same memory on any node.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AgentCounts {
    /// `calls[agent::row(filtered, abi)][nr]`.
    pub calls: [[u64; agent::TABLE]; 4],
    pub out_of_range: u64,
}

/// A cgroup made on the host, as the agent's `mkdir` hook tells it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AgentNew {
    /// Its id (its kernfs node's).
    pub cgroup: u64,
    pub parent: u64,
    pub slot: u32,
    /// 1 when it was counted in its parent's slot (a container's).
    pub inherited: u32,
    /// Its path from the cgroup2 root, NUL-terminated.
    pub path: [u8; agent::PATH_LEN],
}

/// Indexes of the [`maps::ESCAPE_COUNT`] array.
pub mod event_counts {
    /// Moves out of the watched cgroup seen done (kept or not).
    pub const ESCAPES: u32 = 0;
    /// Processes of the tree that could not be noted (the members map was
    /// full): a move of theirs out of the tree goes unseen.
    pub const MEMBERS_LOST: u32 = 1;
    /// Executions not kept (the exec map, or while recording the program
    /// map, was full).
    pub const EXECS_LOST: u32 = 2;
    /// Objects loaded that could not be kept: a path longer than
    /// [`super::LOADED_PATH_LEN`], or a full map.
    pub const LOADS_LOST: u32 = 3;
    pub const COUNT: u32 = 4;
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
    /// The same two on `tp_btf`, where the kernel has BTF.
    pub const ENFORCE_ENTER_BTF: &str = "enforce_enter_btf";
    pub const ENFORCE_EXIT_BTF: &str = "enforce_exit_btf";
    /// raw tracepoint `cgroup_attach_task`: a process was moved.
    pub const MOVE_DONE: &str = "move_done";
    /// raw tracepoint `sched_process_fork`: a process of the tree forked.
    pub const FORK_DONE: &str = "fork_done";
    /// raw tracepoint `sched_process_exit`: a task of the tree exits (and
    /// while enforcing: was it killed by the filter?).
    pub const TASK_EXIT: &str = "task_exit";
    /// raw tracepoint `signal_generate`, beside a seccomp listener: a
    /// seccomp filter killed or trapped a task of the tree.
    pub const SECCOMP_SIGNAL: &str = "seccomp_signal";
    /// raw tracepoint `sched_process_exec`: an exec in the watched cgroup.
    pub const EXEC_DONE: &str = "exec_done";
    /// The node agent's programs: counting by container on `sys_enter`
    /// (BTF and raw tracepoint), and the cgroups made and removed.
    pub const AGENT_ENTER_BTF: &str = "agent_enter_btf";
    pub const AGENT_ENTER_RAW: &str = "agent_enter_raw";
    pub const AGENT_MKDIR: &str = "agent_mkdir";
    pub const AGENT_RMDIR: &str = "agent_rmdir";
    /// A program the verifier rejects, for testing that path.
    pub const VERIFIER_SELFTEST: &str = "verifier_selftest";
    /// raw tracepoint `sys_enter`: the ancestry of one cgroup (the tool's
    /// own), by level of the whole tree (where this tool's cgroup namespace
    /// is).
    pub const OWN_ANCESTRY: &str = "own_ancestry";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: `repr(C)`, made only of integer arrays, with no padding the
    // kernel could leave uninitialised.
    unsafe impl aya::Pod for super::Counts {}
    // SAFETY: `repr(C)`, integers only: 8+4+4 bytes, no padding.
    unsafe impl aya::Pod for super::SyscallKey {}
    // SAFETY: `repr(C)`, integers and a byte array; 8+8+4+4+16+48+8 bytes,
    // no padding.
    unsafe impl aya::Pod for super::Denial {}
    // SAFETY: `repr(C)`: a 16-byte SyscallKey, then three u64; no padding.
    unsafe impl aya::Pod for super::DeniedValuesKey {}
    // SAFETY: `repr(C)`, sixteen u32, no padding.
    unsafe impl aya::Pod for super::KernelLayout {}
    // SAFETY: `repr(C)`: 8+4+4+16+16+128 bytes, no padding.
    unsafe impl aya::Pod for super::Escape {}
    // SAFETY: `repr(C)`: byte arrays only.
    unsafe impl aya::Pod for super::Exec {}
    // SAFETY: `repr(C)`: two u32, then bytes; no padding.
    unsafe impl aya::Pod for super::Loaded {}
    // SAFETY: `repr(C)`: 3+1+4 bytes, then three u64; no implicit padding.
    unsafe impl aya::Pod for super::CaptureSpec {}
    // SAFETY: `repr(C)`: 4+1+1+2 bytes, then three u64; no implicit padding.
    unsafe impl aya::Pod for super::ArgKey {}
    // SAFETY: `repr(C)`: an ArgKey (40 bytes, no padding) and a u64.
    unsafe impl aya::Pod for super::ArgPending {}
    // SAFETY: `repr(C)`: u64 arrays and a u64; no padding.
    unsafe impl aya::Pod for super::AgentCounts {}
    // SAFETY: `repr(C)`: 8+8+4+4 bytes, then bytes (256); no padding.
    unsafe impl aya::Pod for super::AgentNew {}
}
