//! The summary of an object that the cache keeps: its functions, each
//! with its calls, imports and syscalls, and the locations ([`Loc`]) a
//! wrapper takes its syscall number in; and what a walk's [`Value`] adds
//! to a function's summary.

use std::collections::{BTreeMap, BTreeSet};

use iced_x86::Register;
use serde::{Deserialize, Serialize};

/// A location holding a syscall number: a general register (by its index in
/// [`GPRS`]) or the stack slot `[rsp+d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Loc {
    Reg(u8),
    Stack(i64),
}

const GPRS: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];

pub(super) fn reg_loc(r: Register) -> Option<Loc> {
    let full = r.full_register();
    GPRS.iter()
        .position(|g| *g == full)
        .map(|i| Loc::Reg(i as u8))
}

pub(super) const RAX: Loc = Loc::Reg(0);
pub(super) const RDI: Loc = Loc::Reg(7);

impl Loc {
    pub(super) fn register(self) -> Option<Register> {
        match self {
            Loc::Reg(i) => GPRS.get(usize::from(i)).copied(),
            Loc::Stack(_) => None,
        }
    }

    /// How a report names it.
    pub(crate) fn describe(self) -> String {
        match self {
            Loc::Reg(_) => {
                format!("{:?}", self.register().unwrap_or(Register::None)).to_lowercase()
            }
            Loc::Stack(d) => format!("[rsp+{d:#x}]"),
        }
    }
}

/// What a walk back found a location to hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Value {
    /// Constants it may hold.
    pub consts: BTreeSet<u64>,
    /// Locations at the function's entry it may come from.
    pub params: BTreeSet<Loc>,
    /// Why some path gave no answer.
    pub unknown: Option<String>,
}

impl Value {
    pub(super) fn constant(v: u64) -> Value {
        Value {
            consts: [v].into(),
            ..Value::default()
        }
    }
    pub(super) fn param(l: Loc) -> Value {
        Value {
            params: [l].into(),
            ..Value::default()
        }
    }
    pub(super) fn unknown(why: String) -> Value {
        Value {
            unknown: Some(why),
            ..Value::default()
        }
    }
    pub(super) fn merge(&mut self, other: Value) {
        self.consts.extend(other.consts);
        self.params.extend(other.params);
        if self.unknown.is_none() {
            self.unknown = other.unknown;
        }
    }
    pub(super) fn is_empty(&self) -> bool {
        self.consts.is_empty() && self.params.is_empty() && self.unknown.is_none()
    }
}

/// A syscall a function makes, with its number known.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SyscallUse {
    pub nr: u64,
    /// Made with `int 0x80` or `sysenter`: i386's table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub i386: bool,
    /// The `syscall` instruction, or the call to the wrapper.
    pub site: u64,
    /// The wrapper (a function of this object) that made it, when the
    /// number was passed to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<u32>,
}

/// A call to a function of another object, bound by the loader by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportCall {
    pub name: String,
    pub site: u64,
    /// The constants rdi holds at the call, should the callee be a wrapper
    /// taking the number there (`syscall()`); `None` when it is not set
    /// from constants alone. (Only this is kept: most import calls pass a
    /// pointer there, and the cache stays small.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdi: Option<Vec<u64>>,
}

/// A site whose syscall number the analysis could not find.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Unresolved {
    pub site: u64,
    pub reason: String,
}

/// One function's summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Function {
    pub start: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<ImportCall>,
    /// Functions of this object whose address it takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taken: Vec<u32>,
    /// It calls or jumps through a pointer the analysis cannot follow.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub indirect: bool,
    /// What few functions have, kept apart: a large program has a hundred
    /// thousand functions, and each field here would cost each of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rare: Option<Box<Rare>>,
}

/// The parts of a function's summary that few functions have.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Rare {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    syscalls: Vec<SyscallUse>,
    /// Where its callers pass the syscall number it makes (a wrapper).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    params: BTreeSet<Loc>,
    /// Functions of other objects whose address it takes (through the GOT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) taken_imports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unresolved: Vec<Unresolved>,
    /// A PLT stub: it only jumps to this symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) plt: Option<String>,
}

static NO_PARAMS: BTreeSet<Loc> = BTreeSet::new();

impl Function {
    /// The syscalls it makes, by number.
    pub(crate) fn syscalls(&self) -> &[SyscallUse] {
        self.rare.as_ref().map_or(&[], |r| &r.syscalls)
    }

    /// Where its callers pass the syscall number it makes (a wrapper).
    pub(crate) fn params(&self) -> &BTreeSet<Loc> {
        self.rare.as_ref().map_or(&NO_PARAMS, |r| &r.params)
    }

    /// Functions of other objects whose address it takes.
    pub(crate) fn taken_imports(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.taken_imports)
    }

    /// Its syscall sites whose number is not known.
    pub(crate) fn unresolved(&self) -> &[Unresolved] {
        self.rare.as_ref().map_or(&[], |r| &r.unresolved)
    }

    /// The symbol it jumps to, if it is a PLT stub.
    pub(crate) fn plt(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.plt.as_deref())
    }

    pub(super) fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

/// The summary of one object, which the cache keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub format: u32,
    pub build_id: Option<String>,
    pub interp: Option<String>,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub functions: Vec<Function>,
    pub exports: BTreeMap<String, Vec<u32>>,
    pub entry: Option<u32>,
    /// DT_INIT/DT_FINI and every function whose address is in data.
    pub roots: Vec<u32>,
    /// Functions of other objects whose address is in data.
    pub root_names: Vec<String>,
    pub instructions: usize,
}

impl ObjectSummary {
    /// The name a report gives function `index`.
    pub(crate) fn function_name(&self, index: u32) -> String {
        match self.functions.get(index as usize) {
            Some(Function {
                name: Some(name), ..
            }) => name.clone(),
            Some(f) => format!("sub_{:x}", f.start),
            None => "?".into(),
        }
    }

    /// Whether what the scan looks up by index and by order holds: every
    /// function index (calls, taken addresses, wrappers, exports, the
    /// entry, the roots) names a function, and the functions are in order
    /// of their start. An analysis makes only such summaries; a cache entry
    /// read back is checked (a damaged or planted entry must not make the
    /// scan panic or read the wrong function).
    pub(crate) fn is_consistent(&self) -> bool {
        let count = self.functions.len();
        let names = |f: &u32| (*f as usize) < count;
        let in_order = self.functions.windows(2).all(|w| w[0].start <= w[1].start);
        in_order
            && self.functions.iter().all(|f| {
                f.calls.iter().all(names)
                    && f.taken.iter().all(names)
                    && f.syscalls()
                        .iter()
                        .all(|s| s.via.as_ref().is_none_or(names))
            })
            && self.exports.values().flatten().all(names)
            && self.entry.as_ref().is_none_or(names)
            && self.roots.iter().all(names)
    }
}

/// The bytes a function's summary holds beyond its own size.
pub(super) fn held(f: &Function) -> usize {
    4 * (f.calls.len() + f.taken.len())
        + f.rare.as_ref().map_or(0, |_| size_of::<Rare>())
        + size_of_val(f.syscalls())
        + 16 * f.params().len()
        + f.imports
            .iter()
            .map(|i| {
                size_of::<ImportCall>() + i.name.len() + 8 * i.rdi.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
        + f.taken_imports()
            .iter()
            .map(|n| 24 + n.len())
            .sum::<usize>()
        + f.unresolved()
            .iter()
            .map(|u| size_of::<Unresolved>() + u.reason.len())
            .sum::<usize>()
        + f.plt().map_or(0, str::len)
}

/// The constants of a value that is nothing but constants.
pub(super) fn constants(value: Value) -> Option<Vec<u64>> {
    (value.unknown.is_none() && value.params.is_empty() && !value.consts.is_empty())
        .then(|| value.consts.into_iter().collect())
}

pub(super) fn name_of(functions: &[Function], f: usize) -> String {
    match &functions[f].name {
        Some(n) => n.clone(),
        None => format!("sub_{:x}", functions[f].start),
    }
}

/// Records what a site's value means for the function holding it.
pub(super) fn record_site(
    fun: &mut Function,
    site: u64,
    i386: bool,
    via: Option<u32>,
    value: Value,
    what: &str,
) {
    for nr in &value.consts {
        fun.rare_mut().syscalls.push(SyscallUse {
            nr: *nr,
            i386,
            site,
            via,
        });
    }
    if !value.params.is_empty() {
        if i386 {
            fun.rare_mut().unresolved.push(Unresolved {
                site,
                reason: "an int 0x80 wrapper taking its number as an argument".into(),
            });
        } else {
            fun.rare_mut().params.extend(value.params.iter().copied());
        }
    }
    if let Some(why) = value.unknown {
        fun.rare_mut().unresolved.push(Unresolved {
            site,
            reason: format!("{what} is not a constant: {why}"),
        });
    }
}
