//! Architectures, in the vocabulary of libseccomp and Docker profiles.

use std::fmt;

use profiler_common::{ABI_COMPAT, ABI_NATIVE};
use serde::{Deserialize, Deserializer, Serialize};

/// A seccomp architecture, named as Docker profiles name it (`SCMP_ARCH_*`).
///
/// Every architecture the OCI runtime spec and Docker's profiles name is
/// here, so that any profile parses; this tool has syscall tables for only
/// some of them (see [`super::table`]), and the libseccomp of a Debian 12
/// host (2.5.4) knows all but LoongArch, m68k and SuperH
/// ([`Arch::to_libseccomp`]).
///
/// The order of the variants is the order reports list tables in: the
/// native x86_64 table before its 32-bit companions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
    #[serde(rename = "SCMP_ARCH_MIPS")]
    Mips,
    #[serde(rename = "SCMP_ARCH_MIPS64")]
    Mips64,
    #[serde(rename = "SCMP_ARCH_MIPS64N32")]
    Mips64N32,
    #[serde(rename = "SCMP_ARCH_MIPSEL")]
    Mipsel,
    #[serde(rename = "SCMP_ARCH_MIPSEL64")]
    Mipsel64,
    #[serde(rename = "SCMP_ARCH_MIPSEL64N32")]
    Mipsel64N32,
    #[serde(rename = "SCMP_ARCH_PPC")]
    Ppc,
    #[serde(rename = "SCMP_ARCH_PPC64")]
    Ppc64,
    #[serde(rename = "SCMP_ARCH_PPC64LE")]
    Ppc64Le,
    #[serde(rename = "SCMP_ARCH_S390")]
    S390,
    #[serde(rename = "SCMP_ARCH_S390X")]
    S390X,
    #[serde(rename = "SCMP_ARCH_PARISC")]
    Parisc,
    #[serde(rename = "SCMP_ARCH_PARISC64")]
    Parisc64,
    #[serde(rename = "SCMP_ARCH_RISCV64")]
    Riscv64,
    #[serde(rename = "SCMP_ARCH_LOONGARCH64")]
    Loongarch64,
    #[serde(rename = "SCMP_ARCH_M68K")]
    M68k,
    #[serde(rename = "SCMP_ARCH_SH")]
    Sh,
    #[serde(rename = "SCMP_ARCH_SHEB")]
    Sheb,
}

impl Arch {
    /// Every architecture, in report order.
    pub const ALL: [Arch; 23] = [
        Arch::X86_64,
        Arch::X86,
        Arch::X32,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Mips,
        Arch::Mips64,
        Arch::Mips64N32,
        Arch::Mipsel,
        Arch::Mipsel64,
        Arch::Mipsel64N32,
        Arch::Ppc,
        Arch::Ppc64,
        Arch::Ppc64Le,
        Arch::S390,
        Arch::S390X,
        Arch::Parisc,
        Arch::Parisc64,
        Arch::Riscv64,
        Arch::Loongarch64,
        Arch::M68k,
        Arch::Sh,
        Arch::Sheb,
    ];

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
            Arch::Mips64 => &[Arch::Mips, Arch::Mips64N32],
            Arch::Mips64N32 => &[Arch::Mips, Arch::Mips64],
            Arch::Mipsel64 => &[Arch::Mipsel, Arch::Mipsel64N32],
            Arch::Mipsel64N32 => &[Arch::Mipsel, Arch::Mipsel64],
            Arch::S390X => &[Arch::S390],
            Arch::X86
            | Arch::X32
            | Arch::Arm
            | Arch::Mips
            | Arch::Mipsel
            | Arch::Ppc
            | Arch::Ppc64
            | Arch::Ppc64Le
            | Arch::S390
            | Arch::Parisc
            | Arch::Parisc64
            | Arch::Riscv64
            | Arch::Loongarch64
            | Arch::M68k
            | Arch::Sh
            | Arch::Sheb => &[],
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
            Arch::Mips => "SCMP_ARCH_MIPS",
            Arch::Mips64 => "SCMP_ARCH_MIPS64",
            Arch::Mips64N32 => "SCMP_ARCH_MIPS64N32",
            Arch::Mipsel => "SCMP_ARCH_MIPSEL",
            Arch::Mipsel64 => "SCMP_ARCH_MIPSEL64",
            Arch::Mipsel64N32 => "SCMP_ARCH_MIPSEL64N32",
            Arch::Ppc => "SCMP_ARCH_PPC",
            Arch::Ppc64 => "SCMP_ARCH_PPC64",
            Arch::Ppc64Le => "SCMP_ARCH_PPC64LE",
            Arch::S390 => "SCMP_ARCH_S390",
            Arch::S390X => "SCMP_ARCH_S390X",
            Arch::Parisc => "SCMP_ARCH_PARISC",
            Arch::Parisc64 => "SCMP_ARCH_PARISC64",
            Arch::Riscv64 => "SCMP_ARCH_RISCV64",
            Arch::Loongarch64 => "SCMP_ARCH_LOONGARCH64",
            Arch::M68k => "SCMP_ARCH_M68K",
            Arch::Sh => "SCMP_ARCH_SH",
            Arch::Sheb => "SCMP_ARCH_SHEB",
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
            Arch::Mips => "mips",
            Arch::Mips64 => "mips64",
            Arch::Mips64N32 => "mips64n32",
            Arch::Mipsel => "mipsel",
            Arch::Mipsel64 => "mipsel64",
            Arch::Mipsel64N32 => "mipsel64n32",
            Arch::Ppc => "ppc",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64Le => "ppc64le",
            Arch::S390 => "s390",
            Arch::S390X => "s390x",
            Arch::Parisc => "parisc",
            Arch::Parisc64 => "parisc64",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
            Arch::M68k => "m68k",
            Arch::Sh => "sh",
            Arch::Sheb => "sheb",
        }
    }

    /// The name Docker compares a rule's `includes.arches` and
    /// `excludes.arches` with when this is the daemon's native architecture:
    /// Go's `runtime.GOARCH`. `None` for architectures Go has no port to
    /// (a daemon never runs natively on them).
    pub fn go_arch(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("amd64"),
            Arch::X86 => Some("386"),
            Arch::Aarch64 => Some("arm64"),
            Arch::Arm => Some("arm"),
            Arch::Mips => Some("mips"),
            Arch::Mipsel => Some("mipsle"),
            Arch::Mips64 => Some("mips64"),
            Arch::Mipsel64 => Some("mips64le"),
            Arch::Ppc64 => Some("ppc64"),
            Arch::Ppc64Le => Some("ppc64le"),
            Arch::S390X => Some("s390x"),
            Arch::Riscv64 => Some("riscv64"),
            Arch::Loongarch64 => Some("loong64"),
            Arch::X32
            | Arch::Mips64N32
            | Arch::Mipsel64N32
            | Arch::Ppc
            | Arch::S390
            | Arch::Parisc
            | Arch::Parisc64
            | Arch::M68k
            | Arch::Sh
            | Arch::Sheb => None,
        }
    }

    /// The libseccomp architecture of the same name, or `None` for one that
    /// the libseccomp of a Debian 12 host (2.5.4) does not know: LoongArch,
    /// m68k and SuperH came with 2.6, so a runtime linked with 2.5.4 cannot
    /// filter them.
    pub fn to_libseccomp(self) -> Option<libseccomp::ScmpArch> {
        use libseccomp::ScmpArch;
        match self {
            Arch::X86_64 => Some(ScmpArch::X8664),
            Arch::X86 => Some(ScmpArch::X86),
            Arch::X32 => Some(ScmpArch::X32),
            Arch::Aarch64 => Some(ScmpArch::Aarch64),
            Arch::Arm => Some(ScmpArch::Arm),
            Arch::Mips => Some(ScmpArch::Mips),
            Arch::Mips64 => Some(ScmpArch::Mips64),
            Arch::Mips64N32 => Some(ScmpArch::Mips64N32),
            Arch::Mipsel => Some(ScmpArch::Mipsel),
            Arch::Mipsel64 => Some(ScmpArch::Mipsel64),
            Arch::Mipsel64N32 => Some(ScmpArch::Mipsel64N32),
            Arch::Ppc => Some(ScmpArch::Ppc),
            Arch::Ppc64 => Some(ScmpArch::Ppc64),
            Arch::Ppc64Le => Some(ScmpArch::Ppc64Le),
            Arch::S390 => Some(ScmpArch::S390),
            Arch::S390X => Some(ScmpArch::S390X),
            Arch::Parisc => Some(ScmpArch::Parisc),
            Arch::Parisc64 => Some(ScmpArch::Parisc64),
            Arch::Riscv64 => Some(ScmpArch::Riscv64),
            Arch::Loongarch64 | Arch::M68k | Arch::Sh | Arch::Sheb => None,
        }
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::rule::deserialize_named(deserializer, "architecture", &Arch::ALL, Arch::scmp_name)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_docker_architecture_name_parses_and_round_trips() {
        for arch in Arch::ALL {
            let json = format!("\"{}\"", arch.scmp_name());
            let parsed: Arch = serde_json::from_str(&json).unwrap();
            assert_eq!(parsed, arch);
            assert_eq!(serde_json::to_string(&arch).unwrap(), json);
        }
    }

    #[test]
    fn unknown_architecture_is_named_with_the_accepted_ones() {
        let err = serde_json::from_str::<Arch>("\"SCMP_ARCH_VAX\"").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("SCMP_ARCH_VAX"), "{text}");
        assert!(text.contains("SCMP_ARCH_RISCV64"), "{text}");
    }

    #[test]
    fn libseccomp_2_5_lacks_only_the_newer_architectures() {
        let missing: Vec<Arch> = Arch::ALL
            .into_iter()
            .filter(|a| a.to_libseccomp().is_none())
            .collect();
        assert_eq!(
            missing,
            [Arch::Loongarch64, Arch::M68k, Arch::Sh, Arch::Sheb]
        );
    }

    #[test]
    fn sub_architectures_are_docker_s() {
        assert_eq!(Arch::X86_64.sub_architectures(), [Arch::X86, Arch::X32]);
        assert_eq!(Arch::S390X.sub_architectures(), [Arch::S390]);
        assert_eq!(Arch::Riscv64.sub_architectures(), []);
    }
}
