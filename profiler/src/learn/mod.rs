//! `syscall-profile learn --from-log`: what a profile lacks, from the
//! kernel's own seccomp records of the workloads that ran under it in
//! complain mode (`export --complain`: every call outside the profile is
//! let through and logged, `SCMP_ACT_LOG`). Each record is set to its
//! workload (the container or unit its process is in while it lives, else
//! its program), and each workload's calls are checked against the profile
//! as `check` checks a run; the profile with what they lacked added is
//! written with `-o`.
//!
//! Only the calls a complain profile let through are learned: a call an
//! enforcing filter refused or killed was refused on purpose, perhaps an
//! attack, and is counted and said, never added.

pub(crate) mod records;

use std::{collections::BTreeMap, path::PathBuf};

use self::records::{LogError, LogSource, Logged, LoggedCall, Records};
use crate::{
    baseline::Baseline,
    check::{self, CheckInput, CheckReport},
    exit,
    merge::{self, Input},
    notice::{self, Notice},
    output::Output,
    profile::{Action, Arch, Profile, SyscallSet, eval::EffectivePolicy, table},
};

/// What `learn` was asked.
#[derive(Debug, Clone)]
pub(crate) struct LearnRequest {
    pub(crate) source: LogSource,
    /// The enforcing profile whose complain form the workloads ran under.
    pub(crate) profile: PathBuf,
    /// Only records stamped at or after this (seconds since the epoch).
    pub(crate) since: Option<u64>,
    /// Where the profile with what was lacking added goes.
    pub(crate) output: Option<PathBuf>,
    /// How long a live source (`audit`) is listened to; none: until a
    /// signal.
    pub(crate) duration: Option<std::time::Duration>,
    pub(crate) say: notice::Sink,
}

/// One workload's calls checked against the profile.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct WorkloadReport {
    /// `docker container 0123456789ab`, `systemd unit nginx.service`,
    /// `program /usr/bin/app` (its process gone).
    pub(crate) workload: String,
    /// How many records it has.
    pub(crate) records: usize,
    pub(crate) check: CheckReport,
}

/// What `learn` found.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Learned {
    pub(crate) schema: &'static str,
    pub(crate) profile: String,
    /// Records of calls let through and logged.
    pub(crate) records: usize,
    /// Records of calls an enforcing filter refused or killed (not
    /// learned).
    pub(crate) refused: usize,
    /// Records the kernel said it could not keep.
    pub(crate) lost: u64,
    /// Records of architectures without a syscall table here.
    pub(crate) foreign: u64,
    /// Syscalls the profile answers with ENOSYS for a fallback (clone3),
    /// logged under the complain form and not learned.
    pub(crate) fallbacks: Vec<String>,
    pub(crate) workloads: Vec<WorkloadReport>,
    /// The file the merged profile went to.
    pub(crate) written_to: Option<String>,
    pub(crate) exit_code: i32,
}

/// The JSON report's schema name.
pub(crate) const SCHEMA: &str = "syscall-profile/learn/v1";

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error("cannot merge what was learned into {profile}: {source}")]
    Merge {
        profile: String,
        #[source]
        source: merge::MergeError,
    },
    #[error(
        "{profile} is a complain-mode profile (its default is SCMP_ACT_LOG): give the \
         enforcing profile it was exported from, which learn checks the log against and adds to"
    )]
    Complain { profile: String },
    #[error("this host's architecture has no syscall table here")]
    UnsupportedArch,
}

/// Reads the records, checks each workload's calls against the profile,
/// and writes the merged profile (the output checked before anything is
/// read).
pub(crate) fn learn(request: &LearnRequest) -> Result<Learned, LearnError> {
    let output = Output::prepare_if_given(request.output.as_deref())?;
    let parsed = Profile::load(&request.profile)?;
    let policy = parsed.profile;
    if policy.default_action == Action::Log {
        return Err(LearnError::Complain {
            profile: request.profile.display().to_string(),
        });
    }
    for warning in &parsed.warnings {
        (request.say)(Notice::Warning(format!(
            "{}: {warning}",
            request.profile.display()
        )));
    }
    let arch = Arch::host().ok_or(LearnError::UnsupportedArch)?;
    // A signal ends a live source's listening, and the report is made of
    // what came.
    let interrupt = crate::session::interrupt::Interrupt::catch().ok();
    let listen = records::Listen {
        until: request.duration.map(|d| std::time::Instant::now() + d),
        interrupt: interrupt.as_ref(),
    };
    if request.source == LogSource::Audit {
        (request.say)(Notice::Note(format!(
            "listening to audit's seccomp records {}",
            match request.duration {
                Some(d) => format!("for {} s (Ctrl-C ends it sooner)", d.as_secs()),
                None => "until Ctrl-C".to_owned(),
            }
        )));
    }
    let Records {
        calls,
        lost,
        foreign,
    } = records::read(&request.source, request.since, listen)?;
    let (logged, refused): (Vec<LoggedCall>, Vec<LoggedCall>) =
        calls.into_iter().partition(|c| c.logged == Logged::Allowed);
    let mut by_workload: BTreeMap<String, Vec<LoggedCall>> = BTreeMap::new();
    for call in &logged {
        by_workload
            .entry(workload_of(call))
            .or_default()
            .push(call.clone());
    }
    let baseline = Baseline::docker_default();
    let context = baseline.context(&[], &[])?;
    let evaluated = EffectivePolicy::evaluate(&policy, &context);
    let mut fallbacks = std::collections::BTreeSet::new();
    let policy_name = request.profile.display().to_string();
    let mut all = SyscallSet::new();
    let mut workloads = Vec::new();
    for (workload, calls) in by_workload {
        let names: SyscallSet = calls
            .iter()
            .filter(|c| c.arch == arch || arch.sub_architectures().contains(&c.arch))
            .filter_map(|c| table::name_of(c.arch, c.nr))
            // A syscall the profile answers with ENOSYS so that the program
            // falls back to another (clone3 to clone) ran under the
            // complain form and was logged; allowing it would loosen what
            // the fallback keeps checked.
            .filter(|name| match evaluated.falls_back_to(name) {
                Some(_) => {
                    fallbacks.insert((*name).to_owned());
                    false
                }
                None => true,
            })
            .collect();
        for name in &names {
            all.insert(name);
        }
        let observed = Profile::allow_list(arch, &names, None);
        let mut check = check::check(
            &CheckInput {
                policy: &policy,
                policy_name: &policy_name,
                observed: &observed,
                observed_name: Some(&workload),
                command: None,
                command_exit_code: None,
                strict: false,
                baseline: &baseline,
                record_again: None,
            },
            &context,
        );
        // What the log showed is all the run there is: the calls the
        // profile allows that were never logged are no news.
        check.unused.clear();
        check.update_command = (!check.new_syscalls.is_empty()).then(|| {
            format!(
                "syscall-profile learn --from-log {} --profile {} -o {}",
                source_word(&request.source),
                crate::text::shell_quote(&policy_name),
                crate::text::shell_quote(&policy_name)
            )
        });
        workloads.push(WorkloadReport {
            workload,
            records: calls.len(),
            check,
        });
    }
    let lacking = workloads.iter().any(|w| !w.check.new_syscalls.is_empty());
    let written_to = match output {
        Some(output) => {
            // In the policy's own form (its architectures, its default),
            // so that the two merge.
            let mut learned = Profile::allow_list(
                arch,
                &all,
                Some("learned from the kernel's seccomp log".to_owned()),
            );
            learned.architectures = policy.architectures.clone();
            learned.arch_map = policy.arch_map.clone();
            learned.default_action = policy.default_action;
            learned.default_errno_ret = policy.default_errno_ret;
            let merged = merge::merge(&[
                Input {
                    name: &policy_name,
                    profile: &policy,
                },
                Input {
                    name: "the seccomp log",
                    profile: &learned,
                },
            ])
            .map_err(|source| LearnError::Merge {
                profile: policy_name.clone(),
                source,
            })?;
            output.commit(&merged.to_json())?
        }
        None => None,
    };
    Ok(Learned {
        schema: SCHEMA,
        profile: policy_name,
        records: logged.len(),
        refused: refused.len(),
        lost,
        foreign,
        fallbacks: fallbacks.into_iter().collect(),
        workloads,
        written_to: written_to.map(|p| p.display().to_string()),
        exit_code: match lacking {
            true => exit::OUTSIDE_POLICY,
            false => exit::SUCCESS,
        },
    })
}

/// The word `--from-log` was given, for the update command.
fn source_word(source: &LogSource) -> String {
    match source {
        LogSource::Audit => "audit".to_owned(),
        LogSource::Kmsg => "kmsg".to_owned(),
        LogSource::Journal => "journal".to_owned(),
        LogSource::File(path) => crate::text::shell_quote(&path.display().to_string()),
    }
}

/// The workload a record's process belongs to: while it lives (the same
/// program, not a later process with its pid), its cgroup says which
/// container or unit; else its program.
fn workload_of(call: &LoggedCall) -> String {
    let alive = std::fs::read_to_string(format!("/proc/{}/comm", call.pid))
        .is_ok_and(|comm| comm.trim_end() == call.comm);
    let cgroup = alive
        .then(|| std::fs::read_to_string(format!("/proc/{}/cgroup", call.pid)).ok())
        .flatten()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
        });
    match cgroup.as_deref().and_then(describe_cgroup) {
        Some(workload) => workload,
        None if !call.exe.is_empty() => format!("program {}", call.exe),
        None => format!("program {}", call.comm),
    }
}

/// A container or a unit, named by its cgroup's path, as the engines and
/// the kubelet lay them out: `docker-ID.scope` and `/docker/ID` (Docker),
/// `libpod-ID.scope` (podman), `cri-containerd-ID.scope` and
/// `kubepods…/pod…/ID` (the kubelet's containerd); a unit by its name.
fn describe_cgroup(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let is_id = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    for (i, part) in parts.iter().enumerate().rev() {
        let stem = part.strip_suffix(".scope").unwrap_or(part);
        for (prefix, engine) in [
            ("docker-", "docker"),
            ("libpod-", "podman"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
        ] {
            if let Some(id) = stem.strip_prefix(prefix).filter(|id| is_id(id)) {
                return Some(format!("{engine} container {}", &id[..12]));
            }
        }
        if is_id(stem) {
            let engine = match i.checked_sub(1).map(|p| parts[p]) {
                Some("docker") => "docker ",
                Some(parent) if parent.starts_with("libpod") => "podman ",
                _ => "",
            };
            return Some(format!("{engine}container {}", &stem[..12]));
        }
    }
    let unit = parts
        .iter()
        .rev()
        .find(|p| p.ends_with(".service") || p.ends_with(".scope"))?;
    Some(format!("systemd unit {unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_path_names_its_container_or_unit() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(
            describe_cgroup(&format!("/docker/{id}")).as_deref(),
            Some("docker container 0123456789ab")
        );
        assert_eq!(
            describe_cgroup(&format!("/system.slice/docker-{id}.scope")).as_deref(),
            Some("docker container 0123456789ab")
        );
        assert_eq!(
            describe_cgroup(&format!("/kubepods/besteffort/pod1234/{id}")).as_deref(),
            Some("container 0123456789ab")
        );
        assert_eq!(
            describe_cgroup("/system.slice/nginx.service").as_deref(),
            Some("systemd unit nginx.service")
        );
        assert_eq!(describe_cgroup("/user.slice"), None);
    }
}
