//! Running containers an engine knows, found by name or id: what `record
//! --attach` watches. Only the engine's own word is taken: the process its
//! runtime started (whose cgroup is the container's), its image and labels.

use std::{collections::BTreeMap, ffi::OsString};

use serde::Deserialize;

use super::{Engine, EngineCli, EngineError};

/// A running container, as its engine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) engine: Engine,
    /// The engine's version (its server's), as it reports it.
    pub(crate) version: String,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) image: String,
    /// A process of the container: its first (the runtime's init's child).
    pub(crate) pid: u32,
    pub(crate) labels: BTreeMap<String, String>,
    /// The capabilities it was given beyond the engine's (`--cap-add`)
    /// and taken (`--cap-drop`), as the engine lists them.
    pub(crate) cap_add: Vec<String>,
    pub(crate) cap_drop: Vec<String>,
    /// The OCI runtime that started it (`runc`, `crun`), when the engine
    /// says.
    pub(crate) runtime: Option<String>,
}

impl std::fmt::Display for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = &self.id[..self.id.len().min(12)];
        write!(f, "{} container ", self.engine.name())?;
        if self.name.is_empty() || self.name == self.id {
            write!(f, "{short}")
        } else {
            write!(f, "{} ({short})", self.name)
        }
    }
}

/// How big an engine's description of one container may be (Docker's is a
/// few KiB; labels and environment can add some).
const MOST_INSPECT_BYTES: usize = 4 << 20;

/// `docker|podman container inspect`'s answer: a list of one.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    id: String,
    #[serde(default)]
    name: String,
    state: State,
    #[serde(default)]
    config: Config,
    /// podman's name of the image the container was made from.
    #[serde(default)]
    image_name: Option<String>,
    #[serde(default)]
    host_config: HostConfig,
    /// podman's OCI runtime.
    #[serde(default, rename = "OCIRuntime")]
    oci_runtime: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    #[serde(default)]
    cap_add: Option<Vec<String>>,
    #[serde(default)]
    cap_drop: Option<Vec<String>>,
    /// Docker's OCI runtime.
    #[serde(default)]
    runtime: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    running: bool,
    pid: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// `ctr containers info`'s answer (the fields used).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CtrInfo {
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    runtime: Option<CtrRuntime>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CtrRuntime {
    /// containerd's shim, e.g. `io.containerd.runc.v2`.
    name: String,
}

impl EngineCli {
    /// The running container `name` (a name or an id) of a Docker or
    /// podman engine; an error when the engine does not answer, knows no
    /// such container, or it does not run.
    pub(crate) fn running(&self, name: &str) -> Result<Running, EngineError> {
        let version = self.reachable()?;
        if self.engine == Engine::Containerd {
            return self.running_task(name, version);
        }
        let described = self.inspect(name, version)?;
        match described.pid {
            0 => Err(EngineError::NotRunning {
                engine: self.engine.name(),
                name: name.to_owned(),
            }),
            _ => Ok(described),
        }
    }

    /// Container `id` as its engine describes it, whether it runs yet or
    /// not (`pid` 0 where it does not): what the node agent names a
    /// container by, from the moment its cgroup is made. `version` is the
    /// engine's, as [`EngineCli::reachable`] said it.
    pub(crate) fn describe(&self, id: &str, version: &str) -> Result<Running, EngineError> {
        match self.engine {
            Engine::Containerd => self.container_info(id, version.to_owned(), 0),
            _ => self.inspect(id, version.to_owned()),
        }
    }

    /// `docker|podman container inspect`, with `pid` 0 for a container
    /// that does not run.
    fn inspect(&self, name: &str, version: String) -> Result<Running, EngineError> {
        let answer = match self.query(["container", "inspect", "--", name]) {
            Ok(answer) => answer,
            Err(EngineError::Failed { detail, .. })
                if detail.to_lowercase().contains("no such") =>
            {
                return Err(EngineError::NoSuchContainer {
                    engine: self.engine.name(),
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        let bad = |why: String| EngineError::Failed {
            engine: self.engine.name(),
            detail: format!("its description of container {name} is not understood: {why}"),
        };
        if answer.len() > MOST_INSPECT_BYTES {
            return Err(bad(format!("over {MOST_INSPECT_BYTES} bytes")));
        }
        let mut list: Vec<Inspected> =
            serde_json::from_str(&answer).map_err(|e| bad(e.to_string()))?;
        let inspected = match list.len() {
            1 => list.remove(0),
            n => return Err(bad(format!("{n} containers where one was asked for"))),
        };
        let pid = match inspected.state.running {
            true => u32::try_from(inspected.state.pid).unwrap_or(0),
            false => 0,
        };
        let image = match inspected.image_name {
            Some(image) if !image.is_empty() => image,
            _ => inspected.config.image,
        };
        Ok(Running {
            engine: self.engine,
            version,
            id: inspected.id,
            name: inspected.name.trim_start_matches('/').to_owned(),
            image,
            pid,
            labels: inspected.config.labels.unwrap_or_default(),
            cap_add: inspected.host_config.cap_add.unwrap_or_default(),
            cap_drop: inspected.host_config.cap_drop.unwrap_or_default(),
            runtime: inspected
                .oci_runtime
                .or(inspected.host_config.runtime)
                .filter(|r| !r.is_empty()),
        })
    }

    /// containerd's running task `id` (in the namespace of the CLI's
    /// global options).
    fn running_task(&self, id: &str, version: String) -> Result<Running, EngineError> {
        let tasks = self.query(["tasks", "ls"])?;
        // TASK PID STATUS, after a header line.
        let task: Option<(u32, String)> = tasks.lines().skip(1).find_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() != Some(&id) {
                return None;
            }
            Some((words.get(1)?.parse().ok()?, (*words.get(2)?).to_owned()))
        });
        let Some((pid, _)) = task.filter(|(pid, status)| status == "RUNNING" && *pid > 0) else {
            // Which of the two it is, as containerd says.
            self.container_info(id, version, 0)?;
            return Err(EngineError::NotRunning {
                engine: self.engine.name(),
                name: id.to_owned(),
            });
        };
        self.container_info(id, version, pid)
    }

    /// `ctr containers info`: container `id` whose task runs as `pid` (0:
    /// none, or not known).
    fn container_info(&self, id: &str, version: String, pid: u32) -> Result<Running, EngineError> {
        let info = match self.query(["containers", "info", id]) {
            Ok(info) => info,
            Err(EngineError::Failed { .. }) => {
                return Err(EngineError::NoSuchContainer {
                    engine: self.engine.name(),
                    name: id.to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        let info: CtrInfo = (info.len() <= MOST_INSPECT_BYTES)
            .then(|| serde_json::from_str(&info).ok())
            .flatten()
            .ok_or_else(|| EngineError::Failed {
                engine: self.engine.name(),
                detail: format!("its description of container {id} is not understood"),
            })?;
        Ok(Running {
            engine: self.engine,
            version,
            id: id.to_owned(),
            name: id.to_owned(),
            image: info.image,
            pid,
            labels: info.labels.unwrap_or_default(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            // The runc shims (`io.containerd.runc.v2`) run runc.
            runtime: info
                .runtime
                .filter(|r| r.name.contains(".runc."))
                .map(|_| "runc".to_owned()),
        })
    }
}

/// The global options that make `ctr` look in `namespace`.
pub(crate) fn ctr_namespace(namespace: &str) -> Vec<OsString> {
    vec!["--namespace".into(), namespace.into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_and_podmans_descriptions_are_read() {
        let docker = r#"[{"Id": "0123456789abcdef", "Name": "/web",
            "State": {"Running": true, "Pid": 4242},
            "Config": {"Image": "nginx:1.25", "Labels": {"a": "b"}}}]"#;
        let list: Vec<Inspected> = serde_json::from_str(docker).expect("docker's shape");
        assert_eq!(list[0].state.pid, 4242);
        assert_eq!(list[0].config.labels.as_ref().map(|l| l.len()), Some(1));
        let podman = r#"[{"Id": "fedcba", "Name": "db", "ImageName": "localhost/db:1",
            "State": {"Running": false, "Pid": 0}, "Config": {"Image": "x", "Labels": null}}]"#;
        let list: Vec<Inspected> = serde_json::from_str(podman).expect("podman's shape");
        assert_eq!(list[0].image_name.as_deref(), Some("localhost/db:1"));
        assert!(!list[0].state.running);
    }
}
