//! A container image's filesystem, for `scan --image` and the coverage of a
//! container recording: the image is instantiated without running (`ENGINE
//! create`), its flattened filesystem exported (`ENGINE export`, the layers
//! with their whiteouts applied by the engine) as one archive into a
//! private temporary directory, and the container removed. The archive is
//! never unpacked: it is read as data ([`Tree::archive`]), so nothing of
//! the image (a device node, a FIFO, a setuid file, a link out of its root)
//! becomes a file of the host. The program is scanned in it, so libraries,
//! RUNPATHs and `/etc/ld.so.cache` are the image's, never the host's.
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

use super::{ScanError, tree::Tree};
use crate::session::{
    guardian::{Duty, Guardian},
    interrupt::Interrupt,
};

/// The label key of the helper container an export creates; its value is
/// the name of the directory the image is exported into.
pub(crate) const LABEL_KEY: &str = "io.syscall-profile.scan";

/// The prefix of the directories images are exported into (in the
/// temporary directory, `$TMPDIR`).
pub(crate) const DIR_PREFIX: &str = "syscall-profile-image-";

/// How to reach the engine that has the image: its CLI and the global
/// options to repeat (`-H HOST`, podman's `--root`).
#[derive(Debug, Clone)]
pub(crate) struct Engine {
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

    /// Runs `ENGINE [globals] ARGS`; on a signal (`interrupt`) the engine's
    /// client is killed and the step ends at once.
    fn run(&self, args: &[&str], interrupt: Option<&Interrupt>) -> Result<String, ScanError> {
        let mut child = Command::new(&self.cli)
            .args(&self.globals)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| self.error(format!("cannot run it: {source}")))?;
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                if let Some(mut pipe) = pipe {
                    // Bounded: an engine's answer here is an id or a JSON
                    // configuration.
                    let _ = pipe.by_ref().take(16 << 20).read_to_end(&mut text);
                    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
                }
                text
            })
        };
        let stdout = reader(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = reader(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(source) => return Err(self.error(format!("cannot wait for it: {source}"))),
            }
            if let Some(signal) = interrupt.and_then(Interrupt::signal) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ScanError::Interrupted { signal });
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            return Err(self.error(format!(
                "`{} {}` failed: {}",
                self.name(),
                args.join(" "),
                err.lines().last().unwrap_or("").trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
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
pub(crate) struct ImageRoot {
    // The tree reads the archive in `dir`: dropped first.
    tree: Tree,
    #[expect(dead_code, reason = "held: dropped, it removes the directory")]
    dir: ExportDir,
    /// Entrypoint followed by Cmd.
    pub command: Vec<String>,
    /// The PATH of the image's environment.
    pub path: Option<String>,
}

impl ImageRoot {
    /// The image's filesystem: its `/`.
    pub(crate) fn root(&self) -> Tree {
        self.tree.clone()
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
/// directory and the helper container are handed to `guardian` first. A
/// signal (`interrupt`) ends the export at once.
pub(crate) fn export(
    engine: &Engine,
    image: &str,
    guardian: &mut Guardian,
    interrupt: Option<&Interrupt>,
) -> Result<ImageRoot, ScanError> {
    let config = engine.run(
        &["image", "inspect", "--format", "{{json .Config}}", image],
        interrupt,
    )?;
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
    // Not interrupted: a create in flight would finish in the engine after
    // its client was killed, and leave the helper behind. It takes a
    // fraction of a second.
    let id = engine.run(
        &["create", "--label", &label, image, "/syscall-profile-scan"],
        None,
    )?;
    let archive = dir.0.join("image.tar");
    // Through a file: podman writes nothing to a pipe.
    let exported = engine.run(
        &["export", "-o", &archive.to_string_lossy(), &id],
        interrupt,
    );
    // Removed even when interrupted: this is quick, and the guardian is
    // there should it not be.
    let removed = engine.run(&["rm", "-f", &id], None);
    exported?;
    removed?;
    let tree = Tree::archive(&archive, interrupt)?;
    Ok(ImageRoot {
        tree,
        dir,
        command,
        path,
    })
}

/// The program to scan inside the image: `program` if given, else the
/// image's entrypoint (or command); a name without '/' is found in the
/// image's PATH, inside its filesystem.
pub(crate) fn program(root: &ImageRoot, program: Option<&str>) -> Result<PathBuf, ScanError> {
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
    for dir in search.split(':').filter(|d| d.starts_with('/')) {
        let candidate = Path::new(dir).join(&name);
        if let Some(resolved) = root.tree.resolve(&candidate)
            && root.tree.is_file(&resolved)
        {
            return Ok(candidate);
        }
    }
    Err(ScanError::NotInImage { program: name })
}
