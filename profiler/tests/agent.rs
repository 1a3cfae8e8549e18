//! `syscall-profile agent`: every container of the node recorded from its
//! first process, by one in-kernel program, one profile per workload with
//! its replicas folded in. No kubelet runs here: the kubelet's containers
//! are made as it makes them, with `ctr run` in its cgroupfs layout
//! (`kubepods/besteffort/pod<UID>/<ID>`) and the CRI labels it sets; Docker
//! containers in Docker's own layout. The oracles: what each container was
//! made to call (and not), the engines' own verdicts under the profiles
//! written, and the operator's CRD schema. Each agent is given a `--select`
//! of its test's own, since every container of the host is its business.

use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::common::{
    TEST_IMAGE, allowed_names, cgroup2_mount, docker, docker_host, one_at_a_time, profiler,
    require_root, stderr, stdout, wait_for,
};

/// The agent tests run one at a time: each starts several containers.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The test image as containerd's default namespace has it.
const CTR_IMAGE: &str = "docker.io/library/syscall-profile-samples:test";

/// A running agent: its process, and its standard error read line by line.
struct Agent {
    child: Child,
    said: std::sync::mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Agent {
    /// Starts `syscall-profile agent ARGS`, and waits until it counts.
    fn start(args: &[&str], env: &[(&str, String)]) -> Agent {
        let mut command = Command::new(profiler());
        command.arg("agent").args(args);
        Agent::spawn(command, env)
    }

    /// Starts `command`, which runs the agent, and waits until it counts.
    fn spawn(mut command: Command, env: &[(&str, String)]) -> Agent {
        let mut child = command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the agent");
        let pipe = child.stderr.take().expect("its standard error");
        let (tx, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut agent = Agent {
            child,
            said,
            lines: Vec::new(),
        };
        assert!(
            agent.wait_for_line(Duration::from_secs(30), "agent: counting"),
            "the agent did not start: {}",
            agent.lines.join("\n")
        );
        agent
    }

    /// Waits for a line of the agent's with `text`.
    fn wait_for_line(&mut self, limit: Duration, text: &str) -> bool {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if self.lines.iter().any(|l| l.contains(text)) {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.said.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(_) => return false,
            }
        }
    }

    /// Ends it with SIGTERM: its exit status and all it said.
    fn stop(mut self) -> (Option<i32>, String) {
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait for the agent");
        while let Ok(line) = self.said.recv_timeout(Duration::from_secs(2)) {
            self.lines.push(line);
        }
        (status.code(), self.lines.join("\n"))
    }

    /// Once the three `web` replicas and the one `db` are folded into
    /// their states in `out`, ends the agent (SIGTERM, exit 0) and checks
    /// that it wrote the two profiles, as `.EXTENSION`, and no other.
    fn stop_once_folded(self, out: &Path, (web, db): (&str, &str), extension: &str) {
        assert!(
            wait_for(Duration::from_secs(15), || replicas(out, web) == 3
                && replicas(out, db) == 1),
            "not every replica was folded in: {:?} {:?}",
            state(out, web),
            state(out, db)
        );
        let (code, said) = self.stop();
        assert_eq!(code, Some(0), "{said}");
        assert_eq!(
            profiles_in(out),
            vec![format!("{db}.{extension}"), format!("{web}.{extension}")],
            "{said}"
        );
    }

    /// Kills it with SIGKILL.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh id as the kubelet's are: 64 hex digits.
fn container_id() -> String {
    let uuid = || {
        fs::read_to_string("/proc/sys/kernel/random/uuid")
            .unwrap()
            .trim()
            .replace('-', "")
    };
    format!("{}{}", uuid(), uuid())
}

fn pod_uid() -> String {
    fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_owned()
}

/// The state file of a workload, once it is there.
fn state(dir: &Path, stem: &str) -> Option<Value> {
    let text = fs::read_to_string(dir.join(format!("{stem}.agent.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

/// How many replicas a workload's state counts, ended and alive.
fn replicas(dir: &Path, stem: &str) -> u64 {
    state(dir, stem).map_or(0, |s| {
        s["replicas"].as_u64().unwrap_or(0) + s["live"].as_object().map_or(0, |l| l.len() as u64)
    })
}

/// How many replicas made `syscall`, in a workload's state (all ended).
fn replicas_of(state: &Value, syscall: &str) -> u64 {
    state["syscalls"][syscall]["replicas"].as_u64().unwrap_or(0)
}

/// The profile files (not the states) in `dir`.
fn profiles_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".agent.json") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The names a runtime sets up with before the filter's install, which no
/// profile at the filter boundary may hold (none of the workloads here
/// makes them).
const SET_UP_ONLY: [&str; 4] = ["pivot_root", "mount", "sethostname", "keyctl"];

/// containerd, through `ctr` at the test's daemon.
struct Ctr {
    address: String,
}

impl Ctr {
    fn new() -> Ctr {
        Ctr {
            address: std::env::var("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS").unwrap_or_else(
                |_| panic!("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS is not set (cargo xtask test)"),
            ),
        }
    }

    fn run(&self, args: &[String]) -> std::process::Output {
        Command::new("ctr")
            .args(["-a", &self.address])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ctr")
    }

    /// Runs `script` as the kubelet would run container `container` of pod
    /// `pod` in namespace `namespace`: its cgroup in the kubelet's cgroupfs
    /// layout, the CRI labels set, containerd's default seccomp profile.
    fn run_in_pod(&self, namespace: &str, pod: &str, container: &str, script: &str) -> String {
        let id = container_id();
        let uid = pod_uid();
        let mut args: Vec<String> = ["run", "--rm", "--seccomp", "--cgroup"]
            .map(str::to_owned)
            .to_vec();
        args.push(format!("kubepods/besteffort/pod{uid}/{id}"));
        for (key, value) in [
            ("io.kubernetes.pod.namespace", namespace),
            ("io.kubernetes.pod.name", pod),
            ("io.kubernetes.container.name", container),
            ("io.kubernetes.pod.uid", &uid),
        ] {
            args.push("--label".into());
            args.push(format!("{key}={value}"));
        }
        args.extend([CTR_IMAGE.to_owned(), id.clone()]);
        args.extend(["sh", "-c", script].map(str::to_owned));
        let out = self.run(&args);
        remove_pod_cgroups(&uid);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    }

    /// `call CALLS` in a new container under `profile` (Docker's JSON,
    /// exported to the OCI form ctr takes): its output.
    fn call_under(&self, profile: &Path, calls: &str) -> String {
        let oci = profile.with_extension("oci.json");
        let exported = Command::new(profiler())
            .args(["export", "--to", "oci"])
            .arg(profile)
            .arg("-o")
            .arg(&oci)
            .output()
            .unwrap();
        assert!(exported.status.success(), "{}", stderr(&exported));
        let args: Vec<String> = vec![
            "run".into(),
            "--rm".into(),
            "--seccomp".into(),
            "--seccomp-profile".into(),
            oci.display().to_string(),
            CTR_IMAGE.into(),
            format!("sp-agent-call-{}", std::process::id()),
            "sh".into(),
            "-c".into(),
            format!("call {calls}"),
        ];
        // containerd can lose the output of a process that exits right
        // after printing it (concourse/concourse#6775): a run that
        // succeeded but printed nothing is run again, twice at most.
        let mut out = self.run(&args);
        for _ in 0..2 {
            if !(out.status.success() && stdout(&out).is_empty()) {
                break;
            }
            eprintln!("containerd lost the output of `call {calls}`; running it again");
            out = self.run(&args);
        }
        format!("{}{}", stdout(&out).trim(), stderr(&out).trim())
    }
}

/// Removes a pod's cgroups (the container's is gone with it), in cgroup2
/// and in each cgroup v1 hierarchy, then the kubelet's levels above it
/// where they are empty: nothing of the test's is left.
fn remove_pod_cgroups(uid: &str) {
    let mut roots = vec![cgroup2_mount()];
    if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
        roots.extend(entries.flatten().map(|e| e.path()));
    }
    for root in roots {
        let pod = root.join(format!("kubepods/besteffort/pod{uid}"));
        if let Ok(entries) = fs::read_dir(&pod) {
            for entry in entries.flatten() {
                let _ = fs::remove_dir(entry.path());
            }
        }
        let _ = fs::remove_dir(&pod);
        let _ = fs::remove_dir(root.join("kubepods/besteffort"));
        let _ = fs::remove_dir(root.join("kubepods"));
    }
}

/// Three replicas of a Deployment's `web` (one of them also calls sysinfo)
/// and a StatefulSet's `db`, made as the kubelet makes them: two profiles,
/// with how many replicas made each syscall; each, exported for
/// containerd, runs its workload under `ctr run` 20 times out of 20 and
/// refuses a syscall it never made; no runtime set-up call is in either.
#[test]
fn the_kubelets_containers_give_a_profile_per_workload() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let ctr = Ctr::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let namespace = format!("sp-agent-{}", std::process::id());
    let select = format!("io.kubernetes.pod.namespace={namespace}");
    let agent = Agent::start(
        &[
            "-o",
            out.to_str().unwrap(),
            "--flush",
            "1s",
            "--select",
            &select,
        ],
        &[("CONTAINERD_ADDRESS", ctr.address.clone())],
    );
    let hold = "usleep 300000";
    for (pod, calls) in [
        ("web-7d4b9c8f6d-x2x8k", "getcpu sysinfo"),
        ("web-7d4b9c8f6d-pqrst", "getcpu"),
        ("web-7d4b9c8f6d-bcdfg", "getcpu"),
    ] {
        let said = ctr.run_in_pod(&namespace, pod, "nginx", &format!("call {calls}; {hold}"));
        assert!(said.contains("getcpu=ok"), "{said}");
    }
    ctr.run_in_pod(
        &namespace,
        "db-0",
        "postgres",
        &format!("call uname; {hold}"),
    );
    let web = format!("{namespace}_web_nginx");
    let db = format!("{namespace}_db_postgres");
    agent.stop_once_folded(out, (&web, &db), "json");
    let web_state = state(out, &web).unwrap();
    assert_eq!(replicas_of(&web_state, "getcpu"), 3, "{web_state}");
    assert_eq!(replicas_of(&web_state, "sysinfo"), 1, "{web_state}");
    let db_state = state(out, &db).unwrap();
    assert_eq!(replicas_of(&db_state, "uname"), 1, "{db_state}");
    let web_names = allowed_names(&fs::read_to_string(out.join(format!("{web}.json"))).unwrap());
    let db_names = allowed_names(&fs::read_to_string(out.join(format!("{db}.json"))).unwrap());
    assert!(web_names.contains("getcpu") && web_names.contains("sysinfo"));
    assert!(db_names.contains("uname"));
    for never in ["getcpu", "sysinfo"] {
        assert!(!db_names.contains(never), "{never} in db's: {db_names:?}");
    }
    for set_up in SET_UP_ONLY {
        assert!(
            !web_names.contains(set_up) && !db_names.contains(set_up),
            "{set_up}"
        );
    }
    let web_profile = out.join(format!("{web}.json"));
    let db_profile = out.join(format!("{db}.json"));
    for run in 0..20 {
        assert_eq!(
            ctr.call_under(&web_profile, "getcpu sysinfo"),
            "getcpu=ok sysinfo=ok",
            "web, run {run}"
        );
        assert_eq!(
            ctr.call_under(&db_profile, "uname"),
            "uname=ok",
            "db, run {run}"
        );
    }
    assert_eq!(ctr.call_under(&db_profile, "getcpu"), "getcpu=errno:1");
}

/// Runs `script` in a Docker container labelled as compose's service
/// `service` of project `project` (and `select`), detached.
fn docker_start(name: &str, labels: &[String], script: &str) {
    let mut args = vec!["run", "-d", "--rm", "--network", "none", "--name", name];
    for label in labels {
        args.extend(["--label", label]);
    }
    args.extend([TEST_IMAGE, "sh", "-c", script]);
    let out = docker(&args);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Waits until Docker's container `name` is gone.
fn docker_gone(name: &str) -> bool {
    wait_for(Duration::from_secs(30), || {
        !docker(&["inspect", name]).status.success()
    })
}

/// The SeccompProfile's spec as the JSON the kubelet gets from the
/// operator: Docker's seccomp format.
fn spec_as_json(yaml: &Path) -> PathBuf {
    let resource: Value = serde_norway::from_str(&fs::read_to_string(yaml).unwrap()).unwrap();
    let json = yaml.with_extension("spec.json");
    fs::write(&json, resource["spec"].to_string()).unwrap();
    json
}

/// The same with Docker's layout, written as the Security Profiles
/// Operator's `SeccompProfile` (valid against its CRD schema): three
/// replicas of a compose service and one container of its own give two
/// profiles, each enforced by Docker 20 times out of 20, refusing what the
/// workload never made.
#[test]
fn dockers_containers_give_a_seccompprofile_per_workload() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let tag = format!("sp-agent-{}", std::process::id());
    let select = format!("test.agent={tag}");
    let agent = Agent::start(
        &[
            "-o",
            out.to_str().unwrap(),
            "--to",
            "kubernetes",
            "--flush",
            "1s",
            "--select",
            &select,
        ],
        &[("DOCKER_HOST", docker_host())],
    );
    let compose = |service: &str| {
        vec![
            select.clone(),
            format!("com.docker.compose.project={tag}"),
            format!("com.docker.compose.service={service}"),
        ]
    };
    for (i, calls) in ["getcpu sysinfo", "getcpu", "getcpu"].iter().enumerate() {
        let name = format!("{tag}-web-{i}");
        docker_start(
            &name,
            &compose("web"),
            &format!("call {calls}; usleep 300000"),
        );
        assert!(docker_gone(&name));
    }
    let db = format!("{tag}-db");
    docker_start(
        &db,
        std::slice::from_ref(&select),
        "call uname; usleep 300000",
    );
    assert!(docker_gone(&db));
    let web_stem = format!("docker_{tag}_web");
    let db_stem = format!("docker_{db}");
    agent.stop_once_folded(out, (&web_stem, &db_stem), "yaml");
    for stem in [&web_stem, &db_stem] {
        let text = fs::read_to_string(out.join(format!("{stem}.yaml"))).unwrap();
        let resource: Value = serde_norway::from_str(&text).unwrap();
        let errors = crate::export::crd_violations(&resource);
        assert!(errors.is_empty(), "{errors:?}\n{text}");
        assert_eq!(resource["kind"], "SeccompProfile");
    }
    let web_state = state(out, &web_stem).unwrap();
    assert_eq!(replicas_of(&web_state, "getcpu"), 3, "{web_state}");
    assert_eq!(replicas_of(&web_state, "sysinfo"), 1, "{web_state}");
    let web = spec_as_json(&out.join(format!("{web_stem}.yaml")));
    let db_profile = spec_as_json(&out.join(format!("{db_stem}.yaml")));
    let web_names = allowed_names(&fs::read_to_string(&web).unwrap());
    let db_names = allowed_names(&fs::read_to_string(&db_profile).unwrap());
    for set_up in SET_UP_ONLY {
        assert!(
            !web_names.contains(set_up) && !db_names.contains(set_up),
            "{set_up}"
        );
    }
    let call_under = |profile: &Path, calls: &str| {
        let seccomp = format!("seccomp={}", profile.display());
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--security-opt",
            &seccomp,
        ];
        args.extend([TEST_IMAGE, "call"]);
        args.extend(calls.split(' '));
        let out = docker(&args);
        format!("{}{}", stdout(&out).trim(), stderr(&out).trim())
    };
    for run in 0..20 {
        assert_eq!(
            call_under(&web, "getcpu sysinfo"),
            "getcpu=ok sysinfo=ok",
            "web, run {run}"
        );
        assert_eq!(
            call_under(&db_profile, "uname"),
            "uname=ok",
            "db, run {run}"
        );
    }
    assert_eq!(call_under(&db_profile, "getcpu"), "getcpu=errno:1");
}

/// Killed (SIGKILL) and started again on the same output, the agent loses
/// nothing it had written: a replica it wrote as alive goes on from its
/// counts, and a container that started while it was down is recorded
/// from when it is seen, marked attached.
#[test]
fn a_killed_agent_started_again_loses_nothing_it_wrote() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let tag = format!("sp-agent-restart-{}", std::process::id());
    let select = format!("test.agent={tag}");
    let labels = vec![
        select.clone(),
        format!("com.docker.compose.project={tag}"),
        "com.docker.compose.service=web".to_owned(),
    ];
    let args = [
        "-o",
        out.to_str().unwrap(),
        "--flush",
        "1s",
        "--select",
        &select,
    ];
    let env = [("DOCKER_HOST", docker_host())];
    let stem = format!("docker_{tag}_web");
    let wait_stop = "while [ ! -e /tmp/stop ]; do usleep 20000; done";
    let first = format!("{tag}-1");
    let second = format!("{tag}-2");
    let agent = Agent::start(&args, &env);
    docker_start(&first, &labels, &format!("call getcpu; {wait_stop}"));
    assert!(
        wait_for(Duration::from_secs(15), || state(out, &stem)
            .is_some_and(|s| s["live"].to_string().contains("getcpu"))),
        "the live replica was not written: {:?}",
        state(out, &stem)
    );
    agent.kill();
    // While no agent runs: a replica starts and makes a call.
    docker_start(&second, &labels, &format!("call sysinfo; {wait_stop}"));
    std::thread::sleep(Duration::from_millis(500));
    let mut agent = Agent::start(&args, &env);
    assert!(
        agent.wait_for_line(Duration::from_secs(15), "(attached)"),
        "{}",
        agent.lines.join("\n")
    );
    for name in [&first, &second] {
        let done = docker(&["exec", name, "sh", "-c", "call uname && touch /tmp/stop"]);
        assert!(done.status.success(), "{}", stderr(&done));
        assert!(docker_gone(name));
    }
    assert!(
        wait_for(Duration::from_secs(15), || state(out, &stem)
            .is_some_and(|s| s["replicas"] == 2)),
        "{:?}",
        state(out, &stem)
    );
    let (code, said) = agent.stop();
    assert_eq!(code, Some(0), "{said}");
    let state = state(out, &stem).unwrap();
    // The first replica's call before the kill, and both replicas' after.
    assert_eq!(replicas_of(&state, "getcpu"), 1, "{state}");
    assert_eq!(replicas_of(&state, "uname"), 2, "{state}");
    // The second's call before the agent saw it is not there: said so.
    assert_eq!(replicas_of(&state, "sysinfo"), 0, "{state}");
    assert_eq!(state["attached"], 1, "{state}");
    let profile = fs::read_to_string(out.join(format!("{stem}.json"))).unwrap();
    assert!(
        profile.contains("1 attached: start-up not observed"),
        "{profile}"
    );
}

/// What cannot work is refused in one line before anything is loaded: an
/// output that is not a directory, a bad --select.
/// Deployed as `deploy/` has it, the agent runs in a pod's container,
/// in a cgroup namespace of its own, where `/proc/self/cgroup` says `/`:
/// it still leaves its own container out. Here it runs in a cgroup of the
/// kubelet's layout, entered with `unshare --cgroup`, beside a sibling
/// container's cgroup that no engine knows. The sibling is given up once
/// its engine has not named it (10 s), and said; its own never is.
#[test]
fn in_a_pods_cgroup_namespace_the_agent_leaves_its_own_container_out() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let ctr = Ctr::new();
    let dir = tempfile::tempdir().unwrap();
    let uid = pod_uid();
    let pod = cgroup2_mount().join(format!("kubepods/besteffort/pod{uid}"));
    let (own, sibling) = (container_id(), container_id());
    for id in [&own, &sibling] {
        fs::create_dir_all(pod.join(id)).unwrap();
    }
    let mut held = Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0/cgroup.procs\" && exec sleep 120")
        .arg(pod.join(&sibling))
        .spawn()
        .unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(
            "echo $$ > \"$0/cgroup.procs\" && tool=\"$1\" && shift && \
             exec unshare --cgroup \"$tool\" agent \"$@\"",
        )
        .arg(pod.join(&own))
        .arg(profiler())
        .arg("-o")
        .arg(dir.path())
        .args(["--select", "io.kubernetes.pod.namespace=none-of-these"]);
    let mut agent = Agent::spawn(command, &[("CONTAINERD_ADDRESS", ctr.address.clone())]);
    let sibling_seen = agent.wait_for_line(Duration::from_secs(40), &sibling[..12]);
    let (_, said) = agent.stop();
    let _ = held.kill();
    let _ = held.wait();
    remove_pod_cgroups(&uid);
    assert!(sibling_seen, "the sibling was never given up: {said}");
    assert!(
        !said.contains(&own[..12]),
        "the agent took its own container ({}) for a workload: {said}",
        &own[..12]
    );
    assert!(
        !said.contains("cannot tell this agent's own cgroup"),
        "{said}"
    );
}

/// An engine that does not answer when a container starts (a daemon
/// restarting) is asked again: once it answers, within the naming limit,
/// the container is named and recorded. Here the agent's `DOCKER_HOST` is
/// a socket path that leads to the test's dockerd only 2 s after the
/// container started.
#[test]
fn an_engine_that_answers_late_still_names_its_containers() {
    require_root();
    let _serial = one_at_a_time(&SERIAL);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let late = dir.path().join("docker.sock");
    let host = docker_host();
    let real = host
        .strip_prefix("unix://")
        .expect("the test's dockerd listens on a unix socket");
    let tag = format!("sp-agent-late-{}", std::process::id());
    let mut agent = Agent::start(
        &[
            "-o",
            out.to_str().unwrap(),
            "--flush",
            "1s",
            "--select",
            &format!("test.agent={tag}"),
        ],
        &[("DOCKER_HOST", format!("unix://{}", late.display()))],
    );
    docker_start(
        &tag,
        &[format!("test.agent={tag}")],
        "call getcpu; usleep 6000000",
    );
    std::thread::sleep(Duration::from_secs(2));
    std::os::unix::fs::symlink(real, &late).unwrap();
    let named = agent.wait_for_line(Duration::from_secs(15), &format!("container {tag}"));
    assert!(docker_gone(&tag), "the container did not end");
    let (code, said) = agent.stop();
    assert!(named, "{said}");
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!("recording docker container {tag}")),
        "{said}"
    );
    let profile = fs::read_to_string(out.join(format!("docker_{tag}.json")))
        .unwrap_or_else(|e| panic!("no profile for {tag}: {e}\n{said}"));
    assert!(allowed_names(&profile).contains("getcpu"), "{profile}");
}

#[test]
fn an_unusable_output_or_selection_is_refused_in_one_line() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    for (args, expected, code) in [
        (
            vec!["agent", "-o", file.to_str().unwrap(), "--duration", "1s"],
            "is not a directory",
            125,
        ),
        (
            vec![
                "agent",
                "-o",
                dir.path().to_str().unwrap(),
                "--select",
                "novalue",
            ],
            "is not KEY=VALUE",
            2,
        ),
    ] {
        let out = Command::new(profiler()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(expected), "{err}");
    }
}
