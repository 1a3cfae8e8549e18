//! The shared objects the recorded tree loads at run time (`dlopen`:
//! plugins, the JVM's `libjvm.so`, Python's extension modules), for the
//! coverage scan, which otherwise sees only the executables and their
//! DT_NEEDED closure.
//!
//! What is exact at the syscall boundary: a loader opens the object by its
//! path, read-only, then maps it executable from that descriptor in the
//! same thread (glibc's and musl's loaders both do, segment by segment,
//! before they close it). So, on the counting hook:
//!
//! - at `open`/`openat`/`openat2` read-only (not a directory, not
//!   `O_PATH`, nothing created), the path is read from the caller's memory,
//!   and if it is absolute and names a shared object (`.so` at the end, or
//!   followed by `.` and a digit: `libz.so.1`), it is kept by thread as
//!   pending (`LOAD_PENDING`), with the process's program;
//! - at `mmap` of a descriptor with `PROT_EXEC`, the thread's pending
//!   object, if any, is loaded: it goes into `LOADED` (deduplicated there,
//!   by program and path) and is no longer pending.
//!
//! An object opened as data (`cat lib.so`) is never mapped executable, and
//! a loader's failed candidates are overwritten by the next open before
//! any map: neither is kept. Relative paths are ignored: a loader opens
//! what it found by absolute path (the ld.so cache, its search path), and
//! the directory a relative path is relative to is not known afterwards.
//! The path is as the process saw it: inside its root, which for a
//! container is the image's (the user side resolves it there).
//!
//! Cost: only the calls of the recorded tree get here, and of those only
//! read-only opens read a path (one helper call and a scan of its bytes);
//! an `mmap` is looked at only with `PROT_EXEC` and a descriptor. The
//! i386 table is not watched: the scan reads x86-64 objects only.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    helpers::{
        bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user,
        generated::bpf_probe_read_user_str,
    },
    macros::map,
    maps::{HashMap, PerCpuArray},
};
use profiler_common::{
    Abi, EXEC_PATH_LEN, LOAD_PENDING_SLOTS, LOADED_PATH_LEN, LOADED_SLOTS, Loaded, MEMBER_SLOTS,
    Phase, event_counts, program_id,
};

use crate::{BPF_NOEXIST, arguments::ArgSource, count_event, current_tgid};

/// 1 while recording with coverage. Set by the loader (read-only data, so
/// the verifier prunes all of this when it is 0).
#[unsafe(no_mangle)]
static WATCH_LOADS: u32 = 0;

/// The objects loaded, by program and path, with the time of their first
/// load.
#[map]
static LOADED: HashMap<Loaded, u64> = HashMap::with_max_entries(LOADED_SLOTS, BPF_F_NO_PREALLOC);

/// By thread: the shared object it opened last, until it maps it
/// executable or exits.
#[map]
static LOAD_PENDING: HashMap<u32, Loaded> =
    HashMap::with_max_entries(LOAD_PENDING_SLOTS, BPF_F_NO_PREALLOC);

/// By process: its program, as the [`program_id`] of the file name its
/// last exec was given (`PROGRAMS` has the name). A forked child has its
/// parent's until it executes another.
#[map]
static PROCESS_PROGRAM: HashMap<u32, u32> =
    HashMap::with_max_entries(MEMBER_SLOTS, BPF_F_NO_PREALLOC);

/// Room to build a [`Loaded`] in, which is too big for the stack.
#[map]
static LOAD_SCRATCH: PerCpuArray<Loaded> = PerCpuArray::with_max_entries(1, 0);

/// x86_64 syscall numbers.
const SYS_OPEN: usize = 2;
const SYS_MMAP: usize = 9;
const SYS_OPENAT: usize = 257;
const SYS_OPENAT2: usize = 437;

const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_DIRECTORY: u64 = 0o200000;
const O_PATH: u64 = 0o10000000;
const PROT_EXEC: u64 = 4;
const MAP_ANONYMOUS: u64 = 0x20;

/// Whether the loads are watched.
#[inline(always)]
pub fn watching() -> bool {
    // SAFETY: a read-only global, written by the loader before verification.
    unsafe { core::ptr::read_volatile(&raw const WATCH_LOADS) != 0 }
}

/// Looks at syscall `nr` of the recorded tree (called for every counted
/// call; leaves at once for all but the four it watches).
#[inline(always)]
pub fn observe(source: ArgSource, abi: Abi, nr: usize, phase: Phase) {
    if !watching() || abi != Abi::Native || phase != Phase::Workload {
        return;
    }
    match nr {
        SYS_OPEN | SYS_OPENAT | SYS_OPENAT2 => opened(source, nr),
        SYS_MMAP => mapped(source),
        _ => {}
    }
}

/// An open: keeps the path as the thread's pending object if it names a
/// shared object and is opened read-only.
#[inline(always)]
fn opened(source: ArgSource, nr: usize) {
    let Some(args) = crate::arguments::arguments(source, false) else {
        return;
    };
    let (path, flags) = match nr {
        SYS_OPEN => (args[0], args[1]),
        SYS_OPENAT => (args[1], args[2]),
        // `struct open_how` begins with `__u64 flags`.
        // SAFETY: a user address read by a checked helper.
        _ => match unsafe { bpf_probe_read_user(args[2] as *const u64) } {
            Ok(flags) => (args[1], flags),
            Err(_) => return,
        },
    };
    if flags & O_ACCMODE != 0 || flags & (O_CREAT | O_DIRECTORY | O_PATH) != 0 {
        return;
    }
    let Some(key) = LOAD_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: `key` is this CPU's value of the scratch map, valid while the
    // program runs (preemption is off in the hook); the string read is
    // bounded by its size.
    unsafe {
        // The bytes after the path's NUL are part of the `LOADED` key: none
        // of a previous, longer path may stay.
        let words = core::ptr::addr_of_mut!((*key).path).cast::<u64>();
        for i in 0..LOADED_PATH_LEN / 8 {
            core::ptr::write_volatile(words.add(i), 0);
        }
        let dest = core::ptr::addr_of_mut!((*key).path) as *mut core::ffi::c_void;
        let len = bpf_probe_read_user_str(dest, LOADED_PATH_LEN as u32, path as *const _);
        if len <= 1 || (*key).path[0] != b'/' {
            return;
        }
        if !names_shared_object(&(*key).path, len as usize) {
            return;
        }
        // The path filled the room: it may be cut short, and is not kept.
        if len as usize >= LOADED_PATH_LEN {
            count_event(event_counts::LOADS_LOST, 1);
            return;
        }
        let tgid = current_tgid();
        (*key).program = match PROCESS_PROGRAM.get(&tgid) {
            Some(program) => *program,
            None => 0,
        };
        (*key)._pad = 0;
        let tid = bpf_get_current_pid_tgid() as u32;
        // A thread that opens objects without mapping them (a linker
        // reading libraries) replaces its pending one in place, which
        // costs less than a new entry.
        if let Some(pending) = LOAD_PENDING.get_ptr_mut(&tid) {
            let from = key.cast::<u64>();
            let to = pending.cast::<u64>();
            for i in 0..core::mem::size_of::<Loaded>() / 8 {
                core::ptr::write_volatile(to.add(i), core::ptr::read_volatile(from.add(i)));
            }
        } else if LOAD_PENDING.insert(&tid, &*key, 0).is_err() {
            count_event(event_counts::LOADS_LOST, 1);
        }
    }
}

/// Whether the path (`len` bytes with its NUL, in a buffer of
/// [`LOADED_PATH_LEN`]) names a shared object: it ends in `.so`, or in
/// `.so` and a version of dots and digits (`libc.so.6`,
/// `libstdc++.so.6.0.30`; not `/etc/ld.so.cache`). Read from the end, so
/// that a path costs a few steps, not one per byte.
#[inline(always)]
fn names_shared_object(path: &[u8; LOADED_PATH_LEN], len: usize) -> bool {
    let base = path.as_ptr();
    // SAFETY: every index is masked into the buffer.
    let at = |i: usize| unsafe { core::ptr::read_volatile(base.add(i & (LOADED_PATH_LEN - 1))) };
    // The last byte before the NUL, then back over a version.
    let Some(mut end) = len.checked_sub(2) else {
        return false;
    };
    for _ in 0..LOADED_PATH_LEN {
        let c = at(end);
        if !(c.is_ascii_digit() || c == b'.') || end == 0 {
            break;
        }
        end -= 1;
    }
    // `end` is the `o` of `.so`, followed by the end or by `.` (a version
    // that begins with a digit: `.so.6`, not `.so.` alone).
    let after = end + 1;
    let versioned = after + 1 < len - 1 && at(after) == b'.' && at(after + 1).is_ascii_digit();
    end >= 3
        && at(end) == b'o'
        && at(end - 1) == b's'
        && at(end - 2) == b'.'
        && (after == len - 1 || versioned)
}

/// An `mmap`: with `PROT_EXEC` and a descriptor, the thread's pending
/// object is loaded.
#[inline(always)]
fn mapped(source: ArgSource) {
    let Some(args) = crate::arguments::arguments(source, false) else {
        return;
    };
    let (prot, flags, fd) = (args[2], args[3], args[4] as i32);
    if prot & PROT_EXEC == 0 || flags & MAP_ANONYMOUS != 0 || fd < 0 {
        return;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(pending) = LOAD_PENDING.get_ptr(&tid) else {
        return;
    };
    // The time orders the loads (an atomic counter's fetch is not an
    // instruction of the BPF CPU version this is built for).
    // SAFETY: a helper without arguments.
    let order = unsafe { bpf_ktime_get_ns() };
    // SAFETY: a value of the pending map, valid while the program runs,
    // passed straight to the insert as its key.
    match LOADED.insert(unsafe { &*pending }, &order, BPF_NOEXIST) {
        Ok(()) => {}
        // Loaded before, by this program: kept with its first load.
        Err(e) if e == -EEXIST => {}
        Err(_) => count_event(event_counts::LOADS_LOST, 1),
    }
    let _ = LOAD_PENDING.remove(&tid);
}

/// `EEXIST`, as a map update returns it (negated).
const EEXIST: i32 = 17;

/// Notes that process `tgid` runs the program named `filename` (after an
/// exec), by [`program_id`]. With more processes at once than the map
/// holds, a process's program is not known and what it loads goes with
/// the recorded command's scan (the user side).
#[inline(always)]
pub fn runs(tgid: u32, filename: &[u8; EXEC_PATH_LEN]) {
    if watching() {
        let _ = PROCESS_PROGRAM.insert(&tgid, &program_id(filename), 0);
    }
}

/// A forked child runs its parent's program.
#[inline(always)]
pub fn forked(parent: u32, child: u32) {
    if !watching() {
        return;
    }
    // SAFETY: the value is copied out before the insert.
    if let Some(program) = unsafe { PROCESS_PROGRAM.get(&parent) }.copied() {
        let _ = PROCESS_PROGRAM.insert(&child, &program, 0);
    }
}

/// A task exits: its pending object goes, and its process's program with
/// its leader.
#[inline(always)]
pub fn exited() {
    if !watching() {
        return;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let _ = LOAD_PENDING.remove(&tid);
    if tid == tgid {
        let _ = PROCESS_PROGRAM.remove(&tgid);
    }
}
