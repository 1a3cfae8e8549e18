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

#[cfg(test)]
mod asm;
mod decoded;
mod summary;
mod walker;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use iced_x86::{Code, FlowControl, Mnemonic};

use super::{
    budget::{Budget, Exhausted},
    elf::{ElfFacts, Pointer, SYMBOL},
};
use decoded::{Decoded, Layout, code_refs, falls_through, is_near_branch, is_syscall};
pub(crate) use summary::Loc;
pub use summary::{Function, ImportCall, ObjectSummary};
use summary::{RAX, RDI, Value, constants, held, name_of, record_site};
use walker::Walker;

/// Bump when the summary's meaning changes: cached summaries of another
/// format are ignored.
pub(crate) const FORMAT: u32 = 7;

/// How many instructions are decoded, or functions walked, between two
/// looks whether the analysis must stop: a few milliseconds of work.
const STOP_EVERY: usize = 1 << 16;

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

#[cfg(test)]
mod tests {
    use super::asm::Asm;
    use super::*;

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
