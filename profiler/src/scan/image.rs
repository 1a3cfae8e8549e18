//! A container image's filesystem, for `scan --image` and the coverage of a
//! container recording: the image is instantiated without running (`ENGINE
//! create`), its flattened filesystem exported (`ENGINE export`, the layers
//! with their whiteouts applied by the engine) into a private temporary
//! directory, and the container removed. The program is then scanned with
//! that directory as the loader's root, so libraries, RUNPATHs and
//! `/etc/ld.so.cache` are the image's, never the host's. Device nodes are
//! not extracted.
//!
//! Both the directory and the helper container are handed to the
//! [guardian](crate::session::guardian) before they exist: a tool killed
//! with SIGKILL halfway through leaves neither behind. The directory goes
//! when the [`ImageRoot`] is dropped.

use std::{
    ffi::OsString,
    io::Read,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use super::ScanError;
use crate::session::guardian::{Duty, Guardian};

/// The label key of the helper container an export creates; its value is
/// the name of the directory the image is exported into.
pub const LABEL_KEY: &str = "io.syscall-profile.scan";

/// The prefix of the directories images are exported into (in the
/// temporary directory, `$TMPDIR`).
pub const DIR_PREFIX: &str = "syscall-profile-image-";

/// How to reach the engine that has the image: its CLI and the global
/// options to repeat (`-H HOST`, podman's `--root`).
#[derive(Debug, Clone)]
pub struct Engine {
    pub cli: PathBuf,
    pub globals: Vec<OsString>,
}

impl Engine {
    /// The engine's name, for messages.
    fn name(&self) -> String {
        self.cli
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.cli.display().to_string())
    }

    fn error(&self, what: String) -> ScanError {
        ScanError::Engine {
            engine: self.name(),
            what,
        }
    }

    fn run(&self, args: &[&str]) -> Result<String, ScanError> {
        let out = Command::new(&self.cli)
            .args(&self.globals)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.error(format!("cannot run it: {source}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(self.error(format!(
                "`{} {}` failed: {}",
                self.name(),
                args.join(" "),
                err.lines().last().unwrap_or("").trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// A directory this process made; removed, with what it holds, on drop.
struct ExportDir(PathBuf);

impl Drop for ExportDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An image's exported filesystem and what its configuration runs.
pub struct ImageRoot {
    dir: ExportDir,
    /// Entrypoint followed by Cmd.
    pub command: Vec<String>,
    /// The PATH of the image's environment.
    pub path: Option<String>,
}

impl ImageRoot {
    /// The image's filesystem: its `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.0.join("root")
    }

    /// The private directory that holds it (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

/// A name no one can have guessed: 128 random bits.
fn unguessable_name() -> Result<String, ScanError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| ScanError::Read {
            path: PathBuf::from("/dev/urandom"),
            source,
        })?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{DIR_PREFIX}{hex}"))
}

/// Exports `image`'s filesystem with `engine` (docker or podman). The
/// directory and the helper container are handed to `guardian` first.
pub fn export(
    engine: &Engine,
    image: &str,
    guardian: &mut Guardian,
) -> Result<ImageRoot, ScanError> {
    let config = engine.run(&["image", "inspect", "--format", "{{json .Config}}", image])?;
    let config: serde_json::Value = serde_json::from_str(&config)
        .map_err(|e| engine.error(format!("unreadable image configuration: {e}")))?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut command = strings(&config["Entrypoint"]);
    command.extend(strings(&config["Cmd"]));
    let path = strings(&config["Env"])
        .into_iter()
        .find_map(|e| e.strip_prefix("PATH=").map(str::to_owned));

    let name = unguessable_name()?;
    let dir = std::env::temp_dir().join(&name);
    let guarded = |duty: &Duty, guardian: &mut Guardian| {
        guardian
            .watch(duty)
            .map_err(|source| ScanError::Guardian { source })
    };
    guarded(&Duty::Directory { path: dir.clone() }, guardian)?;
    // Private (0700), and made here: an existing one is an error.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| ScanError::Read {
            path: dir.clone(),
            source,
        })?;
    let dir = ExportDir(dir);
    let root = dir.0.join("root");
    std::fs::create_dir(&root).map_err(|source| ScanError::Read {
        path: root.clone(),
        source,
    })?;
    let label = format!("{LABEL_KEY}={name}");
    guarded(
        &Duty::Containers {
            engine: engine.name(),
            cli: engine.cli.clone(),
            globals: engine.globals.clone(),
            label: label.clone(),
            what: "created to export the image for a scan".to_owned(),
        },
        guardian,
    )?;
    // A command is given so that images without one can be created too;
    // nothing is run.
    let id = engine.run(&["create", "--label", &label, image, "/syscall-profile-scan"])?;
    let exported = extract(engine, &id, &dir.0.join("image.tar"), &root);
    let removed = engine.run(&["rm", "-f", &id]);
    exported?;
    removed?;
    Ok(ImageRoot { dir, command, path })
}

/// Exports container `id` into `archive` and unpacks it into `into`.
fn extract(engine: &Engine, id: &str, archive: &Path, into: &Path) -> Result<(), ScanError> {
    // Through a file: podman writes nothing to a pipe.
    let archive_path = archive.to_string_lossy().into_owned();
    engine.run(&["export", "-o", &archive_path, id])?;
    let tar = Command::new("tar")
        .args([
            "-x",
            "--no-same-owner",
            "--no-same-permissions",
            "--exclude=dev/*",
            "-f",
        ])
        .arg(archive)
        .arg("-C")
        .arg(into)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| engine.error(format!("cannot run tar to unpack the export: {source}")))?;
    // The archive is not needed once unpacked.
    let _ = std::fs::remove_file(archive);
    if !tar.status.success() {
        return Err(engine.error(format!(
            "unpacking the export failed: {}",
            String::from_utf8_lossy(&tar.stderr).trim()
        )));
    }
    Ok(())
}

/// The program to scan inside the image: `program` if given, else the
/// image's entrypoint (or command); a name without '/' is found in the
/// image's PATH, inside its filesystem.
pub fn program(root: &ImageRoot, program: Option<&str>) -> Result<PathBuf, ScanError> {
    let name = match program {
        Some(p) => p.to_owned(),
        None => root
            .command
            .first()
            .cloned()
            .ok_or(ScanError::NoImageCommand)?,
    };
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let search = root
        .path
        .clone()
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let inside = super::loader::Root::new(&root.root());
    for dir in search.split(':').filter(|d| d.starts_with('/')) {
        let candidate = Path::new(dir).join(&name);
        if let Some(resolved) = inside.resolve(&candidate)
            && inside.host_path(&resolved).is_file()
        {
            return Ok(candidate);
        }
    }
    Err(ScanError::NotInImage { program: name })
}
