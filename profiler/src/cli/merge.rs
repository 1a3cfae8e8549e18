//! `syscall-profile merge`: arguments, the union, the output.

use std::path::PathBuf;

use super::{Error, warn};
use crate::{
    exit,
    merge::{Input, MergeError, merge},
    output::Output,
    profile::Profile,
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  syscall-profile merge -o app.json start.json serve.json
  syscall-profile merge -o policy.json policy.json suggested.json

Exit status: 0 when the merged profile was written, 2 otherwise.")]
pub struct MergeArgs {
    /// The profiles to merge (Docker's JSON format).
    #[arg(value_name = "PROFILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Write the merged profile to FILE (default: standard output).
    ///
    /// Written atomically; it may be one of the inputs.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Entry point of `syscall-profile merge`.
pub fn run(args: MergeArgs) -> Result<i32, Error> {
    // The output is checked before any input is read.
    let output = Output::prepare(args.output.as_deref()).map_err(MergeError::from)?;
    let mut loaded = Vec::new();
    for path in &args.inputs {
        let parsed = Profile::load(path).map_err(MergeError::from)?;
        for warning in &parsed.warnings {
            warn(&format!("{}: {warning}", path.display()));
        }
        loaded.push((path.display().to_string(), parsed.profile));
    }
    let inputs: Vec<Input<'_>> = loaded
        .iter()
        .map(|(name, profile)| Input { name, profile })
        .collect();
    let merged = merge(&inputs)?;
    output.commit(&merged.to_json()).map_err(MergeError::from)?;
    Ok(exit::SUCCESS)
}
