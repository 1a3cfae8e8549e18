//! The kernel side of syscall-profile.
//!
//! One body, [`count`], behind three entry points, one per hook type on
//! `raw_syscalls:sys_enter`; the loader attaches exactly one of them. Which is
//! the default, and why, is said in `profiler/src/recording/hook.rs`, where
//! the measurement is recorded.
//!
//! Every task on the host passes through here on every syscall, so the first
//! thing done is the cgroup test, and a task outside the recorded cgroup tree
//! leaves after one helper call. Counting is per CPU, in place, in the map
//! value: no event is sent to user space per syscall, so nothing can be lost
//! however fast the workload calls.
//!
//! For a container the recording must hold exactly what the container's
//! seccomp filter will see. The runtime (runc, crun) makes its set-up
//! syscalls in the container's cgroup before it installs the filter, and a
//! few more after, up to the `execve` of the entrypoint. So with
//! `REQUIRE_SECCOMP` set, a syscall counts only when the calling task has a
//! seccomp filter, which the kernel marks in the task's `syscall_work`; and
//! the syscalls of a process between its successful filter install and its
//! next successful `execve` (seen by the `sys_exit` program) are counted apart,
//! as the runtime's, in `COUNTS[PHASE_RUNTIME]`.
#![no_std]
#![no_main]

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task,
        bpf_probe_read_kernel, generated::bpf_get_current_ancestor_cgroup_id,
    },
    macros::{btf_tracepoint, map, raw_tracepoint, tracepoint},
    maps::{Array, HashMap, PerCpuArray, PerCpuHashMap},
    programs::{BtfTracePointContext, RawTracePointContext, TracePointContext},
};
use profiler_common::{
    ABI_COMPAT, ABI_NATIVE, Counts, DENIAL_SLOTS, Denial, DenialKey, IN_SYSCALL_SLOTS,
    OUT_OF_RANGE_SLOTS, OutOfRangeKey, PHASE_COUNT, PHASE_RUNTIME, PHASE_WORKLOAD,
    RUNTIME_PROCESS_SLOTS, TABLE_SIZE,
};

/// Id of the recorded cgroup; set by the loader (read-only data, so the
/// verifier sees it as a constant).
#[unsafe(no_mangle)]
static TARGET_CGROUP_ID: u64 = 0;

/// Depth of the recorded cgroup below the cgroup2 root; set by the loader.
#[unsafe(no_mangle)]
static TARGET_CGROUP_LEVEL: u32 = 0;

/// 1: count only tasks under a seccomp filter (containers); 0: count all.
#[unsafe(no_mangle)]
static REQUIRE_SECCOMP: u32 = 0;

/// One value per phase: `PHASE_WORKLOAD`, `PHASE_RUNTIME`.
#[map]
static COUNTS: PerCpuArray<Counts> = PerCpuArray::with_max_entries(PHASE_COUNT, 0);

/// Processes (by tgid) that installed a seccomp filter and have not yet made
/// a successful `execve`: the runtime between the filter and the entrypoint.
#[map]
static RUNTIME_PROCESSES: HashMap<u32, u8> = HashMap::with_max_entries(RUNTIME_PROCESS_SLOTS, 0);

#[map]
static OUT_OF_RANGE: PerCpuHashMap<OutOfRangeKey, u64> =
    PerCpuHashMap::with_max_entries(OUT_OF_RANGE_SLOTS, 0);

/// While enforcing: the syscall each task of the cgroup is in, by thread id.
#[map]
static IN_SYSCALL: Array<u64> = Array::with_max_entries(IN_SYSCALL_SLOTS, 0);

/// While enforcing: the syscalls the seccomp filter denied.
#[map]
static DENIALS: HashMap<DenialKey, Denial> = HashMap::with_max_entries(DENIAL_SLOTS, 0);

/// How many processes left the runtime phase by a successful execve: once
/// the entrypoint runs, user space detaches the `sys_exit` program, whose
/// hook costs every task of the host on every syscall.
#[map]
static ENTRYPOINTS_STARTED: Array<u64> = Array::with_max_entries(1, 0);

/// How many processes are in `RUNTIME_PROCESSES` now.
#[map]
static RUNTIME_ACTIVE: Array<i64> = Array::with_max_entries(1, 0);

/// `raw_tp/sys_enter`: `(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter_raw(ctx: RawTracePointContext) -> i32 {
    count(ctx.arg::<i64>(1));
    0
}

/// `tracepoint/raw_syscalls/sys_enter`: the record has `long id` at offset 8.
#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
pub fn sys_enter_tp(ctx: TracePointContext) -> i32 {
    // SAFETY: offset 8 is `id` in this tracepoint's record format
    // (`/sys/kernel/tracing/events/raw_syscalls/sys_enter/format`).
    let id = unsafe { ctx.read_at::<i64>(8) }.unwrap_or(-1);
    count(id);
    0
}

/// `tp_btf/sys_enter`: the same arguments as the raw tracepoint.
#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter_btf(ctx: BtfTracePointContext) -> i32 {
    count(ctx.arg::<i64>(1));
    0
}

/// Never attached in normal use: a program the verifier must reject (it
/// reads from an address it made up), loaded only by the hidden
/// `--hook verifier-selftest`, so that the test suite can check on the real
/// kernel that a rejection reaches the user with the verifier's reason.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn verifier_selftest(_ctx: RawTracePointContext) -> i32 {
    let bogus = core::hint::black_box(0x1000usize) as *const i32;
    // SAFETY: never runs: the verifier refuses to load this.
    unsafe { core::ptr::read_volatile(bogus) }
}

/// `raw_tp/sys_exit`: `(struct pt_regs *regs, long ret)`. Attached for
/// containers only, to see a process enter and leave the runtime phase.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit_raw(ctx: RawTracePointContext) -> i32 {
    if !recorded() || ctx.arg::<i64>(1) != 0 {
        return 0;
    }
    let regs: *const u8 = ctx.arg(0);
    phase_change(regs);
    0
}

// Finding denials. The kernel runs the seccomp filter before the
// `sys_enter` tracepoint, and a syscall the filter denies (with an errno,
// SIGSYS or no tracer) is skipped: it never reaches `sys_enter`, but its
// `sys_exit` still fires. So a `sys_exit` whose task did not enter that
// syscall is a denial by the filter, whatever the errno, and a syscall that
// ran and failed on its own (ENOENT, EBADF) is never taken for one.
//
// Three cases need care. A task that joined the cgroup while inside a
// syscall (the child writing itself into `cgroup.procs`, a runtime moving
// its init process) and a new task returning from fork/clone leave a
// syscall they were not seen entering: so a task's first exit in the
// cgroup is never taken for a denial, it only makes the task known. And a
// task that calls exit never leaves that syscall: its entry is dropped at
// once, lest a later task with the same thread id inherit it.
//
// The syscall a task is in is kept in a direct-mapped table indexed by the
// low bits of its thread id, one aligned 64-bit word a slot (thread id,
// syscall number), read and written in place: no hash map, no lock, so the
// watch costs little more than the hooks themselves. Two threads of the
// cgroup whose ids share a slot only ever make a check unknown (the slot
// names the other thread), never a false report.

/// Map update flag: insert only where the key is not there yet.
const BPF_NOEXIST: u64 = 1;

/// Slot value of a known task that is not inside a syscall.
const NOT_IN_SYSCALL: u32 = 0xffff_fffe;

#[inline(always)]
fn slot(tid: u32) -> Option<*mut u64> {
    IN_SYSCALL.get_ptr_mut(tid & (IN_SYSCALL_SLOTS - 1))
}

#[inline(always)]
fn set_slot(slot: *mut u64, tid: u32, nr: u32) {
    // SAFETY: an aligned u64 in an array map's value area, valid while the
    // program runs; a single store, so no reader sees half of it.
    unsafe { core::ptr::write_volatile(slot, (u64::from(tid) << 32) | u64::from(nr)) };
}

/// `raw_tp/sys_enter` while enforcing: notes the syscall the task enters.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn enforce_enter(ctx: RawTracePointContext) -> i32 {
    if !recorded() {
        return 0;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    let nr: i64 = ctx.arg(1);
    if let Some(slot) = slot(tid) {
        if never_returns(nr) {
            // SAFETY: as in `set_slot`.
            unsafe { core::ptr::write_volatile(slot, 0) };
        } else {
            set_slot(slot, tid, nr as u32);
        }
    }
    0
}

/// `raw_tp/sys_exit` while enforcing: a known task leaving a syscall it did
/// not enter was denied it by the filter.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn enforce_exit(ctx: RawTracePointContext) -> i32 {
    if !recorded() {
        return 0;
    }
    let regs: *const u8 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    let Some(nr) = syscall_nr_at_exit(regs) else {
        return 0;
    };
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(slot) = slot(tid) else {
        return 0;
    };
    // SAFETY: as in `set_slot`.
    let word = unsafe { core::ptr::read_volatile(slot) };
    set_slot(slot, tid, NOT_IN_SYSCALL);
    let (owner, entered) = ((word >> 32) as u32, word as u32);
    match entered {
        // Unknown task (first exit in the cgroup, or a slot another thread
        // took), or a syscall that ran.
        _ if owner != tid => return 0,
        entered if entered == nr as u32 => return 0,
        // rt_sigreturn restores a signal frame and sets orig_ax to -1 (so the
        // interrupted syscall is not restarted): it ran. A denied syscall
        // keeps its number in orig_ax.
        _ if nr < 0 => return 0,
        // An execve from a thread other than the leader succeeds with the
        // thread taking over the leader's id, so it leaves under a thread id
        // that entered something else. A denied execve never returns 0.
        _ if ret == 0 && is_execve(nr) => return 0,
        _ => {}
    }
    let task = current_task_flags();
    let key = DenialKey {
        nr,
        abi: if task.compat { ABI_COMPAT } else { ABI_NATIVE } as u32,
        _pad: 0,
    };
    match DENIALS.get_ptr_mut(key) {
        Some(denial) => add_one(denial),
        None => {
            let pid_tgid = bpf_get_current_pid_tgid();
            let first = Denial {
                count: 1,
                ret,
                tid: pid_tgid as u32,
                tgid: (pid_tgid >> 32) as u32,
                comm: bpf_get_current_comm().unwrap_or([0; 16]),
            };
            // Two CPUs may both find no entry: the second insert is
            // refused (BPF_NOEXIST) and counted on the first one's entry.
            if DENIALS.insert(key, first, BPF_NOEXIST).is_err()
                && let Some(denial) = DENIALS.get_ptr_mut(key)
            {
                add_one(denial);
            }
        }
    }
    0
}

/// Adds one to a denial's count; other CPUs may add at the same time.
#[inline(always)]
fn add_one(denial: *mut Denial) {
    // SAFETY: a map value, valid while this program runs; the count is a
    // naturally aligned u64, added to atomically.
    unsafe {
        let count =
            &*(core::ptr::addr_of_mut!((*denial).count) as *const core::sync::atomic::AtomicU64);
        count.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
}

/// `execve` and `execveat`, in either table.
#[inline(always)]
fn is_execve(nr: i64) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // x86_64: 59, 322; i386: 11, 358.
        matches!(nr, 59 | 322 | 11 | 358)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = nr;
        false
    }
}

/// `exit` and `exit_group`, in the table the syscall came through.
#[inline(always)]
fn never_returns(nr: i64) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        const X86_64: [i64; 2] = [60, 231];
        const I386: [i64; 2] = [1, 252];
        if X86_64.contains(&nr) || I386.contains(&nr) {
            let compat = current_task_flags().compat;
            return if compat {
                I386.contains(&nr)
            } else {
                X86_64.contains(&nr)
            };
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = nr;
        false
    }
}

/// The syscall number at `sys_exit`, from the saved registers.
#[inline(always)]
fn syscall_nr_at_exit(regs: *const u8) -> Option<i64> {
    #[cfg(target_arch = "x86_64")]
    {
        const ORIG_AX: usize = 120;
        // SAFETY: `regs` is the tracepoint's pt_regs; the read is checked.
        unsafe { bpf_probe_read_kernel(regs.add(ORIG_AX) as *const i64).ok() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = regs;
        None
    }
}

#[inline(always)]
fn count(id: i64) {
    if !recorded() {
        return;
    }
    let task = current_task_flags();
    // SAFETY: a read-only global, set by the loader.
    if unsafe { core::ptr::read_volatile(&REQUIRE_SECCOMP) } != 0 && !task.seccomp {
        return;
    }
    let abi = if task.compat { ABI_COMPAT } else { ABI_NATIVE };
    let phase = if task.seccomp && in_runtime_phase() {
        PHASE_RUNTIME
    } else {
        PHASE_WORKLOAD
    };
    // `id` is a `long`: a negative value (syscall(-1)) and the x32 numbers
    // (bit 30 set) are out of range and must still be counted.
    if (0..TABLE_SIZE as i64).contains(&id) {
        if let Some(counts) = COUNTS.get_ptr_mut(phase) {
            // SAFETY: the pointer is this CPU's value of the map, and
            // preemption is off while a syscall tracepoint runs a program, so
            // nothing else writes it meanwhile. The index is bounded above.
            unsafe { (*counts).calls[abi][id as usize] += 1 };
        }
    } else {
        count_out_of_range(phase, abi, id);
    }
}

#[inline(always)]
fn count_out_of_range(phase: u32, abi: usize, id: i64) {
    if let Some(counts) = COUNTS.get_ptr_mut(phase) {
        // SAFETY: as in `count`.
        unsafe { (*counts).out_of_range += 1 };
    }
    let key = OutOfRangeKey {
        nr: id,
        abi: abi as u32,
        _pad: 0,
    };
    match OUT_OF_RANGE.get_ptr_mut(key) {
        // SAFETY: this CPU's value of the entry, see `count`.
        Some(n) => unsafe { *n += 1 },
        // A full map loses only the split by number: the total above is
        // exact, and user space reports the difference.
        None => {
            let _ = OUT_OF_RANGE.insert(key, 1, 0);
        }
    }
}

/// Is the current task in the recorded cgroup or below it? One helper call:
/// the ancestor of the task's cgroup at the recorded cgroup's depth is the
/// recorded cgroup exactly when the task is in its subtree (for a task
/// higher up the helper returns 0).
#[inline(always)]
fn recorded() -> bool {
    // SAFETY: read-only globals, written by the loader before verification.
    let (target, level) = unsafe {
        (
            core::ptr::read_volatile(&TARGET_CGROUP_ID),
            core::ptr::read_volatile(&TARGET_CGROUP_LEVEL),
        )
    };
    // SAFETY: a helper without pointer arguments.
    let ancestor = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
    target != 0 && ancestor == target
}

fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

fn in_runtime_phase() -> bool {
    // Most of a recording has no process in the runtime phase: a read of
    // one counter then spares the hash lookup on every syscall.
    // SAFETY: an aligned i64 of an array map, read whole.
    let active = RUNTIME_ACTIVE
        .get_ptr(0)
        .is_some_and(|n| unsafe { core::ptr::read_volatile(n) } > 0);
    // SAFETY: a lookup with a key on the stack; the value is not kept.
    active && unsafe { RUNTIME_PROCESSES.get(current_tgid()).is_some() }
}

/// Adds `delta` to the count of processes in the runtime phase.
#[inline(always)]
fn runtime_active_add(delta: i64) {
    if let Some(n) = RUNTIME_ACTIVE.get_ptr_mut(0) {
        // SAFETY: an aligned i64 of an array map; several CPUs may change
        // it at once, so atomically.
        unsafe {
            let n = &*(n as *const core::sync::atomic::AtomicI64);
            n.fetch_add(delta, core::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// What the kernel says of the current task and its syscall.
struct TaskFlags {
    /// The task has a seccomp filter (or strict mode): its syscalls pass
    /// through seccomp, so a profile applies to them.
    seccomp: bool,
    /// The syscall came through a 32-bit entry point (compat table).
    compat: bool,
}

/// Reads `current->thread_info` on x86_64: `thread_info` is the first member
/// of `task_struct` there, `{ unsigned long flags; unsigned long
/// syscall_work; u32 status; ... }`. `syscall_work` has SYSCALL_WORK_SECCOMP
/// (bit 0) while the task is under seccomp; it is set on the installing task
/// (and all threads with TSYNC) and copied to every child. `status` has
/// TS_COMPAT while a syscall entered through a 32-bit entry point (int $0x80,
/// sysenter, 32-bit syscall); the kernel sets it before the tracepoint fires
/// and clears it on return to user space.
#[inline(always)]
fn current_task_flags() -> TaskFlags {
    #[cfg(target_arch = "x86_64")]
    {
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct ThreadInfo {
            flags: u64,
            syscall_work: u64,
            status: u32,
        }
        const SYSCALL_WORK_SECCOMP: u64 = 1 << 0;
        const TS_COMPAT: u32 = 0x0002;
        // SAFETY: `bpf_get_current_task` returns the running task, which
        // outlives this program run; the read is done by a checked helper.
        let info = unsafe { bpf_probe_read_kernel(bpf_get_current_task() as *const ThreadInfo) };
        if let Ok(info) = info {
            return TaskFlags {
                seccomp: info.syscall_work & SYSCALL_WORK_SECCOMP != 0,
                compat: info.status & TS_COMPAT != 0,
            };
        }
    }
    TaskFlags {
        seccomp: false,
        compat: false,
    }
}

/// At a successful syscall's exit: a seccomp filter install puts the process
/// into the runtime phase, an `execve` takes it out.
#[inline(always)]
fn phase_change(regs: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        // struct pt_regs on x86_64: the syscall number survives in
        // `orig_ax`; the first two arguments in `di` and `si`.
        const ORIG_AX: usize = 120;
        const DI: usize = 112;
        const SI: usize = 104;
        const NR_PRCTL: u64 = 157;
        const NR_SECCOMP: u64 = 317;
        const NR_EXECVE: u64 = 59;
        const NR_EXECVEAT: u64 = 322;
        const PR_SET_SECCOMP: u64 = 22;
        const SECCOMP_MODE_FILTER: u64 = 2;
        const SECCOMP_SET_MODE_FILTER: u64 = 1;
        // SAFETY: `regs` is the tracepoint's pt_regs; reads are checked.
        let read = |offset: usize| unsafe {
            bpf_probe_read_kernel(regs.add(offset) as *const u64).unwrap_or(u64::MAX)
        };
        let installs_filter = match read(ORIG_AX) {
            NR_PRCTL => read(DI) == PR_SET_SECCOMP && read(SI) == SECCOMP_MODE_FILTER,
            NR_SECCOMP => read(DI) == SECCOMP_SET_MODE_FILTER,
            NR_EXECVE | NR_EXECVEAT => {
                if RUNTIME_PROCESSES.remove(current_tgid()).is_err() {
                    return;
                }
                runtime_active_add(-1);
                if let Some(started) = ENTRYPOINTS_STARTED.get_ptr_mut(0) {
                    // SAFETY: an aligned u64 of an array map; user space only
                    // reads it, to know when the runtime phase is over.
                    unsafe {
                        let count = &*(started as *const core::sync::atomic::AtomicU64);
                        count.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                    }
                }
                return;
            }
            _ => return,
        };
        // A workload that installs a filter of its own is taken for runtime
        // until its next execve. Both phases go into the profile, so only the
        // report's split is affected, not what is allowed.
        if installs_filter
            && RUNTIME_PROCESSES
                .insert(current_tgid(), 1, BPF_NOEXIST)
                .is_ok()
        {
            runtime_active_add(1);
        }
    }
}
#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
