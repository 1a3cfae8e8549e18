//! BENCHMARKS.md and benchmarks.svg from a run of `cargo xtask bench`: the
//! machine, the command that reproduces the run, a table per group as
//! ratios to the group's baseline, the programs' own run statistics, memory,
//! profile sizes, and the targets of issue 14 with how far each is met or
//! missed. All of the text that quotes a figure is made here from the run's
//! own numbers.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};

use super::{
    chart::{self, Bar, Group, Tool},
    measure::{
        BUSY_SHARE, Case, Neighbour, Outcome, Policy, ProgSample, Run, StatCase, Workload,
        run_label, unit,
    },
    util::median,
};

fn higher_is_better(workload: Workload) -> bool {
    workload == Workload::Redis
}

/// Plain-text label for the chart (no Markdown).
fn chart_label(run: Run) -> String {
    run_label(run).replace('`', "")
}

fn tool(run: Run) -> Tool {
    match run {
        Run::Record
        | Run::RecordNoCapture
        | Run::ContainerRecord
        | Run::Beside(Neighbour::Record) => Tool::Ours,
        Run::Bpftrace | Run::ContainerBpftrace | Run::Beside(Neighbour::Bpftrace) => Tool::Bpftrace,
        Run::Strace | Run::ContainerStrace => Tool::Strace,
        Run::Beside(
            Neighbour::Enforce | Neighbour::EnforceContainer | Neighbour::EnforcePodman,
        ) => Tool::Seccomp,
        Run::Beside(_) => Tool::Empty,
        Run::Enforce(_)
        | Run::EnforceKernelWatch(_)
        | Run::EnforceListener(_)
        | Run::SeccompFilter
        | Run::RefusingFilter
        | Run::HandOff
        | Run::Container(_)
        | Run::ContainerEnforce(_)
        | Run::Podman(_)
        | Run::PodmanEnforce(_)
        | Run::PodmanEnforceKernelWatch(_)
        | Run::Untraced => Tool::Seccomp,
    }
}

/// The statistics of one case: median and range.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Stat {
            median: median(&sorted),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            n: sorted.len(),
        })
    }
}

/// A table: rows against a baseline.
struct Section {
    title: String,
    /// The group's title in the chart.
    short: &'static str,
    workload: Workload,
    /// How the workload runs in the baseline; the rows are against it.
    baseline: Run,
    rows: Vec<Run>,
    note: String,
}

impl Section {
    fn baseline_case(&self) -> Case {
        Case::new(self.workload, self.baseline)
    }
}

/// What the report states about the machine, read when the report is made.
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub debian: String,
    pub spectre: String,
    /// Each tool compared with, and the first line of its version.
    pub tools: Vec<(&'static str, String)>,
    pub libseccomp: String,
}

impl Machine {
    /// This machine's facts.
    pub fn read() -> Machine {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_default();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
            .unwrap_or_default();
        let tools = [
            ("bpftrace", "bpftrace", &["--version"][..]),
            ("strace", "strace", &["-V"][..]),
            ("redis", "redis-server", &["--version"][..]),
            ("dockerd", "dockerd", &["--version"][..]),
            ("runc", "runc", &["--version"][..]),
        ]
        .into_iter()
        .map(|(what, cmd, args)| (what, first_line(cmd, args)))
        .collect();
        Machine {
            cpu,
            cores,
            memory,
            kernel: read_trim("/proc/sys/kernel/osrelease"),
            debian: read_trim("/etc/debian_version"),
            spectre: read_trim("/sys/devices/system/cpu/vulnerabilities/spectre_v2"),
            tools,
            libseccomp: package_version("libseccomp2"),
        }
    }
}

pub struct Report {
    markdown: String,
    groups: Vec<Group>,
    summary: String,
}

fn fmt_value(value: f64, workload: Workload) -> String {
    match workload {
        Workload::Redis => format!("{value:.0}"),
        Workload::Micro | Workload::Captured | Workload::Refused => format!("{value:.1}"),
        Workload::FileIo => format!("{value:.2}"),
        Workload::True | Workload::StartTime => format!("{value:.1}"),
    }
}

/// A target's verdict line.
struct Target {
    name: String,
    met: Option<bool>,
    detail: String,
}

impl Target {
    /// `measured`: whether the target is met and the figures that say so;
    /// `None` when a figure it needs is missing ("not measured").
    fn new(name: impl Into<String>, measured: Option<(bool, String)>) -> Target {
        let (met, detail) = match measured {
            Some((met, detail)) => (Some(met), detail),
            None => (None, String::new()),
        };
        Target {
            name: name.into(),
            met,
            detail,
        }
    }
}

impl Report {
    pub fn new(outcome: &Outcome, machine: &Machine) -> Result<Report> {
        let r = Reader { outcome, machine };
        let sizes = outcome.sizes;
        let sections = r.sections();
        let mut md = String::new();
        let mut summary = String::new();
        writeln!(md, "# Benchmarks")?;
        writeln!(md)?;
        writeln!(
            md,
            "What recording and enforcing cost, measured by `cargo xtask bench` against what \
             users would run instead. Written by that command from one run on the machine \
             below; every figure in this file is that run's. A benchmark, not a test: nothing \
             is asserted."
        )?;
        writeln!(md)?;
        writeln!(md, "Reproduce (as root, on Debian 12):")?;
        writeln!(md)?;
        writeln!(md, "```sh\n{}\n```", outcome.command_line)?;
        writeln!(md)?;
        writeln!(
            md,
            "It installs what is missing (`cargo xtask setup`), builds in release mode, starts \
             a dockerd of its own (the test suite's), imports an image made from Debian's \
             `redis-server` and its libraries, records each workload once to learn its \
             profile (also the warm-up), then runs {} round(s); each round runs every \
             configuration once, in an order rotated by one per round. The tables give the \
             median of the rounds, their range (fastest–slowest), and the ratio of medians to \
             the group's baseline. `--quick` runs 2 rounds of smaller workloads. This run took \
             {:.0} s.",
            outcome.rounds,
            outcome.elapsed.as_secs_f64()
        )?;
        writeln!(md)?;
        writeln!(md, "![ratios to the baselines](benchmarks.svg)")?;
        writeln!(md)?;
        writeln!(
            md,
            "In the chart: blue is syscall-profile, orange bpftrace, red strace, grey an empty \
             eBPF program (the cost of the hook alone), green a seccomp filter; each bar is a \
             ratio of medians to its group's baseline, the whisker the range of the rounds. \
             Start-up is in the tables only."
        )?;
        writeln!(md)?;
        r.machine(&mut md)?;
        writeln!(md, "## Workloads")?;
        writeln!(md)?;
        writeln!(
            md,
            "- **getppid-loop** (`samples/src/bin/getppid-loop.rs`): {} raw `getppid` calls in a \
             tight loop, timed by the loop itself (`SAMPLES_REPORT_NS`), so start-up and the \
             recorder's set-up are left out; under strace {} calls (the figure is per call).",
            sizes.calls, sizes.strace_calls
        )?;
        writeln!(
            md,
            "- **file-io** (`samples/src/bin/file-io.rs`): {} files of 4 KiB made, every 8th \
             fsync'ed, stat'ed, read back, appended to, renamed, listed and removed (about 15 \
             syscalls a file), timed by itself, on a tmpfs (`/dev/shm`): on this machine's disk \
             the same work took 0.5 to 6.7 s from one run to the next, which would hide any \
             tracer. Under strace {} files (the figure is per file).",
            sizes.files, sizes.strace_files
        )?;
        writeln!(
            md,
            "- **redis-server** (Debian's 7.0) on 127.0.0.1:16379, no persistence, loaded by \
             `redis-benchmark -t set,get -c 50 -n {}` (Debian's redis-tools) from outside the \
             recording; the figure is both tests' requests over their time. Under strace \
             {} requests a test. In a container: the same binary and its libraries in an image \
             imported from a root filesystem, `--network host`, the load from the host on \
             127.0.0.1.",
            sizes.requests, sizes.strace_requests
        )?;
        writeln!(
            md,
            "- The recorder runs as `syscall-profile record -q -o FILE -- CMD`; bpftrace as \
             `tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"CGROUP\")/ {{ \
             @[args->id] = count(); }}` with the workload started by bpftrace's `-c` (after \
             its probes are attached) in that cgroup v2; strace as `strace -f -c -o FILE`."
        )?;
        writeln!(md)?;

        let mut current_part = "";
        for section in &sections {
            let part = part_title(section);
            if part != current_part {
                writeln!(md, "## {part}")?;
                writeln!(md)?;
                current_part = part;
            }
            r.table(&mut md, section)?;
        }
        r.prog_stats(&mut md)?;
        r.memory(&mut md)?;
        if let Some(soak) = &outcome.soak {
            super::soak::section(&mut md, soak)?;
        }
        r.profile_sizes(&mut md)?;
        let targets = r.targets();
        writeln!(md, "## Targets")?;
        writeln!(md)?;
        writeln!(
            md,
            "The targets of issue 14, reported, not asserted. *Added* is a configuration's \
             median minus its baseline's; *the floor* is the loop beside an empty program on \
             the hook the recorder used ({}). Each cost target is judged twice: from the \
             end-to-end medians, and from the kernel's own accounting of the programs \
             (`bpf-stats` above), which leaves out the hook and the machine's noise.",
            r.recorder_hook().1
        )?;
        writeln!(md)?;
        writeln!(md, "| target | verdict | measured |")?;
        writeln!(md, "| --- | --- | --- |")?;
        for t in &targets {
            let verdict = match t.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            writeln!(md, "| {} | {verdict} | {} |", t.name, t.detail)?;
            writeln!(summary, "{verdict:>12}  {}: {}", t.name, t.detail)?;
        }
        writeln!(md)?;
        r.limits(&mut md)?;
        r.run_notes(&mut md)?;

        Ok(Report {
            markdown: md,
            groups: r.chart_groups(&sections),
            summary,
        })
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let md = dir.join("BENCHMARKS.md");
        fs::write(&md, &self.markdown).with_context(|| format!("cannot write {}", md.display()))?;
        let svg = dir.join("benchmarks.svg");
        chart::draw(
            &svg,
            "syscall-profile: cost against each group's baseline (median of the rounds; whisker: range)",
            &self.groups,
        )?;
        eprintln!("xtask bench: wrote {} and {}", md.display(), svg.display());
        Ok(())
    }

    pub fn summary(&self) -> String {
        self.summary.clone()
    }
}

fn part_title(section: &Section) -> &'static str {
    match section.rows.first() {
        Some(Run::Beside(
            Neighbour::Enforce | Neighbour::EnforceContainer | Neighbour::EnforcePodman,
        )) => "Enforcement",
        Some(Run::Beside(_)) => "Cost to everything else while a recording runs",
        Some(
            Run::Enforce(_)
            | Run::EnforceKernelWatch(_)
            | Run::EnforceListener(_)
            | Run::SeccompFilter
            | Run::RefusingFilter
            | Run::HandOff
            | Run::Container(_)
            | Run::Podman(_)
            | Run::PodmanEnforce(_)
            | Run::PodmanEnforceKernelWatch(_),
        ) => "Enforcement",
        _ if matches!(section.workload, Workload::True | Workload::StartTime) => "Start-up",
        _ => "Recording: cost to the recorded workload",
    }
}

/// A program of a `bpf-stats` case: name, type, and per round its runs and
/// ns per run.
type StatProgram = (String, String, Vec<(u64, f64)>);

struct Reader<'a> {
    outcome: &'a Outcome,
    machine: &'a Machine,
}

impl Reader<'_> {
    fn stat(&self, case: Case) -> Option<Stat> {
        self.outcome.samples.get(&case).and_then(|v| Stat::of(v))
    }

    fn median(&self, workload: Workload, run: Run) -> Option<f64> {
        self.stat(Case::new(workload, run)).map(|s| s.median)
    }

    /// The cost ratio of `value` against `base`: time over time, or for a
    /// throughput, time per request over time per request.
    fn ratio(workload: Workload, value: f64, base: f64) -> f64 {
        if higher_is_better(workload) {
            base / value
        } else {
            value / base
        }
    }

    fn sections(&self) -> Vec<Section> {
        use Run::*;
        use Workload::*;
        let s = self.outcome.sizes;
        let all = vec![
            Section {
                short: "getppid-loop, recorded",
                title: format!("getppid-loop: {} raw getppid calls, ns per call", s.calls),
                workload: Micro,
                baseline: Untraced,
                rows: vec![
                    Record,
                    RecordNoCapture,
                    Bpftrace,
                    Strace,
                    Beside(Neighbour::EmptyRawTracepoint),
                    Beside(Neighbour::EmptyBtfTracepoint),
                ],
                note: "The floors: the loop with an empty program (`r0 = 0; exit`) on the \
                       hook, which runs it for every syscall of every task, the recorded \
                       process included. No program at that hook can cost the recorded \
                       process less. `record --args names` (natively, without `--stats`) \
                       loads the recorder with its argument capture left out: against \
                       `record`, what capture costs a syscall it does not capture (getppid)."
                    .to_owned(),
            },
            Section {
                short: "captured-loop, recorded",
                title: format!(
                    "captured-loop: {} raw prctl(PR_GET_DUMPABLE) calls, ns per call",
                    s.calls
                ),
                workload: Captured,
                baseline: Untraced,
                rows: vec![Record],
                note: "prctl's option is an argument the recorder captures: each call also \
                       reads the argument registers and counts the value in a per-CPU hash \
                       map. Against getppid-loop's row above (getppid is not captured), the \
                       difference is what argument capture adds to a captured call."
                    .to_owned(),
            },
            Section {
                short: "file-io, recorded",
                title: format!("file-io: {} small files on a tmpfs, µs per file", s.files),
                workload: FileIo,
                baseline: Untraced,
                rows: vec![Record, Bpftrace, Strace],
                note: String::new(),
            },
            Section {
                short: "redis-server, recorded",
                title: "redis-server, native, under redis-benchmark: requests/s".to_owned(),
                workload: Redis,
                baseline: Untraced,
                rows: vec![Record, Bpftrace, Strace],
                note: String::new(),
            },
            Section {
                short: "redis-server in a container, recorded",
                title: "redis-server in a container (`--network host`): requests/s".to_owned(),
                workload: Redis,
                baseline: Container(Policy::DockerDefault),
                rows: vec![ContainerRecord, ContainerBpftrace, ContainerStrace],
                note: "The baseline is a plain `docker run`, under Docker's default profile; \
                       `record` runs the container under an allow-all recording profile (a \
                       filter is still installed: it marks where the profile starts)."
                    .to_owned(),
            },
            Section {
                short: "getppid-loop outside the recording",
                title: format!(
                    "getppid-loop ({} calls) outside the watched cgroup, ns per call",
                    s.calls
                ),
                workload: Micro,
                baseline: Untraced,
                rows: vec![
                    Beside(Neighbour::Record),
                    Beside(Neighbour::Bpftrace),
                    Beside(Neighbour::EmptyTracepoint),
                    Beside(Neighbour::EmptyRawTracepoint),
                    Beside(Neighbour::EmptyBtfTracepoint),
                    Beside(Neighbour::EmptyFentry),
                ],
                note: "The empty programs (`r0 = 0; exit`, loaded by the benchmark itself through \
                       bpf(2)) cost only what hooking there costs: the floor of any program at \
                       that hook. `raw_tp/sys_enter` is the raw tracepoint \
                       (BPF_PROG_TYPE_RAW_TRACEPOINT); `tp_btf/sys_enter` the same tracepoint \
                       as a BTF tracepoint (BPF_PROG_TYPE_TRACING, attached by the BTF id of \
                       `btf_trace_sys_enter`); `fentry/x64_sys_call` is the kernel's syscall \
                       dispatch function."
                    .to_owned(),
            },
            Section {
                short: "getppid-loop under enforce",
                title: "getppid-loop, native, under a seccomp filter: ns per call".to_owned(),
                workload: Micro,
                baseline: Untraced,
                rows: vec![
                    SeccompFilter,
                    Enforce(Policy::None),
                    EnforceKernelWatch(Policy::None),
                    Enforce(Policy::DockerDefault),
                    Enforce(Policy::Learned),
                    EnforceKernelWatch(Policy::Learned),
                ],
                note: "`enforce` installs the profile compiled by libseccomp. A native \
                       program's refusals go to a seccomp listener in the tool (user \
                       notification), which costs nothing on the calls the profile allows; \
                       `--watch kernel` watches the command's cgroup with eBPF programs on \
                       `sys_enter` and `sys_exit` instead (what containers and profiles that \
                       kill still use). The allow-all rows are each watch with a filter that \
                       allows everything; the first row is such a filter alone, installed by \
                       the benchmark itself, so that what a watch adds is its row's figure \
                       minus that one (a filter's own cost is the same for every profile \
                       here: the kernel caches the syscalls a filter always allows and skips \
                       running it for them, but every syscall still takes seccomp's path)."
                    .to_owned(),
            },
            Section {
                short: "refused-loop under enforce",
                title: format!(
                    "refused-loop: {} raw sysinfo calls, each refused, ns per call",
                    s.refused_calls
                ),
                workload: Refused,
                baseline: RefusingFilter,
                rows: vec![
                    EnforceKernelWatch(Policy::Learned),
                    EnforceListener(Policy::Learned),
                    HandOff,
                ],
                note: "A refused call under each denial watch of a native `enforce`: the \
                       loop's learned profile with sysinfo taken out (so every call falls to \
                       its default action, EPERM; the loop checks that each one failed). The \
                       baseline is a filter of four instructions refusing sysinfo, installed \
                       by the benchmark itself: a refusal with no tool. Under `--watch \
                       kernel` the kernel refuses the call and the eBPF programs on \
                       `sys_enter` and `sys_exit` count it; under `--watch listener` each \
                       refused call waits for the tool's answer: the caller hands the CPU to \
                       the tool's listener thread and gets it back, two context switches, \
                       whatever the tool does in between. The last row is not `enforce`: two \
                       threads of one process handing a byte back and forth through pipes, as \
                       many round trips, each two context switches: the floor of any \
                       listener on this host."
                    .to_owned(),
            },
            Section {
                short: "getppid-loop in a container, seccomp",
                title: "getppid-loop in a container: ns per call".to_owned(),
                workload: Micro,
                baseline: Container(Policy::None),
                rows: vec![
                    Container(Policy::DockerDefault),
                    Container(Policy::Learned),
                    ContainerRecord,
                    ContainerEnforce(Policy::None),
                    ContainerEnforce(Policy::Learned),
                ],
                note: "Plain `docker run`: the filter alone, no watch. `record -- docker run …` \
                       runs the container under its allow-all recording profile and counts its \
                       syscalls: against plain `docker run`, the difference is the recording \
                       (compare with the native getppid-loop's). `enforce -- docker run …` \
                       gives the engine the same profile and watches the container's refusals \
                       with its eBPF watch (programs on `sys_enter` and `sys_exit`): against \
                       plain `docker run` with the same profile, the difference is the watch."
                    .to_owned(),
            },
            Section {
                short: "getppid-loop in podman, seccomp",
                title: "getppid-loop in a podman container (runc): ns per call".to_owned(),
                workload: Micro,
                baseline: Podman(Policy::None),
                rows: vec![
                    Podman(Policy::Learned),
                    PodmanEnforce(Policy::Learned),
                    PodmanEnforceKernelWatch(Policy::Learned),
                ],
                note: "The loop's profile learned in podman with `record --args names` (no \
                       argument conditions, so its refusals can all be notified). Plain \
                       `podman run` with it: the filter alone. `enforce --watch listener -- \
                       podman run …` gives podman the profile with its refusals as \
                       `SCMP_ACT_NOTIFY` and the OCI `listenerPath` of a socket of the tool's: \
                       runc installs the filter with a listener and hands it over, and the \
                       tool answers each refused call; `--watch listener` makes the run fail \
                       rather than fall back to eBPF, so these figures are the listener's. \
                       `--watch kernel` is the same container under the eBPF watch, as a \
                       Docker container gets it (the Docker engine 20.10 drops `listenerPath`)."
                    .to_owned(),
            },
            Section {
                short: "getppid-loop outside enforce",
                title: format!(
                    "getppid-loop ({} calls) outside while `enforce` runs, ns per call",
                    s.calls
                ),
                workload: Micro,
                baseline: Untraced,
                rows: vec![
                    Beside(Neighbour::Enforce),
                    Beside(Neighbour::EnforceContainer),
                    Beside(Neighbour::EnforcePodman),
                ],
                note: "A native `enforce` installs a filter on its command only, and its \
                       listener waits on the filter's notification descriptor: nothing runs \
                       for other processes; nor for a podman container's listener (runc \
                       installs the filter in the container only; `enforce` keeps only its \
                       event hooks on moves, execs and exits, none on the syscall path: its \
                       eBPF objects are in *Memory*). A Docker container's eBPF watch is on \
                       the syscall tracepoints, which every task of the host runs."
                    .to_owned(),
            },
            Section {
                short: "redis-server under enforce",
                title: "redis-server, native, under a seccomp filter: requests/s".to_owned(),
                workload: Redis,
                baseline: Untraced,
                rows: vec![
                    Enforce(Policy::None),
                    Enforce(Policy::DockerDefault),
                    Enforce(Policy::Learned),
                ],
                note: String::new(),
            },
            Section {
                short: "redis-server in a container, seccomp",
                title: "redis-server in a container: requests/s".to_owned(),
                workload: Redis,
                baseline: Container(Policy::None),
                rows: vec![Container(Policy::DockerDefault), Container(Policy::Learned)],
                note: String::new(),
            },
            Section {
                short: "",
                title: "`/bin/true`: wall time from spawn to exit, ms".to_owned(),
                workload: True,
                baseline: Untraced,
                rows: vec![Record],
                note: format!(
                    "{} runs per round of each, as `syscall-profile record -q -o FILE -- /bin/true`.",
                    s.startups
                ),
            },
            Section {
                short: "",
                title: "Time until tracing is armed: spawn to the recorded program's first \
                        instruction, ms"
                    .to_owned(),
                workload: StartTime,
                baseline: Untraced,
                rows: vec![Record],
                note: "`samples/src/bin/start-time.rs` prints CLOCK_REALTIME as its first \
                       action; the benchmark notes the time right before it spawns the \
                       recorder. The recorder attaches its program before it starts the \
                       command, so this bounds the time until tracing is armed from above."
                    .to_owned(),
            },
        ];
        all.into_iter()
            .filter(|section| {
                self.outcome.cases.contains(&section.baseline_case())
                    && section.rows.iter().any(|&run| {
                        self.outcome
                            .cases
                            .contains(&Case::new(section.workload, run))
                    })
            })
            .collect()
    }

    fn table(&self, md: &mut String, section: &Section) -> Result<()> {
        let w = section.workload;
        writeln!(md, "### {}", section.title)?;
        writeln!(md)?;
        let unit = unit(w);
        if higher_is_better(w) {
            writeln!(
                md,
                "| configuration | {unit} (median) | range | runs | time per request × | throughput change |"
            )?;
        } else {
            writeln!(
                md,
                "| configuration | {unit} (median) | range | runs | × baseline | added ({unit}) |"
            )?;
        }
        writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: |")?;
        let base = self.stat(section.baseline_case());
        for run in std::iter::once(section.baseline).chain(section.rows.iter().copied()) {
            let case = Case::new(w, run);
            if !self.outcome.cases.contains(&case) {
                continue;
            }
            let label = if run == section.baseline {
                format!("{} (baseline)", run_label(run))
            } else {
                run_label(run)
            };
            let cells = match self.stat(case) {
                Some(s) => {
                    let (ratio, change) = base
                        .map(|b| {
                            let change = if higher_is_better(w) {
                                format!("{:+.1} %", (s.median / b.median - 1.0) * 100.0)
                            } else {
                                format!("{:+.1}", s.median - b.median)
                            };
                            (format!("{:.2}", Self::ratio(w, s.median, b.median)), change)
                        })
                        .unwrap_or_default();
                    [
                        label,
                        fmt_value(s.median, w),
                        format!("{}–{}", fmt_value(s.min, w), fmt_value(s.max, w)),
                        s.n.to_string(),
                        ratio,
                        change,
                    ]
                }
                None => {
                    let why = self
                        .outcome
                        .failures
                        .get(&case)
                        .map(|e| format!("failed: {}", e.replace('|', "/")))
                        .unwrap_or_else(|| "not measured".to_owned());
                    let blank = String::new;
                    [label, why, blank(), blank(), blank(), blank()]
                }
            };
            writeln!(md, "{}", table_row(&cells))?;
        }
        if section.rows.contains(&Run::Beside(Neighbour::EmptyFentry)) {
            // The kprobe experiment's probes: each refused one is a floor
            // that could not be measured.
            for p in self.outcome.probes.iter().skip(1) {
                let answer = if p.granted {
                    "granted (and closed at once); not measured".to_owned()
                } else {
                    format!("refused: {}", p.answer.replace('|', "/").replace('\n', " "))
                };
                let blank = String::new;
                let cells = [
                    format!("beside {}", p.what),
                    answer,
                    blank(),
                    blank(),
                    blank(),
                    blank(),
                ];
                writeln!(md, "{}", table_row(&cells))?;
            }
        }
        writeln!(md)?;
        if !section.note.is_empty() {
            writeln!(md, "{}", section.note)?;
            writeln!(md)?;
        }
        if section.rows.contains(&Run::Beside(Neighbour::EmptyFentry)) {
            self.probes(md)?;
        }
        Ok(())
    }

    /// The kprobe experiment: whether the kernel lets a program hook the
    /// function that runs for a syscall a seccomp filter refuses.
    fn probes(&self, md: &mut String) -> Result<()> {
        let Some((candidates, asked)) = self.outcome.probes.split_first() else {
            return Ok(());
        };
        writeln!(
            md,
            "The last rows of the table are the kprobe \
             experiment: a probe on the kernel's seccomp refusal path (what would let \
             container enforcement explain refusals without a program on every syscall), \
             asked of the kernel in this run every way there is, each one granted closed at \
             once. {}: {}. {} of {} granted.",
            candidates.what,
            candidates.answer,
            asked.iter().filter(|p| p.granted).count(),
            asked.len()
        )?;
        writeln!(md)?;
        Ok(())
    }

    fn chart_groups(&self, sections: &[Section]) -> Vec<Group> {
        let mut groups = Vec::new();
        for section in sections {
            let w = section.workload;
            let Some(base) = self.stat(section.baseline_case()) else {
                continue;
            };
            if section.short.is_empty() {
                continue;
            }
            let mut bars = Vec::new();
            for &run in &section.rows {
                let Some(s) = self.stat(Case::new(w, run)) else {
                    continue;
                };
                let (low, high) = if higher_is_better(w) {
                    (base.median / s.max, base.median / s.min)
                } else {
                    (s.min / base.median, s.max / base.median)
                };
                bars.push(Bar {
                    label: chart_label(run),
                    ratio: Self::ratio(w, s.median, base.median),
                    low,
                    high,
                    tool: tool(run),
                });
            }
            if !bars.is_empty() {
                groups.push(Group {
                    title: format!(
                        "{} (vs {})",
                        section.short,
                        match section.baseline {
                            Run::Container(Policy::None) | Run::Podman(Policy::None) => {
                                "unconfined"
                            }
                            Run::Container(_) => "docker run",
                            _ => "untraced",
                        }
                    ),
                    bars,
                });
            }
        }
        groups
    }

    fn machine(&self, md: &mut String) -> Result<()> {
        writeln!(md, "## Machine")?;
        writeln!(md)?;
        let Machine {
            cpu,
            cores,
            memory,
            kernel,
            debian,
            spectre,
            tools,
            libseccomp,
        } = self.machine;
        writeln!(md, "| | |")?;
        writeln!(md, "| --- | --- |")?;
        writeln!(md, "| CPU | {cpu}, {cores} cores (a VM) |")?;
        writeln!(md, "| memory | {memory} |")?;
        writeln!(md, "| OS | Debian {debian}, kernel {kernel} |")?;
        writeln!(md, "| Spectre v2 mitigation | {spectre} |")?;
        for (what, version) in tools {
            writeln!(md, "| {what} | {version} |")?;
        }
        writeln!(md, "| libseccomp | {libseccomp} |")?;
        writeln!(md, "| syscall-profile | commit {} |", self.outcome.commit)?;
        writeln!(
            md,
            "| load average (1, 5, 15 min) at each round's start, and at the end | {} |",
            self.outcome.load_averages.join("; ")
        )?;
        writeln!(md)?;
        let busy = &self.outcome.busy;
        write!(
            md,
            "The machine is shared: before each measurement the benchmark waits (up to 20 s, \
             4 min in all) until other processes use at most {:.0} % of the CPUs. It waited \
             {:.0} s in all; ",
            BUSY_SHARE * 100.0,
            busy.waited.as_secs_f64()
        )?;
        if busy.busy.is_empty() {
            writeln!(
                md,
                "all {} measurements started on quiet CPUs.",
                busy.measurements
            )?;
        } else {
            let mut shares = busy.busy.clone();
            shares.sort_by(f64::total_cmp);
            writeln!(
                md,
                "{} of {} measurements started while others still used more (median {:.0} %, \
                 up to {:.0} % of the CPUs): their figures are less reliable than the rest.",
                shares.len(),
                busy.measurements,
                shares[shares.len() / 2] * 100.0,
                shares[shares.len() - 1] * 100.0
            )?;
        }
        writeln!(md)?;
        write!(
            md,
            "Before each measurement it also waits until no other eBPF tracing program is \
             loaded: the kernel frees an ended recorder's program a moment after the process \
             ends ({} measurements waited for that, less than 2 s each)",
            busy.short_waits
        )?;
        if self.outcome.foreign_programs.is_empty() {
            writeln!(md, "; no longer wait was needed.")?;
        } else {
            writeln!(
                md,
                "; longer waits, or programs that stayed (they slow every syscall of the \
                 host, baselines included): {}.",
                self.outcome.foreign_programs.join("; ")
            )?;
        }
        writeln!(md)?;
        Ok(())
    }

    fn memory(&self, md: &mut String) -> Result<()> {
        let memory = &self.outcome.memory;
        writeln!(md, "## Memory")?;
        writeln!(md)?;
        writeln!(
            md,
            "Peak resident set of the recorder (`VmHWM` from `/proc/PID/status`, read every \
             10 ms while it runs and right before a server is shut down; for `/bin/true`, \
             `ru_maxrss` from wait4(2), which covers the recorder and `/bin/true`, taken by a \
             small process in between: a child's `ru_maxrss` starts from its parent's peak, \
             which would be the benchmark's own):"
        )?;
        writeln!(md)?;
        writeln!(md, "| recording of | runs | median | max |")?;
        writeln!(md, "| --- | ---: | ---: | ---: |")?;
        for (what, values) in &memory.recorder_kib {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let median = sorted[sorted.len() / 2];
            let max = sorted[sorted.len() - 1];
            writeln!(
                md,
                "| {what} | {} | {:.1} MiB | {:.1} MiB |",
                sorted.len(),
                mib(median),
                mib(max)
            )?;
        }
        if let Some(max) = memory.bpftrace_kib.iter().max() {
            writeln!(
                md,
                "| *bpftrace, for comparison* | {} | | {:.1} MiB |",
                memory.bpftrace_kib.len(),
                mib(*max)
            )?;
        }
        writeln!(md)?;
        if let Some((before, after)) = memory.btf_parse_kib {
            writeln!(
                md,
                "Most of that peak is not the recorder's work: aya's loader (`EbpfLoader::new`) \
                 parses the whole of the kernel's BTF (`/sys/kernel/btf/vmlinux`) at every load, \
                 whether the object needs it or not (aya issue #1172); the recorder reads the \
                 few offsets and type ids it needs itself, in one pass that keeps none of the \
                 rest (the BTF tracepoint is attached through a small BTF that holds only its \
                 id, not a second parse). A fresh process that only parses it, with aya-obj as the loader does, goes from {:.1} to \
                 {:.1} MiB: {:+.1} MiB, the floor of any recorder built on aya 0.14.",
                mib(before),
                mib(after),
                mib(after.saturating_sub(before))
            )?;
            writeln!(md)?;
        }
        if !memory.bpf.is_empty() {
            writeln!(
                md,
                "eBPF maps and programs in the kernel, from the holder's `/proc/PID/fdinfo` \
                 (`memlock` is the kernel's own estimate of what each takes; names from \
                 `bpftool`):"
            )?;
            writeln!(md)?;
            writeln!(
                md,
                "| held by | map | type | key | value | entries | memlock |"
            )?;
            writeln!(md, "| --- | --- | --- | ---: | ---: | ---: | ---: |")?;
            for (holder, objects) in &memory.bpf {
                let mut maps = 0;
                for o in objects.iter().filter(|o| o.kind == "map") {
                    maps += o.memlock;
                    writeln!(
                        md,
                        "| {holder} | `{}` | {} | {} | {} | {} | {:.1} KiB |",
                        o.name,
                        o.type_name,
                        o.key_size,
                        o.value_size,
                        o.max_entries,
                        o.memlock as f64 / 1024.0
                    )?;
                }
                let progs: Vec<_> = objects.iter().filter(|o| o.kind == "prog").collect();
                let prog_bytes: u64 = progs.iter().map(|o| o.memlock).sum();
                writeln!(
                    md,
                    "| **{holder}: all maps** | | | | | | **{:.1} KiB** |",
                    maps as f64 / 1024.0
                )?;
                writeln!(
                    md,
                    "| {holder}: {} program(s) | | | | | | {:.1} KiB |",
                    progs.len(),
                    prog_bytes as f64 / 1024.0
                )?;
            }
            writeln!(md)?;
        }
        Ok(())
    }

    fn profile_sizes(&self, md: &mut String) -> Result<()> {
        writeln!(md, "## Profile size")?;
        writeln!(md)?;
        writeln!(
            md,
            "The learned profile of each workload (from the learning run before the rounds) \
             against Docker's default profile on this host (amd64, Docker's default \
             capabilities, this kernel), as `syscall-profile diff --format json PROFILE` \
             evaluates it:"
        )?;
        writeln!(md)?;
        writeln!(
            md,
            "| learned from | syscalls allowed | Docker's default allows | of those, left out | \
             needed but denied by Docker's default | needed, allowed by Docker only with argument checks |"
        )?;
        writeln!(md, "| --- | ---: | ---: | ---: | --- | --- |")?;
        for (what, path) in &self.outcome.learned {
            let allowed = count_allowed(path);
            match diff(&self.outcome.recorder, path) {
                Ok(d) => writeln!(
                    md,
                    "| {what} | {} | {} | {} | {} | {} |",
                    allowed.map_or("?".to_owned(), |n| n.to_string()),
                    d.baseline_allowed,
                    d.removed,
                    names_or_none(&d.denied_needed),
                    names_or_none(&d.conditional)
                )?,
                Err(e) => writeln!(
                    md,
                    "| {what} | {} | `diff` failed: {} | | | |",
                    allowed.map_or("?".to_owned(), |n| n.to_string()),
                    format!("{e:#}").replace('|', "/")
                )?,
            }
        }
        writeln!(md)?;
        writeln!(
            md,
            "The shared notes count Docker's default on amd64 as 292 syscalls allowed \
             unconditionally and 3 with argument checks, from the names the profile lists; \
             `diff` counts the allowed native syscalls of this kernel's table, which has \
             syscalls newer than that count."
        )?;
        writeln!(md)?;
        Ok(())
    }

    /// The medians of `run` and `other` on `workload`, each minus the
    /// untraced baseline's, and that baseline.
    fn added_costs(&self, workload: Workload, run: Run, other: Run) -> Option<(f64, f64, f64)> {
        let base = self.median(workload, Run::Untraced)?;
        let added = self.median(workload, run)? - base;
        Some((base, added, self.median(workload, other)? - base))
    }

    /// The floor the recorder's hook has: the empty program on the hook its
    /// counting program used (from the `bpf-stats` part, or else from the
    /// programs a recording held), and how that is shown.
    fn recorder_hook(&self) -> (Neighbour, String) {
        let tracing = |type_name: &str| match type_name {
            "tracing" => Some(true),
            "raw_tracepoint" => Some(false),
            _ => None,
        };
        let from_stats = self
            .outcome
            .prog_stats
            .samples
            .get(&StatCase::Recorded)
            .and_then(|rounds| rounds.first())
            .and_then(|programs| programs.first())
            .and_then(|p| tracing(&p.type_name));
        let from_memory = || {
            let objects = self.outcome.memory.bpf.get("record (native)")?;
            let programs = || objects.iter().filter(|o| o.kind == "prog");
            // The counting program is the one on sys_enter, by its name.
            if let Some(enter) = programs().find(|o| o.name.contains("sys_enter")) {
                return tracing(&enter.type_name);
            }
            let programs: Vec<&str> = programs().map(|o| o.type_name.as_str()).collect();
            if programs.contains(&"raw_tracepoint") {
                Some(false)
            } else if programs.contains(&"tracing") {
                Some(true)
            } else {
                None
            }
        };
        match from_stats.or_else(from_memory) {
            Some(true) => (
                Neighbour::EmptyBtfTracepoint,
                "`tp_btf/sys_enter`, from the recorder's programs".to_owned(),
            ),
            Some(false) => (
                Neighbour::EmptyRawTracepoint,
                "`raw_tp/sys_enter`, from the recorder's programs".to_owned(),
            ),
            None => (
                Neighbour::EmptyRawTracepoint,
                "`raw_tp/sys_enter`, assumed: this run did not see the recorder's programs"
                    .to_owned(),
            ),
        }
    }

    /// Per program (by name, in the order first seen) of a `bpf-stats`
    /// case: its type, and per round its runs and ns per run.
    fn stat_programs(&self, case: StatCase) -> Vec<StatProgram> {
        let mut programs: Vec<StatProgram> = Vec::new();
        for round in self
            .outcome
            .prog_stats
            .samples
            .get(&case)
            .into_iter()
            .flatten()
        {
            for p in round {
                let per_run = p.run_time_ns as f64 / p.runs.max(1) as f64;
                match programs.iter_mut().find(|(name, ..)| *name == p.name) {
                    Some((.., values)) => values.push((p.runs, per_run)),
                    None => programs.push((
                        p.name.clone(),
                        p.type_name.clone(),
                        vec![(p.runs, per_run)],
                    )),
                }
            }
        }
        programs
    }

    /// What a `bpf-stats` case's programs cost per syscall of the loop: per
    /// round, the sum of ns per run of the programs that ran on (nearly)
    /// every syscall — at least as often as the loop's calls — and how many
    /// such programs there were.
    fn per_syscall(&self, case: StatCase) -> Option<(Stat, usize)> {
        let calls = self.outcome.prog_stats.calls;
        let rounds = self.outcome.prog_stats.samples.get(&case)?;
        let mut sums = Vec::new();
        let mut count = 0;
        for round in rounds {
            let every: Vec<&ProgSample> = round.iter().filter(|p| p.runs >= calls).collect();
            if every.is_empty() {
                continue;
            }
            count = count.max(every.len());
            sums.push(
                every
                    .iter()
                    .map(|p| p.run_time_ns as f64 / p.runs as f64)
                    .sum::<f64>(),
            );
        }
        Stat::of(&sums).map(|s| (s, count))
    }

    /// The empty program whose floor a `bpf-stats` case is set against.
    fn stat_floor(&self, case: StatCase) -> Option<(StatCase, f64)> {
        let type_name = self
            .outcome
            .prog_stats
            .samples
            .get(&case)?
            .first()?
            .first()?
            .type_name
            .clone();
        let floor = if type_name == "tracing" {
            StatCase::EmptyBtfTracepoint
        } else {
            StatCase::EmptyRawTracepoint
        };
        Some((floor, self.per_syscall(floor)?.0.median))
    }

    /// The `bpf-stats` section.
    fn prog_stats(&self, md: &mut String) -> Result<()> {
        let stats = &self.outcome.prog_stats;
        if stats.samples.is_empty() && stats.failures.is_empty() {
            return Ok(());
        }
        writeln!(
            md,
            "## The programs' own cost per run (the kernel's eBPF run statistics)"
        )?;
        writeln!(md)?;
        writeln!(
            md,
            "Each eBPF program's `run_time_ns` and `run_cnt`, from the `/proc/PID/fdinfo` of \
             the process that holds it, read right before and right after a getppid-loop of {} \
             calls, {} round(s). The statistics were on only for these measurements: switched \
             on with bpf(2) `BPF_ENABLE_STATS`, which the kernel keeps on only while the \
             benchmark holds the descriptor it returns (so they go off on every path, a signal \
             or a crash included); `kernel.bpf_stats_enabled` read {} before the part and {} \
             after it. These counters time only the program itself, not the hook that calls \
             it, so they are far steadier than the end-to-end figures; with statistics on, \
             the kernel also reads the clock twice around every run of every program, the \
             same for all rows, so the differences between rows are what count (the empty \
             program, two instructions, is almost all that overhead). The counts \
             are of every task's syscalls in the window (the machine's other processes too), \
             so a recorder's figure mixes its cheap exit for other tasks into the recorded \
             process's.",
            stats.calls, self.outcome.rounds, stats.sysctl_before, stats.sysctl_after
        )?;
        writeln!(md)?;
        writeln!(
            md,
            "| measurement | program | type | runs (median) | ns per run (median) | range |"
        )?;
        writeln!(md, "| --- | --- | --- | ---: | ---: | ---: |")?;
        for case in StatCase::ALL {
            if let Some(error) = stats.failures.get(&case) {
                writeln!(
                    md,
                    "| {} | failed: {} | | | | |",
                    case.label(),
                    error.replace('|', "/")
                )?;
            }
            if stats
                .samples
                .get(&case)
                .is_some_and(|rounds| rounds.iter().all(|programs| programs.is_empty()))
            {
                writeln!(
                    md,
                    "| {} | none: no program of it ran during the loop | | | | |",
                    case.label()
                )?;
            }
            for (name, type_name, values) in self.stat_programs(case) {
                let mut runs: Vec<f64> = values.iter().map(|&(r, _)| r as f64).collect();
                runs.sort_by(f64::total_cmp);
                let Some(per_run) = Stat::of(&values.iter().map(|&(_, v)| v).collect::<Vec<_>>())
                else {
                    continue;
                };
                writeln!(
                    md,
                    "| {} | `{name}` | {type_name} | {:.0} | {:.1} | {:.1}–{:.1} |",
                    case.label(),
                    median(&runs),
                    per_run.median,
                    per_run.min,
                    per_run.max
                )?;
            }
        }
        writeln!(md)?;
        writeln!(
            md,
            "Per syscall of the loop: the programs that ran at least once per call (those on \
             every syscall; the others run on exec or exit), summed, against the empty program \
             on the same hook (times the number of such programs):"
        )?;
        writeln!(md)?;
        writeln!(
            md,
            "| measurement | ns per syscall (median) | range | above the empty program |"
        )?;
        writeln!(md, "| --- | ---: | ---: | ---: |")?;
        for case in StatCase::ALL {
            let Some((stat, count)) = self.per_syscall(case) else {
                continue;
            };
            let above = match (case, self.stat_floor(case)) {
                (StatCase::EmptyRawTracepoint | StatCase::EmptyBtfTracepoint, _) => {
                    "(the floor)".to_owned()
                }
                (_, Some((floor, ns))) => format!(
                    "{:+.1} ({}{})",
                    stat.median - ns * count as f64,
                    if count > 1 {
                        format!("{count} × ")
                    } else {
                        String::new()
                    },
                    floor.label()
                ),
                (_, None) => "?".to_owned(),
            };
            writeln!(
                md,
                "| {} | {:.1} | {:.1}–{:.1} | {above} |",
                case.label(),
                stat.median,
                stat.min,
                stat.max
            )?;
        }
        writeln!(md)?;
        Ok(())
    }

    /// `bpf-stats` per syscall of `case` above its floor: (above, figure, floor).
    fn stat_above(&self, case: StatCase) -> Option<(f64, f64, f64, usize)> {
        let (stat, count) = self.per_syscall(case)?;
        let (_, floor) = self.stat_floor(case)?;
        Some((
            stat.median - floor * count as f64,
            stat.median,
            floor,
            count,
        ))
    }

    /// "…; the rounds' ranges are wider than the target" when the
    /// end-to-end noise hides a difference of `target`.
    fn noise_note(&self, cases: &[Case], target: f64) -> String {
        let widths: Vec<String> = cases
            .iter()
            .filter_map(|&c| {
                let s = self.stat(c)?;
                (s.max - s.min > target)
                    .then(|| format!("{} {:.1} ns", run_label(c.run), s.max - s.min))
            })
            .collect();
        if widths.is_empty() {
            String::new()
        } else {
            format!(
                "; the rounds' ranges are wider than the {target:.0} ns target ({}), so this \
                 end-to-end verdict is within the noise",
                widths.join(", ")
            )
        }
    }

    fn targets(&self) -> Vec<Target> {
        use Run::*;
        use Workload::*;
        let mut targets = Vec::new();
        let m = |w, r| self.median(w, r);
        let (floor, _) = self.recorder_hook();
        let floor_case = Case::new(Micro, Beside(floor));
        let floor_name = match floor {
            Neighbour::EmptyBtfTracepoint => "tp_btf/sys_enter",
            _ => "raw_tp/sys_enter",
        };

        // 1. Recording: the recorded process and every other one, against
        // the floor of the recorder's hook.
        for (what, run, stat_case, limit) in [
            (
                "the recorded process (getppid-loop)",
                Record,
                StatCase::Recorded,
                20.0,
            ),
            (
                "a process outside the recording",
                Beside(Neighbour::Record),
                StatCase::RecordOutside,
                5.0,
            ),
        ] {
            let case = Case::new(Micro, run);
            targets.push(Target::new(
                format!("recording costs {what} ≤ the empty hook + {limit:.0} ns (end-to-end)"),
                m(Micro, run).zip(m(Micro, Beside(floor))).map(|(rec, fl)| {
                    let over = rec - fl;
                    (
                        over <= limit,
                        format!(
                            "{rec:.1} ns/call against {fl:.1} beside the empty \
                             `{floor_name}` program: {over:+.1} ns{}",
                            self.noise_note(&[case, floor_case], limit)
                        ),
                    )
                }),
            ));
            targets.push(Target::new(
                "… the same in the kernel's accounting (bpf-stats)".to_owned(),
                self.stat_above(stat_case).map(|(above, figure, fl, _)| {
                    let identity = self.stat_above(StatCase::BtfCurrentTask).map_or(
                        String::new(),
                        |(task_above, _, _, _)| {
                            format!(
                                "; asking for the calling task alone costs {task_above:+.1} \
                                 ns, the floor of any test of which task calls (see *What \
                                 limits the cost*)"
                            )
                        },
                    );
                    (
                        above <= limit,
                        format!(
                            "the recorder's program {figure:.1} ns a run, the empty program \
                             {fl:.1}: {above:+.1} ns{identity}"
                        ),
                    )
                }),
            ));
        }

        // 2. Argument capture. A syscall outside the captured set, recorded
        // with capture and with none (`--args names`): nothing more where
        // the rounds' ranges overlap, or the difference is within either
        // run's own range.
        targets.push(Target::new(
            "argument capture: a syscall outside the captured set costs nothing more \
             (getppid-loop under `record` against `record --args names`, which has no \
             capture; end-to-end)",
            self.stat(Case::new(Micro, Record))
                .zip(self.stat(Case::new(Micro, RecordNoCapture)))
                .map(|(with, without)| {
                    let extra = with.median - without.median;
                    let overlap = with.min <= without.max && without.min <= with.max;
                    let spread = (with.max - with.min).max(without.max - without.min);
                    (
                        overlap || extra <= spread,
                        format!(
                            "{:.1} ({:.1}–{:.1}) against {:.1} ({:.1}–{:.1}) ns/call: \
                             {extra:+.1} ns; {}",
                            with.median,
                            with.min,
                            with.max,
                            without.median,
                            without.min,
                            without.max,
                            if overlap {
                                "the ranges overlap"
                            } else {
                                "the ranges do not overlap"
                            }
                        ),
                    )
                }),
        ));
        targets.push(Target::new(
            "… the same in the kernel's accounting (bpf-stats)",
            self.per_syscall(StatCase::Recorded)
                .zip(self.per_syscall(StatCase::RecordedNoCapture))
                .map(|((with, _), (without, _))| {
                    let extra = with.median - without.median;
                    let spread = (with.max - with.min).max(without.max - without.min);
                    (
                        extra <= spread,
                        format!(
                            "the recorder's program {:.1} ns a run on getppid with capture, \
                             {:.1} without: {extra:+.1} ns (the rounds' widest range {spread:.1} \
                             ns)",
                            with.median, without.median
                        ),
                    )
                }),
        ));
        if let (Some((_, captured, _)), Some((_, uncaptured, _))) = (
            self.added_costs(Captured, Record, Record),
            self.added_costs(Micro, Record, Record),
        ) {
            let extra = captured - uncaptured;
            targets.push(Target::new(
                "argument capture adds ≤ 30 ns to a captured call (captured-loop against \
                 getppid-loop, both recorded; end-to-end)",
                Some((
                    extra <= 30.0,
                    format!(
                        "record adds {captured:.1} ns to a captured prctl, {uncaptured:.1} ns \
                         to an uncaptured getppid: capture costs {extra:.1} ns a call{}",
                        self.noise_note(
                            &[Case::new(Captured, Record), Case::new(Micro, Record)],
                            30.0
                        )
                    ),
                )),
            ));
        } else {
            targets.push(Target::new(
                "argument capture adds ≤ 30 ns to a captured call (end-to-end)",
                None,
            ));
        }
        targets.push(Target::new(
            "… the same in the kernel's accounting (bpf-stats)",
            self.per_syscall(StatCase::RecordedCaptured)
                .zip(self.per_syscall(StatCase::Recorded))
                .map(|((captured, _), (plain, _))| {
                    let extra = captured.median - plain.median;
                    (
                        extra <= 30.0,
                        format!(
                            "the recorder's program {:.1} ns a run on prctl, {:.1} on getppid: \
                             {extra:+.1} ns",
                            captured.median, plain.median
                        ),
                    )
                }),
        ));

        // 3. Enforcing: the explanation of denials on an allowed call, above
        // the filter alone where it was measured (the watch's cost, not the
        // filter's), else above the untraced run.
        let floor = self
            .median(Micro, SeccompFilter)
            .map(|filter| (filter, SeccompFilter))
            .or_else(|| self.median(Micro, Untraced).map(|base| (base, Untraced)));
        let watches = self
            .median(Micro, Enforce(Policy::None))
            .zip(self.median(Micro, EnforceKernelWatch(Policy::None)));
        targets.push(Target::new(
            "`enforce`'s denial watch adds ≤ 30 ns to an allowed call (native, getppid-loop, \
             allow-all profile, against the filter alone)",
            floor.zip(watches).map(|((floor, floor_run), (listener, kernel))| {
                let added = listener - floor;
                let filter_text = match (floor_run, self.median(Micro, Untraced)) {
                    (SeccompFilter, Some(base)) => format!(
                        "{listener:.1} against {floor:.1} ns/call under the filter alone, which \
                         itself adds {:+.1} ns to an untraced call",
                        floor - base
                    ),
                    _ => "filter included: the filter alone was not measured".to_owned(),
                };
                (
                    added <= 30.0,
                    format!(
                        "the seccomp listener adds {added:+.1} ns a call ({filter_text}); the eBPF \
                         watch (`--watch kernel`) {:+.1} ns{}",
                        kernel - floor,
                        self.noise_note(
                            &[
                                Case::new(Micro, Enforce(Policy::None)),
                                Case::new(Micro, floor_run)
                            ],
                            30.0
                        )
                    ),
                )
            }),
        ));
        // A refused call: the listener's round trip, beside the kernel
        // watch and the filter alone.
        targets.push(Target::new(
            "a refused call costs ≤ 5 µs under `enforce`'s seccomp listener (native, \
             refused-loop, learned profile without sysinfo; end-to-end)",
            m(Refused, EnforceListener(Policy::Learned)).map(|listener| {
                let others = match (
                    m(Refused, EnforceKernelWatch(Policy::Learned)),
                    m(Refused, RefusingFilter),
                ) {
                    (Some(kernel), Some(filter)) => format!(
                        "; under `--watch kernel` {:.2} µs, under the filter alone {:.2} µs",
                        kernel / 1e3,
                        filter / 1e3
                    ),
                    _ => String::new(),
                };
                let floor = m(Refused, HandOff).map_or(String::new(), |floor| {
                    format!(
                        "; two threads handing a byte back and forth take {:.2} µs a round trip \
                         here, the floor of any listener",
                        floor / 1e3
                    )
                });
                (
                    listener <= 5_000.0,
                    format!("{:.2} µs a refused call{others}{floor}", listener / 1e3),
                )
            }),
        ));
        targets.push(Target::new(
            "`enforce`'s denial watch adds ≤ 30 ns to an allowed call (container, getppid-loop, \
             learned profile, against plain `docker run` with it; end-to-end)",
            m(Micro, ContainerEnforce(Policy::Learned))
                .zip(m(Micro, Container(Policy::Learned)))
                .map(|(enforced, plain)| {
                    let added = enforced - plain;
                    (
                        added <= 30.0,
                        format!(
                            "{enforced:.1} against {plain:.1} ns/call: the eBPF watch adds \
                             {added:+.1} ns{}",
                            self.noise_note(
                                &[
                                    Case::new(Micro, ContainerEnforce(Policy::Learned)),
                                    Case::new(Micro, Container(Policy::Learned))
                                ],
                                30.0
                            )
                        ),
                    )
                }),
        ));
        targets.push(Target::new(
            "`enforce`'s denial watch adds ≤ 30 ns to an allowed call (container, podman, \
             listener; getppid-loop, profile learned in podman, against plain `podman run` with \
             it; end-to-end)",
            m(Micro, PodmanEnforce(Policy::Learned))
                .zip(m(Micro, Podman(Policy::Learned)))
                .map(|(enforced, plain)| {
                    let added = enforced - plain;
                    let kernel = m(Micro, PodmanEnforceKernelWatch(Policy::Learned)).map_or(
                        String::new(),
                        |k| {
                            format!(
                                "; the same container under the eBPF watch (`--watch kernel`): \
                                 {k:.1} ns/call, {:+.1} ns",
                                k - plain
                            )
                        },
                    );
                    (
                        added <= 30.0,
                        format!(
                            "{enforced:.1} against {plain:.1} ns/call: the seccomp listener adds \
                             {added:+.1} ns{kernel}{}",
                            self.noise_note(
                                &[
                                    Case::new(Micro, PodmanEnforce(Policy::Learned)),
                                    Case::new(Micro, Podman(Policy::Learned))
                                ],
                                30.0
                            )
                        ),
                    )
                }),
        ));
        targets.push(Target::new(
            "… the eBPF watch's programs in the kernel's accounting (bpf-stats; the hooks' \
             floor comes on top)",
            self.per_syscall(StatCase::KernelWatch)
                .map(|(stat, count)| {
                    let floor = self
                        .stat_floor(StatCase::KernelWatch)
                        .map(|(_, f)| f * count as f64);
                    (
                        stat.median <= 30.0,
                        format!(
                            "{count} program(s) on every syscall: {:.1} ns a syscall in all{}",
                            stat.median,
                            floor.map_or(String::new(), |f| format!(
                                ", {:+.1} ns above as many empty programs",
                                stat.median - f
                            ))
                        ),
                    )
                }),
        ));
        for (what, neighbour, case) in [
            (
                "native: the seccomp listener",
                Neighbour::Enforce,
                StatCase::EnforceOutside,
            ),
            (
                "container: the eBPF watch",
                Neighbour::EnforceContainer,
                StatCase::EnforceContainerOutside,
            ),
            (
                "container, podman, listener",
                Neighbour::EnforcePodman,
                StatCase::EnforcePodmanOutside,
            ),
        ] {
            let base = self.stat(Case::new(Micro, Untraced));
            let beside = self.stat(Case::new(Micro, Beside(neighbour)));
            targets.push(Target::new(
                format!("`enforce` costs processes outside it nothing measurable ({what})"),
                base.zip(beside).map(|(base, beside)| {
                    // Not measurable: the rounds' ranges overlap, or the
                    // difference is within the baseline's own range.
                    let added = beside.median - base.median;
                    let overlap = beside.min <= base.max && base.min <= beside.max;
                    (
                        overlap || added <= base.max - base.min,
                        format!(
                            "the loop outside: {:.1} ({:.1}–{:.1}) against {:.1} ({:.1}–{:.1}) \
                             ns/call untraced, {added:+.1} ns; the ranges {}",
                            beside.median,
                            beside.min,
                            beside.max,
                            base.median,
                            base.min,
                            base.max,
                            if overlap { "overlap" } else { "do not overlap" }
                        ),
                    )
                }),
            ));
            let rounds = self.outcome.prog_stats.samples.get(&case);
            let measured = rounds.map(|rounds| match self.per_syscall(case) {
                None => {
                    let ran: u64 = rounds.iter().flatten().map(|p| p.runs).sum();
                    (
                        true,
                        format!(
                            "no program of `enforce` ran on the loop's syscalls ({ran} runs \
                             in all during the loop, none per call)"
                        ),
                    )
                }
                Some((stat, count)) => (
                    false,
                    format!(
                        "{count} program(s) of `enforce` ran on every syscall of the loop: \
                         {:.1} ns a syscall{}, and the hook's floor with them",
                        stat.median,
                        self.stat_above(case)
                            .map_or(String::new(), |(above, ..)| format!(
                                " ({above:+.1} ns above as many empty programs)"
                            ))
                    ),
                ),
            });
            targets.push(Target::new(
                "… the same in the kernel's accounting (bpf-stats)".to_owned(),
                measured,
            ));
        }

        // 4. Server throughput within the baseline's spread, or the gap
        // explained by what each of the server's syscalls costs.
        let per_syscall = m(Micro, Record)
            .zip(m(Micro, Untraced))
            .map(|(rec, base)| rec - base);
        let outside = m(Micro, Beside(Neighbour::Record))
            .zip(m(Micro, Untraced))
            .map(|(beside, base)| beside - base);
        let client = self.outcome.client_syscalls;
        let (floor_neighbour, _) = self.recorder_hook();
        let floor = m(Micro, Beside(floor_neighbour))
            .zip(m(Micro, Untraced))
            .map(|(hook, base)| hook - base);
        for (what, base_run, rec_run) in [
            ("native", Untraced, Record),
            (
                "in a container",
                Container(Policy::DockerDefault),
                ContainerRecord,
            ),
        ] {
            let base = self.stat(Case::new(Redis, base_run));
            let syscalls = self
                .outcome
                .server_syscalls
                .get(&rec_run)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    let mut sorted = v.clone();
                    sorted.sort_by(f64::total_cmp);
                    sorted[sorted.len() / 2]
                });
            let measured = base.zip(m(Redis, rec_run)).map(|(base, rec)| {
                let loss = 1.0 - rec / base.median;
                let noise = (base.max - base.min) / base.median;
                // The share of the baseline's time per request that the
                // server's own syscalls take at `inside` more each, and the
                // client's at `outside` more each.
                let request_ns = 1e9 / base.median;
                let share = |inside: f64, outside: Option<f64>| {
                    let server = syscalls? * inside;
                    let client = client.zip(outside).map_or(0.0, |(n, ns)| n * ns);
                    Some((server + client) / request_ns)
                };
                let explained = per_syscall.and_then(|ns| share(ns, outside));
                let client_text = match (client, outside) {
                    (Some(n), Some(ns)) => format!(
                        ", and the load's client {n:.1} (recorded once) at the recorder's \
                         {ns:+.0} ns a syscall outside the recording"
                    ),
                    _ => String::new(),
                };
                let explanation = match (syscalls, per_syscall, explained) {
                    (Some(n), Some(ns), Some(explained)) => format!(
                        "; the server makes {n:.1} syscalls a request (its recording's counts) at \
                         the recorder's +{ns:.0} ns a syscall (getppid-loop){client_text}: \
                         {:.1} % of the baseline's {:.1} µs a request{}",
                        explained * 100.0,
                        request_ns / 1e3,
                        floor
                            .and_then(|f| share(f, floor))
                            .map_or(String::new(), |f| format!(
                                " (the hook's floor alone: {:.1} %)",
                                f * 100.0
                            ))
                    ),
                    _ => String::new(),
                };
                let within = loss <= noise;
                let by_cost = explained.is_some_and(|e| loss <= noise + e);
                let detail = format!(
                    "throughput {:+.1} % (median {rec:.0} against {:.0} requests/s); the \
                     baseline's own rounds span {:.1} % of its median{}{explanation}{}",
                    -loss * 100.0,
                    base.median,
                    noise * 100.0,
                    if within {
                        String::new()
                    } else {
                        format!(": {:.1} points beyond it", (loss - noise) * 100.0)
                    },
                    if !within && by_cost {
                        ": the gap beyond the spread is what the syscalls cost"
                    } else {
                        ""
                    }
                );
                (within || by_cost, detail)
            });
            targets.push(Target::new(
                format!(
                    "server throughput under `record` within the baseline's spread, or the gap \
                     explained by the per-syscall cost ({what})"
                ),
                measured,
            ));
        }

        // 5. Memory.
        let peak = self
            .outcome
            .memory
            .recorder_kib
            .values()
            .flatten()
            .max()
            .copied();
        targets.push(Target::new(
            "recorder's peak RSS < 30 MiB",
            peak.map(|kib| {
                (
                    mib(kib) < 30.0,
                    format!("highest of all recordings: {:.1} MiB", mib(kib)),
                )
            }),
        ));
        // The soak part's rows, when it ran.
        if let Some(soak) = &self.outcome.soak {
            // What the maps of one holder take in all.
            let maps_of = |holder: &str| -> Option<u64> {
                self.outcome.memory.bpf.get(holder).map(|objects| {
                    objects
                        .iter()
                        .filter(|o| o.kind == "map")
                        .map(|o| o.memlock)
                        .sum()
                })
            };
            // The issue's level is a native recording's.
            let native_peak = self
                .outcome
                .memory
                .recorder_kib
                .iter()
                .filter(|(what, _)| !what.contains("container"))
                .flat_map(|(_, values)| values)
                .max()
                .copied();
            for (name, measured) in super::soak::targets(
                Some(soak),
                native_peak,
                maps_of("record (native)"),
                maps_of("record --args names (native)"),
                self.outcome.memory.btf_parse_kib,
            ) {
                targets.push(Target::new(name, measured));
            }
        }
        targets
    }

    /// What limits the misses, with this run's figures.
    fn limits(&self, md: &mut String) -> Result<()> {
        use Run::*;
        use Workload::*;
        let m = |w, r| self.median(w, r);
        let Some(base) = m(Micro, Untraced) else {
            return Ok(());
        };
        let added = |r| m(Micro, r).map(|v| v - base);
        let width = |r| self.stat(Case::new(Micro, r)).map(|s| s.max - s.min);
        let ns = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} ns"));
        let signed = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:+.0} ns"));
        let raw = added(Beside(Neighbour::EmptyRawTracepoint));
        let btf = added(Beside(Neighbour::EmptyBtfTracepoint));
        let (floor_neighbour, floor_source) = self.recorder_hook();
        let floor = added(Beside(floor_neighbour));
        let floor_name = match floor_neighbour {
            Neighbour::EmptyBtfTracepoint => "tp_btf/sys_enter",
            _ => "raw_tp/sys_enter",
        };
        let fentry = added(Beside(Neighbour::EmptyFentry));
        let tp = added(Beside(Neighbour::EmptyTracepoint));
        let rec_out = added(Beside(Neighbour::Record));
        let bt_out = added(Beside(Neighbour::Bpftrace));
        let rec_in = added(Record);
        let bt_in = added(Bpftrace);
        let watch = added(Enforce(Policy::None));
        let kernel_watch = added(EnforceKernelWatch(Policy::None));
        let filter_alone = added(SeccompFilter);
        // A podman container's watches against plain `podman run` with the
        // same profile.
        let podman_plain = m(Micro, Podman(Policy::Learned));
        let podman_added = |r| m(Micro, r).zip(podman_plain).map(|(v, p)| v - p);
        let podman_listener = podman_added(PodmanEnforce(Policy::Learned));
        let podman_kernel = podman_added(PodmanEnforceKernelWatch(Policy::Learned));
        let docker_kernel = m(Micro, ContainerEnforce(Policy::Learned))
            .zip(m(Micro, Container(Policy::Learned)))
            .map(|(v, p)| v - p);
        let podman_outside = added(Beside(Neighbour::EnforcePodman));
        let docker_outside = added(Beside(Neighbour::EnforceContainer));
        writeln!(md, "## What limits the cost, and what would lower it")?;
        writeln!(md)?;
        writeln!(
            md,
            "- **The hook, not the program.** Enabling any `raw_syscalls` tracepoint marks \
             every task of the host for the slow syscall path (`SYSCALL_WORK_SYSCALL_TRACEPOINT`): \
             entry and exit go through the generic work functions, and each `sys_enter` makes \
             an indirect call into the attached programs (retpolines on this CPU). Here an \
             *empty* program on `raw_tp/sys_enter` adds {} to every getppid of every process, \
             one on `tp_btf/sys_enter` (the same tracepoint, typed by BTF) {}; \
             bpftrace's empty `tracepoint:raw_syscalls:sys_enter {{ }}` adds {} (a classic \
             tracepoint first copies the event record into a per-CPU buffer). The recorder's \
             hook in this run is {floor_source}. Outside the recording, the recorder adds {} \
             ({} over the empty program on its hook) and bpftrace {}. Inside the recording \
             the recorder adds {} ({} over the empty program), bpftrace {}.",
            ns(raw),
            ns(btf),
            ns(tp),
            ns(rec_out),
            ns(rec_out.zip(floor).map(|(a, b)| a - b)),
            ns(bt_out),
            ns(rec_in),
            ns(rec_in.zip(floor).map(|(a, b)| a - b)),
            ns(bt_in),
        )?;
        let stat_text = match (
            self.stat_above(StatCase::Recorded),
            self.stat_above(StatCase::RecordOutside),
        ) {
            (Some((rec_above, rec, fl, _)), Some((out_above, out, _, _))) => format!(
                " In the kernel's own accounting (bpf-stats) the recorder's program takes \
                 {rec:.1} ns a run for the recorded process and {out:.1} ns for every other \
                 one, against {fl:.1} ns for the empty program on the same hook: \
                 {rec_above:+.1} and {out_above:+.1} ns of its own work; the rest of the \
                 end-to-end difference is the hook and the noise of the rounds."
            ),
            _ => String::new(),
        };
        let identity_text = match (
            self.stat_above(StatCase::BtfCurrentTask),
            self.stat_above(StatCase::RecordOutside),
        ) {
            (Some((task_above, task, _, _)), Some((out_above, _, _, _))) => format!(
                " The floor under the floor: a program that does nothing but ask the kernel \
                 for the calling task (`bpf_get_current_task_btf`, the one helper call left in \
                 the recorder's test on `tp_btf`) takes {task:.1} ns a run, {task_above:+.1} \
                 over the empty program; every program that must tell the recorded tasks from \
                 the others pays it on every syscall of the host, so no such program can come \
                 within 5 ns of the empty hook on this machine. The recorder's own work past \
                 it, for a task outside: {:+.1} ns. Only a test that never asks for the task \
                 could go lower, such as a per-CPU flag written at each context switch \
                 (`sched_switch`) for the task switched in; but a running task that another \
                 process moves into the recorded cgroup would then be seen there from the \
                 kernel's `cgroup_attach_task` tracepoint on, which fires after the move, so \
                 the syscalls it makes on another CPU in between would go uncounted: that \
                 trades away exact counts, which issue 14 keeps, so the recorder does not \
                 take it.",
                out_above - task_above
            ),
            _ => String::new(),
        };
        writeln!(
            md,
            "- **Against the floor.** Issue 14 sets the recorder against the floor of its \
             hook (`{floor_name}`, {}): at most 20 ns more for the recorded process, 5 ns more \
             for any other. End to end, the rounds of the floor spanned {}, those of the \
             recorder beside it {}, and in it {}: a difference smaller than those is not \
             resolved by this run's end-to-end figures.{stat_text}{identity_text}",
            ns(floor),
            ns(width(Beside(floor_neighbour))),
            ns(width(Beside(Neighbour::Record))),
            ns(width(Record)),
        )?;
        let fentry_case = Case::new(Micro, Beside(Neighbour::EmptyFentry));
        let fentry_text = match (fentry, self.outcome.failures.get(&fentry_case)) {
            (Some(_), _) => format!(
                "An empty `fentry` program on `x64_sys_call` adds {} to every syscall here, \
                 against {} for the raw tracepoint",
                ns(fentry),
                ns(raw)
            ),
            (None, Some(error)) => format!(
                "It could not be measured on this machine ({}), so this stays to be measured \
                 on a kernel that allows it",
                error.replace('|', "/").trim_end_matches([' ', ':'])
            ),
            (None, None) => "It was not measured in this run".to_owned(),
        };
        writeln!(
            md,
            "- **What would help: a cheaper hook.** The field notes rank `fentry` cheaper than \
             a raw tracepoint: an `fentry` program on `x64_sys_call` (the kernel's syscall \
             dispatch on x86_64 since 6.9, which gets the syscall number as an argument) \
             leaves every other task on the fast syscall path and is entered through a BPF \
             trampoline patched into that one function. {fentry_text}. Counting there would \
             need kernel BTF and a function per architecture (32-bit syscalls enter through \
             `ia32_sys_call`), and it would not see syscalls the kernel rejects before \
             dispatch; the raw tracepoint would stay the portable fallback. A per-cgroup \
             switch for the syscall tracepoints would remove the cost to unwatched processes \
             altogether, but the kernel has none."
        )?;
        if let Some(objects) = self.outcome.memory.bpf.get("record (native)")
            && let Some(lru) = objects
                .iter()
                .find(|o| o.name == "IN_SYSCALL" && o.max_entries > 1)
        {
            writeln!(
                md,
                "- **Kernel memory of a recording.** `record` creates every map of the eBPF \
                 object, also those only `enforce` uses: `IN_SYSCALL`, of {} entries, takes {:.1} MiB of the recording's {:.1} MiB. Giving the unused \
                 maps one entry at load time (aya's `EbpfLoader::set_max_entries`) would \
                 leave a recording about {:.0} KiB.",
                lru.max_entries,
                lru.memlock as f64 / 1024.0 / 1024.0,
                objects
                    .iter()
                    .filter(|o| o.kind == "map")
                    .map(|o| o.memlock)
                    .sum::<u64>() as f64
                    / 1024.0
                    / 1024.0,
                objects
                    .iter()
                    .filter(
                        |o| o.kind == "map" && !matches!(o.name.as_str(), "IN_SYSCALL" | "DENIALS")
                    )
                    .map(|o| o.memlock)
                    .sum::<u64>() as f64
                    / 1024.0
            )?;
        }
        let loss = |base: Option<f64>, rec: Option<f64>| {
            base.zip(rec).map_or("?".to_owned(), |(b, r)| {
                format!("{:+.1} %", (r / b - 1.0) * 100.0)
            })
        };
        writeln!(
            md,
            "- **Recording a container** (redis-server's throughput {} in a container, against \
             {} natively in this run). For a container the recorder also runs a program on \
             `sys_exit` while the runtime sets the container up (every syscall of every task of \
             the host runs it then), to count the runtime's syscalls between its filter install \
             and the entrypoint apart from the workload's; it detaches that program once the \
             entrypoint runs, and looks a process up in the runtime-phase map only while some \
             process is in that phase. Left for the rest of the recording: the same hook and \
             work as a native recording, plus reading the task's seccomp state.",
            loss(
                m(Redis, Container(Policy::DockerDefault)),
                m(Redis, ContainerRecord)
            ),
            loss(m(Redis, Untraced), m(Redis, Record)),
        )?;
        let probes = &self.outcome.probes;
        let probe_text = if probes.is_empty() {
            String::new()
        } else if probes.iter().skip(1).any(|p| p.granted) {
            format!(
                " A hook on the kernel's refusal path would cost an allowed call nothing; \
                 this run's kernel granted one ({}), so the container watch could move there.",
                probes
                    .iter()
                    .skip(1)
                    .filter(|p| p.granted)
                    .map(|p| p.what.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        } else {
            format!(
                " A hook on the kernel's refusal path would cost an allowed call nothing, but \
                 asked for one in this run (on `{}`; {}: {}) the kernel refused every way: {}. \
                 So a Docker container, whose engine drops the listener, keeps its eBPF watch.",
                probes
                    .get(1)
                    .map_or("?", |p| p.what.split('`').nth(1).unwrap_or("?")),
                probes[0].what,
                probes[0].answer,
                probes
                    .iter()
                    .skip(1)
                    .map(|p| format!("{}: {}", p.what, p.answer.replace('|', "/")))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        writeln!(
            md,
            "- **`enforce`'s cost was its denial watch, not the filter.** Natively, \
             `syscall-profile enforce --watch kernel` with an allow-all profile adds {} a \
             call: its eBPF watch runs a program on every `sys_enter` and `sys_exit` of the \
             command and notes in a map which syscall each task is in, to tell a denied \
             syscall (which never reaches `sys_enter`) from one that failed on its own. The \
             default for a native program is now a seccomp listener: the filter hands each \
             call it refuses to the tool (`SCMP_ACT_NOTIFY`), which answers it with the \
             profile's errno, so an allowed call costs only the filter: {} here{}. Profiles \
             that kill or trap keep the eBPF watch: the kernel carries out their refusals \
             itself.{probe_text}",
            ns(kernel_watch),
            ns(watch),
            filter_alone.map_or(String::new(), |f| format!(
                ", against {} for a one-instruction filter that allows everything, installed \
                 with no tool at all",
                ns(Some(f))
            ))
        )?;
        writeln!(
            md,
            "- **A container's listener: podman and `ctr run`, not Docker 20.10.** The engine \
             installs a container's filter, so the tool's listener gets into it only through \
             the runtime spec: `enforce` gives the engine the profile with its refusals as \
             `SCMP_ACT_NOTIFY` and the OCI `listenerPath` of a socket of its own, and runc \
             sends it the filter's listener. podman and `ctr` pass `listenerPath` on; in a \
             podman container, against plain `podman run` with the same profile, the \
             listener adds {} a call and the eBPF watch (`--watch kernel`) {}; beside it, a \
             process outside pays {} with the listener (a Docker container's eBPF watch: {} \
             outside, {} inside). The Docker engine 20.10 drops `listenerPath` from the spec it \
             hands runc, which then refuses the container (`listenerPath is not set`), so a \
             Docker container keeps the eBPF watch, two hooks on every syscall of the host. \
             A profile that allows a syscall only under argument conditions keeps the eBPF \
             watch too: a call failing the conditions falls to the default action, and runc \
             refuses `SCMP_ACT_NOTIFY` as the default action, so such a refusal could not \
             reach the listener and would go unreported (`--watch auto` says so and takes \
             the eBPF watch; a profile recorded with `--args names` has no conditions).",
            signed(podman_listener),
            signed(podman_kernel),
            signed(podman_outside),
            signed(docker_outside),
            signed(docker_kernel)
        )?;
        writeln!(
            md,
            "- **Learned against default.** Since Linux 5.11 a syscall whose verdict depends \
             only on its number is answered from a per-architecture bitmap without running \
             the filter, for both profiles alike; only syscalls with argument checks (Docker's \
             default has a few: `socket`, `personality`, `clone`) run the filter. So a learned \
             profile and Docker's default should cost about the same for the syscalls a \
             workload makes most; the targets above say whether this run's differences stay \
             within the rounds' range."
        )?;
        writeln!(md)?;
        Ok(())
    }

    fn run_notes(&self, md: &mut String) -> Result<()> {
        if self.outcome.notes.is_empty() && self.outcome.failures.is_empty() {
            return Ok(());
        }
        writeln!(md, "## Messages from the run")?;
        writeln!(md)?;
        if self.outcome.docker_default.is_some() {
            writeln!(
                md,
                "Native enforcement under Docker's default profile read the copy in \
                 `shared/reference/docker-default-seccomp.json` beside the workspace at run time."
            )?;
            writeln!(md)?;
        }
        for note in &self.outcome.notes {
            writeln!(md, "- `{}`", note.replace('`', "'"))?;
        }
        for (case, error) in &self.outcome.failures {
            writeln!(md, "- {case} failed: {}", error.replace('`', "'"))?;
        }
        writeln!(md)?;
        Ok(())
    }
}

/// A Markdown table row; an empty cell is a single space between bars.
fn table_row(cells: &[String]) -> String {
    cells.iter().fold("|".to_owned(), |row, cell| {
        if cell.is_empty() {
            row + " |"
        } else {
            format!("{row} {cell} |")
        }
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn read_trim(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| "not installed".to_owned())
}

fn package_version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The names a profile allows, counted from its JSON.
fn count_allowed(path: &Path) -> Option<usize> {
    let text = fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let mut names = std::collections::BTreeSet::new();
    for rule in value.get("syscalls")?.as_array()? {
        if rule.get("action").and_then(|a| a.as_str()) == Some("SCMP_ACT_ALLOW") {
            for name in rule.get("names")?.as_array()? {
                names.insert(name.as_str()?.to_owned());
            }
        }
    }
    Some(names.len())
}

struct Diff {
    baseline_allowed: u64,
    removed: u64,
    denied_needed: Vec<String>,
    conditional: Vec<String>,
}

/// `syscall-profile diff --format json PROFILE` against Docker's default.
fn diff(recorder: &PathBuf, profile: &Path) -> Result<Diff> {
    let output = Command::new(recorder)
        .args(["diff", "--format", "json"])
        .arg(profile)
        .output()
        .context("cannot run syscall-profile diff")?;
    if !output.status.success() {
        anyhow::bail!(
            "{}",
            String::from_utf8_lossy(&output.stderr).trim().to_owned()
        );
    }
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("diff printed no JSON")?;
    let surface = value
        .get("surface")
        .context("no `surface` in diff's JSON")?;
    let number = |key: &str| surface.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    let names = |key: &str| -> Vec<String> {
        value
            .get(key)
            .and_then(|v| v.as_array())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| {
                        item.as_str()
                            .or_else(|| item.get("name").and_then(|n| n.as_str()))
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Diff {
        baseline_allowed: number("baseline_allowed"),
        removed: number("removed"),
        denied_needed: names("denied_needed"),
        conditional: names("conditional"),
    })
}

fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
