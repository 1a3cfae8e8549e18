//! BENCHMARKS.md and benchmarks.svg from a run of `cargo xtask bench`: the
//! machine, the command that reproduces the run, a table per group as
//! ratios to the group's baseline, the programs' own run statistics, memory,
//! profile sizes, and the targets of issue 14 with how far each is met or
//! missed. Every figure is the run's own; the prose around the figures is
//! in `report/report.md` and `report/targets.md`. Both the groups
//! ([`SECTIONS`]) and the targets ([`TARGETS`]) are tables of descriptions,
//! one row each.

use std::{fs, path::Path, process::Command};

use anyhow::{Context, Result};

use super::{
    chart::{self, Bar, Group, Tool},
    measure::{
        BUSY_SHARE, Case, Neighbour as N, Outcome, Policy as P, ProgSample, Run, StatCase,
        Workload, run_label, unit,
    },
    template::{Template, Value, fill, fill_text, values},
    util::median,
};

const TEXT: Template = Template(include_str!("report/report.md"));
const TARGET_TEXT: Template = Template(include_str!("report/targets.md"));

fn higher_is_better(workload: Workload) -> bool {
    workload == Workload::Redis
}

/// The chart's colour of a way of running.
fn tool(run: Run) -> Tool {
    match run {
        Run::Record
        | Run::RecordNoCapture
        | Run::ContainerRecord
        | Run::Beside(N::Record | N::Agent) => Tool::Ours,
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
struct Stat {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

impl Stat {
    fn of(values: &[f64]) -> Option<Stat> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (*sorted.first()?, *sorted.last()?);
        let (median, n) = (median(&sorted), sorted.len());
        Some(Stat {
            median,
            min,
            max,
            n,
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

/// A table: the workload run each way of `rows`, against `baseline`. Its
/// title and note are the snippet `name` of report.md; `chart` is the
/// group's title in the chart ("": not in the chart).
struct Section {
    part: &'static str,
    name: &'static str,
    chart: &'static str,
    workload: Workload,
    baseline: Run,
    rows: &'static [Run],
}

const RECORDING: &str = "Recording: cost to the recorded workload";
const ENFORCEMENT: &str = "Enforcement";

/// The report's tables, in their order.
const SECTIONS: [Section; 15] = {
    use Run::*;
    use Workload::*;
    [
        Section {
            part: RECORDING,
            name: "micro",
            chart: "getppid-loop, recorded",
            workload: Micro,
            baseline: Untraced,
            rows: &[
                Record,
                RecordNoCapture,
                Bpftrace,
                Strace,
                Beside(N::EmptyRawTracepoint),
                Beside(N::EmptyBtfTracepoint),
            ],
        },
        Section {
            part: RECORDING,
            name: "captured",
            chart: "captured-loop, recorded",
            workload: Captured,
            baseline: Untraced,
            rows: &[Record],
        },
        Section {
            part: RECORDING,
            name: "file-io",
            chart: "file-io, recorded",
            workload: FileIo,
            baseline: Untraced,
            rows: &[Record, Bpftrace, Strace],
        },
        Section {
            part: RECORDING,
            name: "redis",
            chart: "redis-server, recorded",
            workload: Redis,
            baseline: Untraced,
            rows: &[Record, Bpftrace, Strace],
        },
        Section {
            part: RECORDING,
            name: "redis-container",
            chart: "redis-server in a container, recorded",
            workload: Redis,
            baseline: Container(P::DockerDefault),
            rows: &[ContainerRecord, ContainerBpftrace, ContainerStrace],
        },
        Section {
            part: "Cost to everything else while a recording runs",
            name: "others",
            chart: "getppid-loop outside the recording",
            workload: Micro,
            baseline: Untraced,
            rows: &[
                Beside(N::Record),
                Beside(N::Agent),
                Beside(N::Bpftrace),
                Beside(N::EmptyTracepoint),
                Beside(N::EmptyRawTracepoint),
                Beside(N::EmptyBtfTracepoint),
                Beside(N::EmptyFentry),
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "enforce-micro",
            chart: "getppid-loop under enforce",
            workload: Micro,
            baseline: Untraced,
            rows: &[
                SeccompFilter,
                Enforce(P::None),
                EnforceKernelWatch(P::None),
                Enforce(P::DockerDefault),
                Enforce(P::Learned),
                EnforceKernelWatch(P::Learned),
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "refused",
            chart: "refused-loop under enforce",
            workload: Refused,
            baseline: RefusingFilter,
            rows: &[
                EnforceKernelWatch(P::Learned),
                EnforceListener(P::Learned),
                HandOff,
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "container",
            chart: "getppid-loop in a container, seccomp",
            workload: Micro,
            baseline: Container(P::None),
            rows: &[
                Container(P::DockerDefault),
                Container(P::Learned),
                ContainerRecord,
                ContainerEnforce(P::None),
                ContainerEnforce(P::Learned),
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "podman",
            chart: "getppid-loop in podman, seccomp",
            workload: Micro,
            baseline: Podman(P::None),
            rows: &[
                Podman(P::Learned),
                PodmanEnforce(P::Learned),
                PodmanEnforceKernelWatch(P::Learned),
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "enforce-outside",
            chart: "getppid-loop outside enforce",
            workload: Micro,
            baseline: Untraced,
            rows: &[
                Beside(N::Enforce),
                Beside(N::EnforceContainer),
                Beside(N::EnforcePodman),
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "enforce-redis",
            chart: "redis-server under enforce",
            workload: Redis,
            baseline: Untraced,
            rows: &[
                Enforce(P::None),
                Enforce(P::DockerDefault),
                Enforce(P::Learned),
            ],
        },
        Section {
            part: ENFORCEMENT,
            name: "container-redis",
            chart: "redis-server in a container, seccomp",
            workload: Redis,
            baseline: Container(P::None),
            rows: &[Container(P::DockerDefault), Container(P::Learned)],
        },
        Section {
            part: "Start-up",
            name: "true",
            chart: "",
            workload: True,
            baseline: Untraced,
            rows: &[Record],
        },
        Section {
            part: "Start-up",
            name: "start-time",
            chart: "",
            workload: StartTime,
            baseline: Untraced,
            rows: &[Record],
        },
    ]
};

/// How a target of [`TARGETS`] is judged.
#[derive(Clone, Copy)]
enum Check {
    /// End to end, the loop under `.0` at most `.2` ns above under `.1`
    /// (None: beside the empty program on the recorder's hook); `.3`:
    /// another run's figure against the same.
    Added(Run, Option<Run>, f64, Option<Run>),
    /// In the kernel's accounting, the case's programs at most `.1` ns
    /// above the empty program on their hook.
    StatAbove(StatCase, f64),
    /// End to end, the loop under `.0` costs no more than under `.1`: the
    /// rounds' ranges overlap, or the difference is within the range of
    /// `.1` (`.2`: of the wider of the two).
    Nothing(Run, Run, bool),
    /// In the kernel's accounting, `.0` at most `.2` ns above `.1` (None:
    /// the rounds' widest range).
    StatAgainst(StatCase, StatCase, Option<f64>),
    /// End to end, what recording adds to a captured call beyond an
    /// uncaptured one: at most 30 ns.
    Capture,
    /// End to end, the native listener against the filter alone: at most
    /// 30 ns, with the eBPF watch beside it.
    NativeEnforce,
    /// A refused call under the native listener: at most 5 µs.
    Refused,
    /// The eBPF watch's programs in the kernel's accounting: at most 30 ns.
    KernelWatch,
    /// In the kernel's accounting, no program of `enforce` runs on the
    /// syscalls of a process outside it.
    NoProgram(StatCase),
    /// The server's throughput recorded (`.1`) within the spread of `.0`,
    /// or the gap explained by what each syscall costs.
    Server(Run, Run),
    /// The recorder's peak RSS under 30 MiB.
    PeakRss,
}

/// The targets of issue 14, one row each: the snippet of targets.md with
/// its wording and what it measured, and how it is judged. Each cost
/// target is followed by the same in the kernel's accounting (`bpf-stats`).
const TARGETS: [(&str, Check); 23] = {
    use Check::*;
    use Run::*;
    let learned = P::Learned;
    [
        ("recorded", Added(Record, None, 20.0, None)),
        ("recorded-stats", StatAbove(StatCase::Recorded, 20.0)),
        ("outside", Added(Beside(N::Record), None, 5.0, None)),
        ("outside-stats", StatAbove(StatCase::RecordOutside, 5.0)),
        (
            "agent-outside",
            Nothing(Beside(N::Agent), Beside(N::Record), true),
        ),
        ("capture-nothing", Nothing(Record, RecordNoCapture, true)),
        (
            "capture-nothing-stats",
            StatAgainst(StatCase::Recorded, StatCase::RecordedNoCapture, None),
        ),
        ("capture-adds", Capture),
        (
            "capture-adds-stats",
            StatAgainst(StatCase::RecordedCaptured, StatCase::Recorded, Some(30.0)),
        ),
        ("native-enforce", NativeEnforce),
        ("refused", Check::Refused),
        (
            "container-enforce",
            Added(
                ContainerEnforce(learned),
                Some(Container(learned)),
                30.0,
                None,
            ),
        ),
        (
            "podman-enforce",
            Added(
                PodmanEnforce(learned),
                Some(Podman(learned)),
                30.0,
                Some(PodmanEnforceKernelWatch(learned)),
            ),
        ),
        ("kernel-watch", KernelWatch),
        (
            "outside-native",
            Nothing(Beside(N::Enforce), Untraced, false),
        ),
        ("enforce-outside-stats", NoProgram(StatCase::EnforceOutside)),
        (
            "outside-docker",
            Nothing(Beside(N::EnforceContainer), Untraced, false),
        ),
        (
            "enforce-outside-stats",
            NoProgram(StatCase::EnforceContainerOutside),
        ),
        (
            "outside-podman",
            Nothing(Beside(N::EnforcePodman), Untraced, false),
        ),
        (
            "enforce-outside-stats",
            NoProgram(StatCase::EnforcePodmanOutside),
        ),
        ("server-native", Server(Untraced, Record)),
        (
            "server-container",
            Server(Container(P::DockerDefault), ContainerRecord),
        ),
        ("peak-rss", PeakRss),
    ]
};

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

impl Report {
    pub fn new(outcome: &Outcome, machine: &Machine) -> Result<Report> {
        let r = Reader { outcome, machine };
        let s = outcome.sizes;
        let (command, rounds) = (&outcome.command_line, outcome.rounds);
        let elapsed = outcome.elapsed.as_secs_f64();
        let mut md = fill!(TEXT, "head", command, rounds, elapsed)?;
        md += &r.machine()?;
        md += &fill!(
            TEXT,
            "workloads",
            calls = s.calls,
            strace_calls = s.strace_calls,
            files = s.files,
            strace_files = s.strace_files,
            requests = s.requests,
            strace_requests = s.strace_requests
        )?;
        let sections = r.sections();
        for (i, section) in sections.iter().enumerate() {
            if i == 0 || sections[i - 1].part != section.part {
                md += &format!("## {}\n\n", section.part);
            }
            md += &r.table(section)?;
        }
        md += &r.prog_stats()?;
        md += &r.memory()?;
        if let Some(soak) = &outcome.soak {
            md += &super::soak::section(soak)?;
        }
        if let Some(agent) = &outcome.agent {
            md += &super::agent::section(agent)?;
        }
        md += &r.profile_sizes()?;
        let (mut rows, mut summary) = (String::new(), String::new());
        for (name, measured) in r.targets()? {
            let (verdict, detail) = match measured {
                Some((true, detail)) => ("met", detail),
                Some((false, detail)) => ("**missed**", detail),
                None => ("not measured", String::new()),
            };
            rows += &format!("| {name} | {verdict} | {detail} |\n");
            summary += &format!("{verdict:>12}  {name}: {detail}\n");
        }
        md += &fill!(TEXT, "targets", hook = r.recorder_hook().1, rows)?;
        md += &r.limits()?;
        md += &r.run_notes()?;
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

/// A target: its wording, and whether it is met with the figures that say
/// so (None when a figure it needs is missing: "not measured").
type Target = (String, Option<(bool, String)>);

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

    /// The sections of [`SECTIONS`] that ran.
    fn sections(&self) -> Vec<&'static Section> {
        let ran = |workload, run| self.outcome.cases.contains(&Case::new(workload, run));
        let ran_section = |s: &&Section| {
            ran(s.workload, s.baseline) && s.rows.iter().any(|&run| ran(s.workload, run))
        };
        SECTIONS.iter().filter(ran_section).collect()
    }

    fn table(&self, section: &Section) -> Result<String> {
        let (w, unit) = (section.workload, unit(section.workload));
        let (ratio, change) = if higher_is_better(w) {
            ("time per request ×", "throughput change".to_owned())
        } else {
            ("× baseline", format!("added ({unit})"))
        };
        let mut table = format!(
            "| configuration | {unit} (median) | range | runs | {ratio} | {change} |\n\
             | --- | ---: | ---: | ---: | ---: | ---: |\n"
        );
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
                    let (median, runs) = (fmt_value(s.median, w), s.n.to_string());
                    vec![label, median, range, runs, ratio, change]
                }
                None => {
                    let why = self.outcome.failures.get(&case).map_or_else(
                        || "not measured".to_owned(),
                        |e| format!("failed: {}", e.replace('|', "/")),
                    );
                    vec![label, why]
                }
            };
            table += &table_row(cells);
        }
        // The kprobe experiment's probes, beside the fentry floor: each
        // refused one is a floor that could not be measured.
        let probes = &self.outcome.probes;
        let fentry = section.rows.contains(&Run::Beside(N::EmptyFentry));
        for p in probes.iter().skip(1).filter(|_| fentry) {
            let answer = if p.granted {
                "granted (and closed at once); not measured".to_owned()
            } else {
                format!("refused: {}", p.answer.replace('|', "/").replace('\n', " "))
            };
            table += &table_row(vec![format!("beside {}", p.what), answer]);
        }
        let s = self.outcome.sizes;
        let mut text = fill!(
            TEXT,
            section.name,
            table,
            calls = s.calls,
            files = s.files,
            refused_calls = s.refused_calls,
            startups = s.startups
        )?;
        if section.name == "others" {
            text += &self.agent_outside()?;
        }
        if fentry && let Some((candidates, asked)) = probes.split_first() {
            text += &fill!(
                TEXT,
                "kprobe",
                candidates = &candidates.what,
                answer = &candidates.answer,
                granted = asked.iter().filter(|p| p.granted).count(),
                asked = asked.len()
            )?;
        }
        Ok(text)
    }

    /// The agent's program on `sys_enter` (from the objects an idle agent
    /// held): the empty program on its hook.
    fn agent_hook(&self) -> Option<N> {
        let objects = self.outcome.memory.bpf.get("agent (idle)")?;
        let mut programs = objects.iter().filter(|o| o.kind == "prog");
        let enter = programs.find(|o| o.name.contains("enter"))?;
        match enter.type_name.as_str() {
            "tracing" => Some(N::EmptyBtfTracepoint),
            "raw_tracepoint" => Some(N::EmptyRawTracepoint),
            _ => None,
        }
    }

    /// The others' table's note on the idle agent against the idle
    /// recording: what each adds to the loop outside, and above the empty
    /// program on its hook.
    fn agent_outside(&self) -> Result<String> {
        use Run::*;
        let m = |r| self.median(Workload::Micro, r);
        let Some(untraced) = m(Untraced) else {
            return Ok(String::new());
        };
        let (Some(agent), Some(record)) = (m(Beside(N::Agent)), m(Beside(N::Record))) else {
            return Ok(String::new());
        };
        let (agent, record) = (agent - untraced, record - untraced);
        let ns = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:+.1} ns"));
        let over = |added: f64, hook: Option<N>| {
            ns(hook
                .and_then(|h| m(Beside(h)))
                .map(|f| added - (f - untraced)))
        };
        let agent_hook = self.agent_hook();
        let record_hook = self.recorder_hook().0;
        let ratio = if record > 0.5 {
            format!("{:.2}× `record`'s", agent / record)
        } else {
            "no ratio: `record`'s is within a nanosecond of nothing".to_owned()
        };
        fill!(
            TEXT,
            "others-agent",
            agent,
            record,
            ratio,
            agent_hook = agent_hook.map_or("an unseen hook", hook_name),
            record_hook = hook_name(record_hook),
            agent_over = over(agent, agent_hook),
            record_over = over(record, Some(record_hook))
        )
    }

    fn chart_groups(&self, sections: &[&Section]) -> Vec<Group> {
        let mut groups = Vec::new();
        for section in sections.iter().filter(|s| !s.chart.is_empty()) {
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
                    title: format!("{} (vs {against})", section.chart),
                    bars,
                });
            }
        }
        groups
    }

    fn machine(&self) -> Result<String> {
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
        let tools: String = tools
            .iter()
            .map(|(what, version)| format!("| {what} | {version} |\n"))
            .collect();
        let busy = &self.outcome.busy;
        let mut shares = busy.busy.clone();
        shares.sort_by(f64::total_cmp);
        let measurements = busy.measurements;
        let others = match (shares.get(shares.len() / 2), shares.last()) {
            (Some(median), Some(highest)) => fill!(
                line TEXT,
                "busy",
                count = shares.len(),
                measurements,
                median = median * 100.0,
                highest = highest * 100.0
            )?,
            _ => fill!(line TEXT, "quiet", measurements)?,
        };
        let foreign = match self.outcome.foreign_programs.join("; ") {
            none if none.is_empty() => fill!(line TEXT, "no-foreign")?,
            foreign => fill!(line TEXT, "foreign", foreign)?,
        };
        fill!(
            TEXT,
            "machine",
            cpu,
            cores = *cores,
            memory,
            kernel,
            debian,
            spectre,
            tools,
            libseccomp,
            commit,
            loads,
            share = BUSY_SHARE * 100.0,
            waited = busy.waited.as_secs_f64(),
            busy = others,
            short_waits = busy.short_waits,
            foreign
        )
    }

    fn memory(&self) -> Result<String> {
        let memory = &self.outcome.memory;
        let mut rows = String::new();
        for (what, values) in &memory.recorder_kib {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let (n, median) = (sorted.len(), mib(sorted[sorted.len() / 2]));
            let max = mib(sorted[n - 1]);
            rows += &format!("| {what} | {n} | {median:.1} MiB | {max:.1} MiB |\n");
        }
        if let Some(max) = memory.bpftrace_kib.iter().max() {
            let (n, max) = (memory.bpftrace_kib.len(), mib(*max));
            rows += &format!("| *bpftrace, for comparison* | {n} | | {max:.1} MiB |\n");
        }
        let mut md = fill!(TEXT, "memory", rows)?;
        if let Some((before, after)) = memory.btf_parse_kib {
            let parse = mib(after.saturating_sub(before));
            let (before, after) = (mib(before), mib(after));
            md += &fill!(TEXT, "btf-parse", before, after, parse)?;
        }
        if memory.bpf.is_empty() {
            return Ok(md);
        }
        let mut rows = String::new();
        for (holder, objects) in &memory.bpf {
            let kib = |kind| {
                let of_kind = objects.iter().filter(|o| o.kind == kind);
                of_kind.map(|o| o.memlock).sum::<u64>() as f64 / 1024.0
            };
            for o in objects.iter().filter(|o| o.kind == "map") {
                let (name, type_name, entries) = (&o.name, &o.type_name, o.max_entries);
                rows += &format!(
                    "| {holder} | `{name}` | {type_name} | {} | {} | {entries} | {:.1} KiB |\n",
                    o.key_size,
                    o.value_size,
                    o.memlock as f64 / 1024.0
                );
            }
            let programs = objects.iter().filter(|o| o.kind == "prog").count();
            let (maps, programs_kib) = (kib("map"), kib("prog"));
            rows += &format!(
                "| **{holder}: all maps** | | | | | | **{maps:.1} KiB** |\n\
                 | {holder}: {programs} program(s) | | | | | | {programs_kib:.1} KiB |\n"
            );
        }
        md += &fill!(TEXT, "bpf-objects", rows)?;
        Ok(md)
    }

    fn profile_sizes(&self) -> Result<String> {
        let mut rows = String::new();
        for (what, path) in &self.outcome.learned {
            let allowed = count_allowed(path).map_or("?".to_owned(), |n| n.to_string());
            rows += &match diff(&self.outcome.recorder, path) {
                Ok(d) => format!(
                    "| {what} | {allowed} | {} | {} | {} | {} |\n",
                    d.baseline_allowed,
                    d.removed,
                    names_or_none(&d.denied_needed),
                    names_or_none(&d.conditional)
                ),
                Err(e) => {
                    let e = format!("{e:#}").replace('|', "/");
                    format!("| {what} | {allowed} | `diff` failed: {e} | | | |\n")
                }
            };
        }
        fill!(TEXT, "sizes", rows)
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
            let per_run = every.iter().map(|p| p.run_time_ns as f64 / p.runs as f64);
            sums.push(per_run.sum::<f64>());
        }
        Stat::of(&sums).map(|s| (s, count))
    }

    /// The empty program whose floor a `bpf-stats` case is set against.
    fn stat_floor(&self, case: StatCase) -> Option<(StatCase, f64)> {
        let samples = self.outcome.prog_stats.samples.get(&case)?;
        let floor = if samples.first()?.first()?.type_name == "tracing" {
            StatCase::EmptyBtfTracepoint
        } else {
            StatCase::EmptyRawTracepoint
        };
        Some((floor, self.per_syscall(floor)?.0.median))
    }

    /// The `bpf-stats` section.
    fn prog_stats(&self) -> Result<String> {
        let stats = &self.outcome.prog_stats;
        if stats.samples.is_empty() && stats.failures.is_empty() {
            return Ok(String::new());
        }
        let mut rows = String::new();
        for case in StatCase::ALL {
            let label = case.label();
            if let Some(error) = stats.failures.get(&case) {
                let error = error.replace('|', "/");
                rows += &format!("| {label} | failed: {error} | | | | |\n");
            }
            let rounds = stats.samples.get(&case);
            if rounds.is_some_and(|r| r.iter().all(|p| p.is_empty())) {
                rows +=
                    &format!("| {label} | none: no program of it ran during the loop | | | | |\n");
            }
            for (name, type_name, values) in self.stat_programs(case) {
                let mut runs: Vec<f64> = values.iter().map(|&(r, _)| r as f64).collect();
                runs.sort_by(f64::total_cmp);
                let per_run: Vec<f64> = values.iter().map(|&(_, v)| v).collect();
                let Some(s) = Stat::of(&per_run) else {
                    continue;
                };
                rows += &format!(
                    "| {label} | `{name}` | {type_name} | {:.0} | {:.1} | {:.1}–{:.1} |\n",
                    median(&runs),
                    s.median,
                    s.min,
                    s.max
                );
            }
        }
        let mut per_syscall = String::new();
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
            per_syscall += &format!(
                "| {} | {:.1} | {:.1}–{:.1} | {above} |\n",
                case.label(),
                stat.median,
                stat.min,
                stat.max
            );
        }
        let (calls, rounds) = (stats.calls, self.outcome.rounds);
        let (before, after) = (&stats.sysctl_before, &stats.sysctl_after);
        fill!(
            TEXT,
            "stats",
            calls,
            rounds,
            before,
            after,
            rows,
            per_syscall
        )
    }

    /// `bpf-stats` per syscall of `case` above its floor: (above, figure, floor).
    fn stat_above(&self, case: StatCase) -> Option<(f64, f64, f64)> {
        let (stat, count) = self.per_syscall(case)?;
        let (_, floor) = self.stat_floor(case)?;
        Some((stat.median - floor * count as f64, stat.median, floor))
    }

    /// "…; the rounds' ranges are wider than the target" when the
    /// end-to-end noise hides a difference of `limit`.
    fn noise(&self, cases: &[Case], limit: f64) -> Result<String> {
        let widths: Vec<String> = cases
            .iter()
            .filter_map(|&c| {
                let width = self.stat(c)?.width();
                (width > limit).then(|| format!("{} {width:.1} ns", run_label(c.run)))
            })
            .collect();
        let widths = (!widths.is_empty()).then(|| values![limit, widths = widths.join(", ")]);
        TARGET_TEXT.maybe("noise", widths)
    }

    /// The rows of [`TARGETS`], then the soak's.
    fn targets(&self) -> Result<Vec<Target>> {
        let mut rows = Vec::new();
        for (name, check) in TARGETS {
            // The wording, the detail, and the wording when not measured
            // if it differs.
            let mut lines = TARGET_TEXT.snippet(name)?.lines();
            let (wording, detail) = (lines.next(), lines.next().unwrap_or_default());
            let measured = self.judge(check, detail)?;
            let wording = measured.as_ref().map_or(lines.next(), |_| None).or(wording);
            rows.push((wording.unwrap_or_default().to_owned(), measured));
        }
        let memory = &self.outcome.memory;
        if let Some(soak) = &self.outcome.soak {
            // What the maps of one holder take in all.
            let maps_of = |holder: &str| -> Option<u64> {
                let objects = memory.bpf.get(holder)?;
                let maps = objects.iter().filter(|o| o.kind == "map");
                Some(maps.map(|o| o.memlock).sum())
            };
            // The level is a native recording's.
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
            )?);
        }
        if let Some(agent) = &self.outcome.agent {
            rows.extend(super::agent::targets(Some(agent))?);
        }
        Ok(rows)
    }

    /// Whether the target of `check` is met, with `detail` (a line of
    /// targets.md) filled with the figures that say so; None when a figure
    /// it needs is missing.
    fn judge(&self, check: Check, detail: &str) -> Result<Option<(bool, String)>> {
        use Run::*;
        use Workload::*;
        let m = |w, r| self.median(w, r);
        let micro = |r| self.stat(Case::new(Micro, r));
        let row =
            |met: bool, values: Vec<(&str, Value)>| Ok(Some((met, fill_text(detail, &values)?)));
        let (floor, _) = self.recorder_hook();
        match check {
            Check::Added(run, base, limit, also) => {
                let base = base.unwrap_or(Beside(floor));
                let (Some(a), Some(b)) = (m(Micro, run), m(Micro, base)) else {
                    return Ok(None);
                };
                let noise = self.noise(&[Case::new(Micro, run), Case::new(Micro, base)], limit)?;
                let also = also.and_then(|r| m(Micro, r));
                let also = TARGET_TEXT.maybe(
                    "podman-enforce-also",
                    also.map(|also| values![also, also_added = also - b]),
                )?;
                let floor_name = hook_name(floor);
                row(
                    a - b <= limit,
                    values![a, b, added = a - b, noise, also, floor_name],
                )
            }
            Check::StatAbove(case, limit) => {
                let Some((above, figure, floor)) = self.stat_above(case) else {
                    return Ok(None);
                };
                let task = self.stat_above(StatCase::BtfCurrentTask);
                let identity = TARGET_TEXT.maybe("identity", task.map(|t| values![above = t.0]))?;
                row(above <= limit, values![above, figure, floor, identity])
            }
            Check::Nothing(run, base, either) => {
                let (Some(a), Some(b)) = (micro(run), micro(base)) else {
                    return Ok(None);
                };
                let (added, overlap) = (a.median - b.median, a.overlaps(&b));
                let within = if either {
                    a.width().max(b.width())
                } else {
                    b.width()
                };
                let ranges = if overlap { "overlap" } else { "do not overlap" };
                let (a_spread, b_spread) = (a.spread(), b.spread());
                row(
                    overlap || added <= within,
                    values![a_spread, b_spread, added, ranges],
                )
            }
            Check::StatAgainst(case, base, limit) => {
                let (Some((a, _)), Some((b, _))) = (self.per_syscall(case), self.per_syscall(base))
                else {
                    return Ok(None);
                };
                let (added, spread) = (a.median - b.median, a.width().max(b.width()));
                let values = values![a = a.median, b = b.median, added, spread];
                row(added <= limit.unwrap_or(spread), values)
            }
            Check::Capture => {
                let recorded = |w| Some(m(w, Record)? - m(w, Untraced)?);
                let (Some(a), Some(b)) = (recorded(Captured), recorded(Micro)) else {
                    return Ok(None);
                };
                let cases = [Case::new(Captured, Record), Case::new(Micro, Record)];
                let noise = self.noise(&cases, 30.0)?;
                row(a - b <= 30.0, values![a, b, added = a - b, noise])
            }
            Check::NativeEnforce => {
                // Against the filter alone where it was measured (the
                // watch's cost, not the filter's), else the untraced run.
                let base = [SeccompFilter, Untraced]
                    .into_iter()
                    .find(|&r| m(Micro, r).is_some());
                let (Some(base), Some(a), Some(kernel)) = (
                    base,
                    m(Micro, Enforce(P::None)),
                    m(Micro, EnforceKernelWatch(P::None)),
                ) else {
                    return Ok(None);
                };
                let b = m(Micro, base).unwrap_or_default();
                let cases = [Case::new(Micro, Enforce(P::None)), Case::new(Micro, base)];
                let noise = self.noise(&cases, 30.0)?;
                let filter = match (base, m(Micro, Untraced)) {
                    (SeccompFilter, Some(untraced)) => {
                        fill!(line TARGET_TEXT, "filter-measured", a, b, filter = b - untraced)?
                    }
                    _ => fill!(line TARGET_TEXT, "filter-included")?,
                };
                let kernel = kernel - b;
                row(a - b <= 30.0, values![added = a - b, filter, kernel, noise])
            }
            Check::Refused => {
                let Some(listener) = m(Refused, EnforceListener(P::Learned)) else {
                    return Ok(None);
                };
                let (kernel, filter) = (
                    m(Refused, EnforceKernelWatch(P::Learned)),
                    m(Refused, RefusingFilter),
                );
                let others = kernel
                    .zip(filter)
                    .map(|(k, f)| values![kernel = k / 1e3, filter = f / 1e3]);
                let others = TARGET_TEXT.maybe("refused-others", others)?;
                let floor = m(Refused, HandOff).map(|floor| values![floor = floor / 1e3]);
                let floor = TARGET_TEXT.maybe("refused-floor", floor)?;
                row(
                    listener <= 5_000.0,
                    values![listener = listener / 1e3, others, floor],
                )
            }
            Check::KernelWatch => {
                let Some((stat, count)) = self.per_syscall(StatCase::KernelWatch) else {
                    return Ok(None);
                };
                let above = self.stat_floor(StatCase::KernelWatch);
                let above = above.map(|(_, f)| values![above = stat.median - f * count as f64]);
                let floor = TARGET_TEXT.maybe("kernel-watch-floor", above)?;
                row(
                    stat.median <= 30.0,
                    values![count, figure = stat.median, floor],
                )
            }
            Check::NoProgram(case) => {
                let Some(rounds) = self.outcome.prog_stats.samples.get(&case) else {
                    return Ok(None);
                };
                let Some((stat, count)) = self.per_syscall(case) else {
                    let runs: u64 = rounds.iter().flatten().map(|p| p.runs).sum();
                    let text = fill!(line TARGET_TEXT, "enforce-outside-none", runs)?;
                    return Ok(Some((true, text)));
                };
                let above = self.stat_above(case).map(|(above, ..)| values![above]);
                let above = TARGET_TEXT.maybe("enforce-outside-above", above)?;
                row(false, values![count, figure = stat.median, above])
            }
            Check::Server(base_run, rec_run) => self.server(base_run, rec_run, floor, detail),
            Check::PeakRss => {
                let peak = self.outcome.memory.recorder_kib.values().flatten().max();
                let Some(&kib) = peak else {
                    return Ok(None);
                };
                row(mib(kib) < 30.0, values![peak = mib(kib)])
            }
        }
    }

    /// [`Check::Server`]: the server's throughput under `record` against
    /// its baseline, and what its syscalls and its load's cost at the
    /// recorder's figures per syscall (`floor`: the recorder's hook).
    fn server(
        &self,
        base_run: Run,
        rec_run: Run,
        floor: N,
        detail: &str,
    ) -> Result<Option<(bool, String)>> {
        use Run::*;
        use Workload::*;
        let m = |w, r| self.median(w, r);
        let (Some(base), Some(rec)) = (self.stat(Case::new(Redis, base_run)), m(Redis, rec_run))
        else {
            return Ok(None);
        };
        let over_untraced = |r| Some(m(Micro, r)? - m(Micro, Untraced)?);
        let (per_syscall, outside) = (over_untraced(Record), over_untraced(Beside(N::Record)));
        let hook_floor = over_untraced(Beside(floor));
        let client = self.outcome.client_syscalls;
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
        let (loss, noise) = (1.0 - rec / base.median, base.width() / base.median);
        // The share of the baseline's time per request that the server's
        // own syscalls take at `inside` more each, and the client's at
        // `outside` more each.
        let request_ns = 1e9 / base.median;
        let share = |inside: f64, outside: Option<f64>| {
            let server = syscalls? * inside;
            let client = client.zip(outside).map_or(0.0, |(n, ns)| n * ns);
            Some((server + client) / request_ns)
        };
        let explained = per_syscall.and_then(|ns| share(ns, outside));
        let client_text = client
            .zip(outside)
            .map(|(syscalls, ns)| values![syscalls, ns]);
        let client_text = TARGET_TEXT.maybe("server-client", client_text)?;
        let floor = hook_floor.and_then(|f| share(f, hook_floor));
        let floor = TARGET_TEXT.maybe("server-floor", floor.map(|f| values![floor = f * 100.0]))?;
        let explanation = match (syscalls, per_syscall, explained) {
            (Some(syscalls), Some(ns), Some(explained)) => Some(values![
                syscalls,
                ns,
                client = client_text,
                explained = explained * 100.0,
                request = request_ns / 1e3,
                floor
            ]),
            _ => None,
        };
        let explanation = TARGET_TEXT.maybe("server-explained", explanation)?;
        let within = loss <= noise;
        let by_cost = explained.is_some_and(|e| loss <= noise + e);
        let beyond = (!within).then(|| values![points = (loss - noise) * 100.0]);
        let beyond = TARGET_TEXT.maybe("server-beyond", beyond)?;
        let cost = TARGET_TEXT.maybe("server-cost", (!within && by_cost).then(Vec::new))?;
        let values = values![
            loss = -loss * 100.0,
            rec,
            base = base.median,
            noise = noise * 100.0,
            beyond,
            explanation,
            cost
        ];
        Ok(Some((within || by_cost, fill_text(detail, &values)?)))
    }

    /// What limits the misses, with this run's figures.
    fn limits(&self) -> Result<String> {
        use Run::*;
        use Workload::*;
        let m = |w, r| self.median(w, r);
        let Some(base) = m(Micro, Untraced) else {
            return Ok(String::new());
        };
        let added = |r| m(Micro, r).map(|v| v - base);
        let ns = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} ns"));
        let signed = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:+.0} ns"));
        let width = |r| ns(self.stat(Case::new(Micro, r)).map(|s| s.width()));
        let (floor_neighbour, floor_source) = self.recorder_hook();
        let floor = added(Beside(floor_neighbour));
        let floor_name = hook_name(floor_neighbour);
        let (rec_out, rec_in) = (added(Beside(N::Record)), added(Record));
        let over_floor = |v: Option<f64>| ns(v.zip(floor).map(|(a, b)| a - b));
        let [raw, btf, tp, bt_out, bt_in] = [
            added(Beside(N::EmptyRawTracepoint)),
            added(Beside(N::EmptyBtfTracepoint)),
            added(Beside(N::EmptyTracepoint)),
            added(Beside(N::Bpftrace)),
            added(Bpftrace),
        ]
        .map(ns);
        let outside = self.stat_above(StatCase::RecordOutside);
        let stats = match (self.stat_above(StatCase::Recorded), outside) {
            (Some((rec_above, rec, floor)), Some((out_above, out, _))) => {
                fill!(line TEXT, "limits-stats", rec_above, rec, floor, out_above, out)?
            }
            _ => String::new(),
        };
        let identity = match (self.stat_above(StatCase::BtfCurrentTask), outside) {
            (Some((task_above, task, _)), Some((out_above, ..))) => {
                let past = out_above - task_above;
                fill!(line TEXT, "limits-identity", task_above, task, past)?
            }
            _ => String::new(),
        };
        let fentry_case = Case::new(Micro, Beside(N::EmptyFentry));
        let fentry = match (
            added(Beside(N::EmptyFentry)),
            self.outcome.failures.get(&fentry_case),
        ) {
            (Some(fentry), _) => {
                fill!(line TEXT, "fentry-measured", fentry = ns(Some(fentry)), raw = &raw)?
            }
            (None, Some(error)) => {
                let error = error.replace('|', "/");
                fill!(line TEXT, "fentry-failed", error = error.trim_end_matches([' ', ':']))?
            }
            (None, None) => fill!(line TEXT, "fentry-none")?,
        };
        let mut memory = String::new();
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
            memory = fill!(
                TEXT,
                "kernel-memory",
                entries = lru.max_entries,
                lru = lru.memlock as f64 / 1024.0 / 1024.0,
                all = all as f64 / 1024.0 / 1024.0,
                rest = rest as f64 / 1024.0
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
        let probes = &self.outcome.probes;
        let asked = probes.iter().skip(1);
        let probes = match probes.first() {
            None => String::new(),
            Some(_) if asked.clone().any(|p| p.granted) => {
                let granted: Vec<&str> = asked
                    .filter(|p| p.granted)
                    .map(|p| p.what.as_str())
                    .collect();
                fill!(line TEXT, "probe-granted", granted = granted.join("; "))?
            }
            Some(candidates) => {
                let function = probes
                    .get(1)
                    .map_or("?", |p| p.what.split('`').nth(1).unwrap_or("?"));
                let refusals: Vec<String> = asked
                    .map(|p| format!("{}: {}", p.what, p.answer.replace('|', "/")))
                    .collect();
                fill!(
                    line TEXT,
                    "probe-refused",
                    function,
                    candidates = &candidates.what,
                    answer = &candidates.answer,
                    refusals = refusals.join("; ")
                )?
            }
        };
        let filter = added(SeccompFilter).map(|f| values![filter = ns(Some(f))]);
        let filter_alone = TEXT.maybe("filter-alone", filter)?;
        // A podman container's watches against plain `podman run` with the
        // same profile; a Docker container's against plain `docker run`.
        let against = |r, plain| signed(m(Micro, r).zip(m(Micro, plain)).map(|(v, p)| v - p));
        fill!(
            TEXT,
            "limits",
            raw,
            btf,
            tp,
            floor_source,
            rec_out = ns(rec_out),
            rec_out_over = over_floor(rec_out),
            bt_out,
            rec_in = ns(rec_in),
            rec_in_over = over_floor(rec_in),
            bt_in,
            floor_name,
            floor = ns(floor),
            floor_width = width(Beside(floor_neighbour)),
            out_width = width(Beside(N::Record)),
            in_width = width(Record),
            stats,
            identity,
            fentry,
            memory,
            in_container,
            native,
            kernel_watch = ns(added(EnforceKernelWatch(P::None))),
            watch = ns(added(Enforce(P::None))),
            filter_alone,
            probes,
            podman_listener = against(PodmanEnforce(P::Learned), Podman(P::Learned)),
            podman_kernel = against(PodmanEnforceKernelWatch(P::Learned), Podman(P::Learned)),
            podman_outside = signed(added(Beside(N::EnforcePodman))),
            docker_outside = signed(added(Beside(N::EnforceContainer))),
            docker_kernel = against(ContainerEnforce(P::Learned), Container(P::Learned))
        )
    }

    fn run_notes(&self) -> Result<String> {
        let (notes, failures) = (&self.outcome.notes, &self.outcome.failures);
        if notes.is_empty() && failures.is_empty() {
            return Ok(String::new());
        }
        let docker_default = match self.outcome.docker_default {
            Some(_) => fill!(TEXT, "docker-default")?,
            None => String::new(),
        };
        let mut rows = String::new();
        for note in notes {
            rows += &format!("- `{}`\n", note.replace('`', "'"));
        }
        for (case, error) in failures {
            rows += &format!("- {case} failed: {}\n", error.replace('`', "'"));
        }
        fill!(TEXT, "notes", docker_default, rows)
    }
}

/// A Markdown table row of six cells (those not given are empty), with its
/// line's end; an empty cell is a single space between bars.
fn table_row(mut cells: Vec<String>) -> String {
    cells.resize(6, String::new());
    let row = cells.iter().fold("|".to_owned(), |row, cell| {
        if cell.is_empty() {
            row + " |"
        } else {
            format!("{row} {cell} |")
        }
    });
    row + "\n"
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
