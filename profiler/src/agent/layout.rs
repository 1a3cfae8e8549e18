//! Which cgroups are containers, by the layouts the engines and the
//! kubelet make them in, and whose: the engine and the container's id.
//!
//! - the kubelet, systemd driver: `kubepods.slice/kubepods-<qos>.slice/
//!   kubepods-<qos>-pod<UID>.slice/cri-containerd-<ID>.scope`;
//! - the kubelet, cgroupfs driver: `kubepods/<qos>/pod<UID>/<ID>` (the
//!   guaranteed class has no `<qos>` level);
//! - Docker: `system.slice/docker-<ID>.scope` (systemd) or `docker/<ID>`;
//! - podman: `…/libpod-<ID>.scope` (its conmon's `libpod-conmon-<ID>.scope`
//!   is not the container) or `libpod_parent/libpod-<ID>`.

use crate::engine::Engine;

/// A container's cgroup, as its path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerCgroup {
    pub(crate) engine: Engine,
    /// The container's id (64 hex digits).
    pub(crate) id: String,
    /// A kubelet's layout: the pod's UID as the path has it.
    pub(crate) pod_uid: Option<String>,
}

fn is_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container whose cgroup `path` (from the cgroup2 root) is, if the
/// path is in one of the layouts above.
pub(crate) fn container_of(path: &str) -> Option<ContainerCgroup> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let (&last, parents) = parts.split_last()?;
    let parent = parents.last().copied().unwrap_or("");
    let kubelet = parts.first().is_some_and(|p| p.starts_with("kubepods"));
    let pod_uid = || {
        parents.iter().rev().find_map(|p| {
            let p = p.strip_suffix(".slice").unwrap_or(p);
            let (_, uid) = p.rsplit_once("pod")?;
            (!uid.is_empty()
                && uid
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_'))
            .then(|| uid.replace('_', "-"))
        })
    };
    let scoped = |prefix: &str| {
        last.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".scope"))
            .filter(|id| is_id(id))
    };
    let found = |engine, id: &str, pod_uid| ContainerCgroup {
        engine,
        id: id.to_owned(),
        pod_uid,
    };
    if let Some(id) = scoped("cri-containerd-") {
        return Some(found(Engine::Containerd, id, pod_uid()));
    }
    if kubelet && is_id(last) && parent.starts_with("pod") {
        return Some(found(Engine::Containerd, last, pod_uid()));
    }
    if let Some(id) = scoped("docker-") {
        return Some(found(Engine::Docker, id, None));
    }
    if parent == "docker" && is_id(last) {
        return Some(found(Engine::Docker, last, None));
    }
    if let Some(id) = scoped("libpod-") {
        return Some(found(Engine::Podman, id, None));
    }
    if parent == "libpod_parent"
        && let Some(id) = last.strip_prefix("libpod-").filter(|id| is_id(id))
    {
        return Some(found(Engine::Podman, id, None));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_kubelets_layouts_are_containerds() {
        let systemd = format!(
            "/kubepods.slice/kubepods-besteffort.slice/\
             kubepods-besteffort-pod1b2c3d4e_aaaa_bbbb_cccc_123456789abc.slice/cri-containerd-{ID}.scope"
        );
        let found = container_of(&systemd).expect("a container");
        assert_eq!(found.engine, Engine::Containerd);
        assert_eq!(found.id, ID);
        assert_eq!(
            found.pod_uid.as_deref(),
            Some("1b2c3d4e-aaaa-bbbb-cccc-123456789abc")
        );
        let cgroupfs = format!("/kubepods/burstable/pod1b2c3d4e-aaaa-bbbb-cccc-123456789abc/{ID}");
        assert_eq!(
            container_of(&cgroupfs).map(|c| c.engine),
            Some(Engine::Containerd)
        );
        let guaranteed = format!("/kubepods/pod1b2c3d4e-aaaa-bbbb-cccc-123456789abc/{ID}");
        assert!(container_of(&guaranteed).is_some());
        // The pod's own cgroup, and the QoS level, are not containers.
        assert_eq!(container_of("/kubepods/burstable/pod1b2c3d4e"), None);
        assert_eq!(
            container_of("/kubepods.slice/kubepods-burstable.slice"),
            None
        );
    }

    #[test]
    fn dockers_and_podmans_layouts() {
        let docker = container_of(&format!("/system.slice/docker-{ID}.scope")).expect("docker");
        assert_eq!((docker.engine, docker.id.as_str()), (Engine::Docker, ID));
        assert_eq!(
            container_of(&format!("/docker/{ID}")).map(|c| c.engine),
            Some(Engine::Docker)
        );
        assert_eq!(
            container_of(&format!("/machine.slice/libpod-{ID}.scope")).map(|c| c.engine),
            Some(Engine::Podman)
        );
        assert_eq!(
            container_of(&format!("/libpod_parent/libpod-{ID}")).map(|c| c.engine),
            Some(Engine::Podman)
        );
        assert_eq!(
            container_of(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
    }

    #[test]
    fn other_cgroups_are_not_containers() {
        for path in [
            "/",
            "/system.slice/nginx.service",
            "/user.slice/user-0.slice/session-1.scope",
            "/docker/notanid",
            &format!("/elsewhere/{ID}"),
            &format!("/system.slice/docker-{ID}.scope/init"),
        ] {
            assert_eq!(container_of(path), None, "{path}");
        }
    }
}
