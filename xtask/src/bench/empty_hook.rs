//! An eBPF program that does nothing (`r0 = 0; exit`), attached where a
//! syscall counter could be: the `sys_enter` raw tracepoint (the recorder's
//! hook until issue 14), the same tracepoint as a BTF tracepoint
//! (`tp_btf/sys_enter`, BPF_PROG_TYPE_TRACING), or `fentry` on `x64_sys_call`
//! (the kernel's syscall dispatch, on x86_64 since Linux 6.9). With it
//! attached, every syscall of every task pays what the hook itself costs,
//! with no program work; `cargo xtask bench` measures that floor. Loaded
//! straight through bpf(2): two instructions need no eBPF toolchain; the
//! kernel's BTF ids come from `/sys/kernel/btf/vmlinux`, read with aya-obj.
//!
//! Also here: [`kprobe_experiment`], which asks the kernel for a kprobe on
//! the function that runs for refused syscalls, and reports its answers.

use std::{
    ffi::CString,
    fmt, fs,
    os::fd::{AsRawFd, BorrowedFd},
    os::fd::{FromRawFd, OwnedFd},
};

use anyhow::{Context, Result};
use aya_obj::btf::{Btf, BtfKind};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EmptyHook {
    /// `raw_tp/sys_enter`.
    RawTracepoint,
    /// `tp_btf/sys_enter`.
    BtfTracepoint,
    /// `tp_btf/sys_enter`, with a program that only asks for the current
    /// task (`bpf_get_current_task_btf`, the one helper call left in the
    /// recorder's test of the calling task there): the floor of any program
    /// that must know which task is calling.
    BtfCurrentTask,
    /// `fentry/x64_sys_call`.
    Fentry,
}

impl fmt::Display for EmptyHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmptyHook::RawTracepoint => "raw_tp/sys_enter",
            EmptyHook::BtfTracepoint => "tp_btf/sys_enter",
            EmptyHook::BtfCurrentTask => "tp_btf/sys_enter (bpf_get_current_task_btf only)",
            EmptyHook::Fentry => "fentry/x64_sys_call",
        })
    }
}

/// The program and its attachment; dropping it detaches and unloads.
pub struct Attached {
    _link: OwnedFd,
    prog: OwnedFd,
}

impl Attached {
    /// The program's file descriptor (its `/proc/self/fdinfo` has the
    /// kernel's run statistics).
    pub fn prog(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.prog.as_fd()
    }
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_RAW_TP: u32 = 23;
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

/// `call bpf_get_current_task_btf` (BPF_JMP | BPF_CALL, helper 158), then
/// the empty program.
const CURRENT_TASK_PROGRAM: [u64; 3] = [0x85 | (158 << 32), 0xb7, 0x95];

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
    let program: &[u64] = match hook {
        EmptyHook::BtfCurrentTask => &CURRENT_TASK_PROGRAM,
        _ => &EMPTY_PROGRAM,
    };
    let mut attr = ProgLoadAttr {
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match hook {
        EmptyHook::RawTracepoint => attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT,
        EmptyHook::BtfTracepoint | EmptyHook::BtfCurrentTask => {
            // The tracepoint's BTF type is the typedef the kernel declares
            // for it: `btf_trace_<name>`.
            attr.prog_type = BPF_PROG_TYPE_TRACING;
            attr.expected_attach_type = BPF_TRACE_RAW_TP;
            attr.attach_btf_id = vmlinux_type_id("btf_trace_sys_enter", BtfKind::Typedef)?;
        }
        EmptyHook::Fentry => {
            attr.prog_type = BPF_PROG_TYPE_TRACING;
            attr.expected_attach_type = BPF_TRACE_FENTRY;
            attr.attach_btf_id = vmlinux_type_id(function, BtfKind::Func)?;
        }
    }
    let prog = bpf(BPF_PROG_LOAD, &mut attr).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let log = String::from_utf8_lossy(&log[..end]).trim().to_owned();
        let target = match hook {
            EmptyHook::RawTracepoint | EmptyHook::BtfTracepoint | EmptyHook::BtfCurrentTask => {
                hook.to_string()
            }
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
        // Tracing programs (tp_btf, fentry) attach where they were loaded
        // for (their attach_btf_id): no name.
        name: match hook {
            EmptyHook::RawTracepoint => tracepoint.as_ptr() as u64,
            EmptyHook::BtfTracepoint | EmptyHook::BtfCurrentTask | EmptyHook::Fentry => 0,
        },
        prog_fd: prog.as_raw_fd() as u32,
        _pad: 0,
        cookie: 0,
    };
    let link = bpf(BPF_RAW_TRACEPOINT_OPEN, &mut open)
        .with_context(|| format!("cannot attach the empty program to {hook}"))?;
    Ok(Attached { _link: link, prog })
}

/// The id of the type called `name` of `kind` in the kernel's BTF.
fn vmlinux_type_id(name: &str, kind: BtfKind) -> Result<u32> {
    let btf =
        Btf::from_sys_fs().context("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux)")?;
    btf.id_by_type_name_kind(name, kind)
        .with_context(|| format!("the kernel's BTF has no {kind:?} {name}"))
}

/// The kernel functions that run for a syscall a seccomp filter refuses
/// (the filter's evaluation, the entry that acts on its verdict, and the
/// audit/log of a refusal), in the order tried.
pub const SECCOMP_REFUSAL_FUNCTIONS: [&str; 4] = [
    "__seccomp_filter",
    "__secure_computing",
    "seccomp_log",
    "audit_seccomp",
];

/// One attempt of [`kprobe_experiment`] and what the kernel answered.
#[derive(Clone, Debug)]
pub struct ProbeAttempt {
    pub what: String,
    pub answer: String,
    /// Whether the kernel granted it (a probe was opened, and closed again).
    pub granted: bool,
}

/// Asks the kernel for a probe on the function that runs for refused
/// syscalls, every way there is: a kprobe through the kprobe PMU
/// (perf_event_open with the PMU's type), a kprobe through tracefs
/// (`kprobe_events`), and `fentry`. Whatever is granted is closed (or, for
/// tracefs, removed) at once. Returns each attempt with the kernel's answer.
pub fn kprobe_experiment() -> Vec<ProbeAttempt> {
    let kallsyms = fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let listed = |f: &&str| {
        kallsyms
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some(*f))
    };
    let present: Vec<&str> = SECCOMP_REFUSAL_FUNCTIONS
        .iter()
        .copied()
        .filter(listed)
        .collect();
    let candidates = ProbeAttempt {
        what: "candidates in `/proc/kallsyms`".to_owned(),
        answer: if present.is_empty() {
            "none of them".to_owned()
        } else {
            present
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        granted: !present.is_empty(),
    };
    let target = present.first().copied().unwrap_or("__seccomp_filter");
    let error = |e: anyhow::Error| format!("{e:#}");
    // 1. The kprobe PMU.
    let pmu = || -> Result<&str, String> {
        let type_path = "/sys/bus/event_source/devices/kprobe/type";
        let text = fs::read_to_string(type_path)
            .map_err(|e| format!("no kprobe PMU: reading {type_path}: {e}"))?;
        let pmu_type: u32 = text
            .trim()
            .parse()
            .map_err(|_| format!("{type_path} holds `{}`, not a number", text.trim()))?;
        open_kprobe_pmu(pmu_type, target).map_err(|e| format!("perf_event_open: {e}"))?;
        Ok("granted (closed at once)")
    };
    // 2. tracefs kprobe_events.
    let tracefs = || -> Result<&str, String> {
        let dir = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .into_iter()
            .find(|dir| std::path::Path::new(dir).join("events").is_dir())
            .ok_or("no tracefs mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing")?;
        tracefs_kprobe(dir, target).map_err(error)?;
        Ok("granted (removed at once)")
    };
    // 3. A kprobe_multi link: ftrace's fprobe underneath, not a kprobe, so
    // it may be there when kprobes are not. 4. fentry (a BPF trampoline; no
    // kprobe needed).
    let multi = || {
        kprobe_multi(target)
            .map(|()| "granted (detached at once)")
            .map_err(error)
    };
    let fentry = || attach_to(EmptyHook::Fentry, target).map(drop);
    let asked = [
        (
            format!("a kprobe on `{target}` (perf_event_open, kprobe PMU)"),
            pmu(),
        ),
        (
            format!(
                "a kprobe on `{target}` (`p:xtask_seccomp {target}` into tracefs `kprobe_events`)"
            ),
            tracefs(),
        ),
        (
            format!("a `kprobe.multi` link on `{target}` (fprobe, BPF_LINK_CREATE)"),
            multi(),
        ),
        (
            format!("an empty program on `fentry/{target}` (BPF trampoline)"),
            fentry()
                .map(|()| "granted (detached at once)")
                .map_err(error),
        ),
    ];
    let attempt = |(what, answer): (String, Result<&str, String>)| ProbeAttempt {
        what,
        granted: answer.is_ok(),
        answer: answer.map_or_else(|e| e, str::to_owned),
    };
    std::iter::once(candidates)
        .chain(asked.into_iter().map(attempt))
        .collect()
}

const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_PROG_TYPE_KPROBE: u32 = 2;
const BPF_TRACE_KPROBE_MULTI: u32 = 42;

/// `union bpf_attr` for BPF_LINK_CREATE of a kprobe_multi link.
#[repr(C, align(8))]
struct KprobeMultiLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    multi_flags: u32,
    cnt: u32,
    syms: u64,
    addrs: u64,
    cookies: u64,
}

/// Loads the empty program as a kprobe_multi program and links it to
/// `function`; dropped at once when the kernel grants it.
fn kprobe_multi(function: &str) -> Result<()> {
    let license = CString::new("GPL").context("license")?;
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_KPROBE,
        expected_attach_type: BPF_TRACE_KPROBE_MULTI,
        insn_cnt: EMPTY_PROGRAM.len() as u32,
        insns: EMPTY_PROGRAM.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    let prog = bpf(BPF_PROG_LOAD, &mut attr)
        .map_err(|e| anyhow::anyhow!("the kernel refused the empty kprobe.multi program: {e}"))?;
    let name = CString::new(function).context("function name")?;
    let syms = [name.as_ptr() as u64];
    let mut link = KprobeMultiLinkAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_fd: 0,
        attach_type: BPF_TRACE_KPROBE_MULTI,
        flags: 0,
        multi_flags: 0,
        cnt: 1,
        syms: syms.as_ptr() as u64,
        addrs: 0,
        cookies: 0,
    };
    let link = bpf(BPF_LINK_CREATE, &mut link)
        .map_err(|e| anyhow::anyhow!("BPF_LINK_CREATE refused the link: {e}"))?;
    drop(link);
    drop(prog);
    Ok(())
}

/// The leading fields of `struct perf_event_attr` (PERF_ATTR_SIZE_VER8).
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// Bit 0: `disabled`.
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    /// kprobe PMU: the function's name.
    config1: u64,
    /// kprobe PMU: the offset in it.
    config2: u64,
    rest: [u64; 8],
}

/// Opens (disabled) and closes a kprobe on `function` through the kprobe PMU.
fn open_kprobe_pmu(pmu_type: u32, function: &str) -> std::io::Result<()> {
    let name = CString::new(function).map_err(std::io::Error::other)?;
    let mut attr = PerfEventAttr {
        type_: pmu_type,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        flags: 1,
        config1: name.as_ptr() as u64,
        ..Default::default()
    };
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
    // SAFETY: `attr` is a live perf_event_attr of the size it states; the
    // name it points to lives until the call returns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &mut attr as *mut PerfEventAttr,
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("fd out of range"))?;
    // SAFETY: perf_event_open returned a new descriptor that nothing else owns.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// Adds a kprobe event on `function` through `DIR/kprobe_events`, and
/// removes it at once.
fn tracefs_kprobe(dir: &str, function: &str) -> Result<()> {
    use std::io::Write;
    let path = std::path::Path::new(dir).join("kprobe_events");
    // No `create`: tracefs has the file or the kernel has no kprobe events.
    let mut events = fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    events
        .write_all(format!("p:xtask_seccomp {function}\n").as_bytes())
        .with_context(|| format!("writing a probe on {function} into {}", path.display()))?;
    events
        .write_all(b"-:xtask_seccomp\n")
        .with_context(|| format!("removing the probe xtask_seccomp from {}", path.display()))?;
    Ok(())
}
