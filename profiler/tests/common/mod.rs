//! What the integration tests share: finding the binaries, running the
//! recorder, and checking that a run left nothing behind.
//!
//! These tests run the real recorder on the real kernel: they need root and
//! a cgroup2 mount. They never skip: where a prerequisite is missing they
//! fail with a message that names it (`cargo xtask test` installs and builds
//! everything they need).
#![allow(dead_code)]

pub mod reachable;

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

/// The `syscall-profile` binary under test.
pub fn profiler() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_syscall-profile"))
}

/// A binary of the `samples` crate, built next to this test's binaries.
pub fn sample(name: &str) -> PathBuf {
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_owned))
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "sample {name} is not built at {}: run `cargo build --workspace --bins` first \
         (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// Fails the test, naming the prerequisite, when not running as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test records with eBPF and cgroups and needs root: run the suite as root \
         (`sudo cargo xtask test`)"
    );
}

/// Runs `syscall-profile ARGS` to completion.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(profiler())
        .args(args)
        .output()
        .expect("run syscall-profile")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The names a profile allows, from its JSON text.
pub fn allowed_names(profile_json: &str) -> BTreeSet<String> {
    let value: serde_json::Value = serde_json::from_str(profile_json)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {profile_json}"));
    value["syscalls"]
        .as_array()
        .expect("a syscalls list")
        .iter()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|rule| rule["names"].as_array().expect("names").clone())
        .map(|name| name.as_str().expect("a name").to_owned())
        .collect()
}

/// The cgroup2 mount point, from /proc/self/mountinfo.
pub fn cgroup2_mount() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let mounts: Vec<PathBuf> = mountinfo
        .lines()
        .filter(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|r| r.starts_with("cgroup2 "))
        })
        .filter_map(|l| l.split_whitespace().nth(4).map(PathBuf::from))
        .collect();
    mounts
        .iter()
        .find(|p| *p == Path::new("/sys/fs/cgroup"))
        .or_else(|| mounts.first())
        .cloned()
        .expect("no cgroup2 mount on this host: these tests need one")
}

/// Cgroups that the recorder with pid `pid` made and did not remove.
pub fn cgroups_left_by(pid: u32) -> Vec<PathBuf> {
    let parent = cgroup2_mount().join("syscall-profile");
    let prefix = format!("rec-{pid}-");
    fs::read_dir(parent)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The entries of `dir`, by name.
pub fn dir_entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Waits until the PostgreSQL server on `sock`/`port` accepts connections
/// (`pg_isready` from the server's own `bin`): its socket appears while it
/// still answers "the database system is starting up".
pub fn postgres_accepts(bin: &Path, sock: &Path, port: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        Command::new(bin.join("pg_isready"))
            .arg("-q")
            .arg("-h")
            .arg(sock)
            .args(["-p", port])
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// Waits until `condition` holds, up to `timeout`.
pub fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// Holds `lock` for the caller's test: the tests of a module that must not
/// run side by side (each module has its own); one that failed holding it
/// does not stop the next.
pub fn one_at_a_time(lock: &'static std::sync::Mutex<()>) -> std::sync::MutexGuard<'static, ()> {
    lock.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The output of `child` once it ends; when it has not ended within
/// `limit`, it is killed and `Err` holds what it wrote until then (nothing,
/// when processes it left behind still hold its pipes 10 s later).
pub fn output_within(child: std::process::Child, limit: Duration) -> Result<Output, Output> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => Ok(output.expect("wait for the child")),
        Err(_) => {
            // SAFETY: the child this test started, not yet reaped (its
            // waiting thread still waits).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            Err(rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(Result::ok)
                .unwrap_or_else(|| Output {
                    status: std::process::ExitStatus::from_raw(libc::SIGKILL),
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                }))
        }
    }
}

/// `syscall-profile ARGS` with `stdin` as its standard input, run to its
/// end; the test fails, naming what it wrote, if that takes over `limit`
/// (killed then). A bound on a hang, not a measure of speed.
pub fn run_within<S: AsRef<OsStr>>(args: &[S], stdin: Stdio, limit: Duration) -> Output {
    let shown: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    let child = Command::new(profiler())
        .args(&shown)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run syscall-profile");
    output_within(child, limit).unwrap_or_else(|output| {
        panic!(
            "`syscall-profile {shown:?}` hung: killed after {limit:?}; {}",
            stderr(&output)
        )
    })
}

/// Runs `script` in a tmux session (a real terminal) and returns the pane.
pub struct Tmux(String);

impl Tmux {
    pub fn start(name: &str, script: &str) -> Tmux {
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-x", "160", "-y", "20", "-s", name, script])
            .status()
            .expect("tmux is needed for terminal tests: install Debian's tmux (`cargo xtask setup` does)");
        assert!(status.success());
        Tmux(name.to_owned())
    }

    pub fn pane(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn send_keys(&self, keys: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0, keys])
            .status()
            .unwrap();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

/// Runs a command line (an engine's, typically), with a time limit: a
/// strict profile can make a runtime hang rather than fail.
pub fn run_words(words: &[String]) -> Output {
    Command::new("timeout")
        .arg("60")
        .args(words)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run")
}

/// The test image that `cargo xtask test` imports: busybox and the samples,
/// built static.
pub const TEST_IMAGE: &str = "syscall-profile-samples:test";

/// The dockerd `cargo xtask test` starts; fails, naming it, when unset.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| {
        panic!(
            "DOCKER_HOST is not set: this test needs the dockerd that `cargo xtask test` \
             starts (with Debian's docker.io)"
        )
    })
}

/// `docker -H HOST ARGS...` at the test's daemon: its output.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(["-H", &docker_host()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

/// The test daemon's version (`20.10.24+dfsg1`).
pub fn docker_version() -> String {
    let output = Command::new("docker")
        .args([
            "-H",
            &docker_host(),
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .output()
        .expect("run docker version");
    stdout(&output).trim().to_owned()
}

/// `docker run --rm --network none IMAGE ARGS...`, with the test daemon.
pub fn docker_run(args: &[&str]) -> Vec<String> {
    let host = docker_host();
    let mut words: Vec<String> = ["docker", "-H", &host, "run", "--rm", "--network", "none"]
        .map(str::to_owned)
        .to_vec();
    words.extend(args.iter().map(|s| (*s).to_owned()));
    words
}

/// An engine's `run` command line with `--security-opt seccomp=PROFILE`
/// inserted after `run`.
pub fn under_profile(words: &[String], profile: &Path) -> Vec<String> {
    let at = words
        .iter()
        .position(|w| w == "run")
        .expect("a run command")
        + 1;
    let mut out = words.to_vec();
    out.insert(at, "--security-opt".into());
    out.insert(at + 1, format!("seccomp={}", profile.display()));
    out
}

/// podman's global options for the store `cargo xtask test` prepares.
pub fn podman_globals() -> Vec<String> {
    std::env::var("SYSCALL_PROFILE_TEST_PODMAN_GLOBALS")
        .unwrap_or_else(|_| {
            panic!(
                "SYSCALL_PROFILE_TEST_PODMAN_GLOBALS is not set: the podman tests need the \
                 store that `cargo xtask test` prepares"
            )
        })
        .split(' ')
        .map(str::to_owned)
        .collect()
}

/// `docker_run` with podman (which needs these ulimits where root lacks
/// CAP_SYS_RESOURCE, as on these machines).
pub fn podman_run(args: &[&str]) -> Vec<String> {
    let mut words = vec!["podman".to_owned()];
    words.extend(podman_globals());
    words.extend(
        [
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ]
        .map(str::to_owned),
    );
    words.extend(args.iter().map(|s| (*s).to_owned()));
    words
}

/// An errno none of the syscalls the tests probe returns on its own
/// (EBADFD): the errno of their profiles, so that it proves the filter
/// acted.
pub const MARK: i64 = 77;

/// A profile for `syscall-verdicts`: what it needs (learned by recording
/// it) except `ioctl`, `socket` and `prctl`, which get only `rules`.
pub fn verdicts_profile(dir: &Path, name: &str, rules: serde_json::Value) -> std::path::PathBuf {
    let learned = dir.join("verdicts-base.json");
    if !learned.exists() {
        let output = run([
            "record".as_ref(),
            "-q".as_ref(),
            "-o".as_ref(),
            learned.as_os_str(),
            "--".as_ref(),
            sample("syscall-verdicts").as_os_str(),
            // getppid, and pause (ended by its alarm): the parent waits
            // for a child the way it does for any probe that takes time.
            "110".as_ref(),
            "34".as_ref(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let names: Vec<String> = allowed_names(&fs::read_to_string(&learned).unwrap())
        .into_iter()
        .filter(|n| !["ioctl", "socket", "prctl"].contains(&n.as_str()))
        .collect();
    let mut syscalls = vec![serde_json::json!({"names": names, "action": "SCMP_ACT_ALLOW"})];
    syscalls.extend(rules.as_array().cloned().unwrap_or_default());
    let document = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": MARK,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": syscalls,
    });
    let path = dir.join(name);
    fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    path
}

/// `enforce [EXTRA...] --profile PROFILE -- syscall-verdicts PROBES...`:
/// each probe's verdict, by probe, and the output.
pub fn enforce_verdicts(
    profile: &Path,
    extra: &[&str],
    probes: &[&str],
) -> (Vec<(String, String)>, Output) {
    let mut args: Vec<std::ffi::OsString> = vec!["enforce".into()];
    args.extend(extra.iter().map(Into::into));
    args.extend([
        "--profile".into(),
        profile.as_os_str().to_owned(),
        "--".into(),
        sample("syscall-verdicts").into_os_string(),
    ]);
    args.extend(probes.iter().map(Into::into));
    let output = run(args);
    let verdicts = stdout(&output)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, v)| (p.to_owned(), v.to_owned()))
        .collect();
    (verdicts, output)
}

/// The denials of an `enforce --json` report, without their first callers:
/// what two runs of the same command report alike (their pids differ).
pub fn denials_without_first_callers(report: &Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report).unwrap()).unwrap();
    json["denials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.as_object_mut().unwrap().remove("first");
            d
        })
        .collect()
}

/// Makes a FIFO at `path` (mode 0644), failing the test if it cannot.
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
    // SAFETY: a valid NUL-terminated path.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

/// The processes in the cgroups the run of pid `pid` made (`rec-PID-…` or
/// `enf-PID-…`), and in the cgroups below them.
pub fn processes_in_run(pid: u32) -> Vec<u32> {
    fn walk(dir: &Path, out: &mut Vec<u32>) {
        if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(procs.lines().filter_map(|p| p.trim().parse::<u32>().ok()));
        }
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), out);
            }
        }
    }
    let parent = cgroup2_mount().join("syscall-profile");
    let mut out = Vec::new();
    for kind in ["rec", "enf"] {
        let prefix = format!("{kind}-{pid}-");
        for entry in fs::read_dir(&parent).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                walk(&entry.path(), &mut out);
            }
        }
    }
    out
}

/// What process `pid` runs: its comm, from /proc.
pub fn command_of(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// Whether process `pid` has a handler installed for each of `signals`
/// (`SigCgt` in /proc/PID/status).
pub fn catches(pid: u32, signals: &[libc::c_int]) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let Some(mask) = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
    else {
        return false;
    };
    signals.iter().all(|&s| mask & (1u64 << (s - 1)) != 0)
}
