//! The code of an object, decoded on demand ([`Decoded`]), and what the
//! analysis asks of one instruction.

use std::cell::RefCell;

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, OpKind, Register};

use super::{STOP_EVERY, Stopped};
use crate::scan::budget::Exhausted;

/// Instructions decoded together, and the unit of the cache.
const BLOCK: usize = 32;
/// Blocks the cache holds (direct-mapped): about 1.3 MiB.
const CACHE_BLOCKS: usize = 1024;
/// Blocks decoded between two releases of the code's pages: a block read
/// maps up to 64 KiB of the file (the kernel maps the pages around the one
/// touched), so the file's resident pages stay within 8 MiB (see
/// [`analyse`](super::analyse)'s `release`).
const RELEASE_EVERY: usize = 128;

/// One executable section.
pub(super) struct Section<'a> {
    address: u64,
    bytes: &'a [u8],
    /// The index of its first instruction (of the next section's when it
    /// has none).
    pub(super) first: usize,
}

/// The code, decoded on demand. The sweep keeps where every [`BLOCK`]th
/// instruction starts; an instruction is decoded again, with its block,
/// when asked for, and recent blocks are cached. A decoded instruction
/// takes 40 bytes, and code holds one every 4 bytes or so: kept whole, the
/// decoded code of a large program took ten times its size in memory.
pub(super) struct Decoded<'a> {
    pub(super) sections: Vec<Section<'a>>,
    /// Where instruction `BLOCK * k` starts: (section, offset in it).
    pub(super) marks: Vec<(u32, u32)>,
    len: usize,
    cache: RefCell<Cache>,
    release: &'a dyn Fn(),
    /// Indexes of the first instruction of each function, in order.
    pub(super) starts: Vec<u32>,
    /// The same, one bit an instruction (the walks ask at every step).
    pub(super) is_start: Vec<u64>,
    /// (target's offset in the code, index of a direct jump to it), by
    /// target.
    pub(super) jump_sources: Vec<(u32, u32)>,
    pub(super) layout: Layout,
}

/// Where each section's bytes are in the code taken as one run of bytes:
/// an address of code as a 32-bit offset (the code is at most
/// [`super::elf::MAX_CODE`](super::super::elf::MAX_CODE) bytes).
#[derive(Default)]
pub(super) struct Layout {
    /// (address, length, offset), by address.
    sections: Vec<(u64, u64, u32)>,
}

impl Layout {
    pub(super) fn of(code: &[(u64, &[u8], String)]) -> Layout {
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
    pub(super) fn offset(&self, address: u64) -> Option<u32> {
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
    pub(super) fn sweep(
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

    pub(super) fn len(&self) -> usize {
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
    pub(super) fn insn(&self, i: usize) -> Instruction {
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

    pub(super) fn ip(&self, i: usize) -> u64 {
        self.insn(i).ip()
    }

    fn mark_ip(&self, b: usize) -> u64 {
        let (s, offset) = self.marks[b];
        self.sections[s as usize].address + u64::from(offset)
    }

    /// The index of the first instruction at or after `address`.
    pub(super) fn index_at_or_after(&self, address: u64) -> usize {
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

    pub(super) fn index_of(&self, address: u64) -> Option<usize> {
        let i = self.index_at_or_after(address);
        (i < self.len && self.ip(i) == address).then_some(i)
    }

    pub(super) fn is_start(&self, i: usize) -> bool {
        self.is_start
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    pub(super) fn is_section_start(&self, i: usize) -> bool {
        let k = self.sections.partition_point(|s| s.first < i);
        self.sections.get(k).is_some_and(|s| s.first == i)
    }

    pub(super) fn function_of(&self, index: usize) -> usize {
        self.starts
            .partition_point(|s| *s as usize <= index)
            .saturating_sub(1)
    }

    /// The direct jumps to `address`.
    pub(super) fn jumps_to(&self, address: u64) -> &[(u32, u32)] {
        let Some(target) = self.layout.offset(address) else {
            return &[];
        };
        let from = self.jump_sources.partition_point(|j| j.0 < target);
        let to = self.jump_sources.partition_point(|j| j.0 <= target);
        &self.jump_sources[from..to]
    }
}

pub(super) fn falls_through(insn: &Instruction) -> bool {
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

pub(super) fn is_syscall(insn: &Instruction) -> Option<bool> {
    match insn.code() {
        Code::Syscall => Some(false),
        Code::Sysenter => Some(true),
        Code::Int_imm8 if insn.immediate8() == 0x80 => Some(true),
        _ => None,
    }
}
/// Bytes of code swept between two releases of the code's pages.
const RELEASE_BYTES: usize = 4 << 20;

pub(super) fn is_near_branch(insn: &Instruction) -> bool {
    matches!(
        insn.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    )
}

/// Absolute addresses an instruction names: rip-relative operands, and in a
/// non-PIE file, immediates and absolute displacements.
pub(super) fn code_refs(insn: &Instruction, fixed: bool) -> Vec<u64> {
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
