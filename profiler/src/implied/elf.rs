//! Recognising a language runtime from an executable itself.
//!
//! The Go linker writes the build information into every executable it
//! makes: a `.go.buildinfo` section whose data starts with the magic
//! `"\xff Go buildinf:"`, 16-byte aligned, at the start of the writable data.
//! Stripping symbols keeps it (it is data, not debug information); where the
//! section headers themselves are gone, each writable loadable segment is
//! searched for the magic at 16-byte aligned addresses (Go's own
//! `debug/buildinfo` looks at the first 64 KiB only, which misses it in a cgo
//! executable such as runc, whose segment starts with the C data).

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use object::{Object, ObjectSection, ObjectSegment, ReadCache, ReadRef, SegmentFlags};

/// The magic the Go linker puts at the start of the build information.
const GO_BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Header size: the magic, pointer size, flags, then two pointers or padding.
const GO_BUILDINFO_HEADER: usize = 32;
/// How far into a writable segment to look (Go's data segments are far
/// smaller; this bounds the work on an odd file).
const GO_SEARCH_SIZE: u64 = 16 * 1024 * 1024;
/// The build information's alignment in memory.
const GO_BUILDINFO_ALIGN: u64 = 16;
/// Flag bit (Go 1.18+): the version and module strings follow the header inline.
const GO_FLAG_INLINE_STRINGS: u8 = 0x2;
/// ELF program header flag: writable.
const PF_W: u32 = 0x2;

/// A language runtime recognised in an executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// Go, with the toolchain version (`go1.19.8`) when the build information
    /// holds it inline (Go 1.18 and later).
    Go { version: Option<String> },
}

impl Runtime {
    /// The key of its rules in the data file (`go`).
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Runtime::Go { .. } => "go",
        }
    }

    /// Its name (`Go`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Runtime::Go { .. } => "Go",
        }
    }

    /// The toolchain version built into it, where known.
    pub(crate) fn version(&self) -> Option<&str> {
        match self {
            Runtime::Go { version } => version.as_deref(),
        }
    }

    /// How the summary names it: `Go (go1.19.8)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Runtime::Go {
                version: Some(version),
            } => format!("Go ({version})"),
            Runtime::Go { version: None } => "Go".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot read {path} to recognise its runtime: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: its runtime is not recognised")]
    Input(#[from] crate::input::InputError),
    #[error(
        "{path} starts like an ELF file but cannot be parsed ({message}); its runtime is not recognised"
    )]
    Malformed { path: PathBuf, message: String },
}

/// The runtime `path` was built with, if this tool knows it. A file that is
/// not ELF (a script, say) is no error: it has no runtime to recognise.
pub fn detect_runtime(path: &Path) -> Result<Option<Runtime>, DetectError> {
    let read_error = |source| DetectError::Read {
        path: path.to_owned(),
        source,
    };
    // Opened as data: a program replaced by a FIFO or a device since it
    // ran is refused, never waited on. Only the parts needed are read.
    let limit = crate::input::Limit {
        bytes: u64::MAX,
        what: "a program",
    };
    let mut file = match crate::input::open(path, limit) {
        Ok(opened) => opened.file,
        Err(crate::input::InputError::Open { source, .. }) => return Err(read_error(source)),
        Err(other) => return Err(other.into()),
    };
    let mut magic = [0u8; 4];
    match file.read_exact(&mut magic) {
        Ok(()) if magic == *b"\x7fELF" => {}
        Ok(()) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(read_error(e)),
    }
    // Only the parts needed are read: Go executables run to tens of MiB.
    let cache = ReadCache::new(file);
    let elf = object::File::parse(&cache).map_err(|e| DetectError::Malformed {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(go_buildinfo(&cache, &elf).map(|header| Runtime::Go {
        version: go_version(&header),
    }))
}

/// The Go build information (its header and what follows), if any.
fn go_buildinfo<'data, R: ReadRef<'data>>(
    data: R,
    elf: &object::File<'data, R>,
) -> Option<Vec<u8>> {
    // With section headers, the Go linker always names the section.
    if elf.sections().next().is_some() {
        let section = elf.section_by_name(".go.buildinfo")?;
        let bytes = section.data().ok()?;
        return bytes
            .starts_with(GO_BUILDINFO_MAGIC)
            .then(|| bytes.to_vec());
    }
    elf.segments()
        .filter(|segment| {
            matches!(segment.flags(), SegmentFlags::Elf { p_flags, .. } if p_flags.0 & PF_W != 0)
        })
        .find_map(|segment| {
            let (offset, size) = segment.file_range();
            let bytes = data.read_bytes_at(offset, size.min(GO_SEARCH_SIZE)).ok()?;
            // Aligned in memory: the first aligned address of the segment.
            let skip = segment.address().wrapping_neg() % GO_BUILDINFO_ALIGN;
            (usize::try_from(skip).ok()?..bytes.len())
                .step_by(GO_BUILDINFO_ALIGN as usize)
                .find(|&at| bytes[at..].starts_with(GO_BUILDINFO_MAGIC))
                .map(|at| bytes[at..].iter().take(4096).copied().collect())
        })
}

/// The toolchain version in the build information, where it is inline.
fn go_version(buildinfo: &[u8]) -> Option<String> {
    let flags = *buildinfo.get(GO_BUILDINFO_MAGIC.len() + 1)?;
    if flags & GO_FLAG_INLINE_STRINGS == 0 {
        // Before Go 1.18 the header holds pointers to the strings instead.
        return None;
    }
    let rest = buildinfo.get(GO_BUILDINFO_HEADER..)?;
    let (length, used) = uvarint(rest)?;
    let version = rest.get(used..used.checked_add(usize::try_from(length).ok()?)?)?;
    let version = std::str::from_utf8(version).ok()?;
    (version.starts_with("go") && version.chars().all(|c| c.is_ascii_graphic()))
        .then(|| version.to_owned())
}

/// An unsigned LEB128 varint (Go's `binary.Uvarint`): value and bytes used.
fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_reads_go_lengths() {
        assert_eq!(uvarint(&[8]), Some((8, 1)));
        assert_eq!(uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(uvarint(&[0x80]), None);
    }

    #[test]
    fn version_is_read_only_from_the_inline_form() {
        let mut header = GO_BUILDINFO_MAGIC.to_vec();
        header.extend([8, GO_FLAG_INLINE_STRINGS]);
        header.resize(GO_BUILDINFO_HEADER, 0);
        header.push(8);
        header.extend(b"go1.19.8");
        assert_eq!(go_version(&header).as_deref(), Some("go1.19.8"));
        header[GO_BUILDINFO_MAGIC.len() + 1] = 0;
        assert_eq!(go_version(&header), None);
        header.truncate(GO_BUILDINFO_HEADER + 3);
        header[GO_BUILDINFO_MAGIC.len() + 1] = GO_FLAG_INLINE_STRINGS;
        assert_eq!(go_version(&header), None, "a cut-off version is not read");
    }

    #[test]
    fn this_rust_test_binary_has_no_go_runtime() {
        let me = std::env::current_exe().expect("the test binary's path");
        assert_eq!(detect_runtime(&me).expect("an ELF file"), None);
    }
}
