//! What the analysis needs from one ELF file, read with the `object` crate:
//! its code, its symbols, its dynamic section and the targets of its
//! relocations and pointer-sized data words.

use std::collections::{BTreeMap, HashMap};

use object::{
    LittleEndian as LE, Object, ObjectSection,
    elf::{FileHeader64, Rela64},
    read::elf::{ElfFile64, FileHeader, ProgramHeader, Rela, SectionHeader, Sym},
};

use super::{
    ScanError,
    budget::{Budget, Exhausted},
};

// The raw values of the ELF constants used below (object 0.40 wraps them in
// newtypes; the numbers are the ELF specification's).
const ET_EXEC: u16 = 2;
const EM_X86_64: u16 = 62;
const SHT_NOBITS: u32 = 8;
const SHT_RELA: u32 = 4;
const SHF_ALLOC: u64 = 0x2;
const SHF_EXECINSTR: u64 = 0x4;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STB_LOCAL: u8 = 0;
const DT_NEEDED: i64 = 1;
const DT_INIT: i64 = 12;
const DT_FINI: i64 = 13;
const DT_SONAME: i64 = 14;
const DT_RPATH: i64 = 15;
const DT_RUNPATH: i64 = 29;
const R_X86_64_64: u32 = 1;
const R_X86_64_GLOB_DAT: u32 = 6;
const R_X86_64_JUMP_SLOT: u32 = 7;
const R_X86_64_RELATIVE: u32 = 8;
const R_X86_64_IRELATIVE: u32 = 37;

/// The most code a scan decodes: it bounds the time a scan takes (the
/// memory it holds is bounded by the analysis's budget), and the largest
/// programs have tens of MiB of code.
pub(crate) const MAX_CODE: u64 = 128 << 20;

/// What a function symbol's entry in [`ElfFacts::functions`] holds
/// beyond its name: its part of a node of the map (nodes are half full when
/// filled in order) and the allocator's rounding of the name.
pub(crate) const SYMBOL: usize = 96;

/// The same for an entry of [`ElfFacts::exports`] (a name and a vector).
const EXPORT: usize = 128;

/// Symbols or relocations read between two releases of the file's pages
/// (their names are read too: a few MiB).
const RELEASE_SYMBOLS: usize = 1 << 15;

/// Bytes of data read between two releases of the file's pages.
const RELEASE_BYTES: usize = 8 << 20;

/// The most data searched for function pointers.
pub(crate) const MAX_DATA: u64 = 1 << 30;

/// A pointer the loader writes or the file holds: to a symbol looked up by
/// name in the global scope, or to an address of this object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pointer {
    Symbol(String),
    Local(u64),
}

/// The facts of one ELF file the rest of the analysis uses.
pub(crate) struct ElfFacts<'a> {
    pub build_id: Option<String>,
    /// A non-PIE executable (absolute addresses in code and data).
    pub fixed: bool,
    pub entry: u64,
    pub interp: Option<String>,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// The executable sections: (address, bytes, name).
    pub code: Vec<(u64, &'a [u8], String)>,
    /// Function symbols (static and dynamic tables): address to name.
    pub functions: BTreeMap<u64, String>,
    /// Dynamic symbols this object defines for others (functions and
    /// IFUNCs): name to addresses (one per symbol version).
    pub exports: BTreeMap<String, Vec<u64>>,
    /// Slots of the GOT (.got, .got.plt) and what the loader puts there.
    pub got: HashMap<u64, Pointer>,
    /// Addresses of this object's code in the other data (function
    /// tables, init arrays, vtables): every one is a function someone may
    /// call. Sorted, each once.
    pub data_pointers: Vec<u64>,
    /// Symbols whose address the loader writes in the other data.
    pub data_symbols: Vec<String>,
    /// DT_INIT and DT_FINI.
    pub init_fini: Vec<u64>,
}

impl<'a> ElfFacts<'a> {
    /// Reads what the analysis needs, counting what it keeps in `budget`
    /// (one line naming what overflowed it, if something does); `release`
    /// lets go of the pages read so far.
    pub(crate) fn parse(
        path: &std::path::Path,
        data: &'a [u8],
        budget: &Budget,
        release: &dyn Fn(),
    ) -> Result<ElfFacts<'a>, ScanError> {
        let bad = |what: String| ScanError::Elf {
            path: path.to_owned(),
            what,
        };
        let over = |e: Exhausted| bad(e.describe());
        let file = ElfFile64::<LE>::parse(data).map_err(|e| bad(e.to_string()))?;
        let endian = file.endian();
        let header = file.elf_header();
        if header.e_machine(endian).0 != EM_X86_64 {
            return Err(bad(
                "not an x86-64 ELF file (only x86-64 is analysed)".into()
            ));
        }
        let fixed = header.e_type(endian).0 == ET_EXEC;
        let sections = file.elf_section_table();

        let mut interp = None;
        for ph in file.elf_program_headers() {
            if let Ok(Some(bytes)) = ph.interpreter(endian, data) {
                interp = Some(String::from_utf8_lossy(bytes).into_owned());
            }
        }

        let mut needed = Vec::new();
        let mut soname = None;
        let mut rpath = Vec::new();
        let mut runpath = Vec::new();
        let mut init_fini = Vec::new();
        if let Ok(dynamic) = file.elf_dynamic_table() {
            for d in dynamic.iter() {
                let string = || {
                    dynamic
                        .string(d)
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .ok()
                };
                let split = |s: String| -> Vec<String> {
                    s.split(':')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect()
                };
                budget
                    .take(64 + string().map_or(0, |s| s.len()), "dynamic section")
                    .map_err(over)?;
                match d.tag.0 {
                    DT_NEEDED => needed.extend(string()),
                    DT_SONAME => soname = string(),
                    DT_RPATH => rpath.extend(string().map(split).unwrap_or_default()),
                    DT_RUNPATH => runpath.extend(string().map(split).unwrap_or_default()),
                    DT_INIT | DT_FINI if d.val != 0 => init_fini.push(d.val),
                    _ => {}
                }
            }
        }

        let mut code = Vec::new();
        let mut data_sections = Vec::new();
        let mut got_ranges = Vec::new();
        for section in file.sections() {
            let sh = section.elf_section_header();
            let flags = sh.sh_flags(endian).0;
            if flags & SHF_ALLOC == 0 || sh.sh_type(endian).0 == SHT_NOBITS {
                continue;
            }
            let name = section.name().unwrap_or("").to_owned();
            let Ok(bytes) = section.data() else { continue };
            let address = section.address();
            // Every address inside a section is then an address plus an
            // offset that cannot overflow.
            if address.checked_add(bytes.len() as u64).is_none() {
                return Err(bad(format!(
                    "its section {name:?} ({} bytes at {address:#x}) ends past the end of the                      address space: a corrupt file",
                    bytes.len()
                )));
            }
            if flags & SHF_EXECINSTR != 0 {
                code.push((address, bytes, name));
            } else if name == ".got" || name == ".got.plt" {
                got_ranges.push(address..address + bytes.len() as u64);
            } else {
                data_sections.push((address, bytes));
            }
        }
        if file.elf_section_table().is_empty() {
            return Err(bad(
                "it has no section headers, so its code cannot be found (a corrupt file, or one \
                 stripped of them): it cannot be scanned"
                    .into(),
            ));
        }
        let code_bytes: u64 = code.iter().map(|(_, b, _)| b.len() as u64).sum();
        if code_bytes > MAX_CODE {
            return Err(bad(format!(
                "it has {code_bytes} bytes of code, more than the {MAX_CODE} a scan decodes (the \
                 largest programs have tens of MiB)"
            )));
        }
        let data_bytes: u64 = data_sections.iter().map(|(_, b)| b.len() as u64).sum();
        if data_bytes > MAX_DATA {
            return Err(bad(format!(
                "it has {data_bytes} bytes of data, more than the {MAX_DATA} a scan reads for \
                 function pointers"
            )));
        }
        code.sort_by_key(|c| c.0);
        let in_code = |a: u64| {
            code.iter()
                .any(|(start, bytes, _)| a >= *start && a < start + bytes.len() as u64)
        };
        let in_got = |a: u64| got_ranges.iter().any(|r| r.contains(&a));

        let mut functions = BTreeMap::new();
        for table in [file.elf_symbol_table(), file.elf_dynamic_symbol_table()] {
            let strings = table.strings();
            for (i, sym) in table.symbols().iter().enumerate() {
                if i.is_multiple_of(RELEASE_SYMBOLS) {
                    release();
                }
                let kind = sym.st_type().0;
                if (kind == STT_FUNC || kind == STT_GNU_IFUNC) && !sym.is_undefined(endian) {
                    let value = sym.st_value(endian);
                    if let Ok(name) = sym.name(endian, strings)
                        && let std::collections::btree_map::Entry::Vacant(slot) =
                            functions.entry(value)
                    {
                        budget
                            .take(SYMBOL + name.len(), "function symbols")
                            .map_err(over)?;
                        slot.insert(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
        }
        // A stripped Go binary still names its functions in .gopclntab.
        if let Some(section) = file.section_by_name(".gopclntab")
            && let Ok(bytes) = section.data()
        {
            for (address, name) in go_functions(bytes, budget).map_err(over)? {
                functions.entry(address).or_insert(name);
            }
        }
        let mut exports: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        {
            let table = file.elf_dynamic_symbol_table();
            let strings = table.strings();
            for (i, sym) in table.symbols().iter().enumerate() {
                if i.is_multiple_of(RELEASE_SYMBOLS) {
                    release();
                }
                let kind = sym.st_type().0;
                if (kind == STT_FUNC || kind == STT_GNU_IFUNC)
                    && !sym.is_undefined(endian)
                    && sym.st_bind().0 != STB_LOCAL
                    && let Ok(name) = sym.name(endian, strings)
                {
                    budget.take(EXPORT + name.len(), "exports").map_err(over)?;
                    let list = exports
                        .entry(String::from_utf8_lossy(name).into_owned())
                        .or_default();
                    let value = sym.st_value(endian);
                    if !list.contains(&value) {
                        list.push(value);
                    }
                }
            }
        }

        // Relocations: every SHT_RELA section the loader applies.
        let mut got = HashMap::new();
        let mut data_pointers: Vec<u64> = Vec::new();
        let mut data_symbols: Vec<String> = Vec::new();
        let dynsym = file.elf_dynamic_symbol_table();
        for sh in sections.iter() {
            if sh.sh_type(endian).0 != SHT_RELA || sh.sh_flags(endian).0 & SHF_ALLOC == 0 {
                continue;
            }
            let Ok(relas) = sh.data_as_array::<Rela64<LE>, _>(endian, data) else {
                continue;
            };
            let symbols = (sh.sh_link(endian) as usize == dynsym.section().0).then_some(&dynsym);
            for (i, rela) in relas.iter().enumerate() {
                if i.is_multiple_of(RELEASE_SYMBOLS) {
                    release();
                }
                let offset = rela.r_offset(endian);
                let addend = rela.r_addend(endian) as u64;
                let kind = rela.r_type(endian, false).0;
                let symbol = || -> Option<String> {
                    let index = rela.symbol(endian, false)?;
                    let table = symbols?;
                    let sym = table.symbol(index).ok()?;
                    let name = sym.name(endian, table.strings()).ok()?;
                    Some(String::from_utf8_lossy(name).into_owned())
                };
                let pointer = match kind {
                    R_X86_64_RELATIVE | R_X86_64_IRELATIVE => Some(Pointer::Local(addend)),
                    R_X86_64_64 | R_X86_64_GLOB_DAT | R_X86_64_JUMP_SLOT => {
                        symbol().map(Pointer::Symbol)
                    }
                    _ => None,
                };
                let Some(pointer) = pointer else { continue };
                if let Pointer::Local(a) = pointer
                    && !in_code(a)
                {
                    continue;
                }
                // IFUNC resolvers are all called at startup by the loader
                // (or by a static binary's own startup code).
                if let Pointer::Local(a) = pointer
                    && (kind == R_X86_64_IRELATIVE || !in_got(offset))
                {
                    budget.take(8, "relocations").map_err(over)?;
                    data_pointers.push(a);
                }
                if in_got(offset) {
                    let held = match &pointer {
                        Pointer::Symbol(name) => 64 + name.len(),
                        Pointer::Local(_) => 64,
                    };
                    budget.take(held, "relocations").map_err(over)?;
                    got.insert(offset, pointer);
                } else if let Pointer::Symbol(name) = pointer {
                    budget.take(32 + name.len(), "relocations").map_err(over)?;
                    data_symbols.push(name);
                }
            }
        }
        // A non-PIE file holds absolute addresses in its data, with no
        // relocation to tell where: every aligned word that is an address
        // of code counts (the GOT's own words included).
        if fixed {
            let mut read = 0usize;
            let mut words = |start: u64, bytes: &[u8], into_got: bool| -> Result<(), ScanError> {
                for (i, chunk) in bytes.chunks_exact(8).enumerate() {
                    read += 8;
                    if read.is_multiple_of(RELEASE_BYTES) {
                        release();
                    }
                    let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                    if in_code(value) {
                        if into_got {
                            budget.take(64, "pointers to code in data").map_err(over)?;
                            got.entry(start + 8 * i as u64)
                                .or_insert(Pointer::Local(value));
                        } else {
                            budget.take(8, "pointers to code in data").map_err(over)?;
                            data_pointers.push(value);
                        }
                    }
                }
                Ok(())
            };
            for (start, bytes) in &data_sections {
                words(*start, bytes, false)?;
            }
            for section in file.sections() {
                let name = section.name().unwrap_or("");
                if (name == ".got" || name == ".got.plt")
                    && let Ok(bytes) = section.data()
                {
                    words(section.address(), bytes, true)?;
                }
            }
        }

        let kept = data_pointers.len();
        data_pointers.sort_unstable();
        data_pointers.dedup();
        data_pointers.shrink_to_fit();
        budget.give(8 * (kept - data_pointers.len()));

        let build_id = build_id(data);
        Ok(ElfFacts {
            build_id,
            fixed,
            entry: header.e_entry(endian),
            interp,
            needed,
            soname,
            rpath,
            runpath,
            code,
            functions,
            exports,
            got,
            data_pointers,
            data_symbols,
            init_fini,
        })
    }
}

/// The GNU build id of an ELF file, in hex, read from its notes only.
pub(crate) fn build_id(data: &[u8]) -> Option<String> {
    let file = ElfFile64::<LE>::parse(data).ok()?;
    let id = file.build_id().ok()??;
    Some(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `data` starts like an x86-64 ELF file (for the loader's search,
/// which skips files of another class or machine).
pub(crate) fn is_x86_64_elf(data: &[u8]) -> bool {
    let Ok(header) = FileHeader64::<LE>::parse(data) else {
        return false;
    };
    header
        .endian()
        .is_ok_and(|e| header.e_machine(e).0 == EM_X86_64)
}

/// Function names from Go's `.gopclntab` (the Go 1.18+ layout, kept by
/// stripped binaries because the runtime needs it for tracebacks): a header
/// of magic, pad, minLC, ptrSize, then nfunc, nfiles, textStart,
/// funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset (each a
/// pointer-sized word); at pclnOffset, nfunc pairs (entry offset from
/// textStart, offset of the func record); a func record starts with its
/// entry offset and the offset of its name in the funcname table.
pub(crate) fn go_functions(data: &[u8], budget: &Budget) -> Result<Vec<(u64, String)>, Exhausted> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            data.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let word = |i: usize| -> Option<usize> {
        let at = 8 + 8 * i;
        usize::try_from(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?)).ok()
    };
    let mut out = Vec::new();
    let Some(magic) = u32_at(0) else {
        return Ok(out);
    };
    if !matches!(magic, 0xffff_fff0 | 0xffff_fff1) || data.get(7) != Some(&8) {
        return Ok(out);
    }
    let (Some(nfunc), Some(text_start), Some(names), Some(pcln)) =
        (word(0), word(2), word(3), word(7))
    else {
        return Ok(out);
    };
    // Offsets come from the file: added without overflowing, and a name is
    // looked for its end within a bound (a crafted table could make every
    // name run to the end of the section).
    const NAME_MAX: usize = 4096;
    for i in 0..nfunc.min(data.len() / 8) {
        let Some(at) = pcln.checked_add(8 * i) else {
            break;
        };
        let (Some(entry), Some(func)) = (u32_at(at), at.checked_add(4).and_then(u32_at)) else {
            break;
        };
        let Some(name_off) = pcln
            .checked_add(func as usize)
            .and_then(|a| a.checked_add(4))
            .and_then(u32_at)
        else {
            continue;
        };
        let Some(rest) = names
            .checked_add(name_off as usize)
            .and_then(|start| data.get(start..))
        else {
            continue;
        };
        let rest = &rest[..rest.len().min(NAME_MAX)];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(0);
        budget.take(64 + end, "Go function table")?;
        out.push((
            (text_start as u64).wrapping_add(u64::from(entry)),
            String::from_utf8_lossy(&rest[..end]).into_owned(),
        ));
    }
    Ok(out)
}
