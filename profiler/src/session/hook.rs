//! Which kind of hook on `raw_syscalls:sys_enter` (and, for the denial
//! watch, `sys_exit`) runs the programs that look at every syscall.
//!
//! The three kinds reach the same body; what differs is how each finds out
//! about the current task, and that is most of the cost, because every task
//! of the host passes through the hook on every syscall. The raw and classic
//! tracepoints get an untyped task and ask helpers: one
//! `bpf_get_current_ancestor_cgroup_id` for the cgroup test, one
//! `bpf_probe_read_kernel` for the task's flags. The BTF tracepoint gets the
//! task as a BTF-typed pointer (`bpf_get_current_task_btf`, the one helper
//! left) and reads the cgroup chain and the flags with plain loads
//! (`profiler-ebpf/src/task.rs`). Measured on this project's machines
//! (kernel 6.18, a 2-core VM with retpolines and return thunks) in the
//! kernel's own accounting (`kernel.bpf_stats_enabled`, ns a run, clock
//! reads included: an empty program costs 47):
//!
//! | counting program | recorded getppid | getppid of a process outside |
//! |------------------|------------------|------------------------------|
//! | raw tracepoint   | 135              | 93                           |
//! | BTF tracepoint   | 73               | 67                           |
//!
//! and the enforce watch's two programs together (allow-all profile):
//! 212 and 158 on raw tracepoints, 132 and 122 on BTF tracepoints. The
//! helper calls cost 7 to 45 ns each here (`bpf_get_current_task` 7,
//! `bpf_get_current_task_btf` 19, the cgroup-id helpers 45); a load costs
//! about one. `cargo xtask bench` measures the same side by side.
//!
//! The classic tracepoint is dearest end to end: the kernel first copies the
//! event record into a per-CPU buffer for it (perf's trace-event path).
//! `Auto`, the default, takes the BTF tracepoint where the kernel publishes
//! its BTF and has the fields the program reads, and the raw tracepoint
//! (which needs neither BTF nor tracefs) elsewhere.

use crate::choice::choice;

choice! {
    /// A hook type for the counting program.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub(crate) enum Hook {
        #[default]
        Auto => (
            "auto",
            "The BTF tracepoint where the kernel publishes its BTF (and the few fields the \
             program reads are in it), else the raw tracepoint"
        ),
        RawTracepoint => (
            "raw-tracepoint",
            "`raw_tp/sys_enter` (BPF_PROG_TYPE_RAW_TRACEPOINT): needs nothing"
        ),
        Tracepoint => (
            "tracepoint",
            "`tracepoint/raw_syscalls/sys_enter` (BPF_PROG_TYPE_TRACEPOINT); needs tracefs"
        ),
        BtfTracepoint => (
            "btf-tracepoint",
            "`tp_btf/sys_enter` (BPF_PROG_TYPE_TRACING); needs kernel BTF. Cheapest: it reads \
             the task's cgroup and flags with plain loads"
        ),
        VerifierSelftest => (
            "verifier-selftest",
            "Not a hook: loads a program the verifier rejects (debug builds only), so that tests \
             can check how a rejection is reported",
            hidden
        ),
    }
}
