//! containerd, the Kubernetes node runtime, through its CLI `ctr`: a
//! container recorded with `record -- ctr run ...` starts under the learned
//! profile every time (ctr reads the runtime spec's seccomp format, so the
//! profile is handed to it as `export --to oci` or `record --to oci` writes
//! it); the runtime's set-up syscalls are not in it; a syscall the workload
//! never made is refused with the profile's errno (the kernel's verdict, as
//! the sample in the container prints it); `enforce -- ctr run ...` names
//! the denial; a recorder killed with SIGKILL leaves no container behind.
//!
//! `cargo xtask test` starts a containerd of its own and imports the test
//! image into it; these tests fail, naming what is missing, without it.

use std::{
    collections::BTreeSet,
    fs,
    path::Path,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use crate::common::*;

/// The test image, as containerd names it.
const IMAGE: &str = "docker.io/library/syscall-profile-samples:test";

/// How many times a container must start and succeed under its profile.
const RUNS_UNDER_PROFILE: usize = 50;

/// The label every recorded container carries.
const LABEL_KEY: &str = "io.syscall-profile.recording";

/// The containerd `cargo xtask test` starts.
fn address() -> String {
    std::env::var("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS").unwrap_or_else(|_| {
        panic!(
            "SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS is not set: the ctr tests need the \
             containerd that `cargo xtask test` starts (with Debian's containerd)"
        )
    })
}

/// A container id unique to this test process.
fn unique_id(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sp-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `ctr -a ADDRESS run --rm [OPTIONS] IMAGE ID ARGS...`.
fn ctr_run(options: &[&str], id: &str, args: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = vec!["ctr".into(), "-a".into(), address(), "run".into()];
    words.push("--rm".into());
    words.extend(options.iter().map(|s| (*s).to_owned()));
    words.push(IMAGE.into());
    words.push(id.into());
    words.extend(args.iter().map(|s| (*s).to_owned()));
    words
}

/// `ctr ... run` under the OCI profile `profile`.
fn ctr_run_under(profile: &Path, id: &str, args: &[&str]) -> Vec<String> {
    let path = profile.to_string_lossy().into_owned();
    ctr_run(&["--seccomp", "--seccomp-profile", &path], id, args)
}

/// The output of `run`, a command whose workload ends by printing `ok`.
/// containerd can lose the last output of a process that exits right after
/// printing it (the copy of its output races with its exit: see
/// concourse/concourse#6775): a run that succeeded, whose workload printed
/// its `ok` (a failed write would have made its shell exit 1), but whose
/// `ok` never arrived, is run again, twice at most, and said on stderr.
/// Any other outcome, a failure included, is returned as it is.
fn tail_kept(run: impl FnMut() -> Output) -> Output {
    whole_output(run, |out| out.lines().any(|l| l == "ok"))
}

/// The output of `run`, run again (twice at most, said on stderr) while it
/// succeeded but its standard output is not `whole`: the end that
/// containerd's race lost (see `tail_kept`). Any other outcome, a failure
/// included, is returned as it is.
fn whole_output(mut run: impl FnMut() -> Output, whole: impl Fn(&str) -> bool) -> Output {
    for _ in 0..2 {
        let out = run();
        if !out.status.success() || whole(&stdout(&out)) {
            return out;
        }
        eprintln!(
            "containerd lost the end of a run's output (status 0: {:?}); running it again",
            stdout(&out)
        );
    }
    run()
}

/// Runs a command line, with a time limit.
fn run_words(words: &[String]) -> Output {
    Command::new("timeout")
        .arg("60")
        .args(words)
        .stdin(Stdio::null())
        .output()
        .expect("run")
}

/// `record -q -o DIR/NAME [EXTRA] -- WORDS`; the output and the file.
fn record(dir: &Path, name: &str, extra: &[&str], words: &[String]) -> (Output, String) {
    let profile = dir.join(name);
    let mut args: Vec<String> = vec!["record".into(), "-q".into(), "-o".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--".into());
    args.extend(words.iter().cloned());
    let output = run(&args);
    (output, fs::read_to_string(&profile).unwrap_or_default())
}

/// The names an OCI `linux.seccomp` object allows; it has none of
/// Docker's own fields.
fn oci_allowed(text: &str) -> BTreeSet<String> {
    let value: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(value["defaultAction"], "SCMP_ACT_ERRNO", "{text}");
    assert!(
        value.get("comment").is_none() && value.get("archMap").is_none(),
        "no Docker-only fields in the OCI form: {text}"
    );
    allowed_names(text)
}

/// The runtime's set-up syscalls, made before it installs the filter.
const RUNTIME_SETUP: &[&str] = &[
    "mount",
    "pivot_root",
    "sethostname",
    "mkdirat",
    "umount2",
    "keyctl",
];

/// The containers the test containerd knows.
fn containers() -> String {
    let out = Command::new("ctr")
        .args(["-a", &address(), "containers", "ls", "-q"])
        .output()
        .expect("ctr containers ls");
    stdout(&out)
}

/// Recorded through ctr, written as OCI by `record --to oci`, then 50 of 50
/// `ctr run` starts under it succeed with the unconfined run's output; the
/// runtime's set-up syscalls are not in it; and sysinfo, which the workload
/// never made, is refused with EPERM (the profile's errno: sysinfo never
/// fails so on its own) by the kernel under the same profile.
#[test]
fn recorded_through_ctr_then_fifty_starts_and_an_unused_syscall_refused() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let workload = ["sh", "-c", "call getppid uname; echo ok"];
    let expected = tail_kept(|| run_words(&ctr_run(&[], &unique_id("plain"), &workload)));
    assert!(expected.status.success(), "{}", stderr(&expected));
    assert_eq!(stdout(&expected).trim(), "getppid=ok uname=ok\nok");

    let (output, text) = {
        let mut text = String::new();
        let output = tail_kept(|| {
            let (output, written) = record(
                dir.path(),
                "oci.json",
                &["--to", "oci"],
                &ctr_run(&[], &unique_id("rec"), &workload),
            );
            text = written;
            output
        });
        (output, text)
    };
    assert!(output.status.success(), "record: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        stdout(&expected),
        "the recorded run's output"
    );
    let names = oci_allowed(&text);
    for setup in RUNTIME_SETUP {
        assert!(
            !names.contains(*setup),
            "the runtime's pre-filter set-up syscall {setup} is in the profile: {names:?}"
        );
    }
    assert!(
        names.contains("uname") && names.contains("execve"),
        "{names:?}"
    );
    assert!(!names.contains("sysinfo"), "{names:?}");

    let profile = dir.path().join("oci.json");
    let mut failures = Vec::new();
    for round in 0..RUNS_UNDER_PROFILE {
        let out = tail_kept(|| run_words(&ctr_run_under(&profile, &unique_id("run"), &workload)));
        if !out.status.success() || stdout(&out) != stdout(&expected) {
            failures.push(format!(
                "run {round}: {} stdout {:?} stderr {:?}",
                out.status,
                stdout(&out),
                stderr(&out)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {RUNS_UNDER_PROFILE} ctr runs under the learned profile failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let unused = ["call", "getppid", "sysinfo"];
    let free = run_words(&ctr_run(&[], &unique_id("free"), &unused));
    assert_eq!(
        stdout(&free).trim(),
        "getppid=ok sysinfo=ok",
        "{}",
        stderr(&free)
    );
    let confined = run_words(&ctr_run_under(&profile, &unique_id("conf"), &unused));
    assert_eq!(
        stdout(&confined).trim(),
        "getppid=ok sysinfo=errno:1",
        "{}",
        stderr(&confined)
    );
    let left = containers();
    assert!(
        !left.contains(&format!("sp-rec-{}", std::process::id())),
        "{left}"
    );
}

/// `enforce -- ctr run ...` with the Docker-JSON profile `record` writes by
/// default: the tool hands ctr the OCI form, the container runs under it,
/// the exit status passes through, and the denial of sysinfo is named.
#[test]
fn enforce_through_ctr_names_the_denial() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, text) = record(
        dir.path(),
        "docker.json",
        &[],
        &ctr_run(
            &[],
            &unique_id("rec"),
            &["sh", "-c", "call getppid; exit 3"],
        ),
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(allowed_names(&text).contains("getppid"));
    let profile = dir.path().join("docker.json");
    let mut args: Vec<String> = vec!["enforce".into(), "--profile".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.push("--".into());
    args.extend(ctr_run(
        &[],
        &unique_id("enf"),
        &["sh", "-c", "call getppid sysinfo; exit 3"],
    ));
    let output = run(&args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{err}");
    assert_eq!(
        stdout(&output).trim(),
        "getppid=ok sysinfo=errno:1",
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("sysinfo"))
        .unwrap_or_else(|| panic!("no report of the denied sysinfo: {err}"));
    assert!(
        line.contains("(call)") && line.contains("errno 1"),
        "{line}"
    );
    assert!(err.contains("denied 1 syscall(s)"), "only sysinfo: {err}");
    assert!(
        err.contains("the container's engine default: containerd's RuntimeDefault"),
        "{err}"
    );

    // `check -- ctr run ...` sets the new syscall against containerd's
    // default (which allows sysinfo), and names it.
    let report = dir.path().join("check.json");
    let mut args: Vec<String> = vec!["check".into(), "--policy".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.extend([
        "--json".into(),
        report.to_string_lossy().into_owned(),
        "--".into(),
    ]);
    args.extend(ctr_run(
        &[],
        &unique_id("chk"),
        &["sh", "-c", "call getppid sysinfo; exit 3"],
    ));
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let baseline = json["baseline"].as_str().unwrap();
    assert!(
        baseline.starts_with("containerd's RuntimeDefault")
            && baseline.contains("the default of `ctr run --seccomp` (containerd 1.6"),
        "{baseline}"
    );
    let new: Vec<&serde_json::Value> = json["new_syscalls"].as_array().unwrap().iter().collect();
    assert_eq!(new.len(), 1, "{json}");
    assert_eq!(new[0]["name"], "sysinfo");
    assert_eq!(new[0]["engine_default"], "allowed");
    assert!(stdout(&output).contains("engine default: containerd's RuntimeDefault"));
}

/// `enforce` with Docker's own default, whose rules have Docker-only
/// capability and kernel filters, through ctr: the tool decides them for
/// the container as Docker does and hands ctr the runtime spec's form; a
/// user namespace is then refused (Docker's default allows unshare only
/// with CAP_SYS_ADMIN) and named, while the rest of the workload runs.
#[test]
fn enforce_through_ctr_decides_docker_filters_first() {
    require_root();
    // Docker's default as the tool ships it (`baseline_reference.rs`
    // checks it against moby's file).
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("docker-default.json");
    fs::write(
        &profile,
        syscall_profile::baseline::Baseline::docker_default()
            .profile
            .to_json(),
    )
    .unwrap();
    let mut args: Vec<String> = vec!["enforce".into(), "--profile".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.push("--".into());
    args.extend(ctr_run(
        &[],
        &unique_id("dflt"),
        &["sh", "-c", "call getppid; unshare -U true; echo unshare=$?"],
    ));
    let output = run(&args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert_eq!(stdout(&output).trim(), "getppid=ok\nunshare=1", "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("unshare ") && l.contains('×'))
        .unwrap_or_else(|| panic!("no report of the denied unshare: {err}"));
    assert!(line.contains("errno 1"), "{line}");
    assert!(err.contains("CLONE_NEWUSER"), "{err}");
}

/// The recorder killed with SIGKILL while its ctr container exists under
/// the recording profile: its guardian removes the task and the container,
/// and the cgroup, says so naming the container, and nothing is written.
/// Killed at two moments, each waited for: in a first round (run without
/// --rm) as soon as containerd lists the run's container (ctr may still be
/// creating its task), and once the container's command (`sleep`) runs.
#[test]
fn sigkill_of_a_ctr_recording_removes_the_container() {
    require_root();
    for (round, options) in [(0, &[][..]), (1, &["--rm"][..])] {
        let dir = tempfile::tempdir().unwrap();
        let id = unique_id("kill");
        let mut words = ctr_run(options, &id, &["sleep", "60"]);
        // ctr_run gives --rm; round 0 runs without it.
        if round == 0 {
            words.retain(|w| w != "--rm");
        }
        let mut child = Command::new(profiler())
            .args(["record", "-q", "-o"])
            .arg(dir.path().join("p.json"))
            .arg("--")
            .args(&words)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // This run's label value starts so; other tests record containers
        // meanwhile, under values of their own.
        let run_prefix = format!("rec-{pid}-");
        let ready = wait_for(Duration::from_secs(60), || {
            run_containers(&run_prefix).contains(&id)
                && (round == 0 || task_command(&id).as_deref() == Some("sleep"))
        });
        child.kill().unwrap();
        // Standard error closes once the guardian, which shares it, is done
        // (its late looks for a container still being created included).
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        let gone = wait_for(Duration::from_secs(20), || {
            !listed(&containers(), &id) && cgroups_left_by(pid).is_empty()
        });
        if !gone {
            let a = address();
            let _ = Command::new("ctr")
                .args(["-a", &a, "tasks", "rm", "-f", &id])
                .output();
            let _ = Command::new("ctr")
                .args(["-a", &a, "containers", "rm", &id])
                .output();
        }
        assert!(
            ready,
            "round {round}: the container never got that far: {err}"
        );
        assert!(gone, "round {round}: {err}");
        assert_eq!(
            run_containers(&run_prefix),
            Vec::<String>::new(),
            "round {round}"
        );
        assert!(
            err.lines().any(|l| l.contains("guardian")
                && l.contains(&format!("removed the container(s) {id} "))
                && l.contains("created with the recording profile")),
            "round {round}: the guardian names the container {id}: {err}"
        );
        assert!(dir_entries(dir.path()).is_empty(), "round {round}");
    }
}

/// Whether `id` is one of the lines of `list`.
fn listed(list: &str, id: &str) -> bool {
    list.lines().any(|l| l.trim() == id)
}

/// The containers whose recording label's value starts with `prefix`.
fn run_containers(prefix: &str) -> Vec<String> {
    let out = Command::new("ctr")
        .args(["-a", &address(), "containers", "ls", "-q"])
        .arg(format!("labels.\"{LABEL_KEY}\"~=\"^{prefix}\""))
        .output()
        .expect("ctr containers ls");
    stdout(&out).lines().map(str::to_owned).collect()
}

/// What the task of container `id` runs (its comm in /proc), once it runs.
fn task_command(id: &str) -> Option<String> {
    let out = Command::new("ctr")
        .args(["-a", &address(), "tasks", "ls"])
        .output()
        .expect("ctr tasks ls");
    let pid: u32 = stdout(&out).lines().find_map(|l| {
        let mut fields = l.split_whitespace();
        (fields.next() == Some(id))
            .then(|| fields.next()?.parse().ok())
            .flatten()
            .filter(|&p| p > 0)
    })?;
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// Bad `ctr run` lines: one clear line, exit 125, nothing left behind.
#[test]
fn ctr_errors_before_tracing() {
    require_root();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            ctr_run(&["--cgroup", "/mine"], "x", &["true"]),
            "already sets --cgroup",
        ),
        (
            vec![
                "ctr".into(),
                "-a".into(),
                address(),
                "run".into(),
                "-d".into(),
                IMAGE.into(),
                "x".into(),
                "true".into(),
            ],
            "ctr run --detach",
        ),
        (
            vec![
                "ctr".into(),
                "-a".into(),
                address(),
                "run".into(),
                IMAGE.into(),
            ],
            "needs a container id",
        ),
        (
            vec![
                "ctr".into(),
                "-a".into(),
                "/nonexistent/containerd.sock".into(),
                "run".into(),
                IMAGE.into(),
                "x".into(),
            ],
            "cannot reach the containerd engine",
        ),
    ];
    for (words, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(profiler())
            .args(["record", "-o"])
            .arg(dir.path().join("p.json"))
            .arg("--")
            .args(&words)
            .output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(125), "{words:?}: {err}");
        assert!(
            err.contains(message),
            "{words:?}: expected {message:?} in {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(dir_entries(dir.path()).is_empty(), "{words:?}");
    }
}

/// Through `ctr run`, the seccomp listener runc hands over through the
/// runtime spec's `listenerPath` and the eBPF watch report the same
/// denials of the same run (names, counts, errnos), and the container's
/// calls get the profile's errnos under both.
#[test]
fn ctr_listener_and_kernel_watch_report_the_same() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, text) = record(
        dir.path(),
        "docker.json",
        &[],
        // getppid, and pause (ended by its alarm): the sample's parent then
        // waits for a child the way it does for any probe that takes time,
        // so the profile has that wait whatever the watched runs' timing.
        &ctr_run(&[], &unique_id("rec"), &["syscall-verdicts", "110", "34"]),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The learned argument conditions (arch_prctl's) would leave calls to
    // the default action, which runc does not let notify: allowed whole.
    for rule in doc["syscalls"].as_array_mut().unwrap() {
        rule.as_object_mut().unwrap().remove("args");
    }
    doc["syscalls"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}));
    let profile = dir.path().join("refusing.json");
    fs::write(&profile, doc.to_string()).unwrap();
    let mut results = Vec::new();
    for watch in ["kernel", "listener"] {
        let report = dir.path().join(format!("{watch}.json"));
        let mut args: Vec<String> = vec!["enforce".into(), "--watch".into(), watch.into()];
        args.extend(["--json".into(), report.to_string_lossy().into_owned()]);
        args.extend(["--profile".into(), profile.to_string_lossy().into_owned()]);
        args.push("--".into());
        // One verdict line a probe: the fourth lost to containerd's race
        // (see `tail_kept`) runs it again; the reports are rewritten.
        let output = whole_output(
            || {
                let mut words = args.clone();
                words.extend(ctr_run(
                    &[],
                    &unique_id("enf"),
                    &["syscall-verdicts", "110", "83", "83", "99"],
                ));
                run(&words)
            },
            |out| out.lines().count() >= 4,
        );
        let err = stderr(&output);
        assert!(output.status.success(), "{watch}: {err}");
        let denials = denials_without_first_callers(&report);
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        results.push((lines, denials, err));
    }
    let (kernel_lines, kernel, _) = &results[0];
    let (lines, listener, err) = &results[1];
    assert_eq!(kernel_lines, lines, "{err}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(!lines[0].contains("errno"), "{lines:?}");
    assert!(lines[1].ends_with(" errno 13"), "{lines:?}");
    assert!(lines[3].ends_with(" errno 1"), "{lines:?}");
    assert_eq!(kernel, listener, "{err}");
    let names: Vec<&str> = listener
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mkdir", "sysinfo"], "{err}");
    assert_eq!(listener[0]["count"], 2);
}
