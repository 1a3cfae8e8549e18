//! Capabilities: a container's, as an engine makes it (its defaults
//! adjusted by `--cap-add`/`--cap-drop`), and those whose `--cap-add`
//! would let a call run under a baseline.

use std::collections::BTreeSet;

use super::{
    Baseline, BaselineError,
    engines::{DOCKER_DEFAULT_CAPS, EngineDefault},
};
use crate::profile::{
    Capability, KernelVersion,
    eval::{DockerContext, EffectivePolicy},
};
impl Baseline {
    /// The capabilities the baseline's engine gives a container by default
    /// (Docker's for a file).
    pub fn default_capabilities(&self) -> &'static [&'static str] {
        self.engine_default
            .map_or(&DOCKER_DEFAULT_CAPS, EngineDefault::default_capabilities)
    }

    /// The container the baseline's engine makes on this host with
    /// `--cap-add ADD --cap-drop DROP`: as [`DockerContext::host`], from
    /// that engine's default capabilities.
    pub fn context(
        &self,
        cap_add: &[String],
        cap_drop: &[String],
    ) -> Result<DockerContext, BaselineError> {
        DockerContext::host_with_defaults(self.default_capabilities(), cap_add, cap_drop)
    }

    /// The capabilities whose `--cap-add` would let `name` run under this
    /// baseline in `context` (one of them is enough), when there are any.
    pub(crate) fn capabilities_allowing(
        &self,
        name: &str,
        context: &DockerContext,
    ) -> Vec<Capability> {
        self.capabilities_making(name, context, |policy| policy.access(name).is_allowed())
    }

    /// The capabilities whose `--cap-add` would let every one of `calls`
    /// (six arguments each) of `name` run under this baseline in
    /// `context` (one of them is enough): `clone` with `CLONE_NEWUSER`
    /// needs CAP_SYS_ADMIN under Docker's default.
    pub(crate) fn capabilities_allowing_calls(
        &self,
        name: &str,
        context: &DockerContext,
        calls: &[[u64; 6]],
    ) -> Vec<Capability> {
        self.capabilities_making(name, context, |policy| {
            let access = policy.access(name);
            calls.iter().all(|call| access.verdict(call).runs())
        })
    }

    /// The capabilities, each of which turns on a rule of `name` and, added
    /// to `context`, makes `works` hold of the baseline.
    fn capabilities_making(
        &self,
        name: &str,
        context: &DockerContext,
        works: impl Fn(&EffectivePolicy) -> bool,
    ) -> Vec<Capability> {
        let mut found = BTreeSet::new();
        for rule in &self.profile.syscalls {
            if !rule.names.iter().any(|n| n == name) || !rule.action.lets_run() {
                continue;
            }
            for cap in &rule.includes.caps {
                if context.caps.contains(cap) {
                    continue;
                }
                let mut with = context.clone();
                with.caps.insert(*cap);
                if works(&self.evaluate(&with)) {
                    found.insert(*cap);
                }
            }
        }
        found.into_iter().collect()
    }
}

impl DockerContext {
    /// The container `docker run --cap-add ADD --cap-drop DROP` makes on
    /// this host: its architecture, Docker's default capabilities adjusted
    /// the way Docker adjusts them, the running kernel.
    pub(crate) fn host(
        cap_add: &[String],
        cap_drop: &[String],
    ) -> Result<DockerContext, BaselineError> {
        DockerContext::host_with_defaults(&DOCKER_DEFAULT_CAPS, cap_add, cap_drop)
    }

    /// As [`DockerContext::host`], from an engine's `defaults` capabilities.
    pub(crate) fn host_with_defaults(
        defaults: &[&str],
        cap_add: &[String],
        cap_drop: &[String],
    ) -> Result<DockerContext, BaselineError> {
        let native = crate::profile::Arch::host()
            .ok_or(BaselineError::UnsupportedArch(std::env::consts::ARCH))?;
        let kernel = KernelVersion::running().ok_or(BaselineError::KernelVersion)?;
        Ok(DockerContext {
            native,
            caps: engine_capabilities(defaults, cap_add, cap_drop)?,
            kernel,
        })
    }
}

/// Docker's default capability set with `--cap-add`/`--cap-drop` applied
/// as Docker applies them: `ALL` in the adds means every capability but the
/// dropped ones; `ALL` in the drops means only the added ones; otherwise
/// the drops are taken from the defaults, then the adds put in (so a
/// capability both added and dropped is kept).
pub fn docker_capabilities(
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<BTreeSet<Capability>, BaselineError> {
    engine_capabilities(&DOCKER_DEFAULT_CAPS, cap_add, cap_drop)
}

/// As [`docker_capabilities`], from an engine's `defaults` (podman adjusts
/// its own defaults the same way).
pub fn engine_capabilities(
    defaults: &[&str],
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<BTreeSet<Capability>, BaselineError> {
    let parse = |names: &[String], side: &'static str| {
        names
            .iter()
            .filter(|n| !n.eq_ignore_ascii_case("ALL"))
            .map(|n| {
                Capability::from_docker_name(n).map_err(|reason| BaselineError::Capability {
                    given: n.clone(),
                    side,
                    reason,
                })
            })
            .collect::<Result<BTreeSet<Capability>, _>>()
    };
    let all = |names: &[String]| names.iter().any(|n| n.eq_ignore_ascii_case("ALL"));
    let adds = parse(cap_add, "add")?;
    let drops = parse(cap_drop, "drop")?;
    let every: BTreeSet<Capability> = Capability::ALL.iter().copied().collect();
    let defaults: BTreeSet<Capability> = defaults
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    Ok(if all(cap_add) {
        every.difference(&drops).copied().collect()
    } else if all(cap_drop) {
        adds
    } else {
        defaults.difference(&drops).copied().chain(adds).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::default_context;
    use super::*;

    #[test]
    fn podman_s_default_capabilities_are_its_own() {
        let baseline = Baseline::engine_default(EngineDefault::Podman, String::new());
        let context = baseline.context(&[], &[]).unwrap();
        assert_eq!(context.caps.len(), 11);
        assert!(!context.caps.contains(&"CAP_NET_RAW".parse().unwrap()));
        let docker = Baseline::docker_default().context(&[], &[]).unwrap();
        assert_eq!(docker.caps.len(), 14);
    }

    #[test]
    fn default_capabilities_follow_docker_s_rules() {
        let names = |caps: BTreeSet<Capability>| -> Vec<&'static str> {
            caps.into_iter().map(|c| c.scmp_name()).collect()
        };
        let default = docker_capabilities(&[], &[]).unwrap();
        assert_eq!(default.len(), 14);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let added = docker_capabilities(&s(&["sys_admin"]), &s(&["CAP_CHOWN"])).unwrap();
        assert!(names(added.clone()).contains(&"CAP_SYS_ADMIN"));
        assert!(!names(added).contains(&"CAP_CHOWN"));
        assert_eq!(docker_capabilities(&s(&["ALL"]), &[]).unwrap().len(), 41);
        assert_eq!(
            names(docker_capabilities(&s(&["NET_ADMIN"]), &s(&["ALL"])).unwrap()),
            ["CAP_NET_ADMIN"]
        );
        // Added and dropped: kept, as Docker does.
        assert!(
            names(docker_capabilities(&s(&["KILL"]), &s(&["KILL"])).unwrap()).contains(&"CAP_KILL")
        );
        let err = docker_capabilities(&s(&["SYS_MAGIC"]), &[]).unwrap_err();
        assert!(err.to_string().contains("SYS_MAGIC"), "{err}");
    }

    #[test]
    fn capabilities_allowing_names_the_cap_add() {
        let baseline = Baseline::docker_default();
        let ctx = default_context();
        let caps = |name| -> Vec<&str> {
            baseline
                .capabilities_allowing(name, &ctx)
                .into_iter()
                .map(|c| c.scmp_name())
                .collect()
        };
        assert_eq!(caps("mount"), ["CAP_SYS_ADMIN"]);
        assert_eq!(caps("bpf"), ["CAP_BPF", "CAP_SYS_ADMIN"]);
        assert_eq!(caps("kcmp"), ["CAP_SYS_PTRACE"]);
        assert!(caps("kexec_load").is_empty());
        assert!(caps("read").is_empty());
        let newuser = [0x1000_0000 | 0x11, 0, 0, 0, 0, 0];
        let clone = baseline.capabilities_allowing_calls("clone", &ctx, &[newuser]);
        assert_eq!(clone, ["CAP_SYS_ADMIN".parse().unwrap()]);
        let vsock = [40, 1, 0, 0, 0, 0];
        assert!(
            baseline
                .capabilities_allowing_calls("socket", &ctx, &[vsock])
                .is_empty()
        );
    }
}
