//! `cargo xtask dist`: the release tarball.
//!
//! `target/dist/syscall-profile-VERSION-TARGET.tar.gz` and its `.sha256`,
//! holding one directory of the same name: the binary, its shell
//! completions and man pages (written by the binary itself, through its
//! hidden `__dist-assets` subcommand, so they describe exactly the binary
//! shipped), the licences and a README (`xtask/dist/README.md`).
//!
//! The binary needs nothing of the host at run time: glibc and libseccomp
//! are linked in statically. The issue asked for musl; the machines this
//! is built on have no musl target for Rust (rustup cannot download one, and
//! libseccomp would need a musl build too), so it is a static glibc binary
//! (`-C target-feature=+crt-static`, libseccomp's `libseccomp.a` through
//! libseccomp-sys's `LIBSECCOMP_LINK_TYPE=static`), named by what it is:
//! `x86_64-unknown-linux-gnu-static`. What static glibc cannot do (NSS
//! modules) is said in the tarball's README.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    background::{self, Background},
    workspace::{self, Workspace, display},
};

/// The Rust target the binary is built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";
/// What the tarball's name says it is built for.
const FLAVOUR: &str = "x86_64-unknown-linux-gnu-static";
/// The README of the tarball, `{VERSION}` and `{TARGET}` filled in.
const README: &str = include_str!("../dist/README.md");

/// `cargo xtask dist`: builds, then packs.
pub fn run(ws: &Workspace) -> Result<PathBuf> {
    let started = Instant::now();
    let mut build = build_command(ws, false)?;
    eprintln!("xtask dist: {}", display(&build));
    workspace::run(build.stdout(std::io::stderr()))?;
    pack(ws, started)
}

/// The release build, started beside the tests (see [`Background`]); the
/// tarball is packed by [`Started::finish`].
pub struct Started {
    build: Background,
    started: Instant,
}

/// Starts the release build at the lowest priority.
pub fn start(ws: &Workspace) -> Result<Started> {
    let started = Instant::now();
    let build = Background::spawn(
        build_command(ws, true)?,
        ws.target_dir.join("dist-build.log"),
        "the release build (cargo xtask dist)",
    )?;
    Ok(Started { build, started })
}

impl Started {
    /// Waits for the build and packs the tarball.
    pub fn finish(self, ws: &Workspace) -> Result<PathBuf> {
        self.build.wait()?;
        pack(ws, self.started)
    }
}

/// The directory the release is built in: its own, so that it can be built
/// beside the tests, whose cargo runs hold the workspace's.
fn build_dir(ws: &Workspace) -> PathBuf {
    ws.target_dir.join("dist-build")
}

/// The static release build of the binary (at the lowest priority if
/// `niced`).
fn build_command(ws: &Workspace, niced: bool) -> Result<Command> {
    let host = workspace::host_triple()?;
    if host != TARGET {
        bail!("`cargo xtask dist` builds on and for {TARGET} only; this host is {host}");
    }
    let libseccomp = static_libseccomp()?;
    let mut build = match niced {
        true => background::niced(workspace::cargo_program()),
        false => Command::new(workspace::cargo_program()),
    };
    build.current_dir(&ws.root).args([
        "build",
        "--release",
        "--locked",
        "-p",
        "syscall-profile",
        "--bin",
        "syscall-profile",
        "--target",
        TARGET,
    ]);
    // With `--target`, these flags reach only what is built for the target,
    // never build scripts or proc-macros (which cannot be static).
    build
        .env("CARGO_TARGET_DIR", build_dir(ws))
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env("LIBSECCOMP_LINK_TYPE", "static")
        .env("LIBSECCOMP_LIB_PATH", &libseccomp)
        .env_remove("RUSTFLAGS");
    Ok(build)
}

/// Packs the built binary: the tarball and its `.sha256`.
fn pack(ws: &Workspace, started: Instant) -> Result<PathBuf> {
    let binary = build_dir(ws).join(TARGET).join("release/syscall-profile");
    ensure_static(&binary)?;

    let version = version_of(&binary)?;
    let name = format!("syscall-profile-{version}-{FLAVOUR}");
    let dist = ws.target_dir.join("dist");
    let stage = dist.join(&name);
    match fs::remove_dir_all(&stage) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot remove {}", stage.display()));
        }
        _ => {}
    }
    fs::create_dir_all(&stage).with_context(|| format!("cannot create {}", stage.display()))?;
    // Its symbols stripped (2 MB of 7.5): a panic's backtrace then shows
    // addresses, not names.
    copy(&binary, &stage.join("syscall-profile"))?;
    workspace::run(Command::new("strip").arg(stage.join("syscall-profile")))?;
    for licence in ["LICENSE-APACHE", "LICENSE-MIT"] {
        copy(&ws.root.join(licence), &stage.join(licence))?;
    }
    let readme = README
        .replace("{VERSION}", &version)
        .replace("{TARGET}", FLAVOUR);
    fs::write(stage.join("README.md"), readme).context("cannot write the tarball's README")?;
    workspace::run(
        Command::new(stage.join("syscall-profile"))
            .arg("__dist-assets")
            .arg(&stage)
            .env_clear(),
    )?;

    let tarball = dist.join(format!("{name}.tar.gz"));
    let mtime = source_date(ws)?;
    workspace::run(
        Command::new("tar")
            .current_dir(&dist)
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mode=u+w,go-w",
            ])
            .arg(format!("--mtime=@{mtime}"))
            .args(["-I", "gzip -n -9", "-cf"])
            .arg(&tarball)
            .arg(&name),
    )?;
    let binary_size = fs::metadata(stage.join("syscall-profile")).map_or(0, |m| m.len());
    fs::remove_dir_all(&stage).with_context(|| format!("cannot remove {}", stage.display()))?;
    let sum = workspace::output(
        Command::new("sha256sum")
            .current_dir(&dist)
            .arg(format!("{name}.tar.gz")),
    )?;
    let sha_file = dist.join(format!("{name}.tar.gz.sha256"));
    fs::write(&sha_file, &sum.stdout)
        .with_context(|| format!("cannot write {}", sha_file.display()))?;
    eprintln!(
        "xtask dist: {} ({} bytes; binary {binary_size} bytes) and its .sha256, in {:.0?}",
        tarball.display(),
        fs::metadata(&tarball).map_or(0, |m| m.len()),
        started.elapsed()
    );
    Ok(tarball)
}

/// The directory holding `libseccomp.a`, as the C compiler finds it
/// (Debian's libseccomp-dev ships it).
fn static_libseccomp() -> Result<PathBuf> {
    let out = workspace::output(Command::new("gcc").arg("-print-file-name=libseccomp.a"))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    match (path.is_absolute() && path.is_file(), path.parent()) {
        (true, Some(dir)) => Ok(dir.to_path_buf()),
        _ => bail!(
            "libseccomp.a not found (gcc -print-file-name=libseccomp.a): install libseccomp-dev"
        ),
    }
}

/// Fails unless `binary` is statically linked: no interpreter, no needed
/// shared object.
fn ensure_static(binary: &Path) -> Result<()> {
    let out = workspace::output(Command::new("readelf").args(["-ldW"]).arg(binary))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let dynamic: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)") || l.contains("Requesting program interpreter"))
        .collect();
    if !dynamic.is_empty() {
        bail!(
            "{} is not static: {}",
            binary.display(),
            dynamic.join("; ").trim()
        );
    }
    Ok(())
}

/// The version the binary says: the first word after its name
/// (`syscall-profile 0.1.0 (commit …, eBPF object sha256 …)`).
fn version_of(binary: &Path) -> Result<String> {
    let out = workspace::output(Command::new(binary).arg("--version"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    version_in(&text).with_context(|| format!("`{} --version` printed {text:?}", binary.display()))
}

/// The version in `--version`'s line: a word of digits, dots and the
/// characters of a semver pre-release, nothing a file name would mind.
fn version_in(text: &str) -> Option<String> {
    let version = text
        .trim()
        .strip_prefix("syscall-profile ")?
        .split_whitespace()
        .next()?;
    let plain = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    plain.then(|| version.to_owned())
}

/// The time stamp of every file in the tarball: `SOURCE_DATE_EPOCH`, else
/// the last commit's, so that a rebuild of one commit gives the same bytes.
fn source_date(ws: &Workspace) -> Result<String> {
    if let Ok(date) = std::env::var("SOURCE_DATE_EPOCH") {
        return Ok(date);
    }
    let out = workspace::output(Command::new("git").current_dir(&ws.root).args([
        "log",
        "-1",
        "--format=%ct",
    ]))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_first_word_after_the_name() {
        let line = "syscall-profile 0.1.0 (commit 73206aa, eBPF object sha256 0ac2)\n";
        assert_eq!(version_in(line).as_deref(), Some("0.1.0"));
        assert_eq!(
            version_in("syscall-profile 0.1.0").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(version_in("other 0.1.0"), None);
        assert_eq!(version_in("syscall-profile 0/1"), None);
    }
}
