//! `cargo xtask demo`: the README's first command. Records `threads 4` and
//! prints its profile on stdout; everything else goes to stderr.

use std::{
    os::unix::process::ExitStatusExt,
    process::{Command, ExitCode},
};

use anyhow::Result;

use crate::{
    setup,
    workspace::{self, Workspace, display},
};

pub fn run(ws: &Workspace) -> Result<ExitCode> {
    setup::run()?;
    build_release(ws)?;
    let mut record = Command::new(ws.binary("release", "syscall-profile"));
    record
        .args(["record", "--"])
        .arg(ws.binary("release", "threads"))
        .arg("4");
    eprintln!("xtask demo: {}", display(&record));
    let status = workspace::status(&mut record)?;
    // As a shell reports it: 128+N when signal N ended the recorder.
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `cargo build --release --workspace --bins`, its output kept off stdout.
pub fn build_release(ws: &Workspace) -> Result<()> {
    let mut build = ws.cargo(["build", "--release", "--workspace", "--bins"]);
    eprintln!("xtask: {}", display(&build));
    workspace::run(build.stdout(std::io::stderr()))
}
