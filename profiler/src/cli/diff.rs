//! `syscall-profile diff`: arguments, the comparison, the rendering.

use std::path::PathBuf;

use super::{Error, colour_stdout, print_stdout, warn};
use crate::{
    diffing::{DiffRequest, Format, compare, render},
    exit,
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

    /// Compare with this Docker-format profile instead of Docker's default.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// A capability the container gets beyond Docker's defaults, as given
    /// to `docker run --cap-add` (repeatable; ALL for every one).
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
    Ok(exit::SUCCESS)
}
