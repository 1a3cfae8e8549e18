//! What a profile says that a runtime on this host would not do: names
//! that are no syscall of its architectures, filter architectures that
//! name none, masked comparisons that check nothing or match nothing; and
//! a default that refuses nothing (complain mode), which no reader should
//! take for a profile that enforces.

use std::fmt;

use super::{
    applies_to_arch,
    arch::Arch,
    model::{Profile, rule_names},
    rule::{ArgCondition, CompareOp, FilterArch},
    table,
};

/// Something a profile says that a runtime on this host would not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileWarning {
    /// `name` is a syscall of none of `arches` (the profile's architectures
    /// on this host), so a runtime skips it there.
    UnknownName {
        name: String,
        /// Indexes into the profile's `syscalls`, of the rules naming it.
        rules: Vec<usize>,
        arches: Vec<Arch>,
    },
    /// This tool has no syscall table for any of `arches`: names were not
    /// checked.
    NamesNotChecked { arches: Vec<Arch> },
    /// An `includes`/`excludes` architecture that names none: Docker's
    /// string comparison never matches it.
    UnknownFilterArch {
        value: String,
        /// Where, e.g. `syscalls[16].excludes.arches`.
        at: String,
    },
    /// A rule's `SCMP_CMP_MASKED_EQ` conditions that check nothing (mask
    /// 0, valueTwo 0: every value matches) or match no value (valueTwo has
    /// bits the mask clears, as any valueTwo but 0 does with mask 0).
    IneffectiveMask {
        /// Index into the profile's `syscalls`.
        rule: usize,
        /// The rule's names, shortened (see [`rule_names`]).
        names: String,
        conditions: Vec<IneffectiveMask>,
    },
    /// `defaultAction` is `SCMP_ACT_LOG`: a call no rule names runs, logged
    /// (complain mode, as `export --complain` writes it); `refusing` rules
    /// refuse what they name.
    DefaultLogs { refusing: usize },
    /// More warnings of the same kind than are worth a line each: how many
    /// were left out after the first [`MAX_WARNINGS_OF_A_KIND`].
    More { count: usize, kind: &'static str },
}

/// One `SCMP_CMP_MASKED_EQ` condition (`(arg & value) == valueTwo`) that
/// does not check what it seems to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IneffectiveMask {
    /// Mask 0 and valueTwo 0: every value of argument `index` matches.
    MatchesAll { index: u32 },
    /// valueTwo has bits outside the mask: no value of argument `index`
    /// matches.
    MatchesNone {
        index: u32,
        mask: u64,
        value_two: u64,
    },
}

impl IneffectiveMask {
    /// What `condition` does that it seems not to, if anything.
    pub(crate) fn of(condition: &ArgCondition) -> Option<IneffectiveMask> {
        if condition.op != CompareOp::MaskedEqual {
            return None;
        }
        let index = condition.index;
        if condition.value == 0 && condition.value_two == 0 {
            Some(IneffectiveMask::MatchesAll { index })
        } else if condition.value_two & !condition.value != 0 {
            Some(IneffectiveMask::MatchesNone {
                index,
                mask: condition.value,
                value_two: condition.value_two,
            })
        } else {
            None
        }
    }
}

impl fmt::Display for IneffectiveMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IneffectiveMask::MatchesAll { index } => write!(
                f,
                "the SCMP_CMP_MASKED_EQ on argument {index} has mask (`value`) 0 and valueTwo 0, \
                 so every value matches: it checks nothing (put the bits to compare in `value`)"
            ),
            IneffectiveMask::MatchesNone {
                index,
                mask,
                value_two,
            } => write!(
                f,
                "the SCMP_CMP_MASKED_EQ on argument {index} has valueTwo {value_two:#x} with bits \
                 outside its mask (`value`) {mask:#x}, so no value matches and the rule never \
                 applies (valueTwo must be within the mask)"
            ),
        }
    }
}

/// The most warnings of one kind given a line each; the rest are counted
/// in one [`ProfileWarning::More`] (a profile of 300,000 made-up names
/// makes one warning line, not 300,000).
pub(crate) const MAX_WARNINGS_OF_A_KIND: usize = 20;

/// The most rule indexes listed in one warning.
const MAX_RULES_LISTED: usize = 5;

impl fmt::Display for ProfileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileWarning::UnknownName {
                name,
                rules,
                arches,
            } => {
                let mut listed: Vec<String> = rules
                    .iter()
                    .take(MAX_RULES_LISTED)
                    .map(|r| format!("syscalls[{r}]"))
                    .collect();
                if rules.len() > MAX_RULES_LISTED {
                    listed.push(format!("{} more rules", rules.len() - MAX_RULES_LISTED));
                }
                let rules = listed;
                write!(
                    f,
                    "`{}` ({}) is not a syscall of {}: a runtime on this host skips it \
                     (another architecture's syscall, or a misspelling)",
                    crate::text::printable(name),
                    rules.join(", "),
                    arch_list(arches)
                )
            }
            ProfileWarning::NamesNotChecked { arches } => write!(
                f,
                "syscall names not checked: this tool has no syscall table for {}",
                arch_list(arches)
            ),
            ProfileWarning::IneffectiveMask {
                rule,
                names,
                conditions,
            } => {
                let said: Vec<String> = conditions.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "rule {} (syscalls[{rule}]: {}): {}",
                    rule + 1,
                    crate::text::printable(names),
                    said.join("; ")
                )
            }
            ProfileWarning::More { count, kind } => {
                write!(
                    f,
                    "{count} more {kind} (the first {MAX_WARNINGS_OF_A_KIND} are above)"
                )
            }
            ProfileWarning::DefaultLogs { refusing } => write!(
                f,
                "defaultAction is SCMP_ACT_LOG: every call outside the profile's rules runs and \
                 is only logged (complain mode); the profile enforces {}",
                match refusing {
                    0 => "nothing (no rule refuses)".to_owned(),
                    n => format!("only the {n} rule(s) that refuse"),
                }
            ),
            ProfileWarning::UnknownFilterArch { value, at } => write!(
                f,
                "{value:?} in `{at}` names no architecture, so it never matches (known: {})",
                FilterArch::KNOWN.join(", ")
            ),
        }
    }
}

fn arch_list(arches: &[Arch]) -> String {
    let names: Vec<&str> = arches.iter().map(|a| a.short_name()).collect();
    match names.as_slice() {
        [] => "no architecture".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl Profile {
    /// Names no table of the profile's architectures on a host of `native`
    /// knows, over the rules Docker keeps on such a host by architecture.
    pub(crate) fn unknown_names(&self, native: Arch) -> Vec<ProfileWarning> {
        let arches = self.effective_arches(native);
        let checkable: Vec<Arch> = arches
            .iter()
            .copied()
            .filter(|&arch| table::has_table(arch))
            .collect();
        if checkable.is_empty() {
            return vec![ProfileWarning::NamesNotChecked { arches }];
        }
        let mut unknown: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (index, rule) in self.syscalls.iter().enumerate() {
            if !applies_to_arch(rule, native) {
                continue;
            }
            for name in &rule.names {
                if !checkable
                    .iter()
                    .any(|&arch| table::knows(arch, name) == Some(true))
                {
                    let rules = unknown.entry(name).or_default();
                    if rules.last() != Some(&index) {
                        rules.push(index);
                    }
                }
            }
        }
        unknown
            .into_iter()
            .map(|(name, rules)| ProfileWarning::UnknownName {
                name: name.to_owned(),
                rules,
                arches: checkable.clone(),
            })
            .collect()
    }

    /// A default that logs (complain mode): said, with how many rules still
    /// refuse.
    pub(crate) fn default_logs(&self) -> Option<ProfileWarning> {
        (self.default_action == super::rule::Action::Log).then(|| ProfileWarning::DefaultLogs {
            refusing: self
                .syscalls
                .iter()
                .filter(|rule| !rule.action.lets_run())
                .count(),
        })
    }

    /// `includes`/`excludes` architectures that name none.
    pub(crate) fn unknown_filter_arches(&self) -> Vec<ProfileWarning> {
        let mut warnings = Vec::new();
        for (index, rule) in self.syscalls.iter().enumerate() {
            for (side, filter) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
                for arch in filter.arches.iter().filter(|a| !a.is_known()) {
                    warnings.push(ProfileWarning::UnknownFilterArch {
                        value: arch.as_str().to_owned(),
                        at: format!("syscalls[{index}].{side}.arches"),
                    });
                }
            }
        }
        warnings
    }

    /// The rules with `SCMP_CMP_MASKED_EQ` conditions that check nothing
    /// or match nothing, one warning a rule.
    pub(crate) fn ineffective_masks(&self) -> Vec<ProfileWarning> {
        self.syscalls
            .iter()
            .enumerate()
            .filter_map(|(rule, syscall)| {
                let mut conditions: Vec<IneffectiveMask> = Vec::new();
                for found in syscall.args.iter().filter_map(IneffectiveMask::of) {
                    if !conditions.contains(&found) {
                        conditions.push(found);
                    }
                }
                (!conditions.is_empty()).then(|| ProfileWarning::IneffectiveMask {
                    rule,
                    names: rule_names(syscall),
                    conditions,
                })
            })
            .collect()
    }
}

/// The first [`MAX_WARNINGS_OF_A_KIND`] of `warnings`, and a count of the
/// rest.
pub(super) fn capped(mut warnings: Vec<ProfileWarning>, kind: &'static str) -> Vec<ProfileWarning> {
    if warnings.len() > MAX_WARNINGS_OF_A_KIND {
        let count = warnings.len() - MAX_WARNINGS_OF_A_KIND;
        warnings.truncate(MAX_WARNINGS_OF_A_KIND);
        warnings.push(ProfileWarning::More { count, kind });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::*;

    #[test]
    fn unknown_names_are_warned_about_not_dropped() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
                "syscalls": [
                {"names": ["read", "chown32", "not_a_syscall"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}}]}"#,
        )
        .unwrap();
        assert!(
            parsed.profile.syscalls[0]
                .names
                .contains(&"not_a_syscall".to_owned())
        );
        let warnings = parsed.profile.unknown_names(Arch::X86_64);
        assert_eq!(
            warnings,
            [ProfileWarning::UnknownName {
                name: "not_a_syscall".to_owned(),
                rules: vec![0],
                arches: vec![Arch::X86_64, Arch::X86],
            }]
        );
        let text = warnings[0].to_string();
        assert!(
            text.contains("`not_a_syscall`") && text.contains("x86_64 or i386"),
            "{text}"
        );
        // On arm64 too: chown32 is a syscall of arm's EABI.
        let on_arm = parsed.profile.unknown_names(Arch::Aarch64);
        assert_eq!(on_arm.len(), 1, "{on_arm:?}");
        // An arch this tool has no table for is said, not assumed.
        assert_eq!(
            parsed.profile.unknown_names(Arch::Riscv64),
            [ProfileWarning::NamesNotChecked {
                arches: vec![Arch::Riscv64]
            }]
        );
    }

    #[test]
    fn unknown_filter_architecture_parses_with_a_warning() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone3"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                "includes": {"arches": ["mips3l64n32", "mips64"]}}]}"#,
        )
        .unwrap();
        let warning = parsed
            .warnings
            .iter()
            .find(|w| matches!(w, ProfileWarning::UnknownFilterArch { .. }))
            .expect("a warning");
        let text = warning.to_string();
        assert!(
            text.contains("\"mips3l64n32\" in `syscalls[0].includes.arches`"),
            "{text}"
        );
    }

    /// `(arg & 0) == 0` holds for every argument, `(arg & 0) == 2` for
    /// none: both parse, and each such rule is warned of once, naming the
    /// rule and the argument; a real mask is not.
    #[test]
    fn masked_comparisons_that_check_nothing_are_warned_of() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket", "socketpair"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 0, "value": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 0, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 1, "value": 255, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        )
        .unwrap();
        let said: Vec<String> = parsed
            .warnings
            .iter()
            .filter(|w| matches!(w, ProfileWarning::IneffectiveMask { .. }))
            .map(ToString::to_string)
            .collect();
        assert_eq!(said.len(), 3, "{said:#?}");
        assert!(
            said[0].starts_with("rule 2 (syscalls[1]: socket, socketpair): the SCMP_CMP_MASKED_EQ on argument 0 has mask (`value`) 0 and valueTwo 0, so every value matches"),
            "{}", said[0]
        );
        assert_eq!(said[0].matches("argument 0").count(), 1, "{}", said[0]);
        assert!(
            said[1].starts_with("rule 3 (syscalls[2]: personality): the SCMP_CMP_MASKED_EQ on argument 0 has valueTwo 0x2 with bits outside its mask (`value`) 0x0, so no value matches"),
            "{}", said[1]
        );
        assert!(
            said[2].starts_with("rule 5 (syscalls[4]: ioctl): the SCMP_CMP_MASKED_EQ on argument 1 has valueTwo 0x100 with bits outside its mask (`value`) 0xff")
                && said[2].contains("; the SCMP_CMP_MASKED_EQ on argument 2 has mask (`value`) 0 and valueTwo 0"),
            "{}", said[2]
        );
        // What the warnings say is what the comparison does.
        for rule in &parsed.profile.syscalls {
            for arg in &rule.args {
                let all = (0..64)
                    .map(|bit| 1u64 << bit)
                    .chain([0, u64::MAX])
                    .all(|v| arg.holds_for(v));
                let none = !(0..64)
                    .map(|bit| 1u64 << bit)
                    .chain([0, u64::MAX, 256])
                    .any(|v| arg.holds_for(v));
                match IneffectiveMask::of(arg) {
                    Some(IneffectiveMask::MatchesAll { .. }) => assert!(all, "{arg}"),
                    Some(IneffectiveMask::MatchesNone { .. }) => assert!(none, "{arg}"),
                    None => assert!(!none, "{arg}"),
                }
            }
        }
    }
}
