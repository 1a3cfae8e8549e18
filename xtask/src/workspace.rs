//! Where the workspace is, and running commands in it.

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Output},
};

use anyhow::{Context, Result, bail};

/// The workspace xtask was built in: the parent of xtask's own manifest
/// directory, so a clone anywhere works, whatever the current directory.
pub struct Workspace {
    pub root: PathBuf,
    /// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `target/`.
    pub target_dir: PathBuf,
    /// `CARGO_TARGET_DIR` made absolute, for the cargo commands started from
    /// the root (a relative one meant the directory `cargo xtask` ran in).
    target_dir_override: Option<PathBuf>,
}

impl Workspace {
    pub fn locate() -> Result<Self> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .with_context(|| format!("{} has no parent directory", manifest_dir.display()))?
            .to_path_buf();
        let target_dir_override = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => Some(
                std::path::absolute(&dir)
                    .with_context(|| format!("cannot make CARGO_TARGET_DIR={dir:?} absolute"))?,
            ),
            _ => None,
        };
        let target_dir = target_dir_override
            .clone()
            .unwrap_or_else(|| root.join("target"));
        Ok(Self {
            root,
            target_dir,
            target_dir_override,
        })
    }

    /// `cargo ARGS` in the workspace root, with the cargo that runs xtask.
    pub fn cargo<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(cargo_program());
        cmd.args(args).current_dir(&self.root);
        if let Some(dir) = &self.target_dir_override {
            cmd.env("CARGO_TARGET_DIR", dir);
        }
        cmd
    }

    /// A binary built by `cargo build [--release]`.
    pub fn binary(&self, profile: &str, name: &str) -> PathBuf {
        self.target_dir.join(profile).join(name)
    }
}

/// The cargo that started xtask (`CARGO`), else `cargo` from `PATH`.
pub fn cargo_program() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// A command as a user would type it, for messages.
pub fn display(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains([' ', '\'', '"', '$']) {
            format!("'{}'", a.replace('\'', r"'\''"))
        } else {
            a.into_owned()
        }
    }));
    words.join(" ")
}

/// Runs `cmd` to its end; an error names it unless it succeeded.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs `cmd` to its end and returns its output; an error names it, with
/// its stderr, unless it succeeded.
pub fn output(cmd: &mut Command) -> Result<Output> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot run `{}`", display(cmd)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "`{}` failed ({}): {}",
            display(cmd),
            output.status,
            stderr.trim()
        );
    }
    Ok(output)
}

/// Runs `cmd` to its end and returns its status; errors only when it could
/// not start.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status()
        .with_context(|| format!("cannot run `{}`", display(cmd)))
}

/// The host's target triple (`rustc -vV`, with the `rustc` cargo uses):
/// the fuzz targets and the static samples are built for it explicitly,
/// so that their flags stay off build scripts and proc-macros.
pub fn host_triple() -> Result<String> {
    let mut rustc = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    rustc.arg("-vV");
    let out = rustc
        .output()
        .with_context(|| format!("cannot run `{}`", display(&rustc)))?;
    let host = String::from_utf8_lossy(&out.stdout);
    let host = host.lines().find_map(|l| l.strip_prefix("host: "));
    host.map(str::to_owned)
        .with_context(|| format!("`{}` names no host", display(&rustc)))
}
