//! `record` as a user meets it: where the profile goes, exit statuses,
//! signals, and the live line on a terminal.

mod common;

use std::{
    fs,
    process::{Command, Stdio},
    time::Duration,
};

use common::*;

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
        (libc::SIGTERM, "sigint=0 sigterm=1"),
        (libc::SIGINT, "sigint=1 sigterm=0"),
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
        // has installed its handlers (before that, a signal kills it).
        let ready = || {
            processes_in_run(pid)
                .into_iter()
                .any(|p| catches(p, &[libc::SIGINT, libc::SIGTERM]))
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
            processes_in_run(r)
                .into_iter()
                .any(|p| catches(p, &[libc::SIGINT, libc::SIGTERM]))
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
    assert!(result.contains("sigint=1 sigterm=0"), "{result}");
    assert!(result.contains("exit=0"), "{result}");
    assert!(allowed_names(&fs::read_to_string(&profile).unwrap()).contains("rt_sigaction"));
    // The live line is cleared once the recording ends.
    assert!(!tmux.pane().contains("recording 00:"), "{}", tmux.pane());
}
