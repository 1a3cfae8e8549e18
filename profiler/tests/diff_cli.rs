//! `syscall-profile diff` as a user runs it: against Docker's default, with
//! capabilities added, against another profile, in each format, and its
//! errors.

mod common;

use std::{fs, path::PathBuf};

use common::{run, stderr, stdout};

fn profile(dir: &tempfile::TempDir, file: &str, names: &[&str]) -> PathBuf {
    let path = dir.path().join(file);
    let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    fs::write(
        &path,
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "archMap": [{{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}}],
                "syscalls": [{{"names": [{}], "action": "SCMP_ACT_ALLOW"}}]}}"#,
            names.join(", ")
        ),
    )
    .unwrap();
    path
}

#[test]
fn against_docker_default_names_denials_reasons_and_remedies() {
    let dir = tempfile::tempdir().unwrap();
    let app = profile(
        &dir,
        "app.json",
        &["read", "write", "mount", "keyctl", "socket", "exit_group"],
    );
    let out = run([
        "diff".as_ref(),
        app.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["schema"], "syscall-profile/diff/v1");
    assert_eq!(json["baseline"]["docker_default"], true);
    let denied: Vec<&str> = json["denied_needed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(denied, ["keyctl", "mount"]);
    assert_eq!(
        json["denied_needed"][0]["allow_with"]["kind"],
        "custom_profile"
    );
    assert_eq!(
        json["denied_needed"][1]["allow_with"]["caps"][0],
        "CAP_SYS_ADMIN"
    );
    assert!(
        json["denied_needed"][0]["why"]
            .as_str()
            .unwrap()
            .contains("keyring")
    );
    assert_eq!(json["conditional"][0]["name"], "socket");
    assert_eq!(json["surface"]["kept"], 4, "read write socket exit_group");

    // Not a terminal: no colour in text.
    let text = run(["diff".as_ref(), app.as_os_str()]);
    assert!(!stdout(&text).contains('\x1b'));
    assert!(
        stdout(&text).contains("Needs 2 syscall(s) the baseline denies"),
        "{}",
        stdout(&text)
    );

    // With CAP_SYS_ADMIN, Docker's profile allows mount.
    let admin = run([
        "diff".as_ref(),
        app.as_os_str(),
        "--cap-add".as_ref(),
        "SYS_ADMIN".as_ref(),
        "--format".as_ref(),
        "markdown".as_ref(),
    ]);
    assert_eq!(admin.status.code(), Some(0));
    let md = stdout(&admin);
    assert!(
        md.contains("| `keyctl` |") && !md.contains("| `mount` |"),
        "{md}"
    );
}

#[test]
fn two_profiles_and_a_baseline_file() {
    let dir = tempfile::tempdir().unwrap();
    let old = profile(&dir, "old.json", &["read", "write"]);
    let new = profile(&dir, "new.json", &["read", "write", "ptrace"]);
    for args in [
        vec![old.as_os_str(), new.as_os_str()],
        vec![new.as_os_str(), "--baseline".as_ref(), old.as_os_str()],
    ] {
        let mut argv = vec!["diff".as_ref(), "--format".as_ref(), "json".as_ref()];
        argv.extend(args);
        let out = run(argv);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["denied_needed"][0]["name"], "ptrace");
        assert_eq!(json["baseline"]["docker_default"], false);
    }
}

#[test]
fn errors_exit_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(["diff", "/nonexistent/app.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/app.json"),
        "{}",
        stderr(&out)
    );
    let bad = dir.path().join("bad.json");
    fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap();
    let out = run(["diff".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SCMP_ACT_NOPE"), "{}", stderr(&out));
    let app = profile(&dir, "app.json", &["read"]);
    let out = run([
        "diff".as_ref(),
        app.as_os_str(),
        "--cap-add".as_ref(),
        "SYS_WIZARD".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SYS_WIZARD"), "{}", stderr(&out));
    let out = run([
        "diff".as_ref(),
        app.as_os_str(),
        app.as_os_str(),
        "--baseline".as_ref(),
        app.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give one of them"),
        "{}",
        stderr(&out)
    );
}

/// `--baseline ENGINE`: each engine's default, named with its source and
/// why it was chosen, with that engine's verdicts and default capabilities.
#[test]
fn against_each_engine_s_default() {
    let dir = tempfile::tempdir().unwrap();
    let app = profile(
        &dir,
        "app.json",
        &[
            "read",
            "write",
            "exit_group",
            "io_uring_setup",
            "pkey_alloc",
        ],
    );
    let diff = |baseline: &str| {
        let out = run([
            "diff".as_ref(),
            app.as_os_str(),
            "--baseline".as_ref(),
            baseline.as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let denied: Vec<String> = json["denied_needed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        (json, denied)
    };
    let (json, denied) = diff("docker");
    assert_eq!(json["baseline"]["engine_default"], "docker");
    assert_eq!(json["baseline"]["reason"], "chosen with --baseline docker");
    assert_eq!(denied, ["io_uring_setup"]);
    // Docker 20.10 allowed io_uring and had no pkey_*.
    let (json, denied) = diff("docker-20.10");
    assert!(
        json["baseline"]["name"]
            .as_str()
            .unwrap()
            .contains("moby v20.10.24"),
        "{}",
        json["baseline"]
    );
    assert_eq!(denied, ["pkey_alloc"]);
    // podman: its own default capabilities, ENOSYS for what it never names.
    let (json, denied) = diff("podman");
    assert_eq!(denied, ["io_uring_setup"]);
    assert_eq!(json["denied_needed"][0]["errno_name"], "ENOSYS");
    assert_eq!(
        json["context"]["capabilities"].as_array().unwrap().len(),
        11
    );
    assert_eq!(json["baseline"]["docker_default"], false);
    let (json, denied) = diff("containerd");
    assert!(denied.is_empty(), "{denied:?}");
    assert!(
        json["baseline"]["name"]
            .as_str()
            .unwrap()
            .starts_with("containerd's RuntimeDefault (containerd v1.6.20"),
        "{}",
        json["baseline"]
    );

    // The text names the baseline and why, on its first line.
    let out = run([
        "diff".as_ref(),
        app.as_os_str(),
        "--baseline".as_ref(),
        "podman".as_ref(),
    ]);
    let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
    assert!(
        first.contains(
            "compared with podman's default (containers-common 0.50.1, \
             /usr/share/containers/seccomp.json), chosen with --baseline podman"
        ),
        "{first}"
    );
    let out = run(["diff".as_ref(), app.as_os_str()]);
    let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
    assert!(
        first.contains("the default baseline when no engine is named"),
        "{first}"
    );

    // A misspelt name is not taken for a file silently.
    let out = run([
        "diff".as_ref(),
        app.as_os_str(),
        "--baseline".as_ref(),
        "podmna".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("podmna") && err.contains("docker, docker-20.10, podman, containerd"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
