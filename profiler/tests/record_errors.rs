//! Every error a user can cause before the command runs: a one-line message
//! that names the fix, a non-zero exit, the command never started, and
//! nothing left behind (no cgroup, no output file, no temporary file).

use std::{
    ffi::OsString,
    fs,
    path::PathBuf,
    process::{Command, Output},
};

use crate::common::*;

/// A scratch directory with the marker the command would create if it ran.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        // Writable by anyone, for the tests that drop root.
        fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        Scene { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn marker(&self) -> PathBuf {
        self.path("command-ran")
    }

    /// `sh -c 'touch MARKER'`: proof, if the marker exists, that it ran.
    fn command(&self) -> Vec<OsString> {
        vec![
            "sh".into(),
            "-c".into(),
            format!("touch {}", self.marker().display()).into(),
        ]
    }

    /// `record [-o DIR/p.json] EXTRA... -- sh -c 'touch MARKER'`, run
    /// through `wrapper` (e.g. setpriv or unshare) when given. `-o` is added
    /// unless `extra` has one.
    fn record(&self, wrapper: &[&str], extra: &[&str]) -> (Output, u32) {
        let mut words: Vec<OsString> = wrapper.iter().map(OsString::from).collect();
        words.push(profiler().into());
        words.push("record".into());
        if !extra.contains(&"-o") {
            words.push("-o".into());
            words.push(self.path("p.json").into());
        }
        words.extend(extra.iter().map(OsString::from));
        words.push("--".into());
        words.extend(self.command());
        let child = Command::new(&words[0])
            .args(&words[1..])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        (child.wait_with_output().unwrap(), pid)
    }

    /// The run failed with `code` and a message containing `message`, and
    /// left nothing behind.
    fn assert_clean_failure(&self, (output, pid): (Output, u32), code: i32, message: &str) {
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "stderr: {err}");
        assert!(err.contains(message), "expected {message:?} in: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!self.marker().exists(), "the command must not have run");
        assert!(stdout(&output).is_empty(), "no profile on stdout");
        assert!(cgroups_left_by(pid).is_empty(), "cgroup left behind");
        let left: Vec<_> = dir_entries(self.dir.path()).into_iter().collect();
        assert!(left.is_empty(), "files left behind: {left:?}");
    }
}

#[test]
fn bad_flag() {
    let scene = Scene::new();
    let (output, pid) = scene.record(&[], &["--bogus"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("--bogus"), "{err}");
    assert!(!scene.marker().exists());
    assert!(cgroups_left_by(pid).is_empty());
}

#[test]
fn no_command() {
    let scene = Scene::new();
    let output = run([
        "record".as_ref(),
        "-o".as_ref(),
        scene.path("p.json").as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no command to record: give it after `--`"));
    assert!(dir_entries(scene.dir.path()).is_empty());
}

#[test]
fn command_not_found() {
    let scene = Scene::new();
    let output = run([
        "record".as_ref(),
        "-o".as_ref(),
        scene.path("p.json").as_os_str(),
        "--".as_ref(),
        "no-such-command-4711".as_ref(),
    ]);
    assert_eq!(output.status.code(), Some(127));
    assert!(stderr(&output).contains("command not found: no-such-command-4711"));
    assert!(dir_entries(scene.dir.path()).is_empty());
}

#[test]
fn command_not_executable() {
    let scene = Scene::new();
    let script = scene.path("script.sh");
    fs::write(&script, "#!/bin/sh\ntouch marker\n").unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let output = run([
        "record".as_ref(),
        "-o".as_ref(),
        scene.path("p.json").as_os_str(),
        "--".as_ref(),
        script.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(126));
    assert!(stderr(&output).contains("not an executable file"));
    assert_eq!(dir_entries(scene.dir.path()).len(), 1, "only the script");
}

#[test]
fn output_directory_missing() {
    let scene = Scene::new();
    let missing = scene.path("missing/p.json");
    let result = scene.record(&[], &["-o", missing.to_str().unwrap()]);
    scene.assert_clean_failure(result, 125, "does not exist");
}

#[test]
fn output_not_writable() {
    let scene = Scene::new();
    // Root writes anywhere on a normal filesystem; /proc takes no new files.
    let result = scene.record(&[], &["-o", "/proc/p.json"]);
    scene.assert_clean_failure(result, 125, "cannot write /proc/p.json");
    let result = scene.record(&[], &["--stats", "/proc/stats.json"]);
    scene.assert_clean_failure(result, 125, "cannot write /proc/stats.json");
}

#[test]
fn without_cap_bpf_and_cap_perfmon() {
    require_root();
    let scene = Scene::new();
    let result = scene.record(
        &["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--"],
        &[],
    );
    scene.assert_clean_failure(
        result,
        125,
        "needs root, or the capabilities CAP_BPF and CAP_PERFMON",
    );
}

#[test]
fn not_root() {
    require_root();
    let scene = Scene::new();
    let result = scene.record(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ],
        &[],
    );
    scene.assert_clean_failure(
        result,
        125,
        "run it with sudo; run `syscall-profile doctor` to see what works here",
    );
}

/// In a mount namespace of its own, where /sys/kernel is an empty read-only
/// tmpfs, tracefs cannot be mounted: the tracepoint hook must say so.
#[test]
fn tracefs_missing_and_not_mountable() {
    require_root();
    let scene = Scene::new();
    let script = "mount -t tmpfs -o ro,size=64k none /sys/kernel && exec \"$@\"";
    let result = scene.record(
        &["unshare", "-m", "sh", "-c", script, "sh"],
        &["--hook", "tracepoint"],
    );
    scene.assert_clean_failure(
        result,
        125,
        "tracefs is not mounted at /sys/kernel/tracing and mounting it failed",
    );
}

/// Where tracefs is not mounted but can be, the recorder mounts it.
#[test]
fn tracefs_missing_is_mounted() {
    require_root();
    let scene = Scene::new();
    let script = "umount /sys/kernel/tracing 2>/dev/null; test ! -e /sys/kernel/tracing/events && exec \"$@\"";
    let (output, _) = scene.record(
        &["unshare", "-m", "sh", "-c", script, "sh"],
        &["-q", "--hook", "tracepoint"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(scene.marker().exists());
    assert!(allowed_names(&fs::read_to_string(scene.path("p.json")).unwrap()).contains("execve"));
}

#[test]
fn no_cgroup2_mount() {
    require_root();
    let scene = Scene::new();
    let script = "for m in $(awk '$9 == \"cgroup2\" {print $5}' /proc/self/mountinfo); do umount -l \"$m\"; done; exec \"$@\"";
    let result = scene.record(&["unshare", "-m", "sh", "-c", script, "sh"], &[]);
    scene.assert_clean_failure(
        result,
        125,
        "no cgroup2 filesystem is mounted (looked in /proc/self/mountinfo): mount one, e.g. \
         `mount -t cgroup2 none /sys/fs/cgroup/unified` on a hybrid host; run `syscall-profile \
         doctor` to see what works here",
    );
}

/// In a cgroup namespace rooted below the host's root (a container's),
/// the cgroup2 mount shows a subtree whose paths start lower than the
/// kernel's levels: the tool learns from the kernel where the subtree sits
/// and records all the same. The oracle: the command's sysinfo, which
/// nothing else in the namespace makes, is in the profile; the run's
/// cgroup is made inside the namespace's subtree and removed.
#[test]
fn a_cgroup_namespace_below_the_root_is_recorded() {
    require_root();
    let scene = Scene::new();
    let cgroup = cgroup2_mount().join(format!("sp-cgns-{}", std::process::id()));
    std::fs::create_dir(&cgroup).unwrap();
    let script = format!(
        "echo $$ > {procs} && exec unshare -C -m sh -c 'for m in $(awk \"\\$9 == \\\"cgroup2\\\" {{print \\$5}}\" /proc/self/mountinfo); do umount -l \"$m\"; mount -t cgroup2 none \"$m\"; done; exec \"$@\"' sh \"$@\"",
        procs = cgroup.join("cgroup.procs").display()
    );
    let profile = scene.path("p.json");
    let output = Command::new("sh")
        .args(["-c", &script, "sh"])
        .arg(profiler())
        .args(["record", "-q", "-o"])
        .arg(&profile)
        .arg("--")
        .arg(sample("call"))
        .arg("sysinfo")
        .output()
        .unwrap();
    // The recorder is in the test's cgroup until it ends: removed after,
    // with the runs' shared parent it made there.
    let parent = cgroup.join("syscall-profile");
    let runs_left: Vec<_> = std::fs::read_dir(&parent)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir(&parent);
    let _ = std::fs::remove_dir(&cgroup);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "sysinfo=ok", "{}", stderr(&output));
    assert!(runs_left.is_empty(), "cgroups left: {runs_left:?}");
    let names = allowed_names(&fs::read_to_string(&profile).unwrap());
    assert!(names.contains("sysinfo"), "{names:?}");
    assert!(names.contains("execve"), "{names:?}");
    let whole = scene.record(&["unshare", "-C"], &[]);
    assert_eq!(whole.0.status.code(), Some(0), "{}", stderr(&whole.0));
}

/// A container recorded from inside a cgroup namespace of its own: the
/// engine, on the host, would take the run's cgroup path (the namespace's)
/// for one of the host's tree and put the container elsewhere, recording
/// nothing. Refused in one line, before the engine runs anything.
#[test]
fn a_container_from_inside_a_cgroup_namespace_is_refused() {
    require_root();
    let scene = Scene::new();
    let host = docker_host();
    let cgroup = cgroup2_mount().join(format!("sp-cgns-engine-{}", std::process::id()));
    std::fs::create_dir(&cgroup).unwrap();
    let script = format!(
        "echo $$ > {procs} && exec unshare -C -m sh -c 'for m in $(awk \"\\$9 == \\\"cgroup2\\\" {{print \\$5}}\" /proc/self/mountinfo); do umount -l \"$m\"; mount -t cgroup2 none \"$m\"; done; exec \"$@\"' sh \"$@\"",
        procs = cgroup.join("cgroup.procs").display()
    );
    let output = Command::new("sh")
        .args(["-c", &script, "sh"])
        .arg(profiler())
        .args(["record", "-o"])
        .arg(scene.path("p.json"))
        .args([
            "--", "docker", "-H", &host, "run", "--rm", TEST_IMAGE, "true",
        ])
        .output()
        .unwrap();
    let parent = cgroup.join("syscall-profile");
    let runs_left = std::fs::read_dir(&parent).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    });
    let _ = std::fs::remove_dir(&parent);
    let _ = std::fs::remove_dir(&cgroup);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains("a container engine cannot be given this run's cgroup from here"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_eq!(runs_left, 0, "a run's cgroup was left");
    assert!(!scene.path("p.json").exists());
}

/// A cgroup2 mount that shows only part of the namespace's tree (a bind
/// mount of a cgroup below its root): its paths are not the ones
/// `/proc/PID/cgroup` gives, so the tool refuses in one line.
#[test]
fn a_bind_mounted_part_of_the_tree_is_refused() {
    require_root();
    let scene = Scene::new();
    let mount = cgroup2_mount();
    let part = mount.join(format!("sp-part-{}", std::process::id()));
    std::fs::create_dir(&part).unwrap();
    let script = format!(
        "mount --bind {part} {mount} && exec \"$@\"",
        part = part.display(),
        mount = mount.display()
    );
    let result = scene.record(&["unshare", "-m", "sh", "-c", &script, "sh"], &[]);
    let _ = std::fs::remove_dir(&part);
    scene.assert_clean_failure(result, 125, "(a bind mount)");
}

#[test]
fn verifier_rejection_shows_the_reason() {
    require_root();
    let scene = Scene::new();
    let result = scene.record(&[], &["--hook", "verifier-selftest"]);
    let err = stderr(&result.0);
    assert!(
        err.contains("the kernel's verifier rejected the eBPF program verifier_selftest"),
        "{err}"
    );
    scene.assert_clean_failure(result, 125, "invalid mem access");
}
