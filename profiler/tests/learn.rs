//! `learn --from-log`: the production loop end to end with real Docker and
//! the kernel's own seccomp log. A profile recorded without a syscall,
//! exported in complain form, lets a container make it (the kernel logs
//! it); `learn` names that syscall for that container, and the profile it
//! writes then runs the container under Docker with the refusal gone.

use std::{
    fs,
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::*;

/// `learn`'s JSON report, as written to `file`.
fn report_at(file: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap()
}

/// The syscalls `learn`'s JSON report says `workload` made outside the
/// profile (the report must name the workload).
fn new_syscalls_of(report: &serde_json::Value, workload: &str) -> Vec<String> {
    let ours = report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workload"] == workload)
        .unwrap_or_else(|| panic!("no {workload} in {report:#}"));
    ours["check"]["new_syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_complain_profile_logs_what_it_lacks_and_learn_adds_it() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    // The profile: what `call sysinfo --hold` does in the container (held
    // until the recording's --duration stops it), so no getcpu.
    let recorded = run([
        "record".as_ref(),
        "-q".as_ref(),
        "--duration".as_ref(),
        "3".as_ref(),
        "-o".as_ref(),
        path("policy.json").as_os_str(),
        "--".as_ref(),
        "docker".as_ref(),
        "-H".as_ref(),
        docker_host().as_ref(),
        "run".as_ref(),
        "--rm".as_ref(),
        "--network".as_ref(),
        "none".as_ref(),
        TEST_IMAGE.as_ref(),
        "call".as_ref(),
        "sysinfo".as_ref(),
        "--hold".as_ref(),
    ]);
    assert!(
        allowed_names(&fs::read_to_string(path("policy.json")).unwrap_or_default())
            .contains("sysinfo"),
        "{}",
        stderr(&recorded)
    );
    complain_form(dir.path());
    // Under the complain form the container makes getcpu, and its process
    // holds while `learn` reads the log, so its record names the container
    // (a process gone is named by its program).
    let name = format!("sp-learn-{}", std::process::id());
    let seccomp = format!("seccomp={}", path("complain.json").display());
    let started = docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        "--security-opt",
        &seccomp,
        TEST_IMAGE,
        "call",
        "sysinfo",
        "getcpu",
        "--hold",
    ]);
    assert!(started.status.success(), "{}", stderr(&started));
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            docker(&["rm", "-f", &self.0]);
        }
    }
    let _remove = Remove(name.clone());
    assert!(wait_for(Duration::from_secs(30), || {
        stdout(&docker(&["logs", &name])).contains("getcpu")
    }));
    let logs = stdout(&docker(&["logs", &name]));
    assert_eq!(
        logs.trim(),
        "sysinfo=ok getcpu=ok",
        "the complain form refused"
    );
    let id = stdout(&docker(&["inspect", "-f", "{{.Id}}", &name]))
        .trim()
        .to_owned();
    let learned = run([
        "learn".as_ref(),
        "--from-log".as_ref(),
        "kmsg".as_ref(),
        "--profile".as_ref(),
        path("policy.json").as_os_str(),
        "--since".as_ref(),
        "10m".as_ref(),
        "-o".as_ref(),
        path("learned.json").as_os_str(),
        "--json".as_ref(),
        path("report.json").as_os_str(),
        "--junit".as_ref(),
        path("junit.xml").as_os_str(),
    ]);
    let text = stdout(&learned);
    assert_eq!(learned.status.code(), Some(1), "{text}{}", stderr(&learned));
    let report = report_at(&path("report.json"));
    let workload = format!("docker container {}", &id[..12]);
    assert_eq!(
        new_syscalls_of(&report, &workload),
        ["getcpu"],
        "{report:#}"
    );
    assert!(
        text.contains(&workload) && text.contains("getcpu"),
        "{text}"
    );
    // The kernel's verdict: the policy refuses getcpu, the learned profile
    // lets it run.
    for (profile, expected) in [
        ("policy.json", "sysinfo=ok getcpu=errno:1"),
        ("learned.json", "sysinfo=ok getcpu=ok"),
    ] {
        let seccomp = format!("seccomp={}", path(profile).display());
        let ran = docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--security-opt",
            &seccomp,
            TEST_IMAGE,
            "call",
            "sysinfo",
            "getcpu",
        ]);
        assert_eq!(stdout(&ran).trim(), expected, "{profile}: {}", stderr(&ran));
    }
}

#[test]
fn a_log_that_is_no_file_or_a_bad_time_is_refused_in_one_line() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.json");
    fs::write(
        &policy,
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}"#,
    )
    .unwrap();
    let complain = dir.path().join("complain.json");
    fs::write(
        &complain,
        r#"{"defaultAction": "SCMP_ACT_LOG", "syscalls": []}"#,
    )
    .unwrap();
    let output = run_within(
        &[
            "learn",
            "--from-log",
            "kmsg",
            "--profile",
            complain.to_str().unwrap(),
        ],
        Stdio::null(),
        Duration::from_secs(10),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is a complain-mode profile"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        stderr(&output).trim().lines().count(),
        1,
        "{}",
        stderr(&output)
    );
    let policy = policy.to_str().unwrap();
    for (args, expected) in [
        (vec!["--from-log", "/dev/null"], "not a regular file"),
        (
            vec!["--from-log", "kmsg", "--since", "yesterday-ish"],
            "neither a time",
        ),
    ] {
        let mut words = vec!["learn", "--profile", policy];
        words.extend(args);
        let output = run_within(&words, Stdio::null(), Duration::from_secs(10));
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains(expected), "{text}");
        // One line says what is wrong (clap adds its pointer to --help).
        let said: Vec<&str> = text.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(said.len(), 1, "{text}");
    }
}

/// `--from-log audit`: listened to live, the records of a native program
/// run (by `enforce`) under the complain form come as the kernel makes
/// them, none lost to the kernel log's rate limit; the one syscall the
/// profile lacks is named for that program.
#[test]
fn audits_live_records_name_what_a_native_program_lacks() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let call = sample("call");
    policy_and_complain_form(dir.path());
    let mut listener = Command::new(profiler())
        .args([
            "learn",
            "--from-log",
            "audit",
            "--duration",
            "8",
            "--profile",
        ])
        .arg(path("policy.json"))
        .arg("--json")
        .arg(path("report.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = std::io::BufReader::new(listener.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening") {
        line.clear();
        let read = std::io::BufRead::read_line(&mut said, &mut line).unwrap();
        assert!(read > 0, "learn ended before it listened");
    }
    // The socket is bound right after the note.
    std::thread::sleep(Duration::from_millis(500));
    let enforced = run([
        "enforce".as_ref(),
        "--profile".as_ref(),
        path("complain.json").as_os_str(),
        "--".as_ref(),
        call.as_os_str(),
        "sysinfo".as_ref(),
        "getcpu".as_ref(),
    ]);
    assert_eq!(
        stdout(&enforced).trim(),
        "sysinfo=ok getcpu=ok",
        "{}",
        stderr(&enforced)
    );
    let status = listener.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let report = report_at(&path("report.json"));
    let workload = format!("program {}", call.display());
    assert_eq!(
        new_syscalls_of(&report, &workload),
        ["getcpu"],
        "{report:#}"
    );
    assert_eq!(report["lost"], 0, "{report:#}");
}

/// `--from-log journal`: the kernel's record of a call the complain form
/// logged, as systemd's journal keeps it (its own journald, reading the
/// kernel's log, in a mount namespace of the test's own with a fresh /run,
/// so that nothing of the host's /run is touched), read back through
/// `journalctl`; the syscall the profile lacks is named for that program.
#[test]
fn the_journal_names_what_a_native_program_lacks() {
    require_root();
    let journald = std::path::Path::new("/lib/systemd/systemd-journald");
    assert!(
        journald.is_file() && std::path::Path::new("/usr/bin/journalctl").is_file(),
        "systemd-journald and journalctl are needed (Debian's systemd)"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let call = sample("call");
    policy_and_complain_form(dir.path());
    // journald started first, the workload run, then read back once
    // journald has had the kernel's record.
    let script = format!(
        "set -e\n\
         mount -t tmpfs -o mode=0755 none /run\n\
         mkdir -p /run/systemd/journal /run/log\n\
         {journald} & journald=$!\n\
         trap 'kill $journald; wait $journald 2>/dev/null || true' EXIT\n\
         for i in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done\n\
         since=$(date -u +%Y-%m-%dT%H:%M:%SZ)\n\
         {tool} enforce -q --profile {complain} -- {call} sysinfo getcpu > {out}/enforced.txt\n\
         sleep 1.5\n\
         status=0\n\
         {tool} learn --from-log journal --since $since --profile {policy} --json {out}/report.json || status=$?\n\
         echo $status > {out}/status\n",
        journald = journald.display(),
        tool = profiler().display(),
        complain = path("complain.json").display(),
        call = call.display(),
        out = dir.path().display(),
        policy = path("policy.json").display(),
    );
    let ran = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}{}", stdout(&ran), stderr(&ran));
    assert_eq!(
        fs::read_to_string(path("enforced.txt")).unwrap().trim(),
        "sysinfo=ok getcpu=ok"
    );
    assert_eq!(
        fs::read_to_string(path("status")).unwrap().trim(),
        "1",
        "learn found nothing: {}",
        stderr(&ran)
    );
    let report = report_at(&path("report.json"));
    let workload = format!("program {}", call.display());
    assert_eq!(
        new_syscalls_of(&report, &workload),
        ["getcpu"],
        "{report:#}"
    );
}

/// In `dir`: `policy.json`, recorded from the `call` sample making
/// sysinfo, and its complain form `complain.json`.
fn policy_and_complain_form(dir: &std::path::Path) {
    let call = sample("call");
    let recorded = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        dir.join("policy.json").as_os_str(),
        "--".as_ref(),
        call.as_os_str(),
        "sysinfo".as_ref(),
    ]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    complain_form(dir);
}

/// In `dir`: `complain.json`, the complain form of `policy.json`.
fn complain_form(dir: &std::path::Path) {
    let exported = run([
        "export".as_ref(),
        "--to".as_ref(),
        "docker".as_ref(),
        "--complain".as_ref(),
        dir.join("policy.json").as_os_str(),
        "-o".as_ref(),
        dir.join("complain.json").as_os_str(),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
}
