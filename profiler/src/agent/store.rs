//! What the agent keeps of each workload, in the output directory: its
//! state (`STEM.agent.json`: the syscalls of its replicas, with for each
//! how many replicas made it, and the replicas alive at the last write),
//! from which its profile (`STEM.json` or `STEM.yaml`) is written. Both
//! are written whole and atomically, when a container ends and at every
//! flush; an agent started again reads the states back and goes on, so
//! nothing it wrote is lost.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::identity::Workload;
use crate::{
    input::{self, Limit},
    output::{Output, OutputError},
};

/// The suffix of a workload's state file.
pub(crate) const STATE_SUFFIX: &str = ".agent.json";

/// The largest state file read back (a few KiB each: syscall names and
/// numbers).
const STATE_LIMIT: Limit = Limit {
    bytes: 4 << 20,
    what: "an agent state file",
};

/// How one syscall was used by a workload's replicas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Use {
    pub(crate) calls: u64,
    /// How many replicas made it.
    pub(crate) replicas: u64,
}

/// A replica alive at the last write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiveReplica {
    /// Seen running when the agent started: its start-up not observed.
    pub(crate) attached: bool,
    pub(crate) syscalls: BTreeMap<String, u64>,
}

/// A workload's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkloadState {
    pub(crate) workload: Workload,
    /// The engine's version, its runtime and the capabilities given beyond
    /// the engine's: what its default is evaluated with.
    pub(crate) engine_version: String,
    #[serde(default)]
    pub(crate) runtime: Option<String>,
    #[serde(default)]
    pub(crate) cap_add: Vec<String>,
    #[serde(default)]
    pub(crate) cap_drop: Vec<String>,
    /// Its replicas run under a seccomp filter: counted from its install.
    pub(crate) filtered: bool,
    pub(crate) first_seen: String,
    pub(crate) updated: String,
    /// Replicas ended and folded in, and how many of them were attached.
    pub(crate) replicas: u64,
    pub(crate) attached: u64,
    /// The syscalls of the replicas ended.
    pub(crate) syscalls: BTreeMap<String, Use>,
    /// The replicas alive at the last write, by container id.
    #[serde(default)]
    pub(crate) live: BTreeMap<String, LiveReplica>,
}

impl WorkloadState {
    /// Folds a replica's syscalls in as ended.
    pub(crate) fn end_replica(&mut self, syscalls: &BTreeMap<String, u64>, attached: bool) {
        for (name, &calls) in syscalls {
            let used = self.syscalls.entry(name.clone()).or_default();
            used.calls += calls;
            used.replicas += 1;
        }
        self.replicas += 1;
        self.attached += u64::from(attached);
    }

    /// The syscalls of every replica, ended and alive.
    pub(crate) fn merged(&self) -> BTreeMap<String, Use> {
        let mut all = self.syscalls.clone();
        for live in self.live.values() {
            for (name, &calls) in &live.syscalls {
                let used = all.entry(name.clone()).or_default();
                used.calls += calls;
                used.replicas += 1;
            }
        }
        all
    }

    /// Replicas, ended and alive, and how many of them were attached.
    pub(crate) fn replica_counts(&self) -> (u64, u64) {
        let live = self.live.len() as u64;
        let attached = self.live.values().filter(|l| l.attached).count() as u64;
        (self.replicas + live, self.attached + attached)
    }
}

/// Why the store cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the output directory {}: {source}", .dir.display())]
    List {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] input::InputError),
    #[error(
        "{} is not an agent state file this version reads ({source}): move it away, or give \
         another --output directory",
        .path.display()
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Write(#[from] OutputError),
}

/// The states of the workloads in `dir`, by stem.
pub(crate) fn load(dir: &Path) -> Result<BTreeMap<String, WorkloadState>, StoreError> {
    let list = |source| StoreError::List {
        dir: dir.to_owned(),
        source,
    };
    let mut states = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let entry = entry.map_err(list)?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(STATE_SUFFIX)) else {
            continue;
        };
        if stem.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let bytes = input::read(&path, STATE_LIMIT)?;
        let state: WorkloadState =
            serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                path: path.clone(),
                source,
            })?;
        states.insert(stem.to_owned(), state);
    }
    Ok(states)
}

/// Writes `state` and `profile` (named `STEM.EXTENSION`) in `dir`, each
/// whole and atomically: the profile first, so that a state never says
/// more than its profile holds. Returns the paths written.
pub(crate) fn write(
    dir: &Path,
    stem: &str,
    state: &WorkloadState,
    (profile, extension): (&str, &str),
) -> Result<Vec<PathBuf>, StoreError> {
    let mut written = Vec::new();
    let profile_path = dir.join(format!("{stem}.{extension}"));
    Output::prepare(Some(&profile_path))?.commit(profile)?;
    written.push(profile_path);
    written.push(write_state(dir, stem, state)?);
    Ok(written)
}

/// Writes `state` alone (`STEM.agent.json`), whole and atomically: what a
/// workload whose profile cannot be written keeps.
pub(crate) fn write_state(
    dir: &Path,
    stem: &str,
    state: &WorkloadState,
) -> Result<PathBuf, StoreError> {
    let state_path = dir.join(format!("{stem}{STATE_SUFFIX}"));
    let mut text = serde_json::to_string_pretty(state).unwrap_or_default();
    text.push('\n');
    Output::prepare(Some(&state_path))?.commit(&text)?;
    Ok(state_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> WorkloadState {
        WorkloadState {
            workload: Workload {
                engine: "containerd".into(),
                namespace: Some("prod".into()),
                owner: "web".into(),
                container: Some("nginx".into()),
                image: "nginx:1".into(),
            },
            engine_version: "1.6".into(),
            runtime: Some("runc".into()),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            filtered: true,
            first_seen: "2026-12-07T00:00:00Z".into(),
            updated: "2026-12-07T00:00:00Z".into(),
            replicas: 0,
            attached: 0,
            syscalls: BTreeMap::new(),
            live: BTreeMap::new(),
        }
    }

    #[test]
    fn replicas_fold_with_a_count_per_syscall() {
        let mut s = state();
        let calls = |names: &[(&str, u64)]| -> BTreeMap<String, u64> {
            names.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
        };
        s.end_replica(&calls(&[("read", 3), ("write", 1)]), false);
        s.end_replica(&calls(&[("read", 2)]), true);
        s.live.insert(
            "abc".into(),
            LiveReplica {
                attached: false,
                syscalls: calls(&[("read", 1), ("futex", 9)]),
            },
        );
        let merged = s.merged();
        assert_eq!(
            merged["read"],
            Use {
                calls: 6,
                replicas: 3
            }
        );
        assert_eq!(
            merged["write"],
            Use {
                calls: 1,
                replicas: 1
            }
        );
        assert_eq!(
            merged["futex"],
            Use {
                calls: 9,
                replicas: 1
            }
        );
        assert_eq!(s.replica_counts(), (3, 1));
    }

    #[test]
    fn states_are_written_and_read_back() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut s = state();
        s.end_replica(&[("read".to_owned(), 1)].into(), false);
        let written = write(dir.path(), "prod_web_nginx", &s, ("{}", "json")).expect("written");
        assert_eq!(written.len(), 2);
        let back = load(dir.path()).expect("read back");
        assert_eq!(back.get("prod_web_nginx"), Some(&s));
        std::fs::write(dir.path().join("bad.agent.json"), "{").expect("a bad state");
        let refused = load(dir.path()).expect_err("a bad state is refused");
        assert!(refused.to_string().contains("bad.agent.json"), "{refused}");
    }
}
