//! Arguments: which syscalls carry their privilege in an argument, which
//! argument, and how a learned value becomes a rule.
//!
//! [`CAPTURED`] is the one table of it: the kernel side captures exactly
//! these (the loader turns the names into numbers per syscall table), the
//! recording turns their values into argument conditions, and every report names the values with [`symbols`].
//! Syscalls outside the table cost nothing more than their count.

pub(crate) mod allowance;
mod learning;
mod per_syscall;
pub(crate) mod rules;
pub(crate) mod symbols;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::profile::{Arch, ArgCondition, CompareOp};

pub(crate) use symbols::Symbols;

/// How a captured argument's values become conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Each value names one thing (a family, a request, an option): one
    /// equality per learned value.
    Enumeration,
    /// A word of flags where only `privileged` bits carry privilege: a
    /// masked equality on those bits, exactly the combinations used.
    Flags { privileged: u64 },
}

/// Where the kernel side reads a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The syscall's argument registers.
    Registers,
    /// `clone3`'s `struct clone_args.flags`, read from the caller's memory:
    /// for the report only, since a seccomp filter cannot read memory.
    Clone3Flags,
}

/// One captured argument of a syscall.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CapturedArg {
    /// Its index among the syscall's arguments (0..6), as seccomp numbers
    /// them; for [`Source::Clone3Flags`], the field read instead.
    pub index: u8,
    pub name: &'static str,
    /// What of the value is kept (`value & mask`).
    pub mask: u64,
    pub shape: Shape,
    pub symbols: Symbols,
}

/// One syscall whose arguments are captured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Captured {
    pub syscall: &'static str,
    pub source: Source,
    pub args: &'static [CapturedArg],
    /// Why the argument matters, in a line: the table's own documentation,
    /// which nothing prints.
    #[expect(dead_code, reason = "documents each entry of the table")]
    pub why: &'static str,
}

const ALL: u64 = u64::MAX;
/// The namespace bits of `clone`'s flags (Docker's mask, 0x7E020000):
/// CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
pub(crate) const CLONE_NAMESPACES: u64 = 0x7E02_0000;
/// The same, with CLONE_NEWTIME (0x80), which `clone` cannot take (its low
/// byte is the exit signal) but `clone3` and `unshare` can.
pub(crate) const NAMESPACES_WITH_TIME: u64 = CLONE_NAMESPACES | 0x80;
/// `PROT_EXEC`.
pub(crate) const PROT_EXEC: u64 = 0x4;
/// `SOCK_NONBLOCK | SOCK_CLOEXEC`: how a socket is opened, not what it is.
const SOCK_OPEN_FLAGS: u64 = 0x800 | 0x80000;

const fn arg(index: u8, name: &'static str, shape: Shape, symbols: Symbols) -> CapturedArg {
    CapturedArg {
        index,
        name,
        mask: ALL,
        shape,
        symbols,
    }
}

const ENUM: Shape = Shape::Enumeration;
const SOCKET_ARGS: &[CapturedArg] = &[
    arg(0, "family", ENUM, Symbols::Family),
    CapturedArg {
        mask: 0xffff_ffff & !SOCK_OPEN_FLAGS,
        ..arg(1, "type", ENUM, Symbols::SocketType)
    },
    arg(2, "protocol", ENUM, Symbols::Protocol),
];
const SOCKOPT_ARGS: &[CapturedArg] = &[
    arg(1, "level", ENUM, Symbols::SockoptLevel),
    arg(2, "optname", ENUM, Symbols::Sockopt),
];
const PROT_ARG: &[CapturedArg] = &[CapturedArg {
    mask: PROT_EXEC,
    ..arg(
        2,
        "prot",
        Shape::Flags {
            privileged: PROT_EXEC,
        },
        Symbols::Prot,
    )
}];
const FCNTL_ARGS: &[CapturedArg] = &[arg(1, "cmd", ENUM, Symbols::Fcntl)];

const fn regs(syscall: &'static str, args: &'static [CapturedArg], why: &'static str) -> Captured {
    Captured {
        syscall,
        source: Source::Registers,
        args,
        why,
    }
}

/// The syscalls whose privilege-bearing arguments are captured. A name the
/// syscall table of an architecture lacks is skipped there (`fcntl64` and
/// `mmap2` exist on i386 only, `arch_prctl` on x86 only).
pub(crate) const CAPTURED: &[Captured] = &[
    regs(
        "clone",
        &[arg(
            0,
            "flags",
            Shape::Flags {
                privileged: CLONE_NAMESPACES,
            },
            Symbols::CloneFlags,
        )],
        "its CLONE_NEW* flags make namespaces: a new user namespace gives every capability in it",
    ),
    Captured {
        syscall: "clone3",
        source: Source::Clone3Flags,
        args: &[arg(
            0,
            "flags",
            Shape::Flags {
                privileged: NAMESPACES_WITH_TIME,
            },
            Symbols::CloneFlags,
        )],
        why: "as clone, but the flags are in memory, where no seccomp filter can check them",
    },
    regs(
        "unshare",
        &[arg(
            0,
            "flags",
            Shape::Flags {
                privileged: NAMESPACES_WITH_TIME,
            },
            Symbols::CloneFlags,
        )],
        "moves the caller into new namespaces, as clone's CLONE_NEW* flags do",
    ),
    regs(
        "setns",
        &[arg(1, "nstype", ENUM, Symbols::CloneFlags)],
        "joins another namespace (0 joins whatever kind the descriptor is)",
    ),
    regs(
        "socket",
        SOCKET_ARGS,
        "the family decides which protocol code of the kernel is reachable (AF_VSOCK, AF_NETLINK, AF_PACKET…)",
    ),
    regs(
        "socketpair",
        SOCKET_ARGS,
        "as socket: the family reaches a protocol's code",
    ),
    regs(
        "personality",
        &[arg(0, "persona", ENUM, Symbols::Personality)],
        "READ_IMPLIES_EXEC and ADDR_NO_RANDOMIZE undo memory protections",
    ),
    regs(
        "ioctl",
        &[arg(1, "request", ENUM, Symbols::Ioctl)],
        "each request is its own operation of a driver (TIOCSTI types into a terminal)",
    ),
    regs(
        "prctl",
        &[arg(0, "option", ENUM, Symbols::Prctl)],
        "each option is its own operation, from naming a thread to dropping capabilities",
    ),
    regs(
        "fcntl",
        FCNTL_ARGS,
        "leases, notifications and pipe sizes are commands of their own",
    ),
    regs("fcntl64", FCNTL_ARGS, "fcntl of 32-bit programs"),
    regs(
        "setsockopt",
        SOCKOPT_ARGS,
        "options reach protocol code of their own (and some need CAP_NET_ADMIN)",
    ),
    regs(
        "getsockopt",
        SOCKOPT_ARGS,
        "as setsockopt: each level and option is its own code path",
    ),
    regs(
        "keyctl",
        &[arg(0, "operation", ENUM, Symbols::Keyctl)],
        "the kernel keyring is not namespaced: each operation reaches it",
    ),
    regs(
        "bpf",
        &[arg(0, "cmd", ENUM, Symbols::Bpf)],
        "loading programs and maps is a different power from reading one",
    ),
    regs(
        "ptrace",
        &[arg(0, "request", ENUM, Symbols::Ptrace)],
        "from PTRACE_TRACEME to writing another process's memory",
    ),
    regs(
        "arch_prctl",
        &[arg(0, "code", ENUM, Symbols::ArchPrctl)],
        "setting FS/GS is every thread's start; CPUID faulting and shadow stacks are not",
    ),
    regs(
        "mmap",
        PROT_ARG,
        "PROT_EXEC maps code: a program that never asks for it never needs it",
    ),
    regs("mmap2", PROT_ARG, "mmap of 32-bit programs"),
    regs(
        "mprotect",
        PROT_ARG,
        "PROT_EXEC makes memory executable after the fact",
    ),
    regs(
        "pkey_mprotect",
        PROT_ARG,
        "as mprotect, with a protection key",
    ),
];

/// The table entry of `syscall`, if its arguments are captured.
pub(crate) fn captured(syscall: &str) -> Option<&'static Captured> {
    CAPTURED.iter().find(|c| c.syscall == syscall)
}

impl Captured {
    /// The kernel side's instructions for this syscall: which arguments to
    /// keep, from where, and what of each.
    pub(crate) fn kernel_spec(&self) -> profiler_common::CaptureSpec {
        use profiler_common::{CAPTURED_ARGS, CaptureSpec, NO_ARG};
        let mut spec = CaptureSpec {
            args: [NO_ARG; CAPTURED_ARGS],
            source: match self.source {
                Source::Registers => profiler_common::SOURCE_REGISTERS,
                Source::Clone3Flags => profiler_common::SOURCE_CLONE3_FLAGS,
            },
            ..CaptureSpec::default()
        };
        for (slot, arg) in self.args.iter().take(CAPTURED_ARGS).enumerate() {
            spec.args[slot] = arg.index;
            spec.masks[slot] = arg.mask;
        }
        spec
    }

    /// One tuple of this syscall's captured values, by name:
    /// `AF_INET, SOCK_STREAM, default protocol`.
    pub(crate) fn describe(&self, values: &[u64]) -> String {
        allowance::arg_values(self, values)
            .into_iter()
            .map(|a| a.symbol)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The captured argument at seccomp index `index`, if any.
    pub(crate) fn arg_at(&self, index: u8) -> Option<&'static CapturedArg> {
        self.args.iter().find(|a| a.index == index)
    }
}

impl CapturedArg {
    /// The condition that lets `value` of this argument through, the way
    /// libseccomp reads it: an equality for an enumerated value, a masked
    /// equality on the privileged bits of a flag word (and on the kept bits
    /// of a value kept in part, a socket's type).
    pub(crate) fn condition(&self, value: u64) -> ArgCondition {
        let index = u32::from(self.index);
        let masked = |mask: u64| ArgCondition {
            index,
            value: mask,
            value_two: value & mask,
            op: CompareOp::MaskedEqual,
        };
        match self.shape {
            Shape::Flags { privileged } => masked(privileged & self.mask),
            Shape::Enumeration if self.mask != u64::MAX => masked(self.mask),
            Shape::Enumeration => ArgCondition {
                index,
                value,
                value_two: 0,
                op: CompareOp::Equal,
            },
        }
    }

    /// The bits of the argument a condition from [`CapturedArg::condition`]
    /// looks at.
    pub(crate) fn constrained_bits(&self) -> u64 {
        match self.shape {
            Shape::Flags { privileged } => privileged & self.mask,
            Shape::Enumeration => self.mask,
        }
    }
}

/// A value of argument `index` of `syscall` by name where the table names
/// it (`AF_VSOCK`), else in hex.
pub(crate) fn describe_arg(syscall: &str, index: u8, value: u64) -> String {
    match captured(syscall).and_then(|c| c.arg_at(index)) {
        Some(arg) => arg.symbols.describe(value, None),
        None => format!("{value:#x}"),
    }
}

/// The calls of one captured syscall, split by their captured values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CapturedCalls {
    /// Per tuple of captured values (in the table's order, masked), the
    /// calls that passed it. Exact.
    pub values: BTreeMap<Vec<u64>, u64>,
    /// Calls whose values the kernel found no room to keep (exact too): when
    /// not zero, the values above are not all there were.
    pub lost: u64,
}

impl CapturedCalls {
    /// Whether every call's values are known.
    pub(crate) fn complete(&self) -> bool {
        self.lost == 0
    }
}

/// Captured values per syscall, by table and number.
pub(crate) type ArgObservations = BTreeMap<(Arch, u64), CapturedCalls>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_real_syscalls_and_arguments() {
        for captured in CAPTURED {
            assert!(
                [Arch::X86_64, Arch::X86]
                    .iter()
                    .any(
                        |arch| crate::profile::table::number_of(*arch, captured.syscall).is_some()
                    ),
                "{} is no syscall",
                captured.syscall
            );
            assert!(
                !captured.args.is_empty() && captured.args.len() <= profiler_common::CAPTURED_ARGS
            );
            assert!(captured.args.iter().all(|a| a.index < 6));
        }
        assert!(CAPTURED.len() * 2 <= profiler_common::CAPTURE_SPECS);
    }

    #[test]
    fn a_protocol_is_named_for_its_family_not_the_type_before_it() {
        let socket = captured("socket").unwrap();
        assert_eq!(
            socket.describe(&[2, 1, 6]),
            "AF_INET, SOCK_STREAM, IPPROTO_TCP"
        );
        assert_eq!(
            socket.describe(&[16, 3, 9]),
            "AF_NETLINK, SOCK_RAW, NETLINK_AUDIT"
        );
    }
}
