//! A Docker-format profile compiled to a seccomp filter with libseccomp,
//! with the semantics runc gives the same file: what `enforce` installs,
//! and what learning argument rules checks a candidate profile against.
//!
//! The filter is compiled in the parent and installed by the child with two
//! plain syscalls (`prctl(PR_SET_NO_NEW_PRIVS)`, `seccomp(2)`) right before
//! `execve`: compiling allocates, which a child forked from a multi-threaded
//! process must not do.

use std::{
    collections::{HashMap, HashSet},
    io::{Read, Seek},
    os::fd::{AsFd, RawFd},
};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use crate::profile::{
    Action, Arch, ArgCondition, Capability, CompareOp, EPERM, FilterFlag, KernelVersion, Profile,
    effective_capabilities,
    eval::{DockerContext, keeps},
};

/// The context a native program runs in, for a profile's includes/excludes:
/// this host's architecture and kernel, and the capabilities the program
/// will have (the effective set of this process, which it inherits).
pub(crate) fn native_context(arch: Arch) -> DockerContext {
    let effective = effective_capabilities();
    let caps = Capability::ALL
        .iter()
        .copied()
        .filter(|cap| effective & (1u64 << cap.info().bit) != 0)
        .collect();
    DockerContext {
        native: arch,
        caps,
        kernel: KernelVersion::running().unwrap_or(KernelVersion { major: 0, minor: 0 }),
    }
}

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: not a flag a profile gives (the
/// listener is the runtime's business), so not in [`FilterFlag`].
pub(crate) const FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// The flags a notifying filter is installed with, besides the profile's.
pub(crate) fn listener_flags() -> libc::c_ulong {
    FLAG_NEW_LISTENER | FilterFlag::WaitKillableRecv.info().bit as libc::c_ulong
}

/// The child's ends of the hand-over: where it reports its pid and the
/// listener's number, and where it waits for the go-ahead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildEnds {
    pub report: RawFd,
    pub go: RawFd,
}

/// A profile's argument check as libseccomp's.
fn condition(arg: &ArgCondition) -> ScmpArgCompare {
    let op = match arg.op {
        CompareOp::NotEqual => ScmpCompareOp::NotEqual,
        CompareOp::Less => ScmpCompareOp::Less,
        CompareOp::LessOrEqual => ScmpCompareOp::LessOrEqual,
        CompareOp::Equal => ScmpCompareOp::Equal,
        CompareOp::GreaterOrEqual => ScmpCompareOp::GreaterEqual,
        CompareOp::Greater => ScmpCompareOp::Greater,
        // Docker's `value` is the mask and `valueTwo` the value it must equal.
        CompareOp::MaskedEqual => ScmpCompareOp::MaskedEqual(arg.value),
    };
    let datum = match arg.op {
        CompareOp::MaskedEqual => arg.value_two,
        _ => arg.value,
    };
    ScmpArgCompare::new(arg.index, op, datum)
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("the profile's {what} is not supported by this host's libseccomp: {detail}")]
    Unsupported { what: String, detail: String },
    #[error("libseccomp refused {what}: {source}")]
    Libseccomp {
        what: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("cannot export the compiled filter: {0}")]
    Export(std::io::Error),
    #[error("the profile lists no architecture this host runs ({host})")]
    NoArchitecture { host: Arch },
    #[error(
        "the profile needs at least {at_least} filter instructions (one a syscall and one an \
         argument check), more than the {MAX_INSTRUCTIONS} a seccomp filter may have: merge its \
         rules or drop argument conditions"
    )]
    TooLarge { at_least: usize },
    #[error(
        "the compiled filter has {instructions} instructions, more than the {MAX_INSTRUCTIONS} a \
         seccomp filter may have: merge the profile's rules or drop argument conditions"
    )]
    TooLong { instructions: usize },
}

/// The most instructions the kernel takes in one seccomp filter
/// (`BPF_MAXINSNS`).
pub(crate) const MAX_INSTRUCTIONS: usize = 4096;

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFilter {
    /// The classic BPF program, as `struct sock_filter` records.
    pub program: Vec<libc::sock_filter>,
    /// Flags for seccomp(2) (`SECCOMP_FILTER_FLAG_LOG`, `_SPEC_ALLOW`).
    pub flags: libc::c_ulong,
    /// Names skipped because libseccomp does not know them (as runc does).
    pub skipped_names: Vec<String>,
    /// Refusals go to a listener ([`compile_notifying`]).
    pub notifies: bool,
}

/// The libseccomp action for a profile action.
fn action(action: Action, errno_ret: Option<u32>, default_errno: Option<u32>) -> ScmpAction {
    match action {
        Action::Kill | Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Errno => ScmpAction::Errno(errno_ret.or(default_errno).unwrap_or(EPERM) as i32),
        Action::Trace => ScmpAction::Trace(errno_ret.unwrap_or(EPERM) as u16),
        Action::Allow => ScmpAction::Allow,
        Action::Log => ScmpAction::Log,
        Action::Notify => ScmpAction::Notify,
    }
}

fn scmp(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> FilterError {
    let what = what.into();
    move |source| FilterError::Libseccomp { what, source }
}

/// Compiles `profile` for this host (`host`).
pub(crate) fn compile(profile: &Profile, host: Arch) -> Result<CompiledFilter, FilterError> {
    compile_as(profile, host, false)
}

/// Compiles `profile` with every `SCMP_ACT_ERRNO` (its default and its
/// rules) turned into `SCMP_ACT_NOTIFY`, for `enforce`'s listener to
/// answer with the errno: the same calls are refused.
pub(crate) fn compile_notifying(
    profile: &Profile,
    host: Arch,
) -> Result<CompiledFilter, FilterError> {
    compile_as(profile, host, true)
}

fn compile_as(profile: &Profile, host: Arch, notify: bool) -> Result<CompiledFilter, FilterError> {
    let action =
        |action_of: Action, errno_ret: Option<u32>, default_errno: Option<u32>| match action_of {
            Action::Errno if notify => ScmpAction::Notify,
            _ => action(action_of, errno_ret, default_errno),
        };
    let default = action(profile.default_action, profile.default_errno_ret, None);
    let mut ctx = ScmpFilterContext::new(default).map_err(scmp("the default action"))?;

    // The architectures: the host's archMap entry with its
    // sub-architectures, or the `architectures` list; always the native one.
    if !profile.arch_map.is_empty() && !profile.arch_map.iter().any(|e| e.architecture == host) {
        return Err(FilterError::NoArchitecture { host });
    }
    for arch in profile.effective_arches(host) {
        let Some(scmp_arch) = arch.to_libseccomp() else {
            return Err(FilterError::Unsupported {
                what: format!("architecture {}", arch.scmp_name()),
                detail: "libseccomp has no such architecture".to_owned(),
            });
        };
        if scmp_arch == ScmpArch::native() {
            continue;
        }
        ctx.add_arch(scmp_arch)
            .map_err(scmp(format!("the architecture {}", arch.scmp_name())))?;
    }

    let context = native_context(host);
    let mut skipped_names = Vec::new();
    // A name given again (in the same rule or another with the same action
    // and conditions) adds nothing: it is added once, so that a profile
    // repeating names costs what its distinct rules cost (libseccomp's
    // check of a rule against those it has is linear).
    let mut resolved: HashMap<&str, Option<ScmpSyscall>> = HashMap::new();
    let mut added: HashSet<(ScmpSyscall, ScmpAction, &[crate::profile::ArgCondition])> =
        HashSet::new();
    let mut syscalls_seen: HashSet<ScmpSyscall> = HashSet::new();
    let mut checks = 0usize;
    let kept = profile
        .syscalls
        .iter()
        .filter(|rule| keeps(&rule.includes, &rule.excludes, &context));
    for rule in kept {
        let rule_action = action(rule.action, rule.errno_ret, profile.default_errno_ret);
        // libseccomp refuses a rule whose action is the default one; such a
        // rule changes nothing, and runc leaves it out too.
        if rule_action == default {
            continue;
        }
        let conditions: Vec<ScmpArgCompare> = rule.args.iter().map(condition).collect();
        // libseccomp cannot compare the same argument twice in one rule. As
        // runc does: conditions on distinct arguments go into one rule (all
        // must hold); where an argument repeats, each condition becomes a
        // rule of its own (any may hold). Docker's profile works around it
        // with separate rules.
        let mut indexes: Vec<u32> = rule.args.iter().map(|a| a.index).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        let groups: Vec<Vec<ScmpArgCompare>> = if repeated {
            conditions.into_iter().map(|c| vec![c]).collect()
        } else {
            vec![conditions]
        };
        for name in &rule.names {
            let syscall = match resolved.get(name.as_str()) {
                Some(&known) => known,
                None => {
                    let known = ScmpSyscall::from_name(name).ok();
                    resolved.insert(name, known);
                    if known.is_none() {
                        skipped_names.push(name.clone());
                    }
                    known
                }
            };
            let Some(syscall) = syscall else {
                continue;
            };
            if !added.insert((syscall, rule_action, rule.args.as_slice())) {
                continue;
            }
            // Each syscall and each argument check takes an instruction at
            // least: past the kernel's limit the filter cannot be installed,
            // and libseccomp's time grows with the square of the rules, so
            // the profile is refused now rather than after minutes.
            syscalls_seen.insert(syscall);
            checks += rule.args.len();
            if syscalls_seen.len() + checks > MAX_INSTRUCTIONS {
                return Err(FilterError::TooLarge {
                    at_least: syscalls_seen.len() + checks,
                });
            }
            for group in &groups {
                let added = if group.is_empty() {
                    ctx.add_rule(rule_action, syscall)
                } else {
                    ctx.add_rule_conditional(rule_action, syscall, group)
                };
                added.map_err(scmp(format!("the rule for {name}")))?;
            }
        }
    }
    let flags = profile
        .flags
        .iter()
        .map(|flag| flag.info().bit as libc::c_ulong)
        .fold(0, |all, flag| all | flag);

    let mut file = tempfile::tempfile().map_err(FilterError::Export)?;
    ctx.export_bpf(file.as_fd())
        .map_err(scmp("exporting the filter"))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|()| file.read_to_end(&mut bytes))
        .map_err(FilterError::Export)?;
    let program = bytes
        .chunks_exact(std::mem::size_of::<libc::sock_filter>())
        .map(|raw| libc::sock_filter {
            code: u16::from_ne_bytes([raw[0], raw[1]]),
            jt: raw[2],
            jf: raw[3],
            k: u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]),
        })
        .collect::<Vec<_>>();
    if program.len() > MAX_INSTRUCTIONS {
        return Err(FilterError::TooLong {
            instructions: program.len(),
        });
    }
    Ok(CompiledFilter {
        program,
        flags,
        skipped_names,
        notifies: notify,
    })
}

impl CompiledFilter {
    /// Sets no_new_privs and installs the filter on the calling thread.
    /// Only syscalls: safe to call in a forked child before `execve`. A
    /// notifying filter hands its listener over through `ends` first (to
    /// `enforce`'s listener): two more syscalls, `write` and `read`.
    pub(crate) fn install(&self, ends: Option<ChildEnds>) -> std::io::Result<()> {
        let prog = libc::sock_fprog {
            // `compile` keeps programs within MAX_INSTRUCTIONS, which fits.
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast_mut(),
        };
        let listening = ends.filter(|_| self.notifies);
        let flags = match listening {
            Some(_) => self.flags | listener_flags(),
            None => self.flags,
        };
        // SAFETY: plain syscalls; `prog` points at memory that lives for the
        // duration of the call (the kernel copies the program), and the
        // report is an array on the stack.
        unsafe {
            let pid = libc::getpid();
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let installed = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            );
            if installed < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(ends) = listening {
                let mut report = [0u8; 8];
                report[..4].copy_from_slice(&pid.to_ne_bytes());
                report[4..].copy_from_slice(&(installed as i32).to_ne_bytes());
                if libc::write(ends.report, report.as_ptr().cast(), report.len()) != 8 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut go = [0u8; 1];
                if libc::read(ends.go, go.as_mut_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::other(
                        "the supervisor did not take the seccomp listener",
                    ));
                }
            }
        }
        Ok(())
    }
}
