//! Every input a fuzz target once failed on (`fuzz/regressions/TARGET/`,
//! kept there by `cargo xtask fuzz`) goes through the same check the
//! target makes (`fuzz/src/lib.rs`, included here): the tool's entry point
//! for that kind of input, and what must hold of its answer. Each input
//! runs in a child process (this test binary again), so that a crash by a
//! signal (SIGBUS, a stack overflow) or a hang fails the test naming the
//! input instead of ending the whole binary.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

// `parse_profile`'s inputs are also replayed through the commands that read
// a profile, by `hostile_inputs.rs`.
#[path = "../../fuzz/src/lib.rs"]
mod checks;

/// Set in the child process: the one input it replays.
const INPUT_VAR: &str = "SYSCALL_PROFILE_FUZZ_REGRESSION_INPUT";

/// How long one input may take before it counts as a hang (each takes
/// milliseconds).
const HANG: Duration = Duration::from_secs(60);

/// The inputs target `target` once failed on, in name order (its
/// `README.md`, which a directory without any yet holds, aside); the test
/// fails when the directory is missing.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the fuzz target {target}'s regression inputs)",
                dir.display()
            )
        })
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| !path.ends_with("README.md"))
        .collect();
    files.sort();
    files
}

/// Replays every regression input of `target` through `check`, each in a
/// child running this same test (`test`) on that one input.
fn replay(target: &str, test: &str, check: fn(&[u8])) {
    if let Some(input) = env::var_os(INPUT_VAR) {
        let data =
            fs::read(&input).unwrap_or_else(|e| panic!("{}: {e}", Path::new(&input).display()));
        check(&data);
        return;
    }
    let exe = env::current_exe().expect("the test binary's path");
    // The test's name as the harness knows it: its path below the crate.
    let test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{test}"),
        None => test.to_owned(),
    };
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let mut failed = Vec::new();
    let files = inputs(target);
    for file in &files {
        let out = scratch.path().join("out");
        let err = scratch.path().join("err");
        let mut child = Command::new(&exe)
            .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(INPUT_VAR, file)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("create"))
            .stderr(fs::File::create(&err).expect("create"))
            .spawn()
            .expect("run the test binary");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > HANG {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let stdout = fs::read_to_string(&out).unwrap_or_default();
        let stderr = fs::read_to_string(&err).unwrap_or_default();
        let ran = stdout.contains(&format!("test {test} ... ok"));
        match status {
            Some(status) if status.success() && ran => {}
            Some(status) => failed.push(format!(
                "{}: {status}\n{stderr}{}",
                file.display(),
                stdout.lines().rev().take(20).collect::<Vec<_>>().join("\n")
            )),
            None => failed.push(format!(
                "{}: still running after {HANG:?}, killed",
                file.display()
            )),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} regression input(s) of fuzz target {target} fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n\n")
    );
}

#[test]
fn parse_profile_regressions() {
    replay(
        "parse_profile",
        "parse_profile_regressions",
        checks::parse_profile,
    );
}

#[test]
fn elf_regressions() {
    replay("elf", "elf_regressions", checks::elf);
}

#[test]
fn image_tar_regressions() {
    replay("image_tar", "image_tar_regressions", checks::image_tar);
}

#[test]
fn oci_config_regressions() {
    replay("oci_config", "oci_config_regressions", checks::oci_config);
}

#[test]
fn stats_regressions() {
    replay("stats", "stats_regressions", checks::stats);
}

#[test]
fn scan_cache_regressions() {
    replay("scan_cache", "scan_cache_regressions", checks::scan_cache);
}
