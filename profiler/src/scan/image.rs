//! A container image's filesystem, for `scan --image`: the image is
//! instantiated without running (`ENGINE create`), its flattened filesystem
//! exported (`ENGINE export`, the layers with their whiteouts applied by the
//! engine) into a private temporary directory, and the container removed.
//! The program is then scanned with that directory as the loader's root, so
//! libraries, RUNPATHs and `/etc/ld.so.cache` are the image's, never the
//! host's. Device nodes are not extracted.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use super::ScanError;

/// An image's exported filesystem and what its configuration runs.
pub struct ImageRoot {
    pub dir: tempfile::TempDir,
    /// Entrypoint followed by Cmd.
    pub command: Vec<String>,
    /// The PATH of the image's environment.
    pub path: Option<String>,
}

fn run(engine: &str, args: &[&str]) -> Result<String, ScanError> {
    let out = Command::new(engine)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ScanError::Engine {
            engine: engine.to_owned(),
            what: format!("cannot run it: {source}"),
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(ScanError::Engine {
            engine: engine.to_owned(),
            what: format!(
                "`{engine} {}` failed: {}",
                args.join(" "),
                err.lines().last().unwrap_or("").trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Exports `image`'s filesystem with `engine` (docker or podman).
pub fn export(engine: &str, image: &str) -> Result<ImageRoot, ScanError> {
    let config = run(
        engine,
        &["image", "inspect", "--format", "{{json .Config}}", image],
    )?;
    let config: serde_json::Value =
        serde_json::from_str(&config).map_err(|e| ScanError::Engine {
            engine: engine.to_owned(),
            what: format!("unreadable image configuration: {e}"),
        })?;
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

    let dir = tempfile::Builder::new()
        .prefix("syscall-profile-image-")
        .tempdir()
        .map_err(|source| ScanError::Read {
            path: std::env::temp_dir(),
            source,
        })?;
    // A command is given so that images without one can be created too;
    // nothing is run.
    let id = run(engine, &["create", image, "/syscall-profile-scan"])?;
    let exported = extract(engine, &id, dir.path());
    let removed = run(engine, &["rm", "-f", &id]);
    exported?;
    removed?;
    Ok(ImageRoot { dir, command, path })
}

fn extract(engine: &str, id: &str, into: &Path) -> Result<(), ScanError> {
    // Through a file: podman writes nothing to a pipe.
    let archive = tempfile::Builder::new()
        .prefix("syscall-profile-export-")
        .suffix(".tar")
        .tempfile()
        .map_err(|source| ScanError::Read {
            path: std::env::temp_dir(),
            source,
        })?;
    let archive_path = archive.path().to_string_lossy().into_owned();
    run(engine, &["export", "-o", &archive_path, id])?;
    let tar = Command::new("tar")
        .args([
            "-x",
            "--no-same-owner",
            "--no-same-permissions",
            "--exclude=dev/*",
            "-f",
        ])
        .arg(archive.path())
        .arg("-C")
        .arg(into)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ScanError::Engine {
            engine: engine.to_owned(),
            what: format!("cannot run tar to unpack the export: {source}"),
        })?;
    if !tar.status.success() {
        return Err(ScanError::Engine {
            engine: engine.to_owned(),
            what: format!(
                "unpacking the export failed: {}",
                String::from_utf8_lossy(&tar.stderr).trim()
            ),
        });
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
    let inside = super::loader::Root::new(root.dir.path());
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
