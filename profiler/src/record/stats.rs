//! The per-syscall counts of a recording, as JSON (`--stats FILE`).

use serde::{Deserialize, Serialize};

use crate::{
    profile::table,
    syscall_args::{
        self, ArgObservations,
        rules::{BeyondDefault, Granularity, Learned, Widened},
    },
};

/// Version tag of the stats format; bumped on any incompatible change.
pub(crate) const STATS_SCHEMA: &str = "syscall-profile/stats/v1";

/// What `--stats` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub schema: String,
    /// The recorded command and its arguments.
    pub command: Vec<String>,
    /// The host's architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// The command's exit status, as a shell reports it.
    pub exit_code: i32,
    /// Wall time from the start of the command to its end.
    pub duration_ms: u64,
    /// Every syscall entry counted, including out-of-range numbers.
    pub total_calls: u64,
    /// Counts by syscall, sorted by name, then architecture. For a container:
    /// the workload's, from the entrypoint's `execve` on.
    pub syscalls: Vec<SyscallCount>,
    /// For a container: the runtime's, after it installed the seccomp filter
    /// and up to the entrypoint's `execve` (empty for a native command).
    #[serde(default)]
    pub runtime_syscalls: Vec<SyscallCount>,
    /// The captured argument values of the workload's calls, per syscall
    /// whose arguments are captured (`crate::syscall_args::CAPTURED`), sorted
    /// like `syscalls`.
    #[serde(default)]
    pub arguments: Vec<SyscallArguments>,
    /// The same for the runtime's calls (containers).
    #[serde(default)]
    pub runtime_arguments: Vec<SyscallArguments>,
    /// Numbers inside the table's range that the table has no name for.
    pub unknown: Vec<NumberCount>,
    /// Numbers outside the table's range (negative, x32, or past its end).
    pub out_of_range: OutOfRange,
    /// Syscalls the profile holds although they were not observed, because
    /// the kernel or the program's runtime makes them by timing (`name`,
    /// `reason`, and for a runtime's rule `runtime` and `executable`).
    #[serde(default)]
    pub implied: Vec<crate::implied::Added>,
    /// What the recorded programs can reach, against what the run made
    /// (native commands; absent with `--no-coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::coverage::Coverage>,
    /// With `--include reachable`: the reachable syscalls Docker's default
    /// allows that the profile holds although the run did not make them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_reachable: Vec<String>,
    /// With `--include reachable`: the risky reachable syscalls the default
    /// allows that the profile leaves out, the run not having made them
    /// (`--include-risky` adds them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld_reachable: Vec<String>,
    /// With `--include reachable`: the syscalls whose learned argument
    /// values were widened to the default's own conditions for them (the
    /// scan finds which syscalls a program can make, not the values it
    /// passes): `syscall`, `rules` (the learned ones), `to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widened_reachable: Vec<Widened>,
    /// What the captured argument values became in the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedRules>,
    /// With `record --attach`: what was recorded from when (its start-up
    /// was not observed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<Attachment>,
}

/// A recording of a workload that already ran (`record --attach`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// What was recorded: `docker container web (0123456789ab)`.
    pub target: String,
    /// When the recording began, RFC 3339 in UTC.
    pub at: String,
}

impl Attachment {
    /// What the profile lacks, and how to add it (`--include reachable`
    /// only where the programs can be scanned: a native target's).
    pub(crate) fn not_observed(&self, scannable: bool) -> String {
        format!(
            "attached to {} at {}: its start-up was not observed, so the profile holds only \
             what it did from then on; add the start-up with `syscall-profile merge` of a \
             recording of its start{}",
            self.target,
            self.at,
            match scannable {
                true => ", or with `--include reachable`",
                false => "",
            }
        )
    }
}

impl Stats {
    /// The file `--stats` writes: pretty JSON with a final newline.
    ///
    /// The fuzzer (`fuzz/`, target `stats`) checks that whatever stats
    /// this type reads, it writes, and the text reads back the same.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("stats always serialize") + "\n"
    }
}

/// The argument rules of the profile, in short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedRules {
    /// `names`, `baseline` or `values` (`record --args`).
    pub granularity: Granularity,
    /// Syscalls allowed whatever their arguments.
    pub unconditional: usize,
    /// Syscalls with argument rules (or an errno of their own), and the rules.
    pub conditional_syscalls: usize,
    pub rules: usize,
    /// The compiled filter's instructions (libseccomp, this host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<usize>,
    /// What the run used that the engine's default refuses (still allowed).
    pub beyond_default: Vec<BeyondDefault>,
    /// Syscalls whose learned values were given up to fit the kernel's limit.
    pub widened: Vec<Widened>,
    pub notes: Vec<String>,
}

impl LearnedRules {
    pub(crate) fn of(learned: &Learned, granularity: Granularity) -> LearnedRules {
        LearnedRules {
            granularity,
            unconditional: learned.unconditional.len(),
            conditional_syscalls: learned.conditional_syscalls(),
            rules: learned.rules.len(),
            instructions: learned.instructions,
            beyond_default: learned.beyond_default.clone(),
            widened: learned.widened.clone(),
            notes: learned.notes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallCount {
    pub name: String,
    /// The table the number belongs to (`x86_64`, or `i386` for 32-bit tasks).
    pub arch: String,
    pub nr: u64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCount {
    pub arch: String,
    pub nr: i64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfRange {
    /// Exact total of such calls.
    pub total: u64,
    /// The same by number, as far as the kernel side could keep them apart.
    pub numbers: Vec<NumberCount>,
    /// Calls the kernel counted in `total` but had no room to split by number.
    pub unattributed: u64,
}

/// The captured values of one syscall's calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallArguments {
    pub name: String,
    /// The table the number belongs to (`x86_64`, or `i386`).
    pub arch: String,
    /// The names of the captured arguments, in the order of each value's
    /// `symbols` and `raw`.
    pub args: Vec<String>,
    /// One entry per distinct tuple of values, by raw value.
    pub values: Vec<ArgumentValues>,
    /// Calls whose values the kernel had no room to keep (exact): when not
    /// zero, `values` is not everything the run passed.
    pub lost: u64,
}

/// One tuple of captured values and the calls that passed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentValues {
    /// Each value by name (`AF_INET`, `FIONREAD`, `PR_SET_NAME`).
    pub symbols: Vec<String>,
    /// Each value as the kernel saw it (masked as the table says), in hex.
    pub raw: Vec<String>,
    /// Exact.
    pub calls: u64,
}

/// The stats entries of captured values, sorted by name and table; numbers
/// without a name are left out (their calls are reported as unknown).
pub(crate) fn arguments_of(observations: &ArgObservations) -> Vec<SyscallArguments> {
    let mut entries: Vec<SyscallArguments> = observations
        .iter()
        .filter_map(|(&(arch, nr), calls)| {
            let name = table::name_of(arch, nr)?;
            let captured = syscall_args::captured(name)?;
            let values = calls
                .values
                .iter()
                .map(|(tuple, &count)| {
                    let symbols = captured
                        .args
                        .iter()
                        .zip(tuple)
                        .enumerate()
                        .map(|(i, (arg, &value))| {
                            // What names a later argument is the first one:
                            // a socket's family names its protocol (the type
                            // is between them), a level its option.
                            let first = (i > 0).then(|| tuple.first().copied()).flatten();
                            arg.symbols.describe(value, first)
                        })
                        .collect();
                    ArgumentValues {
                        symbols,
                        raw: tuple.iter().map(|v| format!("{v:#x}")).collect(),
                        calls: count,
                    }
                })
                .collect();
            Some(SyscallArguments {
                name: name.to_owned(),
                arch: arch.short_name().to_owned(),
                args: captured.args.iter().map(|a| a.name.to_owned()).collect(),
                values,
                lost: calls.lost,
            })
        })
        .collect();
    entries.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    entries
}

/// A warning per syscall whose values were not all kept.
pub(crate) fn lost_arguments(stats: &Stats) -> Vec<String> {
    let phases = [
        ("", &stats.arguments),
        (" by the runtime", &stats.runtime_arguments),
    ];
    phases
        .into_iter()
        .flat_map(|(phase, entries)| entries.iter().map(move |e| (phase, e)))
        .filter(|(_, e)| e.lost > 0)
        .map(|(phase, e)| {
            format!(
                "the argument values of {} call(s) of `{}` ({}){phase} were lost: the kernel's \
                 map of distinct values ({} in all) was full, so the values listed for `{}` \
                 are not all the run used",
                e.lost,
                e.name,
                e.arch,
                profiler_common::ARG_VALUE_SLOTS,
                e.name
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{profile::Arch, syscall_args::CapturedCalls};

    #[test]
    fn captured_values_are_named_by_the_argument_before_them_and_losses_kept() {
        let socket = table::number_of(Arch::X86_64, "socket").unwrap();
        let ioctl = table::number_of(Arch::X86, "ioctl").unwrap();
        let observations: ArgObservations = BTreeMap::from([
            (
                (Arch::X86_64, socket),
                CapturedCalls {
                    values: BTreeMap::from([(vec![16, 3, 0], 2), (vec![2, 1, 6], 1)]),
                    lost: 0,
                },
            ),
            (
                (Arch::X86, ioctl),
                CapturedCalls {
                    values: BTreeMap::from([(vec![0x541b], 5)]),
                    lost: 7,
                },
            ),
        ]);
        let entries = arguments_of(&observations);
        assert_eq!(entries[0].name, "ioctl");
        assert_eq!(entries[0].arch, "i386");
        assert_eq!(entries[0].lost, 7);
        let socket = &entries[1];
        assert_eq!(socket.args, ["family", "type", "protocol"]);
        assert_eq!(
            socket.values[0].symbols,
            ["AF_INET", "SOCK_STREAM", "IPPROTO_TCP"]
        );
        assert_eq!(
            socket.values[1].symbols,
            ["AF_NETLINK", "SOCK_RAW", "default protocol"]
        );
        assert_eq!(socket.values[1].raw, ["0x10", "0x3", "0x0"]);
        assert_eq!(socket.values[1].calls, 2);
    }
}
