//! The kernel's seccomp records (audit type 1326, `SECCOMP`), read from
//! where they land: the kernel's log (`/dev/kmsg`, where the kernel prints
//! them when no audit daemon takes them), the journal, or a file (an
//! `audit.log`, a saved `dmesg` or journal). One record a call the filter
//! logged, refused or killed:
//!
//! ```text
//! audit: type=1326 audit(1796669489.981:202): auid=4294967295 uid=0 gid=0
//!   ses=4294967295 pid=6113 comm="call" exe="/usr/bin/call" sig=0
//!   arch=c000003e syscall=309 compat=0 ip=0x7f827a10492a code=0x7ffc0000
//! ```
//!
//! Records the kernel could not keep are counted where it says so: the log
//! buffer overwritten before it was read (`/dev/kmsg` answers EPIPE), or
//! the audit rate limit (`callbacks suppressed`, `audit_lost=N`).

use std::{
    collections::BTreeMap,
    io::{self, Read},
    os::{
        fd::{AsRawFd, FromRawFd},
        unix::fs::OpenOptionsExt,
    },
    path::PathBuf,
};

use crate::{
    input::{self, InputError, Limit},
    profile::Arch,
};

/// Where the records are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogSource {
    /// Audit's netlink multicast group, live, as the kernel makes the
    /// records (no audit daemon needed, none of the kernel log's rate
    /// limit): until `--duration` or a signal.
    Audit,
    /// The kernel's log buffer, `/dev/kmsg`.
    Kmsg,
    /// The journal (`journalctl`): the kernel's messages and audit's.
    Journal,
    /// A file of log lines: an `audit.log`, a saved `dmesg`.
    File(PathBuf),
}

impl std::str::FromStr for LogSource {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<LogSource, Self::Err> {
        Ok(match text {
            "audit" => LogSource::Audit,
            "kmsg" => LogSource::Kmsg,
            "journal" => LogSource::Journal,
            path => LogSource::File(PathBuf::from(path)),
        })
    }
}

/// What a logged call's filter did with it (the record's `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Logged {
    /// `SCMP_ACT_LOG`: let through, and logged (a complain-mode profile).
    Allowed,
    /// Refused with an errno, or trapped.
    Refused,
    /// The thread or the process was killed.
    Killed,
}

/// One seccomp record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedCall {
    /// Seconds since the epoch (the `audit(SECONDS.MILLIS:SERIAL)` stamp).
    pub(crate) epoch: u64,
    pub(crate) pid: u32,
    pub(crate) comm: String,
    pub(crate) exe: String,
    pub(crate) arch: Arch,
    pub(crate) nr: u64,
    pub(crate) logged: Logged,
}

/// What was read.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub(crate) calls: Vec<LoggedCall>,
    /// Records the kernel said it could not keep (rate limit, overwritten).
    pub(crate) lost: u64,
    /// Seccomp records of architectures this tool has no table of.
    pub(crate) foreign: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(
        "cannot read the kernel's log {path}: {source} (it needs root, or CAP_SYSLOG; \
         `--from-log FILE` reads a saved one)"
    )]
    Kmsg {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot listen to audit's records (netlink): {0} (it needs root, or \
         CAP_AUDIT_READ; `--from-log kmsg` reads the kernel's log instead)"
    )]
    Audit(#[source] io::Error),
    #[error("cannot read the journal with journalctl: {0}")]
    Journal(String),
    #[error(transparent)]
    File(#[from] InputError),
}

/// How much of a log file is read.
const MOST_LOG_BYTES: u64 = 512 << 20;

/// How much of the journal's answer is read.
const MOST_JOURNAL_BYTES: u64 = 512 << 20;

/// Reads the seccomp records of `source` stamped at or after `since`
/// (seconds since the epoch).
pub(crate) fn read(
    source: &LogSource,
    since: Option<u64>,
    listen: Listen<'_>,
) -> Result<Records, LogError> {
    let mut reader = Reader {
        since,
        records: Records::default(),
        lost_before: 0,
        lost_since: 0,
    };
    match source {
        LogSource::Audit => listen_audit(&mut reader, listen)?,
        LogSource::Kmsg => read_kmsg(&mut reader)?,
        LogSource::Journal => {
            for line in journal()?.lines() {
                reader.take(line, None);
            }
        }
        LogSource::File(path) => {
            let limit = Limit {
                bytes: MOST_LOG_BYTES,
                what: "a log",
            };
            let bytes = input::read(path, limit)?;
            for line in String::from_utf8_lossy(&bytes).lines() {
                reader.take(line, None);
            }
        }
    }
    let mut records = reader.records;
    // audit_lost is a running total since boot: what it grew by in the
    // window.
    records.lost += reader.lost_since.saturating_sub(reader.lost_before);
    Ok(records)
}

/// How long a live source is listened to: until `until` (none: until a
/// signal) or `interrupt` catches a signal.
#[derive(Clone, Copy)]
pub(crate) struct Listen<'a> {
    pub(crate) until: Option<std::time::Instant>,
    pub(crate) interrupt: Option<&'a crate::session::interrupt::Interrupt>,
}

/// Audit's records as the kernel sends them to the `readlog` multicast
/// group: a netlink message each, `AUDIT_SECCOMP` the seccomp ones, whose
/// text is the record without its `type=`. A full socket buffer
/// (ENOBUFS) lost records, counted as one each time.
fn listen_audit(reader: &mut Reader, listen: Listen<'_>) -> Result<(), LogError> {
    use linux_raw_sys::{netlink::NETLINK_AUDIT, ptrace::AUDIT_SECCOMP, ptrace::audit_nlgrps};
    // SAFETY: socket(2) with constant arguments; the descriptor is owned
    // right after.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_AUDIT as i32,
        )
    };
    if raw < 0 {
        return Err(LogError::Audit(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a new descriptor no one else owns.
    let socket = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; all zero is its empty value.
    let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    address.nl_family = libc::AF_NETLINK as u16;
    address.nl_groups = 1 << (audit_nlgrps::AUDIT_NLGRP_READLOG as u32 - 1);
    // SAFETY: bind(2) with the address above and its size.
    let bound = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&raw const address).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if bound != 0 {
        return Err(LogError::Audit(io::Error::last_os_error()));
    }
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        if listen.interrupt.is_some_and(|i| i.signal().is_some())
            || listen.until.is_some_and(|u| std::time::Instant::now() >= u)
        {
            return Ok(());
        }
        let mut poll = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one descriptor, a 100 ms timeout.
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready <= 0 {
            continue;
        }
        // SAFETY: recv(2) into the buffer, within its length.
        let n = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::ENOBUFS) => reader.records.lost += 1,
                Some(libc::EAGAIN | libc::EINTR) => {}
                _ => return Err(LogError::Audit(error)),
            }
            continue;
        }
        let mut message = &buffer[..usize::try_from(n).unwrap_or(0)];
        // nlmsghdr: length (u32), type (u16), flags, sequence, port.
        const HEADER: usize = 16;
        while message.len() >= HEADER {
            let length =
                u32::from_ne_bytes([message[0], message[1], message[2], message[3]]) as usize;
            let kind = u16::from_ne_bytes([message[4], message[5]]);
            if length < HEADER || length > message.len() {
                break;
            }
            if u32::from(kind) == AUDIT_SECCOMP {
                let text = String::from_utf8_lossy(&message[HEADER..length]);
                let text = text.trim_end_matches('\0');
                reader.take(&format!("type=1326 {text}"), None);
            }
            // Messages are aligned to 4 bytes.
            let next = (length + 3) & !3;
            message = message.get(next..).unwrap_or(&[]);
        }
    }
}

/// The lines read so far, and what the kernel said it lost.
struct Reader {
    since: Option<u64>,
    records: Records,
    /// The highest `audit_lost=` said before the window, and in it.
    lost_before: u64,
    lost_since: u64,
}

impl Reader {
    /// One line of the log, stamped `at` (seconds since the epoch) when the
    /// log stamps its lines (the kernel's does).
    fn take(&mut self, line: &str, at: Option<u64>) {
        let before = |at: u64| self.since.is_some_and(|s| at < s);
        let in_window = !at.is_some_and(before);
        if let Some(n) = audit_lost(line) {
            match in_window {
                true => self.lost_since = self.lost_since.max(n),
                false => self.lost_before = self.lost_before.max(n),
            }
        }
        if in_window && let Some(n) = suppressed(line) {
            self.records.lost += n;
        }
        match parse(line) {
            Some(Parsed::Call(call)) if !before(call.epoch) => self.records.calls.push(call),
            Some(Parsed::Foreign) if in_window => self.records.foreign += 1,
            _ => {}
        }
    }
}

/// `/dev/kmsg`, from its oldest record to its newest, without waiting for
/// more: one record a read; EPIPE when the ones not yet read were
/// overwritten (counted as lost, then the reading goes on).
fn read_kmsg(reader: &mut Reader) -> Result<(), LogError> {
    const KMSG: &str = "/dev/kmsg";
    let error = |source| LogError::Kmsg { path: KMSG, source };
    let mut kmsg = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(KMSG)
        .map_err(error)?;
    let boot = boot_epoch();
    // A record is at most 8 KiB (the kernel's CONSOLE_EXT_LOG_MAX).
    let mut buffer = vec![0u8; 8192];
    loop {
        match kmsg.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                let text = String::from_utf8_lossy(&buffer[..n]);
                // `PRIO,SEQ,USEC,FLAGS;MESSAGE`, then continuation lines;
                // USEC counts from boot.
                let (prefix, message) = text.split_once(';').unwrap_or(("", &text));
                let at = prefix
                    .split(',')
                    .nth(2)
                    .and_then(|usec| usec.parse::<u64>().ok())
                    .and_then(|usec| boot.map(|boot| boot + usec / 1_000_000));
                reader.take(message.lines().next().unwrap_or(""), at);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => reader.records.lost += 1,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(error(e)),
        }
    }
}

/// When the kernel's log clock started, in seconds since the epoch: now,
/// less the monotonic clock (which the log's stamps count, from boot).
fn boot_epoch() -> Option<u64> {
    let mut monotonic = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes into the timespec given.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut monotonic) } != 0 {
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    now.checked_sub(u64::try_from(monotonic.tv_sec).ok()?)
}

/// The kernel's and audit's messages in the journal.
fn journal() -> Result<String, LogError> {
    let cli = crate::program::find(std::ffi::OsStr::new("journalctl"))
        .map_err(|_| LogError::Journal("no journalctl in PATH".to_owned()))?;
    let mut child = std::process::Command::new(cli)
        .args([
            "--no-pager",
            "-o",
            "cat",
            "_TRANSPORT=kernel",
            "+",
            "_TRANSPORT=audit",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| LogError::Journal(e.to_string()))?;
    let mut text = String::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(MOST_JOURNAL_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| LogError::Journal(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| LogError::Journal(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(LogError::Journal(
            stderr
                .lines()
                .last()
                .unwrap_or("it failed")
                .trim()
                .to_owned(),
        ));
    }
    Ok(text)
}

/// What a line is.
enum Parsed {
    Call(LoggedCall),
    /// A seccomp record of an architecture without a table here.
    Foreign,
}

/// The seccomp record in `line`, if it holds one: `type=1326` (the
/// kernel's log) or `type=SECCOMP` (audit.log), then `audit(...)` and the
/// fields.
fn parse(line: &str) -> Option<Parsed> {
    let at = line
        .find("type=1326 ")
        .or_else(|| line.find("type=SECCOMP "))?;
    let rest = &line[at..];
    let stamp_at = rest.find("audit(")? + "audit(".len();
    let stamp = &rest[stamp_at..];
    let epoch: u64 = stamp.split(['.', ':', ')']).next()?.parse().ok()?;
    let fields = fields(&stamp[stamp.find("):")? + 2..]);
    let number = |key: &str| fields.get(key)?.parse::<u64>().ok();
    let arch = u32::from_str_radix(fields.get("arch")?, 16).ok()?;
    let nr = number("syscall")?;
    let code = u32::from_str_radix(fields.get("code")?.trim_start_matches("0x"), 16).ok()?;
    let Some((arch, nr)) = Arch::from_audit(arch, nr) else {
        return Some(Parsed::Foreign);
    };
    Some(Parsed::Call(LoggedCall {
        epoch,
        pid: number("pid").and_then(|p| u32::try_from(p).ok())?,
        comm: fields.get("comm").cloned().unwrap_or_default(),
        exe: fields.get("exe").cloned().unwrap_or_default(),
        arch,
        nr,
        logged: logged(code),
    }))
}

/// The action in a record's `code` (the filter's return value).
fn logged(code: u32) -> Logged {
    const ACTION: u32 = libseccomp_sys::SECCOMP_RET_ACTION_FULL;
    match code & ACTION {
        libseccomp_sys::SECCOMP_RET_LOG | libseccomp_sys::SECCOMP_RET_ALLOW => Logged::Allowed,
        libseccomp_sys::SECCOMP_RET_KILL_PROCESS | libseccomp_sys::SECCOMP_RET_KILL_THREAD => {
            Logged::Killed
        }
        _ => Logged::Refused,
    }
}

/// `key=value` fields, a value quoted (`comm="a b"`) or not; a hex-encoded
/// value (a name with spaces, `exe=2F7573...`) is decoded.
fn fields(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_owned();
        let after = &rest[eq + 1..];
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (quoted[..end].to_owned(), &quoted[end + 1..]),
                None => (quoted.to_owned(), ""),
            },
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                let raw = &after[..end];
                let value = match key.as_str() {
                    "comm" | "exe" => unhex(raw).unwrap_or_else(|| raw.to_owned()),
                    _ => raw.to_owned(),
                };
                (value, &after[end..])
            }
        };
        out.insert(key, value);
        rest = next.trim_start();
    }
    out
}

/// Audit writes a name it cannot quote as hex.
fn unhex(raw: &str) -> Option<String> {
    if !raw.len().is_multiple_of(2) || raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&raw[i..i + 2], 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// `audit_printk_skb: 12 callbacks suppressed` and the like: records the
/// kernel's rate limit dropped.
fn suppressed(line: &str) -> Option<u64> {
    let (before, _) = line.split_once(" callbacks suppressed")?;
    if !before.contains("audit") {
        return None;
    }
    before.rsplit(' ').next()?.parse().ok()
}

/// `audit: audit_lost=5 audit_rate_limit=0 ...`: records audit lost so far.
fn audit_lost(line: &str) -> Option<u64> {
    let at = line.find("audit_lost=")? + "audit_lost=".len();
    line[at..].split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Listen<'static> = Listen {
        until: None,
        interrupt: None,
    };

    const KMSG_LINE: &str = "audit: type=1326 audit(1796669489.981:202): auid=4294967295 uid=0 \
        gid=0 ses=4294967295 pid=6113 comm=\"call\" exe=\"/usr/bin/call\" sig=0 \
        arch=c000003e syscall=309 compat=0 ip=0x7f827a10492a code=0x7ffc0000";

    #[test]
    fn a_kernel_log_record_and_an_audit_log_record_are_read_alike() {
        let Some(Parsed::Call(call)) = parse(KMSG_LINE) else {
            panic!("not read");
        };
        assert_eq!(
            (call.epoch, call.pid, call.arch, call.nr, call.logged),
            (1796669489, 6113, Arch::X86_64, 309, Logged::Allowed)
        );
        assert_eq!(
            (call.comm.as_str(), call.exe.as_str()),
            ("call", "/usr/bin/call")
        );
        let audit_log = "type=SECCOMP msg=audit(1796669490.100:7): auid=0 uid=0 gid=0 ses=1 \
            pid=42 comm=6D7920617070 exe=\"/opt/a\" sig=31 arch=c000003e syscall=101 compat=0 \
            ip=0x1 code=0x80000000";
        let Some(Parsed::Call(call)) = parse(audit_log) else {
            panic!("not read");
        };
        assert_eq!(call.comm, "my app");
        assert_eq!(call.logged, Logged::Killed);
        assert!(parse("audit: type=1400 audit(1.2:3): apparmor=\"DENIED\"").is_none());
        let foreign = KMSG_LINE.replace("c000003e", "80000016");
        assert!(matches!(parse(&foreign), Some(Parsed::Foreign)));
    }

    #[test]
    fn what_the_kernel_dropped_is_counted() {
        assert_eq!(
            suppressed("audit_printk_skb: 12 callbacks suppressed"),
            Some(12)
        );
        assert_eq!(suppressed("net_ratelimit: 3 callbacks suppressed"), None);
        assert_eq!(
            audit_lost("audit: audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64"),
            Some(5)
        );
    }

    #[test]
    fn a_file_is_read_as_data_and_since_filters() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("audit.log");
        let later = KMSG_LINE.replace("1796669489.981", "1796669600.000");
        std::fs::write(&path, format!("{KMSG_LINE}\nnoise\n{later}\n")).expect("write");
        let all = read(&LogSource::File(path.clone()), None, NO_WAIT).expect("read");
        assert_eq!(all.calls.len(), 2);
        let since = read(&LogSource::File(path), Some(1796669500), NO_WAIT).expect("read");
        assert_eq!(since.calls.len(), 1);
        assert!(read(&LogSource::File(PathBuf::from("/dev/null")), None, NO_WAIT).is_err());
    }
}
