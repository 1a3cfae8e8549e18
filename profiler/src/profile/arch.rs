//! Architectures, in the vocabulary of libseccomp and Docker profiles.

use std::fmt;

use libseccomp::ScmpArch;
use profiler_common::Abi;

vocabulary! {
    /// A seccomp architecture, named as Docker profiles name it (`SCMP_ARCH_*`).
    ///
    /// Every architecture the OCI runtime spec and Docker's profiles name is
    /// here, so that any profile parses; this tool has syscall tables for only
    /// some of them (see [`super::table`]), and the libseccomp of a Debian 12
    /// host (2.5.4) knows all but LoongArch, m68k and SuperH.
    ///
    /// The order of the rows is the order reports list tables in: the
    /// native x86_64 table before its 32-bit companions.
    pub enum Arch: ArchInfo, "architecture" {
        X86_64 => ArchInfo { name: "SCMP_ARCH_X86_64", short: "x86_64", go: Some("amd64"), libseccomp: Some(ScmpArch::X8664), subs: &[Arch::X86, Arch::X32] },
        X86 => ArchInfo { name: "SCMP_ARCH_X86", short: "i386", go: Some("386"), libseccomp: Some(ScmpArch::X86), subs: &[] },
        X32 => ArchInfo { name: "SCMP_ARCH_X32", short: "x32", go: None, libseccomp: Some(ScmpArch::X32), subs: &[] },
        Aarch64 => ArchInfo { name: "SCMP_ARCH_AARCH64", short: "aarch64", go: Some("arm64"), libseccomp: Some(ScmpArch::Aarch64), subs: &[Arch::Arm] },
        Arm => ArchInfo { name: "SCMP_ARCH_ARM", short: "arm", go: Some("arm"), libseccomp: Some(ScmpArch::Arm), subs: &[] },
        Mips => ArchInfo { name: "SCMP_ARCH_MIPS", short: "mips", go: Some("mips"), libseccomp: Some(ScmpArch::Mips), subs: &[] },
        Mips64 => ArchInfo { name: "SCMP_ARCH_MIPS64", short: "mips64", go: Some("mips64"), libseccomp: Some(ScmpArch::Mips64), subs: &[Arch::Mips, Arch::Mips64N32] },
        Mips64N32 => ArchInfo { name: "SCMP_ARCH_MIPS64N32", short: "mips64n32", go: None, libseccomp: Some(ScmpArch::Mips64N32), subs: &[Arch::Mips, Arch::Mips64] },
        Mipsel => ArchInfo { name: "SCMP_ARCH_MIPSEL", short: "mipsel", go: Some("mipsle"), libseccomp: Some(ScmpArch::Mipsel), subs: &[] },
        Mipsel64 => ArchInfo { name: "SCMP_ARCH_MIPSEL64", short: "mipsel64", go: Some("mips64le"), libseccomp: Some(ScmpArch::Mipsel64), subs: &[Arch::Mipsel, Arch::Mipsel64N32] },
        Mipsel64N32 => ArchInfo { name: "SCMP_ARCH_MIPSEL64N32", short: "mipsel64n32", go: None, libseccomp: Some(ScmpArch::Mipsel64N32), subs: &[Arch::Mipsel, Arch::Mipsel64] },
        Ppc => ArchInfo { name: "SCMP_ARCH_PPC", short: "ppc", go: None, libseccomp: Some(ScmpArch::Ppc), subs: &[] },
        Ppc64 => ArchInfo { name: "SCMP_ARCH_PPC64", short: "ppc64", go: Some("ppc64"), libseccomp: Some(ScmpArch::Ppc64), subs: &[] },
        Ppc64Le => ArchInfo { name: "SCMP_ARCH_PPC64LE", short: "ppc64le", go: Some("ppc64le"), libseccomp: Some(ScmpArch::Ppc64Le), subs: &[] },
        S390 => ArchInfo { name: "SCMP_ARCH_S390", short: "s390", go: None, libseccomp: Some(ScmpArch::S390), subs: &[] },
        S390X => ArchInfo { name: "SCMP_ARCH_S390X", short: "s390x", go: Some("s390x"), libseccomp: Some(ScmpArch::S390X), subs: &[Arch::S390] },
        Parisc => ArchInfo { name: "SCMP_ARCH_PARISC", short: "parisc", go: None, libseccomp: Some(ScmpArch::Parisc), subs: &[] },
        Parisc64 => ArchInfo { name: "SCMP_ARCH_PARISC64", short: "parisc64", go: None, libseccomp: Some(ScmpArch::Parisc64), subs: &[] },
        Riscv64 => ArchInfo { name: "SCMP_ARCH_RISCV64", short: "riscv64", go: Some("riscv64"), libseccomp: Some(ScmpArch::Riscv64), subs: &[] },
        Loongarch64 => ArchInfo { name: "SCMP_ARCH_LOONGARCH64", short: "loongarch64", go: Some("loong64"), libseccomp: None, subs: &[] },
        M68k => ArchInfo { name: "SCMP_ARCH_M68K", short: "m68k", go: None, libseccomp: None, subs: &[] },
        Sh => ArchInfo { name: "SCMP_ARCH_SH", short: "sh", go: None, libseccomp: None, subs: &[] },
        Sheb => ArchInfo { name: "SCMP_ARCH_SHEB", short: "sheb", go: None, libseccomp: None, subs: &[] },
    }
}

/// What the table knows of an architecture.
#[derive(Debug)]
pub struct ArchInfo {
    /// Docker's name, e.g. `SCMP_ARCH_X86_64`.
    pub name: &'static str,
    /// The kernel's short name, e.g. `x86_64`, `i386`.
    pub short: &'static str,
    /// The name Docker compares a rule's `includes.arches` and
    /// `excludes.arches` with when this is the daemon's native architecture:
    /// Go's `runtime.GOARCH`; none for architectures Go has no port to (a
    /// daemon never runs natively on them).
    pub go: Option<&'static str>,
    /// The libseccomp architecture, or none for one that the libseccomp of
    /// a Debian 12 host (2.5.4) does not know: LoongArch, m68k and SuperH
    /// came with 2.6, so a runtime linked with 2.5.4 cannot filter them.
    pub libseccomp: Option<ScmpArch>,
    /// The architectures a kernel of this one also runs tasks of, listed
    /// the way Docker's default profile lists them in its `archMap`.
    pub subs: &'static [Arch],
}

impl Arch {
    /// The architecture of the running kernel, or `None` on one this tool
    /// does not know the syscall tables of.
    pub(crate) fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The architecture of a syscall as the kernel's audit records give it
    /// (`arch=c000003e syscall=309`), and its number in that table: an x32
    /// call is an x86_64 token with the x32 bit set in the number. `None`
    /// for an architecture this tool has no syscall table of.
    pub(crate) fn from_audit(token: u32, nr: u64) -> Option<(Arch, u64)> {
        use libseccomp_sys::{SCMP_ARCH_AARCH64, SCMP_ARCH_ARM, SCMP_ARCH_X86, SCMP_ARCH_X86_64};
        const X32_SYSCALL_BIT: u64 = 0x4000_0000;
        match token {
            SCMP_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => {
                Some((Arch::X32, nr & !X32_SYSCALL_BIT))
            }
            SCMP_ARCH_X86_64 => Some((Arch::X86_64, nr)),
            SCMP_ARCH_X86 => Some((Arch::X86, nr)),
            SCMP_ARCH_AARCH64 => Some((Arch::Aarch64, nr)),
            SCMP_ARCH_ARM => Some((Arch::Arm, nr)),
            _ => None,
        }
    }

    /// See [`ArchInfo::subs`].
    pub(crate) fn sub_architectures(self) -> &'static [Arch] {
        self.info().subs
    }

    /// The syscall table the kernel side counted into slot `abi` on a host
    /// of this architecture.
    pub(crate) fn of_abi(self, abi: Abi) -> Option<Arch> {
        match (self, abi) {
            (host, Abi::Native) => Some(host),
            (Arch::X86_64, Abi::Compat) => Some(Arch::X86),
            (Arch::Aarch64, Abi::Compat) => Some(Arch::Arm),
            _ => None,
        }
    }

    /// See [`ArchInfo::short`].
    pub(crate) fn short_name(self) -> &'static str {
        self.info().short
    }

    /// See [`ArchInfo::go`].
    pub(crate) fn go_arch(self) -> Option<&'static str> {
        self.info().go
    }

    /// See [`ArchInfo::libseccomp`].
    pub(crate) fn to_libseccomp(self) -> Option<ScmpArch> {
        self.info().libseccomp
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
        for &arch in Arch::ALL {
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
            .iter()
            .copied()
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
