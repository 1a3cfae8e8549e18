//! Recording and enforcing containers against a real dockerd (and podman):
//! the profile lets the container start and run, every time; it holds none
//! of the runtime's set-up syscalls; the filter acts on what it leaves out;
//! and nothing else on the host gets into it.
//!
//! `cargo xtask test` starts a dockerd of its own, prepares a podman store
//! and imports the test image into both; these tests fail, naming what is
//! missing, when run without it.

use std::{
    collections::BTreeSet,
    fs,
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use crate::common::*;

/// The test image: busybox plus the samples, built static.
const IMAGE: &str = TEST_IMAGE;

/// How many times a container must start and succeed under its profile.
const RUNS_UNDER_PROFILE: usize = 50;

/// `record -q -o DIR/profile.json [EXTRA] -- WORDS`; returns the output and
/// the profile's names.
fn record(dir: &Path, extra: &[&str], words: &[String]) -> (Output, BTreeSet<String>) {
    let profile = dir.join("profile.json");
    let mut args: Vec<String> = vec!["record".into(), "-q".into(), "-o".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--".into());
    args.extend(words.iter().cloned());
    let output = run(&args);
    let names = fs::read_to_string(&profile)
        .map(|text| allowed_names(&text))
        .unwrap_or_default();
    (output, names)
}

/// Records `words`, then runs the container under the learned profile
/// `RUNS_UNDER_PROFILE` times: every run must succeed with the output of an
/// unconfined run. Returns the learned names.
fn record_then_enforce_repeatedly(words: &[String]) -> BTreeSet<String> {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let expected = run_words(words);
    assert!(
        expected.status.success(),
        "unconfined run failed: {}",
        stderr(&expected)
    );
    let (output, names) = record(dir.path(), &[], words);
    assert!(output.status.success(), "record: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        stdout(&expected),
        "the recorded run's output"
    );
    let profile = dir.path().join("profile.json");
    let confined = under_profile(words, &profile);
    let mut failures = Vec::new();
    for round in 0..RUNS_UNDER_PROFILE {
        let output = run_words(&confined);
        if !output.status.success() || stdout(&output) != stdout(&expected) {
            failures.push(format!(
                "run {round}: {} stdout {:?} stderr {:?}",
                output.status,
                stdout(&output),
                stderr(&output)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {RUNS_UNDER_PROFILE} runs under the learned profile failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    names
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

fn assert_no_runtime_setup(names: &BTreeSet<String>) {
    for setup in RUNTIME_SETUP {
        assert!(
            !names.contains(*setup),
            "the runtime's pre-filter set-up syscall {setup} is in the profile: {names:?}"
        );
    }
}

#[test]
fn shell_script_with_utilities() {
    let script = "echo start; ls /bin | head -n 3 | wc -l; echo abc > /tmp/f; \
                  cat /tmp/f | tr a-z A-Z; sort -r /tmp/f | grep -c b; date +%Y > /dev/null; echo done";
    let names = record_then_enforce_repeatedly(&docker_run(&[IMAGE, "sh", "-c", script]));
    assert_no_runtime_setup(&names);
    assert!(
        names.contains("execve") && names.contains("wait4"),
        "{names:?}"
    );
}

#[test]
fn multi_process_and_multi_threaded() {
    let names = record_then_enforce_repeatedly(&docker_run(&[
        IMAGE,
        "sh",
        "-c",
        "threads 8 && quick-child && echo ok",
    ]));
    assert_no_runtime_setup(&names);
    assert!(names.contains("sysinfo"), "quick-child's child: {names:?}");
    assert!(names.contains("gettid"), "the threads: {names:?}");
}

#[test]
fn short_lived_container() {
    let names = record_then_enforce_repeatedly(&docker_run(&[IMAGE, "true"]));
    assert_no_runtime_setup(&names);
    assert!(
        names.contains("execve") && names.contains("exit_group"),
        "{names:?}"
    );
}

/// A syscall the workload never made is denied under the learned profile:
/// sysinfo never fails with EPERM on its own, so EPERM proves the filter.
#[test]
fn a_syscall_the_workload_never_made_is_denied() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, names) = record(dir.path(), &[], &docker_run(&[IMAGE, "call", "getppid"]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(names.contains("getppid") && !names.contains("sysinfo"));
    let profile = dir.path().join("profile.json");
    let words = docker_run(&[IMAGE, "call", "getppid", "sysinfo"]);
    assert_eq!(stdout(&run_words(&words)).trim(), "getppid=ok sysinfo=ok");
    let confined = run_words(&under_profile(&words, &profile));
    assert_eq!(
        stdout(&confined).trim(),
        "getppid=ok sysinfo=errno:1",
        "{}",
        stderr(&confined)
    );
}

/// Another container calling syscalls as fast as it can beside the
/// recorded one does not get into its profile.
#[test]
fn a_noise_container_beside_is_not_recorded() {
    require_root();
    let host = docker_host();
    let name = format!("sp-noise-{}", std::process::id());
    let started = Command::new("docker")
        .args([
            "-H",
            &host,
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "--name",
            &name,
            IMAGE,
        ])
        .args([
            "sh",
            "-c",
            "while true; do call sysinfo uname getcpu > /dev/null; done",
        ])
        .output()
        .unwrap();
    assert!(started.status.success(), "{}", stderr(&started));
    let dir = tempfile::tempdir().unwrap();
    let (output, names) = record(dir.path(), &[], &docker_run(&[IMAGE, "call", "getppid"]));
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    assert!(output.status.success(), "{}", stderr(&output));
    for noise in ["sysinfo", "uname", "getcpu", "wait4"] {
        assert!(
            !names.contains(noise),
            "{noise} came from the noise container: {names:?}"
        );
    }
}

/// `docker exec` into the recorded container is recorded too.
#[test]
fn docker_exec_into_the_recorded_container_counts() {
    require_root();
    let host = docker_host();
    let name = format!("sp-exec-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let recorder = Command::new(profiler())
        .args(["record", "-q", "-o"])
        .arg(&profile)
        .args([
            "--",
            "docker",
            "-H",
            &host,
            "run",
            "--rm",
            "--network",
            "none",
            "--name",
            &name,
        ])
        .args([
            IMAGE,
            "sh",
            "-c",
            "while [ ! -e /tmp/go ]; do usleep 20000; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = wait_for(Duration::from_secs(30), || {
        Command::new("docker")
            .args(["-H", &host, "exec", &name, "true"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(running, "the recorded container never ran");
    let exec = Command::new("docker")
        .args([
            "-H",
            &host,
            "exec",
            &name,
            "sh",
            "-c",
            "call sysinfo && touch /tmp/go",
        ])
        .output()
        .unwrap();
    assert!(exec.status.success(), "{}", stderr(&exec));
    let output = recorder.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(
        names.contains("sysinfo"),
        "the exec'd process was not recorded: {names:?}"
    );
}

/// `run -d` returns at once; the recording goes on until the container
/// exits, and its exit status is `record`'s.
#[test]
fn detached_container_is_recorded_until_it_exits() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&["-d", IMAGE, "sh", "-c", "sleep 1; call sysinfo; exit 3"]);
    let (output, names) = record(dir.path(), &[], &words);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        names.contains("sysinfo"),
        "after run -d returned: {names:?}"
    );
}

/// Whether docker knows a container called `name`, and whether it runs.
fn container_state(host: &str, name: &str) -> Option<bool> {
    let out = Command::new("docker")
        .args(["-H", host, "inspect", "-f", "{{.State.Running}}", name])
        .output()
        .unwrap();
    out.status.success().then(|| stdout(&out).trim() == "true")
}

/// Runs `unshare -U -r id` in the container `name`: it succeeds only under
/// a profile looser than Docker's default (the recording profile).
fn user_namespace_works_in(host: &str, name: &str) -> bool {
    Command::new("docker")
        .args(["-H", host, "exec", name, "unshare", "-U", "-r", "id"])
        .output()
        .unwrap()
        .status
        .success()
}

/// `--duration` ends the recording of a detached container that keeps
/// running: the profile is written and the container, which runs under the
/// recording profile, is stopped (and, run with --rm, gone). The container
/// says through a bind mount when it has made its call: the duration must
/// come after that, and is generous so that a slow start cannot beat it;
/// if it did, the test says so instead of blaming the profile.
#[test]
fn duration_stops_a_long_detached_container() {
    require_root();
    let host = docker_host();
    let name = format!("sp-duration-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let mount = format!("{}:/out", out.path().display());
    let words = docker_run(&[
        "-d",
        "--name",
        &name,
        "-v",
        &mount,
        IMAGE,
        "sh",
        "-c",
        "call sysinfo && touch /out/called; sleep 60",
    ]);
    let (output, names) = record(dir.path(), &["--duration", "10s"], &words);
    let state = container_state(&host, &name);
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    let err = stderr(&output);
    assert!(
        out.path().join("called").exists(),
        "the container had not made its call when the 10 s were over: {err}"
    );
    assert!(err.contains("--duration"), "{err}");
    assert!(
        err.contains(&format!("stopped the container {name}")),
        "{err}"
    );
    assert!(names.contains("sysinfo"), "{names:?}");
    assert_eq!(state, None, "stopped and removed (--rm): {err}");
}

/// With --keep-running the container goes on, under the recording profile,
/// and the recorder says so, naming it: inside, a user namespace (which
/// Docker's default refuses) still works.
#[test]
fn keep_running_leaves_the_container_running_and_names_it() {
    require_root();
    let host = docker_host();
    let name = format!("sp-keep-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&["-d", "--name", &name, IMAGE, "sleep", "60"]);
    let (output, _) = record(dir.path(), &["--duration", "2s", "--keep-running"], &words);
    let state = container_state(&host, &name);
    let loose = user_namespace_works_in(&host, &name);
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(state, Some(true), "{err}");
    assert!(loose, "the recording profile allows user namespaces");
    assert!(
        err.contains(&format!("the container {name}")) && err.contains("--keep-running"),
        "{err}"
    );
}

/// A container created without --rm is left stopped by its engine; it was
/// created with the recording profile, so the recorder names it and says
/// how to remove it.
#[test]
fn a_stopped_container_with_the_recording_profile_is_named() {
    require_root();
    let host = docker_host();
    let name = format!("sp-norm-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let mut words = docker_run(&["--name", &name, IMAGE, "true"]);
    words.retain(|w| w != "--rm");
    let (output, _) = record(dir.path(), &[], &words);
    let state = container_state(&host, &name);
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(state, Some(false), "left stopped, as docker does: {err}");
    assert!(err.contains(&format!("`docker rm {name}`")), "{err}");
}

/// `--sig-proxy=false`: the CLI's end does not end the container; at the
/// deadline the recorder stops the container itself and says so.
#[test]
fn a_container_that_outlives_its_cli_is_stopped() {
    require_root();
    let host = docker_host();
    let name = format!("sp-noproxy-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&["--sig-proxy=false", "--name", &name, IMAGE, "sleep", "60"]);
    let started = std::time::Instant::now();
    let (output, _) = record(dir.path(), &["--duration", "2s"], &words);
    let state = container_state(&host, &name);
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    let err = stderr(&output);
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    assert_eq!(state, None, "stopped and removed: {err}");
    assert!(
        err.contains(&format!("stopped the container {name}")),
        "{err}"
    );
}

/// The recorder killed with SIGKILL while its container exists: its
/// guardian removes the container (created with the recording profile, which
/// allows every syscall) and the cgroup, and says so, naming it. Killed at
/// three moments, each waited for: as soon as the engine lists the run's
/// container (it may not run yet), once it runs, and once its command
/// (`sleep`) has been executed in it.
#[test]
fn sigkill_of_a_container_recording_removes_the_container() {
    require_root();
    let host = docker_host();
    for round in 0..3 {
        let name = format!("sp-kill-{}-{round}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let words = docker_run(&["--name", &name, IMAGE, "sleep", "60"]);
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
        // This run's label value starts so (other tests record containers
        // meanwhile, under values of their own).
        let run_prefix = format!("rec-{pid}-");
        let mut seen: Option<(String, String)> = None;
        let ready = wait_for(Duration::from_secs(60), || {
            seen = run_containers(&host, &run_prefix).into_iter().next();
            seen.is_some()
                && match round {
                    0 => true,
                    1 => container_state(&host, &name) == Some(true),
                    _ => container_command(&host, &name).as_deref() == Some("sleep"),
                }
        });
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        let (id, value) = seen.clone().unwrap_or_default();
        let gone = wait_for(Duration::from_secs(20), || {
            container_state(&host, &name).is_none() && cgroups_left_by(pid).is_empty()
        });
        let _ = Command::new("docker")
            .args(["-H", &host, "rm", "-f", &name])
            .output();
        assert!(
            ready,
            "round {round}: the container never got that far ({seen:?}): {err}"
        );
        assert!(gone, "round {round}: {err}");
        assert_eq!(
            run_containers(&host, &value),
            Vec::<(String, String)>::new(),
            "round {round}: left labelled {value}"
        );
        assert!(
            err.lines().any(|l| l.contains("guardian")
                && l.contains(&format!("removed the container(s) {id}"))
                && l.contains("created with the recording profile")),
            "round {round}: the guardian names the container {id}: {err}"
        );
        assert!(
            fs::read_dir(dir.path()).unwrap().count() == 0,
            "round {round}: nothing written, nothing left"
        );
    }
}

/// The containers whose recording label's value starts with `prefix`,
/// running or not: their full id and that value.
fn run_containers(host: &str, prefix: &str) -> Vec<(String, String)> {
    let out = Command::new("docker")
        .args(["-H", host, "ps", "-a", "--no-trunc", "--filter"])
        .arg("label=io.syscall-profile.recording")
        .arg("--format")
        .arg("{{.ID}} {{.Label \"io.syscall-profile.recording\"}}")
        .output()
        .unwrap();
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, value)| value.starts_with(prefix))
        .map(|(id, value)| (id.to_owned(), value.to_owned()))
        .collect()
}

/// What the main process of the container `name` runs (its comm in
/// /proc), once it has one.
fn container_command(host: &str, name: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["-H", host, "inspect", "-f", "{{.State.Pid}}", name])
        .output()
        .unwrap();
    let pid: u32 = stdout(&out).trim().parse().ok().filter(|&p| p > 0)?;
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// `podman GLOBALS ARGS`: its standard output.
fn podman(args: &[&str]) -> String {
    let out = Command::new("podman")
        .args(podman_globals())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman");
    stdout(&out)
}

/// The same with podman: the recorder killed with SIGKILL once its
/// container (run without --rm) runs; the podman CLI, its command, dies
/// with it, conmon keeps the container under the recording profile. The
/// guardian removes the container, naming it, and the cgroup.
#[test]
fn sigkill_of_a_podman_recording_removes_the_container() {
    require_root();
    let name = format!("sp-podkill-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    // Without --rm: the engine would keep the container once it ended.
    let words: Vec<String> = podman_run(&["--name", &name, IMAGE, "sleep", "60"])
        .into_iter()
        .filter(|w| w != "--rm")
        .collect();
    let child = Command::new(profiler())
        .args(["record", "-q", "--no-coverage", "-o"])
        .arg(dir.path().join("p.json"))
        .arg("--")
        .args(&words)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let filter = format!("name=^{name}$");
    let running = || {
        podman(&["inspect", "--format", "{{.Id}} {{.State.Running}}", &name])
            .lines()
            .find_map(|l| l.strip_suffix(" true").map(str::to_owned))
    };
    if !wait_for(Duration::from_secs(60), || running().is_some()) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let output = child.wait_with_output().unwrap();
        panic!(
            "the container never ran: {}; {}",
            podman(&["ps", "-a"]),
            stderr(&output)
        );
    }
    let id = running().unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    // Its standard error stays open in the guardian until it is done.
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    let gone = wait_for(Duration::from_secs(30), || {
        podman(&["ps", "-a", "-q", "--filter", &filter])
            .trim()
            .is_empty()
            && cgroups_left_by(pid).is_empty()
    });
    let _ = podman(&["rm", "-f", &name]);
    assert!(gone, "the container or the cgroup is left: {err}");
    assert!(
        err.contains("removed the container(s) ") && err.contains(&id[..12]),
        "the guardian names the container {id}: {err}"
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

/// The recording profile has no name on disk: while a container is
/// recorded, the engine's CLI is given `seccomp=/proc/PID/fd/N` of the
/// recorder, a file of the recorder's temporary directory that has no name
/// there (its link says deleted) and holds the allow-all profile; the
/// temporary directory stays empty during and after the run.
#[test]
fn the_recording_profile_has_no_name_on_disk() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let words = docker_run(&[IMAGE, "sleep", "3"]);
    let child = Command::new(profiler())
        .args(["record", "-q", "--no-coverage", "-o"])
        .arg(dir.path().join("p.json"))
        .arg("--")
        .args(&words)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let prefix = format!("seccomp=/proc/{}/fd/", child.id());
    // The engine's CLI, and the path it was given.
    let given = || {
        fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            cmdline
                .split(|&b| b == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .find_map(|w| w.strip_prefix("seccomp=").map(str::to_owned))
                .filter(|_| {
                    cmdline
                        .split(|&b| b == 0)
                        .any(|w| String::from_utf8_lossy(w).starts_with(&prefix))
                })
        })
    };
    assert!(
        wait_for(Duration::from_secs(30), || given().is_some()),
        "no engine CLI was given {prefix}N"
    );
    let path = given().unwrap();
    let link = fs::read_link(&path).map(|l| l.to_string_lossy().into_owned());
    let content = fs::read_to_string(&path).unwrap_or_default();
    let during: Vec<_> = fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let link = link.unwrap();
    assert!(
        link.starts_with(&tmp.to_string_lossy().into_owned()) && link.ends_with(" (deleted)"),
        "{path} is {link}"
    );
    assert!(content.contains("SCMP_ACT_ALLOW"), "{content}");
    assert!(during.is_empty(), "named during the run: {during:?}");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "left after the run");
}

/// The values of the label `key` on the containers that carry one starting
/// with `prefix`, running or not.
fn labelled(host: &str, key: &str, prefix: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["-H", host, "ps", "-a", "--filter"])
        .arg(format!("label={key}"))
        .arg("--format")
        .arg(format!("{{{{.Label \"{key}\"}}}}"))
        .output()
        .unwrap();
    stdout(&out)
        .lines()
        .filter(|v| v.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// The recorder killed with SIGKILL once its container (run without --rm)
/// has ended: while it scans the image for coverage, and once that is done,
/// while it writes the profile (to a FIFO nobody reads, so that it is
/// caught there). The engine kept the container, created with the recording
/// profile, which allows every syscall (`docker start` would run it so):
/// the run's guardian removes it, says so naming it, and leaves nothing
/// else behind.
#[test]
fn sigkill_after_the_container_ended_removes_it() {
    require_root();
    let host = docker_host();
    for writing in [false, true] {
        let moment = if writing { "writing" } else { "coverage" };
        let name = format!("sp-ended-{}-{moment}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let profile = dir.path().join("p.json");
        if writing {
            mkfifo(&profile);
        }
        let mut words = docker_run(&["--name", &name, IMAGE, "true"]);
        words.retain(|w| w != "--rm");
        let mut child = Command::new(profiler())
            .args(["record", "-q", "-o"])
            .arg(&profile)
            .arg("--")
            .args(&words)
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The image is exported for the scan into TMPDIR: the container has
        // ended and the run's cgroup is gone by then.
        let export = || {
            fs::read_dir(&tmp).unwrap().flatten().find_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("syscall-profile-image-").then_some(name)
            })
        };
        let mut exported = None;
        wait_for(Duration::from_secs(60), || {
            exported = export();
            exported.is_some()
        });
        // What the engine kept: the container, with the recording profile.
        let inspect = Command::new("docker")
            .args(["-H", &host, "inspect", "-f"])
            .args(["{{.Id}} {{json .HostConfig.SecurityOpt}}", &name])
            .output()
            .unwrap();
        let kept = stdout(&inspect);
        let id = kept
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        if writing {
            // The scan is over once its directory is gone; then the profile
            // is opened, which waits for a reader of the FIFO.
            wait_for(Duration::from_secs(60), || {
                export().is_none() && opening_a_fifo(pid)
            });
            assert!(
                opening_a_fifo(pid),
                "{moment}: the profile's FIFO was not being opened"
            );
        }
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        // The run's own containers and the scan's helper, by their labels.
        let run_label = format!("rec-{pid}-");
        let export_dir = exported.clone().unwrap_or_default();
        let clean = wait_for(Duration::from_secs(20), || {
            container_state(&host, &name).is_none()
                && labelled(&host, "io.syscall-profile.recording", &run_label).is_empty()
                && labelled(&host, "io.syscall-profile.scan", &export_dir).is_empty()
                && dir_entries(&tmp).is_empty()
                && cgroups_left_by(pid).is_empty()
        });
        let state = container_state(&host, &name);
        let _ = Command::new("docker")
            .args(["-H", &host, "rm", "-f", &name])
            .output();
        assert!(
            exported.is_some(),
            "{moment}: the export was not seen: {err}"
        );
        assert!(
            kept.contains("SCMP_ACT_ALLOW") && id.len() >= 12,
            "{moment}: the ended container, with the recording profile: {kept:?} {err}"
        );
        assert!(
            clean,
            "{moment}: left: container {name} {state:?}, {:?}, {:?}: {err}",
            labelled(&host, "io.syscall-profile.recording", &run_label),
            dir_entries(&tmp)
        );
        assert!(
            err.lines().any(|l| l.contains("guardian")
                && l.contains(&format!("removed the container(s) {}", &id[..12]))
                && l.contains("created with the recording profile")),
            "{moment}: the guardian names the container {id}: {err}"
        );
        assert!(
            fs::read_dir(dir.path()).unwrap().count() == if writing { 2 } else { 1 },
            "{moment}: no profile written, nothing else left: {:?}",
            dir_entries(dir.path())
        );
    }
}

/// Whether a thread of process `pid` waits in the kernel for the other end
/// of a FIFO it opens.
fn opening_a_fifo(pid: u32) -> bool {
    fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks.flatten().any(|t| {
                fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w == "wait_for_partner")
            })
        })
        .unwrap_or(false)
}

/// With --keep-running, the recorder killed with SIGKILL after it left the
/// container running (while it writes the profile, to a FIFO nobody
/// reads): the container goes on, as asked, and since the recorder can no
/// longer say so, its guardian does, naming it.
#[test]
fn sigkill_after_keep_running_names_the_running_container() {
    require_root();
    let host = docker_host();
    let name = format!("sp-keptkill-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    mkfifo(&profile);
    let words = docker_run(&["-d", "--name", &name, IMAGE, "sleep", "60"]);
    let mut child = Command::new(profiler())
        .args(["record", "-q", "--no-coverage", "--duration", "2s"])
        .args(["--keep-running", "-o"])
        .arg(&profile)
        .arg("--")
        .args(&words)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let caught = wait_for(Duration::from_secs(60), || opening_a_fifo(pid));
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    let state = container_state(&host, &name);
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    assert!(caught, "the profile's FIFO was not being opened: {err}");
    assert_eq!(state, Some(true), "left running, as asked: {err}");
    assert!(
        err.lines().any(|l| l.contains("guardian")
            && l.contains(&format!("left the container {name}"))
            && l.contains("running under the recording profile")
            && l.contains("--keep-running")),
        "the guardian names the container left running: {err}"
    );
}

/// The same for `check -- CMD`: killed with SIGKILL while it writes its
/// JUnit report (to a FIFO nobody reads), after the recorded container
/// (run without --rm) ended and was named as created with the recording
/// profile: the guardian removes it, naming it.
#[test]
fn sigkill_of_check_after_the_container_ended_removes_it() {
    require_root();
    let host = docker_host();
    let name = format!("sp-checkkill-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    fs::write(&policy, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let junit = dir.path().join("junit.xml");
    mkfifo(&junit);
    let mut words = docker_run(&["--name", &name, IMAGE, "true"]);
    words.retain(|w| w != "--rm");
    let mut child = Command::new(profiler())
        .args(["check", "-q", "--policy"])
        .arg(&policy)
        .arg("--junit")
        .arg(&junit)
        .arg("--")
        .args(&words)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let caught = wait_for(Duration::from_secs(60), || opening_a_fifo(pid));
    let inspect = Command::new("docker")
        .args(["-H", &host, "inspect", "-f"])
        .args(["{{.Id}} {{json .HostConfig.SecurityOpt}}", &name])
        .output()
        .unwrap();
    let kept = stdout(&inspect);
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    let gone = wait_for(Duration::from_secs(20), || {
        container_state(&host, &name).is_none() && cgroups_left_by(pid).is_empty()
    });
    let _ = Command::new("docker")
        .args(["-H", &host, "rm", "-f", &name])
        .output();
    assert!(caught, "the report's FIFO was not being opened: {err}");
    let id = kept.split_whitespace().next().unwrap_or_default();
    assert!(
        kept.contains("SCMP_ACT_ALLOW") && id.len() >= 12,
        "the ended container, with the recording profile: {kept:?} {err}"
    );
    assert!(gone, "the container {name} was left: {err}");
    assert!(
        err.lines().any(|l| l.contains("guardian")
            && l.contains(&format!("removed the container(s) {}", &id[..12]))
            && l.contains("created with the recording profile")),
        "the guardian names the container {id}: {err}"
    );
}

/// A record of a container says what it added to the user's command.
/// A container recording's profile comment and stats name the `docker run`
/// command with the values of `-e K=V` and `--env K=V` taken out, and the
/// `--env-file` path kept but the file never read: none of the values the
/// container was given (it prints their lengths) is written.
#[test]
fn environment_values_stay_out_of_a_container_recording() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    fs::write(&env_file, "FROM_FILE=s3cr3t-in-file\n").unwrap();
    let env_file = env_file.to_string_lossy().into_owned();
    let words = docker_run(&[
        "-e",
        "DB_PASSWORD=hunter2",
        "--env",
        "API_TOKEN=hunter2-too",
        "--env-file",
        &env_file,
        IMAGE,
        "sh",
        "-c",
        "echo \"${#DB_PASSWORD}:${#API_TOKEN}:${#FROM_FILE}\"",
    ]);
    let stats = dir.path().join("stats.json");
    let (output, _) = record(
        dir.path(),
        &["--no-coverage", "--stats", stats.to_str().unwrap()],
        &words,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    // The container had each value.
    assert_eq!(stdout(&output), "7:11:14\n", "{}", stderr(&output));
    let said = format!("{}{}", stdout(&output), stderr(&output));
    let profile = fs::read_to_string(dir.path().join("profile.json")).unwrap();
    let stats = fs::read_to_string(&stats).unwrap();
    for (what, text) in [("output", &said), ("profile", &profile), ("stats", &stats)] {
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{what}: {text}"
        );
    }
    // The comment naming the command (on the profile's first rule).
    let profile: serde_json::Value = serde_json::from_str(&profile).unwrap();
    let comment = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|rule| rule["comment"].as_str())
        .find(|c| c.contains(" run "))
        .unwrap_or_else(|| panic!("no comment names the command: {profile}"))
        .to_owned();
    for kept in [
        "-e DB_PASSWORD=…",
        "--env API_TOKEN=…",
        &format!("--env-file {env_file}"),
    ] {
        assert!(comment.contains(kept), "no {kept:?} in {comment:?}");
    }
}

#[test]
fn record_says_what_it_added() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        ["record", "-o", &dir.path().join("p.json").to_string_lossy()]
            .into_iter()
            .map(str::to_owned)
            .chain(["--".to_owned()])
            .chain(docker_run(&[IMAGE, "true"])),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("added `--cgroup-parent"), "{err}");
    assert!(err.contains("runtime (runc) made"), "{err}");
}

/// The same with podman.
#[test]
fn podman_container() {
    let names = record_then_enforce_repeatedly(&podman_run(&[
        IMAGE,
        "sh",
        "-c",
        "call getppid uname; echo ok",
    ]));
    assert_no_runtime_setup(&names);
    assert!(names.contains("uname"), "{names:?}");
}

/// `enforce` runs the container under the profile and passes its exit status.
#[test]
fn enforce_runs_under_the_profile() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = record(
        dir.path(),
        &[],
        &docker_run(&[IMAGE, "sh", "-c", "call getppid; exit 4"]),
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let profile = dir.path().join("profile.json");
    let mut args: Vec<String> = vec!["enforce".into(), "--profile".into()];
    args.push(profile.to_string_lossy().into_owned());
    args.push("--".into());
    args.extend(docker_run(&[
        "--security-opt",
        "seccomp=unconfined",
        IMAGE,
        "sh",
        "-c",
        "call getppid sysinfo; exit 4",
    ]));
    let output = run(&args);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "getppid=ok sysinfo=errno:1");
    let err = stderr(&output);
    assert!(err.contains("is replaced by the profile"), "{err}");
    // The denial, found in the container by the eBPF side, is explained.
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("sysinfo"))
        .unwrap_or_else(|| panic!("no report of the denied sysinfo: {err}"));
    assert!(
        line.contains("(call)") && line.contains("errno 1"),
        "{line}"
    );
    assert!(err.contains("denied 1 syscall(s)"), "only sysinfo: {err}");
}

/// Bad container input: a clear message before any tracing, exit 125, and
/// nothing left behind.
#[test]
fn container_errors_before_tracing() {
    require_root();
    let host = docker_host();
    /// The command line, extra environment, and the message expected.
    type Case = (Vec<String>, Vec<(String, String)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            docker_run(&["--privileged", IMAGE, "true"]),
            vec![],
            "--privileged turns seccomp off",
        ),
        (
            docker_run(&["--cgroup-parent", "/mine", IMAGE, "true"]),
            vec![],
            "already sets --cgroup-parent",
        ),
        (
            docker_run(&["no-such-image-4711:latest", "true"]),
            vec![],
            "image no-such-image-4711:latest is not present and could not be pulled",
        ),
        (
            [
                "docker",
                "-H",
                "unix:///nonexistent/docker.sock",
                "run",
                IMAGE,
                "true",
            ]
            .map(str::to_owned)
            .to_vec(),
            vec![],
            "cannot reach the docker engine",
        ),
        (
            docker_run(&[IMAGE, "true"]),
            vec![("PATH".to_owned(), "/nonexistent".to_owned())],
            "docker is not installed",
        ),
    ];
    for (words, env, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(profiler())
            .args(["record", "-o"])
            .arg(dir.path().join("p.json"))
            .arg("--")
            .args(&words)
            .envs(env)
            .env("DOCKER_HOST", &host)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(125), "{words:?}: {err}");
        assert!(
            err.contains(message),
            "{words:?}: expected {message:?} in {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            cgroups_left_by(pid).is_empty(),
            "{words:?}: cgroup left behind"
        );
        assert!(
            dir_entries(dir.path()).is_empty(),
            "{words:?}: files left behind"
        );
    }
}

/// Same profile, same verdicts: the sample in the image, run natively under
/// `enforce` and in a container under `--security-opt seccomp=`, gets the
/// same syscalls allowed and denied.
#[test]
fn native_and_container_verdicts_agree() {
    require_root();
    let static_call = std::path::PathBuf::from(std::env::var("SYSCALL_PROFILE_TEST_STATIC_SAMPLES").unwrap_or_else(|_| {
        panic!("SYSCALL_PROFILE_TEST_STATIC_SAMPLES is not set: `cargo xtask test` builds the static samples")
    }))
    .join("call");
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = record(
        dir.path(),
        &[],
        &docker_run(&[IMAGE, "call", "getppid", "uname"]),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let profile = dir.path().join("profile.json");
    let calls = ["getppid", "uname", "sysinfo", "getcpu", "sched_yield"];
    let mut words = vec![IMAGE, "call"];
    words.extend(calls);
    let in_container = run_words(&under_profile(&docker_run(&words), &profile));
    let mut args = vec![
        "enforce".to_owned(),
        "--profile".to_owned(),
        profile.to_string_lossy().into_owned(),
        "--".to_owned(),
        static_call.to_string_lossy().into_owned(),
    ];
    args.extend(calls.iter().map(|s| (*s).to_owned()));
    let native = run(&args);
    assert_eq!(
        stdout(&native).trim(),
        "getppid=ok uname=ok sysinfo=errno:1 getcpu=errno:1 sched_yield=errno:1",
        "{}",
        stderr(&native)
    );
    assert_eq!(
        stdout(&native),
        stdout(&in_container),
        "{}",
        stderr(&in_container)
    );
}

/// `--complain` on a container: nothing blocked, the extra syscalls listed.
#[test]
fn complain_on_a_container() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = record(dir.path(), &[], &docker_run(&[IMAGE, "call", "getppid"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let policy = dir.path().join("profile.json");
    let suggestion = dir.path().join("suggestion.json");
    let mut args: Vec<String> = ["enforce", "--complain", "--suggest"]
        .map(str::to_owned)
        .to_vec();
    args.push(suggestion.to_string_lossy().into_owned());
    args.push("--profile".to_owned());
    args.push(policy.to_string_lossy().into_owned());
    args.push("--".to_owned());
    args.extend(docker_run(&[
        IMAGE, "call", "getppid", "sysinfo", "getcpu", "uname",
    ]));
    let output = run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        "getppid=ok sysinfo=ok getcpu=ok uname=ok"
    );
    let err = stderr(&output);
    assert!(err.contains("would have denied 3 syscall(s)"), "{err}");
    let suggested = allowed_names(&fs::read_to_string(&suggestion).unwrap());
    assert_eq!(
        suggested.into_iter().collect::<Vec<_>>(),
        ["getcpu", "sysinfo", "uname"]
    );
}

/// podman with crun. crun refuses these machines' hybrid cgroups while the
/// cgroup2 hierarchy holds a controller (hugetlb here), so the test runs in
/// a mount namespace of its own where hugetlb is mounted as a v1 hierarchy
/// (which moves the controller off cgroup2 while the mount lives): record,
/// then 50 runs under the learned profile, all in that namespace.
#[test]
fn podman_with_crun() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let mut words = podman_run(&[IMAGE, "sh", "-c", "call getppid uname; echo ok"]);
    for word in &mut words {
        if word == "--runtime=runc" {
            *word = "--runtime=crun".to_owned();
        }
    }
    assert!(words.iter().any(|w| w == "--runtime=crun"), "{words:?}");
    let quoted = |words: &[String]| {
        words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let confined = under_profile(&words, &profile);
    let script = format!(
        "set -e
         mkdir -p {dir}/hugetlb && mount -t cgroup -o hugetlb none {dir}/hugetlb
         {profiler} record -q -o {profile} -- {record} > {dir}/expected 2> {dir}/record.err
         ok=0
         for i in $(seq {runs}); do
             if timeout 60 {confined} > {dir}/got 2> {dir}/err && cmp -s {dir}/got {dir}/expected; then
                 ok=$((ok + 1))
             else
                 cp {dir}/err {dir}/last-failure
             fi
         done
         echo ok=$ok",
        dir = dir.path().display(),
        profiler = profiler().display(),
        profile = profile.display(),
        record = quoted(&words),
        runs = RUNS_UNDER_PROFILE,
        confined = quoted(&confined),
    );
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let record_err = fs::read_to_string(dir.path().join("record.err")).unwrap_or_default();
    assert!(output.status.success(), "{} {record_err}", stderr(&output));
    assert_eq!(
        fs::read_to_string(dir.path().join("expected"))
            .unwrap()
            .trim(),
        "getppid=ok uname=ok\nok"
    );
    let failure = fs::read_to_string(dir.path().join("last-failure")).unwrap_or_default();
    assert_eq!(
        stdout(&output).trim(),
        format!("ok={RUNS_UNDER_PROFILE}"),
        "runs under the learned profile failed; the last: {failure}"
    );
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert_no_runtime_setup(&names);
    assert!(
        names.contains("uname") && names.contains("setresuid"),
        "{names:?}"
    );
}

/// `enforce` on a container names the argument values its profile refused:
/// a learned profile whose ioctl is narrowed to FIONREAD and socket to
/// AF_INET refuses ioctl(TIOCSTI) and socket(AF_VSOCK) in the container
/// (the kernel's verdicts, through the engine), and the report names
/// exactly those values.
#[test]
fn enforce_names_refused_values_in_a_container() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    // getppid, and pause ended by its alarm: the prober's own waiting.
    let (output, _) = record(
        dir.path(),
        &[],
        &docker_run(&[IMAGE, "syscall-verdicts", "110", "34"]),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let learned = dir.path().join("profile.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&learned).unwrap()).unwrap();
    let rules = doc["syscalls"].as_array_mut().unwrap();
    for rule in rules.iter_mut() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "ioctl" && n != "socket");
        }
    }
    rules.retain(|r| r["names"].as_array().is_some_and(|n| !n.is_empty()));
    rules.push(
        serde_json::json!({"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 1, "value": 0x541b, "op": "SCMP_CMP_EQ"}]}),
    );
    rules.push(
        serde_json::json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}),
    );
    let profile = dir.path().join("narrowed.json");
    fs::write(&profile, doc.to_string()).unwrap();

    let probes = ["16:0,0x541b", "16:0,0x5412", "41:2,1,0", "41:40,1,0"];
    let mut words = vec![IMAGE, "syscall-verdicts"];
    words.extend(probes);
    let report = dir.path().join("report.json");
    let mut args: Vec<String> = vec![
        "enforce".into(),
        "--json".into(),
        report.to_string_lossy().into_owned(),
        "--profile".into(),
        profile.to_string_lossy().into_owned(),
        "--".into(),
    ];
    args.extend(docker_run(&words));
    let output = run(&args);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let refused: Vec<bool> = stdout(&output)
        .lines()
        .map(|l| l.ends_with(" errno 1"))
        .collect();
    assert_eq!(
        refused,
        [false, true, false, true],
        "{}\n{err}",
        stdout(&output)
    );
    assert!(err.contains("1× with request TIOCSTI (0x5412)"), "{err}");
    assert!(err.contains("1× with family AF_VSOCK (40)"), "{err}");
    assert!(
        err.contains("the profile allows ioctl only with request FIONREAD"),
        "{err}"
    );
    assert!(!err.contains("with request FIONREAD ("), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let ioctl = json["denials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "ioctl")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(ioctl["values"][0]["args"][0]["symbol"], "TIOCSTI");
    assert_eq!(ioctl["first"]["comm"], "syscall-verdict");
}

/// Enforces `words` (a run of `syscall-verdicts`) under `profile` with
/// `--watch WATCH --json`: the container's output lines and the report's
/// denials, without their first callers (pids differ between runs).
fn enforce_watched(
    dir: &Path,
    profile: &Path,
    watch: &str,
    words: &[String],
) -> (Vec<String>, Vec<serde_json::Value>, String) {
    let report = dir.join(format!("{watch}.json"));
    let mut args: Vec<String> = vec![
        "enforce".into(),
        "--watch".into(),
        watch.into(),
        "--json".into(),
        report.to_string_lossy().into_owned(),
        "--profile".into(),
        profile.to_string_lossy().into_owned(),
        "--".into(),
    ];
    args.extend(words.iter().cloned());
    let output = run(&args);
    let err = stderr(&output);
    assert!(output.status.success(), "{watch}: {err}");
    let denials = denials_without_first_callers(&report);
    let lines = stdout(&output).lines().map(str::to_owned).collect();
    (lines, denials, err)
}

/// A learned profile of a run of `syscall-verdicts` by `words`,
/// with mkdir refused with EACCES by a rule of its own: sysinfo (unlisted)
/// gets the default EPERM.
fn verdicts_profile(dir: &Path, words: &[String]) -> std::path::PathBuf {
    let (output, _) = record(dir, &[], words);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("profile.json")).unwrap()).unwrap();
    // The learned argument conditions (arch_prctl's) would leave calls to
    // the default action, which runc does not let notify: allowed whole.
    for rule in doc["syscalls"].as_array_mut().unwrap() {
        rule.as_object_mut().unwrap().remove("args");
    }
    let rules = doc["syscalls"].as_array_mut().unwrap();
    rules.push(serde_json::json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}));
    let profile = dir.join("refusing.json");
    fs::write(&profile, doc.to_string()).unwrap();
    profile
}

/// In a podman container (runc), the seccomp listener the runtime hands
/// over through `listenerPath` and the eBPF watch report the same denials
/// of the same run (names, counts, errnos), and the container's calls get
/// the profile's errnos under both.
#[test]
fn podman_listener_and_kernel_watch_report_the_same() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    // getppid, and pause (ended by its alarm): the sample's parent then
    // waits for a child the way it does for any probe that takes time, so
    // the profile has that wait whatever the timing of the watched runs.
    let profile = verdicts_profile(
        dir.path(),
        &podman_run(&[IMAGE, "syscall-verdicts", "110", "34"]),
    );
    let words = podman_run(&[IMAGE, "syscall-verdicts", "110", "83", "83", "99"]);
    let (kernel_lines, kernel, _) = enforce_watched(dir.path(), &profile, "kernel", &words);
    let (listener_lines, listener, err) = enforce_watched(dir.path(), &profile, "listener", &words);
    assert_eq!(kernel_lines, listener_lines, "{err}");
    assert_eq!(listener_lines.len(), 4, "{listener_lines:?}");
    assert!(!listener_lines[0].contains("errno"), "{listener_lines:?}");
    assert!(
        listener_lines[1].ends_with(" errno 13"),
        "{listener_lines:?}"
    );
    assert!(
        listener_lines[2].ends_with(" errno 13"),
        "{listener_lines:?}"
    );
    assert!(
        listener_lines[3].ends_with(" errno 1"),
        "{listener_lines:?}"
    );
    assert_eq!(kernel, listener, "{err}");
    let names: Vec<&str> = listener
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mkdir", "sysinfo"], "{err}");
    assert_eq!(listener[0]["count"], 2);
}

/// `--watch listener` with Docker: one line saying why, and nothing runs.
#[test]
fn docker_refuses_the_listener_in_one_line() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let mut args: Vec<String> = vec!["enforce".into(), "--watch".into(), "listener".into()];
    args.extend(["--profile".into(), profile.to_string_lossy().into_owned()]);
    args.push("--".into());
    args.extend(docker_run(&[IMAGE, "sh", "-c", "echo started"]));
    let output = run(&args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(!stdout(&output).contains("started"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("listenerPath"), "{err}");
}

/// A dockerd of one test's own, which the test may stop and kill: its data
/// root, exec root (with the containerd it starts), pid file and socket in
/// a temporary directory of its own under /var/tmp (overlay needs a
/// filesystem that is not tmpfs), the test image loaded into it from the
/// suite's daemon. Dropped: its containers removed, the daemon, its
/// containerd and their shims ended, the mounts under its directory
/// unmounted, the directory removed.
struct PrivateDockerd {
    dir: tempfile::TempDir,
    daemon: Option<std::process::Child>,
    host: String,
}

impl PrivateDockerd {
    fn start() -> PrivateDockerd {
        let dir = tempfile::Builder::new()
            .prefix("sp-dockerd-")
            .tempdir_in("/var/tmp")
            .expect("a directory under /var/tmp");
        let host = format!("unix://{}", dir.path().join("docker.sock").display());
        let mut this = PrivateDockerd {
            dir,
            daemon: None,
            host,
        };
        this.launch();
        let suite = docker_host();
        let saved = this.dir.path().join("image.tar");
        let save = Command::new("docker")
            .args(["-H", &suite, "save", "-o"])
            .arg(&saved)
            .arg(IMAGE)
            .output()
            .expect("run docker save");
        assert!(save.status.success(), "docker save: {}", stderr(&save));
        let load = Command::new("docker")
            .args(["-H", &this.host, "load", "-i"])
            .arg(&saved)
            .output()
            .expect("run docker load");
        assert!(load.status.success(), "docker load: {}", stderr(&load));
        let _ = fs::remove_file(&saved);
        this
    }

    /// Starts the daemon (again, on the same directories) and waits until
    /// it answers.
    fn launch(&mut self) {
        let base = self.dir.path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(base.join("dockerd.log"))
            .expect("dockerd.log");
        let daemon = Command::new("dockerd")
            .arg("--data-root")
            .arg(base.join("data"))
            .arg("--exec-root")
            .arg(base.join("exec"))
            .arg("--pidfile")
            .arg(base.join("dockerd.pid"))
            .args(["-H", &self.host])
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run dockerd");
        self.daemon = Some(daemon);
        let up = wait_for(Duration::from_secs(60), || {
            Command::new("docker")
                .args([
                    "-H",
                    &self.host,
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ])
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success())
        });
        assert!(
            up,
            "the test's own dockerd did not answer within 60 s: {}",
            fs::read_to_string(base.join("dockerd.log")).unwrap_or_default()
        );
    }

    fn pid(&self) -> libc::pid_t {
        self.daemon.as_ref().expect("the daemon runs").id() as libc::pid_t
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: a signal to the daemon this test started.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0, "kill dockerd");
    }

    /// SIGKILL, as an OOM kill or a crash ends it; reaped.
    fn kill(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }

    /// `syscall-profile record -q -o PROFILE -- docker -H HOST run
    /// --network none RUN_ARGS...` against this daemon.
    fn record(&self, profile: &Path, run_args: &[&str]) -> Command {
        let mut command = Command::new(profiler());
        command
            .args(["record", "-q", "-o"])
            .arg(profile)
            .args(["--", "docker", "-H", &self.host, "run", "--network", "none"])
            .args(run_args);
        command
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(["-H", &self.host])
            .args(args)
            .output()
            .expect("run docker")
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            // SAFETY: signals to the daemon this test started.
            unsafe {
                libc::kill(daemon.id() as libc::pid_t, libc::SIGCONT);
            }
            let ids = stdout(&self.docker(&["ps", "-aq"]));
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-f", id]);
            }
            // SAFETY: as above.
            unsafe {
                libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM);
            }
            if !wait_for(Duration::from_secs(20), || {
                daemon.try_wait().ok().flatten().is_some()
            }) {
                let _ = daemon.kill();
            }
            let _ = daemon.wait();
        }
        // Its containerd and the shims, should they outlive it.
        let base = self.dir.path().to_string_lossy().into_owned();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                continue;
            };
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(base.as_str()) {
                // SAFETY: a process of this test's daemon.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(base.as_str()))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in under {
            let _ = Command::new("umount").args(["-l", mount]).output();
        }
    }
}

/// The engine's daemon gone while a container is recorded. A daemon that
/// does not answer (stopped) is named before anything runs, in the 10 s
/// the tool gives it, not waited for. One killed mid-run (SIGKILL, as a
/// crash or an OOM kill ends it) ends the recording: the profile of what
/// ran is written, the container's processes are killed and its cgroup
/// removed, and since the engine cannot say what became of the container,
/// created with the recording profile, the tool says so, with the command
/// that removes it; once the daemon is back, it holds the container, and
/// that command removes it. (The daemon is the test's own: the suite's is
/// shared with the other tests.)
#[test]
fn a_daemon_gone_mid_run_ends_the_recording_and_names_the_container() {
    require_root();
    let mut daemon = PrivateDockerd::start();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");

    daemon.signal(libc::SIGSTOP);
    let started = std::time::Instant::now();
    let asking = daemon
        .record(&profile, &[IMAGE, "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run record");
    let refused = output_within(asking, Duration::from_secs(60)).ok();
    let took = started.elapsed();
    daemon.signal(libc::SIGCONT);
    let refused = refused.expect("record still waited on the stopped daemon after 60 s");
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(125), "{err}");
    assert!(
        err.contains("cannot reach the docker engine: no answer to `docker version")
            && err.contains("within 10 s"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(took < Duration::from_secs(40), "refused after {took:?}");
    assert!(!profile.exists(), "nothing written");

    let name = format!("sp-gone-{}", std::process::id());
    let child = daemon
        .record(&profile, &["--name", &name, IMAGE, "sleep", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run record");
    let pid = child.id();
    let mut sleeper = None;
    let running = wait_for(Duration::from_secs(60), || {
        sleeper = processes_in_run(pid)
            .into_iter()
            .find(|&p| command_of(p).as_deref() == Some("sleep"));
        sleeper.is_some()
    });
    assert!(
        running,
        "the container's sleep never ran in the recorded cgroup"
    );
    daemon.kill();
    let output = output_within(child, Duration::from_secs(90)).unwrap_or_else(|output| {
        panic!(
            "the recording did not end within 90 s of the daemon's death: {}",
            stderr(&output)
        )
    });
    let err = stderr(&output);
    let text = fs::read_to_string(&profile).unwrap_or_else(|e| panic!("{e}: {err}"));
    let names = allowed_names(&text);
    assert!(
        names.contains("clock_nanosleep") || names.contains("nanosleep"),
        "the profile holds what sleep did: {names:?}\n{err}"
    );
    let sleeper = sleeper.expect("the sleep's pid");
    assert!(
        wait_for(Duration::from_secs(20), || command_of(sleeper).as_deref()
            != Some("sleep")),
        "the container's sleep still runs: {err}"
    );
    assert!(cgroups_left_by(pid).is_empty(), "cgroups left: {err}");
    let label = format!("io.syscall-profile.recording=rec-{pid}-");
    let said = err
        .lines()
        .find(|l| l.contains("cannot tell what became of this run's container"))
        .unwrap_or_else(|| panic!("the container's fate is said: {err}"));
    assert!(said.contains(&label), "{said}");
    let command = said
        .split("remove it with `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("a command to remove it: {said}"));
    assert!(
        command.starts_with(&format!("docker -H {} rm -f $(", daemon.host)),
        "{command}"
    );

    daemon.launch();
    let listed = stdout(&daemon.docker(&["ps", "-a", "--format", "{{.Names}}"]));
    assert!(
        listed.lines().any(|n| n == name),
        "the restarted daemon holds the container: {listed}"
    );
    let removed = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("run the command said");
    assert!(removed.status.success(), "{command}: {}", stderr(&removed));
    let listed = stdout(&daemon.docker(&["ps", "-a", "--format", "{{.Names}}"]));
    assert!(
        !listed.lines().any(|n| n == name),
        "`{command}` removed the container: {listed}"
    );
}
