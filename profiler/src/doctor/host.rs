//! The host's side of `doctor`: the kernel and its BTF, the cgroup tree,
//! the privileges, tracefs, systemd.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

use super::{CgroupMode, Check, Status, without_hint};
use crate::{
    choice::Choice,
    profile::{KernelVersion, effective_capabilities},
    session::{
        CgroupError, Kind, RunCgroup,
        cgroup::{cgroup2_mount, root_level},
        ebpf::{TRACEFS, check_privileges},
        events::{Watch, without_layout},
        hook::Hook,
        layout::{VMLINUX_BTF, kernel_types},
    },
};

/// The first kernel with `cgroup.kill`, by which a run ends what its
/// command left behind.
const CGROUP_KILL: KernelVersion = KernelVersion {
    major: 5,
    minor: 14,
};

/// The running kernel's release, and whether it is recent enough.
pub(super) fn kernel(checks: &mut Vec<Check>) -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_owned())
        .unwrap_or_default();
    let check = match KernelVersion::from_release(&release) {
        Some(version) if version >= CGROUP_KILL => {
            Check::new("kernel", Status::Ok, format!("Linux {release}"))
        }
        Some(_) => Check::new(
            "kernel",
            Status::Warn,
            format!(
                "Linux {release}: before 5.14 there is no cgroup.kill, by which a run ends what \
                 its command left running"
            ),
        )
        .fix("a kernel from 5.14 on"),
        None => Check::new(
            "kernel",
            Status::Warn,
            format!("cannot tell the kernel's version from {release:?}"),
        ),
    };
    checks.push(check);
    release
}

/// Whether the kernel publishes its BTF with the fields the programs read.
pub(super) fn btf(checks: &mut Vec<Check>) -> bool {
    match kernel_types() {
        Ok(kernel) => {
            let hook = match kernel.tracepoint_btf() {
                Ok(_) => Hook::BtfTracepoint,
                Err(_) => Hook::RawTracepoint,
            };
            checks.push(Check::new(
                "btf",
                Status::Ok,
                format!(
                    "{VMLINUX_BTF}: the default hook is {}, and processes leaving a run's \
                     cgroup and the programs it executes are watched",
                    hook.name()
                ),
            ));
            true
        }
        Err(e) => {
            checks.push(
                Check::new(
                    "btf",
                    Status::Warn,
                    format!(
                        "{e}: counting takes the raw tracepoint, `--hook btf-tracepoint` and \
                         the node agent cannot work, and no run watches for {}",
                        without_layout(Watch::Recording)
                    ),
                )
                .fix("a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's is)"),
            );
            false
        }
    }
}

/// Root, or CAP_BPF and CAP_PERFMON.
pub(super) fn privileges(checks: &mut Vec<Check>) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    match check_privileges() {
        Ok(()) => {
            let who = match euid {
                0 => "root".to_owned(),
                uid => format!("uid {uid}"),
            };
            checks.push(Check::new(
                "privileges",
                Status::Ok,
                format!(
                    "{who}, with the capabilities eBPF needs (effective {:#x})",
                    effective_capabilities()
                ),
            ));
            true
        }
        Err(_) => {
            checks.push(
                Check::new(
                    "privileges",
                    Status::Fail,
                    format!(
                        "uid {euid} without CAP_BPF and CAP_PERFMON (effective capabilities \
                         {:#x}): record and enforce load eBPF programs and make cgroups",
                        effective_capabilities()
                    ),
                )
                .fix("run it as root (sudo), or with CAP_BPF, CAP_PERFMON and write access to the cgroup2 tree"),
            );
            false
        }
    }
}

/// What the cgroup check found: the layout, the mount runs go under, and
/// a cgroup made there (removed when dropped).
pub(super) struct Cgroups {
    pub mode: CgroupMode,
    pub mount: Option<PathBuf>,
    pub whole_tree: Option<bool>,
    /// A cgroup made for the counting program's check, as a run makes
    /// one; `None` where it could not be made.
    pub throwaway: Option<RunCgroup>,
}

/// The cgroup layout of a mountinfo text.
pub(super) fn mode_of(mountinfo: &str) -> CgroupMode {
    let mut v1 = false;
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        match right.split_whitespace().next() {
            Some("cgroup") => v1 = true,
            Some("cgroup2") => v2 = left.split_whitespace().nth(4).map(str::to_owned),
            _ => {}
        }
    }
    match (v1, v2) {
        (false, Some(_)) => CgroupMode::PureV2,
        (true, Some(_)) => CgroupMode::Hybrid,
        (true, None) => CgroupMode::V1Only,
        (false, None) => CgroupMode::None,
    }
}

/// The cgroup2 mount, whether it shows the whole tree, and a cgroup made
/// and (with the [`Cgroups`]) removed there.
pub(super) fn cgroup(checks: &mut Vec<Check>, privileged: bool) -> Cgroups {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mode = mode_of(&mountinfo);
    let mut found = Cgroups {
        mode,
        mount: None,
        whole_tree: None,
        throwaway: None,
    };
    let mount = match cgroup2_mount() {
        Ok(mount) => mount,
        Err(e) => {
            let what = match mode {
                CgroupMode::V1Only => "cgroup v1 only",
                _ => "no cgroup filesystem",
            };
            checks.push(
                Check::new(
                    "cgroup",
                    Status::Fail,
                    format!("{what}: {}", without_hint(e)),
                )
                .fix("boot with systemd.unified_cgroup_hierarchy=1, or mount cgroup2 beside v1"),
            );
            return found;
        }
    };
    let layout = match mode {
        CgroupMode::PureV2 => "pure cgroup v2",
        _ => "hybrid (cgroup v1, with the unified cgroup2 mount)",
    };
    found.mount = Some(mount.clone());
    let level = root_level(&mount);
    found.whole_tree = match &level {
        Ok(level) => Some(*level == 0),
        Err(CgroupError::OwnNamespace { .. } | CgroupError::PartMounted { .. }) => Some(false),
        Err(_) => None,
    };
    let (status, tree, fix) = match &level {
        Ok(0) => (Status::Ok, "the host's whole tree".to_owned(), None),
        Ok(level) => (
            Status::Warn,
            format!(
                "a cgroup namespace's part of the tree, at level {level}: native runs work, \
                 an engine's containers cannot be recorded or enforced from here"
            ),
            Some("run it in the host's cgroup namespace (`nsenter -t 1 -C`)"),
        ),
        Err(e) => (Status::Fail, without_hint(e), None),
    };
    let mut check = Check::new(
        "cgroup",
        status,
        format!("{layout} at {}: {tree}", mount.display()),
    );
    if let Some(fix) = fix {
        check = check.fix(fix);
    }
    checks.push(check);
    if level.is_err() {
        return found;
    }
    match RunCgroup::create(Kind::Record, 0) {
        Ok(made) => {
            found.throwaway = Some(made);
        }
        Err(e) => {
            let mut check = Check::new("cgroup write", Status::Fail, without_hint(e));
            if !privileged {
                check = check.fix("run it as root (sudo)");
            }
            checks.push(check);
        }
    }
    found
}

/// Whether tracefs is mounted (only `--hook tracepoint` needs it).
pub(super) fn tracefs(checks: &mut Vec<Check>) -> bool {
    let mounted = Path::new(TRACEFS)
        .join("events/raw_syscalls/sys_enter")
        .exists();
    checks.push(if mounted {
        Check::new(
            "tracefs",
            Status::Ok,
            format!("mounted at {TRACEFS} (for `--hook tracepoint`)"),
        )
    } else {
        Check::new(
            "tracefs",
            Status::Warn,
            format!(
                "not seen at {TRACEFS}: only `--hook tracepoint` needs it (and mounts it, as \
                 root); the other hooks do not"
            ),
        )
        .fix(format!("mount -t tracefs tracefs {TRACEFS}"))
    });
    mounted
}

/// `systemctl` in PATH, and PID 1 systemd.
pub(super) fn systemd(checks: &mut Vec<Check>) -> (bool, bool) {
    let systemctl = crate::program::find(OsStr::new("systemctl")).is_ok();
    let pid1 = std::fs::read_to_string("/proc/1/comm")
        .map(|c| c.trim().to_owned())
        .unwrap_or_default();
    let is_systemd = pid1 == "systemd";
    let shown = match pid1.as_str() {
        "" => "cannot be read".to_owned(),
        name => name.to_owned(),
    };
    checks.push(match (systemctl, is_systemd) {
        (true, true) => Check::new(
            "systemd",
            Status::Ok,
            "PID 1 is systemd and systemctl is here: `record --attach NAME.service` works",
        ),
        (systemctl, _) => Check::new(
            "systemd",
            Status::Warn,
            format!(
                "PID 1 is {shown}, {}: `record --attach NAME.service` cannot find units here \
                 (`export --to systemd` still writes the drop-in)",
                match systemctl {
                    true => "systemctl is here",
                    false => "no systemctl in PATH",
                }
            ),
        ),
    });
    (systemctl, is_systemd)
}
