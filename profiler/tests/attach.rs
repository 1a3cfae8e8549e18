//! `record --attach`: a workload that already runs, recorded from then on
//! and left as it was. The oracles: the syscalls the workload makes only
//! before the attach are not in the profile and those after are; the
//! kernel's verdict under the learned profile (`enforce`, `docker run
//! --security-opt seccomp=`); the workload still runs, in its own cgroup,
//! with no process of the tool in it.

use std::{
    fs,
    io::{BufRead, BufReader},
    os::{fd::AsRawFd, unix::process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use crate::common::*;

/// The tests start workloads and look at cgroups: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A cgroup of the test's own under the cgroup2 root, removed when dropped
/// (its processes killed first).
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new(tag: &str) -> TestCgroup {
        let path = cgroup2_mount().join(format!("sp-attach-test-{tag}-{}", std::process::id()));
        fs::create_dir(&path).expect("make the test's cgroup");
        TestCgroup(path)
    }

    fn procs(&self) -> Vec<u32> {
        fs::read_to_string(self.0.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Starts `script` with `sh`, moved into this cgroup before it runs.
    fn spawn(&self, script: &str) -> Child {
        let mut command = Command::new("sh");
        command.args(["-c", script]).stdin(Stdio::null());
        self.enter_before_exec(&mut command)
    }

    /// Spawns `command`, which writes itself into this cgroup right
    /// before its exec.
    fn enter_before_exec(&self, command: &mut Command) -> Child {
        let procs = fs::OpenOptions::new()
            .write(true)
            .open(self.0.join("cgroup.procs"))
            .expect("open cgroup.procs");
        let fd = procs.as_raw_fd();
        // SAFETY: write(2) on an open descriptor is async-signal-safe.
        unsafe {
            command.pre_exec(move || match libc::write(fd, b"0".as_ptr().cast(), 1) {
                1 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        let child = command.spawn().expect("start the workload");
        drop(procs);
        child
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("cgroup.kill"), b"1");
        wait_for(Duration::from_secs(5), || self.procs().is_empty());
        let _ = fs::remove_dir(&self.0);
    }
}

/// Starts `record --attach TARGET ARGS` and waits until it says it
/// records (its stderr's note); returns it with the rest of its stderr.
fn attach(target: &str, args: &[&str]) -> (Child, std::thread::JoinHandle<String>) {
    let mut recorder = Command::new(profiler())
        .args(["record", "--attach", target])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the recorder");
    let mut lines = BufReader::new(recorder.stderr.take().expect("piped")).lines();
    let mut said = String::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the recorder ended before it recorded: {said}"))
            .expect("read the recorder's stderr");
        said.push_str(&line);
        said.push('\n');
        if line.contains("from now on") {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        let mut text = said;
        for line in lines.map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    (recorder, rest)
}

/// Ends the recorder with SIGINT, as Ctrl-C does, and waits for it.
fn interrupt(recorder: Child, rest: std::thread::JoinHandle<String>) -> (i32, String) {
    // SAFETY: kill(2) on the recorder's own pid.
    unsafe { libc::kill(recorder.id() as i32, libc::SIGINT) };
    let output = output_within(recorder, Duration::from_secs(60))
        .unwrap_or_else(|o| panic!("the recorder did not end at SIGINT: {}", stderr(&o)));
    let said = rest.join().unwrap_or_default();
    (output.status.code().unwrap_or(-1), said)
}

fn touch(path: &Path) {
    fs::write(path, b"").expect("touch");
}

#[test]
fn a_native_process_is_recorded_from_the_attach_on_and_left_running() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let (go, done, stop) = (
        dir.path().join("go"),
        dir.path().join("done"),
        dir.path().join("stop"),
    );
    let call = sample("call");
    let cgroup = TestCgroup::new("native");
    // getcpu only before the attach, sysinfo only after it.
    let script = format!(
        "{call} getcpu >/dev/null; while [ ! -e {go} ]; do sleep 0.02; done; \
         {call} sysinfo >/dev/null; : > {done}; while [ ! -e {stop} ]; do sleep 0.02; done",
        call = call.display(),
        go = go.display(),
        done = done.display(),
        stop = stop.display(),
    );
    let mut workload = cgroup.spawn(&script);
    assert!(wait_for(Duration::from_secs(10), || !cgroup
        .procs()
        .is_empty()));
    let profile = dir.path().join("attached.json");
    let stats = dir.path().join("stats.json");
    let (recorder, rest) = attach(
        &format!("pid:{}", workload.id()),
        &[
            "-o",
            profile.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
        ],
    );
    let recorder_pid = recorder.id();
    touch(&go);
    assert!(wait_for(Duration::from_secs(20), || done.exists()));
    // Nothing of the tool's own entered the workload's cgroup.
    let inside = cgroup.procs();
    assert!(
        !inside.contains(&recorder_pid),
        "the recorder joined the target's cgroup: {inside:?}"
    );
    let (code, said) = interrupt(recorder, rest);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("start-up was not observed"), "{said}");
    // The workload was left as it was: running, in its cgroup.
    assert!(workload.try_wait().unwrap().is_none(), "the workload ended");
    assert!(cgroup.procs().contains(&workload.id()));
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(names.contains("sysinfo"), "{names:?}");
    assert!(
        !names.contains("getcpu"),
        "a call made before the attach is in the profile: {names:?}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&stats).unwrap()).expect("the stats are JSON");
    let target = stats["attached"]["target"].as_str().unwrap_or_default();
    assert!(
        target.contains(&format!("process {}", workload.id())),
        "{stats}"
    );
    // The profile's comment (on its first rule) says so too.
    let text = fs::read_to_string(&profile).unwrap();
    assert!(text.contains("attached: start-up not observed"), "{text}");
    // The kernel's verdict under what was learned: what the workload did
    // after the attach runs; what it did only before is refused.
    let enforced = run([
        "enforce".as_ref(),
        "--profile".as_ref(),
        profile.as_os_str(),
        "--".as_ref(),
        call.as_os_str(),
        "sysinfo".as_ref(),
        "getcpu".as_ref(),
    ]);
    assert_eq!(
        stdout(&enforced).trim(),
        "sysinfo=ok getcpu=errno:1",
        "{}",
        stderr(&enforced)
    );
    touch(&stop);
    let _ = workload.wait();
}

#[test]
fn an_attached_recording_ends_with_its_target() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let stop = dir.path().join("stop");
    let cgroup = TestCgroup::new("ends");
    let script = format!(
        "while [ ! -e {stop} ]; do sleep 0.02; done",
        stop = stop.display()
    );
    let mut workload = cgroup.spawn(&script);
    assert!(wait_for(Duration::from_secs(10), || !cgroup
        .procs()
        .is_empty()));
    let profile = dir.path().join("p.json");
    // The cgroup by its path under the mount point.
    let (recorder, rest) = attach(
        cgroup.0.to_str().unwrap(),
        &["-o", profile.to_str().unwrap()],
    );
    touch(&stop);
    let _ = workload.wait();
    let output = output_within(recorder, Duration::from_secs(30))
        .unwrap_or_else(|o| panic!("the recording outlived its target: {}", stderr(&o)));
    let said = rest.join().unwrap_or_default();
    assert!(output.status.success(), "{said}");
    assert!(said.contains("ended"), "{said}");
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(names.contains("exit_group"), "{names:?}");
}

#[test]
fn a_target_that_cannot_be_watched_is_refused_in_one_line() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.json");
    let out = out.to_str().unwrap();
    // The root cgroup2 cgroup, a process that does not exist, a path with
    // `..`, a malformed target.
    let cases: [(&str, &str); 4] = [
        ("cgroup:/", "no cgroup v2 of its own"),
        ("pid:999999999", "no process 999999999"),
        ("cgroup:a/../../b", "no `..`"),
        ("pid:x", "give one of"),
    ];
    for (target, expected) in cases {
        let output = run_within(
            &["record", "--attach", target, "-o", out],
            Stdio::null(),
            Duration::from_secs(10),
        );
        let text = stderr(&output);
        assert!(!output.status.success(), "{target}: {text}");
        assert!(text.contains(expected), "{target}: {text}");
        assert!(!Path::new(out).exists(), "{target} wrote a profile");
    }
    // The tool's own cgroup: a recorder inside the cgroup it names.
    let cgroup = TestCgroup::new("own");
    let mut command = Command::new(profiler());
    command
        .args(["record", "--attach"])
        .arg(&cgroup.0)
        .args(["-o", out])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let recorder = cgroup.enter_before_exec(&mut command);
    let output = output_within(recorder, Duration::from_secs(10))
        .unwrap_or_else(|o| panic!("no answer: {}", stderr(&o)));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("holds this tool itself"),
        "{}",
        stderr(&output)
    );
    // The attach conflicts with a command.
    let output = run(["record", "--attach", "pid:1", "--", "true"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// `docker exec` in the attached container counts from its filter
/// install on, the runtime's set-up before it does not; the container keeps
/// running after the recording; the profile, run by Docker, lets through
/// what the container did after the attach and refuses what it did before.
#[test]
fn a_docker_container_is_recorded_at_its_filter_boundary_and_left_running() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let host = docker_host();
    let docker = |args: &[&str]| {
        Command::new("docker")
            .args(["-H", &host])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    };
    let name = format!("sp-attach-{}", std::process::id());
    let started = docker(&[
        "run",
        "-d",
        "--rm",
        "--network",
        "none",
        "--name",
        &name,
        TEST_IMAGE,
        "sh",
        "-c",
        "call getcpu; while [ ! -e /tmp/go ]; do usleep 20000; done; call sysinfo; \
         while [ ! -e /tmp/stop ]; do usleep 20000; done",
    ]);
    assert!(started.status.success(), "{}", stderr(&started));
    struct Remove<'a>(&'a dyn Fn(&[&str]) -> std::process::Output, String);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            (self.0)(&["rm", "-f", &self.1]);
        }
    }
    let _remove = Remove(&docker, name.clone());
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("attached.json");
    // DOCKER_HOST names the test daemon for the tool's own docker CLI.
    let (recorder, rest) = attach(
        &format!("docker:{name}"),
        &["-o", profile.to_str().unwrap()],
    );
    let exec = docker(&["exec", &name, "sh", "-c", "call times && touch /tmp/go"]);
    assert!(exec.status.success(), "{}", stderr(&exec));
    std::thread::sleep(Duration::from_millis(500));
    let (code, said) = interrupt(recorder, rest);
    assert_eq!(code, 0, "{said}");
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &name]);
    assert_eq!(stdout(&running).trim(), "true", "the container was stopped");
    let text = fs::read_to_string(&profile).unwrap();
    let names = allowed_names(&text);
    for made in ["sysinfo", "times"] {
        assert!(names.contains(made), "{made} is missing: {names:?}");
    }
    // getcpu came before the attach; keyctl is runc's set-up of the exec
    // (its session keyring), before its filter: neither is the workload's.
    for absent in ["getcpu", "keyctl"] {
        assert!(!names.contains(absent), "{absent} is in: {names:?}");
    }
    assert!(text.contains("base set"), "no runtime base set: {text}");
    // Docker enforces the profile on a new container.
    let enforced = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &format!("seccomp={}", profile.display()),
        TEST_IMAGE,
        "call",
        "sysinfo",
        "times",
        "getcpu",
    ]);
    assert_eq!(
        stdout(&enforced).trim(),
        "sysinfo=ok times=ok getcpu=errno:1",
        "{}",
        stderr(&enforced)
    );
    docker(&["exec", &name, "touch", "/tmp/stop"]);
}

#[test]
fn a_container_that_is_not_there_or_not_running_is_refused() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let host = docker_host();
    let name = format!("sp-attach-stopped-{}", std::process::id());
    let created = Command::new("docker")
        .args(["-H", &host, "create", "--name", &name, TEST_IMAGE, "true"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr(&created));
    for (target, expected) in [
        (format!("docker:{name}"), "does not run"),
        (format!("docker:{name}-none"), "has no container"),
    ] {
        let output = run_within(
            &["record", "--attach", &target],
            Stdio::null(),
            Duration::from_secs(30),
        );
        let text = stderr(&output);
        assert!(!output.status.success(), "{target}: {text}");
        assert!(text.contains(expected), "{target}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "{target}: {text}");
    }
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
}
