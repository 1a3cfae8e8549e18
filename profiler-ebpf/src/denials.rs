//! Finding denials, while a profile is enforced.
//!
//! The kernel runs the seccomp filter before the `sys_enter` tracepoint,
//! and a syscall the filter denies with an errno, with SIGSYS
//! (`SCMP_ACT_TRAP`) or for want of a tracer is skipped: it never reaches
//! `sys_enter`, but its `sys_exit` still fires. So a `sys_exit` whose task
//! did not enter that syscall is a denial by the filter, whatever the errno,
//! and a syscall that ran and failed on its own (ENOENT, EBADF) is never
//! taken for one.
//!
//! Three cases need care. A task that joined the cgroup while inside a
//! syscall (the child writing itself into `cgroup.procs`, a runtime moving
//! its init process) and a new task returning from fork/clone leave a
//! syscall they were not seen entering: so a task's first exit in the
//! cgroup is never taken for a denial, it only makes the task known. And a
//! task that calls exit never leaves that syscall: its entry is dropped at
//! once, lest a later task with the same thread id inherit it.
//!
//! The syscall a task is in is kept in a direct-mapped table indexed by the
//! low bits of its thread id, one aligned 64-bit word a slot (thread id,
//! syscall number), read and written in place: no hash map, no lock, so the
//! watch costs little more than the hooks themselves. Two threads of the
//! cgroup whose ids share a slot only ever make a check unknown (the slot
//! names the other thread), never a false report.
//!
//! A filter that kills needs more. `SCMP_ACT_KILL_PROCESS` (and
//! `SCMP_ACT_KILL_THREAD` on a process's last thread) marks the task
//! `SECCOMP_MODE_DEAD`, sends it SIGSYS and skips the syscall, which still
//! passes `sys_exit` on its way to the signal: a denial found there on a
//! dead task killed its process. `SCMP_ACT_KILL_THREAD` on any other thread
//! calls `do_exit(SIGSYS)` from inside the syscall, which never returns: it
//! is found at `sched_process_exit`, whose task is dead, exits with code
//! SIGSYS and is not part of a group exit (the other threads of a process
//! killed by SIGSYS exit with that code too, in a group exit).
//!
//! Beside a seccomp listener (which is handed every call the filter refuses
//! with an errno), the hooks on every syscall are not attached, and what
//! the listener is never handed is found without them: a filter that
//! kills the process or traps (`SCMP_ACT_KILL_PROCESS`, a kill of the last
//! thread, the kill of a call from an architecture the filter does not
//! name, `SCMP_ACT_TRAP` of a filter the program installed itself) sends
//! the caller SIGSYS with `si_code` `SYS_SECCOMP`, after rolling the
//! syscall back: it is found at `signal_generate`, with the same syscall,
//! table, arguments and outcome as the `sys_exit` hook finds it, and a kill
//! of a thread alone at `sched_process_exit` as above.
//!
//! Each denial keeps the six arguments of its first call, and for the
//! syscalls whose arguments carry privilege (the user side's table, set in
//! `DENIAL_CAPTURE`) the distinct captured values of every denied call with
//! their counts: a filter that refuses a call never runs it, so the
//! registers at `sys_exit` (and at the kill) still hold its arguments. This
//! is all on the denial path: an allowed syscall costs nothing more.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task, bpf_probe_read_user,
        generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::{btf_tracepoint, map, raw_tracepoint},
    maps::{Array, HashMap},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use profiler_common::{
    Abi, CAPTURE_SPECS, CAPTURED_ARGS, CaptureSpec, DENIAL_KILLED_PROCESS, DENIAL_KILLED_THREAD,
    DENIAL_RETURNED, DENIAL_SLOTS, DENIED_VALUE_SLOTS, Denial, DeniedValuesKey, IN_SYSCALL_SLOTS,
    NO_ARG, SOURCE_CLONE3_FLAGS, SyscallKey,
};

use crate::{
    BPF_NOEXIST, WATCH_KILLS,
    arch::{self, current_task_flags},
    events::{self, layout, read_at},
    recorded,
    task::Current,
};

/// While enforcing: the syscall each task of the cgroup is in, by thread id.
#[map]
static IN_SYSCALL: Array<u64> = Array::with_max_entries(IN_SYSCALL_SLOTS, 0);

/// While enforcing: the syscalls the seccomp filter denied.
#[map]
static DENIALS: HashMap<SyscallKey, Denial> = HashMap::with_max_entries(DENIAL_SLOTS, 0);

/// While enforcing: which arguments of each captured syscall a denial
/// keeps, by syscall (tag 0); set by the user side.
#[map]
static DENIAL_CAPTURE: HashMap<SyscallKey, CaptureSpec> =
    HashMap::with_max_entries(CAPTURE_SPECS as u32, 0);

/// While enforcing: denied calls of captured syscalls, by denial and values.
#[map]
static DENIED_VALUES: HashMap<DeniedValuesKey, u64> =
    HashMap::with_max_entries(DENIED_VALUE_SLOTS, 0);

/// Slot value of a known task that is not inside a syscall.
const NOT_IN_SYSCALL: u32 = 0xffff_fffe;

/// `SIGSYS`, the exit code of a thread a filter kills alone.
const SIGSYS: i32 = 31;
/// `task_struct.seccomp.mode` of a task a filter is killing.
const SECCOMP_MODE_DEAD: i32 = 3;
/// `signal_struct.flags`: the whole process is exiting.
const SIGNAL_GROUP_EXIT: u32 = 0x4;

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
    if recorded() {
        enter(bpf_get_current_pid_tgid() as u32, ctx.arg(1));
    }
    0
}

/// `tp_btf/sys_enter` while enforcing: the same, with the task read by
/// plain loads (see [`crate::task`]).
#[btf_tracepoint(function = "sys_enter")]
pub fn enforce_enter_btf(ctx: BtfTracePointContext) -> i32 {
    let task = Current::get();
    if task.in_tree() {
        enter(task.tid(), ctx.arg(1));
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
    if let Some(nr) = arch::syscall_nr(regs) {
        exit(regs, nr, ctx.arg(1), bpf_get_current_pid_tgid() as u32);
    }
    0
}

/// `tp_btf/sys_exit` while enforcing: the same, with the task and the
/// syscall number read by plain loads.
#[btf_tracepoint(function = "sys_exit")]
pub fn enforce_exit_btf(ctx: BtfTracePointContext) -> i32 {
    let task = Current::get();
    if !task.in_tree() || !cfg!(target_arch = "x86_64") {
        return 0;
    }
    let regs: *const u8 = ctx.arg(0);
    if regs.is_null() {
        return 0;
    }
    // SAFETY: `orig_ax` of the BTF-typed `struct pt_regs *` the hook gets.
    let nr = unsafe { core::ptr::read_volatile(regs.add(arch::ORIG_AX).cast::<i64>()) };
    exit(regs, nr, ctx.arg(1), task.tid());
    0
}

/// Task `tid` of the tree enters syscall `nr`.
#[inline(always)]
fn enter(tid: u32, nr: i64) {
    if let Some(slot) = slot(tid) {
        if arch::never_returns(nr) {
            // SAFETY: as in `set_slot`.
            unsafe { core::ptr::write_volatile(slot, 0) };
        } else {
            set_slot(slot, tid, nr as u32);
        }
    }
}

/// Task `tid` of the tree leaves syscall `nr` (its registers at `regs`)
/// with `ret`.
#[inline(always)]
fn exit(regs: *const u8, nr: i64, ret: i64, tid: u32) {
    let Some(slot) = slot(tid) else {
        return;
    };
    // SAFETY: as in `set_slot`.
    let word = unsafe { core::ptr::read_volatile(slot) };
    set_slot(slot, tid, NOT_IN_SYSCALL);
    let (owner, entered) = ((word >> 32) as u32, word as u32);
    match entered {
        // Unknown task (first exit in the cgroup, or a slot another thread
        // took), or a syscall that ran.
        _ if owner != tid => return,
        entered if entered == nr as u32 => return,
        // rt_sigreturn restores a signal frame and sets orig_ax to -1 (so the
        // interrupted syscall is not restarted): it ran. A denied syscall
        // keeps its number in orig_ax.
        _ if nr < 0 => return,
        // An execve from a thread other than the leader succeeds with the
        // thread taking over the leader's id, so it leaves under a thread id
        // that entered something else. A denied execve never returns 0.
        _ if ret == 0 && arch::is_execve(nr) => return,
        _ => {}
    }
    // A syscall that killed its process still passes `sys_exit` on its way
    // to the signal, with the syscall rolled back (`ret` is its number).
    if is_killed() {
        record(regs, nr, DENIAL_KILLED_PROCESS, 0);
    } else {
        record(regs, nr, DENIAL_RETURNED, ret);
    }
}

/// raw tracepoint `sched_process_exit(struct task_struct *p, bool
/// group_dead)`, in the exiting task: it leaves the tree's members if it
/// leads its process, and while enforcing, a thread killed alone by the
/// filter is a denial.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn task_exit(_ctx: RawTracePointContext) -> i32 {
    if !recorded() {
        return 0;
    }
    events::leave_if_leader();
    crate::loads::exited();
    // SAFETY: a read-only global, set by the loader.
    if unsafe { core::ptr::read_volatile(&WATCH_KILLS) } == 0 || !is_killed() {
        return 0;
    }
    let layout = layout();
    // SAFETY: a helper without arguments; the task is only read from.
    let task = unsafe { bpf_get_current_task() } as *const u8;
    if read_at::<i32>(task, layout.task_exit_code) != Some(SIGSYS) {
        return 0;
    }
    let group_exit = read_at::<u64>(task, layout.task_signal)
        .and_then(|signal| read_at::<u32>(signal as *const u8, layout.signal_flags))
        .is_none_or(|flags| flags & SIGNAL_GROUP_EXIT != 0);
    if group_exit {
        return 0;
    }
    // SAFETY: the helper gets the current task as the trusted pointer the
    // first one returns.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    if let Some(nr) = arch::syscall_nr(regs) {
        record(regs, nr, DENIAL_KILLED_THREAD, 0);
    }
    0
}

/// `SIGSYS`'s `si_code` when a seccomp filter sends it
/// (`force_sig_seccomp`).
const SYS_SECCOMP: i32 = 1;
/// `struct kernel_siginfo`: `si_signo`, `si_errno`, `si_code`, ints.
const SI_CODE: u32 = 8;

/// raw tracepoint `signal_generate(int sig, struct kernel_siginfo *info,
/// struct task_struct *task, int group, int result)`, attached beside a
/// seccomp listener only: a task of the tree sent SIGSYS by its own seccomp
/// filter was killed by it, or trapped. The filter rolled the syscall back
/// first (`ax` is `orig_ax` again, which a task signalling itself with a
/// made-up `si_code` from a syscall of its own does not have), so the
/// registers hold the call. Counted as the `sys_exit` hook counts the same
/// call: a kill (the task is `SECCOMP_MODE_DEAD`) as having killed the
/// process, a trap with the rolled-back return value (the number).
#[raw_tracepoint(tracepoint = "signal_generate")]
pub fn seccomp_signal(ctx: RawTracePointContext) -> i32 {
    let sig: u64 = ctx.arg(0);
    if sig as i32 != SIGSYS || !recorded() {
        return 0;
    }
    let info: *const u8 = ctx.arg(1);
    let target: *const u8 = ctx.arg(2);
    // SAFETY: a helper without arguments.
    let current = unsafe { bpf_get_current_task() } as *const u8;
    // A seccomp filter signals the task it runs in.
    if target != current || read_at::<i32>(info, SI_CODE) != Some(SYS_SECCOMP) {
        return 0;
    }
    // SAFETY: the helper gets the current task as the trusted pointer the
    // first one returns.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    let Some(nr) = arch::syscall_nr(regs) else {
        return 0;
    };
    if arch::register(regs, arch::AX) as i64 != nr {
        return 0;
    }
    if is_killed() {
        record(regs, nr, DENIAL_KILLED_PROCESS, 0);
    } else {
        record(regs, nr, DENIAL_RETURNED, nr);
    }
    0
}

/// Is a seccomp filter killing the current task?
#[inline(always)]
fn is_killed() -> bool {
    let layout = layout();
    // SAFETY: a helper without arguments; the task is only read from.
    let task = unsafe { bpf_get_current_task() } as *const u8;
    layout.valid != 0 && read_at::<i32>(task, layout.task_seccomp_mode) == Some(SECCOMP_MODE_DEAD)
}

/// Counts one denial of `nr` in the current task's table, with the
/// arguments `regs` saved.
#[inline(always)]
fn record(regs: *const u8, nr: i64, outcome: u32, ret: i64) {
    let compat = current_task_flags().compat;
    let key = SyscallKey {
        nr,
        abi: if compat { Abi::Compat } else { Abi::Native } as u32,
        tag: outcome,
    };
    let args = arch::syscall_args(regs, compat);
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
                args,
                values_lost: 0,
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
    record_values(key, &args);
}

/// Counts a denied call of a captured syscall by its captured values; a
/// call whose values cannot be kept (no room, unreadable memory) is counted
/// on its denial as lost.
#[inline(always)]
fn record_values(key: SyscallKey, args: &[u64; 6]) {
    let spec_key = SyscallKey { tag: 0, ..key };
    // SAFETY: a copy of a map value, read while this program runs.
    let Some(spec) = (unsafe { DENIAL_CAPTURE.get(spec_key) }).copied() else {
        return;
    };
    let mut values = [0u64; CAPTURED_ARGS];
    let mut known = true;
    let slots = values.iter_mut().zip(spec.args).zip(spec.masks);
    for ((value, index), mask) in slots {
        if index == NO_ARG {
            continue;
        }
        let raw = if spec.source == SOURCE_CLONE3_FLAGS {
            // `struct clone_args` starts with `flags`, a u64, at the
            // address in argument 0 (the caller's memory, untouched: the
            // call never ran).
            // SAFETY: a checked read of user memory.
            unsafe { bpf_probe_read_user(args[0] as *const u64) }.ok()
        } else {
            args.get(index as usize).copied()
        };
        match raw {
            Some(raw) => *value = raw & mask,
            None => known = false,
        }
    }
    if known {
        let values_key = DeniedValuesKey {
            denial: key,
            values,
        };
        if let Some(count) = DENIED_VALUES.get_ptr_mut(values_key) {
            crate::atomic_add(count, 1);
            return;
        }
        if DENIED_VALUES.insert(values_key, 1, BPF_NOEXIST).is_ok() {
            return;
        }
        // Another CPU inserted it first; else the map is full.
        if let Some(count) = DENIED_VALUES.get_ptr_mut(values_key) {
            crate::atomic_add(count, 1);
            return;
        }
    }
    if let Some(denial) = DENIALS.get_ptr_mut(key) {
        // SAFETY: a map value, valid while this program runs.
        crate::atomic_add(unsafe { core::ptr::addr_of_mut!((*denial).values_lost) }, 1);
    }
}

/// Adds one to a denial's count; other CPUs may add at the same time.
#[inline(always)]
fn add_one(denial: *mut Denial) {
    // SAFETY: a map value, valid while this program runs.
    crate::atomic_add(unsafe { core::ptr::addr_of_mut!((*denial).count) }, 1);
}
