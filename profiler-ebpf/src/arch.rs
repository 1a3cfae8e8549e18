//! Facts of x86_64 that the programs rely on: where `struct pt_regs` keeps
//! the syscall number and arguments, the syscall numbers the programs test
//! for, and what `thread_info` says of the current task. Every other
//! architecture gets answers that make the programs do nothing wrong: no
//! number, no flags.

use aya_ebpf::helpers::{bpf_get_current_task, bpf_probe_read_kernel};

/// `struct pt_regs` on x86_64: the syscall number survives in `orig_ax`;
/// the first two arguments are in `di` and `si`; the return value is in
/// `ax`.
pub const ORIG_AX: usize = 120;
pub const AX: usize = 80;
pub const DI: usize = 112;
pub const SI: usize = 104;

pub const NR_PRCTL: u64 = 157;
pub const NR_SECCOMP: u64 = 317;
pub const NR_EXECVE: u64 = 59;
pub const NR_EXECVEAT: u64 = 322;
pub const PR_SET_SECCOMP: u64 = 22;
pub const SECCOMP_MODE_FILTER: u64 = 2;
pub const SECCOMP_SET_MODE_FILTER: u64 = 1;

/// `execve` and `execveat`, in either table.
#[inline(always)]
pub fn is_execve(nr: i64) -> bool {
    if cfg!(target_arch = "x86_64") {
        // x86_64: 59, 322; i386: 11, 358.
        matches!(nr, 59 | 322 | 11 | 358)
    } else {
        false
    }
}

/// `exit` and `exit_group`, in the table the syscall came through.
#[inline(always)]
pub fn never_returns(nr: i64) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    const X86_64: [i64; 2] = [60, 231];
    const I386: [i64; 2] = [1, 252];
    if X86_64.contains(&nr) || I386.contains(&nr) {
        return if current_task_flags().compat {
            I386.contains(&nr)
        } else {
            X86_64.contains(&nr)
        };
    }
    false
}

/// The syscall number saved in `regs` (a `struct pt_regs *`).
#[inline(always)]
pub fn syscall_nr(regs: *const u8) -> Option<i64> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    // SAFETY: `regs` is a kernel pointer; the read is checked.
    unsafe { bpf_probe_read_kernel(regs.add(ORIG_AX) as *const i64).ok() }
}

/// Reads one saved register of `regs`, or `u64::MAX`.
#[inline(always)]
pub fn register(regs: *const u8, offset: usize) -> u64 {
    // SAFETY: `regs` is a kernel pointer; the read is checked.
    unsafe { bpf_probe_read_kernel(regs.add(offset) as *const u64).unwrap_or(u64::MAX) }
}

/// What the kernel says of the current task and its syscall.
pub struct TaskFlags {
    /// The task has a seccomp filter (or strict mode): its syscalls pass
    /// through seccomp, so a profile applies to them.
    pub seccomp: bool,
    /// The syscall came through a 32-bit entry point (compat table).
    pub compat: bool,
}

/// `thread_info` is the first member of `task_struct` on x86_64: `{
/// unsigned long flags; unsigned long syscall_work; u32 status; ... }`.
/// These are the offsets of `syscall_work` and `status` in the task.
pub const THREAD_INFO_FIELDS: (u32, u32) = (8, 16);

impl TaskFlags {
    /// From `thread_info`'s `syscall_work` and `status`. `syscall_work` has
    /// SYSCALL_WORK_SECCOMP (bit 0) while the task is under seccomp; it is
    /// set on the installing task (and all threads with TSYNC) and copied to
    /// every child. `status` has TS_COMPAT while a syscall entered through a
    /// 32-bit entry point (int $0x80, sysenter, 32-bit syscall); the kernel
    /// sets it before the tracepoint fires and clears it on return to user
    /// space.
    #[inline(always)]
    pub fn from_thread_info(syscall_work: u64, status: u32) -> TaskFlags {
        const SYSCALL_WORK_SECCOMP: u64 = 1 << 0;
        const TS_COMPAT: u32 = 0x0002;
        TaskFlags {
            seccomp: syscall_work & SYSCALL_WORK_SECCOMP != 0,
            compat: status & TS_COMPAT != 0,
        }
    }
}

/// Reads the current task's `thread_info` with a helper (for hooks whose
/// task pointer is untyped; [`crate::task::Current::flags`] reads the same
/// with plain loads).
#[inline(always)]
pub fn current_task_flags() -> TaskFlags {
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct ThreadInfo {
        flags: u64,
        syscall_work: u64,
        status: u32,
    }
    if cfg!(target_arch = "x86_64") {
        // SAFETY: `bpf_get_current_task` returns the running task, which
        // outlives this program run; the read is done by a checked helper.
        let info = unsafe { bpf_probe_read_kernel(bpf_get_current_task() as *const ThreadInfo) };
        if let Ok(info) = info {
            return TaskFlags::from_thread_info(info.syscall_work, info.status);
        }
    }
    TaskFlags {
        seccomp: false,
        compat: false,
    }
}

/// The six arguments of the syscall whose registers `regs` (a `struct
/// pt_regs *`) saved, as seccomp numbers them: `di, si, dx, r10, r8, r9`
/// for a native call, `bx, cx, dx, si, di, bp` (their lower 32 bits) for a
/// compat one. One read of the registers' block; zeros where it fails.
#[inline(always)]
pub fn syscall_args(regs: *const u8, compat: bool) -> [u64; 6] {
    if !cfg!(target_arch = "x86_64") {
        return [0; 6];
    }
    // r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di: words 0 to 14.
    // SAFETY: `regs` is a kernel pointer; the read is checked.
    let Ok(words) = (unsafe { bpf_probe_read_kernel(regs as *const [u64; 15]) }) else {
        return [0; 6];
    };
    if compat {
        const LOW: u64 = 0xffff_ffff;
        [
            words[5] & LOW,
            words[11] & LOW,
            words[12] & LOW,
            words[13] & LOW,
            words[14] & LOW,
            words[4] & LOW,
        ]
    } else {
        [
            words[14], words[13], words[12], words[7], words[9], words[8],
        ]
    }
}
