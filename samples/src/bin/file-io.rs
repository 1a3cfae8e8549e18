//! `file-io [N]`: a mixed small-file workload for the benchmarks. In a fresh
//! directory under `$TMPDIR` (default `/tmp`) it makes N files (default
//! 2000) of 4 KiB each, then for every file: stats it, reads it back,
//! appends to it, renames it; every 8th file is `fsync`ed after its write,
//! so the disk is part of the mix without dominating it. Then it lists the
//! directory, removes every file and the directory, and exits 0.
//!
//! With `SAMPLES_REPORT_NS` set it prints `elapsed_ns=<u64>` on stderr: the
//! time of the work above, without process start-up (or a recorder's).
//! Exits 1 with a message when a file operation fails.

use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
    time::Instant,
};

const FILE_SIZE: usize = 4096;
const FSYNC_EVERY: u64 = 8;

fn main() {
    let n = samples::count_arg(2000);
    let dir = std::env::temp_dir().join(format!("file-io-{}", std::process::id()));
    let started = std::env::var_os("SAMPLES_REPORT_NS").map(|_| Instant::now());
    let result = work(&dir, n);
    // Whatever happened, leave nothing behind.
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("file-io: {e}");
        std::process::exit(1);
    }
    if let Some(started) = started {
        eprintln!("elapsed_ns={}", started.elapsed().as_nanos());
    }
}

fn work(dir: &Path, n: u64) -> Result<(), String> {
    let fail = |what: &str, path: &Path| {
        let path = path.display().to_string();
        let what = what.to_owned();
        move |e: std::io::Error| format!("{what} {path}: {e}")
    };
    fs::create_dir(dir).map_err(fail("cannot create", dir))?;
    let data = vec![0x5au8; FILE_SIZE];
    let name = |i: u64| dir.join(format!("f{i:06}"));
    for i in 0..n {
        let path = name(i);
        let mut file = File::create(&path).map_err(fail("cannot create", &path))?;
        file.write_all(&data).map_err(fail("cannot write", &path))?;
        if i % FSYNC_EVERY == 0 {
            file.sync_all().map_err(fail("cannot fsync", &path))?;
        }
    }
    let mut buf = Vec::with_capacity(FILE_SIZE * 2);
    let mut renamed: Vec<PathBuf> = Vec::new();
    for i in 0..n {
        let path = name(i);
        let meta = fs::metadata(&path).map_err(fail("cannot stat", &path))?;
        if meta.len() != FILE_SIZE as u64 {
            return Err(format!("{} has {} bytes", path.display(), meta.len()));
        }
        buf.clear();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(fail("cannot read", &path))?;
        OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"more"))
            .map_err(fail("cannot append to", &path))?;
        let new = path.with_extension("done");
        fs::rename(&path, &new).map_err(fail("cannot rename", &path))?;
        renamed.push(new);
    }
    let listed = fs::read_dir(dir).map_err(fail("cannot list", dir))?.count();
    if listed as u64 != n {
        return Err(format!("{} holds {listed} files, not {n}", dir.display()));
    }
    for path in &renamed {
        fs::remove_file(path).map_err(fail("cannot remove", path))?;
    }
    fs::remove_dir(dir).map_err(fail("cannot remove", dir))?;
    Ok(())
}
