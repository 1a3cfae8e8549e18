//! What the benchmark runs in a process of its own, as hidden `cargo
//! xtask` tasks, because the figure would be wrong from inside the
//! benchmark's process:
//!
//! - [`peak_rss`]: a child's `ru_maxrss` starts from its parent's peak
//!   (fork copies the parent's resident pages; exec keeps the larger of
//!   the old and the new peak), so the benchmark, far larger than a
//!   recorder of `/bin/true`, would report its own size. A small process
//!   in between starts the recorder and reports the recorder's peak.
//! - [`btf_parse`]: the peak that parsing the kernel's BTF adds to a fresh
//!   process, which aya's loader does at every load.

use std::{
    ffi::OsString,
    fs,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context, Result, bail};
use aya_obj::btf::Btf;

/// `cargo xtask peak-rss OUT -- CMD…`: runs CMD (its output goes where
/// ours goes), writes its peak RSS in KiB (`ru_maxrss` from wait4(2)) to
/// OUT and ends as CMD ended.
#[derive(clap::Args)]
pub struct PeakRss {
    /// Where to write the peak RSS, in KiB.
    out: PathBuf,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

pub fn peak_rss(args: &PeakRss) -> Result<ExitCode> {
    let (program, rest) = args
        .command
        .split_first()
        .context("peak-rss needs a command after --")?;
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which nothing else waits for.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    fs::write(&args.out, usage.ru_maxrss.to_string())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let status = std::process::ExitStatus::from_raw(status);
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(128 + status.signal().map_or(0, |s| s as u8)),
    })
}

/// Reads what [`peak_rss`] wrote.
pub fn read_peak_rss(out: &Path) -> Result<u64> {
    let text = fs::read_to_string(out).with_context(|| format!("cannot read {}", out.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("{}: not a number of KiB: {text:?}", out.display()))
}

/// `cargo xtask btf-parse`: prints `before_kib=N` and `after_kib=N`, this
/// process's peak RSS before and after parsing the kernel's BTF with
/// aya-obj (the parser aya's loader uses; `aya::Btf` is `aya_obj`'s).
pub fn btf_parse() -> Result<ExitCode> {
    // The recorder's allocator setting, so that the figures compare.
    // SAFETY: mallopt only changes parameters of the allocator.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    let peak = || vm_hwm_kib(std::process::id()).context("no VmHWM in /proc/self/status");
    let before = peak()?;
    let btf = Btf::from_sys_fs().context("cannot parse /sys/kernel/btf/vmlinux")?;
    let after = peak()?;
    drop(btf);
    println!("before_kib={before}\nafter_kib={after}");
    Ok(ExitCode::SUCCESS)
}

/// The peak RSS (`VmHWM`) of process `pid`, KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    status_kib(pid, ["VmHWM"]).map(|[kib]| kib)
}

/// Sizes of one reading of `/proc/PID/status` (`VmRSS`, `VmHWM`…), KiB.
pub fn status_kib<const N: usize>(pid: u32, keys: [&str; N]) -> Option<[u64; N]> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let fields = super::util::fields(&text);
    let mut values = [0; N];
    for (value, key) in values.iter_mut().zip(keys) {
        *value = fields
            .get(key)?
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
    }
    Some(values)
}

/// Runs [`btf_parse`] in a fresh process (`exe` is this xtask): the peak
/// before and after, KiB.
pub fn measure_btf_parse(exe: &Path) -> Result<(u64, u64)> {
    let output = Command::new(exe)
        .arg("btf-parse")
        .output()
        .with_context(|| format!("cannot run {} btf-parse", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "btf-parse failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("btf-parse printed no {name}"))
    };
    Ok((field("before_kib=")?, field("after_kib=")?))
}
