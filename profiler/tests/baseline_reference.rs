//! The engine-default baselines the tool ships say what their sources say:
//! evaluated for every combination that matters (architectures, capability
//! sets, kernels), each syscall gets the same verdict from the shipped data
//! as from the reference copy of moby's `seccomp/default.json` v0.2.3, and
//! from containers-common's `seccomp.json` as installed with podman. (Docker
//! 20.10's and containerd's have no source file on the machine; they are
//! checked against the engines themselves, in `baseline_engine.rs`.)

use std::{collections::BTreeSet, path::Path};

use crate::reference::reference_file;
use syscall_profile::{
    baseline::{Baseline, DockerContext, EngineDefault, docker_capabilities},
    profile::{Arch, KernelVersion, Profile},
};

#[test]
fn shipped_baseline_evaluates_like_docker_s_file() {
    let Some(source) = reference_file("docker-default-seccomp.json") else {
        return;
    };
    evaluates_like(&Baseline::docker_default(), &source);
}

/// podman's baseline against the file podman reads, as containers-common
/// installs it here (`cargo xtask setup` installs podman).
#[test]
fn podman_baseline_evaluates_like_the_installed_containers_common_file() {
    let installed = Path::new("/usr/share/containers/seccomp.json");
    assert!(
        installed.is_file(),
        "{} is missing: install podman (Debian: apt-get install podman, which brings \
         golang-github-containers-common)",
        installed.display()
    );
    let shipped = Baseline::engine_default(EngineDefault::Podman, String::new());
    assert!(
        shipped
            .name
            .contains(installed.to_str().unwrap_or_default()),
        "{}",
        shipped.name
    );
    evaluates_like(&shipped, installed);
}

fn evaluates_like(shipped: &Baseline, source: &Path) {
    let reference = Profile::load(source)
        .unwrap_or_else(|e| panic!("{e}"))
        .profile;
    let names: BTreeSet<&str> = reference
        .syscalls
        .iter()
        .flat_map(|r| r.names.iter().map(String::as_str))
        .chain(["not_named_anywhere"])
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cap_sets = [
        docker_capabilities(&[], &[]).unwrap(),
        docker_capabilities(&s(&["ALL"]), &[]).unwrap(),
        docker_capabilities(&[], &s(&["ALL"])).unwrap(),
        docker_capabilities(&s(&["SYS_ADMIN"]), &[]).unwrap(),
        docker_capabilities(&s(&["SYS_PTRACE", "BPF"]), &s(&["CHOWN"])).unwrap(),
    ];
    let kernels = [
        KernelVersion { major: 4, minor: 4 },
        KernelVersion { major: 4, minor: 8 },
        KernelVersion {
            major: 6,
            minor: 18,
        },
    ];
    let mut checked = 0;
    for &native in Arch::ALL {
        for caps in &cap_sets {
            for kernel in kernels {
                let context = DockerContext {
                    native,
                    caps: caps.clone(),
                    kernel,
                };
                let ours = shipped.evaluate(&context);
                let theirs =
                    syscall_profile::baseline::EffectivePolicy::evaluate(&reference, &context);
                assert_eq!(ours.arches, theirs.arches, "{context:?}");
                assert_eq!(ours.default, theirs.default);
                for name in &names {
                    assert_eq!(
                        ours.access(name),
                        theirs.access(name),
                        "{name} on {native} with {:?}, kernel {kernel}",
                        context.caps
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}

/// A clone without `../shared` builds, runs and passes its tests: outside
/// `tests/reference/` (whose tests say they were not run where it is
/// absent) and the maintainers' tasks that read it when present (`cargo
/// xtask baseline`, the bench's comparison, which says it is absent), no
/// tracked file's code names the directory. Comments and Markdown may.
#[test]
fn nothing_else_reads_the_shared_directory() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the profiler crate is inside the workspace");
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(workspace)
        .output()
        .expect("run git ls-files");
    assert!(listed.status.success(), "git ls-files failed: not a clone?");
    let allowed = [
        // This test, whose needles are the words it looks for.
        "profiler/tests/baseline_reference.rs",
        "profiler/tests/reference/mod.rs",
        "xtask/src/docker_baseline.rs",
        "xtask/src/bench/suite.rs",
    ];
    let mut found = Vec::new();
    for name in String::from_utf8_lossy(&listed.stdout).split('\0') {
        if name.is_empty() || name.ends_with(".md") || allowed.contains(&name) {
            continue;
        }
        // Only text: images and archives cannot name a path for the code.
        let Ok(text) = std::fs::read_to_string(workspace.join(name)) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") || code.starts_with('#') {
                continue;
            }
            if code.contains("shared/reference")
                || code.contains("../shared")
                || code.contains("\"shared\"")
            {
                found.push(format!("{name}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "code outside tests/reference/ names ../shared, which a user's clone does not \
         have:\n{}",
        found.join("\n")
    );
}
