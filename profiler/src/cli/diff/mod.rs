//! `syscall-profile diff`: arguments, the comparison, the rendering.

mod render;

use std::path::PathBuf;

pub(crate) use render::Format;
use render::render;

use super::{
    Error, colour_stdout, print_stdout,
    scan::{EngineArg, ScanCliError},
    warn,
};
use crate::{
    baseline::{BaselineChoice, DockerContext, EffectivePolicy},
    coverage,
    diff::{DiffError, DiffRequest, compare},
    exit,
    profile::{Profile, SyscallSet},
    scan::{ScanError, image},
    session::{guardian::Guardian, interrupt::Interrupt},
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  syscall-profile diff app.json
  syscall-profile diff --baseline podman --cap-add NET_ADMIN app.json
  syscall-profile diff --format markdown old.json new.json

Exit status: 0 when the report was written, 2 for a usage error or a profile that cannot be
read.")]
pub struct DiffArgs {
    /// APP.json (against a default), or OLD.json NEW.json.
    ///
    /// APP.json is compared with Docker's default profile (or --baseline);
    /// OLD.json NEW.json compares two profiles.
    #[arg(value_name = "PROFILE", required = true, num_args = 1..=2)]
    pub profiles: Vec<PathBuf>,

    /// Compare with another engine's default, or a FILE.
    ///
    /// Instead of Docker's current one: docker (moby's current),
    /// docker-20.10 (Docker engine 20.10's built-in), podman
    /// (containers-common's), containerd (RuntimeDefault); or a
    /// Docker-format profile FILE (`./podman` for a file of that name).
    #[arg(long, value_name = "ENGINE|FILE")]
    pub baseline: Option<BaselineChoice>,

    /// A capability added to the engine's defaults (repeatable).
    ///
    /// Beyond Docker's (podman's for --baseline podman), as given to
    /// `docker run --cap-add`; ALL for every one.
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// A capability taken from the defaults (repeatable).
    ///
    /// As given to `docker run --cap-drop`; ALL for every one.
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// The report's format: text, json or markdown.
    ///
    /// text (coloured on a terminal), json (schema syscall-profile/diff/v1)
    /// or markdown.
    #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true)]
    pub format: Format,

    /// Also set the profile against what PROGRAM can reach.
    ///
    /// Its machine code and its libraries (see `syscall-profile scan`): how
    /// much of it the profile covers, and what a path its recording did not
    /// take may need. With --image, PROGRAM is inside the image.
    #[arg(long, value_name = "PROGRAM")]
    pub reachable: Option<PathBuf>,

    /// The same for a container's profile, in IMAGE.
    ///
    /// What the program of IMAGE can reach (--reachable PROGRAM inside it,
    /// else its entrypoint), its libraries being the image's.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    #[command(flatten)]
    pub engine: EngineArg,
}

/// Entry point of `syscall-profile diff`.
pub fn run(args: DiffArgs) -> Result<i32, Error> {
    let request = DiffRequest {
        profiles: args.profiles.clone(),
        baseline: args.baseline.clone(),
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
    };
    let (report, warnings) = compare(&request)?;
    // Before anything is printed: a program or image that cannot be
    // scanned is an error with no report.
    let coverage = (args.reachable.is_some() || args.image.is_some())
        .then(|| coverage_of(&request, &args))
        .transpose()?;
    for warning in &warnings {
        warn(warning);
    }
    let rendered = render(&report, args.format, colour_stdout());
    match coverage {
        None => print_stdout(&rendered),
        Some(coverage) if args.format == Format::Json => {
            print_stdout(&with_coverage_json(&rendered, &coverage))
        }
        Some(coverage) => print_stdout(&format!("{rendered}{}", coverage.paragraph())),
    }
    Ok(exit::SUCCESS)
}

/// What the profile allows of what a program can reach.
struct ProfileCoverage {
    profile: PathBuf,
    /// The program (its path inside `coverage.image` if that is set).
    program: String,
    coverage: coverage::Coverage,
}

impl ProfileCoverage {
    /// One paragraph, after the text or markdown report.
    fn paragraph(&self) -> String {
        let c = &self.coverage;
        let shown: Vec<&str> = c.unobserved.iter().take(12).map(String::as_str).collect();
        let program = match &c.image {
            Some(image) => format!("{} in {image}", self.program),
            None => self.program.clone(),
        };
        format!(
            "\n{} allows {} of the {} syscalls {} can reach ({:.0} %); reachable but not \
             allowed ({}), the riskiest first: {}\n",
            self.profile.display(),
            c.covered,
            c.reachable,
            program,
            c.percent(),
            c.unobserved.len(),
            shown.join(" ")
        )
    }
}

/// The JSON report with a `coverage` member: the program, how many
/// syscalls it can reach, how many of them the profile allows, and the
/// others, the riskiest first.
fn with_coverage_json(rendered: &str, coverage: &ProfileCoverage) -> String {
    let c = &coverage.coverage;
    let member = serde_json::json!({
        "program": coverage.program,
        "image": c.image,
        "reachable": c.reachable,
        "allowed": c.covered,
        "percent": (c.percent() * 10.0).round() / 10.0,
        "not_allowed": c.unobserved,
        "unresolved_sites": c.unresolved_sites,
    });
    match serde_json::from_str::<serde_json::Value>(rendered) {
        Ok(serde_json::Value::Object(mut report)) => {
            report.insert("coverage".to_owned(), member);
            let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
            text.push('\n');
            text
        }
        // The renderer always writes an object; were it not one, the
        // report goes out as it is.
        _ => rendered.to_owned(),
    }
}

/// The profile's coverage of what the program (`--reachable`, inside
/// `--image` if given) can reach.
fn coverage_of(request: &DiffRequest, args: &DiffArgs) -> Result<ProfileCoverage, Error> {
    let path = request.profiles.last().ok_or(DiffError::ProfileCount(0))?;
    let parsed = Profile::load(path).map_err(DiffError::from)?;
    for warning in &parsed.warnings {
        warn(&format!("{}: {warning}", path.display()));
    }
    let profile = parsed.profile;
    let context =
        DockerContext::host(&request.cap_add, &request.cap_drop).map_err(DiffError::from)?;
    let allowed: SyscallSet = EffectivePolicy::evaluate(&profile, &context)
        .runnable_names()
        .into_iter()
        .collect();
    // A signal ends the export and the scan at once, in good order.
    let interrupt = Interrupt::catch().ok();
    let (coverage, program) = match &args.image {
        None => {
            // The caller asks only with one of --reachable and --image.
            let program = args.reachable.clone().unwrap_or_default();
            let shown = program.display().to_string();
            (
                coverage::of(
                    std::slice::from_ref(&program),
                    &allowed,
                    coverage::RunLoads::default(),
                    interrupt.as_ref(),
                    super::notice,
                ),
                shown,
            )
        }
        Some(reference) => {
            let mut guardian = Guardian::spawn().map_err(ScanCliError::Guardian)?;
            let engine = args.engine.engine();
            let exported = image::export(&engine, reference, &mut guardian, interrupt.as_ref())
                .map_err(ScanCliError::Scan)?;
            let name = args.reachable.as_ref().map(|p| p.to_string_lossy());
            let program = image::program(&exported, name.as_deref()).map_err(ScanCliError::Scan)?;
            let coverage = coverage::of_exported(
                &exported,
                reference,
                std::slice::from_ref(&program),
                &allowed,
                coverage::RunLoads::default(),
                interrupt.as_ref(),
                super::notice,
            );
            drop(exported);
            guardian.release();
            (coverage, program.display().to_string())
        }
    };
    if let Some(e) = coverage.errors.first() {
        return Err(ScanCliError::Coverage(e.clone()).into());
    }
    if let Some(signal) = coverage.interrupted {
        return Err(ScanCliError::Scan(ScanError::Interrupted { signal }).into());
    }
    Ok(ProfileCoverage {
        profile: path.clone(),
        program,
        coverage,
    })
}
