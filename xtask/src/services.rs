//! Processes that run in the background while something else is measured or
//! tested, and are stopped when their guard goes, on success and on failure.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

use crate::{
    images,
    workspace::{Workspace, display},
};

/// How long a stopped process gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct BackgroundProcess {
    name: String,
    /// None in a dry run (see [`crate::dry`]): no process, ended at once.
    child: Option<Child>,
    finished: Option<ExitStatus>,
}

impl BackgroundProcess {
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> Result<Self> {
        let name = name.into();
        if crate::dry::step(|| format!("start {name}: {}", crate::dry::describe(cmd))) {
            return Ok(Self {
                name,
                child: None,
                finished: None,
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", display(cmd)))?;
        Ok(Self {
            name,
            child: Some(child),
            finished: None,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.finished.is_none() {
            self.finished = match &mut self.child {
                Some(child) => child
                    .try_wait()
                    .with_context(|| format!("cannot check on {}", self.name))?,
                None => Some(ExitStatus::default()),
            };
        }
        Ok(self.finished)
    }

    /// Sends SIGTERM, waits up to [`GRACE`] for the process to end, then
    /// kills it. Returns how it ended.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if self.child.is_none() && self.finished.is_none() {
            crate::dry::step(|| format!("stop {}", self.name));
        }
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        // A dry run's process has ended by now: this one is real.
        let pid = libc::pid_t::try_from(self.id())
            .with_context(|| format!("pid of {} out of range", self.name))?;
        // SAFETY: kill(2) on our own child, not yet reaped (only we wait for it).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "xtask: {} did not end within {GRACE:?} of SIGTERM; killing it",
            self.name
        );
        let Some(child) = &mut self.child else {
            return Ok(ExitStatus::default());
        };
        child
            .kill()
            .with_context(|| format!("cannot kill {}", self.name))?;
        let status = child
            .wait()
            .with_context(|| format!("cannot wait for {}", self.name))?;
        self.finished = Some(status);
        Ok(status)
    }
}

impl Drop for BackgroundProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("xtask: error: stopping {}: {e:#}", self.name);
        }
    }
}

/// The services the integration tests need, running for as long as this
/// guard lives; dropping it stops them, newest first, also when the tests
/// failed or xtask is unwinding with an error.
pub struct Services {
    running: Vec<BackgroundProcess>,
    /// Directories to remove once the services are stopped.
    scratch: Vec<PathBuf>,
    /// What the tests need to reach the services.
    pub env: Vec<(String, String)>,
    /// The test containerd's socket, once it runs.
    containerd: Option<PathBuf>,
}

/// Environment variable naming the directory of the samples built static
/// (the ones in the test image), for tests that run them natively too.
pub const STATIC_SAMPLES_VAR: &str = "SYSCALL_PROFILE_TEST_STATIC_SAMPLES";

/// Environment variable naming the socket of the containerd the tests use
/// (give it to `ctr -a`).
pub const CONTAINERD_ADDRESS_VAR: &str = "SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS";

/// Environment variable naming the podman global options the tests use.
pub const PODMAN_GLOBALS_VAR: &str = "SYSCALL_PROFILE_TEST_PODMAN_GLOBALS";

impl Services {
    /// Starts a dockerd of its own (own data root, exec root and socket; no
    /// bridge, no iptables: the host's network is not touched) and a
    /// containerd of its own (own root, state and socket; no CRI plugin),
    /// prepares a podman store of its own, and imports the test image into
    /// all three.
    pub fn start(ws: &Workspace) -> Result<Self> {
        let mut services = Services {
            running: Vec::new(),
            scratch: Vec::new(),
            env: Vec::new(),
            containerd: None,
        };
        let base =
            PathBuf::from("/var/tmp").join(format!("syscall-profile-test-{}", std::process::id()));
        std::fs::create_dir_all(&base)
            .with_context(|| format!("cannot create {}", base.display()))?;
        services.scratch.push(base.clone());

        let samples = images::build_static_samples(ws)?;
        services.env.push((
            STATIC_SAMPLES_VAR.to_owned(),
            samples.to_string_lossy().into_owned(),
        ));

        let socket = base.join("docker.sock");
        let mut dockerd = Command::new("dockerd");
        dockerd
            .arg("--data-root")
            .arg(base.join("docker-data"))
            .arg("--exec-root")
            .arg(base.join("docker-exec"))
            .arg("--pidfile")
            .arg(base.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(
                std::fs::File::create(base.join("dockerd.log"))
                    .context("cannot create dockerd.log")?,
            );
        let mut daemon = BackgroundProcess::spawn("dockerd", &mut dockerd)
            .context("dockerd (Debian's docker.io) is needed for the container tests")?;
        let docker_host = format!("unix://{}", socket.display());
        wait_until_ready(
            &mut daemon,
            &base.join("dockerd.log"),
            Command::new("docker").args([
                "-H",
                &docker_host,
                "version",
                "--format",
                "{{.Server.Version}}",
            ]),
        )?;
        eprintln!("xtask: dockerd is up at {docker_host}");
        services.running.push(daemon);
        images::import("docker", &["-H".to_owned(), docker_host.clone()], &samples)?;
        services
            .env
            .push(("DOCKER_HOST".to_owned(), docker_host.clone()));

        let address = services.start_containerd(&base)?;
        images::import_into_containerd(&docker_host, &address)?;
        // Also as ctr's own variable: a bare `ctr` in a test reaches this
        // containerd, never the host's.
        for var in [CONTAINERD_ADDRESS_VAR, "CONTAINERD_ADDRESS"] {
            services
                .env
                .push((var.to_owned(), address.to_string_lossy().into_owned()));
        }

        let podman_globals = vec![
            format!("--root={}", base.join("podman-root").display()),
            format!("--runroot={}", base.join("podman-run").display()),
            "--cgroup-manager=cgroupfs".to_owned(),
            "--events-backend=file".to_owned(),
            // crun refuses this host's hybrid cgroups while the cgroup2
            // hierarchy holds a controller (hugetlb here): podman runs runc.
            "--runtime=runc".to_owned(),
        ];
        images::import("podman", &podman_globals, &samples)?;
        services
            .env
            .push((PODMAN_GLOBALS_VAR.to_owned(), podman_globals.join(" ")));
        Ok(services)
    }
}

impl Services {
    /// `containerd` with its own root, state and socket under `base`, and a
    /// configuration without the CRI plugin (the tests drive it with
    /// `ctr`): stopped with the other services. Returns its socket.
    fn start_containerd(&mut self, base: &Path) -> Result<PathBuf> {
        let dir = base.join("containerd");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
        )
        .context("cannot write containerd's config.toml")?;
        let address = dir.join("containerd.sock");
        let log = dir.join("containerd.log");
        let mut containerd = Command::new("containerd");
        containerd
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--state")
            .arg(dir.join("state"))
            .arg("--address")
            .arg(&address)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).context("cannot create containerd.log")?);
        let mut daemon = BackgroundProcess::spawn("containerd", &mut containerd)
            .context("containerd (Debian's containerd) is needed for the ctr tests")?;
        wait_until_ready(
            &mut daemon,
            &log,
            Command::new("ctr").arg("-a").arg(&address).arg("version"),
        )?;
        eprintln!("xtask: containerd is up at {}", address.display());
        self.running.push(daemon);
        self.containerd = Some(address.clone());
        Ok(address)
    }
}

/// Removes every container the test containerd still has (a failed test's),
/// its task first: a task left running would keep its shim alive once
/// containerd is gone.
fn remove_ctr_containers(address: &Path) {
    let ctr = |args: &[&str]| {
        Command::new("ctr")
            .arg("-a")
            .arg(address)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
    };
    let Ok(listed) = ctr(&["containers", "ls", "-q"]) else {
        return;
    };
    for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        eprintln!("xtask: removing the container {id} a test left in containerd");
        let _ = ctr(&["tasks", "rm", "-f", id]);
        let _ = ctr(&["containers", "rm", id]);
    }
}

/// Waits up to 30 s for `probe` to succeed against the daemon just
/// started; fails, pointing at its `log`, if it exits or stays deaf.
fn wait_until_ready(daemon: &mut BackgroundProcess, log: &Path, probe: &mut Command) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = probe
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(());
        }
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!(
                "{} exited ({status}) before it was ready; see {}",
                daemon.name,
                log.display()
            );
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "{} was not ready within 30 s; see {}",
                daemon.name,
                log.display()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Some(address) = &self.containerd {
            remove_ctr_containers(address);
        }
        while let Some(service) = self.running.pop() {
            eprintln!("xtask: stopping {}", service.name);
            drop(service);
        }
        for dir in self.scratch.drain(..) {
            // podman and dockerd leave overlay mounts behind only when they
            // were killed; unmount what is left so the directory can go.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "grep -o ' {0}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l",
                    dir.display()
                ))
                .status();
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
