//! The syscalls a container runtime makes after it installs the seccomp
//! filter and before the entrypoint runs, as shipped with this tool.
//!
//! A container does not start under a profile that lacks them. runc and crun
//! make them in the container's process, under the filter, so they are
//! recorded; but which ones varies from run to run (runc is written in Go, and
//! the Go runtime's own calls depend on timing), so one recording is not
//! enough. These base sets are the union over many recordings made by this
//! tool itself (`cargo xtask runtime-base`), stored in `profiler/data/`.
//! For the syscalls whose arguments carry privilege
//! (`crate::syscall_args::CAPTURED`), a base set also holds the argument values
//! the runtime passed in those recordings.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Engine;
use crate::profile::SyscallSet;

/// A base set as stored. Its provenance (version, runs, the command that
/// derived it) is read so that the file's schema is checked whole; nothing
/// uses it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "provenance fields, read to check the file")]
pub(crate) struct RuntimeBase {
    /// The runtime's name, as the engine reports it (`runc`, `crun`).
    pub runtime: String,
    /// The runtime's version it was derived with.
    pub version: String,
    /// The engine that ran it.
    pub engine: String,
    /// How many recordings the union is over.
    pub runs: u32,
    /// The command that derived it.
    pub derived_by: String,
    syscalls: Vec<String>,
    /// Per captured syscall of `syscalls`, the tuples of its captured
    /// argument values (in `CAPTURED`'s order, masked as it says) seen in
    /// any of the recordings. Absent in sets derived before arguments were
    /// captured.
    #[serde(default)]
    arguments: BTreeMap<String, BTreeSet<Vec<u64>>>,
}

impl RuntimeBase {
    pub(crate) fn syscalls(&self) -> SyscallSet {
        self.syscalls.iter().map(String::as_str).collect()
    }

    /// The argument values the runtime passed, per syscall name: one tuple
    /// per distinct call seen (empty when the set predates argument capture).
    pub(crate) fn arguments(&self) -> &BTreeMap<String, BTreeSet<Vec<u64>>> {
        &self.arguments
    }
}

const SHIPPED: &[&str] = &[
    include_str!("../../data/runtime-base/docker-runc.json"),
    include_str!("../../data/runtime-base/podman-runc.json"),
    include_str!("../../data/runtime-base/podman-crun.json"),
    include_str!("../../data/runtime-base/containerd-runc.json"),
];

/// The base set shipped for `runtime` as started by `engine`, if any; else
/// one for the same runtime under another engine (the runtime's own code
/// after the filter install is the same; the engine only shapes its config).
pub(crate) fn for_runtime(engine: Engine, runtime: &str) -> Option<RuntimeBase> {
    let shipped: Vec<RuntimeBase> = SHIPPED
        .iter()
        .filter_map(|text| serde_json::from_str::<RuntimeBase>(text).ok())
        .filter(|base| base.runtime == runtime)
        .collect();
    let same_engine = shipped
        .iter()
        .position(|base| base.engine.split(' ').next() == Some(engine.name()));
    match same_engine {
        Some(i) => shipped.into_iter().nth(i),
        None => shipped.into_iter().next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_base_sets_parse() {
        for text in SHIPPED {
            let base: RuntimeBase = serde_json::from_str(text).expect("a shipped base set parses");
            assert!(
                base.runs >= 10,
                "{}: derived from too few runs",
                base.runtime
            );
            assert!(base.syscalls().contains("execve"), "{}", base.runtime);
            for (name, tuples) in base.arguments() {
                assert!(base.syscalls().contains(name), "{}: {name}", base.runtime);
                let captured = crate::syscall_args::captured(name)
                    .unwrap_or_else(|| panic!("{}: {name} is not captured", base.runtime));
                assert!(
                    tuples.iter().all(|t| t.len() == captured.args.len()),
                    "{}: {name}'s values have one value per captured argument",
                    base.runtime
                );
            }
            // Both runtimes set their capabilities with prctl after the
            // filter is on: their values must be there. Not under `ctr
            // run`, which sets no_new_privs: runc then installs the filter
            // last, after the capabilities, right before the execve.
            if base.engine.starts_with("containerd") {
                assert!(!base.syscalls().contains("prctl"), "{}", base.engine);
                continue;
            }
            assert!(
                !base.arguments().get("prctl").is_none_or(|t| t.is_empty()),
                "{}: the runtime's prctl options",
                base.runtime
            );
        }
    }
}
