//! The report's golden files: fixed runs, each rendered (BENCHMARKS.md,
//! benchmarks.svg and the summary) and compared byte for byte with
//! `xtask/tests-data/report/NAME/`. The runs' figures are in
//! `tests-data/report/run.txt`; the variations of them here. `XTASK_BLESS=1`
//! rewrites the files; a change of the report's text or figures shows as a
//! change of them.

use clap::ValueEnum;
use std::{collections::BTreeMap, fs, os::unix::fs::PermissionsExt, path::Path, time::Duration};

use super::{
    agent::{self, AgentMemory},
    measure::{
        BpfObject, Busy, Case, Memory, Outcome, ProbeAttempt, ProgSample, ProgStats, Run::*, Sizes,
        StatCase as S, Workload::*,
    },
    report::{Machine, Report},
    soak::{Sample, Soak},
    suite::{Part, cases},
};

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
    let shown = line
        .and_then(|l| text.lines().nth(l))
        .unwrap_or("(one ends before the other)");
    let at = line.map(|l| l + 1);
    assert!(
        want == text,
        "{} differs at line {at:?} (XTASK_BLESS=1 rewrites it):\n{shown}",
        path.display()
    );
}

fn program(name: &str, type_name: &str, runs: u64, ns_per_run: u64) -> ProgSample {
    let (name, type_name, run_time_ns) = (name.to_owned(), type_name.to_owned(), runs * ns_per_run);
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
    max_entries: u64,
    memlock: u64,
) -> BpfObject {
    let (key_size, value_size) = if kind == "map" { (4, 8) } else { (0, 0) };
    let (name, type_name, id) = (name.to_owned(), type_name.to_owned(), memlock);
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

fn probe(what: &str, answer: &str, granted: bool) -> ProbeAttempt {
    ProbeAttempt {
        what: what.to_owned(),
        answer: answer.to_owned(),
        granted,
    }
}

/// Adds the records of `section` of `tests-data/report/run.txt` to `run`
/// (see the file for what they are).
fn apply(run: &mut Outcome, section: &str) {
    let text = include_str!("../../tests-data/report/run.txt");
    let start = text
        .find(&format!("[{section}]\n"))
        .map_or(text.len(), |i| i + section.len() + 3);
    let known = cases(Part::value_variants(), true);
    let number = |word: &str| {
        word.parse::<f64>()
            .unwrap_or_else(|e| panic!("{word}: {e}"))
    };
    for line in text[start..].lines().take_while(|l| !l.starts_with('[')) {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let words: Vec<&str> = rest.split(' ').collect();
        match kind {
            "sample" => {
                let named =
                    |c: &&Case| format!("{:?} {:?}", c.workload, c.run) == words[..2].join(" ");
                let case = *known
                    .iter()
                    .find(named)
                    .unwrap_or_else(|| panic!("no case {line}"));
                run.failures.remove(&case);
                if !run.cases.contains(&case) {
                    run.cases.push(case);
                }
                run.samples
                    .insert(case, words[2..].iter().map(|w| number(w)).collect());
            }
            "rss" => {
                let kib = words[1..].iter().map(|w| number(w) as u64).collect();
                run.memory.recorder_kib.insert(words[0].to_owned(), kib);
            }
            "bpftrace" => {
                run.memory.bpftrace_kib = words.iter().map(|w| number(w) as u64).collect()
            }
            "object" => {
                let f: Vec<&str> = rest.split(';').collect();
                let kind = if f[1] == "map" { "map" } else { "prog" };
                let o = object(kind, f[2], f[3], number(f[4]) as u64, number(f[5]) as u64);
                run.memory.bpf.entry(f[0].to_owned()).or_default().push(o);
            }
            "stat" => {
                let case = *S::ALL
                    .iter()
                    .find(|c| format!("{c:?}") == words[0])
                    .unwrap_or_else(|| panic!("{line}"));
                let rounds = run.prog_stats.samples.entry(case).or_default();
                let round = number(words[1]) as usize;
                rounds.resize_with(rounds.len().max(round + 1), Vec::new);
                if let [name, type_name, runs, ns] = words[2..] {
                    rounds[round].push(program(
                        name,
                        type_name,
                        number(runs) as u64,
                        number(ns) as u64,
                    ));
                }
            }
            _ => {}
        }
    }
}

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

/// The run of the report's first tests (`[base]`), with the profiles it
/// learned written in `scratch`.
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
    let busy = Busy {
        short_waits: 7,
        measurements: 99,
        busy: vec![0.30, 0.50, 0.40],
        waited: Duration::from_secs(12),
    };
    let mut run = Outcome {
        sizes: Sizes::new(true),
        rounds: 3,
        command_line: "cargo xtask bench --rounds 3".to_owned(),
        cases: Vec::new(),
        samples: BTreeMap::new(),
        failures: BTreeMap::new(),
        memory: Memory {
            btf_parse_kib: Some((2_048, 20_480)),
            ..Memory::default()
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
        busy,
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
            sysctl_before: "0".to_owned(),
            sysctl_after: "0".to_owned(),
            ..ProgStats::default()
        },
        soak: None,
        agent: None,
    };
    apply(&mut run, "base");
    run.prog_stats
        .failures
        .insert(S::RecordOutside, "no | way".to_owned());
    let failures = [
        (
            Case::new(Micro, Beside(super::measure::Neighbour::EmptyFentry)),
            "attaching to fentry/x64_sys_call: Invalid argument | EINVAL: ",
        ),
        (
            Case::new(FileIo, Strace),
            "`strace` failed (exit status: 1): no | pipe",
        ),
    ];
    run.failures = failures
        .map(|(case, error)| (case, error.to_owned()))
        .into();
    // The cases as the suite lists them, and one in the run but neither
    // measured nor failed.
    run.cases = run
        .samples
        .keys()
        .chain(run.failures.keys())
        .copied()
        .collect();
    run.cases.push(Case::new(StartTime, Record));
    run
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

/// A soak's samples every 2 s: (RSS, the size of a map that grows).
fn soak_samples(figures: &[(u64, u64)]) -> Vec<Sample> {
    let sample = |i: usize, &(rss_kib, extra): &(u64, u64)| {
        let maps = BTreeMap::from([("COUNTS".to_owned(), 33_000), ("EXECS".to_owned(), extra)]);
        Sample {
            t: 2.0 * (i + 1) as f64,
            rss_kib,
            maps,
        }
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
    let idle_maps = [
        ("COUNTS", 33_000),
        ("ARG_VALUES", 65_000),
        ("PROGRAMS", 2_000),
    ];
    let workload = [
        ("seconds", 40.0),
        ("execs", 7200.0),
        ("syscalls", 4.0e6),
        ("captured", 1.0e6),
        ("threads", 800.0),
    ];
    Soak {
        seconds: 40,
        interval: Duration::from_secs(2),
        samples: soak_samples(&figures),
        hwm_kib: 24_000,
        idle_maps: idle_maps.map(|(k, v)| (k.to_owned(), v)).into(),
        workload: workload.map(|(k, v)| (k.to_owned(), v)).into(),
        warnings: vec!["syscall-profile: warning: `x` | y".to_owned()],
        failure: None,
    }
}

/// The agent part's samples after 0, 50, … containers: (RSS, the size of
/// a map that grows), every container recorded and written.
fn agent_memory(figures: &[(u64, u64)]) -> AgentMemory {
    let samples = figures.iter().enumerate().map(|(i, &(rss_kib, extra))| {
        let containers = i as u32 * agent::EVERY;
        let maps = BTreeMap::from([
            ("AGENT_COUNTS".to_owned(), 1_052_672),
            ("AGENT_NEW".to_owned(), extra),
        ]);
        agent::Sample {
            containers,
            recorded: containers as usize,
            ended: containers as usize,
            rss_kib,
            hwm_kib: rss_kib + 512,
            maps,
        }
    });
    AgentMemory {
        containers: 200,
        started: "syscall-profile: agent: counting every container on the `tp_btf` hook".to_owned(),
        samples: samples.collect(),
        seconds: 90.0,
        replicas: Some(200),
        warnings: Vec::new(),
        failure: None,
    }
}

/// Every case of every part with a figure, every `bpf-stats` case, the
/// soak, the agent part, a recorder that answers `diff`, and a granted
/// probe.
fn complete(scratch: &Path) -> Outcome {
    let mut run = outcome(scratch);
    apply(&mut run, "complete");
    run.recorder = fake_recorder(scratch);
    let profile = scratch.join("learned-Redis.json");
    let allowed =
        r#"{"syscalls": [{"names": ["epoll_wait", "read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#;
    assert!(fs::write(&profile, allowed).is_ok());
    run.learned.push(("redis-server".to_owned(), profile));
    run.soak = Some(soak());
    run.agent = Some(agent_memory(&[
        (9000, 0),
        (9800, 0),
        (9850, 128),
        (9800, 0),
        (9850, 0),
    ]));
    run.server_syscalls.insert(Record, vec![5.0, 6.0, 7.0]);
    let trampoline = "an empty program on `fentry/__seccomp_filter` (BPF trampoline)";
    run.probes
        .push(probe(trampoline, "granted (detached at once)", true));
    run.prog_stats.failures.clear();
    run.prog_stats.sysctl_after = "1".to_owned();
    run
}

/// Renders the run `outcome` makes (in a scratch directory) and compares
/// it with the golden files of `name`.
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
            vec![vec![program("sys_enter", "tracing", 1500, 30)]],
        );
        stats.insert(
            S::EmptyBtfTracepoint,
            vec![vec![program("xtask_noop", "tracing", 1500, 9)]],
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
        let start_up = |case: &Case| matches!(case.workload, True | StartTime);
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
        for case in [
            Case::new(Micro, Untraced),
            Case::new(Redis, Container(super::measure::Policy::None)),
        ] {
            run.samples.remove(&case);
            run.failures
                .insert(case, format!("{:?} did not start", case.run));
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
        // The agent grew, and missed a container.
        let mut agent = agent_memory(&[
            (9000, 0),
            (9800, 0),
            (10_400, 0),
            (11_000, 0),
            (11_600, 4096),
        ]);
        if let Some(last) = agent.samples.last_mut() {
            last.recorded = 199;
        }
        agent.replicas = Some(199);
        agent.warnings = vec![
            "syscall-profile: warning: docker container 0123456789ab ended before its engine \
             named it: its calls are in no profile"
                .to_owned(),
        ];
        agent.failure = Some(
            "the agent recorded 199 of the 200 containers (199 replicas in its state file)"
                .to_owned(),
        );
        run.agent = Some(agent);
        run.samples.remove(&Case::new(Micro, SeccompFilter));
        run.server_syscalls.remove(&Record);
        run.client_syscalls = None;
        run.docker_default = None;
        run.prog_stats.samples.remove(&S::Recorded);
        let programs = vec![
            object("map", "COUNTS", "percpu_array", 512, 40_960),
            object("prog", "sys_enter", "tracing", 0, 4_096),
        ];
        run.memory
            .bpf
            .insert("record (native)".to_owned(), programs);
        run.probes.truncate(2);
        let neighbour = Beside(super::measure::Neighbour::EnforceContainer);
        for (case, values) in [
            (Case::new(Micro, neighbour), [100.0, 99.0, 101.0]),
            (
                Case::new(Redis, ContainerRecord),
                [44_800.0, 44_000.0, 45_000.0],
            ),
            (Case::new(Micro, RecordNoCapture), [100.0, 99.0, 101.0]),
        ] {
            run.samples.insert(case, values.into());
        }
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
            let stats = &mut run.prog_stats.samples;
            match stats_type {
                Some(t) => stats.insert(S::Recorded, vec![vec![program("p", t, 1, 1)]]),
                None => stats.remove(&S::Recorded),
            };
            let programs = types.iter().map(|t| object("prog", "p", t, 0, 1)).collect();
            run.memory
                .bpf
                .insert("record (native)".to_owned(), programs);
            if name == "hook-unknown" {
                run.agent = Some(AgentMemory {
                    containers: 200,
                    failure: Some("the agent ended (exit status: 125) | no BTF".to_owned()),
                    ..AgentMemory::default()
                });
            }
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
        run.agent = Some(AgentMemory {
            replicas: None,
            ..agent_memory(&[(9000, 0)])
        });
        run.prog_stats
            .samples
            .retain(|case, _| matches!(case, S::KernelWatch | S::EnforceOutside));
        run.memory.bpf.clear();
        run.memory.btf_parse_kib = None;
        run.memory.bpftrace_kib.clear();
        let gone = [
            Beside(super::measure::Neighbour::EmptyFentry),
            Record,
            Bpftrace,
            Strace,
        ];
        for (i, run_) in gone.into_iter().enumerate() {
            run.samples
                .remove(&Case::new(if i == 0 { Micro } else { FileIo }, run_));
        }
        run.notes.clear();
        run.failures.clear();
        run.probes.clear();
        run
    });
}
