//! The OCI runtime spec's `linux.seccomp` object, and writing it into a
//! bundle's `config.json`.

use std::path::Path;

use serde::Serialize;

use super::{ExportError, architectures, refuse_docker_filters};
use crate::profile::{Action, Arch, ArgCondition, FilterFlag, Profile};

const TARGET: &str = "an OCI runtime";

/// `linux.seccomp` of the runtime spec (config-linux.md#seccomp).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciSeccomp {
    pub default_action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FilterFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    pub syscalls: Vec<OciSyscall>,
}

/// One entry of `linux.seccomp.syscalls`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciSyscall {
    pub names: Vec<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
}

/// The profile as the runtime spec's object; Docker-only fields (comments,
/// includes/excludes, archMap) have no place there.
pub fn to_oci(profile: &Profile) -> Result<OciSeccomp, ExportError> {
    refuse_docker_filters(profile, TARGET)?;
    Ok(OciSeccomp {
        default_action: profile.default_action,
        default_errno_ret: profile.default_errno_ret,
        architectures: architectures(profile, TARGET)?,
        flags: profile.flags.clone(),
        listener_path: profile.listener_path.clone(),
        listener_metadata: profile.listener_metadata.clone(),
        syscalls: profile
            .syscalls
            .iter()
            .filter(|rule| !rule.names.is_empty())
            .map(|rule| OciSyscall {
                names: rule.names.clone(),
                action: rule.action,
                errno_ret: rule.errno_ret,
                args: rule.args.clone(),
            })
            .collect(),
    })
}

/// Pretty JSON with a final newline.
pub(crate) fn to_text(seccomp: &OciSeccomp) -> String {
    let mut text = serde_json::to_string_pretty(seccomp).expect("the object always serializes");
    text.push('\n');
    text
}

/// The largest `config.json` read: `runc spec` writes 3 KiB; a spec with a
/// long environment and many mounts stays well under 1 MiB.
const SPEC_LIMIT: crate::input::Limit = crate::input::Limit {
    bytes: 16 << 20,
    what: "a runtime spec",
};

/// Why a bundle's `config.json` cannot take the profile.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0} (give a bundle directory made by `runc spec`)")]
    Read(#[from] crate::input::InputError),
    #[error("{path} is not a runtime spec: {reason}")]
    Invalid { path: String, reason: String },
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// The annotation (`config.json`'s `annotations`) that marks a bundle whose
/// profile is in complain mode, with the value `complain`; an export that
/// enforces removes it.
pub const COMPLAIN_ANNOTATION: &str = super::complain::OCI_ANNOTATION;

/// `config.json` of `bundle` with `.linux.seccomp` replaced by `seccomp`,
/// marked as complain mode or not (see [`config_in_mode`]), everything else
/// kept.
pub(crate) fn into_bundle_config(
    bundle: &Path,
    seccomp: &OciSeccomp,
    complain: bool,
) -> Result<String, BundleError> {
    let path = bundle.join("config.json");
    let bytes = crate::input::read(&path, SPEC_LIMIT)?;
    config_in_mode(&path.display().to_string(), &bytes, seccomp, complain)
}

/// The runtime spec `bytes` (the `config.json` named `shown` in messages)
/// with `.linux.seccomp` replaced by `seccomp` of an enforcing profile: as
/// [`config_in_mode`] writes it.
///
/// Public for the fuzzer (`fuzz/`, target `oci_config`), which gives it
/// arbitrary bytes: a spec it cannot take is refused in one line.
pub fn config_with_seccomp(
    shown: &str,
    bytes: &[u8],
    seccomp: &OciSeccomp,
) -> Result<String, BundleError> {
    config_in_mode(shown, bytes, seccomp, false)
}

/// The runtime spec `bytes` with `.linux.seccomp` replaced by `seccomp`
/// and, in complain mode, the annotation [`COMPLAIN_ANNOTATION`] (which
/// `runc state` shows); without, that annotation is removed (and
/// `annotations` with it when nothing else is left in it). Everything else
/// is kept: what [`into_bundle_config`] writes once it has read the file.
pub(crate) fn config_in_mode(
    shown: &str,
    bytes: &[u8],
    seccomp: &OciSeccomp,
    complain: bool,
) -> Result<String, BundleError> {
    let shown = shown.to_owned();
    let mut config: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BundleError::Invalid {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    let root = config.as_object_mut().ok_or_else(|| BundleError::Invalid {
        path: shown.clone(),
        reason: "it is no JSON object".into(),
    })?;
    let linux = root
        .entry("linux")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    let linux = linux.as_object_mut().ok_or_else(|| BundleError::Invalid {
        path: shown.clone(),
        reason: "`linux` is no object".into(),
    })?;
    linux.insert(
        "seccomp".into(),
        serde_json::to_value(seccomp).expect("the object always serializes"),
    );
    match complain {
        true => {
            let annotations = root
                .entry("annotations")
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            let annotations = annotations
                .as_object_mut()
                .ok_or_else(|| BundleError::Invalid {
                    path: shown.clone(),
                    reason: "`annotations` is no object".into(),
                })?;
            annotations.insert(COMPLAIN_ANNOTATION.into(), super::complain::MODE.into());
        }
        false => {
            if let Some(annotations) = root.get_mut("annotations").and_then(|a| a.as_object_mut())
                && annotations.remove(COMPLAIN_ANNOTATION).is_some()
                && annotations.is_empty()
            {
                root.remove("annotations");
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&config).expect("a JSON value serializes");
    text.push('\n');
    Ok(text)
}
