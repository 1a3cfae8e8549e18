//! Finding a program the way `execvp` does: a name with a slash is a path,
//! anything else is looked up in `PATH`. Shared by the commands a run
//! starts (`session`) and the engines' CLIs (`engine`).

use std::{
    ffi::{OsStr, OsString},
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::PathBuf,
};

/// Why a program was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    /// No file of that name (the name, as given).
    NotFound(String),
    /// Files of that name, none executable.
    NotExecutable(String),
}

/// The path `execvp` would run for `program`.
pub(crate) fn find(program: &OsStr) -> Result<PathBuf, Missing> {
    let shown = program.to_string_lossy().into_owned();
    if program.is_empty() {
        return Err(Missing::NotFound(shown));
    }
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![PathBuf::from(program)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .collect()
    };
    let mut found_not_executable = false;
    for candidate in candidates {
        match candidate.metadata() {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(candidate),
            Ok(_) => found_not_executable = true,
            Err(_) => {}
        }
    }
    if found_not_executable {
        Err(Missing::NotExecutable(shown))
    } else {
        Err(Missing::NotFound(shown))
    }
}
