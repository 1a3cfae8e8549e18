//! A reader of the dynamic loader's cache, `/etc/ld.so.cache`.
//!
//! No maintained crate reads this file, so here is a small reader of the one
//! format glibc has written since 2.32 ("glibc-ld.so.cache1.1"; older files
//! put an "ld.so-1.7.0" table before it, which is skipped). The layout, from
//! glibc's `sysdeps/generic/dl-cache.h`:
//!
//! ```text
//! header (48 bytes): magic "glibc-ld.so.cache" (17), version "1.1" (3),
//!   nlibs u32, len_strings u32, flags u8, pad [3], extension_offset u32,
//!   unused [3 x u32]
//! nlibs entries (24 bytes): flags i32, key u32, value u32, osversion u32,
//!   hwcap u64
//! ```
//!
//! `key` (the soname) and `value` (the path) are offsets of NUL-terminated
//! strings from the start of that header. The entry flags say which ABI the
//! library is for: 0x0003 is an ELF libc6 library, 0x0300 its x86-64 variant.

use std::collections::HashMap;

const MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";
const MAGIC_OLD: &[u8] = b"ld.so-1.7.0";
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;
const FLAG_TYPE_MASK: i32 = 0x00ff;
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_REQUIRED_MASK: i32 = 0xff00;
const FLAG_X8664_LIB64: i32 = 0x0300;

/// The x86-64 entries of a cache: soname to path, the first entry of a
/// soname winning as in the loader (ldconfig sorts the preferred one first).
#[derive(Debug, Default, Clone)]
pub(crate) struct LdCache {
    entries: HashMap<String, String>,
}

impl LdCache {
    /// Parses the bytes of an `ld.so.cache`; `None` when they are not one.
    pub(crate) fn parse(bytes: &[u8]) -> Option<LdCache> {
        let start = if bytes.starts_with(MAGIC_NEW) {
            0
        } else if bytes.starts_with(MAGIC_OLD) {
            bytes
                .windows(MAGIC_NEW.len())
                .position(|w| w == MAGIC_NEW)?
        } else {
            return None;
        };
        let new = &bytes[start..];
        let nlibs = usize::try_from(u32_at(new, 20)?).ok()?;
        let mut entries = HashMap::new();
        for i in 0..nlibs {
            let at = HEADER_LEN.checked_add(i.checked_mul(ENTRY_LEN)?)?;
            let flags = i32::from_le_bytes(new.get(at..at + 4)?.try_into().ok()?);
            if flags & FLAG_TYPE_MASK != FLAG_ELF_LIBC6
                || flags & FLAG_REQUIRED_MASK != FLAG_X8664_LIB64
            {
                continue;
            }
            let key = string_at(new, u32_at(new, at + 4)?)?;
            let value = string_at(new, u32_at(new, at + 8)?)?;
            entries.entry(key).or_insert(value);
        }
        Some(LdCache { entries })
    }

    /// The path the cache gives for `soname`.
    pub(crate) fn lookup(&self, soname: &str) -> Option<&str> {
        self.entries.get(soname).map(String::as_str)
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn string_at(bytes: &[u8], offset: u32) -> Option<String> {
    let rest = bytes.get(usize::try_from(offset).ok()?..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader agrees with `ldconfig -p` (glibc's own reader) on this host.
    #[test]
    fn agrees_with_ldconfig() {
        let bytes = std::fs::read("/etc/ld.so.cache").expect("this host has /etc/ld.so.cache");
        let cache = LdCache::parse(&bytes).expect("a cache in the format glibc writes");
        let out = std::process::Command::new("ldconfig")
            .arg("-p")
            .output()
            .or_else(|_| {
                std::process::Command::new("/sbin/ldconfig")
                    .arg("-p")
                    .output()
            })
            .expect("ldconfig runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut checked = 0;
        for line in text.lines().skip(1) {
            // "\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6"
            let Some((left, path)) = line.trim().split_once(" => ") else {
                continue;
            };
            if !left.contains("x86-64") || left.contains("hwcap") {
                continue;
            }
            let soname = left.split(' ').next().unwrap_or_default();
            let got = cache.lookup(soname);
            assert!(got.is_some(), "{soname} missing from the parsed cache");
            checked += 1;
            if got == Some(path) {
                continue;
            }
            // A soname listed twice: ldconfig prints both; ours is the first.
            assert!(text.contains(&format!("=> {}", got.unwrap_or_default())));
        }
        assert!(checked > 10, "only {checked} entries compared");
        assert!(cache.lookup("libc.so.6").is_some());
    }

    #[test]
    fn rejects_other_files() {
        assert!(LdCache::parse(b"not a cache").is_none());
        assert!(LdCache::parse(b"glibc-ld.so.cache1.1").is_none());
    }
}
