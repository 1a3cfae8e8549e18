//! Syscalls the kernel and language runtimes make by timing: a profile
//! learned from a run where they did not happen must still hold them, or a
//! later run fails. The oracle is the kernel's verdict under the profile
//! (`enforce`): the same workload, stopped and continued, frozen and thawed
//! or signalled during its sleep, succeeds under the profile and fails
//! without the additions (`--no-implied`).

use std::{
    fs,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use crate::common::*;
use serde_json::Value;
use syscall_profile::implied::{DetectError, Runtime, detect_runtime};

/// How long the workload sleeps in a run, in milliseconds: the first try,
/// then longer ones while a disturbance came too late to land in the sleep
/// (a loaded machine). The last only bounds a hang.
const SLEEP_MS: [&str; 4] = ["400", "2000", "10000", "30000"];

/// What happens to the workload from outside during its sleep.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Disturb {
    Nothing,
    /// SIGSTOP, then SIGCONT once it is stopped (Ctrl-Z and `fg`).
    StopContinue,
    /// SIGUSR1, which runs its handler.
    Usr1,
    Both,
    /// Its cgroup frozen and thawed (what `docker pause` and `unpause` do).
    Freeze,
}

/// Freezes the cgroup v2 of `pid` (the one `enforce` made for this run
/// alone), waits until it is frozen, and thaws it. Returns whether `pid`
/// was frozen in its blocking call (`nrs`).
fn freeze_and_thaw(pid: u32, nrs: &[i64]) -> bool {
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("the workload's cgroup");
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 path");
    assert!(
        path.contains("/syscall-profile/"),
        "not enforce's own cgroup: {path}"
    );
    let dir = cgroup2_mount().join(path.trim_start_matches('/'));
    fs::write(dir.join("cgroup.freeze"), "1").expect("freeze");
    let frozen = wait_for(Duration::from_secs(60), || {
        fs::read_to_string(dir.join("cgroup.events")).is_ok_and(|e| e.contains("frozen 1"))
    });
    let landed = current_syscall(pid).is_some_and(|nr| nrs.contains(&nr));
    fs::write(dir.join("cgroup.freeze"), "0").expect("thaw");
    assert!(frozen, "the cgroup {} did not freeze", dir.display());
    landed
}

/// `record [EXTRA...] -o DIR/NAME.json --stats DIR/NAME.stats.json -- CMD...`
fn record(dir: &Path, name: &str, extra: &[&str], command: &[&str]) -> (Output, PathBuf, Value) {
    let profile = dir.join(format!("{name}.json"));
    let stats = dir.join(format!("{name}.stats.json"));
    let mut args: Vec<String> = vec!["record".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "-o".into(),
        profile.display().to_string(),
        "--stats".into(),
        stats.display().to_string(),
        "--".into(),
    ]);
    args.extend(command.iter().map(|s| s.to_string()));
    let output = run(&args);
    assert!(
        output.status.success(),
        "record failed: {}",
        stderr(&output)
    );
    let stats: Value = serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    (output, profile, stats)
}

/// The names the recording observed, from `--stats`.
fn observed(stats: &Value) -> Vec<String> {
    stats["syscalls"]
        .as_array()
        .expect("syscalls")
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn allowed(profile: &Path) -> std::collections::BTreeSet<String> {
    allowed_names(&fs::read_to_string(profile).unwrap())
}

/// The syscall `pid` is blocked in, from /proc/PID/syscall.
fn current_syscall(pid: u32) -> Option<i64> {
    fs::read_to_string(format!("/proc/{pid}/syscall"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The number of the raw syscall `interrupted-sleep CALL` blocks in.
fn blocking_nr(call: &str) -> i64 {
    match call {
        "nanosleep" => libc::SYS_nanosleep,
        "clock_nanosleep" | "clock_nanosleep_abs" => libc::SYS_clock_nanosleep,
        "futex" => libc::SYS_futex,
        "ppoll" => libc::SYS_ppoll,
        "pselect6" => libc::SYS_pselect6,
        "epoll_pwait" => libc::SYS_epoll_pwait,
        #[cfg(target_arch = "x86_64")]
        "poll" => libc::SYS_poll,
        #[cfg(target_arch = "x86_64")]
        "select" => libc::SYS_select,
        #[cfg(target_arch = "x86_64")]
        "epoll_wait" => libc::SYS_epoll_wait,
        other => panic!("no syscall number for {other} here"),
    }
}

/// Waits until `pid` sleeps in its call (or in the kernel's resumption of
/// it); false if it ended first (its sleep was over before it was seen).
fn wait_sleeping(pid: u32, call: &str) -> bool {
    let nrs = [blocking_nr(call), libc::SYS_restart_syscall];
    let sleeping = || current_syscall(pid).is_some_and(|nr| nrs.contains(&nr));
    wait_for(Duration::from_secs(60), || {
        sleeping() || matches!(state(pid), None | Some('Z'))
    });
    sleeping()
}

/// `enforce --profile PROFILE -- interrupted-sleep CALL`, disturbed as asked
/// during the sleep. Returns the output (stdout after the `ready` line). A
/// stop or a freeze is seen to land while the workload blocks in its call
/// (/proc/PID/syscall while it is stopped or frozen); when it came too late,
/// after the sleep, the run is made again with a longer sleep.
fn enforce_sleep(profile: &Path, call: &str, disturb: Disturb) -> Output {
    for ms in SLEEP_MS {
        let (output, landed) = enforce_sleep_once(profile, call, disturb, ms);
        if landed {
            return output;
        }
    }
    panic!("{call} ({disturb:?}): no disturbance landed in a sleep of up to {SLEEP_MS:?} ms");
}

/// One run of [`enforce_sleep`], sleeping `ms`; whether the disturbance
/// landed in the sleep.
fn enforce_sleep_once(profile: &Path, call: &str, disturb: Disturb, ms: &str) -> (Output, bool) {
    let mut child = Command::new(profiler())
        .args(["enforce", "-q", "--profile"])
        .arg(profile)
        .arg("--")
        .arg(sample("interrupted-sleep"))
        .args([call, ms])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run syscall-profile enforce");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let pid: u32 = match ready.strip_prefix("ready ") {
        Some(pid) => pid.trim().parse().expect("a pid"),
        None => {
            let output = child.wait_with_output().unwrap();
            panic!("the workload did not start: {ready}{}", stderr(&output));
        }
    };
    let nrs = [blocking_nr(call), libc::SYS_restart_syscall];
    let mut landed = true;
    if disturb != Disturb::Nothing && !wait_sleeping(pid, call) {
        // Over before it could be disturbed: not a run to judge.
        landed = false;
    } else if matches!(disturb, Disturb::StopContinue | Disturb::Both) {
        // SAFETY: kill has no memory preconditions; pid is our grandchild.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
        let stopped = wait_for(Duration::from_secs(60), || state(pid) == Some('T'));
        landed = stopped && current_syscall(pid).is_some_and(|nr| nrs.contains(&nr));
        // SAFETY: as above.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) };
        assert!(stopped, "the workload did not stop");
    }
    if landed && disturb == Disturb::Freeze {
        landed = freeze_and_thaw(pid, &nrs);
    }
    if landed && matches!(disturb, Disturb::Usr1 | Disturb::Both) {
        if disturb == Disturb::Both {
            // Still (or again) asleep, unless the profile already failed it.
            let nrs = [blocking_nr(call), libc::SYS_restart_syscall];
            wait_for(Duration::from_secs(2), || {
                current_syscall(pid).is_none_or(|nr| nrs.contains(&nr))
            });
        }
        // SAFETY: as above.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGUSR1) };
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut output = child.wait_with_output().unwrap();
    output.stdout = rest.into_bytes();
    (output, landed)
}

/// The workload's own last line, for messages.
fn says(output: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {}",
        output.status.code(),
        stdout(output).trim(),
        stderr(output)
    )
}

#[test]
fn a_sleep_signalled_in_some_runs_gets_restart_syscall_and_rt_sigreturn() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let workload = sample("interrupted-sleep");
    let command = [workload.to_str().unwrap(), "nanosleep", SLEEP_MS[0]];

    // Recorded undisturbed: the kernel made neither call.
    let (output, profile, stats) = record(dir.path(), "learned", &[], &command);
    let seen = observed(&stats);
    assert!(seen.contains(&"nanosleep".to_owned()), "{seen:?}");
    assert!(seen.contains(&"rt_sigaction".to_owned()), "{seen:?}");
    for name in ["restart_syscall", "rt_sigreturn"] {
        assert!(
            !seen.contains(&name.to_owned()),
            "{name} observed: {seen:?}"
        );
    }
    let summary = stderr(&output);
    assert!(
        summary.contains("added restart_syscall (") && summary.contains("nanosleep was seen"),
        "{summary}"
    );
    assert!(
        summary.contains("added rt_sigreturn (") && summary.contains("rt_sigaction was seen"),
        "{summary}"
    );
    let allowed_names = allowed(&profile);
    for name in ["restart_syscall", "rt_sigreturn", "exit", "exit_group"] {
        assert!(
            allowed_names.contains(name),
            "{name} missing: {allowed_names:?}"
        );
    }
    let implied: Vec<&str> = stats["implied"]
        .as_array()
        .expect("an implied list in --stats")
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(implied.contains(&"restart_syscall") && implied.contains(&"rt_sigreturn"));
    assert!(
        implied.iter().all(|name| !seen.contains(&name.to_string())),
        "only names not observed are listed as implied: {implied:?}"
    );

    // The same recording with --no-implied: only what was observed.
    let (output, bare, _) = record(dir.path(), "bare", &["--no-implied"], &command);
    assert!(!stderr(&output).contains("added "), "{}", stderr(&output));
    let bare_names = allowed(&bare);
    assert!(!bare_names.contains("restart_syscall") && !bare_names.contains("rt_sigreturn"));

    // Under the learned profile, every run succeeds, disturbed or not.
    let plan = [
        Disturb::Nothing,
        Disturb::StopContinue,
        Disturb::Usr1,
        Disturb::Both,
        Disturb::Freeze,
    ];
    for run in 0..20 {
        let disturb = plan[run % plan.len()];
        let output = enforce_sleep(&profile, "nanosleep", disturb);
        let usr1 = u32::from(matches!(disturb, Disturb::Usr1 | Disturb::Both));
        assert!(
            output.status.success() && stdout(&output).contains(&format!("usr1={usr1}")),
            "run {run} ({disturb:?}) under the learned profile failed: {}",
            says(&output)
        );
    }

    // Without the additions the kernel's verdict is the failure users see.
    let stopped = enforce_sleep(&bare, "nanosleep", Disturb::StopContinue);
    assert_eq!(stopped.status.code(), Some(1), "{}", says(&stopped));
    assert!(
        stdout(&stopped).contains("nanosleep failed: Operation not permitted"),
        "{}",
        says(&stopped)
    );
    assert!(
        stderr(&stopped).contains("restart_syscall"),
        "{}",
        says(&stopped)
    );
    let frozen = enforce_sleep(&bare, "nanosleep", Disturb::Freeze);
    assert_eq!(frozen.status.code(), Some(1), "{}", says(&frozen));
    assert!(
        stderr(&frozen).contains("restart_syscall"),
        "{}",
        says(&frozen)
    );
    let signalled = enforce_sleep(&bare, "nanosleep", Disturb::Usr1);
    assert!(!signalled.status.success(), "{}", says(&signalled));
    assert!(
        stderr(&signalled).contains("rt_sigreturn"),
        "{}",
        says(&signalled)
    );
}

/// The calls the rule names are exactly those the kernel resumes with
/// restart_syscall: each is checked under a profile without it.
#[test]
fn restart_syscall_is_needed_after_exactly_the_calls_the_rule_names() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let workload = sample("interrupted-sleep");
    let rules = syscall_profile::implied::rules();
    let restart = rules
        .kernel
        .iter()
        .find(|r| r.syscall == "restart_syscall")
        .expect("a restart_syscall rule");
    let triggers: Vec<&str> = match &restart.when_seen {
        syscall_profile::implied::When::AnyOf(names) => names.iter().map(String::as_str).collect(),
        other => panic!("restart_syscall is not always needed: {other:?}"),
    };
    let mut calls = vec![
        "nanosleep",
        "clock_nanosleep",
        "clock_nanosleep_abs",
        "futex",
        "ppoll",
        "pselect6",
        "epoll_pwait",
    ];
    if cfg!(target_arch = "x86_64") {
        calls.extend(["poll", "select", "epoll_wait"]);
    }
    for call in calls {
        let (_, bare, stats) = record(
            dir.path(),
            &format!("{call}-bare"),
            &["--no-implied"],
            &[workload.to_str().unwrap(), call, "100"],
        );
        assert!(!observed(&stats).contains(&"restart_syscall".to_owned()));
        let output = enforce_sleep(&bare, call, Disturb::StopContinue);
        let needs_restart = !output.status.success();
        if needs_restart {
            assert!(
                stderr(&output).contains("restart_syscall"),
                "{call} failed for another reason: {}",
                says(&output)
            );
        }
        // An absolute clock_nanosleep is not resumed this way, but its name
        // is that of the relative one, which is: the rule cannot tell them
        // apart and keeps the name.
        let named = triggers.contains(&call.trim_end_matches("_abs"));
        assert_eq!(
            needs_restart,
            named && call != "clock_nanosleep_abs",
            "{call}: the kernel {} restart_syscall after a stop, and the rule {} it",
            if needs_restart {
                "needed"
            } else {
                "did not need"
            },
            if named { "names" } else { "does not name" },
        );

        if named {
            let (_, learned, _) = record(
                dir.path(),
                &format!("{call}-learned"),
                &[],
                &[workload.to_str().unwrap(), call, "100"],
            );
            assert!(allowed(&learned).contains("restart_syscall"), "{call}");
            let output = enforce_sleep(&learned, call, Disturb::StopContinue);
            assert!(output.status.success(), "{call}: {}", says(&output));
        }
    }
}

/// The first Go program of `names` on PATH; the test fails naming them.
fn go_program(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/bin".into()])
        .collect();
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test needs a Go program ({}): install Debian's docker.io, which brings runc \
                 and containerd (`cargo xtask setup` does)",
                names.join(", ")
            )
        })
}

/// The Go runtime's timing-dependent calls, each of which has been missed by
/// some recording of runc here.
const GO_SET: [&str; 8] = [
    "nanosleep",
    "sched_yield",
    "getpid",
    "tgkill",
    "rt_sigreturn",
    "sigaltstack",
    "futex",
    "epoll_pwait",
];

/// Records a Go program once and runs it `runs` times under its profile.
fn go_program_under_its_profile(program: &Path, args: &[&str], runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = vec![program.to_str().unwrap()];
    command.extend(args);
    let (output, profile, stats) = record(dir.path(), "go", &[], &command);
    let summary = stderr(&output);
    let recognised = "the Go runtime (go1.";
    assert!(
        summary.contains(recognised) && summary.contains(&program.display().to_string()),
        "the summary does not name the Go runtime in {}: {summary}",
        program.display()
    );
    let allowed_names = allowed(&profile);
    let seen = observed(&stats);
    for name in GO_SET {
        // epoll_pwait comes with the network poller only.
        if name == "epoll_pwait" && !seen.iter().any(|s| s.starts_with("epoll_create")) {
            continue;
        }
        assert!(
            allowed_names.contains(name),
            "{name} missing: {allowed_names:?}"
        );
    }
    for added in stats["implied"].as_array().expect("implied") {
        if added["runtime"].is_string() {
            assert_eq!(added["executable"], program.display().to_string());
        }
    }

    let mut failures = Vec::new();
    for run in 0..runs {
        let mut args_os = vec![
            "enforce".into(),
            "-q".into(),
            "--profile".into(),
            profile.clone().into_os_string(),
            "--".into(),
        ];
        args_os.extend(command.iter().map(std::ffi::OsString::from));
        let output = run_with_timeout(&args_os, Duration::from_secs(30));
        if !output.status.success() {
            failures.push(format!("run {run}: {}", says(&output)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs of {} failed under its profile:\n{}",
        failures.len(),
        program.display(),
        failures.join("\n")
    );
}

/// `syscall-profile ARGS`, killed after `timeout` (a Go program that cannot
/// exit under a profile would otherwise hang the suite).
fn run_with_timeout(args: &[std::ffi::OsString], timeout: Duration) -> Output {
    let child = Command::new("timeout")
        .arg("--signal=KILL")
        .arg(timeout.as_secs().to_string())
        .arg(profiler())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("timeout(1) from coreutils");
    child.wait_with_output().unwrap()
}

#[test]
fn runc_recorded_once_runs_every_time_under_its_profile() {
    require_root();
    // Profiles recorded with --no-implied failed 5 and 9 runs in 60 here.
    go_program_under_its_profile(&go_program(&["runc"]), &["--help"], 60);
}

#[test]
fn a_static_go_program_recorded_once_runs_every_time_under_its_profile() {
    require_root();
    // The docker CLI is a static Go executable; ctr a dynamic one.
    let program = go_program(&["docker", "ctr"]);
    go_program_under_its_profile(&program, &["--help"], 30);
}

fn go_version(path: &Path) -> Option<String> {
    match detect_runtime(path) {
        Ok(Some(Runtime::Go { version })) => version,
        other => panic!("{} is not recognised as Go: {other:?}", path.display()),
    }
}

#[test]
fn go_is_recognised_in_dynamic_static_and_stripped_executables() {
    let dynamic = go_program(&["runc"]);
    let version = go_version(&dynamic).expect("runc's Go version");
    assert!(version.starts_with("go1."), "{version}");

    let dir = tempfile::tempdir().unwrap();
    // Without section headers at all (as `sstrip` leaves it): found by
    // searching the writable segment.
    let mut bytes = fs::read(&dynamic).unwrap();
    assert_eq!(bytes[4], 2, "a 64-bit ELF");
    bytes[0x28..0x30].fill(0); // e_shoff
    bytes[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
    let headerless = dir.path().join("runc-no-sections");
    fs::write(&headerless, &bytes).unwrap();
    assert_eq!(go_version(&headerless), Some(version));

    let other = go_program(&["docker", "ctr"]);
    assert!(go_version(&other).is_some());
    let stripped = dir.path().join("stripped");
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(&other)
        .status()
        .expect("strip(1) from binutils");
    assert!(status.success());
    assert!(go_version(&stripped).is_some());
}

#[test]
fn c_rust_and_script_files_are_not_go() {
    for path in ["/bin/true", "/bin/sh"] {
        assert_eq!(detect_runtime(Path::new(path)).unwrap(), None, "{path}");
    }
    assert_eq!(detect_runtime(&sample("interrupted-sleep")).unwrap(), None);
    assert_eq!(detect_runtime(&profiler()).unwrap(), None);

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run.sh");
    fs::write(&script, "#!/bin/sh\nexec runc --help\n").unwrap();
    assert_eq!(detect_runtime(&script).unwrap(), None);
    let empty = dir.path().join("empty");
    fs::write(&empty, "").unwrap();
    assert_eq!(detect_runtime(&empty).unwrap(), None);

    // Without section headers, its segments are searched, and hold no Go.
    let mut bytes = fs::read("/bin/true").unwrap();
    bytes[0x28..0x30].fill(0);
    bytes[0x3c..0x40].fill(0);
    let headerless = dir.path().join("true-no-sections");
    fs::write(&headerless, &bytes).unwrap();
    assert_eq!(detect_runtime(&headerless).unwrap(), None);

    // Cut after the ELF header: an error that names the file.
    let truncated = dir.path().join("truncated");
    fs::write(&truncated, &fs::read("/bin/true").unwrap()[..80]).unwrap();
    match detect_runtime(&truncated) {
        Err(e @ DetectError::Malformed { .. }) => {
            assert!(
                e.to_string().contains(&truncated.display().to_string()),
                "{e}"
            )
        }
        other => panic!("a truncated ELF file: {other:?}"),
    }
    match detect_runtime(&dir.path().join("missing")) {
        Err(DetectError::Read { .. }) => {}
        other => panic!("a missing file: {other:?}"),
    }
}
