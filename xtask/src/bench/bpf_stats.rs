//! The `bpf-stats` part of `cargo xtask bench`: what each eBPF program
//! costs per run in the kernel's own accounting (`run_time_ns` and
//! `run_cnt` in a program's `/proc/PID/fdinfo`), with a getppid-loop as the
//! load. Beside the end-to-end timings this has far less noise: it counts
//! only the time inside the program, not the hook's or the rest of the
//! machine's.
//!
//! The kernel keeps these counters only while run statistics are on
//! (`kernel.bpf_stats_enabled`). They are switched on with the bpf(2)
//! command BPF_ENABLE_STATS, not by writing the sysctl: the kernel keeps
//! them on only while the file descriptor it returns is open, so they go
//! off again on every path out of a measurement, errors, signals and
//! SIGKILL included, and the sysctl is never written by the benchmark
//! (it reads 1 while the descriptor is open, and its previous value after).

use std::{
    collections::BTreeMap,
    fs,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use super::{
    empty_hook::{self, EmptyHook},
    measure::{ProgSample, ProgStats, StatCase},
    util::{
        bpf_fdinfo, bpftool_names, fields, poll, round_order, shell_quote as quote, tool,
        wait_until_recording,
    },
};
use crate::{
    services::BackgroundProcess,
    workspace::{self, display},
};

const BPF_ENABLE_STATS: libc::c_long = 32;
const BPF_STATS_RUN_TIME: u32 = 0;
const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// How long the loop may take under any of the cases.
const LOOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Run statistics on for as long as this lives (the kernel drops them when
/// the descriptor closes, also when the process dies).
struct StatsOn {
    _fd: OwnedFd,
}

impl StatsOn {
    fn new() -> Result<Self> {
        #[repr(C, align(8))]
        struct EnableStatsAttr {
            type_: u32,
            _pad: u32,
        }
        let mut attr = EnableStatsAttr {
            type_: BPF_STATS_RUN_TIME,
            _pad: 0,
        };
        // SAFETY: `attr` is a live bpf_attr prefix for BPF_ENABLE_STATS of
        // the size given.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_ENABLE_STATS,
                &mut attr as *mut EnableStatsAttr as *mut libc::c_void,
                std::mem::size_of::<EnableStatsAttr>() as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error())
                .context("bpf(BPF_ENABLE_STATS) refused: no eBPF run statistics");
        }
        let fd = i32::try_from(fd).context("bpf(BPF_ENABLE_STATS): fd out of range")?;
        // SAFETY: a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(StatsOn { _fd: fd })
    }
}

/// What the part needs from the run.
pub struct Setup {
    pub recorder: PathBuf,
    /// The directory of the sample binaries.
    pub samples: PathBuf,
    pub scratch: PathBuf,
    pub allow_all: PathBuf,
    pub calls: u64,
    pub rounds: u32,
}

/// Runs the function it is given (which reads a process's programs around
/// the loop) with the pid of `enforce` of the idle container of the case
/// (`EnforceContainerOutside`: docker; `EnforcePodmanOutside`: podman).
pub type WithContainer<'a> =
    dyn FnMut(StatCase, &dyn Fn(u32) -> Result<Vec<ProgSample>>) -> Result<Vec<ProgSample>> + 'a;

/// Runs every [`StatCase`] once per round (rotated, as the rest of the
/// bench) and returns the programs' figures.
pub fn run(setup: &Setup, container: &mut WithContainer<'_>) -> ProgStats {
    let mut stats = ProgStats {
        calls: setup.calls,
        sysctl_before: read_sysctl(),
        ..Default::default()
    };
    for round in 0..setup.rounds as usize {
        for index in round_order(round, StatCase::ALL.len()) {
            let case = StatCase::ALL[index];
            if stats.failures.contains_key(&case) {
                continue;
            }
            match measure(setup, case, container) {
                Ok(programs) => {
                    let shown: Vec<String> = programs
                        .iter()
                        .map(|p| {
                            format!(
                                "{} {:.1} ns/run × {}",
                                p.name,
                                p.run_time_ns as f64 / p.runs.max(1) as f64,
                                p.runs
                            )
                        })
                        .collect();
                    eprintln!(
                        "xtask bench: round {}/{}: bpf-stats: {}: {}",
                        round + 1,
                        setup.rounds,
                        case.label(),
                        shown.join(", ")
                    );
                    stats.samples.entry(case).or_default().push(programs);
                }
                Err(e) => {
                    eprintln!(
                        "xtask bench: bpf-stats: {} failed, left out from now on: {e:#}",
                        case.label()
                    );
                    stats.failures.insert(case, format!("{e:#}"));
                }
            }
        }
    }
    stats.sysctl_after = read_sysctl();
    stats
}

fn read_sysctl() -> String {
    fs::read_to_string(SYSCTL)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| format!("unreadable ({e})"))
}

/// A program's counters (`run_cnt`, `run_time_ns`) and its `prog_type`,
/// by program id.
type Counters = BTreeMap<u64, (u64, u64, u32)>;

/// bpftool's name of a `prog_type` number of fdinfo, for a program bpftool
/// cannot show.
fn type_name(number: u32) -> String {
    match number {
        2 => "kprobe".to_owned(),
        5 => "tracepoint".to_owned(),
        17 => "raw_tracepoint".to_owned(),
        26 => "tracing".to_owned(),
        other => format!("type {other}"),
    }
}

fn measure(
    setup: &Setup,
    case: StatCase,
    container: &mut WithContainer<'_>,
) -> Result<Vec<ProgSample>> {
    let sample = |name: &str| setup.samples.join(name);
    let getppid = || {
        let mut cmd = Command::new(sample("getppid-loop"));
        cmd.arg(setup.calls.to_string())
            .env("SAMPLES_REPORT_NS", "1");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    // The counters of process `pid`'s programs, read right before and
    // right after the loop (named while the programs are still loaded).
    let around = |pid: u32| -> Result<Vec<ProgSample>> {
        let on = StatsOn::new()?;
        let before = process_counters(pid)?;
        let looped = workspace::output(&mut getppid());
        let after = process_counters(pid);
        drop(on);
        looped?;
        Ok(grown(&before, &after?))
    };
    let mut sleep = Command::new("sleep");
    sleep.arg("3600");
    let (allow_all, out) = (&setup.allow_all, &setup.scratch.join("stats-outside.json"));
    match case {
        StatCase::EmptyRawTracepoint | StatCase::EmptyBtfTracepoint | StatCase::BtfCurrentTask => {
            let hook = match case {
                StatCase::EmptyRawTracepoint => EmptyHook::RawTracepoint,
                StatCase::EmptyBtfTracepoint => EmptyHook::BtfTracepoint,
                _ => EmptyHook::BtfCurrentTask,
            };
            let attached = empty_hook::attach(hook)?;
            // The benchmark's own program: its counters are in this
            // process's fdinfo of it.
            let fdinfo = format!("/proc/self/fdinfo/{}", attached.prog().as_raw_fd());
            let counters = || -> Result<(u64, u64)> {
                let info =
                    fs::read_to_string(&fdinfo).with_context(|| format!("cannot read {fdinfo}"))?;
                parse_counters(&info)
                    .with_context(|| format!("{fdinfo} has no run_cnt/run_time_ns"))
            };
            let on = StatsOn::new()?;
            let before = counters()?;
            workspace::output(&mut getppid())?;
            let after = counters()?;
            drop(on);
            let type_name = if hook == EmptyHook::RawTracepoint {
                "raw_tracepoint"
            } else {
                "tracing"
            };
            Ok(vec![ProgSample {
                name: "xtask_noop".to_owned(),
                type_name: type_name.to_owned(),
                runs: after.0 - before.0,
                run_time_ns: after.1 - before.1,
            }])
        }
        StatCase::EnforceContainerOutside | StatCase::EnforcePodmanOutside => {
            container(case, &around)
        }
        StatCase::RecordOutside | StatCase::EnforceOutside => {
            // The listener by name, as the row says: `--watch auto` takes
            // the eBPF watch for the allow-all profile, which allows
            // seccomp.
            let mut idle = if case == StatCase::EnforceOutside {
                let watch = ["enforce", "-q", "--watch", "listener"];
                tool(&setup.recorder, &watch, &[("--profile", allow_all)], &sleep)
            } else {
                tool(&setup.recorder, &["record", "-q"], &[("-o", out)], &sleep)
            };
            idle.stdout(Stdio::null());
            let mut idle = BackgroundProcess::spawn(display(&idle), &mut idle)?;
            wait_until_recording(&mut idle, "sleep")?;
            let programs = around(idle.id());
            idle.stop()?;
            programs
        }
        StatCase::Recorded
        | StatCase::RecordedCaptured
        | StatCase::RecordedNoCapture
        | StatCase::KernelWatch => {
            let workload = if case == StatCase::RecordedCaptured {
                "captured-loop"
            } else {
                "getppid-loop"
            };
            let go = setup.scratch.join("stats-go");
            let done = setup.scratch.join("stats-done");
            let err = setup.scratch.join("stats-loop.err");
            for path in [&go, &done, &err] {
                let _ = fs::remove_file(path);
            }
            // The command waits for the go, runs the loop, says it is done
            // and idles, so the counters are read around the loop alone
            // while the programs are still loaded.
            let script = setup.scratch.join("stats.sh");
            let path = |p: &Path| quote(&p.display().to_string());
            fs::write(
                &script,
                format!(
                    "while [ ! -e {go} ]; do sleep 0.01; done\n\
                     SAMPLES_REPORT_NS=1 {workload} {calls} 2> {err}\n\
                     : > {done}\n\
                     exec sleep 3600\n",
                    go = path(&go),
                    workload = path(&sample(workload)),
                    calls = setup.calls,
                    err = path(&err),
                    done = path(&done),
                ),
            )
            .with_context(|| format!("cannot write {}", script.display()))?;
            let mut sh = Command::new("/bin/sh");
            sh.arg(&script);
            let out = &setup.scratch.join("stats-recorded.json");
            let mut cmd = match case {
                StatCase::KernelWatch => {
                    let watch = ["enforce", "-q", "--watch", "kernel"];
                    tool(&setup.recorder, &watch, &[("--profile", allow_all)], &sh)
                }
                StatCase::RecordedNoCapture => {
                    let names = ["record", "-q", "--args", "names"];
                    tool(&setup.recorder, &names, &[("-o", out)], &sh)
                }
                _ => tool(&setup.recorder, &["record", "-q"], &[("-o", out)], &sh),
            };
            cmd.stdout(Stdio::null());
            let mut recorder = BackgroundProcess::spawn(display(&cmd), &mut cmd)?;
            wait_until_recording(&mut recorder, "sh")?;
            let on = StatsOn::new()?;
            let before = process_counters(recorder.id())?;
            fs::write(&go, "").with_context(|| format!("cannot write {}", go.display()))?;
            let done_yet = || Ok(done.exists().then_some(()));
            let ended = |status| format!("it ended ({status}) before the loop did");
            let late = || format!("the loop did not end within {LOOP_TIMEOUT:?}");
            let every = (Duration::from_millis(10), LOOP_TIMEOUT);
            let finished = poll(&mut recorder, every, done_yet, ended, late);
            let after = process_counters(recorder.id());
            drop(on);
            let programs = after.map(|after| grown(&before, &after));
            recorder.stop()?;
            finished.with_context(|| format!("`{}`", display(&cmd)))?;
            let stderr = fs::read_to_string(&err).unwrap_or_default();
            if !stderr.contains("ns_per_call=") {
                bail!("the loop printed no ns_per_call=: {}", stderr.trim());
            }
            for path in [&go, &done, &err, &script] {
                let _ = fs::remove_file(path);
            }
            programs
        }
    }
}

/// `(run_cnt, run_time_ns)` of one fdinfo text.
fn parse_counters(info: &str) -> Option<(u64, u64)> {
    let field = fields(info);
    Some((
        field.get("run_cnt")?.parse().ok()?,
        field.get("run_time_ns")?.parse().ok()?,
    ))
}

/// The counters of every program `pid` holds, by program id; none when the
/// process holds none (a native `enforce`, whose listener needs no eBPF
/// program): then nothing of it runs for other processes.
fn process_counters(pid: u32) -> Result<Counters> {
    let mut counters = Counters::new();
    for (_, info) in bpf_fdinfo(pid)?.iter().filter(|(kind, _)| *kind == "prog") {
        let field = fields(info);
        let number = |name| field.get(name).and_then(|v| v.parse::<u64>().ok());
        let prog_type = number("prog_type").and_then(|t| u32::try_from(t).ok());
        if let (Some(id), Some((runs, time))) = (number("prog_id"), parse_counters(info)) {
            counters.insert(id, (runs, time, prog_type.unwrap_or(0)));
        }
    }
    Ok(counters)
}

/// The programs whose run count grew between the two readings, most runs first.
fn grown(before: &Counters, after: &Counters) -> Vec<ProgSample> {
    let mut programs: Vec<ProgSample> = after
        .iter()
        .filter_map(|(&id, &(runs, time, prog_type))| {
            let (runs0, time0, _) = before.get(&id).copied().unwrap_or((0, 0, 0));
            let runs = runs.checked_sub(runs0)?;
            if runs == 0 {
                return None;
            }
            let (name, type_name) = bpftool_names("prog", id)
                .unwrap_or_else(|| (format!("id {id}"), type_name(prog_type)));
            Some(ProgSample {
                name,
                type_name,
                runs,
                run_time_ns: time.saturating_sub(time0),
            })
        })
        .collect();
    programs.sort_by_key(|p| std::cmp::Reverse(p.runs));
    programs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_from_fdinfo() {
        let info = "pos:\t0\nflags:\t02000002\nprog_type:\t26\nprog_id:\t7\n\
                    run_time_ns:\t1500\nrun_cnt:\t30\nrecursion_misses:\t0\n";
        assert_eq!(parse_counters(info), Some((30, 1500)));
        assert_eq!(parse_counters("prog_type:\t26\n"), None);
    }

    #[test]
    fn only_programs_that_ran_are_kept() {
        let before = Counters::from([(1, (10, 100, 17)), (2, (5, 50, 17))]);
        let after = Counters::from([(1, (10, 100, 17)), (2, (15, 250, 17)), (3, (1, 9, 26))]);
        let grown = grown(&before, &after);
        let figures: Vec<(u64, u64)> = grown.iter().map(|p| (p.runs, p.run_time_ns)).collect();
        assert_eq!(figures, [(10, 200), (1, 9)]);
    }
}
