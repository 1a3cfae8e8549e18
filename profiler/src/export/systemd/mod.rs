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
//!
//! In complain mode the same translation gives `SystemCallLog=` instead
//! ([`complain`]): what the filter would let run is not logged, the rest is.

mod complain;
mod directives;
mod learned;
mod namespaces;

use std::collections::{BTreeMap, BTreeSet};

use super::{ExportError, Exported, Options, refuse_docker_filters, rule_names};
use crate::{
    profile::{Action, Arch, CompareOp, EPERM, Profile, SyscallRule, errno},
    syscall_args::captured,
};
use directives::{PROT_SYSCALLS, families, personality, write_execute};
use learned::{Conditional, Learned, Translation, label, labels};
use namespaces::namespaces;

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
    // Names only SCMP_ACT_LOG rules let run: complain mode logs them.
    let mut log_only = BTreeSet::new();
    let mut allowed_by_rule = BTreeSet::new();
    for (at, rule) in profile.syscalls.iter().enumerate() {
        if rule.action.lets_run() {
            if rule.action == Action::Log {
                logged.push(format!("rule {} ({})", at + 1, rule_names(rule)));
                log_only.extend(rule.names.iter().map(String::as_str));
            } else {
                allowed_by_rule.extend(rule.names.iter().map(String::as_str));
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

    let mut notes = Vec::new();
    if !options.complain {
        notes.push(
            "systemd also allows its @default set whatever the filter (execve, exit, brk, futex, \
             …: `systemd-analyze syscall-filter @default`)"
                .to_owned(),
        );
    }
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
            "systemd allows these whatever their arguments (its @default set){}: {}",
            match options.complain {
                true => ", and complain mode does not log them",
                false => "",
            },
            by_default.join(", ")
        ));
    }
    if options.complain {
        log_only.retain(|name| !allowed_by_rule.contains(name));
        let listed: BTreeSet<&str> = learned
            .unconditional
            .iter()
            .chain(learned.conditional.keys())
            .copied()
            .filter(|name| !log_only.contains(name))
            .collect();
        let mut left_out = vec![format!(
            "SystemCallArchitectures={}",
            architectures(&arches, host)?
        )];
        left_out.extend(out.directives.into_iter().map(|(directive, _)| directive));
        return Ok(complain::drop_in(
            &listed,
            &widened_within,
            &left_out,
            notes,
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
    pub(super) fn profile(rules: &str) -> Profile {
        let host = Arch::host().expect("a host this tool knows").scmp_name();
        let text = format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["{host}"],
                "syscalls": [{{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}}
                {rules}]}}"#
        );
        Profile::parse(text.as_bytes()).unwrap().profile
    }

    pub(super) fn export(rules: &str, widen: bool) -> Result<Exported, ExportError> {
        export_with(rules, widen, false)
    }

    /// The drop-in of `rules`, in complain mode if `complain`.
    pub(super) fn export_with(
        rules: &str,
        widen: bool,
        complain: bool,
    ) -> Result<Exported, ExportError> {
        drop_in(
            &profile(rules),
            &Options {
                widen,
                complain,
                ..Options::default()
            },
        )
    }

    /// The drop-in's settings, without its comments.
    pub(super) fn settings(exported: &Exported) -> Vec<&str> {
        exported
            .text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect()
    }

    pub(super) fn refusal(rules: &str) -> String {
        refusal_within(rules, None)
    }

    /// The refusal of `rules` where the engine default is `within`
    /// (Docker's, as on this host, when none).
    pub(super) fn refusal_within(rules: &str, within: Option<super::super::Within>) -> String {
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
    pub(super) fn strict_default() -> super::super::Within {
        let baseline = crate::baseline::Baseline::from_profile(
            "a strict default".into(),
            profile(""),
            String::new(),
        );
        let context = crate::baseline::DockerContext::host(&[], &[]).unwrap();
        super::super::Within::of(&baseline, &context)
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
