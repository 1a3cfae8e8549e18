//! A device or FIFO as an output: checked at prepare time, opened at
//! commit, and never replaced.

use std::{
    ffi::OsString,
    fs::File,
    io::{self, Write},
    os::fd::{AsRawFd, OwnedFd},
    path::{Path, PathBuf},
};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::{Output, OutputError, file_type, identity, std_identity, stderr_fd, stdout_fd};

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

impl Output {
    /// A device, FIFO or socket at `name` (through a link, if `follow`),
    /// which was `expected` when looked at: a handle on it is kept, so that
    /// the object written at commit is the one checked now, and if the name
    /// was swapped in between, the output is refused.
    pub(super) fn stream(
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
}

impl Stream {
    pub(super) fn commit(self, text: &str) -> Result<Option<PathBuf>, OutputError> {
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
