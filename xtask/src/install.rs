//! `cargo install` as a user runs it, for `tests/install.rs` to try the
//! binaries: from the clone's path (`cargo install --path profiler`) and
//! from a git URL (`cargo install --git URL syscall-profile`, the URL being
//! this clone through `file://`, at its `HEAD`: what a user cloning it
//! gets).
//!
//! Both are dev builds into the workspace's own target directory, so that
//! they reuse what `cargo build --workspace` just compiled (the dependencies
//! a fresh clone would download and build are the same ones, at the
//! versions of `Cargo.lock`: `--locked`). The release profile's own rule,
//! that the eBPF object must be built and not left a placeholder, is
//! exercised by `cargo xtask dist`, which builds in release.
//!
//! The roots are `target/install-check/{path,git}`; cargo's clone of the
//! repository for `--git` (under `$CARGO_HOME/git`) is removed afterwards:
//! nothing of the check is left outside the target directory.

use std::{
    collections::BTreeSet,
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::workspace::{self, Workspace};

/// Environment variable naming the directory that holds the two roots
/// (`path/bin/syscall-profile`, `git/bin/syscall-profile`).
pub const INSTALLED_VAR: &str = "SYSCALL_PROFILE_TEST_INSTALLED";

/// Installs the binary both ways; returns the directory of the two roots.
pub fn run(ws: &Workspace) -> Result<PathBuf> {
    let base = ws.target_dir.join("install-check");
    if base.exists() {
        fs::remove_dir_all(&base).with_context(|| format!("cannot empty {}", base.display()))?;
    }
    fs::create_dir_all(&base).with_context(|| format!("cannot create {}", base.display()))?;

    let mut from_path = install(ws, &base.join("path"));
    from_path.arg("--path").arg(ws.root.join("profiler"));
    workspace::run(&mut from_path).context("`cargo install --path profiler` failed")?;

    let head = head_commit(&ws.root)?;
    let url = format!("file://{}", ws.root.display());
    let git_dir = cargo_home()?.join("git");
    let before = cache_entries(&git_dir);
    let mut from_git = install(ws, &base.join("git"));
    from_git.args(["--git", &url, "--rev", &head, "syscall-profile"]);
    let result = workspace::run(&mut from_git)
        .with_context(|| format!("`cargo install --git {url} syscall-profile` failed"));
    // cargo's own clone of this repository, whatever the outcome.
    for entry in cache_entries(&git_dir).difference(&before) {
        let _ = fs::remove_dir_all(entry);
    }
    result?;
    eprintln!(
        "xtask: installed with cargo install --path and --git (commit {}) under {}",
        &head[..12.min(head.len())],
        base.display()
    );
    Ok(base)
}

/// `cargo install --locked --debug` into `root`, built in the workspace's
/// target directory.
fn install(ws: &Workspace, root: &Path) -> Command {
    let mut cmd = ws.cargo(["install", "--locked", "--debug", "--force"]);
    cmd.arg("--root")
        .arg(root)
        .arg("--target-dir")
        .arg(&ws.target_dir);
    cmd
}

fn head_commit(root: &Path) -> Result<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "HEAD"])
        .current_dir(root)
        .output()
        .context("cannot run git (the --git install needs it)")?;
    if !out.status.success() {
        bail!(
            "{} is not a git clone with a commit: `cargo install --git` needs one",
            root.display()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `CARGO_HOME`, else `~/.cargo`.
fn cargo_home() -> Result<PathBuf> {
    if let Some(home) = env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// The repositories cargo keeps under `git/db` and `git/checkouts`.
fn cache_entries(git_dir: &Path) -> BTreeSet<PathBuf> {
    ["db", "checkouts"]
        .iter()
        .filter_map(|d| fs::read_dir(git_dir.join(d)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .collect()
}
