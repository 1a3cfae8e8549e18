//! `RestrictNamespaces=`: the namespace flags of clone, clone3, unshare
//! and setns, as far as the profile's rules of them say.

use std::collections::BTreeSet;

use super::learned::{Conditional, Learned, Translation, label, labels};
use crate::{
    profile::{ArgCondition, CompareOp},
    syscall_args::{CLONE_NAMESPACES, NAMESPACES_WITH_TIME, Symbols},
};

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

/// `RestrictNamespaces=` from clone, clone3, unshare and setns.
pub(super) fn namespaces(learned: &Learned, out: &mut Translation) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{export, refusal, settings};

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
}
