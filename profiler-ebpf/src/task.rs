//! The current task, read through the BTF-typed pointer that
//! `bpf_get_current_task_btf` returns to a `tp_btf` program: every field is
//! a plain load the verifier checks against the kernel's BTF, where a
//! `raw_tp` program needs a helper call for each (a
//! `bpf_get_current_ancestor_cgroup_id`, a `bpf_probe_read_kernel`). On
//! this project's machines a helper call costs 20 to 45 ns (return thunks
//! and retpolines), a load about one, and these run on every syscall of the
//! host, so the counting and denial hooks take this path when the kernel
//! has BTF (`profiler/src/session/hook.rs`).
//!
//! The offsets come from the loader (`KERNEL_LAYOUT`, read-only data the
//! verifier sees as constants), since the programs are built without CO-RE.
//! Each pointer is checked for null before it is followed: the verifier
//! asks it of pointers that may be null, and a task being torn down may
//! have none.

use aya_ebpf::helpers::generated::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_task_btf};

use crate::{KERNEL_LAYOUT, TARGET_CGROUP_ID, TARGET_CGROUP_LEVEL, arch::TaskFlags};

/// How many levels below the recorded cgroup [`Current::in_tree`] climbs
/// with loads.
const CLIMB_LIMIT: i32 = 8;

/// The running task, as a BTF-typed `struct task_struct *`.
#[derive(Clone, Copy)]
pub struct Current(*const u8);

/// Loads a `T` at `base + offset`; `base` is a BTF-typed kernel pointer
/// (non-null) and `offset` a constant the verifier knows, so this is one
/// checked load.
#[inline(always)]
fn load<T>(base: *const u8, offset: u32) -> T {
    // SAFETY: per this function's contract; the verifier checks the field
    // at that offset against the kernel's BTF, and the JIT turns a load
    // through such a pointer into one that cannot fault the kernel.
    unsafe { core::ptr::read_volatile(base.add(offset as usize).cast::<T>()) }
}

/// A read-only global's field, as the verifier's constant.
macro_rules! layout {
    ($field:ident) => {
        // SAFETY: read-only data, written by the loader before verification.
        unsafe { core::ptr::read_volatile(&raw const KERNEL_LAYOUT.$field) }
    };
}

impl Current {
    #[inline(always)]
    pub fn get() -> Current {
        // SAFETY: a helper without arguments; its result is the running
        // task, which outlives this program run.
        Current(unsafe { bpf_get_current_task_btf() } as *const u8)
    }

    /// Is the task in the recorded cgroup or below it? Its cgroup2 cgroup,
    /// or that cgroup's ancestor at the recorded cgroup's depth, must be the
    /// recorded cgroup. A task in a shallower cgroup leaves after three
    /// loads, one at the same depth after five; a deeper one climbs its
    /// parents to that depth, two loads a level. (The kernel's table of
    /// ancestors, `cgroup.ancestors`, is a flexible array of pointers past
    /// the end of `struct cgroup`, which the verifier does not let a
    /// program index.) Past [`CLIMB_LIMIT`] levels below the recorded
    /// cgroup the helper answers.
    #[inline(always)]
    pub fn in_tree(self) -> bool {
        // SAFETY: read-only globals, written by the loader.
        let (target, level) = unsafe {
            (
                core::ptr::read_volatile(&TARGET_CGROUP_ID),
                core::ptr::read_volatile(&TARGET_CGROUP_LEVEL),
            )
        };
        if self.0.is_null() || target == 0 || layout!(valid) == 0 {
            return false;
        }
        let css_set: *const u8 = load(self.0, layout!(task_cgroups));
        if css_set.is_null() {
            return false;
        }
        let mut cgroup: *const u8 = load(css_set, layout!(css_set_dfl_cgrp));
        if cgroup.is_null() {
            return false;
        }
        let own_level: i32 = load(cgroup, layout!(cgroup_level));
        let Some(mut below) = own_level.checked_sub(level as i32).filter(|b| *b >= 0) else {
            return false;
        };
        if below > CLIMB_LIMIT {
            // SAFETY: a helper without pointer arguments.
            return unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) } == target;
        }
        for _ in 0..CLIMB_LIMIT {
            if below == 0 {
                break;
            }
            let parent: *const u8 = load(cgroup, layout!(cgroup_parent_css));
            if parent.is_null() {
                return false;
            }
            cgroup = load(parent, layout!(css_cgroup));
            if cgroup.is_null() {
                return false;
            }
            below -= 1;
        }
        let node: *const u8 = load(cgroup, layout!(cgroup_kn));
        if node.is_null() {
            return false;
        }
        load::<u64>(node, layout!(kernfs_node_id)) == target
    }

    /// The id of the task's cgroup2 cgroup (its kernfs node's).
    #[inline(always)]
    pub fn cgroup_id(self) -> Option<u64> {
        if self.0.is_null() || layout!(valid) == 0 {
            return None;
        }
        let css_set: *const u8 = load(self.0, layout!(task_cgroups));
        if css_set.is_null() {
            return None;
        }
        let cgroup: *const u8 = load(css_set, layout!(css_set_dfl_cgrp));
        if cgroup.is_null() {
            return None;
        }
        let node: *const u8 = load(cgroup, layout!(cgroup_kn));
        if node.is_null() {
            return None;
        }
        Some(load(node, layout!(kernfs_node_id)))
    }

    /// What `thread_info` says of the task and its syscall; see
    /// [`crate::arch::current_task_flags`], which reads the same with a
    /// helper.
    #[inline(always)]
    pub fn flags(self) -> TaskFlags {
        if !cfg!(target_arch = "x86_64") || self.0.is_null() {
            return TaskFlags {
                seccomp: false,
                compat: false,
            };
        }
        let (syscall_work, status) = crate::arch::THREAD_INFO_FIELDS;
        let work: u64 = load(self.0, syscall_work);
        let status: u32 = load(self.0, status);
        TaskFlags::from_thread_info(work, status)
    }

    /// The thread id (`task_struct.pid`).
    #[inline(always)]
    pub fn tid(self) -> u32 {
        if self.0.is_null() {
            return 0;
        }
        load(self.0, layout!(task_pid))
    }

    /// The process id (`task_struct.tgid`).
    #[inline(always)]
    pub fn tgid(self) -> u32 {
        if self.0.is_null() {
            return 0;
        }
        load(self.0, layout!(task_tgid))
    }
}
