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
    attach_with(target, args, &[])
}

/// [`attach`], with `env` in the recorder's environment.
/// The recorder's lines, read until it has said `from now on` for
/// `targets` targets (each watched from then on).
fn said_until_watched(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    targets: usize,
) -> String {
    let mut said = String::new();
    while said.matches("from now on").count() < targets {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the recorder ended before it recorded: {said}"))
            .expect("read the recorder's stderr");
        said.push_str(&line);
        said.push('\n');
    }
    said
}

fn attach_with(
    target: &str,
    args: &[&str],
    env: &[(String, String)],
) -> (Child, std::thread::JoinHandle<String>) {
    let mut recorder = Command::new(profiler())
        .args(["record", "--attach", target])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the recorder");
    let mut lines = BufReader::new(recorder.stderr.take().expect("piped")).lines();
    let said = said_until_watched(&mut lines, 1);
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

/// Several targets at once: a profile each, with what each did and not
/// what the other did.
#[test]
fn several_targets_are_recorded_at_once_a_profile_each() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let call = sample("call");
    let go = dir.path().join("go");
    let (first, second) = (TestCgroup::new("first"), TestCgroup::new("second"));
    let script = |syscall: &str| {
        format!(
            "while [ ! -e {go} ]; do sleep 0.02; done; {call} {syscall} >/dev/null; \
             while :; do sleep 0.05; done",
            go = go.display(),
            call = call.display()
        )
    };
    let mut a = first.spawn(&script("sysinfo"));
    let mut b = second.spawn(&script("times"));
    assert!(wait_for(Duration::from_secs(10), || {
        !first.procs().is_empty() && !second.procs().is_empty()
    }));
    let pattern = dir.path().join("{}.json");
    let target_a = format!("pid:{}", a.id());
    let mut recorder = Command::new(profiler())
        .args([
            "record",
            "--duration",
            "6",
            "--attach",
            &target_a,
            "--attach",
        ])
        .arg(&second.0)
        .arg("-o")
        .arg(&pattern)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The calls are made once both targets are watched (each says so),
    // however long loading takes on a busy machine.
    let mut lines = BufReader::new(recorder.stderr.take().expect("piped")).lines();
    let said = said_until_watched(&mut lines, 2);
    touch(&go);
    let rest: String = lines.map_while(Result::ok).collect::<Vec<_>>().join("\n");
    let status = recorder.wait().unwrap();
    assert!(status.success(), "{said}{rest}");
    let profile_of =
        |name: &str| allowed_names(&fs::read_to_string(dir.path().join(name)).unwrap());
    let of_a = profile_of(&format!("pid-{}.json", a.id()));
    let second_name = format!(
        "{}.json",
        second
            .0
            .to_string_lossy()
            .replace('/', "-")
            .trim_start_matches('-')
    );
    let of_b = profile_of(&second_name);
    assert!(
        of_a.contains("sysinfo") && !of_a.contains("times"),
        "{of_a:?}"
    );
    assert!(
        of_b.contains("times") && !of_b.contains("sysinfo"),
        "{of_b:?}"
    );
    for child in [&mut a, &mut b] {
        assert!(child.try_wait().unwrap().is_none(), "a workload ended");
        let _ = child.kill();
        let _ = child.wait();
    }
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

/// The test image as containerd's default namespace has it.
const CTR_IMAGE: &str = "docker.io/library/syscall-profile-samples:test";

/// A container engine as the tests drive it: its CLI's words, and what the
/// recorder needs in its environment to find the test's daemon and store.
struct TestEngine {
    /// `docker -H X`, `podman --root ...`, `ctr -a X`.
    cli: Vec<String>,
    /// `docker:`, `podman:`, `containerd:default/`.
    prefix: &'static str,
    env: Vec<(String, String)>,
    /// Keeps the configuration files `env` names.
    _dir: Option<tempfile::TempDir>,
}

impl TestEngine {
    fn docker() -> TestEngine {
        TestEngine {
            cli: vec!["docker".into(), "-H".into(), docker_host()],
            prefix: "docker:",
            env: Vec::new(),
            _dir: None,
        }
    }

    /// podman with the test's store: the recorder's podman finds it through
    /// the configuration files podman reads from its environment.
    fn podman() -> TestEngine {
        let globals = podman_globals();
        let value = |name: &str| {
            globals
                .iter()
                .find_map(|g| g.strip_prefix(&format!("--{name}=")))
                .unwrap_or_else(|| panic!("no --{name} in the podman globals: {globals:?}"))
                .to_owned()
        };
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage.conf");
        fs::write(
            &storage,
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                value("root"),
                value("runroot")
            ),
        )
        .unwrap();
        let containers = dir.path().join("containers.conf");
        fs::write(
            &containers,
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        let mut cli = vec!["podman".to_owned()];
        cli.extend(globals);
        TestEngine {
            cli,
            prefix: "podman:",
            env: vec![
                (
                    "CONTAINERS_STORAGE_CONF".into(),
                    storage.display().to_string(),
                ),
                ("CONTAINERS_CONF".into(), containers.display().to_string()),
            ],
            _dir: Some(dir),
        }
    }

    fn containerd() -> TestEngine {
        let address =
            std::env::var("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS").unwrap_or_else(|_| {
                panic!("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS is not set (cargo xtask test)")
            });
        TestEngine {
            cli: vec!["ctr".into(), "-a".into(), address.clone()],
            prefix: "containerd:default/",
            env: vec![("CONTAINERD_ADDRESS".into(), address)],
            _dir: None,
        }
    }

    fn is_ctr(&self) -> bool {
        self.cli[0] == "ctr"
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.cli[0])
            .args(&self.cli[1..])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run the engine's CLI")
    }

    /// Starts `script` in a detached container `name` under the engine's
    /// default seccomp profile (ctr's `--seccomp`).
    fn start(&self, name: &str, script: &str) {
        let mut args: Vec<&str> = match self.is_ctr() {
            true => vec!["run", "-d", "--seccomp", CTR_IMAGE, name],
            false => vec!["run", "-d", "--rm", "--network", "none", "--name", name],
        };
        if self.cli[0] == "podman" {
            args.extend([
                "--ulimit",
                "nofile=20000:20000",
                "--ulimit",
                "nproc=32768:32768",
            ]);
        }
        if !self.is_ctr() {
            args.push(TEST_IMAGE);
        }
        args.extend(["sh", "-c", script]);
        let started = self.command(&args);
        assert!(started.status.success(), "{}", stderr(&started));
    }

    fn exec(&self, name: &str, script: &str) {
        let exec_id = format!("e{}", std::process::id());
        let args: Vec<&str> = match self.is_ctr() {
            true => vec![
                "tasks",
                "exec",
                "--exec-id",
                &exec_id,
                name,
                "sh",
                "-c",
                script,
            ],
            false => vec!["exec", name, "sh", "-c", script],
        };
        let done = self.command(&args);
        assert!(done.status.success(), "{}", stderr(&done));
    }

    fn running(&self, name: &str) -> bool {
        if self.is_ctr() {
            let tasks = stdout(&self.command(&["tasks", "ls"]));
            return tasks.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.first() == Some(&name) && words.get(2) == Some(&"RUNNING")
            });
        }
        stdout(&self.command(&["inspect", "-f", "{{.State.Running}}", name])).trim() == "true"
    }

    fn remove(&self, name: &str) {
        if self.is_ctr() {
            self.command(&["tasks", "kill", "-s", "SIGKILL", name]);
            wait_for(Duration::from_secs(10), || !self.running(name));
            self.command(&["tasks", "rm", "-f", name]);
            self.command(&["containers", "rm", name]);
        } else {
            self.command(&["rm", "-f", name]);
        }
    }

    /// The host pid of the container's first process, as the engine says.
    fn init_pid(&self, name: &str) -> String {
        if self.is_ctr() {
            let tasks = stdout(&self.command(&["tasks", "ls"]));
            return tasks
                .lines()
                .find_map(|l| {
                    let words: Vec<&str> = l.split_whitespace().collect();
                    (words.first() == Some(&name)).then(|| words.get(1).map(|p| (*p).to_owned()))?
                })
                .unwrap_or_default();
        }
        stdout(&self.command(&["inspect", "-f", "{{.State.Pid}}", name]))
            .trim()
            .to_owned()
    }

    /// Runs `call ARGS...` in a new container under `profile` (the OCI
    /// form for ctr): its output.
    fn call_under(&self, profile: &Path, dir: &Path, calls: &[&str]) -> String {
        let mut args: Vec<String>;
        if self.is_ctr() {
            let oci = dir.join("oci.json");
            let exported = run([
                "export".as_ref(),
                "--to".as_ref(),
                "oci".as_ref(),
                profile.as_os_str(),
                "-o".as_ref(),
                oci.as_os_str(),
            ]);
            assert!(exported.status.success(), "{}", stderr(&exported));
            args = ["run", "--rm", "--seccomp", "--seccomp-profile"]
                .map(str::to_owned)
                .to_vec();
            args.push(oci.display().to_string());
            args.push(CTR_IMAGE.to_owned());
            args.push(format!("sp-call-{}", std::process::id()));
        } else {
            args = ["run", "--rm", "--network", "none", "--security-opt"]
                .map(str::to_owned)
                .to_vec();
            args.push(format!("seccomp={}", profile.display()));
            if self.cli[0] == "podman" {
                args.extend(
                    [
                        "--ulimit",
                        "nofile=20000:20000",
                        "--ulimit",
                        "nproc=32768:32768",
                    ]
                    .map(str::to_owned),
                );
            }
            args.push(TEST_IMAGE.to_owned());
        }
        args.push("call".to_owned());
        args.extend(calls.iter().map(|c| (*c).to_owned()));
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.command(&words);
        format!("{}{}", stdout(&output).trim(), stderr(&output).trim())
    }
}

/// Removes a container when dropped.
struct Removed<'a>(&'a TestEngine, String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        self.0.remove(&self.1);
    }
}

/// The script of the attached containers: getcpu only before the attach,
/// sysinfo only after it (`/tmp/go`), then a wait for `/tmp/stop`.
const WORKLOAD: &str = "call getcpu; while [ ! -e /tmp/go ]; do usleep 20000; done; \
                        call sysinfo; while [ ! -e /tmp/stop ]; do usleep 20000; done";

/// Starts the recorder attached to `engine`'s container `name`.
fn attach_engine(
    engine: &TestEngine,
    name: &str,
    args: &[&str],
) -> (Child, std::thread::JoinHandle<String>) {
    attach_with(&format!("{}{name}", engine.prefix), args, &engine.env)
}

/// A container of `engine`, attached to while it runs: an exec'd process
/// counts from its filter install on; the container keeps running, its
/// processes as they were; the engine, running the profile, lets through
/// what the container did after the attach and refuses what it did before.
fn attached_container_is_recorded_and_left_running(engine: &TestEngine) {
    let name = format!("sp-attach-{}", std::process::id());
    engine.start(&name, WORKLOAD);
    let _removed = Removed(engine, name.clone());
    assert!(wait_for(Duration::from_secs(30), || engine.running(&name)));
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("attached.json");
    let before = engine.init_pid(&name);
    let stats = dir.path().join("stats.json");
    let (recorder, rest) = attach_engine(
        engine,
        &name,
        &[
            "-o",
            profile.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
        ],
    );
    engine.exec(&name, "call times && touch /tmp/go");
    std::thread::sleep(Duration::from_millis(500));
    let (code, said) = interrupt(recorder, rest);
    assert_eq!(code, 0, "{said}");
    assert!(engine.running(&name), "the container was stopped: {said}");
    // Its coverage, read through its own root: the shell running when the
    // recording began and the program exec'd after, named as inside it;
    // `/bin/call` is the image's (the host has none).
    assert!(said.contains("coverage: "), "{said}");
    let stats: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    let scanned: Vec<&str> = stats["coverage"]["programs"]
        .as_array()
        .unwrap_or_else(|| panic!("no coverage: {stats}"))
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    for program in ["/bin/busybox", "/bin/call"] {
        assert!(
            scanned.contains(&program),
            "{program} not scanned: {scanned:?}\n{said}"
        );
    }
    assert!(!Path::new("/bin/call").exists(), "the host has a /bin/call");
    assert!(
        stats["coverage"]["reachable"].as_u64() > Some(10),
        "{stats}"
    );
    assert_eq!(
        engine.init_pid(&name),
        before,
        "the container's first process changed"
    );
    let text = fs::read_to_string(&profile).unwrap();
    let names = allowed_names(&text);
    for made in ["sysinfo", "times"] {
        assert!(names.contains(made), "{made} is missing: {names:?}");
    }
    assert!(!names.contains("getcpu"), "getcpu is in: {names:?}");
    assert!(text.contains("base set"), "no runtime base set: {text}");
    assert_eq!(
        engine.call_under(&profile, dir.path(), &["sysinfo", "times", "getcpu"]),
        "sysinfo=ok times=ok getcpu=errno:1"
    );
    // The end of the workload; the container is removed when dropped
    // either way.
    let _ = engine.command(&["exec", &name, "touch", "/tmp/stop"]);
}

#[test]
fn a_docker_container_is_recorded_at_its_filter_boundary_and_left_running() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let docker = TestEngine::docker();
    attached_container_is_recorded_and_left_running(&docker);
}

#[test]
fn a_podman_container_is_recorded_and_left_running() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    attached_container_is_recorded_and_left_running(&TestEngine::podman());
}

#[test]
fn a_containerd_container_is_recorded_and_left_running() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    attached_container_is_recorded_and_left_running(&TestEngine::containerd());
}

/// runc's set-up of a `docker exec` (its session keyring: keyctl) comes
/// before its filter and is not the workload's; recorded without the
/// boundary it would be in.
#[test]
fn a_docker_execs_set_up_is_not_the_workloads() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let docker = TestEngine::docker();
    let name = format!("sp-attach-exec-{}", std::process::id());
    docker.start(&name, WORKLOAD);
    let _removed = Removed(&docker, name.clone());
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("attached.json");
    let (recorder, rest) = attach_engine(&docker, &name, &["-o", profile.to_str().unwrap()]);
    docker.exec(&name, "call times");
    let (code, said) = interrupt(recorder, rest);
    assert_eq!(code, 0, "{said}");
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(names.contains("times"), "{names:?}");
    assert!(!names.contains("keyctl"), "runc's set-up is in: {names:?}");
}

/// `--include reachable` for an attached container: what the programs
/// running in it can reach (scanned through its root), within its engine's
/// default, is added to what it did after the attach; getcpu, made only
/// before the attach, comes back only as reachable.
#[test]
fn an_attached_container_includes_what_its_programs_reach() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let docker = TestEngine::docker();
    let name = format!("sp-attach-reach-{}", std::process::id());
    docker.start(&name, WORKLOAD);
    let _removed = Removed(&docker, name.clone());
    let dir = tempfile::tempdir().unwrap();
    let (profile, stats) = (
        dir.path().join("attached.json"),
        dir.path().join("stats.json"),
    );
    let (recorder, rest) = attach_engine(
        &docker,
        &name,
        &[
            "--include",
            "reachable",
            "-o",
            profile.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
        ],
    );
    docker.exec(&name, "call times");
    let (code, said) = interrupt(recorder, rest);
    assert_eq!(code, 0, "{said}");
    let stats: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    let included: Vec<&str> = stats["included_reachable"]
        .as_array()
        .unwrap_or_else(|| panic!("{stats}"))
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(included.contains(&"getcpu"), "{included:?}\n{said}");
    assert!(
        stats["coverage"]["included_within"]
            .as_str()
            .is_some_and(|d| d.contains("Docker engine")),
        "{stats}"
    );
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(
        names.contains("times") && names.contains("getcpu"),
        "{names:?}"
    );
    let _ = docker.command(&["exec", &name, "touch", "/tmp/stop"]);
}

/// The attached profile merged with a recording of the container's start
/// runs the whole workload under Docker, 20 times of 20.
#[test]
fn an_attached_profile_merged_with_the_start_runs_the_workload_under_docker() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let docker = TestEngine::docker();
    let dir = tempfile::tempdir().unwrap();
    let (start, attached, merged) = (
        dir.path().join("start.json"),
        dir.path().join("attached.json"),
        dir.path().join("merged.json"),
    );
    // The start: the same container recorded until it waits for /tmp/go,
    // then stopped by the recording's --duration.
    let mut words = vec!["record", "-q", "--duration", "3", "-o"];
    let start_path = start.display().to_string();
    words.push(&start_path);
    words.push("--");
    let docker_words: Vec<String> = docker.cli.clone();
    let mut run_words: Vec<String> = docker_words.clone();
    run_words.extend(
        [
            "run",
            "--rm",
            "--network",
            "none",
            TEST_IMAGE,
            "sh",
            "-c",
            WORKLOAD,
        ]
        .map(str::to_owned),
    );
    words.extend(run_words.iter().map(String::as_str));
    // Stopped at its --duration, the container ends with SIGTERM's status;
    // the profile is written all the same.
    let recorded = run(&words);
    assert!(
        start.is_file() && !allowed_names(&fs::read_to_string(&start).unwrap()).is_empty(),
        "{}",
        stderr(&recorded)
    );
    let name = format!("sp-attach-merge-{}", std::process::id());
    docker.start(&name, WORKLOAD);
    let _removed = Removed(&docker, name.clone());
    assert!(wait_for(Duration::from_secs(30), || docker.running(&name)));
    let (recorder, rest) = attach_engine(&docker, &name, &["-o", attached.to_str().unwrap()]);
    docker.exec(&name, "touch /tmp/go");
    std::thread::sleep(Duration::from_millis(500));
    docker.exec(&name, "touch /tmp/stop");
    assert!(wait_for(Duration::from_secs(30), || !docker.running(&name)));
    let output = output_within(recorder, Duration::from_secs(30))
        .unwrap_or_else(|o| panic!("the recording outlived the container: {}", stderr(&o)));
    let said = rest.join().unwrap_or_default();
    assert!(output.status.success(), "{said}");
    let merging = run([
        "merge".as_ref(),
        start.as_os_str(),
        attached.as_os_str(),
        "-o".as_ref(),
        merged.as_os_str(),
    ]);
    assert!(merging.status.success(), "{}", stderr(&merging));
    // The whole workload, start to end, under the merged profile; what it
    // never did (times) is still refused.
    let whole = "call getcpu; call sysinfo; call times";
    let mut failures = Vec::new();
    for _ in 0..20 {
        let mut args: Vec<String> = ["run", "--rm", "--network", "none", "--security-opt"]
            .map(str::to_owned)
            .to_vec();
        args.push(format!("seccomp={}", merged.display()));
        args.extend([TEST_IMAGE, "sh", "-c", whole].map(str::to_owned));
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = docker.command(&words);
        let text = stdout(&ran);
        if !ran.status.success()
            || text
                .split_whitespace()
                .ne(["getcpu=ok", "sysinfo=ok", "times=errno:1"])
        {
            failures.push(format!("{text}{}", stderr(&ran)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 20 failed: {failures:?}",
        failures.len()
    );
}

/// SIGKILL of the recorder at any moment (while it attaches, while it
/// records) leaves the target running, its processes as they were, and
/// nothing of the tool behind.
#[test]
fn a_killed_attached_recorder_leaves_its_target_running_and_untouched() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let docker = TestEngine::docker();
    let name = format!("sp-attach-kill-{}", std::process::id());
    docker.start(&name, WORKLOAD);
    let _removed = Removed(&docker, name.clone());
    assert!(wait_for(Duration::from_secs(30), || docker.running(&name)));
    let cgroup = TestCgroup::new("kill");
    let mut native = cgroup.spawn("while :; do sleep 0.05; done");
    assert!(wait_for(Duration::from_secs(10), || !cgroup
        .procs()
        .is_empty()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.json");
    let targets = [format!("docker:{name}"), format!("pid:{}", native.id())];
    let before = docker.init_pid(&name);
    for target in &targets {
        for after in [
            Duration::from_millis(0),
            Duration::from_millis(150),
            Duration::from_millis(1500),
        ] {
            let mut recorder = Command::new(profiler())
                .args(["record", "--attach", target, "-o", out.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(after);
            recorder.kill().unwrap();
            recorder.wait().unwrap();
            assert!(
                wait_for(Duration::from_secs(10), || tool_processes().is_empty()),
                "{target} after {after:?}: the tool left {:?}",
                tool_processes()
            );
            assert!(
                docker.running(&name),
                "{target} after {after:?}: the container ended"
            );
            assert_eq!(docker.init_pid(&name), before, "{target} after {after:?}");
            assert!(
                native.try_wait().unwrap().is_none(),
                "the native workload ended"
            );
            assert!(
                cgroup.procs().contains(&native.id()),
                "{target} after {after:?}: {:?}",
                cgroup.procs()
            );
        }
    }
    let _ = native.kill();
    let _ = native.wait();
}

/// The processes that run the tool's binary (its guardian included).
fn tool_processes() -> Vec<u32> {
    let tool = fs::canonicalize(profiler()).expect("the tool's binary");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|exe| exe == tool))
        .collect()
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

/// Drives the attach inside the container: starts the target with
/// `systemd-run`, waits until it has made its before-the-attach call
/// (getcpu), attaches to it by its unit's name, lets it make its
/// after-the-attach call (sysinfo), ends the recorder as Ctrl-C does, says
/// what became of the unit (still active, the same main process), and
/// stops it. Each wait is bounded; a step that fails leaves its mark in
/// `/out/failed` and ends the script (the unit then fails, and the
/// container exits).
const SYSTEMD_RUN_DRIVER: &str = r#"#!/bin/sh
set -u
fail() { echo "$1" > /out/failed; systemctl stop spx-attached.service; exit 1; }
until_there() { i=0; while [ ! -e "$1" ]; do i=$((i+1)); [ $i -gt 1500 ] && fail "$2"; sleep 0.02; done; }
systemd-run --quiet --unit=spx-attached /bin/sh /out/target.sh 2> /out/systemd-run.err || fail "systemd-run"
until_there /out/ready "the unit never made its first call"
systemctl show --property=MainPID --value spx-attached.service > /out/pid-before
systemctl show --property=ControlGroup --value spx-attached.service > /out/cgroup
/out/syscall-profile record --attach spx-attached.service -o /out/profile.json \
    --stats /out/stats.json 2> /out/recorder.err &
recorder=$!
i=0
until grep -q "from now on" /out/recorder.err; do
    i=$((i+1)); [ $i -gt 1500 ] && fail "the recorder never attached"
    kill -0 $recorder 2>/dev/null || fail "the recorder ended before it attached"
    sleep 0.02
done
: > /out/go
until_there /out/done "the unit never made its second call"
kill -INT $recorder
wait $recorder
echo $? > /out/recorder.rc
systemctl is-active spx-attached.service > /out/active-after
systemctl show --property=MainPID --value spx-attached.service > /out/pid-after
: > /out/stop
i=0
while systemctl is-active --quiet spx-attached.service; do
    i=$((i+1)); [ $i -gt 1500 ] && fail "the unit did not stop"
    sleep 0.02
done
: > /out/finished
"#;

/// `record --attach UNIT.service` of a transient unit that `systemd-run`
/// started under systemd's own manager (the host's systemd booted in
/// `systemd-nspawn`, which gives it a cgroup namespace of its own): the
/// tool, inside that container, finds the unit's cgroup through
/// `systemctl show` and places it in the whole tree through the kernel.
/// The oracle: the unit's getcpu, made only before the attach, is not in
/// the profile; its sysinfo, made only after, is; and the unit is still
/// active afterwards, with the same main process.
#[test]
fn a_systemd_run_transient_unit_is_recorded_from_the_attach_on_and_left_running() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let _hierarchies = crate::export::hierarchies();
    crate::export::need("systemd-nspawn", "systemd-container");
    crate::export::need("systemd-run", "systemd");
    let dir = tempfile::tempdir().unwrap();
    let (units, out) = (dir.path().join("units"), dir.path().join("out"));
    fs::create_dir_all(&units).unwrap();
    fs::create_dir_all(&out).unwrap();
    // The container's root is a tmpfs with the host's /usr: the programs
    // run from /out.
    fs::copy(profiler(), out.join("syscall-profile")).unwrap();
    fs::copy(sample("call"), out.join("call")).unwrap();
    fs::write(
        out.join("target.sh"),
        "/out/call getcpu >/dev/null; : > /out/ready; while [ ! -e /out/go ]; do sleep 0.02; \
         done; /out/call sysinfo >/dev/null; : > /out/done; while [ ! -e /out/stop ]; do sleep \
         0.02; done\n",
    )
    .unwrap();
    fs::write(out.join("driver.sh"), SYSTEMD_RUN_DRIVER).unwrap();
    fs::write(
        units.join("spx-export.service"),
        "[Unit]\nDescription=attach test\nDefaultDependencies=no\nSuccessAction=exit-force\n\
         FailureAction=exit-force\n[Service]\nType=oneshot\nTimeoutStartSec=90\n\
         ExecStart=/bin/sh /out/driver.sh\n",
    )
    .unwrap();
    // nspawn's own seccomp filter refuses bpf(2) to the container, which
    // the tool inside needs: allowed here, as a privileged agent's
    // container allows it.
    let booted = crate::export::boot_unit_with_options(
        dir.path(),
        &units,
        &out,
        &[],
        &["--system-call-filter=bpf"],
    );
    let file = |name: &str| fs::read_to_string(out.join(name)).unwrap_or_default();
    let log = format!(
        "{}{}\nfailed: {}\nsystemd-run: {}\nrecorder: {}",
        stdout(&booted),
        stderr(&booted),
        file("failed"),
        file("systemd-run.err"),
        file("recorder.err")
    );
    assert!(out.join("finished").exists(), "{log}");
    assert_eq!(file("recorder.rc").trim(), "0", "{log}");
    // The unit's cgroup, as systemd inside names it, below the container's
    // own cgroup namespace root.
    assert_eq!(
        file("cgroup").trim(),
        "/system.slice/spx-attached.service",
        "{log}"
    );
    // Left as it was: still active, its main process the same.
    assert_eq!(file("active-after").trim(), "active", "{log}");
    let pid = file("pid-before");
    assert!(pid.trim().parse::<u32>().is_ok_and(|p| p > 0), "{log}");
    assert_eq!(file("pid-after"), pid, "{log}");
    let names = allowed_names(&file("profile.json"));
    assert!(names.contains("sysinfo"), "{names:?}\n{log}");
    assert!(
        !names.contains("getcpu"),
        "a call made before the attach is in the profile: {names:?}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&file("stats.json")).expect("the stats are JSON");
    let target = stats["attached"]["target"].as_str().unwrap_or_default();
    assert!(
        target.contains("systemd unit spx-attached.service"),
        "{stats}"
    );
}
