//! The `diff` subcommand's arguments and entry point.

use std::{io::IsTerminal, path::PathBuf};

use super::{DiffRequest, Format, compare, render};

/// Exit status of `diff`: the report was written.
pub const EXIT_OK: i32 = 0;
/// Exit status of `diff`: a usage error, or a file that cannot be read or
/// is not a valid profile.
pub const EXIT_ERROR: i32 = 2;

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
pub fn run(args: DiffArgs) -> i32 {
    let request = DiffRequest {
        profiles: args.profiles,
        baseline: args.baseline,
        cap_add: args.cap_add,
        cap_drop: args.cap_drop,
    };
    match compare(&request) {
        Ok((report, warnings)) => {
            for warning in warnings {
                eprintln!("syscall-profile: warning: {warning}");
            }
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print_stdout(&render(&report, args.format, colour));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("syscall-profile: error: {e}");
            EXIT_ERROR
        }
    }
}

/// Writes `text` to standard output. A reader that closed the pipe early
/// (`| head`) wanted no more: that is not an error, and not a panic.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("syscall-profile: warning: cannot write to standard output: {e}");
    }
}
