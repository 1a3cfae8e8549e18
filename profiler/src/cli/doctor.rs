//! `syscall-profile doctor`: what works on this host, and why not, in one
//! screen (or as JSON).

use std::path::PathBuf;

use clap::Args;

use super::{Error, print_stdout};
use crate::{
    doctor::{self, Report, Status},
    exit,
    output::Output,
};

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct DoctorArgs {
    /// Also write the report as JSON to FILE (`-`: standard output only).
    ///
    /// The report's `schema` is `syscall-profile/doctor/v1`; it holds every
    /// check (name, status ok|warn|fail, detail, fix) and the facts found
    /// (kernel, btf, cgroup_mode, whole_tree, privileged, counting_program,
    /// seccomp_listener, engines, systemd). FILE is checked before any check
    /// runs.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

const AFTER_LONG_HELP: &str = "\
Run it as the user that will record (root, or with CAP_BPF and CAP_PERFMON); the engines are
asked with the usual environment (DOCKER_HOST, CONTAINER_HOST, CONTAINERD_ADDRESS).

Examples:
  syscall-profile doctor
  syscall-profile doctor --json report.json
  syscall-profile doctor --json - | jq .ready

Exit status: 0 when `record` and `enforce` of a native command will work here (no check \
failed; warnings name what else does not), 1 when a check failed, 2 for a usage error or \
an output that cannot be written.";

/// Entry point of `syscall-profile doctor`.
pub fn run(args: DoctorArgs) -> Result<i32, Error> {
    // The output is checked before any check runs.
    let json =
        Output::prepare_if_given(args.json.as_deref()).map_err(|e| Error::Usage(e.to_string()))?;
    let to_stdout = matches!(json, Some(Output::Stdout));
    let report = doctor::examine();
    if !to_stdout {
        print_stdout(&render(&report));
    }
    if let Some(json) = json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Usage(format!("cannot write the report as JSON: {e}")))?;
        json.commit(&format!("{text}\n"))
            .map_err(|e| Error::Usage(e.to_string()))?;
    }
    Ok(match report.ready {
        true => exit::SUCCESS,
        false => exit::NOT_READY,
    })
}

/// The report as text: a line a check, its fix below it, and the verdict.
fn render(report: &Report) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let indent = " ".repeat(4 + 2 + width + 2);
    for check in &report.checks {
        let status = match check.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        let first = format!("{status:<4}  {:<width$}  ", check.name);
        out.push_str(&wrapped(&first, &indent, &check.detail));
        if let Some(fix) = &check.fix {
            out.push_str(&wrapped(&format!("{indent}fix: "), &indent, fix));
        }
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        out.push_str("ready: `record` and `enforce` of a native command will work here\n");
    } else {
        out.push_str(&format!(
            "not ready: `record` and `enforce` will not work here: {} failed\n",
            failed.join(", ")
        ));
    }
    out
}

/// The widest line of the text report.
const COLUMNS: usize = 100;

/// `text` after `first`, its words wrapped at [`COLUMNS`], the lines after
/// the first indented by `indent`.
fn wrapped(first: &str, indent: &str, text: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > COLUMNS {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::wrapped;

    #[test]
    fn details_wrap_at_the_column_below_their_start() {
        let text = "word ".repeat(40);
        let out = wrapped("ok    name  ", "            ", &text);
        assert!(out.lines().count() > 1);
        for line in out.lines() {
            assert!(line.len() <= super::COLUMNS, "{line:?}");
        }
        assert!(
            out.lines()
                .skip(1)
                .all(|l| l.starts_with("            word"))
        );
    }
}
