//! `cargo xtask test`: the whole test suite, as CI runs it.

use std::ffi::OsString;

use anyhow::{Context, Result};

use crate::{
    services::Services,
    setup,
    workspace::{self, Workspace},
};

const STEPS: usize = 5;

pub fn run(ws: &Workspace, test_args: &[OsString]) -> Result<()> {
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
    step(4, "cargo build --workspace --bins", || {
        workspace::run(&mut ws.cargo(["build", "--workspace", "--bins"]))
    })?;
    step(5, "cargo test --workspace", || {
        // Stopped when this closure returns, whether the tests passed or not.
        let services = Services::start(ws).context("starting the test services")?;
        let mut test = ws.cargo(["test", "--workspace", "--no-fail-fast"]);
        test.args(test_args).envs(services.env.iter().cloned());
        workspace::run(&mut test)
    })?;
    eprintln!("xtask test: all {STEPS} steps passed");
    Ok(())
}

fn step(index: usize, title: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("xtask test: [{index}/{STEPS}] {title}");
    body().with_context(|| format!("step {index}/{STEPS} ({title}) failed"))
}
