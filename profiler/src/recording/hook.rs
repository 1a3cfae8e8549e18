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

use std::{io, path::Path};

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

/// Where tracefs is expected.
pub const TRACEFS: &str = "/sys/kernel/tracing";

#[derive(Debug, thiserror::Error)]
#[error(
    "tracefs is not mounted at {TRACEFS} and mounting it failed ({source}): mount it with \
     `mount -t tracefs tracefs {TRACEFS}`, or leave out `--hook tracepoint` (the default \
     raw tracepoint needs no tracefs)"
)]
pub struct TracefsError {
    source: io::Error,
}

/// Makes sure tracefs is mounted, mounting it where it is not.
pub fn ensure_tracefs() -> Result<(), TracefsError> {
    let events = Path::new(TRACEFS).join("events/raw_syscalls/sys_enter");
    if events.exists() {
        return Ok(());
    }
    let mount = || -> io::Result<()> {
        let c = |s: &str| std::ffi::CString::new(s).expect("no NUL in a constant");
        let (source, target, fstype) = (c("tracefs"), c(TRACEFS), c("tracefs"));
        // SAFETY: all pointers are valid NUL-terminated strings; no data.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    mount().map_err(|source| TracefsError { source })?;
    if events.exists() {
        Ok(())
    } else {
        Err(TracefsError {
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "raw_syscalls/sys_enter is missing from it",
            ),
        })
    }
}
