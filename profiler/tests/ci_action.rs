//! The CI gate where teams run it: the GitHub Action (`action.yml`, whose
//! steps are `ci/action/install.sh` and `ci/action/check.sh`) and the
//! GitLab template (`ci/gitlab-seccomp.yml`). No runner can be reached
//! from here, so the steps run as the action runs them, as scripts, on a
//! sample repository: the install checks the release's SHA-256 before it
//! unpacks anything; the gate passes on the committed policy and fails,
//! naming the syscall, after a change that adds one, in its exit status,
//! its GitHub annotations, its JUnit report and the job summary.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

use crate::common::{profiler, require_root, sample, stderr, stdout};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn script(name: &str) -> PathBuf {
    repo_root().join("ci/action").join(name)
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=ci", "-c", "user.email=ci@example.invalid"])
        .args(args)
        .current_dir(repo)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

/// A release directory as GitHub serves one: the tarball (this build's
/// binary in a versioned directory) and its `.sha256`.
fn release(dir: &Path, version: &str) -> PathBuf {
    let release = dir.join("release");
    let unpacked = dir.join(format!("syscall-profile-{version}"));
    fs::create_dir_all(&release).unwrap();
    fs::create_dir_all(&unpacked).unwrap();
    fs::copy(profiler(), unpacked.join("syscall-profile")).unwrap();
    let name = format!("syscall-profile-{version}-x86_64-unknown-linux-gnu-static.tar.gz");
    let made = Command::new("tar")
        .arg("-czf")
        .arg(release.join(&name))
        .arg("-C")
        .arg(dir)
        .arg(format!("syscall-profile-{version}"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let sum = Command::new("sha256sum")
        .arg(&name)
        .current_dir(&release)
        .output()
        .unwrap();
    fs::write(release.join(format!("{name}.sha256")), stdout(&sum)).unwrap();
    release
}

fn install(release: &Path, version: &str, into: &Path, github_path: &Path) -> Output {
    Command::new(script("install.sh"))
        .env("INPUT_VERSION", version)
        .env("INPUT_RELEASE_URL", format!("file://{}", release.display()))
        .env("INPUT_INSTALL_DIR", into)
        .env("GITHUB_PATH", github_path)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs the gate step in `repo`, as the action's second step does.
fn check(repo: &Path, tool: &Path, summary: &Path) -> Output {
    Command::new(script("check.sh"))
        .current_dir(repo)
        .env("SYSCALL_PROFILE", tool)
        .env("INPUT_POLICY", "seccomp/policy.json")
        .env("INPUT_COMMAND", "./run-tests")
        .env("INPUT_REPORTS", "reports")
        .env("GITHUB_STEP_SUMMARY", summary)
        .env("GITHUB_ACTIONS", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The repository's test script: the `call` sample making `calls`.
fn write_tests(repo: &Path, calls: &str) {
    let path = repo.join("run-tests");
    fs::write(
        &path,
        format!("#!/bin/sh\nexec {} {calls}\n", sample("call").display()),
    )
    .unwrap();
    let made = Command::new("chmod").arg("+x").arg(&path).output().unwrap();
    assert!(made.status.success());
}

#[test]
fn the_actions_steps_gate_a_sample_repository() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let version = "9.9.9";
    let release = release(dir.path(), version);
    // A tarball whose checksum does not match is not installed.
    let name = format!("syscall-profile-{version}-x86_64-unknown-linux-gnu-static.tar.gz");
    let good_sum = fs::read_to_string(release.join(format!("{name}.sha256"))).unwrap();
    fs::write(
        release.join(format!("{name}.sha256")),
        format!("{}  {name}\n", "0".repeat(64)),
    )
    .unwrap();
    let refused_into = dir.path().join("refused");
    let refused = install(&release, version, &refused_into, &dir.path().join("path0"));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("does not match its published SHA-256"));
    assert!(!refused_into.join("bin/syscall-profile").exists());
    fs::write(release.join(format!("{name}.sha256")), good_sum).unwrap();
    // The install step, as the action runs it.
    let github_path = dir.path().join("github_path");
    let installed = install(&release, version, &dir.path().join("tool"), &github_path);
    assert!(installed.status.success(), "{}", stderr(&installed));
    let bin = PathBuf::from(stdout(&installed).lines().last().unwrap_or_default());
    assert_eq!(
        fs::read_to_string(&github_path).unwrap().trim(),
        bin.to_str().unwrap()
    );
    let tool = bin.join("syscall-profile");
    assert!(tool.is_file());

    // The sample repository, its policy recorded and committed.
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("seccomp")).unwrap();
    write_tests(&repo, "getcpu");
    let recorded = Command::new(&tool)
        .args([
            "record",
            "-q",
            "-o",
            "seccomp/policy.json",
            "--",
            "./run-tests",
        ])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "policy"]);

    let summary = dir.path().join("summary.md");
    let passed = check(&repo, &tool, &summary);
    assert_eq!(passed.status.code(), Some(0), "{}", stderr(&passed));
    assert!(!stdout(&passed).contains("::error"), "{}", stdout(&passed));
    assert!(fs::read_to_string(&summary).unwrap().contains("Passed"));

    // A change that adds a syscall fails the gate, naming it everywhere.
    write_tests(&repo, "getcpu sysinfo");
    git(&repo, &["commit", "-q", "-am", "the tests call sysinfo"]);
    fs::remove_file(&summary).unwrap();
    let failed = check(&repo, &tool, &summary);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let annotations: Vec<String> = stdout(&failed)
        .lines()
        .filter(|l| l.starts_with("::error"))
        .map(str::to_owned)
        .collect();
    assert!(
        annotations.iter().any(|l| l.contains("sysinfo")),
        "{annotations:?}"
    );
    let junit = fs::read_to_string(repo.join("reports/seccomp-junit.xml")).unwrap();
    assert!(
        junit.contains("sysinfo") && junit.contains("<failure"),
        "{junit}"
    );
    let json: Value =
        serde_json::from_str(&fs::read_to_string(repo.join("reports/seccomp-check.json")).unwrap())
            .unwrap();
    assert!(json.to_string().contains("sysinfo"), "{json}");
    let written = fs::read_to_string(&summary).unwrap();
    assert!(written.contains("Failed"), "{written}");
    assert!(written.contains("sysinfo"), "the summary's diff: {written}");
}

/// The action and the GitLab template run these scripts, with the inputs
/// they read, and keep the reports.
#[test]
fn the_action_and_the_gitlab_template_run_the_tested_steps() {
    let action: Value =
        serde_norway::from_str(&fs::read_to_string(repo_root().join("action.yml")).unwrap())
            .unwrap();
    assert_eq!(action["runs"]["using"], "composite");
    for input in ["version", "policy", "command"] {
        assert_eq!(action["inputs"][input]["required"], true, "{input}");
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.iter().any(|r| r.contains("ci/action/install.sh")));
    assert!(runs.iter().any(|r| r.contains("ci/action/check.sh")));
    assert!(steps.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact"))
            && s["if"] == "always()"
    }));
    let gitlab: Value = serde_norway::from_str(
        &fs::read_to_string(repo_root().join("ci/gitlab-seccomp.yml")).unwrap(),
    )
    .unwrap();
    let job = &gitlab[".syscall-profile-check"];
    assert!(
        job["artifacts"]["reports"]["junit"]
            .as_str()
            .is_some_and(|j| j.ends_with("seccomp-junit.xml"))
    );
    let job_script = job["script"].to_string();
    assert!(
        job_script.contains("install.sh") && job_script.contains("check.sh"),
        "{job_script}"
    );
    for shell in ["install.sh", "check.sh"] {
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(script(shell))
            .output()
            .unwrap();
        assert!(syntax.status.success(), "{shell}: {}", stderr(&syntax));
    }
}
