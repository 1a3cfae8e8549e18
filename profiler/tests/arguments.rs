//! Argument capture against an independent oracle: for the same command,
//! the values the recorder's kernel side kept for each captured syscall,
//! with their exact counts, equal what `strace -f` shows the command pass.
//! And when the kernel's map of values is full, the calls whose values found
//! no room are counted and reported, never dropped silently.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    process::Command,
};

use crate::common::*;
use serde_json::Value;

/// Per syscall name, the calls by tuple of captured values.
type Values = BTreeMap<String, BTreeMap<Vec<u64>, u64>>;

/// What the tests compare of each captured syscall the workloads make:
/// which arguments (by index), and what of each is kept. Written out here,
/// not taken from the recorder's table, so that a wrong index or mask there
/// shows as a difference.
fn expected_capture(name: &str) -> Option<Vec<(usize, u64)>> {
    const ALL: u64 = u64::MAX;
    const SOCK_TYPE: u64 = 0xffff_ffff & !(0x800 | 0x80000);
    const PROT_EXEC: u64 = 0x4;
    Some(match name {
        "socket" | "socketpair" => vec![(0, ALL), (1, SOCK_TYPE), (2, ALL)],
        "ioctl" | "fcntl" => vec![(1, ALL)],
        "setsockopt" | "getsockopt" => vec![(1, ALL), (2, ALL)],
        "prctl" | "personality" | "arch_prctl" | "clone" | "unshare" => vec![(0, ALL)],
        "mmap" | "mprotect" => vec![(2, PROT_EXEC)],
        _ => return None,
    })
}

/// The syscalls compared with strace.
const COMPARED: &[&str] = &[
    "socket",
    "socketpair",
    "ioctl",
    "fcntl",
    "setsockopt",
    "prctl",
    "personality",
    "arch_prctl",
    "clone",
    "clone3",
    "mmap",
    "mprotect",
];

fn number(text: &str) -> u64 {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|_| panic!("not a number in strace's log: {text:?}"))
}

/// The captured values in an strace log made with `-X raw -e raw=!clone3`:
/// every argument a plain number, except clone3's struct, whose `flags`
/// strace decodes from memory.
fn strace_values(log: &str) -> Values {
    let mut values = Values::new();
    for line in log.lines() {
        let Some((_pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("+++") || rest.starts_with("---") || rest.starts_with("<...") {
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        // `args) = result`, or `args <unfinished ...>` when another thread
        // interrupted the line (every number is printed at entry).
        let args = match args.split_once(" <unfinished") {
            Some((args, _)) => args,
            None => args.rsplit_once(')').map_or(args, |(a, _)| a),
        };
        let tuple = if name == "clone3" {
            let flags = args
                .strip_prefix("{flags=")
                .and_then(|a| a.split([',', '}']).next())
                .unwrap_or_else(|| panic!("clone3 without flags in strace's log: {line}"));
            vec![number(flags)]
        } else if let Some(capture) = expected_capture(name) {
            let words: Vec<&str> = args.split(", ").collect();
            capture
                .iter()
                .map(|&(index, mask)| number(words[index]) & mask)
                .collect()
        } else {
            continue;
        };
        *values
            .entry(name.to_owned())
            .or_default()
            .entry(tuple)
            .or_default() += 1;
    }
    values
}

/// What strace sees of `cmd`, for the compared syscalls.
fn strace(cmd: &[String]) -> Values {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-X", "raw", "-e", "raw=!clone3", "-e"])
        .arg(format!("trace={}", COMPARED.join(",")))
        .arg("-o")
        .arg(&log)
        .args(cmd)
        .stdout(std::process::Stdio::null())
        .status()
        .expect(
            "strace is needed as the oracle: install Debian's strace (`cargo xtask setup` does)",
        );
    assert!(status.success(), "strace {cmd:?} failed: {status}");
    strace_values(&fs::read_to_string(&log).unwrap())
}

/// Records `cmd` with `extra` options; returns the stats and stderr.
fn record(cmd: &[String], extra: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let profile = dir.path().join("profile.json");
    let mut args: Vec<String> = vec!["record".into(), "--no-coverage".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "--stats".into(),
        stats.to_string_lossy().into_owned(),
        "-o".into(),
        profile.to_string_lossy().into_owned(),
        "--".into(),
    ]);
    args.extend(cmd.iter().cloned());
    let output = run(&args);
    assert!(
        output.status.success(),
        "record {cmd:?}: {}",
        stderr(&output)
    );
    let stats: Value = serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    (stats, stderr(&output))
}

/// The captured values of one table in the stats, by syscall name.
fn recorded_values(stats: &Value, arch: &str) -> Values {
    let mut values = Values::new();
    for entry in stats["arguments"]
        .as_array()
        .expect("arguments in the stats")
    {
        if entry["arch"] != arch {
            continue;
        }
        assert_eq!(entry["lost"], 0, "no value lost in {entry}");
        let name = entry["name"].as_str().unwrap().to_owned();
        for v in entry["values"].as_array().unwrap() {
            let tuple: Vec<u64> = v["raw"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| number(r.as_str().unwrap()))
                .collect();
            values
                .entry(name.clone())
                .or_default()
                .insert(tuple, v["calls"].as_u64().unwrap());
        }
    }
    values
}

/// The calls of `name` in the stats' `syscalls` of table `arch`.
fn count_of(stats: &Value, name: &str, arch: &str) -> u64 {
    stats["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name && c["arch"] == arch)
        .map_or(0, |c| c["count"].as_u64().unwrap())
}

fn arg_probe(mode: &[&str]) -> Vec<String> {
    let mut cmd = vec![sample("arg-probe").to_string_lossy().into_owned()];
    cmd.extend(mode.iter().map(|s| s.to_string()));
    cmd
}

/// Records `cmd` with `hook_options` and strace's it; the values of every
/// compared syscall must be the same, with the same counts, and each
/// syscall's values must account for every one of its calls.
fn assert_same_values_as_strace(cmd: &[String], hook_options: &[&str]) -> Value {
    require_root();
    let seen = strace(cmd);
    let (stats, _) = record(cmd, hook_options);
    let recorded = recorded_values(&stats, "x86_64");
    let compared: BTreeSet<&str> = COMPARED.iter().copied().collect();
    let recorded_compared: Values = recorded
        .iter()
        .filter(|(name, _)| compared.contains(name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    assert_eq!(
        recorded_compared, seen,
        "{cmd:?} {hook_options:?}: the recorded values (left) differ from strace's (right)"
    );
    for (name, values) in &recorded {
        assert_eq!(
            values.values().sum::<u64>(),
            count_of(&stats, name, "x86_64"),
            "the values of {name} account for each of its calls"
        );
    }
    stats
}

#[test]
fn the_values_of_the_default_workload_are_strace_s_with_exact_counts() {
    let stats = assert_same_values_as_strace(&arg_probe(&[]), &[]);
    // What the workload does on purpose, named as the user reads it.
    let entry = |name: &str| {
        stats["arguments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name && e["arch"] == "x86_64")
            .unwrap_or_else(|| panic!("{name} in the stats' arguments"))
            .clone()
    };
    let ioctl = entry("ioctl");
    assert_eq!(ioctl["args"], serde_json::json!(["request"]));
    assert_eq!(
        ioctl["values"],
        serde_json::json!([{"symbols": ["FIONREAD"], "raw": ["0x541b"], "calls": 3}])
    );
    let socket = entry("socket");
    let symbols: BTreeSet<String> = socket["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["symbols"][0].as_str().unwrap().to_owned() + " " + v["symbols"][1].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        symbols,
        BTreeSet::from([
            "AF_INET SOCK_STREAM".to_owned(),
            "AF_UNIX SOCK_DGRAM".to_owned()
        ]),
        "socket's type is kept without SOCK_CLOEXEC"
    );
    assert_eq!(
        entry("prctl")["values"][0]["symbols"],
        serde_json::json!(["PR_SET_NAME"])
    );
    assert_eq!(entry("clone3")["values"][0]["calls"], 2, "two threads");
}

#[test]
fn the_values_of_the_probes_are_strace_s() {
    let stats = assert_same_values_as_strace(&arg_probe(&["probe"]), &[]);
    let recorded = recorded_values(&stats, "x86_64");
    const CLONE_NEWUSER: u64 = 0x1000_0000;
    assert!(
        recorded["clone3"].keys().any(|v| v[0] & CLONE_NEWUSER != 0),
        "clone3's flags, read from the caller's memory: {:?}",
        recorded["clone3"]
    );
    assert!(recorded["clone"].keys().any(|v| v[0] & CLONE_NEWUSER != 0));
}

#[test]
fn every_hook_captures_the_same_values() {
    for hook in ["tracepoint", "btf-tracepoint"] {
        assert_same_values_as_strace(&arg_probe(&[]), &["--hook", hook]);
    }
}

#[test]
fn i386_calls_are_captured_by_their_own_registers_and_width() {
    require_root();
    let (stats, _) = record(&arg_probe(&["int80"]), &[]);
    let i386 = recorded_values(&stats, "i386");
    // PR_GET_DUMPABLE with garbage above the 32 bits the kernel reads.
    assert_eq!(i386["prctl"], BTreeMap::from([(vec![3], 1)]));
    // AF_UNIX, SOCK_DGRAM, 0.
    assert_eq!(i386["socket"], BTreeMap::from([(vec![1, 2, 0], 1)]));
}

#[test]
fn values_beyond_the_kernel_s_room_are_counted_and_reported() {
    require_root();
    let flood = 5000;
    let (stats, stderr) = record(&arg_probe(&["ioctl-flood", &flood.to_string()]), &[]);
    let ioctl = stats["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ioctl")
        .expect("ioctl in the stats' arguments")
        .clone();
    let kept: u64 = ioctl["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["calls"].as_u64().unwrap())
        .sum();
    let lost = ioctl["lost"].as_u64().unwrap();
    assert!(
        lost > 0,
        "more distinct requests than the map holds: {ioctl}"
    );
    assert_eq!(
        kept + lost,
        count_of(&stats, "ioctl", "x86_64"),
        "every call is either kept or counted as lost"
    );
    assert_eq!(count_of(&stats, "ioctl", "x86_64"), flood);
    assert!(
        ioctl["values"].as_array().unwrap().len() < flood as usize,
        "the map is bounded"
    );
    assert!(
        stderr.contains(&format!("the argument values of {lost} call(s) of `ioctl`")),
        "the summary says how many calls' values were lost: {stderr}"
    );
}
