//! A run ends when the work ends: `record`, `enforce` and `check -- CMD`
//! follow a native command's whole tree (a detached child, a daemon that
//! double-forks into a session of its own) until every process of it has
//! ended, as `strace -f` does, and name what outlived the command;
//! `--until command` ends with the command and kills the rest, named;
//! `--duration` and SIGTERM end the wait in good order.
//!
//! The distinctive syscall is `getcpu`, made only by the `call` sample,
//! never by the shell or `sleep` that start it.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;

/// The tests of this file run one at a time: they time runs, and the
/// machine is small.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    one_at_a_time(&SERIAL)
}

/// A shell script whose command exits at once, leaving a background child
/// that makes `getcpu` once the command has been reaped (`kill -0` finds
/// the shell, a zombie, until its parent has waited for it): the call
/// comes after the tool (or strace) saw the command end, whatever the
/// machine's load.
fn detached_getcpu() -> String {
    format!(
        "(while kill -0 $$ 2>/dev/null; do sleep 0.05; done; exec {} getcpu) & exit 0",
        sample("call").display()
    )
}

/// The same, with the child's `getcpu` a minute away: for `--until
/// command`, whose kill of the child must come first (a call made between
/// the command's end and the kill would be the tool's race, not the
/// workload's).
fn detached_getcpu_too_late() -> String {
    format!(
        "(sleep 60; exec {} getcpu) & exit 0",
        sample("call").display()
    )
}

fn names_in(path: &Path) -> std::collections::BTreeSet<String> {
    allowed_names(&fs::read_to_string(path).expect("the profile was written"))
}

/// What `strace -f` sees of `script`: whether it made getcpu. The oracle:
/// strace waits for every traced process, the detached one included.
fn strace_sees_getcpu(script: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=getcpu", "-o"])
        .arg(&log)
        .args(["sh", "-c", script])
        .stdout(Stdio::null())
        .status()
        .expect("strace is needed: install Debian's strace (`cargo xtask setup` does)");
    assert!(status.success(), "strace sh -c {script:?}: {status}");
    fs::read_to_string(&log).unwrap().contains("getcpu(")
}

/// (a) By default the recording waits for the background child, says so,
/// and records its getcpu, as strace -f sees it; with `--until command`
/// the child is killed, named, and its getcpu is absent.
#[test]
fn record_follows_a_detached_child_unless_until_command() {
    require_root();
    let _serial = serial();
    let script = detached_getcpu();
    assert!(strace_sees_getcpu(&script), "the oracle sees the call");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("tree.json");
    let output = run_within(
        &[
            "record",
            "-o",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        names_in(&profile).contains("getcpu"),
        "the detached child's getcpu is recorded: {err}"
    );
    assert_eq!(stdout(&output).trim(), "getcpu=ok", "{err}");
    assert!(
        err.contains("the command exited; ")
            && err.contains(" process(es) of its tree still run: ")
            && err.contains("waiting for them to end"),
        "the wait is said: {err}"
    );
    // The same processes, by pid (their names may have changed since: a
    // forked shell runs a program).
    let pids = |line: &str| -> Vec<String> {
        line.split("(pid ")
            .skip(1)
            .filter_map(|rest| rest.split(')').next().map(str::to_owned))
            .collect()
    };
    let waited = err
        .lines()
        .find(|l| l.contains("the command exited; "))
        .unwrap_or_default();
    let summary = err
        .lines()
        .find(|l| l.contains("outlived the command, and the run waited for them to end: "))
        .unwrap_or_else(|| panic!("the summary names what outlived the command: {err}"));
    assert!(!pids(waited).is_empty(), "{err}");
    assert_eq!(pids(waited), pids(summary), "{err}");
    assert!(!err.contains("were killed"), "{err}");

    let profile = dir.path().join("command.json");
    let output = run_within(
        &[
            "record",
            "--until",
            "command",
            "-o",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &detached_getcpu_too_late(),
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "were still running in the watched cgroup when the command exited, and \
                      were killed: "
        ) && (err.contains("sh (pid ") || err.contains("sleep (pid ")),
        "the child is killed and named: {err}"
    );
    assert!(!names_in(&profile).contains("getcpu"), "{err}");
    assert!(!err.contains("waiting for them"), "{err}");
    assert!(stdout(&output).is_empty(), "the child never ran its call");
}

/// (b) A daemon that double-forks into a session of its own, its standard
/// descriptors on /dev/null, is followed too.
#[test]
fn record_follows_a_double_forked_daemon() {
    require_root();
    let _serial = serial();
    let script = format!(
        "( setsid sh -c 'while kill -0 $1 2>/dev/null; do sleep 0.05; done; exec {} getcpu' \
         sh $$ </dev/null >/dev/null 2>&1 & ); exit 0",
        sample("call").display()
    );
    assert!(strace_sees_getcpu(&script), "the oracle sees the call");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("daemon.json");
    let output = run_within(
        &[
            "record",
            "-o",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let names = names_in(&profile);
    assert!(
        names.contains("getcpu") && names.contains("setsid"),
        "{names:?}: {err}"
    );
    assert!(err.contains("outlived the command"), "{err}");
}

/// (c) `--duration` bounds the wait for a process that never ends: it is
/// ended (SIGTERM), named, and the profile written; the exit status is the
/// command's own.
#[test]
fn duration_bounds_the_wait() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let started = Instant::now();
    let output = run_within(
        &[
            "record",
            "--duration",
            "2s",
            "-o",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "sleep 3600 & exit 7",
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(7), "the command's status: {err}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
    assert!(
        err.contains(
            "the recording ended at its --duration: sent SIGTERM to the 1 process(es) \
                      the command left running: sleep (pid "
        ),
        "{err}"
    );
    assert!(
        err.contains("outlived the command, and the run waited for them until it was ended"),
        "{err}"
    );
    assert!(
        names_in(&profile).contains("nanosleep") || names_in(&profile).contains("clock_nanosleep")
    );
}

/// (c) SIGTERM to the recorder while it waits for a daemon that handles
/// it: passed on once (the daemon counts it), the recording ends at once
/// and in good order, the profile written, nothing left behind.
#[test]
fn sigterm_during_the_wait_ends_it_in_good_order() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let counted = dir.path().join("counted");
    let ready = dir.path().join("ready");
    let script = format!(
        "setsid sh -c ': > {ready}; exec {counter} 60' >{counted} 2>&1 & exit 0",
        ready = ready.display(),
        counter = sample("signal-count").display(),
        counted = counted.display(),
    );
    let child = Command::new(profiler())
        .args(["record", "-o"])
        .arg(&profile)
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(
        wait_for(Duration::from_secs(30), || ready.exists()),
        "the daemon never started"
    );
    // Its handlers are installed right after the exec.
    assert!(
        wait_for(Duration::from_secs(60), || processes_in_run(pid)
            .into_iter()
            .any(|p| command_of(p).as_deref() == Some("signal-count")
                && catches(p, &[libc::SIGINT, libc::SIGTERM]))),
        "the daemon never installed its handlers"
    );
    let started = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "the command's status: {err}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
    assert_eq!(
        fs::read_to_string(&counted).unwrap().trim(),
        "sigint=0 sigterm=1 sighup=0",
        "passed on once: {err}"
    );
    assert!(
        err.contains("passed SIGTERM on to signal-count (pid "),
        "{err}"
    );
    let names = names_in(&profile);
    assert!(names.contains("rt_sigaction"), "{names:?}");
    assert!(cgroups_left_by(pid).is_empty(), "cgroup removed");
    assert_eq!(dir_entries(dir.path()).len(), 3, "no temporary file left");
}

/// `enforce` waits for the tree too: the detached child's refused getcpu is
/// reported; with `--until command` it is killed before it calls.
#[test]
fn enforce_follows_a_detached_child() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcpu"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
    )
    .unwrap();
    let script = detached_getcpu();
    let output = run_within(
        &[
            "enforce",
            "--profile",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert_eq!(stdout(&output).trim(), "getcpu=errno:38", "{err}");
    assert!(
        err.contains(r#"{"names":["getcpu"],"action":"SCMP_ACT_ALLOW"}"#),
        "the refusal is reported: {err}"
    );
    assert!(err.contains("outlived the command"), "{err}");

    let output = run_within(
        &[
            "enforce",
            "--until",
            "command",
            "--profile",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &detached_getcpu_too_late(),
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("were killed: "), "{err}");
    assert!(!err.contains("getcpu"), "{err}");
}

/// `check -- CMD` checks what the whole tree did: the detached child's
/// getcpu is outside the policy.
#[test]
fn check_follows_a_detached_child() {
    require_root();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let script = detached_getcpu();
    let json = dir.path().join("report.json");
    let policy = dir.path().join("policy.json");
    // A policy that allows everything but getcpu: getcpu is what fails.
    fs::write(
        &policy,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcpu"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let output = run_within(
        &[
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "getcpu is outside: {err}");
    let report = fs::read_to_string(&json).unwrap();
    assert!(report.contains("getcpu"), "{report}");
    assert!(err.contains("outlived the command"), "{err}");

    let output = run_within(
        &[
            "check",
            "--until",
            "command",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &detached_getcpu_too_late(),
        ],
        Stdio::null(),
        Duration::from_secs(60),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{}{err}", stdout(&output));
}

/// `--until` for a container is refused in one line, before anything runs.
#[test]
fn until_is_refused_for_a_container() {
    let output = run([
        "record", "--until", "tree", "-o", "-", "--", "docker", "run", "--rm", "busybox", "true",
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--until applies to native commands"), "{err}");
}
