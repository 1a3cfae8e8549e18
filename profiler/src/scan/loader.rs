//! Finding the objects a program loads, as glibc's dynamic loader does:
//! DT_NEEDED breadth-first; for each name, DT_RPATH (of the object and of
//! the executable, when the object has no DT_RUNPATH), DT_RUNPATH, the
//! ld.so cache, then the default directories; `$ORIGIN`, `$LIB` and
//! `$PLATFORM` expanded; files of another machine skipped; an object loaded
//! once (by path or soname). All paths are inside a root directory ("/" for
//! the host, an image's unpacked filesystem otherwise), symlinks resolved
//! inside it. LD_LIBRARY_PATH and LD_PRELOAD are not consulted: they belong
//! to a run, not to the program.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use super::{elf::is_x86_64_elf, ldcache::LdCache, tree::Tree};
use crate::input::Limit;

/// What `$LIB` expands to on Debian-like x86-64 systems.
const LIB: &str = "lib/x86_64-linux-gnu";
const DEFAULT_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// The largest `/etc/ld.so.cache` read: glibc's is tens of KiB for
/// thousands of libraries.
const LD_CACHE_LIMIT: Limit = Limit {
    bytes: 16 << 20,
    what: "an ld.so cache",
};

/// The largest object mapped: its pages are read only where the analysis
/// looks (see [`super::elf::MAX_CODE`] for the code it decodes).
pub(crate) const OBJECT_LIMIT: Limit = Limit {
    bytes: 2 << 30,
    what: "a program or library to scan",
};

/// A filesystem root the loader's paths are resolved in, and its ld.so
/// cache.
pub(crate) struct Root {
    pub tree: Tree,
    cache: Option<LdCache>,
}

impl Root {
    pub(crate) fn new(tree: &Tree) -> Root {
        let cache = tree
            .resolve(Path::new("/etc/ld.so.cache"))
            .and_then(|p| tree.map(&p, LD_CACHE_LIMIT).ok())
            .and_then(|bytes| LdCache::parse(&bytes));
        Root {
            tree: tree.clone(),
            cache,
        }
    }

    /// `path` (absolute inside the root) with every symlink resolved inside
    /// the root, or `None` when it does not exist.
    pub(crate) fn resolve(&self, path: &Path) -> Option<PathBuf> {
        self.tree.resolve(path)
    }
}

/// Where an object came from.
pub(crate) struct Found {
    /// Its path inside the root, symlinks resolved.
    pub path: PathBuf,
}

/// What the search for one DT_NEEDED entry needs of the object asking.
pub(crate) struct Requester<'a> {
    pub path: &'a Path,
    pub rpath: &'a [String],
    pub runpath: &'a [String],
}

/// Searches `name` for `requester`, as the loader would.
pub(crate) fn search(
    root: &Root,
    name: &str,
    requester: &Requester<'_>,
    executable: &Requester<'_>,
) -> Option<Found> {
    if name.contains('/') {
        let path = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            requester.path.parent()?.join(name)
        };
        return open(root, &path);
    }
    let mut dirs: Vec<String> = Vec::new();
    if requester.runpath.is_empty() {
        dirs.extend(expand(requester.rpath, requester.path));
        if executable.runpath.is_empty() && executable.path != requester.path {
            dirs.extend(expand(executable.rpath, executable.path));
        }
    }
    dirs.extend(expand(requester.runpath, requester.path));
    for dir in &dirs {
        if let Some(found) = open(root, &Path::new(dir).join(name)) {
            return Some(found);
        }
    }
    if let Some(path) = root.cache.as_ref().and_then(|c| c.lookup(name))
        && let Some(found) = open(root, Path::new(path))
    {
        return Some(found);
    }
    DEFAULT_DIRS
        .iter()
        .find_map(|dir| open(root, &Path::new(dir).join(name)))
}

/// Finds `path` inside the root if it is a regular file holding an x86-64
/// ELF object (only its header is read here).
pub(crate) fn open(root: &Root, path: &Path) -> Option<Found> {
    let resolved = root.resolve(path)?;
    let header = root.tree.head(&resolved, 64).ok()?;
    (header.len() == 64 && is_x86_64_elf(&header)).then_some(Found { path: resolved })
}

/// The directories of an RPATH/RUNPATH, with its tokens expanded.
fn expand(list: &[String], origin_of: &Path) -> Vec<String> {
    let origin = origin_of
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/".into());
    list.iter()
        .map(|d| {
            d.replace("${ORIGIN}", &origin)
                .replace("$ORIGIN", &origin)
                .replace("${LIB}", LIB)
                .replace("$LIB", LIB)
                .replace("${PLATFORM}", "x86_64")
                .replace("$PLATFORM", "x86_64")
        })
        .collect()
}

/// The set of sonames and paths already loaded.
#[derive(Default)]
pub(crate) struct Loaded {
    paths: HashSet<PathBuf>,
    sonames: HashSet<String>,
}

impl Loaded {
    /// Whether the object `name` asks for is already loaded (by soname).
    pub(crate) fn has_soname(&self, name: &str) -> bool {
        self.sonames.contains(name)
    }
    pub(crate) fn has_path(&self, path: &Path) -> bool {
        self.paths.contains(path)
    }
    pub(crate) fn add(&mut self, path: &Path, soname: Option<&str>) {
        self.paths.insert(path.to_owned());
        if let Some(s) = soname {
            self.sonames.insert(s.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_symlinks_inside_the_root() {
        use std::fs;
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("usr/lib")).expect("mkdir");
        fs::write(dir.path().join("usr/lib/libx.so.1.2"), b"x").expect("write");
        // An absolute link: it must stay inside the root.
        std::os::unix::fs::symlink("/usr/lib/libx.so.1.2", dir.path().join("usr/lib/libx.so.1"))
            .expect("symlink");
        std::os::unix::fs::symlink("usr/lib", dir.path().join("lib")).expect("symlink");
        let root = Root::new(&Tree::dir(dir.path()).expect("open the root"));
        assert_eq!(
            root.resolve(Path::new("/lib/libx.so.1")),
            Some(PathBuf::from("/usr/lib/libx.so.1.2"))
        );
        assert_eq!(root.resolve(Path::new("/lib/missing.so")), None);
    }

    #[test]
    fn expands_origin() {
        let got = expand(
            &["$ORIGIN/../lib".into(), "${ORIGIN}".into()],
            Path::new("/opt/app/bin/app"),
        );
        assert_eq!(got, vec!["/opt/app/bin/../lib", "/opt/app/bin"]);
    }
}
