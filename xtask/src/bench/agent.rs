//! The `agent` part: do containers started and stopped leave the node
//! agent's memory flat?
//!
//! `syscall-profile agent` runs with the bench's dockerd in its
//! environment while [`Sizes::agent_containers`] containers (200, the
//! issue's number) run one after the other: `docker run --rm --network
//! none` of the samples image making one syscall (`call getppid`), all
//! replicas of one compose service, so that they fold into one workload
//! (one state, one profile) and what grows with their number is what the
//! agent keeps per container. After 0, 50, 100, 150 and 200 of them, once
//! the agent has written every container that ended, its resident set
//! (`VmRSS`, `VmHWM`) and the kernel memory of its maps (`memlock` of each
//! map fd in its `/proc/PID/fdinfo`) are read. Every container must have
//! been recorded (the agent's `recording … as a replica` lines, and the
//! replicas its state file counts at its end): one missed fails the part.
//!
//! Also [`start`], the idle agent the `others` part measures the loop
//! beside (`Neighbour::Agent`).
//!
//! Self-contained, like `soak`: the suite calls [`run`] after its rounds,
//! the report calls [`section`] and [`targets`].
//!
//! [`Sizes::agent_containers`]: super::measure::Sizes::agent_containers

use std::{
    collections::BTreeMap,
    fs::{self, File},
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    child::status_kib,
    soak::map_memlock,
    template::{Template, Value, fill, fill_text, values},
    util::poll,
};
use crate::{dry, images::IMAGE as SAMPLES_IMAGE, services::BackgroundProcess};

/// Samples are taken every this many containers (and before the first).
pub const EVERY: u32 = 50;
/// Flat: what the agent's `VmRSS` may grow by from the sample after
/// [`EVERY`] containers (the allocator's working size reached) to the
/// last, and its maps from the first sample to the last.
pub const FLAT_RSS_KIB: f64 = 256.0;
pub const FLAT_MAPS_KIB: f64 = 4.0;
/// How long the agent may take to start counting, and to write the
/// containers that ended before a sample.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// The compose service the containers are replicas of.
const SERVICE: &str = "churn";
/// The label that selects the bench's containers (`--select`), so that
/// other containers of the node (other sessions' tests) are not recorded.
const SELECT_KEY: &str = "xtask.bench";

/// `syscall-profile agent -o OUTPUT --select xtask.bench=VALUE`, with the
/// bench's dockerd as its engine.
pub fn command(recorder: &Path, docker_host: &str, output: &Path, select: &str) -> Command {
    let mut cmd = Command::new(recorder);
    cmd.arg("agent").arg("-o").arg(output);
    cmd.arg("--select").arg(format!("{SELECT_KEY}={select}"));
    cmd.env("DOCKER_HOST", docker_host).stdin(Stdio::null());
    cmd
}

/// Starts the agent `cmd` (a fresh, empty output directory made first),
/// its messages into `log`, and returns once it says it counts (`agent:
/// counting every container on the … hook`), with that line.
pub fn start(
    name: &str,
    mut cmd: Command,
    output: &Path,
    log: &Path,
) -> Result<(BackgroundProcess, String)> {
    let _ = fs::remove_dir_all(output);
    fs::create_dir_all(output).with_context(|| format!("cannot create {}", output.display()))?;
    let file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    cmd.stdout(file.try_clone()?).stderr(file);
    let mut agent = BackgroundProcess::spawn(name, &mut cmd)?;
    if dry::step(|| "wait until it says `agent: counting`".to_owned()) {
        let line = "agent: counting every container on the tp_btf hook".to_owned();
        return Ok((agent, line));
    }
    let text = || fs::read_to_string(log).unwrap_or_default();
    let counting = || {
        let text = text();
        let line = text.lines().find(|l| l.contains("agent: counting"));
        Ok(line.map(str::to_owned))
    };
    let ended = |status| {
        format!(
            "the agent ended ({status}) before counting: {}",
            text().trim()
        )
    };
    let late = || format!("the agent did not start counting within {START_TIMEOUT:?}");
    let line = poll(
        &mut agent,
        (Duration::from_millis(20), START_TIMEOUT),
        counting,
        ended,
        late,
    )?;
    Ok((agent, line))
}

/// What the part needs of the suite.
pub struct Setup<'a> {
    pub recorder: &'a Path,
    pub scratch: &'a Path,
    pub docker_host: &'a str,
    pub containers: u32,
}

/// One sample of the agent.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Containers started and stopped before it.
    pub containers: u32,
    /// Of them, those the agent said it records, and whose end it wrote.
    pub recorded: usize,
    pub ended: usize,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    /// `memlock` of every map the agent holds, bytes, by map name.
    pub maps: BTreeMap<String, u64>,
}

impl Sample {
    pub fn maps_bytes(&self) -> u64 {
        self.maps.values().sum()
    }
}

/// What the part measured.
#[derive(Clone, Debug, Default)]
pub struct AgentMemory {
    pub containers: u32,
    /// The line the agent started with (its hook).
    pub started: String,
    pub samples: Vec<Sample>,
    /// Wall time of the containers' loop, seconds (the waits before the
    /// samples left out).
    pub seconds: f64,
    /// Replicas in the workload's state file once the agent ended.
    pub replicas: Option<u64>,
    /// The agent's warnings and the containers it did not record.
    pub warnings: Vec<String>,
    /// Why it could not run, or why the run does not count (a container
    /// not recorded).
    pub failure: Option<String>,
}

impl AgentMemory {
    /// The sample after [`EVERY`] containers (the first after the start)
    /// and the last.
    fn steady(&self) -> Option<(&Sample, &Sample)> {
        let from = self.samples.iter().find(|s| s.containers >= EVERY)?;
        Some((from, self.samples.last()?))
    }

    /// `VmRSS` growth (KiB) from [`Self::steady`]'s first to its last, and
    /// the maps' (KiB) from the first sample to the last.
    pub fn growth(&self) -> Option<(f64, f64)> {
        let (from, to) = self.steady()?;
        let first = self.samples.first()?;
        let rss = to.rss_kib as f64 - from.rss_kib as f64;
        let maps = (to.maps_bytes() as f64 - first.maps_bytes() as f64) / 1024.0;
        Some((rss, maps))
    }

    /// Containers the agent said it records, at the end.
    pub fn recorded(&self) -> usize {
        self.samples.last().map_or(0, |s| s.recorded)
    }
}

/// Runs the part. A failure is kept in the result, not returned: the rest
/// of the benchmark stands without it.
pub fn run(setup: &Setup) -> AgentMemory {
    match measure(setup) {
        Ok(memory) => memory,
        Err(e) => AgentMemory {
            containers: setup.containers,
            failure: Some(format!("{e:#}")),
            ..AgentMemory::default()
        },
    }
}

/// The agent's lines that say a container of `workload` is recorded, and
/// that one ended and was written.
fn counts(log: &str, workload: &str) -> (usize, usize) {
    let recording = format!(" as a replica of {workload}");
    let ended = format!(" ended: {workload} written");
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    (count(&recording), count(&ended))
}

fn measure(setup: &Setup) -> Result<AgentMemory> {
    let tag = format!("xtask-bench-{}", std::process::id());
    let output = setup.scratch.join("agent-part");
    let log = setup.scratch.join("agent-part.log");
    let cmd = command(setup.recorder, setup.docker_host, &output, &tag);
    let (mut agent, started) = start("the agent", cmd, &output, &log)?;
    let pid = agent.id();
    let workload = format!("docker/{tag}/{SERVICE}");
    let text = || fs::read_to_string(&log).unwrap_or_default();
    let mut names = BTreeMap::new();
    let mut samples = Vec::new();
    let mut failed_runs = Vec::new();
    let mut looped = Duration::ZERO;
    eprintln!(
        "xtask bench: agent: {} containers, one after the other, sampling every {EVERY}",
        setup.containers
    );
    for n in 0..=setup.containers {
        if n % EVERY == 0 || n == setup.containers {
            // Every container that ended is written before the sample.
            let deadline = Instant::now() + SETTLE_TIMEOUT;
            let (recorded, ended) = loop {
                let (recorded, ended) = counts(&text(), &workload);
                if ended >= n as usize || Instant::now() > deadline {
                    break (recorded, ended);
                }
                if let Some(status) = agent.try_wait()? {
                    bail!("the agent ended ({status}): {}", text().trim());
                }
                thread::sleep(Duration::from_millis(50));
            };
            let [rss_kib, hwm_kib] = status_kib(pid, ["VmRSS", "VmHWM"])
                .context("cannot read the agent's /proc/PID/status")?;
            let maps = map_memlock(pid, &mut names);
            eprintln!(
                "xtask bench: agent: after {n} containers ({:.0} s): {recorded} recorded, \
                 {ended} written, VmRSS {rss_kib} KiB, maps {:.1} KiB",
                looped.as_secs_f64(),
                maps.values().sum::<u64>() as f64 / 1024.0
            );
            samples.push(Sample {
                containers: n,
                recorded,
                ended,
                rss_kib,
                hwm_kib,
                maps,
            });
        }
        if n == setup.containers {
            break;
        }
        let started = Instant::now();
        let mut docker = Command::new("docker");
        docker.env("DOCKER_HOST", setup.docker_host);
        docker.args(["run", "--rm", "--network", "none"]);
        for label in [
            format!("{SELECT_KEY}={tag}"),
            format!("com.docker.compose.project={tag}"),
            format!("com.docker.compose.service={SERVICE}"),
        ] {
            docker.arg("--label").arg(label);
        }
        docker.args([SAMPLES_IMAGE, "call", "getppid"]);
        let out = docker
            .stdin(Stdio::null())
            .output()
            .context("cannot run docker")?;
        looped += started.elapsed();
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            failed_runs.push(format!("container {n}: {} {}", out.status, err.trim()));
        }
    }
    let status = agent.stop()?;
    let log_text = text();
    if !status.success() {
        bail!("the agent failed ({status}): {}", log_text.trim());
    }
    let state = output.join(format!("docker_{tag}_{SERVICE}.agent.json"));
    let replicas = fs::read_to_string(&state)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("replicas")?.as_u64());
    let mut warnings: Vec<String> = log_text
        .lines()
        .filter(|l| l.contains("warning") || l.contains("not recording"))
        .map(str::to_owned)
        .collect();
    warnings.extend(failed_runs.iter().cloned());
    let mut memory = AgentMemory {
        containers: setup.containers,
        started,
        samples,
        seconds: looped.as_secs_f64(),
        replicas,
        warnings,
        failure: None,
    };
    let (recorded, want) = (memory.recorded(), setup.containers as usize);
    if !failed_runs.is_empty() {
        memory.failure = Some(format!(
            "{} of the {want} `docker run`s failed",
            failed_runs.len()
        ));
    } else if recorded < want || replicas.is_none_or(|r| r < want as u64) {
        let replicas = replicas.map_or("no".to_owned(), |r| r.to_string());
        memory.failure = Some(format!(
            "the agent recorded {recorded} of the {want} containers ({replicas} replicas in its \
             state file)"
        ));
    }
    Ok(memory)
}

fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

/// The part's section and target in the report.
const TEXT: Template = Template(include_str!("report/agent.md"));

/// The report's section on the agent's memory.
pub fn section(memory: &AgentMemory) -> Result<String> {
    let mut md = fill!(TEXT, "heading", containers = memory.containers)?;
    if memory.samples.is_empty() {
        let failure = memory.failure.as_deref().unwrap_or("no sample was taken");
        return Ok(md + &fill!(TEXT, "failed", failure = failure.replace('|', "/"))?);
    }
    let each = memory.seconds * 1e3 / f64::from(memory.containers.max(1));
    md += &fill!(
        TEXT,
        "run",
        containers = memory.containers,
        image = SAMPLES_IMAGE,
        service = SERVICE,
        seconds = memory.seconds,
        each,
        every = EVERY,
        started = memory.started.replace('`', "'")
    )?;
    let mut rows = String::new();
    for s in &memory.samples {
        rows += &format!(
            "| {} | {} | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB |\n",
            s.containers,
            s.recorded,
            s.ended,
            s.rss_kib as f64 / 1024.0,
            s.hwm_kib as f64 / 1024.0,
            kib(s.maps_bytes())
        );
    }
    md += &fill!(TEXT, "samples", rows)?;
    if let (Some(first), Some(last)) = (memory.samples.first(), memory.samples.last()) {
        // Only the maps whose memory changed: all of them are in the
        // Memory section's table (the idle agent's).
        let mut maps = String::new();
        for (name, bytes) in &last.maps {
            let before = first.maps.get(name).copied().unwrap_or(0);
            if *bytes != before {
                let (before, after) = (kib(before), kib(*bytes));
                maps += &format!("| `{name}` | {before:.1} KiB | {after:.1} KiB |\n");
            }
        }
        let (first_n, last_n, count) = (first.containers, last.containers, last.maps.len());
        md += &if maps.is_empty() {
            let all = kib(last.maps_bytes());
            fill!(
                TEXT,
                "maps-same",
                first = first_n,
                last = last_n,
                count,
                all
            )?
        } else {
            fill!(TEXT, "maps", first = first_n, last = last_n, maps)?
        };
    }
    let replicas = memory.replicas.map_or("none".to_owned(), |r| r.to_string());
    let recorded = memory.recorded();
    md += &match memory.growth() {
        Some((rss, maps)) => {
            let flat = rss <= FLAT_RSS_KIB && maps <= FLAT_MAPS_KIB;
            let verdict = if flat { "stayed flat" } else { "grew" };
            fill!(
                TEXT,
                "verdict",
                recorded,
                containers = memory.containers,
                replicas,
                every = EVERY,
                rss,
                rss_limit = FLAT_RSS_KIB,
                per = rss / f64::from((memory.containers - EVERY).max(1)),
                maps,
                maps_limit = FLAT_MAPS_KIB,
                verdict
            )?
        }
        None => fill!(TEXT, "too-few", recorded, replicas)?,
    };
    if let Some(failure) = &memory.failure {
        md += &fill!(TEXT, "not-counted", failure = failure.replace('|', "/"))?;
    }
    if !memory.warnings.is_empty() {
        md += &fill!(TEXT, "warnings")?;
        for line in &memory.warnings {
            md += &format!("- `{}`\n", line.replace('`', "'"));
        }
        md += "\n";
    }
    Ok(md)
}

/// A row of the Targets table: its wording, and whether it is met with
/// what was measured (None when not measured).
pub type Target = (String, Option<(bool, String)>);

/// The part's row of the Targets table.
pub fn targets(memory: Option<&AgentMemory>) -> Result<Vec<Target>> {
    let text = TEXT.snippet("flat")?;
    let (wording, detail) = text.trim_end().split_once('\n').unwrap_or((text, ""));
    let judged: Option<(bool, Vec<(&str, Value)>)> = memory.and_then(|m| {
        let (rss, maps) = m.growth()?;
        let (recorded, containers) = (m.recorded(), m.containers);
        let met = m.failure.is_none()
            && recorded >= containers as usize
            && rss <= FLAT_RSS_KIB
            && maps <= FLAT_MAPS_KIB;
        let (rss_limit, maps_limit, every) = (FLAT_RSS_KIB, FLAT_MAPS_KIB, EVERY);
        let values = values![
            recorded, containers, every, rss, rss_limit, maps, maps_limit
        ];
        Some((met, values))
    });
    let measured = match judged {
        Some((met, values)) => Some((met, fill_text(detail, &values)?)),
        None => None,
    };
    Ok(vec![(wording.to_owned(), measured)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(containers: u32, rss_kib: u64, maps: u64) -> Sample {
        Sample {
            containers,
            recorded: containers as usize,
            ended: containers as usize,
            rss_kib,
            hwm_kib: rss_kib + 100,
            maps: BTreeMap::from([("AGENT_COUNTS".to_owned(), maps)]),
        }
    }

    fn memory(rss: [u64; 5]) -> AgentMemory {
        AgentMemory {
            containers: 200,
            started: "syscall-profile: agent: counting every container on the tp_btf hook"
                .to_owned(),
            samples: (0..5)
                .map(|i| sample(i * 50, rss[i as usize], 1_048_576))
                .collect(),
            seconds: 100.0,
            replicas: Some(200),
            ..AgentMemory::default()
        }
    }

    #[test]
    fn the_lines_of_the_workload_are_counted() {
        let log = "syscall-profile: recording docker container a (1) as a replica of docker/p/churn\n\
                   syscall-profile: docker container a (1) ended: docker/p/churn written (x)\n\
                   syscall-profile: recording docker container b (2) as a replica of docker/q/churn\n";
        assert_eq!(counts(log, "docker/p/churn"), (1, 1));
        assert_eq!(counts(log, "docker/q/churn"), (1, 0));
    }

    #[test]
    fn growth_is_from_the_first_steady_sample() {
        // The start-up's growth (0 to 50) is left out.
        let m = memory([8000, 9000, 9050, 9100, 9100]);
        assert_eq!(m.growth(), Some((100.0, 0.0)));
        let rows = targets(Some(&m)).unwrap();
        assert_eq!(rows[0].1.as_ref().map(|r| r.0), Some(true), "{rows:?}");
        let m = memory([8000, 9000, 9200, 9400, 9600]);
        let rows = targets(Some(&m)).unwrap();
        assert_eq!(rows[0].1.as_ref().map(|r| r.0), Some(false), "{rows:?}");
        assert_eq!(targets(None).unwrap()[0].1, None);
    }

    #[test]
    fn a_container_not_recorded_misses_the_target() {
        let mut m = memory([9000; 5]);
        m.samples[4].recorded = 199;
        m.failure = Some("the agent recorded 199 of the 200 containers".to_owned());
        let rows = targets(Some(&m)).unwrap();
        let (met, detail) = rows[0].1.clone().expect("measured");
        assert!(!met, "{detail}");
        assert!(detail.contains("199 of 200"), "{detail}");
        let md = section(&m).unwrap();
        assert!(
            md.contains("does not count: the agent recorded 199"),
            "{md}"
        );
    }
}
