//! `export`: one profile of the internal model written for each consumer
//! that enforces seccomp — Docker and podman (their JSON), an OCI runtime
//! (runc, crun: the runtime spec's `linux.seccomp`), Kubernetes (the
//! Security Profiles Operator's `SeccompProfile`, or a Localhost profile)
//! and systemd (a unit drop-in). What a target cannot express is refused
//! with a line naming the rule, never dropped or widened silently. Each
//! can be written in complain mode ([`complain`]): refusing nothing,
//! logging what the profile would refuse.

pub(crate) mod complain;
pub(crate) mod kubernetes;
pub mod oci;
pub(crate) mod runtime_tail;
pub(crate) mod systemd;
pub(crate) mod yaml;

use crate::choice::choice;
pub(crate) use crate::profile::rule_names;
use crate::{
    baseline::{Baseline, DockerContext, EffectivePolicy},
    profile::{Arch, Profile},
};

choice! {
    /// The consumers a profile can be exported for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Format {
        Docker => ("docker", "Docker's seccomp JSON (`docker run --security-opt seccomp=FILE`)"),
        Podman => ("podman", "The same JSON, for `podman run --security-opt seccomp=FILE`"),
        Oci => ("oci", "The OCI runtime spec's `linux.seccomp` object (runc, crun)"),
        Kubernetes => (
            "kubernetes",
            "A `SeccompProfile` of the Security Profiles Operator, as YAML"
        ),
        KubernetesLocalhost => (
            "kubernetes-localhost",
            "Docker's JSON for the kubelet's seccomp directory, with the `securityContext` that \
             uses it"
        ),
        Systemd => ("systemd", "A systemd unit drop-in (`SystemCallFilter=`)"),
    }
}

/// What an export wrote, and what the user must know of it.
#[derive(Debug)]
pub(crate) struct Exported {
    pub text: String,
    /// Said on standard error: how to use it, what was changed (widened).
    pub notes: Vec<String>,
}

/// Why a profile cannot be written for a target.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "rule {rule} ({names}) has Docker-only includes/excludes, which {target} cannot \
         express: evaluate them first (e.g. write the profile again without them)"
    )]
    DockerFilters {
        target: &'static str,
        rule: usize,
        names: String,
    },
    #[error("{target} cannot express this profile: {reason}")]
    Unsupported {
        target: &'static str,
        reason: String,
    },
    #[error(
        "systemd cannot keep the argument conditions of {rules}; allowing them whatever their \
         arguments would go beyond {within}: give --widen to allow these syscalls whatever \
         their arguments (or as far as a directive allows), or remove the conditions"
    )]
    NeedsWiden { rules: String, within: String },
    #[error(
        "{0} has no architecture this tool knows the native one of; give a profile for x86_64, aarch64, …"
    )]
    NoHostArch(&'static str),
    /// A Kubernetes name the API server would refuse.
    #[error("--{option} {value:?} is refused: {problem}; {rule}")]
    BadName {
        option: &'static str,
        value: String,
        problem: String,
        rule: &'static str,
    },
}

/// Options some targets take.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    /// `metadata.name` of a Kubernetes resource.
    pub name: Option<String>,
    /// `metadata.namespace` of a Kubernetes resource.
    pub namespace: Option<String>,
    /// systemd: allow syscalls whose argument conditions no directive keeps.
    pub widen: bool,
    /// systemd: the engine default within which a rule no directive keeps
    /// is widened without `widen` (Docker's default, as Docker applies it
    /// on this host, when none).
    pub within: Option<Within>,
    /// kubernetes-localhost: where the profile file is written.
    pub output_path: Option<std::path::PathBuf>,
    /// Complain mode: every refusal made `SCMP_ACT_LOG` (systemd:
    /// `SystemCallLog=`), see [`complain`].
    pub complain: bool,
}

/// An engine default as it applies here: what a rule may be widened to
/// without being looser than it.
#[derive(Debug, Clone)]
pub(crate) struct Within {
    pub policy: EffectivePolicy,
    /// What to call it: `Docker's default profile`.
    pub name: String,
}

impl Within {
    /// `baseline` as its engine applies it in `context`.
    pub(crate) fn of(baseline: &Baseline, context: &DockerContext) -> Within {
        Within {
            policy: baseline.evaluate(context),
            name: baseline.title(),
        }
    }

    /// Docker's default for a container on this host; none where the host's
    /// architecture or kernel version is unknown.
    pub(crate) fn docker_default() -> Option<Within> {
        let baseline = Baseline::docker_default();
        let context = baseline.context(&[], &[]).ok()?;
        Some(Within::of(&baseline, &context))
    }

    /// Whether the default lets `name` run whatever its arguments.
    pub(crate) fn allows_any_arguments(&self, name: &str) -> bool {
        self.policy.access(name).is_allowed()
    }
}

impl Format {
    /// Whether the target runs the profile in a container, whose runtime
    /// (runc, crun) makes calls of its own under the filter.
    pub(crate) fn is_container(self) -> bool {
        !matches!(self, Format::Systemd)
    }
}

/// `profile` as a container runtime must get it: a profile learned
/// natively, or of unknown origin, with the calls runc and crun make after
/// installing the filter (see [`runtime_tail`]), and the line that says so.
pub(crate) fn for_container(profile: &Profile) -> (Profile, Option<String>) {
    let origin = runtime_tail::Origin::of(profile);
    if origin == runtime_tail::Origin::Container {
        return (profile.clone(), None);
    }
    let (with_tail, added) = runtime_tail::add_to(profile, &runtime_tail::RuntimeTail::shipped());
    (with_tail, runtime_tail::said(origin, &added))
}

/// Writes `profile` for `format`.
pub(crate) fn export(
    profile: &Profile,
    format: Format,
    options: &Options,
) -> Result<Exported, ExportError> {
    let (with_tail, said) = match format.is_container() {
        true => for_container(profile),
        false => (profile.clone(), None),
    };
    // systemd writes its own complain mode (`SystemCallLog=`).
    let (profile, complained) = match options.complain && format != Format::Systemd {
        true => complain::complain(&with_tail),
        false => (with_tail, Vec::new()),
    };
    let profile = &profile;
    let mut exported = match format {
        Format::Docker | Format::Podman => Exported {
            text: profile.to_json(),
            notes: Vec::new(),
        },
        Format::Oci => {
            let seccomp = oci::to_oci(profile)?;
            Exported {
                text: oci::to_text(&seccomp),
                notes: Vec::new(),
            }
        }
        Format::Kubernetes => kubernetes::resource(profile, options)?,
        Format::KubernetesLocalhost => kubernetes::localhost(profile, options),
        Format::Systemd => systemd::drop_in(profile, options)?,
    };
    exported.notes.splice(0..0, said);
    exported.notes.extend(complained);
    Ok(exported)
}

/// The profile as `record` writes it without `--to`: Docker's JSON as
/// learned (nothing added for a runtime), in complain mode if asked.
pub(crate) fn as_recorded(profile: &Profile, complain: bool) -> Exported {
    match complain {
        true => {
            let (profile, notes) = complain::complain(profile);
            Exported {
                text: profile.to_json(),
                notes,
            }
        }
        false => Exported {
            text: profile.to_json(),
            notes: Vec::new(),
        },
    }
}

/// `export --to oci --bundle DIR`: `DIR/config.json` with the profile at
/// `.linux.seccomp` (for a container, see [`for_container`]), in complain
/// mode if asked, the rest of the file kept.
pub(crate) fn into_bundle(
    profile: &Profile,
    bundle: &std::path::Path,
    options: &Options,
) -> Result<Exported, oci::BundleError> {
    let (with_tail, said) = for_container(profile);
    let (profile, complained) = match options.complain {
        true => complain::complain(&with_tail),
        false => (with_tail, Vec::new()),
    };
    let seccomp = oci::to_oci(&profile)?;
    let mut notes: Vec<String> = said.into_iter().collect();
    notes.extend(complained);
    Ok(Exported {
        text: oci::into_bundle_config(bundle, &seccomp, options.complain)?,
        notes,
    })
}

/// Refuses a profile that still has Docker's includes/excludes.
pub(crate) fn refuse_docker_filters(
    profile: &Profile,
    target: &'static str,
) -> Result<(), ExportError> {
    match profile
        .syscalls
        .iter()
        .enumerate()
        .find(|(_, rule)| !rule.includes.is_empty() || !rule.excludes.is_empty())
    {
        Some((at, rule)) => Err(ExportError::DockerFilters {
            target,
            rule: at + 1,
            names: rule_names(rule),
        }),
        None => Ok(()),
    }
}

/// The architectures a runtime filters with: an `archMap` becomes the host's
/// entry (its native architecture and sub-architectures); a list stays.
pub(crate) fn architectures(
    profile: &Profile,
    target: &'static str,
) -> Result<Vec<Arch>, ExportError> {
    if profile.arch_map.is_empty() {
        return Ok(profile.architectures.clone());
    }
    let host = Arch::host().ok_or(ExportError::NoHostArch(target))?;
    Ok(profile.effective_arches(host))
}
