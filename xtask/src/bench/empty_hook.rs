//! An eBPF program that does nothing (`r0 = 0; exit`), attached where a
//! syscall counter could be: the `sys_enter` raw tracepoint (the recorder's
//! hook), or `fentry` on `x64_sys_call` (the kernel's syscall dispatch, on
//! x86_64 since Linux 6.9). With it attached, every syscall of every task pays
//! what the hook itself costs, with no program work; `cargo xtask bench`
//! measures that floor. Loaded straight through bpf(2): two instructions need
//! no eBPF toolchain.

use std::{
    ffi::CString,
    fmt,
    os::fd::{FromRawFd, OwnedFd},
    process::Command,
};

use anyhow::{Context, Result, bail};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EmptyHook {
    /// `raw_tp/sys_enter`.
    RawTracepoint,
    /// `fentry/x64_sys_call`.
    Fentry,
}

impl fmt::Display for EmptyHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmptyHook::RawTracepoint => "raw_tp/sys_enter",
            EmptyHook::Fentry => "fentry/x64_sys_call",
        })
    }
}

/// The program and its attachment; dropping it detaches and unloads.
pub struct Attached {
    _link: OwnedFd,
    _prog: OwnedFd,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_FENTRY: u32 = 24;

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD (the kernel
/// takes the rest as zero).
#[repr(C, align(8))]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_RAW_TRACEPOINT_OPEN.
#[repr(C, align(8))]
struct RawTracepointOpenAttr {
    name: u64,
    prog_fd: u32,
    _pad: u32,
    cookie: u64,
}

/// `r0 = 0` (BPF_ALU64 | BPF_MOV | BPF_K) and `exit` (BPF_JMP | BPF_EXIT).
const EMPTY_PROGRAM: [u64; 2] = [0xb7, 0x95];

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<OwnedFd> {
    // SAFETY: `attr` is a live, properly laid out bpf_attr prefix of
    // `size_of::<T>()` bytes; pointers inside it point to live buffers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("fd out of range"))?;
    // SAFETY: bpf(2) returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads the empty program and attaches it to `hook`. When the kernel
/// refuses `fentry` on `x64_sys_call`, the error says whether it refuses
/// `fentry` on an ordinary function (`vfs_read`) too.
pub fn attach(hook: EmptyHook) -> Result<Attached> {
    let result = attach_to(hook, "x64_sys_call");
    if hook == EmptyHook::Fentry
        && let Err(e) = &result
    {
        let other = match attach_to(hook, "vfs_read") {
            Ok(_) => "it accepts fentry on vfs_read".to_owned(),
            Err(other) => format!("on vfs_read as well: {other:#}"),
        };
        return Err(anyhow::anyhow!("{e:#}; {other}"));
    }
    result
}

fn attach_to(hook: EmptyHook, function: &str) -> Result<Attached> {
    let license = CString::new("GPL").context("license")?;
    let mut log = vec![0u8; 4096];
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"xtask_noop");
    let mut attr = ProgLoadAttr {
        insn_cnt: EMPTY_PROGRAM.len() as u32,
        insns: EMPTY_PROGRAM.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match hook {
        EmptyHook::RawTracepoint => attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT,
        EmptyHook::Fentry => {
            attr.prog_type = BPF_PROG_TYPE_TRACING;
            attr.expected_attach_type = BPF_TRACE_FENTRY;
            attr.attach_btf_id = vmlinux_func_id(function)?;
        }
    }
    let prog = bpf(BPF_PROG_LOAD, &mut attr).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let log = String::from_utf8_lossy(&log[..end]).trim().to_owned();
        let target = match hook {
            EmptyHook::RawTracepoint => hook.to_string(),
            EmptyHook::Fentry => format!("fentry/{function}"),
        };
        if log.is_empty() {
            anyhow::anyhow!("the kernel refused the empty {target} program: {e}")
        } else {
            anyhow::anyhow!(
                "the kernel refused the empty {target} program: {e}; verifier log: {log}"
            )
        }
    })?;
    let tracepoint = CString::new("sys_enter").context("tracepoint name")?;
    let mut open = RawTracepointOpenAttr {
        // fentry programs attach where they were loaded for: no name.
        name: match hook {
            EmptyHook::RawTracepoint => tracepoint.as_ptr() as u64,
            EmptyHook::Fentry => 0,
        },
        prog_fd: std::os::fd::AsRawFd::as_raw_fd(&prog) as u32,
        _pad: 0,
        cookie: 0,
    };
    let link = bpf(BPF_RAW_TRACEPOINT_OPEN, &mut open)
        .with_context(|| format!("cannot attach the empty program to {hook}"))?;
    Ok(Attached {
        _link: link,
        _prog: prog,
    })
}

/// The BTF type id of kernel function `name`, as bpftool prints it.
fn vmlinux_func_id(name: &str) -> Result<u32> {
    let output = Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .context("cannot run bpftool (Debian's bpftool) to read the kernel's BTF")?;
    if !output.status.success() {
        bail!(
            "bpftool btf dump failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let needle = format!("] FUNC '{name}' ");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|line| line.contains(&needle))
        .and_then(|line| line.strip_prefix('[')?.split(']').next()?.parse().ok())
        .with_context(|| format!("the kernel's BTF has no function {name}"))
}
