//! Argument capture: for the syscalls whose privilege is in an argument
//! (the user side's table, `profiler/src/arguments`), the values of those
//! arguments, counted per distinct tuple.
//!
//! Called by [`crate::counting`] for every counted syscall, right after the
//! count. A syscall outside the set costs one byte read of the read-only
//! [`CAPTURE_INDEX`] (no helper, no map lookup). A captured one costs one
//! read of its saved registers (or of the tracepoint record), a hash lookup
//! and an in-place add on this CPU's value; the first call of a tuple
//! inserts it. A tuple that finds the map full is counted in `ARG_LOST`,
//! per syscall and phase: the values kept may be incomplete, never silently.

use aya_ebpf::{
    helpers::{bpf_probe_read_kernel, bpf_probe_read_user},
    macros::map,
    maps::{PerCpuArray, PerCpuHashMap},
};
use profiler_common::{
    ARG_LOST_SLOTS, ARG_VALUE_SLOTS, Abi, ArgKey, CAPTURE_SPECS, CAPTURED_ARGS, CaptureSpec,
    NO_ARG, Phase, SOURCE_CLONE3_FLAGS, TABLE_SIZE, arg_lost_index,
};

use crate::BPF_NOEXIST;

/// For each syscall of each table: 0 when its arguments are not captured,
/// else 1 + its index in [`CAPTURE`]. Set by the loader (read-only data).
#[unsafe(no_mangle)]
static CAPTURE_INDEX: [[u8; TABLE_SIZE]; Abi::COUNT] = [[0; TABLE_SIZE]; Abi::COUNT];

/// What to capture of each captured syscall. Set by the loader.
#[unsafe(no_mangle)]
static CAPTURE: [CaptureSpec; CAPTURE_SPECS] = [CaptureSpec {
    args: [NO_ARG; CAPTURED_ARGS],
    source: 0,
    _pad: [0; 4],
    masks: [0; CAPTURED_ARGS],
}; CAPTURE_SPECS];

/// Calls per syscall, phase and tuple of captured values.
#[map]
static ARG_VALUES: PerCpuHashMap<ArgKey, u64> = PerCpuHashMap::with_max_entries(ARG_VALUE_SLOTS, 0);

/// Calls whose tuple found no room in [`ARG_VALUES`], by
/// [`arg_lost_index`].
#[map]
static ARG_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(ARG_LOST_SLOTS, 0);

/// `EEXIST`, as a map update returns it (negated).
const EEXIST: i32 = 17;

/// Where the hook finds the syscall's arguments.
#[derive(Clone, Copy)]
pub enum ArgSource {
    /// A `struct pt_regs *` (raw tracepoint and BTF tracepoint, argument 0).
    Regs(*const u8),
    /// The `raw_syscalls:sys_enter` record: `unsigned long args[6]` at
    /// offset 16, already taken from the registers of the task's table.
    Record(*const u8),
}

/// The saved registers of x86_64's `struct pt_regs` from `bp` (offset 32)
/// to `di` (offset 112): every argument register of both tables, read in
/// one helper call.
#[repr(C)]
#[derive(Clone, Copy)]
struct ArgRegisters {
    bp: u64,
    bx: u64,
    _r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    _ax: u64,
    cx: u64,
    dx: u64,
    si: u64,
    di: u64,
}
const ARG_REGISTERS_OFFSET: usize = 32;
/// Offset of `args[6]` in the `sys_enter` record
/// (`/sys/kernel/tracing/events/raw_syscalls/sys_enter/format`).
const RECORD_ARGS_OFFSET: usize = 16;

/// The six arguments of the current syscall, in the order of its table:
/// `di, si, dx, r10, r8, r9` natively, `bx, cx, dx, si, di, bp` for i386,
/// whose arguments are 32 bits wide (the upper halves are not the caller's).
#[inline(always)]
fn arguments(source: ArgSource, compat: bool) -> Option<[u64; 6]> {
    let mut args = match source {
        ArgSource::Regs(regs) => {
            if !cfg!(target_arch = "x86_64") {
                return None;
            }
            // SAFETY: `regs` is the kernel's pt_regs of this syscall; the
            // read is done by a checked helper.
            let r = unsafe {
                bpf_probe_read_kernel(regs.add(ARG_REGISTERS_OFFSET) as *const ArgRegisters)
            }
            .ok()?;
            if compat {
                [r.bx, r.cx, r.dx, r.si, r.di, r.bp]
            } else {
                [r.di, r.si, r.dx, r.r10, r.r8, r.r9]
            }
        }
        // SAFETY: the tracepoint's record, valid while the program runs;
        // the read is done by a checked helper.
        ArgSource::Record(record) => {
            unsafe { bpf_probe_read_kernel(record.add(RECORD_ARGS_OFFSET) as *const [u64; 6]) }
                .ok()?
        }
    };
    if compat {
        for a in &mut args {
            *a &= 0xffff_ffff;
        }
    }
    Some(args)
}

/// Captures the arguments of syscall `nr` (below [`TABLE_SIZE`]) of table
/// `abi`, if it is one whose arguments are captured.
#[inline(always)]
pub fn capture(source: ArgSource, abi: Abi, nr: usize, phase: Phase) {
    let nr = nr & (TABLE_SIZE - 1);
    let table = abi.index() & 1;
    // SAFETY: an in-bounds byte of a read-only global, set by the loader;
    // read volatile so that the compiler does not fold its initial zero.
    let index = unsafe {
        core::ptr::read_volatile(
            (&raw const CAPTURE_INDEX)
                .cast::<u8>()
                .add(table * TABLE_SIZE + nr),
        )
    };
    if index == 0 {
        return;
    }
    // SAFETY: as above; the index is masked into the array (CAPTURE_SPECS
    // is a power of two).
    let spec = unsafe {
        core::ptr::read_volatile(
            (&raw const CAPTURE)
                .cast::<CaptureSpec>()
                .add((index as usize - 1) & (CAPTURE_SPECS - 1)),
        )
    };
    let lost = || {
        if let Some(n) = ARG_LOST.get_ptr_mut(arg_lost_index(phase, abi, nr)) {
            // SAFETY: this CPU's value; preemption is off in the hook.
            unsafe { *n += 1 };
        }
    };
    let Some(args) = arguments(source, abi == Abi::Compat) else {
        lost();
        return;
    };
    let mut key = ArgKey {
        nr: nr as u32,
        abi: abi as u8,
        phase: phase as u8,
        _pad: [0; 2],
        values: [0; CAPTURED_ARGS],
    };
    if spec.source == SOURCE_CLONE3_FLAGS {
        // `struct clone_args` begins with `__aligned_u64 flags`.
        // SAFETY: a user address read by a checked helper.
        match unsafe { bpf_probe_read_user(args[0] as *const u64) } {
            Ok(flags) => key.values[0] = flags & spec.masks[0],
            Err(_) => {
                lost();
                return;
            }
        }
    } else {
        for slot in 0..CAPTURED_ARGS {
            let index = spec.args[slot];
            if index != NO_ARG {
                key.values[slot] = pick(&args, index) & spec.masks[slot];
            }
        }
    }
    if let Some(calls) = ARG_VALUES.get_ptr_mut(&key) {
        // SAFETY: this CPU's value of the entry; preemption is off.
        unsafe { *calls += 1 };
        return;
    }
    match ARG_VALUES.insert(&key, &1, BPF_NOEXIST) {
        Ok(()) => {}
        // Another CPU inserted the same tuple meanwhile: this CPU's value
        // of it is there now, zero.
        Err(e) if e == -EEXIST => match ARG_VALUES.get_ptr_mut(&key) {
            // SAFETY: as above.
            Some(calls) => unsafe { *calls += 1 },
            None => lost(),
        },
        // E2BIG: the map is full.
        Err(_) => lost(),
    }
}

/// `args[index]`, or 0. The verifier refuses reads of the stack at a
/// variable offset, so each argument is selected by a comparison instead.
#[inline(always)]
fn pick(args: &[u64; 6], index: u8) -> u64 {
    let mut value = 0;
    for (i, arg) in args.iter().enumerate() {
        if usize::from(index) == i {
            value = *arg;
        }
    }
    value
}
