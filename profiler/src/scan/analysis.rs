//! The analysis of one object: its code decoded, cut into functions, and
//! summarised as what each function does that matters to reachability.
//!
//! **Functions.** A function starts at every address something names or
//! reaches: a symbol, an export, the entry point, DT_INIT/DT_FINI, a direct
//! call's target, an address of code held in data or taken in code (`lea`,
//! an immediate in a non-PIE file), a section's first byte. A function runs to
//! the next start. This never loses code (every byte belongs to the function
//! before it), and a function that runs on into the next start (no `ret` or
//! `jmp` at its end) gets an edge to it.
//!
//! **Edges.** Direct calls and direct jumps that leave the function; calls
//! through the PLT or the GOT (to the symbol the loader binds there); code
//! addresses taken (the function may be called through that pointer later).
//!
//! **Syscall numbers.** At each `syscall` (and `int 0x80`, `sysenter`) the
//! value of rax is found by walking back over the instructions before it,
//! along every path (fall-through and direct jumps), tracking one location
//! (a register, or a stack slot `[rsp+d]`) through `mov`s, `push`/`pop` and
//! stack adjustments until it is set by a constant (`mov eax, imm`,
//! `xor eax, eax`). A walk that reaches the function's start makes the
//! function a *wrapper* whose number is that location at entry (glibc's and
//! musl's `syscall()` take it in rdi, Go's `syscall.Syscall` and
//! `internal/runtime/syscall.Syscall6` in rax); its callers are then
//! resolved the same way at their call sites, to a fixpoint. Anything else
//! (a load from memory, arithmetic, a call's return value, too long a walk)
//! makes the site *unresolved*, and it is reported with its address.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic,
    OpAccess, OpKind, Register,
};
use serde::{Deserialize, Serialize};

use super::{
    budget::{Budget, Exhausted},
    elf::{ElfFacts, Pointer, SYMBOL},
};

/// Bump when the summary's meaning changes: cached summaries of another
/// format are ignored.
pub(crate) const FORMAT: u32 = 7;

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

fn reg_loc(r: Register) -> Option<Loc> {
    let full = r.full_register();
    GPRS.iter()
        .position(|g| *g == full)
        .map(|i| Loc::Reg(i as u8))
}

const RAX: Loc = Loc::Reg(0);
const RDI: Loc = Loc::Reg(7);

impl Loc {
    fn register(self) -> Option<Register> {
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
    fn constant(v: u64) -> Value {
        Value {
            consts: [v].into(),
            ..Value::default()
        }
    }
    fn param(l: Loc) -> Value {
        Value {
            params: [l].into(),
            ..Value::default()
        }
    }
    fn unknown(why: String) -> Value {
        Value {
            unknown: Some(why),
            ..Value::default()
        }
    }
    fn merge(&mut self, other: Value) {
        self.consts.extend(other.consts);
        self.params.extend(other.params);
        if self.unknown.is_none() {
            self.unknown = other.unknown;
        }
    }
    fn is_empty(&self) -> bool {
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
    rare: Option<Box<Rare>>,
}

/// The parts of a function's summary that few functions have.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Rare {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    syscalls: Vec<SyscallUse>,
    /// Where its callers pass the syscall number it makes (a wrapper).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    params: BTreeSet<Loc>,
    /// Functions of other objects whose address it takes (through the GOT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    taken_imports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unresolved: Vec<Unresolved>,
    /// A PLT stub: it only jumps to this symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plt: Option<String>,
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

    fn rare_mut(&mut self) -> &mut Rare {
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

/// Instructions decoded together, and the unit of the cache.
const BLOCK: usize = 32;
/// Blocks the cache holds (direct-mapped): about 1.3 MiB.
const CACHE_BLOCKS: usize = 1024;
/// Blocks decoded between two releases of the code's pages: a block read
/// maps up to 64 KiB of the file (the kernel maps the pages around the one
/// touched), so the file's resident pages stay within 8 MiB (see
/// [`analyse`]'s `release`).
const RELEASE_EVERY: usize = 128;

/// One executable section.
struct Section<'a> {
    address: u64,
    bytes: &'a [u8],
    /// The index of its first instruction (of the next section's when it
    /// has none).
    first: usize,
}

/// The code, decoded on demand. The sweep keeps where every [`BLOCK`]th
/// instruction starts; an instruction is decoded again, with its block,
/// when asked for, and recent blocks are cached. A decoded instruction
/// takes 40 bytes, and code holds one every 4 bytes or so: kept whole, the
/// decoded code of a large program took ten times its size in memory.
struct Decoded<'a> {
    sections: Vec<Section<'a>>,
    /// Where instruction `BLOCK * k` starts: (section, offset in it).
    marks: Vec<(u32, u32)>,
    len: usize,
    cache: RefCell<Cache>,
    release: &'a dyn Fn(),
    /// Indexes of the first instruction of each function, in order.
    starts: Vec<u32>,
    /// The same, one bit an instruction (the walks ask at every step).
    is_start: Vec<u64>,
    /// (target's offset in the code, index of a direct jump to it), by
    /// target.
    jump_sources: Vec<(u32, u32)>,
    layout: Layout,
}

/// Where each section's bytes are in the code taken as one run of bytes:
/// an address of code as a 32-bit offset (the code is at most
/// [`super::elf::MAX_CODE`] bytes).
#[derive(Default)]
struct Layout {
    /// (address, length, offset), by address.
    sections: Vec<(u64, u64, u32)>,
}

impl Layout {
    fn of(code: &[(u64, &[u8], String)]) -> Layout {
        let mut offset = 0u32;
        let mut sections: Vec<(u64, u64, u32)> = code
            .iter()
            .map(|(address, bytes, _)| {
                let at = offset;
                offset = offset.saturating_add(bytes.len() as u32);
                (*address, bytes.len() as u64, at)
            })
            .collect();
        sections.sort_unstable();
        Layout { sections }
    }

    /// The offset of `address`, if it is in the code.
    fn offset(&self, address: u64) -> Option<u32> {
        let k = self
            .sections
            .partition_point(|s| s.0 <= address)
            .checked_sub(1)?;
        let (start, len, offset) = self.sections[k];
        let into = address - start;
        (into < len).then(|| offset.saturating_add(into as u32))
    }
}

struct Cache {
    blocks: Vec<Option<(usize, Vec<Instruction>)>>,
    misses: usize,
}

impl<'a> Decoded<'a> {
    /// Decodes every section by linear sweep, keeping the marks; calls
    /// `each` with every instruction and its index. `false` when `stop`
    /// said to stop.
    fn sweep(
        code: &[(u64, &'a [u8], String)],
        release: &'a dyn Fn(),
        stop: &dyn Fn() -> bool,
        mut each: impl FnMut(usize, &Instruction) -> Result<(), Exhausted>,
    ) -> Result<Decoded<'a>, Stopped> {
        let mut sections = Vec::new();
        let mut marks = Vec::new();
        let mut n = 0usize;
        let mut insn = Instruction::default();
        let mut swept = 0usize;
        for (s, (address, bytes, _)) in code.iter().enumerate() {
            sections.push(Section {
                address: *address,
                bytes,
                first: n,
            });
            let mut decoder = Decoder::with_ip(64, bytes, *address, DecoderOptions::NONE);
            while decoder.can_decode() {
                if n.is_multiple_of(STOP_EVERY) && stop() {
                    return Err(Stopped::Asked);
                }
                if n.is_multiple_of(BLOCK) {
                    // Sections are at most MAX_CODE bytes, which fits.
                    marks.push((s as u32, decoder.position() as u32));
                }
                decoder.decode_out(&mut insn);
                each(n, &insn)?;
                n += 1;
            }
            swept += bytes.len();
            if swept >= RELEASE_BYTES {
                release();
                swept = 0;
            }
        }
        release();
        Ok(Decoded {
            sections,
            marks,
            len: n,
            cache: RefCell::new(Cache {
                blocks: vec![None; CACHE_BLOCKS],
                misses: 0,
            }),
            release,
            starts: Vec::new(),
            is_start: Vec::new(),
            jump_sources: Vec::new(),
            layout: Layout::default(),
        })
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Block `b`, decoded from its mark (running on into the next
    /// sections, as the sweep did).
    fn decode_block(&self, b: usize) -> Vec<Instruction> {
        let mut out = Vec::with_capacity(BLOCK);
        let Some(&(mut s, offset)) = self.marks.get(b) else {
            return out;
        };
        let mut offset = offset as usize;
        let mut insn = Instruction::default();
        while out.len() < BLOCK && (s as usize) < self.sections.len() {
            let section = &self.sections[s as usize];
            let bytes = section.bytes.get(offset..).unwrap_or_default();
            let mut decoder = Decoder::with_ip(
                64,
                bytes,
                section.address + offset as u64,
                DecoderOptions::NONE,
            );
            while out.len() < BLOCK && decoder.can_decode() {
                decoder.decode_out(&mut insn);
                out.push(insn);
            }
            s += 1;
            offset = 0;
        }
        out
    }

    /// Instruction `i` (`i < len`).
    fn insn(&self, i: usize) -> Instruction {
        let b = i / BLOCK;
        let slot = b % CACHE_BLOCKS;
        let mut cache = self.cache.borrow_mut();
        let hit = matches!(&cache.blocks[slot], Some((id, _)) if *id == b);
        if !hit {
            let block = self.decode_block(b);
            cache.blocks[slot] = Some((b, block));
            cache.misses += 1;
            if cache.misses.is_multiple_of(RELEASE_EVERY) {
                (self.release)();
            }
        }
        match &cache.blocks[slot] {
            Some((_, block)) => block.get(i % BLOCK).copied().unwrap_or_default(),
            None => Instruction::default(),
        }
    }

    fn ip(&self, i: usize) -> u64 {
        self.insn(i).ip()
    }

    fn mark_ip(&self, b: usize) -> u64 {
        let (s, offset) = self.marks[b];
        self.sections[s as usize].address + u64::from(offset)
    }

    /// The index of the first instruction at or after `address`.
    fn index_at_or_after(&self, address: u64) -> usize {
        // The last block starting at or before the address, then within it.
        let b = self.marks.partition_point(|&(s, offset)| {
            self.sections[s as usize].address + u64::from(offset) <= address
        });
        let Some(b) = b.checked_sub(1) else {
            return 0;
        };
        debug_assert!(self.mark_ip(b) <= address);
        let first = b * BLOCK;
        let n = BLOCK.min(self.len - first);
        first + (0..n).take_while(|&k| self.ip(first + k) < address).count()
    }

    fn index_of(&self, address: u64) -> Option<usize> {
        let i = self.index_at_or_after(address);
        (i < self.len && self.ip(i) == address).then_some(i)
    }

    fn is_start(&self, i: usize) -> bool {
        self.is_start
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    fn is_section_start(&self, i: usize) -> bool {
        let k = self.sections.partition_point(|s| s.first < i);
        self.sections.get(k).is_some_and(|s| s.first == i)
    }

    fn function_of(&self, index: usize) -> usize {
        self.starts
            .partition_point(|s| *s as usize <= index)
            .saturating_sub(1)
    }

    /// The direct jumps to `address`.
    fn jumps_to(&self, address: u64) -> &[(u32, u32)] {
        let Some(target) = self.layout.offset(address) else {
            return &[];
        };
        let from = self.jump_sources.partition_point(|j| j.0 < target);
        let to = self.jump_sources.partition_point(|j| j.0 <= target);
        &self.jump_sources[from..to]
    }
}

fn falls_through(insn: &Instruction) -> bool {
    match insn.flow_control() {
        FlowControl::Next
        | FlowControl::ConditionalBranch
        | FlowControl::Call
        | FlowControl::IndirectCall
        | FlowControl::XbeginXabortXend => insn.code() != Code::Hlt,
        FlowControl::Interrupt => matches!(insn.code(), Code::Int_imm8 | Code::Syscall),
        _ => matches!(insn.code(), Code::Syscall | Code::Sysenter),
    }
}

fn is_syscall(insn: &Instruction) -> Option<bool> {
    match insn.code() {
        Code::Syscall => Some(false),
        Code::Sysenter => Some(true),
        Code::Int_imm8 if insn.immediate8() == 0x80 => Some(true),
        _ => None,
    }
}

/// How many instructions are decoded, or functions walked, between two
/// looks whether the analysis must stop: a few milliseconds of work.
const STOP_EVERY: usize = 1 << 16;

/// Bytes of code swept between two releases of the code's pages.
const RELEASE_BYTES: usize = 4 << 20;

/// Analyses the object `facts` describes; `None` when `stop` said to stop
/// (it is asked every few milliseconds). `release` lets go of the pages of
/// the mapped file read so far (they are read again from the file when
/// needed): called every few MiB of code read, so the file's resident part
/// stays small whatever its size.
pub(crate) fn analyse<'a>(
    facts: &mut ElfFacts<'a>,
    budget: &Budget,
    stop: &dyn Fn() -> bool,
    release: &'a dyn Fn(),
) -> Result<ObjectSummary, Stopped> {
    let in_code = |a: u64| {
        facts
            .code
            .iter()
            .any(|(s, b, _)| a >= *s && a < s + b.len() as u64)
    };

    // Decode every executable section by linear sweep: function starts
    // and jump sources.
    // A start address kept is a node of the set (the set is let go of once
    // the starts are indexes).
    const START: usize = 48;
    let mut start_addresses: BTreeSet<u64> = BTreeSet::new();
    let add_start = |set: &mut BTreeSet<u64>, a: u64| -> Result<(), Exhausted> {
        if set.insert(a) {
            budget.take(START, "functions")?;
        }
        Ok(())
    };
    let named = facts
        .functions
        .keys()
        .chain(facts.exports.values().flatten());
    for &a in named.chain([&facts.entry]).chain(&facts.init_fini) {
        add_start(&mut start_addresses, a)?;
    }
    for &a in &facts.data_pointers {
        add_start(&mut start_addresses, a)?;
    }
    for p in facts.got.values() {
        if let Pointer::Local(a) = p {
            add_start(&mut start_addresses, *a)?;
        }
    }
    let layout = Layout::of(&facts.code);
    let mut jump_sources: Vec<(u32, u32)> = Vec::new();
    let mut code = Decoded::sweep(&facts.code, release, stop, |i, insn| {
        match insn.flow_control() {
            FlowControl::Call if is_near_branch(insn) => {
                add_start(&mut start_addresses, insn.near_branch_target())?;
            }
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
                if is_near_branch(insn) =>
            {
                // A jump out of the code leads to no instruction a walk
                // comes back from.
                if let Some(target) = layout.offset(insn.near_branch_target()) {
                    push_counted(&mut jump_sources, (target, i as u32), budget, "branches")?;
                }
            }
            _ => {}
        }
        for a in code_refs(insn, facts.fixed) {
            if in_code(a) {
                add_start(&mut start_addresses, a)?;
            }
        }
        Ok(())
    })?;
    jump_sources.sort_unstable();
    let reserved = jump_sources.capacity();
    jump_sources.shrink_to_fit();
    budget.give(size_of::<(u32, u32)>() * (reserved - jump_sources.capacity()));
    code.jump_sources = jump_sources;
    code.layout = layout;
    budget.take_n(code.marks.len(), 8, "instructions")?;
    budget.take(code.len() / 8, "instructions")?;

    // Every section's first instruction starts a function too.
    let mut starts: Vec<u32> = code
        .sections
        .iter()
        .filter(|s| s.first < code.len())
        .map(|s| s.first as u32)
        .collect();
    for a in &start_addresses {
        if !in_code(*a) {
            continue;
        }
        let i = code.index_at_or_after(*a);
        if i < code.len() {
            starts.push(i as u32);
        }
    }
    budget.give(start_addresses.len() * START);
    drop(start_addresses);
    starts.sort_unstable();
    starts.dedup();
    budget.take_n(starts.len(), 4 + size_of::<Function>(), "functions")?;
    code.is_start = vec![0; code.len().div_ceil(64)];
    for &i in &starts {
        code.is_start[i as usize / 64] |= 1 << (i % 64);
    }
    code.starts = starts;

    let mut functions: Vec<Function> = code
        .starts
        .iter()
        .map(|&i| {
            let start = code.ip(i as usize);
            Function {
                start,
                // Taken, not copied: the names of a large program are
                // megabytes. (The map's own part of it is given back.)
                name: facts
                    .functions
                    .remove(&start)
                    .inspect(|_| budget.give(SYMBOL)),
                ..Function::default()
            }
        })
        .collect();
    let n = functions.len();
    let range = |f: usize| {
        let begin = code.starts[f] as usize;
        let end = code.starts.get(f + 1).map_or(code.len(), |&s| s as usize);
        begin..end
    };

    // PLT stubs: a function that only jumps through a GOT slot bound to a
    // symbol.
    for (f, function) in functions.iter_mut().enumerate() {
        let first = range(f).map(|i| code.insn(i)).find(|i| {
            !matches!(
                i.code(),
                Code::Endbr64 | Code::Nopd | Code::Nopw | Code::Nopq
            )
        });
        if let Some(insn) = first
            && insn.flow_control() == FlowControl::IndirectBranch
            && insn.is_ip_rel_memory_operand()
            && let Some(Pointer::Symbol(name)) = facts.got.get(&insn.ip_rel_memory_address())
        {
            function.rare_mut().plt = Some(name.clone());
        }
    }

    // Edges, syscall sites, and the internal edges whose arguments matter
    // should their callee be a wrapper.
    #[derive(Clone, Copy)]
    enum Kind {
        Call,
        Jump,
        FallThrough,
    }
    let mut walker = Walker::new(&code);
    let mut edges: Vec<(u32, u32, u32, Kind)> = Vec::new();
    for f in 0..n {
        if f % (STOP_EVERY / 64) == 0 && stop() {
            return Err(Stopped::Asked);
        }
        let r = range(f);
        let mut fun = std::mem::take(&mut functions[f]);
        for i in r.clone() {
            let insn = &code.insn(i);
            if let Some(i386) = is_syscall(insn) {
                let value = walker.before(i, RAX);
                record_site(&mut fun, insn.ip(), i386, None, value, "the syscall number");
                continue;
            }
            let flow = insn.flow_control();
            let direct = is_near_branch(insn);
            match flow {
                FlowControl::Call
                | FlowControl::UnconditionalBranch
                | FlowControl::ConditionalBranch
                    if direct =>
                {
                    let target = insn.near_branch_target();
                    let Some(t) = code.index_of(target) else {
                        // A target inside an instruction as decoded (code the
                        // sweep read out of step): the function holding it.
                        if in_code(target) {
                            let holder = code.function_of(code.index_at_or_after(target));
                            fun.calls.push(holder as u32);
                        }
                        fun.indirect = true;
                        continue;
                    };
                    let callee = code.function_of(t);
                    if flow != FlowControl::Call && r.contains(&t) && !code.is_start(t) {
                        continue;
                    }
                    if let Some(name) = &functions
                        .get(callee)
                        .and_then(|c| c.plt().map(str::to_owned))
                        .or_else(|| {
                            (callee == f)
                                .then(|| fun.plt().map(str::to_owned))
                                .flatten()
                        })
                    {
                        let rdi = constants(walker.before(i, RDI));
                        fun.imports.push(ImportCall {
                            name: name.clone(),
                            site: insn.ip(),
                            rdi,
                        });
                    }
                    fun.calls.push(callee as u32);
                    let kind = if flow == FlowControl::Call {
                        Kind::Call
                    } else {
                        Kind::Jump
                    };
                    push_counted(
                        &mut edges,
                        (f as u32, callee as u32, i as u32, kind),
                        budget,
                        "branches",
                    )?;
                }
                FlowControl::IndirectCall | FlowControl::IndirectBranch => {
                    let slot = insn
                        .is_ip_rel_memory_operand()
                        .then(|| facts.got.get(&insn.ip_rel_memory_address()))
                        .flatten();
                    match slot {
                        Some(Pointer::Symbol(name)) => {
                            let rdi = constants(walker.before(i, RDI));
                            fun.imports.push(ImportCall {
                                name: name.clone(),
                                site: insn.ip(),
                                rdi,
                            });
                        }
                        Some(Pointer::Local(a)) => {
                            let callee = code.function_of(code.index_at_or_after(*a));
                            fun.calls.push(callee as u32);
                            let kind = if flow == FlowControl::IndirectCall {
                                Kind::Call
                            } else {
                                Kind::Jump
                            };
                            push_counted(
                                &mut edges,
                                (f as u32, callee as u32, i as u32, kind),
                                budget,
                                "branches",
                            )?;
                        }
                        None => fun.indirect = true,
                    }
                    continue;
                }
                _ => {}
            }
            // Addresses taken: of code, or of a GOT slot (a pointer loaded).
            if insn.is_ip_rel_memory_operand() && !direct {
                let a = insn.ip_rel_memory_address();
                match facts.got.get(&a) {
                    Some(Pointer::Symbol(name)) => fun.rare_mut().taken_imports.push(name.clone()),
                    Some(Pointer::Local(a)) => fun
                        .taken
                        .push(code.function_of(code.index_at_or_after(*a)) as u32),
                    None => {}
                }
            }
            if !direct {
                for a in code_refs(insn, facts.fixed) {
                    if in_code(a) {
                        fun.taken
                            .push(code.function_of(code.index_at_or_after(a)) as u32);
                    }
                }
            }
        }
        // Running on into the next function.
        // (Alignment padding between functions does not count: a function
        // ending in `ret` followed by `nop`s does not run on.)
        let last = (r.start..r.end)
            .rev()
            .find(|&i| code.insn(i).mnemonic() != Mnemonic::Nop)
            .unwrap_or(r.end - 1);
        if r.end < code.len() && !code.is_section_start(r.end) && falls_through(&code.insn(last)) {
            fun.calls.push((f + 1) as u32);
            push_counted(
                &mut edges,
                (f as u32, (f + 1) as u32, last as u32, Kind::FallThrough),
                budget,
                "branches",
            )?;
        }
        fun.calls.sort_unstable();
        fun.calls.dedup();
        fun.taken.sort_unstable();
        fun.taken.dedup();
        if let Some(rare) = &mut fun.rare {
            rare.taken_imports.sort();
            rare.taken_imports.dedup();
        }
        budget.take(held(&fun), "functions")?;
        functions[f] = fun;
    }

    release();

    // Wrappers: resolve their number at their callers, to a fixpoint.
    let mut done: HashSet<(usize, Loc)> = HashSet::new();
    loop {
        if stop() {
            return Err(Stopped::Asked);
        }
        let mut changed = false;
        for (e, &(from, to, site, kind)) in edges.iter().enumerate() {
            let (from, to, site) = (from as usize, to as usize, site as usize);
            let params: Vec<Loc> = functions[to].params().iter().copied().collect();
            for loc in params {
                if !done.insert((e, loc)) {
                    continue;
                }
                budget.take(48, "syscall wrappers' callers")?;
                let value = match (kind, loc) {
                    (Kind::Call, Loc::Stack(d)) if d < 8 => {
                        Value::unknown("the return address's slot".into())
                    }
                    (Kind::Call, Loc::Stack(d)) => walker.before(site, Loc::Stack(d - 8)),
                    (Kind::Call | Kind::Jump, _) => walker.before(site, loc),
                    (Kind::FallThrough, _) => walker.at_end_of(site, loc),
                };
                let before = functions[from].params().len();
                let held_before = held(&functions[from]);
                let what = format!("the syscall number passed to {}", name_of(&functions, to));
                let ip = code.ip(site);
                record_site(
                    &mut functions[from],
                    ip,
                    false,
                    Some(to as u32),
                    value,
                    &what,
                );
                budget.take(
                    held(&functions[from]).saturating_sub(held_before),
                    "syscall wrappers' callers",
                )?;
                changed |= functions[from].params().len() != before;
            }
        }
        if !changed {
            break;
        }
    }

    // What only the walks needed.
    drop(walker);
    budget.give(
        size_of::<(u32, u32, u32, Kind)>() * edges.capacity()
            + size_of::<(u32, u32)>() * code.jump_sources.capacity(),
    );
    drop(edges);
    code.jump_sources = Vec::new();

    let to_function = |a: u64| -> Option<u32> {
        in_code(a).then(|| code.function_of(code.index_at_or_after(a)) as u32)
    };
    let mut roots: Vec<u32> = facts
        .init_fini
        .iter()
        .filter_map(|a| to_function(*a))
        .collect();
    roots.extend(facts.data_pointers.iter().filter_map(|&a| to_function(a)));
    let mut root_names = std::mem::take(&mut facts.data_symbols);
    roots.sort_unstable();
    roots.dedup();
    root_names.sort();
    root_names.dedup();
    // One at a time: collecting would first gather every entry in a
    // vector, beside the map it empties.
    let mut exports = BTreeMap::new();
    for (name, addresses) in std::mem::take(&mut facts.exports) {
        let mut fs: Vec<u32> = addresses.iter().filter_map(|a| to_function(*a)).collect();
        fs.dedup();
        exports.insert(name, fs);
    }
    Ok(ObjectSummary {
        format: FORMAT,
        build_id: facts.build_id.clone(),
        interp: facts.interp.clone(),
        needed: facts.needed.clone(),
        soname: facts.soname.clone(),
        rpath: facts.rpath.clone(),
        runpath: facts.runpath.clone(),
        instructions: code.len(),
        functions,
        exports,
        entry: to_function(facts.entry),
        roots,
        root_names,
    })
}

/// Why an analysis ended without a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// `stop` said to stop.
    Asked,
    /// The object needs more memory than the scan holds for one.
    TooLarge(Exhausted),
}

impl From<Exhausted> for Stopped {
    fn from(e: Exhausted) -> Stopped {
        Stopped::TooLarge(e)
    }
}

/// Pushes `item`, counting in `budget` what the vector reserves when it
/// grows, by a quarter at a time (a vector left to grow itself doubles, and
/// holds up to twice what it was given).
fn push_counted<T>(
    v: &mut Vec<T>,
    item: T,
    budget: &Budget,
    what: &'static str,
) -> Result<(), Exhausted> {
    if v.len() == v.capacity() {
        let more = (v.capacity() / 4).max(4096);
        budget.take_n(more, size_of::<T>(), what)?;
        v.reserve_exact(more);
    }
    v.push(item);
    Ok(())
}

/// The bytes a function's summary holds beyond its own size.
fn held(f: &Function) -> usize {
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
fn constants(value: Value) -> Option<Vec<u64>> {
    (value.unknown.is_none() && value.params.is_empty() && !value.consts.is_empty())
        .then(|| value.consts.into_iter().collect())
}

fn name_of(functions: &[Function], f: usize) -> String {
    match &functions[f].name {
        Some(n) => n.clone(),
        None => format!("sub_{:x}", functions[f].start),
    }
}

/// Records what a site's value means for the function holding it.
fn record_site(
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

fn is_near_branch(insn: &Instruction) -> bool {
    matches!(
        insn.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    )
}

/// Absolute addresses an instruction names: rip-relative operands, and in a
/// non-PIE file, immediates and absolute displacements.
fn code_refs(insn: &Instruction, fixed: bool) -> Vec<u64> {
    let mut out = Vec::new();
    if insn.is_ip_rel_memory_operand() {
        out.push(insn.ip_rel_memory_address());
    }
    if fixed {
        for op in 0..insn.op_count() {
            match insn.op_kind(op) {
                OpKind::Immediate32
                | OpKind::Immediate32to64
                | OpKind::Immediate64
                | OpKind::Immediate8to32
                | OpKind::Immediate8to64 => out.push(insn.immediate(op)),
                OpKind::Memory
                    if insn.memory_base() == Register::None && !insn.is_ip_rel_memory_operand() =>
                {
                    out.push(insn.memory_displacement64())
                }
                _ => {}
            }
        }
    }
    out
}

/// Walks back from an instruction to the values a location may hold there.
struct Walker<'c> {
    code: &'c Decoded<'c>,
    info: InstructionInfoFactory,
}

/// How far one walk goes (instructions visited over all paths).
const BUDGET: usize = 4000;
/// How long one path may be.
const DEPTH: u32 = 200;

enum Effect {
    Untouched(Loc),
    Const(u64),
    Unknown(String),
}

impl<'c> Walker<'c> {
    fn new(code: &'c Decoded<'c>) -> Walker<'c> {
        Walker {
            code,
            info: InstructionInfoFactory::new(),
        }
    }

    /// The values `loc` may hold just before instruction `i` runs.
    fn before(&mut self, i: usize, loc: Loc) -> Value {
        let mut state = WalkState {
            budget: BUDGET,
            visited: HashSet::new(),
        };
        let v = self.before_in(&mut state, i, loc, 0);
        if v.is_empty() {
            return Value::unknown("no path sets it".into());
        }
        v
    }

    /// The values `loc` may hold just after instruction `i` runs.
    fn at_end_of(&mut self, i: usize, loc: Loc) -> Value {
        let mut state = WalkState {
            budget: BUDGET,
            visited: HashSet::new(),
        };
        let v = self.after_in(&mut state, i, loc, 0);
        if v.is_empty() {
            return Value::unknown("no path sets it".into());
        }
        v
    }

    fn before_in(&mut self, st: &mut WalkState, i: usize, loc: Loc, depth: u32) -> Value {
        if self.code.is_start(i) {
            return Value::param(loc);
        }
        if !st.visited.insert((i, loc)) {
            // Already explored (a loop, or a join): its values are merged
            // into the result already.
            return Value::default();
        }
        if depth > DEPTH || st.budget == 0 {
            return Value::unknown(format!("too long a walk back from {:#x}", self.code.ip(i)));
        }
        st.budget -= 1;
        let mut out = Value::default();
        let mut preds = 0;
        if i > 0 && !self.code.is_section_start(i) && falls_through(&self.code.insn(i - 1)) {
            preds += 1;
            out.merge(self.after_in(st, i - 1, loc, depth + 1));
        }
        let code = self.code;
        let insn = code.insn(i);
        for &(_, p) in code.jumps_to(insn.ip()) {
            preds += 1;
            out.merge(self.after_in(st, p as usize, loc, depth + 1));
        }
        if preds == 0 && insn.mnemonic() != Mnemonic::Nop {
            out.merge(Value::unknown(format!(
                "{:#x} is reached only through a pointer",
                insn.ip()
            )));
        }
        out
    }

    fn after_in(&mut self, st: &mut WalkState, i: usize, loc: Loc, depth: u32) -> Value {
        match self.effect(i, loc) {
            Effect::Untouched(l) => self.before_in(st, i, l, depth),
            Effect::Const(v) => Value::constant(v),
            Effect::Unknown(why) => Value::unknown(why),
        }
    }

    /// What instruction `i` does to `loc`.
    fn effect(&mut self, i: usize, loc: Loc) -> Effect {
        let insn = &self.code.insn(i);
        let at = insn.ip();
        let unknown = |what: &str| Effect::Unknown(format!("{what} at {at:#x}"));
        match loc {
            Loc::Reg(_) => {
                let reg = loc.register().unwrap_or(Register::None);
                let dest = (insn.op_count() > 0 && insn.op0_kind() == OpKind::Register)
                    .then(|| insn.op0_register().full_register());
                let is_dest = dest == Some(reg);
                match insn.code() {
                    Code::Mov_r32_imm32 | Code::Mov_rm32_imm32 if is_dest => {
                        return Effect::Const(u64::from(insn.immediate32()));
                    }
                    Code::Mov_r64_imm64 | Code::Mov_rm64_imm32 if is_dest => {
                        return Effect::Const(insn.immediate(1));
                    }
                    Code::Xor_r32_rm32
                    | Code::Xor_rm32_r32
                    | Code::Xor_r64_rm64
                    | Code::Xor_rm64_r64
                    | Code::Sub_r32_rm32
                    | Code::Sub_rm32_r32
                    | Code::Sub_r64_rm64
                    | Code::Sub_rm64_r64
                        if is_dest
                            && insn.op1_kind() == OpKind::Register
                            && insn.op1_register() == insn.op0_register() =>
                    {
                        return Effect::Const(0);
                    }
                    Code::Mov_r32_rm32
                    | Code::Mov_rm32_r32
                    | Code::Mov_r64_rm64
                    | Code::Mov_rm64_r64
                        if is_dest =>
                    {
                        if insn.op1_kind() == OpKind::Register {
                            return match reg_loc(insn.op1_register()) {
                                Some(l) => Effect::Untouched(l),
                                None => unknown("copied from a special register"),
                            };
                        }
                        if insn.memory_base() == Register::RSP
                            && insn.memory_index() == Register::None
                        {
                            return Effect::Untouched(Loc::Stack(
                                insn.memory_displacement64() as i64
                            ));
                        }
                        return unknown("loaded from memory");
                    }
                    _ => {}
                }
                if insn.code() == Code::Syscall {
                    // The kernel returns in rax and clobbers rcx and r11.
                    return if matches!(reg, Register::RAX | Register::RCX | Register::R11) {
                        unknown("set by the syscall")
                    } else {
                        Effect::Untouched(loc)
                    };
                }
                match insn.flow_control() {
                    FlowControl::Call | FlowControl::IndirectCall
                        if !matches!(
                            reg,
                            Register::RBX
                                | Register::RBP
                                | Register::RSP
                                | Register::R12
                                | Register::R13
                                | Register::R14
                                | Register::R15
                        ) =>
                    {
                        return unknown("set by the call");
                    }
                    _ => {}
                }
                if insn.code() == Code::Syscall
                    && matches!(reg, Register::RAX | Register::RCX | Register::R11)
                {
                    return unknown("set by the syscall");
                }
                let info = self.info.info(insn);
                let written = info.used_registers().iter().any(|u| {
                    u.register().full_register() == reg
                        && matches!(
                            u.access(),
                            OpAccess::Write
                                | OpAccess::CondWrite
                                | OpAccess::ReadWrite
                                | OpAccess::ReadCondWrite
                        )
                });
                if written {
                    return unknown(&format!("computed ({:?})", insn.mnemonic()));
                }
                Effect::Untouched(loc)
            }
            Loc::Stack(d) => {
                match insn.code() {
                    Code::Push_r64 | Code::Pushq_imm32 | Code::Pushq_imm8 => {
                        if d == 0 {
                            return match insn.op0_kind() {
                                OpKind::Register => match reg_loc(insn.op0_register()) {
                                    Some(l) => Effect::Untouched(l),
                                    None => unknown("pushed from a special register"),
                                },
                                _ => Effect::Const(insn.immediate(0)),
                            };
                        }
                        return if d >= 8 {
                            Effect::Untouched(Loc::Stack(d - 8))
                        } else {
                            unknown("a slot below the stack pointer")
                        };
                    }
                    Code::Pop_r64 => return Effect::Untouched(Loc::Stack(d + 8)),
                    Code::Sub_rm64_imm8 | Code::Sub_rm64_imm32
                        if insn.op0_kind() == OpKind::Register
                            && insn.op0_register() == Register::RSP =>
                    {
                        let n = insn.immediate(1) as i64;
                        return if d >= n {
                            Effect::Untouched(Loc::Stack(d - n))
                        } else {
                            unknown("a slot of the frame being made")
                        };
                    }
                    Code::Add_rm64_imm8 | Code::Add_rm64_imm32
                        if insn.op0_kind() == OpKind::Register
                            && insn.op0_register() == Register::RSP =>
                    {
                        return Effect::Untouched(Loc::Stack(d + insn.immediate(1) as i64));
                    }
                    Code::Mov_rm64_r64
                    | Code::Mov_rm32_r32
                    | Code::Mov_rm64_imm32
                    | Code::Mov_rm32_imm32
                        if insn.op0_kind() == OpKind::Memory
                            && insn.memory_base() == Register::RSP
                            && insn.memory_index() == Register::None
                            && insn.memory_displacement64() as i64 == d =>
                    {
                        return match insn.code() {
                            Code::Mov_rm64_imm32 => Effect::Const(insn.immediate(1)),
                            Code::Mov_rm32_imm32 => Effect::Const(u64::from(insn.immediate32())),
                            _ => match reg_loc(insn.op1_register()) {
                                Some(l) => Effect::Untouched(l),
                                None => unknown("stored from a special register"),
                            },
                        };
                    }
                    _ => {}
                }
                if insn.code() == Code::Syscall
                    || matches!(
                        insn.flow_control(),
                        FlowControl::Call | FlowControl::IndirectCall
                    )
                {
                    return Effect::Untouched(loc);
                }
                let info = self.info.info(insn);
                let moves_sp = info.used_registers().iter().any(|u| {
                    u.register() == Register::RSP
                        && matches!(
                            u.access(),
                            OpAccess::Write
                                | OpAccess::CondWrite
                                | OpAccess::ReadWrite
                                | OpAccess::ReadCondWrite
                        )
                });
                if moves_sp {
                    return unknown("the stack pointer changes");
                }
                let overwritten = info.used_memory().iter().any(|m| {
                    m.base() == Register::RSP
                        && matches!(
                            m.access(),
                            OpAccess::Write
                                | OpAccess::CondWrite
                                | OpAccess::ReadWrite
                                | OpAccess::ReadCondWrite
                        )
                        && {
                            let start = m.displacement() as i64;
                            let len = m.memory_size().size().max(1) as i64;
                            start < d + 8 && d < start + len
                        }
                });
                if overwritten {
                    return unknown("the stack slot is overwritten");
                }
                Effect::Untouched(loc)
            }
        }
    }
}

struct WalkState {
    budget: usize,
    visited: HashSet<(usize, Loc)>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A little assembler: functions of raw x86-64 bytes, laid out from
    /// 0x1000, with calls patched to their targets.
    struct Asm {
        bytes: Vec<u8>,
        names: Vec<(u64, String)>,
        calls: Vec<(usize, String)>,
    }

    impl Asm {
        fn new() -> Asm {
            Asm {
                bytes: Vec::new(),
                names: Vec::new(),
                calls: Vec::new(),
            }
        }
        fn function(&mut self, name: &str) -> &mut Self {
            self.names
                .push((0x1000 + self.bytes.len() as u64, name.to_owned()));
            self
        }
        fn code(&mut self, bytes: &[u8]) -> &mut Self {
            self.bytes.extend_from_slice(bytes);
            self
        }
        fn call(&mut self, name: &str) -> &mut Self {
            self.bytes.push(0xe8);
            self.calls.push((self.bytes.len(), name.to_owned()));
            self.bytes.extend_from_slice(&[0; 4]);
            self
        }
        fn summary(&mut self) -> ObjectSummary {
            for (at, name) in &self.calls {
                let target = self
                    .names
                    .iter()
                    .find(|(_, n)| n == name)
                    .map(|(a, _)| *a)
                    .expect("a known function");
                let next = 0x1000 + *at as u64 + 4;
                let rel = (target as i64 - next as i64) as i32;
                self.bytes[*at..*at + 4].copy_from_slice(&rel.to_le_bytes());
            }
            let mut facts = ElfFacts {
                build_id: None,
                fixed: false,
                entry: 0x1000,
                interp: None,
                needed: Vec::new(),
                soname: None,
                rpath: Vec::new(),
                runpath: Vec::new(),
                code: vec![(0x1000, &self.bytes, ".text".into())],
                functions: self.names.iter().cloned().collect(),
                exports: BTreeMap::new(),
                got: HashMap::new(),
                data_pointers: Vec::new(),
                data_symbols: Vec::new(),
                init_fini: Vec::new(),
            };
            analyse(&mut facts, &Budget::default(), &|| false, &|| ()).expect("analysed")
        }
    }

    fn function<'s>(s: &'s ObjectSummary, name: &str) -> &'s Function {
        s.functions
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .expect("the function")
    }

    fn numbers(f: &Function) -> Vec<u64> {
        let mut n: Vec<u64> = f.syscalls().iter().map(|s| s.nr).collect();
        n.sort_unstable();
        n
    }

    const SYSCALL: [u8; 2] = [0x0f, 0x05];
    const RET: u8 = 0xc3;

    #[test]
    fn constants_before_the_syscall() {
        let s = Asm::new()
            .function("getpid")
            .code(&[0xb8, 39, 0, 0, 0]) // mov eax, 39
            .code(&SYSCALL)
            .code(&[RET])
            .function("read")
            .code(&[0x31, 0xc0]) // xor eax, eax
            .code(&[0x49, 0x89, 0xca]) // mov r10, rcx
            .code(&SYSCALL)
            .code(&[RET])
            .summary();
        assert_eq!(numbers(function(&s, "getpid")), [39]);
        assert_eq!(numbers(function(&s, "read")), [0]);
    }

    #[test]
    fn both_paths_of_a_branch() {
        let s = Asm::new()
            .function("f")
            .code(&[0x85, 0xff]) // test edi, edi
            .code(&[0x74, 0x07]) // je +7
            .code(&[0xb8, 1, 0, 0, 0]) // mov eax, 1
            .code(&[0xeb, 0x05]) // jmp +5
            .code(&[0xb8, 2, 0, 0, 0]) // mov eax, 2
            .code(&SYSCALL)
            .code(&[RET])
            .summary();
        assert_eq!(numbers(function(&s, "f")), [1, 2]);
        assert!(function(&s, "f").unresolved().is_empty());
    }

    #[test]
    fn a_wrapper_is_resolved_at_its_call_sites() {
        let s = Asm::new()
            .function("syscall")
            .code(&[0x48, 0x89, 0xf8]) // mov rax, rdi
            .code(&SYSCALL)
            .code(&[RET])
            .function("user")
            .code(&[0xbf, 62, 0, 0, 0]) // mov edi, 62 (kill)
            .call("syscall")
            .code(&[0xbf, 39, 0, 0, 0]) // mov edi, 39
            .call("syscall")
            .code(&[RET])
            .function("computed")
            .code(&[0x8b, 0x3e]) // mov edi, [rsi]
            .call("syscall")
            .code(&[RET])
            .summary();
        let wrapper = function(&s, "syscall");
        assert!(wrapper.syscalls().is_empty());
        assert_eq!(wrapper.params().iter().copied().collect::<Vec<_>>(), [RDI]);
        let user = function(&s, "user");
        assert_eq!(numbers(user), [39, 62]);
        assert!(user.syscalls().iter().all(|u| u.via.is_some()));
        let computed = function(&s, "computed");
        assert!(computed.syscalls().is_empty());
        assert_eq!(
            computed.unresolved().len(),
            1,
            "{:?}",
            computed.unresolved()
        );
        assert!(
            computed.unresolved()[0]
                .reason
                .contains("loaded from memory")
        );
    }

    /// Go's `syscall.Syscall`: the number arrives in rax, is spilled to the
    /// stack across a call, and reloaded before the wrapper below it.
    #[test]
    fn a_number_through_a_stack_slot_and_two_wrappers() {
        let s = Asm::new()
            .function("Syscall6")
            .code(&SYSCALL) // number in rax at entry
            .code(&[RET])
            .function("entersyscall")
            .code(&[0x31, 0xc0, RET]) // xor eax, eax; ret (clobbers rax)
            .function("Syscall")
            .code(&[0x48, 0x83, 0xec, 0x18]) // sub rsp, 0x18
            .code(&[0x48, 0x89, 0x44, 0x24, 0x08]) // mov [rsp+8], rax
            .call("entersyscall")
            .code(&[0x48, 0x8b, 0x44, 0x24, 0x08]) // mov rax, [rsp+8]
            .call("Syscall6")
            .code(&[0x48, 0x83, 0xc4, 0x18]) // add rsp, 0x18
            .code(&[RET])
            .function("exit")
            .code(&[0xb8, 231, 0, 0, 0]) // mov eax, 231 (exit_group)
            .call("Syscall")
            .code(&[RET])
            .summary();
        assert_eq!(
            function(&s, "Syscall")
                .params()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [RAX]
        );
        assert_eq!(numbers(function(&s, "exit")), [231]);
    }

    #[test]
    fn the_return_value_of_a_call_is_not_a_number() {
        let s = Asm::new()
            .function("g")
            .code(&[0x31, 0xc0, RET])
            .function("f")
            .call("g")
            .code(&SYSCALL)
            .code(&[RET])
            .summary();
        let f = function(&s, "f");
        assert!(f.syscalls().is_empty());
        assert!(
            f.unresolved()[0].reason.contains("set by the call"),
            "{:?}",
            f.unresolved()
        );
    }

    #[test]
    fn padding_after_ret_does_not_run_on() {
        let s = Asm::new()
            .function("a")
            .code(&[RET, 0x66, 0x90, 0x90]) // ret; xchg ax, ax; nop
            .function("b")
            .code(&[0xb8, 60, 0, 0, 0])
            .code(&SYSCALL)
            .function("c")
            .code(&[0xb8, 39, 0, 0, 0])
            .code(&SYSCALL)
            .code(&[RET])
            .summary();
        let index = |name: &str| {
            s.functions
                .iter()
                .position(|f| f.name.as_deref() == Some(name))
                .expect("the function") as u32
        };
        assert!(function(&s, "a").calls.is_empty());
        // b has no ret: it runs on into c.
        assert_eq!(function(&s, "b").calls, [index("c")]);
    }
}
