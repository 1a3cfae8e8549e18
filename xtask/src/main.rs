//! `cargo xtask`: the project's tasks that cargo alone cannot do.
//!
//! - `setup`: Debian packages and a bpf-linker built against this toolchain's
//!   LLVM (root only; idempotent).
//! - `test`: the whole test suite, as CI runs it (`.ci/run`).
//! - `fuzz`: builds the fuzz targets and runs each for a bounded time
//!   (also the suite's last step).
//! - `dist`: the release tarball (static binary, completions, man pages).
//! - `demo`: records a sample program and prints its profile.
//! - `docs`: builds the book and checks the documentation's links.
//! - `coverage`: the precision of `scan`, program by program.
//! - `bench`: what recording and enforcing cost, against bpftrace, strace
//!   and Docker's default profile; writes BENCHMARKS.md and benchmarks.svg.
//! - `bench-hooks`: measures what each eBPF hook type costs per syscall.
//! - `baseline` (or `docker-baseline`): writes an engine-default baseline
//!   the tool ships (Docker's current, Docker 20.10's, podman's, containerd's).
//!
//! Progress lines go to standard error, so that `demo` and `bench-hooks` keep
//! standard output for their results.

mod background;
mod bench;
mod coverage;
mod demo;
mod dist;
mod docker_baseline;
mod docs;
mod dry;
mod fuzz;
mod images;
mod install;
mod python_tools;
mod runtime_base;
mod services;
mod setup;
mod suite;
mod workspace;

use std::{ffi::OsString, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::workspace::Workspace;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Set-up, test, demo and bench tasks of syscall-profile"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what building and testing need (as root; installs only what
    /// is missing): Debian packages, and bpf-linker cached per toolchain.
    Setup {
        /// Only bpf-linker, which building the binary needs (any user; into
        /// `${XDG_CACHE_HOME:-~/.cache}/syscall-profile/bpf-linker/`).
        #[arg(long)]
        bpf_linker: bool,
    },
    /// Build the release tarball: target/dist/syscall-profile-VERSION-TARGET.tar.gz
    /// (a static binary, shell completions, man pages, licences, a README)
    /// and its .sha256.
    Dist,
    /// Run the whole test suite, as CI does: setup, fmt, clippy, build, tests,
    /// then the fuzz targets for their bounded time (`fuzz`; not when the
    /// tests are filtered by arguments).
    /// The tests that compare the shipped data with upstream reference files
    /// (`../shared/reference` beside the clone) run where those are present;
    /// elsewhere they are named at the end as not run, unless `CI` is set,
    /// where their absence fails them.
    Test {
        /// Extra arguments for `cargo test --workspace`, e.g. a test name
        /// filter: `cargo xtask test -- NAME [-- --nocapture]`.
        #[arg(
            value_name = "CARGO_TEST_ARGS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<OsString>,
    },
    /// Build the fuzz targets (fuzz/) with libFuzzer's coverage
    /// instrumentation on the stable toolchain and run each for a bounded
    /// time (60 s, or SYSCALL_PROFILE_FUZZ_SECONDS outside CI) on its seed
    /// corpus; an input that fails a target is kept in
    /// fuzz/regressions/TARGET/ and named.
    Fuzz(fuzz::Options),
    /// Build release and record `threads 4`, printing its profile on stdout.
    Demo,
    /// Build the book (`docs/`, mdBook into target/book) and check every
    /// relative link of it, the README, CONTRIBUTING.md and deploy/README.md.
    Docs,
    /// Measure what recording and enforcing cost, against bpftrace, strace and
    /// Docker's default profile; write BENCHMARKS.md and benchmarks.svg.
    Bench(bench::Options),
    /// The precision of `scan` per program: observed, reachable and Docker's
    /// default side by side (a markdown table on stdout).
    Coverage,
    /// Measure the cost per syscall of each hook type, watched and unwatched.
    BenchHooks(bench::HooksOptions),
    /// Derive the runtime base sets shipped in profiler/data/runtime-base/
    /// by recording many runs of a trivial container with each engine.
    RuntimeBase(runtime_base::Options),
    /// Write an engine-default baseline the tool ships
    /// (profiler/data/NAME-baseline.json) from the engine's profile.
    #[command(alias = "docker-baseline")]
    Baseline(docker_baseline::Options),
    /// (For `bench`.) Run a command and write its peak RSS to a file.
    #[command(hide = true)]
    PeakRss(bench::child::PeakRss),
    /// (For `bench`.) Print the peak RSS that parsing the kernel's BTF adds.
    #[command(hide = true)]
    BtfParse,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Workspace::locate().and_then(|ws| match cli.task {
        Task::Setup { bpf_linker: false } => setup::run().map(|()| ExitCode::SUCCESS),
        Task::Setup { bpf_linker: true } => setup::bpf_linker_only().map(|()| ExitCode::SUCCESS),
        Task::Dist => dist::run(&ws).map(|tarball| {
            println!("{}", tarball.display());
            ExitCode::SUCCESS
        }),
        Task::Test { args } => suite::run(&ws, &args).map(|()| ExitCode::SUCCESS),
        Task::Fuzz(options) => fuzz::run(&ws, &options).map(|()| ExitCode::SUCCESS),
        Task::Demo => demo::run(&ws),
        Task::Docs => python_tools::ensure(&ws)
            .and_then(|tools| docs::check(&ws, &tools.mdbook))
            .map(|()| ExitCode::SUCCESS),
        Task::Coverage => coverage::run(&ws).map(|()| ExitCode::SUCCESS),
        Task::Bench(options) => bench::run(&ws, &options).map(|()| ExitCode::SUCCESS),
        Task::BenchHooks(options) => bench::run_hooks(&ws, &options).map(|()| ExitCode::SUCCESS),
        Task::RuntimeBase(options) => runtime_base::run(&ws, &options).map(|()| ExitCode::SUCCESS),
        Task::Baseline(options) => docker_baseline::run(&ws, &options).map(|()| ExitCode::SUCCESS),
        Task::PeakRss(args) => bench::child::peak_rss(&args),
        Task::BtfParse => bench::child::btf_parse(),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_args(argv: &[&str]) -> Vec<OsString> {
        match Cli::try_parse_from(argv).map(|cli| cli.task) {
            Ok(Task::Test { args }) => args,
            Ok(_) => panic!("{argv:?} parsed as another task"),
            Err(e) => panic!("{argv:?}: {e}"),
        }
    }

    #[test]
    fn test_passes_extra_arguments_to_cargo_test() {
        assert!(test_args(&["xtask", "test"]).is_empty());
        assert_eq!(test_args(&["xtask", "test", "exact"]), ["exact"]);
        assert_eq!(test_args(&["xtask", "test", "--", "exact"]), ["exact"]);
        assert_eq!(
            test_args(&["xtask", "test", "--", "exact", "--", "--nocapture"]),
            ["exact", "--", "--nocapture"]
        );
        assert_eq!(
            test_args(&["xtask", "test", "--no-fail-fast"]),
            ["--no-fail-fast"]
        );
    }
}
