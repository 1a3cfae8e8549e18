//! The profile as systemd's directives see it: the syscalls it allows
//! whatever their arguments and those it allows under conditions
//! ([`Learned`]), and what a translation into directives wrote and could
//! not keep ([`Translation`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::profile::SyscallRule;

/// The allow rules with argument conditions of one syscall, by the rule's
/// position in the profile.
pub(super) type Conditional<'p> = Vec<(usize, &'p SyscallRule)>;

/// `rule N (NAME)`.
pub(super) fn label(at: usize, name: &str) -> String {
    format!("rule {} ({name})", at + 1)
}

/// The labels of `rules` for `name`, joined.
pub(super) fn labels(rules: &Conditional, name: &str) -> String {
    rules
        .iter()
        .map(|(at, _)| label(*at, name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The syscalls of the profile and its rules, as systemd's directives see
/// them.
pub(super) struct Learned<'p> {
    /// Allowed whatever their arguments.
    pub(super) unconditional: BTreeSet<&'p str>,
    /// Allowed under argument conditions only.
    pub(super) conditional: BTreeMap<&'p str, Conditional<'p>>,
    /// The rule answering clone3 with ENOSYS, if any.
    pub(super) clone3_enosys: Option<usize>,
}

impl Learned<'_> {
    pub(super) fn allows(&self, name: &str) -> bool {
        self.unconditional.contains(name) || self.conditional.contains_key(name)
    }

    /// The conditional rules of `name`, if it has no unconditional one.
    pub(super) fn only_conditional(&self, name: &str) -> Option<&Conditional<'_>> {
        if self.unconditional.contains(name) {
            None
        } else {
            self.conditional.get(name)
        }
    }
}

/// What the translation wrote and what it could not keep.
#[derive(Default)]
pub(super) struct Translation {
    /// Directives, each with the comment that says where it comes from.
    pub(super) directives: Vec<(String, String)>,
    /// Comments on directives left out, and why.
    pub(super) comments: Vec<String>,
    /// Rules whose conditions no directive keeps, by syscall: `rule N
    /// (NAME): why`.
    pub(super) unkept: BTreeMap<String, String>,
    /// Rules kept in part, and what systemd does not check of them.
    pub(super) in_part: Vec<String>,
    /// Syscalls that must be in `SystemCallFilter=` although the profile
    /// denies them, so that a directive answers them (clone3).
    pub(super) also_allowed: Vec<&'static str>,
    /// Rules whose names got conditions that the directives handle.
    pub(super) handled: BTreeSet<String>,
}

impl Translation {
    pub(super) fn unkeep(&mut self, name: &str, why: String) {
        self.unkept.entry(name.to_owned()).or_insert(why);
    }
}
