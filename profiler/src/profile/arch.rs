//! Architectures, in the vocabulary of libseccomp and Docker profiles.

use std::fmt;

use profiler_common::{ABI_COMPAT, ABI_NATIVE};
use serde::{Deserialize, Serialize};

/// A seccomp architecture, named as Docker profiles name it (`SCMP_ARCH_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Arch {
    #[serde(rename = "SCMP_ARCH_X86_64")]
    X86_64,
    #[serde(rename = "SCMP_ARCH_X86")]
    X86,
    #[serde(rename = "SCMP_ARCH_X32")]
    X32,
    #[serde(rename = "SCMP_ARCH_AARCH64")]
    Aarch64,
    #[serde(rename = "SCMP_ARCH_ARM")]
    Arm,
}

impl Arch {
    /// The architecture of the running kernel, or `None` on one this tool
    /// does not know the syscall tables of.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The architectures a kernel of this one also runs tasks of, listed the
    /// way Docker's default profile lists them in its `archMap`.
    pub fn sub_architectures(self) -> &'static [Arch] {
        match self {
            Arch::X86_64 => &[Arch::X86, Arch::X32],
            Arch::Aarch64 => &[Arch::Arm],
            Arch::X86 | Arch::X32 | Arch::Arm => &[],
        }
    }

    /// The syscall table the kernel side counted into slot `abi` on a host
    /// of this architecture.
    pub fn of_abi(self, abi: usize) -> Option<Arch> {
        match (self, abi) {
            (host, ABI_NATIVE) => Some(host),
            (Arch::X86_64, ABI_COMPAT) => Some(Arch::X86),
            (Arch::Aarch64, ABI_COMPAT) => Some(Arch::Arm),
            _ => None,
        }
    }

    /// Docker's name, e.g. `SCMP_ARCH_X86_64`.
    pub fn scmp_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
        }
    }

    /// The kernel's short name, e.g. `x86_64`, `i386`.
    pub fn short_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86 => "i386",
            Arch::X32 => "x32",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
        }
    }

    /// The libseccomp architecture of the same name.
    pub fn to_libseccomp(self) -> libseccomp::ScmpArch {
        use libseccomp::ScmpArch;
        match self {
            Arch::X86_64 => ScmpArch::X8664,
            Arch::X86 => ScmpArch::X86,
            Arch::X32 => ScmpArch::X32,
            Arch::Aarch64 => ScmpArch::Aarch64,
            Arch::Arm => ScmpArch::Arm,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}
