//! The report's golden files: fixed runs, each rendered (BENCHMARKS.md,
//! benchmarks.svg and the summary) and compared byte for byte with
//! `xtask/tests-data/report/NAME/`. `XTASK_BLESS=1` rewrites them; a
//! change of the report's text or figures shows as a change of those files.

use std::{collections::BTreeMap, fs, os::unix::fs::PermissionsExt, path::Path, time::Duration};

use super::{
    measure::{
        BpfObject, Busy, Case, Memory, Neighbour as N, Outcome, Policy as P, ProbeAttempt,
        ProgSample, ProgStats, Run::*, Sizes, StatCase as S, Workload, Workload::*,
    },
    report::{Machine, Report},
    soak::{Sample, Soak},
};

fn machine() -> Machine {
    let tools = ["bpftrace", "strace", "redis", "dockerd", "runc"];
    Machine {
        cpu: "Test CPU @ 2.00GHz".to_owned(),
        cores: 2,
        memory: "7.8 GiB".to_owned(),
        kernel: "6.1.0-test-amd64".to_owned(),
        debian: "12.9".to_owned(),
        spectre: "Mitigation: Retpolines".to_owned(),
        tools: tools.map(|t| (t, format!("{t} v1.2.3"))).into(),
        libseccomp: "2.5.4-1+deb12u1".to_owned(),
    }
}

fn sample(name: &str, type_name: &str, runs: u64, ns_per_run: u64) -> ProgSample {
    let (name, type_name) = (name.to_owned(), type_name.to_owned());
    let run_time_ns = runs * ns_per_run;
    ProgSample {
        name,
        type_name,
        runs,
        run_time_ns,
    }
}

fn object(
    kind: &'static str,
    name: &str,
    type_name: &str,
    entries: u64,
    memlock: u64,
) -> BpfObject {
    let (key_size, value_size) = if kind == "map" { (4, 8) } else { (0, 0) };
    let (name, type_name, id, max_entries) =
        (name.to_owned(), type_name.to_owned(), memlock, entries);
    BpfObject {
        kind,
        id,
        name,
        type_name,
        key_size,
        value_size,
        max_entries,
        memlock,
    }
}

fn map(name: &str, type_name: &str, entries: u64, memlock: u64) -> BpfObject {
    object("map", name, type_name, entries, memlock)
}

fn prog(name: &str, memlock: u64) -> BpfObject {
    object("prog", name, "raw_tracepoint", 0, memlock)
}

fn probe(what: &str, answer: &str, granted: bool) -> ProbeAttempt {
    ProbeAttempt {
        what: what.to_owned(),
        answer: answer.to_owned(),
        granted,
    }
}

/// The run of the report's first tests: a figure, a failure or a gap in
/// every section, and every kind of memory figure.
fn outcome(scratch: &Path) -> Outcome {
    let profile = scratch.join("learned-Micro.json");
    let written = fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["getppid", "exit_group", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(written.is_ok(), "{written:?}");
    let samples: BTreeMap<Case, Vec<f64>> = [
        (Micro, Untraced, &[100.0, 98.0, 103.0][..]),
        (Micro, Record, &[150.0, 140.0, 160.0]),
        (Micro, RecordNoCapture, &[148.0, 139.0, 158.0]),
        (Micro, Bpftrace, &[400.0, 380.0, 420.0]),
        (Micro, Strace, &[25_000.0]),
        (Micro, Beside(N::Record), &[130.0, 125.0, 135.0]),
        (Micro, Beside(N::Bpftrace), &[120.0, 118.0, 121.0]),
        (Micro, Beside(N::EmptyTracepoint), &[140.0, 139.0, 150.0]),
        (Micro, Beside(N::EmptyRawTracepoint), &[115.0, 112.0, 118.0]),
        (Micro, Beside(N::EmptyBtfTracepoint), &[110.0, 109.0, 111.0]),
        (Micro, Beside(N::Enforce), &[101.0, 99.0, 102.0]),
        (Micro, Beside(N::EnforceContainer), &[120.0, 118.0, 125.0]),
        (Micro, ContainerEnforce(P::Learned), &[150.0, 140.0, 190.0]),
        (Micro, SeccompFilter, &[140.0, 138.0, 150.0]),
        (Refused, RefusingFilter, &[1100.0, 1000.0, 1200.0]),
        (
            Refused,
            EnforceKernelWatch(P::Learned),
            &[1400.0, 1300.0, 1500.0],
        ),
        (
            Refused,
            EnforceListener(P::Learned),
            &[7500.0, 7000.0, 8000.0],
        ),
        (Refused, HandOff, &[7300.0, 7200.0, 7400.0]),
        (Micro, Enforce(P::None), &[160.0, 155.0, 170.0]),
        (Micro, EnforceKernelWatch(P::None), &[250.0, 245.0, 260.0]),
        (Micro, Enforce(P::DockerDefault), &[101.0, 100.0, 102.0]),
        (Micro, Enforce(P::Learned), &[100.0, 99.0, 108.0]),
        (Micro, Container(P::None), &[105.0, 104.0, 106.0]),
        (Micro, Container(P::DockerDefault), &[106.0, 105.0, 107.0]),
        (Micro, Container(P::Learned), &[110.0, 109.0, 111.0]),
        (Micro, Podman(P::None), &[104.0, 103.0, 105.0]),
        (Micro, Podman(P::Learned), &[108.0, 107.0, 109.0]),
        (Micro, PodmanEnforce(P::Learned), &[109.0, 107.0, 112.0]),
        (
            Micro,
            PodmanEnforceKernelWatch(P::Learned),
            &[148.0, 145.0, 150.0],
        ),
        (Micro, Beside(N::EnforcePodman), &[100.5, 99.0, 102.0]),
        (FileIo, Untraced, &[2.0, 1.9, 2.2]),
        (FileIo, Record, &[2.5, 2.4, 2.6]),
        (FileIo, Bpftrace, &[3.0, 2.9, 3.3]),
        (Redis, Untraced, &[50_000.0, 48_000.0, 52_000.0]),
        (Redis, Record, &[49_000.0, 47_000.0, 50_000.0]),
        (Redis, Bpftrace, &[45_000.0, 44_000.0, 46_000.0]),
        (Redis, Strace, &[20_000.0]),
        (
            Redis,
            Container(P::DockerDefault),
            &[47_000.0, 46_000.0, 48_000.0],
        ),
        (Redis, ContainerRecord, &[40_000.0, 39_000.0, 41_000.0]),
        (Redis, ContainerBpftrace, &[42_000.0]),
        (Redis, ContainerStrace, &[15_000.0]),
        (Redis, Enforce(P::None), &[46_000.0]),
        (Redis, Enforce(P::DockerDefault), &[49_500.0]),
        (Redis, Enforce(P::Learned), &[49_800.0, 49_000.0]),
        (Redis, Container(P::None), &[47_500.0]),
        (Redis, Container(P::Learned), &[46_500.0]),
        (True, Untraced, &[1.0, 1.1, 0.9, 1.2]),
        (True, Record, &[120.0, 130.0, 110.0, 125.0]),
        (StartTime, Untraced, &[0.5, 0.6]),
    ]
    .into_iter()
    .map(|(workload, run, values)| (Case { workload, run }, values.to_vec()))
    .collect();
    let failures: BTreeMap<Case, String> = [
        (
            Case::new(Micro, Beside(N::EmptyFentry)),
            "attaching to fentry/x64_sys_call: Invalid argument | EINVAL: ",
        ),
        (
            Case::new(FileIo, Strace),
            "`strace` failed (exit status: 1): no | pipe",
        ),
    ]
    .into_iter()
    .map(|(case, error)| (case, error.to_owned()))
    .collect();
    let mut cases: Vec<Case> = samples.keys().chain(failures.keys()).copied().collect();
    // In the run, but neither measured nor failed.
    cases.push(Case::new(StartTime, Record));
    let owned = |pairs: &[(&str, Vec<BpfObject>)]| -> BTreeMap<String, Vec<BpfObject>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    let raw = "raw_tracepoint";
    Outcome {
        sizes: Sizes::new(true),
        rounds: 3,
        command_line: "cargo xtask bench --rounds 3".to_owned(),
        cases,
        samples,
        failures,
        memory: Memory {
            recorder_kib: [
                ("getppid-loop".to_owned(), vec![20_480, 21_504, 19_456]),
                ("/bin/true".to_owned(), vec![15_360]),
            ]
            .into(),
            bpftrace_kib: vec![81_920, 90_000],
            btf_parse_kib: Some((2_048, 20_480)),
            bpf: owned(&[
                (
                    "record (native)",
                    vec![
                        map("IN_SYSCALL", "lru_hash", 65_536, 5_300_000),
                        map("COUNTS", "percpu_array", 512, 40_960),
                        map("DENIALS", "ringbuf", 1, 266_240),
                        prog("sys_enter", 4_096),
                    ],
                ),
                (
                    "bpftrace",
                    vec![
                        map("@", "percpu_hash", 4_096, 330_000),
                        prog("sys_enter", 2_048),
                    ],
                ),
            ]),
        },
        learned: vec![
            ("getppid-loop".to_owned(), profile),
            ("file-io".to_owned(), scratch.join("absent.json")),
        ],
        notes: vec!["syscall-profile: warning: a `quoted` note".to_owned()],
        foreign_programs: vec!["round 2, before redis: untraced: waited 3.5 s".to_owned()],
        load_averages: vec!["0.50 0.40 0.30".to_owned(), "1.00 0.90 0.80".to_owned()],
        docker_default: Some(scratch.join("docker-default.json")),
        elapsed: Duration::from_secs(321),
        recorder: scratch.join("no-such-syscall-profile"),
        commit: "0123abc".to_owned(),
        busy: Busy {
            short_waits: 7,
            measurements: 99,
            busy: vec![0.30, 0.50, 0.40],
            waited: Duration::from_secs(12),
        },
        probes: vec![
            probe("candidates in `/proc/kallsyms`", "`__seccomp_filter`", true),
            probe(
                "a kprobe on `__seccomp_filter` (perf_event_open, kprobe PMU)",
                "no kprobe PMU: reading /sys/bus/event_source/devices/kprobe/type: No such file \
                 or directory (os error 2)",
                false,
            ),
        ],
        server_syscalls: BTreeMap::from([(ContainerRecord, vec![3.0, 2.0, 4.0])]),
        client_syscalls: Some(2.5),
        prog_stats: ProgStats {
            calls: 1000,
            samples: [
                (
                    S::EmptyRawTracepoint,
                    vec![
                        vec![sample("xtask_noop", raw, 1200, 10)],
                        vec![sample("xtask_noop", raw, 1100, 12)],
                    ],
                ),
                (
                    S::Recorded,
                    vec![
                        vec![
                            sample("sys_enter", raw, 1500, 40),
                            sample("sched_exec", raw, 2, 500),
                        ],
                        vec![sample("sys_enter", raw, 1400, 44)],
                    ],
                ),
                (
                    S::RecordedNoCapture,
                    vec![
                        vec![sample("sys_enter", raw, 1500, 39)],
                        vec![sample("sys_enter", raw, 1400, 41)],
                    ],
                ),
                (S::EnforceOutside, vec![vec![], vec![]]),
                (S::EnforcePodmanOutside, vec![vec![]]),
                (
                    S::EnforceContainerOutside,
                    vec![vec![sample("enforce_enter", raw, 1100, 15)]],
                ),
                (
                    S::KernelWatch,
                    vec![vec![
                        sample("watch_enter", raw, 1500, 20),
                        sample("watch_exit", raw, 1500, 25),
                    ]],
                ),
            ]
            .into(),
            failures: [(S::RecordOutside, "no | way".to_owned())].into(),
            sysctl_before: "0".to_owned(),
            sysctl_after: "0".to_owned(),
        },
        soak: None,
    }
}

/// A recorder that answers `diff --format json PROFILE` as the real one
/// does, or fails for a profile named `*absent*`.
fn fake_recorder(scratch: &Path) -> std::path::PathBuf {
    let path = scratch.join("fake-syscall-profile");
    let script = "#!/bin/sh\ncase \"$4\" in *absent*) echo 'no such profile' >&2; exit 1;; esac\n\
                  echo '{\"surface\": {\"baseline_allowed\": 295, \"removed\": 280}, \
                  \"denied_needed\": [\"ptrace\"], \"conditional\": [{\"name\": \"clone\"}, \
                  \"socket\"]}'\n";
    let made = fs::write(&path, script)
        .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(0o755)));
    assert!(made.is_ok(), "{made:?}");
    path
}

fn soak_samples(figures: &[(u64, u64)]) -> Vec<Sample> {
    let maps =
        |extra: u64| BTreeMap::from([("COUNTS".to_owned(), 33_000), ("EXECS".to_owned(), extra)]);
    let sample = |i: usize, &(rss_kib, extra): &(u64, u64)| {
        let (t, maps) = (2.0 * (i + 1) as f64, maps(extra));
        Sample { t, rss_kib, maps }
    };
    figures
        .iter()
        .enumerate()
        .map(|(i, f)| sample(i, f))
        .collect()
}

fn soak() -> Soak {
    let rss = [9000, 9500, 9100, 9150, 9100, 9200, 9100, 9300];
    let figures: Vec<(u64, u64)> = (0..8).map(|i| (rss[i], 1024 * (100 + i as u64))).collect();
    Soak {
        seconds: 40,
        interval: Duration::from_secs(2),
        samples: soak_samples(&figures),
        hwm_kib: 24_000,
        idle_maps: BTreeMap::from([
            ("COUNTS".to_owned(), 33_000),
            ("ARG_VALUES".to_owned(), 65_000),
            ("PROGRAMS".to_owned(), 2_000),
        ]),
        workload: [
            ("seconds", 40.0),
            ("execs", 7200.0),
            ("syscalls", 4.0e6),
            ("captured", 1.0e6),
            ("threads", 800.0),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into(),
        warnings: vec!["syscall-profile: warning: `x` | y".to_owned()],
        failure: None,
    }
}

/// Every case of every part with a figure, every `bpf-stats` case, the
/// soak, a recorder that answers `diff`, and a granted probe.
fn complete(scratch: &Path) -> Outcome {
    let mut run = outcome(scratch);
    let extra = [
        (Captured, Untraced, &[200.0, 190.0, 230.0][..]),
        (Captured, Record, &[260.0, 250.0, 270.0]),
        (Micro, ContainerRecord, &[170.0, 165.0, 171.0]),
        (Micro, ContainerEnforce(P::None), &[180.0, 175.0, 181.0]),
        (
            Micro,
            EnforceKernelWatch(P::Learned),
            &[245.0, 240.0, 246.0],
        ),
        (Micro, Beside(N::EmptyFentry), &[104.0, 103.0, 106.0]),
        (FileIo, Strace, &[40.0, 41.0]),
        (StartTime, Record, &[12.0, 11.0, 13.5]),
    ];
    for (workload, run_, values) in extra {
        let case = Case::new(workload, run_);
        run.failures.remove(&case);
        if !run.cases.contains(&case) {
            run.cases.push(case);
        }
        run.samples.insert(case, values.to_vec());
    }
    run.recorder = fake_recorder(scratch);
    let profile = scratch.join("learned-Redis.json");
    let written = fs::write(
        &profile,
        r#"{"syscalls": [{"names": ["epoll_wait", "read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert!(written.is_ok(), "{written:?}");
    run.learned.push(("redis-server".to_owned(), profile));
    run.soak = Some(soak());
    run.server_syscalls.insert(Record, vec![5.0, 6.0, 7.0]);
    run.probes.push(probe(
        "an empty program on `fentry/__seccomp_filter` (BPF trampoline)",
        "granted (detached at once)",
        true,
    ));
    run.memory.bpf.insert(
        "record --args names (native)".to_owned(),
        vec![
            map("COUNTS", "percpu_array", 512, 40_960),
            map("PROGRAMS", "hash", 64, 20_000),
        ],
    );
    let raw = "raw_tracepoint";
    let stats = &mut run.prog_stats.samples;
    for (case, programs) in [
        (
            S::EmptyBtfTracepoint,
            vec![sample("xtask_noop", "tracing", 1500, 9)],
        ),
        (
            S::BtfCurrentTask,
            vec![sample("xtask_noop", "tracing", 1500, 14)],
        ),
        (S::RecordOutside, vec![sample("sys_enter", raw, 1300, 16)]),
        (
            S::RecordedCaptured,
            vec![
                sample("sys_enter", raw, 1500, 70),
                sample("sys_exit", raw, 1500, 5),
            ],
        ),
    ] {
        stats.insert(case, vec![programs.clone(), programs]);
    }
    run.prog_stats.failures.clear();
    run.prog_stats.sysctl_after = "1".to_owned();
    run
}

/// Compares `text` with the golden file `xtask/tests-data/RELATIVE`
/// (`XTASK_BLESS=1` writes it first).
pub fn compare(relative: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests-data")
        .join(relative);
    if std::env::var_os("XTASK_BLESS").is_some() {
        let dir = path.parent().unwrap_or(&path);
        let blessed = fs::create_dir_all(dir).and_then(|()| fs::write(&path, text));
        assert!(blessed.is_ok(), "{blessed:?}");
    }
    let want = fs::read_to_string(&path).unwrap_or_default();
    let line = want.lines().zip(text.lines()).position(|(a, b)| a != b);
    assert!(
        want == text,
        "{} differs at line {:?} (XTASK_BLESS=1 rewrites it):\n{}",
        path.display(),
        line.map(|l| l + 1),
        line.and_then(|l| text.lines().nth(l))
            .unwrap_or("(one ends before the other)")
    );
}

fn check(name: &str, outcome: impl Fn(&Path) -> Outcome) {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string());
    let scratch = scratch
        .as_ref()
        .map(|d| d.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let report = Report::new(&outcome(scratch), &machine()).unwrap_or_else(|e| panic!("{e:#}"));
    let out = scratch.join("out");
    let written = fs::create_dir_all(&out)
        .map_err(anyhow::Error::from)
        .and_then(|()| report.write(&out));
    assert!(written.is_ok(), "{written:?}");
    for file in ["BENCHMARKS.md", "benchmarks.svg"] {
        let text = fs::read_to_string(out.join(file)).unwrap_or_default();
        compare(&format!("report/{name}/{file}"), &text);
    }
    compare(&format!("report/{name}/summary.txt"), &report.summary());
}

#[test]
fn report_of_a_fixed_run() {
    check("full", outcome);
}

/// A recorder on `tp_btf/sys_enter` is set against the empty program
/// there, in both the end-to-end and the bpf-stats verdicts.
#[test]
fn report_of_a_btf_tracepoint_recorder() {
    check("tp-btf", |scratch| {
        let mut run = outcome(scratch);
        let stats = &mut run.prog_stats.samples;
        stats.insert(
            S::Recorded,
            vec![vec![sample("sys_enter", "tracing", 1500, 30)]],
        );
        stats.insert(
            S::EmptyBtfTracepoint,
            vec![vec![sample("xtask_noop", "tracing", 1500, 9)]],
        );
        run
    });
}

/// Only the start-up part: most targets are not measured, and the
/// sections without figures are left out.
#[test]
fn report_of_a_start_up_run() {
    check("start-up", |scratch| {
        let mut run = outcome(scratch);
        let start_up = |case: &Case| matches!(case.workload, Workload::True | Workload::StartTime);
        run.cases.retain(start_up);
        run.samples.retain(|case, _| start_up(case));
        run.failures.clear();
        run.memory = Memory::default();
        run.learned.clear();
        run.notes.clear();
        run.foreign_programs.clear();
        run.docker_default = None;
        run.busy.busy.clear();
        run.probes.clear();
        run.prog_stats = ProgStats::default();
        run
    });
}

/// Baselines that failed: their rows say why, the rows against them
/// have no ratio, and neither the chart nor the limits quote them.
#[test]
fn report_of_a_run_whose_baselines_failed() {
    check("failed-baselines", |scratch| {
        let mut run = outcome(scratch);
        for (workload, baseline) in [(Micro, Untraced), (Redis, Container(P::None))] {
            let case = Case::new(workload, baseline);
            run.samples.remove(&case);
            run.failures
                .insert(case, format!("{baseline:?} did not start"));
        }
        run
    });
}

#[test]
fn report_of_a_complete_run() {
    check("complete", complete);
}

/// The other side of the branches `complete` takes: the soak failed, the
/// filter alone and the native server's syscalls missing, the recorder's
/// hook read from its programs' types, every probe refused.
#[test]
fn report_of_a_run_with_the_other_branches() {
    check("variants", |scratch| {
        let mut run = complete(scratch);
        run.soak = Some(Soak {
            failure: Some("the soak | failed".to_owned()),
            ..soak()
        });
        run.samples.remove(&Case::new(Micro, SeccompFilter));
        run.server_syscalls.remove(&Record);
        run.client_syscalls = None;
        run.docker_default = None;
        run.prog_stats.samples.remove(&S::Recorded);
        run.memory.bpf.insert(
            "record (native)".to_owned(),
            vec![
                map("COUNTS", "percpu_array", 512, 40_960),
                object("prog", "sys_enter", "tracing", 0, 4_096),
            ],
        );
        run.probes.truncate(2);
        run.samples.insert(
            Case::new(Micro, Beside(N::EnforceContainer)),
            vec![100.0, 99.0, 101.0],
        );
        run.samples.insert(
            Case::new(Redis, ContainerRecord),
            vec![44_800.0, 44_000.0, 45_000.0],
        );
        let no_capture = Case::new(Micro, RecordNoCapture);
        run.samples.insert(no_capture, vec![100.0, 99.0, 101.0]);
        run
    });
}

/// The recorder's hook from the programs a recording held, by their
/// types (the first also with a flat soak).
#[test]
fn report_of_a_run_whose_hook_is_read_from_memory() {
    let flat = [9000; 8].map(|rss_kib| (rss_kib, 0));
    for (name, stats_type, types) in [
        ("hook-from-memory", None, &["tracing", "raw_tracepoint"][..]),
        ("hook-from-tracing", None, &["tracing"]),
        ("hook-unknown", Some("kprobe"), &["kprobe"]),
    ] {
        check(name, |scratch| {
            let mut run = complete(scratch);
            match stats_type {
                Some(t) => run
                    .prog_stats
                    .samples
                    .insert(S::Recorded, vec![vec![sample("p", t, 1, 1)]]),
                None => run.prog_stats.samples.remove(&S::Recorded),
            };
            let programs = types.iter().map(|t| object("prog", "p", t, 0, 1)).collect();
            run.memory
                .bpf
                .insert("record (native)".to_owned(), programs);
            if name == "hook-from-memory" {
                run.soak = Some(Soak {
                    samples: soak_samples(&flat),
                    ..soak()
                });
            }
            run
        });
    }
}

/// A soak without samples, a recorder whose programs were never seen, and
/// no fentry figure nor failure.
#[test]
fn report_of_a_run_with_little_seen() {
    check("little-seen", |scratch| {
        let mut run = complete(scratch);
        run.soak = Some(Soak {
            samples: Vec::new(),
            warnings: Vec::new(),
            ..soak()
        });
        run.prog_stats
            .samples
            .retain(|case, _| *case == S::KernelWatch || *case == S::EnforceOutside);
        run.memory.bpf.clear();
        run.memory.btf_parse_kib = None;
        run.memory.bpftrace_kib.clear();
        let fentry = Case::new(Micro, Beside(N::EmptyFentry));
        run.samples.remove(&fentry);
        for run_ in [Record, Bpftrace, Strace] {
            run.samples.remove(&Case::new(FileIo, run_));
        }
        run.notes.clear();
        run.failures.clear();
        run.probes.clear();
        run
    });
}
