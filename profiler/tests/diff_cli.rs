//! `syscall-profile diff` as a user runs it: against Docker's default, with
//! capabilities added, against another profile, in each format, and its
//! errors.

use std::{fs, path::PathBuf};

use crate::common::{TEST_IMAGE, docker_host, require_root, run, stderr, stdout};

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

/// `SIGCHLD`, the exit signal of a plain fork, and `CLONE_NEWUSER`.
const SIGCHLD: u64 = 0x11;
const CLONE_NEWUSER: u64 = 0x1000_0000;
/// A socket's type with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` masked away, as
/// argument rules check it.
const TYPE_MASK: u64 = 0xffff_ffff & !(0x800 | 0x80000);

/// A profile with argument rules as `record` writes them: an equality per
/// learned value, a masked equality on clone's namespace bits, and
/// `names` allowed whatever their arguments.
fn with_arguments(
    dir: &tempfile::TempDir,
    file: &str,
    names: &[&str],
    rules: serde_json::Value,
) -> PathBuf {
    let mut syscalls = vec![serde_json::json!({"names": names, "action": "SCMP_ACT_ALLOW"})];
    syscalls.extend(rules.as_array().cloned().unwrap_or_default());
    let document = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": syscalls,
    });
    let path = dir.path().join(file);
    fs::write(&path, document.to_string()).unwrap();
    path
}

fn socket_rule(family: u64) -> serde_json::Value {
    serde_json::json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": family, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": TYPE_MASK, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
        {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]})
}

fn clone_rule(namespaces: u64) -> serde_json::Value {
    serde_json::json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 0x7E02_0000u64, "valueTwo": namespaces, "op": "SCMP_CMP_MASKED_EQ"}]})
}

fn equal_rule(name: &str, index: u32, value: u64) -> serde_json::Value {
    serde_json::json!({"names": [name], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": index, "value": value, "op": "SCMP_CMP_EQ"}]})
}

/// The workload of issue 11, learned with its arguments: threads (clone3,
/// and clone without namespace flags), a user namespace through clone,
/// AF_INET, AF_UNIX and AF_VSOCK stream sockets, ioctl(FIONREAD), the
/// personality query.
fn learned_workload(dir: &tempfile::TempDir) -> PathBuf {
    with_arguments(
        dir,
        "learned.json",
        &["read", "write", "exit_group", "mmap", "clone3"],
        serde_json::json!([
            clone_rule(0),
            clone_rule(CLONE_NEWUSER),
            socket_rule(2),
            socket_rule(1),
            socket_rule(40),
            equal_rule("ioctl", 1, 0x541b),
            equal_rule("personality", 0, 0xffff_ffff),
        ]),
    )
}

/// The entry of `list` for syscall `name`.
fn entry<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list:#}"))
}

fn diff_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let mut argv: Vec<&std::ffi::OsStr> = vec!["diff".as_ref()];
    argv.extend(args.iter().copied());
    argv.extend([
        std::ffi::OsStr::new("--format"),
        std::ffi::OsStr::new("json"),
    ]);
    let out = run(argv);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Against Docker's default, a profile with argument rules: each value
/// beyond the default named, with the least privilege that allows it
/// (CAP_SYS_ADMIN for clone's CLONE_NEWUSER, nothing but a custom profile
/// for AF_VSOCK); clone3, which the default answers with ENOSYS so that the
/// C library falls back to clone, is no need and gets no --cap-add.
#[test]
fn argument_values_beyond_the_default_are_named_with_the_least_privilege() {
    let dir = tempfile::tempdir().unwrap();
    let app = learned_workload(&dir);
    let json = diff_json(&[app.as_os_str(), "--baseline".as_ref(), "docker".as_ref()]);
    assert_eq!(json["denied_needed"], serde_json::json!([]), "{json:#}");
    assert_eq!(json["falls_back"][0]["name"], "clone3");
    assert_eq!(json["falls_back"][0]["falls_back_to"], "clone");
    let beyond: Vec<(String, String, serde_json::Value)> = json["beyond_baseline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["values"].as_str().unwrap().to_owned(),
                b["allow_with"].clone(),
            )
        })
        .collect();
    assert_eq!(
        beyond,
        [
            (
                "clone".to_owned(),
                "flags CLONE_NEWUSER (0x10000000)".to_owned(),
                serde_json::json!({"kind": "cap_add", "caps": ["CAP_SYS_ADMIN"]})
            ),
            (
                "socket".to_owned(),
                "family AF_VSOCK (40), type SOCK_STREAM (1), default protocol".to_owned(),
                serde_json::json!({"kind": "custom_profile"})
            ),
        ]
    );

    let out = run(["diff".as_ref(), app.as_os_str()]);
    let text = stdout(&out);
    assert!(
        text.contains(
            "socket: AF_UNIX, SOCK_STREAM, default protocol; AF_INET, SOCK_STREAM, default \
             protocol; AF_VSOCK, SOCK_STREAM, default protocol — the default allows all but \
             AF_ALG, AF_VSOCK"
        ),
        "{text}"
    );
    assert!(
        text.contains("ioctl: FIONREAD — the default allows any"),
        "{text}"
    );
    assert!(
        text.contains("Needs 2 argument value(s) the baseline refuses"),
        "{text}"
    );
    for line in text.lines().filter(|l| l.contains("clone3")) {
        assert!(!line.contains("cap-add"), "{line}");
    }
    assert_eq!(text.matches("--cap-add SYS_ADMIN").count(), 1, "{text}");

    // With CAP_SYS_ADMIN, Docker's profile allows clone's namespaces (and
    // clone3): only AF_VSOCK is left beyond it.
    let admin = diff_json(&[app.as_os_str(), "--cap-add".as_ref(), "SYS_ADMIN".as_ref()]);
    assert_eq!(admin["beyond_baseline"].as_array().unwrap().len(), 1);
    assert_eq!(admin["beyond_baseline"][0]["name"], "socket");
    assert_eq!(admin["falls_back"], serde_json::json!([]));

    // A profile of names only lets through what the default refuses
    // without checking: said so, and no privilege is advised for it.
    let names = profile(&dir, "names.json", &["read", "clone", "socket", "clone3"]);
    let json = diff_json(&[names.as_os_str()]);
    let socket = entry(&json["beyond_baseline"], "socket");
    assert_eq!(socket["values"], "AF_ALG, AF_VSOCK");
    assert_eq!(socket["profile_checks_arguments"], false);
    assert_eq!(socket["allow_with"], serde_json::Value::Null);
}

/// `diff OLD NEW` between two profiles with argument rules: per syscall,
/// the values the new one adds and removes.
#[test]
fn two_profiles_differ_in_argument_values() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["read", "write", "exit_group"];
    let old = with_arguments(
        &dir,
        "old.json",
        &base,
        serde_json::json!([socket_rule(2), equal_rule("ioctl", 1, 0x541b)]),
    );
    let new = with_arguments(
        &dir,
        "new.json",
        &base,
        serde_json::json!([
            socket_rule(1),
            equal_rule("ioctl", 1, 0x541b),
            equal_rule("ioctl", 1, 0x5412),
        ]),
    );
    let out = run(["diff".as_ref(), old.as_os_str(), new.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let old_name = old.display().to_string();
    assert!(
        text.contains(&format!(
            "ioctl: TIOCSTI, FIONREAD — {old_name} allows FIONREAD; added: TIOCSTI\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "socket: AF_UNIX, SOCK_STREAM, default protocol — {old_name} allows AF_INET, \
             SOCK_STREAM, default protocol; added: AF_UNIX, SOCK_STREAM, default protocol; \
             removed: AF_INET, SOCK_STREAM, default protocol"
        )),
        "{text}"
    );
    let json = diff_json(&[old.as_os_str(), new.as_os_str()]);
    let ioctl = entry(&json["arguments"], "ioctl");
    assert_eq!(ioctl["added"]["kind"], "only");
    assert_eq!(ioctl["added"]["values"][0]["args"][0]["symbol"], "TIOCSTI");
    assert_eq!(ioctl["added"]["values"][0]["args"][0]["value"], 0x5412);
    assert_eq!(ioctl["removed"]["kind"], "nothing");
    // The same profiles the other way round: TIOCSTI removed.
    let json = diff_json(&[new.as_os_str(), old.as_os_str()]);
    let ioctl = entry(&json["arguments"], "ioctl");
    assert_eq!(
        ioctl["removed"]["values"][0]["args"][0]["symbol"],
        "TIOCSTI"
    );
}

/// `docker run` of `syscall-verdicts PROBES` in the test image with
/// `options`, with the test daemon: each probe's outcome.
fn docker_verdicts(options: &[&str], probes: &[String]) -> Vec<(String, String)> {
    let out = std::process::Command::new("timeout")
        .args([
            "60",
            "docker",
            "-H",
            &docker_host(),
            "run",
            "--rm",
            "--network",
            "none",
        ])
        .args(options)
        .args([TEST_IMAGE, "syscall-verdicts"])
        .args(probes)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker run {options:?}: {}",
        stderr(&out)
    );
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, v)| (p.to_owned(), v.to_owned()))
        .collect()
}

/// The probes the engine refused: those whose outcome under `options`
/// is an errno where unconfined (with the same capabilities) it is not
/// that errno.
fn refused_by_docker(options: &[&str], probes: &[String]) -> Vec<String> {
    let filtered = docker_verdicts(options, probes);
    let mut unconfined_options = options.to_vec();
    unconfined_options.extend(["--security-opt", "seccomp=unconfined"]);
    let unconfined = docker_verdicts(&unconfined_options, probes);
    assert_eq!(filtered.len(), probes.len(), "{filtered:?}");
    filtered
        .iter()
        .zip(&unconfined)
        .filter(|((_, f), (_, u))| f != u && f.starts_with("errno "))
        .map(|((p, _), _)| p.clone())
        .collect()
}

/// What `diff` names beyond the engine's default is what the engine
/// refuses: each value the learned profile allows of the syscalls diff
/// compares is probed in a container under the test dockerd's default
/// profile (diff comparing with the baseline of that engine's version) and
/// unconfined; the engine refuses exactly the values diff names beyond the
/// default, and the `--cap-add` diff advises lets them through.
#[test]
fn what_diff_names_beyond_the_default_is_what_docker_refuses() {
    require_root();
    let version = std::process::Command::new("docker")
        .args([
            "-H",
            &docker_host(),
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .output()
        .expect("run docker version");
    let version = stdout(&version).trim().to_owned();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let baseline = if major > 0 && major < 23 {
        "docker-20.10"
    } else {
        "docker"
    };
    let dir = tempfile::tempdir().unwrap();
    let app = learned_workload(&dir);
    let json = diff_json(&[app.as_os_str(), "--baseline".as_ref(), baseline.as_ref()]);

    let number = |name: &str| match name {
        "ioctl" => 16,
        "socket" => 41,
        "clone" => 56,
        "personality" => 135,
        other => panic!("no x86_64 number here for {other}"),
    };
    let probe = |name: &str, args: &serde_json::Value| {
        let mut call = [0u64; 6];
        for arg in args.as_array().unwrap() {
            call[arg["index"].as_u64().unwrap() as usize] = arg["value"].as_u64().unwrap();
        }
        if name == "clone" {
            // A fork, with the namespace flags diff names.
            call[0] |= SIGCHLD;
        }
        let words: Vec<String> = call.iter().map(|a| format!("{a:#x}")).collect();
        format!("{}:{}", number(name), words.join(","))
    };
    let mut probes = Vec::new();
    for compared in json["arguments"].as_array().unwrap() {
        let name = compared["name"].as_str().unwrap();
        assert_eq!(compared["profile_allows"]["kind"], "only", "{compared}");
        for item in compared["profile_allows"]["values"].as_array().unwrap() {
            probes.push(probe(name, &item["args"]));
        }
    }
    let mut beyond: Vec<String> = json["beyond_baseline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| probe(b["name"].as_str().unwrap(), &b["args"][0]))
        .collect();
    beyond.sort();
    assert!(
        beyond.contains(&format!(
            "56:{:#x},0x0,0x0,0x0,0x0,0x0",
            CLONE_NEWUSER | SIGCHLD
        )),
        "clone(CLONE_NEWUSER) is beyond every Docker default: {json:#}"
    );
    assert!(probes.len() >= 7, "{probes:?}");
    let mut refused = refused_by_docker(&[], &probes);
    refused.sort();
    assert_eq!(
        refused, beyond,
        "the engine's refusals (left) and diff's (right)"
    );

    // clone3: diff advises nothing, and a threaded glibc program (static,
    // glibc's pthread_create tries clone3 first) runs under the engine's
    // default, which answers clone3 with ENOSYS, without any --cap-add.
    assert_eq!(json["falls_back"][0]["name"], "clone3", "{json:#}");
    assert!(
        json["denied_needed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["name"] != "clone3"),
        "{json:#}"
    );
    let threads = std::process::Command::new("timeout")
        .args([
            "60",
            "docker",
            "-H",
            &docker_host(),
            "run",
            "--rm",
            "--network",
            "none",
        ])
        .args([TEST_IMAGE, "threads", "8"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run docker");
    assert!(
        threads.status.success(),
        "threads under Docker's default: {}",
        stderr(&threads)
    );

    // The advice: with the capability diff names, the engine lets it run.
    // Each value beyond the default gets a capability or, failing one, a
    // custom profile; clone's CLONE_NEWUSER gets CAP_SYS_ADMIN, so at
    // least that advice is put to the engine.
    let mut checked = Vec::new();
    for advised in json["beyond_baseline"].as_array().unwrap() {
        let Some(caps) = advised["allow_with"]["caps"].as_array() else {
            assert_eq!(advised["allow_with"]["kind"], "custom_profile", "{advised}");
            continue;
        };
        checked.push(advised["name"].as_str().unwrap().to_owned());
        let cap = caps[0].as_str().unwrap().trim_start_matches("CAP_");
        let call = probe(advised["name"].as_str().unwrap(), &advised["args"][0]);
        let refused = refused_by_docker(&["--cap-add", cap], std::slice::from_ref(&call));
        assert!(
            refused.is_empty(),
            "{call} with --cap-add {cap}: {refused:?}"
        );
    }
    assert!(
        checked.contains(&"clone".to_owned()),
        "no capability advice was checked: {checked:?} {json:#}"
    );
}
