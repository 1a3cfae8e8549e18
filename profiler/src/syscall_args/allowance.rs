//! What a policy lets through of a syscall's arguments, and how that
//! compares with another policy's: the one place where `diff`, `check` and
//! the denial reports set argument values against a profile or a baseline.
//!
//! A policy's conditions cut each argument's values into regions whose
//! values all get the same verdict. Two policies are compared on
//! representatives of those regions: for each argument, every value the
//! tool has a name for, every value a condition of either policy names
//! with its two neighbours (so each region between two boundaries has one),
//! and for a flag word every combination of its privileged bits. Sets of
//! such tuples are then named: an argument that does not matter to the set
//! is left out, and a set larger than what it leaves out is said as "all
//! but" (`all but AF_ALG, AF_VSOCK`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Captured, Shape, Source, Symbols, captured};
use crate::{
    baseline::{Access, EffectivePolicy},
    profile::CompareOp,
};

/// One argument of a call, by name and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgValue {
    /// Its index among the syscall's arguments, as seccomp numbers them
    /// (for `clone3`, the field of `struct clone_args` read instead).
    pub index: u8,
    /// What the argument is (`request`, `family`).
    pub name: &'static str,
    /// The value, masked as the kernel side keeps it (a socket's type
    /// without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`, only `PROT_EXEC` of a
    /// protection).
    pub value: u64,
    /// The value by name (`TIOCSTI`), or as a number.
    pub symbol: String,
}

impl ArgValue {
    /// `request TIOCSTI (0x5412)`: the argument, the value by name and its
    /// number where the name is a symbol; a phrase as it is (`default
    /// protocol`).
    pub(crate) fn describe(&self) -> String {
        let number = if self.value < 4096 {
            self.value.to_string()
        } else {
            format!("{:#x}", self.value)
        };
        if self.symbol.contains(' ') {
            self.symbol.clone()
        } else if self.symbol == number || self.symbol == format!("{:#x}", self.value) {
            format!("{} {}", self.name, self.symbol)
        } else {
            format!("{} {} ({number})", self.name, self.symbol)
        }
    }
}

/// The values of `tuple` (in `captured`'s order) by name, each named for
/// the argument it depends on (a protocol for its family).
pub(crate) fn arg_values(captured: &Captured, tuple: &[u64]) -> Vec<ArgValue> {
    let symbols: Vec<Option<Symbols>> = captured.args.iter().map(|a| Some(a.symbols)).collect();
    captured
        .args
        .iter()
        .zip(tuple)
        .map(|(arg, &value)| ArgValue {
            index: arg.index,
            name: arg.name,
            value,
            symbol: name_value(Some(arg.symbols), value, &symbols, tuple),
        })
        .collect()
}

/// `value` by name, for an argument of `symbols`, among the values `tuple`
/// of arguments named by `all`.
fn name_value(
    symbols: Option<Symbols>,
    value: u64,
    all: &[Option<Symbols>],
    tuple: &[u64],
) -> String {
    let Some(symbols) = symbols else {
        return if value < 4096 {
            value.to_string()
        } else {
            format!("{value:#x}")
        };
    };
    let previous = symbols.named_after().and_then(|after| {
        all.iter()
            .zip(tuple)
            .find(|(s, _)| **s == Some(after))
            .map(|(_, v)| *v)
    });
    symbols.describe(value, previous)
}

/// A call's six arguments with the values of `tuple` (in `captured`'s
/// order) at their indexes, zero elsewhere.
pub(crate) fn place(captured: &Captured, tuple: &[u64]) -> [u64; 6] {
    let mut args = [0u64; 6];
    for (arg, value) in captured.args.iter().zip(tuple) {
        if let Some(slot) = args.get_mut(usize::from(arg.index)) {
            *slot = *value;
        }
    }
    args
}

/// Names of the arguments that are no captured one.
const ARG_NAMES: [&str; 6] = ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5"];

/// How many tuples a comparison evaluates at most: past it, arguments
/// keep only the values the conditions name.
const MOST_TUPLES: usize = 50_000;

/// How many calls an [`Item`] keeps.
const CALLS_KEPT: usize = 16;

/// How many calls a [`Comparison`] keeps of what lies beyond.
const MOST_CALLS: usize = 4096;

/// How many argument conditions (both policies together, one syscall) are
/// compared value by value at most. Docker's default has 21 for clone;
/// a learned profile with many ioctl requests a few hundred.
const MOST_CONDITIONS: usize = 2048;

/// One argument of a comparison and its representatives.
#[derive(Debug, Clone)]
struct Dim {
    index: u8,
    name: &'static str,
    symbols: Option<Symbols>,
    reps: Vec<u64>,
    /// Where the conditions on it cut its values into ranges (each cut the
    /// first value of a range), when they all compare values (no mask).
    cuts: Option<Vec<u64>>,
}

impl Dim {
    /// The range of values sharing `value`'s fate under every condition,
    /// when that is more than the value itself.
    fn range_of(&self, value: u64) -> Option<(u64, u64)> {
        let cuts = self.cuts.as_ref()?;
        let low = cuts
            .iter()
            .copied()
            .filter(|c| *c <= value)
            .max()
            .unwrap_or(0);
        let high = cuts
            .iter()
            .copied()
            .filter(|c| *c > value)
            .min()
            .map_or(u64::MAX, |next| next - 1);
        (low != high).then_some((low, high))
    }
}

/// A number as the reports write one: small ones in decimal.
fn number(value: u64) -> String {
    if value < 4096 {
        value.to_string()
    } else {
        format!("{value:#x}")
    }
}

/// The tuples two or more policies are compared on, for one syscall.
#[derive(Debug, Clone)]
pub(crate) struct Space {
    dims: Vec<Dim>,
}

/// A set of argument values, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "values")]
pub enum Values {
    /// Whatever the arguments.
    Any,
    Nothing,
    /// These values (of the arguments that matter).
    Only(Vec<Item>),
    /// All values but these.
    AllBut(Vec<Item>),
}

/// One value (or tuple of values, of the arguments that matter) of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub args: Vec<ArgValue>,
    /// Some calls (six arguments) that pass these values, for asking a
    /// policy about them.
    #[serde(skip)]
    pub calls: Vec<[u64; 6]>,
}

impl Item {
    /// The values by name: `AF_INET, SOCK_STREAM, default protocol`.
    pub(crate) fn symbols(&self) -> String {
        self.args
            .iter()
            .map(|a| a.symbol.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The values with their arguments and numbers: `request TIOCSTI
    /// (0x5412)`.
    pub(crate) fn describe(&self) -> String {
        self.args
            .iter()
            .map(ArgValue::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How many items a set's text names before saying how many more.
const NAMED: usize = 12;

impl Values {
    pub(crate) fn is_nothing(&self) -> bool {
        matches!(self, Values::Nothing)
    }

    /// The items listed (those of `Only`, those left out by `AllBut`).
    #[cfg(test)]
    pub(crate) fn items(&self) -> &[Item] {
        match self {
            Values::Only(items) | Values::AllBut(items) => items,
            Values::Any | Values::Nothing => &[],
        }
    }
}

impl std::fmt::Display for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |items: &[Item]| {
            let tuples = items.iter().any(|i| i.args.len() > 1);
            let mut named: Vec<String> = items.iter().take(NAMED).map(Item::symbols).collect();
            if items.len() > NAMED {
                named.push(format!("… ({} more)", items.len() - NAMED));
            }
            named.join(if tuples { "; " } else { ", " })
        };
        match self {
            Values::Any => f.write_str("any"),
            Values::Nothing => f.write_str("nothing"),
            Values::Only(items) => f.write_str(&list(items)),
            Values::AllBut(items) => write!(f, "all but {}", list(items)),
        }
    }
}

impl Space {
    /// The tuples to compare `policies` on for `syscall`: its captured
    /// arguments (those in registers), and any other argument a condition
    /// of theirs looks at.
    pub(crate) fn new(syscall: &str, policies: &[&EffectivePolicy]) -> Space {
        let conditions: Vec<_> = policies
            .iter()
            .filter_map(|p| p.grants.get(syscall))
            .flatten()
            .flat_map(|g| g.args.iter())
            .collect();
        let mut dims: Vec<Dim> = Vec::new();
        if let Some(captured) = captured(syscall).filter(|c| c.source == Source::Registers) {
            for arg in captured.args {
                let mut reps = match arg.shape {
                    Shape::Flags { privileged } => combinations(privileged & arg.mask),
                    Shape::Enumeration => arg
                        .symbols
                        .named_values()
                        .into_iter()
                        .map(|v| v & arg.mask)
                        .collect(),
                };
                reps.push(0);
                dims.push(Dim {
                    index: arg.index,
                    name: arg.name,
                    symbols: Some(arg.symbols),
                    reps,
                    cuts: matches!(arg.shape, Shape::Enumeration).then(Vec::new),
                });
            }
        }
        for cond in &conditions {
            let index = cond.index as u8;
            if !dims.iter().any(|d| d.index == index) {
                dims.push(Dim {
                    index,
                    name: ARG_NAMES.get(usize::from(index)).copied().unwrap_or("arg"),
                    symbols: None,
                    reps: vec![0],
                    cuts: Some(Vec::new()),
                });
            }
        }
        let named_by_conditions = |index: u8| -> Vec<u64> {
            conditions
                .iter()
                .filter(|c| c.index == u32::from(index))
                .flat_map(|c| match c.op {
                    CompareOp::MaskedEqual => {
                        let flipped = c.value_two ^ (c.value & c.value.wrapping_neg());
                        vec![c.value_two, flipped]
                    }
                    _ => vec![
                        c.value.saturating_sub(1),
                        c.value,
                        c.value.saturating_add(1),
                    ],
                })
                .collect()
        };
        for dim in &mut dims {
            for cond in conditions
                .iter()
                .filter(|c| c.index == u32::from(dim.index))
            {
                let cut = match cond.op {
                    CompareOp::MaskedEqual => {
                        dim.cuts = None;
                        continue;
                    }
                    CompareOp::Equal | CompareOp::NotEqual => {
                        vec![cond.value, cond.value.saturating_add(1)]
                    }
                    CompareOp::Less | CompareOp::GreaterOrEqual => vec![cond.value],
                    CompareOp::LessOrEqual | CompareOp::Greater => {
                        vec![cond.value.saturating_add(1)]
                    }
                };
                if let Some(cuts) = &mut dim.cuts {
                    cuts.extend(cut);
                }
            }
            dim.reps.extend(named_by_conditions(dim.index));
            dim.reps.sort_unstable();
            dim.reps.dedup();
        }
        // Too many tuples: the last arguments first keep only what the
        // conditions name.
        for position in (0..dims.len()).rev() {
            if dims.iter().map(|d| d.reps.len()).product::<usize>() <= MOST_TUPLES {
                break;
            }
            let dim = &mut dims[position];
            let mut reps = named_by_conditions(dim.index);
            reps.push(0);
            reps.sort_unstable();
            reps.dedup();
            dim.reps = reps;
        }
        Space { dims }
    }

    /// Every tuple of the space.
    fn tuples(&self, dims: &[usize]) -> Vec<Vec<u64>> {
        let mut out: Vec<Vec<u64>> = vec![Vec::new()];
        for &d in dims {
            out = out
                .into_iter()
                .flat_map(|t| {
                    self.dims[d].reps.iter().map(move |&v| {
                        let mut t = t.clone();
                        t.push(v);
                        t
                    })
                })
                .collect();
        }
        out
    }

    fn call(&self, tuple: &[u64]) -> [u64; 6] {
        let mut args = [0u64; 6];
        for (dim, value) in self.dims.iter().zip(tuple) {
            if let Some(slot) = args.get_mut(usize::from(dim.index)) {
                *slot = *value;
            }
        }
        args
    }

    fn all_dims(&self) -> Vec<usize> {
        (0..self.dims.len()).collect()
    }

    /// The tuples `access` lets run.
    pub(crate) fn allowed(&self, access: &Access) -> BTreeSet<Vec<u64>> {
        self.tuples(&self.all_dims())
            .into_iter()
            .filter(|t| access.verdict(&self.call(t)).runs())
            .collect()
    }

    /// `set` (tuples of this space) named: the arguments that do not
    /// matter to it left out, and as what it leaves out when that is less.
    pub(crate) fn name(&self, set: &BTreeSet<Vec<u64>>) -> Values {
        if set.is_empty() {
            return Values::Nothing;
        }
        // An argument does not matter when the set is the set of the other
        // arguments' values times all of its own.
        let mut keep = self.all_dims();
        let mut current = set.clone();
        'reduce: loop {
            for position in 0..keep.len() {
                let projected: BTreeSet<Vec<u64>> = current
                    .iter()
                    .map(|t| {
                        let mut t = t.clone();
                        t.remove(position);
                        t
                    })
                    .collect();
                if projected.len() * self.dims[keep[position]].reps.len() == current.len() {
                    current = projected;
                    keep.remove(position);
                    continue 'reduce;
                }
            }
            break;
        }
        if keep.is_empty() {
            return Values::Any;
        }
        let total: usize = keep.iter().map(|&d| self.dims[d].reps.len()).product();
        let left_out = total - current.len();
        if left_out < current.len() {
            let complement: Vec<Vec<u64>> = self
                .tuples(&keep)
                .into_iter()
                .filter(|t| !current.contains(t))
                .collect();
            return Values::AllBut(merged(
                complement.iter().map(|t| self.item(&keep, t, Vec::new())),
            ));
        }
        // The calls of the whole set behind each item.
        let mut calls: BTreeMap<Vec<u64>, Vec<[u64; 6]>> = BTreeMap::new();
        for full in set {
            let projected: Vec<u64> = keep.iter().map(|&d| full[d]).collect();
            let kept = calls.entry(projected).or_default();
            if kept.len() < CALLS_KEPT {
                kept.push(self.call(full));
            }
        }
        Values::Only(merged(
            calls
                .into_iter()
                .map(|(t, calls)| self.item(&keep, &t, calls)),
        ))
    }

    fn item(&self, dims: &[usize], tuple: &[u64], calls: Vec<[u64; 6]>) -> Item {
        let symbols: Vec<Option<Symbols>> = dims.iter().map(|&d| self.dims[d].symbols).collect();
        Item {
            args: dims
                .iter()
                .zip(tuple)
                .map(|(&d, &value)| {
                    let dim = &self.dims[d];
                    // A value standing for a range of them is said as one.
                    let symbol = match dim.range_of(value) {
                        Some((low, u64::MAX)) => format!("{} and above", number(low)),
                        Some((low, high)) => format!("{} to {}", number(low), number(high)),
                        None => name_value(dim.symbols, value, &symbols, tuple),
                    };
                    ArgValue {
                        index: dim.index,
                        name: dim.name,
                        value,
                        symbol,
                    }
                })
                .collect(),
            calls,
        }
    }
}

/// `items` with those that say the same (values of one range) made one.
fn merged(items: impl Iterator<Item = Item>) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for item in items {
        match out.iter_mut().find(|i| i.symbols() == item.symbols()) {
            Some(same) => {
                let room = CALLS_KEPT.saturating_sub(same.calls.len());
                same.calls.extend(item.calls.into_iter().take(room));
            }
            None => out.push(item),
        }
    }
    out
}

/// Every combination of the bits of `mask` (each bit alone, and 0, when
/// there are more than eight).
fn combinations(mask: u64) -> Vec<u64> {
    let bits: Vec<u64> = (0..64)
        .map(|b| 1u64 << b)
        .filter(|b| mask & b != 0)
        .collect();
    if bits.len() > 8 {
        return bits;
    }
    (0..1u32 << bits.len())
        .map(|n| {
            bits.iter()
                .enumerate()
                .filter(|(i, _)| n & (1 << i) != 0)
                .fold(0, |acc, (_, b)| acc | b)
        })
        .collect()
}

/// One syscall's arguments under two policies: ours (a profile) and theirs
/// (a baseline, or an older profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Comparison {
    pub syscall: String,
    /// What ours lets run.
    pub ours: Values,
    /// What theirs lets run.
    pub theirs: Values,
    /// What ours lets run that theirs refuses.
    pub beyond: Values,
    /// What theirs lets run that ours refuses.
    pub dropped: Values,
    /// Whether ours looks at the arguments at all (a profile of names
    /// only does not: it lets through whatever the baseline refuses).
    pub ours_checks: bool,
    /// Some calls (six arguments) ours lets run and theirs refuses.
    #[serde(skip)]
    pub beyond_calls: Vec<[u64; 6]>,
    /// Set (to the number of argument conditions) when the two policies
    /// have too many conditions for `syscall` to be compared value by value
    /// in reasonable time: the values are then all [`Values::Nothing`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_many_conditions: Option<usize>,
}

/// Compares what `ours` and `theirs` let through of `syscall`'s arguments.
pub(crate) fn compare(
    ours: &EffectivePolicy,
    theirs: &EffectivePolicy,
    syscall: &str,
) -> Comparison {
    let (our_access, their_access) = (ours.access(syscall), theirs.access(syscall));
    let conditions: usize = [ours, theirs]
        .iter()
        .filter_map(|p| p.grants.get(syscall))
        .flatten()
        .map(|g| g.args.len())
        .sum();
    // Each tuple is judged against every condition: a hostile profile of
    // tens of thousands of rules would take minutes.
    if conditions > MOST_CONDITIONS {
        return Comparison {
            syscall: syscall.to_owned(),
            ours: Values::Nothing,
            theirs: Values::Nothing,
            beyond: Values::Nothing,
            dropped: Values::Nothing,
            ours_checks: matches!(our_access, Access::Conditional { .. }),
            beyond_calls: Vec::new(),
            too_many_conditions: Some(conditions),
        };
    }
    let space = Space::new(syscall, &[ours, theirs]);
    let our_set = space.allowed(&our_access);
    let their_set = space.allowed(&their_access);
    let beyond: BTreeSet<Vec<u64>> = our_set.difference(&their_set).cloned().collect();
    let dropped: BTreeSet<Vec<u64>> = their_set.difference(&our_set).cloned().collect();
    let beyond_calls = beyond
        .iter()
        .take(MOST_CALLS)
        .map(|t| space.call(t))
        .collect();
    Comparison {
        syscall: syscall.to_owned(),
        beyond_calls,
        ours: space.name(&our_set),
        theirs: space.name(&their_set),
        beyond: space.name(&beyond),
        dropped: space.name(&dropped),
        ours_checks: matches!(our_access, Access::Conditional { .. }),
        too_many_conditions: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        baseline::{Baseline, DockerContext, docker_capabilities},
        profile::{Arch, KernelVersion, Profile},
    };

    fn context() -> DockerContext {
        DockerContext {
            native: Arch::X86_64,
            caps: docker_capabilities(&[], &[]).unwrap(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn policy(rules: serde_json::Value) -> EffectivePolicy {
        let text = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules});
        let profile: Profile = serde_json::from_value(text).unwrap();
        EffectivePolicy::evaluate(&profile, &context())
    }

    fn docker() -> EffectivePolicy {
        Baseline::docker_default().evaluate(&context())
    }

    #[test]
    fn too_many_conditions_are_said_not_compared() {
        let rules: Vec<serde_json::Value> = (0..3000)
            .map(|i| {
                serde_json::json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
            })
            .collect();
        let started = std::time::Instant::now();
        let c = compare(
            &policy(serde_json::Value::Array(rules)),
            &docker(),
            "socket",
        );
        assert!(c.too_many_conditions.is_some_and(|n| n > 3000), "{c:?}");
        assert!(c.beyond.is_nothing());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn socket_families_are_named_against_docker_s_rule() {
        let ours = policy(serde_json::json!([
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        ]));
        let c = compare(&ours, &docker(), "socket");
        assert_eq!(c.ours.to_string(), "AF_UNIX, AF_INET");
        assert_eq!(c.theirs.to_string(), "all but AF_ALG, AF_VSOCK");
        assert!(c.beyond.is_nothing());
        assert!(c.ours_checks);

        let vsock = policy(serde_json::json!([
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 0xfff7f7ff_u64, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
                      {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
        ]));
        let c = compare(&vsock, &docker(), "socket");
        let Values::Only(items) = &c.beyond else {
            panic!("{c:?}")
        };
        assert_eq!(
            items[0].describe(),
            "family AF_VSOCK (40), type SOCK_STREAM (1), default protocol"
        );
        assert!(
            items[0]
                .calls
                .iter()
                .all(|call| !docker().verdict("socket", call).runs())
        );
    }

    #[test]
    fn a_profile_of_names_lets_through_what_the_default_refuses() {
        let ours =
            policy(serde_json::json!([{"names": ["socket", "clone"], "action": "SCMP_ACT_ALLOW"}]));
        let c = compare(&ours, &docker(), "socket");
        assert_eq!(c.ours, Values::Any);
        assert_eq!(c.beyond.to_string(), "AF_ALG, AF_VSOCK");
        assert!(!c.ours_checks);
        let c = compare(&ours, &docker(), "clone");
        assert_eq!(c.theirs.to_string(), "no namespace flag");
        assert_eq!(c.beyond.to_string(), "all but no namespace flag");
    }

    #[test]
    fn clone_s_namespace_flags_and_ioctl_requests() {
        let ours = policy(serde_json::json!([
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0x1000_0000u64, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0x541b, "op": "SCMP_CMP_EQ"}]},
        ]));
        let c = compare(&ours, &docker(), "clone");
        assert_eq!(c.ours.to_string(), "no namespace flag, CLONE_NEWUSER");
        assert_eq!(c.beyond.to_string(), "CLONE_NEWUSER");
        let c = compare(&ours, &docker(), "ioctl");
        assert_eq!(c.ours.to_string(), "FIONREAD");
        assert_eq!(c.theirs, Values::Any);
        assert!(c.beyond.is_nothing());
        // The other way round: what a newer profile adds.
        let newer = policy(serde_json::json!([
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0x5412, "op": "SCMP_CMP_EQ"}]},
        ]));
        let c = compare(&newer, &ours, "ioctl");
        assert_eq!(c.beyond.items()[0].describe(), "request TIOCSTI (0x5412)");
        assert_eq!(c.dropped.to_string(), "FIONREAD");
    }

    #[test]
    fn a_range_is_said_as_one() {
        // A baseline allowing families below 46 only; a profile of names.
        let theirs = policy(
            serde_json::json!([{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 46, "op": "SCMP_CMP_LT"}]}]),
        );
        let ours = policy(serde_json::json!([{"names": ["socket"], "action": "SCMP_ACT_ALLOW"}]));
        let c = compare(&ours, &theirs, "socket");
        assert_eq!(c.beyond.to_string(), "46 and above");
        assert_eq!(c.theirs.to_string(), "all but 46 and above");
        let between = policy(
            serde_json::json!([{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 1, "value": 0x5400, "op": "SCMP_CMP_GE"},
                     {"index": 1, "value": 0x54ff, "op": "SCMP_CMP_LE"}]}]),
        );
        let c = compare(&between, &docker(), "ioctl");
        assert_eq!(c.ours.to_string(), "0x5400 to 0x54ff");
    }

    #[test]
    fn docker_s_personalities_are_named() {
        let ours = policy(
            serde_json::json!([{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0x0040_0000u64, "op": "SCMP_CMP_EQ"}]}]),
        );
        let c = compare(&ours, &docker(), "personality");
        assert_eq!(c.beyond.to_string(), "PER_LINUX|READ_IMPLIES_EXEC");
        assert_eq!(
            c.theirs.to_string(),
            "PER_LINUX, PER_LINUX32, PER_LINUX|UNAME26, PER_LINUX32|UNAME26, 0xffffffff (query)"
        );
    }
}
