//! `cargo xtask fuzz`, and the suite's fuzzing step: builds the fuzz
//! targets (`fuzz/`, a workspace of its own) with libFuzzer's coverage
//! instrumentation on the stable toolchain (no sanitizer, no nightly), and
//! runs each for a bounded time on its committed seed corpus
//! (`fuzz/corpus/TARGET/`) and the inputs it once crashed on
//! (`fuzz/regressions/TARGET/`). An input that crashes a target, hangs it
//! or blows its memory is copied into `fuzz/regressions/TARGET/`, which the
//! ordinary tests replay (`profiler/tests/fuzz_regressions.rs`), and the
//! run fails naming it.
//!
//! What libFuzzer learns (new inputs) goes to a corpus of its own under the
//! target directory, kept between runs; the committed corpus is only read.

use std::{
    collections::VecDeque,
    env, fs,
    path::PathBuf,
    process::{Command, Stdio},
    sync::Mutex,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    background::{self, Background},
    workspace::{self, Workspace},
};

/// A fuzz target: its name (a binary of `fuzz/`, and its directories) and
/// the longest input libFuzzer makes for it (the seeds fit).
pub struct Target {
    pub name: &'static str,
    max_len: usize,
}

pub const TARGETS: &[Target] = &[
    target("parse_profile", 32 << 10),
    target("elf", 64 << 10),
    target("image_tar", 64 << 10),
    target("oci_config", 16 << 10),
    target("stats", 16 << 10),
    target("scan_cache", 32 << 10),
];

const fn target(name: &'static str, max_len: usize) -> Target {
    Target { name, max_len }
}

/// How long each target runs, in seconds, unless told otherwise (outside
/// CI only).
pub const SECONDS: u64 = 30;

/// The variable that shortens (or lengthens) each target's run outside CI.
pub const SECONDS_VAR: &str = "SYSCALL_PROFILE_FUZZ_SECONDS";

/// The most memory a target may take (libFuzzer's `-rss_limit_mb`): the
/// scan holds under 100 MiB an object, libFuzzer's corpus the rest.
const RSS_LIMIT_MB: u32 = 1024;

/// The longest one input may take (libFuzzer's `-timeout`, seconds): every
/// input here takes milliseconds; a hang is a finding.
const INPUT_TIMEOUT: u32 = 10;

/// libFuzzer's coverage instrumentation, which the stable compiler has
/// (what `cargo fuzz build -s none` gives), with the checks of a debug
/// build: an arithmetic overflow or a failed debug assertion is a crash.
const RUSTFLAGS: &[&str] = &[
    "--cfg",
    "fuzzing",
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

#[derive(clap::Args)]
pub struct Options {
    /// Seconds each target runs (default 30, or SYSCALL_PROFILE_FUZZ_SECONDS;
    /// with CI set, never less than 30).
    #[arg(long, value_name = "N")]
    seconds: Option<u64>,
    /// The targets to run (default: all of them).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
}

impl Options {
    /// Every target, for the suite's step.
    pub fn all() -> Options {
        Options {
            seconds: None,
            targets: Vec::new(),
        }
    }
}

/// Whether CI is set (as the tests read it: set, and not empty, 0 or false).
pub fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

fn say(message: impl std::fmt::Display) {
    eprintln!("xtask fuzz: {message}");
}

/// The seconds each target runs: `given`, else the variable, else 30; in
/// CI at least 30, whatever was asked.
fn seconds(given: Option<u64>) -> Result<u64> {
    let asked = match given {
        Some(n) => Some(n),
        None => match env::var(SECONDS_VAR) {
            Ok(text) if !text.trim().is_empty() => {
                Some(text.trim().parse().with_context(|| {
                    format!("{SECONDS_VAR}={text:?} is not a number of seconds; give e.g. 10")
                })?)
            }
            _ => None,
        },
    };
    match asked {
        Some(0) => bail!("a target cannot run for 0 seconds; give at least 1"),
        Some(n) if in_ci() && n < SECONDS => {
            say(format_args!(
                "CI is set: each target runs the full {SECONDS} s, not the {n} s asked"
            ));
            Ok(SECONDS)
        }
        Some(n) => Ok(n),
        None => Ok(SECONDS),
    }
}

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    let targets: Vec<&Target> = if options.targets.is_empty() {
        TARGETS.iter().collect()
    } else {
        options
            .targets
            .iter()
            .map(|name| {
                TARGETS.iter().find(|t| t.name == name).with_context(|| {
                    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
                    format!(
                        "no fuzz target {name:?}; the targets are {}",
                        names.join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    let seconds = seconds(options.seconds)?;
    let host = workspace::host_triple()?;
    build(ws, &host)?;
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(targets.len());
    say(format_args!(
        "running {} target(s) for {seconds} s each, {jobs} at a time",
        targets.len()
    ));
    let queue = Mutex::new(targets.iter().copied().collect::<VecDeque<_>>());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.pop_front());
                    let Ok(Some(target)) = next else { break };
                    if let Err(e) = fuzz_one(ws, &host, target, seconds)
                        && let Ok(mut failures) = failures.lock()
                    {
                        failures.push(format!("{e:#}"));
                    }
                }
            });
        }
    });
    let failures = failures
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a fuzzing thread panicked"))?;
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

/// Where the fuzz workspace is built: beside the main build, apart (its
/// flags would rebuild everything of the main one).
fn target_dir(ws: &Workspace) -> PathBuf {
    ws.target_dir.join("fuzz")
}

fn binary(ws: &Workspace, host: &str, target: &Target) -> PathBuf {
    target_dir(ws).join(host).join("release").join(target.name)
}

/// The targets' build; `niced`: at the lowest CPU priority.
fn build_command(ws: &Workspace, host: &str, niced: bool) -> Command {
    let mut cargo = match niced {
        true => background::niced(workspace::cargo_program()),
        false => Command::new(workspace::cargo_program()),
    };
    cargo
        .args(["build", "--release", "--locked", "--target", host])
        .current_dir(ws.root.join("fuzz"))
        .env("CARGO_TARGET_DIR", target_dir(ws))
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        // It would win over RUSTFLAGS.
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    cargo
}

fn build(ws: &Workspace, host: &str) -> Result<()> {
    let mut cargo = build_command(ws, host, false);
    say(format_args!(
        "building the targets: {} (RUSTFLAGS: libFuzzer's coverage instrumentation)",
        workspace::display(&cargo)
    ));
    workspace::run(&mut cargo)
}

/// Fails at once, naming the fix, when `fuzz/Cargo.lock` no longer
/// matches the crates' manifests (a dependency added to the profiler):
/// the targets' `--locked` build would otherwise fail only after the tests.
pub fn check_lock(ws: &Workspace) -> Result<()> {
    // The whole graph is resolved (not `--no-deps`, which resolves nothing and
    // let a new dependency of the profiler through).
    let mut metadata = ws.cargo(["metadata", "--locked", "--format-version", "1"]);
    metadata
        .current_dir(ws.root.join("fuzz"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = metadata
        .status()
        .with_context(|| format!("cannot run `{}`", workspace::display(&metadata)))?;
    if !status.success() {
        bail!(
            "fuzz/Cargo.lock does not match the crates' manifests (a dependency changed): run \
             `cargo update -w --manifest-path fuzz/Cargo.toml` and commit the lock"
        );
    }
    Ok(())
}

/// The targets' build, started before the tests (see [`Background`]).
pub fn prebuild(ws: &Workspace) -> Result<Background> {
    let nice = build_command(ws, &workspace::host_triple()?, true);
    Background::spawn(
        nice,
        ws.target_dir.join("fuzz-build.log"),
        "the fuzz targets' build",
    )
}

/// Runs `target` for `seconds`; a crash is copied into its regressions
/// directory and returned as an error naming it.
fn fuzz_one(ws: &Workspace, host: &str, target: &Target, seconds: u64) -> Result<()> {
    let name = target.name;
    let work = ws.target_dir.join("fuzz-work").join(name);
    let learned = work.join("corpus");
    let artifacts = work.join("artifacts");
    if artifacts.exists() {
        fs::remove_dir_all(&artifacts)
            .with_context(|| format!("cannot empty {}", artifacts.display()))?;
    }
    for dir in [&learned, &artifacts] {
        fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    }
    let seeds = ws.root.join("fuzz/corpus").join(name);
    if !seeds.is_dir() {
        bail!(
            "fuzz target {name}: its seed corpus {} is missing",
            seeds.display()
        );
    }
    let regressions = regressions_dir(ws, target);
    let log = work.join("log");
    let log_file =
        fs::File::create(&log).with_context(|| format!("cannot write {}", log.display()))?;
    let mut cmd = Command::new(binary(ws, host, target));
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={}", target.max_len))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-timeout={INPUT_TIMEOUT}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&learned)
        .arg(&seeds);
    if regressions.is_dir() {
        cmd.arg(&regressions);
    }
    cmd.stdin(Stdio::null())
        .stdout(
            log_file
                .try_clone()
                .context("cannot duplicate the log's handle")?,
        )
        .stderr(log_file);
    let started = Instant::now();
    let status = workspace::status(&mut cmd)?;
    let text = fs::read_to_string(&log).unwrap_or_default();
    if status.success() {
        say(format_args!(
            "{name}: {} in {} s, no crash (corpus {})",
            runs(&text).unwrap_or_else(|| "ran".into()),
            started.elapsed().as_secs(),
            learned.display()
        ));
        return Ok(());
    }
    let mut kept = Vec::new();
    let mut found: Vec<PathBuf> = fs::read_dir(&artifacts)
        .with_context(|| format!("cannot list {}", artifacts.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    found.sort();
    for artifact in found {
        let Some(file_name) = artifact.file_name() else {
            continue;
        };
        fs::create_dir_all(&regressions)
            .with_context(|| format!("cannot make {}", regressions.display()))?;
        let to = regressions.join(file_name);
        fs::copy(&artifact, &to)
            .with_context(|| format!("cannot copy {} to {}", artifact.display(), to.display()))?;
        kept.push(to);
    }
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    eprintln!(
        "xtask fuzz: {name} failed ({status}); the end of its output ({}):",
        log.display()
    );
    for line in tail.iter().rev() {
        eprintln!("    {line}");
    }
    if kept.is_empty() {
        bail!(
            "fuzz target {name} failed ({status}) and left no input; its output is {}",
            log.display()
        );
    }
    let shown: Vec<String> = kept
        .iter()
        .map(|p| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string())
        .collect();
    bail!(
        "fuzz target {name} found an input that fails it, kept as {}: fix the tool, commit the \
         input (the tests replay it: profiler/tests/fuzz_regressions.rs); replay it with `{} {}`",
        shown.join(", "),
        binary(ws, host, target).display(),
        kept[0].display()
    )
}

/// Where a target's failing inputs are kept (committed).
pub fn regressions_dir(ws: &Workspace, target: &Target) -> PathBuf {
    ws.root.join("fuzz/regressions").join(target.name)
}

/// "123456 runs" from libFuzzer's closing line ("Done 123456 runs in 61
/// second(s)").
fn runs(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix("Done "))
        .and_then(|rest| rest.split(" in ").next())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The files of the committed seed corpus.
    fn seed_count(root: &Path, target: &Target) -> usize {
        fs::read_dir(root.join("fuzz/corpus").join(target.name))
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    }

    #[test]
    fn runs_are_read_from_libfuzzers_last_line() {
        let log = "#1 INITED\nDone 2158997 runs in 61 second(s)\nstat::number_of_executed_units: 2158997\n";
        assert_eq!(runs(log).as_deref(), Some("2158997 runs"));
        assert_eq!(runs("==1== ERROR: libFuzzer: deadly signal\n"), None);
    }

    #[test]
    fn every_target_has_a_seed_corpus_and_a_binary() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        for target in TARGETS {
            assert!(
                seed_count(&root, target) > 0,
                "{} has no seeds",
                target.name
            );
            assert!(
                manifest.contains(&format!("name = \"{}\"", target.name)),
                "{} is no binary of fuzz/Cargo.toml",
                target.name
            );
        }
    }
}
