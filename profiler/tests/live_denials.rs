//! `enforce` says what is refused as it happens, whatever standard error
//! is: here a pipe, read while the program still runs. And a refused call
//! the program retries in a loop is said once (not a flood), with a count,
//! while the final report still counts every refusal: the oracle is the
//! program's own count of its failed calls.

use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::common::*;
use serde_json::{Value, json};

/// A profile for `retry-refused`: what it needs (learned by recording it)
/// but sysinfo, refused with [`MARK`]; read and write allowed, so that
/// both watches can be used.
fn retry_profile(dir: &Path) -> PathBuf {
    let learned = dir.join("learned.json");
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        sample("retry-refused").as_os_str(),
        "0.2".as_ref(),
        "0.1".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut names = allowed_names(&fs::read_to_string(&learned).unwrap());
    assert!(names.remove("sysinfo"), "the recording saw no sysinfo");
    names.extend(["read".to_owned(), "write".to_owned()]);
    let document = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": MARK,
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    });
    let path = dir.join("retry.json");
    fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    path
}

/// The sample's own count: `(calls, failed, errno)`.
fn counted(stderr: &str) -> (u64, u64, i64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("calls="))
        .unwrap_or_else(|| panic!("the sample said no count: {stderr}"));
    let field = |key: &str| -> i64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    (
        field("calls=") as u64,
        field("failed=") as u64,
        field("errno="),
    )
}

/// Runs `syscall-profile ARGS` with standard error a pipe, read line by
/// line as it comes, until a line holds `needle` and the sample has said
/// its count (10 s at most; it says it right after its call, before its
/// sleep, but may be slower than the tool's line about that call): whether
/// `needle` came, whether the tool still ran then, and every line. The
/// tool is then sent SIGTERM (passed on to the command).
fn said_while_running(args: &[&std::ffi::OsStr], needle: &str) -> (bool, bool, String) {
    let mut child = Command::new(profiler())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let (mut live, mut count) = (false, false);
    while !(live && count) {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                live |= line.contains(needle);
                count |= line.starts_with("calls=");
                seen.push(line);
            }
            Err(_) => break,
        }
    }
    let still_running = child.try_wait().unwrap().is_none();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let ended = wait_for(Duration::from_secs(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    reader.join().unwrap();
    seen.extend(received.try_iter());
    let all = seen.join("\n");
    assert!(ended, "{args:?}: SIGTERM did not end the run: {all}");
    (live, still_running, all)
}

/// Under each watch, standard error a pipe: the refusal is said while the
/// program still sleeps after it (30 s; the line must come within 10),
/// before the final report.
#[test]
fn a_refusal_is_said_while_the_program_runs_through_a_pipe() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = retry_profile(dir.path());
    let retry = sample("retry-refused");
    for watch in ["listener", "kernel"] {
        let args = [
            "enforce".as_ref(),
            "--watch".as_ref(),
            watch.as_ref(),
            "--profile".as_ref(),
            profile.as_os_str(),
            "--".as_ref(),
            retry.as_os_str(),
            "0".as_ref(),
            "30".as_ref(),
        ];
        let (live, still_running, all) = said_while_running(&args, "denied: sysinfo");
        assert!(
            live,
            "--watch {watch}: no live line within 10 s while the program sleeps 30 s \
             (standard error a pipe): {all}"
        );
        assert!(still_running, "--watch {watch}: {all}");
        let at = all.find("denied: sysinfo").unwrap();
        assert!(
            all[at..].contains("(pid "),
            "--watch {watch}: the line names the process: {all}"
        );
        assert!(
            !all[..at].contains("syscall(s):"),
            "--watch {watch}: the final report came first: {all}"
        );
        assert_eq!(counted(&all), (1, 1, MARK), "--watch {watch}: {all}");
    }
}

/// `enforce --complain` and `check -- CMD` block nothing, and say what the
/// profile would refuse as the run makes it, through a pipe too.
#[test]
fn complain_and_check_say_what_the_profile_refuses_while_the_program_runs() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = retry_profile(dir.path());
    let retry = sample("retry-refused");
    let runs: [(&str, Vec<&std::ffi::OsStr>, &str); 2] = [
        (
            "enforce --complain",
            vec![
                "enforce".as_ref(),
                "--complain".as_ref(),
                "--profile".as_ref(),
            ],
            "would be denied: sysinfo",
        ),
        (
            "check",
            vec!["check".as_ref(), "--policy".as_ref()],
            "outside the policy: sysinfo",
        ),
    ];
    for (what, mut args, needle) in runs {
        args.extend([
            profile.as_os_str(),
            "--".as_ref(),
            retry.as_os_str(),
            "0".as_ref(),
            "30".as_ref(),
        ]);
        let (live, still_running, all) = said_while_running(&args, needle);
        assert!(
            live,
            "{what}: no {needle:?} within 10 s while the program sleeps 30 s: {all}"
        );
        assert!(still_running, "{what}: {all}");
        // Nothing was refused: the call ran.
        assert_eq!(counted(&all), (1, 0, 0), "{what}: {all}");
    }
}

/// A program retrying a refused call for 5 s gets one retry-loop line
/// (the next would be a minute later), with a count and a rate; the final
/// report counts exactly the calls the program saw fail; `--json -` stays
/// one JSON document on standard output, and holds the loop too.
#[test]
fn a_retry_loop_is_said_once_and_every_refusal_counted() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = retry_profile(dir.path());
    for watch in ["listener", "kernel"] {
        let output = run([
            "enforce".as_ref(),
            "--watch".as_ref(),
            watch.as_ref(),
            "--json".as_ref(),
            "-".as_ref(),
            "--profile".as_ref(),
            profile.as_os_str(),
            "--".as_ref(),
            sample("retry-refused").as_os_str(),
            "5".as_ref(),
        ]);
        let err = stderr(&output);
        assert!(output.status.success(), "--watch {watch}: {err}");
        let (calls, failed, errno) = counted(&err);
        assert_eq!((failed, errno), (calls, MARK), "--watch {watch}: {err}");
        let said: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("retries it in a loop"))
            .collect();
        assert_eq!(said.len(), 1, "--watch {watch}: {err}");
        let line = said[0];
        assert!(
            line.starts_with("syscall-profile: warning: sysinfo refused "),
            "--watch {watch}: {line}"
        );
        // `refused N times in S s (R/s)`: N no more than the program made.
        let times: u64 = line
            .split("refused ")
            .nth(1)
            .and_then(|rest| rest.split(" times").next())
            .map(|n| n.replace(',', ""))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {line:?}"));
        assert!(times > 0 && times <= failed, "--watch {watch}: {line}");
        assert!(line.contains("/s)"), "--watch {watch}: {line}");

        let report: Value = serde_json::from_str(&stdout(&output))
            .unwrap_or_else(|e| panic!("--watch {watch}: stdout is not one JSON document: {e}"));
        let denials = report["denials"].as_array().unwrap();
        let sysinfo: Vec<&Value> = denials.iter().filter(|d| d["name"] == "sysinfo").collect();
        assert_eq!(sysinfo.len(), 1, "--watch {watch}: {denials:?}");
        assert_eq!(sysinfo[0]["count"], json!(failed), "--watch {watch}");
        let loops = report["retry_loops"].as_array().unwrap();
        assert_eq!(loops.len(), 1, "--watch {watch}: {loops:?}");
        assert_eq!(loops[0]["name"], "sysinfo");
        assert_eq!(loops[0]["count"], json!(times));
        assert!(
            err.contains("warning: sysinfo was refused in a retry loop"),
            "--watch {watch}: the final report names the loop: {err}"
        );
    }
}
