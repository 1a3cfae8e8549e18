//! `cargo xtask setup`: installs what is missing, one line per thing it
//! checks or does. Run as root.

use std::{
    env,
    ffi::OsString,
    fs, io,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::workspace::{self, display};

/// Debian packages the build and the tests use, one a line: `PACKAGE: why`.
const PACKAGES: &str = "\
strace: tests compare against it
zsh: the release tarball's zsh completion is parsed by zsh in the tests
fish: the release tarball's fish completion is parsed and run by fish in the tests
curl: the CI action's install step downloads a release (its test, from a file:// URL)
libseccomp-dev: the profiler links libseccomp
binutils: the eBPF linker wrapper runs nm
gcc: the C linker and libseccomp's build
g++: libFuzzer (C++), which the fuzz targets link, is compiled with it
libc6-dev: the static C programs whose reachable syscalls the scan test bounds
tmux: tests give the recorder a real terminal with it
util-linux: unshare and script, used by tests
docker.io: the Docker engine the container tests record and enforce
podman: the podman engine the container tests record and enforce
crun: podman's OCI runtime in the tests
runc: runs the OCI bundles `export --to oci` writes; the Go program `scan` is checked on
systemd-container: systemd-nspawn: systemd's own manager enforces `export --to systemd` in the tests
busybox-static: the userland of the test images
nginx: a server whose reachable syscalls the scan test checks against strace
postgresql: the server `record --user postgres` is tested with (pgbench, pg_ctl)
bpftrace: `cargo xtask bench` compares the recorder with it
bpftool: `cargo xtask bench` names the eBPF maps and finds the kernel's BTF ids
redis-server: the real server `cargo xtask bench` records and enforces
redis-tools: redis-benchmark, the server's load generator in `cargo xtask bench`
git: a real program `scan` is checked on against strace
python3: a real program `scan` is checked on against strace
perl: a real program `scan` is checked on against strace
sqlite3: a real program whose WAL mode runs under the `--include reachable` profile of a rollback-journal run
openjdk-17-jdk-headless: a JVM program (a single-file source launch, which needs the JDK's compiler) is recorded and run under its exports
python3-yaml: PyYAML, a YAML 1.1 reader as kubectl's is, reads what `export --to kubernetes` writes
python3-venv: `cargo xtask test` installs kubernetes-validate (PyPI, pinned) into a venv, which checks deploy/*.yaml";

/// The packages of [`PACKAGES`], each with why it is needed.
fn packages() -> impl Iterator<Item = (&'static str, &'static str)> {
    PACKAGES.lines().filter_map(|line| line.split_once(": "))
}

/// The bpf-linker release built, and the LLVM majors its features cover.
const BPF_LINKER_VERSION: &str = "0.13.0";
const BPF_LINKER_LLVM_MAJORS: std::ops::RangeInclusive<u32> = 21..=23;

pub fn run() -> Result<()> {
    ensure_root()?;
    ensure_packages()?;
    ensure_bpf_linker()?;
    Ok(())
}

/// `cargo xtask setup --bpf-linker`: only the bpf-linker the build needs
/// (`cargo install --path profiler` and `cargo build --release` stop
/// without it), as any user, into that user's cache.
pub fn bpf_linker_only() -> Result<()> {
    ensure_bpf_linker()
}

fn say(message: impl std::fmt::Display) {
    eprintln!("xtask setup: {message}");
}

/// Output of set-up commands goes to stderr: `demo` keeps stdout for the profile.
fn quiet_stdout(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null()).stdout(io::stderr())
}

fn ensure_root() -> Result<()> {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        bail!(
            "this must run as root (effective uid is {euid}): it installs packages, and \
             recording loads eBPF programs; run it as root, e.g. \
             `sudo -E env \"PATH=$PATH\" cargo xtask ...`"
        );
    }
    say("running as root");
    Ok(())
}

fn ensure_packages() -> Result<()> {
    let mut missing = Vec::new();
    for (package, _) in packages() {
        if !package_installed(package)? {
            missing.push(package);
        }
    }
    let names: Vec<&str> = packages().map(|(p, _)| p).collect();
    if missing.is_empty() {
        say(format_args!(
            "Debian packages already installed: {}",
            names.join(" ")
        ));
        return Ok(());
    }
    for (package, why) in packages().filter(|(p, _)| missing.contains(p)) {
        say(format_args!("missing Debian package {package} ({why})"));
    }
    say("running apt-get update");
    workspace::run(quiet_stdout(Command::new("apt-get").arg("update")))?;
    say(format_args!("installing {}", missing.join(" ")));
    workspace::run(
        quiet_stdout(&mut Command::new("apt-get"))
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing),
    )
}

fn package_installed(package: &str) -> Result<bool> {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stdin(Stdio::null())
        .output()
        .context(
            "cannot run dpkg-query: `cargo xtask setup` supports Debian and its derivatives; \
             elsewhere install strace, libseccomp, binutils, gcc, tmux and util-linux yourself",
        )?;
    // dpkg-query fails for a package it has never heard of: not installed.
    Ok(output.status.success() && output.stdout == b"install ok installed")
}

/// The toolchain cargo builds with, as far as bpf-linker depends on it.
struct Toolchain {
    rustc: OsString,
    release: String,
    commit: String,
    llvm_major: u32,
    sysroot: PathBuf,
}

impl Toolchain {
    /// Asks the same `rustc` that cargo and profiler/build.rs use.
    fn query() -> Result<Self> {
        let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
        let text = capture(Command::new(&rustc).arg("-vV"))?;
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
                .with_context(|| format!("`rustc -vV` printed no `{name}` line:\n{text}"))
        };
        let release = field("release:")?;
        let commit = field("commit-hash:")?;
        let llvm = field("LLVM version:")?;
        let llvm_major = llvm
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .with_context(|| format!("cannot read the LLVM version {llvm:?} of rustc"))?;
        let sysroot =
            PathBuf::from(capture(Command::new(&rustc).args(["--print", "sysroot"]))?.trim());
        Ok(Self {
            rustc,
            release,
            commit,
            llvm_major,
            sysroot,
        })
    }

    /// The cache key, exactly as profiler/build.rs computes it.
    fn key(&self) -> String {
        let commit = self.commit.get(..12).unwrap_or(&self.commit);
        format!("{}-{commit}", self.release)
    }

    /// The LLVM library shipped with the toolchain:
    /// `<sysroot>/lib/libLLVM.so.<version>-rust-<release>`.
    fn libllvm(&self) -> Result<PathBuf> {
        let lib = self.sysroot.join("lib");
        let entries =
            fs::read_dir(&lib).with_context(|| format!("cannot list {}", lib.display()))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", lib.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("libLLVM.so.") && name.contains("-rust-") {
                found.push(entry.path());
            }
        }
        found.sort();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "the toolchain of `{}` has no libLLVM.so.*-rust-* in {}: bpf-linker needs \
                 rustc's own LLVM; use a rustup toolchain (stable or nightly)",
                self.rustc.to_string_lossy(),
                lib.display()
            ),
            many => bail!(
                "more than one libLLVM.so.*-rust-* in {}: {many:?}",
                lib.display()
            ),
        }
    }
}

/// Standard output of a command that must succeed.
fn capture(cmd: &mut Command) -> Result<String> {
    let output = workspace::output(cmd.stdin(Stdio::null()))?;
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{}` printed something that is not UTF-8", display(cmd)))
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}`, as profiler/build.rs reads it.
fn cache_home() -> Result<PathBuf> {
    let dir = match env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?)
                .join(".cache")
        }
    };
    // build.rs runs in profiler/, so a relative path would name another
    // directory there than here.
    if !dir.is_absolute() {
        bail!(
            "the cache directory {} is not absolute: set XDG_CACHE_HOME (or HOME) to an \
             absolute path",
            dir.display()
        );
    }
    Ok(dir)
}

/// Makes sure `<cache>/syscall-profile/bpf-linker/<toolchain>/bin/bpf-linker`
/// exists, where profiler/build.rs looks for it.
fn ensure_bpf_linker() -> Result<()> {
    let toolchain = Toolchain::query()?;
    let dir = cache_home()?
        .join("syscall-profile/bpf-linker")
        .join(toolchain.key());
    let linker = dir.join("bin/bpf-linker");
    if linker.is_file() {
        say(format_args!(
            "bpf-linker for rustc {} already built: {}",
            toolchain.release,
            linker.display()
        ));
        return Ok(());
    }
    if !BPF_LINKER_LLVM_MAJORS.contains(&toolchain.llvm_major) {
        bail!(
            "rustc {} uses LLVM {}, but bpf-linker {BPF_LINKER_VERSION} supports LLVM {} to {}: \
             use a toolchain with one of those, or set BPF_LINKER to a bpf-linker built for it",
            toolchain.release,
            toolchain.llvm_major,
            BPF_LINKER_LLVM_MAJORS.start(),
            BPF_LINKER_LLVM_MAJORS.end()
        );
    }

    // bpf-linker links `-lLLVM` from `$LLVM_PREFIX/lib` and keeps that
    // directory as its run path: it must be the final one, not a temporary.
    let libllvm = toolchain.libllvm()?;
    let llvm_prefix = dir.join("llvm");
    let llvm_lib = llvm_prefix.join("lib");
    fs::create_dir_all(&llvm_lib)
        .with_context(|| format!("cannot create {}", llvm_lib.display()))?;
    let own_name = libllvm
        .file_name()
        .with_context(|| format!("{} has no file name", libllvm.display()))?;
    for name in [OsString::from("libLLVM.so"), own_name.to_owned()] {
        replace_symlink(&libllvm, &llvm_lib.join(name))?;
    }
    say(format_args!(
        "linked {} into {}",
        libllvm.display(),
        llvm_lib.display()
    ));

    // Installed into a temporary root and moved into place at the end, so an
    // interrupted install never leaves a bpf-linker that looks complete.
    remove_stale_installs(&dir)?;
    let staging = dir.join(format!(".install-{}", std::process::id()));
    let feature = format!("llvm-{}", toolchain.llvm_major);
    let mut install = Command::new(workspace::cargo_program());
    install
        .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION])
        .args(["--locked", "--no-default-features", "--features", &feature])
        .arg("--root")
        .arg(&staging)
        .env("LLVM_PREFIX", &llvm_prefix)
        // Away from the workspace, so its .cargo/config.toml does not apply.
        .current_dir(&dir);
    say(format_args!(
        "building bpf-linker {BPF_LINKER_VERSION} against rustc {}'s LLVM (takes about 2 \
         minutes): LLVM_PREFIX={} {}",
        toolchain.release,
        llvm_prefix.display(),
        display(&install)
    ));
    workspace::run(quiet_stdout(&mut install))?;

    let bin = dir.join("bin");
    fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    let built = staging.join("bin/bpf-linker");
    fs::rename(&built, &linker)
        .with_context(|| format!("cannot move {} to {}", built.display(), linker.display()))?;
    fs::remove_dir_all(&staging).with_context(|| format!("cannot remove {}", staging.display()))?;
    say(format_args!("installed {}", linker.display()));
    Ok(())
}

/// Points `link` at `target`, replacing what was there.
fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    if fs::read_link(link).is_ok_and(|current| current == target) {
        return Ok(());
    }
    match fs::remove_file(link) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", link.display())),
    }
    symlink(target, link)
        .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))
}

/// Removes `.install-<pid>` roots that interrupted installs left behind
/// (those whose process is gone).
fn remove_stale_installs(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(".install-")) else {
            continue;
        };
        let alive = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && Path::new("/proc").join(pid.to_string()).exists()
        });
        if !alive {
            say(format_args!(
                "removing {} left by an interrupted install",
                entry.path().display()
            ));
            fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toolchain(release: &str, commit: &str) -> Toolchain {
        Toolchain {
            rustc: OsString::from("rustc"),
            release: release.to_owned(),
            commit: commit.to_owned(),
            llvm_major: 22,
            sysroot: PathBuf::new(),
        }
    }

    #[test]
    fn every_package_says_why() {
        assert_eq!(packages().count(), PACKAGES.lines().count());
    }

    /// The same key as profiler/build.rs's `cached_bpf_linker()`.
    #[test]
    fn cache_key_is_release_and_short_commit() {
        let t = toolchain("1.95.0", "59807616e1fa2540724bfbac14d7976d7e4a3860");
        assert_eq!(t.key(), "1.95.0-59807616e1fa");
        assert_eq!(
            toolchain("1.96.0-dev", "unknown").key(),
            "1.96.0-dev-unknown"
        );
    }
}
