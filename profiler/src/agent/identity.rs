//! A container's identity, as its engine names it, and the workload its
//! replicas fold into: for containerd's CRI containers (the kubelet's) the
//! pod's namespace, the pod name's stem (its owner's name), the container's
//! name and its image; for Docker and podman the compose project and
//! service where the labels say them, else the container's name, and the
//! image.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::engine::Engine;
use crate::engine::inspect::Running;

/// The labels the kubelet gives a CRI container.
pub(crate) const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub(crate) const POD_NAME: &str = "io.kubernetes.pod.name";
pub(crate) const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// containerd's CRI plugin marks a pod's sandbox (its pause container).
const CRI_KIND: &str = "io.cri-containerd.kind";
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// The workload a container is a replica of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Workload {
    /// `docker`, `podman`, `containerd`.
    pub(crate) engine: String,
    /// The pod's namespace (Kubernetes), or the compose project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    /// The pod name's stem (Kubernetes), the compose service, or the
    /// container's name.
    pub(crate) owner: String,
    /// The container's name in its pod (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) container: Option<String>,
    pub(crate) image: String,
}

impl Workload {
    /// The workload `running` is a replica of; `None` for a pod's sandbox,
    /// which is the kubelet's, not a workload's.
    pub(crate) fn of(running: &Running) -> Option<Workload> {
        let label = |key: &str| running.labels.get(key).filter(|v| !v.is_empty()).cloned();
        if label(CRI_KIND).as_deref() == Some("sandbox") {
            return None;
        }
        let engine = running.engine.name().to_owned();
        let image = running.image.clone();
        if let (Some(namespace), Some(pod), Some(container)) =
            (label(POD_NAMESPACE), label(POD_NAME), label(CONTAINER_NAME))
        {
            return Some(Workload {
                engine,
                namespace: Some(namespace),
                owner: pod_stem(&pod).to_owned(),
                container: Some(container),
                image,
            });
        }
        if let (Some(project), Some(service)) = (label(COMPOSE_PROJECT), label(COMPOSE_SERVICE)) {
            return Some(Workload {
                engine,
                namespace: Some(project),
                owner: service,
                container: None,
                image,
            });
        }
        let name = match running.name.is_empty() {
            true => running.id.chars().take(12).collect(),
            false => running.name.clone(),
        };
        Some(Workload {
            engine,
            namespace: None,
            owner: name,
            container: None,
            image,
        })
    }

    /// How the user reads it: `prod/web/nginx`, `docker/web`.
    pub(crate) fn display(&self) -> String {
        match (&self.namespace, &self.container) {
            (Some(ns), Some(c)) => format!("{ns}/{}/{c}", self.owner),
            (Some(ns), None) => format!("{}/{ns}/{}", self.engine, self.owner),
            (None, _) => format!("{}/{}", self.engine, self.owner),
        }
    }

    /// The file name stem of its outputs: its words, each reduced to the
    /// characters a Kubernetes name takes, joined by `_`
    /// (`prod_web_nginx`); where another image already has that stem,
    /// [`Workload::image_tag`] is added.
    pub(crate) fn stem(&self) -> String {
        let words: Vec<&str> = match (&self.namespace, &self.container) {
            (Some(ns), Some(c)) => vec![ns, &self.owner, c],
            (Some(ns), None) => vec![&self.engine, ns, &self.owner],
            (None, _) => vec![&self.engine, &self.owner],
        };
        words
            .iter()
            .map(|w| dns_label(w))
            .collect::<Vec<_>>()
            .join("_")
    }

    /// A short tag of the image: 8 hex digits of a hash of its name.
    pub(crate) fn image_tag(&self) -> String {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let hash = self.image.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{:08x}", hash as u32)
    }

    /// Its name as a Kubernetes resource (`metadata.name`): the stem's
    /// words joined by `-`, at most 253 characters.
    pub(crate) fn resource_name(&self, stem: &str) -> String {
        let mut name = stem.replace('_', "-");
        name.truncate(253);
        name.trim_matches('-').to_owned()
    }
}

/// `text` in lowercase letters, digits and `-` (others become `-`), at most
/// 63 characters, never empty.
fn dns_label(text: &str) -> String {
    let mut label: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    label.truncate(63);
    let label = label.trim_matches('-');
    match label.is_empty() {
        true => "x".to_owned(),
        false => label.to_owned(),
    }
}

/// The characters Kubernetes draws generated name suffixes from
/// (`k8s.io/apimachinery/pkg/util/rand`): no vowels, no 0, 1 or 3.
fn is_generated(word: &str) -> bool {
    word.bytes()
        .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// A pod name's stem, its owner's name: a ReplicaSet's pod
/// `web-7d4b9c8f6d-x2x8k` and a DaemonSet's `agent-x2x8k` drop their
/// generated suffixes, a StatefulSet's `db-0` its ordinal. A name without
/// such a suffix is its own stem.
pub(crate) fn pod_stem(pod: &str) -> &str {
    let Some((rest, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    if rest.is_empty() {
        return pod;
    }
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return rest;
    }
    if last.len() != 5 || !is_generated(last) {
        return pod;
    }
    match rest.rsplit_once('-') {
        Some((owner, hash))
            if !owner.is_empty() && (6..=10).contains(&hash.len()) && is_generated(hash) =>
        {
            owner
        }
        _ => rest,
    }
}

/// Whether `labels` has every `KEY=VALUE` of `select`.
pub(crate) fn selected(labels: &BTreeMap<String, String>, select: &[(String, String)]) -> bool {
    select
        .iter()
        .all(|(key, value)| labels.get(key).is_some_and(|v| v == value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(engine: Engine, name: &str, labels: &[(&str, &str)]) -> Running {
        Running {
            engine,
            version: "1.0".into(),
            id: "0123456789abcdef".into(),
            name: name.into(),
            image: "registry/app:1".into(),
            pid: 0,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            runtime: None,
        }
    }

    #[test]
    fn pod_names_lose_their_generated_suffixes() {
        assert_eq!(pod_stem("web-7d4b9c8f6d-x2x8k"), "web");
        assert_eq!(pod_stem("my-web-app-5c7b9d6f48-qz2wd"), "my-web-app");
        assert_eq!(pod_stem("node-agent-x2x8k"), "node-agent");
        assert_eq!(pod_stem("db-0"), "db");
        assert_eq!(pod_stem("db-12"), "db");
        // Not generated: a vowel, or the wrong length.
        assert_eq!(pod_stem("web-backend"), "web-backend");
        assert_eq!(pod_stem("web-abcde"), "web-abcde");
        assert_eq!(pod_stem("standalone"), "standalone");
        assert_eq!(pod_stem("-0"), "-0");
    }

    #[test]
    fn replicas_of_one_deployment_are_one_workload() {
        let replica = |pod: &str| {
            running(
                Engine::Containerd,
                "x",
                &[
                    (POD_NAMESPACE, "prod"),
                    (POD_NAME, pod),
                    (CONTAINER_NAME, "nginx"),
                ],
            )
        };
        let a = Workload::of(&replica("web-7d4b9c8f6d-x2x8k")).expect("a workload");
        let b = Workload::of(&replica("web-7d4b9c8f6d-pqrst")).expect("a workload");
        assert_eq!(a, b);
        assert_eq!(a.display(), "prod/web/nginx");
        assert_eq!(a.stem(), "prod_web_nginx");
        assert_ne!(a, Workload::of(&replica("db-0")).expect("a workload"));
        let sandbox = running(Engine::Containerd, "x", &[(CRI_KIND, "sandbox")]);
        assert_eq!(Workload::of(&sandbox), None);
    }

    #[test]
    fn docker_containers_fold_by_compose_service_or_stand_alone() {
        let compose = running(
            Engine::Docker,
            "shop-web-1",
            &[(COMPOSE_PROJECT, "shop"), (COMPOSE_SERVICE, "web")],
        );
        let w = Workload::of(&compose).expect("a workload");
        assert_eq!(w.stem(), "docker_shop_web");
        let alone = Workload::of(&running(Engine::Docker, "Web.1", &[])).expect("a workload");
        assert_eq!(alone.stem(), "docker_web-1");
        assert_eq!(alone.resource_name(&alone.stem()), "docker-web-1");
    }

    #[test]
    fn selection_needs_every_label() {
        let labels: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        assert!(selected(&labels, &[]));
        assert!(selected(&labels, &[("a".into(), "1".into())]));
        assert!(!selected(&labels, &[("a".into(), "2".into())]));
        assert!(!selected(
            &labels,
            &[("a".into(), "1".into()), ("b".into(), "1".into())]
        ));
    }
}
