//! Argument capture: for the syscalls whose privilege is in an argument
//! (the user side's table, `profiler/src/syscall_args`), the values of those
//! arguments, counted per distinct tuple.
//!
//! Called by [`crate::counting`] for every counted syscall, right after the
//! count. A syscall outside the set costs one byte read of the read-only
//! [`CAPTURE_INDEX`] (no helper, no map lookup). A captured one costs the
//! read of its argument registers and, when it passes the same values as
//! the syscall's previous call on this CPU, an in-place add in
//! [`ARG_PENDING`] (an array the verifier inlines: no helper call). Only a
//! change of values costs a hash lookup, which moves the previous tuple's
//! calls into [`ARG_VALUES`] (inserting it the first time). Helper calls
//! are what costs here (on CPUs with return-thunk and call-depth
//! mitigations, each costs tens of ns): the raw tracepoint reads the
//! registers with one helper call, the BTF tracepoint with plain loads.
//!
//! Measured on this project's machines (kernel 6.18, a VM with SRSO "Safe
//! RET" and retpolines), a loop of raw prctl(PR_GET_DUMPABLE) against one
//! of getppid, both recorded: capture adds about 85-90 ns a captured call
//! with the raw tracepoint (one `bpf_probe_read_kernel`); with the BTF
//! tracepoint, 6 ns in the kernel's accounting (`kernel.bpf_stats_enabled`)
//! and about 10 end to end. Calls count too: building the tuple by zeroing
//! it first made the compiler call a `memset` subprogram, which took the
//! BTF tracepoint's figure to 24 ns (44 end to end). Syscalls outside the
//! set pay one byte read; a recording that learns no values (the loader's
//! [`CAPTURE_ARGUMENTS`] at 0) not even that: the verifier prunes it all.
//!
//! A tuple that finds the map full is counted in `ARG_LOST`, per capture
//! slot (one syscall of one table) and phase: the values kept may be
//! incomplete, never silently.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    helpers::{bpf_probe_read_kernel, bpf_probe_read_user},
    macros::map,
    maps::{PerCpuArray, PerCpuHashMap},
};
use profiler_common::{
    ARG_LOST_SLOTS, ARG_VALUE_SLOTS, Abi, ArgKey, ArgPending, CAPTURE_SPECS, CAPTURED_ARGS,
    CaptureSpec, NO_ARG, Phase, SOURCE_CLONE3_FLAGS, TABLE_SIZE, arg_lost_index,
};

use crate::BPF_NOEXIST;

/// 1 when the recording learns argument values. Set by the loader
/// (read-only data, so the verifier prunes the capture when it is 0).
#[unsafe(no_mangle)]
static CAPTURE_ARGUMENTS: u32 = 0;

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

/// Calls per syscall, phase and tuple of captured values. Allocated tuple
/// by tuple: a recording uses far fewer tuples than it has room for, and
/// inserting is rare (a new tuple), so only what is used takes memory.
#[map]
static ARG_VALUES: PerCpuHashMap<ArgKey, u64> =
    PerCpuHashMap::with_max_entries(ARG_VALUE_SLOTS, BPF_F_NO_PREALLOC);

/// Per captured syscall (by [`CAPTURE`] index) and CPU: the last tuple and
/// its calls not yet in [`ARG_VALUES`].
#[map]
static ARG_PENDING: PerCpuArray<ArgPending> =
    PerCpuArray::with_max_entries(CAPTURE_SPECS as u32, 0);

/// Calls whose tuple found no room in [`ARG_VALUES`], by
/// [`arg_lost_index`]: phase and capture slot. The loader sizes it to
/// the phases the recording has.
#[map]
static ARG_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(ARG_LOST_SLOTS, 0);

/// `EEXIST`, as a map update returns it (negated).
const EEXIST: i32 = 17;

/// Where the hook finds the syscall's arguments.
#[derive(Clone, Copy)]
pub enum ArgSource {
    /// A `struct pt_regs *` as a plain number (raw tracepoint, argument
    /// 0): read with a helper.
    Regs(*const u8),
    /// A BTF-typed `struct pt_regs *` (BTF tracepoint, argument 0): read
    /// with plain loads, no helper.
    BtfRegs(*const u8),
    /// The `raw_syscalls:sys_enter` record: `unsigned long args[6]` at
    /// offset 16, already taken from the registers of the task's table.
    Record(*const u8),
}

/// Offsets in x86_64's `struct pt_regs` of the argument registers.
const BP: usize = 32;
const BX: usize = 40;
const R10: usize = 56;
const R9: usize = 64;
const R8: usize = 72;
const CX: usize = 88;
const DX: usize = 96;
const SI: usize = 104;
const DI: usize = 112;

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
pub(crate) fn arguments(source: ArgSource, compat: bool) -> Option<[u64; 6]> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let mut args = match source {
        ArgSource::BtfRegs(regs) => {
            // SAFETY: an offset of a u64 field of `struct pt_regs`, loaded
            // through the BTF-typed pointer the verifier allows plain loads
            // from.
            let load =
                |offset: usize| unsafe { core::ptr::read_volatile(regs.add(offset).cast::<u64>()) };
            if compat {
                [load(BX), load(CX), load(DX), load(SI), load(DI), load(BP)]
            } else {
                [load(DI), load(SI), load(DX), load(R10), load(R8), load(R9)]
            }
        }
        ArgSource::Regs(regs) => {
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
    // SAFETY: a read-only global, written by the loader before verification.
    if unsafe { core::ptr::read_volatile(&raw const CAPTURE_ARGUMENTS) } == 0 {
        return;
    }
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
    let slot = ((index as usize - 1) & (CAPTURE_SPECS - 1)) as u32;
    let Some(args) = arguments(source, abi == Abi::Compat) else {
        lose(phase as u8, slot, 1);
        return;
    };
    // Each value is computed in place: zeroing the array first would be a
    // call to a byte-by-byte `memset` subprogram on every captured call.
    let values = if spec.source == SOURCE_CLONE3_FLAGS {
        // `struct clone_args` begins with `__aligned_u64 flags`.
        // SAFETY: a user address read by a checked helper.
        match unsafe { bpf_probe_read_user(args[0] as *const u64) } {
            Ok(flags) => [flags & spec.masks[0], 0, 0],
            Err(_) => {
                lose(phase as u8, slot, 1);
                return;
            }
        }
    } else {
        // An unused slot's index is NO_ARG, which `pick` turns into 0.
        [
            pick(&args, spec.args[0]) & spec.masks[0],
            pick(&args, spec.args[1]) & spec.masks[1],
            pick(&args, spec.args[2]) & spec.masks[2],
        ]
    };
    let key = ArgKey {
        nr: nr as u32,
        abi: abi as u8,
        phase: phase as u8,
        _pad: [0; 2],
        values,
    };
    // The loader gives the array only the slots in use.
    let Some(pending) = ARG_PENDING.get_ptr_mut(slot) else {
        add(&key, slot, 1);
        return;
    };
    // SAFETY: this CPU's value of the array; preemption is off while the
    // hook runs, so nothing else touches it meanwhile.
    let previous = unsafe {
        if (*pending).calls > 0 && same(&(*pending).key, &key) {
            (*pending).calls += 1;
            return;
        }
        let previous = *pending;
        (*pending).key = key;
        (*pending).calls = 1;
        previous
    };
    // The slot holds only tuples of its own syscall.
    if previous.calls > 0 {
        add(&previous.key, slot, previous.calls);
    }
}

/// Adds `calls` to the count of `key` (a tuple of capture slot `slot`) in
/// [`ARG_VALUES`], inserting it if it is not there; counts them as lost if
/// the map is full or no memory could be had for the tuple.
#[inline(always)]
fn add(key: &ArgKey, slot: u32, calls: u64) {
    if let Some(n) = ARG_VALUES.get_ptr_mut(key) {
        // SAFETY: this CPU's value of the entry; preemption is off.
        unsafe { *n += calls };
        return;
    }
    match ARG_VALUES.insert(key, &calls, BPF_NOEXIST) {
        Ok(()) => {}
        // Another CPU inserted the same tuple meanwhile: this CPU's value
        // of it is there now, zero.
        Err(e) if e == -EEXIST => match ARG_VALUES.get_ptr_mut(key) {
            // SAFETY: as above.
            Some(n) => unsafe { *n += calls },
            None => lose(key.phase, slot, calls),
        },
        // E2BIG: the map is full; ENOMEM: no memory for the tuple.
        Err(_) => lose(key.phase, slot, calls),
    }
}

/// Counts `calls` of capture slot `slot` whose values could not be kept.
#[inline(always)]
fn lose(phase: u8, slot: u32, calls: u64) {
    if let Some(n) = ARG_LOST.get_ptr_mut(arg_lost_index(phase, slot)) {
        // SAFETY: this CPU's value; preemption is off in the hook.
        unsafe { *n += calls };
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

/// Whether two keys are equal, field by field: a derived comparison of
/// the whole struct may become a call to `bcmp`, which BPF does not have.
#[inline(always)]
fn same(a: &ArgKey, b: &ArgKey) -> bool {
    a.nr == b.nr
        && a.abi == b.abi
        && a.phase == b.phase
        && a.values[0] == b.values[0]
        && a.values[1] == b.values[1]
        && a.values[2] == b.values[2]
}
