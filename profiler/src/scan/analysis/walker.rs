//! The walk back from an instruction to the values a location (a
//! register or a stack slot) may hold there.

use std::collections::HashSet;

use iced_x86::{Code, FlowControl, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register};

use super::{
    decoded::{Decoded, falls_through},
    summary::{Loc, Value, reg_loc},
};

/// Walks back from an instruction to the values a location may hold there.
pub(super) struct Walker<'c> {
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
    pub(super) fn new(code: &'c Decoded<'c>) -> Walker<'c> {
        Walker {
            code,
            info: InstructionInfoFactory::new(),
        }
    }

    /// The values `loc` may hold just before instruction `i` runs.
    pub(super) fn before(&mut self, i: usize, loc: Loc) -> Value {
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
    pub(super) fn at_end_of(&mut self, i: usize, loc: Loc) -> Value {
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
