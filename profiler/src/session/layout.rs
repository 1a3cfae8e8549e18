//! The offsets of the kernel structure fields the event hooks read, from the
//! running kernel's BTF. The eBPF side is built without CO-RE relocations,
//! so it cannot find them itself; they differ between kernel builds.
//!
//! Why a reader of its own: the BTF of a kernel holds some 150 000 types,
//! and it is read at every recording. aya parses BTF but does not expose
//! struct members; the `btf` crate does, but builds a flattened copy of
//! every type first, which took 1.5 s here even optimised (2.5 s in a debug
//! build): a second and more added to every recording. Finding a few
//! members needs only a walk of the type section (the format is the
//! kernel's `Documentation/bpf/btf.rst`), which takes milliseconds.
//!
//! The same walk finds the type ids the BTF tracepoints attach by (see
//! [`KernelTypes::tracepoint_btf`]), so that the kernel's BTF is not parsed
//! once more for them.

use std::collections::HashMap;

use aya::{Btf, BtfError, Endianness};
use profiler_common::KernelLayout;

/// Where the kernel publishes its own BTF.
pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, thiserror::Error)]
pub(crate) enum LayoutError {
    #[error("cannot read the kernel's BTF at {VMLINUX_BTF}: {0}")]
    Read(#[from] std::io::Error),
    #[error("the kernel's BTF at {VMLINUX_BTF} is malformed: {0}")]
    Malformed(&'static str),
    #[error("the kernel's BTF has no field {0}")]
    Missing(&'static str),
}

/// The BTF tracepoints the programs attach to: each is attached by the id
/// of its `btf_trace_<name>` typedef in the kernel's BTF.
pub(crate) const BTF_TRACEPOINTS: [&str; 2] = ["sys_enter", "sys_exit"];

/// What the programs need of the kernel's BTF.
#[derive(Debug, Clone)]
pub(crate) struct KernelTypes {
    /// The offsets the programs read the kernel's structures through.
    pub layout: KernelLayout,
    /// The type id of each of [`BTF_TRACEPOINTS`]' `btf_trace_` typedefs
    /// the kernel has.
    tracepoints: Vec<(&'static str, u32)>,
}

impl KernelTypes {
    /// A BTF for attaching [`BTF_TRACEPOINTS`] with aya: each
    /// `btf_trace_<name>` typedef at the id it has in the kernel's BTF,
    /// every other id a placeholder (a pointer to void). aya 0.14's
    /// `BtfTracePoint::load` reads nothing of the BTF it is given but that
    /// id, which it passes to the kernel as `attach_btf_id`; parsing the
    /// kernel's 5 MB of BTF again for it took 0.8 MiB more of the
    /// recorder's peak than this (a few hundred KB).
    pub(crate) fn tracepoint_btf(&self) -> Result<Btf, BtfError> {
        const HEADER_LEN: u32 = 24;
        const TYPE_LEN: u32 = 12;
        const KIND_PTR: u32 = 2;
        const KIND_TYPEDEF: u32 = 8;
        let mut strings = vec![0u8];
        let named: Vec<(u32, u32)> = self
            .tracepoints
            .iter()
            .map(|&(name, id)| {
                let offset = strings.len() as u32;
                strings.extend_from_slice(format!("btf_trace_{name}").as_bytes());
                strings.push(0);
                (id, offset)
            })
            .collect();
        let count = named.iter().map(|&(id, _)| id).max().unwrap_or(0);
        let types_len = count * TYPE_LEN;
        let mut blob = Vec::with_capacity((HEADER_LEN + types_len) as usize + strings.len());
        blob.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        blob.extend_from_slice(&[1, 0]); // version 1, no flags
        for word in [HEADER_LEN, 0, types_len, types_len, strings.len() as u32] {
            blob.extend_from_slice(&word.to_le_bytes());
        }
        for id in 1..=count {
            let (name, kind) = match named.iter().find(|&&(named_id, _)| named_id == id) {
                Some(&(_, offset)) => (offset, KIND_TYPEDEF),
                None => (0, KIND_PTR),
            };
            for word in [name, kind << 24, 0] {
                blob.extend_from_slice(&word.to_le_bytes());
            }
        }
        blob.extend_from_slice(&strings);
        Btf::parse(&blob, Endianness::Little)
    }
}

/// Reads the offsets and the tracepoints' type ids from the kernel's BTF.
pub(crate) fn kernel_types() -> Result<KernelTypes, LayoutError> {
    let data = std::fs::read(VMLINUX_BTF)?;
    let btf = Structs::parse(&data)?;
    let field = |path: &'static str| btf.offset(path).ok_or(LayoutError::Missing(path));
    let layout = KernelLayout {
        task_pid: field("task_struct.pid")?,
        task_tgid: field("task_struct.tgid")?,
        task_comm: field("task_struct.comm")?,
        task_cgroups: field("task_struct.cgroups")?,
        task_seccomp_mode: field("task_struct.seccomp")? + field("seccomp.mode")?,
        task_exit_code: field("task_struct.exit_code")?,
        task_signal: field("task_struct.signal")?,
        signal_flags: field("signal_struct.flags")?,
        css_set_dfl_cgrp: field("css_set.dfl_cgrp")?,
        cgroup_kn: field("cgroup.kn")?,
        cgroup_root: field("cgroup.root")?,
        cgroup_level: field("cgroup.level")?,
        cgroup_ancestors: field("cgroup.ancestors")?,
        cgroup_parent_css: field("cgroup.self")? + field("cgroup_subsys_state.parent")?,
        css_cgroup: field("cgroup_subsys_state.cgroup")?,
        root_hierarchy_id: field("cgroup_root.hierarchy_id")?,
        kernfs_node_id: field("kernfs_node.id")?,
        bprm_filename: field("linux_binprm.filename")?,
        valid: 1,
    };
    let tracepoints = BTF_TRACEPOINTS
        .into_iter()
        .filter_map(|name| Some((name, btf.typedef(&format!("btf_trace_{name}"))?)))
        .collect();
    Ok(KernelTypes {
        layout,
        tracepoints,
    })
}

/// One member of a struct or union: name (empty when anonymous), type id,
/// offset in bits.
#[derive(Debug, Clone, Copy)]
struct Member<'a> {
    name: &'a str,
    type_id: u32,
    bit_offset: u32,
}

/// The structs and unions of a BTF blob, with their members; the other
/// kinds only keep their type id (a member's type may be a typedef or a
/// modifier, which `resolve` follows to the struct).
struct Structs<'a> {
    /// By type id: members of a struct or union, or the type a typedef or
    /// modifier refers to.
    types: Vec<Kind<'a>>,
    /// Struct names to type ids (the one with the most members wins: a
    /// name can also be a forward declaration).
    by_name: HashMap<&'a str, u32>,
    /// The type ids of the `btf_trace_` typedefs, by name.
    trace_typedefs: HashMap<&'a str, u32>,
}

#[derive(Debug, Clone)]
enum Kind<'a> {
    Composite(Vec<Member<'a>>),
    Refers(u32),
    Other,
}

const BTF_MAGIC: u16 = 0xeb9f;

impl<'a> Structs<'a> {
    fn parse(data: &'a [u8]) -> Result<Structs<'a>, LayoutError> {
        let u16_at = |at: usize| {
            data.get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let u32_at = |at: usize| {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if u16_at(0) != Some(BTF_MAGIC) {
            return Err(LayoutError::Malformed("not little-endian BTF"));
        }
        let header = |i: usize| u32_at(4 + 4 * i).map(|v| v as usize);
        let (Some(hdr_len), Some(type_off), Some(type_len), Some(str_off), Some(str_len)) =
            (header(0), header(1), header(2), header(3), header(4))
        else {
            return Err(LayoutError::Malformed("short header"));
        };
        let types_start = hdr_len + type_off;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or(LayoutError::Malformed("string section out of bounds"))?;
        let name = |offset: u32| -> &'a str {
            let Some(rest) = strings.get(offset as usize..) else {
                return "";
            };
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            std::str::from_utf8(&rest[..end]).unwrap_or("")
        };
        // Type id 0 is void.
        let mut types = vec![Kind::Other];
        let mut by_name: HashMap<&'a str, u32> = HashMap::new();
        let mut trace_typedefs: HashMap<&'a str, u32> = HashMap::new();
        let mut at = types_start;
        let end = types_start + type_len;
        while at < end {
            let (Some(name_off), Some(info), Some(size_or_type)) =
                (u32_at(at), u32_at(at + 4), u32_at(at + 8))
            else {
                return Err(LayoutError::Malformed("type section out of bounds"));
            };
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 != 0;
            let id = types.len() as u32;
            let entry = match kind {
                // struct, union
                4 | 5 => {
                    let mut members = Vec::with_capacity(vlen);
                    for i in 0..vlen {
                        let m = at + 12 * i;
                        let (Some(m_name), Some(m_type), Some(m_offset)) =
                            (u32_at(m), u32_at(m + 4), u32_at(m + 8))
                        else {
                            return Err(LayoutError::Malformed("member out of bounds"));
                        };
                        members.push(Member {
                            name: name(m_name),
                            type_id: m_type,
                            // With kind_flag the top 8 bits are a bit field's size.
                            bit_offset: if kind_flag {
                                m_offset & 0xff_ffff
                            } else {
                                m_offset
                            },
                        });
                    }
                    at += 12 * vlen;
                    let n = name(name_off);
                    if !n.is_empty() {
                        let better = match by_name.get(n).map(|&old| &types[old as usize]) {
                            Some(Kind::Composite(old)) => old.len() < members.len(),
                            _ => true,
                        };
                        if better {
                            by_name.insert(n, id);
                        }
                    }
                    Kind::Composite(members)
                }
                // typedef
                8 => {
                    let n = name(name_off);
                    if n.starts_with("btf_trace_") {
                        trace_typedefs.insert(n, id);
                    }
                    Kind::Refers(size_or_type)
                }
                // volatile, const, restrict, type tag
                9..=11 | 18 => Kind::Refers(size_or_type),
                // int, var, decl tag: one u32
                1 | 14 | 17 => {
                    at += 4;
                    Kind::Other
                }
                // array
                3 => {
                    at += 12;
                    Kind::Other
                }
                // enum, func proto
                6 | 13 => {
                    at += 8 * vlen;
                    Kind::Other
                }
                // datasec, enum64
                15 | 19 => {
                    at += 12 * vlen;
                    Kind::Other
                }
                // ptr, fwd, func, float
                2 | 7 | 12 | 16 => Kind::Other,
                _ => return Err(LayoutError::Malformed("unknown type kind")),
            };
            types.push(entry);
        }
        Ok(Structs {
            types,
            by_name,
            trace_typedefs,
        })
    }

    /// The type id of the `btf_trace_` typedef `name`.
    fn typedef(&self, name: &str) -> Option<u32> {
        self.trace_typedefs.get(name).copied()
    }

    /// The byte offset of `struct.field`, looking into anonymous structs
    /// and unions on the way.
    fn offset(&self, path: &str) -> Option<u32> {
        let (strukt, field) = path.split_once('.')?;
        let id = *self.by_name.get(strukt)?;
        let bits = self.find(id, field, 0)?;
        (bits % 8 == 0).then_some(bits / 8)
    }

    fn find(&self, id: u32, field: &str, depth: u32) -> Option<u32> {
        let Kind::Composite(members) = self.resolve(id)? else {
            return None;
        };
        for member in members {
            if member.name == field {
                return Some(member.bit_offset);
            }
            if member.name.is_empty()
                && depth < 8
                && let Some(inner) = self.find(member.type_id, field, depth + 1)
            {
                return Some(member.bit_offset + inner);
            }
        }
        None
    }

    /// Follows typedefs and modifiers to the type they name.
    fn resolve(&self, mut id: u32) -> Option<&Kind<'a>> {
        for _ in 0..16 {
            match self.types.get(id as usize)? {
                Kind::Refers(next) => id = *next,
                kind => return Some(kind),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob: `struct outer { int a; union { int b; struct inner c; }; }`
    /// with `struct inner { int x; int y; }`, and a forward declaration of
    /// `outer` that must not hide the struct.
    fn sample_btf() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0c\0inner\0x\0y\0";
        let at = |s: &str| {
            let needle = format!("\0{s}\0");
            strings
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut types: Vec<u32> = Vec::new();
        let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
        // 1: int
        types.extend([at("int"), info(1, 0), 4, 32]);
        // 2: struct inner { int x; int y; }
        types.extend([at("inner"), info(4, 2), 8]);
        types.extend([at("x"), 1, 0, at("y"), 1, 32]);
        // 3: anonymous union { int b; struct inner c; }
        types.extend([0, info(5, 2), 8]);
        types.extend([at("b"), 1, 0, at("c"), 2, 0]);
        // 4: const union (a modifier to follow)
        types.extend([0, info(10, 0), 3]);
        // 5: struct outer { int a; <anon> at 64 bits }
        types.extend([at("outer"), info(4, 2), 16]);
        types.extend([at("a"), 1, 0, 0, 4, 64]);
        // 6: fwd outer
        types.extend([at("outer"), info(7, 0), 0]);
        let type_bytes: Vec<u8> = types.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut blob = Vec::new();
        blob.extend(BTF_MAGIC.to_le_bytes());
        blob.extend([1u8, 0]);
        for v in [
            24u32,
            0,
            type_bytes.len() as u32,
            type_bytes.len() as u32,
            strings.len() as u32,
        ] {
            blob.extend(v.to_le_bytes());
        }
        blob.extend(type_bytes);
        blob.extend(strings);
        blob
    }

    #[test]
    fn finds_members_also_in_anonymous_unions_and_behind_modifiers() {
        let blob = sample_btf();
        let btf = Structs::parse(&blob).unwrap();
        assert_eq!(btf.offset("outer.a"), Some(0));
        assert_eq!(btf.offset("outer.b"), Some(8));
        assert_eq!(btf.offset("outer.c"), Some(8));
        assert_eq!(btf.offset("inner.y"), Some(4));
        assert_eq!(btf.offset("outer.x"), None, "x is in c, a named member");
        assert_eq!(btf.offset("nothing.a"), None);
    }

    #[test]
    fn refuses_what_is_not_btf() {
        assert!(matches!(
            Structs::parse(b"\x7fELF...................."),
            Err(LayoutError::Malformed(_))
        ));
        let mut blob = sample_btf();
        blob.truncate(40);
        assert!(Structs::parse(&blob).is_err());
    }

    /// The running kernel: every field is found, in the order the kernel
    /// declares them where that order is fixed, within milliseconds.
    #[test]
    fn reads_the_running_kernels_layout() {
        assert!(
            std::path::Path::new(VMLINUX_BTF).exists(),
            "this test needs a kernel with BTF ({VMLINUX_BTF} is missing)"
        );
        let started = std::time::Instant::now();
        let layout = kernel_types().unwrap().layout;
        let took = started.elapsed();
        assert_eq!(layout.valid, 1, "layout {layout:?} in {took:?}");
        assert!(layout.task_tgid > 0 && layout.task_comm > layout.task_tgid);
        assert!(layout.cgroup_ancestors > layout.cgroup_kn);
    }

    /// The BTF built for attaching gives each tracepoint the id aya finds
    /// in its own parse of the whole kernel BTF.
    #[test]
    fn the_tracepoint_btf_names_each_typedef_at_the_kernels_id() {
        use aya::Btf;
        use aya_obj::btf::BtfKind;
        let kernel = Btf::from_sys_fs().expect("the kernel's BTF, parsed by aya");
        let ours = kernel_types()
            .unwrap()
            .tracepoint_btf()
            .expect("the tracepoint BTF parses");
        for name in BTF_TRACEPOINTS {
            let typedef = format!("btf_trace_{name}");
            let id = kernel
                .id_by_type_name_kind(&typedef, BtfKind::Typedef)
                .expect("the kernel has the tracepoint");
            assert!(
                id > 1000,
                "{typedef} at {id}: a real id, not a small one by chance"
            );
            assert_eq!(
                ours.id_by_type_name_kind(&typedef, BtfKind::Typedef)
                    .expect("ours has it"),
                id,
                "{typedef}"
            );
        }
        assert!(
            ours.id_by_type_name_kind("btf_trace_sched_switch", BtfKind::Typedef)
                .is_err()
        );
    }
}
