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
    time::Instant,
};

use anyhow::{Context, Result};

use super::util::{median, round_order, tool, wait_until_recording};
use crate::{
    demo::build_release,
    services::BackgroundProcess,
    setup,
    workspace::{self, Workspace, display},
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
        let mut workload = Command::new(&self.workload);
        workload.arg(self.calls.to_string());
        workload.env("SAMPLES_REPORT_NS", "1");
        match config {
            Config::Untraced => self.time_workload(&mut workload),
            Config::Watched(hook) => {
                self.time_workload(&mut self.record(hook, "watched", &workload))
            }
            Config::Unwatched(hook) => {
                let mut sleep = Command::new("sleep");
                sleep.arg("60");
                let mut record = self.record(hook, "idle", &sleep);
                record.stdout(Stdio::null());
                let mut idle =
                    BackgroundProcess::spawn(format!("recording ({hook})"), &mut record)?;
                wait_until_recording(&mut idle, "sleep")?;
                let ns = self.time_workload(&mut workload);
                // The recorder forwards the SIGTERM to `sleep` and ends.
                idle.stop()?;
                ns
            }
        }
    }

    /// `record -q --hook HOOK -o FILE -- INNER…`.
    fn record(&self, hook: &str, what: &str, inner: &Command) -> Command {
        let out = self.scratch.join(format!("{what}-{hook}.json"));
        tool(
            &self.recorder,
            &["record", "-q", "--hook", hook],
            &[("-o", &out)],
            inner,
        )
    }

    /// Runs `cmd` (the workload, or a recorder of it) and returns the
    /// `ns_per_call=` the workload printed on stderr.
    fn time_workload(&self, cmd: &mut Command) -> Result<f64> {
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let output = workspace::output(cmd.stderr(Stdio::piped()))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
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
