//! The evaluated engine-default baselines against what the real engines
//! enforce: for every syscall of the x86_64 table, the `syscall-verdicts`
//! sample makes the call inside a container under the engine's default
//! seccomp profile and again with seccomp off; where the two differ the
//! filter acted, and its errno is the engine's verdict. The evaluation's
//! verdict (allow, or deny with which errno; argument-conditioned syscalls
//! probed on both sides of their conditions) must match, with the engine's
//! default capabilities and with every capability.
//!
//! - `docker` (moby's current profile, v0.2.3) and `docker-20.10` (Docker
//!   engine 20.10's built-in one) against `docker run` with no seccomp
//!   option, on Debian 12's docker.io 20.10.24 with runc 1.1.5. That engine
//!   applies its 20.10 profile, so `docker` differs from it in the ways
//!   listed below, each with its reason; `docker-20.10` only where runc
//!   itself answers for the profile (see [`runc_answers`]).
//! - `podman` (containers-common's) against `podman run` with no seccomp
//!   option (podman 4.3.1 with runc).
//! - `containerd` (its RuntimeDefault) against `ctr run --seccomp`, on the
//!   containerd 1.6.20 that dockerd runs.
//!
//! Each test fails on any difference not listed, and on any listed one that
//! no longer occurs.
//!
//! Needs the dockerd that `cargo xtask test` starts (DOCKER_HOST), its
//! containerd, the podman store it prepares, and the test image with the
//! samples.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use crate::common::{TEST_IMAGE, docker_host, podman_globals};

use syscall_profile::{
    baseline::{Baseline, DockerContext, EngineDefault, Verdict, engine_capabilities},
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
    let extra: [(&str, [u64; 6]); 13] = [
        ("socket", [1, 1, 0, 0, 0, 0]),                // AF_UNIX stream
        ("socket", [38, 5, 0, 0, 0, 0]),               // AF_ALG
        ("socket", [39, 1, 0, 0, 0, 0]),               // AF_NFC
        ("socket", [40, 1, 0, 0, 0, 0]),               // AF_VSOCK
        ("socket", [16, 3, 0, 0, 0, 0]),               // AF_NETLINK
        ("socket", [16, 3, 9, 0, 0, 0]),               // NETLINK_AUDIT: podman's EINVAL
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

/// The engines the baselines are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Docker,
    Podman,
    Ctr,
}

/// The containerd socket of the test dockerd (`cargo xtask test` gives
/// dockerd `--exec-root` `docker-exec` beside its socket, and dockerd runs
/// its containerd under it).
fn containerd_address() -> PathBuf {
    let host = docker_host();
    let socket = Path::new(host.strip_prefix("unix://").unwrap_or(&host));
    let address = socket
        .parent()
        .expect("DOCKER_HOST names a socket in a directory")
        .join("docker-exec/containerd/containerd.sock");
    assert!(
        address.exists(),
        "no containerd socket at {}: this test needs the dockerd of `cargo xtask test` \
         (Debian's docker.io, which runs containerd)",
        address.display()
    );
    address
}

/// The containerd namespace the test image is imported into.
const CTR_NAMESPACE: &str = "syscall-profile-baseline";

/// The test image, imported once from the test dockerd into containerd
/// (`docker save | ctr images import`); its reference there.
fn ctr_image() -> &'static str {
    static IMPORTED: OnceLock<String> = OnceLock::new();
    IMPORTED.get_or_init(|| {
        let address = containerd_address();
        let mut save = Command::new("docker")
            .args(["-H", &docker_host(), "save", IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run docker save");
        let import = Command::new("ctr")
            .arg("-a")
            .arg(&address)
            .args(["-n", CTR_NAMESPACE, "images", "import", "-"])
            .stdin(save.stdout.take().expect("docker save's output"))
            .output()
            .expect("run ctr (Debian's containerd)");
        assert!(save.wait().expect("wait for docker save").success());
        assert!(
            import.status.success(),
            "ctr images import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        );
        format!("docker.io/library/{IMAGE}")
    })
}

/// The sample's output, per probe, under `runner`'s default seccomp
/// profile (`filtered`) or with seccomp off, with capability options `caps`.
fn run_probes(
    runner: Runner,
    probes: &[(String, &'static str, [u64; 6])],
    caps: &[String],
    filtered: bool,
) -> BTreeMap<String, String> {
    let mut cmd = Command::new("timeout");
    cmd.arg("300");
    match runner {
        Runner::Docker => {
            cmd.args([
                "docker",
                "-H",
                &docker_host(),
                "run",
                "--rm",
                "--network",
                "none",
            ])
            .args(caps);
            if !filtered {
                cmd.args(["--security-opt", "seccomp=unconfined"]);
            }
            cmd.arg(IMAGE);
        }
        Runner::Podman => {
            cmd.arg("podman")
                .args(podman_globals())
                .args(["run", "--rm", "--network", "none"])
                .args([
                    "--ulimit",
                    "nofile=20000:20000",
                    "--ulimit",
                    "nproc=32768:32768",
                ])
                .args(caps);
            if !filtered {
                cmd.args(["--security-opt", "seccomp=unconfined"]);
            }
            cmd.arg(IMAGE);
        }
        Runner::Ctr => {
            let image = ctr_image();
            // A name of its own per run: two tests may run at once.
            static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let id = format!(
                "baseline-{}-{}",
                std::process::id(),
                RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            // A cgroup of its own at the top, which containerd removes with
            // the container: by default it would make the namespace's
            // parent cgroup in every hierarchy and leave it behind.
            cmd.arg("ctr")
                .arg("-a")
                .arg(containerd_address())
                .args(["-n", CTR_NAMESPACE, "run", "--rm"])
                .arg("--cgroup")
                .arg(format!("/syscall-profile-test-{id}"))
                .args(caps);
            if filtered {
                cmd.arg("--seccomp");
            }
            cmd.args([image, &id]);
        }
    }
    cmd.arg("/bin/syscall-verdicts")
        .args(probes.iter().map(|p| p.0.as_str()))
        .stdin(Stdio::null());
    let out = cmd.output().expect("run the engine");
    assert!(
        out.status.success(),
        "{runner:?} run (filtered: {filtered}, {caps:?}) failed: {}",
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

/// The sample's outcome for a call its alarm ended (SIGALRM).
const ALARM: &str = "signal 14";

/// What the engine did, from the outcomes with and without the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Observed {
    /// The same either way: the filter let the call through.
    Ran,
    /// The filter answered with this errno.
    Denied(u32),
    /// Something else differed (a kill, a timeout).
    Odd(String),
}

fn engine_verdict(filtered: &str, unfiltered: &str) -> Observed {
    if filtered == unfiltered {
        return Observed::Ran;
    }
    match filtered.strip_prefix("errno ").and_then(|n| n.parse().ok()) {
        Some(errno) => Observed::Denied(errno),
        None => Observed::Odd(format!("{filtered} (unconfined: {unfiltered})")),
    }
}

/// Every known difference between the v0.2.3 baseline's evaluation and the
/// engine here, by syscall, with the reason. `default` is for Docker's
/// default capabilities, `all` for `--cap-add ALL`.
fn moby_current_differences(all_caps: bool) -> BTreeMap<&'static str, &'static str> {
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
            "Docker 20.10 allows it only with CAP_SYS_ADMIN; v0.2.3 allows it to all",
        );
    }
    for name in ["pkey_mprotect", "pkey_alloc", "pkey_free"] {
        known.insert(
            name,
            "Docker 20.10's profile lacks the memory-protection-key syscalls; v0.2.3 allows them",
        );
    }
    known.insert(
        "socket",
        "Docker 20.10 allows every address family; v0.2.3 denies AF_ALG (38) and AF_VSOCK (40)",
    );
    known
}

/// The syscalls the kernel lets past every seccomp filter, whatever the
/// profile says: only the uprobes trampoline may call them, and filtering
/// them would break probed programs (kernel 6.11 on for uretprobe, 6.16 for
/// uprobe). A profile's denial of them never applies.
const KERNEL_BYPASSES: [&str; 2] = ["uprobe", "uretprobe"];

/// Whether runc, not the profile, answered: runc 1.1.5 puts a stub in
/// front of the filter that fails every syscall numbered above the highest
/// the profile names with ENOSYS (so that a libc falls back from a syscall
/// newer than the profile), where the profile's default action would give
/// its own errno. The engine denies the call either way.
fn runc_answers(baseline: &Baseline, nr: u64, expected: Verdict, observed: &Observed) -> bool {
    let highest = baseline
        .profile
        .syscalls
        .iter()
        .flat_map(|rule| &rule.names)
        .filter_map(|name| table::number_of(Arch::X86_64, name))
        .max()
        .unwrap_or(0);
    nr > highest && expected.action == Action::Errno && *observed == Observed::Denied(38)
}

/// The host's bounding set: a container cannot get more than its engine
/// holds.
fn host_bounding() -> Vec<Capability> {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .expect("CapBnd in /proc/self/status");
    Capability::ALL
        .iter()
        .copied()
        .filter(|cap| bounding & (1 << cap.info().bit) != 0)
        .collect()
}

/// The capability options for every capability the host can give, in
/// `runner`'s words, and the same as `--cap-add`/`--cap-drop` lists for the
/// evaluation.
fn all_caps_options(runner: Runner) -> (Vec<String>, Vec<String>, Vec<String>) {
    let held = host_bounding();
    let short = |cap: &Capability| cap.scmp_name().trim_start_matches("CAP_").to_owned();
    let missing: Vec<String> = Capability::ALL
        .iter()
        .filter(|cap| !held.contains(cap))
        .map(short)
        .collect();
    match runner {
        Runner::Docker | Runner::Podman => {
            let mut options = vec!["--cap-add".to_owned(), "ALL".to_owned()];
            for cap in &missing {
                options.push("--cap-drop".to_owned());
                options.push(cap.clone());
            }
            (options, vec!["ALL".to_owned()], missing)
        }
        // ctr takes no ALL: every capability the host holds, one by one.
        Runner::Ctr => {
            let mut options = Vec::new();
            for cap in &held {
                options.push("--cap-add".to_owned());
                options.push(cap.scmp_name().to_owned());
            }
            (options, held.iter().map(short).collect(), Vec::new())
        }
    }
}

/// One engine default checked against one engine.
struct Case {
    default: EngineDefault,
    runner: Runner,
    /// The differences expected, by syscall, with their reasons.
    known: fn(bool) -> BTreeMap<&'static str, &'static str>,
    /// Whether the engine applies this very profile (so that runc's stub
    /// answers for syscalls newer than it: see [`runc_answers`]).
    engine_applies_it: bool,
}

fn compare(case: &Case, all_caps: bool) {
    let baseline = Baseline::engine_default(case.default, String::new());
    let probes = probes();
    let (caps_option, cap_add, cap_drop) = if all_caps {
        all_caps_options(case.runner)
    } else {
        Default::default()
    };
    let mut filtered = run_probes(case.runner, &probes, &caps_option, true);
    let mut unfiltered = run_probes(case.runner, &probes, &caps_option, false);
    // A call the sample's alarm ended on one side only was slow, not
    // filtered (sync(2) on a host busy writing): asked again, a few times.
    for _ in 0..3 {
        let slow: Vec<(String, &'static str, [u64; 6])> = probes
            .iter()
            .filter(|(probe, _, _)| {
                let (with, without) = (filtered.get(probe), unfiltered.get(probe));
                with != without
                    && [with, without]
                        .iter()
                        .any(|outcome| outcome.is_some_and(|o| o == ALARM))
            })
            .cloned()
            .collect();
        if slow.is_empty() {
            break;
        }
        eprintln!(
            "asking again, ended by the alarm on one side: {:?}",
            slow.iter().map(|p| p.1).collect::<Vec<_>>()
        );
        filtered.extend(run_probes(case.runner, &slow, &caps_option, true));
        unfiltered.extend(run_probes(case.runner, &slow, &caps_option, false));
    }

    let context = DockerContext {
        native: Arch::X86_64,
        caps: engine_capabilities(baseline.default_capabilities(), &cap_add, &cap_drop).unwrap(),
        kernel: KernelVersion::running().expect("uname"),
    };
    let policy = baseline.evaluate(&context);

    let mut mismatches: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut unobservable = Vec::new();
    let mut runc_stub = Vec::new();
    let mut bypassed = Vec::new();
    for (probe, name, args) in &probes {
        let (Some(with), Some(without)) = (filtered.get(probe), unfiltered.get(probe)) else {
            panic!("no outcome for probe {probe} ({name})");
        };
        let expected: Verdict = policy.verdict(name, args);
        let engine = engine_verdict(with, without);
        let nr = table::number_of(Arch::X86_64, name).expect("an x86_64 syscall");
        let agrees = match (&engine, expected.action) {
            (Observed::Ran, Action::Allow) => true,
            (Observed::Denied(errno), Action::Errno) if Some(*errno) == expected.errno => true,
            // The kernel fails the call with the very errno the filter
            // would: which of them answered cannot be seen.
            (Observed::Ran, Action::Errno)
                if expected.errno.map(|e| format!("errno {e}")).as_deref()
                    == Some(with.as_str()) =>
            {
                unobservable.push(format!("{name} ({with})"));
                true
            }
            (Observed::Ran, Action::Errno) if KERNEL_BYPASSES.contains(name) => {
                bypassed.push(*name);
                true
            }
            _ if case.engine_applies_it && runc_answers(&baseline, nr, expected, &engine) => {
                runc_stub.push(*name);
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

    let known = (case.known)(all_caps);
    let label = format!(
        "{} against {:?}, {}",
        case.default,
        case.runner,
        if all_caps {
            "every capability"
        } else {
            "default capabilities"
        }
    );
    eprintln!(
        "{label}: {} probes; {} syscalls whose denial the kernel's own errno hides: {}; \
         {} answered ENOSYS by runc's stub for syscalls newer than the profile: {}; \
         denied but let past every filter by the kernel: {}",
        probes.len(),
        unobservable.len(),
        unobservable.join(", "),
        runc_stub.len(),
        runc_stub.join(", "),
        bypassed.join(", ")
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

const MOBY_CURRENT: Case = Case {
    default: EngineDefault::Docker,
    runner: Runner::Docker,
    known: moby_current_differences,
    engine_applies_it: false,
};

/// Docker 20.10's own profile against the Docker 20.10 engine: only what
/// the kernel decides before any filter.
const DOCKER_2010: Case = Case {
    default: EngineDefault::Docker2010,
    runner: Runner::Docker,
    known: |_| BTreeMap::new(),
    engine_applies_it: true,
};

const PODMAN: Case = Case {
    default: EngineDefault::Podman,
    runner: Runner::Podman,
    known: |_| BTreeMap::new(),
    engine_applies_it: true,
};

const CONTAINERD: Case = Case {
    default: EngineDefault::Containerd,
    runner: Runner::Ctr,
    known: |_| BTreeMap::new(),
    engine_applies_it: true,
};

#[test]
fn default_baseline_matches_the_engine_with_default_capabilities() {
    compare(&MOBY_CURRENT, false);
}

#[test]
fn default_baseline_matches_the_engine_with_all_capabilities() {
    compare(&MOBY_CURRENT, true);
}

#[test]
fn docker_2010_baseline_matches_the_engine_with_default_capabilities() {
    compare(&DOCKER_2010, false);
}

#[test]
fn docker_2010_baseline_matches_the_engine_with_all_capabilities() {
    compare(&DOCKER_2010, true);
}

#[test]
fn podman_baseline_matches_podman_with_default_capabilities() {
    compare(&PODMAN, false);
}

#[test]
fn podman_baseline_matches_podman_with_all_capabilities() {
    compare(&PODMAN, true);
}

#[test]
fn containerd_baseline_matches_ctr_with_default_capabilities() {
    compare(&CONTAINERD, false);
}

#[test]
fn containerd_baseline_matches_ctr_with_all_capabilities() {
    compare(&CONTAINERD, true);
}
