//! The node agent: every container of the host counted in its own slot, by
//! one program on `raw_syscalls:sys_enter` (not one attach per container).
//!
//! - At a `mkdir` in the cgroup2 hierarchy ([`agent_mkdir`]) the new cgroup
//!   gets a slot from `AGENT_FREE` and an entry in `AGENT_INDEX`, and is
//!   told to user space in `AGENT_NEW`; a cgroup made below one user space
//!   took for a container is counted in that container's slot. So a
//!   container's first process is counted from its first syscall, however
//!   late user space looks; user space frees the slots of cgroups that are
//!   no container within a poll.
//! - On every syscall ([`agent_enter_btf`], [`agent_enter_raw`]) the task's
//!   cgroup is looked up in the index's two places (two array loads, no
//!   hash): a task outside every watched cgroup leaves there.
//! - At an `rmdir` of a watched cgroup ([`agent_rmdir`]) user space is told
//!   in `AGENT_ENDED`, and reads the slot's counters before it frees it.
//!
//! The counters are shared by the CPUs and added to atomically, so a slot
//! takes the same memory on a node of any size; the split by whether the
//! task was under a seccomp filter is the runtime boundary (what a
//! container's filter sees), as in a recording.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    helpers::{bpf_get_current_cgroup_id, generated::bpf_probe_read_kernel_str},
    macros::{btf_tracepoint, map, raw_tracepoint},
    maps::{Array, HashMap, PerCpuArray, Queue},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use profiler_common::{
    Abi, AgentCounts, AgentNew,
    agent::{self, flags, lost},
};

use crate::{
    arch::{TaskFlags, current_task_flags},
    atomic_add,
    events::{layout, pointer_at, read_at},
    task::Current,
};

#[map]
static AGENT_INDEX: Array<u64> = Array::with_max_entries(agent::INDEX_SLOTS, 0);

#[map]
static AGENT_COUNTS: Array<AgentCounts> = Array::with_max_entries(agent::SLOTS, 0);

#[map]
static AGENT_FREE: Queue<u32> = Queue::with_max_entries(agent::SLOTS, 0);

#[map]
static AGENT_NEW: HashMap<u64, AgentNew> =
    HashMap::with_max_entries(agent::NEW_SLOTS, BPF_F_NO_PREALLOC);

#[map]
static AGENT_ENDED: HashMap<u64, u32> =
    HashMap::with_max_entries(agent::NEW_SLOTS, BPF_F_NO_PREALLOC);

#[map]
static AGENT_LOST: Array<u64> = Array::with_max_entries(lost::COUNT, 0);

/// Room to build an [`AgentNew`] in, which is too big for the stack.
#[map]
static AGENT_SCRATCH: PerCpuArray<AgentNew> = PerCpuArray::with_max_entries(1, 0);

/// `tp_btf/sys_enter`: the task's cgroup read with plain loads.
#[btf_tracepoint(function = "sys_enter")]
pub fn agent_enter_btf(ctx: BtfTracePointContext) -> i32 {
    let task = Current::get();
    if let Some(slot) = task.cgroup_id().and_then(|id| watched(id as u32)) {
        count(slot, ctx.arg::<i64>(1), task.flags());
    }
    0
}

/// `raw_tp/sys_enter`, where the kernel has no BTF: one helper call.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn agent_enter_raw(ctx: RawTracePointContext) -> i32 {
    // SAFETY: a helper without arguments.
    let id = unsafe { bpf_get_current_cgroup_id() };
    if let Some(slot) = watched(id as u32) {
        count(slot, ctx.arg::<i64>(1), current_task_flags());
    }
    0
}

/// The index entry of cgroup `ino` and where it is, if it is watched.
#[inline(always)]
fn find(ino: u32) -> Option<(u32, u64)> {
    if ino == 0 {
        return None;
    }
    for place in agent::places(ino) {
        if let Some(entry) = AGENT_INDEX.get_ptr(place) {
            // SAFETY: an aligned u64 of an array map, read whole.
            let entry = unsafe { core::ptr::read_volatile(entry) };
            if agent::parts(entry).0 == ino {
                return Some((place, entry));
            }
        }
    }
    None
}

/// The slot of cgroup `ino`, if it is watched.
#[inline(always)]
fn watched(ino: u32) -> Option<u32> {
    find(ino).map(|(_, entry)| u32::from(agent::parts(entry).1))
}

#[inline(always)]
fn count(slot: u32, id: i64, task: TaskFlags) {
    let Some(counts) = AGENT_COUNTS.get_ptr_mut(slot) else {
        return;
    };
    let abi = if task.compat {
        Abi::Compat
    } else {
        Abi::Native
    };
    let row = agent::row(task.seccomp, abi);
    // The compiler computes both addresses before it picks one, so the
    // index must be bounded by itself: masked after a volatile read, which
    // the compiler cannot see through to drop the mask.
    let in_range = (0..agent::TABLE as i64).contains(&id);
    // SAFETY: a read of a local.
    let nr = unsafe { core::ptr::read_volatile(&(id as usize)) } & (agent::TABLE - 1);
    // SAFETY: `counts` is a value of an array map, valid while the program
    // runs; the indexes are bounded (row < 4, nr < TABLE).
    unsafe {
        let counter = if in_range {
            core::ptr::addr_of_mut!((*counts).calls[row & 3][nr])
        } else {
            core::ptr::addr_of_mut!((*counts).out_of_range)
        };
        atomic_add(counter, 1);
    }
}

#[inline(always)]
fn lose(index: u32) {
    if let Some(n) = AGENT_LOST.get_ptr_mut(index) {
        atomic_add(n, 1);
    }
}

/// The id of `cgroup` if it is in the cgroup2 hierarchy.
#[inline(always)]
fn cgroup2_id(cgroup: *const u8) -> Option<u64> {
    let layout = layout();
    if layout.valid == 0 {
        return None;
    }
    let hierarchy = read_at::<i32>(
        pointer_at(cgroup, layout.cgroup_root),
        layout.root_hierarchy_id,
    )?;
    if hierarchy != 0 {
        return None;
    }
    read_at(pointer_at(cgroup, layout.cgroup_kn), layout.kernfs_node_id)
}

/// The parent cgroup of `cgroup` (null at the root).
#[inline(always)]
fn parent_of(cgroup: *const u8) -> *const u8 {
    let layout = layout();
    pointer_at(
        pointer_at(cgroup, layout.cgroup_parent_css),
        layout.css_cgroup,
    )
}

/// Puts `entry` in the first free place of cgroup `ino`; false when both
/// are taken. The place is claimed with a compare-and-swap from empty, so
/// two CPUs never take one place; user space only ever clears an entry it
/// owns or rewrites its flags.
#[inline(always)]
fn claim(ino: u32, entry: u64) -> bool {
    for place in agent::places(ino) {
        let Some(p) = AGENT_INDEX.get_ptr_mut(place) else {
            continue;
        };
        // SAFETY: an aligned u64 of an array map; AtomicU64 has its layout.
        let cell = unsafe { &*(p as *const core::sync::atomic::AtomicU64) };
        if cell
            .compare_exchange(
                0,
                entry,
                core::sync::atomic::Ordering::Relaxed,
                core::sync::atomic::Ordering::Relaxed,
            )
            .is_ok()
        {
            return true;
        }
    }
    false
}

/// raw tracepoint `cgroup_mkdir(struct cgroup *cgrp, const char *path)`,
/// after the cgroup is made and before any task can be in it.
#[raw_tracepoint(tracepoint = "cgroup_mkdir")]
pub fn agent_mkdir(ctx: RawTracePointContext) -> i32 {
    let cgroup: *const u8 = ctx.arg(0);
    let Some(id) = cgroup2_id(cgroup) else {
        return 0;
    };
    let ino = id as u32;
    let parent = parent_of(cgroup);
    let parent_id = cgroup2_id(parent).unwrap_or(0);
    let inherited = find(parent_id as u32)
        .map(|(_, e)| agent::parts(e))
        .filter(|&(_, _, f)| f & flags::CONTAINER != 0);
    let (slot, entry_flags) = match inherited {
        Some((_, slot, _)) => (u32::from(slot), flags::CONTAINER),
        None => match AGENT_FREE.pop() {
            Ok(Some(slot)) => (slot, 0),
            _ => {
                lose(lost::NO_SLOT);
                return 0;
            }
        },
    };
    if !claim(ino, agent::entry(ino, slot as u16, entry_flags)) {
        lose(lost::NO_PLACE);
        if inherited.is_none() {
            let _ = AGENT_FREE.push(slot, 0);
        }
        return 0;
    }
    let Some(new) = AGENT_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    let path: *const u8 = ctx.arg(1);
    // SAFETY: `new` is this CPU's value of an array map, valid while the
    // program runs; the string read is bounded by the destination's size.
    unsafe {
        (*new).cgroup = id;
        (*new).parent = parent_id;
        (*new).slot = slot;
        (*new).inherited = u32::from(inherited.is_some());
        let dest = core::ptr::addr_of_mut!((*new).path) as *mut core::ffi::c_void;
        if bpf_probe_read_kernel_str(dest, agent::PATH_LEN as u32, path.cast()) < 0 {
            (*new).path[0] = 0;
        }
        if AGENT_NEW.insert(id, &*new, 0).is_err() {
            lose(lost::UNTOLD);
        }
    }
    0
}

/// raw tracepoint `cgroup_rmdir(struct cgroup *cgrp, const char *path)`: a
/// watched cgroup is told to user space, which reads its slot and frees it.
#[raw_tracepoint(tracepoint = "cgroup_rmdir")]
pub fn agent_rmdir(ctx: RawTracePointContext) -> i32 {
    let Some(id) = cgroup2_id(ctx.arg(0)) else {
        return 0;
    };
    if let Some(slot) = watched(id as u32)
        && AGENT_ENDED.insert(id, slot, 0).is_err()
    {
        lose(lost::UNTOLD);
    }
    0
}
