//! The parts of a profile's `syscalls` rules: what a rule does with a
//! syscall ([`Action`]), the argument checks it makes ([`ArgCondition`],
//! [`CompareOp`]), and when Docker includes it at all ([`Filter`]).
//!
//! Each type parses strictly: an unknown field, action, operator,
//! capability or architecture is an error that names the value and the
//! accepted ones, never something ignored.

use std::{fmt, str::FromStr};

use super::vocabulary::Named;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

vocabulary! {
    /// What a seccomp filter does with a syscall, in Docker's vocabulary.
    pub enum Action: Named, "action" {
        Kill => Named { name: "SCMP_ACT_KILL" },
        KillProcess => Named { name: "SCMP_ACT_KILL_PROCESS" },
        KillThread => Named { name: "SCMP_ACT_KILL_THREAD" },
        Trap => Named { name: "SCMP_ACT_TRAP" },
        Errno => Named { name: "SCMP_ACT_ERRNO" },
        Trace => Named { name: "SCMP_ACT_TRACE" },
        Allow => Named { name: "SCMP_ACT_ALLOW" },
        Log => Named { name: "SCMP_ACT_LOG" },
        Notify => Named { name: "SCMP_ACT_NOTIFY" },
    }
}

impl Action {
    /// Whether `errnoRet` means anything with this action: the errno
    /// returned (`ERRNO`) or passed to the tracer (`TRACE`).
    pub(crate) fn takes_errno(self) -> bool {
        matches!(self, Action::Errno | Action::Trace)
    }

    /// Whether a syscall under this action runs (`LOG` runs it and logs).
    pub(crate) fn lets_run(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scmp_name())
    }
}

vocabulary! {
    /// How an argument is compared, libseccomp's operators.
    pub enum CompareOp: Named, "operator" {
        NotEqual => Named { name: "SCMP_CMP_NE" },
        Less => Named { name: "SCMP_CMP_LT" },
        LessOrEqual => Named { name: "SCMP_CMP_LE" },
        Equal => Named { name: "SCMP_CMP_EQ" },
        GreaterOrEqual => Named { name: "SCMP_CMP_GE" },
        Greater => Named { name: "SCMP_CMP_GT" },
        /// `(arg & value) == valueTwo`.
        MaskedEqual => Named { name: "SCMP_CMP_MASKED_EQ" },
    }
}

/// Reads one of `all` by its Docker name; any other string, or a value that
/// is no string, is an error naming what was given and what is accepted.
pub(crate) fn deserialize_named<'de, D, T>(
    deserializer: D,
    what: &'static str,
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Copy,
{
    let accepted = || all.iter().map(|t| name(*t)).collect::<Vec<_>>().join(", ");
    let text = match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => text,
        other => {
            return Err(de::Error::custom(format!(
                "invalid type: {other} where {what} belongs; accepted: {}",
                accepted()
            )));
        }
    };
    all.iter()
        .copied()
        .find(|t| name(*t) == text)
        .ok_or_else(|| {
            de::Error::custom(format!("unknown {what} {text:?}; accepted: {}", accepted()))
        })
}

/// The highest argument index a syscall has (six arguments, 0 to 5).
pub const MAX_ARG_INDEX: u32 = 5;

/// One argument check of a rule. A rule's checks all have to hold for the
/// rule to match (libseccomp ANDs the conditions of one rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgCondition {
    #[serde(deserialize_with = "arg_index")]
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: CompareOp,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn arg_index<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let index = u32::deserialize(deserializer)?;
    if index > MAX_ARG_INDEX {
        return Err(de::Error::custom(format!(
            "argument index {index} is out of range: a syscall has arguments 0 to {MAX_ARG_INDEX}"
        )));
    }
    Ok(index)
}

impl ArgCondition {
    /// Whether an argument of value `arg` satisfies this check, compared
    /// as the 64-bit unsigned value libseccomp compares.
    pub(crate) fn holds_for(&self, arg: u64) -> bool {
        match self.op {
            CompareOp::NotEqual => arg != self.value,
            CompareOp::Less => arg < self.value,
            CompareOp::LessOrEqual => arg <= self.value,
            CompareOp::Equal => arg == self.value,
            CompareOp::GreaterOrEqual => arg >= self.value,
            CompareOp::Greater => arg > self.value,
            CompareOp::MaskedEqual => arg & self.value == self.value_two,
        }
    }
}

impl fmt::Display for ArgCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arg = format!("arg{}", self.index);
        match self.op {
            CompareOp::MaskedEqual => {
                write!(f, "{arg} & {:#x} == {:#x}", self.value, self.value_two)
            }
            op => {
                let symbol = match op {
                    CompareOp::NotEqual => "!=",
                    CompareOp::Less => "<",
                    CompareOp::LessOrEqual => "<=",
                    CompareOp::Equal => "==",
                    CompareOp::GreaterOrEqual => ">=",
                    CompareOp::Greater => ">",
                    CompareOp::MaskedEqual => unreachable!("handled above"),
                };
                write!(f, "{arg} {symbol} {}", self.value)
            }
        }
    }
}

/// When Docker keeps a rule (`includes`) or drops it (`excludes`).
///
/// Docker keeps a rule when every capability of `includes.caps` is in the
/// container's bounding set, its native architecture is in
/// `includes.arches` (when given), and the kernel is at least
/// `includes.minKernel`; it drops it when any capability of
/// `excludes.caps` is in the set, the architecture is in
/// `excludes.arches`, or the kernel is at least `excludes.minKernel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<Capability>,
    #[serde(
        default,
        deserialize_with = "super::null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<FilterArch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

impl Filter {
    pub(crate) fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// A kernel version as Docker's profiles give it: `major.minor`, e.g. `4.8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

/// This process's effective capability set, as the kernel's bit mask
/// (bit N is capability N), from `/proc/self/status`; empty if unreadable.
pub(crate) fn effective_capabilities() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

impl KernelVersion {
    /// The running kernel's version, from uname(2).
    pub fn running() -> Option<KernelVersion> {
        let release = uname_release()?;
        KernelVersion::from_release(&release)
    }

    /// `6.18.0-1-amd64` → 6.18.
    pub(crate) fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(KernelVersion { major, minor })
    }
}

fn uname_release() -> Option<String> {
    // SAFETY: uname fills the struct it is given; a zeroed utsname is valid.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates every field of utsname.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    Some(release.to_string_lossy().into_owned())
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for KernelVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("kernel version {text:?} is not of the form major.minor, e.g. \"4.8\"");
        let (major, minor) = text.split_once('.').ok_or_else(bad)?;
        let number = |part: &str| {
            if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
                Err(bad())
            } else {
                part.parse::<u32>().map_err(|_| bad())
            }
        };
        Ok(KernelVersion {
            major: number(major)?,
            minor: number(minor)?,
        })
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

vocabulary! {
    /// A Linux capability, as Docker names it (`CAP_SYS_ADMIN`), with its
    /// bit in the kernel's capability sets (`capability.h`). Rows in
    /// alphabetical order, which is the order reports list them in.
    pub enum Capability: CapabilityInfo, "capability" {
        AuditControl => CapabilityInfo { name: "CAP_AUDIT_CONTROL", bit: 30 },
        AuditRead => CapabilityInfo { name: "CAP_AUDIT_READ", bit: 37 },
        AuditWrite => CapabilityInfo { name: "CAP_AUDIT_WRITE", bit: 29 },
        BlockSuspend => CapabilityInfo { name: "CAP_BLOCK_SUSPEND", bit: 36 },
        Bpf => CapabilityInfo { name: "CAP_BPF", bit: 39 },
        CheckpointRestore => CapabilityInfo { name: "CAP_CHECKPOINT_RESTORE", bit: 40 },
        Chown => CapabilityInfo { name: "CAP_CHOWN", bit: 0 },
        DacOverride => CapabilityInfo { name: "CAP_DAC_OVERRIDE", bit: 1 },
        DacReadSearch => CapabilityInfo { name: "CAP_DAC_READ_SEARCH", bit: 2 },
        Fowner => CapabilityInfo { name: "CAP_FOWNER", bit: 3 },
        Fsetid => CapabilityInfo { name: "CAP_FSETID", bit: 4 },
        IpcLock => CapabilityInfo { name: "CAP_IPC_LOCK", bit: 14 },
        IpcOwner => CapabilityInfo { name: "CAP_IPC_OWNER", bit: 15 },
        Kill => CapabilityInfo { name: "CAP_KILL", bit: 5 },
        Lease => CapabilityInfo { name: "CAP_LEASE", bit: 28 },
        LinuxImmutable => CapabilityInfo { name: "CAP_LINUX_IMMUTABLE", bit: 9 },
        MacAdmin => CapabilityInfo { name: "CAP_MAC_ADMIN", bit: 33 },
        MacOverride => CapabilityInfo { name: "CAP_MAC_OVERRIDE", bit: 32 },
        Mknod => CapabilityInfo { name: "CAP_MKNOD", bit: 27 },
        NetAdmin => CapabilityInfo { name: "CAP_NET_ADMIN", bit: 12 },
        NetBindService => CapabilityInfo { name: "CAP_NET_BIND_SERVICE", bit: 10 },
        NetBroadcast => CapabilityInfo { name: "CAP_NET_BROADCAST", bit: 11 },
        NetRaw => CapabilityInfo { name: "CAP_NET_RAW", bit: 13 },
        Perfmon => CapabilityInfo { name: "CAP_PERFMON", bit: 38 },
        Setfcap => CapabilityInfo { name: "CAP_SETFCAP", bit: 31 },
        Setgid => CapabilityInfo { name: "CAP_SETGID", bit: 6 },
        Setpcap => CapabilityInfo { name: "CAP_SETPCAP", bit: 8 },
        Setuid => CapabilityInfo { name: "CAP_SETUID", bit: 7 },
        Syslog => CapabilityInfo { name: "CAP_SYSLOG", bit: 34 },
        SysAdmin => CapabilityInfo { name: "CAP_SYS_ADMIN", bit: 21 },
        SysBoot => CapabilityInfo { name: "CAP_SYS_BOOT", bit: 22 },
        SysChroot => CapabilityInfo { name: "CAP_SYS_CHROOT", bit: 18 },
        SysModule => CapabilityInfo { name: "CAP_SYS_MODULE", bit: 16 },
        SysNice => CapabilityInfo { name: "CAP_SYS_NICE", bit: 23 },
        SysPacct => CapabilityInfo { name: "CAP_SYS_PACCT", bit: 20 },
        SysPtrace => CapabilityInfo { name: "CAP_SYS_PTRACE", bit: 19 },
        SysRawio => CapabilityInfo { name: "CAP_SYS_RAWIO", bit: 17 },
        SysResource => CapabilityInfo { name: "CAP_SYS_RESOURCE", bit: 24 },
        SysTime => CapabilityInfo { name: "CAP_SYS_TIME", bit: 25 },
        SysTtyConfig => CapabilityInfo { name: "CAP_SYS_TTY_CONFIG", bit: 26 },
        WakeAlarm => CapabilityInfo { name: "CAP_WAKE_ALARM", bit: 35 },
    }
}

/// What the table knows of a capability.
#[derive(Debug)]
pub struct CapabilityInfo {
    pub name: &'static str,
    /// Its bit in the kernel's capability sets (`CapEff` in
    /// `/proc/PID/status`).
    pub bit: u8,
}

/// An architecture as a rule's `includes.arches`/`excludes.arches` name
/// it: Go's `GOARCH` names, which Docker compares with its own, plus the
/// older spellings Docker's profiles still carry (`x86`, `x32`).
///
/// Docker compares these as plain strings and ignores one that names no
/// architecture (its 20.10 profile has a typo, `mips3l64n32`), so such a
/// name parses, and [`Profile::parse`](super::Profile::parse) warns about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilterArch(String);

impl FilterArch {
    /// The names that mean an architecture.
    pub(crate) const KNOWN: &'static [&'static str] = &[
        "amd64",
        "386",
        "x86",
        "x32",
        "arm",
        "arm64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64n32",
        "mips64p32",
        "mips64p32le",
        "mipsel",
        "mipsel64",
        "mipsel64n32",
        "ppc",
        "ppc64",
        "ppc64le",
        "s390",
        "s390x",
        "parisc",
        "parisc64",
        "riscv64",
        "loong64",
        "loongarch64",
        "m68k",
        "sh",
        "sheb",
    ];

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this names an architecture at all.
    pub(crate) fn is_known(&self) -> bool {
        Self::KNOWN.contains(&self.0.as_str())
    }
}

impl FromStr for FilterArch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if word {
            Ok(FilterArch(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not an architecture name (lowercase letters and digits, e.g. \
                 \"amd64\"; known: {})",
                Self::KNOWN.join(", ")
            ))
        }
    }
}

impl fmt::Display for FilterArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for FilterArch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FilterArch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

vocabulary! {
    /// A flag for seccomp(2) when the filter is installed (the OCI runtime
    /// spec's `flags`), with its bit.
    pub enum FilterFlag: FlagInfo, "seccomp filter flag" {
        Tsync => FlagInfo { name: "SECCOMP_FILTER_FLAG_TSYNC", bit: 1 << 0 },
        Log => FlagInfo { name: "SECCOMP_FILTER_FLAG_LOG", bit: 1 << 1 },
        SpecAllow => FlagInfo { name: "SECCOMP_FILTER_FLAG_SPEC_ALLOW", bit: 1 << 2 },
        /// Linux 6.0.
        WaitKillableRecv => FlagInfo { name: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", bit: 1 << 5 },
    }
}

/// What the table knows of a filter flag.
#[derive(Debug)]
pub struct FlagInfo {
    pub name: &'static str,
    /// Its bit in seccomp(2)'s `flags` (`linux/seccomp.h`).
    pub bit: u64,
}

impl Capability {
    /// The capability named `name` (`CAP_SYS_ADMIN`, or `SYS_ADMIN` as
    /// `docker run --cap-add` takes it, in any case).
    pub(crate) fn from_docker_name(name: &str) -> Result<Capability, String> {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        full.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_parses() {
        for (name, op) in [
            ("SCMP_CMP_NE", CompareOp::NotEqual),
            ("SCMP_CMP_LT", CompareOp::Less),
            ("SCMP_CMP_LE", CompareOp::LessOrEqual),
            ("SCMP_CMP_EQ", CompareOp::Equal),
            ("SCMP_CMP_GE", CompareOp::GreaterOrEqual),
            ("SCMP_CMP_GT", CompareOp::Greater),
            ("SCMP_CMP_MASKED_EQ", CompareOp::MaskedEqual),
        ] {
            assert_eq!(
                serde_json::from_str::<CompareOp>(&format!("\"{name}\"")).unwrap(),
                op
            );
            assert_eq!(op.scmp_name(), name);
        }
    }

    #[test]
    fn unknown_operator_names_value_and_accepted_ones() {
        let err = serde_json::from_str::<CompareOp>("\"SCMP_CMP_XOR\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("SCMP_CMP_XOR"), "{err}");
        assert!(err.contains("SCMP_CMP_MASKED_EQ"), "{err}");
    }

    #[test]
    fn unknown_action_names_value_and_accepted_ones() {
        let err = serde_json::from_str::<Action>("\"SCMP_ACT_MAYBE\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("SCMP_ACT_MAYBE"), "{err}");
        assert!(err.contains("SCMP_ACT_ALLOW"), "{err}");
    }

    #[test]
    fn conditions_compare_like_libseccomp() {
        let cond = |op, value, value_two| ArgCondition {
            index: 0,
            value,
            value_two,
            op,
        };
        assert!(cond(CompareOp::Less, 38, 0).holds_for(37));
        assert!(!cond(CompareOp::Less, 38, 0).holds_for(38));
        assert!(cond(CompareOp::Greater, 40, 0).holds_for(41));
        assert!(cond(CompareOp::NotEqual, 1, 0).holds_for(2));
        assert!(cond(CompareOp::LessOrEqual, 1, 0).holds_for(1));
        assert!(cond(CompareOp::GreaterOrEqual, 1, 0).holds_for(1));
        // Docker's clone rule: no namespace flag set.
        let clone = cond(CompareOp::MaskedEqual, 2114060288, 0);
        assert!(clone.holds_for(0x11)); // SIGCHLD
        assert!(!clone.holds_for(0x2000_0000 | 0x11)); // CLONE_NEWPID
    }

    #[test]
    fn argument_index_past_five_is_refused() {
        let err = serde_json::from_str::<ArgCondition>(
            r#"{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("argument index 6"), "{err}");
    }

    #[test]
    fn kernel_versions_parse_strictly() {
        assert_eq!(
            "4.8".parse::<KernelVersion>().unwrap(),
            KernelVersion { major: 4, minor: 8 }
        );
        for bad in ["4", "4.", ".8", "4.8.1", "v4.8", "4.x", "99999999999.1"] {
            assert!(bad.parse::<KernelVersion>().is_err(), "{bad}");
        }
        assert_eq!(
            KernelVersion::from_release("6.18.0-1-amd64"),
            Some(KernelVersion {
                major: 6,
                minor: 18
            })
        );
        assert!(KernelVersion::running().is_some());
    }

    #[test]
    fn capabilities_accept_docker_spellings() {
        assert_eq!(
            Capability::from_docker_name("sys_admin")
                .unwrap()
                .scmp_name(),
            "CAP_SYS_ADMIN"
        );
        assert_eq!(
            Capability::from_docker_name("CAP_BPF").unwrap().scmp_name(),
            "CAP_BPF"
        );
        let err = Capability::from_docker_name("SYS_WIZARD").unwrap_err();
        assert!(
            err.contains("CAP_SYS_WIZARD") && err.contains("CAP_SYS_ADMIN"),
            "{err}"
        );
        let vax: FilterArch = serde_json::from_str("\"vax\"").unwrap();
        assert!(!vax.is_known());
        let err = serde_json::from_str::<FilterArch>("\"AMD 64\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"AMD 64\"") && err.contains("amd64"), "{err}");
    }
}
