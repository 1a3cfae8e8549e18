//! Whether a run can hand its refusals to the listener, natively or in a
//! container, and the profile that has a container's runtime hand them
//! over.

use super::socket::Agent;
use crate::{
    profile::eval::{Access, EffectivePolicy},
    profile::{Action, Arch, FilterFlag, Profile, table},
};

/// Why no listener can stand in for `profile`'s refusals, natively or in a
/// container, if none can: refusals the kernel carries out itself, or a
/// flag that does not go with a listener.
fn cannot_notify(profile: &Profile) -> Option<String> {
    let refusals = std::iter::once(profile.default_action)
        .chain(profile.syscalls.iter().map(|rule| rule.action));
    if let Some(action) = refusals
        .into_iter()
        .find(|action| !matches!(action, Action::Allow | Action::Log | Action::Errno))
    {
        return Some(format!(
            "the profile uses {action}, which the kernel carries out itself"
        ));
    }
    profile
        .flags
        .contains(&FilterFlag::Tsync)
        .then(|| "the profile's SECCOMP_FILTER_FLAG_TSYNC does not go with a listener".to_owned())
}

/// Why a listener of ours would change what the program gets, if it
/// would. The kernel allows one listener in a task's filter chain, so a
/// program the profile lets call seccomp(2) may install a filter of its
/// own asking for a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER, as
/// sandboxes and container runtimes do) and would get EBUSY under ours,
/// where under the same profile applied by its engine (or under the
/// kernel watch) it gets its descriptor. prctl(PR_SET_SECCOMP) cannot ask
/// for a listener, so only seccomp(2) counts; any value of it the profile
/// lets run does, as the filter's own flags are not looked at.
pub(crate) fn program_may_listen(policy: &EffectivePolicy) -> Option<String> {
    (!matches!(policy.access("seccomp"), Access::Denied(_))).then(|| {
        "the profile allows seccomp, and a program asking for a seccomp listener of its own \
         (SECCOMP_FILTER_FLAG_NEW_LISTENER) would get EBUSY under ours (the kernel allows one \
         per filter chain), where its engine gives it one"
            .to_owned()
    })
}

/// Why a native run cannot use the listener, if it cannot.
pub(crate) fn unusable_because(profile: &Profile, policy: &EffectivePolicy) -> Option<String> {
    if let Some(why) = cannot_notify(profile) {
        return Some(why);
    }
    for name in ["read", "write"] {
        if !matches!(policy.access(name), Access::Allowed) {
            return Some(format!(
                "the profile does not allow {name}, which the hand-over of the listener makes"
            ));
        }
    }
    if libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).is_err() {
        return Some("this host's libseccomp has no user notification".to_owned());
    }
    None
}

/// Why a container's run cannot use the listener, if it cannot. `profile`
/// is the profile as the runtime gets it (Docker's includes and excludes
/// decided for this container). The conditions: the engine passes
/// `listenerPath` to the runtime (podman and ctr do; the Docker engine
/// 20.10 drops it, and runc then refuses the container), the runtime is
/// runc (the one tried), every refusal is an `SCMP_ACT_ERRNO` (the others
/// the kernel carries out itself), write is allowed (runc refuses to
/// notify it: it writes the listener to its parent under the filter), and
/// no syscall falls to a refusing default action through argument
/// conditions (runc refuses a notifying default action, so such calls
/// would be refused unseen).
pub(crate) fn container_unusable_because(
    profile: &Profile,
    policy: &EffectivePolicy,
    engine: crate::engine::Engine,
    runtime: Option<&str>,
) -> Option<String> {
    if !crate::engine::passes_listener_path(engine) {
        return Some(
            "the Docker engine does not pass the profile's listenerPath to the runtime (runc \
             then refuses the container: `listenerPath is not set`), so a Docker container's \
             denials are watched with eBPF"
                .to_owned(),
        );
    }
    match runtime {
        Some("runc") => {}
        Some(other) => {
            return Some(format!(
                "the container runtime is {other}; the listener hand-over was tried with runc only"
            ));
        }
        None => return Some("the engine did not say which container runtime it uses".to_owned()),
    }
    if let Some(why) = cannot_notify(profile) {
        return Some(why);
    }
    if !matches!(policy.access("write"), Access::Allowed) {
        return Some(
            "the profile does not allow write, which runc makes under the filter to hand the \
             listener over (and refuses to notify)"
                .to_owned(),
        );
    }
    if !profile.default_action.lets_run() {
        let conditional_only = profile
            .syscalls
            .iter()
            .filter(|rule| !rule.args.is_empty())
            .flat_map(|rule| &rule.names)
            .find(|name| {
                !profile
                    .syscalls
                    .iter()
                    .any(|r| r.args.is_empty() && r.names.contains(name))
            });
        if let Some(name) = conditional_only {
            return Some(format!(
                "the profile has {name} only under argument conditions: the calls outside them \
                 fall to the default action, which runc does not let notify"
            ));
        }
    }
    if libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).is_err() {
        return Some("this host's libseccomp has no user notification".to_owned());
    }
    None
}

/// `profile` (includes and excludes decided) with its refusals handed to
/// a listener, for a container runtime: each `SCMP_ACT_ERRNO` rule becomes
/// `SCMP_ACT_NOTIFY` (without `errnoRet`: the listener answers with it),
/// and, the default action staying (runc refuses a notifying one), every
/// syscall of the tables of `arches` that no rule names gets a notifying
/// rule of its own, so that every call the filter refuses by name comes to
/// the listener. Only calls of numbers no table names keep the default's
/// errno unseen. The socket and token are the runtime's `listenerPath`
/// and `listenerMetadata`.
pub(crate) fn notifying_profile(profile: &Profile, arches: &[Arch], agent: &Agent) -> Profile {
    let mut out = profile.clone();
    for rule in &mut out.syscalls {
        if rule.action == Action::Errno {
            rule.action = Action::Notify;
            rule.errno_ret = None;
        }
    }
    if !profile.default_action.lets_run() {
        let named: std::collections::BTreeSet<&str> = profile
            .syscalls
            .iter()
            .flat_map(|rule| rule.names.iter().map(String::as_str))
            .collect();
        let mut rest: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for &arch in arches {
            for (_, name) in table::all(arch) {
                if name != "write" && !named.contains(name) {
                    rest.insert(name.to_owned());
                }
            }
        }
        if !rest.is_empty() {
            out.syscalls.push(crate::profile::SyscallRule::new(
                rest.into_iter().collect(),
                Action::Notify,
            ));
        }
    }
    out.listener_path = Some(agent.path.display().to_string());
    out.listener_metadata = Some(agent.token.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Profile, EffectivePolicy) {
        let profile = Profile::parse(text.as_bytes()).unwrap().profile;
        let policy =
            EffectivePolicy::evaluate(&profile, &crate::filter::native_context(Arch::X86_64));
        (profile, policy)
    }

    /// ERRNO rules notify without their errno; every unnamed syscall but
    /// write gets a notifying rule; the default stays; the socket and token
    /// are the runtime's.
    #[test]
    fn the_container_profile_notifies_every_refusal_by_name() {
        let (profile, _) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
                {"names":["read","write","getppid"],"action":"SCMP_ACT_ALLOW"},
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        );
        let agent = Agent {
            path: "/tmp/x/agent.sock".into(),
            token: "t".into(),
        };
        let out = notifying_profile(&profile, &[Arch::X86_64], &agent);
        assert_eq!(out.default_action, Action::Errno);
        assert_eq!(out.default_errno_ret, Some(1));
        assert_eq!(out.syscalls[1].action, Action::Notify);
        assert_eq!(out.syscalls[1].errno_ret, None);
        let rest = &out.syscalls[2];
        assert_eq!(rest.action, Action::Notify);
        assert!(rest.names.iter().any(|n| n == "sysinfo"));
        for name in ["write", "read", "getppid", "mkdir"] {
            assert!(!rest.names.iter().any(|n| n == name), "{name}");
        }
        assert_eq!(out.listener_path.as_deref(), Some("/tmp/x/agent.sock"));
        assert_eq!(out.listener_metadata.as_deref(), Some("t"));
    }

    #[test]
    fn a_container_listener_needs_podman_or_ctr_runc_errno_write_and_no_conditional_fallthrough() {
        use crate::engine::Engine;
        let ok = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["write"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let (profile, policy) = parsed(ok);
        assert!(
            container_unusable_because(&profile, &policy, Engine::Podman, Some("runc")).is_none()
        );
        let why = container_unusable_because(&profile, &policy, Engine::Docker, Some("runc"));
        assert!(why.unwrap().contains("listenerPath"));
        assert!(
            container_unusable_because(&profile, &policy, Engine::Containerd, Some("crun"))
                .is_some()
        );
        let (profile, policy) = parsed(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#);
        let why = container_unusable_because(&profile, &policy, Engine::Podman, Some("runc"));
        assert!(why.unwrap().contains("write"));
        let (profile, policy) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["write"],"action":"SCMP_ACT_ALLOW"},
            {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW",
             "args":[{"index":0,"value":4098,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let why = container_unusable_because(&profile, &policy, Engine::Podman, Some("runc"));
        assert!(why.unwrap().contains("arch_prctl"));
        let (profile, policy) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["socket"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(
            container_unusable_because(&profile, &policy, Engine::Podman, Some("runc")).is_none()
        );
        let (profile, policy) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        );
        assert!(
            container_unusable_because(&profile, &policy, Engine::Podman, Some("runc"))
                .unwrap()
                .contains("SCMP_ACT_KILL_PROCESS")
        );
    }
}
