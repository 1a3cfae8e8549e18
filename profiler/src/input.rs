//! Reading what the tool is given, as data: every file it reads (profiles,
//! runtime specs, programs to scan, the scan cache) is opened the same way.
//!
//! - A path must lead to a regular file. Anything else (a FIFO, a device, a
//!   directory, a socket) is refused before it is opened for reading, so
//!   that nothing blocks and no device acts on being opened; the file
//!   itself is then opened non-blocking, without becoming a controlling
//!   terminal.
//! - The file checked is the file read: the checked handle is reopened
//!   through `/proc/self/fd`, not the path looked up again.
//! - Each kind of input has a size limit: over it, the file is refused
//!   before it is read (and a file that grows while read, as soon as the
//!   limit is passed). Large inputs (programs) are mapped, not read, so the
//!   memory they take is what is looked at.

use std::{
    fs::File,
    io::{self, Read},
    os::fd::{AsFd, AsRawFd, OwnedFd},
    path::{Path, PathBuf},
};

use rustix::fs::{self as rfs, FileType, Mode, OFlags};

/// What kind of file a path leads to, in a message.
pub(crate) fn kind(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Directory => "a directory",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Symlink => "a symbolic link",
        FileType::RegularFile => "a regular file",
        FileType::Unknown => "not a file",
    }
}

/// How large one kind of input may be, and how to name that kind.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub bytes: u64,
    /// What the input is, for the refusal: "a runtime spec".
    pub what: &'static str,
}

/// Why an input was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {}: {source}", crate::text::path(path))]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "{} is {kind}, not a regular file: give a file",
        crate::text::path(path)
    )]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{} has {size} bytes, more than the {limit} {what} may have: is this the right \
         file?",
        crate::text::path(path), limit = limit.bytes, what = limit.what
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: Limit,
    },
    #[error(
        "{} goes on past the {limit} bytes {what} may have: is this the right file?",
        crate::text::path(path), limit = limit.bytes, what = limit.what
    )]
    TooLong { path: PathBuf, limit: Limit },
}

impl InputError {
    fn open(path: &Path) -> impl Fn(rustix::io::Errno) -> InputError + '_ {
        move |e| InputError::Open {
            path: path.to_owned(),
            source: e.into(),
        }
    }
}

/// The flags every input is opened with for reading.
const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC);

/// An opened regular file and its size when checked.
pub(crate) struct Opened {
    pub file: File,
    pub size: u64,
}

/// Checks that `handle` (an `O_PATH` handle, or an open file) is a regular
/// file within `limit`; returns its size.
fn check(path: &Path, handle: impl AsFd, limit: Limit) -> Result<rfs::Stat, InputError> {
    let stat = rfs::fstat(&handle).map_err(InputError::open(path))?;
    let file_type = FileType::from_raw_mode(stat.st_mode);
    if file_type != FileType::RegularFile {
        return Err(InputError::NotAFile {
            path: path.to_owned(),
            kind: kind(file_type),
        });
    }
    let size = stat.st_size as u64;
    if size > limit.bytes {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        });
    }
    Ok(stat)
}

/// Opens the regular file at `path` for reading (symbolic links followed:
/// the path is the user's own word for the file).
pub(crate) fn open(path: &Path, limit: Limit) -> Result<Opened, InputError> {
    // O_PATH: a handle on what the path leads to, without opening it.
    let handle = rfs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(InputError::open(path))?;
    let stat = check(path, &handle, limit)?;
    // The file checked is the one read: the handle is reopened through
    // /proc; without /proc, the path is opened again and must still lead to
    // the same regular file.
    let proc_path = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let fd = match rfs::open(&proc_path, READ_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => {
            let fd = rfs::open(path, READ_FLAGS, Mode::empty()).map_err(InputError::open(path))?;
            let now = rfs::fstat(&fd).map_err(InputError::open(path))?;
            if (now.st_dev, now.st_ino) != (stat.st_dev, stat.st_ino) {
                return Err(InputError::Open {
                    path: path.to_owned(),
                    source: io::Error::other("it was replaced while being opened"),
                });
            }
            fd
        }
        Err(e) => return Err(InputError::open(path)(e)),
    };
    Ok(Opened {
        file: File::from(fd),
        size: stat.st_size as u64,
    })
}

/// Opens `path` inside the directory `root` for reading, every symbolic
/// link resolved inside `root` (`openat2` with `RESOLVE_IN_ROOT`: an
/// absolute link or `..` cannot leave it, and no `/proc` magic link is
/// followed). `shown` names the file in messages.
pub(crate) fn open_in(
    root: impl AsFd,
    path: &Path,
    shown: &Path,
    limit: Limit,
) -> Result<Opened, InputError> {
    let fd = openat2_in(&root, path, READ_FLAGS).map_err(InputError::open(shown))?;
    let stat = check(shown, &fd, limit)?;
    Ok(Opened {
        file: File::from(fd),
        size: stat.st_size as u64,
    })
}

/// `openat2(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`,
/// `path` taken relative to `root` even when absolute.
pub(crate) fn openat2_in(
    root: impl AsFd,
    path: &Path,
    flags: OFlags,
) -> rustix::io::Result<OwnedFd> {
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    rfs::openat2(
        root,
        relative,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        rfs::ResolveFlags::IN_ROOT | rfs::ResolveFlags::NO_MAGICLINKS,
    )
}

/// Reads `reader` to its end, or fails one byte past the limit.
pub(crate) fn read_capped(
    path: &Path,
    reader: impl Read,
    limit: Limit,
) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Open {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit.bytes {
        return Err(InputError::TooLong {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// The whole regular file at `path`, within `limit`.
pub(crate) fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, InputError> {
    let opened = open(path, limit)?;
    read_capped(path, opened.file, limit)
}

/// A file's bytes, mapped: only the pages looked at take memory. The
/// mapping is private and read-only; the files mapped are the tool's own
/// copies (an image's export) or programs a user names, which are replaced
/// by rename when updated, not rewritten in place.
pub struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl std::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mapped({} bytes)", self.len())
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl Mapped {
    /// Maps `len` bytes of `file` from `offset` (an empty file maps to
    /// nothing).
    pub(crate) fn of(
        file: &File,
        offset: u64,
        len: u64,
        shown: &Path,
    ) -> Result<Mapped, InputError> {
        if len == 0 {
            return Ok(Mapped { map: None });
        }
        let len = usize::try_from(len).map_err(|_| InputError::Open {
            path: shown.to_owned(),
            source: io::Error::other("too large to map"),
        })?;
        // SAFETY: the mapping is read-only and private; it is only ever read
        // as bytes. A file truncated underneath would fault (see the type's
        // documentation for why the files mapped are not).
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map(file)
        }
        .map_err(|source| InputError::Open {
            path: shown.to_owned(),
            source,
        })?;
        Ok(Mapped { map: Some(map) })
    }

    /// Lets go of the pages read so far: they stop counting in the
    /// process's memory, and are read again from the file if touched.
    pub(crate) fn release(&self) {
        if let Some(map) = &self.map {
            // SAFETY: the mapping is read-only and never written, so no
            // page holds anything the file does not: dropping them loses
            // nothing. Failing only keeps the pages.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    const SMALL: Limit = Limit {
        bytes: 16,
        what: "a test input",
    };

    fn mkfifo(path: &Path) {
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn a_fifo_a_device_and_a_directory_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        for (path, says) in [
            (fifo.as_path(), "is a FIFO"),
            (Path::new("/dev/zero"), "is a character device"),
            (dir.path(), "is a directory"),
        ] {
            let err = read(path, SMALL).expect_err("refused").to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        File::create(&path)
            .and_then(|f| f.set_len(1 << 40))
            .expect("a sparse terabyte");
        let err = read(&path, SMALL).expect_err("refused").to_string();
        assert!(err.contains("1099511627776 bytes"), "{err}");
        assert!(err.contains("more than the 16 a test input"), "{err}");
    }

    #[test]
    fn links_stay_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/hostname"), "inside\n").expect("write");
        // Absolute, and climbing: both land inside the root.
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("abs")).expect("symlink");
        std::os::unix::fs::symlink("../../../../etc/hostname", dir.path().join("up"))
            .expect("symlink");
        // Through /proc: the root's own /proc (none here), never the host's.
        std::os::unix::fs::symlink("/proc/self/root/etc/hostname", dir.path().join("magic"))
            .expect("symlink");
        let root = File::open(dir.path()).expect("open the root");
        for name in ["abs", "up"] {
            let opened = open_in(&root, Path::new(name), Path::new(name), SMALL).expect(name);
            let text = read_capped(Path::new(name), opened.file, SMALL).expect("read");
            assert_eq!(text, b"inside\n", "{name}");
        }
        assert!(open_in(&root, Path::new("magic"), Path::new("magic"), SMALL).is_err());
    }

    #[test]
    fn a_growing_input_stops_at_the_limit() {
        let long = [b'x'; 17];
        let err = read_capped(Path::new("-"), &long[..], SMALL).expect_err("refused");
        assert!(matches!(err, InputError::TooLong { .. }), "{err}");
    }
}
