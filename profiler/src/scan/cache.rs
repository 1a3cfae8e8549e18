//! The analyses of objects, kept by GNU build id under
//! `$XDG_CACHE_HOME/syscall-profile/scan/` (default `~/.cache/...`): a
//! build id names the exact bytes of an object's code, so an object shared
//! by many programs (glibc) is analysed once.

use std::{fs, io::Write, path::PathBuf};

use super::analysis::{FORMAT, ObjectSummary};

/// The default cache directory, or `None` without a home.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("syscall-profile").join("scan"))
}

fn file(dir: &std::path::Path, build_id: &str) -> PathBuf {
    dir.join(format!("{build_id}.v{FORMAT}.json"))
}

/// The cached summary of the object with `build_id`, if any is valid.
pub fn load(dir: &std::path::Path, build_id: &str) -> Option<ObjectSummary> {
    let bytes = fs::read(file(dir, build_id)).ok()?;
    let summary: ObjectSummary = serde_json::from_slice(&bytes).ok()?;
    (summary.format == FORMAT && summary.build_id.as_deref() == Some(build_id)).then_some(summary)
}

/// Keeps `summary`; a cache that cannot be written only costs time, so a
/// failure is returned for a warning, never fatal.
pub fn store(dir: &std::path::Path, summary: &ObjectSummary) -> std::io::Result<()> {
    let Some(id) = summary.build_id.as_deref() else {
        return Ok(());
    };
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&serde_json::to_vec(summary).map_err(std::io::Error::other)?)?;
    temp.persist(file(dir, id)).map_err(|e| e.error)?;
    Ok(())
}
