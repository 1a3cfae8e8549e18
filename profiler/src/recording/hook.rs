//! Which kind of hook on `raw_syscalls:sys_enter` runs the counting program.
//!
//! All three run the same body. Measured with `cargo xtask bench-hooks` on
//! this project's machines (kernel 6.18, 2 cores): 5,000,000 raw `getppid`
//! calls, 5 interleaved rounds, median ns per call (untraced: 168):
//!
//! | hook            | recorded process | process outside the recording |
//! |-----------------|------------------|-------------------------------|
//! | raw tracepoint  | 329 (+161)       | 289 (+121)                    |
//! | BTF tracepoint  | 328 (+160)       | 273 (+105)                    |
//! | tracepoint      | 408 (+240)       | 368 (+200)                    |
//!
//! The classic tracepoint is dearest: the kernel first copies the event
//! record into a per-CPU buffer for it (perf's trace-event path), where the
//! other two get the arguments directly. Raw and BTF tracepoints cost the same
//! for the recorded process; outside it the BTF one was ~15 ns cheaper in both
//! runs. The raw tracepoint is the default anyway: it needs neither tracefs
//! nor kernel BTF, so it runs where those are missing, and most of the cost
//! outside the recording is the kernel's slow syscall path that any enabled
//! syscall tracepoint switches on for every task (bpftrace's cgroup-filtered
//! `tracepoint:raw_syscalls:sys_enter` cost more than all three here).

/// A hook type for the counting program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Hook {
    /// `raw_tp/sys_enter` (BPF_PROG_TYPE_RAW_TRACEPOINT): the default.
    #[default]
    RawTracepoint,
    /// `tracepoint/raw_syscalls/sys_enter` (BPF_PROG_TYPE_TRACEPOINT); needs tracefs.
    Tracepoint,
    /// `tp_btf/sys_enter` (BPF_PROG_TYPE_TRACING); needs kernel BTF.
    BtfTracepoint,
    /// Not a hook: loads a program the verifier rejects, so that tests can
    /// check how a rejection is reported.
    #[value(hide = true)]
    VerifierSelftest,
}
