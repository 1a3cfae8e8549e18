//! systemd: a unit drop-in whose `SystemCallFilter=` allows exactly the
//! profile's syscalls, and whose sandboxing directives keep what the
//! profile learned of their arguments. systemd has no argument conditions
//! in `SystemCallFilter=`, but some of its directives are such conditions:
//!
//! - `RestrictNamespaces=` checks the namespace flags of clone, unshare and
//!   setns, and answers clone3 with ENOSYS (its flags are in memory, where
//!   no filter reads them), as the ENOSYS rule `record` writes does;
//! - `RestrictAddressFamilies=` checks socket()'s family (not its type nor
//!   protocol, and not on the architectures that multiplex sockets through
//!   socketcall: x86, s390, MIPS o32, PowerPC);
//! - `LockPersonality=` allows personality() only with the service's own
//!   persona (PER_LINUX), and refuses even the 0xffffffff query;
//! - `MemoryDenyWriteExecute=` refuses mmap() with PROT_WRITE|PROT_EXEC,
//!   mprotect() and pkey_mprotect() with PROT_EXEC, shmat() with SHM_EXEC.
//!
//! (systemd 252, Debian 12's, checked by running a unit under each in
//! systemd-nspawn: `tests/export.rs`.) A rule whose conditions none of them
//! keeps is widened to its bare name where the engine default allows that
//! syscall whatever its arguments (no looser than it: said, and written in
//! the drop-in); otherwise refused, or widened on request and said so. A
//! condition on a syscall of systemd's `@default` set, which systemd allows
//! whatever the filter, is said in a note.

use std::collections::{BTreeMap, BTreeSet};

use super::{ExportError, Exported, Options, refuse_docker_filters, rule_names};
use crate::{
    arguments::{
        CLONE_NAMESPACES, NAMESPACES_WITH_TIME, PROT_EXEC, Symbols, captured, describe_arg,
    },
    profile::{Action, Arch, ArgCondition, CompareOp, EPERM, Profile, SyscallRule, errno},
};

const TARGET: &str = "systemd";

/// What clone3 is answered with under `RestrictNamespaces=`.
const ENOSYS: u32 = 38;

/// systemd's `@default` set, which it allows whatever `SystemCallFilter=`
/// says (`systemd-analyze syscall-filter @default` of systemd 252, Debian
/// 12; older versions have fewer of these names).
const SYSTEMD_DEFAULT_SET: &[&str] = &[
    "arch_prctl",
    "brk",
    "cacheflush",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "execve",
    "exit",
    "exit_group",
    "futex",
    "futex_time64",
    "futex_waitv",
    "get_robust_list",
    "get_thread_area",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getsid",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "membarrier",
    "mmap",
    "mmap2",
    "mprotect",
    "munmap",
    "nanosleep",
    "pause",
    "prlimit64",
    "restart_syscall",
    "riscv_flush_icache",
    "riscv_hwprobe",
    "rseq",
    "rt_sigreturn",
    "sched_getaffinity",
    "sched_yield",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "set_tls",
    "sigreturn",
    "time",
    "ugetrlimit",
    "uretprobe",
];

/// The namespaces `RestrictNamespaces=` names, in systemd's order, with
/// their CLONE_NEW* flags.
const NAMESPACES: &[(u64, &str)] = &[
    (0x0200_0000, "cgroup"),
    (0x0800_0000, "ipc"),
    (0x4000_0000, "net"),
    (0x0002_0000, "mnt"),
    (0x2000_0000, "pid"),
    (0x1000_0000, "user"),
    (0x0400_0000, "uts"),
    (0x80, "time"),
];

/// The syscalls `RestrictNamespaces=` looks at.
const NAMESPACE_SYSCALLS: &[&str] = &["clone", "clone3", "unshare", "setns"];

/// The syscalls whose PROT_EXEC `MemoryDenyWriteExecute=` looks at.
const PROT_SYSCALLS: &[&str] = &["mmap", "mmap2", "mprotect", "pkey_mprotect"];

/// `PER_LINUX`: the persona `LockPersonality=` keeps.
const PER_LINUX: u64 = 0;

fn unsupported(reason: String) -> ExportError {
    ExportError::Unsupported {
        target: TARGET,
        reason,
    }
}

/// systemd's name of an architecture (`SystemCallArchitectures=`).
fn systemd_arch(arch: Arch) -> Option<&'static str> {
    Some(match arch {
        Arch::X86_64 => "x86-64",
        Arch::X86 => "x86",
        Arch::X32 => "x32",
        Arch::Aarch64 => "arm64",
        Arch::Arm => "arm",
        Arch::Mips => "mips",
        Arch::Mipsel => "mips-le",
        Arch::Mips64 => "mips64",
        Arch::Mipsel64 => "mips64-le",
        Arch::Mips64N32 => "mips64-n32",
        Arch::Mipsel64N32 => "mips64-le-n32",
        Arch::Ppc => "ppc",
        Arch::Ppc64 => "ppc64",
        Arch::Ppc64Le => "ppc64-le",
        Arch::S390 => "s390",
        Arch::S390X => "s390x",
        Arch::Riscv64 => "riscv64",
        Arch::Parisc => "parisc",
        Arch::Parisc64 => "parisc64",
        Arch::Loongarch64 => "loongarch64",
        Arch::M68k => "m68k",
        Arch::Sh | Arch::Sheb => return None,
    })
}

/// Whether `RestrictAddressFamilies=` checks socket() of `arch`: systemd
/// skips the architectures that multiplex sockets through socketcall()
/// (an i386 call made socket(AF_NETLINK) under `RestrictAddressFamilies=
/// AF_UNIX`, x86 listed in `SystemCallArchitectures=`).
fn families_checked_on(arch: Arch) -> bool {
    !matches!(
        arch,
        Arch::X86
            | Arch::S390
            | Arch::S390X
            | Arch::Mips
            | Arch::Mipsel
            | Arch::Ppc
            | Arch::Ppc64
            | Arch::Ppc64Le
    )
}

/// The allow rules with argument conditions of one syscall, by the rule's
/// position in the profile.
type Conditional<'p> = Vec<(usize, &'p SyscallRule)>;

/// `rule N (NAME)`.
fn label(at: usize, name: &str) -> String {
    format!("rule {} ({name})", at + 1)
}

/// The labels of `rules` for `name`, joined.
fn labels(rules: &Conditional, name: &str) -> String {
    rules
        .iter()
        .map(|(at, _)| label(*at, name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The submasks of `bits`, 0 included.
fn submasks(bits: u64) -> impl Iterator<Item = u64> {
    let mut next = Some(bits);
    std::iter::from_fn(move || {
        let current = next?;
        next = (current != 0).then(|| (current - 1) & bits);
        Some(current)
    })
}

/// `net user`, or `none`.
fn namespace_names(bits: u64) -> String {
    let names: Vec<&str> = NAMESPACES
        .iter()
        .filter(|(flag, _)| bits & flag != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

/// The namespace flags a syscall's argument can carry: clone's low byte is
/// its exit signal, so it cannot ask for a time namespace.
fn namespace_bits(name: &str) -> u64 {
    if name == "clone" {
        CLONE_NAMESPACES
    } else {
        NAMESPACES_WITH_TIME
    }
}

/// Whether a condition looks at nothing but the namespace flags of
/// argument 0, as `record` writes them (a masked equality).
fn is_namespace_condition(condition: &ArgCondition) -> bool {
    condition.index == 0
        && condition.op == CompareOp::MaskedEqual
        && condition.value & !NAMESPACES_WITH_TIME == 0
        && condition.value_two & !condition.value == 0
}

/// What the profile lets one namespace syscall do.
enum NamespaceUse {
    /// Not allowed at all (or answered with ENOSYS: clone3).
    None,
    /// Allowed with these combinations of namespace flags (`setns`: these
    /// namespace types, 0 for any).
    Combinations(BTreeSet<u64>),
    /// A condition `RestrictNamespaces=` cannot keep.
    Other(String),
}

/// What the profile's rules of a namespace syscall allow.
fn namespace_use(name: &str, unconditional: bool, rules: Option<&Conditional>) -> NamespaceUse {
    let bits = namespace_bits(name);
    if unconditional {
        return NamespaceUse::Combinations(if name == "setns" {
            BTreeSet::from([0])
        } else {
            submasks(bits).collect()
        });
    }
    let Some(rules) = rules else {
        return NamespaceUse::None;
    };
    if name == "clone3" {
        return NamespaceUse::Other(format!(
            "{}: clone3's flags are in memory, where neither its conditions nor systemd look",
            labels(rules, name)
        ));
    }
    if name == "setns" {
        let mut types = BTreeSet::new();
        for (at, rule) in rules {
            match rule.args.as_slice() {
                [c] if c.index == 1
                    && c.op == CompareOp::Equal
                    && c.value & !NAMESPACES_WITH_TIME == 0 =>
                {
                    types.insert(c.value);
                }
                _ => {
                    return NamespaceUse::Other(format!(
                        "{}: RestrictNamespaces= checks setns() by its namespace type alone",
                        label(*at, name)
                    ));
                }
            }
        }
        return NamespaceUse::Combinations(types);
    }
    if let Some((at, _)) = rules
        .iter()
        .find(|(_, rule)| !rule.args.iter().all(is_namespace_condition))
    {
        return NamespaceUse::Other(format!(
            "{}: RestrictNamespaces= checks only its namespace flags",
            label(*at, name)
        ));
    }
    NamespaceUse::Combinations(
        submasks(bits)
            .filter(|flags| {
                rules
                    .iter()
                    .any(|(_, rule)| rule.args.iter().all(|c| c.holds_for(*flags)))
            })
            .collect(),
    )
}

/// The syscalls of the profile and its rules, as systemd's directives see
/// them.
struct Learned<'p> {
    /// Allowed whatever their arguments.
    unconditional: BTreeSet<&'p str>,
    /// Allowed under argument conditions only.
    conditional: BTreeMap<&'p str, Conditional<'p>>,
    /// The rule answering clone3 with ENOSYS, if any.
    clone3_enosys: Option<usize>,
}

impl Learned<'_> {
    fn allows(&self, name: &str) -> bool {
        self.unconditional.contains(name) || self.conditional.contains_key(name)
    }

    /// The conditional rules of `name`, if it has no unconditional one.
    fn only_conditional(&self, name: &str) -> Option<&Conditional<'_>> {
        if self.unconditional.contains(name) {
            None
        } else {
            self.conditional.get(name)
        }
    }
}

/// What the translation wrote and what it could not keep.
#[derive(Default)]
struct Translation {
    /// Directives, each with the comment that says where it comes from.
    directives: Vec<(String, String)>,
    /// Comments on directives left out, and why.
    comments: Vec<String>,
    /// Rules whose conditions no directive keeps, by syscall: `rule N
    /// (NAME): why`.
    unkept: BTreeMap<String, String>,
    /// Rules kept in part, and what systemd does not check of them.
    in_part: Vec<String>,
    /// Syscalls that must be in `SystemCallFilter=` although the profile
    /// denies them, so that a directive answers them (clone3).
    also_allowed: Vec<&'static str>,
    /// Rules whose names got conditions that the directives handle.
    handled: BTreeSet<String>,
}

impl Translation {
    fn unkeep(&mut self, name: &str, why: String) {
        self.unkept.entry(name.to_owned()).or_insert(why);
    }
}

/// `RestrictNamespaces=` from clone, clone3, unshare and setns.
fn namespaces(learned: &Learned, out: &mut Translation) {
    let uses: Vec<(&str, NamespaceUse)> = NAMESPACE_SYSCALLS
        .iter()
        .map(|name| {
            let unconditional = learned.unconditional.contains(name);
            let rules = learned.only_conditional(name);
            (*name, namespace_use(name, unconditional, rules))
        })
        .collect();
    let has_conditions = learned.clone3_enosys.is_some()
        || NAMESPACE_SYSCALLS
            .iter()
            .any(|n| learned.only_conditional(n).is_some());
    let mut allowed = 0;
    for (name, used) in &uses {
        match used {
            NamespaceUse::None => {}
            NamespaceUse::Combinations(combinations) if *name == "setns" => {
                for types in combinations {
                    // setns(fd, 0) joins whatever the descriptor is: systemd
                    // refuses it as soon as one namespace is restricted.
                    allowed |= if *types == 0 {
                        NAMESPACES_WITH_TIME
                    } else {
                        *types
                    };
                }
            }
            NamespaceUse::Combinations(combinations) => {
                allowed |= combinations.iter().fold(0, |all, c| all | c);
            }
            NamespaceUse::Other(why) => {
                out.unkeep(name, why.clone());
                allowed = NAMESPACES_WITH_TIME;
            }
        }
    }
    let restricts = allowed & NAMESPACES_WITH_TIME != NAMESPACES_WITH_TIME;
    // Where systemd would allow more than the profile's rules of a syscall.
    for (name, used) in &uses {
        let Some(rules) = learned.only_conditional(name) else {
            continue;
        };
        let NamespaceUse::Combinations(combinations) = used else {
            continue;
        };
        let beyond: Vec<u64> = if *name == "setns" && combinations.contains(&0) {
            Vec::new()
        } else if *name == "setns" {
            NAMESPACES
                .iter()
                .map(|(flag, _)| *flag)
                .filter(|flag| allowed & flag != 0 && !combinations.contains(flag))
                .collect()
        } else if restricts {
            submasks(allowed & namespace_bits(name))
                .filter(|flags| !combinations.contains(flags))
                .collect()
        } else {
            submasks(namespace_bits(name))
                .filter(|flags| !combinations.contains(flags))
                .take(1)
                .collect()
        };
        if beyond.is_empty() {
            out.handled.insert((*name).to_owned());
        } else {
            let what = if restricts {
                format!(
                    "RestrictNamespaces={} lets it make {}, which the profile refuses it",
                    namespace_names(allowed),
                    beyond
                        .iter()
                        .map(|b| Symbols::CloneFlags.describe(*b, None))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            } else {
                "the profile allows every namespace elsewhere, so systemd cannot restrict any"
                    .to_owned()
            };
            out.unkeep(name, format!("{}: {what}", labels(rules, name)));
        }
    }
    if let Some(at) = learned.clone3_enosys {
        if restricts {
            out.handled.insert("clone3".into());
            out.also_allowed.push("clone3");
        } else {
            out.unkeep(
                "clone3",
                format!(
                    "{}: systemd answers clone3 with ENOSYS only under RestrictNamespaces=, and \
                     the profile allows every namespace",
                    label(at, "clone3")
                ),
            );
        }
    }
    if !restricts || !has_conditions && allowed != 0 {
        return;
    }
    if learned.unconditional.contains("clone3") {
        out.in_part.push(
            "clone3: systemd answers it with ENOSYS under RestrictNamespaces= (the libc then \
             falls back to clone, whose flags are checked)"
                .into(),
        );
    }
    let value = if allowed == 0 {
        "yes".to_owned()
    } else {
        namespace_names(allowed)
    };
    let sources: Vec<String> = NAMESPACE_SYSCALLS
        .iter()
        .filter_map(|name| {
            if learned.unconditional.contains(name) {
                Some(format!("{name} (any arguments)"))
            } else {
                learned
                    .only_conditional(name)
                    .map(|rules| labels(rules, name))
            }
        })
        .collect();
    let mut comment = if sources.is_empty() {
        "the profile allows none of clone, unshare, setns".to_owned()
    } else {
        format!("from {}", sources.join(", "))
    };
    if let Some(at) = learned.clone3_enosys {
        comment.push_str(&format!(
            "; {}, ENOSYS: systemd answers clone3 with ENOSYS under this directive, so that \
             the libc falls back to clone, whose flags it checks",
            label(at, "clone3")
        ));
    }
    out.directives
        .push((format!("RestrictNamespaces={value}"), comment));
}

/// `RestrictAddressFamilies=` from socket's family rules.
fn families(learned: &Learned, arches: &mut Vec<Arch>, host: Option<Arch>, out: &mut Translation) {
    if let Some(rules) = learned.conditional.get("socketpair")
        && !learned.unconditional.contains("socketpair")
    {
        out.unkeep(
            "socketpair",
            format!(
                "{}: RestrictAddressFamilies= does not look at socketpair()",
                labels(rules, "socketpair")
            ),
        );
    }
    if !learned.allows("socket") {
        out.directives.push((
            "RestrictAddressFamilies=none".into(),
            "the profile does not allow socket()".into(),
        ));
        return;
    }
    let Some(rules) = learned.only_conditional("socket") else {
        return;
    };
    let mut names = BTreeSet::new();
    let mut unchecked = Vec::new();
    for (at, rule) in rules {
        let family = match rule
            .args
            .iter()
            .filter(|c| c.index == 0)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [c] if c.op == CompareOp::Equal => Some(c.value),
            _ => None,
        };
        let name = family.map(|f| Symbols::Family.describe(f, None));
        let (Some(name), true) = (
            name.filter(|n| n.starts_with("AF_")),
            rule.args.iter().all(|c| c.index <= 2),
        ) else {
            out.unkeep(
                "socket",
                format!(
                    "{}: RestrictAddressFamilies= checks a family, and this rule checks no \
                     family by name",
                    label(*at, "socket")
                ),
            );
            return;
        };
        names.insert(name);
        let rest: Vec<String> = rule
            .args
            .iter()
            .filter(|c| c.index != 0)
            .map(|c| {
                let value = if c.op == CompareOp::MaskedEqual {
                    c.value_two
                } else {
                    c.value
                };
                describe_arg("socket", c.index as u8, value)
            })
            .collect();
        if !rest.is_empty() {
            unchecked.push(format!("rule {} (socket: {})", at + 1, rest.join(", ")));
        }
    }
    if let Some(host) = host
        && !families_checked_on(host)
    {
        out.unkeep(
            "socket",
            format!(
                "{}: systemd does not check socket families on {}",
                labels(rules, "socket"),
                host.short_name()
            ),
        );
        return;
    }
    let (checked, blind): (Vec<Arch>, Vec<Arch>) =
        arches.iter().partition(|a| families_checked_on(**a));
    if checked.is_empty() {
        out.unkeep(
            "socket",
            format!(
                "{}: systemd checks socket families on none of the profile's architectures",
                labels(rules, "socket")
            ),
        );
        return;
    }
    if !blind.is_empty() {
        *arches = checked;
        out.in_part.push(format!(
            "SystemCallArchitectures= leaves out {} (calls of it are refused), which the profile \
             lists: systemd does not check socket families there",
            blind
                .iter()
                .map(|a| a.short_name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !unchecked.is_empty() {
        out.in_part.push(format!(
            "RestrictAddressFamilies= keeps the families of socket(); systemd does not check \
             the type and protocol the profile also does: {}",
            unchecked.join(", ")
        ));
    }
    out.handled.insert("socket".into());
    let names: Vec<String> = names.into_iter().collect();
    out.directives.push((
        format!("RestrictAddressFamilies={}", names.join(" ")),
        format!(
            "from {}; a family outside it fails with EAFNOSUPPORT",
            labels(rules, "socket")
        ),
    ));
}

/// `LockPersonality=` where personality() is refused or kept to PER_LINUX.
fn personality(learned: &Learned, out: &mut Translation) {
    if learned.unconditional.contains("personality") {
        return;
    }
    let Some(rules) = learned.conditional.get("personality") else {
        out.directives.push((
            "LockPersonality=yes".into(),
            "the profile does not allow personality()".into(),
        ));
        return;
    };
    let other: Vec<String> = rules
        .iter()
        .flat_map(|(_, rule)| &rule.args)
        .filter(|c| !(c.index == 0 && c.op == CompareOp::Equal && c.value == PER_LINUX))
        .map(|c| describe_arg("personality", c.index as u8, c.value))
        .collect();
    if !other.is_empty() {
        out.unkeep(
            "personality",
            format!(
                "{}: LockPersonality= allows only PER_LINUX (systemd 252 refuses even the \
                 0xffffffff query), and the profile also allows {}",
                labels(rules, "personality"),
                other.join(", ")
            ),
        );
        return;
    }
    out.handled.insert("personality".into());
    out.directives.push((
        "LockPersonality=yes".into(),
        format!(
            "from {}: personality(PER_LINUX) only",
            labels(rules, "personality")
        ),
    ));
}

/// How the profile lets a syscall set PROT_EXEC.
#[derive(PartialEq)]
enum Exec {
    /// Not allowed at all.
    Refused,
    /// Only without PROT_EXEC (masked equalities on it, as `record` writes).
    Without,
    /// With PROT_EXEC, or under conditions this does not read.
    Allowed,
}

fn exec_of(learned: &Learned, name: &str) -> Exec {
    if learned.unconditional.contains(name) {
        return Exec::Allowed;
    }
    let Some(rules) = learned.conditional.get(name) else {
        return Exec::Refused;
    };
    let without = rules.iter().all(|(_, rule)| {
        matches!(rule.args.as_slice(), [c] if c.index == 2
            && c.op == CompareOp::MaskedEqual
            && c.value == PROT_EXEC
            && c.value_two == 0)
    });
    if without {
        Exec::Without
    } else {
        Exec::Allowed
    }
}

/// `MemoryDenyWriteExecute=` where the profile proves that no memory is
/// both writable and executable.
fn write_execute(learned: &Learned, out: &mut Translation) {
    let exec: Vec<(&str, Exec)> = PROT_SYSCALLS
        .iter()
        .map(|name| (*name, exec_of(learned, name)))
        .collect();
    let mut loopholes: Vec<String> = exec
        .iter()
        .filter(|(_, e)| *e == Exec::Allowed)
        .map(|(name, _)| format!("{name} is allowed with PROT_EXEC"))
        .collect();
    if learned.allows("shmat") {
        loopholes.push("shmat is allowed (its SHM_EXEC is not checked)".into());
    }
    if !loopholes.is_empty() {
        let restricted: Vec<&str> = exec
            .iter()
            .filter(|(_, e)| *e == Exec::Without)
            .map(|(name, _)| *name)
            .collect();
        out.comments.push(format!(
            "MemoryDenyWriteExecute= is not set: the profile does not prove that no memory is \
             both writable and executable ({}, and the profile does not look at PROT_WRITE), \
             and systemd would refuse such a mapping{}",
            loopholes.join(", "),
            if restricted.is_empty() {
                String::new()
            } else {
                format!(
                    "; so the rule of {} (no PROT_EXEC) is not kept",
                    restricted.join(", ")
                )
            }
        ));
        return;
    }
    let mut sources = Vec::new();
    for (name, e) in &exec {
        if *e == Exec::Without
            && let Some(rules) = learned.conditional.get(name)
        {
            sources.push(labels(rules, name));
            out.handled.insert((*name).to_owned());
            if name.starts_with("mmap") {
                out.in_part.push(format!(
                    "{}: MemoryDenyWriteExecute= refuses {name} with PROT_WRITE|PROT_EXEC; \
                     systemd allows it with PROT_EXEC alone, which the profile refuses \
                     ({name} is in systemd's @default set)",
                    labels(rules, name)
                ));
            }
        }
    }
    out.directives.push((
        "MemoryDenyWriteExecute=yes".into(),
        if sources.is_empty() {
            "the profile allows none of mmap, mprotect, pkey_mprotect, shmat".into()
        } else {
            format!("from {}: no PROT_EXEC", sources.join(", "))
        },
    ));
}

/// What one rule allows, in its arguments' symbols: `F_SETLK`, `no
/// PROT_EXEC`, `SOL_SOCKET and SO_REUSEPORT` (an option named for its
/// level, a protocol for its family).
fn allowed_values(name: &str, rule: &SyscallRule) -> String {
    let captured = captured(name);
    let equal_at = |index: u8| {
        rule.args
            .iter()
            .find(|c| c.index == u32::from(index) && c.op == CompareOp::Equal)
            .map(|c| c.value)
    };
    rule.args
        .iter()
        .map(|condition| {
            let Some((position, arg)) = captured.and_then(|c| {
                c.args
                    .iter()
                    .enumerate()
                    .find(|(_, a)| u32::from(a.index) == condition.index)
            }) else {
                return condition.to_string();
            };
            let previous = position
                .checked_sub(1)
                .and_then(|p| captured.and_then(|c| c.args.get(p)))
                .and_then(|a| equal_at(a.index));
            let describe = |value| arg.symbols.describe(value, previous);
            match condition.op {
                CompareOp::Equal => describe(condition.value),
                CompareOp::MaskedEqual if condition.value_two == 0 => {
                    format!("no {}", describe(condition.value))
                }
                CompareOp::MaskedEqual => describe(condition.value_two),
                _ => condition.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The line said of a rule widened within the engine default: `fcntl:
/// systemd cannot check its argument values (F_GETLK, F_SETLK); allowed for
/// any value, as Docker's default profile does`.
fn widened_note(
    name: &str,
    rules: Option<&Conditional>,
    clone3_enosys: Option<usize>,
    within: &str,
) -> String {
    let values: Vec<String> = rules
        .into_iter()
        .flatten()
        .map(|(_, rule)| allowed_values(name, rule))
        .collect();
    let what = match (values.is_empty(), clone3_enosys) {
        (true, Some(at)) if name == "clone3" => format!(
            "systemd cannot answer it with ENOSYS as {} does without restricting a namespace",
            label(at, name)
        ),
        _ => format!(
            "systemd cannot check its argument values ({})",
            values.join(", ")
        ),
    };
    format!("{name}: {what}; allowed for any value, as {within} does")
}

/// `SystemCallArchitectures=`: `native` when only the host's.
fn architectures(arches: &[Arch], host: Option<Arch>) -> Result<String, ExportError> {
    if arches.len() == 1 && Some(arches[0]) == host {
        return Ok("native".into());
    }
    let names = arches
        .iter()
        .map(|a| {
            systemd_arch(*a).ok_or_else(|| {
                unsupported(format!(
                    "systemd has no name for the architecture {}",
                    a.short_name()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names.join(" "))
}

/// The drop-in (`[Service]` section), to save as
/// `/etc/systemd/system/UNIT.d/seccomp.conf`.
pub(crate) fn drop_in(profile: &Profile, options: &Options) -> Result<Exported, ExportError> {
    refuse_docker_filters(profile, TARGET)?;
    let error_number = match profile.default_action {
        Action::Errno => {
            let number = profile.default_errno_ret.unwrap_or(EPERM);
            let name = errno::name(number).ok_or_else(|| {
                unsupported(format!(
                    "the default errno {number} has no name systemd knows"
                ))
            })?;
            Some(name)
        }
        // systemd's own action without SystemCallErrorNumber= kills the process.
        Action::KillProcess | Action::Kill => None,
        other => {
            return Err(unsupported(format!(
                "its default action is {other}; an allow-list in systemd denies with an errno \
                 or kills the process (SCMP_ACT_ERRNO or SCMP_ACT_KILL_PROCESS)"
            )));
        }
    };
    let default_errno = profile.default_errno_ret.unwrap_or(EPERM);
    let mut learned = Learned {
        unconditional: BTreeSet::new(),
        conditional: BTreeMap::new(),
        clone3_enosys: None,
    };
    let mut logged = Vec::new();
    for (at, rule) in profile.syscalls.iter().enumerate() {
        if rule.action.lets_run() {
            if rule.action == Action::Log {
                logged.push(format!("rule {} ({})", at + 1, rule_names(rule)));
            }
            for name in &rule.names {
                if rule.args.is_empty() {
                    learned.unconditional.insert(name.as_str());
                } else {
                    learned
                        .conditional
                        .entry(name.as_str())
                        .or_default()
                        .push((at, rule));
                }
            }
        } else if rule.action == profile.default_action
            && (rule.action != Action::Errno || rule.errno().unwrap_or(EPERM) == default_errno)
        {
            // Denied as the default denies it.
        } else if rule.names.iter().all(|n| n == "clone3")
            && rule.action == Action::Errno
            && rule.errno() == Some(ENOSYS)
            && rule.args.is_empty()
        {
            learned.clone3_enosys = Some(at);
        } else {
            return Err(unsupported(format!(
                "rule {} ({}) denies with {}{} unlike the default; systemd's allow-list has one \
                 way to deny: drop the rule or give it the default's action",
                at + 1,
                rule_names(rule),
                rule.action,
                rule.errno()
                    .map(|e| format!(" ({})", errno::describe(e)))
                    .unwrap_or_default()
            )));
        }
    }

    let host = Arch::host();
    let mut arches = super::architectures(profile, TARGET)?;
    let mut out = Translation::default();
    namespaces(&learned, &mut out);
    families(&learned, &mut arches, host, &mut out);
    personality(&learned, &mut out);
    write_execute(&learned, &mut out);

    // The conditions no directive keeps: systemd's @default set is allowed
    // whatever the filter says, so saying so is all there is to do.
    let mut by_default = Vec::new();
    for (name, rules) in &learned.conditional {
        if learned.unconditional.contains(name) || out.handled.contains(*name) {
            continue;
        }
        if SYSTEMD_DEFAULT_SET.contains(name) {
            by_default.push(labels(rules, name));
        } else if PROT_SYSCALLS.contains(name) {
            out.unkeep(
                name,
                format!(
                    "{}: only MemoryDenyWriteExecute= checks PROT_EXEC, and the profile allows \
                     what it refuses (see the drop-in's comment)",
                    labels(rules, name)
                ),
            );
        } else {
            out.unkeep(
                name,
                format!(
                    "{}: systemd has no directive for its arguments",
                    labels(rules, name)
                ),
            );
        }
    }

    let mut notes = vec![
        "systemd also allows its @default set whatever the filter (execve, exit, brk, futex, \
         …: `systemd-analyze syscall-filter @default`)"
            .to_owned(),
    ];
    // A rule no directive keeps is widened to its bare name where the
    // engine default allows that name whatever its arguments (then no
    // looser than it, and said); beyond that only with --widen.
    let docker_default;
    let within = match &options.within {
        Some(within) => Some(within),
        None => {
            docker_default = super::Within::docker_default();
            docker_default.as_ref()
        }
    };
    let mut widened_within = Vec::new();
    if !out.unkept.is_empty() {
        // In the order of the profile's rules.
        let position = |name: &str| match learned.conditional.get(name) {
            Some(rules) => rules.first().map_or(usize::MAX, |(at, _)| *at),
            None => learned.clone3_enosys.unwrap_or(usize::MAX),
        };
        let mut unkept: Vec<(&String, &String)> = out.unkept.iter().collect();
        unkept.sort_by_key(|(name, _)| position(name));
        let mut beyond = Vec::new();
        for (name, why) in unkept {
            match within.filter(|w| w.allows_any_arguments(name)) {
                Some(within) => widened_within.push(widened_note(
                    name,
                    learned.conditional.get(name.as_str()),
                    learned.clone3_enosys,
                    &within.name,
                )),
                None => beyond.push(why.as_str()),
            }
        }
        if !beyond.is_empty() {
            if !options.widen {
                return Err(ExportError::NeedsWiden {
                    rules: beyond.join("; "),
                    within: within.map_or_else(
                        || "the engine's default (unknown on this host)".to_owned(),
                        |w| w.name.clone(),
                    ),
                });
            }
            notes.push(format!(
                "widened (allowed whatever their arguments, or as far as the directive says): {}",
                beyond.join("; ")
            ));
        }
        notes.extend(widened_within.iter().cloned());
    }
    if !by_default.is_empty() {
        notes.push(format!(
            "systemd allows these whatever their arguments (its @default set): {}",
            by_default.join(", ")
        ));
    }
    notes.append(&mut out.in_part);
    if !logged.is_empty() {
        notes.push(format!(
            "allowed without logging (systemd's allow-list does not log): {}",
            logged.join(", ")
        ));
    }

    let mut allowed: BTreeSet<&str> = learned.unconditional.iter().copied().collect();
    allowed.extend(learned.conditional.keys().copied());
    allowed.extend(out.also_allowed.iter().copied());
    if out.unkept.contains_key("clone3") {
        // Only with --widen: allowed whatever its arguments.
        allowed.insert("clone3");
    }
    let names: Vec<&str> = allowed.into_iter().collect();
    let mut text = String::from(
        "# A seccomp allow-list written by `syscall-profile export --to systemd`.\n\
         # Save it as /etc/systemd/system/UNIT.service.d/seccomp.conf, then\n\
         # `systemctl daemon-reload` and restart the unit. systemd also allows\n\
         # its @default set (`systemd-analyze syscall-filter @default`).\n\
         [Service]\n",
    );
    // One line per name keeps long lists readable; assignments add up.
    for chunk in names.chunks(8) {
        text.push_str(&format!("SystemCallFilter={}\n", chunk.join(" ")));
    }
    for note in &widened_within {
        text.push_str(&format!("# {note}\n"));
    }
    text.push_str(&format!(
        "SystemCallArchitectures={}\n",
        architectures(&arches, host)?
    ));
    if let Some(name) = error_number {
        text.push_str(&format!("SystemCallErrorNumber={name}\n"));
    }
    for (directive, comment) in &out.directives {
        text.push_str(&format!("# {comment}\n{directive}\n"));
    }
    for comment in &out.comments {
        text.push_str(&format!("# {comment}\n"));
    }
    Ok(Exported { text, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile for the host's architecture alone: `rules` are its
    /// `syscalls`, besides read, write and exit_group allowed.
    fn profile(rules: &str) -> Profile {
        let host = Arch::host().expect("a host this tool knows").scmp_name();
        let text = format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["{host}"],
                "syscalls": [{{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}}
                {rules}]}}"#
        );
        Profile::parse(text.as_bytes()).unwrap().profile
    }

    fn export(rules: &str, widen: bool) -> Result<Exported, ExportError> {
        drop_in(
            &profile(rules),
            &Options {
                widen,
                ..Options::default()
            },
        )
    }

    /// The drop-in's settings, without its comments.
    fn settings(exported: &Exported) -> Vec<&str> {
        exported
            .text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect()
    }

    fn refusal(rules: &str) -> String {
        refusal_within(rules, None)
    }

    /// The refusal of `rules` where the engine default is `within`
    /// (Docker's, as on this host, when none).
    fn refusal_within(rules: &str, within: Option<super::super::Within>) -> String {
        let options = Options {
            within,
            ..Options::default()
        };
        match drop_in(&profile(rules), &options) {
            Err(e @ ExportError::NeedsWiden { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// A default that allows nothing but read, write and exit_group, as on
    /// this host.
    fn strict_default() -> super::super::Within {
        let baseline = crate::baseline::Baseline::from_profile(
            "a strict default".into(),
            profile(""),
            String::new(),
        );
        let context = crate::baseline::DockerContext::host(&[], &[]).unwrap();
        super::super::Within::of(&baseline, &context)
    }

    const NO_EXEC_MMAP: &str = r#", {"names": ["mmap"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}"#;
    const NO_EXEC_MPROTECT: &str = r#", {"names": ["mprotect"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}"#;

    #[test]
    fn memory_deny_write_execute_only_where_no_mapping_can_be_executable() {
        // A static program: no PROT_EXEC anywhere.
        let exported = export(&format!("{NO_EXEC_MMAP}{NO_EXEC_MPROTECT}"), false).unwrap();
        assert!(
            settings(&exported).contains(&"MemoryDenyWriteExecute=yes"),
            "{}",
            exported.text
        );
        assert!(
            exported
                .text
                .contains("# from rule 2 (mmap), rule 3 (mprotect): no PROT_EXEC"),
            "{}",
            exported.text
        );
        // What MemoryDenyWriteExecute= lets mmap do that the profile did not.
        assert!(
            exported.notes.iter().any(|n| n.starts_with(
                "rule 2 (mmap): MemoryDenyWriteExecute= refuses mmap with PROT_WRITE|PROT_EXEC; \
                 systemd allows it with PROT_EXEC alone"
            )),
            "{:?}",
            exported.notes
        );

        // The loader maps code: mmap with PROT_EXEC, whose PROT_WRITE the
        // profile does not see. Not set, and said why; mprotect's rule is
        // then systemd's @default, said as such.
        let dynamic = r#", {"names": ["mmap"], "action": "SCMP_ACT_ALLOW"}"#;
        let exported = export(&format!("{dynamic}{NO_EXEC_MPROTECT}"), false).unwrap();
        assert!(
            !exported.text.contains("MemoryDenyWriteExecute=yes"),
            "{}",
            exported.text
        );
        assert!(
            exported.text.contains(
                "# MemoryDenyWriteExecute= is not set: the profile does not prove that no memory \
                 is both writable and executable (mmap is allowed with PROT_EXEC"
            ),
            "{}",
            exported.text
        );
        assert!(
            exported.notes.contains(
                &"systemd allows these whatever their arguments (its @default set): rule 3 \
                  (mprotect)"
                    .to_owned()
            ),
            "{:?}",
            exported.notes
        );

        // shmat's SHM_EXEC is never checked: nothing proves it either.
        let shmat = r#", {"names": ["shmat"], "action": "SCMP_ACT_ALLOW"}"#;
        let exported = export(&format!("{NO_EXEC_MMAP}{shmat}"), false).unwrap();
        assert!(
            exported
                .text
                .contains("shmat is allowed (its SHM_EXEC is not checked)")
                && !exported.text.contains("MemoryDenyWriteExecute=yes"),
            "{}",
            exported.text
        );
        // pkey_mprotect is not in @default: without MemoryDenyWriteExecute=
        // its rule is kept by nothing. Docker's default allows it whatever
        // its arguments: widened to that, and said.
        let pkey = r#", {"names": ["mmap"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["pkey_mprotect"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}"#;
        let exported = export(pkey, false).unwrap();
        let said = "pkey_mprotect: systemd cannot check its argument values (no PROT_EXEC); \
                    allowed for any value, as Docker's default profile does";
        assert!(
            exported.notes.contains(&said.to_owned()),
            "{:?}",
            exported.notes
        );
        assert!(
            exported.text.contains(&format!("# {said}\n")),
            "{}",
            exported.text
        );
        // Where the default does not allow it, it is kept by nothing.
        let error = refusal_within(pkey, Some(strict_default()));
        assert!(
            error.contains("rule 3 (pkey_mprotect): only MemoryDenyWriteExecute= checks PROT_EXEC")
                && error.contains("would go beyond a strict default"),
            "{error}"
        );
    }

    #[test]
    fn namespaces_systemd_would_allow_beyond_the_profile_need_widen() {
        // Learned together only: systemd's RestrictNamespaces= would let
        // clone make either alone.
        let together = r#", {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 1342177280, "op": "SCMP_CMP_MASKED_EQ"}]}"#;
        let error = refusal(together);
        assert!(
            error.contains("rule 2 (clone): RestrictNamespaces=net user lets it make")
                && error.contains("CLONE_NEWNET or ")
                && error.contains("--widen"),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
        let exported = export(together, true).unwrap();
        assert!(
            settings(&exported).contains(&"RestrictNamespaces=net user"),
            "{}",
            exported.text
        );
        assert!(
            exported
                .notes
                .iter()
                .any(|n| n.starts_with("widened") && n.contains("rule 2 (clone)")),
            "{:?}",
            exported.notes
        );

        // Each alone and together: exactly what RestrictNamespaces= allows.
        let each = r#", {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 1073741824, "op": "SCMP_CMP_MASKED_EQ"}]}"#;
        let exported = export(each, false).unwrap();
        assert!(
            settings(&exported).contains(&"RestrictNamespaces=net"),
            "{}",
            exported.text
        );
        // setns(fd, 0) joins any kind: systemd refuses it under any
        // restriction, so none can be written, and clone's rule is lost.
        let any_setns = r#", {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["setns"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}"#;
        let error = refusal(any_setns);
        assert!(
            error.contains("rule 2 (clone): the profile allows every namespace elsewhere"),
            "{error}"
        );
    }

    #[test]
    fn clone3_s_enosys_is_kept_only_where_a_namespace_is_restricted() {
        let enosys = r#", {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}"#;
        let no_namespace = r#", {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}"#;
        let exported = export(&format!("{no_namespace}{enosys}"), false).unwrap();
        let lines = settings(&exported);
        assert!(lines.contains(&"RestrictNamespaces=yes"), "{lines:?}");
        // In the allow-list, so that its EPERM does not come first.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("SystemCallFilter=") && l.contains("clone3")),
            "{lines:?}"
        );

        // clone makes any namespace but a time one, which only unshare
        // (and clone3) can: restricting that is enough.
        let any_clone = r#", {"names": ["clone"], "action": "SCMP_ACT_ALLOW"}"#;
        let exported = export(&format!("{any_clone}{enosys}"), false).unwrap();
        assert!(
            settings(&exported).contains(&"RestrictNamespaces=cgroup ipc net mnt pid user uts"),
            "{}",
            exported.text
        );
        // With unshare too, every namespace: systemd would not answer
        // clone3.
        let any_clone = r#", {"names": ["clone", "unshare"], "action": "SCMP_ACT_ALLOW"}"#;
        let error = refusal(&format!("{any_clone}{enosys}"));
        assert!(
            error.contains("rule 3 (clone3): systemd answers clone3 with ENOSYS only under"),
            "{error}"
        );
        let widened = export(&format!("{any_clone}{enosys}"), true).unwrap();
        assert!(
            !settings(&widened)
                .iter()
                .any(|l| l.starts_with("RestrictNamespaces=")),
            "{}",
            widened.text
        );
    }

    #[test]
    fn personality_only_where_lock_personality_allows_as_much() {
        let linux = r#", {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}"#;
        let exported = export(linux, false).unwrap();
        assert!(
            settings(&exported).contains(&"LockPersonality=yes"),
            "{}",
            exported.text
        );
        // systemd 252's LockPersonality= refuses the query too.
        let query = r#", {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]}"#;
        let error = refusal(query);
        assert!(
            error.contains("rule 2 (personality): LockPersonality= allows only PER_LINUX"),
            "{error}"
        );
        let widened = export(query, true).unwrap();
        assert!(
            !widened.text.contains("LockPersonality="),
            "{}",
            widened.text
        );
    }

    #[test]
    fn families_and_what_no_directive_keeps() {
        let unix = r#", {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}"#;
        let exported = export(unix, false).unwrap();
        assert!(
            settings(&exported).contains(&"RestrictAddressFamilies=AF_UNIX"),
            "{}",
            exported.text
        );
        // socketpair and fcntl: no directive looks at their arguments.
        // Docker's default allows both whatever their arguments: each is
        // widened to its name, said on one line and in the drop-in.
        let other = r#", {"names": ["socketpair"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 1, "value": 6, "op": "SCMP_CMP_EQ"}]}"#;
        let exported = export(other, false).unwrap();
        let said = [
            "socketpair: systemd cannot check its argument values (AF_UNIX); allowed for any \
             value, as Docker's default profile does",
            "fcntl: systemd cannot check its argument values (F_GETLK, F_SETLK); allowed for \
             any value, as Docker's default profile does",
        ];
        for line in said {
            assert!(
                exported.notes.contains(&line.to_owned()),
                "{:?}",
                exported.notes
            );
            assert!(
                exported.text.contains(&format!("# {line}\n")),
                "{}",
                exported.text
            );
        }
        assert!(
            settings(&exported)
                .contains(&"SystemCallFilter=exit_group fcntl read socketpair write"),
            "{}",
            exported.text
        );
        assert!(
            !exported.notes.iter().any(|n| n.starts_with("widened")),
            "{:?}",
            exported.notes
        );
        // Beyond a default that does not allow them: refused, each named.
        let error = refusal_within(other, Some(strict_default()));
        assert!(
            error.contains(
                "rule 3 (fcntl), rule 4 (fcntl): systemd has no directive for its arguments"
            ) && error.contains(
                "rule 2 (socketpair): RestrictAddressFamilies= does not look at socketpair()"
            ),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
        // Within a default that allows one of them: the other is refused.
        let baseline = crate::baseline::Baseline::from_profile(
            "a default".into(),
            profile(r#", {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW"}"#),
            String::new(),
        );
        let context = crate::baseline::DockerContext::host(&[], &[]).unwrap();
        let error = refusal_within(other, Some(super::super::Within::of(&baseline, &context)));
        assert!(
            error.contains("rule 2 (socketpair)") && !error.contains("fcntl"),
            "{error}"
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn architectures_are_the_profile_s_but_where_families_go_unchecked() {
        let with_subs = |rules: &str| {
            let text = format!(
                r#"{{"defaultAction": "SCMP_ACT_ERRNO",
                    "archMap": [{{"architecture": "SCMP_ARCH_X86_64",
                                  "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}}],
                    "syscalls": [{{"names": ["read"], "action": "SCMP_ACT_ALLOW"}}{rules}]}}"#
            );
            drop_in(
                &Profile::parse(text.as_bytes()).unwrap().profile,
                &Options::default(),
            )
            .unwrap()
        };
        let plain = with_subs("");
        assert!(
            settings(&plain).contains(&"SystemCallArchitectures=x86-64 x86 x32"),
            "{}",
            plain.text
        );
        let families = with_subs(
            r#", {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}"#,
        );
        assert!(
            settings(&families).contains(&"SystemCallArchitectures=x86-64 x32"),
            "{}",
            families.text
        );
        assert!(
            families
                .notes
                .iter()
                .any(|n| n.starts_with("SystemCallArchitectures= leaves out i386")),
            "{:?}",
            families.notes
        );
    }
}
