//! `cargo xtask test`: the whole test suite, as CI runs it.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::{
    dist, docs, fuzz,
    install::{self, INSTALLED_VAR},
    python_tools::{self, KUBERNETES_VALIDATE_VAR},
    services::Services,
    setup,
    workspace::{self, Workspace},
};

const STEPS: usize = 6;

/// The directory the tests leave a line in for each test they did not run
/// (the upstream reference tests outside CI, where `../shared` is absent:
/// `profiler/tests/reference/mod.rs`).
const NOT_RUN_DIR_VAR: &str = "SYSCALL_PROFILE_TEST_NOT_RUN_DIR";

/// The release tarball `cargo xtask dist` made, for `tests/dist.rs`.
const DIST_TARBALL_VAR: &str = "SYSCALL_PROFILE_TEST_DIST_TARBALL";

/// The integration tests' module that needs the tarball.
const DIST_MODULE: &str = "dist";

/// Whether the tests asked for may include `tests/dist.rs` (the tarball,
/// and the `cargo install` binaries): all of them, or a filter that names
/// it. Building the release takes minutes, which a developer's look at
/// other tests does not pay.
fn wants_dist(test_args: &[OsString]) -> bool {
    test_args.is_empty()
        || test_args
            .iter()
            .any(|a| a.to_string_lossy().contains("dist"))
}

pub fn run(ws: &Workspace, test_args: &[OsString]) -> Result<()> {
    let mut not_run = Vec::new();
    step(1, "setup", setup::run)?;
    step(
        2,
        "formatting (cargo fmt, rustfmt of profiler-ebpf)",
        || {
            workspace::run(&mut ws.cargo(["fmt", "--all", "--", "--check"]))?;
            // profiler-ebpf is outside the workspace, so `cargo fmt --all` skips it.
            let mut rustfmt = std::process::Command::new("rustfmt");
            rustfmt
                .args(["--check", "--edition", "2024"])
                .arg(ws.root.join("profiler-ebpf/src/main.rs"))
                .current_dir(&ws.root);
            workspace::run(&mut rustfmt)
        },
    )?;
    step(
        3,
        "cargo clippy --workspace --all-targets -- -D warnings",
        || {
            workspace::run(&mut ws.cargo([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        },
    )?;
    let mut tools = None;
    let mut tarball: Option<PathBuf> = None;
    let mut release = None;
    let mut install_roots = None;
    step(
        4,
        "cargo build --workspace --bins; the book (mdBook), every link checked; the release \
         tarball (cargo xtask dist); cargo install --git and --path",
        || {
            fuzz::check_lock(ws)?;
            workspace::run(&mut ws.cargo(["build", "--workspace", "--bins"]))?;
            let installed =
                python_tools::ensure(ws).context("installing kubernetes-validate and mdBook")?;
            docs::check(ws, &installed.mdbook)?;
            tools = Some(installed);
            if wants_dist(test_args) {
                install::from_git(ws)?;
                install_roots = Some(install::from_path(ws)?);
                // A filtered run's one cargo test needs the tarball first;
                // the whole suite builds it beside the tests, and runs
                // the tests that need it last.
                match test_args.is_empty() {
                    true => release = Some(dist::start(ws)?),
                    false => tarball = Some(dist::run(ws)?),
                }
            } else {
                eprintln!(
                    "xtask test: the release tarball and the cargo install check: not built, \
                     the tests were filtered"
                );
            }
            Ok(())
        },
    )?;
    let validator = tools
        .map(|t| t.kubernetes_validate)
        .context("step 4 installed no tools")?;
    // The fuzz targets build while the tests run (an unfiltered run only).
    let prebuild = match test_args.is_empty() {
        true => Some(fuzz::prebuild(ws)?),
        false => None,
    };
    step(5, "cargo test --workspace", || {
        // Stopped when this closure returns, whether the tests passed or not.
        let services = Services::start(ws).context("starting the test services")?;
        let notes = tempfile::tempdir().context("cannot make a temporary directory")?;
        let cargo_test = |args: &[&str], tarball: Option<&Path>| {
            let mut test = ws.cargo(["test", "--no-fail-fast"]);
            test.args(args)
                .envs(services.env.iter().cloned())
                .env(KUBERNETES_VALIDATE_VAR, &validator)
                .env(NOT_RUN_DIR_VAR, notes.path());
            if let Some(tarball) = tarball {
                test.env(DIST_TARBALL_VAR, tarball);
            }
            if let Some(roots) = &install_roots {
                test.env(INSTALLED_VAR, roots);
            }
            test
        };
        let result = match test_args.is_empty() {
            true => all_tests(&cargo_test, release.take().map(|r| move || r.finish(ws))),
            // A developer's look at a few tests: one run, filtered.
            false => {
                workspace::run(cargo_test(&["--workspace"], tarball.as_deref()).args(test_args))
            }
        };
        // Said whether the tests passed or not: a test not run is never
        // taken for one that passed.
        not_run = not_run_lines(notes.path())?;
        for line in &not_run {
            eprintln!("xtask test: not run: {line}");
        }
        result
    })?;
    if test_args.is_empty() {
        step(6, "fuzz targets, each for its bounded time", || {
            if let Some(prebuild) = prebuild {
                prebuild.wait()?;
            }
            fuzz::run(ws, &fuzz::Options::all())
        })?;
    } else {
        // A filtered run is a developer's look at a few tests: minutes of
        // fuzzing are not what was asked (CI runs the suite unfiltered).
        eprintln!(
            "xtask test: [6/{STEPS}] fuzz targets: not run, the tests were filtered (`cargo xtask \
             fuzz` runs them)"
        );
    }
    let steps = match test_args.is_empty() {
        true => format!("all {STEPS} steps passed"),
        false => "steps 1-5 passed (step 6, fuzzing, not run: the tests were filtered)".to_owned(),
    };
    match not_run.len() {
        0 => eprintln!("xtask test: {steps}"),
        n => eprintln!(
            "xtask test: {steps}; {n} test(s) not run, named above (with CI=true they fail \
             instead)"
        ),
    }
    Ok(())
}

/// The integration tests' binary (`profiler/tests/main.rs`).
const INTEGRATION: &str = "integration";

/// Every test of the workspace: the unit tests of each crate, then the
/// integration tests one module at a time. The modules share one binary
/// (one link of the crate instead of one per file) but each was written to
/// have the machine to itself while its tests run (`trust` kills runs and
/// checks what the next one cleans up; `containers` counts the containers
/// it left), as each had when it was a binary of its own; so each module
/// is a run of its own, its tests in parallel as before. Every module runs
/// whatever failed before it. `tests/dist.rs`'s module runs last, once
/// `release` (the release build started beside the tests) is packed.
fn all_tests(
    cargo_test: &dyn Fn(&[&str], Option<&Path>) -> Command,
    release: Option<impl FnOnce() -> Result<PathBuf>>,
) -> Result<()> {
    let mut failed = Vec::new();
    let units = cargo_test(&["--workspace", "--lib", "--bins"], None);
    let docs = cargo_test(&["--workspace", "--doc"], None);
    for mut run in [units, docs] {
        if let Err(error) = workspace::run(&mut run) {
            failed.push(format!("{error:#}"));
        }
    }
    let listing = cargo_test(
        &[
            "-p",
            "syscall-profile",
            "--test",
            INTEGRATION,
            "--",
            "--list",
        ],
        None,
    )
    .stderr(Stdio::inherit())
    .output()
    .context("cannot list the integration tests")?;
    if !listing.status.success() {
        bail!(
            "cannot list the integration tests ({}): the build failed, above",
            listing.status
        );
    }
    let mut modules: Vec<(String, Vec<String>)> =
        modules(&String::from_utf8_lossy(&listing.stdout))
            .into_iter()
            .collect();
    if modules.is_empty() {
        bail!("the integration tests' binary lists no test");
    }
    // The tests of the tarball last: its build goes on beside the others.
    modules.sort_by_key(|(module, _)| module == DIST_MODULE);
    let mut release = release;
    let count = modules.len();
    for (index, (module, tests)) in modules.iter().enumerate() {
        eprintln!(
            "xtask test: integration module {}/{count} `{module}` ({} tests)",
            index + 1,
            tests.len()
        );
        let mut tarball = None;
        if module == DIST_MODULE
            && let Some(finish) = release.take()
        {
            match finish() {
                Ok(path) => tarball = Some(path),
                Err(error) => {
                    failed.push(format!("the release tarball: {error:#}"));
                    continue;
                }
            }
        }
        let mut args = vec![
            "-p",
            "syscall-profile",
            "--test",
            INTEGRATION,
            "--",
            "--exact",
        ];
        args.extend(tests.iter().map(String::as_str));
        if let Err(error) = workspace::run(&mut cargo_test(&args, tarball.as_deref())) {
            failed.push(format!("integration module `{module}`: {error:#}"));
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => bail!("{} run(s) failed:\n  {}", failed.len(), failed.join("\n  ")),
    }
}

/// The tests of a `--list` output (`NAME: test` lines), by their first
/// module, in name order.
fn modules(listing: &str) -> BTreeMap<String, Vec<String>> {
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in listing.lines().filter_map(|l| l.strip_suffix(": test")) {
        let module = name.split_once("::").map_or(name, |(module, _)| module);
        modules
            .entry(module.to_owned())
            .or_default()
            .push(name.to_owned());
    }
    modules
}

/// The lines the tests left in `dir`, one file each, in name order.
fn not_run_lines(dir: &Path) -> Result<Vec<String>> {
    let mut files = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    files.sort();
    files
        .iter()
        .map(|file| {
            fs::read_to_string(file)
                .map(|text| text.trim().to_owned())
                .with_context(|| format!("cannot read {}", file.display()))
        })
        .collect()
}

/// Runs step `index`, and says how long it took (the suite's budget on CI
/// is 20 minutes on 2 cores), whether it passed or not.
fn step(index: usize, title: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("xtask test: [{index}/{STEPS}] {title}");
    let started = std::time::Instant::now();
    let result = body().with_context(|| format!("step {index}/{STEPS} ({title}) failed"));
    eprintln!(
        "xtask test: step {index}/{STEPS} took {} s",
        started.elapsed().as_secs()
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_run_lines_are_read_one_a_file_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(not_run_lines(dir.path()).unwrap().is_empty());
        fs::write(dir.path().join("b__t"), "b::t: why\n").unwrap();
        fs::write(dir.path().join("a__t"), "a::t: because\n").unwrap();
        assert_eq!(
            not_run_lines(dir.path()).unwrap(),
            ["a::t: because", "b::t: why"]
        );
    }

    #[test]
    fn the_tarball_is_built_for_every_run_that_may_test_it() {
        assert!(wants_dist(&[]));
        assert!(wants_dist(&["dist::".into()]));
        assert!(wants_dist(&["dist::tarball".into(), "--".into()]));
        assert!(!wants_dist(&["record_cli::".into()]));
    }

    #[test]
    fn the_listing_is_grouped_by_first_module() {
        let listing = "b::x: test\na::y::z: test\na::w: test\n\n3 tests, 0 benchmarks\n";
        let modules = modules(listing);
        assert_eq!(
            modules.into_iter().collect::<Vec<_>>(),
            [
                (
                    "a".to_owned(),
                    vec!["a::y::z".to_owned(), "a::w".to_owned()]
                ),
                ("b".to_owned(), vec!["b::x".to_owned()]),
            ]
        );
    }
}
