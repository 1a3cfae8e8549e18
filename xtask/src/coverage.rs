//! `cargo xtask coverage`: the precision of `scan`, per program: what a
//! small realistic run observed, what the program can reach, and Docker's
//! default, side by side, with the published figures of the research tools
//! beside them. Each program is recorded by the tool itself (`record
//! --stats`), whose coverage block holds the numbers.

use std::{path::Path, process::Command};

use anyhow::{Context, Result};

use crate::{
    demo::build_release,
    setup,
    workspace::{self, Workspace, display},
};

/// Docker's default allow-list on x86_64, unconditional (moby v0.2.3).
const DOCKER_DEFAULT: usize = 292;

/// The workloads: real programs of this machine's packages, with arguments
/// that make them do a little real work.
const WORKLOADS: &[(&str, &[&str])] = &[
    ("/bin/ls", &["-laR", "/etc/apt"]),
    ("/bin/cat", &["/etc/os-release"]),
    ("/usr/bin/sort", &["-r", "/etc/passwd"]),
    ("/usr/bin/git", &["--version"]),
    (
        "/usr/bin/python3",
        &["-c", "import json; print(json.dumps([1]))"],
    ),
    ("/usr/bin/perl", &["-e", "print sort(1,2)"]),
    (
        "/bin/busybox",
        &["sh", "-c", "ls / > /dev/null; wc -l /etc/passwd"],
    ),
    ("/usr/sbin/nginx", &["-t", "-q"]),
    ("/usr/sbin/runc", &["--help"]),
];

pub fn run(ws: &Workspace) -> Result<()> {
    setup::run()?;
    build_release(ws)?;
    let tool = ws.binary("release", "syscall-profile");
    let scratch = tempfile::tempdir().context("a scratch directory")?;
    println!("| program | observed | reachable | Docker's default | coverage |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (program, args) in WORKLOADS {
        if !Path::new(program).exists() {
            eprintln!("xtask coverage: {program} is not installed; left out");
            continue;
        }
        let stats = scratch.path().join("stats.json");
        let mut record = Command::new(&tool);
        record
            .args(["record", "-q", "-o", "-", "--stats"])
            .arg(&stats)
            .arg("--")
            .arg(program)
            .args(*args)
            .stdout(std::process::Stdio::null());
        eprintln!("xtask coverage: {}", display(&record));
        workspace::status(&mut record)?;
        let text = std::fs::read_to_string(&stats)
            .with_context(|| format!("reading {}", stats.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)?;
        let coverage = &value["coverage"];
        let (observed, reachable, covered) = (
            coverage["observed"].as_u64().unwrap_or(0),
            coverage["reachable"].as_u64().unwrap_or(0),
            coverage["covered"].as_u64().unwrap_or(0),
        );
        let percent = if reachable == 0 {
            100.0
        } else {
            100.0 * covered as f64 / reachable as f64
        };
        println!(
            "| `{program} {}` | {observed} | {reachable} | {DOCKER_DEFAULT} | {percent:.0} % |",
            args.join(" ")
        );
    }
    println!();
    println!(
        "Published, for comparison (not re-measured): B-Side (Middleware 2024), 43 syscalls \
         on average over 557 Debian binaries, F1 0.81; Confine (RAID 2020), at least 145 of \
         326 syscalls removable for more than half of 150 Docker images."
    );
    Ok(())
}
