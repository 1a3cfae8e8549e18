//! Container engines (Docker, podman, containerd through `ctr`): recognising
//! their `run` command lines, rewriting them, and asking the engine what it
//! has, before anything is traced.

mod cli;
pub(crate) mod inspect;
mod run_args;
pub(crate) mod runtime_base;

use std::{
    ffi::{OsStr, OsString},
    path::PathBuf,
    time::Duration,
};

pub(crate) use cli::EngineCli;
pub use run_args::{ContainerRun, Engine, RunOption};

use crate::program;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "{engine} is not installed (no `{engine}` in PATH): install it (Debian: `apt-get install {package}`)"
    )]
    NotInstalled {
        engine: &'static str,
        package: &'static str,
    },
    #[error(
        "cannot reach the {engine} engine: {detail} (start the daemon, or point the CLI at it: \
         DOCKER_HOST, CONTAINER_HOST, CONTAINERD_ADDRESS or `ctr -a SOCKET`)"
    )]
    Unreachable {
        engine: &'static str,
        detail: String,
    },
    #[error("image {image} is not present and could not be pulled: {detail}")]
    ImageMissing { image: String, detail: String },
    #[error("no image in the {engine} run command line")]
    NoImage { engine: &'static str },
    #[error(
        "the command already sets --{option} ({value}): the tool sets it itself to \
         watch the container from its first syscall; remove yours"
    )]
    CgroupParentGiven { option: &'static str, value: String },
    #[error(
        "`ctr run --detach` returns before the container ends, and ctr has no command that \
         waits for it: run it without -d/--detach (the tool waits with ctr)"
    )]
    CtrDetached,
    #[error(
        "`ctr run` needs a container id after the image: `ctr run [options] IMAGE ID [CMD...]`"
    )]
    CtrNoId,
    #[error(
        "--user applies to native commands; for a container use the engine's own option \
         (`docker run --user USER ...`)"
    )]
    UserForContainer,
    #[error(
        "--privileged turns seccomp off for the container, so no profile can be learned at the \
         filter boundary nor enforced on such a run: remove --privileged (add the capabilities \
         the container needs with --cap-add instead)"
    )]
    Privileged,
    #[error("{engine} failed: {detail}")]
    Failed {
        engine: &'static str,
        detail: String,
    },
    #[error("cannot run {engine}: {source}")]
    Run {
        engine: &'static str,
        source: std::io::Error,
    },
    #[error("{engine} has no container {name}: name a running one (`{engine} ps`)")]
    NoSuchContainer { engine: &'static str, name: String },
    #[error("{engine}'s container {name} does not run: start it, then attach")]
    NotRunning { engine: &'static str, name: String },
    #[error("no answer to `{command}` within {} s", limit.as_secs())]
    NoAnswer { command: String, limit: Duration },
}

/// How long the engine is given to say its version, the first question
/// asked: a daemon that hangs (stopped, deadlocked, its storage gone) is
/// named in that time instead of hanging the tool.
const VERSION_LIMIT: Duration = Duration::from_secs(10);

/// How long any later question may take (listing, inspecting, removing;
/// stopping takes its grace period more). A pull has no limit: an image
/// may be large, and the user sees it and can interrupt it.
const QUERY_LIMIT: Duration = Duration::from_secs(30);

/// A container an engine knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Container {
    pub id: String,
    pub name: String,
}

impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = &self.id[..self.id.len().min(12)];
        if self.name.is_empty() || self.name == self.id {
            write!(f, "{short}")
        } else {
            write!(f, "{} ({short})", self.name)
        }
    }
}

/// A container run the tool will start, with the engine's CLI found.
#[derive(Debug, Clone)]
pub(crate) struct EngineRun {
    pub run: ContainerRun,
    /// The engine CLI's path.
    pub cli: PathBuf,
    /// The engine's version, as it reports it (docker: the daemon's).
    pub version: String,
}

impl EngineRun {
    /// Checks, in order and before anything is traced: the CLI is installed,
    /// the engine answers, the image is there (pulling it if it is not).
    pub(crate) fn prepare(run: ContainerRun) -> Result<EngineRun, EngineError> {
        let engine = run.engine;
        let cli = program::find(&run.argv[0]).map_err(|_| EngineError::NotInstalled {
            engine: engine.name(),
            package: engine.package(),
        })?;
        let mut this = EngineRun {
            run,
            cli,
            version: String::new(),
        };
        this.version = this.check_reachable()?;
        this.ensure_image()?;
        Ok(this)
    }

    /// The engine's global options of the user's command line (`--host X`),
    /// to be repeated on the helper commands this tool runs.
    pub(crate) fn global_args(&self) -> &[OsString] {
        let verb_at = self.run.options_start - 1;
        let verb_at =
            if self.run.engine != Engine::Containerd && self.run.argv[verb_at - 1] == "container" {
                verb_at - 1
            } else {
                verb_at
            };
        &self.run.argv[1..verb_at]
    }

    /// The engine's CLI with the user's global options, to ask it things.
    pub(crate) fn engine_cli(&self) -> EngineCli {
        EngineCli {
            engine: self.run.engine,
            cli: self.cli.clone(),
            globals: self.global_args().to_vec(),
        }
    }

    /// Runs `ENGINE [globals] ARGS` within [`QUERY_LIMIT`]; see
    /// [`EngineCli::query_within`].
    pub(crate) fn query<I, S>(&self, args: I) -> Result<String, EngineError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.engine_cli().query(args)
    }

    /// See [`EngineCli::query_within`].
    pub(crate) fn query_within<I, S>(
        &self,
        args: I,
        limit: Option<Duration>,
    ) -> Result<String, EngineError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.engine_cli().query_within(args, limit)
    }

    /// Whether the engine drops the profile's `defaultErrnoRet` on its way
    /// to the runtime, so that unlisted calls get the runtime's EPERM: the
    /// Docker engine before 23.0 (moby #42604 came with 23.0; Debian 12's
    /// docker.io is 20.10).
    pub(crate) fn drops_default_errno(&self) -> bool {
        drops_default_errno(self.run.engine, &self.version)
    }

    /// The engine's version, as its server reported it when asked before
    /// the run (e.g. `20.10.24+dfsg1`); `None` when it gave none.
    pub(crate) fn version(&self) -> Option<String> {
        Some(self.version.clone()).filter(|v| !v.is_empty())
    }

    /// The version the server of `run`'s engine reports now (through the
    /// CLI `cli`), without the other checks of [`EngineRun::prepare`];
    /// `None` when it does not answer.
    pub(crate) fn server_version(run: ContainerRun, cli: PathBuf) -> Option<String> {
        let this = EngineRun {
            run,
            cli,
            version: String::new(),
        };
        this.ask_version().ok().filter(|v| !v.is_empty())
    }

    fn ask_version(&self) -> Result<String, EngineError> {
        self.engine_cli().version()
    }

    fn check_reachable(&self) -> Result<String, EngineError> {
        self.engine_cli().reachable()
    }

    fn ensure_image(&self) -> Result<(), EngineError> {
        let image = self.run.image().ok_or(EngineError::NoImage {
            engine: self.run.engine.name(),
        })?;
        let present = match self.run.engine {
            Engine::Docker | Engine::Podman => {
                self.query([OsStr::new("image"), OsStr::new("inspect"), image])
            }
            // `ctr images ls -q` lists the references, one a line.
            Engine::Containerd => self.query(["images", "ls", "-q"]).and_then(|refs| {
                refs.lines()
                    .any(|r| OsStr::new(r.trim()) == image)
                    .then_some(String::new())
                    .ok_or(EngineError::Failed {
                        engine: "containerd",
                        detail: String::new(),
                    })
            }),
        };
        match present {
            Ok(_) => return Ok(()),
            Err(EngineError::Failed { .. }) => {}
            Err(e) => return Err(e),
        }
        // Pulled now, outside any recording, so that the pull neither counts
        // nor fails halfway through one.
        let pull: &[&OsStr] = match self.run.engine {
            Engine::Docker | Engine::Podman => &[OsStr::new("pull"), image],
            Engine::Containerd => &[OsStr::new("images"), OsStr::new("pull"), image],
        };
        match self.query_within(pull, None) {
            Ok(_) => Ok(()),
            Err(EngineError::Failed { detail, .. }) => Err(EngineError::ImageMissing {
                image: image.to_string_lossy().into_owned(),
                detail,
            }),
            Err(e) => Err(e),
        }
    }

    /// The containers (id and name) that carry the label `key=value`,
    /// running or not; an error when the engine cannot be asked (gone,
    /// hanging, failing).
    pub(crate) fn containers_with_label(&self, label: &str) -> Result<Vec<Container>, EngineError> {
        if self.run.engine == Engine::Containerd {
            // A ctr container's id is its name.
            let out = self.query(self.run.engine.list_labelled_args(label))?;
            return Ok(out
                .split_whitespace()
                .map(|id| Container {
                    id: id.to_owned(),
                    name: id.to_owned(),
                })
                .collect());
        }
        let filter = format!("label={label}");
        let out = self.query([
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.ID}} {{.Names}}",
        ])?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let (id, name) = line.trim().split_once(' ')?;
                Some(Container {
                    id: id.to_owned(),
                    name: name.trim().to_owned(),
                })
            })
            .collect())
    }

    /// `ENGINE stop -t SECONDS ID`: SIGTERM, then SIGKILL after the grace
    /// period. Whether the engine said it did.
    pub(crate) fn stop(&self, container: &Container, grace: std::time::Duration) -> bool {
        if self.run.engine != Engine::Containerd {
            let seconds = grace.as_secs().to_string();
            return self
                .query_within(
                    ["stop", "-t", &seconds, &container.id],
                    Some(grace + QUERY_LIMIT),
                )
                .is_ok();
        }
        // ctr has no stop: SIGTERM to the task, SIGKILL after the grace
        // period if it still runs.
        let id = container.id.as_str();
        if self.query(["tasks", "kill", "-s", "SIGTERM", id]).is_err() {
            return false;
        }
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if !self.task_running(id) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.query(["tasks", "kill", "-s", "SIGKILL", id]).is_ok()
    }

    /// Whether the ctr task `id` runs (`ctr tasks ls`: TASK PID STATUS).
    fn task_running(&self, id: &str) -> bool {
        self.query(["tasks", "ls"]).is_ok_and(|out| {
            out.lines().any(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                words.first() == Some(&id) && words.get(2) == Some(&"RUNNING")
            })
        })
    }

    /// Removes the container, killing it first (`ENGINE rm -f ID`; for ctr
    /// its task, then the container). Whether the engine said it did.
    pub(crate) fn remove(&self, container: &Container) -> bool {
        let mut removed = false;
        for args in self.run.engine.remove_args(&container.id) {
            removed = self.query(&args).is_ok();
        }
        removed
    }

    /// The OCI runtime the engine starts containers with (`runc`, `crun`).
    pub(crate) fn runtime(&self) -> Option<String> {
        let format = match self.run.engine {
            Engine::Docker => "{{.DefaultRuntime}}",
            Engine::Podman => "{{.Host.OCIRuntime.Name}}",
            // containerd's runc shim runs `runc` from PATH, or the binary
            // `--runc-binary` names.
            Engine::Containerd => {
                let given = self.run.find(&["runc-binary"]).find_map(|o| {
                    let path = std::path::Path::new(o.value.as_deref()?);
                    Some(path.file_name()?.to_string_lossy().into_owned())
                });
                return Some(given.unwrap_or_else(|| "runc".to_owned()));
            }
        };
        let explicit = self.run.find(&["runtime"]).find_map(|o| o.value.clone());
        explicit.or_else(|| self.query(["info", "--format", format]).ok())
    }
}

/// The engine of `command` (`docker run`, `podman run`, `ctr run`) and the
/// version its server reports now (`None` when it does not answer); `None`
/// for a native command. With it, [`crate::baseline::Baseline::for_engine`]
/// names the default that engine applies.
pub(crate) fn engine_of_command(command: &[OsString]) -> Option<(Engine, Option<String>)> {
    let run = ContainerRun::parse(command)?;
    let engine = run.engine;
    let version = program::find(&run.argv[0])
        .ok()
        .and_then(|cli| EngineRun::server_version(run, cli));
    Some((engine, version))
}

/// The `(major, minor)` of a version string such as `20.10.24+dfsg1` or
/// `v28.2.2`.
/// Whether `engine` at `version` (as its server reports it) drops a
/// profile's `defaultErrnoRet` on its way to the runtime: the Docker engine
/// before 23.0 (moby #42604 came with 23.0).
pub(crate) fn drops_default_errno(engine: Engine, version: &str) -> bool {
    engine == Engine::Docker && major_minor(version).is_some_and(|(major, _)| major < 23)
}

/// Whether `engine` passes a profile's `listenerPath` to the runtime, so
/// that `enforce` can have the runtime hand a container's refusals to a
/// listener: podman and ctr do; the Docker engine drops it (see
/// `enforce::listener::container_unusable_because`).
pub(crate) fn passes_listener_path(engine: Engine) -> bool {
    engine != Engine::Docker
}

pub(crate) fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version
        .trim()
        .trim_start_matches('v')
        .split(['.', '+', '-', '~']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
