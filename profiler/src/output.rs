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

use std::{
    ffi::{OsStr, OsString},
    fs::File,
    io::{self, Write},
    os::{
        fd::{AsRawFd, BorrowedFd, OwnedFd},
        unix::ffi::OsStrExt,
    },
    path::{Component, Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use rustix::fs::{self as rfs, AtFlags, CWD, FileType, Mode, OFlags, Stat};

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

/// A file being prepared in its directory, not yet visible under its name.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    path: PathBuf,
    /// The output's directory, opened once: every later step is relative to
    /// it, so renaming or replacing a directory on the path changes nothing.
    dir: OwnedFd,
    dir_path: PathBuf,
    name: OsString,
    file: File,
    /// The hidden name of the file, when the filesystem has no unnamed
    /// (`O_TMPFILE`) files; removed again if the output is dropped.
    temp_name: Option<OsString>,
}

/// A device or FIFO, found at prepare time and opened at commit.
#[derive(Debug)]
pub(crate) struct Stream {
    path: PathBuf,
    /// An `O_PATH` handle on what the path led to when prepared: the same
    /// object is opened at commit, whatever the path leads to by then.
    target: OwnedFd,
    dir: OwnedFd,
    name: OsString,
    identity: (u64, u64),
}

const TEMP_PREFIX: &str = ".syscall-profile-";
const TEMP_SUFFIX: &str = ".tmp";

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

/// A name no other file of the directory has yet (checked by `O_EXCL` or
/// `linkat` when used): the process id, a counter and the clock.
fn fresh_name() -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    OsString::from(format!(
        "{TEMP_PREFIX}{}-{count}-{nanos:08x}{TEMP_SUFFIX}",
        std::process::id()
    ))
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

    /// A device, FIFO or socket at `name` (through a link, if `follow`),
    /// which was `expected` when looked at: a handle on it is kept, so that
    /// the object written at commit is the one checked now, and if the name
    /// was swapped in between, the output is refused.
    fn stream(
        path: &Path,
        dir: OwnedFd,
        name: OsString,
        follow: bool,
        expected: (u64, u64),
    ) -> Result<Output, OutputError> {
        let create_err = |e: rustix::io::Errno| OutputError::Create {
            path: path.to_owned(),
            source: e.into(),
        };
        let mut flags = OFlags::PATH | OFlags::CLOEXEC;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        let target = rfs::openat(&dir, &name, flags, Mode::empty()).map_err(create_err)?;
        let stat = rfs::fstat(&target).map_err(create_err)?;
        let id = identity(&stat);
        if id != expected {
            return Err(OutputError::Create {
                path: path.to_owned(),
                source: io::Error::other("it was replaced while being checked"),
            });
        }
        if std_identity(stdout_fd()) == Some(id) {
            return Ok(Output::Stdout);
        }
        if std_identity(stderr_fd()) == Some(id) {
            return Ok(Output::Stderr);
        }
        match file_type(&stat) {
            FileType::BlockDevice => {
                return Err(OutputError::BlockDevice {
                    path: path.to_owned(),
                });
            }
            FileType::Socket => {
                return Err(OutputError::Socket {
                    path: path.to_owned(),
                });
            }
            FileType::Directory => {
                return Err(OutputError::IsDirectory {
                    path: path.to_owned(),
                });
            }
            _ => {}
        }
        rfs::accessat(&dir, &name, rfs::Access::WRITE_OK, AtFlags::EACCESS).map_err(create_err)?;
        Ok(Output::Stream(Stream {
            path: path.to_owned(),
            target,
            dir,
            name,
            identity: id,
        }))
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

impl AtomicFile {
    /// Creates the unnamed file in `dir` (or a hidden named one).
    fn create(
        path: &Path,
        dir: OwnedFd,
        dir_path: PathBuf,
        name: OsString,
    ) -> Result<AtomicFile, OutputError> {
        let (file, temp_name) = new_file(&dir).map_err(|e| dir_error(e, path, &dir_path))?;
        Ok(AtomicFile {
            path: path.to_owned(),
            dir,
            dir_path,
            name,
            file,
            temp_name,
        })
    }

    /// Removes the hidden name of a named temporary file, if any.
    fn remove_temp_name(&mut self) {
        if let Some(temp) = self.temp_name.take() {
            let _ = rfs::unlinkat(&self.dir, &temp, AtFlags::empty());
        }
    }

    fn commit(mut self, text: &str) -> Result<Option<PathBuf>, OutputError> {
        let path = self.path.clone();
        let write_err = |source: io::Error| OutputError::Write {
            path: path.clone(),
            source,
        };
        let errno_err = |e: rustix::io::Errno| write_err(e.into());
        // The owner of the directory may remove or swap a name between the
        // link and the rename: the file is checked under its final name,
        // and if what got there is not it, the text is written again to a
        // new file (the old one may have no name left to link it from).
        for attempt in 0..10 {
            if attempt > 0 {
                self.remove_temp_name();
                let (file, temp_name) = new_file(&self.dir).map_err(errno_err)?;
                (self.file, self.temp_name) = (file, temp_name);
            }
            self.file.write_all(text.as_bytes()).map_err(write_err)?;
            self.file.sync_all().map_err(write_err)?;
            let ours = identity(&rfs::fstat(&self.file).map_err(errno_err)?);
            let is_ours = |name: &OsStr| {
                rfs::statat(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|s| identity(&s) == ours && file_type(&s) == FileType::RegularFile)
            };
            let renamed = match self.link_fresh().map_err(errno_err)? {
                Some(hidden) => {
                    between_link_and_rename(&self.dir, &hidden);
                    rfs::renameat(&self.dir, &hidden, &self.dir, &self.name)
                }
                // Neither /proc nor CAP_DAC_READ_SEARCH: the named temporary
                // file is renamed itself, if it is still ours.
                None => match self.temp_name.take() {
                    Some(temp) if is_ours(&temp) => {
                        rfs::renameat(&self.dir, &temp, &self.dir, &self.name)
                    }
                    Some(_) => Err(rustix::io::Errno::NOENT),
                    None => return Err(write_err(io::Error::other("cannot link the file"))),
                },
            };
            match renamed {
                Ok(()) if is_ours(&self.name) => {
                    self.remove_temp_name();
                    rfs::fsync(&self.dir).map_err(errno_err)?;
                    return Ok(Some(path));
                }
                Ok(()) | Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(errno_err(e)),
            }
        }
        Err(write_err(io::Error::other(format!(
            "its name was replaced by something else each time it was written (is another \
             program writing in {}?)",
            self.dir_path.display()
        ))))
    }

    /// Gives the file a fresh hidden name in the directory; `None` when it
    /// cannot be linked by descriptor here.
    fn link_fresh(&self) -> Result<Option<OsString>, rustix::io::Errno> {
        let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        for _ in 0..100 {
            let hidden = fresh_name();
            let by_proc = rfs::linkat(CWD, &proc_path, &self.dir, &hidden, AtFlags::SYMLINK_FOLLOW);
            let result = match by_proc {
                Err(
                    rustix::io::Errno::NOENT
                    | rustix::io::Errno::ACCESS
                    | rustix::io::Errno::PERM
                    | rustix::io::Errno::XDEV,
                ) => rfs::linkat(&self.file, "", &self.dir, &hidden, AtFlags::EMPTY_PATH),
                other => other,
            };
            match result {
                Ok(()) => return Ok(Some(hidden)),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(
                    rustix::io::Errno::NOENT | rustix::io::Errno::PERM | rustix::io::Errno::ACCESS,
                ) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Err(rustix::io::Errno::EXIST)
    }
}

/// A new file in `dir` for an output: unnamed (`O_TMPFILE`) where the
/// filesystem has them, else under a fresh hidden name, created there
/// (`O_EXCL`, never through a link). Mode 0666: the kernel takes the umask
/// off, as for any new file.
fn new_file(dir: &OwnedFd) -> Result<(File, Option<OsString>), rustix::io::Errno> {
    let mode = Mode::from_raw_mode(0o666);
    let unnamed = if no_tmpfile() {
        Err(rustix::io::Errno::OPNOTSUPP)
    } else {
        rfs::openat(
            dir,
            ".",
            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
            mode,
        )
    };
    match unnamed {
        Ok(fd) => return Ok((File::from(fd), None)),
        // No O_TMPFILE on this filesystem (or kernel).
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
        }
        Err(e) => return Err(e),
    }
    for _ in 0..100 {
        let temp = fresh_name();
        match rfs::openat(
            dir,
            &temp,
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
            mode,
        ) {
            Ok(fd) => return Ok((File::from(fd), Some(temp))),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(rustix::io::Errno::EXIST)
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // An unnamed file goes with its descriptor; a named one is removed.
        self.remove_temp_name();
    }
}

impl Stream {
    fn commit(self, text: &str) -> Result<Option<PathBuf>, OutputError> {
        let write_err = |source: io::Error| OutputError::Write {
            path: self.path.clone(),
            source,
        };
        let flags = OFlags::WRONLY | OFlags::NOCTTY | OFlags::CLOEXEC;
        // Reopening the O_PATH handle opens what was checked; without /proc
        // the name is opened again and must still lead to the same object.
        let proc_path = format!("/proc/self/fd/{}", self.target.as_raw_fd());
        let fd = match rfs::open(&proc_path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                let fd = rfs::openat(&self.dir, &self.name, flags, Mode::empty())
                    .map_err(|e| write_err(e.into()))?;
                let now = rfs::fstat(&fd).map_err(|e| write_err(e.into()))?;
                if identity(&now) != self.identity {
                    return Err(write_err(io::Error::other(
                        "it was replaced by something else since the start",
                    )));
                }
                fd
            }
            Err(e) => return Err(write_err(e.into())),
        };
        let mut file = File::from(fd);
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .map_err(write_err)?;
        Ok(Some(self.path))
    }
}

/// Whether to act as on a filesystem without `O_TMPFILE`: only when a unit
/// test asks, to test the fallback.
#[cfg(not(test))]
fn no_tmpfile() -> bool {
    false
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
fn no_tmpfile() -> bool {
    tests::NO_TMPFILE.with(std::cell::Cell::get)
}

/// Where a unit test plays the directory's owner, swapping the hidden name.
#[cfg(not(test))]
fn between_link_and_rename(_dir: &OwnedFd, _hidden: &OsStr) {}

#[cfg(test)]
fn between_link_and_rename(dir: &OwnedFd, hidden: &OsStr) {
    if let Some(attack) = tests::ATTACK.with(|a| a.borrow_mut().pop()) {
        attack(dir, hidden);
    }
}

#[cfg(test)]
mod tests {
    use std::{cell::Cell, fs, os::unix::fs::PermissionsExt};

    use super::*;

    type Attack = Box<dyn FnOnce(&OwnedFd, &OsStr)>;

    thread_local! {
        pub(super) static NO_TMPFILE: Cell<bool> = const { Cell::new(false) };
        /// What happens to the hidden names, one a commit attempt, last first.
        pub(super) static ATTACK: std::cell::RefCell<Vec<Attack>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }

    #[test]
    fn a_hidden_name_swapped_or_removed_is_linked_again() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        fs::write(&secret, "secret\n").unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
        let secret_for_attack = secret.clone();
        ATTACK.with(|a| {
            *a.borrow_mut() = vec![
                // Second attempt: the name is removed.
                Box::new(|dir: &OwnedFd, hidden: &OsStr| {
                    rfs::unlinkat(dir, hidden, AtFlags::empty()).unwrap();
                }),
                // First attempt: the name becomes a link to the secret.
                Box::new(move |dir: &OwnedFd, hidden: &OsStr| {
                    rfs::unlinkat(dir, hidden, AtFlags::empty()).unwrap();
                    rfs::symlinkat(&secret_for_attack, dir, hidden).unwrap();
                }),
            ]
        });
        let path = dir.path().join("out.json");
        Output::prepare(Some(&path))
            .unwrap()
            .commit("{}\n")
            .unwrap();
        assert!(ATTACK.with(|a| a.borrow().is_empty()), "both attacks ran");
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret\n");
        let mode = fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn without_unnamed_files_a_hidden_file_is_used_and_removed() {
        NO_TMPFILE.with(|c| c.set(true));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let output = Output::prepare(Some(&path)).unwrap();
        let entries: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert!(
            entries[0].starts_with(TEMP_PREFIX) && entries[0].ends_with(TEMP_SUFFIX),
            "{entries:?}"
        );
        output.commit("{}\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // Dropped before commit: the hidden file goes too.
        drop(Output::prepare(Some(&dir.path().join("other.json"))).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        NO_TMPFILE.with(|c| c.set(false));
    }

    #[test]
    fn prepared_file_is_hidden_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let output = Output::prepare(Some(&path)).unwrap();
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "unnamed");
        output.commit("{}\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_existing_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        fs::write(&path, "old and longer\n").unwrap();
        Output::prepare(Some(&path))
            .unwrap()
            .commit("new\n")
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let output = Output::prepare(Some(&dir.path().join("out.json"))).unwrap();
        drop(output);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

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
    fn the_mode_follows_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        Output::prepare(Some(&path))
            .unwrap()
            .commit("{}\n")
            .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The umask of this process, read without changing it.
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap();
        assert_eq!(mode, 0o666 & !umask);
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
