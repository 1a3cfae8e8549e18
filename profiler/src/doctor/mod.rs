//! `doctor`: what works on this host, and why not, as a [`Report`] of
//! [`Check`]s. Each check looks at the real thing the tool would use (the
//! kernel's BTF, the cgroup2 tree, a cgroup made and removed, the counting
//! program loaded, attached and detached, a seccomp filter with a listener
//! installed on a throwaway thread, each engine asked its version), and says
//! what it found, how much it matters and what to do about it. The command
//! line renders it (`cli/doctor.rs`); nothing here prints.
//!
//! A [`Status::Fail`] is kept for what stops `record` or `enforce` of a
//! native command; what only narrows what the tool can do (no BTF: the raw
//! tracepoint counts; no engine; no systemd) is a [`Status::Warn`].

mod engines;
mod host;
mod kernel_side;

use std::time::Duration;

use serde::Serialize;

use crate::session::DOCTOR_HINT;

/// `message` without the [`DOCTOR_HINT`] it ends with, for the report of
/// `doctor` itself.
fn without_hint(message: impl std::fmt::Display) -> String {
    let message = message.to_string();
    match message.strip_suffix(DOCTOR_HINT) {
        Some(rest) => rest.trim_end_matches([';', ' ']).to_owned(),
        None => message,
    }
}

/// The name of the JSON report's schema, written in every report.
pub(crate) const SCHEMA: &str = "syscall-profile/doctor/v1";

/// How long each engine is given to say its version: a daemon that does
/// not answer is named in that time instead of holding the report up.
const ENGINE_LIMIT: Duration = Duration::from_secs(3);

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Works.
    Ok,
    /// Works in part, or something beside a native run does not.
    Warn,
    /// `record` or `enforce` of a native command will not work.
    Fail,
}

/// One finding: what was looked at, what was found, and what to do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// What was looked at (`kernel`, `btf`, `cgroup`, `engine docker`, …).
    pub name: String,
    pub status: Status,
    /// What was found, in one line.
    pub detail: String,
    /// What to do about it, where something can be done.
    pub fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// The cgroup layout of the host, from its mount table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CgroupMode {
    /// cgroup2 alone, at `/sys/fs/cgroup`.
    PureV2,
    /// cgroup v1 hierarchies, with the unified (cgroup2) mount beside them.
    Hybrid,
    /// cgroup v1 only: no cgroup2 mount, so nothing can be recorded.
    V1Only,
    /// No cgroup filesystem mounted at all.
    None,
}

/// What the checks found, as facts a program can read (the JSON report).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Facts {
    /// The running kernel's release (`uname -r`).
    pub kernel: String,
    /// The kernel publishes its BTF, and the fields the programs read are
    /// in it.
    pub btf: bool,
    pub cgroup_mode: CgroupMode,
    /// The cgroup2 mount runs are made under.
    pub cgroup2_mount: Option<String>,
    /// The cgroup2 mount shows the host's whole tree (not a cgroup
    /// namespace's part); `None` where it could not be told.
    pub whole_tree: Option<bool>,
    /// Root, or CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN).
    pub privileged: bool,
    /// tracefs is mounted (needed by `--hook tracepoint` only).
    pub tracefs: bool,
    /// The counting program loaded and attached (then detached): the hook
    /// it went on with, `None` where it did not.
    pub counting_program: Option<&'static str>,
    /// A seccomp filter can be installed (what `enforce` runs under).
    pub seccomp_filter: bool,
    /// A seccomp listener can be had (`enforce`'s cheap denial watch).
    pub seccomp_listener: bool,
    pub engines: Vec<engines::EngineFacts>,
    /// `systemctl` is in PATH.
    pub systemctl: bool,
    /// PID 1 is systemd.
    pub systemd_pid1: bool,
}

/// Everything `doctor` found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub schema: &'static str,
    /// `record` and `enforce` of a native command will work: no check
    /// failed.
    pub ready: bool,
    pub checks: Vec<Check>,
    pub facts: Facts,
}

/// Looks at the host: every check, the engines' beside the others.
pub(crate) fn examine() -> Report {
    let engines = std::thread::spawn(|| engines::examine(ENGINE_LIMIT));
    let mut checks = Vec::new();
    let kernel = host::kernel(&mut checks);
    let btf = host::btf(&mut checks);
    let privileged = host::privileges(&mut checks);
    let cgroup = host::cgroup(&mut checks, privileged);
    let tracefs = host::tracefs(&mut checks);
    let counting_program = kernel_side::counting_program(&mut checks, privileged, &cgroup);
    let (seccomp_filter, seccomp_listener) = kernel_side::seccomp(&mut checks);
    let (engine_checks, engines) = engines.join().unwrap_or_else(|_| {
        (
            vec![Check::new(
                "engines",
                Status::Warn,
                "the engines could not be asked (the thread asking them failed)",
            )],
            Vec::new(),
        )
    });
    checks.extend(engine_checks);
    let (systemctl, systemd_pid1) = host::systemd(&mut checks);
    let ready = checks.iter().all(|c| c.status != Status::Fail);
    Report {
        schema: SCHEMA,
        ready,
        checks,
        facts: Facts {
            kernel,
            btf,
            cgroup_mode: cgroup.mode,
            cgroup2_mount: cgroup
                .mount
                .as_ref()
                .map(|m| m.to_string_lossy().into_owned()),
            whole_tree: cgroup.whole_tree,
            privileged,
            tracefs,
            counting_program,
            seccomp_filter,
            seccomp_listener,
            engines,
            systemctl,
            systemd_pid1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{CgroupMode, host::mode_of};

    #[test]
    fn the_cgroup_mode_is_read_from_the_mount_table() {
        let v1 = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu";
        let unified = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
        let pure = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw";
        assert_eq!(mode_of(&format!("{v1}\n{unified}\n")), CgroupMode::Hybrid);
        assert_eq!(mode_of(&format!("{pure}\n")), CgroupMode::PureV2);
        assert_eq!(mode_of(&format!("{v1}\n")), CgroupMode::V1Only);
        assert_eq!(mode_of(""), CgroupMode::None);
    }
}
