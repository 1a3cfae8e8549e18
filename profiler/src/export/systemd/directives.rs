//! The directives besides `RestrictNamespaces=` that keep conditions on
//! arguments: `RestrictAddressFamilies=` (socket's family),
//! `LockPersonality=` (personality) and `MemoryDenyWriteExecute=`
//! (PROT_EXEC of mmap, mprotect and pkey_mprotect).

use std::collections::BTreeSet;

use super::learned::{Learned, Translation, label, labels};
use crate::{
    profile::{Arch, CompareOp},
    syscall_args::{PROT_EXEC, Symbols, describe_arg},
};

/// The syscalls whose PROT_EXEC `MemoryDenyWriteExecute=` looks at.
pub(super) const PROT_SYSCALLS: &[&str] = &["mmap", "mmap2", "mprotect", "pkey_mprotect"];

/// `PER_LINUX`: the persona `LockPersonality=` keeps.
const PER_LINUX: u64 = 0;

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

/// `RestrictAddressFamilies=` from socket's family rules.
pub(super) fn families(
    learned: &Learned,
    arches: &mut Vec<Arch>,
    host: Option<Arch>,
    out: &mut Translation,
) {
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
pub(super) fn personality(learned: &Learned, out: &mut Translation) {
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
pub(super) fn write_execute(learned: &Learned, out: &mut Translation) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{export, refusal, refusal_within, settings, strict_default};

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
}
