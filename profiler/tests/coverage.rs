//! Coverage: a recording set against what its program can reach, and a
//! profile that will not break on a path the recording did not take.
//!
//! The oracle is the kernel's verdict: `ls` recorded listing a directory
//! runs `ls -l` under the `--include reachable` profile with nothing denied,
//! where the plain learned profile denies what `-l` needs; and nothing
//! Docker's default refuses (mount, which ls's libc can reach) is added.

mod common;

use std::{fs, path::Path};

use common::*;

/// A learned profile of `ls DIR`, plain or with `--include reachable`, and
/// its stats.
fn learn_ls(dir: &Path, name: &str, extra: &[&str]) -> (String, serde_json::Value, String) {
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
    args.extend(["--", "/bin/ls", "/"].map(str::to_owned));
    let output = run(&args);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let stats: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
    (fs::read_to_string(&profile).unwrap(), stats, err)
}

#[test]
fn a_recording_reports_its_coverage_of_what_the_program_can_reach() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (profile, stats, err) = learn_ls(dir.path(), "plain", &[]);
    let coverage = &stats["coverage"];
    let reachable = coverage["reachable"].as_u64().unwrap();
    let covered = coverage["covered"].as_u64().unwrap();
    assert!(reachable > 40, "ls reaches more than it uses: {coverage}");
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
    let under_plain = enforce(&plain);
    assert!(
        stderr(&under_plain).contains("denied"),
        "the plain profile refuses part of `ls -l`: {}",
        stderr(&under_plain)
    );
    let under_wide = enforce(&wide);
    assert!(under_wide.status.success(), "{}", stderr(&under_wide));
    assert!(
        stderr(&under_wide).contains("no syscall was denied"),
        "{}",
        stderr(&under_wide)
    );
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
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
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
