//! `enforce` on native programs: the filter's semantics, checked by the
//! kernel's verdicts (each run is a child process of its own, and each
//! denial uses an errno the syscall could never return by itself, so an
//! errno proves the filter acted); failing closed; and the denial report.

use std::{fs, path::Path, process::Output, time::Duration};

use crate::common::*;
use serde_json::{Value, json};

/// The allow-list `call getppid` needs, learned by recording it.
fn call_allow_list(dir: &Path) -> Vec<String> {
    let path = dir.join("base.json");
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        sample("call").as_os_str(),
        "getppid".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    allowed_names(&fs::read_to_string(&path).unwrap())
        .into_iter()
        .collect()
}

/// A profile: `default` for anything else, the allow-list, then `rules`.
fn profile(dir: &Path, name: &str, default: Value, rules: Value) -> std::path::PathBuf {
    let mut syscalls = vec![json!({"names": call_allow_list(dir), "action": "SCMP_ACT_ALLOW"})];
    syscalls.extend(rules.as_array().cloned().unwrap_or_default());
    let mut document = json!({
        "defaultAction": default,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": syscalls,
    });
    if document["defaultAction"] == "SCMP_ACT_ERRNO" {
        document["defaultErrnoRet"] = json!(MARK);
    }
    let path = dir.join(name);
    fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    path
}

/// `enforce --profile PROFILE -- call CALLS...`
fn enforce_call(profile: &Path, calls: &[&str]) -> Output {
    let mut args = vec![
        "enforce".into(),
        "--profile".into(),
        profile.as_os_str().to_owned(),
        "--".into(),
        sample("call").into_os_string(),
    ];
    args.extend(calls.iter().map(std::ffi::OsString::from));
    run(args)
}

fn results(output: &Output) -> Vec<String> {
    stdout(output)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn denied(result: &str) -> bool {
    result.ends_with(&format!("=errno:{MARK}"))
}

#[test]
fn default_action_errno_kill_and_log() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let errno = profile(dir.path(), "errno.json", json!("SCMP_ACT_ERRNO"), json!([]));
    let output = enforce_call(&errno, &["getppid", "sysinfo"]);
    assert_eq!(
        results(&output),
        ["getppid=ok", &format!("sysinfo=errno:{MARK}")]
    );

    let kill = profile(
        dir.path(),
        "kill.json",
        json!("SCMP_ACT_KILL_PROCESS"),
        json!([]),
    );
    let output = enforce_call(&kill, &["getppid", "sysinfo"]);
    assert_eq!(
        output.status.code(),
        Some(128 + libc::SIGSYS),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty(), "killed before printing");

    let log = profile(dir.path(), "log.json", json!("SCMP_ACT_LOG"), json!([]));
    let output = enforce_call(&log, &["getppid", "sysinfo"]);
    assert_eq!(results(&output), ["getppid=ok", "sysinfo=ok"]);
}

/// A rule's own errno; clone3 answered with ENOSYS makes glibc fall back to
/// clone (moby/moby#42680), where EPERM would make thread creation fail.
#[test]
fn per_rule_errno_ret() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let enosys = libc::ENOSYS as i64;
    let path = profile(
        dir.path(),
        "errno-ret.json",
        json!("SCMP_ACT_ERRNO"),
        json!([{"names": ["sysinfo"], "action": "SCMP_ACT_ERRNO", "errnoRet": enosys}]),
    );
    let output = enforce_call(&path, &["getppid", "sysinfo", "getcpu"]);
    assert_eq!(
        results(&output),
        [
            "getppid=ok",
            &format!("sysinfo=errno:{enosys}"),
            &format!("getcpu=errno:{MARK}")
        ]
    );

    // threads under a filter that allows everything but clone3: answered
    // with ENOSYS, glibc starts its threads with clone instead and the
    // program succeeds; answered with EPERM, thread creation fails.
    for (errno, succeeds) in [(enosys, true), (1, false)] {
        let doc = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno}],
        });
        let path = dir.path().join(format!("clone3-{errno}.json"));
        fs::write(&path, doc.to_string()).unwrap();
        let output = run([
            "enforce".as_ref(),
            "--profile".as_ref(),
            path.as_os_str(),
            "--".as_ref(),
            sample("threads").as_os_str(),
            "2".as_ref(),
        ]);
        assert_eq!(
            output.status.success(),
            succeeds,
            "threads with clone3 answered errno {errno}: {}",
            stderr(&output)
        );
        let err = stderr(&output);
        let said = if succeeds {
            // The fallback the profile meant: said, and no denial.
            err.contains("answered as the profile says: clone3 → ENOSYS 2×")
                && err.contains("no syscall was denied")
        } else {
            // The report's line for clone3 names this errno, as a number
            // of its own (errno 1 is not errno 13).
            err.lines()
                .filter(|l| l.trim_start().starts_with("clone3 "))
                .any(|l| errnos_in(l).contains(&errno))
        };
        assert!(said, "{err}");
    }
}

/// The numbers that follow "errno " in `line`, whole.
fn errnos_in(line: &str) -> Vec<i64> {
    line.split("errno ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Each comparison operator: one value that satisfies it and one that does
/// not, with getpgid's first argument (getpgid never returns EBADFD).
#[test]
fn argument_conditions_with_each_operator() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("SCMP_CMP_NE", 5, 0, "getpgid:4", "getpgid:5"),
        ("SCMP_CMP_LT", 5, 0, "getpgid:4", "getpgid:5"),
        ("SCMP_CMP_LE", 5, 0, "getpgid:5", "getpgid:6"),
        ("SCMP_CMP_EQ", 5, 0, "getpgid:5", "getpgid:4"),
        ("SCMP_CMP_GE", 5, 0, "getpgid:5", "getpgid:4"),
        ("SCMP_CMP_GT", 5, 0, "getpgid:6", "getpgid:5"),
        // Docker's form: value is the mask, valueTwo what the masked bits equal.
        (
            "SCMP_CMP_MASKED_EQ",
            0xf0,
            0x20,
            "getpgid:0x25",
            "getpgid:0x35",
        ),
    ];
    for (op, value, value_two, allowed, refused) in cases {
        let path = profile(
            dir.path(),
            &format!("{op}.json"),
            json!("SCMP_ACT_ERRNO"),
            json!([{"names": ["getpgid"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": value, "valueTwo": value_two, "op": op}]}]),
        );
        let output = enforce_call(&path, &[allowed, refused]);
        let got = results(&output);
        assert_eq!(got.len(), 2, "{op}: {}", stderr(&output));
        assert!(!denied(&got[0]), "{op}: {allowed} must be allowed: {got:?}");
        assert!(denied(&got[1]), "{op}: {refused} must be denied: {got:?}");
    }
}

/// Conditions on different arguments in one rule must all hold; separate
/// rules are alternatives; two conditions on the same argument in one rule
/// are split into alternatives, as runc does (libseccomp cannot compare one
/// argument twice in a rule).
#[test]
fn and_within_a_rule_or_across_rules() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let and = profile(
        dir.path(),
        "and.json",
        json!("SCMP_ACT_ERRNO"),
        json!([{"names": ["getpriority"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]),
    );
    let got = results(&enforce_call(
        &and,
        &["getpriority:0,0", "getpriority:0,1", "getpriority:1,0"],
    ));
    assert_eq!(
        got.iter().map(|r| denied(r)).collect::<Vec<_>>(),
        [false, true, true],
        "{got:?}"
    );

    let or = profile(
        dir.path(),
        "or.json",
        json!("SCMP_ACT_ERRNO"),
        json!([
            {"names": ["getpriority"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getpriority"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]}]),
    );
    let got = results(&enforce_call(
        &or,
        &["getpriority:0,3", "getpriority:1,7", "getpriority:1,3"],
    ));
    assert_eq!(
        got.iter().map(|r| denied(r)).collect::<Vec<_>>(),
        [false, false, true],
        "{got:?}"
    );

    let same_arg = profile(
        dir.path(),
        "same-arg.json",
        json!("SCMP_ACT_ERRNO"),
        json!([{"names": ["getpgid"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]),
    );
    let got = results(&enforce_call(
        &same_arg,
        &["getpgid:1", "getpgid:2", "getpgid:3"],
    ));
    assert_eq!(
        got.iter().map(|r| denied(r)).collect::<Vec<_>>(),
        [false, false, true],
        "{got:?}"
    );
}

/// Whatever stops the filter from being built or installed, the command
/// never starts, and the exit status says which (README: 125 when the
/// profile cannot be read or compiled, 126 when the kernel refused the
/// filter; 2, a usage error, for a watch the profile cannot have).
#[test]
fn fails_closed() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let touch = ["touch", &marker.to_string_lossy()];
    let cases = [
        (
            "malformed.json",
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": ["#.to_owned(),
            "not valid JSON",
            "auto",
            125,
        ),
        (
            "unknown-action.json",
            r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#.to_owned(),
            "SCMP_ACT_MAYBE",
            "auto",
            125,
        ),
        (
            // The kernel refuses this flag without a notification listener.
            "kernel-refuses.json",
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#.to_owned(),
            "Invalid argument",
            "kernel",
            126,
        ),
        (
            // A listener asked for where it cannot serve.
            "no-listener.json",
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ALLOW"}]}"#.to_owned(),
            "cannot watch denials with a seccomp listener: the profile uses SCMP_ACT_KILL_PROCESS",
            "listener",
            2,
        ),
    ];
    for (name, text, message, watch, code) in cases {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        let mut args = vec![
            "enforce".to_owned(),
            "--watch".to_owned(),
            watch.to_owned(),
            "--profile".to_owned(),
            path.to_string_lossy().into_owned(),
            "--".to_owned(),
        ];
        args.extend(touch.iter().map(|s| (*s).to_owned()));
        let output = run(&args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{name}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{name}: expected {message:?} in {}",
            stderr(&output)
        );
        assert!(!marker.exists(), "{name}: the command ran");
    }
}

/// One syscall outside the profile: reported with its name, count and the
/// process; syscalls that fail on their own are not.
#[test]
fn denials_are_explained_and_own_failures_are_not() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = profile(dir.path(), "p.json", json!("SCMP_ACT_ERRNO"), json!([]));
    let output = enforce_call(&path, &["getppid", "sysinfo", "sysinfo"]);
    let err = stderr(&output);
    assert!(err.contains("denied 1 syscall(s)"), "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("sysinfo"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("2×"), "count: {line}");
    assert!(line.contains(&format!("errno {MARK}")), "{line}");
    assert!(line.contains("(call)"), "comm: {line}");

    // cat of a missing file (ENOENT) and a close of a bad descriptor
    // (EBADF), under the profile recorded from the same run: no denial.
    let script = "cat /nonexistent-4711 2>/dev/null; exec 9<&-; exit 3";
    let recorded = dir.path().join("sh.json");
    let output = run([
        "record",
        "-q",
        "-o",
        &recorded.to_string_lossy(),
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(output.status.code(), Some(3));
    let output = run([
        "enforce",
        "--profile",
        &recorded.to_string_lossy(),
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("no syscall was denied"), "{err}");
    assert!(err.contains("the failure is its own"), "{err}");
}

/// `--complain`: nothing is blocked; exactly the extra syscalls are
/// reported, and the suggested profile, merged in, then enforces cleanly.
#[test]
fn complain_reports_exactly_the_extra_syscalls() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let policy = profile(
        dir.path(),
        "policy.json",
        json!("SCMP_ACT_ERRNO"),
        json!([]),
    );
    let suggestion = dir.path().join("suggestion.json");
    let calls = ["getppid", "sysinfo", "getcpu", "uname"];
    let mut args = vec![
        "enforce".to_owned(),
        "--complain".to_owned(),
        "--suggest".to_owned(),
        suggestion.to_string_lossy().into_owned(),
        "--profile".to_owned(),
        policy.to_string_lossy().into_owned(),
        "--".to_owned(),
        sample("call").to_string_lossy().into_owned(),
    ];
    args.extend(calls.iter().map(|s| (*s).to_owned()));
    let output = run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        results(&output),
        ["getppid=ok", "sysinfo=ok", "getcpu=ok", "uname=ok"],
        "nothing blocked"
    );
    let err = stderr(&output);
    assert!(err.contains("would have denied 3 syscall(s)"), "{err}");
    for extra in ["sysinfo", "getcpu", "uname"] {
        assert!(
            err.lines().any(|l| l.trim_start().starts_with(extra)),
            "{extra}: {err}"
        );
    }
    let suggested = allowed_names(&fs::read_to_string(&suggestion).unwrap());
    assert_eq!(
        suggested.into_iter().collect::<Vec<_>>(),
        ["getcpu", "sysinfo", "uname"]
    );
    let merge_line = err
        .lines()
        .find(|l| l.contains("syscall-profile merge"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        merge_line.contains(&*suggestion.to_string_lossy()),
        "{merge_line}"
    );

    let merged = dir.path().join("merged.json");
    let output = run([
        "merge",
        &policy.to_string_lossy(),
        &suggestion.to_string_lossy(),
        "-o",
        &merged.to_string_lossy(),
    ]);
    assert!(output.status.success(), "merge: {}", stderr(&output));
    let output = enforce_call(&merged, &calls);
    assert_eq!(
        results(&output),
        ["getppid=ok", "sysinfo=ok", "getcpu=ok", "uname=ok"]
    );
    assert!(
        stderr(&output).contains("no syscall was denied"),
        "{}",
        stderr(&output)
    );
}

/// On a terminal, each denial shows the moment it is seen, while the
/// program still runs: after its denied call the program waits for a line
/// on a FIFO, which the test writes only once the live line is there; the
/// final report comes after that.
#[test]
fn denials_show_live_on_a_terminal() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = profile(dir.path(), "p.json", json!("SCMP_ACT_ERRNO"), json!([]));
    let go = dir.path().join("go");
    mkfifo(&go);
    let script = format!(
        "{} enforce --profile {} -- sh -c '{} getppid sysinfo; read line < {}'; sleep 60",
        profiler().display(),
        path.display(),
        sample("call").display(),
        go.display()
    );
    // sh (forking for the sample) and its redirected read must be allowed
    // too: learn them with the tool itself, reading a regular file.
    let line = dir.path().join("line");
    fs::write(&line, "go\n").unwrap();
    let sh = dir.path().join("sh.json");
    let output = run([
        "record",
        "-q",
        "-o",
        &sh.to_string_lossy(),
        "--",
        "sh",
        "-c",
        &format!("true; sleep 0.1; read line < {}", line.display()),
    ]);
    assert!(output.status.success());
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let mut names: Vec<String> =
        serde_json::from_value(doc["syscalls"][0]["names"].clone()).unwrap();
    names.extend(allowed_names(&fs::read_to_string(&sh).unwrap()));
    names.sort();
    names.dedup();
    doc["syscalls"][0]["names"] = json!(names);
    fs::write(&path, doc.to_string()).unwrap();

    let tmux = Tmux::start(&format!("sp-live-{}", std::process::id()), &script);
    assert!(
        wait_for(Duration::from_secs(60), || tmux
            .pane()
            .contains("denied: sysinfo")),
        "no live line while the program waits: {}",
        tmux.pane()
    );
    assert!(
        !tmux.pane().contains("denied 1 syscall(s)"),
        "the final report came already: {}",
        tmux.pane()
    );
    // Read and write, so that opening it does not wait for the reader; kept
    // open until the program has read its line.
    let mut fifo = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&go)
        .unwrap();
    std::io::Write::write_all(&mut fifo, b"go\n").unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || tmux
            .pane()
            .contains("denied 1 syscall(s)")),
        "no final report once the program ended: {}",
        tmux.pane()
    );
    drop(fifo);
}

// x86_64 numbers and the values probed.
const IOCTL: u32 = 16;
const SOCKET: u32 = 41;
const PRCTL: u32 = 157;
const FIONREAD: u64 = 0x541b;
const TIOCSTI: u64 = 0x5412;
const AF_INET: u64 = 2;
const AF_NETLINK: u64 = 16;
const AF_VSOCK: u64 = 40;
const PR_SET_NAME: u64 = 15;
const PR_CAPBSET_DROP: u64 = 24;

/// ioctl allowed only with FIONREAD, socket only for AF_INET, prctl only
/// for PR_SET_NAME.
fn argument_rules() -> Value {
    json!([
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 1, "value": FIONREAD, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": AF_INET, "op": "SCMP_CMP_EQ"}]},
        {"names": ["prctl"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": PR_SET_NAME, "op": "SCMP_CMP_EQ"}]},
    ])
}

/// A refused argument value is named in the report: the kernel refuses
/// ioctl(TIOCSTI), socket(AF_VSOCK) and prctl(PR_CAPBSET_DROP) with the
/// profile's errno, and the report names exactly those values, with what
/// the profile allows instead; the allowed siblings (FIONREAD, AF_INET,
/// PR_SET_NAME) ran and are not reported.
#[test]
fn denied_argument_values_are_named() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = verdicts_profile(dir.path(), "args.json", argument_rules());
    let fionread = format!("{IOCTL}:0,{FIONREAD:#x}");
    let tiocsti = format!("{IOCTL}:0,{TIOCSTI:#x}");
    let inet = format!("{SOCKET}:{AF_INET},1,0");
    let vsock = format!("{SOCKET}:{AF_VSOCK},1,0");
    let set_name = format!("{PRCTL}:{PR_SET_NAME},0");
    let capbset_drop = format!("{PRCTL}:{PR_CAPBSET_DROP},0");
    // The same refusal through the 32-bit entry point (ioctl is 54 in the
    // i386 table), with every argument register set.
    let tiocsti_i386 = format!("i386:54:7,{TIOCSTI:#x},0,0,0,0x1234");
    let probes = [
        &fionread,
        &tiocsti,
        &tiocsti,
        &inet,
        &vsock,
        &set_name,
        &capbset_drop,
        &tiocsti_i386,
    ]
    .map(String::as_str);
    let report = dir.path().join("report.json");
    let (verdicts, output) =
        enforce_verdicts(&path, &["--json", &report.to_string_lossy()], &probes);
    let err = stderr(&output);
    assert_eq!(verdicts.len(), probes.len(), "{err}");
    // The kernel's verdicts: refused exactly where the profile says.
    for (probe, verdict) in &verdicts {
        let refused = [&tiocsti, &vsock, &capbset_drop, &tiocsti_i386].contains(&probe);
        assert_eq!(
            verdict == &format!("errno {MARK}"),
            refused,
            "{probe}: {verdict}\n{err}"
        );
    }
    assert!(err.contains("denied 4 syscall(s)"), "{err}");
    assert!(
        err.contains("2× with request TIOCSTI (0x5412)"),
        "the refused request, counted: {err}"
    );
    assert!(
        err.contains("the profile allows ioctl only with request FIONREAD"),
        "{err}"
    );
    assert!(
        err.contains("1× with family AF_VSOCK (40), type SOCK_STREAM (1), default protocol"),
        "{err}"
    );
    assert!(
        err.contains("the profile allows socket only with family AF_INET"),
        "{err}"
    );
    assert!(err.contains("1× with option PR_CAPBSET_DROP (24)"), "{err}");
    // The allowed siblings ran: they are no denials.
    let denied_values: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("    ") && l.contains("× with "))
        .collect();
    assert_eq!(denied_values.len(), 4, "{err}");
    for sibling in ["FIONREAD", "AF_INET", "PR_SET_NAME"] {
        assert!(
            denied_values.iter().all(|l| !l.contains(sibling)),
            "{sibling} reported as denied: {err}"
        );
    }
    assert!(err.contains("ioctl (i386)"), "{err}");

    // The JSON report: the same values, and the first denied call's
    // arguments as the caller passed them, in either table.
    let json: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["schema"], "syscall-profile/enforce/v1");
    let denial = |name: &str, arch: &str| {
        json["denials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name && d["arch"] == arch)
            .unwrap_or_else(|| panic!("{name} ({arch}) in {json}"))
            .clone()
    };
    let ioctl = denial("ioctl", "x86_64");
    assert_eq!(ioctl["count"], 2);
    assert_eq!(ioctl["first_args"], json!([0, TIOCSTI, 0, 0, 0, 0]));
    assert_eq!(
        ioctl["values"],
        json!([{"args": [{"index": 1, "name": "request", "value": TIOCSTI, "symbol": "TIOCSTI"}], "count": 2}])
    );
    assert_eq!(ioctl["allowed_with"], json!(["request FIONREAD"]));
    let compat = denial("ioctl", "i386");
    assert_eq!(compat["first_args"], json!([7, TIOCSTI, 0, 0, 0, 0x1234]));
    assert_eq!(compat["values"][0]["args"][0]["symbol"], "TIOCSTI");
    let socket = denial("socket", "x86_64");
    assert_eq!(
        socket["values"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["value"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [AF_VSOCK, 1, 0]
    );
    assert_eq!(
        denial("prctl", "x86_64")["values"][0]["args"][0]["symbol"],
        "PR_CAPBSET_DROP"
    );
}

/// A filter that kills for a refused value: the value is named all the
/// same (the registers still hold it when the killed call passes
/// `sys_exit`).
#[test]
fn killed_calls_name_their_values() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = verdicts_profile(dir.path(), "kill.json", argument_rules());
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["defaultAction"] = json!("SCMP_ACT_KILL_PROCESS");
    doc.as_object_mut().unwrap().remove("defaultErrnoRet");
    fs::write(&path, doc.to_string()).unwrap();
    let tiocsti = format!("{IOCTL}:0,{TIOCSTI:#x}");
    let fionread = format!("{IOCTL}:0,{FIONREAD:#x}");
    let (verdicts, output) = enforce_verdicts(&path, &[], &[&fionread, &tiocsti]);
    let err = stderr(&output);
    assert_eq!(
        verdicts,
        [
            (fionread.clone(), format!("errno {}", libc::EFAULT)),
            (tiocsti.clone(), format!("signal {}", libc::SIGSYS))
        ],
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("ioctl"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("killed the process"), "{line}");
    assert!(err.contains("1× with request TIOCSTI (0x5412)"), "{err}");
    assert!(!err.contains("with request FIONREAD ("), "{err}");
}

/// `--suggest` on an enforced run proposes the refused values as argument
/// rules, not the whole syscalls: with them added, exactly those values
/// pass, and a value never refused (AF_NETLINK) is still refused.
#[test]
fn suggestion_allows_the_refused_values_only() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = verdicts_profile(dir.path(), "args.json", argument_rules());
    let suggestion = dir.path().join("suggestion.json");
    let tiocsti = format!("{IOCTL}:0,{TIOCSTI:#x}");
    let vsock = format!("{SOCKET}:{AF_VSOCK},1,0");
    let netlink = format!("{SOCKET}:{AF_NETLINK},3,0");
    let (_, output) = enforce_verdicts(
        &path,
        &["--suggest", &suggestion.to_string_lossy()],
        &[&tiocsti, &vsock],
    );
    let text =
        fs::read_to_string(&suggestion).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let rules = doc["syscalls"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .all(|r| !r["args"].as_array().is_none_or(Vec::is_empty)),
        "every suggested rule has conditions: {text}"
    );
    assert!(
        rules.iter().any(|r| r["names"] == json!(["ioctl"])
            && r["args"] == json!([{"index": 1, "value": TIOCSTI, "op": "SCMP_CMP_EQ"}])
            && r["comment"] == "ioctl: TIOCSTI"),
        "{text}"
    );

    let mut extended = argument_rules().as_array().unwrap().clone();
    extended.extend(rules.iter().cloned());
    let path = verdicts_profile(dir.path(), "extended.json", Value::Array(extended));
    let (verdicts, output) = enforce_verdicts(&path, &[], &[&tiocsti, &vsock, &netlink]);
    let got: Vec<bool> = verdicts
        .iter()
        .map(|(_, v)| v == &format!("errno {MARK}"))
        .collect();
    assert_eq!(
        got,
        [false, false, true],
        "{verdicts:?}\n{}",
        stderr(&output)
    );
}

/// `--complain` judges the argument values the run passed against the
/// profile's conditions: nothing is blocked, exactly the values the
/// profile would refuse are reported (not their allowed siblings), and the
/// suggestion allows exactly them, which the kernel then confirms.
#[test]
fn complain_judges_argument_values() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = verdicts_profile(dir.path(), "args.json", argument_rules());
    let suggestion = dir.path().join("suggestion.json");
    let fionread = format!("{IOCTL}:0,{FIONREAD:#x}");
    let tiocsti = format!("{IOCTL}:0,{TIOCSTI:#x}");
    let inet = format!("{SOCKET}:{AF_INET},1,0");
    let vsock = format!("{SOCKET}:{AF_VSOCK},1,0");
    let set_name = format!("{PRCTL}:{PR_SET_NAME},0");
    let probes = [&fionread, &tiocsti, &tiocsti, &inet, &vsock, &set_name].map(String::as_str);
    let (verdicts, output) = enforce_verdicts(
        &path,
        &["--complain", "--suggest", &suggestion.to_string_lossy()],
        &probes,
    );
    let err = stderr(&output);
    assert_eq!(verdicts.len(), probes.len(), "{err}");
    assert!(
        verdicts.iter().all(|(_, v)| v != &format!("errno {MARK}")),
        "nothing blocked: {verdicts:?}"
    );
    assert!(err.contains("would have denied 2 syscall(s)"), "{err}");
    assert!(err.contains("2× with request TIOCSTI (0x5412)"), "{err}");
    assert!(err.contains("with family AF_VSOCK (40)"), "{err}");
    assert!(
        err.contains("the profile allows ioctl only with request FIONREAD"),
        "{err}"
    );
    // The allowed siblings are not reported as denied (the line naming
    // what the profile allows does name AF_INET: `only with family AF_INET`).
    for sibling in [
        "with request FIONREAD (",
        "with family AF_INET (",
        "PR_SET_NAME (",
    ] {
        assert!(!err.contains(sibling), "{sibling}: {err}");
    }

    let text = fs::read_to_string(&suggestion).unwrap_or_else(|e| panic!("{e}: {err}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let rules = doc["syscalls"].as_array().unwrap().clone();
    assert!(
        rules
            .iter()
            .all(|r| !r["args"].as_array().is_none_or(Vec::is_empty)),
        "argument rules only: {text}"
    );
    let mut extended = argument_rules().as_array().unwrap().clone();
    extended.extend(rules);
    let path = verdicts_profile(dir.path(), "extended.json", Value::Array(extended));
    let (verdicts, output) = enforce_verdicts(&path, &[], &probes);
    assert!(
        verdicts.iter().all(|(_, v)| v != &format!("errno {MARK}")),
        "{verdicts:?}: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("no syscall was denied"),
        "{}",
        stderr(&output)
    );
}

/// A syscall outside the table of privilege-bearing arguments that the
/// profile allows only under conditions: the report shows the arguments
/// of the first denied call in hex, and the profile's condition.
#[test]
fn raw_arguments_where_the_profile_has_conditions() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = profile(
        dir.path(),
        "getpgid.json",
        json!("SCMP_ACT_ERRNO"),
        json!([{"names": ["getpgid"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}]),
    );
    let output = enforce_call(&path, &["getpgid:5", "getpgid:0x1234", "sysinfo"]);
    let got = results(&output);
    let err = stderr(&output);
    assert_eq!(
        got.iter().map(|r| denied(r)).collect::<Vec<_>>(),
        [false, true, true],
        "{got:?}: {err}"
    );
    assert!(
        err.contains("first denied call: getpgid(0x1234, "),
        "the refused argument: {err}"
    );
    assert!(
        err.contains("the profile allows getpgid only with arg0 == 5"),
        "{err}"
    );
    // sysinfo is refused whatever its arguments: nothing more to say.
    assert!(!err.contains("sysinfo("), "{err}");
}

/// A filter that kills a worker thread (not the process) for a refused
/// value: the kill is found where the thread dies, and the value is named
/// from the registers it died with.
#[test]
fn a_thread_killed_for_a_value_names_it() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kill-thread.json");
    let doc = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_KILL_THREAD",
                      "args": [{"index": 1, "value": TIOCSTI, "op": "SCMP_CMP_EQ"}]}],
    });
    fs::write(&path, doc.to_string()).unwrap();
    let call = format!("{IOCTL}:0,{TIOCSTI:#x}");
    let output = run([
        "enforce".as_ref(),
        "--profile".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        sample("kill-worker").as_os_str(),
        "1".as_ref(),
        call.as_ref(),
    ]);
    let err = stderr(&output);
    assert_eq!(stdout(&output).trim(), "worker=killed", "{err}");
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("ioctl"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("killed the thread"), "{line}");
    assert!(err.contains("1× with request TIOCSTI (0x5412)"), "{err}");
    assert!(
        err.contains("the profile refuses ioctl with request TIOCSTI"),
        "{err}"
    );
}

/// More distinct refused values than the kernel keeps (1024, all syscalls
/// together): the calls past that are counted as of unknown value, never
/// dropped, and the suggestion falls back to the whole syscall.
#[test]
fn refused_values_past_the_kernel_map_are_counted() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = verdicts_profile(dir.path(), "args.json", argument_rules());
    const DISTINCT: u64 = 1100;
    let probes: Vec<String> = (0..DISTINCT)
        .map(|i| format!("{IOCTL}:0,{:#x}", 0x7700_0000 + i))
        .collect();
    let probes: Vec<&str> = probes.iter().map(String::as_str).collect();
    let report = dir.path().join("report.json");
    let suggestion = dir.path().join("suggestion.json");
    let (verdicts, output) = enforce_verdicts(
        &path,
        &[
            "--json",
            &report.to_string_lossy(),
            "--suggest",
            &suggestion.to_string_lossy(),
        ],
        &probes,
    );
    let err = stderr(&output);
    assert_eq!(verdicts.len() as u64, DISTINCT, "{err}");
    assert!(verdicts.iter().all(|(_, v)| v == &format!("errno {MARK}")));
    let json: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let ioctl = &json["denials"][0];
    assert_eq!(ioctl["name"], "ioctl", "{json}");
    assert_eq!(ioctl["count"], DISTINCT);
    let kept = ioctl["values"].as_array().unwrap();
    let kept_calls: u64 = kept.iter().map(|v| v["count"].as_u64().unwrap()).sum();
    assert_eq!(kept.len(), 1024, "the map's size");
    assert_eq!(
        kept_calls + ioctl["values_lost"].as_u64().unwrap(),
        DISTINCT
    );
    assert!(
        err.contains(&format!("{}× with values not known", DISTINCT - 1024)),
        "{}",
        err.lines().rev().take(8).collect::<Vec<_>>().join("\n")
    );
    assert!(
        err.contains("× with 1008 other value(s)"),
        "the text lists 16 values: {}",
        err.lines().rev().take(8).collect::<Vec<_>>().join("\n")
    );
    let suggested = allowed_names(&fs::read_to_string(&suggestion).unwrap());
    assert!(
        suggested.contains("ioctl"),
        "the whole syscall: {suggested:?}"
    );
}

/// clone3 answered ENOSYS (Docker's default): the threads start through
/// clone; the report reads clone3's flags from the caller's memory (a
/// thread's: CLONE_THREAD, no namespace) and says the refusal is
/// deliberate, and nothing is suggested for it.
#[test]
fn clone3_answered_enosys_is_named_and_not_suggested() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clone3.json");
    let doc = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}],
    });
    fs::write(&path, doc.to_string()).unwrap();
    let report = dir.path().join("report.json");
    let suggestion = dir.path().join("suggestion.json");
    let output = run([
        "enforce".as_ref(),
        "--json".as_ref(),
        report.as_os_str(),
        "--suggest".as_ref(),
        suggestion.as_os_str(),
        "--profile".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        sample("threads").as_os_str(),
        "2".as_ref(),
    ]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("answered as the profile says: clone3 → ENOSYS"),
        "{err}"
    );
    // The profile working as meant is no denial.
    assert!(err.contains("no syscall was denied"), "{err}");
    assert!(!suggestion.exists(), "nothing to suggest: {err}");
    let json: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let clone3 = &json["denials"][0];
    assert_eq!(clone3["name"], "clone3");
    assert_eq!(clone3["falls_back_to"], "clone");
    assert_eq!(json["allow_rules"], json!([]));
    let flags = clone3["values"][0]["args"][0]["value"].as_u64().unwrap();
    assert_ne!(flags & libc::CLONE_THREAD as u64, 0, "{flags:#x}");
    assert_eq!(flags & 0x7E02_0080, 0, "no namespace flag: {flags:#x}");
}

/// The denial summary of a program that starts threads and forks, under
/// the profile `record` learned of it (default arguments: clone3 answered
/// ENOSYS, so that glibc falls back to clone): the number it says is the
/// length of the list under it, and clone3, answered as the profile says,
/// is neither counted nor listed as denied but named apart.
#[test]
fn the_denial_count_is_the_list_and_clone3_is_no_denial() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forks.json");
    let script = |calls: &str| {
        format!(
            "{} 2 && {} getppid{calls}",
            sample("threads").display(),
            sample("call").display()
        )
    };
    let learned = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        script("").as_ref() as &std::ffi::OsStr,
    ]);
    assert!(learned.status.success(), "{}", stderr(&learned));
    let profile: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rule| rule["names"] == json!(["clone3"]) && rule["errnoRet"] == libc::ENOSYS),
        "the learned profile answers clone3 with ENOSYS: {profile}"
    );
    let output = run([
        "enforce".as_ref(),
        "--profile".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        script(" sysinfo getcpu").as_ref() as &std::ffi::OsStr,
    ]);
    let err = stderr(&output);
    // The threads started (through clone), and the two unlearned calls
    // were refused with the profile's EPERM.
    assert_eq!(
        results(&output),
        ["getppid=ok", "sysinfo=errno:1", "getcpu=errno:1"],
        "{err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.contains(" denied ") && l.ends_with(" syscall(s):"))
        .unwrap_or_else(|| panic!("a denial summary: {err}"));
    let said: usize = lines[head]
        .split(" denied ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count: {}", lines[head]));
    // The entries: two spaces, then the name (their details have four).
    let listed: Vec<&str> = lines[head + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(said, listed.len(), "the count is the list: {err}");
    assert_eq!(listed, ["getcpu", "sysinfo"], "{err}");
    assert!(
        err.contains("answered as the profile says: clone3 → ENOSYS"),
        "clone3 named apart: {err}"
    );
}

/// The seccomp listener (the default for native programs) and the kernel
/// watch report the same denials of the same run: names, tables, counts,
/// errnos and refused values, while the sample's own output (the kernel's
/// verdicts) is the same under both; and a program refused many times, from
/// many threads' worth of calls, gets every refusal counted once.
#[test]
fn the_listener_and_the_kernel_watch_report_the_same() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mut rules = argument_rules().as_array().unwrap().clone();
    rules.push(json!({"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}));
    let path = verdicts_profile(dir.path(), "both.json", Value::Array(rules));
    let probes = [
        format!("{IOCTL}:0,{FIONREAD:#x}"),
        format!("{IOCTL}:0,{TIOCSTI:#x}"),
        format!("{IOCTL}:0,{TIOCSTI:#x}"),
        format!("{SOCKET}:{AF_INET},1,0"),
        format!("{SOCKET}:{AF_VSOCK},1,0"),
        format!("{SOCKET}:{AF_NETLINK},3,0"),
        format!("{PRCTL}:{PR_CAPBSET_DROP},5"),
        "84".to_owned(),
        "83".to_owned(),
        "83".to_owned(),
        // sysinfo: unlisted.
        "99".to_owned(),
    ];
    let probes: Vec<&str> = probes.iter().map(String::as_str).collect();
    let mut reports = Vec::new();
    // The eBPF watch on both kinds of hook (BTF tracepoints are what `auto`
    // takes where the kernel has BTF), and the listener.
    let watches = [
        ("kernel", "raw-tracepoint"),
        ("kernel", "btf-tracepoint"),
        ("listener", "auto"),
    ];
    for (watch, hook) in watches {
        let report = dir.path().join(format!("{watch}-{hook}.json"));
        let (verdicts, output) = enforce_verdicts(
            &path,
            &[
                "--watch",
                watch,
                "--hook",
                hook,
                "--json",
                &report.to_string_lossy(),
            ],
            &probes,
        );
        assert_eq!(verdicts.len(), probes.len(), "{watch}: {}", stderr(&output));
        let denials = denials_without_first_callers(&report);
        reports.push((watch, hook, verdicts, denials));
    }
    let (_, _, kernel_verdicts, kernel_denials) = &reports[0];
    for (watch, hook, verdicts, denials) in &reports[1..] {
        assert_eq!(kernel_verdicts, verdicts, "{watch} on {hook}");
        assert_eq!(kernel_denials, denials, "{watch} on {hook}");
    }
    let names: Vec<&str> = kernel_denials
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ioctl", "mkdir", "prctl", "rmdir", "socket", "sysinfo"]
    );

    // Many refusals: each answered and counted once.
    const CALLS: u64 = 20_000;
    let deny = dir.path().join("deny-getppid.json");
    let learned = dir.path().join("loop.json");
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        sample("getppid-loop").as_os_str(),
        "1".as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&learned).unwrap()).unwrap();
    for rule in doc["syscalls"].as_array_mut().unwrap() {
        rule["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n != "getppid");
    }
    // The loop itself writes nothing; the hand-over of the listener does.
    doc["syscalls"]
        .as_array_mut()
        .unwrap()
        .push(json!({"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}));
    fs::write(&deny, doc.to_string()).unwrap();
    let report = dir.path().join("loop-report.json");
    let output = run([
        "enforce".as_ref(),
        "--watch".as_ref(),
        "listener".as_ref(),
        "--json".as_ref(),
        report.as_os_str(),
        "--profile".as_ref(),
        deny.as_os_str(),
        "--".as_ref(),
        sample("getppid-loop").as_os_str(),
        CALLS.to_string().as_ref(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["denials"][0]["name"], "getppid", "{json}");
    assert_eq!(json["denials"][0]["count"], CALLS, "{json}");
}

/// The listener never reaches the enforced program: the kernel opens it
/// close-on-exec, so the program holds no descriptor it could answer its
/// own refusals with.
#[test]
fn the_program_never_holds_the_listener() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ls.json");
    let learned = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        "ls".as_ref(),
        "-l".as_ref(),
        "/proc/self/fd/".as_ref(),
    ]);
    assert!(learned.status.success(), "{}", stderr(&learned));
    let output = run([
        "enforce".as_ref(),
        "--watch".as_ref(),
        "listener".as_ref(),
        "--profile".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        "ls".as_ref(),
        "-l".as_ref(),
        "/proc/self/fd/".as_ref(),
    ]);
    let out = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.contains("/proc/"), "ls listed its descriptors: {out}");
    assert!(!out.contains("seccomp"), "{out}");
}

/// A program that asks for a seccomp listener of its own gets it under
/// `enforce` as with no tool (the kernel allows one listener per filter
/// chain, so a listener of ours would make it fail with EBUSY): the
/// default watch leaves it its descriptor, and `--watch listener` warns in
/// one line, the program then getting EBUSY (the difference the default
/// avoids).
#[test]
fn a_program_keeps_its_own_seccomp_listener() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let program = sample("own-listener");
    let alone = std::process::Command::new(&program).output().unwrap();
    assert_eq!(stdout(&alone).trim(), "listener ok", "{}", stderr(&alone));
    let path = dir.path().join("p.json");
    let output = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        path.as_os_str(),
        "--".as_ref(),
        program.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let enforce = |watch: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec!["enforce".into()];
        args.extend(watch.iter().map(std::ffi::OsString::from));
        args.extend([
            "--profile".into(),
            path.clone().into_os_string(),
            "--".into(),
            program.clone().into_os_string(),
        ]);
        run(args)
    };
    let output = enforce(&[]);
    assert_eq!(stdout(&output).trim(), "listener ok", "{}", stderr(&output));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));

    let output = enforce(&["--watch", "listener"]);
    let err = stderr(&output);
    assert_eq!(stdout(&output).trim(), "listener errno:16", "{err}");
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("warning: --watch listener"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("EBUSY"), "{err}");
    assert!(!err.contains("the failure is its own"), "{err}");
}

/// The summary's lines of denials (its count and the list under it), with
/// the pids taken out: what differs between two runs of one program.
fn denial_lines(err: &str) -> Vec<String> {
    let pid = |line: &str| {
        line.split_whitespace()
            .map(|w| if w.parse::<u32>().is_ok() { "N" } else { w })
            .collect::<Vec<_>>()
            .join(" ")
    };
    err.lines()
        .filter(|l| l.contains(" denied ") && l.contains("syscall(s)") || l.starts_with("  "))
        .map(pid)
        .collect()
}

/// A call from another architecture (int80: getpid through `int $0x80`,
/// number 20 of the i386 table) is reported alike by both watches. Under a
/// profile without `archMap`, the filter kills it (libseccomp's action for
/// an architecture the filter does not name): the process dies of SIGSYS
/// (status 159, the kernel's word), and the listener, which is never
/// handed a killed call, names the kill as the kernel watch does; it said
/// "no syscall was denied" before. Under a profile naming i386 and
/// refusing getpid with errno 13 (the program prints -13), both name
/// `getpid (i386)` with that errno, and the listener's arguments of the
/// 32-bit call are 32 bits, as the kernel watch and the filter read them
/// (the upper halves of the registers are what the 64-bit program left
/// there).
#[test]
fn a_call_from_another_architecture_is_reported_alike_by_both_watches() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let program = sample("int80");
    let kill = dir.path().join("no-archmap.json");
    fs::write(
        &kill,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["sysinfo"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let errno = dir.path().join("i386.json");
    fs::write(
        &errno,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let enforce = |profile: &Path, watch: &str| {
        let report = dir.path().join(format!(
            "{}-{watch}.report",
            profile.file_stem().unwrap().to_string_lossy()
        ));
        let output = run([
            "enforce".as_ref(),
            "--watch".as_ref(),
            watch.as_ref(),
            "--json".as_ref(),
            report.as_os_str(),
            "--profile".as_ref(),
            profile.as_os_str(),
            "--".as_ref(),
            program.as_os_str(),
        ]);
        let json: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
        (output, json)
    };
    // What differs between two runs: the pid, and the registers the call
    // did not set (addresses, which ASLR moves).
    let comparable = |json: &Value| -> Vec<Value> {
        let mut denials = json["denials"].as_array().unwrap().clone();
        for denial in &mut denials {
            let denial = denial.as_object_mut().unwrap();
            denial.remove("first");
            denial.remove("first_args");
        }
        denials
    };

    let (kernel, kernel_json) = enforce(&kill, "kernel");
    let (listener, listener_json) = enforce(&kill, "listener");
    for (output, json) in [(&kernel, &kernel_json), (&listener, &listener_json)] {
        let err = stderr(output);
        assert_eq!(output.status.code(), Some(128 + libc::SIGSYS), "{err}");
        assert_eq!(json["exit_code"], 128 + libc::SIGSYS, "{err}");
        let denials = json["denials"].as_array().unwrap();
        assert_eq!(denials.len(), 1, "{json}");
        assert_eq!(
            (&denials[0]["name"], &denials[0]["arch"], &denials[0]["nr"]),
            (&json!("getpid"), &json!("i386"), &json!(20)),
            "{json}"
        );
        assert_eq!(denials[0]["killed"], "process", "{json}");
        assert!(!err.contains("no syscall was denied"), "{err}");
    }
    assert_eq!(comparable(&kernel_json), comparable(&listener_json));
    let lines = denial_lines(&stderr(&kernel));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("getpid (i386) 1×, killed the process")),
        "{lines:?}"
    );
    assert_eq!(lines, denial_lines(&stderr(&listener)));

    let (kernel, kernel_json) = enforce(&errno, "kernel");
    let (listener, listener_json) = enforce(&errno, "listener");
    for (output, json) in [(&kernel, &kernel_json), (&listener, &listener_json)] {
        let err = stderr(output);
        assert!(output.status.success(), "{err}");
        assert!(stdout(output).starts_with("i386 getpid=-13 "), "{err}");
        let i386: Vec<&Value> = json["denials"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["arch"] == "i386")
            .collect();
        assert_eq!(i386.len(), 1, "{json}");
        assert_eq!(
            (&i386[0]["name"], &i386[0]["errno"]),
            (&json!("getpid"), &json!(13))
        );
        for arg in i386[0]["first_args"].as_array().unwrap() {
            assert!(arg.as_u64().unwrap() <= u64::from(u32::MAX), "{json}");
        }
    }
    assert_eq!(comparable(&kernel_json), comparable(&listener_json));
    assert_eq!(
        denial_lines(&stderr(&kernel)),
        denial_lines(&stderr(&listener))
    );
}
