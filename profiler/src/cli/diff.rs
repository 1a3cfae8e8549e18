//! `syscall-profile diff`: arguments, the comparison, the rendering.

use std::path::{Path, PathBuf};

use super::{Error, colour_stdout, print_stdout, warn};
use crate::{
    baseline::{BaselineChoice, DockerContext, EffectivePolicy},
    coverage,
    diffing::{DiffError, DiffRequest, Format, compare, render},
    exit,
    profile::{Profile, SyscallSet},
};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 when the report was written, 2 for a usage error or \
                        a profile that cannot be read."
)]
pub struct DiffArgs {
    /// APP.json to compare with Docker's default profile (or --baseline),
    /// or OLD.json NEW.json to compare two profiles.
    #[arg(value_name = "PROFILE", required = true, num_args = 1..=2)]
    pub profiles: Vec<PathBuf>,

    /// Compare with an engine's default instead of Docker's current one:
    /// docker (moby's current), docker-20.10 (Docker engine 20.10's
    /// built-in), podman (containers-common's), containerd (RuntimeDefault);
    /// or with a Docker-format profile FILE (`./podman` for a file of
    /// that name).
    #[arg(long, value_name = "docker|docker-20.10|podman|containerd|FILE")]
    pub baseline: Option<BaselineChoice>,

    /// A capability the container gets beyond the engine's defaults
    /// (Docker's; podman's for --baseline podman), as given to `docker run
    /// --cap-add` (repeatable; ALL for every one).
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// A capability taken from Docker's defaults, as given to `docker run
    /// --cap-drop` (repeatable; ALL for every one).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// text (coloured on a terminal), json (schema syscall-profile/diff/v1)
    /// or markdown.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also set the profile against what PROGRAM can reach (its machine
    /// code and its libraries, see `syscall-profile scan`): how much of it
    /// the profile covers, and what a path its recording did not take may
    /// need.
    #[arg(long, value_name = "PROGRAM")]
    pub reachable: Option<PathBuf>,
}

/// Entry point of `syscall-profile diff`.
pub fn run(args: DiffArgs) -> Result<i32, Error> {
    let request = DiffRequest {
        profiles: args.profiles,
        baseline: args.baseline,
        cap_add: args.cap_add,
        cap_drop: args.cap_drop,
    };
    let (report, warnings) = compare(&request)?;
    for warning in &warnings {
        warn(warning);
    }
    print_stdout(&render(&report, args.format, colour_stdout()));
    if let Some(program) = &args.reachable {
        print_stdout(&coverage_of(&request, program)?);
    }
    Ok(exit::SUCCESS)
}

/// The profile's coverage of what `program` can reach, as one paragraph.
fn coverage_of(request: &DiffRequest, program: &Path) -> Result<String, Error> {
    let path = request.profiles.last().ok_or(DiffError::ProfileCount(0))?;
    let profile = Profile::load(path).map_err(DiffError::from)?.profile;
    let context =
        DockerContext::host(&request.cap_add, &request.cap_drop).map_err(DiffError::from)?;
    let allowed: SyscallSet = EffectivePolicy::evaluate(&profile, &context)
        .runnable_names()
        .into_iter()
        .collect();
    let coverage = coverage::of(&[program.to_owned()], &allowed);
    if let Some(e) = coverage.errors.first() {
        return Err(Error::Scan(format!("cannot scan {e}")));
    }
    let shown: Vec<&str> = coverage
        .unobserved
        .iter()
        .take(12)
        .map(String::as_str)
        .collect();
    Ok(format!(
        "\n{} allows {} of the {} syscalls {} can reach ({:.0} %); reachable but not allowed \
         ({}), the riskiest first: {}\n",
        path.display(),
        coverage.covered,
        coverage.reachable,
        program.display(),
        coverage.percent(),
        coverage.unobserved.len(),
        shown.join(" ")
    ))
}
