//! Syscall numbers and names, per architecture.
//!
//! The numbers come from the `syscalls` crate, generated from the kernel's own
//! syscall tables; the names are the kernel's, which are the names libseccomp
//! (and so runc, crun and Docker) resolve. A test checks every number of the
//! host's tables against the libseccomp installed here.

use super::Arch;

/// The name of syscall `nr` in `arch`'s table, or `None` where the table has
/// no syscall of that number.
pub(crate) fn name_of(arch: Arch, nr: u64) -> Option<&'static str> {
    let nr = usize::try_from(nr).ok()?;
    let name = match arch {
        Arch::X86_64 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
        Arch::X86 => syscalls::x86::Sysno::new(nr).map(|s| s.name()),
        Arch::Aarch64 => syscalls::aarch64::Sysno::new(nr).map(|s| s.name()),
        Arch::Arm => syscalls::arm::Sysno::new(nr).map(|s| s.name()),
        // x32 shares x86_64's numbers with bit 30 set; the kernel side counts
        // those as out of range, so no table lookup is ever asked for.
        _ => None,
    }?;
    Some(unraw(name))
}

/// The table spells syscalls named like Rust keywords as raw identifiers
/// (i386's `break` is `r#break`); the kernel and libseccomp do not.
fn unraw(name: &'static str) -> &'static str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// The number of `name` in `arch`'s table.
pub fn number_of(arch: Arch, name: &str) -> Option<u64> {
    number_of_exact(arch, name).or_else(|| number_of_exact(arch, &format!("r#{name}")))
}

fn number_of_exact(arch: Arch, name: &str) -> Option<u64> {
    let id = match arch {
        Arch::X86_64 => name.parse::<syscalls::x86_64::Sysno>().ok()?.id(),
        Arch::X86 => name.parse::<syscalls::x86::Sysno>().ok()?.id(),
        Arch::Aarch64 => name.parse::<syscalls::aarch64::Sysno>().ok()?.id(),
        Arch::Arm => name.parse::<syscalls::arm::Sysno>().ok()?.id(),
        _ => return None,
    };
    u64::try_from(id).ok()
}

/// Every `(number, name)` of `arch`'s table.
pub fn all(arch: Arch) -> Vec<(u64, &'static str)> {
    fn collect<S: Copy>(
        iter: impl Iterator<Item = S>,
        id: impl Fn(S) -> i32,
        name: impl Fn(S) -> &'static str,
    ) -> Vec<(u64, &'static str)> {
        iter.filter_map(|s| Some((u64::try_from(id(s)).ok()?, unraw(name(s)))))
            .collect()
    }
    match arch {
        Arch::X86_64 => collect(syscalls::x86_64::Sysno::iter(), |s| s.id(), |s| s.name()),
        Arch::X86 => collect(syscalls::x86::Sysno::iter(), |s| s.id(), |s| s.name()),
        Arch::Aarch64 => collect(syscalls::aarch64::Sysno::iter(), |s| s.id(), |s| s.name()),
        Arch::Arm => collect(syscalls::arm::Sysno::iter(), |s| s.id(), |s| s.name()),
        _ => Vec::new(),
    }
}

/// Whether this tool has a syscall table for `arch`.
pub(crate) fn has_table(arch: Arch) -> bool {
    matches!(
        arch,
        Arch::X86_64 | Arch::X86 | Arch::X32 | Arch::Aarch64 | Arch::Arm
    )
}

/// Whether `name` is a syscall of `arch`, or `None` where this tool has no
/// table for `arch`. x32 is answered from x86_64's table: the x32 ABI has
/// x86_64's syscalls under the same names (with bit 30 set in the number),
/// its own variants of a few of them included.
pub(crate) fn knows(arch: Arch, name: &str) -> Option<bool> {
    let table = match arch {
        Arch::X32 => Arch::X86_64,
        other => other,
    };
    has_table(arch).then(|| number_of(table, name).is_some())
}

/// Whether the libseccomp linked here resolves `name` on `arch`: runc and
/// crun skip a name their libseccomp does not know, so a profile holding one
/// does not allow it there.
pub(crate) fn libseccomp_knows(arch: Arch, name: &str) -> bool {
    arch.to_libseccomp()
        .is_some_and(|arch| libseccomp::ScmpSyscall::from_name_by_arch(name, arch).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers_have_the_kernel_names() {
        assert_eq!(name_of(Arch::X86_64, 110), Some("getppid"));
        assert_eq!(name_of(Arch::X86_64, 0), Some("read"));
        assert_eq!(name_of(Arch::X86, 64), Some("getppid"));
        assert_eq!(name_of(Arch::X86_64, 1000), None);
        assert_eq!(number_of(Arch::X86_64, "newfstatat"), Some(262));
        assert_eq!(name_of(Arch::X86, 17), Some("break"));
        assert_eq!(number_of(Arch::X86, "break"), Some(17));
    }

    /// Every name the table gives for a number must be the name libseccomp
    /// resolves that number to, where libseccomp knows the number at all
    /// (the libseccomp of a Debian 12 host is older than the kernel).
    #[test]
    fn table_agrees_with_libseccomp() {
        let mut unknown_to_libseccomp = Vec::new();
        for arch in [Arch::X86_64, Arch::X86] {
            for (nr, name) in all(arch) {
                let resolved = libseccomp::ScmpSyscall::from(nr as i32)
                    .get_name_by_arch(arch.to_libseccomp().unwrap());
                match resolved {
                    Ok(resolved) => assert_eq!(resolved, name, "{arch} syscall {nr}"),
                    Err(_) => unknown_to_libseccomp.push((arch, nr, name)),
                }
            }
        }
        // Only syscalls newer than the libseccomp here may be missing from
        // it: Debian 12's 2.5.4 (with backports) knows those up to Linux 6.7.
        const NEWER_THAN_LIBSECCOMP: &[&str] = &[
            "uprobe",
            "uretprobe",
            "statmount",
            "listmount",
            "lsm_get_self_attr",
            "lsm_set_self_attr",
            "lsm_list_modules",
            "mseal",
            "setxattrat",
            "getxattrat",
            "listxattrat",
            "removexattrat",
            "open_tree_attr",
            "file_getattr",
            "file_setattr",
        ];
        for (arch, nr, name) in unknown_to_libseccomp {
            assert!(
                NEWER_THAN_LIBSECCOMP.contains(&name),
                "libseccomp does not know {arch} {nr} {name}"
            );
        }
    }
}
