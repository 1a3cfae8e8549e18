//! `cargo xtask bench`'s measurements: what recording and enforcing cost,
//! side by side with what users would run instead (bpftrace, strace,
//! Docker's default seccomp profile).
//!
//! A benchmark, not a test: nothing is asserted. Every configuration runs
//! once per round, in an order rotated by one each round, so drift (CPU
//! frequency, the other engineers' builds on a shared machine) spreads over
//! all of them; the report gives the median and the range of the rounds.
//! The cases are listed in [`CASES`]; each runs in one shape (a [`Runner`]:
//! what runs beside it, its command, and how it is measured, made by
//! [`Bench::runner`], then one loop in [`Bench::measure`]); [`run`] returns
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
use clap::ValueEnum;

use super::{
    agent, bpf_stats,
    child::{self, vm_hwm_kib},
    empty_hook::{self, EmptyHook},
    image::{self, GETPPID_LOOP, IMAGE, REDIS_SERVER},
    measure::{
        BUSY_SHARE, BpfObject, Busy, Case, Memory, Neighbour, Outcome, Policy, ProgSample,
        ProgStats, Run, Sizes, StatCase, Workload, learned_label, unit,
    },
    soak,
    util::{
        bpf_fdinfo, bpftool_names, child_named, copy_env, fields, poll, round_order, shell_quote,
        tool, wait_until_recording, wrap,
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
    /// The node agent over 200 containers started and stopped: does its
    /// memory stay flat, and does it record every one? (See `agent`.)
    Agent,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.to_possible_value().ok_or(fmt::Error)?;
        f.write_str(value.get_name())
    }
}

/// The cases of each part: a workload, and the ways it runs. The baselines
/// come first, but the rounds rotate the order anyway; a case listed twice
/// runs once. `bpf-stats`, `soak` and `agent` are measured apart, after
/// the rounds (see `bpf_stats`, `soak` and `agent`).
const CASES: &[(Part, Workload, &[Run])] = {
    use Neighbour as N;
    use Part::*;
    use Policy as P;
    use Run::*;
    use Workload::*;
    let (learned, default) = (P::Learned, P::DockerDefault);
    const ENFORCED: &[Run] = &[
        Untraced,
        Enforce(P::None),
        Container(P::None),
        Enforce(P::DockerDefault),
        Container(P::DockerDefault),
        Enforce(P::Learned),
        Container(P::Learned),
    ];
    &[
        (Recording, Micro, &[Untraced, Record, Bpftrace, Strace]),
        (Recording, FileIo, &[Untraced, Record, Bpftrace, Strace]),
        (Recording, Redis, &[Untraced, Record, Bpftrace, Strace]),
        // The floors of the recorded process: the hook alone.
        (
            Recording,
            Micro,
            &[Beside(N::EmptyRawTracepoint), Beside(N::EmptyBtfTracepoint)],
        ),
        (
            Recording,
            Redis,
            &[
                Container(default),
                ContainerRecord,
                ContainerBpftrace,
                ContainerStrace,
            ],
        ),
        // A recorded container's syscall, beside the native one's.
        (
            Recording,
            Micro,
            &[Container(P::None), Container(default), ContainerRecord],
        ),
        (
            Others,
            Micro,
            &[
                Untraced,
                Beside(N::Record),
                Beside(N::Agent),
                Beside(N::Bpftrace),
                Beside(N::EmptyTracepoint),
                Beside(N::EmptyRawTracepoint),
                Beside(N::EmptyBtfTracepoint),
                Beside(N::EmptyFentry),
            ],
        ),
        // Natively under Docker's default only with its reference copy.
        (Enforcement, Micro, ENFORCED),
        (Enforcement, Redis, ENFORCED),
        // The filter alone, the floor of both watches; the two denial
        // watches side by side; a container under `enforce` (the engine's
        // filter and the eBPF watch) beside plain `docker run` with the
        // same profile; what `enforce` costs processes outside it. The
        // same in podman, whose containers' refusals go to the tool's
        // seccomp listener (runc hands it over through the OCI
        // `listenerPath`, which Docker 20.10 drops).
        (
            Enforcement,
            Micro,
            &[
                SeccompFilter,
                EnforceKernelWatch(P::None),
                EnforceKernelWatch(learned),
                ContainerEnforce(P::None),
                ContainerEnforce(learned),
                Beside(N::Enforce),
                Beside(N::EnforceContainer),
                Podman(P::None),
                Podman(learned),
                PodmanEnforce(learned),
                PodmanEnforceKernelWatch(learned),
                Beside(N::EnforcePodman),
            ],
        ),
        (Startup, True, &[Untraced, Record]),
        (Startup, StartTime, &[Untraced, Record]),
        (Arguments, Micro, &[Untraced, Record]),
        (Arguments, Captured, &[Untraced, Record]),
        // The recorder with no capture at all: what capture adds to the
        // syscalls it does not capture.
        (Arguments, Micro, &[RecordNoCapture]),
        // The filter alone refusing, then each watch with the loop's
        // learned profile (sysinfo taken out).
        (
            Refusals,
            Refused,
            &[
                RefusingFilter,
                EnforceKernelWatch(learned),
                EnforceListener(learned),
                HandOff,
            ],
        ),
    ]
};

/// Every case of the selected parts, in the order of [`CASES`].
pub(super) fn cases(parts: &[Part], has_docker_default: bool) -> Vec<Case> {
    let mut list = Vec::new();
    for &(_, workload, runs) in parts
        .iter()
        .flat_map(|p| CASES.iter().filter(|c| c.0 == *p))
    {
        for &run in runs {
            let case = Case::new(workload, run);
            let possible = has_docker_default || run != Run::Enforce(Policy::DockerDefault);
            if possible && !list.contains(&case) {
                list.push(case);
            }
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
        let gave_up = waited >= QUIET_WAIT || *budget_used + waited >= QUIET_BUDGET;
        if share <= BUSY_SHARE || gave_up {
            *budget_used += waited;
            return (waited, (share > BUSY_SHARE).then_some(share));
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
    /// The directory of the run's copies of the samples.
    samples: PathBuf,
    scratch: PathBuf,
    /// A tmpfs directory for the file I/O workload.
    tmpfs: PathBuf,
    /// A cgroup v2 of ours for bpftrace.
    cgroup: PathBuf,
    docker_host: String,
    sizes: Sizes,
    docker_default: Option<PathBuf>,
    allow_all: PathBuf,
    /// By workload and whether in a container.
    learned: BTreeMap<(Workload, bool), PathBuf>,
    /// podman's global options (the test suite's store, runc).
    podman_globals: Vec<String>,
    /// The loop's profile learned in podman with `--args names`, and an
    /// idle `sleep 1`'s (for the neighbour).
    podman_learned: Option<PathBuf>,
    podman_idle_learned: Option<PathBuf>,
    memory: Memory,
    /// See [`Outcome::server_syscalls`] and [`Outcome::client_syscalls`].
    server_syscalls: BTreeMap<Run, Vec<f64>>,
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
    // Run copies: a build in the shared target directory during the run
    // (another session's) must not swap the binaries between rounds.
    let bin = scratch.join("bin");
    fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    for name in [
        "syscall-profile",
        "getppid-loop",
        "captured-loop",
        "refused-loop",
        "handoff-loop",
        "file-io",
        "start-time",
    ] {
        let built = ws.binary("release", name);
        fs::copy(&built, bin.join(name))
            .with_context(|| format!("cannot copy {}", built.display()))?;
    }
    let (commit, tmpfs, cgroup) = (git_commit(), tmpfs_dir()?, BenchCgroup::create()?);

    // The container engine: the test suite's own dockerd (own data root and
    // socket, no bridge, no iptables), and an image with the server in it;
    // podman's store is the test suite's, with its image of the samples.
    let services = Services::start(ws).context("starting dockerd")?;
    let env: BTreeMap<&str, &str> = services
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let var = |name: &str| {
        env.get(name)
            .with_context(|| format!("the services set no {name}"))
    };
    let docker_host = var("DOCKER_HOST")?.to_string();
    image::import(&docker_host, Path::new(var(STATIC_SAMPLES_VAR)?), &scratch)?;
    let podman_globals = var(PODMAN_GLOBALS_VAR)?
        .split(' ')
        .map(str::to_owned)
        .collect();

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
        samples: bin,
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
    if plan.parts.contains(&Part::Others) || plan.parts.contains(&Part::Enforcement) {
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
    for round in 1..=rounds as usize {
        load_averages.push(load_average());
        for index in round_order(round - 1, cases.len()) {
            let case = cases[index];
            if failures.contains_key(&case) {
                continue;
            }
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
        let mut container = |case, inner: &dyn Fn(u32) -> Result<Vec<ProgSample>>| {
            let (neighbour, tag) = match case {
                StatCase::EnforcePodmanOutside => (Neighbour::EnforcePodman, "stats-podman"),
                _ => (Neighbour::EnforceContainer, "stats-container"),
            };
            bench.beside(neighbour, tag, |_, pid| inner(pid))
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
    let agent = plan.parts.contains(&Part::Agent).then(|| {
        agent::run(&agent::Setup {
            recorder: &bench.recorder,
            scratch: &bench.scratch,
            docker_host: &bench.docker_host,
            containers: sizes.agent_containers,
        })
    });

    let learned = bench
        .learned
        .iter()
        .map(|(&(w, container), path)| (learned_label(w, container), path.clone()));
    let podman = bench.podman_learned.iter().map(|path| {
        let label = "getppid-loop (podman, `--args names`)".to_owned();
        (label, path.clone())
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
        agent,
    };
    let session = Session {
        services,
        cgroup,
        tmpfs,
        scratch,
    };
    Ok((outcome, session))
}

/// How a case runs: what runs beside it, its command, how that is
/// measured, and what of it is noted.
struct Runner {
    beside: Option<Neighbour>,
    cmd: Command,
    measure: Measure,
    /// The label a recorder's peak RSS is noted under, and the eBPF
    /// objects it holds (the first time).
    rss: Option<String>,
    bpf: Option<&'static str>,
    /// Whether its messages are kept.
    notes: bool,
}

/// How a case's command is measured.
enum Measure {
    /// Run to its end; its workload prints its figure, of this many calls
    /// or files.
    ToEnd(f64),
    /// A server, loaded by redis-benchmark with `requests` a test; in a
    /// named container (removed when the guard goes), with a tracer
    /// attached to it.
    Serve(u64, Option<Container>, Attach),
    /// Started, and timed, `startups` times.
    Timed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Attach {
    None,
    Bpftrace,
    Strace,
}

impl Bench {
    /// The command of a native workload (the smaller size for strace).
    fn job(&self, workload: Workload, small: bool) -> Command {
        let s = self.sizes;
        let size = |full: u64, strace: u64| if small { strace } else { full }.to_string();
        let (program, args) = match workload {
            Workload::Micro => ("getppid-loop", vec![size(s.calls, s.strace_calls)]),
            Workload::Captured => ("captured-loop", vec![size(s.calls, s.strace_calls)]),
            Workload::Refused => ("refused-loop", vec![s.refused_calls.to_string()]),
            Workload::FileIo => ("file-io", vec![size(s.files, s.strace_files)]),
            Workload::Redis => (REDIS_SERVER, redis_args()),
            Workload::True => ("/bin/true", Vec::new()),
            Workload::StartTime => ("start-time", Vec::new()),
        };
        let mut cmd = Command::new(self.samples.join(program));
        cmd.args(args).stdin(Stdio::null());
        if !matches!(
            workload,
            Workload::Redis | Workload::True | Workload::StartTime
        ) {
            cmd.env("SAMPLES_REPORT_NS", "1");
        }
        if workload == Workload::FileIo {
            cmd.env("TMPDIR", &self.tmpfs);
        }
        cmd
    }

    /// `syscall-profile ARGS [OPTION FILE]… -- INNER…`.
    fn tool(&self, args: &[&str], files: &[(&str, &Path)], inner: &Command) -> Command {
        tool(&self.recorder, args, files, inner)
    }

    /// `enforce -q --watch WATCH --profile P -- INNER…`. The watch is asked
    /// for by name, as the rows say: `auto` takes the eBPF watch for a
    /// profile that allows seccomp (the allow-all one), and `listener`
    /// refuses to run rather than fall back to it.
    fn enforce(&self, kernel: bool, profile: &Path, inner: &Command) -> Command {
        let watch = if kernel { "kernel" } else { "listener" };
        self.tool(
            &["enforce", "-q", "--watch", watch],
            &[("--profile", profile)],
            inner,
        )
    }

    /// `docker run --rm …` or `podman GLOBALS run --rm …` (as the tests
    /// run podman: root lacks CAP_SYS_RESOURCE here) up to the command, in
    /// the image; named (a server, on the host's network in docker), with
    /// the guard that removes it. `Policy::DockerDefault` gives no option:
    /// the engine's default, or the profile `enforce` puts in.
    fn engine(
        &mut self,
        podman: bool,
        policy: Policy,
        workload: Workload,
        named: bool,
    ) -> Result<(Command, Option<Container>)> {
        let profile = match policy {
            Policy::DockerDefault => None,
            Policy::None => Some("unconfined".to_owned()),
            Policy::Learned if podman => Some(self.podman_policy(policy)?.display().to_string()),
            Policy::Learned => {
                let file = self.policy_file(workload, Policy::Learned, true)?;
                Some(file.display().to_string())
            }
        };
        let container = named.then(|| {
            self.container_serial += 1;
            let name = format!(
                "xtask-bench-{}-{}",
                std::process::id(),
                self.container_serial
            );
            Container {
                podman: podman.then(|| self.podman_globals.clone()),
                docker_host: self.docker_host.clone(),
                name,
            }
        });
        let globals = podman.then_some(&self.podman_globals[..]);
        let mut cmd = engine(globals, &self.docker_host, &["run", "--rm"]);
        if podman {
            cmd.args(["--network", "none", "--ulimit", "nofile=20000:20000"]);
            cmd.args(["--ulimit", "nproc=32768:32768"]);
        }
        match &container {
            Some(c) if podman => cmd.args(["--name", &c.name]),
            Some(c) => cmd.args(["--name", &c.name, "--network", "host"]),
            None => &mut cmd,
        };
        if let Some(profile) = profile {
            cmd.arg("--security-opt").arg(format!("seccomp={profile}"));
        }
        if podman || workload == Workload::Micro {
            cmd.args(["-e", "SAMPLES_REPORT_NS=1"]);
        }
        cmd.arg(if podman { SAMPLES_IMAGE } else { IMAGE });
        Ok((cmd, container))
    }

    /// The getppid-loop of the image in a container, plain or under the
    /// tool (`run`); a recording writes to `output`.
    fn in_container(&mut self, run: Run, output: &Path) -> Result<Command> {
        let podman = matches!(
            run,
            Run::Podman(_) | Run::PodmanEnforce(_) | Run::PodmanEnforceKernelWatch(_)
        );
        let policy = match run {
            Run::Container(policy) | Run::Podman(policy) => policy,
            _ => Policy::DockerDefault,
        };
        let (mut cmd, _) = self.engine(podman, policy, Workload::Micro, false)?;
        cmd.arg(GETPPID_LOOP).arg(self.sizes.calls.to_string());
        Ok(match run {
            Run::ContainerRecord => self.tool(&["record", "-q"], &[("-o", output)], &cmd),
            Run::ContainerEnforce(policy) => {
                let profile = self.policy_file(Workload::Micro, policy, true)?;
                self.tool(&["enforce", "-q"], &[("--profile", &profile)], &cmd)
            }
            Run::PodmanEnforce(policy) | Run::PodmanEnforceKernelWatch(policy) => {
                let kernel = matches!(run, Run::PodmanEnforceKernelWatch(_));
                self.enforce(kernel, &self.podman_policy(policy)?, &cmd)
            }
            _ => cmd,
        })
    }

    /// The server of `run`, and the container it runs in (a guard).
    fn server(&mut self, run: Run, tag: &str) -> Result<(Command, Option<Container>)> {
        if !is_container(run) {
            return Ok((self.native(Workload::Redis, run, tag)?, None));
        }
        let policy = match run {
            Run::Container(policy) => policy,
            _ => Policy::DockerDefault,
        };
        let (mut docker, container) = self.engine(false, policy, Workload::Redis, true)?;
        docker.arg(REDIS_SERVER).args(redis_args());
        let cmd = match run {
            Run::ContainerRecord => {
                let files = [("--stats", &*self.stats_path(tag)), ("-o", &self.out(tag))];
                self.tool(&["record", "-q"], &files, &docker)
            }
            Run::ContainerEnforce(policy) => {
                let profile = self.policy_file(Workload::Redis, policy, true)?;
                self.tool(&["enforce", "-q"], &[("--profile", &profile)], &docker)
            }
            _ => docker,
        };
        Ok((cmd, container))
    }

    /// A native workload run the native way `run`. A recorded server
    /// writes its counts too (`--stats`).
    fn native(&self, workload: Workload, run: Run, tag: &str) -> Result<Command> {
        let mut job = self.job(workload, run == Run::Strace);
        let (out, stats) = (self.out(tag), self.stats_path(tag));
        Ok(match run {
            Run::Untraced => job,
            Run::SeccompFilter | Run::RefusingFilter => {
                let refuse = run == Run::RefusingFilter;
                dry::step(|| {
                    let what = if refuse {
                        "refuses sysinfo"
                    } else {
                        "allows everything"
                    };
                    format!("before exec: a seccomp filter that {what}")
                });
                // SAFETY: between fork and exec, only two syscalls on
                // memory of this closure's own stack.
                unsafe { job.pre_exec(move || install_filter(refuse)) };
                job
            }
            // The same number of round trips between two threads.
            Run::HandOff => {
                let mut handoff = Command::new(self.samples.join("handoff-loop"));
                handoff.args(job.get_args()).stdin(Stdio::null());
                copy_env(&job, &mut handoff);
                handoff
            }
            Run::Record if workload == Workload::Redis => self.tool(
                &["record", "-q"],
                &[("--stats", &stats), ("-o", &out)],
                &job,
            ),
            Run::Record => self.tool(&["record", "-q"], &[("-o", &out)], &job),
            Run::RecordNoCapture => {
                self.tool(&["record", "-q", "--args", "names"], &[("-o", &out)], &job)
            }
            Run::Strace => {
                let mut strace = Command::new("strace");
                strace
                    .args(["-f", "-c", "-o"])
                    .arg(self.file(tag, "strace"));
                wrap(strace, &job)
            }
            Run::Enforce(policy)
            | Run::EnforceKernelWatch(policy)
            | Run::EnforceListener(policy) => {
                let profile = self.policy_file(workload, policy, false)?;
                self.enforce(matches!(run, Run::EnforceKernelWatch(_)), &profile, &job)
            }
            Run::Bpftrace => {
                // bpftrace starts the -c command only once its probes are
                // attached; the script moves itself into the watched cgroup
                // and execs the workload.
                let exports: String = job
                    .get_envs()
                    .filter_map(|(k, v)| Some((k.to_string_lossy(), v?.to_string_lossy())))
                    .map(|(k, v)| format!("export {k}={}\n", shell_quote(&v)))
                    .collect();
                let body = format!(
                    "echo $$ > {}/cgroup.procs || exit 125\n{exports}exec {}",
                    self.cgroup.display(),
                    shell_words(&job)
                );
                let script = self.script(tag, &body)?;
                let mut cmd = self.bpftrace(&cgroup_filter_program(&self.cgroup), tag);
                cmd.arg("-c").arg(sh_command(&script)?);
                cmd
            }
            other => bail!("{other:?} is not a native way to run a command"),
        })
    }

    /// How `case` runs: one description per kind of case.
    fn runner(&mut self, case: Case, tag: &str) -> Result<Runner> {
        use Run::*;
        let (workload, run) = (case.workload, case.run);
        let mut runner = Runner {
            beside: None,
            cmd: Command::new(""),
            measure: Measure::ToEnd(self.sizes.calls as f64),
            rss: (run == Record).then(|| learned_label(workload, false)),
            bpf: None,
            notes: !matches!(run, Beside(_) | Container(_) | Podman(_)),
        };
        match (workload, run) {
            // The microbenchmark, untraced, while `neighbour` watches
            // something else.
            (Workload::Micro, Beside(neighbour)) => {
                runner.beside = Some(neighbour);
                runner.cmd = self.job(Workload::Micro, false);
            }
            (Workload::Micro, run) if is_container(run) => {
                runner.cmd = self.in_container(run, &self.out(tag))?;
            }
            (Workload::Redis, run) => {
                let (cmd, container) = self.server(run, tag)?;
                let strace = matches!(run, Strace | ContainerStrace);
                let s = self.sizes;
                let attach = match run {
                    ContainerBpftrace => Attach::Bpftrace,
                    ContainerStrace => Attach::Strace,
                    _ => Attach::None,
                };
                runner.cmd = cmd;
                let requests = if strace {
                    s.strace_requests
                } else {
                    s.requests
                };
                runner.measure = Measure::Serve(requests, container, attach);
                runner.rss = match run {
                    ContainerRecord => Some(learned_label(workload, true)),
                    _ => runner.rss,
                };
                runner.bpf = match run {
                    Record => Some("record (native)"),
                    ContainerRecord => Some("record (container)"),
                    Enforce(_) | EnforceKernelWatch(_) | EnforceListener(_) => {
                        Some("enforce (native)")
                    }
                    _ => None,
                };
            }
            (Workload::True | Workload::StartTime, run) => {
                runner.cmd = self.native(workload, run, tag)?;
                runner.measure = Measure::Timed;
            }
            (_, run) if !is_container(run) => {
                runner.cmd = self.native(workload, run, tag)?;
                let job = self.job(workload, run == Strace);
                let size = job.get_args().next().and_then(|a| a.to_str()?.parse().ok());
                runner.measure = Measure::ToEnd(size.context("the job has no size")?);
                // The maps of a recording with no argument capture.
                runner.bpf = (run == RecordNoCapture).then_some("record --args names (native)");
            }
            _ => bail!("no way to measure {case}"),
        }
        Ok(runner)
    }

    /// Measures `case` once: its runner's command, measured its way, with
    /// what runs beside it running.
    fn measure(&mut self, case: Case) -> Result<Vec<f64>> {
        let tag: String = format!("{case:?}")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let Runner {
            beside,
            mut cmd,
            measure,
            rss,
            bpf,
            notes,
        } = self.runner(case, &tag)?;
        match measure {
            Measure::ToEnd(size) => {
                let refused = case.workload == Workload::Refused && case.run != Run::HandOff;
                let mut to_end = |bench: &mut Bench, _| {
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
                    None => to_end(self, 0),
                };
                figure.map(|v| vec![v])
            }
            Measure::Serve(requests, container, attach) => {
                let notes = (rss.as_deref(), bpf);
                let rps = self.serve(cmd, requests, (container.as_ref(), attach), notes, &tag);
                drop(container);
                let rps = rps?;
                if matches!(case.run, Run::Record | Run::ContainerRecord) {
                    // The recorded server's syscalls per request of the load
                    // (its two tests of `requests` each), from the counts its
                    // recording wrote; start-up and shutdown are in them too.
                    let per_request = syscalls_per_request(&self.stats_path(&tag), requests)?;
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

    fn file(&self, tag: &str, extension: &str) -> PathBuf {
        self.scratch.join(format!("{tag}.{extension}"))
    }

    fn out(&self, tag: &str) -> PathBuf {
        self.file(tag, "json")
    }

    fn stats_path(&self, tag: &str) -> PathBuf {
        self.file(tag, "stats.json")
    }

    fn bpftrace(&self, program: &str, tag: &str) -> Command {
        let mut cmd = Command::new("bpftrace");
        cmd.arg("-o").arg(self.file(tag, "bpftrace"));
        cmd.arg("-e").arg(program).stdin(Stdio::null());
        cmd
    }

    /// bpftrace running `program`, with a script of `body` (which ends in
    /// a `sleep`) as its command; returns once its probes are attached, with
    /// the pid of that `sleep` (ending it ends bpftrace).
    fn start_bpftrace(&self, program: &str, body: &str, tag: &str) -> Result<Tracer> {
        let script = self.script(tag, body)?;
        let mut cmd = self.bpftrace(program, tag);
        cmd.arg("-c").arg(sh_command(&script)?);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut tracer = BackgroundProcess::spawn("bpftrace", &mut cmd)?;
        let sleep = wait_for_child(&mut tracer, "sleep")?;
        Ok(Tracer(tracer, Some(sleep)))
    }

    /// Writes an executable `sh` script; bpftrace's `-c` takes a command
    /// line that it splits on spaces, so everything goes into a file.
    fn script(&self, tag: &str, body: &str) -> Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.file(tag, "sh");
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

    fn podman_policy(&self, policy: Policy) -> Result<PathBuf> {
        match policy {
            Policy::Learned => self
                .podman_learned
                .clone()
                .context("no profile learned in podman"),
            other => self.policy_file(Workload::Micro, other, true),
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
            let size = cmd.get_args().last().unwrap_or_default().to_string_lossy();
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
            let tail = last_lines(&stderr, 5);
            bail!("`{}` failed ({status}): {tail}", display(cmd));
        }
        if let Some(label) = rss_label
            && peak > 0
        {
            let peaks = self.memory.recorder_kib.entry(label.to_owned());
            peaks.or_default().push(peak);
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

    /// Notes the eBPF objects process `pid` holds under `label`, the first
    /// time.
    fn note_bpf(&mut self, label: &str, pid: u32) -> Result<()> {
        if !self.memory.bpf.contains_key(label) {
            let objects = bpf_objects(pid)?;
            self.memory.bpf.insert(label.to_owned(), objects);
        }
        Ok(())
    }

    /// Runs `f` while `neighbour` watches something else, with the pid of
    /// the tool that watches (0 for an empty program).
    fn beside<T>(
        &mut self,
        neighbour: Neighbour,
        tag: &str,
        f: impl FnOnce(&mut Bench, u32) -> Result<T>,
    ) -> Result<T> {
        let mut sleep = Command::new("sleep");
        sleep.arg("3600");
        match neighbour {
            Neighbour::Record | Neighbour::Enforce => {
                let record = neighbour == Neighbour::Record;
                let (mut idle, name) = if record {
                    let out = self.out(tag);
                    let cmd = self.tool(&["record", "-q"], &[("-o", &out)], &sleep);
                    (cmd, "an idle recording")
                } else {
                    (
                        self.enforce(false, &self.allow_all, &sleep),
                        "an idle enforce",
                    )
                };
                idle.stdout(Stdio::null());
                let mut idle = BackgroundProcess::spawn(name, &mut idle)?;
                wait_until_recording(&mut idle, "sleep")?;
                if record {
                    self.note_bpf("record (native)", idle.id())?;
                }
                let result = f(self, idle.id());
                // The tool forwards the SIGTERM to `sleep` and ends.
                idle.stop()?;
                result
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
                let tracer = self.start_bpftrace(&program, &body, tag)?;
                let result = f(self, tracer.0.id());
                tracer.end()?;
                result
            }
            // The node agent with no container running (none it selects):
            // the loop is outside every container.
            Neighbour::Agent => {
                let output = self.file(tag, "agent");
                let cmd = agent::command(&self.recorder, &self.docker_host, &output, tag);
                let log = self.file(tag, "log");
                let (mut idle, _) = agent::start("an idle agent", cmd, &output, &log)?;
                self.note_bpf("agent (idle)", idle.id())?;
                let result = f(self, idle.id());
                let status = idle.stop()?;
                let text = fs::read_to_string(&log).unwrap_or_default();
                let warnings = text.lines().filter(|l| l.contains("warning:"));
                self.keep_notes(&warnings.collect::<Vec<_>>().join("\n"));
                if !status.success() {
                    bail!(
                        "the idle agent ended with {status}: {}",
                        last_lines(&text, 5)
                    );
                }
                result
            }
            // `enforce --profile LEARNED -- docker run …` of an idle
            // redis-server: the container's eBPF denial watch.
            Neighbour::EnforceContainer => {
                let (mut docker, container) =
                    self.engine(false, Policy::DockerDefault, Workload::Redis, true)?;
                docker.arg(REDIS_SERVER).args(redis_args());
                let profile = self.policy_file(Workload::Redis, Policy::Learned, true)?;
                let cmd = self.tool(&["enforce", "-q"], &[("--profile", &profile)], &docker);
                let result = self.with_server(cmd, tag, "an idle enforced container", f);
                drop(container);
                result
            }
            // `enforce --watch listener --profile LEARNED -- podman run …`
            // of an idle `sleep` (its profile learned from `sleep 1`): the
            // container's seccomp listener.
            Neighbour::EnforcePodman => {
                let (mut podman, container) =
                    self.engine(true, Policy::DockerDefault, Workload::Micro, true)?;
                podman.args(["sleep", "3600"]);
                let profile = self.podman_idle_learned.clone();
                let profile = profile.context("no profile of an idle `sleep` learned in podman")?;
                let cmd = self.enforce(false, &profile, &podman);
                let container = container.context("a named container")?;
                self.beside_podman(cmd, &container, tag, f)
            }
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
                let result = f(self, 0);
                dry::step(|| "detach the empty program".to_owned());
                drop(attached);
                result
            }
        }
    }

    /// Runs `f` while `cmd`, `enforce` of an idle podman `container`,
    /// runs; then kills the container. The eBPF objects `enforce` holds are
    /// noted (none is expected: the listener needs no program).
    fn beside_podman<T>(
        &mut self,
        mut cmd: Command,
        container: &Container,
        tag: &str,
        f: impl FnOnce(&mut Bench, u32) -> Result<T>,
    ) -> Result<T> {
        let log_path = self.file(tag, "log");
        let log = File::create(&log_path)?;
        cmd.stdout(log.try_clone()?).stderr(log);
        let mut enforce = BackgroundProcess::spawn("an idle enforced podman container", &mut cmd)?;
        let log = || fs::read_to_string(&log_path).unwrap_or_default();
        let running = || Ok(container.running().then_some(()));
        let ended = |status| {
            let log = last_lines(&log(), 5);
            format!("the enforced podman container ended with {status} before it ran: {log}")
        };
        let late = || format!("the enforced podman container did not run within {READY_TIMEOUT:?}");
        let every = (Duration::from_millis(100), READY_TIMEOUT);
        poll(&mut enforce, every, running, ended, late)?;
        self.note_bpf("enforce -- podman run (listener)", enforce.id())?;
        let result = f(self, enforce.id());
        // `sleep` as the container's first process ignores SIGTERM.
        container.kill();
        let status = wait_until_ended(&mut enforce, READY_TIMEOUT)?;
        // Killed on purpose: 137 (SIGKILL) is its expected end, and the
        // tool's remark on it no message of the run.
        let log = log();
        let remarks = log
            .lines()
            .filter(|l| !l.contains("exited with status 137"));
        self.keep_notes(&remarks.collect::<Vec<_>>().join("\n"));
        if !status.success() && status.code() != Some(137) {
            let tail = last_lines(&log, 5);
            bail!("the enforced podman container ended with {status}: {tail}");
        }
        result
    }

    /// Starts the server with `cmd` (its output into TAG.log), runs
    /// `during` with its pid once it answers, then shuts it down, waits for
    /// it to end and keeps its messages.
    fn with_server<T>(
        &mut self,
        mut cmd: Command,
        tag: &str,
        name: &str,
        during: impl FnOnce(&mut Bench, u32) -> Result<T>,
    ) -> Result<T> {
        let log_path = self.file(tag, "log");
        let log = File::create(&log_path)?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut server = BackgroundProcess::spawn(name, &mut cmd)?;
        wait_for_redis(&mut server, &log_path)?;
        let result = during(self, server.id());
        let shutdown = redis_shutdown();
        let status = wait_until_ended(&mut server, READY_TIMEOUT)?;
        let result = result?;
        shutdown?;
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        self.keep_notes(&log);
        if !status.success() {
            bail!("{name} ended with {status}: {}", last_lines(&log, 5));
        }
        Ok(result)
    }

    /// The requests/s of the load of `requests` a test on the server `cmd`
    /// (in `container`, with a tracer attached if asked), noting its peak
    /// RSS and eBPF objects under the labels `rss` and `bpf`, the
    /// bpftrace's, before it is shut down.
    fn serve(
        &mut self,
        cmd: Command,
        requests: u64,
        (container, attach): (Option<&Container>, Attach),
        (rss, bpf): (Option<&str>, Option<&str>),
        tag: &str,
    ) -> Result<f64> {
        let (rps, tracer) = self.with_server(cmd, tag, "the server", |bench, pid| {
            let tracer = match (attach, container) {
                (Attach::None, _) => None,
                (attach, Some(container)) => {
                    let pid = bench.container_pid(&container.name)?;
                    Some(bench.attach_tracer(attach, pid, tag)?)
                }
                _ => bail!("a tracer attaches to containers only"),
            };
            let rps = bench.load(requests);
            if let Some(label) = rss {
                dry::step(|| format!("note the server's peak RSS as {label:?}"));
                // Only a figure makes a row: an empty one has no median.
                if let Some(kib) = vm_hwm_kib(pid) {
                    let peaks = bench.memory.recorder_kib.entry(label.to_owned());
                    peaks.or_default().push(kib);
                }
            }
            if let Some(label) = bpf {
                bench.note_bpf(label, pid)?;
            }
            if let Some(Tracer(bpftrace, Some(_))) = &tracer {
                bench.memory.bpftrace_kib.extend(vm_hwm_kib(bpftrace.id()));
                bench.note_bpf("bpftrace", bpftrace.id())?;
            }
            Ok((rps, tracer))
        })?;
        if let Some(tracer) = tracer {
            tracer.end()?;
        }
        rps
    }

    fn container_pid(&self, name: &str) -> Result<u32> {
        let mut inspect = Command::new("docker");
        inspect.env("DOCKER_HOST", &self.docker_host);
        inspect.args(["inspect", "-f", "{{.State.Pid}}", name]);
        if dry::step(|| dry::describe(&inspect)) {
            return Ok(0);
        }
        let output = inspect.output().context("cannot run docker inspect")?;
        let pid = String::from_utf8_lossy(&output.stdout).trim().parse().ok();
        pid.filter(|&pid| pid != 0)
            .with_context(|| format!("docker inspect gave no pid for {name}"))
    }

    /// bpftrace on the cgroup of process `pid`, or strace attached to it;
    /// returns once the tracer is armed.
    fn attach_tracer(&self, attach: Attach, pid: u32, tag: &str) -> Result<Tracer> {
        if attach == Attach::Bpftrace {
            let program = cgroup_filter_program(&self.cgroup_of(pid)?);
            return self.start_bpftrace(&program, "exec sleep 3600", tag);
        }
        let err_path = self.file(tag, "strace-err");
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-c", "-o"]).arg(self.file(tag, "strace"));
        cmd.arg("-p").arg(pid.to_string());
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd.stderr(File::create(&err_path)?);
        let mut tracer = BackgroundProcess::spawn("strace", &mut cmd)?;
        if dry::step(|| "wait until strace says it attached".to_owned()) {
            return Ok(Tracer(tracer, None));
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
        let every = (Duration::from_millis(10), READY_TIMEOUT);
        poll(&mut tracer, every, attached, ended, late)?;
        Ok(Tracer(tracer, None))
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
        let mut load = Command::new("redis-benchmark");
        load.args(["-h", "127.0.0.1", "-p", &REDIS_PORT.to_string()])
            .args(["-t", "set,get", "-c", "50", "--csv", "-n"])
            .arg(requests.to_string())
            .stdin(Stdio::null());
        // Once, while learning: the client recorded, for its syscall count.
        if let Some(stats) = &self.client_stats {
            let out = self.scratch.join("redis-benchmark.json");
            load = self.tool(
                &["record", "-q"],
                &[("--stats", stats), ("-o", &out)],
                &load,
            );
        }
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
            let (before, started) = (SystemTime::now(), Instant::now());
            let child = cmd
                .spawn()
                .with_context(|| format!("cannot run `{}`", display(&cmd)))?;
            let output = child.wait_with_output()?;
            let wall = started.elapsed();
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let status = output.status;
                bail!("`{}` failed ({status}): {}", display(&cmd), stderr.trim());
            }
            values.push(match case.workload {
                Workload::StartTime => {
                    let stdout = String::from_utf8_lossy(&output.stdout);
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
            let peaks = self.memory.recorder_kib.entry("/bin/true".to_owned());
            peaks.or_default().push(kib);
        }
        Ok(values)
    }

    /// The peak RSS of `cmd` (KiB), run by a small process of its own in
    /// between: `ru_maxrss` of a child of this large process would start
    /// from this process's own peak (see [`child`]).
    fn peak_rss(&self, cmd: &Command, tag: &str) -> Result<u64> {
        let out = self.file(tag, "peak-rss");
        let exe = std::env::current_exe().context("cannot find the xtask binary")?;
        let mut helper = Command::new(exe);
        helper.arg("peak-rss").arg(&out).arg("--");
        helper.arg(cmd.get_program()).args(cmd.get_args());
        helper.stdin(Stdio::null()).stdout(Stdio::null());
        copy_env(cmd, &mut helper);
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
            let load = self.sizes.requests;
            return self
                .serve(cmd, load, (None, Attach::None), (None, None), tag)
                .map(drop);
        }
        let stderr = self.run_to_end(&mut cmd, None, None)?;
        self.keep_notes(&stderr);
        Ok(())
    }

    /// refused-loop's profile: the loop recorded (its sysinfo calls run),
    /// then sysinfo taken out, so that under it every call of the loop is
    /// refused with the profile's default errno.
    fn learn_refusing(&mut self) -> Result<()> {
        let path = self.scratch.join("learned-Refused.json");
        let mut once = Command::new(self.samples.join("refused-loop"));
        once.arg("1");
        self.learn(self.tool(&["record", "-q"], &[("-o", &path)], &once), None)?;
        self.learned
            .insert((Workload::Refused, false), path.clone());
        if dry::step(|| format!("take sysinfo out of {}", path.display())) {
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
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The learned profiles: each workload recorded once, natively and (the
    /// microbenchmark and the server) as a container.
    fn learn_all(&mut self, parts: &[Part]) -> Result<()> {
        self.learn_refusing()?;
        // The refusals need only the loop's own profile, the agent none.
        if parts
            .iter()
            .all(|&part| matches!(part, Part::Refusals | Part::Agent))
        {
            return Ok(());
        }
        for workload in [Workload::Micro, Workload::FileIo, Workload::Redis] {
            let path = self.scratch.join(format!("learned-{workload:?}.json"));
            let job = self.job(workload, false);
            let cmd = self.tool(&["record", "-q"], &[("-o", &path)], &job);
            if workload == Workload::Redis {
                // The load's client is recorded this once: its syscalls per
                // request pay the cost outside the recordings measured later.
                let client_stats = self.scratch.join("redis-benchmark.stats.json");
                self.client_stats = Some(client_stats.clone());
                let learned = self.learn(cmd, Some("learn-redis"));
                self.client_stats = None;
                learned?;
                let per_request = syscalls_per_request(&client_stats, self.sizes.requests)?;
                self.client_syscalls = Some(per_request);
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
        let (mut docker, container) =
            self.engine(false, Policy::DockerDefault, Workload::Redis, true)?;
        docker.arg(REDIS_SERVER).args(redis_args());
        let cmd = self.tool(&["record", "-q"], &[("-o", &path)], &docker);
        self.learn(cmd, Some("learn-redis-container"))?;
        drop(container);
        self.learned.insert((Workload::Redis, true), path);

        // The loop in podman, with names only: a profile without argument
        // conditions, which the container's seccomp listener can watch. A
        // failure leaves the podman cases out (they fail for want of it).
        let calls = self.sizes.calls.to_string();
        for (name, command) in [
            ("learned-Micro-podman.json", [GETPPID_LOOP, calls.as_str()]),
            ("learned-sleep-podman.json", ["sleep", "1"]),
        ] {
            let path = self.scratch.join(name);
            let (mut podman, _) =
                self.engine(true, Policy::DockerDefault, Workload::Micro, false)?;
            podman.args(command);
            let cmd = self.tool(
                &["record", "-q", "--args", "names"],
                &[("-o", &path)],
                &podman,
            );
            match self.learn(cmd, None) {
                Ok(()) if command[0] == "sleep" => self.podman_idle_learned = Some(path),
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
    let args = ["--port", &port, "--bind", "127.0.0.1", "--save", ""];
    let args = args
        .into_iter()
        .chain(["--appendonly", "no", "--daemonize", "no"]);
    args.map(str::to_owned).collect()
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

/// A command's program and arguments, quoted for `sh`.
fn shell_words(cmd: &Command) -> String {
    let words = std::iter::once(cmd.get_program()).chain(cmd.get_args());
    let words: Vec<String> = words.map(|w| shell_quote(&w.to_string_lossy())).collect();
    words.join(" ")
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
            .is_ok_and(|r| r.starts_with("+PONG"))
            .then_some(()))
    };
    let ended = |status| {
        let log = last_lines(&fs::read_to_string(log).unwrap_or_default(), 5);
        format!("the server ended ({status}) before it answered: {log}")
    };
    let late = || format!("the server did not answer within {READY_TIMEOUT:?}");
    let every = (Duration::from_millis(10), READY_TIMEOUT);
    poll(server, every, pong, ended, late)
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
    let bound = std::net::TcpListener::bind(("127.0.0.1", REDIS_PORT)).map(drop);
    bound.with_context(|| {
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
    let every = (Duration::from_millis(10), READY_TIMEOUT);
    poll(parent, every, || child_named(pid, comm), ended, late)
}

/// A tracer attached to a workload: bpftrace, with the pid of the `sleep`
/// it runs as its command (ending it ends bpftrace), or strace.
struct Tracer(BackgroundProcess, Option<u32>);

impl Tracer {
    /// Ends bpftrace by ending its command; strace ends with its tracee.
    fn end(mut self) -> Result<()> {
        if let Some(sleep) = self.1 {
            let pid = libc::pid_t::try_from(sleep).context("pid out of range")?;
            if !dry::step(|| "SIGTERM to bpftrace's `sleep`".to_owned()) {
                // SAFETY: kill(2) of bpftrace's `sleep`, which bpftrace has
                // not reaped (it waits for it and ends only then).
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        wait_until_ended(&mut self.0, READY_TIMEOUT).context("the tracer")?;
        Ok(())
    }
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
    let output = Command::new("bpftool")
        .args(["-j", "prog", "show"])
        .output();
    let programs = output.map(|o| serde_json::from_slice(&o.stdout));
    let Ok(Ok(serde_json::Value::Array(programs))) = programs else {
        return Vec::new();
    };
    fn text<'a>(p: &'a serde_json::Value, key: &str) -> &'a str {
        p.get(key).and_then(|t| t.as_str()).unwrap_or("?")
    }
    let tracing = [
        "tracepoint",
        "raw_tracepoint",
        "tracing",
        "kprobe",
        "perf_event",
    ];
    programs
        .iter()
        .filter(|p| tracing.contains(&text(p, "type")))
        .map(|p| {
            let id = p.get("id").and_then(|t| t.as_u64()).unwrap_or(0);
            format!("{} program {id} ({})", text(p, "type"), text(p, "name"))
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

/// A named container of docker (the bench's dockerd) or podman (with the
/// test suite's global options), removed when dropped: a run that failed
/// midway leaves none behind.
struct Container {
    podman: Option<Vec<String>>,
    docker_host: String,
    name: String,
}

/// `docker ARGS` (the bench's dockerd) or `podman GLOBALS ARGS`.
fn engine(podman: Option<&[String]>, docker_host: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(if podman.is_some() { "podman" } else { "docker" });
    match podman {
        Some(globals) => cmd.args(globals),
        None => cmd.env("DOCKER_HOST", docker_host),
    };
    cmd.args(args).stdin(Stdio::null());
    cmd
}

impl Container {
    /// `ENGINE ARGS NAME`, quietly; in a dry run, as a podman that says
    /// `true`.
    fn ask(&self, args: &[&str]) -> Option<std::process::Output> {
        let mut cmd = engine(self.podman.as_deref(), &self.docker_host, args);
        cmd.arg(&self.name).stderr(Stdio::null());
        if dry::step(|| dry::describe(&cmd)) {
            let status = ExitStatus::default();
            let (stdout, stderr) = (b"true".to_vec(), Vec::new());
            return Some(std::process::Output {
                status,
                stdout,
                stderr,
            });
        }
        cmd.output().ok()
    }

    /// Whether the container's process runs.
    fn running(&self) -> bool {
        let output = self.ask(&["inspect", "--format", "{{.State.Running}}"]);
        output.is_some_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "true"
        })
    }

    fn kill(&self) {
        let _ = self.ask(&["kill", "--signal", "KILL"]);
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        match self.podman {
            Some(_) => self.ask(&["rm", "-f", "-t", "0"]),
            None => self.ask(&["rm", "-f"]),
        };
    }
}

/// The commit the binaries are built from, marked when the tree has changes.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        let mut git = Command::new("git");
        git.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
        let output = git.output().ok()?;
        Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_default();
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

/// Installs a seccomp filter on this process, after no_new_privs (as an
/// unprivileged filter must), between fork and exec: one that refuses
/// sysinfo with EPERM and allows every other call (x86_64's number; this
/// benchmark runs there), or (`refuse` false) one instruction, "allow":
/// the filter's own cost with nothing to decide.
fn install_filter(refuse: bool) -> std::io::Result<()> {
    let statement = |code: u32, jt, jf, k| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let (jeq, ret) = (
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        libc::BPF_RET | libc::BPF_K,
    );
    let mut program = [
        // The syscall's number: offset 0 of struct seccomp_data.
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        statement(jeq, 0, 1, libc::SYS_sysinfo as u32),
        statement(ret, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        statement(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let program = if refuse {
        &mut program[..]
    } else {
        &mut program[3..]
    };
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
        let mut cmd = Command::new("/bin/x");
        cmd.args(["", "a'b"]);
        assert_eq!(shell_words(&cmd), r"'/bin/x' '' 'a'\''b'");
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
        for &part in Part::value_variants() {
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
            for parts in [
                &[Part::Refusals][..],
                &[Part::Agent],
                Part::value_variants(),
            ] {
                dry::step(|| format!("== learning for {parts:?}"));
                let learned = bench.learn_all(parts);
                dry::step(|| format!("-> {learned:?}"));
            }
            for case in cases(Part::value_variants(), true) {
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
        let all = cases(Part::value_variants(), true);
        for (i, case) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(case), "{case} twice");
        }
        let without_default = cases(&[Part::Enforcement], false);
        let docker_default = Case::new(Workload::Micro, Run::Enforce(Policy::DockerDefault));
        assert!(!without_default.contains(&docker_default));
    }
}
