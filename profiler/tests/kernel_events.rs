//! What the kernel side notices besides syscalls, checked on the real
//! kernel: a process leaving the recorded (or enforced) cgroup, a seccomp
//! filter killing a thread or a process, a container engine's client
//! started from the recorded command, and the executable of each denial.
//! The oracles are the kernel's own: where a process really is, what the
//! filter did to a syscall (an errno, a dead thread, SIGSYS).

use std::{fs, path::Path, process::Output, time::Duration};

use crate::common::*;

fn write_profile(dir: &Path, name: &str, json: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, json).unwrap();
    path
}

fn enforce(profile: &Path, command: &[&std::ffi::OsStr]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "enforce".as_ref(),
        "--profile".as_ref(),
        profile.as_os_str(),
        "--".as_ref(),
    ];
    args.extend(command);
    run(args)
}

/// `pid=N` from the `escape` sample's output.
fn escaped_pid(output: &Output) -> u32 {
    let out = stdout(output);
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no pid in the sample's output: {out:?} / {}",
                stderr(output)
            )
        })
}

/// A process that writes itself into the cgroup2 root's `cgroup.procs` is no
/// longer recorded: the recording says so, naming it and where it went, and
/// the profile indeed lacks the syscall it made after (getcpu, which nothing
/// else calls).
#[test]
fn a_process_moving_itself_out_is_reported_by_record() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    let output = run([
        "record".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--".as_ref(),
        sample("escape").as_os_str(),
    ]);
    let err = stderr(&output);
    assert!(stdout(&output).contains("getcpu=ok"), "{err}");
    let pid = escaped_pid(&output);
    assert!(
        err.contains(&format!(
            "process {pid} (escape) moved itself out of the recorded cgroup to /: its syscalls \
             after that are not recorded"
        )),
        "{err}"
    );
    let allowed = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(
        !allowed.contains("getcpu"),
        "getcpu was made outside the cgroup: {allowed:?}"
    );
    // Loud in the exit status too: the command succeeded, the recording
    // did not.
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("the recording is incomplete"), "{err}");
}

/// Moved out by another process (here the test itself, as an administrator
/// would from a shell): reported with the mover.
#[test]
fn a_process_moved_out_from_outside_is_reported_by_record() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let go = dir.path().join("go");
    mkfifo(&go);
    let profile = dir.path().join("p.json");
    // The shell makes getcpu once the test has moved it and says so.
    let script = format!(
        "echo $$ > {}.tmp; mv {0}.tmp {0}; read line < {}; {} getcpu",
        pid_file.display(),
        go.display(),
        sample("call").display()
    );
    let recorder = std::process::Command::new(profiler())
        .args(["record", "-o"])
        .arg(&profile)
        .args(["--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || pid_file.exists()),
        "the recorded shell did not start"
    );
    let pid: u32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains("/syscall-profile/rec-"), "{cgroup}");
    fs::write(cgroup2_mount().join("cgroup.procs"), pid.to_string()).unwrap();
    // Read and write, so that opening it does not wait for the reader; kept
    // open until the shell has read its line.
    let mut fifo = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&go)
        .unwrap();
    std::io::Write::write_all(&mut fifo, b"go\n").unwrap();
    let output = recorder.wait_with_output().unwrap();
    drop(fifo);
    let err = stderr(&output);
    assert!(stdout(&output).contains("getcpu=ok"), "{err}");
    assert!(
        err.contains(&format!(
            "process {pid} (sh) was moved by process {} (",
            std::process::id()
        )) && err.contains("out of the recorded cgroup to /"),
        "{err}"
    );
    let allowed = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(!allowed.contains("getcpu"), "{allowed:?}");
}

/// Under `enforce`, the filter still applies after the move (the kernel's
/// errno shows it), but its denial can no longer be seen: the report says
/// the process left, and does not call the command's failure its own.
#[test]
fn a_process_moving_itself_out_is_reported_by_enforce() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(
        dir.path(),
        "no-getcpu.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcpu"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let output = enforce(&profile, &[sample("escape").as_os_str()]);
    let err = stderr(&output);
    assert!(stdout(&output).contains("getcpu=errno:1"), "{err}");
    let pid = escaped_pid(&output);
    assert!(
        err.contains(&format!(
            "process {pid} (escape) moved itself out of the watched cgroup to /"
        )),
        "{err}"
    );
    assert!(!err.contains("its own"), "{err}");
    // The sample fails on the refused getcpu (exit 1); the watch says it
    // is incomplete.
    assert_ne!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("the watch is incomplete"), "{err}");
}

/// `SCMP_ACT_KILL_THREAD` on a worker thread: the kernel kills the worker
/// (the sample sees it gone without returning) and the process goes on;
/// the report names getppid and the kill.
#[test]
fn a_thread_killed_by_the_filter_is_a_denial() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(
        dir.path(),
        "kill-thread.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_THREAD"}]}"#,
    );
    let output = enforce(&profile, &[sample("kill-worker").as_os_str()]);
    let err = stderr(&output);
    assert_eq!(stdout(&output).trim(), "worker=killed", "{err}");
    assert_eq!(output.status.code(), Some(0), "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("getppid"))
        .unwrap_or_else(|| panic!("getppid is not in the report: {err}"));
    assert!(
        line.contains("1×") && line.contains("killed the thread (SCMP_ACT_KILL_THREAD)"),
        "{line}"
    );
    assert!(!err.contains("no syscall was denied"), "{err}");
}

/// `SCMP_ACT_KILL_PROCESS`: the process dies of SIGSYS (its exit status says
/// so), the report names getppid and the kill, not a failure of its own.
#[test]
fn a_process_killed_by_the_filter_is_a_denial() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(
        dir.path(),
        "kill-process.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    );
    let output = enforce(&profile, &[sample("kill-worker").as_os_str()]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(128 + libc::SIGSYS), "{err}");
    assert!(stdout(&output).is_empty(), "killed before printing");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("getppid"))
        .unwrap_or_else(|| panic!("getppid is not in the report: {err}"));
    assert!(line.contains("killed the process"), "{line}");
    assert!(!err.contains("its own"), "{err}");
}

/// A container engine's client started through `sh -c` or `env` is named,
/// with how to record the container instead (a copy of `true` named
/// `docker` stands in for the client: only its name matters); a command
/// that starts none gets no such warning.
#[test]
fn an_engine_client_behind_a_shell_is_reported() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let docker = bin.join("docker");
    fs::copy("/bin/true", &docker).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let profile = dir.path().join("p.json");
    let record = |command: &[&str]| {
        std::process::Command::new(profiler())
            .env("PATH", &path)
            .args(["record", "-o"])
            .arg(&profile)
            .arg("--")
            .args(command)
            .output()
            .unwrap()
    };
    for command in [
        &["sh", "-c", "docker run --rm alpine true; true"][..],
        &["env", "docker", "run", "--rm", "alpine", "true"][..],
    ] {
        let output = record(command);
        let err = stderr(&output);
        assert!(output.status.success(), "{command:?}: {err}");
        assert!(
            err.contains("started the docker client (pid ")
                && err.contains(&format!("{})", docker.display()))
                && err.contains(&format!("through `{}`", command.join(" ")))
                && err.contains("syscall-profile record -- docker run"),
            "{command:?}: {err}"
        );
    }
    // Nothing hidden: no engine client, or the client run as the command
    // itself (`docker --version`; a `docker run` is recorded as a container).
    for command in [
        &["sh", "-c", "true"][..],
        &[docker.to_str().unwrap(), "--version"][..],
    ] {
        let output = record(command);
        let err = stderr(&output);
        assert!(output.status.success(), "{err}");
        assert!(!err.contains("client"), "{command:?}: {err}");
    }
}

/// With standard error not a terminal (as here), a denied syscall's report
/// names the executable, also when the process is gone by the time the
/// report is made.
#[test]
fn a_denial_names_the_executable() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = write_profile(
        dir.path(),
        "no-getppid.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]}"#,
    );
    let call = sample("call");
    let output = enforce(&profile, &[call.as_os_str(), "getppid".as_ref()]);
    let err = stderr(&output);
    assert_eq!(stdout(&output).trim(), "getppid=errno:77", "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("getppid"))
        .unwrap_or_else(|| panic!("getppid is not in the report: {err}"));
    assert!(
        line.contains("(call)") && line.ends_with(&format!(", {}", call.display())),
        "{line}"
    );
}
