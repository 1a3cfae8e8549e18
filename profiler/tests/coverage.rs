//! Coverage: a recording set against what its program can reach, and a
//! profile that will not break on a path the recording did not take.
//!
//! The oracle is the kernel's verdict: `ls` recorded listing a directory
//! runs `ls -l` under the `--include reachable` profile with nothing denied,
//! where the plain learned profile denies what `-l` needs; and nothing
//! Docker's default refuses (mount, which ls's libc can reach) is added.
//! For a container, the reachable set is `scan --image`'s of the program it
//! ran, and the engine's behaviour is the oracle: release 2 of a sample,
//! recorded running release 1, makes its new call under the `--include
//! reachable` profile and has it refused under the plain one. A recorder
//! killed during the image's scan leaves neither the export nor the helper
//! container (the engine's own listing).

use std::{
    collections::BTreeSet,
    fs,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;
use serde_json::{Value, json};

/// A learned profile of `command`, plain or with `--include reachable`,
/// its stats, and what the recorder said.
fn learn(dir: &Path, name: &str, extra: &[&str], command: &[String]) -> (String, Value, String) {
    let profile = dir.join(format!("{name}.json"));
    let stats = dir.join(format!("{name}-stats.json"));
    let mut args = vec![
        "record".to_owned(),
        "-o".to_owned(),
        profile.to_string_lossy().into_owned(),
        "--stats".to_owned(),
        stats.to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--".to_owned());
    args.extend(command.iter().cloned());
    let output = run(&args);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let stats: Value = serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    (fs::read_to_string(&profile).unwrap(), stats, err)
}

/// The same of `ls /`.
fn learn_ls(dir: &Path, name: &str, extra: &[&str]) -> (String, Value, String) {
    learn(dir, name, extra, &["/bin/ls", "/"].map(str::to_owned))
}

#[test]
fn a_recording_reports_its_coverage_of_what_the_program_can_reach() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (profile, stats, err) = learn_ls(dir.path(), "plain", &[]);
    let coverage = &stats["coverage"];
    let reachable = coverage["reachable"].as_u64().unwrap();
    let covered = coverage["covered"].as_u64().unwrap();
    assert!(covered > 10 && covered < reachable, "{coverage}");
    // Everything the run made is something the code can make.
    assert_eq!(coverage["not_found"], serde_json::json!([]), "{coverage}");
    let unobserved: Vec<&str> = coverage["unobserved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(unobserved.len() as u64, reachable - covered);
    // Bounded on both sides: ls reaches more than it used, and no more than
    // what ls is known to reach (the reachable set is what was covered and
    // what was not).
    assert!(
        unobserved.len() >= 20,
        "ls reaches more than it uses: {coverage}"
    );
    let bound = reachable::LS.len() + reachable::TOLERANCE;
    assert!(
        reachable as usize <= bound,
        "ls reaches at most {bound}: {coverage}"
    );
    reachable::assert_within(
        "the recording of ls",
        unobserved.iter().copied(),
        reachable::LS,
        reachable::TOLERANCE,
    );
    // Ranked by risk: mount (ls can reach it through libc) before read-only
    // calls.
    assert!(unobserved.contains(&"mount"), "{unobserved:?}");
    assert!(
        err.contains(&format!(
            "coverage: {covered} of {reachable} reachable syscalls observed"
        )),
        "{err}"
    );
    let names = allowed_names(&profile);
    assert!(!names.contains("mount"));
}

#[test]
fn include_reachable_runs_an_untested_path_and_adds_nothing_docker_refuses() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (plain, _, _) = learn_ls(dir.path(), "plain", &[]);
    let (wide, stats, err) = learn_ls(dir.path(), "wide", &["--include", "reachable"]);
    let plain_names = allowed_names(&plain);
    let wide_names = allowed_names(&wide);
    assert!(plain_names.is_subset(&wide_names));
    assert!(wide_names.len() > plain_names.len());
    assert!(err.contains("--include reachable added"), "{err}");
    assert!(!stats["included_reachable"].as_array().unwrap().is_empty());
    // Docker's default refuses these without CAP_SYS_ADMIN: never added.
    for refused in ["mount", "umount2", "sethostname", "setdomainname"] {
        assert!(!wide_names.contains(refused), "{refused} added");
    }
    // The kernel's verdict on a path the recording never took: `ls -l`.
    let enforce = |profile: &str| {
        let path = dir.path().join("p.json");
        fs::write(&path, profile).unwrap();
        run([
            "enforce",
            "--profile",
            path.to_str().unwrap(),
            "--",
            "/bin/ls",
            "-l",
            "/",
        ])
    };
    // The plain profile refuses part of `ls -l`, as the README says:
    // `socket` (the nscd lookup of the owners' names), which `ls /` never
    // made; and `ls` fails for it.
    let under_plain = enforce(&plain);
    let err = stderr(&under_plain);
    assert!(!under_plain.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains(" denied ") && l.contains(" syscall(s):")),
        "no denial report: {err}"
    );
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with("socket ") && l.contains('×')),
        "socket is not among the denials: {err}"
    );
    let under_wide = enforce(&wide);
    assert!(under_wide.status.success(), "{}", stderr(&under_wide));
    assert!(
        stderr(&under_wide).contains("no syscall was denied"),
        "{}",
        stderr(&under_wide)
    );
}

/// `--include reachable` keeps the risky syscalls the run did not make out
/// of the profile, though Docker's default allows them: busybox can reach
/// `personality` (its linux32/linux64 applets; `scan` says so, the oracle
/// of what is reachable), which `busybox true` never calls: it is left
/// out, named on standard error with how to add it, and listed in the stats
/// as withheld; `--include-risky personality` adds it; and a run that made
/// it (`busybox linux64 true`) keeps it.
#[test]
fn include_reachable_withholds_risky_syscalls_the_run_did_not_make() {
    require_root();
    let busybox = "/usr/bin/busybox";
    let scanned = run(["scan", "--json", busybox]);
    assert!(scanned.status.success(), "{}", stderr(&scanned));
    let scan: Value = serde_json::from_str(&stdout(&scanned)).unwrap();
    assert!(
        scan["syscalls"].get("personality").is_some(),
        "busybox reaches personality"
    );
    let dir = tempfile::tempdir().unwrap();
    let words = |applet: &[&str]| -> Vec<String> {
        std::iter::once(busybox)
            .chain(applet.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let (profile, stats, err) = learn(
        dir.path(),
        "withheld",
        &["--include", "reachable"],
        &words(&["true"]),
    );
    assert!(
        !allowed_names(&profile).contains("personality"),
        "{profile}"
    );
    assert_eq!(
        stats["withheld_reachable"],
        json!(["personality"]),
        "{stats}"
    );
    assert!(
        !strings(&stats["included_reachable"]).contains("personality"),
        "{stats}"
    );
    assert!(
        err.contains(
            "--include reachable left out 1 risky syscall(s) the programs can reach but the \
             run did not make: personality ("
        ) && err.contains("record with --include-risky personality"),
        "{err}"
    );
    // Named, it is added.
    let (profile, stats, _) = learn(
        dir.path(),
        "risky",
        &["--include", "reachable", "--include-risky", "personality"],
        &words(&["true"]),
    );
    assert!(allowed_names(&profile).contains("personality"), "{profile}");
    assert!(strings(&stats["included_reachable"]).contains("personality"));
    assert!(stats.get("withheld_reachable").is_none(), "{stats}");
    // Observed, it stays, and nothing is said withheld.
    let (profile, stats, err) = learn(
        dir.path(),
        "observed",
        &["--include", "reachable"],
        &words(&["linux64", "true"]),
    );
    assert!(allowed_names(&profile).contains("personality"), "{profile}");
    // busybox runs its `true` applet as /proc/self/exe: itself, not the
    // recorder's file, which reaches process_vm_readv and bpf.
    assert_eq!(
        stats["coverage"]["programs"],
        json!([busybox]),
        "{}",
        stats["coverage"]
    );
    assert!(stats.get("withheld_reachable").is_none(), "{stats}");
    assert!(!err.contains("left out"), "{err}");
    // A name that is not one of them: one line naming the list.
    let output = run([
        "record",
        "--include",
        "reachable",
        "--include-risky",
        "getpid",
        "--",
        "true",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not one of the risky syscalls --include reachable withholds"),
        "{}",
        stderr(&output)
    );
}

/// Where the dynamic loader finds `soname` on this host (its cache, as
/// `ldconfig -p` prints it), symlinks resolved.
fn library_path(soname: &str) -> std::path::PathBuf {
    let out = Command::new("ldconfig").arg("-p").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{soname} ")) && l.contains("x86-64"))
        .unwrap_or_else(|| panic!("{soname} is not in the loader's cache (install libcap2)"));
    let path = line.rsplit("=> ").next().unwrap().trim();
    fs::canonicalize(path).unwrap()
}

/// A library the run loads with dlopen is scanned with the program: the
/// sample `load-plugin` loads libcap (not among its DT_NEEDED) and calls
/// cap_get_proc (capget); libcap also reaches capset (cap_set_proc), which
/// the program's own code and libraries cannot. The oracle of what is
/// reachable is `scan --dlopen` of the program with the library the
/// loader's cache names; of `--include reachable`'s promise, the kernel's
/// verdict: `load-plugin set`, a path the recording did not take, runs
/// under the reachable profile with nothing denied and is refused capset
/// under the plain one.
#[test]
fn coverage_scans_the_libraries_the_run_loaded_with_dlopen() {
    require_root();
    let program = sample("load-plugin");
    let libcap = library_path("libcap.so.2");
    let scan = |extra: &[&str]| -> Value {
        let mut args = vec!["scan".to_owned(), "--json".to_owned()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.push(program.to_string_lossy().into_owned());
        let output = run(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let alone = scan(&[]);
    let with_libcap = scan(&["--dlopen", libcap.to_str().unwrap()]);
    let names = |v: &Value| -> BTreeSet<String> {
        v["syscalls"].as_object().unwrap().keys().cloned().collect()
    };
    assert!(!names(&alone).contains("capset"), "{alone}");
    assert!(names(&with_libcap).contains("capset"));

    let dir = tempfile::tempdir().unwrap();
    let command = [program.to_string_lossy().into_owned(), "get".to_owned()];
    let (plain, stats, err) = learn(dir.path(), "plain", &[], &command);
    let coverage = &stats["coverage"];
    assert_eq!(
        coverage["loaded_at_run_time"],
        json!([libcap]),
        "{coverage}"
    );
    assert_eq!(
        coverage["reachable"].as_u64().unwrap() as usize,
        names(&with_libcap).len(),
        "{coverage}"
    );
    assert!(
        err.contains(&format!(
            "scanned with 1 object(s) loaded at run time: {}",
            libcap.display()
        )),
        "{err}"
    );
    assert!(!allowed_names(&plain).contains("capset"), "{plain}");
    let (wide, stats, _) = learn(dir.path(), "wide", &["--include", "reachable"], &command);
    assert!(
        strings(&stats["included_reachable"]).contains("capset"),
        "{stats}"
    );
    assert!(allowed_names(&wide).contains("capset"), "{wide}");

    let enforce = |profile: &str| {
        let path = dir.path().join("p.json");
        fs::write(&path, profile).unwrap();
        run([
            "enforce",
            "--profile",
            path.to_str().unwrap(),
            "--",
            program.to_str().unwrap(),
            "set",
        ])
    };
    let under_plain = enforce(&plain);
    assert!(
        stdout(&under_plain).contains("capset=errno:1"),
        "{}{}",
        stdout(&under_plain),
        stderr(&under_plain)
    );
    let under_wide = enforce(&wide);
    assert!(under_wide.status.success(), "{}", stderr(&under_wide));
    assert!(
        stdout(&under_wide).contains("capget=ok capset=ok"),
        "{}",
        stdout(&under_wide)
    );
    assert!(
        stderr(&under_wide).contains("no syscall was denied"),
        "{}",
        stderr(&under_wide)
    );
}

/// `--include reachable` keeps its promise for argument values too:
/// sqlite3 recorded natively in its rollback-journal mode learns fcntl with
/// F_SETLK only, and its WAL mode needs F_GETLK. The scan finds syscalls,
/// not the values passed to them, so the reachable profile widens fcntl to
/// what Docker's default allows of it (any value). The kernel's verdict is
/// the oracle: the WAL run is refused fcntl F_GETLK under the plain
/// profile, and runs with nothing denied under the reachable one.
#[test]
fn include_reachable_widens_learned_values_so_sqlite3_runs_in_wal_mode() {
    require_root();
    let sqlite3 = "/usr/bin/sqlite3";
    assert!(
        Path::new(sqlite3).exists(),
        "{sqlite3} is missing: install Debian's sqlite3 package (apt-get install sqlite3, or \
         cargo xtask setup)"
    );
    let dir = tempfile::tempdir().unwrap();
    let record = |name: &str, extra: &[&str]| {
        let db = dir.path().join(format!("{name}.db"));
        let words = [
            sqlite3,
            db.to_str().unwrap(),
            "create table t(x); insert into t values(1);",
        ]
        .map(str::to_owned);
        learn(dir.path(), name, extra, &words)
    };
    let (plain, _, _) = record("plain", &[]);
    let (wide, stats, err) = record("wide", &["--include", "reachable"]);
    let fcntl = |profile: &str| -> Vec<Value> {
        let profile: Value = serde_json::from_str(profile).unwrap();
        profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().contains(&json!("fcntl")))
            .cloned()
            .collect()
    };
    assert!(
        fcntl(&plain).iter().all(|r| r.get("args").is_some()),
        "the rollback-journal run learned fcntl's values: {plain}"
    );
    let widened = fcntl(&wide);
    assert!(
        !widened.is_empty() && widened.iter().any(|r| r.get("args").is_none()),
        "fcntl allowed whatever its arguments, as Docker's default allows it: {widened:?}"
    );
    assert!(
        stats["widened_reachable"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["syscall"] == "fcntl" && w["to"] == "any value"),
        "{stats}"
    );
    assert!(
        err.contains("--include reachable widened the learned argument values of")
            && err.contains("fcntl"),
        "{err}"
    );
    // The kernel's verdict on the WAL run under each profile.
    let enforce_wal = |name: &str, profile: &str| {
        let path = dir.path().join(format!("{name}-enforced.json"));
        fs::write(&path, profile).unwrap();
        let report = dir.path().join(format!("{name}-report.json"));
        let db = dir.path().join(format!("{name}-wal.db"));
        let output = run([
            "enforce",
            "--profile",
            path.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
            "--",
            sqlite3,
            db.to_str().unwrap(),
            "pragma journal_mode=wal; create table t(x); insert into t values(1); \
             select * from t;",
        ]);
        let report: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
        (output, report)
    };
    let (output, report) = enforce_wal("plain", &plain);
    assert!(!output.status.success(), "{}", stderr(&output));
    let refused_getlk = report["denials"].as_array().unwrap().iter().any(|d| {
        d["name"] == "fcntl"
            && d["values"]
                .as_array()
                .is_some_and(|v| v.iter().any(|v| v["args"][0]["symbol"] == "F_GETLK"))
    });
    assert!(refused_getlk, "fcntl F_GETLK refused: {report}");
    let (output, report) = enforce_wal("wide", &wide);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(stdout(&output), "wal\n1\n");
    assert_eq!(report["denials"], json!([]), "{report}");
}

#[test]
fn the_gate_fails_below_the_coverage_threshold() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (profile, _, _) = learn_ls(dir.path(), "policy", &[]);
    let policy = dir.path().join("policy.json");
    fs::write(&policy, profile).unwrap();
    let json = dir.path().join("report.json");
    let gate = |threshold: &str| {
        run([
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--coverage",
            threshold,
            "--json",
            json.to_str().unwrap(),
            "--",
            "/bin/ls",
            "/",
        ])
    };
    let low = gate("99");
    assert_eq!(low.status.code(), Some(1), "{}", stderr(&low));
    assert!(
        stdout(&low).contains("FAIL: the run made"),
        "{}",
        stdout(&low)
    );
    let report: Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["coverage"]["passed"], false);
    let fine = gate("1");
    assert_eq!(fine.status.code(), Some(0), "{}", stderr(&fine));
    let bad = run([
        "check",
        "--policy",
        "x.json",
        "--coverage",
        "150",
        "--",
        "true",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn diff_shows_what_a_profile_covers_of_a_program() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (profile, _, _) = learn_ls(dir.path(), "ls", &[]);
    let path = dir.path().join("ls-profile.json");
    fs::write(&path, profile).unwrap();
    let output = run(["diff", path.to_str().unwrap(), "--reachable", "/bin/ls"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("syscalls /bin/ls can reach"), "{text}");
    assert!(text.contains("the riskiest first: mount"), "{text}");
}

/// What `scan --image` finds `program` of the test image can reach.
fn reachable_in_image(program: &str) -> BTreeSet<String> {
    let scan = run(["scan", "--json", "--image", TEST_IMAGE, program]);
    assert!(scan.status.success(), "{}", stderr(&scan));
    let scanned: Value = serde_json::from_str(&stdout(&scan)).unwrap();
    scanned["syscalls"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// A container's recording is set against what the program it ran can
/// reach inside its image: the same set `scan --image` finds.
#[test]
fn a_container_recording_reports_the_coverage_of_what_it_ran() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&[TEST_IMAGE, "app-release", "1"]);
    let (_, stats, _) = learn(dir.path(), "plain", &[], &words);
    let coverage = &stats["coverage"];
    assert_eq!(coverage["image"], TEST_IMAGE, "{coverage}");
    assert_eq!(
        coverage["programs"],
        json!(["/bin/app-release"]),
        "{coverage}"
    );
    assert_eq!(coverage["errors"], json!([]), "{coverage}");
    // Everything the workload made, its code can make.
    assert_eq!(coverage["not_found"], json!([]), "{coverage}");
    let observed: BTreeSet<String> = stats["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(coverage["observed"].as_u64(), Some(observed.len() as u64));
    // The reachable set: the covered part of the observed, and the rest.
    let mut reachable = strings(&coverage["unobserved"]);
    reachable.extend(observed.iter().cloned());
    assert_eq!(coverage["reachable"].as_u64(), Some(reachable.len() as u64));

    let scanned = reachable_in_image("app-release");
    assert_eq!(reachable, scanned);
    assert!(
        reachable.contains("getcpu"),
        "release 2's call is in the code"
    );
    assert!(!observed.contains("getcpu"), "release 1 does not make it");
}

/// `--include reachable` for a container: recorded running release 1, the
/// profile lets release 2's new call (getcpu) run, where the plain profile
/// has it refused: the engine's behaviour under each, and enforce's verdict.
#[test]
fn include_reachable_lets_a_containers_untested_path_run() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&[TEST_IMAGE, "app-release", "1"]);
    let (plain, _, _) = learn(dir.path(), "plain", &[], &words);
    let (wide, stats, _) = learn(dir.path(), "wide", &["--include", "reachable"], &words);
    let (plain_names, wide_names) = (allowed_names(&plain), allowed_names(&wide));
    assert!(plain_names.is_subset(&wide_names));
    assert!(!plain_names.contains("getcpu") && wide_names.contains("getcpu"));
    // What the wide profile has beyond the plain one is what it added.
    let added = strings(&stats["included_reachable"]);
    assert!(
        wide_names
            .difference(&plain_names)
            .all(|n| added.contains(n))
    );
    let within = stats["coverage"]["included_within"].as_str().unwrap();
    assert!(within.contains("Docker"), "the engine's default: {within}");

    let release_2 = |name: &str, profile: &str| {
        let path = dir.path().join(format!("{name}-enforced.json"));
        fs::write(&path, profile).unwrap();
        let host = docker_host();
        let seccomp = format!("seccomp={}", path.display());
        let direct = Command::new("docker")
            .args(["-H", &host, "run", "--rm", "--network", "none"])
            .args(["--security-opt", &seccomp, TEST_IMAGE, "app-release", "2"])
            .output()
            .unwrap();
        assert!(direct.status.success(), "{}", stderr(&direct));
        let mut args = vec![
            "enforce".to_owned(),
            "--profile".to_owned(),
            path.to_string_lossy().into_owned(),
            "--".to_owned(),
        ];
        args.extend(docker_run(&[TEST_IMAGE, "app-release", "2"]));
        (stdout(&direct), stderr(&run(&args)))
    };
    let (out, verdict) = release_2("plain", &plain);
    assert!(!out.contains("on cpu"), "getcpu refused: {out}");
    assert!(verdict.contains("getcpu"), "{verdict}");
    let (out, verdict) = release_2("wide", &wide);
    assert!(out.contains("on cpu"), "getcpu ran: {out}");
    assert!(verdict.contains("no syscall was denied"), "{verdict}");
}

/// The tool killed with SIGKILL while it exports an image to scan it (a
/// container's recording, and `scan --image`): its guardian removes the
/// exported filesystem and the helper container.
#[test]
fn sigkill_during_an_images_export_leaves_nothing() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mut record = vec!["record".to_owned(), "-o".to_owned()];
    record.push(dir.path().join("p.json").to_string_lossy().into_owned());
    record.push("--".to_owned());
    record.extend(docker_run(&[TEST_IMAGE, "app-release", "1"]));
    let scan = ["scan", "--image", TEST_IMAGE, "app-release"].map(str::to_owned);
    for args in [record, scan.to_vec()] {
        killed_while_exporting(&args);
    }
}

/// Runs the tool with `args`, kills it once the image's archive is being
/// written, and checks that its guardian left nothing.
fn killed_while_exporting(args: &[String]) {
    let host = docker_host();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let mut child = Command::new(profiler())
        .args(args)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The archive is written while the helper container exists (it is
    // removed once the archive is unpacked).
    let exporting = || {
        fs::read_dir(&tmp).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("syscall-profile-image-")
                && e.path().join("image.tar").exists()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !exporting() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let caught = exporting();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert!(caught, "{}: the export was not seen: {err}", args[0]);
    let helpers = || {
        let out = Command::new("docker")
            .args(["-H", &host, "ps", "-aq", "--filter"])
            .arg("label=io.syscall-profile.scan")
            .output()
            .unwrap();
        stdout(&out).trim().to_owned()
    };
    let clean = wait_for(Duration::from_secs(20), || {
        dir_entries(&tmp).is_empty() && helpers().is_empty()
    });
    assert!(
        clean,
        "{}: left: {:?}, {}; {err}",
        args[0],
        dir_entries(&tmp),
        helpers()
    );
    assert!(err.contains("removed the directory"), "{err}");
    assert!(
        err.contains("created to export the image for a scan"),
        "{err}"
    );
}

/// `diff --image`: a container's profile set against what the image's
/// program can reach; with `--format json` the report stays one JSON
/// document, with the coverage in it.
#[test]
fn diff_sets_a_container_profile_against_its_image() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&[TEST_IMAGE, "app-release", "1"]);
    let (profile, _, _) = learn(dir.path(), "plain", &[], &words);
    let path = dir.path().join("app.json");
    fs::write(&path, &profile).unwrap();
    let reachable = reachable_in_image("app-release");
    let allowed = allowed_names(&profile);

    let output = run([
        "diff",
        path.to_str().unwrap(),
        "--image",
        TEST_IMAGE,
        "--reachable",
        "app-release",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("one JSON document");
    let coverage = &report["coverage"];
    assert_eq!(coverage["program"], "/bin/app-release", "{coverage}");
    assert_eq!(coverage["image"], TEST_IMAGE);
    assert_eq!(coverage["reachable"].as_u64(), Some(reachable.len() as u64));
    assert_eq!(
        coverage["allowed"].as_u64(),
        Some(reachable.intersection(&allowed).count() as u64)
    );
    let not_allowed: BTreeSet<String> = reachable.difference(&allowed).cloned().collect();
    assert_eq!(strings(&coverage["not_allowed"]), not_allowed);
    assert!(not_allowed.contains("getcpu"));

    // The image's entrypoint by default (sh, busybox here); text after the
    // report.
    let text = run(["diff", path.to_str().unwrap(), "--image", TEST_IMAGE]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(
        stdout(&text).contains(&format!("syscalls /bin/sh in {TEST_IMAGE} can reach")),
        "{}",
        stdout(&text)
    );
    let missing = run(["diff", path.to_str().unwrap(), "--image", "no-such-image:1"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stdout(&missing), "", "no report when the scan fails");
    assert_eq!(stderr(&missing).lines().count(), 1, "{}", stderr(&missing));
}

/// The coverage gate on a container run: its programs are scanned in the
/// image.
#[test]
fn the_gate_measures_a_containers_coverage() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = docker_run(&[TEST_IMAGE, "app-release", "1"]);
    let (profile, stats, _) = learn(dir.path(), "policy", &[], &words);
    let percent = 100.0 * stats["coverage"]["covered"].as_f64().unwrap()
        / stats["coverage"]["reachable"].as_f64().unwrap();
    let policy = dir.path().join("policy.json");
    fs::write(&policy, profile).unwrap();
    let gate = |threshold: f64| {
        let mut args = vec![
            "check".to_owned(),
            "--policy".to_owned(),
            policy.to_string_lossy().into_owned(),
            "--coverage".to_owned(),
            format!("{threshold}"),
            "--".to_owned(),
        ];
        args.extend(words.iter().cloned());
        run(&args)
    };
    let above = gate((percent + 5.0).min(100.0));
    assert_eq!(above.status.code(), Some(1), "{}", stderr(&above));
    assert!(
        stdout(&above).contains("FAIL: the run made"),
        "{}",
        stdout(&above)
    );
    let below = gate((percent - 5.0).max(0.0));
    assert_eq!(below.status.code(), Some(0), "{}", stderr(&below));
}

/// The same with podman: the image is exported from its store (the
/// globals of the user's command line, `--root` and the rest, are
/// repeated), the reachable set is what `scan --image` finds in Docker's
/// copy of the same image, and `--include reachable` adds within podman's
/// default.
#[test]
fn a_podman_recording_reports_its_coverage_in_the_image() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let words = podman_run(&[TEST_IMAGE, "app-release", "1"]);
    let (_, stats, _) = learn(dir.path(), "podman", &["--include", "reachable"], &words);
    let coverage = &stats["coverage"];
    assert_eq!(
        coverage["programs"],
        json!(["/bin/app-release"]),
        "{coverage}"
    );
    assert_eq!(coverage["errors"], json!([]), "{coverage}");
    let within = coverage["included_within"].as_str().unwrap();
    assert!(within.starts_with("podman's default"), "{within}");
    assert!(strings(&stats["included_reachable"]).contains("getcpu"));
    let observed: BTreeSet<String> = stats["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    let mut reachable = strings(&coverage["unobserved"]);
    reachable.extend(observed);
    assert_eq!(reachable, reachable_in_image("app-release"));
}
