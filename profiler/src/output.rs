//! Output files, checked before the work starts and written atomically.
//!
//! A recording may run for hours: finding out at the end that the output
//! path cannot be written would lose it. So the file is created (as a hidden
//! temporary beside its final name) before the workload starts, and renamed
//! over the final name once it is complete, so a reader never sees a partial
//! file, and a failed run leaves none behind.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use tempfile::NamedTempFile;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: it is a directory; give a file name")]
    IsDirectory { path: PathBuf },
    #[error("cannot write {path}: directory {dir} does not exist")]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: {source} (check that its directory is writable)")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Where a result goes: a file prepared in advance, or standard output.
#[derive(Debug)]
pub enum Output {
    File { path: PathBuf, temp: NamedTempFile },
    Stdout,
}

impl Output {
    /// Prepares `path` (or standard output for `None` or `-`): creates the
    /// temporary file now, so a bad path fails before any work is done.
    pub fn prepare(path: Option<&Path>) -> Result<Output, OutputError> {
        let Some(path) = path.filter(|p| *p != Path::new("-")) else {
            return Ok(Output::Stdout);
        };
        if path.is_dir() {
            return Err(OutputError::IsDirectory {
                path: path.to_owned(),
            });
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory {
                path: path.to_owned(),
                dir,
            });
        }
        let temp = tempfile::Builder::new()
            .prefix(".syscall-profile-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|source| OutputError::Create {
                path: path.to_owned(),
                source,
            })?;
        Ok(Output::File {
            path: path.to_owned(),
            temp,
        })
    }

    /// Writes `text` and, for a file, renames it into place.
    pub fn commit(self, text: &str) -> Result<Option<PathBuf>, OutputError> {
        match self {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|source| OutputError::Write {
                        path: PathBuf::from("<stdout>"),
                        source,
                    })?;
                Ok(None)
            }
            Output::File { path, mut temp } => {
                let write_err = |source| OutputError::Write {
                    path: path.clone(),
                    source,
                };
                temp.write_all(text.as_bytes()).map_err(write_err)?;
                temp.as_file().sync_all().map_err(write_err)?;
                // A temporary file is private (0600); a profile is not secret.
                fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))
                    .map_err(write_err)?;
                temp.persist(&path).map_err(|e| OutputError::Write {
                    path: path.clone(),
                    source: e.error,
                })?;
                Ok(Some(path))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_file_is_hidden_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let output = Output::prepare(Some(&path)).unwrap();
        assert!(!path.exists());
        output.commit("{}\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
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
    }
}
