//! Where this tool's own cgroup sits in the whole cgroup2 tree. In a cgroup
//! namespace of its own (a container's), the cgroup2 mount shows a subtree
//! and paths start at its root, while every other program here compares
//! the kernel's absolute levels. The loader learns the levels here, once,
//! before the recording's own object is loaded: the ids of the tool's
//! cgroup and of each of its ancestors, by level, as the kernel has them.
//! Attached only for that, for the few syscalls it takes.

use aya_ebpf::{
    helpers::generated::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_cgroup_id},
    macros::{map, raw_tracepoint},
    maps::Array,
    programs::RawTracePointContext,
};
use profiler_common::ANCESTRY_LEVELS;

/// The cgroup whose ancestry is written (its id; 0: none), the tool's own:
/// a cgroup id is the same in every namespace, where a process id is not
/// (the tool may run in a pid namespace of its own). Set by the loader.
#[unsafe(no_mangle)]
static ANCESTRY_OF: u64 = 0;

/// Cgroup ids by level of the whole tree, the root's first; 0 past the
/// process's own cgroup.
#[map]
static ANCESTRY: Array<u64> = Array::with_max_entries(ANCESTRY_LEVELS, 0);

/// On each syscall of a task of the cgroup `ANCESTRY_OF`: that cgroup's
/// ancestry. The helper answers 0 for a level below the task's own cgroup.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn own_ancestry(_ctx: RawTracePointContext) -> i32 {
    // SAFETY: a read-only global, written by the loader before verification.
    let of = unsafe { core::ptr::read_volatile(&ANCESTRY_OF) };
    // SAFETY: a helper without arguments.
    if of == 0 || unsafe { bpf_get_current_cgroup_id() } != of {
        return 0;
    }
    for level in 0..ANCESTRY_LEVELS {
        // SAFETY: a helper without pointer arguments.
        let id = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
        if let Some(slot) = ANCESTRY.get_ptr_mut(level) {
            // SAFETY: a u64 of a map value, valid while the program runs.
            unsafe { *slot = id };
        }
        if id == 0 {
            break;
        }
    }
    0
}
