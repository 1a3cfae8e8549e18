//! The vocabulary of `cargo xtask bench`'s measurements: what runs (a
//! [`Case`]: a [`Workload`] run some [`Run`] way), the workloads' sizes, the
//! memory figures, the whole [`Outcome`] of a run, and the labels and units
//! they are shown with. The suite makes an `Outcome`, the report reads one;
//! this module uses neither.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

pub use super::empty_hook::ProbeAttempt;
use super::template::Template;

/// The workloads' sizes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sizes {
    /// getppid calls of the microbenchmark.
    pub calls: u64,
    /// ... under strace, which makes each call ~250 times dearer.
    pub strace_calls: u64,
    /// Files of the file I/O workload.
    pub files: u64,
    pub strace_files: u64,
    /// redis-benchmark requests per test (SET, then GET).
    pub requests: u64,
    pub strace_requests: u64,
    /// Refused sysinfo calls of `refused-loop` (each a round trip to the
    /// tool under its seccomp listener).
    pub refused_calls: u64,
    /// Start-up runs per configuration and round.
    pub startups: u32,
    /// Seconds of the soak (`soak` part).
    pub soak_seconds: u64,
    /// Containers started and stopped under the agent (`agent` part): the
    /// issue's number, the same with `--quick`.
    pub agent_containers: u32,
}

impl Sizes {
    /// The full sizes, or `--quick`'s.
    pub fn new(quick: bool) -> Self {
        let pick = |quick_size, full| if quick { quick_size } else { full };
        Sizes {
            calls: pick(1_000_000, 5_000_000),
            strace_calls: pick(20_000, 50_000),
            files: pick(5_000, 20_000),
            strace_files: pick(1_000, 2_000),
            requests: pick(20_000, 50_000),
            strace_requests: pick(5_000, 10_000),
            refused_calls: pick(100_000, 500_000),
            startups: if quick { 5 } else { 10 },
            soak_seconds: pick(40, 300),
            agent_containers: 200,
        }
    }
}

/// What runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Workload {
    /// `getppid-loop N`: ns per call, timed by the loop itself.
    Micro,
    /// `captured-loop N`: the same with prctl(PR_GET_DUMPABLE), a syscall
    /// whose argument the recorder captures.
    Captured,
    /// `file-io N` on a tmpfs: µs per file, timed by itself.
    FileIo,
    /// redis-server under redis-benchmark on 127.0.0.1: requests/s.
    Redis,
    /// `refused-loop N`: sysinfo N times, each refused by the profile (or
    /// the filter): ns per call, timed by the loop itself.
    Refused,
    /// `/bin/true`: wall time from spawn to reaped, in ms.
    True,
    /// `start-time`: ms from spawn to the program's first instruction.
    StartTime,
}

/// A seccomp policy.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Policy {
    /// No filter (`seccomp=unconfined`); natively, `enforce` with a profile
    /// whose default action is ALLOW: only the denial watch is left.
    None,
    /// Docker's default profile.
    DockerDefault,
    /// The profile `record` learned from the same workload.
    Learned,
}

/// How the workload runs (each is named in `report/labels.md`, and its
/// command made in `suite::Bench::runner`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Run {
    Untraced,
    Record,
    /// `record --args names`: natively and without `--stats`, no argument
    /// capture in the kernel side at all.
    RecordNoCapture,
    /// bpftrace counting `raw_syscalls:sys_enter` by id for the workload's cgroup.
    Bpftrace,
    Strace,
    /// `enforce --watch listener` (natively, refusals go to its seccomp
    /// listener: nothing on allowed calls). Asked for by name: `--watch
    /// auto` takes the eBPF watch for a profile that allows `seccomp`, as
    /// the allow-all one does.
    Enforce(Policy),
    /// `enforce --watch kernel`: the eBPF denial watch on every syscall of
    /// the command.
    EnforceKernelWatch(Policy),
    /// `enforce --watch listener`, for the refusals: the seccomp listener,
    /// or no run at all (the tool refuses rather than fall back to eBPF).
    EnforceListener(Policy),
    /// Not the workload: two threads of one process handing a byte back and
    /// forth through pipes as many times (two context switches each), the
    /// floor of a refused call under a seccomp listener on this host.
    HandOff,
    /// A seccomp filter installed by the benchmark right before exec,
    /// refusing sysinfo with EPERM: a refused call with no tool, no watch.
    RefusingFilter,
    /// A seccomp filter of one instruction that allows everything, the same
    /// way: what any filter costs an allowed call (the kernel's per-filter
    /// cache of syscalls always allowed skips running it, for this one and
    /// for `enforce`'s alike).
    SeccompFilter,
    /// The microbenchmark outside the cgroup of something watching another one.
    Beside(Neighbour),
    /// `docker run` (Docker's default: no `--security-opt`).
    Container(Policy),
    /// `enforce -- docker run`: the engine installs the filter, the tool
    /// watches refusals with its eBPF watch.
    ContainerEnforce(Policy),
    ContainerRecord,
    /// bpftrace on the running container's cgroup.
    ContainerBpftrace,
    /// `strace -f -c -p` of the running container's server.
    ContainerStrace,
    /// `podman run` (the test suite's store, runc): the filter alone.
    /// `Policy::Learned` is the loop's profile learned in podman with
    /// `record --args names` (no argument conditions, so the listener can
    /// watch it).
    Podman(Policy),
    /// `enforce --watch listener -- podman run`: runc installs the filter
    /// with a listener and hands it to the tool (the OCI `listenerPath`).
    PodmanEnforce(Policy),
    /// The same with `--watch kernel`: the eBPF denial watch.
    PodmanEnforceKernelWatch(Policy),
}

/// What runs beside the microbenchmark in [`Run::Beside`], watching an idle
/// process or nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Neighbour {
    Record,
    /// `agent` (the node agent), idle: no container runs, the loop is
    /// outside every container.
    Agent,
    /// bpftrace with its cgroup filter.
    Bpftrace,
    /// bpftrace with an empty action on `tracepoint:raw_syscalls:sys_enter`.
    EmptyTracepoint,
    /// The empty programs of `empty_hook`.
    EmptyRawTracepoint,
    EmptyBtfTracepoint,
    EmptyFentry,
    /// `enforce` (allow-all profile): its seccomp listener, natively.
    Enforce,
    /// `enforce -- docker run` of an idle redis-server: the container's eBPF
    /// denial watch.
    EnforceContainer,
    /// `enforce --watch listener -- podman run` of an idle `sleep`: the
    /// container's seccomp listener.
    EnforcePodman,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub struct Case {
    pub workload: Workload,
    pub run: Run,
}

impl Case {
    pub const fn new(workload: Workload, run: Run) -> Self {
        Case { workload, run }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let workload = match self.workload {
            Workload::Micro => "getppid-loop",
            Workload::Captured => "captured-loop",
            Workload::Refused => "refused-loop",
            Workload::FileIo => "file-io",
            Workload::Redis => "redis",
            Workload::True => "/bin/true",
            Workload::StartTime => "start-time",
        };
        write!(f, "{workload}: {}", run_label(self.run))
    }
}

/// Memory figures gathered while the cases run.
#[derive(Default)]
pub struct Memory {
    /// Peak RSS (VmHWM, KiB) of each recorder run, by what it recorded.
    pub recorder_kib: BTreeMap<String, Vec<u64>>,
    /// Peak RSS of bpftrace, KiB.
    pub bpftrace_kib: Vec<u64>,
    /// The eBPF objects a process held, by whose (first sighting only).
    pub bpf: BTreeMap<String, Vec<BpfObject>>,
    /// A fresh process's peak RSS (KiB) before and after parsing the
    /// kernel's BTF as aya's loader does at every load.
    pub btf_parse_kib: Option<(u64, u64)>,
}

/// An eBPF map or program, from the holder's `/proc/PID/fdinfo`.
#[derive(Clone, Debug)]
pub struct BpfObject {
    pub kind: &'static str,
    pub id: u64,
    pub name: String,
    pub type_name: String,
    pub key_size: u64,
    pub value_size: u64,
    pub max_entries: u64,
    pub memlock: u64,
}

/// Everything the report needs.
pub struct Outcome {
    pub sizes: Sizes,
    pub rounds: u32,
    pub command_line: String,
    pub cases: Vec<Case>,
    pub samples: BTreeMap<Case, Vec<f64>>,
    pub failures: BTreeMap<Case, String>,
    pub memory: Memory,
    /// Learned profiles, by workload name.
    pub learned: Vec<(String, PathBuf)>,
    /// Messages worth keeping from the runs (warnings of the tools).
    pub notes: Vec<String>,
    /// Foreign eBPF tracing programs seen at a round's start.
    pub foreign_programs: Vec<String>,
    pub load_averages: Vec<String>,
    pub docker_default: Option<PathBuf>,
    pub elapsed: Duration,
    pub recorder: PathBuf,
    /// The commit the binaries were built from.
    pub commit: String,
    pub busy: Busy,
    /// The `soak` part's measurements, when it ran.
    pub soak: Option<super::soak::Soak>,
    /// The `agent` part's measurements, when it ran.
    pub agent: Option<super::agent::AgentMemory>,
    /// The kernel's answers to the kprobe experiment (with the floors).
    pub probes: Vec<ProbeAttempt>,
    /// The programs' own run statistics (`bpf-stats` part).
    pub prog_stats: ProgStats,
    /// The recorded server's own syscalls per request of the load, from
    /// the recording's counts (`record --stats`), by how it ran
    /// (`Run::Record`, `Run::ContainerRecord`), one value a round.
    pub server_syscalls: BTreeMap<Run, Vec<f64>>,
    /// The load's client's (redis-benchmark's) syscalls per request,
    /// recorded once while learning.
    pub client_syscalls: Option<f64>,
}

/// A measurement of the `bpf-stats` part: a getppid-loop run with the
/// kernel's eBPF run statistics on, and whose programs are read (each named
/// in `report/labels.md`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum StatCase {
    /// The empty programs; the loop runs beside them.
    EmptyRawTracepoint,
    EmptyBtfTracepoint,
    /// A `tp_btf/sys_enter` program that only asks for the current task:
    /// the floor of any program that must know which task is calling.
    BtfCurrentTask,
    /// `record` of an idle `sleep`; the loop runs outside the recording.
    RecordOutside,
    /// `record` of the loop, of captured-loop, and with `--args names`.
    Recorded,
    RecordedCaptured,
    RecordedNoCapture,
    /// `enforce --watch kernel` (allow-all profile) of the loop: the eBPF
    /// denial watch, the one containers get.
    KernelWatch,
    /// `enforce` of an idle `sleep`, of an idle redis-server in docker, of
    /// an idle `sleep` in podman; the loop outside.
    EnforceOutside,
    EnforceContainerOutside,
    EnforcePodmanOutside,
}

impl StatCase {
    pub const ALL: [StatCase; 11] = [
        StatCase::EmptyRawTracepoint,
        StatCase::EmptyBtfTracepoint,
        StatCase::BtfCurrentTask,
        StatCase::RecordOutside,
        StatCase::Recorded,
        StatCase::RecordedCaptured,
        StatCase::RecordedNoCapture,
        StatCase::KernelWatch,
        StatCase::EnforceOutside,
        StatCase::EnforceContainerOutside,
        StatCase::EnforcePodmanOutside,
    ];

    /// How the measurement is named in the report.
    pub fn label(self) -> &'static str {
        label(&format!("bpf-stats {self:?}"))
    }
}

/// One program's share of one measurement: what its run counters grew by.
#[derive(Clone, Debug)]
pub struct ProgSample {
    pub name: String,
    /// bpftool's name of the program type (`raw_tracepoint`, `tracing`…).
    pub type_name: String,
    pub runs: u64,
    pub run_time_ns: u64,
}

/// The figures of the `bpf-stats` part.
#[derive(Default)]
pub struct ProgStats {
    /// The loop's syscalls per measurement.
    pub calls: u64,
    /// Per case, per round: every program whose counters grew.
    pub samples: BTreeMap<StatCase, Vec<Vec<ProgSample>>>,
    pub failures: BTreeMap<StatCase, String>,
    /// `kernel.bpf_stats_enabled` before the part and after it.
    pub sysctl_before: String,
    pub sysctl_after: String,
}

/// How busy the machine was with other work when measurements started.
#[derive(Default)]
pub struct Busy {
    /// Measurements that waited less than 2 s for tracing programs to go
    /// (the previous case's, released by the kernel after its process ended).
    pub short_waits: usize,
    pub measurements: usize,
    /// Other processes' share of all CPUs, for each measurement that
    /// started while it was above [`BUSY_SHARE`] (after waiting).
    pub busy: Vec<f64>,
    /// Time spent waiting for the CPUs to be quiet.
    pub waited: Duration,
}

/// Other processes' share of the CPUs above which a measurement waits.
pub const BUSY_SHARE: f64 = 0.25;

/// The unit of a workload's figure.
pub fn unit(workload: Workload) -> &'static str {
    match workload {
        Workload::Micro | Workload::Captured | Workload::Refused => "ns/call",
        Workload::FileIo => "µs/file",
        Workload::Redis => "requests/s",
        Workload::True | Workload::StartTime => "ms",
    }
}

/// The names of the ways of running and of the bpf-stats measurements.
const LABELS: Template = Template(include_str!("report/labels.md"));

/// How a way of running is named in the tables and in progress lines.
pub fn run_label(run: Run) -> &'static str {
    label(&format!("{run:?}"))
}

fn label(key: &str) -> &'static str {
    LABELS.snippet(key).map_or("?", str::trim_end)
}

/// What a learned profile was learned from.
pub fn learned_label(workload: Workload, container: bool) -> String {
    let name = match workload {
        Workload::Micro => "getppid-loop",
        Workload::Captured => "captured-loop",
        Workload::Refused => "refused-loop (sysinfo taken out)",
        Workload::FileIo => "file-io",
        Workload::Redis => "redis-server",
        Workload::True => "/bin/true",
        Workload::StartTime => "start-time",
    };
    if container {
        format!("{name} in a container")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_way_of_running_and_measurement_has_a_label() {
        let parts = super::super::suite::Part::value_variants();
        for case in super::super::suite::cases(parts, true) {
            assert_ne!(run_label(case.run), "?", "{case:?}");
        }
        for case in StatCase::ALL {
            assert_ne!(case.label(), "?", "{case:?}");
        }
    }
}
