//! `syscall-profile enforce`: arguments, the enforced run, the denial
//! report.

mod json;

use std::{ffi::OsString, path::PathBuf, time::Duration};

use clap::Args;

use super::{Error, block_on, warn};
use crate::{
    enforce::{self, DenialWatching, EnforceError, EnforceOptions},
    judge::{
        denial::DeniedSyscall,
        live::{LiveEvent, RetryLoop},
    },
    output::Output,
    session::{Until, hook::Hook, process::RunAs},
};

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct EnforceArgs {
    /// The seccomp profile to run under (Docker's JSON format).
    ///
    /// As `record` writes it by default.
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,

    /// Block nothing: report what the profile would have denied.
    #[arg(long)]
    complain: bool,

    /// Write a profile allowing what was denied to FILE.
    ///
    /// What was (or would have been) denied, ready to merge into the policy
    /// (with or without --complain).
    #[arg(long, value_name = "FILE")]
    suggest: Option<PathBuf>,

    /// Write the denial report as JSON to FILE.
    ///
    /// Schema syscall-profile/enforce/v1: each denied syscall, the argument
    /// values refused, what the profile allows instead, and the rules that
    /// would allow them.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Run a native command as USER, with GROUP or the user's groups.
    ///
    /// USER is a name or uid; the tool itself stays privileged.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = super::parse_user)]
    user: Option<RunAs>,

    /// How denials are found: auto, kernel or listener.
    ///
    /// `auto` hands the refusals to a seccomp listener in this process
    /// (nothing on the calls the profile allows) where the profile's
    /// refusals are all SCMP_ACT_ERRNO and it allows read and write (a
    /// native program), or where runc hands the listener over through
    /// listenerPath (podman and ctr containers, with no syscall left to the
    /// default only by argument conditions), and watches every syscall with
    /// eBPF otherwise, and wherever the profile allows seccomp (a program
    /// asking for a seccomp listener of its own would get EBUSY under ours:
    /// the kernel allows one per filter chain); a Docker container always
    /// gets the eBPF watch (the Docker engine drops listenerPath, and runc
    /// then refuses the container); `kernel` and `listener` choose one.
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value_t = DenialWatching::Auto,
        hide_possible_values = true
    )]
    watch: DenialWatching,

    /// The kind of hook of the eBPF watch on every syscall (for tests: the
    /// BTF tracepoint where the kernel has BTF, else the raw tracepoint).
    #[arg(long, value_enum, default_value_t = Hook::Auto, hide = true)]
    hook: Hook,

    /// End the run after DURATION (30, 90s, 5m, 1h, 2d).
    ///
    /// SIGTERM, and SIGKILL after a grace period.
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

    /// No live report and no message before the run.
    ///
    /// The final report, warnings and errors still show.
    #[arg(short, long)]
    quiet: bool,

    /// The command: a native program, or an engine's run.
    ///
    /// `docker run ...`, `podman run ...` or `ctr run ... IMAGE ID ...`
    /// (ctr is given the profile in the OCI runtime spec's format).
    #[arg(value_name = "CMD", last = true, required = true)]
    command: Vec<OsString>,
}

const AFTER_LONG_HELP: &str = "\
Examples:
  syscall-profile enforce --profile app.json -- ./app --serve
  syscall-profile enforce --profile app.json --complain --suggest more.json -- ./app
  syscall-profile enforce --profile web.json -- podman run --rm web

Exit status: the command's own (128+N when a signal N killed it); 125 when the tool itself
failed (before the command ran, nothing is left behind), 126 when the command cannot be
executed, 127 when it was not found, 2 for a usage error.";

/// Entry point of `syscall-profile enforce`: the command's exit status.
pub fn run(args: EnforceArgs) -> Result<i32, Error> {
    let options = EnforceOptions {
        profile: args.profile,
        command: args.command,
        quiet: args.quiet,
        complain: args.complain,
        suggest: args.suggest,
        user: args.user,
        watch: args.watch,
        hook: args.hook,
        until: args.until,
        duration: args.duration,
        say: super::notice,
        live: match args.quiet {
            true => crate::notice::hidden,
            false => super::live::start,
        },
    };
    // Report files are checked before anything runs.
    Output::check_distinct(&[
        ("--suggest", options.suggest.as_deref()),
        ("--json", args.json.as_deref()),
    ])
    .map_err(EnforceError::from)?;
    let json = Output::prepare_if_given(args.json.as_deref()).map_err(EnforceError::from)?;
    let quiet = options.quiet;
    let verb = if options.complain {
        "would be denied"
    } else {
        "denied"
    };
    let mut say = |event: LiveEvent| say_live(&event, quiet, verb);
    let enforcement = match block_on(enforce::enforce(options.clone(), &mut say))? {
        Ok(enforcement) => enforcement,
        Err(e) => {
            // A command that could not start under the filter: what the
            // filter denied on the way says why.
            if let EnforceError::Start { denials, .. } = &e {
                report_denials(denials, &options, false);
            }
            return Err(e.into());
        }
    };
    for warning in &enforcement.warnings {
        warn(warning);
    }
    if let Some(outlived) = &enforcement.outlived {
        eprintln!("syscall-profile: {}", outlived.said());
    }
    if let Some(default) = enforcement
        .engine_default
        .as_ref()
        .filter(|_| !options.quiet)
    {
        eprintln!(
            "syscall-profile: the container's engine default: {default}; the profile was \
             evaluated with the capabilities that engine gives"
        );
    }
    if let Some(json) = json {
        json.commit(&json::json_report(&enforcement, &options))
            .map_err(EnforceError::from)?;
    }
    report_denials(&enforcement.denials, &options, enforcement.complain);
    for found in &enforcement.retry_loops {
        warn(&format!(
            "{} was refused in a retry loop: {}",
            native_name(&found.name, &found.arch),
            loop_numbers(found)
        ));
    }
    if !enforcement.base_denied.is_empty() {
        eprintln!(
            "syscall-profile: the profile would also deny what the container runtime needs \
             after installing the filter (its base set): {}",
            enforcement.base_denied.join(" ")
        );
    }
    if !enforcement.conditional.is_empty() {
        eprintln!(
            "syscall-profile: the profile allows these only under argument conditions, \
             which complain mode could not check: {}",
            enforcement.conditional.join("; ")
        );
    }
    if let Some(path) = &enforcement.suggestion {
        eprintln!(
            "syscall-profile: a profile allowing them is in {}; to add it to the policy: \
             syscall-profile merge {} {} -o {}",
            path.display(),
            options.profile.display(),
            path.display(),
            options.profile.display()
        );
    } else if !enforcement.denials.is_empty() || !enforcement.base_denied.is_empty() {
        let rules = enforce::allow_rules(&enforcement);
        if rules.is_empty() {
            // Only deliberate refusals (clone3's ENOSYS): nothing to add.
        } else if let [rule] = rules.as_slice() {
            eprintln!(
                "syscall-profile: to allow them, add this rule to {} (or give --suggest FILE \
                 for a profile to merge): {rule}",
                options.profile.display(),
            );
        } else {
            eprintln!(
                "syscall-profile: to allow them, add these rules to {} (or give --suggest \
                 FILE for a profile to merge):",
                options.profile.display(),
            );
            for rule in rules {
                eprintln!("  {rule}");
            }
        }
    }
    if enforcement.exit_code != 0
        && !enforcement.complain
        && enforcement
            .denials
            .iter()
            .all(|d| d.falls_back_to.is_some())
        && enforcement.escapes.is_empty()
    {
        if enforcement.own_listener_refused {
            eprintln!(
                "syscall-profile: the command exited with status {} and the profile denied \
                 nothing, but --watch listener refuses a seccomp listener of the program's own \
                 (EBUSY): see whether it fails under --watch kernel",
                enforcement.exit_code
            );
        } else {
            eprintln!(
                "syscall-profile: the command exited with status {} and the profile denied \
                 nothing, so the failure is its own",
                enforcement.exit_code
            );
        }
    }
    if !enforcement.escapes.is_empty() {
        eprintln!(
            "syscall-profile: error: the watch is incomplete: a process left the watched \
             cgroup (see above), and what the profile denied it after that was not seen"
        );
        if enforcement.exit_code == 0 {
            return Err(Error::Incomplete(
                "the watch is incomplete: a process left the watched cgroup (see above), and what \
             the profile denied it after that was not seen",
            ));
        }
    }
    Ok(enforcement.exit_code)
}

/// Says on standard error, the moment it is seen and whatever standard
/// error is (a terminal, a pipe, a file), what the run was refused for the
/// first time (`verb`: `denied`, or what a recording judged against a
/// profile would be; not with `--quiet`), and a retry loop (always: the
/// program will not get further, and a user waiting on it must know).
pub(super) fn say_live(event: &LiveEvent, quiet: bool, verb: &str) {
    match event {
        LiveEvent::Denied(new) if !quiet => {
            let mut line = format!(
                "syscall-profile: {verb}: {}",
                native_name(&new.name, &new.arch)
            );
            if let Some(values) = &new.values {
                line.push_str(&format!(" with {values}"));
            }
            let by = if new.values.is_some() {
                "first by "
            } else {
                ""
            };
            if let Some(caller) = &new.caller {
                let exe = caller
                    .exe
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default();
                line.push_str(&format!(" ({by}pid {}, {}{exe})", caller.pid, caller.comm));
            }
            if let Some(kill) = new.killed {
                line.push_str(&format!(": {}", kill.describe()));
            }
            eprintln!("{line}");
        }
        LiveEvent::Denied(_) => {}
        LiveEvent::RetryLoop(found) => {
            let who = found
                .caller
                .as_ref()
                .map(|c| format!(" (pid {}, {})", c.pid, c.comm))
                .unwrap_or_default();
            let name = native_name(&found.name, &found.arch);
            let still = if found.again { "still " } else { "" };
            eprintln!(
                "syscall-profile: warning: {name} {still}refused {}{who}: the program retries \
                 it in a loop, and will not get further under this profile (allow {name}, or \
                 stop it)",
                loop_numbers(found)
            );
        }
    }
}

/// `1,200,000 times in 10 s (120,000/s)`.
fn loop_numbers(found: &RetryLoop) -> String {
    format!(
        "{} times in {} s ({}/s)",
        grouped(found.count),
        grouped(found.seconds),
        grouped(found.per_second)
    )
}

/// A syscall's name, with its table where it is not the host's own.
fn native_name(name: &str, arch: &str) -> String {
    if crate::profile::Arch::host().map(|a| a.short_name()) == Some(arch) {
        name.to_owned()
    } else {
        format!("{name} ({arch})")
    }
}

/// `n` with its thousands grouped: `10,485,217`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// How many refused values of one syscall the text report lists (the most
/// frequent first).
const SHOWN_VALUES: usize = 16;

/// Prints the denial report on standard error.
fn report_denials(denials: &[DeniedSyscall], options: &EnforceOptions, complain: bool) {
    // A refusal the C library falls back from (clone3 answered ENOSYS, as
    // every learned profile answers it) is the profile working as meant:
    // said apart, after the denials, and neither counted nor listed as one.
    let (deliberate, denials): (Vec<&DeniedSyscall>, Vec<&DeniedSyscall>) =
        denials.iter().partition(|d| d.falls_back_to.is_some());
    if denials.is_empty() {
        if !options.quiet {
            let what = if complain {
                "nothing the profile would have denied"
            } else {
                "no syscall was denied"
            };
            eprintln!("syscall-profile: {what}");
        }
    } else {
        list_denials(&denials, options, complain);
    }
    if !options.quiet {
        report_deliberate(&deliberate, complain);
    }
}

/// The refusals the profile makes on purpose (clone3 answered ENOSYS, so
/// that the C library falls back to clone), one line each.
fn report_deliberate(deliberate: &[&DeniedSyscall], complain: bool) {
    let answered = if complain {
        "would have been answered"
    } else {
        "answered"
    };
    for d in deliberate {
        // Only an ENOSYS answer is one the C library falls back from.
        eprintln!(
            "syscall-profile: {answered} as the profile says: {} → ENOSYS {}× (the C library \
             falls back to {}, whose arguments the profile checks; not a denial)",
            d.name,
            d.count,
            d.falls_back_to.unwrap_or_default()
        );
    }
}

/// The denials, counted and listed: the count is the list's length.
fn list_denials(denials: &[&DeniedSyscall], options: &EnforceOptions, complain: bool) {
    let verb = if complain {
        "would have denied"
    } else {
        "denied"
    };
    eprintln!(
        "syscall-profile: the profile {} {verb} {} syscall(s):",
        options.profile.display(),
        denials.len()
    );
    let native = crate::profile::Arch::host().map(|arch| arch.short_name());
    for d in denials {
        // A call through the 32-bit entry point is named with its table.
        let name = if Some(d.arch.as_str()) == native {
            d.name.clone()
        } else {
            format!("{} ({})", d.name, d.arch)
        };
        let mut line = format!("  {name:<20} {}×", d.count);
        if let Some(errno) = d.errno {
            line.push_str(&format!(", errno {errno}"));
        }
        if let Some(kill) = d.killed {
            line.push_str(&format!(", {}", kill.describe()));
        }
        if let Some(caller) = &d.first {
            line.push_str(&format!(", first by pid {} ({})", caller.pid, caller.comm));
            if let Some(exe) = &caller.exe {
                line.push_str(&format!(", {exe}"));
            }
        }
        eprintln!("{line}");
        for values in d.values.iter().take(SHOWN_VALUES) {
            eprintln!("    {}× with {}", values.count, values.describe());
        }
        if let Some(rest) = d.values.get(SHOWN_VALUES..).filter(|r| !r.is_empty()) {
            eprintln!(
                "    {}× with {} other value(s) (--json FILE lists them all)",
                rest.iter().map(|v| v.count).sum::<u64>(),
                rest.len()
            );
        }
        if d.values_lost > 0 {
            eprintln!(
                "    {}× with values not known (the kernel's map of them was full, or the \
                 memory holding them unreadable)",
                d.values_lost
            );
        }
        if let Some(raw) = d.raw_arguments() {
            eprintln!("    first denied call: {}({raw})", d.name);
        }
        if !d.allowed_with.is_empty() {
            eprintln!(
                "    the profile allows {} only with {}",
                d.name,
                d.allowed_with.join("; or with ")
            );
        }
        if !d.refused_with.is_empty() {
            eprintln!(
                "    the profile refuses {} with {}",
                d.name,
                d.refused_with.join("; or with ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(10_485_217), "10,485,217");
    }
}
