//! The `merge` subcommand's arguments and entry point.

use std::path::PathBuf;

use super::{Input, merge};
use crate::{output::Output, profile::Profile};

/// Exit status of `merge` for a usage error, an unreadable or invalid
/// input, inputs that cannot be merged, or an output that cannot be written.
pub const EXIT_ERROR: i32 = 2;

#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 when the merged profile was written, 2 otherwise.")]
pub struct MergeArgs {
    /// The profiles to merge (Docker's JSON format).
    #[arg(value_name = "PROFILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Write the merged profile to FILE (atomically; it may be one of the
    /// inputs). Default: standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Entry point of `syscall-profile merge`.
pub fn run(args: MergeArgs) -> i32 {
    match merge_files(&args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("syscall-profile: error: {message}");
            EXIT_ERROR
        }
    }
}

fn merge_files(args: &MergeArgs) -> Result<(), String> {
    // The output is checked before any input is read.
    let output = Output::prepare(args.output.as_deref()).map_err(|e| e.to_string())?;
    let mut loaded = Vec::new();
    for path in &args.inputs {
        let parsed = Profile::load(path).map_err(|e| e.to_string())?;
        for warning in &parsed.warnings {
            eprintln!("syscall-profile: warning: {}: {warning}", path.display());
        }
        loaded.push((path.display().to_string(), parsed.profile));
    }
    let inputs: Vec<Input<'_>> = loaded
        .iter()
        .map(|(name, profile)| Input { name, profile })
        .collect();
    let merged = merge(&inputs).map_err(|e| e.to_string())?;
    output
        .commit(&merged.to_json())
        .map_err(|e| e.to_string())?;
    Ok(())
}
