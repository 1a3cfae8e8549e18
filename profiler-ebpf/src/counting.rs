//! Counting: one body, [`count`], behind three entry points, one per hook
//! type on `raw_syscalls:sys_enter`; the loader attaches exactly one of
//! them. Which is the default, and why, is said in
//! `profiler/src/session/hook.rs`, where the measurement is recorded.
//!
//! Every task on the host passes through here on every syscall, so the first
//! thing done is the cgroup test, and a task outside the recorded cgroup tree
//! leaves right after it: a few plain loads on the BTF tracepoint (the
//! default where the kernel has BTF), one helper call on the others. Counting is per CPU, in place, in the map
//! value: no event is sent to user space per syscall, so nothing can be lost
//! however fast the workload calls.

use aya_ebpf::{
    EbpfContext,
    bindings::BPF_F_NO_PREALLOC,
    macros::{btf_tracepoint, map, raw_tracepoint, tracepoint},
    maps::{PerCpuArray, PerCpuHashMap},
    programs::{BtfTracePointContext, RawTracePointContext, TracePointContext},
};
use profiler_common::{Abi, Counts, OUT_OF_RANGE_SLOTS, Phase, SyscallKey, TABLE_SIZE};

use crate::{
    REQUIRE_SECCOMP,
    arch::{TaskFlags, current_task_flags},
    arguments::{self, ArgSource},
    loads, recorded,
    runtime::in_runtime_phase,
    task::Current,
};

/// One value per [`Phase`].
#[map]
static COUNTS: PerCpuArray<Counts> = PerCpuArray::with_max_entries(Phase::COUNT, 0);

/// Allocated entry by entry: most recordings see no out-of-range number.
#[map]
static OUT_OF_RANGE: PerCpuHashMap<SyscallKey, u64> =
    PerCpuHashMap::with_max_entries(OUT_OF_RANGE_SLOTS, BPF_F_NO_PREALLOC);

/// `raw_tp/sys_enter`: `(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter_raw(ctx: RawTracePointContext) -> i32 {
    if recorded() {
        count(
            ctx.arg::<i64>(1),
            ArgSource::Regs(ctx.arg(0)),
            current_task_flags(),
        );
    }
    0
}

/// `tracepoint/raw_syscalls/sys_enter`: the record has `long id` at offset 8
/// and `unsigned long args[6]` at offset 16.
#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
pub fn sys_enter_tp(ctx: TracePointContext) -> i32 {
    if recorded() {
        // SAFETY: offset 8 is `id` in this tracepoint's record format
        // (`/sys/kernel/tracing/events/raw_syscalls/sys_enter/format`).
        let id = unsafe { ctx.read_at::<i64>(8) }.unwrap_or(-1);
        count(
            id,
            ArgSource::Record(ctx.as_ptr() as *const u8),
            current_task_flags(),
        );
    }
    0
}

/// `tp_btf/sys_enter`: the same arguments as the raw tracepoint, typed;
/// the task's cgroup and flags are read with plain loads ([`Current`]), so
/// a task outside the recording leaves without a helper call.
#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter_btf(ctx: BtfTracePointContext) -> i32 {
    let task = Current::get();
    if task.in_tree() {
        count(
            ctx.arg::<i64>(1),
            ArgSource::BtfRegs(ctx.arg(0)),
            task.flags(),
        );
    }
    0
}

/// Never attached in normal use: a program the verifier must reject (it
/// reads from an address it made up), loaded only by the hidden
/// `--hook verifier-selftest`, so that the test suite can check on the real
/// kernel that a rejection reaches the user with the verifier's reason. In
/// debug builds only: a release's object does not hold it.
#[cfg(feature = "verifier-selftest")]
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn verifier_selftest(_ctx: RawTracePointContext) -> i32 {
    let bogus = core::hint::black_box(0x1000usize) as *const i32;
    // SAFETY: never runs: the verifier refuses to load this.
    unsafe { core::ptr::read_volatile(bogus) }
}

/// Counts syscall `id` of a task of the recorded tree.
#[inline(always)]
fn count(id: i64, args: ArgSource, task: TaskFlags) {
    // SAFETY: a read-only global, set by the loader: the verifier sees a
    // constant and drops the container's branches from a native recording.
    let container = unsafe { core::ptr::read_volatile(&REQUIRE_SECCOMP) } != 0;
    if container && !task.seccomp {
        return;
    }
    let abi = if task.compat {
        Abi::Compat
    } else {
        Abi::Native
    };
    let phase = if container && task.seccomp && in_runtime_phase() {
        Phase::Runtime
    } else {
        Phase::Workload
    };
    // `id` is a `long`: a negative value (syscall(-1)) and the x32 numbers
    // (bit 30 set) are out of range and must still be counted.
    if (0..TABLE_SIZE as i64).contains(&id) {
        if let Some(counts) = COUNTS.get_ptr_mut(phase as u32) {
            // SAFETY: the pointer is this CPU's value of the map, and
            // preemption is off while a syscall tracepoint runs a program, so
            // nothing else writes it meanwhile. The index is bounded above.
            unsafe { (*counts).calls[abi.index()][id as usize] += 1 };
        }
        arguments::capture(args, abi, id as usize, phase);
        loads::observe(args, abi, id as usize, phase);
    } else {
        count_out_of_range(phase, abi, id);
    }
}

#[inline(always)]
fn count_out_of_range(phase: Phase, abi: Abi, id: i64) {
    if let Some(counts) = COUNTS.get_ptr_mut(phase as u32) {
        // SAFETY: as in `count`.
        unsafe { (*counts).out_of_range += 1 };
    }
    let key = SyscallKey {
        nr: id,
        abi: abi as u32,
        tag: 0,
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
