//! `cargo xtask bench`'s measurements: what recording and enforcing cost,
//! side by side with what users would run instead (bpftrace, strace,
//! Docker's default seccomp profile).
//!
//! A benchmark, not a test: nothing is asserted. Every configuration runs
//! once per round, in an order rotated by one each round, so drift (CPU
//! frequency, the other engineers' builds on a shared machine) spreads over
//! all of them; the report gives the median and the range of the rounds.
//! The cases, and what each measures, are listed in [`cases`]; each runs in
//! one shape ([`Bench::runner`]: what runs beside it, its command, and how
//! it is measured, then one loop in [`Bench::measure`]); [`run`] returns
//! their figures as an [`Outcome`], which `report` turns into BENCHMARKS.md.

use std::{
    collections::BTreeMap,
    fmt,
    fs::{self, File},
    io::{Read, Write},
    net::TcpStream,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};

use super::{
    bpf_stats,
    child::{self, vm_hwm_kib},
    empty_hook::{self, EmptyHook},
    image::{self, GETPPID_LOOP, IMAGE, REDIS_SERVER},
    measure::{
        BUSY_SHARE, BpfObject, Busy, Case, Memory, Neighbour, Outcome, Policy, ProgSample,
        ProgStats, Run, Sizes, StatCase, Workload, learned_label, unit,
    },
    soak,
    util::{
        bpf_fdinfo, bpftool_names, child_named, fields, poll, round_order, shell_quote,
        wait_until_recording,
    },
};
use crate::{
    demo::build_release,
    dry,
    images::IMAGE as SAMPLES_IMAGE,
    services::{BackgroundProcess, PODMAN_GLOBALS_VAR, STATIC_SAMPLES_VAR, Services},
    setup,
    workspace::{self, Workspace, display},
};

/// The parts of the benchmark.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Part {
    /// The recorded workload's cost: micro, file I/O, server, server in a container.
    Recording,
    /// The cost to a process outside the recording.
    Others,
    /// Enforcement: no filter, Docker's default, the learned profile.
    Enforcement,
    /// `record -- /bin/true` and the time until tracing is armed.
    Startup,
    /// What argument capture adds: a captured syscall's loop recorded,
    /// beside getppid's (not captured).
    Arguments,
    /// Each eBPF program's cost per run in the kernel's own accounting
    /// (run statistics on only for these measurements).
    BpfStats,
    /// A long recording of a steady load: does memory stay flat? (See
    /// `soak`.)
    Soak,
    /// A refused call under each denial watch of a native `enforce`, beside
    /// the filter alone.
    Refusals,
}

impl Part {
    pub const ALL: [Part; 8] = [
        Part::Recording,
        Part::Others,
        Part::Enforcement,
        Part::Startup,
        Part::Arguments,
        Part::BpfStats,
        Part::Soak,
        Part::Refusals,
    ];
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Recording => "recording",
            Part::Others => "others",
            Part::Enforcement => "enforcement",
            Part::Startup => "startup",
            Part::Arguments => "arguments",
            Part::BpfStats => "bpf-stats",
            Part::Soak => "soak",
            Part::Refusals => "refusals",
        })
    }
}

/// Every case of the selected parts. The baselines come first in the list,
/// but the rounds rotate the order anyway.
pub(super) fn cases(parts: &[Part], has_docker_default: bool) -> Vec<Case> {
    use Neighbour as N;
    use Policy as P;
    use Run::*;
    use Workload::*;
    let mut list = Vec::new();
    let mut add = |workload, runs: &[Run]| {
        for &run in runs {
            let case = Case::new(workload, run);
            if !list.contains(&case) {
                list.push(case);
            }
        }
    };
    for &part in parts {
        match part {
            Part::Recording => {
                for workload in [Micro, FileIo, Redis] {
                    add(workload, &[Untraced, Record, Bpftrace, Strace]);
                }
                // The floors of the recorded process: the hook alone.
                add(
                    Micro,
                    &[Beside(N::EmptyRawTracepoint), Beside(N::EmptyBtfTracepoint)],
                );
                let containers = [ContainerRecord, ContainerBpftrace, ContainerStrace];
                add(
                    Redis,
                    &[&[Container(P::DockerDefault)], &containers[..]].concat(),
                );
                // A recorded container's syscall, beside the native one's.
                add(
                    Micro,
                    &[
                        Container(P::None),
                        Container(P::DockerDefault),
                        ContainerRecord,
                    ],
                );
            }
            Part::Others => {
                add(Micro, &[Untraced]);
                let neighbours = [
                    N::Record,
                    N::Bpftrace,
                    N::EmptyTracepoint,
                    N::EmptyRawTracepoint,
                    N::EmptyBtfTracepoint,
                    N::EmptyFentry,
                ];
                add(Micro, &neighbours.map(Beside));
            }
            Part::Enforcement => {
                for workload in [Micro, Redis] {
                    add(workload, &[Untraced]);
                    for policy in [P::None, P::DockerDefault, P::Learned] {
                        if policy != P::DockerDefault || has_docker_default {
                            add(workload, &[Enforce(policy)]);
                        }
                        add(workload, &[Container(policy)]);
                    }
                }
                // The filter alone, the floor of both watches; the two
                // denial watches side by side; a container under `enforce`
                // (the engine's filter and the eBPF watch) beside plain
                // `docker run` with the same profile; what `enforce` costs
                // processes outside it.
                add(Micro, &[SeccompFilter, EnforceKernelWatch(P::None)]);
                add(
                    Micro,
                    &[EnforceKernelWatch(P::Learned), ContainerEnforce(P::None)],
                );
                add(Micro, &[ContainerEnforce(P::Learned), Beside(N::Enforce)]);
                add(Micro, &[Beside(N::EnforceContainer)]);
                // The same in podman, whose containers' refusals go to the
                // tool's seccomp listener (runc hands it over through the
                // OCI `listenerPath`, which Docker 20.10 drops): plain
                // `podman run` unconfined and with the profile, then
                // `enforce` with the listener and with the eBPF watch.
                add(
                    Micro,
                    &[
                        Podman(P::None),
                        Podman(P::Learned),
                        PodmanEnforce(P::Learned),
                    ],
                );
                add(
                    Micro,
                    &[
                        PodmanEnforceKernelWatch(P::Learned),
                        Beside(N::EnforcePodman),
                    ],
                );
            }
            Part::Startup => {
                add(True, &[Untraced, Record]);
                add(StartTime, &[Untraced, Record]);
            }
            Part::Arguments => {
                add(Micro, &[Untraced, Record]);
                add(Captured, &[Untraced, Record]);
                // The recorder with no capture at all: what capture adds to
                // the syscalls it does not capture.
                add(Micro, &[RecordNoCapture]);
            }
            // The filter alone refusing, then each watch with the loop's
            // learned profile (sysinfo taken out).
            Part::Refusals => add(
                Refused,
                &[
                    RefusingFilter,
                    EnforceKernelWatch(P::Learned),
                    EnforceListener(P::Learned),
                    HandOff,
                ],
            ),
            // Measured apart, after the rounds (see `bpf_stats` and `soak`).
            Part::BpfStats | Part::Soak => {}
        }
    }
    list
}

/// The most a whole run waits for quiet CPUs, and one measurement.
const QUIET_BUDGET: Duration = Duration::from_secs(240);
const QUIET_WAIT: Duration = Duration::from_secs(20);

/// Waits, within a budget, until the CPUs are idle between measurements:
/// on a shared machine others' builds and tests would slow every
/// configuration unevenly. Returns how long it waited, and, when it gave
/// up, the share of the CPUs others still used.
fn wait_for_quiet_cpus(budget_used: &mut Duration) -> (Duration, Option<f64>) {
    let started = Instant::now();
    loop {
        let Some(share) = busy_share(Duration::from_millis(250)) else {
            return (Duration::ZERO, None);
        };
        let waited = started.elapsed();
        if share <= BUSY_SHARE {
            *budget_used += waited;
            return (waited, None);
        }
        if waited >= QUIET_WAIT || *budget_used + waited >= QUIET_BUDGET {
            *budget_used += waited;
            return (waited, Some(share));
        }
        thread::sleep(Duration::from_millis(750));
    }
}

/// The share of all CPUs busy over `window`, from /proc/stat (while the
/// benchmark itself sleeps, so it is everyone else's).
fn busy_share(window: Duration) -> Option<f64> {
    fn sample() -> Option<(u64, u64)> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let values: Vec<u64> = line
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
        Some((idle, values.iter().take(8).sum()))
    }
    let (idle0, total0) = sample()?;
    thread::sleep(window);
    let (idle1, total1) = sample()?;
    let total = total1.checked_sub(total0).filter(|&t| t > 0)?;
    Some(1.0 - idle1.saturating_sub(idle0) as f64 / total as f64)
}

/// How long a server may take to answer, a tracer to attach, a run to end.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The loopback port of the benchmark's redis-server (never another address).
const REDIS_PORT: u16 = 16_379;

#[derive(Default)]
struct Bench {
    recorder: PathBuf,
    samples: PathBuf,
    scratch: PathBuf,
    /// A tmpfs directory for the file I/O workload.
    tmpfs: PathBuf,
    /// The cgroup v2 mount, and a cgroup of ours under it for bpftrace.
    cgroup: PathBuf,
    docker_host: String,
    sizes: Sizes,
    docker_default: Option<PathBuf>,
    allow_all: PathBuf,
    learned: BTreeMap<(Workload, bool), PathBuf>,
    /// podman's global options (the test suite's store, runc).
    podman_globals: Vec<String>,
    /// The loop's profile learned in podman with `--args names`.
    podman_learned: Option<PathBuf>,
    /// The same of an idle `sleep 1` in podman (for the neighbour case).
    podman_idle_learned: Option<PathBuf>,
    memory: Memory,
    /// See [`Outcome::server_syscalls`].
    server_syscalls: BTreeMap<Run, Vec<f64>>,
    /// See [`Outcome::client_syscalls`].
    client_syscalls: Option<f64>,
    /// While learning: where the load's client, recorded, writes its counts.
    client_stats: Option<PathBuf>,
    notes: Vec<String>,
    container_serial: u32,
}

/// What a run measures, and how often.
pub struct Plan {
    pub parts: Vec<Part>,
    pub rounds: u32,
    pub sizes: Sizes,
    /// The command line that reproduces the run, for the report.
    pub command_line: String,
}

/// What a run leaves in place until its report is written: the dockerd,
/// the cgroup, and the scratch directory with the learned profiles the
/// report reads. [`Session::end`] removes them all; dropped without it (the
/// report failed), the dockerd and the cgroup go and the directories stay.
pub struct Session {
    // Dropped in this order.
    services: Services,
    cgroup: BenchCgroup,
    tmpfs: PathBuf,
    scratch: PathBuf,
}

impl Session {
    pub fn end(self) {
        let Session {
            services,
            cgroup,
            tmpfs,
            scratch,
        } = self;
        drop((services, cgroup));
        let _ = fs::remove_dir_all(&tmpfs);
        let _ = fs::remove_dir_all(&scratch);
    }
}

/// Sets up (packages, release build, dockerd, image), learns the profiles,
/// and runs every case of `plan` for its rounds.
pub fn run(ws: &Workspace, plan: &Plan) -> Result<(Outcome, Session)> {
    let started = Instant::now();
    setup::run()?;
    build_release(ws)?;
    let (sizes, rounds) = (plan.sizes, plan.rounds);

    let scratch = ws.target_dir.join("xtask-bench");
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    // Run copies: a build in the shared target directory during the run
    // (another session's) must not swap the binaries between rounds.
    let bin = scratch.join("bin");
    fs::create_dir_all(&bin)?;
    let binaries = [
        "syscall-profile",
        "getppid-loop",
        "captured-loop",
        "refused-loop",
    ];
    for name in binaries
        .into_iter()
        .chain(["handoff-loop", "file-io", "start-time"])
    {
        let built = ws.binary("release", name);
        fs::copy(&built, bin.join(name))
            .with_context(|| format!("cannot copy {}", built.display()))?;
    }
    let commit = git_commit();
    let tmpfs = tmpfs_dir()?;
    let cgroup = BenchCgroup::create()?;

    // The container engine: the test suite's own dockerd (own data root and
    // socket, no bridge, no iptables), and an image with the server in it.
    let services = Services::start(ws).context("starting dockerd")?;
    let env: BTreeMap<String, String> = services.env.iter().cloned().collect();
    let var = |name: &str, what: &str| {
        env.get(name)
            .with_context(|| format!("the services {what}"))
    };
    let docker_host = var("DOCKER_HOST", "set no DOCKER_HOST")?.clone();
    let static_samples = PathBuf::from(var(STATIC_SAMPLES_VAR, "built no static samples")?);
    image::import(&docker_host, &static_samples, &scratch)?;
    // podman's store is the test suite's, with its image of the samples.
    let podman_globals = var(PODMAN_GLOBALS_VAR, "set no podman globals")?;
    let podman_globals = podman_globals.split(' ').map(str::to_owned).collect();

    let reference = ws
        .root
        .parent()
        .map(|p| p.join("shared/reference/docker-default-seccomp.json"));
    let docker_default = reference.filter(|p| p.is_file());
    match &docker_default {
        Some(path) => eprintln!(
            "xtask bench: Docker's default profile for native enforcement: {}",
            path.display()
        ),
        None => eprintln!(
            "xtask bench: no shared/reference/docker-default-seccomp.json beside the \
             workspace: native enforcement under Docker's default is left out"
        ),
    }
    let allow_all = scratch.join("allow-all.json");
    fs::write(&allow_all, "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}\n")?;

    let mut bench = Bench {
        recorder: bin.join("syscall-profile"),
        samples: bin.clone(),
        scratch: scratch.clone(),
        tmpfs: tmpfs.clone(),
        cgroup: cgroup.path.clone(),
        docker_host,
        sizes,
        docker_default: docker_default.clone(),
        allow_all,
        podman_globals,
        ..Bench::default()
    };
    check_port_free()?;

    // Learning runs: the learned profiles for enforcement and for the
    // profile sizes; they are the warm-up runs too.
    bench.learn_all(&plan.parts)?;

    // Whether the kernel can hook its seccomp refusal path: asked once.
    let mut probes = Vec::new();
    if plan
        .parts
        .iter()
        .any(|p| matches!(p, Part::Others | Part::Enforcement))
    {
        probes = empty_hook::kprobe_experiment();
        for p in &probes {
            eprintln!("xtask bench: kprobe experiment: {}: {}", p.what, p.answer);
        }
    }

    let cases = cases(&plan.parts, docker_default.is_some());
    let mut samples: BTreeMap<Case, Vec<f64>> = BTreeMap::new();
    let mut failures: BTreeMap<Case, String> = BTreeMap::new();
    let (mut foreign_programs, mut load_averages) = (Vec::new(), Vec::new());
    let mut busy = Busy::default();
    for round in 0..rounds as usize {
        load_averages.push(load_average());
        for index in round_order(round, cases.len()) {
            let case = cases[index];
            if failures.contains_key(&case) {
                continue;
            }
            let round = round + 1;
            match wait_for_quiet() {
                Programs::None => {}
                Programs::Went(waited) if waited < Duration::from_secs(2) => busy.short_waits += 1,
                Programs::Went(waited) => foreign_programs.push(format!(
                    "round {round}, before {case}: waited {:.1} s for them to go",
                    waited.as_secs_f64()
                )),
                Programs::Stayed(programs) => foreign_programs.push(format!(
                    "round {round}, {case}: measured with {programs} still loaded after \
                     {QUIET_TIMEOUT:?}"
                )),
            }
            match wait_for_quiet_cpus(&mut busy.waited) {
                (_, Some(share)) => busy.busy.push(share),
                (waited, None) if waited > Duration::from_millis(300) => eprintln!(
                    "xtask bench: waited {:.0} s for other processes to leave the CPUs",
                    waited.as_secs_f64()
                ),
                _ => {}
            }
            busy.measurements += 1;
            match bench.measure(case) {
                Ok(values) => {
                    let shown: Vec<String> = values.iter().map(|v| format!("{v:.1}")).collect();
                    eprintln!(
                        "xtask bench: round {round}/{rounds}: {case}: {} {} ({:.0} s so far)",
                        shown.join(" "),
                        unit(case.workload),
                        started.elapsed().as_secs_f64()
                    );
                    samples.entry(case).or_default().extend(values);
                }
                Err(e) => {
                    eprintln!("xtask bench: {case} failed, left out from now on: {e:#}");
                    failures.insert(case, format!("{e:#}"));
                }
            }
        }
    }
    load_averages.push(load_average());

    let mut prog_stats = ProgStats::default();
    if plan.parts.contains(&Part::BpfStats) {
        let setup = bpf_stats::Setup {
            recorder: bench.recorder.clone(),
            samples: bench.samples.clone(),
            scratch: bench.scratch.clone(),
            allow_all: bench.allow_all.clone(),
            calls: sizes.calls,
            rounds,
        };
        let mut container = |case: StatCase, inner: &dyn Fn(u32) -> Result<Vec<ProgSample>>| {
            if case == StatCase::EnforcePodmanOutside {
                bench.beside_enforced_podman("stats-podman", |_, pid| inner(pid))
            } else {
                bench.with_enforced_container("stats-container", |_, pid| inner(pid))
            }
        };
        prog_stats = bpf_stats::run(&setup, &mut container);
    }
    let soak = plan.parts.contains(&Part::Soak).then(|| {
        soak::run(&soak::Setup {
            recorder: &bench.recorder,
            built_sample: ws.binary("release", "soak"),
            scratch: &bench.scratch,
            seconds: sizes.soak_seconds,
        })
    });

    let learned = bench
        .learned
        .iter()
        .map(|(&(w, container), path)| (learned_label(w, container), path.clone()));
    let podman = bench.podman_learned.iter().map(|path| {
        (
            "getppid-loop (podman, `--args names`)".to_owned(),
            path.clone(),
        )
    });
    let learned = learned.chain(podman).collect();
    if bench.memory.recorder_kib.contains_key("/bin/true") {
        // What of the recorder's peak is the kernel's BTF, parsed by aya.
        let exe = std::env::current_exe().context("cannot find the xtask binary")?;
        bench.memory.btf_parse_kib = Some(child::measure_btf_parse(&exe)?);
    }
    let outcome = Outcome {
        sizes,
        rounds,
        command_line: plan.command_line.clone(),
        cases,
        samples,
        failures,
        memory: std::mem::take(&mut bench.memory),
        learned,
        notes: std::mem::take(&mut bench.notes),
        foreign_programs,
        load_averages,
        docker_default,
        elapsed: started.elapsed(),
        recorder: bench.recorder.clone(),
        commit,
        busy,
        probes,
        prog_stats,
        server_syscalls: std::mem::take(&mut bench.server_syscalls),
        client_syscalls: bench.client_syscalls,
        soak,
    };
    Ok((
        outcome,
        Session {
            services,
            cgroup,
            tmpfs,
            scratch,
        },
    ))
}

/// How a case's command is measured.
enum Measure {
    /// Run to its end; its workload prints its figure, of `size` calls or
    /// files. `rss`: the command is a recorder whose peak RSS is noted so;
    /// `bpf`: the eBPF objects it holds are noted so; `notes`: its
    /// messages are kept.
    ToEnd {
        size: f64,
        rss: Option<String>,
        bpf: Option<&'static str>,
        notes: bool,
    },
    /// A server, loaded by redis-benchmark.
    Serve(Server),
    /// Started, and timed, `startups` times.
    Timed,
}

/// A server's run: its container, a tracer to attach to it, its load, and
/// the labels its peak RSS and eBPF objects are noted under.
struct Server {
    container: Option<String>,
    attach: Attach,
    requests: u64,
    rss: Option<&'static str>,
    bpf: Option<&'static str>,
}

impl Server {
    /// A native server's run: nothing attached, nothing noted.
    fn load(requests: u64) -> Server {
        let (container, attach, rss, bpf) = (None, Attach::None, None, None);
        Server {
            container,
            attach,
            requests,
            rss,
            bpf,
        }
    }
}

/// A case as it runs: what runs beside it, its command, how it is measured.
type Runner = (Option<Neighbour>, Command, Measure);

impl Bench {
    /// The command of a native workload, unwrapped, and the env it needs.
    fn native_job(&self, workload: Workload, small: bool) -> Job {
        let s = self.sizes;
        let sample = |name| self.samples.join(name);
        // The size of the workload: the smaller one for strace.
        let size = |full: u64, strace: u64| vec![if small { strace } else { full }.to_string()];
        let report = vec![("SAMPLES_REPORT_NS".to_owned(), "1".to_owned())];
        let (program, args, env) = match workload {
            Workload::Micro => (
                sample("getppid-loop"),
                size(s.calls, s.strace_calls),
                report,
            ),
            Workload::Captured => (
                sample("captured-loop"),
                size(s.calls, s.strace_calls),
                report,
            ),
            Workload::Refused => (
                sample("refused-loop"),
                vec![s.refused_calls.to_string()],
                report,
            ),
            Workload::FileIo => {
                let tmpdir = ("TMPDIR".to_owned(), self.tmpfs.display().to_string());
                (
                    sample("file-io"),
                    size(s.files, s.strace_files),
                    [report, vec![tmpdir]].concat(),
                )
            }
            Workload::Redis => (PathBuf::from(REDIS_SERVER), redis_args(), Vec::new()),
            Workload::True => (PathBuf::from("/bin/true"), Vec::new(), Vec::new()),
            Workload::StartTime => (sample("start-time"), Vec::new(), Vec::new()),
        };
        Job { program, args, env }
    }

    /// `recorder record -q EXTRA -o OUTPUT --`, the command to follow.
    fn record(&self, extra: &[&str], output: &Path) -> Command {
        let mut cmd = Command::new(&self.recorder);
        cmd.args(["record", "-q"])
            .args(extra)
            .arg("-o")
            .arg(output)
            .arg("--");
        cmd
    }

    /// `job`, of `workload`, wrapped by `run` (one of the native ways to run
    /// it). A recorded server writes its counts too (`--stats`).
    fn wrap(&self, workload: Workload, job: &Job, run: Run, tag: &str) -> Result<Command> {
        let mut cmd = match run {
            Run::Untraced => Command::new(&job.program),
            Run::SeccompFilter => {
                dry::step(|| "before exec: a seccomp filter that allows everything".to_owned());
                let mut cmd = Command::new(&job.program);
                // SAFETY: between fork and exec, only two syscalls on
                // memory of this closure's own stack.
                unsafe { cmd.pre_exec(allow_everything) };
                cmd
            }
            // The same number of round trips between two threads.
            Run::HandOff => Command::new(self.samples.join("handoff-loop")),
            Run::RefusingFilter => {
                dry::step(|| "before exec: a seccomp filter that refuses sysinfo".to_owned());
                let mut cmd = Command::new(&job.program);
                // SAFETY: as above.
                unsafe { cmd.pre_exec(refuse_sysinfo) };
                cmd
            }
            Run::Record if workload == Workload::Redis => {
                let mut cmd = Command::new(&self.recorder);
                cmd.args(["record", "--stats"]).arg(self.stats_path(tag));
                cmd.args(["-q", "-o"])
                    .arg(self.scratch.join(format!("{tag}.json")));
                cmd.arg("--").arg(&job.program);
                cmd
            }
            Run::Record | Run::RecordNoCapture => {
                let names: &[&str] = if run == Run::Record {
                    &[]
                } else {
                    &["--args", "names"]
                };
                let mut cmd = self.record(names, &self.scratch.join(format!("{tag}.json")));
                cmd.arg(&job.program);
                cmd
            }
            Run::Strace => {
                let mut cmd = Command::new("strace");
                cmd.args(["-f", "-c", "-o"])
                    .arg(self.scratch.join(format!("{tag}.strace")));
                cmd.arg("--").arg(&job.program);
                cmd
            }
            Run::Enforce(policy)
            | Run::EnforceKernelWatch(policy)
            | Run::EnforceListener(policy) => {
                let mut cmd = Command::new(&self.recorder);
                cmd.args(["enforce", "-q"]);
                match run {
                    Run::EnforceKernelWatch(_) => cmd.args(["--watch", "kernel"]),
                    // The listener by name: `auto` takes the eBPF watch for
                    // a profile that allows seccomp (the allow-all one).
                    // Refused rather than run under the eBPF watch: a
                    // figure of that row is the listener's.
                    _ => cmd.args(["--watch", "listener"]),
                };
                cmd.arg("--profile")
                    .arg(self.policy_file(workload, policy, false)?);
                cmd.arg("--").arg(&job.program);
                cmd
            }
            Run::Bpftrace => {
                // bpftrace starts the -c command only once its probes are
                // attached; the script moves itself into the watched cgroup
                // and execs the workload.
                let script = self.script(
                    tag,
                    &format!(
                        "echo $$ > {}/cgroup.procs || exit 125\n{}exec {}",
                        self.cgroup.display(),
                        exports(&job.env),
                        shell_words(&job.program, &job.args)
                    ),
                )?;
                let mut cmd = self.bpftrace(&cgroup_filter_program(&self.cgroup), tag);
                cmd.arg("-c").arg(sh_command(&script)?);
                return Ok(cmd);
            }
            other => bail!("{other:?} is not a native way to run a command"),
        };
        cmd.args(&job.args)
            .envs(job.env.iter().cloned())
            .stdin(Stdio::null());
        Ok(cmd)
    }

    /// The getppid-loop of the image in a container run by `run` (docker
    /// or podman, plain or under the tool); a recording writes to `output`.
    fn in_container(&mut self, run: Run, output: &Path) -> Result<Command> {
        let calls = self.sizes.calls.to_string();
        if let Run::Podman(policy) = run {
            let mut podman = self.podman_run(policy, None)?;
            podman.arg(GETPPID_LOOP).arg(calls);
            return Ok(podman);
        }
        if let Run::PodmanEnforce(policy) | Run::PodmanEnforceKernelWatch(policy) = run {
            // `enforce` gives podman the profile itself.
            let mut podman = self.podman_run(Policy::DockerDefault, None)?;
            podman.arg(GETPPID_LOOP).arg(calls);
            let profile = self.podman_policy(policy)?;
            return self.enforce_podman(&podman, &profile, matches!(run, Run::PodmanEnforce(_)));
        }
        let policy = if let Run::Container(policy) = run {
            policy
        } else {
            Policy::DockerDefault
        };
        let mut docker = self.docker_run(policy, Workload::Micro, None)?;
        docker
            .args(["-e", "SAMPLES_REPORT_NS=1", IMAGE, GETPPID_LOOP])
            .arg(calls);
        match run {
            Run::ContainerRecord => Ok(self.record_container(&docker, output, None)),
            // `enforce` adds the filter's option to the command line.
            Run::ContainerEnforce(policy) => {
                self.enforce_container(&docker, policy, Workload::Micro)
            }
            _ => Ok(docker),
        }
    }

    /// How `case` runs: one description per kind of case.
    fn runner(&mut self, case: Case, tag: &str) -> Result<Runner> {
        use Run::*;
        use Workload::*;
        let (workload, run) = (case.workload, case.run);
        let calls = self.sizes.calls as f64;
        let to_end = |size, notes| Measure::ToEnd {
            size,
            rss: None,
            bpf: None,
            notes,
        };
        let output = self.scratch.join(format!("{tag}.json"));
        Ok(match (workload, run) {
            // The microbenchmark, untraced, while `neighbour` watches something else.
            (Micro | FileIo, Beside(neighbour)) => {
                let micro = self.wrap(Micro, &self.native_job(Micro, false), Untraced, tag)?;
                (Some(neighbour), micro, to_end(calls, false))
            }
            (Micro | Captured | FileIo | Refused, run) if !is_container(run) => {
                let job = self.native_job(workload, run == Strace);
                let cmd = self.wrap(workload, &job, run, tag)?;
                let size = job
                    .args
                    .first()
                    .and_then(|a| a.parse().ok())
                    .context("the job has no size")?;
                let rss = (run == Record).then(|| learned_label(workload, false));
                // The maps of a recording with no argument capture.
                let bpf = (run == RecordNoCapture).then_some("record --args names (native)");
                (
                    None,
                    cmd,
                    Measure::ToEnd {
                        size,
                        rss,
                        bpf,
                        notes: true,
                    },
                )
            }
            (Micro, Container(_) | Podman(_)) => {
                (None, self.in_container(run, &output)?, to_end(calls, false))
            }
            (
                Micro,
                ContainerRecord
                | ContainerEnforce(_)
                | PodmanEnforce(_)
                | PodmanEnforceKernelWatch(_),
            ) => (None, self.in_container(run, &output)?, to_end(calls, true)),
            (Redis, run) => {
                let (strace, s) = (matches!(run, Strace | ContainerStrace), self.sizes);
                let requests = if strace {
                    s.strace_requests
                } else {
                    s.requests
                };
                let mut server = Server::load(requests);
                if !is_container(run) {
                    let cmd = self.wrap(Redis, &self.native_job(Redis, false), run, tag)?;
                    server.rss = (run == Record).then_some("redis-server");
                    server.bpf = match run {
                        Record => Some("record (native)"),
                        Enforce(_) | EnforceKernelWatch(_) | EnforceListener(_) => {
                            Some("enforce (native)")
                        }
                        _ => None,
                    };
                    return Ok((None, cmd, Measure::Serve(server)));
                }
                let name = self.container_name();
                let policy = if let Container(policy) = run {
                    policy
                } else {
                    Policy::DockerDefault
                };
                let mut docker = self.docker_run(policy, Redis, Some(&name))?;
                docker.arg(IMAGE).arg(REDIS_SERVER).args(redis_args());
                server.container = Some(name);
                let cmd = match run {
                    ContainerRecord => {
                        (server.rss, server.bpf) = (
                            Some("redis-server in a container"),
                            Some("record (container)"),
                        );
                        self.record_container(&docker, &output, Some(&self.stats_path(tag)))
                    }
                    ContainerBpftrace | ContainerStrace => {
                        server.attach = if strace {
                            Attach::Strace
                        } else {
                            Attach::Bpftrace
                        };
                        docker
                    }
                    _ => docker,
                };
                (None, cmd, Measure::Serve(server))
            }
            (True | StartTime, run) => (
                None,
                self.wrap(workload, &self.native_job(workload, false), run, tag)?,
                Measure::Timed,
            ),
            _ => bail!("no way to measure {case}"),
        })
    }

    /// Measures `case` once: its runner's command, measured its way, with
    /// what runs beside it running.
    fn measure(&mut self, case: Case) -> Result<Vec<f64>> {
        let tag: String = format!("{case:?}")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let (beside, mut cmd, measure) = self.runner(case, &tag)?;
        match measure {
            Measure::ToEnd {
                size,
                rss,
                bpf,
                notes,
            } => {
                let refused = case.workload == Workload::Refused && case.run != Run::HandOff;
                let mut to_end = |bench: &mut Bench| {
                    let stderr = bench.run_to_end(&mut cmd, rss.as_deref(), bpf)?;
                    if notes {
                        bench.keep_notes(&stderr);
                    }
                    if refused {
                        all_refused(&stderr, size)?;
                    }
                    parse_result(case.workload, &stderr, size)
                };
                let figure = match beside {
                    Some(neighbour) => self.beside(neighbour, &tag, to_end),
                    None => to_end(self),
                };
                figure.map(|v| vec![v])
            }
            Measure::Serve(server) => {
                let guard = server.container.clone().map(|name| ContainerGuard {
                    name,
                    docker_host: self.docker_host.clone(),
                });
                let result = self.serve(cmd, &server, &tag);
                drop(guard);
                let rps = result?;
                if matches!(case.run, Run::Record | Run::ContainerRecord) {
                    // The recorded server's syscalls per request of the load
                    // (its two tests of `requests` each), from the counts its
                    // recording wrote; start-up and shutdown are in them too.
                    let per_request =
                        syscalls_per_request(&self.stats_path(&tag), server.requests)?;
                    self.server_syscalls
                        .entry(case.run)
                        .or_default()
                        .push(per_request);
                }
                Ok(vec![rps])
            }
            Measure::Timed => self.startup(case, cmd, &tag),
        }
    }

    fn bpftrace(&self, program: &str, tag: &str) -> Command {
        let mut cmd = Command::new("bpftrace");
        cmd.arg("-o")
            .arg(self.scratch.join(format!("{tag}.bpftrace")));
        cmd.arg("-e").arg(program).stdin(Stdio::null());
        cmd
    }

    /// bpftrace running `program`, with a script of `body` (which ends in
    /// a `sleep`) as its command; returns once its probes are attached, with
    /// the pid of that `sleep` (ending it ends bpftrace).
    fn start_bpftrace(
        &self,
        program: &str,
        body: &str,
        tag: &str,
    ) -> Result<(BackgroundProcess, u32)> {
        let script = self.script(tag, body)?;
        let mut cmd = self.bpftrace(program, tag);
        cmd.arg("-c")
            .arg(sh_command(&script)?)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut tracer = BackgroundProcess::spawn("bpftrace", &mut cmd)?;
        let sleep = wait_for_child(&mut tracer, "sleep")?;
        Ok((tracer, sleep))
    }

    /// Writes an executable `sh` script; bpftrace's `-c` takes a command
    /// line that it splits on spaces, so everything goes into a file.
    fn script(&self, tag: &str, body: &str) -> Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.scratch.join(format!("{tag}.sh"));
        dry::step(|| format!("write {}: {body:?}", path.display()));
        fs::write(&path, format!("#!/bin/sh\n{body}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        Ok(path)
    }

    fn policy_file(&self, workload: Workload, policy: Policy, container: bool) -> Result<PathBuf> {
        match policy {
            Policy::None => Ok(self.allow_all.clone()),
            Policy::DockerDefault => self
                .docker_default
                .clone()
                .context("no copy of Docker's default profile"),
            Policy::Learned => self
                .learned
                .get(&(workload, container))
                .cloned()
                .with_context(|| format!("no learned profile for {workload:?}")),
        }
    }

    /// Runs `cmd` to its end with stdout discarded and returns its stderr.
    /// With `rss_label`, `cmd` is a recorder: its peak RSS is read from
    /// /proc every 10 ms while it runs and noted under that label. With
    /// `bpf_label`, the eBPF objects it holds once its programs are loaded
    /// are kept so (the first time).
    fn run_to_end(
        &mut self,
        cmd: &mut Command,
        rss_label: Option<&str>,
        bpf_label: Option<&str>,
    ) -> Result<String> {
        let mut bpf_label = bpf_label.filter(|label| !self.memory.bpf.contains_key(*label));
        if dry::step(|| {
            let rss = rss_label.map_or(String::new(), |l| format!(" (peak RSS as {l:?})"));
            let bpf = bpf_label.map_or(String::new(), |l| format!(" (eBPF objects as {l:?})"));
            format!("run to its end{rss}{bpf}: {}", dry::describe(cmd))
        }) {
            if let Some(label) = bpf_label {
                self.memory.bpf.insert(label.to_owned(), Vec::new());
            }
            let size = cmd.get_args().last().unwrap_or_default();
            let size = size.to_string_lossy();
            return Ok(format!(
                "refused={size}\nns_per_call=100\nelapsed_ns=2000000\n"
            ));
        }
        let err_path = self.scratch.join("stderr.txt");
        let err = File::create(&err_path).context("cannot create stderr.txt")?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run `{}`", display(cmd)))?;
        let mut peak = 0;
        let status = loop {
            if rss_label.is_some() {
                peak = peak.max(vm_hwm_kib(child.id()).unwrap_or(0));
            }
            // The maps are all made before the first program is loaded.
            if let Some(label) = bpf_label
                && let Ok(objects) = bpf_objects(child.id())
                && objects.iter().any(|o| o.kind == "prog")
            {
                self.memory.bpf.insert(label.to_owned(), objects);
                bpf_label = None;
            }
            if let Some(status) = child.try_wait()? {
                break status;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        if !status.success() {
            bail!(
                "`{}` failed ({status}): {}",
                display(cmd),
                last_lines(&stderr, 5)
            );
        }
        if let Some(label) = rss_label
            && peak > 0
        {
            self.memory
                .recorder_kib
                .entry(label.to_owned())
                .or_default()
                .push(peak);
        }
        Ok(stderr)
    }

    /// The recorder's and enforcer's warnings and denial reports, once each.
    fn keep_notes(&mut self, stderr: &str) {
        for line in stderr.lines().map(str::trim) {
            if line.starts_with("syscall-profile:") && !self.notes.iter().any(|n| n == line) {
                self.notes.push(line.to_owned());
            }
        }
    }

    /// Runs `measure` while `neighbour` watches something else.
    fn beside(
        &mut self,
        neighbour: Neighbour,
        tag: &str,
        measure: impl FnOnce(&mut Bench) -> Result<f64>,
    ) -> Result<f64> {
        match neighbour {
            Neighbour::Record | Neighbour::Enforce => {
                let record = neighbour == Neighbour::Record;
                let mut idle = if record {
                    self.record(&[], &self.scratch.join(format!("{tag}.json")))
                } else {
                    let mut enforce = Command::new(&self.recorder);
                    // The listener by name, as the row says: `auto` takes
                    // the eBPF watch for the allow-all profile, which
                    // allows seccomp.
                    enforce
                        .args(["enforce", "-q", "--watch", "listener", "--profile"])
                        .arg(&self.allow_all)
                        .arg("--");
                    enforce
                };
                idle.args(["sleep", "3600"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null());
                let name = if record {
                    "an idle recording"
                } else {
                    "an idle enforce"
                };
                let mut idle = BackgroundProcess::spawn(name, &mut idle)?;
                wait_until_recording(&mut idle, "sleep")?;
                if record && !self.memory.bpf.contains_key("record (native)") {
                    let objects = bpf_objects(idle.id())?;
                    self.memory
                        .bpf
                        .insert("record (native)".to_owned(), objects);
                }
                let ns = measure(self);
                // The recorder forwards the SIGTERM to `sleep` and ends.
                idle.stop()?;
                ns
            }
            Neighbour::Bpftrace | Neighbour::EmptyTracepoint => {
                let (program, body) = if neighbour == Neighbour::Bpftrace {
                    let cgroup = self.cgroup.display();
                    let body =
                        format!("echo $$ > {cgroup}/cgroup.procs || exit 125\nexec sleep 3600");
                    (cgroup_filter_program(&self.cgroup), body)
                } else {
                    let program = "tracepoint:raw_syscalls:sys_enter { }";
                    (program.to_owned(), "exec sleep 3600".to_owned())
                };
                let (mut tracer, sleep) = self.start_bpftrace(&program, &body, tag)?;
                let ns = measure(self);
                end_bpftrace(&mut tracer, sleep)?;
                ns
            }
            Neighbour::EnforceContainer => {
                self.with_enforced_container(tag, |bench, _| measure(bench))
            }
            Neighbour::EnforcePodman => self.beside_enforced_podman(tag, |bench, _| measure(bench)),
            Neighbour::EmptyRawTracepoint
            | Neighbour::EmptyBtfTracepoint
            | Neighbour::EmptyFentry => {
                let hook = match neighbour {
                    Neighbour::EmptyFentry => EmptyHook::Fentry,
                    Neighbour::EmptyBtfTracepoint => EmptyHook::BtfTracepoint,
                    _ => EmptyHook::RawTracepoint,
                };
                let attached = if dry::step(|| format!("attach the empty program to {hook}")) {
                    None
                } else {
                    Some(empty_hook::attach(hook)?)
                };
                let ns = measure(self);
                dry::step(|| "detach the empty program".to_owned());
                drop(attached);
                ns
            }
        }
    }

    /// Runs `f` while `enforce --profile LEARNED -- docker run …` of an
    /// idle redis-server runs (the container's eBPF denial watch), with the
    /// pid of `enforce`; then shuts the server down.
    fn with_enforced_container<T>(
        &mut self,
        tag: &str,
        f: impl FnOnce(&mut Bench, u32) -> Result<T>,
    ) -> Result<T> {
        let name = self.container_name();
        let mut docker = self.docker_run(Policy::DockerDefault, Workload::Redis, Some(&name))?;
        docker.arg(IMAGE).arg(REDIS_SERVER).args(redis_args());
        let mut cmd = self.enforce_container(&docker, Policy::Learned, Workload::Redis)?;
        let guard = ContainerGuard {
            name,
            docker_host: self.docker_host.clone(),
        };
        let log_path = self.scratch.join(format!("{tag}.log"));
        let log = File::create(&log_path)?;
        cmd.stdout(log.try_clone()?).stderr(log);
        let mut server = BackgroundProcess::spawn("an idle enforced container", &mut cmd)?;
        wait_for_redis(&mut server, &log_path)?;
        let result = f(self, server.id());
        let shutdown = redis_shutdown();
        let status = wait_until_ended(&mut server, READY_TIMEOUT)?;
        drop(guard);
        shutdown?;
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        self.keep_notes(&log);
        if !status.success() {
            bail!(
                "the enforced container ended with {status}: {}",
                last_lines(&log, 5)
            );
        }
        result
    }

    /// `docker run --rm [--security-opt seccomp=...]`, up to the image.
    fn docker_run(
        &mut self,
        policy: Policy,
        workload: Workload,
        name: Option<&str>,
    ) -> Result<Command> {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.docker_host)
            .args(["run", "--rm"])
            .stdin(Stdio::null());
        if let Some(name) = name {
            cmd.args(["--name", name, "--network", "host"]);
        }
        match policy {
            Policy::DockerDefault => {}
            Policy::None => {
                cmd.args(["--security-opt", "seccomp=unconfined"]);
            }
            Policy::Learned => {
                let file = self.policy_file(workload, Policy::Learned, true)?;
                cmd.arg("--security-opt")
                    .arg(format!("seccomp={}", file.display()));
            }
        }
        Ok(cmd)
    }

    fn container_name(&mut self) -> String {
        self.container_serial += 1;
        format!(
            "xtask-bench-{}-{}",
            std::process::id(),
            self.container_serial
        )
    }

    fn stats_path(&self, tag: &str) -> PathBuf {
        self.scratch.join(format!("{tag}.stats.json"))
    }

    /// Starts the server with `cmd`, waits until it answers, attaches a
    /// tracer to a container if asked, loads it, shuts it down, and returns
    /// the load's requests/s.
    fn serve(&mut self, mut cmd: Command, server: &Server, tag: &str) -> Result<f64> {
        let log_path = self.scratch.join(format!("{tag}.log"));
        let log = File::create(&log_path)?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut process = BackgroundProcess::spawn("the server", &mut cmd)?;
        wait_for_redis(&mut process, &log_path)?;
        let mut tracer = match server.attach {
            Attach::None => None,
            attach => {
                let name = server
                    .container
                    .as_deref()
                    .context("a tracer attaches to containers only")?;
                let pid = self.container_pid(name)?;
                Some(self.attach_tracer(attach, pid, tag)?)
            }
        };
        let rps = self.load(server.requests);
        if let Some(label) = server.rss {
            dry::step(|| format!("note the server's peak RSS as {label:?}"));
            if let Some(kib) = vm_hwm_kib(process.id()) {
                self.memory
                    .recorder_kib
                    .entry(label.to_owned())
                    .or_default()
                    .push(kib);
            }
        }
        if let Some(label) = server.bpf
            && !self.memory.bpf.contains_key(label)
        {
            let objects = bpf_objects(process.id())?;
            self.memory.bpf.insert(label.to_owned(), objects);
        }
        if let Some((tracer, _)) = &tracer
            && server.attach == Attach::Bpftrace
        {
            if let Some(kib) = vm_hwm_kib(tracer.id()) {
                self.memory.bpftrace_kib.push(kib);
            }
            if !self.memory.bpf.contains_key("bpftrace") {
                let objects = bpf_objects(tracer.id())?;
                self.memory.bpf.insert("bpftrace".to_owned(), objects);
            }
        }
        let shutdown = redis_shutdown();
        let status = wait_until_ended(&mut process, READY_TIMEOUT)?;
        match tracer.take() {
            Some((mut tracer, Some(sleep))) => end_bpftrace(&mut tracer, sleep)?,
            Some((mut tracer, None)) => {
                wait_until_ended(&mut tracer, READY_TIMEOUT)?;
            }
            None => {}
        }
        let rps = rps?;
        shutdown?;
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        self.keep_notes(&log);
        if !status.success() {
            bail!(
                "`{}` ended with {status} after the load: {}",
                display(&cmd),
                last_lines(&log, 5)
            );
        }
        Ok(rps)
    }

    fn container_pid(&self, name: &str) -> Result<u32> {
        let mut inspect = Command::new("docker");
        inspect.env("DOCKER_HOST", &self.docker_host).args([
            "inspect",
            "-f",
            "{{.State.Pid}}",
            name,
        ]);
        if dry::step(|| dry::describe(&inspect)) {
            return Ok(0);
        }
        let output = inspect.output().context("cannot run docker inspect")?;
        let pid = String::from_utf8_lossy(&output.stdout).trim().parse().ok();
        pid.filter(|&pid| pid != 0)
            .with_context(|| format!("docker inspect gave no pid for {name}"))
    }

    /// bpftrace on the cgroup of process `pid`, or strace attached to it;
    /// returns once the tracer is armed. For bpftrace, also the pid of the
    /// `sleep` it runs as its command (ending it ends bpftrace).
    fn attach_tracer(
        &self,
        attach: Attach,
        pid: u32,
        tag: &str,
    ) -> Result<(BackgroundProcess, Option<u32>)> {
        if attach == Attach::Bpftrace {
            let program = cgroup_filter_program(&self.cgroup_of(pid)?);
            let (tracer, sleep) = self.start_bpftrace(&program, "exec sleep 3600", tag)?;
            return Ok((tracer, Some(sleep)));
        }
        let err_path = self.scratch.join(format!("{tag}.strace-err"));
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-c", "-o"])
            .arg(self.scratch.join(format!("{tag}.strace")));
        cmd.arg("-p")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd.stderr(File::create(&err_path)?);
        let mut tracer = BackgroundProcess::spawn("strace", &mut cmd)?;
        if dry::step(|| "wait until strace says it attached".to_owned()) {
            return Ok((tracer, None));
        }
        let text = || fs::read_to_string(&err_path).unwrap_or_default();
        let attached = || Ok(text().contains("attached").then_some(()));
        let ended = |status| {
            format!(
                "strace ended ({status}) before attaching: {}",
                text().trim()
            )
        };
        let late = || format!("strace did not attach within {READY_TIMEOUT:?}");
        poll(
            &mut tracer,
            (Duration::from_millis(10), READY_TIMEOUT),
            attached,
            ended,
            late,
        )?;
        Ok((tracer, None))
    }

    /// The cgroup v2 directory of process `pid`.
    fn cgroup_of(&self, pid: u32) -> Result<PathBuf> {
        if dry::step(|| format!("read the cgroup of process {pid}")) {
            return Ok(PathBuf::from("/sys/fs/cgroup/CONTAINER"));
        }
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .with_context(|| format!("cannot read /proc/{pid}/cgroup"))?;
        let relative = text.lines().find_map(|line| line.strip_prefix("0::"));
        let relative = relative.with_context(|| format!("process {pid} has no cgroup v2 line"))?;
        let root = self
            .cgroup
            .parent()
            .context("the bench cgroup has no parent")?;
        Ok(root.join(relative.trim_start_matches('/')))
    }

    /// redis-benchmark on 127.0.0.1: SET then GET, `requests` each, 50
    /// clients; the requests/s of both together.
    fn load(&self, requests: u64) -> Result<f64> {
        // Once, while learning: the client recorded, for its syscall count.
        let mut load = match &self.client_stats {
            Some(stats) => {
                let mut cmd = Command::new(&self.recorder);
                cmd.args(["record", "-q", "--stats"]).arg(stats);
                cmd.arg("-o").arg(self.scratch.join("redis-benchmark.json"));
                cmd.args(["--", "redis-benchmark"]);
                cmd
            }
            None => Command::new("redis-benchmark"),
        };
        load.args(["-h", "127.0.0.1", "-p", &REDIS_PORT.to_string()])
            .args(["-t", "set,get", "-c", "50", "--csv", "-n"])
            .arg(requests.to_string())
            .stdin(Stdio::null());
        if dry::step(|| format!("load it: {}", dry::describe(&load))) {
            return Ok(1000.0);
        }
        let output = load
            .output()
            .context("cannot run redis-benchmark (Debian's redis-tools)")?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!(
                "redis-benchmark failed ({}): {}",
                output.status,
                stderr.trim()
            );
        }
        parse_redis_benchmark(&String::from_utf8_lossy(&output.stdout), requests)
    }

    /// `cmd` started and timed `startups` times: ms from spawn to reaped,
    /// or for `start-time`, to the program's first instruction. A recorder
    /// of `/bin/true` is run once more for its peak RSS.
    fn startup(&mut self, case: Case, mut cmd: Command, tag: &str) -> Result<Vec<f64>> {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut values = Vec::new();
        for _ in 0..self.sizes.startups {
            if dry::step(|| format!("run and time: {}", dry::describe(&cmd))) {
                values.push(0.0);
                continue;
            }
            let before = SystemTime::now();
            let started = Instant::now();
            let child = cmd
                .spawn()
                .with_context(|| format!("cannot run `{}`", display(&cmd)))?;
            let output = child.wait_with_output()?;
            let wall = started.elapsed();
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                bail!(
                    "`{}` failed ({}): {}",
                    display(&cmd),
                    output.status,
                    stderr.trim()
                );
            }
            values.push(match case.workload {
                Workload::StartTime => {
                    let at: u128 = stdout
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("realtime_ns="))
                        .and_then(|v| v.parse().ok())
                        .context("start-time printed no realtime_ns=")?;
                    let before = before.duration_since(UNIX_EPOCH)?.as_nanos();
                    at.saturating_sub(before) as f64 / 1e6
                }
                _ => wall.as_secs_f64() * 1e3,
            });
        }
        if case == Case::new(Workload::True, Run::Record) {
            let kib = self.peak_rss(&cmd, tag)?;
            self.memory
                .recorder_kib
                .entry("/bin/true".to_owned())
                .or_default()
                .push(kib);
        }
        Ok(values)
    }

    /// The peak RSS of `cmd` (KiB), run by a small process of its own in
    /// between: `ru_maxrss` of a child of this large process would start
    /// from this process's own peak (see [`child`]).
    fn peak_rss(&self, cmd: &Command, tag: &str) -> Result<u64> {
        let out = self.scratch.join(format!("{tag}.peak-rss"));
        let exe = std::env::current_exe().context("cannot find the xtask binary")?;
        let mut helper = Command::new(exe);
        helper
            .arg("peak-rss")
            .arg(&out)
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        helper.stdin(Stdio::null()).stdout(Stdio::null());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => helper.env(key, value),
                None => helper.env_remove(key),
            };
        }
        if dry::step(|| dry::describe(&helper)) {
            return Ok(0);
        }
        workspace::output(&mut helper)?;
        child::read_peak_rss(&out)
    }

    /// A learning run: `cmd`, a recorder, run to its end (or, for a
    /// server, under the full load, its files tagged `server`), its
    /// messages kept.
    fn learn(&mut self, mut cmd: Command, server: Option<&str>) -> Result<()> {
        let under = if server.is_some() {
            " under redis-benchmark"
        } else {
            ""
        };
        eprintln!("xtask bench: learning: {}{under}", display(&cmd));
        if let Some(tag) = server {
            let load = Server::load(self.sizes.requests);
            return self.serve(cmd, &load, tag).map(drop);
        }
        let stderr = self.run_to_end(&mut cmd, None, None)?;
        self.keep_notes(&stderr);
        Ok(())
    }

    /// refused-loop's profile: the loop recorded (its sysinfo calls run),
    /// then sysinfo taken out, so that under it every call of the loop is
    /// refused with the profile's default errno.
    fn learn_refusing(&mut self) -> Result<()> {
        let job = self.native_job(Workload::Refused, false);
        let path = self.scratch.join("learned-Refused.json");
        let mut cmd = self.record(&[], &path);
        cmd.arg(&job.program).arg("1");
        self.learn(cmd, None)?;
        if dry::step(|| format!("take sysinfo out of {}", path.display())) {
            self.learned.insert((Workload::Refused, false), path);
            return Ok(());
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut profile: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let rules = profile["syscalls"]
            .as_array_mut()
            .context("the learned profile has no syscalls")?;
        for rule in rules.iter_mut() {
            if let Some(names) = rule["names"].as_array_mut() {
                names.retain(|name| name != "sysinfo");
            }
        }
        rules.retain(|rule| rule["names"].as_array().is_none_or(|n| !n.is_empty()));
        fs::write(&path, serde_json::to_string_pretty(&profile)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.learned.insert((Workload::Refused, false), path);
        Ok(())
    }

    /// The learned profiles: each workload recorded once, natively and (the
    /// microbenchmark and the server) as a container.
    fn learn_all(&mut self, parts: &[Part]) -> Result<()> {
        self.learn_refusing()?;
        // The refusals need only the loop's own profile.
        if parts.iter().all(|&part| part == Part::Refusals) {
            return Ok(());
        }
        for workload in [Workload::Micro, Workload::FileIo, Workload::Redis] {
            let job = self.native_job(workload, false);
            let path = self.scratch.join(format!("learned-{workload:?}.json"));
            let mut cmd = self.record(&[], &path);
            cmd.arg(&job.program)
                .args(&job.args)
                .envs(job.env.iter().cloned());
            if workload == Workload::Redis {
                // The load's client is recorded this once: its syscalls per
                // request pay the cost outside the recordings measured later.
                let client_stats = self.scratch.join("redis-benchmark.stats.json");
                self.client_stats = Some(client_stats.clone());
                let learned = self.learn(cmd, Some("learn-redis"));
                self.client_stats = None;
                learned?;
                self.client_syscalls =
                    Some(syscalls_per_request(&client_stats, self.sizes.requests)?);
            } else {
                self.learn(cmd, None)?;
            }
            self.learned.insert((workload, false), path);
        }

        let path = self.scratch.join("learned-Micro-container.json");
        let cmd = self.in_container(Run::ContainerRecord, &path)?;
        self.learn(cmd, None)?;
        self.learned.insert((Workload::Micro, true), path);

        let path = self.scratch.join("learned-Redis-container.json");
        let name = self.container_name();
        let mut docker = self.docker_run(Policy::DockerDefault, Workload::Redis, Some(&name))?;
        docker.arg(IMAGE).arg(REDIS_SERVER).args(redis_args());
        let cmd = self.record_container(&docker, &path, None);
        let guard = ContainerGuard {
            name,
            docker_host: self.docker_host.clone(),
        };
        self.learn(cmd, Some("learn-redis-container"))?;
        drop(guard);
        self.learned.insert((Workload::Redis, true), path);

        // The loop in podman, with names only: a profile without argument
        // conditions, which the container's seccomp listener can watch. A
        // failure leaves the podman cases out (they fail for want of it).
        let calls = self.sizes.calls.to_string();
        for (name, command, idle) in [
            (
                "learned-Micro-podman.json",
                [GETPPID_LOOP, calls.as_str()],
                false,
            ),
            ("learned-sleep-podman.json", ["sleep", "1"], true),
        ] {
            let path = self.scratch.join(name);
            let mut podman = self.podman_run(Policy::DockerDefault, None)?;
            podman.args(command);
            let mut cmd = self.record(&["--args", "names"], &path);
            cmd.arg(podman.get_program())
                .args(podman.get_args())
                .stdin(Stdio::null());
            match self.learn(cmd, None) {
                Ok(()) if idle => self.podman_idle_learned = Some(path),
                Ok(()) => self.podman_learned = Some(path),
                Err(e) => {
                    eprintln!(
                        "xtask bench: learning in podman failed, its cases are left out: {e:#}"
                    )
                }
            }
        }
        Ok(())
    }

    /// `podman GLOBALS run --rm --network none --ulimit … [--security-opt
    /// seccomp=...] [--name NAME] -e SAMPLES_REPORT_NS=1 IMAGE`, as the tests
    /// run podman (the ulimits: root lacks CAP_SYS_RESOURCE here).
    /// `Policy::DockerDefault` gives no option: podman's default, or the
    /// profile `enforce` puts in.
    fn podman_run(&self, policy: Policy, name: Option<&str>) -> Result<Command> {
        let mut cmd = Command::new("podman");
        cmd.args(&self.podman_globals)
            .args(["run", "--rm", "--network", "none"]);
        cmd.args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ]);
        cmd.stdin(Stdio::null());
        if let Some(name) = name {
            cmd.args(["--name", name]);
        }
        match policy {
            Policy::DockerDefault => {}
            Policy::None => {
                cmd.args(["--security-opt", "seccomp=unconfined"]);
            }
            Policy::Learned => {
                let file = self.podman_policy(Policy::Learned)?;
                cmd.arg("--security-opt")
                    .arg(format!("seccomp={}", file.display()));
            }
        }
        cmd.args(["-e", "SAMPLES_REPORT_NS=1", SAMPLES_IMAGE]);
        Ok(cmd)
    }

    fn podman_policy(&self, policy: Policy) -> Result<PathBuf> {
        match policy {
            Policy::Learned => self
                .podman_learned
                .clone()
                .context("no profile learned in podman"),
            other => self.policy_file(Workload::Micro, other, true),
        }
    }

    /// `enforce -q --watch listener|kernel --profile P -- PODMAN…`. With
    /// `--watch listener` the tool refuses to run rather than fall back to
    /// the eBPF watch: a figure of that row is the listener's.
    fn enforce_podman(&self, podman: &Command, profile: &Path, listener: bool) -> Result<Command> {
        let mut cmd = Command::new(&self.recorder);
        cmd.args([
            "enforce",
            "-q",
            "--watch",
            if listener { "listener" } else { "kernel" },
        ]);
        cmd.arg("--profile").arg(profile).arg("--");
        cmd.arg(podman.get_program())
            .args(podman.get_args())
            .stdin(Stdio::null());
        Ok(cmd)
    }

    /// Runs `f` while `enforce --watch listener --profile LEARNED -- podman
    /// run …` of an idle `sleep` runs (its profile learned from `sleep 1`) (the container's seccomp listener);
    /// then kills the container. The eBPF objects `enforce` holds are noted
    /// (none is expected: the listener needs no program).
    fn beside_enforced_podman<T>(
        &mut self,
        tag: &str,
        f: impl FnOnce(&mut Bench, u32) -> Result<T>,
    ) -> Result<T> {
        let name = self.container_name();
        let mut podman = self.podman_run(Policy::DockerDefault, Some(&name))?;
        podman.args(["sleep", "3600"]);
        let profile = self.podman_idle_learned.clone();
        let profile = profile.context("no profile of an idle `sleep` learned in podman")?;
        let mut cmd = self.enforce_podman(&podman, &profile, true)?;
        let guard = PodmanGuard {
            name: name.clone(),
            globals: self.podman_globals.clone(),
        };
        let log_path = self.scratch.join(format!("{tag}.log"));
        let log = File::create(&log_path)?;
        cmd.stdout(log.try_clone()?).stderr(log);
        let mut enforce = BackgroundProcess::spawn("an idle enforced podman container", &mut cmd)?;
        let running = || Ok(guard.running().then_some(()));
        let ended = |status| {
            let log = last_lines(&fs::read_to_string(&log_path).unwrap_or_default(), 5);
            format!("the enforced podman container ended with {status} before it ran: {log}")
        };
        let late =
            || format!("the enforced podman container {name} did not run within {READY_TIMEOUT:?}");
        poll(
            &mut enforce,
            (Duration::from_millis(100), READY_TIMEOUT),
            running,
            ended,
            late,
        )?;
        let label = "enforce -- podman run (listener)";
        if !self.memory.bpf.contains_key(label) {
            let objects = bpf_objects(enforce.id())?;
            self.memory.bpf.insert(label.to_owned(), objects);
        }
        let result = f(self, enforce.id());
        // `sleep` as the container's first process ignores SIGTERM.
        guard.kill();
        let status = wait_until_ended(&mut enforce, READY_TIMEOUT)?;
        drop(guard);
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        // Killed on purpose: 137 (SIGKILL) is its expected end, and the
        // tool's remark on it no message of the run.
        let remarks: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("exited with status 137"))
            .collect();
        self.keep_notes(&remarks.join("\n"));
        if !status.success() && status.code() != Some(137) {
            bail!(
                "the enforced podman container ended with {status}: {}",
                last_lines(&log, 5)
            );
        }
        result
    }

    /// `enforce -q --profile P -- DOCKER…` for a container.
    fn enforce_container(
        &self,
        docker: &Command,
        policy: Policy,
        workload: Workload,
    ) -> Result<Command> {
        let mut cmd = Command::new(&self.recorder);
        cmd.args(["enforce", "-q", "--profile"])
            .arg(self.policy_file(workload, policy, true)?);
        cmd.arg("--")
            .arg(docker.get_program())
            .args(docker.get_args());
        cmd.env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::null());
        Ok(cmd)
    }

    /// `record -q [--stats STATS] -o OUTPUT -- DOCKER…` for a container.
    fn record_container(&self, docker: &Command, output: &Path, stats: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.recorder);
        cmd.args(["record", "-q"]);
        if let Some(stats) = stats {
            cmd.arg("--stats").arg(stats);
        }
        cmd.arg("-o")
            .arg(output)
            .arg("--")
            .arg(docker.get_program())
            .args(docker.get_args());
        cmd.env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::null());
        cmd
    }
}

/// A program, its arguments and environment.
struct Job {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Attach {
    None,
    Bpftrace,
    Strace,
}

fn is_container(run: Run) -> bool {
    matches!(
        run,
        Run::Container(_)
            | Run::ContainerEnforce(_)
            | Run::Podman(_)
            | Run::PodmanEnforce(_)
            | Run::PodmanEnforceKernelWatch(_)
            | Run::ContainerRecord
            | Run::ContainerBpftrace
            | Run::ContainerStrace
    )
}

/// The server's options: loopback only, no persistence, log to stdout.
fn redis_args() -> Vec<String> {
    let port = REDIS_PORT.to_string();
    let args = [
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ];
    args.into_iter()
        .chain(["--daemonize", "no"])
        .map(str::to_owned)
        .collect()
}

/// bpftrace's `-c` for a script: bpftrace 0.17 runs only ELF files there,
/// and splits the command line on spaces.
fn sh_command(script: &Path) -> Result<String> {
    let path = script.display().to_string();
    if path.contains(char::is_whitespace) {
        bail!("bpftrace -c cannot run {path}: the path has a space");
    }
    Ok(format!("/bin/sh {path}"))
}

/// bpftrace counting by syscall id for one cgroup v2 directory.
fn cgroup_filter_program(cgroup: &Path) -> String {
    format!(
        "tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"{}\")/ {{ @[args->id] = count(); }}",
        cgroup.display()
    )
}

fn exports(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
        .collect()
}

fn shell_words(program: &Path, args: &[String]) -> String {
    let words = std::iter::once(program.display().to_string()).chain(args.iter().cloned());
    words.map(|w| shell_quote(&w)).collect::<Vec<_>>().join(" ")
}

/// Every call of refused-loop was refused, as it printed (`refused=N`): a
/// figure of calls that ran would not be a refusal's.
fn all_refused(stderr: &str, size: f64) -> Result<()> {
    let refused: Option<f64> = stderr
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("refused="))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    if refused != Some(size) {
        bail!(
            "refused-loop's calls were not all refused ({refused:?} of {size}): {}",
            last_lines(stderr, 5)
        );
    }
    Ok(())
}

/// The workload's figure from what it printed: ns per call, µs per file.
fn parse_result(workload: Workload, stderr: &str, size: f64) -> Result<f64> {
    let key = match workload {
        Workload::Micro | Workload::Captured | Workload::Refused => "ns_per_call=",
        Workload::FileIo => "elapsed_ns=",
        other => bail!("{other:?} prints no result"),
    };
    let value: f64 = stderr
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no {key} line in: {}", last_lines(stderr, 5)))?;
    Ok(if workload == Workload::FileIo {
        value / size / 1e3
    } else {
        value
    })
}

/// requests/s of redis-benchmark's `--csv` lines (`"SET","42087.54",...`),
/// all tests together: their requests over the sum of their times.
fn parse_redis_benchmark(csv: &str, requests: u64) -> Result<f64> {
    let mut seconds = 0.0;
    let mut tests = 0;
    for line in csv.lines() {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        if let [name, rps, ..] = fields.as_slice()
            && *name != "test"
            && let Ok(rps) = rps.parse::<f64>()
            && rps > 0.0
        {
            seconds += requests as f64 / rps;
            tests += 1;
        }
    }
    if tests == 0 {
        bail!("redis-benchmark printed no result: {}", csv.trim());
    }
    Ok((tests as u64 * requests) as f64 / seconds)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Sends a RESP command to the server on 127.0.0.1 and returns its reply.
fn redis_command(words: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", REDIS_PORT))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", words.len());
    for word in words {
        request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply)?;
    Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
}

fn wait_for_redis(server: &mut BackgroundProcess, log: &Path) -> Result<()> {
    if dry::step(|| "wait until the server answers PING".to_owned()) {
        return Ok(());
    }
    let pong = || {
        Ok(redis_command(&["PING"])
            .is_ok_and(|reply| reply.starts_with("+PONG"))
            .then_some(()))
    };
    let ended = |status| {
        let log = last_lines(&fs::read_to_string(log).unwrap_or_default(), 5);
        format!("the server ended ({status}) before it answered: {log}")
    };
    let late = || format!("the server did not answer within {READY_TIMEOUT:?}");
    poll(
        server,
        (Duration::from_millis(10), READY_TIMEOUT),
        pong,
        ended,
        late,
    )
}

/// `SHUTDOWN NOSAVE`: the server closes the connection and exits 0.
fn redis_shutdown() -> Result<()> {
    if dry::step(|| "SHUTDOWN NOSAVE".to_owned()) {
        return Ok(());
    }
    match redis_command(&["SHUTDOWN", "NOSAVE"]) {
        Ok(reply) if reply.starts_with('-') => bail!("SHUTDOWN refused: {}", reply.trim()),
        // The connection closes as the server exits: no reply, or a reset.
        _ => Ok(()),
    }
}

fn check_port_free() -> Result<()> {
    std::net::TcpListener::bind(("127.0.0.1", REDIS_PORT))
        .map(drop)
        .with_context(|| {
            format!("127.0.0.1:{REDIS_PORT} is in use; the benchmark's redis-server needs it")
        })
}

fn wait_until_ended(process: &mut BackgroundProcess, timeout: Duration) -> Result<ExitStatus> {
    dry::step(|| "wait until it ends".to_owned());
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("it did not end within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `parent` has a child called `comm` (bpftrace starts its `-c`
/// command once its probes are attached) and returns its pid.
fn wait_for_child(parent: &mut BackgroundProcess, comm: &str) -> Result<u32> {
    if dry::step(|| format!("wait until it starts `{comm}`")) {
        return Ok(0);
    }
    let pid = parent.id();
    let ended = |status| format!("it ended ({status}) before starting `{comm}`");
    let late = || format!("it did not start `{comm}` within {READY_TIMEOUT:?}");
    poll(
        parent,
        (Duration::from_millis(10), READY_TIMEOUT),
        || child_named(pid, comm),
        ended,
        late,
    )
}

/// Ends bpftrace by ending its command, and waits for it.
fn end_bpftrace(tracer: &mut BackgroundProcess, sleep: u32) -> Result<()> {
    let pid = libc::pid_t::try_from(sleep).context("pid out of range")?;
    if !dry::step(|| "SIGTERM to bpftrace's `sleep`".to_owned()) {
        // SAFETY: kill(2) of bpftrace's `sleep`, which bpftrace has not
        // reaped (it waits for it and ends only then).
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    wait_until_ended(tracer, READY_TIMEOUT).context("bpftrace")?;
    Ok(())
}

/// The eBPF maps and programs process `pid` holds, from its fdinfo (the
/// kernel's own accounting: `memlock` is what the object takes), with the
/// names bpftool gives them.
fn bpf_objects(pid: u32) -> Result<Vec<BpfObject>> {
    if dry::step(|| format!("read the eBPF objects of process {pid}")) {
        return Ok(Vec::new());
    }
    let mut objects: Vec<BpfObject> = Vec::new();
    for (kind, info) in bpf_fdinfo(pid)? {
        let field = fields(&info);
        let number = |name| field.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        let (id_key, type_key) = if kind == "map" {
            ("map_id", "map_type")
        } else {
            ("prog_id", "prog_type")
        };
        let id = number(id_key);
        if objects.iter().any(|o| o.kind == kind && o.id == id) {
            continue;
        }
        let type_number = field.get(type_key).map_or(String::new(), |t| t.to_string());
        let (name, type_name) = bpftool_names(kind, id).unwrap_or((String::new(), type_number));
        objects.push(BpfObject {
            kind,
            id,
            name,
            type_name,
            key_size: number("key_size"),
            value_size: number("value_size"),
            max_entries: number("max_entries"),
            memlock: number("memlock"),
        });
    }
    objects.sort_by(|a, b| (a.kind, a.id).cmp(&(b.kind, b.id)));
    Ok(objects)
}

/// eBPF tracing programs loaded by someone else (another session's
/// recording or test on a shared machine would slow every syscall).
fn foreign_tracing_programs() -> Vec<String> {
    let Ok(output) = Command::new("bpftool")
        .args(["-j", "prog", "show"])
        .output()
    else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Array(programs)) = serde_json::from_slice(&output.stdout) else {
        return Vec::new();
    };
    let text = |p: &serde_json::Value, key| p.get(key).and_then(|t| t.as_str()).map(str::to_owned);
    let tracing = [
        "tracepoint",
        "raw_tracepoint",
        "tracing",
        "kprobe",
        "perf_event",
    ];
    programs
        .iter()
        .filter(|p| text(p, "type").is_some_and(|t| tracing.contains(&t.as_str())))
        .map(|p| {
            let (kind, name) = (
                text(p, "type").unwrap_or("?".into()),
                text(p, "name").unwrap_or("?".into()),
            );
            let id = p.get("id").and_then(|t| t.as_u64()).unwrap_or(0);
            format!("{kind} program {id} ({name})")
        })
        .collect()
}

/// How long to wait for someone else's tracing programs to go away.
const QUIET_TIMEOUT: Duration = Duration::from_secs(60);

enum Programs {
    None,
    Went(Duration),
    Stayed(String),
}

/// Waits until no other eBPF tracing program is loaded (the kernel frees
/// an ended recorder's program a moment after the process ends; a test of
/// another session's recording slows every syscall of the host while it
/// runs), at most [`QUIET_TIMEOUT`].
fn wait_for_quiet() -> Programs {
    if foreign_tracing_programs().is_empty() {
        return Programs::None;
    }
    let started = Instant::now();
    while started.elapsed() < QUIET_TIMEOUT {
        thread::sleep(Duration::from_millis(250));
        if foreign_tracing_programs().is_empty() {
            return Programs::Went(started.elapsed());
        }
    }
    Programs::Stayed(foreign_tracing_programs().join(", "))
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A directory on a tmpfs for the file I/O workload: this machine's disk
/// makes the same small-file work take 0.5 to 6 s from run to run, which
/// would hide any tracer's cost.
fn tmpfs_dir() -> Result<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let is_tmpfs = mounts.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().take(3).collect();
        fields.get(1..3) == Some(&["/dev/shm", "tmpfs"][..])
    });
    if !is_tmpfs {
        bail!("/dev/shm is not a tmpfs here; the file I/O workload needs one");
    }
    let dir = Path::new("/dev/shm").join(format!("xtask-bench-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A cgroup v2 of the benchmark's, for bpftrace's cgroup filter; removed
/// when dropped (it is empty by then: every process in it has ended).
struct BenchCgroup {
    path: PathBuf,
}

impl BenchCgroup {
    fn create() -> Result<Self> {
        let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.join("cgroup.controllers").is_file())
            .context("no cgroup v2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified")?;
        let path = root.join(format!("xtask-bench-{}", std::process::id()));
        fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(BenchCgroup { path })
    }
}

impl Drop for BenchCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.path);
    }
}

/// Removes the container if it is still there (a run that failed midway).
struct ContainerGuard {
    name: String,
    docker_host: String,
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let mut rm = Command::new("docker");
        rm.env("DOCKER_HOST", &self.docker_host)
            .args(["rm", "-f", &self.name]);
        rm.stdout(Stdio::null()).stderr(Stdio::null());
        if !dry::step(|| dry::describe(&rm)) {
            let _ = rm.status();
        }
    }
}

/// Removes a podman container (the test suite's store) when dropped.
struct PodmanGuard {
    name: String,
    globals: Vec<String>,
}

impl PodmanGuard {
    fn podman(&self, args: &[&str]) -> Option<std::process::Output> {
        let mut podman = Command::new("podman");
        podman
            .args(&self.globals)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        if dry::step(|| dry::describe(&podman)) {
            let status = ExitStatus::default();
            return Some(std::process::Output {
                status,
                stdout: b"true".to_vec(),
                stderr: Vec::new(),
            });
        }
        podman.output().ok()
    }

    /// Whether the container's process runs.
    fn running(&self) -> bool {
        self.podman(&["inspect", "--format", "{{.State.Running}}", &self.name])
            .is_some_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "true"
            })
    }

    fn kill(&self) {
        let _ = self.podman(&["kill", "--signal", "KILL", &self.name]);
    }
}

impl Drop for PodmanGuard {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-f", "-t", "0", &self.name]);
    }
}

/// The commit the binaries are built from, marked when the tree has changes.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output();
        output
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let head = git(&["rev-parse", "--short", "HEAD"])
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    // The files the benchmark writes do not make the build dirty.
    let status = ["status", "--porcelain", "--untracked-files=no", "--", "."];
    let dirty = git(&[&status[..], &[":!BENCHMARKS.md", ":!benchmarks.svg"]].concat());
    if dirty.is_some_and(|changes| !changes.is_empty()) {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

/// Syscalls per request of a load of redis-benchmark's two tests of
/// `requests` each, from the counts a recording wrote to `stats` (`record
/// --stats`); start-up and shutdown are in them too.
fn syscalls_per_request(stats: &Path, requests: u64) -> Result<f64> {
    if dry::step(|| format!("read the syscall count in {}", stats.display())) {
        return Ok(1.0);
    }
    let text =
        fs::read_to_string(stats).with_context(|| format!("cannot read {}", stats.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", stats.display()))?;
    let total = value.get("total_calls").and_then(serde_json::Value::as_u64);
    let total = total.with_context(|| format!("{}: no total_calls", stats.display()))?;
    Ok(total as f64 / (2 * requests) as f64)
}

/// Installs `program` as a seccomp filter on this process, after
/// no_new_privs (as an unprivileged filter must). Runs between fork and
/// exec.
fn install_filter(program: &mut [libc::sock_filter]) -> std::io::Result<()> {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `fprog` points at `program`, which lives
    // until they return.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A BPF statement of a seccomp filter.
fn statement(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// A seccomp filter that refuses sysinfo with EPERM and allows every other
/// call (x86_64's number; this benchmark runs there): a refused call's
/// cost with no tool.
fn refuse_sysinfo() -> std::io::Result<()> {
    install_filter(&mut [
        // The syscall's number: offset 0 of struct seccomp_data.
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        statement(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            0,
            1,
            libc::SYS_sysinfo as u32,
        ),
        statement(
            libc::BPF_RET | libc::BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        statement(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ])
}

/// A seccomp filter of one instruction, "allow": the filter's own cost with
/// nothing to decide.
fn allow_everything() -> std::io::Result<()> {
    install_filter(&mut [statement(
        libc::BPF_RET | libc::BPF_K,
        0,
        0,
        libc::SECCOMP_RET_ALLOW,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_benchmark_csv_is_read_as_one_rate() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\"\n\"SET\",\"40000.00\",\"0.8\"\n\
                   \"GET\",\"60000.00\",\"0.5\"\n";
        let rps = parse_redis_benchmark(csv, 1000).unwrap_or_default();
        // 2000 requests in 1000/40000 + 1000/60000 s.
        assert!((rps - 48_000.0).abs() < 1e-6, "{rps}");
        assert!(parse_redis_benchmark("\"test\",\"rps\"\n", 10).is_err());
    }

    #[test]
    fn results_are_read_from_the_last_line() {
        let micro = parse_result(Workload::Micro, "x\nns_per_call=150.5\n", 1.0);
        assert_eq!(micro.ok(), Some(150.5));
        let files = parse_result(Workload::FileIo, "elapsed_ns=2000000\n", 1000.0);
        assert_eq!(files.ok(), Some(2.0));
        assert!(parse_result(Workload::Micro, "nothing", 1.0).is_err());
    }

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(
            shell_words(Path::new("/bin/x"), &["".to_owned(), "a'b".to_owned()]),
            r"'/bin/x' '' 'a'\''b'"
        );
    }

    /// The steps of learning and of every case of every part, taken dry
    /// (see `crate::dry`), as in `tests-data/suite/dry-run.txt`.
    #[test]
    fn the_steps_of_every_case() {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string());
        let root = scratch
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bench = Bench {
            recorder: root.join("bin/syscall-profile"),
            samples: root.join("bin"),
            scratch: root.clone(),
            tmpfs: PathBuf::from("/dev/shm/xtask-bench"),
            cgroup: PathBuf::from("/sys/fs/cgroup/xtask-bench"),
            docker_host: "unix:///bench/docker.sock".to_owned(),
            sizes: Sizes::new(true),
            docker_default: Some(PathBuf::from("/reference/docker-default.json")),
            allow_all: root.join("allow-all.json"),
            podman_globals: vec!["--root=/podman".to_owned(), "--runtime=runc".to_owned()],
            ..Bench::default()
        };
        let mut text = String::new();
        for part in Part::ALL {
            for default in [true, false] {
                let list: Vec<String> = cases(&[part], default)
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect();
                text += &format!(
                    "cases of {part} (Docker's default: {default}): {}\n",
                    list.join(", ")
                );
            }
        }
        let steps = dry::run(|| {
            for parts in [&[Part::Refusals][..], &Part::ALL] {
                dry::step(|| format!("== learning for {parts:?}"));
                let learned = bench.learn_all(parts);
                dry::step(|| format!("-> {learned:?}"));
            }
            for case in cases(&Part::ALL, true) {
                dry::step(|| format!("== {case:?}"));
                let measured = bench.measure(case).map_err(|e| format!("{e:#}"));
                let labels: Vec<&String> = bench.memory.bpf.keys().collect();
                dry::step(|| format!("-> {measured:?}; eBPF objects noted: {labels:?}"));
            }
            dry::step(|| {
                format!(
                    "server syscalls {:?}, client syscalls {:?}, notes {:?}",
                    bench.server_syscalls, bench.client_syscalls, bench.notes
                )
            });
        });
        text += &steps.join("\n");
        let exe = std::env::current_exe().unwrap_or_default();
        let text = text
            .replace(&exe.display().to_string(), "$XTASK")
            .replace(&root.display().to_string(), "$SCRATCH")
            .replace(
                &format!("xtask-bench-{}-", std::process::id()),
                "xtask-bench-$PID-",
            );
        super::super::golden::compare("suite/dry-run.txt", &(text + "\n"));
    }

    #[test]
    fn every_part_has_cases_and_none_twice() {
        let all = cases(&Part::ALL, true);
        for (i, case) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(case), "{case} twice");
        }
        let without_default = cases(&[Part::Enforcement], false);
        let docker_default = Case::new(Workload::Micro, Run::Enforce(Policy::DockerDefault));
        assert!(!without_default.contains(&docker_default));
    }
}
