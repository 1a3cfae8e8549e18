//! `syscall-profile record`: arguments, the recording, the summary.

use std::{ffi::OsString, path::PathBuf, time::Duration};

use clap::Args;

use super::{Error, block_on, warn};
use crate::{
    baseline::notes,
    export::{self, Format},
    implied::Implied,
    record::{self, RecordOptions, Recording},
    session::hook::Hook,
    session::{Until, attached::AttachTarget, process::RunAs},
    syscall_args::rules::Granularity,
};

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct RecordArgs {
    /// Write the profile to FILE (default: standard output).
    ///
    /// Written atomically, and checked before the command starts.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Write the profile for this consumer (as `export --to`).
    ///
    /// docker (the default), podman, oci (what `ctr run --seccomp-profile`,
    /// runc and crun read), kubernetes, kubernetes-localhost, systemd.
    #[arg(
        long = "to",
        value_name = "FORMAT",
        value_enum,
        hide_possible_values = true
    )]
    to: Option<Format>,

    /// --to kubernetes: the resource's `metadata.name`.
    ///
    /// Default: syscall-profile.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// --to kubernetes: the resource's `metadata.namespace`.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,

    /// --to systemd: allow what no directive can condition.
    ///
    /// Allows the syscalls of rules whose argument conditions no systemd
    /// directive keeps, whatever their arguments; says which, and why.
    #[arg(long)]
    widen: bool,

    /// Write the profile in complain mode (logs, refuses nothing).
    ///
    /// For trying it in production, as `export --complain` does (with or
    /// without --to, Docker's JSON without): every refusal becomes
    /// SCMP_ACT_LOG, so nothing is refused and the kernel logs each call
    /// outside the profile (audit record type 1326). The profile and the
    /// summary say it is in complain mode.
    #[arg(long)]
    complain: bool,

    /// Also write the per-syscall counts to FILE, as JSON.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,

    /// No live line and no summary (warnings and errors show).
    #[arg(short, long)]
    quiet: bool,

    /// The hook on raw_syscalls:sys_enter that counts.
    ///
    /// auto (the BTF tracepoint where the kernel has BTF, else the raw
    /// tracepoint), raw-tracepoint, tracepoint or btf-tracepoint.
    #[arg(long, value_enum, default_value_t = Hook::Auto, hide_possible_values = true)]
    hook: Hook,

    /// End the recording after DURATION (30, 90s, 5m, 1h, 2d).
    ///
    /// The command is sent SIGTERM, and SIGKILL after a grace period; a
    /// container still running is stopped (see --keep-running).
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    duration: Option<Duration>,

    /// When a native run ends: tree (default) or command.
    ///
    /// `tree`: when every process the command started has ended too, as
    /// `strace -f` waits (a detached child, a daemon: what outlived the
    /// command is named; Ctrl-C or --duration ends the wait); `command`:
    /// when the command exits, killing (and naming) what it left running.
    #[arg(long, value_enum, value_name = "WHEN", hide_possible_values = true)]
    until: Option<Until>,

    /// For a container: leave out the runtime's base set.
    ///
    /// The base set: the syscalls runc or crun make after installing the
    /// filter, in any run.
    #[arg(long)]
    no_runtime_base: bool,

    /// Run a native command as USER, with GROUP or the user's groups.
    ///
    /// USER is a name or uid. The command runs as USER from its first
    /// instruction; the recorder stays privileged and only the command's
    /// syscalls are recorded.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = super::parse_user)]
    user: Option<RunAs>,

    /// The profile's comment (default: the command line).
    ///
    /// By default the recorded command line, with environment values and
    /// secrets taken out; followed by where it was learned: [learned
    /// natively] or [learned in a container], which an export for a
    /// container reads.
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,

    /// Leave a container still running at the end running.
    ///
    /// For a container still running when the recording ends (`run -d`
    /// with --duration): it stays under the recording profile, which
    /// allows every syscall. Without it, such a container is stopped.
    #[arg(long)]
    keep_running: bool,

    /// Leave out what the kernel and runtimes make by timing.
    ///
    /// restart_syscall after a sleep, rt_sigreturn after a handler, exit
    /// and exit_group, a Go runtime's preemption and polling: the profile
    /// then holds only what this run did.
    #[arg(long)]
    no_implied: bool,

    /// Do not scan what the recorded programs can reach.
    ///
    /// Without it, the observed syscalls are set against what the recorded
    /// programs can reach (a scan of their machine code and libraries,
    /// cached by build id: see `syscall-profile scan`).
    #[arg(long)]
    pub no_coverage: bool,

    /// reachable: also allow what the programs can reach.
    ///
    /// `reachable` also allows the syscalls the recorded programs can reach
    /// that Docker's default allows (for a container: its engine's default,
    /// with its capabilities), so that a path the run did not take does
    /// not break under the profile.
    #[arg(long, value_enum, value_name = "WHAT", hide_possible_values = true)]
    pub include: Option<Include>,

    /// With --include reachable: also add these risky syscalls.
    ///
    /// The risky syscalls it leaves out unless the run made them (ptrace,
    /// process_vm_readv, keyctl, bpf, io_uring_setup…: the summary names
    /// those left out), added where the programs can reach them and the
    /// default allows them.
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        requires = "include",
        value_parser = parse_risky
    )]
    include_risky: Vec<String>,

    /// How much of the arguments is checked: names|baseline|values.
    ///
    /// `values` allows exactly the argument values the run used for the
    /// syscalls whose arguments carry privilege (clone's namespace flags,
    /// socket families, ioctl requests, prctl options…), within the
    /// engine's default for a container; `baseline` keeps the engine
    /// default's own conditions; `names` allows any arguments (natively and
    /// without `--stats`, the kernel side then captures no values: cheaper
    /// calls, less memory). Default: `values`; `names` with `--to systemd`,
    /// whose SystemCallFilter= has no argument conditions.
    #[arg(
        long = "args",
        value_name = "LEVEL",
        value_enum,
        hide_possible_values = true
    )]
    granularity: Option<Granularity>,

    /// Do not warn about what the engine's default refuses.
    ///
    /// What the run used that the engine's default refuses (syscalls,
    /// argument values): the profile holds them either way, and `--stats`
    /// lists them (`learned.beyond_default`).
    #[arg(long)]
    accept_beyond_default: bool,

    /// The default a native run is set against (or a FILE).
    ///
    /// The syscalls it used beyond it are named; `--include reachable` adds
    /// within it: docker (the default), docker-20.10, podman, containerd,
    /// or a Docker-format profile FILE (`./podman` for a file of that
    /// name). A container is set against its engine's own default.
    #[arg(long, value_name = "ENGINE|FILE")]
    baseline: Option<crate::baseline::BaselineChoice>,

    /// Record a workload that already runs (repeatable).
    ///
    /// Recorded from now until --duration, Ctrl-C or its end, and left as
    /// it is: a Docker or podman container (NAME, docker:NAME,
    /// podman:NAME), a containerd one (containerd:NAMESPACE/ID), a systemd
    /// unit (NAME.service), a cgroup path (/sys/fs/cgroup/...), or the
    /// cgroup of a process (pid:N). Its start-up is not observed: the
    /// profile says so. Repeat it to record several at once, one profile
    /// each: -o names a directory then (a profile NAME.json each, NAME the
    /// target as given) or a pattern with {} for NAME.
    #[arg(long, value_name = "TARGET", value_parser = parse_attach, conflicts_with = "command")]
    attach: Vec<(AttachTarget, String)>,

    /// The command to record, with its arguments.
    #[arg(value_name = "CMD", last = true)]
    command: Vec<OsString>,
}

const AFTER_LONG_HELP: &str = "\
Examples:
  syscall-profile record -o app.json -- ./app --serve
  syscall-profile record -o nginx.json --duration 60s -- docker run --rm nginx
  syscall-profile record --attach web --duration 5m -o web.json

Exit status: the recorded command's own (128+N when a signal N killed it); 125 when the
recorder failed (or its watch was incomplete), 126 when the command cannot be executed, 127
when it was not found, 2 for a usage error.";

/// `--attach TARGET`: the target, and the words given for it.
fn parse_attach(text: &str) -> Result<(AttachTarget, String), String> {
    match text.parse() {
        Ok(target) => Ok((target, text.to_owned())),
        Err(e) => Err(e.to_string()),
    }
}

/// What `--include` can add to a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Include {
    /// What the recorded programs can reach, within the engine's default.
    Reachable,
}

/// A name of `--include-risky`: one of the syscalls `--include reachable`
/// withholds.
fn parse_risky(text: &str) -> Result<String, String> {
    if notes::withheld_from_reachable(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "not one of the risky syscalls --include reachable withholds ({})",
            notes::WITHHELD_FROM_REACHABLE.join(", ")
        ))
    }
}

/// Entry point of `syscall-profile record`: the recorded command's exit
/// status, or the recorder's own.
pub fn run(args: RecordArgs) -> Result<i32, Error> {
    super::export::check_target_options(
        args.to,
        args.widen,
        args.name.as_deref(),
        args.namespace.as_deref(),
    )?;
    let quiet = args.quiet;
    let options = RecordOptions {
        command: args.command,
        output: args.output,
        discard_profile: false,
        stats: args.stats,
        quiet,
        hook: args.hook,
        duration: args.duration,
        no_runtime_base: args.no_runtime_base,
        user: args.user,
        comment: args.comment,
        keep_running: args.keep_running,
        no_implied: args.no_implied,
        coverage: !args.no_coverage,
        include_reachable: args.include == Some(Include::Reachable),
        until: args.until,
        say: super::notice,
        live: match quiet {
            true => crate::notice::hidden,
            false => super::live::start,
        },
        include_risky: args.include_risky,
        granularity: args.granularity.unwrap_or(match args.to {
            Some(Format::Systemd) => Granularity::Names,
            _ => Granularity::Values,
        }),
        to: args.to.map(|format| {
            (
                format,
                export::Options {
                    name: args.name,
                    namespace: args.namespace,
                    widen: args.widen,
                    within: None,
                    output_path: None,
                    complain: args.complain,
                },
            )
        }),
        complain: args.complain,
        baseline: args.baseline,
        attach: None,
    };
    let mut targets = args.attach;
    if targets.len() > 1 {
        return record_several(options, targets, args.accept_beyond_default);
    }
    let options = RecordOptions {
        attach: targets.pop(),
        ..options
    };
    let complain = options.complain;
    let recording = block_on(record::record(options))??;
    report(&recording, quiet, complain);
    if !args.accept_beyond_default {
        warn_beyond_default(&recording);
    }
    if recording.observation.events.lost_track() && recording.exit_code == 0 {
        return Err(Error::Incomplete(
            "the recording is incomplete: a process left the recorded cgroup (see above); the \
             profile was written, but may lack what it did after that",
        ));
    }
    Ok(recording.exit_code)
}

/// `record --attach A --attach B ...`: every target recorded at once, a
/// profile (and stats) each, named by the target; the worst status.
fn record_several(
    options: RecordOptions,
    targets: Vec<(AttachTarget, String)>,
    accept_beyond_default: bool,
) -> Result<i32, Error> {
    let names: Vec<String> = targets.iter().map(|(_, given)| file_name(given)).collect();
    if let Some(twice) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        return Err(Error::Usage(format!(
            "two --attach targets would write the same file ({}): name each once",
            twice.1
        )));
    }
    let outputs = several_paths(options.output.as_deref(), "-o", &names, true)?;
    let stats = match options.stats.as_deref() {
        Some(stats) => several_paths(Some(stats), "--stats", &names, false)?
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None; names.len()],
    };
    let quiet = options.quiet;
    let complain = options.complain;
    let runs = targets
        .into_iter()
        .zip(outputs)
        .zip(stats)
        .map(|((target, output), stats)| {
            record::record(RecordOptions {
                attach: Some(target),
                output: Some(output),
                stats,
                // One live line cannot show several recordings.
                live: crate::notice::hidden,
                ..options.clone()
            })
        });
    let recordings = block_on(futures_util::future::join_all(runs))?;
    let mut status = 0;
    let mut failed = None;
    for recording in recordings {
        match recording {
            Ok(recording) => {
                report(&recording, quiet, complain);
                if !accept_beyond_default {
                    warn_beyond_default(&recording);
                }
                status = status.max(recording.exit_code);
            }
            // The first failure ends the tool; the others are said.
            Err(e) => match failed {
                None => failed = Some(e),
                Some(_) => warn(&e.to_string()),
            },
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(status),
    }
}

/// A target as given, as a file name: what is not a letter, a digit, `.`,
/// `_` or `-` becomes `-`.
fn file_name(given: &str) -> String {
    let name: String = given
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                true => c,
                false => '-',
            },
        )
        .collect();
    let mut collapsed = String::new();
    for c in name.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    collapsed.trim_start_matches(['.', '-']).to_owned()
}

/// One path per name from `given`: a directory (`NAME.json` in it,
/// `NAME.stats.json` for the stats) or a pattern with `{}` for the name.
fn several_paths(
    given: Option<&std::path::Path>,
    flag: &str,
    names: &[String],
    profile: bool,
) -> Result<Vec<PathBuf>, Error> {
    let refuse = || {
        Error::Usage(format!(
            "several --attach targets write a file each: give {flag} an existing directory or \
             a pattern with {{}} for the target (e.g. {flag} profiles/{{}}.json)"
        ))
    };
    let given = given.ok_or_else(refuse)?;
    let text = given.to_string_lossy();
    if text.contains("{}") {
        return Ok(names
            .iter()
            .map(|n| PathBuf::from(text.replace("{}", n)))
            .collect());
    }
    if given.is_dir() {
        let suffix = if profile { "json" } else { "stats.json" };
        return Ok(names
            .iter()
            .map(|n| given.join(format!("{n}.{suffix}")))
            .collect());
    }
    Err(refuse())
}

fn report(recording: &Recording, quiet: bool, complain: bool) {
    for warning in &recording.warnings {
        warn(warning);
    }
    if quiet {
        return;
    }
    if let Some(runtime) = &recording.runtime {
        let mut line = format!(
            "syscall-profile: the runtime ({}) made {} syscalls after installing the filter",
            runtime.name,
            runtime.observed.len()
        );
        if !runtime.base.is_empty() {
            let added: Vec<&str> = runtime.added_by_base.iter().collect();
            line.push_str(&format!(
                "; its base set ({} syscalls) added {}{}",
                runtime.base.len(),
                added.len(),
                if added.is_empty() {
                    String::new()
                } else {
                    format!(": {}", added.join(" "))
                }
            ));
        }
        eprintln!("{line}");
    }
    report_implied(&recording.implied);
    if let Some(coverage) = &recording.coverage {
        eprintln!("syscall-profile: {}", coverage.summary());
    }
    if !recording.stats.included_reachable.is_empty() {
        let within = recording
            .coverage
            .as_ref()
            .and_then(|c| c.included_within.as_deref())
            .unwrap_or("Docker's default profile");
        eprintln!(
            "syscall-profile: --include reachable added {} syscall(s) the programs can reach and \
             {within} allows: {}",
            recording.stats.included_reachable.len(),
            recording.stats.included_reachable.join(" ")
        );
    }
    let withheld = &recording.stats.withheld_reachable;
    if !withheld.is_empty() {
        let named: Vec<String> = withheld
            .iter()
            .map(|name| format!("{name} ({})", notes::risk(name)))
            .collect();
        eprintln!(
            "syscall-profile: --include reachable left out {} risky syscall(s) the programs can \
             reach but the run did not make: {}; to allow them too, record with \
             --include-risky {}",
            withheld.len(),
            named.join("; "),
            withheld.join(",")
        );
    }
    let widened = &recording.stats.widened_reachable;
    if !widened.is_empty() {
        let within = recording
            .coverage
            .as_ref()
            .and_then(|c| c.included_within.as_deref())
            .unwrap_or("Docker's default profile");
        // By what they now allow: "fcntl ioctl (any value); socket (…)".
        let mut by_to: Vec<(&str, Vec<&str>)> = Vec::new();
        for w in widened {
            match by_to.iter_mut().find(|(to, _)| *to == w.to) {
                Some((_, names)) => names.push(&w.syscall),
                None => by_to.push((&w.to, vec![&w.syscall])),
            }
        }
        let named: Vec<String> = by_to
            .iter()
            .map(|(to, names)| format!("{} ({to})", names.join(" ")))
            .collect();
        eprintln!(
            "syscall-profile: --include reachable widened the learned argument values of {} \
             syscall(s) to what {within} allows of them, as a path the run did not take may \
             pass other values (the scan finds syscalls, not their values): {}",
            widened.len(),
            named.join("; ")
        );
    }
    report_learned(recording);
    if let Some(outlived) = &recording.outlived {
        eprintln!("syscall-profile: {}", outlived.said());
    }
    for note in &recording.export_notes {
        eprintln!("syscall-profile: {note}");
    }
    // A complain profile is never taken for one that enforces.
    let profile = match complain {
        true => "complain-mode profile (it refuses nothing, it logs)",
        false => "profile",
    };
    let target = match &recording.written_to {
        Some(path) => format!("{profile} written to {}", path.display()),
        None => format!("{profile} written to standard output"),
    };
    eprintln!(
        "syscall-profile: {} distinct syscalls, {} calls; {target}",
        recording.syscalls.len(),
        recording.observation.total_calls(),
    );
}

/// What the argument values became: the rules, what the run used beyond the
/// engine's default, what was widened to fit the kernel's limit.
fn report_learned(recording: &Recording) {
    let learned = &recording.learned;
    for note in &learned.notes {
        eprintln!("syscall-profile: {note}");
    }
    let mut line = format!(
        "syscall-profile: argument rules: {} syscall(s) with {} rule(s), {} allowed whatever \
         their arguments",
        learned.conditional_syscalls(),
        learned.rules.len(),
        learned.unconditional.len()
    );
    if let Some(instructions) = learned.instructions {
        line.push_str(&format!("; {instructions} filter instructions"));
    }
    eprintln!("{line}");
    for widened in &learned.widened {
        eprintln!(
            "syscall-profile: {}'s {} learned rule(s) were widened to {}: the filter would \
             have been past the kernel's 4096 instructions",
            widened.syscall, widened.rules, widened.to
        );
    }
}

/// What the run used that the engine's default refuses: a warning, even
/// with --quiet, unless --accept-beyond-default.
fn warn_beyond_default(recording: &Recording) {
    let beyond = &recording.learned.beyond_default;
    if beyond.is_empty() {
        return;
    }
    let named: Vec<String> = beyond
        .iter()
        .map(|b| format!("{b} ({} there)", b.default))
        .collect();
    warn(&format!(
        "beyond the engine's default: the run used, and the profile allows, {}; against {} \
         (give --accept-beyond-default to leave this unsaid)",
        named.join("; "),
        recording.default_name
    ));
}

/// What the kernel and the recognised runtimes added (see `implied`).
fn report_implied(implied: &Implied) {
    for recognised in &implied.runtimes {
        let runtime = match recognised.runtime.version() {
            Some(version) => format!("the {} runtime ({version})", recognised.runtime.name()),
            None => format!("the {} runtime", recognised.runtime.name()),
        };
        let added: Vec<&str> = implied
            .added
            .iter()
            .filter(|a| a.executable.as_ref() == Some(&recognised.executable))
            .map(|a| a.name.as_str())
            .collect();
        if added.is_empty() {
            eprintln!(
                "syscall-profile: recognised {runtime} in {}; it made all the syscalls it makes \
                 by timing in this run",
                recognised.executable.display()
            );
        } else {
            eprintln!(
                "syscall-profile: added for {runtime} in {}, which makes them by timing: {}",
                recognised.executable.display(),
                added.join(" ")
            );
        }
    }
    for added in implied.added.iter().filter(|a| a.executable.is_none()) {
        eprintln!("syscall-profile: added {} ({})", added.name, added.reason);
    }
}
