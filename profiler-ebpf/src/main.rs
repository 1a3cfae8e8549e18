//! The kernel side of syscall-profile, by concern:
//!
//! - [`counting`]: counts the syscalls of one cgroup tree on
//!   `raw_syscalls:sys_enter` (recording), and [`arguments`] captures the
//!   privilege-bearing arguments of a few of them;
//! - [`runtime`]: tells a container runtime's syscalls from its workload's
//!   (recording containers);
//! - [`denials`]: finds the syscalls a seccomp filter denied, including
//!   those it killed a thread or process for (enforcing);
//! - [`events`]: rare events of the tree's tasks: a process moved out of
//!   the tree, and each exec (both);
//! - [`loads`]: the shared objects the tree loads at run time (recording
//!   with coverage);
//! - [`agent`]: every container of the host counted by container (the node
//!   agent);
//! - [`arch`]: what the programs know of x86_64;
//! - [`task`]: the current task read with plain loads (BTF tracepoints);
//! - [`ancestry`]: where the tool's own cgroup sits in the whole tree (a
//!   tool in a cgroup namespace of its own).
//!
//! Only the counting and denial hooks run on every syscall of the host (and
//! the ancestry program, for the few syscalls of its one look); everything
//! else hooks events that are rare by nature (a cgroup move, a
//! fork, an exec, an exit), on raw tracepoints.
#![no_std]
#![no_main]

mod agent;
mod ancestry;
mod arch;
mod arguments;
mod counting;
mod denials;
mod events;
mod loads;
mod runtime;
mod task;

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_current_ancestor_cgroup_id},
    macros::map,
    maps::Array,
};
use profiler_common::{KernelLayout, event_counts};

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

/// 1: look for threads a seccomp filter kills alone (enforcing).
#[unsafe(no_mangle)]
static WATCH_KILLS: u32 = 0;

/// Field offsets of kernel structures, from the kernel's BTF; set by the
/// loader (all zero, with `valid` 0, where unknown).
#[unsafe(no_mangle)]
static KERNEL_LAYOUT: KernelLayout = KernelLayout {
    task_pid: 0,
    task_tgid: 0,
    task_comm: 0,
    task_cgroups: 0,
    task_seccomp_mode: 0,
    task_exit_code: 0,
    task_signal: 0,
    signal_flags: 0,
    css_set_dfl_cgrp: 0,
    cgroup_kn: 0,
    cgroup_root: 0,
    cgroup_level: 0,
    cgroup_ancestors: 0,
    cgroup_parent_css: 0,
    css_cgroup: 0,
    root_hierarchy_id: 0,
    kernfs_node_id: 0,
    bprm_filename: 0,
    valid: 0,
};

/// Map update flag: insert only where the key is not there yet.
const BPF_NOEXIST: u64 = 1;

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

/// Adds `n` to the counter at `counter`, a naturally aligned u64 of a map
/// value (valid while the program runs) that other CPUs may add to at the
/// same time.
#[inline(always)]
fn atomic_add(counter: *mut u64, n: u64) {
    // SAFETY: per this function's contract, an aligned u64 of a map value;
    // AtomicU64 has the layout of u64.
    let counter = unsafe { &*(counter as *const core::sync::atomic::AtomicU64) };
    counter.fetch_add(n, core::sync::atomic::Ordering::Relaxed);
}

/// Counters of what the event and load hooks saw and lost, by
/// `event_counts` index (escapes, lost execs, members and loads).
#[map]
static ESCAPE_COUNT: Array<u64> = Array::with_max_entries(event_counts::COUNT, 0);

/// Adds to a counter of `ESCAPE_COUNT`, from any CPU.
#[inline(always)]
fn count_event(index: u32, n: u64) {
    if let Some(count) = ESCAPE_COUNT.get_ptr_mut(index) {
        atomic_add(count, n);
    }
}

fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
