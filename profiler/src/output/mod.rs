//! Output files: checked before the work starts, written whole, and never
//! by following a name an other user could have swapped.
//!
//! A recording may run for hours: finding out at the end that the output
//! path cannot be written would lose it. So [`Output::prepare`] opens the
//! output's directory once and, for a regular file or a new name, creates an
//! unnamed file in it (`O_TMPFILE`; a hidden `.syscall-profile-*.tmp` created
//! with `O_EXCL` where the filesystem has no unnamed files) before the
//! workload starts. [`Output::commit`] writes through that open file,
//! syncs it, links it under a fresh hidden name and renames that over the
//! final name, all relative to the directory opened at the start: a reader
//! never sees a partial file, a failed or killed run leaves none behind, and
//! nothing is ever looked up again by a path the directory's owner could
//! have replaced with a symbolic link. The file's mode is `0666` less the
//! umask, as for any file a program creates.
//!
//! A path that is no regular file (a character device such as `/dev/null`,
//! a FIFO, `/dev/stdout` leading to a pipe or terminal) is a stream: it is
//! written to, opened at commit (a FIFO opens when its reader comes), and
//! never replaced. `-` is standard output.

mod atomic;
mod stream;

use std::{
    ffi::{OsStr, OsString},
    io::{self, Write},
    os::{
        fd::{BorrowedFd, OwnedFd},
        unix::ffi::OsStrExt,
    },
    path::{Component, Path, PathBuf},
};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};

use atomic::AtomicFile;
use stream::Stream;

/// Why an output cannot be prepared or written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: it is a directory; give a file name")]
    IsDirectory { path: PathBuf },
    #[error("cannot write {path}: directory {dir} does not exist")]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: {dir} is not a directory")]
    NotADirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: directory {dir} is not writable (permission denied)")]
    NotWritable { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: {dir} is on a read-only filesystem")]
    ReadOnly { path: PathBuf, dir: PathBuf },
    #[error(
        "cannot write {path}: it is a block device, which a result is never written over; give a \
         file name"
    )]
    BlockDevice { path: PathBuf },
    #[error(
        "cannot write {path}: it is a socket, which cannot be opened by name; give a file name, \
         or `-` for standard output"
    )]
    Socket { path: PathBuf },
    #[error("cannot write {path}: {source} (check that its directory is writable)")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{first} and {second} both write to {path}: each would overwrite the other; give them \
         different files"
    )]
    SameFile {
        first: String,
        second: String,
        path: PathBuf,
    },
}

/// Where a result goes, checked in advance.
#[derive(Debug)]
pub(crate) enum Output {
    /// Standard output (`-`, no path, or a name for this process's standard
    /// output such as `/dev/stdout`).
    Stdout,
    /// Standard error, named as `/dev/stderr` or the like.
    Stderr,
    /// A regular file (or a new name), replaced atomically at commit.
    File(Box<AtomicFile>),
    /// A character device or FIFO: written to, never replaced.
    Stream(Stream),
}

/// Device and inode: what makes two names the same file.
// The field types differ between architectures (u64 on 64-bit ones).
#[allow(clippy::useless_conversion)]
fn identity(stat: &Stat) -> (u64, u64) {
    (u64::from(stat.st_dev), u64::from(stat.st_ino))
}

fn file_type(stat: &Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode)
}

/// The identity of this process's standard output or error, if open.
fn std_identity(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    rfs::fstat(fd).ok().map(|s| identity(&s))
}

fn stdout_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 1 is standard output, open for the life of the process
    // (the standard library's `Stdout` assumes the same); it is only
    // fstat'ed here, never closed.
    unsafe { BorrowedFd::borrow_raw(1) }
}

fn stderr_fd() -> BorrowedFd<'static> {
    // SAFETY: as for `stdout_fd`, fd 2.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// Splits `path` into the directory to open and the name in it.
fn split(path: &Path) -> Result<(PathBuf, OsString), OutputError> {
    let is_directory = || OutputError::IsDirectory {
        path: path.to_owned(),
    };
    // `out/`, `out/.` and `..` name a directory, whatever is there.
    if path.as_os_str().as_bytes().ends_with(b"/") {
        return Err(is_directory());
    }
    let name = match path.components().next_back() {
        Some(Component::Normal(name)) => name.to_owned(),
        _ => return Err(is_directory()),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

impl Output {
    /// [`Output::prepare`] of an optional file (`--json`, `--stats`,
    /// `--suggest`): nothing when none was given.
    pub(crate) fn prepare_if_given(path: Option<&Path>) -> Result<Option<Output>, OutputError> {
        path.map(|p| Output::prepare(Some(p))).transpose()
    }

    /// Prepares `path` (or standard output for `None` or `-`): opens its
    /// directory and creates the file that will take its name, so that a
    /// bad path fails now, with one line, before any work is done.
    pub(crate) fn prepare(path: Option<&Path>) -> Result<Output, OutputError> {
        let Some(path) = path.filter(|p| *p != Path::new("-")) else {
            return Ok(Output::Stdout);
        };
        let (dir_path, name) = split(path)?;
        let dir = rfs::open(
            &dir_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| dir_error(e, path, &dir_path))?;

        match rfs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                return Err(OutputError::Create {
                    path: path.to_owned(),
                    source: e.into(),
                });
            }
            Ok(stat) => match file_type(&stat) {
                FileType::RegularFile => {}
                FileType::Directory => {
                    return Err(OutputError::IsDirectory {
                        path: path.to_owned(),
                    });
                }
                FileType::Symlink => {
                    if let Some(output) = Output::through_symlink(path, &dir, &name, &stat)? {
                        return Ok(output);
                    }
                }
                _ => return Output::stream(path, dir, name, false, identity(&stat)),
            },
        }
        AtomicFile::create(path, dir, dir_path, name).map(|f| Output::File(Box::new(f)))
    }

    /// A symbolic link is followed only when root or this user made it
    /// (`/dev/stdout`, a link of one's own): then standard output or error,
    /// a device or a FIFO behind it is written to. Any other link is a name
    /// like any other, replaced (`None`) and never followed, so that the
    /// owner of a shared directory cannot point a name at something of
    /// someone else's.
    fn through_symlink(
        path: &Path,
        dir: &OwnedFd,
        name: &OsStr,
        link: &Stat,
    ) -> Result<Option<Output>, OutputError> {
        if !trusted_link(link) {
            return Ok(None);
        }
        let target = match rfs::statat(dir, name, AtFlags::empty()) {
            Ok(target) => target,
            // A dangling link, or a loop: replaced like any name.
            Err(_) => return Ok(None),
        };
        let id = identity(&target);
        if std_identity(stdout_fd()) == Some(id) {
            return Ok(Some(Output::Stdout));
        }
        if std_identity(stderr_fd()) == Some(id) {
            return Ok(Some(Output::Stderr));
        }
        match file_type(&target) {
            FileType::RegularFile => Ok(None),
            FileType::Directory => Err(OutputError::IsDirectory {
                path: path.to_owned(),
            }),
            _ => {
                let dir = rustix::io::dup(dir).map_err(|e| OutputError::Create {
                    path: path.to_owned(),
                    source: e.into(),
                })?;
                Output::stream(path, dir, name.to_owned(), true, id).map(Some)
            }
        }
    }

    /// Writes `text`: to the stream, or into the prepared file, which then
    /// takes its final name. The path written, for a file or stream.
    pub(crate) fn commit(self, text: &str) -> Result<Option<PathBuf>, OutputError> {
        match self {
            Output::Stdout => write_std(io::stdout().lock(), "<stdout>", text),
            Output::Stderr => write_std(io::stderr().lock(), "<stderr>", text),
            Output::Stream(stream) => stream.commit(text),
            Output::File(file) => file.commit(text),
        }
    }

    /// Refuses two outputs that would write the same file: `outputs` are
    /// the options as given (`("-o", path)`), `None` for one not given.
    /// Paths are compared resolved and, for files that exist, by device and
    /// inode; `-` is standard output. Nothing is created.
    pub(crate) fn check_distinct(outputs: &[(&str, Option<&Path>)]) -> Result<(), OutputError> {
        let keyed: Vec<(&str, &Path, OutputKey)> = outputs
            .iter()
            .filter_map(|&(option, path)| path.map(|p| (option, p, OutputKey::of(p))))
            .collect();
        for (i, (first, path, key)) in keyed.iter().enumerate() {
            for (second, _, other) in &keyed[i + 1..] {
                if key.same(other) {
                    return Err(OutputError::SameFile {
                        first: (*first).to_owned(),
                        second: (*second).to_owned(),
                        path: path.to_path_buf(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Whether a symbolic link is followed: root or this user made it.
fn trusted_link(link: &Stat) -> bool {
    link.st_uid == 0 || link.st_uid == rustix::process::geteuid().as_raw()
}

/// What an output path designates, for [`Output::check_distinct`].
struct OutputKey {
    /// The path made absolute, with its directory resolved.
    resolved: Option<PathBuf>,
    /// Device and inode of what it leads to, when that exists.
    identity: Option<(u64, u64)>,
}

impl OutputKey {
    fn of(path: &Path) -> OutputKey {
        if path == Path::new("-") {
            return OutputKey {
                resolved: Some(PathBuf::from("/dev/stdout")),
                identity: std_identity(stdout_fd()),
            };
        }
        // The directory resolved, then the name.
        let by_name = || {
            let (dir, name) = split(path).ok()?;
            Some(std::fs::canonicalize(dir).ok()?.join(name))
        };
        // A link that is not followed (see `Output::through_symlink`) is
        // the name it stands at.
        if let Ok(link) = rfs::lstat(path)
            && file_type(&link) == FileType::Symlink
            && !trusted_link(&link)
        {
            return OutputKey {
                resolved: by_name(),
                identity: Some(identity(&link)),
            };
        }
        let identity = rfs::stat(path).ok().map(|s| identity(&s));
        let resolved = std::fs::canonicalize(path).ok().or_else(by_name);
        OutputKey { resolved, identity }
    }

    fn same(&self, other: &OutputKey) -> bool {
        matches!((self.identity, other.identity), (Some(a), Some(b)) if a == b)
            || matches!((&self.resolved, &other.resolved), (Some(a), Some(b)) if a == b)
    }
}

/// What an error opening the output's directory, or creating a file in
/// it, means for the user: the fix it names.
fn dir_error(errno: rustix::io::Errno, path: &Path, dir: &Path) -> OutputError {
    let (path, dir) = (path.to_owned(), dir.to_owned());
    match errno {
        rustix::io::Errno::NOENT => OutputError::NoDirectory { path, dir },
        rustix::io::Errno::NOTDIR => OutputError::NotADirectory { path, dir },
        rustix::io::Errno::ROFS => OutputError::ReadOnly { path, dir },
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => {
            OutputError::NotWritable { path, dir }
        }
        e => OutputError::Create {
            path,
            source: e.into(),
        },
    }
}

/// Writes `text` to the tool's own standard output or error.
fn write_std(mut out: impl Write, name: &str, text: &str) -> Result<Option<PathBuf>, OutputError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| OutputError::Write {
            path: PathBuf::from(name),
            source,
        })?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn missing_directory_is_named() {
        let err = Output::prepare(Some(Path::new("/nonexistent-dir/out.json"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir"), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for path in [
            dir.path().to_owned(),
            dir.path().join("sub/"),
            dir.path().join("."),
        ] {
            let err = Output::prepare(Some(&path)).unwrap_err();
            assert!(matches!(err, OutputError::IsDirectory { .. }), "{err}");
        }
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let err = Output::prepare(Some(&file.join("out.json"))).unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }

    #[test]
    fn the_same_file_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let same = dir.path().join(".").join("a.json");
        let err = Output::check_distinct(&[("-o", Some(&a)), ("--stats", Some(&same))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("-o and --stats"), "{err}");
        // A hard link to an existing file is the same file too.
        fs::write(&a, "").unwrap();
        let link = dir.path().join("b.json");
        fs::hard_link(&a, &link).unwrap();
        assert!(Output::check_distinct(&[("-o", Some(&a)), ("--stats", Some(&link))]).is_err());
        let other = dir.path().join("c.json");
        Output::check_distinct(&[("-o", Some(&a)), ("--stats", Some(&other)), ("x", None)])
            .unwrap();
    }
}
