//! The file a result is written to: prepared unnamed (or under a hidden
//! name) in the output's directory, then linked and renamed over the final
//! name at commit.

use std::{
    ffi::{OsStr, OsString},
    fs::File,
    io::{self, Write},
    os::fd::{AsRawFd, OwnedFd},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use rustix::fs::{self as rfs, AtFlags, CWD, FileType, Mode, OFlags};

use super::{OutputError, dir_error, file_type, identity};

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

const TEMP_PREFIX: &str = ".syscall-profile-";
const TEMP_SUFFIX: &str = ".tmp";

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

impl AtomicFile {
    /// Creates the unnamed file in `dir` (or a hidden named one).
    pub(super) fn create(
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

    pub(super) fn commit(mut self, text: &str) -> Result<Option<PathBuf>, OutputError> {
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

/// Whether to act as on a filesystem without `O_TMPFILE`: only when a unit
/// test asks, to test the fallback.
#[cfg(not(test))]
fn no_tmpfile() -> bool {
    false
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
    use crate::output::Output;

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
}
