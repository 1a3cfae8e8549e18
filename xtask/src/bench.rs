//! `cargo xtask bench-hooks`: what each hook type of the counting program
//! costs per syscall, to the recorded process ("watched") and to a process
//! outside the recording while one runs ("unwatched").
//!
//! The workload is `getppid-loop N`, which times only its own loop when
//! `SAMPLES_REPORT_NS` is set, so the recorder's start-up is not measured.
//! Rounds are interleaved: each runs every configuration once, in an order
//! rotated by one per round, so drift (frequency, other load) spreads over
//! all configurations. A measurement, not a test: nothing is asserted.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    demo::build_release,
    services::BackgroundProcess,
    setup,
    workspace::{Workspace, display},
};

#[derive(clap::Args)]
pub struct Options {
    /// Rounds; each runs every configuration once.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// getppid calls per run.
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    calls: u64,
}

/// The `--hook` values of `syscall-profile record`.
const HOOKS: [&str; 3] = ["raw-tracepoint", "tracepoint", "btf-tracepoint"];

/// How long an idle recording may take to attach and start its command.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq)]
enum Config {
    /// No recording anywhere.
    Untraced,
    /// The workload is the recorded command.
    Watched(&'static str),
    /// A recording of an idle command runs; the workload is outside it.
    Unwatched(&'static str),
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Config::Untraced => f.write_str("untraced"),
            Config::Watched(hook) => write!(f, "watched   {hook}"),
            Config::Unwatched(hook) => write!(f, "unwatched {hook}"),
        }
    }
}

struct Bench<'a> {
    recorder: PathBuf,
    workload: PathBuf,
    scratch: &'a Path,
    calls: u64,
}

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    setup::run()?;
    build_release(ws)?;
    let scratch = ws.target_dir.join("xtask-bench-hooks");
    fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let bench = Bench {
        recorder: ws.binary("release", "syscall-profile"),
        workload: ws.binary("release", "getppid-loop"),
        scratch: &scratch,
        calls: options.calls,
    };

    let configs: Vec<Config> = std::iter::once(Config::Untraced)
        .chain(HOOKS.map(Config::Watched))
        .chain(HOOKS.map(Config::Unwatched))
        .collect();
    let mut samples = vec![Vec::new(); configs.len()];
    let rounds = options.rounds as usize;
    let started = Instant::now();
    for round in 0..rounds {
        for index in round_order(round, configs.len()) {
            let config = configs[index];
            let ns = bench
                .measure(config)
                .with_context(|| format!("measuring {config} in round {}", round + 1))?;
            eprintln!(
                "xtask bench-hooks: round {}/{rounds}: {config}: {ns:.1} ns/call",
                round + 1
            );
            samples[index].push(ns);
        }
    }
    // Only the recorders' profiles are in there.
    let _ = fs::remove_dir_all(&scratch);

    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "getppid-loop {}: ns per getppid call, {rounds} interleaved rounds, kernel {}, {:.0} s",
        options.calls,
        kernel.trim(),
        started.elapsed().as_secs_f64()
    );
    print_table(&configs, &samples);
    Ok(())
}

impl Bench<'_> {
    fn measure(&self, config: Config) -> Result<f64> {
        match config {
            Config::Untraced => self.time_workload(&mut self.workload_command()),
            Config::Watched(hook) => {
                let mut record = self.record_command(hook, "watched");
                record
                    .arg(&self.workload)
                    .arg(self.calls.to_string())
                    .env("SAMPLES_REPORT_NS", "1");
                self.time_workload(&mut record)
            }
            Config::Unwatched(hook) => {
                let mut record = self.record_command(hook, "idle");
                record.args(["sleep", "60"]).stdout(Stdio::null());
                let mut idle =
                    BackgroundProcess::spawn(format!("recording ({hook})"), &mut record)?;
                wait_until_recording(&mut idle, "sleep")?;
                let ns = self.time_workload(&mut self.workload_command());
                // The recorder forwards the SIGTERM to `sleep` and ends.
                idle.stop()?;
                ns
            }
        }
    }

    fn workload_command(&self) -> Command {
        let mut cmd = Command::new(&self.workload);
        cmd.arg(self.calls.to_string())
            .env("SAMPLES_REPORT_NS", "1");
        cmd
    }

    /// `record -q -o FILE --hook HOOK --`, the command to follow.
    fn record_command(&self, hook: &str, what: &str) -> Command {
        let mut cmd = Command::new(&self.recorder);
        cmd.args(["record", "-q", "-o"])
            .arg(self.scratch.join(format!("{what}-{hook}.json")))
            .args(["--hook", hook, "--"])
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `cmd` (the workload, or a recorder of it) and returns the
    /// `ns_per_call=` the workload printed on stderr.
    fn time_workload(&self, cmd: &mut Command) -> Result<f64> {
        let output = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("cannot run `{}`", display(cmd)))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                display(cmd),
                output.status,
                stderr.trim()
            );
        }
        let value = stderr
            .lines()
            .rev()
            .find_map(|line| line.trim().strip_prefix("ns_per_call="))
            .with_context(|| {
                format!(
                    "`{}` printed no ns_per_call= line; its stderr: {}",
                    display(cmd),
                    stderr.trim()
                )
            })?;
        value
            .parse()
            .with_context(|| format!("cannot read ns_per_call={value}"))
    }
}

/// Waits until the recorder has attached its program and started `comm`
/// (it attaches before it starts the command).
pub(crate) fn wait_until_recording(recorder: &mut BackgroundProcess, comm: &str) -> Result<()> {
    let deadline = Instant::now() + ATTACH_TIMEOUT;
    loop {
        if let Some(status) = recorder.try_wait()? {
            bail!("the recorder ended before its command started ({status})");
        }
        if has_child_named(recorder.id(), comm)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the recorder did not start `{comm}` within {ATTACH_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a process whose parent is `ppid` has the command name `comm`.
fn has_child_named(ppid: u32, comm: &str) -> Result<bool> {
    Ok(child_named(ppid, comm)?.is_some())
}

/// The pid of a process whose parent is `ppid` and whose command name is
/// `comm`, if there is one.
pub(crate) fn child_named(ppid: u32, comm: &str) -> Result<Option<u32>> {
    let entries = fs::read_dir("/proc").context("cannot list /proc")?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while this reads: skip what has gone.
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let parent = stat[close + 1..].split_whitespace().nth(1);
        if &stat[open + 1..close] == comm && parent == Some(ppid.to_string().as_str()) {
            return Ok(Some(pid));
        }
    }
    Ok(None)
}

/// The configurations' indices in the order round `round` runs them: each
/// round starts one later than the one before.
pub(crate) fn round_order(round: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |k| (round + k) % count)
}

pub(crate) fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn print_table(configs: &[Config], samples: &[Vec<f64>]) {
    let stats: Vec<(Config, f64, f64, f64)> = configs
        .iter()
        .zip(samples)
        .map(|(&config, values)| {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let min = sorted.first().copied().unwrap_or(f64::NAN);
            let max = sorted.last().copied().unwrap_or(f64::NAN);
            (config, median(&sorted), min, max)
        })
        .collect();
    let base = stats
        .iter()
        .find(|(config, ..)| *config == Config::Untraced)
        .map_or(f64::NAN, |&(_, median, ..)| median);
    println!(
        "{:<26} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "configuration", "median", "min", "max", "ratio", "added"
    );
    for (config, median, min, max) in stats {
        println!(
            "{:<26} {median:>8.1} {min:>8.1} {max:>8.1} {:>9.2}x {:>+10.1}",
            config.to_string(),
            median / base,
            median - base
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }

    #[test]
    fn rounds_rotate_the_order() {
        let order = |round| round_order(round, 3).collect::<Vec<_>>();
        assert_eq!(order(0), [0, 1, 2]);
        assert_eq!(order(1), [1, 2, 0]);
        assert_eq!(order(5), [2, 0, 1]);
    }
}
