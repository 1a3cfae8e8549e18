//! The analyses of objects, kept under `$XDG_CACHE_HOME/syscall-profile/
//! scan/` (default `~/.cache/...`), so that an object shared by many
//! programs (glibc) is analysed once.
//!
//! An entry is keyed by the SHA-256 of the object's bytes and by the
//! scanner's version and summary format: what a file *says* about itself
//! (its GNU build id) is not trusted, so a corrupt or hostile file cannot
//! make another pass for "no syscalls", and a new scanner never reads an
//! old scanner's results. Only objects that parsed and held code are
//! stored (the caller's part); an entry that does not read back as such is
//! ignored.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use super::analysis::{FORMAT, ObjectSummary};
use crate::input::{self, Limit};

/// The largest summary read back: the JVM's is a few MiB.
const ENTRY_LIMIT: Limit = Limit {
    bytes: 256 << 20,
    what: "a scan cache entry",
};

/// The default cache directory, or `None` without a home.
pub(crate) fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("syscall-profile").join("scan"))
}

fn file(dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!(
        "{digest}.{}-v{FORMAT}.json",
        env!("CARGO_PKG_VERSION")
    ))
}

/// The cached summary of the object whose bytes have `digest`, if any is
/// valid. The entry is read as any input is (a regular file, bounded).
pub(crate) fn load(dir: &Path, digest: &str) -> Option<ObjectSummary> {
    let bytes = input::read(&file(dir, digest), ENTRY_LIMIT).ok()?;
    parse(&bytes)
}

/// A cache entry's bytes as a summary, if they are one this scanner could
/// have stored: of its format, with code, and consistent (every index
/// names a function; see [`ObjectSummary::is_consistent`]). Anything else
/// is no entry, and the object is analysed again.
///
/// Public for the fuzzer (`fuzz/`, target `scan_cache`).
pub fn parse(bytes: &[u8]) -> Option<ObjectSummary> {
    let summary: ObjectSummary = serde_json::from_slice(bytes).ok()?;
    (summary.format == FORMAT && !summary.functions.is_empty() && summary.is_consistent())
        .then_some(summary)
}

/// Keeps `summary` for the object whose bytes have `digest`; a cache that
/// cannot be written only costs time, so a failure is returned for a
/// warning, never fatal.
pub(crate) fn store(dir: &Path, digest: &str, summary: &ObjectSummary) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&serde_json::to_vec(summary).map_err(std::io::Error::other)?)?;
    temp.persist(file(dir, digest)).map_err(|e| e.error)?;
    Ok(())
}
