//! Kubernetes: a `SeccompProfile` of the Security Profiles Operator
//! (`security-profiles-operator.x-k8s.io/v1`), or, for clusters without the
//! operator, Docker's JSON for the kubelet's seccomp directory.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    ExportError, Exported, Options, architectures, refuse_docker_filters, rule_names, yaml,
};
use crate::profile::{Action, Arch, ArgCondition, EPERM, FilterFlag, MAX_ARG_INDEX, Profile};

const TARGET: &str = "a Kubernetes SeccompProfile";
/// The operator's API group and version.
pub(crate) const API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1";
/// Where `localhostProfile` paths start.
pub(crate) const KUBELET_SECCOMP_DIR: &str = "/var/lib/kubelet/seccomp";
/// The architectures the v1 CRD accepts.
const CRD_ARCHES: &[Arch] = &[
    Arch::X86,
    Arch::X86_64,
    Arch::X32,
    Arch::Arm,
    Arch::Aarch64,
    Arch::Mips,
    Arch::Mips64,
    Arch::Mips64N32,
    Arch::Mipsel,
    Arch::Mipsel64,
    Arch::Mipsel64N32,
    Arch::Ppc,
    Arch::Ppc64,
    Arch::Ppc64Le,
    Arch::S390,
    Arch::S390X,
    Arch::Parisc,
    Arch::Parisc64,
    Arch::Riscv64,
];
/// The operator's listener sockets live here (the CRD's pattern).
const LISTENER_DIR: &str = "/var/run/security-profiles-operator/";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// A complain profile's mark (see [`super::complain`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    default_action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    architectures: Vec<Arch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    flags: Vec<FilterFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_metadata: Option<String>,
    syscalls: Vec<Syscall>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Syscall {
    names: Vec<String>,
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<ArgCondition>,
}

/// The longest `metadata.name`: a DNS-1123 subdomain.
const MAX_NAME: usize = 253;
/// The longest `metadata.namespace`: a DNS-1123 label.
const MAX_NAMESPACE: usize = 63;
/// The name written when none is given.
pub(crate) const DEFAULT_NAME: &str = "syscall-profile";

/// What Kubernetes requires of a custom resource's name
/// (`IsDNS1123Subdomain` of k8s.io/apimachinery's validation, which the API
/// server applies to custom resources).
const NAME_RULE: &str = "metadata.name must be a DNS-1123 subdomain, as Kubernetes requires of \
                         a custom resource's name: at most 253 characters, lowercase letters, \
                         digits, '-' and '.', each '.'-separated part starting and ending with a \
                         letter or digit (e.g. \"web-frontend\")";
/// What Kubernetes requires of a namespace (`IsDNS1123Label`).
const NAMESPACE_RULE: &str = "metadata.namespace must be a DNS-1123 label, as Kubernetes \
                              requires of a namespace: at most 63 characters, lowercase \
                              letters, digits and '-', starting and ending with a letter or \
                              digit (e.g. \"apps\")";

/// A character DNS-1123 names may start and end with.
fn alphanumeric(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// What is wrong with `label` as a DNS-1123 label (one part of a
/// subdomain), `what` naming it in the answer.
fn label_problem(label: &str, what: &str) -> Option<String> {
    if label.is_empty() {
        return Some(format!("{what} is empty"));
    }
    if let Some(c) = label.chars().find(|&c| !alphanumeric(c) && c != '-') {
        return Some(format!("{what} has {c:?}"));
    }
    if !label.starts_with(alphanumeric) || !label.ends_with(alphanumeric) {
        return Some(format!("{what} starts or ends with '-'"));
    }
    None
}

/// What is wrong with `name` as a DNS-1123 subdomain, if anything.
fn name_problem(name: &str) -> Option<String> {
    let length = name.chars().count();
    if length > MAX_NAME {
        return Some(format!("it has {length} characters"));
    }
    if name.is_empty() {
        return Some("it is empty".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !alphanumeric(c) && c != '-' && c != '.')
    {
        return Some(format!("it has {c:?}"));
    }
    if name.split('.').any(str::is_empty) {
        return Some("it has an empty '.'-separated part".to_owned());
    }
    name.split('.')
        .find_map(|part| label_problem(part, &format!("its part {part:?}")))
}

/// What is wrong with `namespace` as a DNS-1123 label, if anything.
fn namespace_problem(namespace: &str) -> Option<String> {
    let length = namespace.chars().count();
    if length > MAX_NAMESPACE {
        return Some(format!("it has {length} characters"));
    }
    label_problem(namespace, "it")
}

/// Refuses a `--name` or `--namespace` the API server would refuse (or
/// that a reader could take for something else), before anything runs.
pub(crate) fn check_names(name: Option<&str>, namespace: Option<&str>) -> Result<(), ExportError> {
    if let Some(name) = name
        && let Some(problem) = name_problem(name)
    {
        return Err(ExportError::BadName {
            option: "name",
            value: name.to_owned(),
            problem,
            rule: NAME_RULE,
        });
    }
    if let Some(namespace) = namespace
        && let Some(problem) = namespace_problem(namespace)
    {
        return Err(ExportError::BadName {
            option: "namespace",
            value: namespace.to_owned(),
            problem,
            rule: NAMESPACE_RULE,
        });
    }
    Ok(())
}

fn unsupported(reason: String) -> ExportError {
    ExportError::Unsupported {
        target: TARGET,
        reason,
    }
}

/// The `SeccompProfile` resource, as YAML.
pub(crate) fn resource(profile: &Profile, options: &Options) -> Result<Exported, ExportError> {
    check_names(options.name.as_deref(), options.namespace.as_deref())?;
    refuse_docker_filters(profile, TARGET)?;
    if let Some(errno) = profile.default_errno_ret
        && errno != EPERM
    {
        return Err(unsupported(format!(
            "defaultErrnoRet is {errno}, and the resource has no defaultErrnoRet (runtimes \
             return EPERM): make the default errno EPERM"
        )));
    }
    let arches = architectures(profile, TARGET)?;
    if let Some(arch) = arches.iter().find(|arch| !CRD_ARCHES.contains(arch)) {
        return Err(unsupported(format!(
            "the CRD does not accept architecture {}; remove it from the profile",
            arch.scmp_name()
        )));
    }
    if let Some(path) = &profile.listener_path
        && !path.starts_with(LISTENER_DIR)
    {
        return Err(unsupported(format!(
            "listenerPath {path} must be a socket in {LISTENER_DIR}"
        )));
    }
    let mut syscalls = Vec::new();
    for (at, rule) in profile.syscalls.iter().enumerate() {
        if rule.names.is_empty() {
            continue;
        }
        if rule.args.len() > MAX_ARG_INDEX as usize + 1 {
            return Err(unsupported(format!(
                "rule {} ({}) has {} argument conditions, at most 6 fit",
                at + 1,
                rule_names(rule),
                rule.args.len()
            )));
        }
        if let Some(arg) = rule
            .args
            .iter()
            .find(|arg| i64::try_from(arg.value).is_err() || i64::try_from(arg.value_two).is_err())
        {
            return Err(unsupported(format!(
                "rule {} ({}) compares argument {} with a value of 2^63 or more ({arg}), and the \
                 CRD's values are int64 >= 0",
                at + 1,
                rule_names(rule),
                arg.index
            )));
        }
        if let Some(errno) = rule.errno_ret
            && i32::try_from(errno).is_err()
        {
            return Err(unsupported(format!(
                "rule {} has errnoRet {errno}, beyond int32",
                at + 1
            )));
        }
        syscalls.push(Syscall {
            names: rule.names.clone(),
            action: rule.action,
            errno_ret: rule.errno_ret,
            args: rule.args.clone(),
        });
    }
    let name = options.name.clone().unwrap_or_else(|| DEFAULT_NAME.into());
    let resource = Resource {
        api_version: API_VERSION,
        kind: "SeccompProfile",
        metadata: Metadata {
            name: name.clone(),
            namespace: options.namespace.clone(),
            annotations: match options.complain {
                true => BTreeMap::from([(
                    super::complain::KUBERNETES_ANNOTATION,
                    super::complain::MODE,
                )]),
                false => BTreeMap::new(),
            },
        },
        spec: Spec {
            default_action: profile.default_action,
            architectures: arches,
            flags: profile.flags.clone(),
            listener_path: profile.listener_path.clone(),
            listener_metadata: profile.listener_metadata.clone(),
            syscalls,
        },
    };
    // Quoted wherever a YAML 1.1 reader (kubectl's) would retype a plain
    // string: `name: yes` is a boolean there.
    let mut text =
        yaml::to_string(&resource).map_err(|e| unsupported(format!("cannot write YAML: {e}")))?;
    if options.complain {
        text.insert_str(
            0,
            "# Complain mode (`syscall-profile export --complain`): this profile refuses\n\
             # nothing; calls outside it are logged (SCMP_ACT_LOG). Not for enforcement.\n",
        );
    }
    let namespace = options.namespace.as_deref().unwrap_or("NAMESPACE");
    Ok(Exported {
        text,
        notes: vec![format!(
            "apply it with `kubectl apply -f FILE`; a pod uses it with securityContext: \
             seccompProfile: {{type: Localhost, localhostProfile: \
             operator/{namespace}/{name}.json}}"
        )],
    })
}

/// Docker's JSON for `/var/lib/kubelet/seccomp`, with the snippet that uses it.
pub(crate) fn localhost(profile: &Profile, options: &Options) -> Exported {
    let relative = match &options.output_path {
        Some(path) => match std::path::absolute(path)
            .ok()
            .as_deref()
            .and_then(|p| p.strip_prefix(KUBELET_SECCOMP_DIR).ok())
        {
            Some(rel) => rel.display().to_string(),
            None => format!(
                "profiles/{}",
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "profile.json".into())
            ),
        },
        None => "profiles/profile.json".into(),
    };
    let snippet = format!(
        "copy the profile to {KUBELET_SECCOMP_DIR}/{relative} on every node, then use it in the \
         pod's (or a container's) spec:\n  securityContext:\n    seccompProfile:\n      type: \
         Localhost\n      localhostProfile: {relative}"
    );
    Exported {
        text: profile.to_json(),
        notes: vec![snippet],
    }
}
