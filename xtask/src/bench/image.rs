//! The container image of `cargo xtask bench`, made locally with no
//! registry: Debian's own `redis-server` with the shared libraries `ldd`
//! names for it (at the same paths), and the static `getppid-loop` sample.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

/// The image's name in the bench's dockerd.
pub const IMAGE: &str = "syscall-profile-bench:local";

/// Where the server is, on the host and in the image.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Where the static microbenchmark is in the image.
pub const GETPPID_LOOP: &str = "/bin/getppid-loop";

/// Builds the root filesystem and imports it into the dockerd at `docker_host`.
pub fn import(docker_host: &str, static_samples: &Path, scratch: &Path) -> Result<()> {
    let rootfs = scratch.join("rootfs");
    let _ = fs::remove_dir_all(&rootfs);
    make_rootfs(&rootfs, static_samples)?;
    let globals = ["-H".to_owned(), docker_host.to_owned()];
    let changes = ["ENV PATH=/usr/bin:/bin", "CMD [\"/usr/bin/redis-server\"]"];
    let result = crate::images::import_rootfs("docker", &globals, &rootfs, IMAGE, &changes);
    let _ = fs::remove_dir_all(&rootfs);
    result?;
    eprintln!("xtask bench: imported {IMAGE}");
    Ok(())
}

fn make_rootfs(root: &Path, static_samples: &Path) -> Result<()> {
    // redis-server is a symlink to redis-check-rdb (one binary, named by
    // argv[0]): `copy_into` copies the link and its target.
    let server = Path::new(REDIS_SERVER);
    if !server.exists() {
        bail!("{REDIS_SERVER} is missing: Debian's redis-server package provides it");
    }
    copy_into(root, server)?;
    for library in shared_libraries(server)? {
        copy_into(root, &library)?;
    }
    let bin = root.join("bin");
    fs::create_dir_all(&bin)?;
    fs::copy(
        static_samples.join("getppid-loop"),
        root.join("bin/getppid-loop"),
    )
    .context("copy the static getppid-loop sample")?;
    for dir in ["tmp", "proc", "sys", "dev", "etc", "data"] {
        fs::create_dir_all(root.join(dir))?;
    }
    Ok(())
}

/// `path` inside `root`.
fn in_root(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Copies `path` (following symlinks) to the same path under `root`, and
/// the link too when `path` is one, so that the loader finds it by either.
fn copy_into(root: &Path, path: &Path) -> Result<()> {
    let dest = in_root(root, path);
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let real = fs::canonicalize(path).with_context(|| format!("{} is missing", path.display()))?;
    if real != path {
        let real_dest = in_root(root, &real);
        if let Some(dir) = real_dest.parent() {
            fs::create_dir_all(dir)?;
        }
        if !real_dest.exists() {
            fs::copy(&real, &real_dest)
                .with_context(|| format!("cannot copy {}", real.display()))?;
        }
        if !dest.exists() {
            std::os::unix::fs::symlink(&real, &dest)
                .with_context(|| format!("cannot link {}", dest.display()))?;
        }
    } else if !dest.exists() {
        fs::copy(path, &dest).with_context(|| format!("cannot copy {}", path.display()))?;
    }
    Ok(())
}

/// The libraries (and the loader) `ldd` lists for `binary`.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd")?;
    if !output.status.success() {
        bail!("ldd {} failed ({})", binary.display(), output.status);
    }
    let mut libraries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        // `libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)`, or the
        // loader as `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no path.
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            libraries.push(PathBuf::from(path));
        }
    }
    if libraries.is_empty() {
        bail!("ldd names no library for {}", binary.display());
    }
    Ok(libraries)
}
