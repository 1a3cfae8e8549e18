//! The evaluated Docker default baseline against what the real engine
//! enforces: for every syscall of the x86_64 table, the `syscall-verdicts`
//! sample makes the call inside a container under Docker's default seccomp
//! profile and again with `seccomp=unconfined`; where the two differ the
//! filter acted, and its errno is the engine's verdict. The evaluation's
//! verdict (allow, or deny with which errno; argument-conditioned syscalls
//! probed on both sides of their conditions) must match, with Docker's
//! default capabilities and with `--cap-add ALL`.
//!
//! The engine here is Debian 12's docker.io 20.10.24 with runc 1.1.5,
//! whose built-in profile is older than the v0.2.3 baseline the tool ships;
//! every difference is listed below with its reason, and the test fails on
//! any other, and on any listed one that no longer occurs.
//!
//! Needs the dockerd that `cargo xtask test` starts (DOCKER_HOST) and the
//! test image with the samples.

mod common;

use std::{collections::BTreeMap, process::Command};

use common::{TEST_IMAGE, docker_host};

use syscall_profile::{
    baseline::{Baseline, DockerContext, Verdict, docker_capabilities},
    profile::{Action, Arch, Capability, KernelVersion, table},
};

const IMAGE: &str = TEST_IMAGE;

/// Arguments that keep a call harmless where zeros would not be, or that
/// probe both sides of a condition of Docker's profile.
fn probes() -> Vec<(String, &'static str, [u64; 6])> {
    let mut probes: Vec<(String, &'static str, [u64; 6])> = table::all(Arch::X86_64)
        .into_iter()
        .map(|(nr, name)| {
            let args = match name {
                // An invalid flag bit: refused before anything is unloaded,
                // even with CAP_SYS_BOOT (zeros would unload the host's
                // crash kernel).
                "kexec_load" => [0, 0, 0, 0x8000, 0, 0],
                "kexec_file_load" => [u64::MAX, u64::MAX, 0, 0, 0x8000, 0],
                // SECCOMP_GET_ACTION_AVAIL with no buffer: EFAULT either way.
                // Zeros ask for strict mode, which the kernel refuses
                // (EINVAL) to a task already under a filter, whatever the
                // filter says: a difference of the filter's presence, not
                // of its verdict.
                "seccomp" => [2, 0, 0, 0, 0, 0],
                _ => [0; 6],
            };
            (probe_word(nr, &args), name, args)
        })
        .collect();
    let extra: [(&str, [u64; 6]); 12] = [
        ("socket", [1, 1, 0, 0, 0, 0]),                // AF_UNIX stream
        ("socket", [38, 5, 0, 0, 0, 0]),               // AF_ALG
        ("socket", [39, 1, 0, 0, 0, 0]),               // AF_NFC
        ("socket", [40, 1, 0, 0, 0, 0]),               // AF_VSOCK
        ("socket", [16, 3, 0, 0, 0, 0]),               // AF_NETLINK
        ("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), // query
        ("personality", [8, 0, 0, 0, 0, 0]),           // PER_LINUX32
        ("personality", [0x0006, 0, 0, 0, 0, 0]),      // PER_BSD
        ("personality", [0x0002_0000, 0, 0, 0, 0, 0]), // UNAME26
        ("clone", [0x11, 0, 0, 0, 0, 0]),              // SIGCHLD: a plain fork
        ("clone", [0x1000_0011, 0, 0, 0, 0, 0]),       // CLONE_NEWUSER
        ("clone", [0x2000_0011, 0, 0, 0, 0, 0]),       // CLONE_NEWPID
    ];
    for (name, args) in extra {
        let nr = table::number_of(Arch::X86_64, name).expect("an x86_64 syscall");
        probes.push((probe_word(nr, &args), name, args));
    }
    probes
}

/// The sample's word for a call: `NR`, or `NR:A,B,...` with arguments.
fn probe_word(nr: u64, args: &[u64; 6]) -> String {
    if args.iter().all(|&a| a == 0) {
        return nr.to_string();
    }
    let text: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
    format!("{nr}:{}", text.join(","))
}

/// The sample's output, per probe.
fn run_probes(
    probes: &[(String, &'static str, [u64; 6])],
    options: &[&str],
) -> BTreeMap<String, String> {
    let host = docker_host();
    let mut cmd = Command::new("docker");
    cmd.args(["-H", &host, "run", "--rm", "--network", "none"])
        .args(options)
        .args([IMAGE, "/bin/syscall-verdicts"])
        .args(probes.iter().map(|p| p.0.as_str()));
    let out = cmd.output().expect("run docker");
    assert!(
        out.status.success(),
        "docker run {options:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (probe, outcome) = line.split_once(' ')?;
            Some((probe.to_owned(), outcome.to_owned()))
        })
        .collect()
}

/// What the engine did, from the outcomes with and without the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Engine {
    /// The same either way: the filter let the call through.
    Ran,
    /// The filter answered with this errno.
    Denied(u32),
    /// Something else differed (a kill, a timeout).
    Odd(String),
}

fn engine_verdict(filtered: &str, unfiltered: &str) -> Engine {
    if filtered == unfiltered {
        return Engine::Ran;
    }
    match filtered.strip_prefix("errno ").and_then(|n| n.parse().ok()) {
        Some(errno) => Engine::Denied(errno),
        None => Engine::Odd(format!("{filtered} (unconfined: {unfiltered})")),
    }
}

/// Every known difference between the v0.2.3 baseline's evaluation and the
/// engine here, by syscall, with the reason. `default` is for Docker's
/// default capabilities, `all` for `--cap-add ALL`.
fn known_differences(all_caps: bool) -> BTreeMap<&'static str, &'static str> {
    const NEWER_PROFILE: &str = "Docker 20.10's built-in profile predates this syscall: \
         runc 1.1.5 answers ENOSYS for syscall numbers above the highest its profile names \
         (so libcs fall back), where v0.2.3 allows it";
    const IO_URING: &str = "Docker 20.10 allowed io_uring; Docker's later profiles (v0.2.3) \
         deny it, after its kernel exploits";
    const PTRACE_VM: &str = "Docker 20.10 allows process_vm_* only with CAP_SYS_PTRACE; \
         v0.2.3 allows them from kernel 4.8 on, like ptrace";
    let mut known: BTreeMap<&str, &str> = BTreeMap::new();
    for name in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        known.insert(name, IO_URING);
    }
    for name in [
        "cachestat",
        "fchmodat2",
        "futex_wake",
        "futex_wait",
        "futex_requeue",
        "statmount",
        "listmount",
        "mseal",
        "setxattrat",
        "getxattrat",
        "listxattrat",
        "removexattrat",
    ] {
        known.insert(name, NEWER_PROFILE);
    }
    let enosys_for_denied = "denied either way, but runc 1.1.5 answers ENOSYS instead of \
         EPERM for a number above the highest its (Docker 20.10) profile names";
    for name in [
        "set_mempolicy_home_node",
        "lsm_get_self_attr",
        "lsm_set_self_attr",
        "lsm_list_modules",
        "open_tree_attr",
        "file_getattr",
    ] {
        known.insert(name, enosys_for_denied);
    }
    if all_caps {
        for name in [
            "set_mempolicy_home_node",
            "lsm_get_self_attr",
            "lsm_set_self_attr",
            "lsm_list_modules",
        ] {
            known.insert(name, NEWER_PROFILE);
        }
    } else {
        known.insert("process_vm_readv", PTRACE_VM);
        known.insert("process_vm_writev", PTRACE_VM);
        known.insert(
            "name_to_handle_at",
            "Docker 20.10 allows it only with CAP_DAC_READ_SEARCH; v0.2.3 allows it to all",
        );
    }
    for name in ["pkey_mprotect", "pkey_alloc", "pkey_free"] {
        known.insert(
            name,
            "Docker 20.10's profile lacks the memory-protection-key syscalls; v0.2.3 allows them",
        );
    }
    known.insert(
        "uprobe",
        "the kernel lets uprobe (like uretprobe) past every seccomp filter: only the uprobes \
         trampoline may call it, and filtering it would break probed programs; so v0.2.3's \
         denial never applies",
    );
    known.insert(
        "socket",
        "Docker 20.10 allows every address family; v0.2.3 denies AF_ALG (38) and AF_VSOCK (40)",
    );
    known
}

/// `--cap-add ALL`, less the capabilities this host's root does not have
/// to give (a container cannot get more than its engine holds).
fn all_caps_options() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .expect("CapBnd in /proc/self/status");
    let mut options = vec!["--cap-add".to_owned(), "ALL".to_owned()];
    for cap in Capability::ALL {
        if bounding & (1 << cap.info().bit) == 0 {
            options.push("--cap-drop".to_owned());
            options.push(cap.scmp_name().trim_start_matches("CAP_").to_owned());
        }
    }
    options
}

fn compare(all_caps: bool) {
    let probes = probes();
    let caps_owned = if all_caps {
        all_caps_options()
    } else {
        Vec::new()
    };
    let caps_option: Vec<&str> = caps_owned.iter().map(String::as_str).collect();
    let caps_option = caps_option.as_slice();
    let mut unconfined_options = caps_option.to_vec();
    unconfined_options.extend(["--security-opt", "seccomp=unconfined"]);
    let filtered = run_probes(&probes, caps_option);
    let unfiltered = run_probes(&probes, &unconfined_options);

    let cap_add: Vec<String> = if all_caps {
        vec!["ALL".to_owned()]
    } else {
        Vec::new()
    };
    let context = DockerContext {
        native: Arch::X86_64,
        caps: docker_capabilities(&cap_add, &[]).unwrap(),
        kernel: KernelVersion::running().expect("uname"),
    };
    let policy = Baseline::docker_default().evaluate(&context);

    let mut mismatches: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut unobservable = Vec::new();
    for (probe, name, args) in &probes {
        let (Some(with), Some(without)) = (filtered.get(probe), unfiltered.get(probe)) else {
            panic!("no outcome for probe {probe} ({name})");
        };
        let expected: Verdict = policy.verdict(name, args);
        let engine = engine_verdict(with, without);
        let agrees = match (&engine, expected.action) {
            (Engine::Ran, Action::Allow) => true,
            (Engine::Denied(errno), Action::Errno) => Some(*errno) == expected.errno,
            // The kernel fails the call with the very errno the filter
            // would: which of them answered cannot be seen.
            (Engine::Ran, Action::Errno)
                if expected.errno.map(|e| format!("errno {e}")).as_deref()
                    == Some(with.as_str()) =>
            {
                unobservable.push(format!("{name} ({with})"));
                true
            }
            _ => false,
        };
        if !agrees {
            mismatches.entry(name).or_default().push(format!(
                "probe {probe}: evaluation says {expected}, engine {engine:?} (under the \
                 profile: {with}; unconfined: {without})"
            ));
        }
    }

    let known = known_differences(all_caps);
    let label = if all_caps {
        "--cap-add ALL"
    } else {
        "default capabilities"
    };
    eprintln!(
        "{label}: {} probes; {} syscalls whose denial the kernel's own errno hides: {}",
        probes.len(),
        unobservable.len(),
        unobservable.join(", ")
    );
    for (name, details) in &mismatches {
        eprintln!(
            "{label}: {name}: {}\n    known: {}",
            details.join("; "),
            known.get(name).unwrap_or(&"NO")
        );
    }
    let unexplained: Vec<String> = mismatches
        .iter()
        .filter(|(name, _)| !known.contains_key(*name) && **name != "map_shadow_stack")
        .map(|(name, details)| format!("{name}: {}", details.join("; ")))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{label}: the evaluation and the engine disagree, unexplained:\n{}",
        unexplained.join("\n")
    );
    // map_shadow_stack is as NEWER_PROFILE says, but where the kernel or
    // the CPU has no user shadow stacks, the kernel itself answers ENOSYS,
    // as runc's stub does: then the two cannot be told apart.
    if let Some(details) = mismatches.get("map_shadow_stack") {
        assert!(
            details.iter().all(|d| d.contains("errno 38")),
            "map_shadow_stack: {details:?}"
        );
    }
    let stale: Vec<&&str> = known
        .keys()
        .filter(|name| !mismatches.contains_key(**name))
        .collect();
    assert!(
        stale.is_empty(),
        "{label}: listed as differing but agreeing now (update the list): {stale:?}"
    );
}

#[test]
fn default_baseline_matches_the_engine_with_default_capabilities() {
    compare(false);
}

#[test]
fn default_baseline_matches_the_engine_with_all_capabilities() {
    compare(true);
}
