//! `record` as a user meets it: where the profile goes, exit statuses,
//! signals, and the live line on a terminal.

use std::{
    fs,
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::*;

#[test]
fn profile_goes_to_stdout_and_messages_to_stderr() {
    require_root();
    let output = run([
        "record".as_ref(),
        "--".as_ref(),
        sample("getppid-loop").as_os_str(),
        "3".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let names = allowed_names(&stdout(&output));
    assert!(
        names.contains("getppid") && names.contains("execve"),
        "{names:?}"
    );
    assert!(
        stderr(&output).contains("distinct syscalls"),
        "summary on stderr"
    );
    // No spinner: stderr is not a terminal here.
    assert!(
        !stderr(&output).contains("recording"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn profile_file_is_docker_format() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        "true".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    assert!(stderr(&output).is_empty(), "quiet: {}", stderr(&output));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(json["defaultErrnoRet"], 1);
    let names: Vec<&str> = json["syscalls"][0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "names are sorted");
    assert_eq!(dir_entries(dir.path()).len(), 1, "no temporary file left");
}

#[test]
fn exit_status_is_the_commands() {
    require_root();
    let output = run(["record", "-q", "-o", "-", "--", "sh", "-c", "exit 7"]);
    assert_eq!(output.status.code(), Some(7));
    assert!(allowed_names(&stdout(&output)).contains("execve"));
    // Killed by a signal: 128 + the signal's number, as shells report it.
    let output = run(["record", "-q", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(output.status.code(), Some(128 + 9), "{}", stderr(&output));
    assert!(allowed_names(&stdout(&output)).contains("kill"));
}

/// SIGTERM and SIGINT sent to the recorder (with kill(1), not from a
/// terminal) reach the command exactly once, and the profile of what was
/// seen until then is still written, whole, with nothing left behind.
#[test]
fn signals_are_forwarded_and_the_profile_is_still_written() {
    require_root();
    for (signal, expected) in [
        (libc::SIGTERM, "sigint=0 sigterm=1 sighup=0"),
        (libc::SIGINT, "sigint=1 sigterm=0 sighup=0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let child = Command::new(profiler())
            .args(["record", "-q", "-o"])
            .arg(&path)
            .arg("--")
            .arg(sample("signal-count"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The command is ready once the recording's cgroup holds it and it
        // has installed its handlers (before that, a signal kills it). The
        // recorder's child enters the cgroup before its exec, with the
        // recorder's handlers, which the exec resets: only the sample's own
        // count (seen under two CPU hogs: the signal came between the two).
        let ready = || {
            processes_in_run(pid).into_iter().any(|p| {
                command_of(p).as_deref() == Some("signal-count")
                    && catches(p, &[libc::SIGINT, libc::SIGTERM])
            })
        };
        assert!(
            wait_for(Duration::from_secs(60), ready),
            "the command never started"
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, signal) };
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stdout(&output).trim(), expected);
        let names = allowed_names(&fs::read_to_string(&path).unwrap());
        assert!(
            names.contains("rt_sigaction") && names.contains("write"),
            "{names:?}"
        );
        assert_eq!(dir_entries(dir.path()).len(), 1, "only the profile");
        assert!(cgroups_left_by(pid).is_empty(), "cgroup removed");
    }
}

/// The run cgroups of the tool with pid `pid`: `record`'s and `check`'s
/// (`rec-PID-…`), `enforce`'s (`enf-PID-…`).
fn run_cgroups(pid: u32) -> Vec<std::path::PathBuf> {
    let parent = cgroup2_mount().join("syscall-profile");
    let prefixes = [format!("rec-{pid}-"), format!("enf-{pid}-")];
    fs::read_dir(parent)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    prefixes.iter().any(|p| name.starts_with(p))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a process in `pid`'s run cgroups catches SIGINT, SIGTERM and
/// SIGHUP (`SigCgt` in /proc): `signal-count` once its handlers are in.
fn catching_all_three(pid: u32) -> bool {
    let mask: u64 = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
        .iter()
        .map(|s| 1u64 << (s - 1))
        .sum();
    run_cgroups(pid).iter().any(|cgroup| {
        fs::read_to_string(cgroup.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .any(|p| {
                // The command itself, not the tool's child before its exec
                // (which holds the tool's handlers).
                let status = fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
                status.lines().any(|l| l == "Name:\tsignal-count")
                    && status
                        .lines()
                        .find_map(|l| l.strip_prefix("SigCgt:"))
                        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                        .is_some_and(|caught| caught & mask == mask)
            })
    })
}

/// SIGHUP, SIGINT and SIGTERM sent to `record`, `enforce` and `check`
/// (with kill(2), not from a terminal) each reach the command exactly once
/// (the command counts them), and each tool then ends in good order: the
/// command's status, `enforce --json` and `check --json` written, no
/// cgroup left.
#[test]
fn hup_int_and_term_reach_the_command_of_record_enforce_and_check() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    let report = dir.path().join("report.json");
    let signals = [
        (libc::SIGHUP, "sigint=0 sigterm=0 sighup=1"),
        (libc::SIGINT, "sigint=1 sigterm=0 sighup=0"),
        (libc::SIGTERM, "sigint=0 sigterm=1 sighup=0"),
    ];
    // record first: its profile (of a run that took a signal) is the
    // policy enforce and check run under.
    for tool in ["record", "enforce", "check"] {
        for (signal, expected) in signals {
            let _ = fs::remove_file(&report);
            let mut command = Command::new(profiler());
            match tool {
                "record" => command.args(["record", "-q", "-o"]).arg(&policy),
                "enforce" => command
                    .args(["enforce", "--profile"])
                    .arg(&policy)
                    .arg("--json")
                    .arg(&report),
                _ => command
                    .args(["check", "-q", "--policy"])
                    .arg(&policy)
                    .arg("--json")
                    .arg(&report),
            };
            let child = command
                .arg("--")
                .arg(sample("signal-count"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            assert!(
                wait_for(Duration::from_secs(30), || catching_all_three(pid)),
                "{tool}: the command never started"
            );
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid as i32, signal) };
            let output = child.wait_with_output().unwrap();
            let err = stderr(&output);
            assert_eq!(
                stdout(&output).lines().next(),
                Some(expected),
                "{tool}, signal {signal}: {err}"
            );
            match tool {
                "check" => {
                    // 0 or 1 (the policy's verdict); never the tool's failure.
                    assert!(
                        matches!(output.status.code(), Some(0 | 1)),
                        "{tool}, signal {signal}: {}: {err}",
                        output.status
                    );
                    let json: serde_json::Value =
                        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
                    assert_eq!(json["command_exit_code"], 0, "{json}");
                }
                _ => assert!(output.status.success(), "{tool}, signal {signal}: {err}"),
            }
            if tool == "enforce" {
                let json: serde_json::Value =
                    serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
                assert!(json.is_object(), "{json}");
            }
            if tool == "record" {
                let names = allowed_names(&fs::read_to_string(&policy).unwrap());
                assert!(names.contains("rt_sigreturn"), "{names:?}");
            }
            assert!(run_cgroups(pid).is_empty(), "{tool}: cgroup left");
        }
    }
}

/// A signal that comes while `record` or `enforce` sets up (its cgroup made,
/// the eBPF programs loading) stops the run before the command starts: the
/// command never runs (it would leave a file), the tool says so in one line
/// and exits as a shell reports the signal (143 for SIGTERM), with no
/// profile written and no cgroup left. The signal is sent as soon as the
/// run's cgroup exists; an attempt where the command had already started
/// is retried (the set-up takes tens of milliseconds, so most land early).
#[test]
fn a_signal_before_the_command_starts_stops_the_run_with_nothing_started() {
    require_root();
    for tool in ["record", "enforce"] {
        let mut early = 0;
        for attempt in 0..10 {
            if early >= 2 {
                break;
            }
            let dir = tempfile::tempdir().unwrap();
            let (policy, mark) = (dir.path().join("p.json"), dir.path().join("ran"));
            if tool == "enforce" {
                let output = run([
                    "record".as_ref(),
                    "-q".as_ref(),
                    "-o".as_ref(),
                    policy.as_os_str(),
                    "--".as_ref(),
                    "touch".as_ref(),
                    dir.path().join("x").as_os_str(),
                ]);
                assert!(output.status.success(), "{}", stderr(&output));
            }
            let mut command = Command::new(profiler());
            match tool {
                "record" => command.args(["record", "-q", "-o"]).arg(&policy),
                _ => command.args(["enforce", "--profile"]).arg(&policy),
            };
            let child = command
                .arg("--")
                .arg("touch")
                .arg(&mark)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            assert!(
                wait_for(Duration::from_secs(30), || !run_cgroups(pid).is_empty()),
                "{tool}: no run cgroup appeared"
            );
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            let output = child.wait_with_output().unwrap();
            let err = stderr(&output);
            assert!(run_cgroups(pid).is_empty(), "{tool}: cgroup left: {err}");
            if mark.exists() {
                // Too late: the command had started (the signal reached it
                // or came after it).
                eprintln!("{tool}, attempt {attempt}: the command had started: {err}");
                continue;
            }
            early += 1;
            assert_eq!(
                err.trim(),
                "syscall-profile: error: interrupted by signal 15 before the command started; it \
                 did not run",
                "{tool}"
            );
            assert_eq!(output.status.code(), Some(143), "{tool}: {err}");
            if tool == "record" {
                assert!(!policy.exists(), "a profile was written");
            }
        }
        assert!(
            early >= 2,
            "{tool}: no signal landed before the command started in 10 attempts"
        );
    }
}

/// On a terminal: a live line with elapsed time, distinct syscalls and calls;
/// and Ctrl-C reaches the command once (the terminal sends it to the whole
/// foreground group, so the recorder must not forward it again).
#[test]
fn terminal_shows_progress_and_ctrl_c_arrives_once() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result.txt");
    let profile = dir.path().join("p.json");
    let script = format!(
        "{} record -o {} -- {} > {} ; echo exit=$? >> {}; sleep 30",
        profiler().display(),
        profile.display(),
        sample("signal-count").display(),
        result.display(),
        result.display()
    );
    let tmux = Tmux::start(&format!("sp-test-{}", std::process::id()), &script);
    assert!(
        wait_for(Duration::from_secs(10), || tmux
            .pane()
            .contains("distinct syscalls")),
        "no live line on the terminal: {}",
        tmux.pane()
    );
    let pane = tmux.pane();
    assert!(
        pane.contains("recording 00:00:0"),
        "elapsed time shown: {pane}"
    );
    assert!(pane.contains(" calls"), "{pane}");
    // Ctrl-C once the command has its handlers (before, it would die of
    // it): the recorder is the process whose command line names the
    // profile.
    let recorder = || {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .find(|p| {
                fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                    String::from_utf8_lossy(&c).contains(&*profile.to_string_lossy())
                        && command_of(*p).as_deref() == Some("syscall-profile")
                })
            })
    };
    assert!(
        wait_for(Duration::from_secs(60), || recorder().is_some_and(|r| {
            processes_in_run(r).into_iter().any(|p| {
                command_of(p).as_deref() == Some("signal-count")
                    && catches(p, &[libc::SIGINT, libc::SIGTERM])
            })
        })),
        "the recorded command never installed its handlers"
    );
    tmux.send_keys("C-c");
    assert!(
        wait_for(Duration::from_secs(10), || fs::read_to_string(&result)
            .is_ok_and(|r| r.contains("exit="))),
        "the recording did not end after Ctrl-C"
    );
    let result = fs::read_to_string(&result).unwrap();
    assert!(result.contains("sigint=1 sigterm=0 sighup=0"), "{result}");
    assert!(result.contains("exit=0"), "{result}");
    assert!(allowed_names(&fs::read_to_string(&profile).unwrap()).contains("rt_sigaction"));
    // The live line is cleared once the recording ends.
    assert!(!tmux.pane().contains("recording 00:"), "{}", tmux.pane());
}
