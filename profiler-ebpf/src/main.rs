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
#![no_std]
#![no_main]

use aya_ebpf::{
    helpers::generated::bpf_get_current_ancestor_cgroup_id,
    macros::{btf_tracepoint, map, raw_tracepoint, tracepoint},
    maps::{PerCpuArray, PerCpuHashMap},
    programs::{BtfTracePointContext, RawTracePointContext, TracePointContext},
};
use profiler_common::{
    ABI_COMPAT, ABI_NATIVE, Counts, OUT_OF_RANGE_SLOTS, OutOfRangeKey, TABLE_SIZE,
};

/// Id of the recorded cgroup; set by the loader (read-only data, so the
/// verifier sees it as a constant).
#[unsafe(no_mangle)]
static TARGET_CGROUP_ID: u64 = 0;

/// Depth of the recorded cgroup below the cgroup2 root; set by the loader.
#[unsafe(no_mangle)]
static TARGET_CGROUP_LEVEL: u32 = 0;

#[map]
static COUNTS: PerCpuArray<Counts> = PerCpuArray::with_max_entries(1, 0);

#[map]
static OUT_OF_RANGE: PerCpuHashMap<OutOfRangeKey, u64> =
    PerCpuHashMap::with_max_entries(OUT_OF_RANGE_SLOTS, 0);

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

#[inline(always)]
fn count(id: i64) {
    if !recorded() {
        return;
    }
    let abi = current_abi();
    // `id` is a `long`: a negative value (syscall(-1)) and the x32 numbers
    // (bit 30 set) are out of range and must still be counted.
    if (0..TABLE_SIZE as i64).contains(&id) {
        if let Some(counts) = COUNTS.get_ptr_mut(0) {
            // SAFETY: the pointer is this CPU's value of the map, and
            // preemption is off while a syscall tracepoint runs a program, so
            // nothing else writes it meanwhile. The index is bounded above.
            unsafe { (*counts).calls[abi][id as usize] += 1 };
        }
    } else {
        count_out_of_range(abi, id);
    }
}

#[inline(always)]
fn count_out_of_range(abi: usize, id: i64) {
    if let Some(counts) = COUNTS.get_ptr_mut(0) {
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

/// Which table the current syscall's number belongs to.
#[inline(always)]
fn current_abi() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        // On x86_64 the kernel marks a syscall entered through the 32-bit
        // entry points (int $0x80, sysenter, 32-bit syscall) with TS_COMPAT
        // in `current->thread_info.status` before the tracepoint fires, and
        // clears it on return to user space. `thread_info` is the first
        // member of `task_struct` on x86; `status` follows two longs.
        const THREAD_INFO_STATUS: usize = 16;
        const TS_COMPAT: u32 = 0x0002;
        // SAFETY: `bpf_get_current_task` returns the running task, which
        // outlives this program run; the read is done by a checked helper.
        let status = unsafe {
            let task = aya_ebpf::helpers::bpf_get_current_task() as *const u8;
            aya_ebpf::helpers::bpf_probe_read_kernel(task.add(THREAD_INFO_STATUS) as *const u32)
        };
        if let Ok(status) = status
            && status & TS_COMPAT != 0
        {
            return ABI_COMPAT;
        }
    }
    ABI_NATIVE
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
