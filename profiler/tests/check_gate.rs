//! The CI gate end to end: a policy learned from release 1 of a program;
//! release 2 makes one syscall more and fails `check` with exit status 1,
//! a JUnit file naming that syscall, a JSON report and GitHub annotations;
//! the update command it prints makes the policy pass again.
//!
//! Records with the real recorder: needs root and a cgroup2 mount.

use std::{fs, process::Command};

use crate::common::{
    MARK, TEST_IMAGE, docker_host, enforce_verdicts, profiler, require_root, run, sample, stderr,
    stdout, verdicts_profile,
};

#[test]
fn one_new_syscall_fails_the_gate_and_the_printed_update_fixes_it() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let app = sample("app-release");
    let policy = dir.path().join("policy.json");
    let out = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        policy.as_os_str(),
        "--".as_ref(),
        app.as_os_str(),
        "1".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!fs::read_to_string(&policy).unwrap().contains("getcpu"));

    // Release 1 against its own policy: passes.
    let junit = dir.path().join("junit.xml");
    let report = dir.path().join("report.json");
    let check = |release: &str, extra: &[&str]| {
        let mut cmd = Command::new(profiler());
        cmd.current_dir(dir.path())
            .env_remove("GITHUB_ACTIONS")
            .args([
                "check",
                "--policy",
                "policy.json",
                "--junit",
                "junit.xml",
                "--json",
                "report.json",
            ])
            .args(extra)
            .arg("--")
            .arg(&app)
            .arg(release);
        cmd
    };
    let out = check("1", &[]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("PASS"), "{}", stdout(&out));
    let xml = fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");

    // Release 2: one new syscall, exit status 1, named in every report.
    let out = check("2", &[])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("FAIL: 1 syscall(s) outside the policy"),
        "{text}"
    );
    assert!(text.contains("  getcpu: "), "{text}");
    assert!(
        text.contains("::error file=policy.json,title=New syscall%3A getcpu::"),
        "{text}"
    );
    let xml = fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<testcase classname=\"syscall-profile.check\" name=\"syscall getcpu is allowed by the policy\">"), "{xml}");
    assert!(xml.contains("type=\"new-syscall\""), "{xml}");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["schema"], "syscall-profile/check/v1");
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["new_syscalls"].as_array().unwrap().len(), 1);
    assert_eq!(json["new_syscalls"][0]["name"], "getcpu");
    assert_eq!(json["new_syscalls"][0]["engine_default"], "allowed");
    assert!(
        json["baseline"]
            .as_str()
            .unwrap()
            .starts_with("Docker's default profile"),
        "a native command is set against Docker's default: {json}"
    );
    assert_eq!(json["command_exit_code"], 0);

    // The update command it prints, run as printed, makes release 2 pass.
    let update = json["update_command"].as_str().unwrap().to_owned();
    assert!(
        update.contains("syscall-profile record -o observed.json -- "),
        "{update}"
    );
    run_printed(dir.path(), &update);
    assert!(fs::read_to_string(&policy).unwrap().contains("getcpu"));
    let out = check("2", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Release 1 again: getcpu now unused: information, or a failure with --strict.
    let out = check("1", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("info: the policy allows 1 syscall(s) this run did not use"),
        "{}",
        stdout(&out)
    );
    let out = check("1", &["--strict"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let xml = fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("type=\"unused-syscall\""), "{xml}");
}

#[test]
fn observed_file_mode_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, names: &str| {
        let path = dir.path().join(name);
        fs::write(
            &path,
            format!(r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": [{names}], "action": "SCMP_ACT_ALLOW"}}]}}"#),
        )
        .unwrap();
        path
    };
    let policy = write("policy.json", r#""read", "write""#);
    let observed = write("new.json", r#""read", "write", "bpf""#);
    let junit = dir.path().join("j.xml");
    let out = run([
        "check".as_ref(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--observed".as_ref(),
        observed.as_os_str(),
        "--junit".as_ref(),
        junit.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("bpf: loads code into the kernel"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!(
            "syscall-profile merge {} {} -o {}",
            policy.display(),
            observed.display(),
            policy.display()
        )),
        "{}",
        stdout(&out)
    );
    assert!(
        fs::read_to_string(&junit)
            .unwrap()
            .contains("name=\"syscall bpf is allowed by the policy\"")
    );

    // Usage and input errors: exit status 2, with the problem named.
    let out = run(["check".as_ref(), "--policy".as_ref(), policy.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nothing to check"),
        "{}",
        stderr(&out)
    );
    let out = run([
        "check".as_ref(),
        "--policy".as_ref(),
        "/nonexistent/p.json".as_ref(),
        "--observed".as_ref(),
        observed.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/p.json"),
        "{}",
        stderr(&out)
    );
    let out = run([
        "check".as_ref(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--observed".as_ref(),
        observed.as_os_str(),
        "--junit".as_ref(),
        "/nonexistent-dir/j.xml".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent-dir"),
        "{}",
        stderr(&out)
    );
    let out = run(["check", "--observed", "x.json"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}

/// The same gate on a container: `check -- docker run …` records the
/// container the way `record` does and checks it.
#[test]
fn container_release_two_fails_the_gate() {
    require_root();
    let host = docker_host();
    let dir = tempfile::tempdir().unwrap();
    let docker = |release: &str| -> Vec<String> {
        [
            "docker",
            "-H",
            &host,
            "run",
            "--rm",
            "--network",
            "none",
            TEST_IMAGE,
            "/bin/app-release",
            release,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let policy = dir.path().join("policy.json");
    let mut args: Vec<String> = vec!["record".into(), "-q".into(), "-o".into()];
    args.push(policy.display().to_string());
    args.push("--".into());
    args.extend(docker("1"));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let junit = dir.path().join("junit.xml");
    let check = |release: &str| {
        let mut args: Vec<String> = vec!["check".into(), "--policy".into()];
        args.push(policy.display().to_string());
        args.push("--junit".into());
        args.push(junit.display().to_string());
        args.push("--".into());
        args.extend(docker(release));
        run(&args)
    };
    let out = check("1");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = check("2");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("  getcpu: "), "{}", stdout(&out));
    let xml = fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"syscall getcpu is allowed by the policy\""),
        "{xml}"
    );
    assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
}

/// Runs a command line as `check` prints it, in `dir`, with this build's
/// `syscall-profile` first on the PATH; it must succeed.
fn run_printed(dir: &std::path::Path, line: &str) {
    let bin_dir = profiler().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .current_dir(dir)
        .env("PATH", path)
        .args(["-c", line])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{line}: {}", stderr(&out));
}

const FIONREAD: u64 = 0x541b;
const TIOCSTI: u64 = 0x5412;

fn ioctl_rule(request: u64) -> serde_json::Value {
    serde_json::json!({"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 1, "value": request, "op": "SCMP_CMP_EQ"}]})
}

/// A new argument value fails the gate like a new syscall: a policy that
/// allows ioctl only with FIONREAD, and a run whose profile holds TIOCSTI
/// too, fail `check` with exit status 1, and the text, JUnit, JSON and
/// annotations name `ioctl` and `TIOCSTI (0x5412)`; the same values pass;
/// the printed update makes it pass. The oracle is the kernel: with the
/// policy enforced, it refuses exactly the request `check` calls new.
#[test]
fn a_new_ioctl_request_fails_the_gate_as_the_kernel_refuses_it() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let policy = verdicts_profile(
        dir.path(),
        "policy.json",
        serde_json::json!([ioctl_rule(FIONREAD)]),
    );
    let same = verdicts_profile(
        dir.path(),
        "same.json",
        serde_json::json!([ioctl_rule(FIONREAD)]),
    );
    let new = verdicts_profile(
        dir.path(),
        "new.json",
        serde_json::json!([ioctl_rule(FIONREAD), ioctl_rule(TIOCSTI)]),
    );
    let check = |observed: &std::path::Path| {
        Command::new(profiler())
            .current_dir(dir.path())
            .env("GITHUB_ACTIONS", "true")
            .arg("check")
            .arg("--policy")
            .arg(&policy)
            .arg("--observed")
            .arg(observed)
            .args(["--junit", "junit.xml", "--json", "report.json"])
            .output()
            .unwrap()
    };
    let out = check(&same);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("PASS"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("values this run did not use"),
        "{}",
        stdout(&out)
    );

    let out = check(&new);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("FAIL: 1 argument value(s) outside the policy"),
        "{text}"
    );
    assert!(
        text.contains("  ioctl: new request TIOCSTI (0x5412) (the policy allows FIONREAD"),
        "{text}"
    );
    // One annotation, on the policy file as it was given (a path of the
    // test's own directory: no character GitHub needs escaped).
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 1, "{text}");
    assert!(
        annotations[0].starts_with(&format!(
            "::error file={},title=New argument value%3A ioctl request TIOCSTI (0x5412)::ioctl: \
             new request TIOCSTI (0x5412) is used but not allowed by the policy (it allows \
             FIONREAD).",
            policy.display()
        )),
        "{text}"
    );
    let xml = fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
    assert!(
        xml.contains("name=\"ioctl request TIOCSTI (0x5412) is allowed by the policy\""),
        "{xml}"
    );
    assert!(xml.contains("type=\"new-argument-value\""), "{xml}");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["new_syscalls"], serde_json::json!([]));
    let value = &json["new_values"][0];
    assert_eq!(value["name"], "ioctl");
    assert_eq!(value["value"], "request TIOCSTI (0x5412)");
    assert_eq!(value["args"][0]["symbol"], "TIOCSTI");
    assert_eq!(value["args"][0]["value"], TIOCSTI);
    assert_eq!(json["new_values"].as_array().unwrap().len(), 1);

    // The kernel, under the policy: TIOCSTI refused, FIONREAD run.
    let fionread = format!("16:0,{FIONREAD:#x}");
    let tiocsti = format!("16:0,{TIOCSTI:#x}");
    let (verdicts, output) = enforce_verdicts(&policy, &[], &[&fionread, &tiocsti]);
    let refused: Vec<&str> = verdicts
        .iter()
        .filter(|(_, v)| v == &format!("errno {MARK}"))
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        refused,
        [tiocsti.as_str()],
        "{verdicts:?} {}",
        stderr(&output)
    );

    // The update it prints makes the run pass.
    let update = json["update_command"].as_str().unwrap().to_owned();
    run_printed(dir.path(), &update);
    let out = check(&new);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
