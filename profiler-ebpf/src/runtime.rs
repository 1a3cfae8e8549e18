//! The runtime phase of a container.
//!
//! For a container the recording must hold exactly what the container's
//! seccomp filter will see. The runtime (runc, crun) makes its set-up
//! syscalls in the container's cgroup before it installs the filter, and a
//! few more after, up to the `execve` of the entrypoint. So with
//! `REQUIRE_SECCOMP` set, a syscall counts only when the calling task has a
//! seccomp filter, which the kernel marks in the task's `syscall_work`; and
//! the syscalls of a process between its successful filter install and its
//! next successful `execve` (seen by the `sys_exit` program) are counted apart,
//! as the runtime's, in `COUNTS[Phase::Runtime]`.

use aya_ebpf::{
    macros::{map, raw_tracepoint},
    maps::{Array, HashMap},
    programs::RawTracePointContext,
};
use profiler_common::RUNTIME_PROCESS_SLOTS;

use crate::{
    BPF_NOEXIST,
    arch::{self, DI, ORIG_AX, SI},
    current_tgid, recorded,
};

/// Processes (by tgid) that installed a seccomp filter and have not yet made
/// a successful `execve`: the runtime between the filter and the entrypoint.
#[map]
static RUNTIME_PROCESSES: HashMap<u32, u8> = HashMap::with_max_entries(RUNTIME_PROCESS_SLOTS, 0);

/// How many processes left the runtime phase by a successful execve: once
/// the entrypoint runs, user space detaches the `sys_exit` program, whose
/// hook costs every task of the host on every syscall.
#[map]
static ENTRYPOINTS_STARTED: Array<u64> = Array::with_max_entries(1, 0);

/// How many processes are in `RUNTIME_PROCESSES` now.
#[map]
static RUNTIME_ACTIVE: Array<i64> = Array::with_max_entries(1, 0);

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

pub fn in_runtime_phase() -> bool {
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
        // Two's complement: adding the bits of a negative delta subtracts.
        crate::atomic_add(n.cast::<u64>(), delta as u64);
    }
}

/// At a successful syscall's exit: a seccomp filter install puts the process
/// into the runtime phase, an `execve` takes it out.
#[inline(always)]
fn phase_change(regs: *const u8) {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let read = |offset: usize| arch::register(regs, offset);
    let installs_filter = match read(ORIG_AX) {
        arch::NR_PRCTL => read(DI) == arch::PR_SET_SECCOMP && read(SI) == arch::SECCOMP_MODE_FILTER,
        arch::NR_SECCOMP => read(DI) == arch::SECCOMP_SET_MODE_FILTER,
        arch::NR_EXECVE | arch::NR_EXECVEAT => {
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
