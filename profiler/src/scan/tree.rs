//! The filesystem a scan reads programs from, read as data: a directory of
//! the host (`/`, or `scan --root DIR`), or a container image's export read
//! as the archive it is.
//!
//! Nothing from an image is created on the host: its export stays one
//! archive in the tool's private temporary directory, indexed in memory,
//! and a file is read by mapping its bytes out of the archive. Device
//! nodes, FIFOs and sockets in it are names in the index, never files;
//! setuid bits and file capabilities are never applied to anything.
//!
//! In a directory, every path is opened with `openat2(RESOLVE_IN_ROOT)`:
//! symbolic links, absolute or climbing with `..`, resolve inside the
//! directory, so a link cannot lead a scan to a file of the host, nor a
//! message tell whether a host path exists. Only regular files are read,
//! each opened non-blocking.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    fmt,
    fs::File,
    io,
    os::{fd::OwnedFd, unix::fs::FileExt},
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use rustix::fs::{self as rfs, FileType, OFlags};
use sha2::{Digest, Sha256};

use super::ScanError;
use crate::{
    input::{self, InputError, Limit, Mapped},
    session::interrupt::Interrupt,
};

/// How many entries an image's archive may have: real images have tens of
/// thousands of files; the index takes about 100 bytes an entry.
pub(crate) const MAX_ENTRIES: usize = 500_000;

/// What a path names, its last component not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File {
        size: u64,
    },
    Dir,
    Symlink(PathBuf),
    /// A device node, a FIFO, a socket: named, never opened.
    Other(&'static str),
}

/// A filesystem root the scan's paths (absolute, inside it) are read in.
#[derive(Clone)]
pub struct Tree(Arc<Inner>);

enum Inner {
    Dir { path: PathBuf, fd: OwnedFd },
    Archive(Archive),
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Inner::Dir { path, .. } => write!(f, "Tree::Dir({})", path.display()),
            Inner::Archive(a) => write!(f, "Tree::Archive({})", a.path.display()),
        }
    }
}

/// One entry of an image's archive.
#[derive(Debug, Clone)]
enum Entry {
    File {
        offset: u64,
        size: u64,
    },
    Dir,
    Symlink(PathBuf),
    /// A hard link: the same file as this other entry.
    Link(PathBuf),
    Other(&'static str),
}

/// An image's exported filesystem: the archive, and where each file's
/// bytes are in it.
struct Archive {
    path: PathBuf,
    file: File,
    entries: HashMap<PathBuf, Entry>,
    /// Directories only implied by the paths below them.
    implied: HashSet<PathBuf>,
}

/// `error` with the control characters of its message escaped: the tar
/// reader quotes the bytes of a malformed header in its errors, and the
/// image chose them (a newline, a terminal's escape sequence).
fn one_line(error: io::Error) -> io::Error {
    let text = error.to_string();
    match crate::text::printable(&text) {
        Cow::Borrowed(_) => error,
        Cow::Owned(escaped) => io::Error::new(error.kind(), escaped),
    }
}

/// `path` as an absolute path inside the root with `.` and the leading `/`
/// dropped; `None` when it climbs with `..` (an archive's entry never may).
fn normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    Some(out)
}

impl Tree {
    /// The host's root directory.
    pub(crate) fn host() -> Result<Tree, InputError> {
        Tree::dir(Path::new("/"))
    }

    /// The directory `path` of the host, as a root.
    pub(crate) fn dir(path: &Path) -> Result<Tree, InputError> {
        let fd = rfs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rfs::Mode::empty(),
        )
        .map_err(|e| InputError::Open {
            path: path.to_owned(),
            source: e.into(),
        })?;
        Ok(Tree(Arc::new(Inner::Dir {
            path: path.to_owned(),
            fd,
        })))
    }

    /// The image export at `archive` (a tar file the tool made), indexed.
    /// Entries that climb out with `..` are left out. A signal
    /// (`interrupt`) ends the indexing at once.
    pub fn archive(archive: &Path, interrupt: Option<&Interrupt>) -> Result<Tree, ScanError> {
        let open_error = |source: io::Error| InputError::Open {
            path: archive.to_owned(),
            source: one_line(source),
        };
        let opened = input::open(
            archive,
            Limit {
                bytes: u64::MAX,
                what: "an image's export",
            },
        )?;
        let mut entries = HashMap::new();
        let mut implied = HashSet::new();
        let mut tar = tar::Archive::new(&opened.file);
        for entry in tar.entries_with_seek().map_err(open_error)? {
            if entries.len() % 1024 == 0
                && let Some(signal) = interrupt.and_then(Interrupt::signal)
            {
                return Err(ScanError::Interrupted { signal });
            }
            let entry = entry.map_err(open_error)?;
            if entries.len() >= MAX_ENTRIES {
                return Err(open_error(io::Error::other(format!(
                    "the image has more than {MAX_ENTRIES} files, more than a scan reads"
                )))
                .into());
            }
            let Some(path) = entry.path().ok().and_then(|p| normal(&p)) else {
                continue;
            };
            // The root is the image's root directory, whatever an entry
            // naming it (`""`, `.`, `/`) says it is: a link there would
            // make every path resolve through it.
            if path == Path::new("/") {
                continue;
            }
            let link =
                || -> Option<PathBuf> { entry.link_name().ok().flatten().map(|l| l.into_owned()) };
            use tar::EntryType as T;
            let kind = match entry.header().entry_type() {
                T::Regular | T::Continuous => {
                    let (offset, size) = (entry.raw_file_position(), entry.size());
                    // A file's bytes are mapped out of the archive: past
                    // its end, reading them would kill the process (SIGBUS).
                    if offset.checked_add(size).is_none_or(|end| end > opened.size) {
                        return Err(open_error(io::Error::other(format!(
                            "the archive is truncated: {} ends past its end",
                            path.display()
                        )))
                        .into());
                    }
                    Entry::File { offset, size }
                }
                T::Directory => Entry::Dir,
                T::Symlink => match link() {
                    Some(target) => Entry::Symlink(target),
                    None => continue,
                },
                T::Link => match link().as_deref().and_then(normal) {
                    Some(target) => Entry::Link(target),
                    None => continue,
                },
                T::Char => Entry::Other("a character device"),
                T::Block => Entry::Other("a block device"),
                T::Fifo => Entry::Other("a FIFO"),
                T::GNUSparse => Entry::Other("a sparse file"),
                _ => continue,
            };
            for parent in path.ancestors().skip(1) {
                if !implied.insert(parent.to_owned()) {
                    break;
                }
            }
            entries.insert(path, kind);
        }
        Ok(Tree(Arc::new(Inner::Archive(Archive {
            path: archive.to_owned(),
            file: opened.file,
            entries,
            implied,
        }))))
    }

    /// How to name `path` (inside the root) in a message: the host's path
    /// for a directory of the host, the path inside an image otherwise.
    pub(crate) fn shown(&self, path: &Path) -> PathBuf {
        match &*self.0 {
            Inner::Dir { path: dir, .. } => dir.join(path.strip_prefix("/").unwrap_or(path)),
            Inner::Archive(_) => path.to_owned(),
        }
    }

    /// What `path` (absolute inside the root, its directories already
    /// free of links) names, the last component not followed.
    pub fn node(&self, path: &Path) -> Option<Node> {
        match &*self.0 {
            Inner::Dir { fd, .. } => {
                let handle = input::openat2_in(fd, path, OFlags::PATH | OFlags::NOFOLLOW).ok()?;
                let stat = rfs::fstat(&handle).ok()?;
                Some(match FileType::from_raw_mode(stat.st_mode) {
                    FileType::RegularFile => Node::File {
                        size: stat.st_size as u64,
                    },
                    FileType::Directory => Node::Dir,
                    FileType::Symlink => {
                        let target = rfs::readlinkat(&handle, "", Vec::new()).ok()?;
                        Node::Symlink(PathBuf::from(
                            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(
                                target.into_bytes(),
                            ),
                        ))
                    }
                    other => Node::Other(input::kind(other)),
                })
            }
            Inner::Archive(archive) => {
                let path = normal(path)?;
                match archive.resolve_link(&path)? {
                    Some(entry) => Some(match entry {
                        Entry::File { size, .. } => Node::File { size: *size },
                        Entry::Dir => Node::Dir,
                        Entry::Symlink(target) => Node::Symlink(target.clone()),
                        Entry::Other(kind) => Node::Other(kind),
                        Entry::Link(_) => return None,
                    }),
                    None => archive.implied.contains(&path).then_some(Node::Dir),
                }
            }
        }
    }

    /// Opens the regular file at `path` (absolute inside the root, free of
    /// links): the file holding it, where its bytes start, and how many.
    fn open(&self, path: &Path, limit: Limit) -> Result<(Source<'_>, u64, u64), InputError> {
        let shown = self.shown(path);
        match &*self.0 {
            Inner::Dir { fd, .. } => {
                let opened = input::open_in(fd, path, &shown, limit)?;
                Ok((Source::Owned(opened.file), 0, opened.size))
            }
            Inner::Archive(archive) => {
                let missing = || InputError::Open {
                    path: shown.clone(),
                    source: io::Error::from_raw_os_error(libc::ENOENT),
                };
                let entry = normal(path)
                    .and_then(|p| archive.resolve_link(&p))
                    .flatten()
                    .ok_or_else(missing)?;
                match entry {
                    Entry::File { offset, size } if *size > limit.bytes => {
                        Err(InputError::TooLarge {
                            path: shown,
                            size: *size,
                            limit,
                        })
                    }
                    Entry::File { offset, size } => {
                        Ok((Source::Borrowed(&archive.file), *offset, *size))
                    }
                    Entry::Dir => Err(InputError::NotAFile {
                        path: shown,
                        kind: "a directory",
                    }),
                    Entry::Symlink(_) => Err(InputError::NotAFile {
                        path: shown,
                        kind: "a symbolic link",
                    }),
                    Entry::Other(kind) => Err(InputError::NotAFile { path: shown, kind }),
                    Entry::Link(_) => Err(missing()),
                }
            }
        }
    }

    /// The bytes of the regular file at `path` (absolute inside the root,
    /// free of links), mapped, within `limit`.
    pub fn map(&self, path: &Path, limit: Limit) -> Result<Mapped, InputError> {
        let (source, offset, size) = self.open(path, limit)?;
        Mapped::of(source.file(), offset, size, &self.shown(path))
    }

    /// At most `n` bytes from the start of the regular file at `path`.
    pub fn head(&self, path: &Path, n: usize) -> Result<Vec<u8>, InputError> {
        let limit = Limit {
            bytes: u64::MAX,
            what: "a file",
        };
        let (source, offset, size) = self.open(path, limit)?;
        let mut bytes = vec![0u8; n.min(usize::try_from(size).unwrap_or(n))];
        let read =
            read_at(source.file(), &mut bytes, offset).map_err(|source| InputError::Open {
                path: self.shown(path),
                source,
            })?;
        bytes.truncate(read);
        Ok(bytes)
    }

    /// The SHA-256 of the regular file at `path`, read a piece at a time
    /// (never mapped whole: a file of holes takes no memory).
    pub(crate) fn digest(&self, path: &Path, limit: Limit) -> Result<String, InputError> {
        let (source, offset, size) = self.open(path, limit)?;
        let error = |source| InputError::Open {
            path: self.shown(path),
            source,
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut done = 0u64;
        while done < size {
            let want = usize::try_from((size - done).min(buffer.len() as u64)).unwrap_or(0);
            let read = read_at(source.file(), &mut buffer[..want], offset + done).map_err(error)?;
            if read == 0 {
                return Err(error(io::Error::from(io::ErrorKind::UnexpectedEof)));
            }
            hasher.update(&buffer[..read]);
            done += read as u64;
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// Whether `path` (absolute inside the root, free of links) is a
    /// regular file.
    pub(crate) fn is_file(&self, path: &Path) -> bool {
        matches!(self.node(path), Some(Node::File { .. }))
    }

    /// `path` (absolute inside the root) with every symbolic link resolved
    /// inside the root, or `None` when it does not exist (or links loop).
    pub fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let mut pending: Vec<PathBuf> = vec![path.to_owned()];
        let mut out = PathBuf::from("/");
        let mut links = 0;
        while let Some(p) = pending.pop() {
            let mut components: Vec<Component> = p.components().collect();
            components.reverse();
            while let Some(c) = components.pop() {
                match c {
                    Component::RootDir => out = PathBuf::from("/"),
                    Component::CurDir | Component::Prefix(_) => {}
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(name) => {
                        let next = out.join(name);
                        match self.node(&next)? {
                            Node::Symlink(target) => {
                                links += 1;
                                if links > 40 {
                                    return None;
                                }
                                let rest: PathBuf = components.iter().rev().collect();
                                components.clear();
                                pending.push(rest);
                                pending.push(target);
                            }
                            _ => out = next,
                        }
                    }
                }
            }
        }
        Some(out)
    }
}

/// The file a regular file's bytes are read from.
enum Source<'a> {
    Owned(File),
    Borrowed(&'a File),
}

impl Source<'_> {
    fn file(&self) -> &File {
        match self {
            Source::Owned(f) => f,
            Source::Borrowed(f) => f,
        }
    }
}

/// `pread` until `buffer` is full or the file ends; returns what was read.
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buffer.len() {
        match file.read_at(&mut buffer[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Archive {
    /// The entry at `path`, a hard link taken to what it links to:
    /// `Some(None)` when there is no entry, `None` when a hard link leads
    /// nowhere (or in a loop).
    fn resolve_link(&self, path: &Path) -> Option<Option<&Entry>> {
        let mut entry = match self.entries.get(path) {
            Some(e) => e,
            None => return Some(None),
        };
        for _ in 0..40 {
            match entry {
                Entry::Link(target) => entry = self.entries.get(target)?,
                other => return Some(Some(other)),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive holding what an image must never turn into host files.
    fn hostile_archive(dir: &Path) -> PathBuf {
        let path = dir.join("image.tar");
        let mut builder = tar::Builder::new(File::create(&path).expect("create"));
        let mut add = |name: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o4755);
            if let Some(link) = link {
                header.set_link_name(link).expect("link name");
            }
            if matches!(kind, tar::EntryType::Block | tar::EntryType::Char) {
                header.set_device_major(7).expect("major");
                header.set_device_minor(200).expect("minor");
            }
            header.set_cksum();
            builder
                .append_data(&mut header, name, data)
                .expect("append");
        };
        add("bin/", tar::EntryType::Directory, b"", None);
        add("bin/tool", tar::EntryType::Regular, b"\x7fELF tool", None);
        add("bin/hard", tar::EntryType::Link, b"", Some("bin/tool"));
        add("blkloop", tar::EntryType::Block, b"", None);
        add("etc/ld.so.cache", tar::EntryType::Fifo, b"", None);
        add(
            "proc1",
            tar::EntryType::Symlink,
            b"",
            Some("/proc/1/root/etc/passwd"),
        );
        add(
            "up",
            tar::EntryType::Symlink,
            b"",
            Some("../../../../bin/tool"),
        );
        add("loop", tar::EntryType::Symlink, b"", Some("loop"));
        // The root named as a link (the fuzzer's find): ignored.
        add("./", tar::EntryType::Symlink, b"", Some("/lib"));
        builder.finish().expect("finish");
        path
    }

    #[test]
    fn an_archive_is_read_as_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tree = Tree::archive(&hostile_archive(dir.path()), None).expect("index");
        assert!(
            !matches!(tree.node(Path::new("/")), Some(Node::Symlink(_))),
            "the root stays the root: {:?}",
            tree.node(Path::new("/"))
        );
        assert_eq!(
            tree.resolve(Path::new("/bin/tool")).as_deref(),
            Some(Path::new("/bin/tool"))
        );
        let limit = Limit {
            bytes: 1 << 20,
            what: "a file",
        };
        assert_eq!(
            &*tree.map(Path::new("/bin/tool"), limit).expect("map"),
            b"\x7fELF tool"
        );
        assert_eq!(
            &*tree.map(Path::new("/bin/hard"), limit).expect("map"),
            b"\x7fELF tool"
        );
        // Climbing links stay inside; links out of the root do not leave it.
        assert_eq!(
            tree.resolve(Path::new("/up")),
            Some(PathBuf::from("/bin/tool"))
        );
        assert_eq!(tree.resolve(Path::new("/proc1")), None);
        assert_eq!(tree.resolve(Path::new("/loop")), None);
        for (path, kind) in [
            ("/blkloop", "a block device"),
            ("/etc/ld.so.cache", "a FIFO"),
        ] {
            let err = tree.map(Path::new(path), limit).expect_err("refused");
            assert!(err.to_string().contains(kind), "{err}");
        }
        // The index made nothing: the directory holds the archive alone.
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
        assert_eq!(tree.node(Path::new("/etc")), Some(Node::Dir));
    }

    #[test]
    fn a_truncated_or_malformed_archive_is_refused_in_one_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = std::fs::read(hostile_archive(dir.path())).expect("read");
        // Cut inside bin/tool's bytes: its entry says more than is left.
        let cut = dir.path().join("cut.tar");
        std::fs::write(&cut, &whole[..1024 + 4]).expect("write");
        let err = Tree::archive(&cut, None).expect_err("refused").to_string();
        assert!(err.contains("truncated: /bin/tool ends past"), "{err}");
        // A header whose checksum field holds a newline and an escape.
        let mut bad = whole.clone();
        bad[148..156].copy_from_slice(b"\n\x1b[2J   ");
        let bent = dir.path().join("bent.tar");
        std::fs::write(&bent, &bad).expect("write");
        let err = Tree::archive(&bent, None).expect_err("refused").to_string();
        assert!(!err.chars().any(char::is_control), "{err:?}");
    }

    #[test]
    fn a_directory_root_keeps_links_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("bin")).expect("mkdir");
        std::fs::write(dir.path().join("bin/tool"), "inside").expect("write");
        std::os::unix::fs::symlink("/proc/1/root/etc/passwd", dir.path().join("proc1"))
            .expect("symlink");
        std::os::unix::fs::symlink("../../../bin/tool", dir.path().join("up")).expect("symlink");
        let tree = Tree::dir(dir.path()).expect("open");
        assert_eq!(
            tree.resolve(Path::new("/up")),
            Some(PathBuf::from("/bin/tool"))
        );
        assert_eq!(tree.resolve(Path::new("/proc1")), None);
        let digest = tree
            .digest(
                Path::new("/bin/tool"),
                Limit {
                    bytes: 100,
                    what: "a file",
                },
            )
            .expect("digest");
        assert_eq!(digest.len(), 64);
    }
}
