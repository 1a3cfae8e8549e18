//! BENCHMARKS.md and benchmarks.svg from a run of `cargo xtask bench`: the
//! machine, the command that reproduces the run, a table per group as
//! ratios to the group's baseline, the programs' own run statistics, memory,
//! profile sizes, and the targets of issue 14 with how far each is met or
//! missed. All of the text that quotes a figure is made here from the run's
//! own numbers. Both are tables of descriptions, one row each: the groups
//! ([`Reader::sections`]: part, workload, baseline, rows and note) and the
//! targets ([`Reader::targets`]: wording, figures and threshold).

use std::{fmt::Write as _, fs, path::Path, process::Command};

use anyhow::{Context, Result};

use super::{
    chart::{self, Bar, Group, Tool},
    measure::{
        BUSY_SHARE, Case, Neighbour as N, Outcome, Policy as P, ProgSample, Run, StatCase,
        Workload, run_label, unit,
    },
    util::median,
};

fn higher_is_better(workload: Workload) -> bool {
    workload == Workload::Redis
}

/// The chart's colour of a way of running.
fn tool(run: Run) -> Tool {
    match run {
        Run::Record | Run::RecordNoCapture | Run::ContainerRecord | Run::Beside(N::Record) => {
            Tool::Ours
        }
        Run::Bpftrace | Run::ContainerBpftrace | Run::Beside(N::Bpftrace) => Tool::Bpftrace,
        Run::Strace | Run::ContainerStrace => Tool::Strace,
        Run::Beside(N::Enforce | N::EnforceContainer | N::EnforcePodman) => Tool::Seccomp,
        Run::Beside(_) => Tool::Empty,
        // Untraced, and every way of enforcing.
        _ => Tool::Seccomp,
    }
}

/// The hook of an empty program the recorder is set against.
fn hook_name(floor: N) -> &'static str {
    match floor {
        N::EmptyBtfTracepoint => "tp_btf/sys_enter",
        _ => "raw_tp/sys_enter",
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
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (*sorted.first()?, *sorted.last()?);
        Some(Stat {
            median: median(&sorted),
            min,
            max,
            n: sorted.len(),
        })
    }

    fn width(&self) -> f64 {
        self.max - self.min
    }

    fn overlaps(&self, other: &Stat) -> bool {
        self.min <= other.max && other.min <= self.max
    }

    /// `median (min–max)`.
    fn spread(&self) -> String {
        format!("{:.1} ({:.1}–{:.1})", self.median, self.min, self.max)
    }
}

/// A table: rows against a baseline.
struct Section {
    /// The part of the report it is in.
    part: &'static str,
    title: String,
    /// The group's title in the chart ("": not in the chart).
    short: &'static str,
    workload: Workload,
    /// How the workload runs in the baseline; the rows are against it.
    baseline: Run,
    rows: Vec<Run>,
    note: String,
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
        let line = |path: &str, key: &str| -> Option<String> {
            let text = fs::read_to_string(path).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_owned)
        };
        let cpu = line("/proc/cpuinfo", "model name")
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_default();
        let memory = line("/proc/meminfo", "MemTotal:")
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
            .unwrap_or_default();
        let tools = [
            ("bpftrace", "bpftrace", "--version"),
            ("strace", "strace", "-V"),
            ("redis", "redis-server", "--version"),
            ("dockerd", "dockerd", "--version"),
            ("runc", "runc", "--version"),
        ];
        let read_trim = |path| fs::read_to_string(path).map(|s| s.trim().to_owned());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory,
            kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
            debian: read_trim("/etc/debian_version").unwrap_or_default(),
            spectre: read_trim("/sys/devices/system/cpu/vulnerabilities/spectre_v2")
                .unwrap_or_default(),
            tools: tools
                .map(|(what, cmd, arg)| (what, first_line(cmd, arg)))
                .into(),
            libseccomp: Command::new("dpkg-query")
                .args(["-W", "-f=${Version}", "libseccomp2"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// The first line a tool prints of its version (on stdout, else stderr).
fn first_line(cmd: &str, arg: &str) -> String {
    let Ok(o) = Command::new(cmd).arg(arg).output() else {
        return "not installed".to_owned();
    };
    let text = if o.stdout.is_empty() {
        o.stderr
    } else {
        o.stdout
    };
    let text = String::from_utf8_lossy(&text);
    text.lines().next().unwrap_or_default().trim().to_owned()
}

pub struct Report {
    markdown: String,
    groups: Vec<Group>,
    summary: String,
}

fn fmt_value(value: f64, workload: Workload) -> String {
    match workload {
        Workload::Redis => format!("{value:.0}"),
        Workload::FileIo => format!("{value:.2}"),
        _ => format!("{value:.1}"),
    }
}

/// A target: its wording, and whether it is met with the figures that say
/// so (None when a figure it needs is missing: "not measured").
type Target = (String, Option<(bool, String)>);

impl Report {
    pub fn new(outcome: &Outcome, machine: &Machine) -> Result<Report> {
        let r = Reader { outcome, machine };
        let s = outcome.sizes;
        let (command, rounds) = (&outcome.command_line, outcome.rounds);
        let elapsed = outcome.elapsed.as_secs_f64();
        let sections = r.sections();
        let mut md = String::new();
        writeln!(md, "# Benchmarks\n")?;
        writeln!(
            md,
            "What recording and enforcing cost, measured by `cargo xtask bench` against what \
             users would run instead. Written by that command from one run on the machine \
             below; every figure in this file is that run's. A benchmark, not a test: nothing \
             is asserted.\n"
        )?;
        writeln!(
            md,
            "Reproduce (as root, on Debian 12):\n\n```sh\n{command}\n```\n"
        )?;
        writeln!(
            md,
            "It installs what is missing (`cargo xtask setup`), builds in release mode, starts \
             a dockerd of its own (the test suite's), imports an image made from Debian's \
             `redis-server` and its libraries, records each workload once to learn its \
             profile (also the warm-up), then runs {rounds} round(s); each round runs every \
             configuration once, in an order rotated by one per round. The tables give the \
             median of the rounds, their range (fastest–slowest), and the ratio of medians to \
             the group's baseline. `--quick` runs 2 rounds of smaller workloads. This run took \
             {elapsed:.0} s.\n"
        )?;
        writeln!(md, "![ratios to the baselines](benchmarks.svg)\n")?;
        writeln!(
            md,
            "In the chart: blue is syscall-profile, orange bpftrace, red strace, grey an empty \
             eBPF program (the cost of the hook alone), green a seccomp filter; each bar is a \
             ratio of medians to its group's baseline, the whisker the range of the rounds. \
             Start-up is in the tables only.\n"
        )?;
        r.machine(&mut md)?;
        writeln!(
            md,
            "## Workloads\n\n\
             - **getppid-loop** (`samples/src/bin/getppid-loop.rs`): {} raw `getppid` calls in a \
             tight loop, timed by the loop itself (`SAMPLES_REPORT_NS`), so start-up and the \
             recorder's set-up are left out; under strace {} calls (the figure is per call).",
            s.calls, s.strace_calls
        )?;
        writeln!(
            md,
            "- **file-io** (`samples/src/bin/file-io.rs`): {} files of 4 KiB made, every 8th \
             fsync'ed, stat'ed, read back, appended to, renamed, listed and removed (about 15 \
             syscalls a file), timed by itself, on a tmpfs (`/dev/shm`): on this machine's disk \
             the same work took 0.5 to 6.7 s from one run to the next, which would hide any \
             tracer. Under strace {} files (the figure is per file).",
            s.files, s.strace_files
        )?;
        writeln!(
            md,
            "- **redis-server** (Debian's 7.0) on 127.0.0.1:16379, no persistence, loaded by \
             `redis-benchmark -t set,get -c 50 -n {}` (Debian's redis-tools) from outside the \
             recording; the figure is both tests' requests over their time. Under strace \
             {} requests a test. In a container: the same binary and its libraries in an image \
             imported from a root filesystem, `--network host`, the load from the host on \
             127.0.0.1.",
            s.requests, s.strace_requests
        )?;
        writeln!(
            md,
            "- The recorder runs as `syscall-profile record -q -o FILE -- CMD`; bpftrace as \
             `tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"CGROUP\")/ {{ \
             @[args->id] = count(); }}` with the workload started by bpftrace's `-c` (after \
             its probes are attached) in that cgroup v2; strace as `strace -f -c -o FILE`.\n"
        )?;
        for (i, section) in sections.iter().enumerate() {
            if i == 0 || sections[i - 1].part != section.part {
                writeln!(md, "## {}\n", section.part)?;
            }
            r.table(&mut md, section)?;
        }
        r.prog_stats(&mut md)?;
        r.memory(&mut md)?;
        if let Some(soak) = &outcome.soak {
            super::soak::section(&mut md, soak)?;
        }
        r.profile_sizes(&mut md)?;
        writeln!(
            md,
            "## Targets\n\n\
             The targets of issue 14, reported, not asserted. *Added* is a configuration's \
             median minus its baseline's; *the floor* is the loop beside an empty program on \
             the hook the recorder used ({}). Each cost target is judged twice: from the \
             end-to-end medians, and from the kernel's own accounting of the programs \
             (`bpf-stats` above), which leaves out the hook and the machine's noise.\n\n\
             | target | verdict | measured |\n| --- | --- | --- |",
            r.recorder_hook().1
        )?;
        let mut summary = String::new();
        for (name, measured) in r.targets() {
            let (verdict, detail) = match measured {
                Some((true, detail)) => ("met", detail),
                Some((false, detail)) => ("**missed**", detail),
                None => ("not measured", String::new()),
            };
            writeln!(md, "| {name} | {verdict} | {detail} |")?;
            writeln!(summary, "{verdict:>12}  {name}: {detail}")?;
        }
        writeln!(md)?;
        r.limits(&mut md)?;
        r.run_notes(&mut md)?;
        let groups = r.chart_groups(&sections);
        Ok(Report {
            markdown: md,
            groups,
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

    /// The report's tables, one description each, in their order.
    fn sections(&self) -> Vec<Section> {
        use Run::*;
        use Workload::*;
        let s = self.outcome.sizes;
        let recording = "Recording: cost to the recorded workload";
        let enforcement = "Enforcement";
        let section = |part, short, title: String, workload, baseline, rows: &[Run], note: &str| {
            let (rows, note) = (rows.to_vec(), note.to_owned());
            Section {
                part,
                title,
                short,
                workload,
                baseline,
                rows,
                note,
            }
        };
        let all = [
            section(
                recording,
                "getppid-loop, recorded",
                format!("getppid-loop: {} raw getppid calls, ns per call", s.calls),
                Micro,
                Untraced,
                &[
                    Record,
                    RecordNoCapture,
                    Bpftrace,
                    Strace,
                    Beside(N::EmptyRawTracepoint),
                    Beside(N::EmptyBtfTracepoint),
                ],
                "The floors: the loop with an empty program (`r0 = 0; exit`) on the hook, which \
                 runs it for every syscall of every task, the recorded process included. No \
                 program at that hook can cost the recorded process less. `record --args names` \
                 (natively, without `--stats`) loads the recorder with its argument capture left \
                 out: against `record`, what capture costs a syscall it does not capture \
                 (getppid).",
            ),
            section(
                recording,
                "captured-loop, recorded",
                format!(
                    "captured-loop: {} raw prctl(PR_GET_DUMPABLE) calls, ns per call",
                    s.calls
                ),
                Captured,
                Untraced,
                &[Record],
                "prctl's option is an argument the recorder captures: each call also reads the \
                 argument registers and counts the value in a per-CPU hash map. Against \
                 getppid-loop's row above (getppid is not captured), the difference is what \
                 argument capture adds to a captured call.",
            ),
            section(
                recording,
                "file-io, recorded",
                format!("file-io: {} small files on a tmpfs, µs per file", s.files),
                FileIo,
                Untraced,
                &[Record, Bpftrace, Strace],
                "",
            ),
            section(
                recording,
                "redis-server, recorded",
                "redis-server, native, under redis-benchmark: requests/s".to_owned(),
                Redis,
                Untraced,
                &[Record, Bpftrace, Strace],
                "",
            ),
            section(
                recording,
                "redis-server in a container, recorded",
                "redis-server in a container (`--network host`): requests/s".to_owned(),
                Redis,
                Container(P::DockerDefault),
                &[ContainerRecord, ContainerBpftrace, ContainerStrace],
                "The baseline is a plain `docker run`, under Docker's default profile; `record` \
                 runs the container under an allow-all recording profile (a filter is still \
                 installed: it marks where the profile starts).",
            ),
            section(
                "Cost to everything else while a recording runs",
                "getppid-loop outside the recording",
                format!(
                    "getppid-loop ({} calls) outside the watched cgroup, ns per call",
                    s.calls
                ),
                Micro,
                Untraced,
                &[
                    Beside(N::Record),
                    Beside(N::Bpftrace),
                    Beside(N::EmptyTracepoint),
                    Beside(N::EmptyRawTracepoint),
                    Beside(N::EmptyBtfTracepoint),
                    Beside(N::EmptyFentry),
                ],
                "The empty programs (`r0 = 0; exit`, loaded by the benchmark itself through \
                 bpf(2)) cost only what hooking there costs: the floor of any program at that \
                 hook. `raw_tp/sys_enter` is the raw tracepoint (BPF_PROG_TYPE_RAW_TRACEPOINT); \
                 `tp_btf/sys_enter` the same tracepoint as a BTF tracepoint \
                 (BPF_PROG_TYPE_TRACING, attached by the BTF id of `btf_trace_sys_enter`); \
                 `fentry/x64_sys_call` is the kernel's syscall dispatch function.",
            ),
            section(
                enforcement,
                "getppid-loop under enforce",
                "getppid-loop, native, under a seccomp filter: ns per call".to_owned(),
                Micro,
                Untraced,
                &[
                    SeccompFilter,
                    Enforce(P::None),
                    EnforceKernelWatch(P::None),
                    Enforce(P::DockerDefault),
                    Enforce(P::Learned),
                    EnforceKernelWatch(P::Learned),
                ],
                "`enforce` installs the profile compiled by libseccomp. A native program's \
                 refusals go to a seccomp listener in the tool (user notification), which costs \
                 nothing on the calls the profile allows; `--watch kernel` watches the \
                 command's cgroup with eBPF programs on `sys_enter` and `sys_exit` instead (what \
                 containers and profiles that kill still use). The allow-all rows are each watch \
                 with a filter that allows everything; the first row is such a filter alone, \
                 installed by the benchmark itself, so that what a watch adds is its row's \
                 figure minus that one (a filter's own cost is the same for every profile here: \
                 the kernel caches the syscalls a filter always allows and skips running it for \
                 them, but every syscall still takes seccomp's path).",
            ),
            section(
                enforcement,
                "refused-loop under enforce",
                format!(
                    "refused-loop: {} raw sysinfo calls, each refused, ns per call",
                    s.refused_calls
                ),
                Refused,
                RefusingFilter,
                &[
                    EnforceKernelWatch(P::Learned),
                    EnforceListener(P::Learned),
                    HandOff,
                ],
                "A refused call under each denial watch of a native `enforce`: the loop's \
                 learned profile with sysinfo taken out (so every call falls to its default \
                 action, EPERM; the loop checks that each one failed). The baseline is a filter \
                 of four instructions refusing sysinfo, installed by the benchmark itself: a \
                 refusal with no tool. Under `--watch kernel` the kernel refuses the call and \
                 the eBPF programs on `sys_enter` and `sys_exit` count it; under `--watch \
                 listener` each refused call waits for the tool's answer: the caller hands the \
                 CPU to the tool's listener thread and gets it back, two context switches, \
                 whatever the tool does in between. The last row is not `enforce`: two threads \
                 of one process handing a byte back and forth through pipes, as many round \
                 trips, each two context switches: the floor of any listener on this host.",
            ),
            section(
                enforcement,
                "getppid-loop in a container, seccomp",
                "getppid-loop in a container: ns per call".to_owned(),
                Micro,
                Container(P::None),
                &[
                    Container(P::DockerDefault),
                    Container(P::Learned),
                    ContainerRecord,
                    ContainerEnforce(P::None),
                    ContainerEnforce(P::Learned),
                ],
                "Plain `docker run`: the filter alone, no watch. `record -- docker run …` runs \
                 the container under its allow-all recording profile and counts its syscalls: \
                 against plain `docker run`, the difference is the recording (compare with the \
                 native getppid-loop's). `enforce -- docker run …` gives the engine the same \
                 profile and watches the container's refusals with its eBPF watch (programs on \
                 `sys_enter` and `sys_exit`): against plain `docker run` with the same profile, \
                 the difference is the watch.",
            ),
            section(
                enforcement,
                "getppid-loop in podman, seccomp",
                "getppid-loop in a podman container (runc): ns per call".to_owned(),
                Micro,
                Podman(P::None),
                &[
                    Podman(P::Learned),
                    PodmanEnforce(P::Learned),
                    PodmanEnforceKernelWatch(P::Learned),
                ],
                "The loop's profile learned in podman with `record --args names` (no argument \
                 conditions, so its refusals can all be notified). Plain `podman run` with it: \
                 the filter alone. `enforce --watch listener -- podman run …` gives podman the \
                 profile with its refusals as `SCMP_ACT_NOTIFY` and the OCI `listenerPath` of a \
                 socket of the tool's: runc installs the filter with a listener and hands it \
                 over, and the tool answers each refused call; `--watch listener` makes the run \
                 fail rather than fall back to eBPF, so these figures are the listener's. \
                 `--watch kernel` is the same container under the eBPF watch, as a Docker \
                 container gets it (the Docker engine 20.10 drops `listenerPath`).",
            ),
            section(
                enforcement,
                "getppid-loop outside enforce",
                format!(
                    "getppid-loop ({} calls) outside while `enforce` runs, ns per call",
                    s.calls
                ),
                Micro,
                Untraced,
                &[
                    Beside(N::Enforce),
                    Beside(N::EnforceContainer),
                    Beside(N::EnforcePodman),
                ],
                "A native `enforce` installs a filter on its command only, and its listener \
                 waits on the filter's notification descriptor: nothing runs for other \
                 processes; nor for a podman container's listener (runc installs the filter in \
                 the container only; `enforce` keeps only its event hooks on moves, execs and \
                 exits, none on the syscall path: its eBPF objects are in *Memory*). A Docker \
                 container's eBPF watch is on the syscall tracepoints, which every task of the \
                 host runs.",
            ),
            section(
                enforcement,
                "redis-server under enforce",
                "redis-server, native, under a seccomp filter: requests/s".to_owned(),
                Redis,
                Untraced,
                &[
                    Enforce(P::None),
                    Enforce(P::DockerDefault),
                    Enforce(P::Learned),
                ],
                "",
            ),
            section(
                enforcement,
                "redis-server in a container, seccomp",
                "redis-server in a container: requests/s".to_owned(),
                Redis,
                Container(P::None),
                &[Container(P::DockerDefault), Container(P::Learned)],
                "",
            ),
            section(
                "Start-up",
                "",
                "`/bin/true`: wall time from spawn to exit, ms".to_owned(),
                True,
                Untraced,
                &[Record],
                &format!(
                    "{} runs per round of each, as `syscall-profile record -q -o FILE -- /bin/true`.",
                    s.startups
                ),
            ),
            section(
                "Start-up",
                "",
                "Time until tracing is armed: spawn to the recorded program's first \
                 instruction, ms"
                    .to_owned(),
                StartTime,
                Untraced,
                &[Record],
                "`samples/src/bin/start-time.rs` prints CLOCK_REALTIME as its first action; the \
                 benchmark notes the time right before it spawns the recorder. The recorder \
                 attaches its program before it starts the command, so this bounds the time \
                 until tracing is armed from above.",
            ),
        ];
        let ran = |workload, run| self.outcome.cases.contains(&Case::new(workload, run));
        let ran_section = |s: &Section| {
            ran(s.workload, s.baseline) && s.rows.iter().any(|&run| ran(s.workload, run))
        };
        all.into_iter().filter(ran_section).collect()
    }

    fn table(&self, md: &mut String, section: &Section) -> Result<()> {
        let (w, unit) = (section.workload, unit(section.workload));
        let (ratio, change) = if higher_is_better(w) {
            ("time per request ×", "throughput change".to_owned())
        } else {
            ("× baseline", format!("added ({unit})"))
        };
        writeln!(
            md,
            "### {}\n\n| configuration | {unit} (median) | range | runs | {ratio} | {change} |\n\
             | --- | ---: | ---: | ---: | ---: | ---: |",
            section.title
        )?;
        let base = self.stat(Case::new(w, section.baseline));
        for run in std::iter::once(section.baseline).chain(section.rows.iter().copied()) {
            let case = Case::new(w, run);
            if !self.outcome.cases.contains(&case) {
                continue;
            }
            let baseline = if run == section.baseline {
                " (baseline)"
            } else {
                ""
            };
            let label = format!("{}{baseline}", run_label(run));
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
                    let range = format!("{}–{}", fmt_value(s.min, w), fmt_value(s.max, w));
                    vec![
                        label,
                        fmt_value(s.median, w),
                        range,
                        s.n.to_string(),
                        ratio,
                        change,
                    ]
                }
                None => {
                    let why = self.outcome.failures.get(&case).map_or_else(
                        || "not measured".to_owned(),
                        |e| format!("failed: {}", e.replace('|', "/")),
                    );
                    vec![label, why]
                }
            };
            writeln!(md, "{}", table_row(cells))?;
        }
        let fentry = section.rows.contains(&Run::Beside(N::EmptyFentry));
        if fentry {
            // The kprobe experiment's probes: each refused one is a floor
            // that could not be measured.
            for p in self.outcome.probes.iter().skip(1) {
                let answer = if p.granted {
                    "granted (and closed at once); not measured".to_owned()
                } else {
                    format!("refused: {}", p.answer.replace('|', "/").replace('\n', " "))
                };
                writeln!(
                    md,
                    "{}",
                    table_row(vec![format!("beside {}", p.what), answer])
                )?;
            }
        }
        writeln!(md)?;
        if !section.note.is_empty() {
            writeln!(md, "{}\n", section.note)?;
        }
        // The kprobe experiment: whether the kernel lets a program hook the
        // function that runs for a syscall a seccomp filter refuses.
        if fentry && let Some((candidates, asked)) = self.outcome.probes.split_first() {
            writeln!(
                md,
                "The last rows of the table are the kprobe experiment: a probe on the kernel's \
                 seccomp refusal path (what would let container enforcement explain refusals \
                 without a program on every syscall), asked of the kernel in this run every way \
                 there is, each one granted closed at once. {}: {}. {} of {} granted.\n",
                candidates.what,
                candidates.answer,
                asked.iter().filter(|p| p.granted).count(),
                asked.len()
            )?;
        }
        Ok(())
    }

    fn chart_groups(&self, sections: &[Section]) -> Vec<Group> {
        let mut groups = Vec::new();
        for section in sections.iter().filter(|s| !s.short.is_empty()) {
            let w = section.workload;
            let Some(base) = self.stat(Case::new(w, section.baseline)) else {
                continue;
            };
            let bar = |&run: &Run| {
                let s = self.stat(Case::new(w, run))?;
                let (low, high) = if higher_is_better(w) {
                    (base.median / s.max, base.median / s.min)
                } else {
                    (s.min / base.median, s.max / base.median)
                };
                let (label, ratio) = (
                    run_label(run).replace('`', ""),
                    Self::ratio(w, s.median, base.median),
                );
                Some(Bar {
                    label,
                    ratio,
                    low,
                    high,
                    tool: tool(run),
                })
            };
            let bars: Vec<Bar> = section.rows.iter().filter_map(bar).collect();
            let against = match section.baseline {
                Run::Container(P::None) | Run::Podman(P::None) => "unconfined",
                Run::Container(_) => "docker run",
                _ => "untraced",
            };
            if !bars.is_empty() {
                groups.push(Group {
                    title: format!("{} (vs {against})", section.short),
                    bars,
                });
            }
        }
        groups
    }

    fn machine(&self, md: &mut String) -> Result<()> {
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
        let (commit, loads) = (&self.outcome.commit, self.outcome.load_averages.join("; "));
        writeln!(
            md,
            "## Machine\n\n| | |\n| --- | --- |\n| CPU | {cpu}, {cores} cores (a VM) |\n\
             | memory | {memory} |\n| OS | Debian {debian}, kernel {kernel} |\n\
             | Spectre v2 mitigation | {spectre} |"
        )?;
        for (what, version) in tools {
            writeln!(md, "| {what} | {version} |")?;
        }
        writeln!(
            md,
            "| libseccomp | {libseccomp} |\n| syscall-profile | commit {commit} |\n\
             | load average (1, 5, 15 min) at each round's start, and at the end | {loads} |\n"
        )?;
        let busy = &self.outcome.busy;
        write!(
            md,
            "The machine is shared: before each measurement the benchmark waits (up to 20 s, \
             4 min in all) until other processes use at most {:.0} % of the CPUs. It waited \
             {:.0} s in all; ",
            BUSY_SHARE * 100.0,
            busy.waited.as_secs_f64()
        )?;
        let mut shares = busy.busy.clone();
        shares.sort_by(f64::total_cmp);
        match (shares.get(shares.len() / 2), shares.last()) {
            (Some(median), Some(highest)) => writeln!(
                md,
                "{} of {} measurements started while others still used more (median {:.0} %, \
                 up to {:.0} % of the CPUs): their figures are less reliable than the rest.\n",
                shares.len(),
                busy.measurements,
                median * 100.0,
                highest * 100.0
            )?,
            _ => writeln!(
                md,
                "all {} measurements started on quiet CPUs.\n",
                busy.measurements
            )?,
        }
        write!(
            md,
            "Before each measurement it also waits until no other eBPF tracing program is \
             loaded: the kernel frees an ended recorder's program a moment after the process \
             ends ({} measurements waited for that, less than 2 s each)",
            busy.short_waits
        )?;
        let foreign = &self.outcome.foreign_programs;
        if foreign.is_empty() {
            writeln!(md, "; no longer wait was needed.\n")?;
        } else {
            writeln!(
                md,
                "; longer waits, or programs that stayed (they slow every syscall of the \
                 host, baselines included): {}.\n",
                foreign.join("; ")
            )?;
        }
        Ok(())
    }

    fn memory(&self, md: &mut String) -> Result<()> {
        let memory = &self.outcome.memory;
        writeln!(
            md,
            "## Memory\n\n\
             Peak resident set of the recorder (`VmHWM` from `/proc/PID/status`, read every \
             10 ms while it runs and right before a server is shut down; for `/bin/true`, \
             `ru_maxrss` from wait4(2), which covers the recorder and `/bin/true`, taken by a \
             small process in between: a child's `ru_maxrss` starts from its parent's peak, \
             which would be the benchmark's own):\n\n\
             | recording of | runs | median | max |\n| --- | ---: | ---: | ---: |"
        )?;
        for (what, values) in &memory.recorder_kib {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let (n, median) = (sorted.len(), mib(sorted[sorted.len() / 2]));
            let max = mib(sorted[n - 1]);
            writeln!(md, "| {what} | {n} | {median:.1} MiB | {max:.1} MiB |")?;
        }
        if let Some(max) = memory.bpftrace_kib.iter().max() {
            let (n, max) = (memory.bpftrace_kib.len(), mib(*max));
            writeln!(md, "| *bpftrace, for comparison* | {n} | | {max:.1} MiB |")?;
        }
        writeln!(md)?;
        if let Some((before, after)) = memory.btf_parse_kib {
            let (parse, before, after) =
                (mib(after.saturating_sub(before)), mib(before), mib(after));
            writeln!(
                md,
                "Most of that peak is not the recorder's work: aya's loader (`EbpfLoader::new`) \
                 parses the whole of the kernel's BTF (`/sys/kernel/btf/vmlinux`) at every load, \
                 whether the object needs it or not (aya issue #1172); the recorder reads the \
                 few offsets and type ids it needs itself, in one pass that keeps none of the \
                 rest (the BTF tracepoint is attached through a small BTF that holds only its \
                 id, not a second parse). A fresh process that only parses it, with aya-obj as the loader does, goes from {before:.1} to \
                 {after:.1} MiB: {parse:+.1} MiB, the floor of any recorder built on aya 0.14.\n"
            )?;
        }
        if memory.bpf.is_empty() {
            return Ok(());
        }
        writeln!(
            md,
            "eBPF maps and programs in the kernel, from the holder's `/proc/PID/fdinfo` \
             (`memlock` is the kernel's own estimate of what each takes; names from \
             `bpftool`):\n\n| held by | map | type | key | value | entries | memlock |\n\
             | --- | --- | --- | ---: | ---: | ---: | ---: |"
        )?;
        for (holder, objects) in &memory.bpf {
            let kib = |kind| -> f64 {
                let bytes: u64 = objects
                    .iter()
                    .filter(|o| o.kind == kind)
                    .map(|o| o.memlock)
                    .sum();
                bytes as f64 / 1024.0
            };
            for o in objects.iter().filter(|o| o.kind == "map") {
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
            let programs = objects.iter().filter(|o| o.kind == "prog").count();
            let (maps, programs_kib) = (kib("map"), kib("prog"));
            writeln!(
                md,
                "| **{holder}: all maps** | | | | | | **{maps:.1} KiB** |\n\
                 | {holder}: {programs} program(s) | | | | | | {programs_kib:.1} KiB |"
            )?;
        }
        writeln!(md)?;
        Ok(())
    }

    fn profile_sizes(&self, md: &mut String) -> Result<()> {
        writeln!(
            md,
            "## Profile size\n\n\
             The learned profile of each workload (from the learning run before the rounds) \
             against Docker's default profile on this host (amd64, Docker's default \
             capabilities, this kernel), as `syscall-profile diff --format json PROFILE` \
             evaluates it:\n\n\
             | learned from | syscalls allowed | Docker's default allows | of those, left out | \
             needed but denied by Docker's default | needed, allowed by Docker only with argument checks |\n\
             | --- | ---: | ---: | ---: | --- | --- |"
        )?;
        for (what, path) in &self.outcome.learned {
            let allowed = count_allowed(path).map_or("?".to_owned(), |n| n.to_string());
            match diff(&self.outcome.recorder, path) {
                Ok(d) => writeln!(
                    md,
                    "| {what} | {allowed} | {} | {} | {} | {} |",
                    d.baseline_allowed,
                    d.removed,
                    names_or_none(&d.denied_needed),
                    names_or_none(&d.conditional)
                )?,
                Err(e) => {
                    let e = format!("{e:#}").replace('|', "/");
                    writeln!(md, "| {what} | {allowed} | `diff` failed: {e} | | | |")?
                }
            }
        }
        writeln!(
            md,
            "\nThe shared notes count Docker's default on amd64 as 292 syscalls allowed \
             unconditionally and 3 with argument checks, from the names the profile lists; \
             `diff` counts the allowed native syscalls of this kernel's table, which has \
             syscalls newer than that count.\n"
        )?;
        Ok(())
    }

    /// The floor the recorder's hook has: the empty program on the hook its
    /// counting program used (from the `bpf-stats` part, or else from the
    /// programs a recording held), and how that is shown.
    fn recorder_hook(&self) -> (N, String) {
        let tracing = |type_name: &str| match type_name {
            "tracing" => Some(true),
            "raw_tracepoint" => Some(false),
            _ => None,
        };
        let stats = self.outcome.prog_stats.samples.get(&StatCase::Recorded);
        let from_stats = stats.and_then(|rounds| rounds.first()?.first());
        let from_memory = || {
            let objects = self.outcome.memory.bpf.get("record (native)")?;
            let mut programs = objects.iter().filter(|o| o.kind == "prog");
            // The counting program is the one on sys_enter, by its name.
            if let Some(enter) = programs.clone().find(|o| o.name.contains("sys_enter")) {
                return tracing(&enter.type_name);
            }
            let types: Vec<&str> = programs.by_ref().map(|o| o.type_name.as_str()).collect();
            ["raw_tracepoint", "tracing"]
                .into_iter()
                .find(|t| types.contains(t))
                .and_then(tracing)
        };
        match from_stats
            .and_then(|p| tracing(&p.type_name))
            .or_else(from_memory)
        {
            Some(true) => (
                N::EmptyBtfTracepoint,
                "`tp_btf/sys_enter`, from the recorder's programs".to_owned(),
            ),
            Some(false) => (
                N::EmptyRawTracepoint,
                "`raw_tp/sys_enter`, from the recorder's programs".to_owned(),
            ),
            None => (
                N::EmptyRawTracepoint,
                "`raw_tp/sys_enter`, assumed: this run did not see the recorder's programs"
                    .to_owned(),
            ),
        }
    }

    /// Per program (by name, in the order first seen) of a `bpf-stats`
    /// case: its type, and per round its runs and ns per run.
    fn stat_programs(&self, case: StatCase) -> Vec<StatProgram> {
        let mut programs: Vec<StatProgram> = Vec::new();
        let rounds = self.outcome.prog_stats.samples.get(&case);
        for p in rounds.into_iter().flatten().flatten() {
            let per_run = p.run_time_ns as f64 / p.runs.max(1) as f64;
            match programs.iter_mut().find(|(name, ..)| *name == p.name) {
                Some((.., values)) => values.push((p.runs, per_run)),
                None => {
                    programs.push((p.name.clone(), p.type_name.clone(), vec![(p.runs, per_run)]))
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
        let mut sums = Vec::new();
        let mut count = 0;
        for round in self.outcome.prog_stats.samples.get(&case)? {
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
        let first = self
            .outcome
            .prog_stats
            .samples
            .get(&case)?
            .first()?
            .first()?;
        let floor = if first.type_name == "tracing" {
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
            "## The programs' own cost per run (the kernel's eBPF run statistics)\n\n\
             Each eBPF program's `run_time_ns` and `run_cnt`, from the `/proc/PID/fdinfo` of \
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
             process's.\n\n\
             | measurement | program | type | runs (median) | ns per run (median) | range |\n\
             | --- | --- | --- | ---: | ---: | ---: |",
            stats.calls, self.outcome.rounds, stats.sysctl_before, stats.sysctl_after
        )?;
        for case in StatCase::ALL {
            let label = case.label();
            if let Some(error) = stats.failures.get(&case) {
                writeln!(
                    md,
                    "| {label} | failed: {} | | | | |",
                    error.replace('|', "/")
                )?;
            }
            if stats
                .samples
                .get(&case)
                .is_some_and(|r| r.iter().all(|p| p.is_empty()))
            {
                writeln!(
                    md,
                    "| {label} | none: no program of it ran during the loop | | | | |"
                )?;
            }
            for (name, type_name, values) in self.stat_programs(case) {
                let mut runs: Vec<f64> = values.iter().map(|&(r, _)| r as f64).collect();
                runs.sort_by(f64::total_cmp);
                let per_run: Vec<f64> = values.iter().map(|&(_, v)| v).collect();
                let Some(s) = Stat::of(&per_run) else {
                    continue;
                };
                writeln!(
                    md,
                    "| {label} | `{name}` | {type_name} | {:.0} | {:.1} | {:.1}–{:.1} |",
                    median(&runs),
                    s.median,
                    s.min,
                    s.max
                )?;
            }
        }
        writeln!(
            md,
            "\nPer syscall of the loop: the programs that ran at least once per call (those on \
             every syscall; the others run on exec or exit), summed, against the empty program \
             on the same hook (times the number of such programs):\n\n\
             | measurement | ns per syscall (median) | range | above the empty program |\n\
             | --- | ---: | ---: | ---: |"
        )?;
        for case in StatCase::ALL {
            let Some((stat, count)) = self.per_syscall(case) else {
                continue;
            };
            let above = match (case, self.stat_floor(case)) {
                (StatCase::EmptyRawTracepoint | StatCase::EmptyBtfTracepoint, _) => {
                    "(the floor)".to_owned()
                }
                (_, Some((floor, ns))) => {
                    let times = if count > 1 {
                        format!("{count} × ")
                    } else {
                        String::new()
                    };
                    let above = stat.median - ns * count as f64;
                    format!("{above:+.1} ({times}{})", floor.label())
                }
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
    fn stat_above(&self, case: StatCase) -> Option<(f64, f64, f64)> {
        let (stat, count) = self.per_syscall(case)?;
        let (_, floor) = self.stat_floor(case)?;
        Some((stat.median - floor * count as f64, stat.median, floor))
    }

    /// "…; the rounds' ranges are wider than the target" when the
    /// end-to-end noise hides a difference of `target`.
    fn noise_note(&self, cases: &[Case], target: f64) -> String {
        let widths: Vec<String> = cases
            .iter()
            .filter_map(|&c| {
                let width = self.stat(c)?.width();
                (width > target).then(|| format!("{} {width:.1} ns", run_label(c.run)))
            })
            .collect();
        if widths.is_empty() {
            return String::new();
        }
        format!(
            "; the rounds' ranges are wider than the {target:.0} ns target ({}), so this \
             end-to-end verdict is within the noise",
            widths.join(", ")
        )
    }

    /// The targets of issue 14, one row each: its wording, and whether it
    /// is met with the figures that say so (None: a figure it needs is
    /// missing). Each cost target is followed by the same in the kernel's
    /// accounting (`bpf-stats`).
    fn targets(&self) -> Vec<Target> {
        use Run::*;
        use Workload::*;
        let m = |w, r| self.median(w, r);
        let micro = |r| self.stat(Case::new(Micro, r));
        let same = || "… the same in the kernel's accounting (bpf-stats)".to_owned();
        // The getppid-loop under `a` against under `b`: both, what `a`
        // adds, and the note when the rounds' noise hides `limit`.
        let added = |a, b, limit| {
            let (va, vb) = (m(Micro, a)?, m(Micro, b)?);
            let noise = self.noise_note(&[Case::new(Micro, a), Case::new(Micro, b)], limit);
            Some((va, vb, va - vb, noise))
        };
        let (floor, _) = self.recorder_hook();
        let floor_name = hook_name(floor);
        let identity = self
            .stat_above(StatCase::BtfCurrentTask)
            .map_or(String::new(), |t| {
                format!(
                    "; asking for the calling task alone costs {:+.1} ns, the floor of any test of \
                 which task calls (see *What limits the cost*)",
                    t.0
                )
            });
        let mut rows: Vec<Target> = Vec::new();

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
                Beside(N::Record),
                StatCase::RecordOutside,
                5.0,
            ),
        ] {
            rows.push((
                format!("recording costs {what} ≤ the empty hook + {limit:.0} ns (end-to-end)"),
                added(run, Beside(floor), limit).map(|(rec, fl, over, noise)| {
                    let detail = format!(
                        "{rec:.1} ns/call against {fl:.1} beside the empty `{floor_name}` \
                         program: {over:+.1} ns{noise}"
                    );
                    (over <= limit, detail)
                }),
            ));
            rows.push((
                same(),
                self.stat_above(stat_case).map(|(above, figure, fl)| {
                    let detail = format!(
                        "the recorder's program {figure:.1} ns a run, the empty program \
                         {fl:.1}: {above:+.1} ns{identity}"
                    );
                    (above <= limit, detail)
                }),
            ));
        }

        // 2. Argument capture. A syscall outside the captured set, recorded
        // with capture and with none (`--args names`): nothing more where
        // the rounds' ranges overlap, or the difference is within either
        // run's own range.
        rows.push((
            "argument capture: a syscall outside the captured set costs nothing more \
             (getppid-loop under `record` against `record --args names`, which has no \
             capture; end-to-end)"
                .to_owned(),
            micro(Record)
                .zip(micro(RecordNoCapture))
                .map(|(with, without)| {
                    let extra = with.median - without.median;
                    let overlap = with.overlaps(&without);
                    let ranges = if overlap { "overlap" } else { "do not overlap" };
                    let detail = format!(
                        "{} against {} ns/call: {extra:+.1} ns; the ranges {ranges}",
                        with.spread(),
                        without.spread()
                    );
                    (
                        overlap || extra <= with.width().max(without.width()),
                        detail,
                    )
                }),
        ));
        let stats = |a, b| self.per_syscall(a).zip(self.per_syscall(b));
        rows.push((
            same(),
            stats(StatCase::Recorded, StatCase::RecordedNoCapture).map(
                |((with, _), (without, _))| {
                    let extra = with.median - without.median;
                    let spread = with.width().max(without.width());
                    let detail = format!(
                        "the recorder's program {:.1} ns a run on getppid with capture, {:.1} \
                     without: {extra:+.1} ns (the rounds' widest range {spread:.1} ns)",
                        with.median, without.median
                    );
                    (extra <= spread, detail)
                },
            ),
        ));
        let recorded = |w| Some(m(w, Record)? - m(w, Untraced)?);
        rows.push(match recorded(Captured).zip(recorded(Micro)) {
            Some((captured, uncaptured)) => {
                let extra = captured - uncaptured;
                let noise = self.noise_note(
                    &[Case::new(Captured, Record), Case::new(Micro, Record)],
                    30.0,
                );
                (
                    "argument capture adds ≤ 30 ns to a captured call (captured-loop against \
                     getppid-loop, both recorded; end-to-end)"
                        .to_owned(),
                    Some((
                        extra <= 30.0,
                        format!(
                            "record adds {captured:.1} ns to a captured prctl, {uncaptured:.1} \
                             ns to an uncaptured getppid: capture costs {extra:.1} ns a call{noise}"
                        ),
                    )),
                )
            }
            None => (
                "argument capture adds ≤ 30 ns to a captured call (end-to-end)".to_owned(),
                None,
            ),
        });
        rows.push((
            same(),
            stats(StatCase::RecordedCaptured, StatCase::Recorded).map(|((captured, _), (plain, _))| {
                let extra = captured.median - plain.median;
                let detail = format!(
                    "the recorder's program {:.1} ns a run on prctl, {:.1} on getppid: {extra:+.1} ns",
                    captured.median, plain.median
                );
                (extra <= 30.0, detail)
            }),
        ));

        // 3. Enforcing: the explanation of denials on an allowed call, above
        // the filter alone where it was measured (the watch's cost, not the
        // filter's), else above the untraced run.
        let filter = [SeccompFilter, Untraced]
            .into_iter()
            .find(|&r| m(Micro, r).is_some());
        let kernel = m(Micro, EnforceKernelWatch(P::None));
        rows.push((
            "`enforce`'s denial watch adds ≤ 30 ns to an allowed call (native, getppid-loop, \
             allow-all profile, against the filter alone)"
                .to_owned(),
            filter
                .and_then(|f| Some((f, added(Enforce(P::None), f, 30.0)?, kernel?)))
                .map(|(floor_run, (listener, floor, added, noise), kernel)| {
                    let filter_text = match (floor_run, m(Micro, Untraced)) {
                        (SeccompFilter, Some(base)) => format!(
                            "{listener:.1} against {floor:.1} ns/call under the filter alone, \
                             which itself adds {:+.1} ns to an untraced call",
                            floor - base
                        ),
                        _ => "filter included: the filter alone was not measured".to_owned(),
                    };
                    let detail = format!(
                        "the seccomp listener adds {added:+.1} ns a call ({filter_text}); the \
                         eBPF watch (`--watch kernel`) {:+.1} ns{noise}",
                        kernel - floor
                    );
                    (added <= 30.0, detail)
                }),
        ));
        // A refused call: the listener's round trip, beside the kernel
        // watch and the filter alone.
        rows.push((
            "a refused call costs ≤ 5 µs under `enforce`'s seccomp listener (native, \
             refused-loop, learned profile without sysinfo; end-to-end)"
                .to_owned(),
            m(Refused, EnforceListener(P::Learned)).map(|listener| {
                let kernel = m(Refused, EnforceKernelWatch(P::Learned));
                let others = kernel.zip(m(Refused, RefusingFilter)).map_or(
                    String::new(),
                    |(k, f)| {
                        format!(
                            "; under `--watch kernel` {:.2} µs, under the filter alone {:.2} µs",
                            k / 1e3,
                            f / 1e3
                        )
                    },
                );
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
        rows.push((
            "`enforce`'s denial watch adds ≤ 30 ns to an allowed call (container, getppid-loop, \
             learned profile, against plain `docker run` with it; end-to-end)"
                .to_owned(),
            added(ContainerEnforce(P::Learned), Container(P::Learned), 30.0).map(
                |(enforced, plain, added, noise)| {
                    let detail = format!(
                        "{enforced:.1} against {plain:.1} ns/call: the eBPF watch adds \
                         {added:+.1} ns{noise}"
                    );
                    (added <= 30.0, detail)
                },
            ),
        ));
        rows.push((
            "`enforce`'s denial watch adds ≤ 30 ns to an allowed call (container, podman, \
             listener; getppid-loop, profile learned in podman, against plain `podman run` with \
             it; end-to-end)"
                .to_owned(),
            added(PodmanEnforce(P::Learned), Podman(P::Learned), 30.0).map(
                |(enforced, plain, added, noise)| {
                    let kernel =
                        m(Micro, PodmanEnforceKernelWatch(P::Learned)).map_or(String::new(), |k| {
                            format!(
                                "; the same container under the eBPF watch (`--watch kernel`): \
                                 {k:.1} ns/call, {:+.1} ns",
                                k - plain
                            )
                        });
                    let detail = format!(
                        "{enforced:.1} against {plain:.1} ns/call: the seccomp listener adds \
                         {added:+.1} ns{kernel}{noise}"
                    );
                    (added <= 30.0, detail)
                },
            ),
        ));
        rows.push((
            "… the eBPF watch's programs in the kernel's accounting (bpf-stats; the hooks' \
             floor comes on top)"
                .to_owned(),
            self.per_syscall(StatCase::KernelWatch)
                .map(|(stat, count)| {
                    let floor =
                        self.stat_floor(StatCase::KernelWatch)
                            .map_or(String::new(), |(_, f)| {
                                format!(
                                    ", {:+.1} ns above as many empty programs",
                                    stat.median - f * count as f64
                                )
                            });
                    let detail = format!(
                        "{count} program(s) on every syscall: {:.1} ns a syscall in all{floor}",
                        stat.median
                    );
                    (stat.median <= 30.0, detail)
                }),
        ));
        for (what, neighbour, case) in [
            (
                "native: the seccomp listener",
                N::Enforce,
                StatCase::EnforceOutside,
            ),
            (
                "container: the eBPF watch",
                N::EnforceContainer,
                StatCase::EnforceContainerOutside,
            ),
            (
                "container, podman, listener",
                N::EnforcePodman,
                StatCase::EnforcePodmanOutside,
            ),
        ] {
            rows.push((
                format!("`enforce` costs processes outside it nothing measurable ({what})"),
                micro(Untraced)
                    .zip(micro(Beside(neighbour)))
                    .map(|(base, beside)| {
                        // Not measurable: the rounds' ranges overlap, or the
                        // difference is within the baseline's own range.
                        let added = beside.median - base.median;
                        let overlap = beside.overlaps(&base);
                        let detail = format!(
                            "the loop outside: {} against {} ns/call untraced, {added:+.1} ns; the \
                         ranges {}",
                            beside.spread(),
                            base.spread(),
                            if overlap { "overlap" } else { "do not overlap" }
                        );
                        (overlap || added <= base.width(), detail)
                    }),
            ));
            let rounds = self.outcome.prog_stats.samples.get(&case);
            let measured = rounds.map(|rounds| match self.per_syscall(case) {
                None => {
                    let ran: u64 = rounds.iter().flatten().map(|p| p.runs).sum();
                    let detail = format!(
                        "no program of `enforce` ran on the loop's syscalls ({ran} runs in all \
                         during the loop, none per call)"
                    );
                    (true, detail)
                }
                Some((stat, count)) => {
                    let above = self.stat_above(case).map_or(String::new(), |(above, ..)| {
                        format!(" ({above:+.1} ns above as many empty programs)")
                    });
                    let detail = format!(
                        "{count} program(s) of `enforce` ran on every syscall of the loop: {:.1} \
                         ns a syscall{above}, and the hook's floor with them",
                        stat.median
                    );
                    (false, detail)
                }
            });
            rows.push((same(), measured));
        }

        // 4. Server throughput within the baseline's spread, or the gap
        // explained by what each of the server's syscalls costs.
        let over_untraced = |r| Some(m(Micro, r)? - m(Micro, Untraced)?);
        let (per_syscall, outside) = (over_untraced(Record), over_untraced(Beside(N::Record)));
        let hook_floor = over_untraced(Beside(floor));
        let client = self.outcome.client_syscalls;
        for (what, base_run, rec_run) in [
            ("native", Untraced, Record),
            (
                "in a container",
                Container(P::DockerDefault),
                ContainerRecord,
            ),
        ] {
            let syscalls = self
                .outcome
                .server_syscalls
                .get(&rec_run)
                .filter(|v| !v.is_empty());
            let syscalls = syscalls.map(|v| {
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                sorted[sorted.len() / 2]
            });
            let stat = self.stat(Case::new(Redis, base_run));
            let measured = stat.zip(m(Redis, rec_run)).map(|(base, rec)| {
                let loss = 1.0 - rec / base.median;
                let noise = base.width() / base.median;
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
                        hook_floor
                            .and_then(|f| share(f, hook_floor))
                            .map_or(String::new(), |f| {
                                format!(" (the hook's floor alone: {:.1} %)", f * 100.0)
                            })
                    ),
                    _ => String::new(),
                };
                let within = loss <= noise;
                let by_cost = explained.is_some_and(|e| loss <= noise + e);
                let beyond = if within {
                    String::new()
                } else {
                    format!(": {:.1} points beyond it", (loss - noise) * 100.0)
                };
                let cost = if !within && by_cost {
                    ": the gap beyond the spread is what the syscalls cost"
                } else {
                    ""
                };
                let detail = format!(
                    "throughput {:+.1} % (median {rec:.0} against {:.0} requests/s); the \
                     baseline's own rounds span {:.1} % of its median{beyond}{explanation}{cost}",
                    -loss * 100.0,
                    base.median,
                    noise * 100.0,
                );
                (within || by_cost, detail)
            });
            rows.push((
                format!(
                    "server throughput under `record` within the baseline's spread, or the gap \
                     explained by the per-syscall cost ({what})"
                ),
                measured,
            ));
        }

        // 5. Memory.
        let memory = &self.outcome.memory;
        let peak = memory.recorder_kib.values().flatten().max().copied();
        rows.push((
            "recorder's peak RSS < 30 MiB".to_owned(),
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
                let objects = memory.bpf.get(holder)?;
                Some(
                    objects
                        .iter()
                        .filter(|o| o.kind == "map")
                        .map(|o| o.memlock)
                        .sum(),
                )
            };
            // The issue's level is a native recording's.
            let native = memory
                .recorder_kib
                .iter()
                .filter(|(what, _)| !what.contains("container"));
            rows.extend(super::soak::targets(
                Some(soak),
                native.flat_map(|(_, values)| values).max().copied(),
                maps_of("record (native)"),
                maps_of("record --args names (native)"),
                memory.btf_parse_kib,
            ));
        }
        rows
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
        let ns = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} ns"));
        let signed = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:+.0} ns"));
        let width = |r| ns(self.stat(Case::new(Micro, r)).map(|s| s.width()));
        let (floor_neighbour, floor_source) = self.recorder_hook();
        let floor = added(Beside(floor_neighbour));
        let floor_name = hook_name(floor_neighbour);
        let raw = added(Beside(N::EmptyRawTracepoint));
        let (rec_out, rec_in) = (added(Beside(N::Record)), added(Record));
        let over_floor = |v: Option<f64>| ns(v.zip(floor).map(|(a, b)| a - b));
        let [raw_ns, btf, tp, bt_out, bt_in] = [
            raw,
            added(Beside(N::EmptyBtfTracepoint)),
            added(Beside(N::EmptyTracepoint)),
            added(Beside(N::Bpftrace)),
            added(Bpftrace),
        ]
        .map(ns);
        let (rec_out_ns, rec_out_over) = (ns(rec_out), over_floor(rec_out));
        let (rec_in_ns, rec_in_over) = (ns(rec_in), over_floor(rec_in));
        writeln!(
            md,
            "## What limits the cost, and what would lower it\n\n\
             - **The hook, not the program.** Enabling any `raw_syscalls` tracepoint marks \
             every task of the host for the slow syscall path (`SYSCALL_WORK_SYSCALL_TRACEPOINT`): \
             entry and exit go through the generic work functions, and each `sys_enter` makes \
             an indirect call into the attached programs (retpolines on this CPU). Here an \
             *empty* program on `raw_tp/sys_enter` adds {raw_ns} to every getppid of every process, \
             one on `tp_btf/sys_enter` (the same tracepoint, typed by BTF) {btf}; \
             bpftrace's empty `tracepoint:raw_syscalls:sys_enter {{ }}` adds {tp} (a classic \
             tracepoint first copies the event record into a per-CPU buffer). The recorder's \
             hook in this run is {floor_source}. Outside the recording, the recorder adds {rec_out_ns} \
             ({rec_out_over} over the empty program on its hook) and bpftrace {bt_out}. Inside the recording \
             the recorder adds {rec_in_ns} ({rec_in_over} over the empty program), bpftrace {bt_in}."
        )?;
        let outside = self.stat_above(StatCase::RecordOutside);
        let stat_text = match (self.stat_above(StatCase::Recorded), outside) {
            (Some((rec_above, rec, fl)), Some((out_above, out, _))) => format!(
                " In the kernel's own accounting (bpf-stats) the recorder's program takes \
                 {rec:.1} ns a run for the recorded process and {out:.1} ns for every other \
                 one, against {fl:.1} ns for the empty program on the same hook: \
                 {rec_above:+.1} and {out_above:+.1} ns of its own work; the rest of the \
                 end-to-end difference is the hook and the noise of the rounds."
            ),
            _ => String::new(),
        };
        let identity_text = match (self.stat_above(StatCase::BtfCurrentTask), outside) {
            (Some((task_above, task, _)), Some((out_above, _, _))) => format!(
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
        let (floor_ns, floor_width) = (ns(floor), width(Beside(floor_neighbour)));
        let (out_width, in_width) = (width(Beside(N::Record)), width(Record));
        writeln!(
            md,
            "- **Against the floor.** Issue 14 sets the recorder against the floor of its \
             hook (`{floor_name}`, {floor_ns}): at most 20 ns more for the recorded process, 5 ns more \
             for any other. End to end, the rounds of the floor spanned {floor_width}, those of the \
             recorder beside it {out_width}, and in it {in_width}: a difference smaller than those is not \
             resolved by this run's end-to-end figures.{stat_text}{identity_text}"
        )?;
        let fentry = added(Beside(N::EmptyFentry));
        let fentry_failure = self
            .outcome
            .failures
            .get(&Case::new(Micro, Beside(N::EmptyFentry)));
        let fentry_text = match (fentry, fentry_failure) {
            (Some(_), _) => format!(
                "An empty `fentry` program on `x64_sys_call` adds {} to every syscall here, \
                 against {raw_ns} for the raw tracepoint",
                ns(fentry)
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
            let maps = objects.iter().filter(|o| o.kind == "map");
            let all: u64 = maps.clone().map(|o| o.memlock).sum();
            let unused = |o: &&super::measure::BpfObject| {
                matches!(o.name.as_str(), "IN_SYSCALL" | "DENIALS")
            };
            let rest: u64 = maps.filter(|o| !unused(o)).map(|o| o.memlock).sum();
            writeln!(
                md,
                "- **Kernel memory of a recording.** `record` creates every map of the eBPF \
                 object, also those only `enforce` uses: `IN_SYSCALL`, of {} entries, takes {:.1} MiB of the recording's {:.1} MiB. Giving the unused \
                 maps one entry at load time (aya's `EbpfLoader::set_max_entries`) would \
                 leave a recording about {:.0} KiB.",
                lru.max_entries,
                lru.memlock as f64 / 1024.0 / 1024.0,
                all as f64 / 1024.0 / 1024.0,
                rest as f64 / 1024.0
            )?;
        }
        let loss = |base: Option<f64>, rec: Option<f64>| {
            base.zip(rec).map_or("?".to_owned(), |(b, r)| {
                format!("{:+.1} %", (r / b - 1.0) * 100.0)
            })
        };
        let in_container = loss(
            m(Redis, Container(P::DockerDefault)),
            m(Redis, ContainerRecord),
        );
        let native = loss(m(Redis, Untraced), m(Redis, Record));
        writeln!(
            md,
            "- **Recording a container** (redis-server's throughput {in_container} in a container, against \
             {native} natively in this run). For a container the recorder also runs a program on \
             `sys_exit` while the runtime sets the container up (every syscall of every task of \
             the host runs it then), to count the runtime's syscalls between its filter install \
             and the entrypoint apart from the workload's; it detaches that program once the \
             entrypoint runs, and looks a process up in the runtime-phase map only while some \
             process is in that phase. Left for the rest of the recording: the same hook and \
             work as a native recording, plus reading the task's seccomp state."
        )?;
        let probes = &self.outcome.probes;
        let asked = probes.iter().skip(1);
        let joined = |texts: Vec<String>| texts.join("; ");
        let probe_text = match probes.first() {
            None => String::new(),
            Some(_) if asked.clone().any(|p| p.granted) => format!(
                " A hook on the kernel's refusal path would cost an allowed call nothing; \
                 this run's kernel granted one ({}), so the container watch could move there.",
                joined(
                    asked
                        .filter(|p| p.granted)
                        .map(|p| p.what.clone())
                        .collect()
                )
            ),
            Some(candidates) => format!(
                " A hook on the kernel's refusal path would cost an allowed call nothing, but \
                 asked for one in this run (on `{}`; {}: {}) the kernel refused every way: {}. \
                 So a Docker container, whose engine drops the listener, keeps its eBPF watch.",
                probes
                    .get(1)
                    .map_or("?", |p| p.what.split('`').nth(1).unwrap_or("?")),
                candidates.what,
                candidates.answer,
                joined(
                    asked
                        .map(|p| format!("{}: {}", p.what, p.answer.replace('|', "/")))
                        .collect()
                )
            ),
        };
        let (kernel_watch, watch) = (
            ns(added(EnforceKernelWatch(P::None))),
            ns(added(Enforce(P::None))),
        );
        let filter_alone = added(SeccompFilter).map_or(String::new(), |f| {
            format!(
                ", against {} for a one-instruction filter that allows everything, installed \
                 with no tool at all",
                ns(Some(f))
            )
        });
        writeln!(
            md,
            "- **`enforce`'s cost was its denial watch, not the filter.** Natively, \
             `syscall-profile enforce --watch kernel` with an allow-all profile adds {kernel_watch} a \
             call: its eBPF watch runs a program on every `sys_enter` and `sys_exit` of the \
             command and notes in a map which syscall each task is in, to tell a denied \
             syscall (which never reaches `sys_enter`) from one that failed on its own. The \
             default for a native program is now a seccomp listener: the filter hands each \
             call it refuses to the tool (`SCMP_ACT_NOTIFY`), which answers it with the \
             profile's errno, so an allowed call costs only the filter: {watch} here{filter_alone}. Profiles \
             that kill or trap keep the eBPF watch: the kernel carries out their refusals \
             itself.{probe_text}"
        )?;
        // A podman container's watches against plain `podman run` with the
        // same profile; a Docker container's against plain `docker run`.
        let against = |r, plain| signed(m(Micro, r).zip(m(Micro, plain)).map(|(v, p)| v - p));
        let podman_listener = against(PodmanEnforce(P::Learned), Podman(P::Learned));
        let podman_kernel = against(PodmanEnforceKernelWatch(P::Learned), Podman(P::Learned));
        let docker_kernel = against(ContainerEnforce(P::Learned), Container(P::Learned));
        let podman_outside = signed(added(Beside(N::EnforcePodman)));
        let docker_outside = signed(added(Beside(N::EnforceContainer)));
        writeln!(
            md,
            "- **A container's listener: podman and `ctr run`, not Docker 20.10.** The engine \
             installs a container's filter, so the tool's listener gets into it only through \
             the runtime spec: `enforce` gives the engine the profile with its refusals as \
             `SCMP_ACT_NOTIFY` and the OCI `listenerPath` of a socket of its own, and runc \
             sends it the filter's listener. podman and `ctr` pass `listenerPath` on; in a \
             podman container, against plain `podman run` with the same profile, the \
             listener adds {podman_listener} a call and the eBPF watch (`--watch kernel`) {podman_kernel}; beside it, a \
             process outside pays {podman_outside} with the listener (a Docker container's eBPF watch: {docker_outside} \
             outside, {docker_kernel} inside). The Docker engine 20.10 drops `listenerPath` from the spec it \
             hands runc, which then refuses the container (`listenerPath is not set`), so a \
             Docker container keeps the eBPF watch, two hooks on every syscall of the host. \
             A profile that allows a syscall only under argument conditions keeps the eBPF \
             watch too: a call failing the conditions falls to the default action, and runc \
             refuses `SCMP_ACT_NOTIFY` as the default action, so such a refusal could not \
             reach the listener and would go unreported (`--watch auto` says so and takes \
             the eBPF watch; a profile recorded with `--args names` has no conditions)."
        )?;
        writeln!(
            md,
            "- **Learned against default.** Since Linux 5.11 a syscall whose verdict depends \
             only on its number is answered from a per-architecture bitmap without running \
             the filter, for both profiles alike; only syscalls with argument checks (Docker's \
             default has a few: `socket`, `personality`, `clone`) run the filter. So a learned \
             profile and Docker's default should cost about the same for the syscalls a \
             workload makes most; the targets above say whether this run's differences stay \
             within the rounds' range.\n"
        )?;
        Ok(())
    }

    fn run_notes(&self, md: &mut String) -> Result<()> {
        if self.outcome.notes.is_empty() && self.outcome.failures.is_empty() {
            return Ok(());
        }
        writeln!(md, "## Messages from the run\n")?;
        if self.outcome.docker_default.is_some() {
            writeln!(
                md,
                "Native enforcement under Docker's default profile read the copy in \
                 `shared/reference/docker-default-seccomp.json` beside the workspace at run time.\n"
            )?;
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

/// A Markdown table row of six cells (those not given are empty); an empty
/// cell is a single space between bars.
fn table_row(mut cells: Vec<String>) -> String {
    cells.resize(6, String::new());
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
fn diff(recorder: &Path, profile: &Path) -> Result<Diff> {
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
        let items = value.get(key).and_then(|v| v.as_array());
        let name = |item: &serde_json::Value| {
            item.as_str()
                .or_else(|| item.get("name").and_then(|n| n.as_str()))
                .map(str::to_owned)
        };
        items
            .map(|items| items.iter().filter_map(name).collect())
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
        return "none".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
