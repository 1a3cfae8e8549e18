//! The vocabulary of `cargo xtask bench`'s measurements: what runs (a
//! [`Case`]: a [`Workload`] run some [`Run`] way), the workloads' sizes, the
//! memory figures, the whole [`Outcome`] of a run, and the labels and units
//! they are shown with. The suite makes an `Outcome`, the report reads one;
//! this module uses neither.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

pub use super::empty_hook::ProbeAttempt;

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
}

impl Sizes {
    pub fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                calls: 1_000_000,
                strace_calls: 20_000,
                files: 5_000,
                strace_files: 1_000,
                requests: 20_000,
                strace_requests: 5_000,
                refused_calls: 100_000,
                startups: 5,
                soak_seconds: 40,
            }
        } else {
            Sizes {
                calls: 5_000_000,
                strace_calls: 50_000,
                files: 20_000,
                strace_files: 2_000,
                requests: 50_000,
                strace_requests: 10_000,
                refused_calls: 500_000,
                startups: 10,
                soak_seconds: 300,
            }
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

/// How the workload runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Run {
    Untraced,
    /// `syscall-profile record -q -o TMP -- CMD`.
    Record,
    /// `syscall-profile record -q --args names -o TMP -- CMD`: natively and
    /// without `--stats`, no argument capture in the kernel side at all.
    RecordNoCapture,
    /// bpftrace counting `raw_syscalls:sys_enter` by id for the workload's cgroup.
    Bpftrace,
    /// `strace -f -c -o TMP`.
    Strace,
    /// `syscall-profile enforce -q --watch listener --profile P -- CMD`
    /// (natively, refusals go to its seccomp listener: nothing on allowed
    /// calls). Asked for by name: `--watch auto` takes the eBPF watch for
    /// a profile that allows `seccomp`, as the allow-all one does.
    Enforce(Policy),
    /// The same with `--watch kernel`: the eBPF denial watch on every
    /// syscall of the command.
    EnforceKernelWatch(Policy),
    /// The same with `--watch listener`: the seccomp listener, or no run
    /// at all (the tool refuses rather than fall back to eBPF).
    EnforceListener(Policy),
    /// Not the workload: `handoff-loop` of as many round trips, two threads
    /// of one process handing a byte back and forth through pipes (two
    /// context switches each): the floor of a refused call under a seccomp
    /// listener on this host.
    HandOff,
    /// The command under a seccomp filter that refuses sysinfo with EPERM
    /// and allows the rest, installed by the benchmark right before exec:
    /// what a refused call costs with no tool and no watch.
    RefusingFilter,
    /// The command under a seccomp filter of one instruction that allows
    /// everything, installed by the benchmark right before exec: what any
    /// filter costs an allowed call (the kernel's per-filter cache of
    /// syscalls always allowed skips running it, for this one and for
    /// `enforce`'s alike), with no tool and no watch.
    SeccompFilter,
    /// The microbenchmark outside the cgroup of something watching another one.
    Beside(Neighbour),
    /// `docker run --security-opt seccomp=...` (Docker's default: no option).
    Container(Policy),
    /// `syscall-profile enforce --profile P -- docker run ...`: the engine
    /// installs the filter, the tool watches refusals with its eBPF watch.
    ContainerEnforce(Policy),
    /// `record -- docker run ...`.
    ContainerRecord,
    /// bpftrace on the running container's cgroup.
    ContainerBpftrace,
    /// `strace -f -c -p` of the running container's server.
    ContainerStrace,
    /// `podman run --security-opt seccomp=...` (the test suite's podman
    /// store, runc): the filter alone. `Policy::Learned` is the loop's
    /// profile learned in podman with `record --args names` (no argument
    /// conditions, so the listener can watch it).
    Podman(Policy),
    /// `syscall-profile enforce --watch listener --profile P -- podman run
    /// ...`: runc installs the filter with a listener and hands it to the
    /// tool (the OCI `listenerPath`); `--watch listener` fails the run
    /// rather than fall back to eBPF.
    PodmanEnforce(Policy),
    /// The same with `--watch kernel`: the eBPF denial watch.
    PodmanEnforceKernelWatch(Policy),
}

/// What runs beside the microbenchmark in [`Run::Beside`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Neighbour {
    /// `record` of an idle `sleep`.
    Record,
    /// bpftrace with its cgroup filter, on an idle `sleep`'s cgroup.
    Bpftrace,
    /// bpftrace with an empty action on `tracepoint:raw_syscalls:sys_enter`.
    EmptyTracepoint,
    /// The empty program of `empty_hook` on `raw_tp/sys_enter`.
    EmptyRawTracepoint,
    /// The empty program on `tp_btf/sys_enter`.
    EmptyBtfTracepoint,
    /// The empty program on `fentry/x64_sys_call`.
    EmptyFentry,
    /// `enforce` (allow-all profile) of an idle `sleep`: its seccomp
    /// listener, natively.
    Enforce,
    /// `enforce --profile LEARNED -- docker run …` of an idle redis-server:
    /// the container's eBPF denial watch.
    EnforceContainer,
    /// `enforce --watch listener --profile LEARNED -- podman run …` of an
    /// idle `sleep`: the container's seccomp listener.
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
/// kernel's eBPF run statistics on, and whose programs are read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum StatCase {
    /// The empty program on `raw_tp/sys_enter`; the loop runs beside it.
    EmptyRawTracepoint,
    /// The empty program on `tp_btf/sys_enter`.
    EmptyBtfTracepoint,
    /// A `tp_btf/sys_enter` program that only asks for the current task:
    /// the floor of any program that must know which task is calling.
    BtfCurrentTask,
    /// `record` of an idle `sleep`; the loop runs outside the recording.
    RecordOutside,
    /// `record` of the loop.
    Recorded,
    /// `record` of captured-loop (a captured syscall).
    RecordedCaptured,
    /// `record --args names` of the loop: no argument capture at all.
    RecordedNoCapture,
    /// `enforce --watch kernel` (allow-all profile) of the loop: the eBPF
    /// denial watch, the one containers get.
    KernelWatch,
    /// `enforce` (allow-all profile) of an idle `sleep`; the loop outside.
    EnforceOutside,
    /// `enforce -- docker run …` of an idle redis-server; the loop outside.
    EnforceContainerOutside,
    /// `enforce --watch listener -- podman run …` of an idle `sleep` (the
    /// container's seccomp listener); the loop outside.
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

    pub fn label(self) -> &'static str {
        match self {
            StatCase::EmptyRawTracepoint => "empty program on `raw_tp/sys_enter`",
            StatCase::EmptyBtfTracepoint => "empty program on `tp_btf/sys_enter`",
            StatCase::BtfCurrentTask => {
                "`tp_btf/sys_enter` program that only calls `bpf_get_current_task_btf`"
            }
            StatCase::RecordOutside => "`record` of an idle `sleep`, the loop outside it",
            StatCase::Recorded => "`record` of getppid-loop (the recorded process)",
            StatCase::RecordedCaptured => "`record` of captured-loop (a captured syscall)",
            StatCase::RecordedNoCapture => {
                "`record --args names` of getppid-loop (no argument capture)"
            }
            StatCase::KernelWatch => {
                "`enforce --watch kernel` of getppid-loop (the eBPF denial watch, as for a \
                 container)"
            }
            StatCase::EnforceOutside => {
                "`enforce` of an idle `sleep` (the seccomp listener), the loop outside it"
            }
            StatCase::EnforceContainerOutside => {
                "`enforce -- docker run …` of an idle redis-server (the eBPF watch), the loop \
                 outside it"
            }
            StatCase::EnforcePodmanOutside => {
                "`enforce -- podman run …` of an idle `sleep` (the seccomp listener), the loop \
                 outside it"
            }
        }
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

/// How a way of running is named in the tables and in progress lines.
pub fn run_label(run: Run) -> &'static str {
    use Neighbour as N;
    use Policy as P;
    use Run::*;
    match run {
        Untraced => "untraced",
        Record => "`syscall-profile record`",
        RecordNoCapture => "`syscall-profile record --args names` (no argument capture)",
        Bpftrace => "bpftrace, cgroup filter, count by id",
        Strace => "`strace -f -c`",
        Enforce(P::None) => {
            "`syscall-profile enforce`, allow-all profile (its denial watch alone: the seccomp \
             listener)"
        }
        EnforceKernelWatch(P::None) => {
            "`syscall-profile enforce --watch kernel`, allow-all profile (the eBPF denial watch \
             alone)"
        }
        EnforceKernelWatch(P::DockerDefault) => {
            "`syscall-profile enforce --watch kernel`, Docker's default profile"
        }
        EnforceKernelWatch(P::Learned) => {
            "`syscall-profile enforce --watch kernel`, learned profile"
        }
        EnforceListener(P::None) => "`syscall-profile enforce --watch listener`, allow-all profile",
        EnforceListener(P::DockerDefault) => {
            "`syscall-profile enforce --watch listener`, Docker's default profile"
        }
        EnforceListener(P::Learned) => {
            "`syscall-profile enforce --watch listener`, learned profile"
        }
        HandOff => {
            "not `enforce`: two threads handing a byte back and forth through pipes, per round \
             trip (`handoff-loop`: two context switches, the floor of any listener)"
        }
        RefusingFilter => {
            "a seccomp filter alone, refusing sysinfo with EPERM (installed before exec; no \
             tool, no watch)"
        }
        SeccompFilter => {
            "a seccomp filter alone, allowing everything (installed before exec; no tool, no \
             watch)"
        }
        Enforce(P::DockerDefault) => "`syscall-profile enforce`, Docker's default profile",
        Enforce(P::Learned) => "`syscall-profile enforce`, learned profile",
        Beside(N::Record) => "beside `record` of an idle `sleep`",
        Beside(N::Bpftrace) => "beside bpftrace watching an idle `sleep`'s cgroup",
        Beside(N::EmptyTracepoint) => {
            "beside bpftrace `tracepoint:raw_syscalls:sys_enter { }` (empty)"
        }
        Beside(N::EmptyRawTracepoint) => "beside an empty program on `raw_tp/sys_enter`",
        Beside(N::EmptyBtfTracepoint) => "beside an empty program on `tp_btf/sys_enter`",
        Beside(N::EmptyFentry) => "beside an empty program on `fentry/x64_sys_call`",
        Beside(N::Enforce) => {
            "beside `enforce` of an idle `sleep` (allow-all profile: the seccomp listener)"
        }
        Beside(N::EnforceContainer) => {
            "beside `enforce -- docker run …` of an idle redis-server (learned profile: the \
             eBPF denial watch)"
        }
        Container(P::None) => "`docker run --security-opt seccomp=unconfined`",
        Container(P::DockerDefault) => "`docker run` (Docker's default profile)",
        Container(P::Learned) => "`docker run --security-opt seccomp=LEARNED.json`",
        ContainerEnforce(P::None) => {
            "`syscall-profile enforce -- docker run …`, allow-all profile (the eBPF denial \
             watch alone)"
        }
        ContainerEnforce(P::DockerDefault) => {
            "`syscall-profile enforce -- docker run …`, Docker's default profile"
        }
        ContainerEnforce(P::Learned) => {
            "`syscall-profile enforce --profile LEARNED.json -- docker run …`"
        }
        ContainerRecord => "`syscall-profile record -- docker run …`",
        ContainerBpftrace => "bpftrace on the container's cgroup",
        ContainerStrace => "`strace -f -c -p` of the server",
        Beside(N::EnforcePodman) => {
            "beside `enforce -- podman run …` of an idle `sleep` (learned profile: the \
             container's seccomp listener)"
        }
        Podman(P::None) => "`podman run --security-opt seccomp=unconfined`",
        Podman(P::DockerDefault) => "`podman run` (podman's default profile)",
        Podman(P::Learned) => {
            "`podman run --security-opt seccomp=LEARNED.json` (learned in podman, `--args names`)"
        }
        PodmanEnforce(P::None) => {
            "`syscall-profile enforce --watch listener -- podman run …`, allow-all profile"
        }
        PodmanEnforce(P::DockerDefault) => {
            "`syscall-profile enforce --watch listener -- podman run …`, Docker's default profile"
        }
        PodmanEnforce(P::Learned) => {
            "`syscall-profile enforce --watch listener --profile LEARNED.json -- podman run …` \
             (the container's seccomp listener)"
        }
        PodmanEnforceKernelWatch(P::None) => {
            "`syscall-profile enforce --watch kernel -- podman run …`, allow-all profile"
        }
        PodmanEnforceKernelWatch(P::DockerDefault) => {
            "`syscall-profile enforce --watch kernel -- podman run …`, Docker's default profile"
        }
        PodmanEnforceKernelWatch(P::Learned) => {
            "`syscall-profile enforce --watch kernel --profile LEARNED.json -- podman run …` \
             (the eBPF denial watch)"
        }
    }
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
