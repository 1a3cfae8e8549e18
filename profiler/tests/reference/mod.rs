//! The upstream reference data a few tests compare the project's own data
//! with (Docker's default profile, the Security Profiles Operator's CRD),
//! which CI keeps beside the clone at `../shared/reference` from the
//! workspace root. The project itself never needs it, and no other test
//! does: what they need of it is the project's own data (the shipped
//! baselines, `tests/data/`).
//!
//! Where the data is absent, a test asking for it is not run: in CI (`CI`
//! set, as CI services set it) that is a failure naming the missing file;
//! elsewhere (a user's clone) the test says so in one line on stderr,
//! leaves the same line for `cargo xtask test`'s summary in the directory
//! [`NOT_RUN_DIR_VAR`] names, and returns.
#![allow(dead_code)]

use std::{
    fs,
    path::{Path, PathBuf},
};

/// The directory `cargo xtask test` reads, after the tests, for the lines
/// of the tests that were not run (one file each).
pub const NOT_RUN_DIR_VAR: &str = "SYSCALL_PROFILE_TEST_NOT_RUN_DIR";

/// `shared/reference` beside the workspace.
pub fn reference_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the profiler crate is inside the workspace");
    // `/clone/../shared` named as `/shared`, as a user would.
    workspace
        .parent()
        .unwrap_or(workspace)
        .join("shared/reference")
}

/// Whether this is a CI run: `CI` set to anything but empty, `0` or
/// `false` (GitHub's and GitLab's runners set `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// `shared/reference/NAME` for the calling test, when it is there. When it
/// is not: in CI, fails naming the path; elsewhere, says that the test was
/// not run and why, and gives `None` (the test then returns).
pub fn reference_file(name: &str) -> Option<PathBuf> {
    let path = reference_dir().join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "reference file {} is missing, and CI is set: CI must run the tests that compare the \
         project's data with the upstream reference data; put a copy of shared/ beside the \
         clone (at ../shared)",
        path.display()
    );
    not_run(&format!(
        "{} is absent (upstream reference data, beside the clone only in CI; CI=true makes \
         its absence a failure)",
        path.display()
    ));
    None
}

/// Says, in one line on stderr and in the summary's directory when there
/// is one, that the calling test was not run, and why.
fn not_run(why: &str) {
    let thread = std::thread::current();
    let test = format!(
        "{}::{}",
        env!("CARGO_CRATE_NAME"),
        thread.name().unwrap_or("(unnamed test)")
    );
    let line = format!("not run: {test}: {why}");
    eprintln!("{line}");
    if let Some(dir) = std::env::var_os(NOT_RUN_DIR_VAR) {
        let file = Path::new(&dir).join(test.replace(['/', ':'], "_"));
        // Never a silent pass: a test that cannot leave its line fails.
        fs::write(&file, format!("{test}: {why}\n")).unwrap_or_else(|e| {
            panic!(
                "cannot write {} ({NOT_RUN_DIR_VAR}): {e}; {line}",
                file.display()
            )
        });
    }
}
