//! The `soak` part: does a long recording keep the recorder's memory flat?
//!
//! A native recording of `samples/src/bin/soak.rs`, a steady load shaped
//! like a day of a service compressed into minutes (a steady syscall rate,
//! captured arguments that vary within a bounded set, a fork+exec of a
//! short child every 5 ms, a new thread every 50 ms). While it runs, the
//! recorder's resident set (`VmRSS`) and the kernel memory of its maps
//! (`memlock` of each map fd in its `/proc/PID/fdinfo`) are sampled every
//! few seconds; a least-squares line through the samples after a warm-up
//! gives the slope, reported per simulated hour and extrapolated to 24 h.
//!
//! The compression is stated by the fork+exec rate: the simulated service
//! starts one short child a second (86 400 a day), so a wall second at
//! the soak's rate of E execs/s stands for E simulated seconds.
//!
//! Self-contained: the suite calls [`run`] after its rounds, the report
//! calls [`section`] and [`targets`].

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    child::status_kib,
    util::{bpf_fdinfo, fields},
};
use crate::services::BackgroundProcess;

/// Fork+execs a second of the simulated service.
const SIMULATED_EXECS_PER_SECOND: f64 = 1.0;
/// The soak's own child interval, in ms (`soak SECONDS EXEC_EVERY_MS`).
const EXEC_EVERY_MS: u32 = 5;
/// Share of the samples left out of the fit at the start (the maps and
/// the allocator filling up to their working size).
const WARM_UP_SHARE: f64 = 0.25;
/// The issue's level: peak RSS and kernel maps of a native recording.
pub const ISSUE_RSS_MIB: f64 = 23.0;
pub const ISSUE_MAPS_KIB: f64 = 95.0;
/// "About" the issue's level: within this share above it.
const ABOUT: f64 = 0.05;
/// Flat: what a 24-hour recording may grow by, extrapolated.
const FLAT_RSS_KIB_PER_DAY: f64 = 1024.0;
const FLAT_MAPS_KIB_PER_DAY: f64 = 16.0;

/// What the soak needs of the suite.
pub struct Setup<'a> {
    pub recorder: &'a Path,
    /// The built `soak` sample (copied next to the run's other binaries).
    pub built_sample: PathBuf,
    pub scratch: &'a Path,
    pub seconds: u64,
}

/// One sample of the recorder.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Seconds since the recorder started.
    pub t: f64,
    pub rss_kib: u64,
    /// `memlock` of every map the recorder holds, bytes, by map name.
    pub maps: BTreeMap<String, u64>,
}

impl Sample {
    pub fn maps_bytes(&self) -> u64 {
        self.maps.values().sum()
    }
}

/// What the soak measured.
#[derive(Clone, Debug, Default)]
pub struct Soak {
    pub seconds: u64,
    pub interval: Duration,
    pub samples: Vec<Sample>,
    /// The recorder's `VmHWM` at its last sample, KiB.
    pub hwm_kib: u64,
    /// The maps of a native recording of an idle `sleep`, by name: the
    /// level before any process, exec or argument tuple fills them.
    pub idle_maps: BTreeMap<String, u64>,
    /// The workload's own report: `seconds`, `syscalls`, `captured`,
    /// `execs`, `threads`, `ticks`.
    pub workload: BTreeMap<String, f64>,
    /// The recorder's warnings (its standard error).
    pub warnings: Vec<String>,
    /// Why it could not run, if it could not.
    pub failure: Option<String>,
}

/// A least-squares line: value = intercept + slope × t.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub slope: f64,
    pub intercept: f64,
}

/// The least-squares line through `points`; None for fewer than two
/// distinct times.
pub fn least_squares(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_v = points.iter().map(|p| p.1).sum::<f64>() / n;
    let stt: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if stt == 0.0 {
        return None;
    }
    let stv: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean_v)).sum();
    let slope = stv / stt;
    Some(Fit {
        slope,
        intercept: mean_v - slope * mean_t,
    })
}

impl Soak {
    /// The workload's fork+exec rate, per wall second.
    pub fn execs_per_second(&self) -> Option<f64> {
        let execs = self.workload.get("execs")?;
        let seconds = self.workload.get("seconds").filter(|s| **s > 0.0)?;
        Some(execs / seconds)
    }

    /// Simulated hours per wall second.
    fn compression(&self) -> Option<f64> {
        Some(self.execs_per_second()? / SIMULATED_EXECS_PER_SECOND / 3600.0)
    }

    /// The samples the fit uses: those after the warm-up.
    fn steady(&self) -> &[Sample] {
        let skip = (self.samples.len() as f64 * WARM_UP_SHARE).floor() as usize;
        &self.samples[skip.min(self.samples.len())..]
    }

    /// The slope of `value` over the steady samples, per simulated hour.
    fn slope_per_simulated_hour(&self, value: impl Fn(&Sample) -> f64) -> Option<f64> {
        let points: Vec<(f64, f64)> = self.steady().iter().map(|s| (s.t, value(s))).collect();
        let fit = least_squares(&points)?;
        Some(fit.slope / self.compression()?)
    }

    /// KiB per simulated hour: the recorder's RSS, and its maps.
    pub fn rss_slope(&self) -> Option<f64> {
        self.slope_per_simulated_hour(|s| s.rss_kib as f64)
    }
    pub fn maps_slope(&self) -> Option<f64> {
        self.slope_per_simulated_hour(|s| s.maps_bytes() as f64 / 1024.0)
    }

    /// Simulated hours the whole soak stood for.
    pub fn simulated_hours(&self) -> Option<f64> {
        Some(self.workload.get("seconds")? * self.compression()?)
    }
}

/// Runs the soak: records the sample for `setup.seconds`, sampling the
/// recorder every few seconds. A failure is kept in the result, not
/// returned: the rest of the benchmark stands without it.
pub fn run(setup: &Setup) -> Soak {
    let interval = Duration::from_secs(if setup.seconds >= 120 { 5 } else { 2 });
    match measure(setup, interval) {
        Ok(soak) => soak,
        Err(e) => Soak {
            seconds: setup.seconds,
            interval,
            failure: Some(format!("{e:#}")),
            ..Soak::default()
        },
    }
}

/// The maps of a native recording of `sleep 3`, a second after it began.
fn idle_maps(setup: &Setup) -> Result<BTreeMap<String, u64>> {
    let mut cmd = Command::new(setup.recorder);
    cmd.args(["record", "-q", "-o"])
        .arg(setup.scratch.join("soak-idle.json"))
        .args(["--", "sleep", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut recorder = BackgroundProcess::spawn("the idle recording", &mut cmd)?;
    thread::sleep(Duration::from_secs(1));
    let maps = map_memlock(recorder.id(), &mut BTreeMap::new());
    let status = recorder.stop()?;
    if maps.is_empty() {
        bail!("the idle recording held no eBPF map a second in ({status})");
    }
    Ok(maps)
}

fn measure(setup: &Setup, interval: Duration) -> Result<Soak> {
    let idle_maps = idle_maps(setup)?;
    let sample = setup.scratch.join("bin/soak");
    fs::copy(&setup.built_sample, &sample)
        .with_context(|| format!("cannot copy {}", setup.built_sample.display()))?;
    let stdout_path = setup.scratch.join("soak.stdout");
    let stderr_path = setup.scratch.join("soak.stderr");
    let stdout = File::create(&stdout_path)
        .with_context(|| format!("cannot create {}", stdout_path.display()))?;
    let stderr = File::create(&stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let mut cmd = Command::new(setup.recorder);
    cmd.args(["record", "-q", "-o"])
        .arg(setup.scratch.join("soak.json"))
        .arg("--")
        .arg(&sample)
        .arg(setup.seconds.to_string())
        .arg(EXEC_EVERY_MS.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    eprintln!(
        "xtask bench: soak: recording {} s of the soak sample, sampling every {} s",
        setup.seconds,
        interval.as_secs()
    );
    let started = Instant::now();
    let mut recorder = BackgroundProcess::spawn("the soak's recorder", &mut cmd)?;
    let pid = recorder.id();
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let mut hwm_kib = 0;
    let deadline = started + Duration::from_secs(setup.seconds + 60);
    let mut next = started + interval;
    loop {
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        next += interval;
        if recorder.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            recorder.stop()?;
            bail!("the soak's recording did not end within a minute of its duration");
        }
        let t = started.elapsed().as_secs_f64();
        let Some([rss_kib, hwm]) = status_kib(pid, ["VmRSS", "VmHWM"]) else {
            continue;
        };
        let maps = map_memlock(pid, &mut names);
        hwm_kib = hwm;
        // The last sample, taken as the workload ends and the recorder
        // reads its maps, is not the steady state.
        if t < setup.seconds as f64 {
            samples.push(Sample { t, rss_kib, maps });
        }
    }
    let status = recorder.stop()?;
    let out = fs::read_to_string(&stdout_path).unwrap_or_default();
    let err = fs::read_to_string(&stderr_path).unwrap_or_default();
    if !status.success() {
        bail!("the soak's recording failed ({status}): {}", err.trim());
    }
    let workload: BTreeMap<String, f64> = out
        .split_whitespace()
        .filter_map(|w| {
            let (k, v) = w.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect();
    if !workload.contains_key("execs") {
        bail!("the soak sample printed no report: {out:?}");
    }
    Ok(Soak {
        seconds: setup.seconds,
        interval,
        samples,
        hwm_kib,
        idle_maps,
        workload,
        warnings: err
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        failure: None,
    })
}

/// `memlock` of each map `pid` holds, by name (bpftool names the ids it
/// has not seen yet, once).
fn map_memlock(pid: u32, names: &mut BTreeMap<u64, String>) -> BTreeMap<String, u64> {
    let mut by_id: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, info) in bpf_fdinfo(pid)
        .unwrap_or_default()
        .iter()
        .filter(|(kind, _)| *kind == "map")
    {
        let field = fields(info);
        let number = |name| field.get(name)?.parse().ok();
        if let (Some(id), Some(memlock)) = (number("map_id"), number("memlock")) {
            by_id.insert(id, memlock);
        }
    }
    if by_id.keys().any(|id| !names.contains_key(id)) {
        name_maps(names);
    }
    let name = |id| {
        names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("id {id}"))
    };
    by_id
        .into_iter()
        .map(|(id, memlock)| (name(id), memlock))
        .collect()
}

/// The names of all maps, from one `bpftool map show`.
fn name_maps(names: &mut BTreeMap<u64, String>) {
    let Ok(output) = Command::new("bpftool").args(["-j", "map", "show"]).output() else {
        return;
    };
    let Ok(serde_json::Value::Array(maps)) = serde_json::from_slice(&output.stdout) else {
        return;
    };
    for map in maps {
        if let (Some(id), Some(name)) = (
            map.get("id").and_then(|v| v.as_u64()),
            map.get("name").and_then(|v| v.as_str()),
        ) {
            names.insert(id, name.to_owned());
        }
    }
}

fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

/// The report's section on the soak.
pub fn section(md: &mut String, soak: &Soak) -> std::fmt::Result {
    writeln!(md, "## A day of recording, compressed (soak)")?;
    writeln!(md)?;
    if let Some(failure) = &soak.failure {
        writeln!(md, "The soak could not run: {}.", failure.replace('|', "/"))?;
        writeln!(md)?;
        return Ok(());
    }
    let w = |k: &str| soak.workload.get(k).copied().unwrap_or(0.0);
    let seconds = w("seconds").max(f64::MIN_POSITIVE);
    writeln!(
        md,
        "`syscall-profile record -q -o FILE -- soak {} {EXEC_EVERY_MS}` \
         (`samples/src/bin/soak.rs`): for {:.0} s, {:.0} syscalls/s in a steady loop, \
         {:.0} captured calls/s (prctl, ioctl, fcntl and socket, each cycling through a \
         bounded set of {} argument tuples), a fork+exec of a short child {:.0} times a \
         second and a new thread {:.0} times a second (rates as achieved, from the \
         sample's own count). The simulated service starts one child a second, so the \
         run stands for {:.1} simulated hours. The recorder's `VmRSS` and its maps' \
         `memlock` (from `/proc/PID/fdinfo`) were sampled every {} s; the slopes are \
         least-squares lines through the samples after the first {:.0} % (the warm-up), \
         per simulated hour, and extrapolated to 24 simulated hours.",
        soak.seconds,
        seconds,
        w("syscalls") / seconds,
        w("captured") / seconds,
        6 + 16 + 4 + 3,
        w("execs") / seconds,
        w("threads") / seconds,
        soak.simulated_hours().unwrap_or(0.0),
        soak.interval.as_secs(),
        WARM_UP_SHARE * 100.0
    )?;
    writeln!(md)?;
    let (Some(first), Some(last)) = (soak.samples.first(), soak.samples.last()) else {
        writeln!(md, "No sample was taken.")?;
        writeln!(md)?;
        return Ok(());
    };
    let slope = |s: Option<f64>| s.map_or("?".to_owned(), |s| format!("{s:+.2} KiB"));
    let day = |s: Option<f64>| s.map_or("?".to_owned(), |s| format!("{:+.1} KiB", s * 24.0));
    writeln!(
        md,
        "| | first sample ({:.0} s) | last sample ({:.0} s) | slope per simulated hour | 24 h extrapolated |",
        first.t, last.t
    )?;
    writeln!(md, "| --- | ---: | ---: | ---: | ---: |")?;
    writeln!(
        md,
        "| recorder `VmRSS` | {:.1} MiB | {:.1} MiB | {} | {} |",
        first.rss_kib as f64 / 1024.0,
        last.rss_kib as f64 / 1024.0,
        slope(soak.rss_slope()),
        day(soak.rss_slope())
    )?;
    writeln!(
        md,
        "| kernel maps (`memlock`) | {:.1} KiB | {:.1} KiB | {} | {} |",
        kib(first.maps_bytes()),
        kib(last.maps_bytes()),
        slope(soak.maps_slope()),
        day(soak.maps_slope())
    )?;
    for (name, bytes) in &last.maps {
        let before = first.maps.get(name).copied().unwrap_or(0);
        if *bytes != before {
            writeln!(
                md,
                "| … `{name}` | {:.1} KiB | {:.1} KiB | | |",
                kib(before),
                kib(*bytes)
            )?;
        }
    }
    writeln!(md)?;
    writeln!(
        md,
        "Peak resident set of the recorder over the soak (`VmHWM`): {:.1} MiB. The maps \
         of a native recording of an idle `sleep`, before anything fills them: {:.1} KiB.",
        soak.hwm_kib as f64 / 1024.0,
        kib(soak.idle_maps.values().sum())
    )?;
    if !soak.warnings.is_empty() {
        writeln!(md)?;
        writeln!(md, "The recorder said:")?;
        writeln!(md)?;
        for line in &soak.warnings {
            writeln!(md, "- `{}`", line.replace('`', "'"))?;
        }
    }
    writeln!(md)?;
    Ok(())
}

/// The soak's rows of the Targets table: (target, met and what was
/// measured, or None when not measured). `peak_rss_kib` is the highest
/// peak RSS of the suite's other recordings, `native_maps_bytes` the maps
/// of its native recording, where they ran; `btf_parse_kib` a fresh
/// process's peak before and after parsing the kernel's BTF, as aya's
/// loader does at every load.
pub fn targets(
    soak: Option<&Soak>,
    peak_rss_kib: Option<u64>,
    native_maps_bytes: Option<u64>,
    names_maps_bytes: Option<u64>,
    btf_parse_kib: Option<(u64, u64)>,
) -> Vec<(String, Option<(bool, String)>)> {
    let soak = soak.filter(|s| s.failure.is_none());
    let peak = peak_rss_kib
        .into_iter()
        .chain(soak.map(|s| s.hwm_kib))
        .max();
    // The maps of a native recording before anything filled them: the
    // suite's own recording, else the soak's idle one.
    let maps = native_maps_bytes.or_else(|| {
        soak.map(|s| s.idle_maps.values().sum::<u64>())
            .filter(|&bytes| bytes > 0)
    });
    let about = format!("\"about\": within {:.0} %", ABOUT * 100.0);
    let rss_level = peak.map(|rss| {
        let rss_mib = rss as f64 / 1024.0;
        // The parse of the kernel's BTF is the loader's, not the
        // recorder's: aya parses it whole at every load.
        let btf_text = btf_parse_kib.map_or(String::new(), |(before, after)| {
            let parse = after.saturating_sub(before) as f64 / 1024.0;
            format!(
                "; of the peak, {parse:.1} MiB is the parse of the kernel's BTF that aya's loader \
                 makes at every load (measured alone in a fresh process; aya issue #1172): {:.1} \
                 MiB without it",
                rss_mib - parse
            )
        });
        (
            rss_mib <= ISSUE_RSS_MIB * (1.0 + ABOUT),
            format!("peak RSS {rss_mib:.1} MiB (issue: {ISSUE_RSS_MIB:.0}); {about}{btf_text}"),
        )
    });
    // A recording as recordings were when the level was set: no argument
    // values (`--args names`).
    let names_level = names_maps_bytes.map(|bytes| {
        let names_kib = kib(bytes);
        (
            names_kib <= ISSUE_MAPS_KIB * (1.0 + ABOUT),
            format!(
                "kernel maps of `record --args names` {names_kib:.1} KiB (issue: \
                 {ISSUE_MAPS_KIB:.0}); {about}"
            ),
        )
    });
    let maps_level = maps.map(|maps| {
        let maps_kib = kib(maps);
        // The level was set before two maps existed: the argument
        // capture's tuples and the programs by name (which keeps a long
        // recording flat). What the rest takes is the level to compare.
        let newer = soak.map_or(0, |s| {
            ["ARG_VALUES", "PROGRAMS"]
                .iter()
                .filter_map(|name| s.idle_maps.get(*name))
                .sum::<u64>()
        });
        let newer_text = if newer > 0 {
            format!(
                "; {:.1} KiB of it are `ARG_VALUES` (argument capture: room for 4096 tuples) and \
                 `PROGRAMS` (programs by name), which came after the level was set; both are \
                 allocated entry by entry, and what stays is their hash tables' buckets, 16 \
                 bytes for each entry of room (the kernel's own floor for a hash map of that \
                 size): the rest is {:.1} KiB",
                kib(newer),
                maps_kib - kib(newer)
            )
        } else {
            String::new()
        };
        (
            maps_kib <= ISSUE_MAPS_KIB * (1.0 + ABOUT),
            format!(
                "kernel maps of a native recording {maps_kib:.1} KiB (issue: \
                 {ISSUE_MAPS_KIB:.0}); {about}{newer_text}"
            ),
        )
    });
    // Flat: the slope after the warm-up, and what the warm-up itself
    // added to the idle level (a map that fills up to its bound early and
    // then loses what does not fit has a flat slope, but is not flat).
    let flat = soak.and_then(|s| {
        let (rss, maps) = (s.rss_slope()?, s.maps_slope()?);
        let (rss_day, maps_day) = (rss * 24.0, maps * 24.0);
        let end = kib(s.samples.last()?.maps_bytes());
        let above_idle = end - kib(s.idle_maps.values().sum());
        Some((
            rss_day <= FLAT_RSS_KIB_PER_DAY
                && maps_day <= FLAT_MAPS_KIB_PER_DAY
                && above_idle <= FLAT_MAPS_KIB_PER_DAY,
            format!(
                "over 24 simulated hours (extrapolated from {:.1}): RSS {rss_day:+.0} KiB \
                 (limit {FLAT_RSS_KIB_PER_DAY:.0}), maps {maps_day:+.1} KiB (limit \
                 {FLAT_MAPS_KIB_PER_DAY:.0}); maps {end:.1} KiB at the end, {above_idle:+.1} KiB \
                 from an idle recording's (limit {FLAT_MAPS_KIB_PER_DAY:.0})",
                s.simulated_hours().unwrap_or(0.0),
            ),
        ))
    });
    vec![
        (
            "peak RSS at the issue's level (native recordings)".to_owned(),
            rss_level,
        ),
        (
            "kernel maps at the issue's level (native recording as recordings were when it was \
             set: no argument values, `--args names`)"
                .to_owned(),
            names_level,
        ),
        (
            "kernel maps at the issue's level (native recording learning argument values, the \
             default since)"
                .to_owned(),
            maps_level,
        ),
        (
            "a 24-hour recording keeps RSS and kernel maps flat (soak, least-squares slope)"
                .to_owned(),
            flat,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_finds_the_line() {
        let fit = least_squares(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-9);
        assert!((fit.intercept - 1.0).abs() < 1e-9);
        assert_eq!(least_squares(&[(1.0, 1.0)]), None);
        assert_eq!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }

    fn soak(rss: &[u64]) -> Soak {
        Soak {
            seconds: 40,
            interval: Duration::from_secs(2),
            samples: rss
                .iter()
                .enumerate()
                .map(|(i, &rss_kib)| Sample {
                    t: 2.0 * (i + 1) as f64,
                    rss_kib,
                    maps: BTreeMap::from([("COUNTS".to_owned(), 33_000)]),
                })
                .collect(),
            hwm_kib: 24_000,
            idle_maps: BTreeMap::from([("COUNTS".to_owned(), 33_000)]),
            workload: BTreeMap::from([("seconds".to_owned(), 40.0), ("execs".to_owned(), 7200.0)]),
            ..Soak::default()
        }
    }

    #[test]
    fn slopes_are_per_simulated_hour_after_the_warm_up() {
        // 7200 execs at one a simulated second: 2 simulated hours.
        let s = soak(&[9000, 9500, 9100, 9100, 9100, 9100, 9100, 9100]);
        assert!((s.simulated_hours().unwrap() - 2.0).abs() < 1e-9);
        // The first two samples (the warm-up) are left out: flat.
        assert_eq!(s.rss_slope(), Some(0.0));
        assert_eq!(s.maps_slope(), Some(0.0));
        // 1 KiB per wall second is 20 KiB per simulated hour.
        let s = soak(&[9000, 9002, 9004, 9006]);
        assert!((s.rss_slope().unwrap() - 20.0).abs() < 1e-6);
        let rows = targets(
            Some(&s),
            Some(23_000),
            Some(100 * 1024),
            Some(90 * 1024),
            None,
        );
        assert_eq!(rows.len(), 4);
        // The soak's own peak (24 000 KiB) counts: 23.4 MiB is within 5 %.
        assert_eq!(rows[0].1.as_ref().map(|r| r.0), Some(true), "{rows:?}");
        // 90 KiB is within 5 % of 95; 100 KiB is not.
        assert_eq!(rows[1].1.as_ref().map(|r| r.0), Some(true), "{rows:?}");
        assert_eq!(rows[2].1.as_ref().map(|r| r.0), Some(false), "{rows:?}");
        assert_eq!(rows[3].1.as_ref().map(|r| r.0), Some(true), "{rows:?}");
    }

    #[test]
    fn a_map_that_fills_to_its_bound_during_the_warm_up_is_not_flat() {
        let mut s = soak(&[9000; 8]);
        for sample in &mut s.samples[1..] {
            sample.maps.insert("EXECS".to_owned(), 300 * 1024);
        }
        assert_eq!(s.maps_slope(), Some(0.0));
        let rows = targets(Some(&s), None, None, None, None);
        let (flat, detail) = rows[3].1.clone().expect("measured");
        assert!(!flat, "{detail}");
        assert!(
            detail.contains("+300.0 KiB from an idle recording's"),
            "{detail}"
        );
    }

    #[test]
    fn the_section_states_the_rate_the_slopes_and_the_maps_that_grew() {
        let mut s = soak(&[9000, 9000, 9000, 9000]);
        s.workload.insert("threads".to_owned(), 800.0);
        s.samples[3].maps.insert("EXECS".to_owned(), 300 * 1024);
        s.warnings.push("syscall-profile: warning: `x`".to_owned());
        let mut md = String::new();
        section(&mut md, &s).unwrap();
        assert!(
            md.contains("a fork+exec of a short child 180 times a second"),
            "{md}"
        );
        assert!(md.contains("stands for 2.0 simulated hours"), "{md}");
        assert!(
            md.contains("| recorder `VmRSS` | 8.8 MiB | 8.8 MiB | +0.00 KiB | +0.0 KiB |"),
            "{md}"
        );
        assert!(
            md.contains("| … `EXECS` | 0.0 KiB | 300.0 KiB | | |"),
            "{md}"
        );
        assert!(md.contains("- `syscall-profile: warning: 'x'`"), "{md}");
        let failed = Soak {
            failure: Some("no | pipe".to_owned()),
            ..Soak::default()
        };
        let mut md = String::new();
        section(&mut md, &failed).unwrap();
        assert!(md.contains("The soak could not run: no / pipe."), "{md}");
    }
}
