//! Rare events of the watched tree's tasks, each on a raw tracepoint that
//! fires only when such an event happens anywhere on the host (never per
//! syscall): a process moved out of the tree, and each `execve` in it.
//! (This kernel has no kprobes and refuses fentry, so tracepoints are all
//! there is; they are also the stable choice.)
//!
//! - A move: `cgroup_attach_task` fires after a process was moved, when its
//!   old cgroup is no longer known. So the tree's processes are kept in
//!   `MEMBERS`, by process id: one joins when it is moved into the tree (the
//!   command writing itself into `cgroup.procs`, a runtime moving a
//!   container's init) or forked into it (`sched_process_fork`, whose child
//!   is already in its cgroup, also with `CLONE_INTO_CGROUP`), and leaves
//!   when its leader exits (`sched_process_exit`). A member moved to a
//!   cgroup2 cgroup outside the tree, by itself or by anyone else, is kept
//!   in `ESCAPES` with the destination's path. Moves in the cgroup v1
//!   hierarchies do not change the cgroup2 cgroup the watch goes by, and
//!   are ignored.
//! - An exec: `sched_process_exec` runs in the process after a successful
//!   `execve`; its command name and the file name it executed are kept by
//!   process id, the last one of each. A child forked in the tree gets its
//!   parent's until it executes a program of its own. While enforcing, a
//!   process's entry stays after it exits (a denial is named by the program
//!   of its process, gone or not). While recording, only the distinct
//!   programs matter: each exec goes into `PROGRAMS` instead, keyed by the
//!   program (a forked child's is its parent's, there already), so that a
//!   long recording of a service that starts a short child every second
//!   keeps one entry per program, not one per child, and `EXECS` is not
//!   used at all (the loader gives it one entry).
//!
//! Both read kernel structures whose layout is only known at run time: the
//! loader takes the field offsets from the kernel's BTF and sets them in
//! `KERNEL_LAYOUT`.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel,
        generated::bpf_probe_read_kernel_str,
    },
    macros::{map, raw_tracepoint},
    maps::{Array, HashMap, PerCpuArray},
    programs::RawTracePointContext,
};
use profiler_common::{
    ESCAPE_PATH_LEN, ESCAPE_SLOTS, EXEC_PATH_LEN, EXEC_SLOTS, Escape, Exec, KernelLayout,
    MEMBER_SLOTS, event_counts,
};

use crate::{
    BPF_NOEXIST, ESCAPE_COUNT, KERNEL_LAYOUT, TARGET_CGROUP_ID, TARGET_CGROUP_LEVEL, count_event,
    current_tgid, recorded,
};

/// 1 while recording: execs are kept by program in `PROGRAMS`, not by
/// process in `EXECS`. Set by the loader (read-only data, so the verifier
/// prunes the other branch).
#[unsafe(no_mangle)]
static PROGRAMS_BY_EXEC: u32 = 0;

/// The processes of the tree, by process id.
#[map]
static MEMBERS: HashMap<u32, u8> = HashMap::with_max_entries(MEMBER_SLOTS, BPF_F_NO_PREALLOC);

/// The first moves out of the tree, in order.
#[map]
static ESCAPES: Array<Escape> = Array::with_max_entries(ESCAPE_SLOTS, 0);

/// The program each process of the tree runs: its last exec, or its
/// parent's.
#[map]
static EXECS: HashMap<u32, Exec> = HashMap::with_max_entries(EXEC_SLOTS, BPF_F_NO_PREALLOC);

/// While recording: every program executed in the tree (command name and
/// file name, the NUL-padded `Exec`), with the first process that ran it.
#[map]
static PROGRAMS: HashMap<Exec, u32> = HashMap::with_max_entries(EXEC_SLOTS, BPF_F_NO_PREALLOC);

/// Room to build an `Exec` in, which is too big for the stack.
#[map]
static EXEC_SCRATCH: PerCpuArray<Exec> = PerCpuArray::with_max_entries(1, 0);

/// The field offsets the loader found.
#[inline(always)]
pub fn layout() -> KernelLayout {
    // SAFETY: a read-only global, written by the loader before verification.
    unsafe { core::ptr::read_volatile(&KERNEL_LAYOUT) }
}

/// Reads a `T` at `base + offset` in kernel memory.
#[inline(always)]
pub fn read_at<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() {
        return None;
    }
    // SAFETY: a checked read of kernel memory; a bad address fails.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize) as *const T).ok() }
}

/// Reads a kernel pointer at `base + offset`.
#[inline(always)]
pub fn pointer_at(base: *const u8, offset: u32) -> *const u8 {
    read_at::<u64>(base, offset).unwrap_or(0) as *const u8
}

/// The id of a cgroup (its kernfs node's id).
#[inline(always)]
fn cgroup_id(layout: &KernelLayout, cgroup: *const u8) -> Option<u64> {
    read_at(pointer_at(cgroup, layout.cgroup_kn), layout.kernfs_node_id)
}

/// Is `cgroup` the watched cgroup or below it?
#[inline(always)]
fn cgroup_in_tree(layout: &KernelLayout, cgroup: *const u8) -> bool {
    // SAFETY: read-only globals, written by the loader before verification.
    let (target, level) = unsafe {
        (
            core::ptr::read_volatile(&TARGET_CGROUP_ID),
            core::ptr::read_volatile(&TARGET_CGROUP_LEVEL),
        )
    };
    let Some(own_level) = read_at::<i32>(cgroup, layout.cgroup_level) else {
        return false;
    };
    if own_level < level as i32 || level > 1024 {
        return false;
    }
    let ancestor = pointer_at(cgroup, layout.cgroup_ancestors + level * 8);
    cgroup_id(layout, ancestor) == Some(target)
}

/// Is `cgroup` in the cgroup2 hierarchy (hierarchy id 0)?
#[inline(always)]
fn on_cgroup2(layout: &KernelLayout, cgroup: *const u8) -> bool {
    read_at::<i32>(
        pointer_at(cgroup, layout.cgroup_root),
        layout.root_hierarchy_id,
    ) == Some(0)
}

/// raw tracepoint `cgroup_attach_task(struct cgroup *dst, const char *path,
/// struct task_struct *task, bool threadgroup)`: after a successful move,
/// in the writer. Moves run one at a time (under `cgroup_mutex`), so the
/// counter of escapes needs no atomic fetch.
#[raw_tracepoint(tracepoint = "cgroup_attach_task")]
pub fn move_done(ctx: RawTracePointContext) -> i32 {
    let layout = layout();
    let dst: *const u8 = ctx.arg(0);
    let task: *const u8 = ctx.arg(2);
    if layout.valid == 0 || !on_cgroup2(&layout, dst) {
        return 0;
    }
    let Some(tgid) = read_at::<u32>(task, layout.task_tgid) else {
        return 0;
    };
    if cgroup_in_tree(&layout, dst) {
        join(tgid);
        return 0;
    }
    if MEMBERS.remove(tgid).is_err() {
        return 0;
    }
    let Some(count) = ESCAPE_COUNT.get_ptr_mut(event_counts::ESCAPES) else {
        return 0;
    };
    // SAFETY: an aligned u64 of an array map; moves are serialised.
    let n = unsafe { core::ptr::read_volatile(count) };
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(count, n + 1) };
    if n >= u64::from(ESCAPE_SLOTS) {
        return 0;
    }
    let Some(escape) = ESCAPES.get_ptr_mut(n as u32) else {
        return 0;
    };
    let path: *const u8 = ctx.arg(1);
    // SAFETY: `escape` is a value of an array map, valid while the program
    // runs; the string read is bounded by the destination's size.
    unsafe {
        (*escape).dst_cgroup_id = cgroup_id(&layout, dst).unwrap_or(0);
        (*escape).tgid = tgid;
        (*escape).writer_tgid = current_tgid();
        (*escape).comm = read_at(task, layout.task_comm).unwrap_or([0; 16]);
        (*escape).writer_comm = bpf_get_current_comm().unwrap_or([0; 16]);
        let dest = core::ptr::addr_of_mut!((*escape).path) as *mut core::ffi::c_void;
        if bpf_probe_read_kernel_str(dest, ESCAPE_PATH_LEN as u32, path.cast()) < 0 {
            (*escape).path[0] = 0;
        }
    }
    0
}

/// raw tracepoint `sched_process_fork(struct task_struct *parent, struct
/// task_struct *child)`, in the parent, with the child in its cgroup
/// already. A new process of the tree joins `MEMBERS`; a new thread is part
/// of its process.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn fork_done(ctx: RawTracePointContext) -> i32 {
    let layout = layout();
    let child: *const u8 = ctx.arg(1);
    if layout.valid == 0 {
        return 0;
    }
    let Some(tgid) = read_at::<u32>(child, layout.task_tgid) else {
        return 0;
    };
    if tgid == current_tgid() {
        return 0;
    }
    // The child's own cgroup: the parent's, but for `CLONE_INTO_CGROUP`.
    let in_tree = recorded() || {
        let cgroup = pointer_at(
            pointer_at(child, layout.task_cgroups),
            layout.css_set_dfl_cgrp,
        );
        cgroup_in_tree(&layout, cgroup)
    };
    if in_tree {
        join(tgid);
        crate::loads::forked(current_tgid(), tgid);
        // The child runs its parent's program until it executes another
        // (while recording, that program is in `PROGRAMS` already).
        // SAFETY: the value is a map value, passed straight to the insert.
        if !programs_by_exec()
            && let Some(exec) = unsafe { EXECS.get(current_tgid()) }
            && EXECS.insert(tgid, exec, 0).is_err()
        {
            count_event(event_counts::EXECS_LOST, 1);
        }
    }
    0
}

/// Notes `tgid` as a process of the tree.
#[inline(always)]
fn join(tgid: u32) {
    if MEMBERS.insert(tgid, 1, 0).is_err() {
        count_event(event_counts::MEMBERS_LOST, 1);
    }
}

/// A process of the tree is gone when its leader exits (its `EXECS` entry,
/// while enforcing, stays: a denial is named by its program).
#[inline(always)]
pub fn leave_if_leader() {
    let pid_tgid = bpf_get_current_pid_tgid();
    if pid_tgid as u32 == (pid_tgid >> 32) as u32 {
        let _ = MEMBERS.remove((pid_tgid >> 32) as u32);
    }
}

/// Whether execs are kept by program (recording).
#[inline(always)]
fn programs_by_exec() -> bool {
    // SAFETY: a read-only global, written by the loader before verification.
    unsafe { core::ptr::read_volatile(&PROGRAMS_BY_EXEC) != 0 }
}

/// raw tracepoint `sched_process_exec(struct task_struct *p, pid_t old_pid,
/// struct linux_binprm *bprm)`, in the process after a successful exec.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn exec_done(ctx: RawTracePointContext) -> i32 {
    if !recorded() {
        return 0;
    }
    let layout = layout();
    if layout.valid == 0 {
        return 0;
    }
    let bprm: *const u8 = ctx.arg(2);
    let filename = pointer_at(bprm, layout.bprm_filename);
    let Some(exec) = EXEC_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: `exec` is this CPU's value of the scratch map, valid while the
    // program runs; the string read is bounded by its size.
    unsafe {
        (*exec).comm = bpf_get_current_comm().unwrap_or([0; 16]);
        // The bytes after the name's NUL are part of the `PROGRAMS` key:
        // none of a previous, longer name may stay.
        let words = core::ptr::addr_of_mut!((*exec).filename).cast::<u64>();
        for i in 0..EXEC_PATH_LEN / 8 {
            core::ptr::write_volatile(words.add(i), 0);
        }
        let dest = core::ptr::addr_of_mut!((*exec).filename) as *mut core::ffi::c_void;
        if bpf_probe_read_kernel_str(dest, EXEC_PATH_LEN as u32, filename.cast()) < 0 {
            (*exec).filename[0] = 0;
        }
        let tgid = current_tgid();
        if programs_by_exec() {
            // A program already there is kept with its first process.
            if let Err(e) = PROGRAMS.insert(&*exec, &tgid, BPF_NOEXIST)
                && e != -EEXIST
            {
                count_event(event_counts::EXECS_LOST, 1);
            }
            // The objects the process loads from now on are this
            // program's.
            crate::loads::runs(tgid, &(*exec).filename);
        } else if EXECS.insert(tgid, &*exec, 0).is_err() {
            count_event(event_counts::EXECS_LOST, 1);
        }
    }
    0
}

/// `EEXIST`, as a map update returns it (negated).
const EEXIST: i32 = 17;
