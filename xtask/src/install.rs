//! `cargo install` as a user runs it, for `tests/dist.rs` to try the
//! binaries: from a git URL (`cargo install --git URL syscall-profile`, the
//! URL being this clone through `file://`, at its `HEAD`: what a user
//! cloning it gets) and from the clone's path (`cargo install --path
//! profiler`).
//!
//! Both are dev builds into the workspace's own target directory, so that
//! they share the dependencies (`--locked`: the versions of `Cargo.lock`, as
//! a fresh clone gets them). Cargo names a workspace member's build by its
//! path within the workspace, so that the checkout's `profiler` and the
//! clone's would be one build to it, and the git install would reuse the
//! clone's (a file the clone has but git does not would go unnoticed): the
//! git install's package is given a profile setting of its own (one
//! codegen unit less), which makes its build cargo's checkout's alone, and
//! [`from_git`] checks in the binary that it was compiled from there, at
//! `HEAD` (cargo never looks again at a git package it built once, so an
//! earlier run's build of another commit is cleaned away first). The
//! release profile's own rule, that the eBPF object must be built and not
//! left a placeholder, is exercised by `cargo xtask dist`, which builds in
//! release.
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

/// `target/install-check`, where the roots are.
fn base(ws: &Workspace) -> PathBuf {
    ws.target_dir.join("install-check")
}

/// `cargo install --git file://CLONE --rev HEAD syscall-profile` into
/// `target/install-check/git`, from a fresh `target/install-check`; fails
/// unless the binary was compiled from cargo's checkout.
pub fn from_git(ws: &Workspace) -> Result<()> {
    let base = base(ws);
    if base.exists() {
        fs::remove_dir_all(&base).with_context(|| format!("cannot empty {}", base.display()))?;
    }
    fs::create_dir_all(&base).with_context(|| format!("cannot create {}", base.display()))?;
    let head = head_commit(&ws.root)?;
    let url = format!("file://{}", ws.root.display());
    let git_dir = cargo_home()?.join("git");
    let before = cache_entries(&git_dir);
    let root = base.join("git");
    let short = short_commit(&ws.root)?;
    let binary = root.join("bin/syscall-profile");
    let install_once = || {
        let mut from_git = install(ws, &root);
        // A build of its own (see above); 256 is the dev profile's default.
        from_git.args([
            "--config",
            "profile.dev.package.syscall-profile.codegen-units=255",
        ]);
        from_git.args(["--git", &url, "--rev", &head, "syscall-profile"]);
        let result = workspace::run(&mut from_git)
            .with_context(|| format!("`cargo install --git {url} syscall-profile` failed"));
        // cargo's own clone of this repository, whatever the outcome.
        let made: Vec<PathBuf> = cache_entries(&git_dir)
            .difference(&before)
            .cloned()
            .collect();
        for entry in &made {
            let _ = fs::remove_dir_all(entry);
        }
        result?;
        let version = workspace::output(Command::new(&binary).arg("--version"))?;
        Ok::<_, anyhow::Error>(String::from_utf8_lossy(&version.stdout).into_owned())
    };
    // Cargo does not look again at a git package it built once: an
    // earlier run's build, of another commit, can come back (the target
    // directory is kept between a developer's runs; CI's is new). Then
    // the package's builds are cleaned, and it is installed again.
    let said = format!("(commit {short},");
    let version = install_once()?;
    if !version.contains(&said) {
        eprintln!(
            "xtask: cargo install --git gave an earlier build ({}): cleaning syscall-profile's \
             builds and installing again",
            version.trim()
        );
        let mut clean = ws.cargo(["clean", "-p", "syscall-profile", "--target-dir"]);
        clean.arg(&ws.target_dir);
        workspace::run(&mut clean)?;
        let again = install_once()?;
        if !again.contains(&said) {
            bail!(
                "cargo install --git gave {}, not commit {short}",
                again.trim()
            );
        }
    }
    // The debug information names the sources compiled: the checkout's.
    let bytes = fs::read(&binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let checkouts = git_dir.join("checkouts");
    let needle = checkouts.to_string_lossy();
    if !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        bail!(
            "{} was not compiled from cargo's checkout under {}: cargo reused another build \
             of the package",
            binary.display(),
            checkouts.display()
        );
    }
    eprintln!(
        "xtask: installed with cargo install --git (commit {}) into {}",
        &head[..12.min(head.len())],
        root.display()
    );
    Ok(())
}

/// `cargo install --path profiler` into `target/install-check/path`, after
/// [`from_git`] (which empties the directory); returns the directory of the
/// two roots.
pub fn from_path(ws: &Workspace) -> Result<PathBuf> {
    let base = base(ws);
    let root = base.join("path");
    let mut from_path = install(ws, &root);
    from_path.arg("--path").arg(ws.root.join("profiler"));
    workspace::run(&mut from_path).context("`cargo install --path profiler` failed")?;
    eprintln!(
        "xtask: installed with cargo install --path into {}",
        root.display()
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

/// `git rev-parse --short HEAD`, as the build script names the commit.
fn short_commit(root: &Path) -> Result<String> {
    let out = workspace::output(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(root),
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
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
