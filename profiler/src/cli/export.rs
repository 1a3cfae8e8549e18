//! `syscall-profile export`: arguments, the profile in the target's form,
//! the output.

use std::path::PathBuf;

use super::{Error, warn};
use crate::{
    baseline::{Baseline, BaselineChoice, BaselineError},
    exit,
    export::{self, ExportError, Format, Options, kubernetes, oci},
    output::{Output, OutputError},
    profile::{Profile, ProfileError},
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  syscall-profile export --to podman -o app.podman.json app.json
  syscall-profile export --to oci --bundle ./bundle app.json
  syscall-profile export --to kubernetes --name web --namespace prod web.json
  syscall-profile export --to systemd --complain app.json

Exit status: 0 when the profile was written, 2 otherwise.")]
pub struct ExportArgs {
    /// The consumer to write the profile for.
    ///
    /// docker, podman, oci, kubernetes, kubernetes-localhost or systemd.
    /// For a container (all but systemd), a profile not learned in a
    /// container gets the calls runc and crun make after installing the
    /// filter (said).
    #[arg(
        long = "to",
        value_name = "FORMAT",
        value_enum,
        hide_possible_values = true
    )]
    pub to: Format,

    /// The profile (Docker's JSON format, as `record` writes it).
    #[arg(value_name = "PROFILE")]
    pub input: PathBuf,

    /// Write to FILE (default: standard output).
    ///
    /// Written atomically.
    #[arg(short, long, value_name = "FILE", conflicts_with = "bundle")]
    pub output: Option<PathBuf>,

    /// oci: write into DIR/config.json at `.linux.seccomp`.
    ///
    /// The rest of the file is kept; written atomically.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,

    /// kubernetes: the resource's `metadata.name`.
    ///
    /// Default: syscall-profile.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// kubernetes: the resource's `metadata.namespace`.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,

    /// systemd: allow what no directive can condition.
    ///
    /// Allows the syscalls of rules whose argument conditions no systemd
    /// directive keeps (RestrictNamespaces=, RestrictAddressFamilies=,
    /// LockPersonality=, MemoryDenyWriteExecute= keep some) whatever their
    /// arguments; says which, and why.
    #[arg(long)]
    pub widen: bool,

    /// systemd: the default to widen within without --widen.
    ///
    /// A rule no directive keeps may be widened within it without --widen
    /// (where it allows the syscall whatever its arguments, said): docker
    /// (the default), docker-20.10, podman, containerd, or a Docker-format
    /// profile FILE.
    #[arg(long, value_name = "ENGINE|FILE")]
    pub baseline: Option<BaselineChoice>,

    /// Complain mode: log what the profile refuses, refuse nothing.
    ///
    /// For trying a profile in production: every refusal of the profile (its default, and each rule that refuses) becomes
    /// SCMP_ACT_LOG, so nothing is refused and the kernel logs each call
    /// outside the profile (audit record type 1326: the audit log, or the
    /// kernel log without auditd). The output says it is in complain mode.
    /// systemd: SystemCallLog= logs what SystemCallFilter= would refuse;
    /// the directives that refuse by argument are left out (said).
    #[arg(long)]
    pub complain: bool,
}

/// Why `export` failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportCliError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Bundle(#[from] oci::BundleError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error("--{0} applies only to --to {1}")]
    Misplaced(&'static str, &'static str),
}

/// Entry point of `syscall-profile export`.
pub fn run(args: ExportArgs) -> Result<i32, Error> {
    run_inner(args).map_err(Error::Export)
}

/// Refuses a target's option given with another target, and a Kubernetes
/// name or namespace the API server would refuse (`export` and `record
/// --to` alike, before anything is read, run or written).
pub(crate) fn check_target_options(
    to: Option<Format>,
    widen: bool,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<(), ExportCliError> {
    if widen && to != Some(Format::Systemd) {
        return Err(ExportCliError::Misplaced("widen", "systemd"));
    }
    if (name.is_some() || namespace.is_some()) && to != Some(Format::Kubernetes) {
        return Err(ExportCliError::Misplaced("name/--namespace", "kubernetes"));
    }
    kubernetes::check_names(name, namespace)?;
    Ok(())
}

fn run_inner(args: ExportArgs) -> Result<i32, ExportCliError> {
    if args.bundle.is_some() && args.to != Format::Oci {
        return Err(ExportCliError::Misplaced("bundle", "oci"));
    }
    if args.baseline.is_some() && args.to != Format::Systemd {
        return Err(ExportCliError::Misplaced("baseline", "systemd"));
    }
    check_target_options(
        Some(args.to),
        args.widen,
        args.name.as_deref(),
        args.namespace.as_deref(),
    )?;
    let target = match &args.bundle {
        Some(dir) => Some(dir.join("config.json")),
        None => args.output.clone(),
    };
    // The output is checked before the input is read.
    let output = Output::prepare(target.as_deref())?;
    let within = match &args.baseline {
        Some(choice) => {
            let (baseline, warnings) = Baseline::choose(choice)?;
            for warning in &warnings {
                warn(warning);
            }
            let context = baseline.context(&[], &[])?;
            Some(export::Within::of(&baseline, &context))
        }
        None => None,
    };
    let parsed = Profile::load(&args.input)?;
    for warning in &parsed.warnings {
        warn(&format!("{}: {warning}", args.input.display()));
    }
    let options = Options {
        name: args.name,
        namespace: args.namespace,
        widen: args.widen,
        within,
        output_path: args.output.clone(),
        complain: args.complain,
    };
    let exported = match &args.bundle {
        Some(dir) => export::into_bundle(&parsed.profile, dir, &options)?,
        None => export::export(&parsed.profile, args.to, &options)?,
    };
    output.commit(&exported.text)?;
    for note in &exported.notes {
        eprintln!("syscall-profile: {note}");
    }
    Ok(exit::SUCCESS)
}
