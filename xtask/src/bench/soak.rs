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
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    child::status_kib,
    template::{Template, Value, fill, fill_text, values},
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
pub(super) fn map_memlock(pid: u32, names: &mut BTreeMap<u64, String>) -> BTreeMap<String, u64> {
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

/// The soak's section and targets in the report.
const TEXT: Template = Template(include_str!("report/soak.md"));

/// The report's section on the soak.
pub fn section(soak: &Soak) -> Result<String> {
    let mut md = fill!(TEXT, "heading")?;
    if let Some(failure) = &soak.failure {
        return Ok(md + &fill!(TEXT, "failed", failure = failure.replace('|', "/"))?);
    }
    let w = |k: &str| soak.workload.get(k).copied().unwrap_or(0.0);
    let wall = w("seconds").max(f64::MIN_POSITIVE);
    md += &fill!(
        TEXT,
        "run",
        seconds = soak.seconds,
        exec_every = EXEC_EVERY_MS,
        wall,
        syscalls = w("syscalls") / wall,
        captured = w("captured") / wall,
        tuples = 6 + 16 + 4 + 3_u32,
        execs = w("execs") / wall,
        threads = w("threads") / wall,
        hours = soak.simulated_hours().unwrap_or(0.0),
        interval = soak.interval.as_secs(),
        warm_up = WARM_UP_SHARE * 100.0
    )?;
    let (Some(first), Some(last)) = (soak.samples.first(), soak.samples.last()) else {
        return Ok(md + &fill!(TEXT, "no-sample")?);
    };
    let slope = |s: Option<f64>| s.map_or("?".to_owned(), |s| format!("{s:+.2} KiB"));
    let day = |s: Option<f64>| s.map_or("?".to_owned(), |s| format!("{:+.1} KiB", s * 24.0));
    let mut grown = String::new();
    for (name, bytes) in &last.maps {
        let before = first.maps.get(name).copied().unwrap_or(0);
        if *bytes != before {
            let (before, after) = (kib(before), kib(*bytes));
            grown += &format!("| … `{name}` | {before:.1} KiB | {after:.1} KiB | | |\n");
        }
    }
    let mut warnings = String::new();
    if !soak.warnings.is_empty() {
        warnings = fill!(TEXT, "warnings")?;
        for line in &soak.warnings {
            warnings += &format!("- `{}`\n", line.replace('`', "'"));
        }
    }
    let (rss_slope, maps_slope) = (soak.rss_slope(), soak.maps_slope());
    md += &fill!(
        TEXT,
        "samples",
        first = first.t,
        last = last.t,
        rss_first = first.rss_kib as f64 / 1024.0,
        rss_last = last.rss_kib as f64 / 1024.0,
        rss_slope = slope(rss_slope),
        rss_day = day(rss_slope),
        maps_first = kib(first.maps_bytes()),
        maps_last = kib(last.maps_bytes()),
        maps_slope = slope(maps_slope),
        maps_day = day(maps_slope),
        grown,
        hwm = soak.hwm_kib as f64 / 1024.0,
        idle = kib(soak.idle_maps.values().sum()),
        warnings
    )?;
    Ok(md)
}

/// Whether a target is met, and the values of what was measured.
type Judged = (bool, Vec<(&'static str, Value)>);

/// A row of the Targets table: its wording, and whether it is met with
/// what was measured (None when not measured).
pub type Target = (String, Option<(bool, String)>);

/// The soak's rows of the Targets table. `peak_rss_kib` is the highest
/// peak RSS of the suite's other recordings, `native_maps_bytes` and
/// `names_maps_bytes` the maps of its native recordings (without and with
/// `--args names`), where they ran; `btf_parse_kib` a fresh process's peak
/// before and after parsing the kernel's BTF, as aya's loader does at
/// every load.
pub fn targets(
    soak: Option<&Soak>,
    peak_rss_kib: Option<u64>,
    native_maps_bytes: Option<u64>,
    names_maps_bytes: Option<u64>,
    btf_parse_kib: Option<(u64, u64)>,
) -> Result<Vec<Target>> {
    let soak = soak.filter(|s| s.failure.is_none());
    let peak = peak_rss_kib
        .into_iter()
        .chain(soak.map(|s| s.hwm_kib))
        .max();
    // The maps of a native recording before anything filled them: the
    // suite's own recording, else the soak's idle one.
    let maps = native_maps_bytes.or_else(|| {
        let idle = soak.map(|s| s.idle_maps.values().sum::<u64>());
        idle.filter(|&bytes| bytes > 0)
    });
    let (issue, about) = (ISSUE_MAPS_KIB, ABOUT * 100.0);
    let level = |value: f64, issue: f64| value <= issue * (1.0 + ABOUT);
    let rss_level: Option<Result<Judged>> = peak.map(|kib| {
        let rss = kib as f64 / 1024.0;
        // The parse of the kernel's BTF is the loader's, not the
        // recorder's: aya parses it whole at every load.
        let btf = btf_parse_kib.map(|(before, after)| {
            let parse = after.saturating_sub(before) as f64 / 1024.0;
            values![parse, rest = rss - parse]
        });
        let btf = TEXT.maybe("btf", btf)?;
        let issue = ISSUE_RSS_MIB;
        Ok((level(rss, issue), values![rss, issue, about, btf]))
    });
    // A recording as recordings were when the level was set: no argument
    // values (`--args names`).
    let names_level: Option<Result<Judged>> = names_maps_bytes.map(|bytes| {
        Ok((
            level(kib(bytes), issue),
            values![maps = kib(bytes), issue, about],
        ))
    });
    let maps_level: Option<Result<Judged>> = maps.map(|bytes| {
        let maps = kib(bytes);
        // The level was set before two maps existed: the argument
        // capture's tuples and the programs by name (which keeps a long
        // recording flat). What the rest takes is the level to compare.
        let newer: u64 = soak.map_or(0, |s| {
            let newer = ["ARG_VALUES", "PROGRAMS"].iter();
            newer.filter_map(|name| s.idle_maps.get(*name)).sum()
        });
        let newer = (newer > 0).then(|| values![newer = kib(newer), rest = maps - kib(newer)]);
        let newer = TEXT.maybe("newer", newer)?;
        Ok((level(maps, issue), values![maps, issue, about, newer]))
    });
    // Flat: the slope after the warm-up, and what the warm-up itself
    // added to the idle level (a map that fills up to its bound early and
    // then loses what does not fit has a flat slope, but is not flat).
    let flat = soak.and_then(|s| {
        let (rss_day, maps_day) = (s.rss_slope()? * 24.0, s.maps_slope()? * 24.0);
        let end = kib(s.samples.last()?.maps_bytes());
        let above_idle = end - kib(s.idle_maps.values().sum());
        let (rss_limit, maps_limit) = (FLAT_RSS_KIB_PER_DAY, FLAT_MAPS_KIB_PER_DAY);
        let met = rss_day <= rss_limit && maps_day <= maps_limit && above_idle <= maps_limit;
        let hours = s.simulated_hours().unwrap_or(0.0);
        let values = values![
            hours, rss_day, rss_limit, maps_day, maps_limit, end, above_idle
        ];
        Some(Ok((met, values)))
    });
    let mut rows = Vec::new();
    for (name, measured) in [
        ("rss", rss_level),
        ("names-maps", names_level),
        ("maps", maps_level),
        ("flat", flat),
    ] {
        let text = TEXT.snippet(name)?;
        let (wording, detail) = text.trim_end().split_once('\n').unwrap_or((text, ""));
        let measured = match measured.transpose()? {
            Some((met, values)) => Some((met, fill_text(detail, &values)?)),
            None => None,
        };
        rows.push((wording.to_owned(), measured));
    }
    Ok(rows)
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
        )
        .unwrap();
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
        let rows = targets(Some(&s), None, None, None, None).unwrap();
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
        let md = section(&s).unwrap();
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
        let md = section(&failed).unwrap();
        assert!(md.contains("The soak could not run: no / pipe."), "{md}");
    }
}
