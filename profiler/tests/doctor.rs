//! `doctor`: on this host (root, BTF, cgroup2, the test's dockerd) it
//! says it is ready, and its JSON report agrees with the host's own
//! record of itself (the mount table, the kernel's BTF file, the docker
//! daemon's version); as an unprivileged user it fails naming the
//! privileges; an output it cannot write is refused before it looks.

use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{
    cgroup2_mount, cgroups_left_by, docker_host, docker_version, output_within, profiler,
    require_root, stderr, stdout,
};

/// The cgroup layout as the mount table says it, read here on its own:
/// cgroup2 alone, cgroup2 beside v1 hierarchies, v1 alone.
fn cgroup_mode_of_this_host() -> &'static str {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let types: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split(" - ").nth(1)?.split_whitespace().next())
        .collect();
    let v1 = types.contains(&"cgroup");
    let v2 = types.contains(&"cgroup2");
    match (v1, v2) {
        (false, true) => "pure-v2",
        (true, true) => "hybrid",
        (true, false) => "v1-only",
        (false, false) => "none",
    }
}

/// `syscall-profile doctor ARGS` run by `wrapper` (`setpriv ...`) with
/// `envs`, bounded by a minute; the output and the pid.
fn doctor(wrapper: &[&str], args: &[&str], envs: &[(&str, &str)]) -> (std::process::Output, u32) {
    let binary = profiler();
    let mut words: Vec<&std::ffi::OsStr> = wrapper.iter().map(|w| w.as_ref()).collect();
    words.push(binary.as_os_str());
    words.push("doctor".as_ref());
    words.extend(args.iter().map(std::ffi::OsStr::new));
    let child = Command::new(words[0])
        .args(&words[1..])
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run syscall-profile doctor");
    let pid = child.id();
    let output = output_within(child, Duration::from_secs(60))
        .unwrap_or_else(|o| panic!("doctor hung: {}", stderr(&o)));
    (output, pid)
}

#[test]
fn on_this_host_doctor_is_ready_and_its_json_says_what_the_host_says() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("doctor.json");
    let host = docker_host();
    let (output, pid) = doctor(
        &[],
        &["--json", json.to_str().unwrap()],
        &[("DOCKER_HOST", &host)],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("ready: `record` and `enforce`"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).expect("the report is JSON");
    assert_eq!(report["schema"], "syscall-profile/doctor/v1");
    assert_eq!(report["ready"], true);
    let facts = &report["facts"];
    // This host publishes its BTF (the suite's machines do).
    assert!(Path::new("/sys/kernel/btf/vmlinux").is_file());
    assert_eq!(facts["btf"], true, "{facts}");
    assert_eq!(facts["cgroup_mode"], cgroup_mode_of_this_host(), "{facts}");
    let mount = cgroup2_mount();
    assert_eq!(facts["cgroup2_mount"], mount.to_str().unwrap(), "{facts}");
    // The root cgroup's directory is inode 1 where the mount shows the
    // whole tree.
    let whole = fs::metadata(&mount).unwrap().ino() == 1;
    assert_eq!(facts["whole_tree"], whole, "{facts}");
    assert_eq!(facts["privileged"], true);
    assert_eq!(facts["counting_program"], "btf-tracepoint", "{facts}");
    assert_eq!(facts["seccomp_filter"], true);
    assert_eq!(facts["seccomp_listener"], true);
    let docker = facts["engines"]
        .as_array()
        .expect("engines")
        .iter()
        .find(|e| e["name"] == "docker")
        .expect("docker among the engines");
    assert_eq!(docker["found"], true, "{docker}");
    assert_eq!(docker["version"], docker_version().as_str(), "{docker}");
    assert_eq!(docker["listener_path"], false, "{docker}");
    // The suite's dockerd is 20.10: it drops defaultErrnoRet.
    let major: u32 = docker_version()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .expect("a version");
    assert_eq!(docker["default_errno_ret"], major >= 23, "{docker}");
    let checks = report["checks"].as_array().expect("checks");
    for name in [
        "kernel",
        "btf",
        "privileges",
        "cgroup",
        "counting program",
        "seccomp",
    ] {
        let check = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {report}"));
        assert_eq!(check["status"], "ok", "{check}");
    }
    assert!(
        cgroups_left_by(pid).is_empty(),
        "the check's cgroup was removed"
    );
}

/// As nobody, without a capability: exit 1, the privileges named, and the
/// checks that need them not tried; quickly (each engine gets 3 s at most,
/// all at once: the bound here is for a hang).
#[test]
fn as_an_unprivileged_user_doctor_fails_naming_the_privileges() {
    require_root();
    // A copy nobody can run, wherever the tree is.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let binary = dir.path().join("syscall-profile");
    fs::copy(profiler(), &binary).unwrap();
    let json = dir.path().join("out");
    fs::create_dir(&json).unwrap();
    fs::set_permissions(&json, fs::Permissions::from_mode(0o777)).unwrap();
    let report = json.join("doctor.json");
    let started = Instant::now();
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args(["doctor", "--json"])
        .arg(&report)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run setpriv (util-linux)");
    let output = output_within(child, Duration::from_secs(60))
        .unwrap_or_else(|o| panic!("doctor hung: {}", stderr(&o)));
    let took = started.elapsed();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let privileges = text
        .lines()
        .find(|l| l.contains("privileges"))
        .unwrap_or_else(|| panic!("no privileges line: {text}"));
    assert!(privileges.starts_with("FAIL"), "{text}");
    assert!(privileges.contains("uid 65534"), "{text}");
    assert!(text.contains("not ready"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).expect("the report is JSON");
    assert_eq!(report["ready"], false);
    assert_eq!(report["facts"]["privileged"], false);
    assert_eq!(report["facts"]["counting_program"], serde_json::Value::Null);
    assert!(took < Duration::from_secs(10), "took {took:?}: {text}");
}

/// A `--json` that cannot be written is said in one line, exit 2, before
/// any check runs (no report on standard output).
#[test]
fn a_json_output_that_cannot_be_written_is_refused_before_the_checks() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/doctor.json");
    for target in [missing.to_str().unwrap(), "/proc/doctor.json"] {
        let (output, pid) = doctor(&[], &["--json", target], &[]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains("cannot write"), "{err}");
        assert!(
            stdout(&output).is_empty(),
            "no check ran: {}",
            stdout(&output)
        );
        assert!(cgroups_left_by(pid).is_empty());
    }
}
