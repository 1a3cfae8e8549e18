//! A little assembler for the analysis' tests: functions of raw x86-64
//! bytes, analysed as an object's code.

use std::collections::{BTreeMap, HashMap};

use super::{ObjectSummary, analyse};
use crate::scan::{budget::Budget, elf::ElfFacts};
/// A little assembler: functions of raw x86-64 bytes, laid out from
/// 0x1000, with calls patched to their targets.
pub(super) struct Asm {
    bytes: Vec<u8>,
    names: Vec<(u64, String)>,
    calls: Vec<(usize, String)>,
}

impl Asm {
    pub(super) fn new() -> Asm {
        Asm {
            bytes: Vec::new(),
            names: Vec::new(),
            calls: Vec::new(),
        }
    }
    pub(super) fn function(&mut self, name: &str) -> &mut Self {
        self.names
            .push((0x1000 + self.bytes.len() as u64, name.to_owned()));
        self
    }
    pub(super) fn code(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }
    pub(super) fn call(&mut self, name: &str) -> &mut Self {
        self.bytes.push(0xe8);
        self.calls.push((self.bytes.len(), name.to_owned()));
        self.bytes.extend_from_slice(&[0; 4]);
        self
    }
    pub(super) fn summary(&mut self) -> ObjectSummary {
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
