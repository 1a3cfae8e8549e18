//! A denied syscall as every watch and judgement reports it: its calls,
//! the process it was refused to, the values refused, what the profile
//! allows instead, and how a kill ended the caller.

use super::values::{self, DeniedValues};
use crate::profile::eval::{Access, EffectivePolicy};

/// How a denial ended the calling thread, where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kill {
    /// `SCMP_ACT_KILL_THREAD` on a thread that was not the process's last:
    /// the thread died, the process went on.
    Thread,
    /// `SCMP_ACT_KILL_PROCESS`, or `SCMP_ACT_KILL_THREAD` on the process's
    /// last thread: the process died of SIGSYS.
    Process,
}

impl Kill {
    /// What the filter did, for the report.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kill::Thread => "killed the thread (SCMP_ACT_KILL_THREAD)",
            Kill::Process => {
                "killed the process (SCMP_ACT_KILL_PROCESS, or SCMP_ACT_KILL_THREAD on its \
                 last thread)"
            }
        }
    }
}

/// A syscall the filter denied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeniedSyscall {
    /// The syscall's name, or `syscall_N` where no table names it.
    pub name: String,
    /// Its table (`x86_64`, `i386`).
    pub arch: String,
    pub nr: i64,
    pub count: u64,
    /// What the first denied call returned: the errno, where it was one.
    pub errno: Option<i64>,
    /// Where the denial killed the caller instead of returning.
    pub killed: Option<Kill>,
    /// The first process it was denied to; none where the kernel did not
    /// deny it (`--complain` reports what it would have denied).
    pub first: Option<Caller>,
    /// For a syscall whose privilege is in an argument: the values of the
    /// denied calls, with their counts, most frequent first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<DeniedValues>,
    /// Denied calls whose values were not kept (no room in the kernel's
    /// map, or memory that could not be read): when not zero, `values` are
    /// not all there were.
    #[serde(skip_serializing_if = "is_zero")]
    pub values_lost: u64,
    /// The six arguments of the first denied call, as its registers held
    /// them; none in complain mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_args: Option<[u64; 6]>,
    /// What the profile allows of this syscall where it allows it only
    /// under argument conditions: each alternative by name
    /// (`request FIONREAD`). Empty where it refuses the syscall outright.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_with: Vec<String>,
    /// What the profile refuses of this syscall where it allows it but
    /// under argument conditions: each alternative by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_with: Vec<String>,
    /// The syscall the C library falls back to when this one is answered
    /// as it is (clone for clone3 answered ENOSYS, as Docker's default
    /// does): the refusal is deliberate, and no suggestion undoes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub falls_back_to: Option<&'static str>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DeniedSyscall {
    /// A syscall the profile refuses (or would refuse) `count` times, with
    /// nothing more known yet.
    pub(crate) fn new(name: String, arch: String, nr: i64, count: u64) -> DeniedSyscall {
        DeniedSyscall {
            name,
            arch,
            nr,
            count,
            errno: None,
            killed: None,
            first: None,
            values: Vec::new(),
            values_lost: 0,
            first_args: None,
            allowed_with: Vec::new(),
            refused_with: Vec::new(),
            falls_back_to: None,
        }
    }

    /// Whether the values of every denied call are known, for a syscall
    /// whose privilege is in an argument.
    pub(crate) fn values_complete(&self) -> bool {
        self.values_lost == 0 && !self.values.is_empty()
    }

    /// Where the profile's verdict depends on the arguments and the values
    /// are not named, the first denied call's arguments in hex: what the
    /// conditions were checked against.
    pub(crate) fn raw_arguments(&self) -> Option<String> {
        if !self.values.is_empty() || (self.allowed_with.is_empty() && self.refused_with.is_empty())
        {
            return None;
        }
        let args = self.first_args?;
        Some(
            args.iter()
                .map(|a| format!("{a:#x}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Adds to each denial what `policy` allows of its syscall, where that
/// depends on the arguments, and whether the refusal is one the C library
/// falls back from.
pub(crate) fn explain(denials: &mut [DeniedSyscall], policy: &EffectivePolicy) {
    for denial in denials {
        // glibc (and musl) create threads and processes with clone when
        // clone3 is answered ENOSYS: clone's flags are in registers, where a
        // filter can check them, and clone3's are not.
        denial.falls_back_to = policy.falls_back_to(&denial.name);
        if matches!(policy.access(&denial.name), Access::Conditional { .. }) {
            denial.allowed_with = values::allowed_with(policy, &denial.name);
            denial.refused_with = values::refused_with(policy, &denial.name);
        }
    }
}

/// The process a syscall was denied to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Caller {
    pub pid: u32,
    pub tid: u32,
    /// Its command name, as `ps` shows it.
    pub comm: String,
    /// Its executable, where known.
    pub exe: Option<String>,
}
