//! The container images the tests and `runtime-base` use, made locally with
//! no registry: a busybox userland plus the samples, built static.

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::workspace::{self, Workspace};

/// The image's name, for docker and podman alike.
pub const IMAGE: &str = "syscall-profile-samples:test";

/// The samples put into the image, as `/bin/NAME`.
const SAMPLES: &[&str] = &[
    "call",
    "threads",
    "getppid-loop",
    "quick-child",
    "signal-count",
    "syscall-verdicts",
    "app-release",
    "arg-probe",
];

/// Builds the samples as static binaries (a separate target directory,
/// so the workspace's own build is untouched).
pub fn build_static_samples(ws: &Workspace) -> Result<PathBuf> {
    let host = workspace::host_triple()?;
    let target_dir = ws.target_dir.join("static-samples");
    let mut cargo = ws.cargo(["build", "--release", "-p", "samples", "--target", &host]);
    cargo
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    workspace::run(&mut cargo)?;
    Ok(target_dir.join(host).join("release"))
}

/// A root filesystem: busybox with its applets, and the static samples.
fn make_rootfs(dir: &Path, samples: &Path) -> Result<()> {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin)?;
    fs::copy("/bin/busybox", bin.join("busybox"))
        .context("copy /bin/busybox (Debian's busybox-static)")?;
    let list = Command::new("/bin/busybox").arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet))?;
        }
    }
    for sample in SAMPLES {
        fs::copy(samples.join(sample), bin.join(sample))
            .with_context(|| format!("copy the static sample {sample}"))?;
    }
    for dir_name in ["tmp", "proc", "sys", "dev", "etc"] {
        fs::create_dir_all(dir.join(dir_name))?;
    }
    Ok(())
}

/// Imports the image into `engine` (`docker` or `podman`, with `globals`).
pub fn import(engine: &str, globals: &[String], samples: &Path) -> Result<()> {
    let rootfs = tempfile_dir()?;
    make_rootfs(&rootfs, samples)?;
    let result = import_rootfs(
        engine,
        globals,
        &rootfs,
        IMAGE,
        &["ENV PATH=/bin", "CMD [\"/bin/sh\"]"],
    );
    let _ = fs::remove_dir_all(&rootfs);
    result?;
    eprintln!("xtask: imported {IMAGE} into {engine}");
    Ok(())
}

/// `tar -C ROOTFS -c . | ENGINE [globals] import -c CHANGE... - IMAGE`: an
/// image from a root filesystem, with no registry.
pub fn import_rootfs(
    engine: &str,
    globals: &[String],
    rootfs: &Path,
    image: &str,
    changes: &[&str],
) -> Result<()> {
    let tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run tar")?;
    let mut import = Command::new(engine);
    import.args(globals).arg("import");
    for change in changes {
        import.args(["-c", change]);
    }
    import
        .args(["-", image])
        .stdin(tar.stdout.context("tar's stdout")?)
        .stdout(Stdio::null());
    let status = workspace::status(&mut import)?;
    if !status.success() {
        bail!("`{engine} import` of {image} failed ({status})");
    }
    Ok(())
}

/// The test image as containerd names it (`ctr` takes full references).
pub const CONTAINERD_IMAGE: &str = "docker.io/library/syscall-profile-samples:test";

/// `docker save IMAGE | ctr -a ADDRESS images import -`: the very image
/// docker has, into containerd's default namespace, as
/// [`CONTAINERD_IMAGE`].
pub fn import_into_containerd(docker_host: &str, address: &Path) -> Result<()> {
    let mut save = Command::new("docker")
        .args(["-H", docker_host, "save", IMAGE])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run docker save")?;
    let mut import = Command::new("ctr");
    import
        .arg("-a")
        .arg(address)
        .args(["images", "import", "-"])
        .stdin(save.stdout.take().context("docker save's stdout")?)
        .stdout(Stdio::null());
    let status = workspace::status(&mut import)?;
    let saved = save.wait().context("cannot wait for docker save")?;
    if !saved.success() || !status.success() {
        bail!("`docker save {IMAGE} | ctr images import -` failed ({saved}, {status})");
    }
    let listed = Command::new("ctr")
        .arg("-a")
        .arg(address)
        .args(["images", "ls", "-q"])
        .output()
        .context("cannot run ctr images ls")?;
    if !String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == CONTAINERD_IMAGE)
    {
        bail!(
            "containerd does not list {CONTAINERD_IMAGE} after the import: {}",
            String::from_utf8_lossy(&listed.stdout)
        );
    }
    eprintln!("xtask: imported {IMAGE} into containerd");
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("syscall-profile-rootfs-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}
