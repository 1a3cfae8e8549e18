//! `syscall-profile learn`: what a profile lacks, from the kernel's seccomp
//! log of the workloads that ran under its complain form.

use std::path::PathBuf;

use super::{
    Error,
    check::report::{junit_document, text},
    print_stdout, warn,
};
use crate::{
    learn::{self, LearnError, LearnRequest, records::LogSource},
    output::Output,
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The loop in production: `export --complain` writes the profile whose refusals are logged
instead (SCMP_ACT_LOG); the workload runs under it; `learn` reads what the kernel logged, says
per workload what the profile lacks, and with -o writes the profile with it added; review
that, then enforce it.

Examples:
  syscall-profile learn --from-log kmsg --profile app.json --since 2h -o app.next.json
  syscall-profile learn --from-log audit --duration 10m --profile app.json
  syscall-profile learn --from-log /var/log/audit/audit.log --profile app.json --json r.json

Exit status: 0 when no workload made a syscall the profile lacks; 1 when one did; 2 for a
usage error or an unreadable log or profile.")]
pub struct LearnArgs {
    /// Where the kernel's seccomp records are.
    ///
    /// audit (listened to live,
    /// as the kernel makes them, until --duration or Ctrl-C: no audit
    /// daemon needed, no rate limit), kmsg (the kernel's log, /dev/kmsg,
    /// where they land when no audit daemon takes them, past its rate
    /// limit of about ten every five seconds), journal (journalctl), or a
    /// FILE (an audit.log, a saved dmesg).
    #[arg(long = "from-log", value_name = "SOURCE|FILE")]
    pub(crate) from_log: LogSource,

    /// The enforcing profile the complain form was exported from.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: PathBuf,

    /// Write the profile with what the workloads lacked added to FILE.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Only records from then on: a time, or how long ago.
    ///
    /// A time (2026-12-07T10:00:00Z) or how long ago (10m, 2h).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub(crate) since: Option<u64>,

    /// With --from-log audit: listen for DURATION.
    ///
    /// E.g. 90s, 10m, 2h; without, until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub(crate) duration: Option<std::time::Duration>,

    /// Write the report as JSON to FILE.
    ///
    /// Schema syscall-profile/learn/v1.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,

    /// Write a JUnit XML report to FILE.
    ///
    /// A test suite per workload, a failing case per syscall the profile
    /// lacks.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,

    /// No text report on standard output.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// `--since`: seconds since the epoch, from a time or a time ago.
fn parse_since(text: &str) -> Result<u64, String> {
    let at = match humantime::parse_rfc3339_weak(text) {
        Ok(at) => at,
        Err(_) => {
            let ago = humantime::parse_duration(text).map_err(|_| {
                format!("{text:?} is neither a time (2026-12-07T10:00:00Z) nor a time ago (10m)")
            })?;
            std::time::SystemTime::now()
                .checked_sub(ago)
                .ok_or_else(|| format!("{text} ago is before the epoch"))?
        }
    };
    Ok(at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()))
}

/// Entry point of `syscall-profile learn`.
pub fn run(args: LearnArgs) -> Result<i32, Error> {
    learn_run(args).map_err(Error::Learn)
}

fn learn_run(args: LearnArgs) -> Result<i32, LearnError> {
    Output::check_distinct(&[
        ("-o", args.output.as_deref()),
        ("--json", args.json.as_deref()),
        ("--junit", args.junit.as_deref()),
    ])?;
    let junit = Output::prepare_if_given(args.junit.as_deref())?;
    let json = Output::prepare_if_given(args.json.as_deref())?;
    let learned = learn::learn(&LearnRequest {
        source: args.from_log,
        profile: args.profile,
        since: args.since,
        output: args.output,
        duration: args.duration,
        say: super::notice,
    })?;
    if learned.refused > 0 {
        warn(&format!(
            "{} call(s) in the log were refused or killed by an enforcing filter: not learned \
             (a refusal is on purpose, perhaps an attack); allow them by hand if they are the \
             workload's",
            learned.refused
        ));
    }
    if learned.lost > 0 {
        warn(&format!(
            "the kernel dropped {} seccomp record(s) (its rate limit, or its log overwritten \
             before it was read): what they held is not here; run the workload again, or raise \
             the limits (`sysctl kernel.printk_ratelimit`, an audit daemon)",
            learned.lost
        ));
    }
    if !learned.fallbacks.is_empty() {
        warn(&format!(
            "not learned: {} (the profile answers them with ENOSYS so that the program falls \
             back to a syscall it can check; under the complain form they ran and were logged)",
            learned.fallbacks.join(", ")
        ));
    }
    if learned.foreign > 0 {
        warn(&format!(
            "{} record(s) of an architecture this tool has no syscall table of were skipped",
            learned.foreign
        ));
    }
    if !args.quiet {
        if learned.workloads.is_empty() {
            print_stdout(&format!(
                "no call outside {} was logged{}\n",
                learned.profile,
                match args.since {
                    Some(_) => " in that time",
                    None => "",
                }
            ));
        }
        for workload in &learned.workloads {
            print_stdout(&format!(
                "== {} ({} logged call(s))\n{}",
                workload.workload,
                workload.records,
                text(&workload.check)
            ));
        }
        if let Some(path) = &learned.written_to {
            print_stdout(&format!(
                "the profile with what was lacking added: {path} (review it, then enforce it)\n"
            ));
        }
    }
    if let Some(out) = junit {
        let suites: Vec<(String, &crate::check::CheckReport)> = learned
            .workloads
            .iter()
            .map(|w| (w.workload.clone(), &w.check))
            .collect();
        out.commit(&junit_document("syscall-profile learn", &suites))?;
    }
    if let Some(out) = json {
        // Strings, numbers and lists only: serializing cannot fail.
        let mut text = serde_json::to_string_pretty(&learned).expect("a learn report serializes");
        text.push('\n');
        out.commit(&text)?;
    }
    Ok(learned.exit_code)
}
