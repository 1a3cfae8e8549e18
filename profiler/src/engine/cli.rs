//! An engine's CLI, asked questions: every query runs within a time limit,
//! so that a daemon that hangs is named instead of hanging the tool.

use std::{
    ffi::{OsStr, OsString},
    io::Read,
    path::PathBuf,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use super::{Engine, EngineError, QUERY_LIMIT, VERSION_LIMIT};
use crate::program;

/// An engine's CLI and the global options to repeat on every question
/// (`docker --host X`, `ctr --namespace N`).
#[derive(Debug, Clone)]
pub(crate) struct EngineCli {
    pub(crate) engine: Engine,
    pub(crate) cli: PathBuf,
    pub(crate) globals: Vec<OsString>,
}

impl EngineCli {
    /// The CLI of `engine` found in PATH, with `globals`; an error naming
    /// the package to install when it is not there.
    pub(crate) fn find(engine: Engine, globals: Vec<OsString>) -> Result<EngineCli, EngineError> {
        let cli = program::find(OsStr::new(engine.cli_name())).map_err(|_| {
            EngineError::NotInstalled {
                engine: engine.name(),
                package: engine.package(),
            }
        })?;
        Ok(EngineCli {
            engine,
            cli,
            globals,
        })
    }

    /// Runs `ENGINE [globals] ARGS` within [`QUERY_LIMIT`]; see
    /// [`EngineCli::query_within`].
    pub(crate) fn query<I, S>(&self, args: I) -> Result<String, EngineError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.query_within(args, Some(QUERY_LIMIT))
    }

    /// Runs `ENGINE [globals] ARGS`: its standard output when it succeeded;
    /// [`EngineError::Failed`] with the last line it printed on standard
    /// error when it did not; [`EngineError::Run`] when it could not run;
    /// [`EngineError::NoAnswer`] when it had not ended within `limit` (it
    /// is then killed: the engine's CLI waits on a daemon that may never
    /// answer).
    pub(crate) fn query_within<I, S>(
        &self,
        args: I,
        limit: Option<Duration>,
    ) -> Result<String, EngineError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let engine = self.engine.name();
        let run_error = |source| EngineError::Run { engine, source };
        let mut child = Command::new(&self.cli)
            .args(&self.globals)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(run_error)?;
        // Read beside the wait, so that a full pipe never stops the CLI.
        let readers = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .map(|pipe| {
            thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        });
        let deadline = limit.map(|limit| Instant::now() + limit);
        let status = loop {
            if let Some(status) = child.try_wait().map_err(run_error)? {
                break status;
            }
            if let (Some(deadline), Some(limit)) = (deadline, limit)
                && Instant::now() >= deadline
            {
                let _ = child.kill();
                let _ = child.wait();
                // The readers end with the pipes (not waited for: whatever
                // the CLI started may still hold them).
                let mut words = vec![self.engine.cli_name().to_owned()];
                words.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
                return Err(EngineError::NoAnswer {
                    command: words.join(" "),
                    limit,
                });
            }
            thread::sleep(Duration::from_millis(10));
        };
        let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
        if status.success() {
            Ok(String::from_utf8_lossy(&stdout).trim().to_owned())
        } else {
            let err = String::from_utf8_lossy(&stderr);
            Err(EngineError::Failed {
                engine,
                detail: err.lines().last().unwrap_or("").trim().to_owned(),
            })
        }
    }

    /// Asks the engine's server for its version: an error when it does not
    /// answer.
    pub(crate) fn version(&self) -> Result<String, EngineError> {
        self.version_within(VERSION_LIMIT)
    }

    /// [`EngineCli::version`] within `limit`.
    fn version_within(&self, limit: Duration) -> Result<String, EngineError> {
        let limit = Some(limit);
        match self.engine {
            Engine::Docker => {
                self.query_within(["version", "--format", "{{.Server.Version}}"], limit)
            }
            Engine::Podman => self.query_within(["version", "--format", "{{.Version}}"], limit),
            // `ctr version` prints the client's, then the server's (and
            // fails when the server does not answer).
            Engine::Containerd => {
                let out = self.query_within(["version"], limit)?;
                let server = out.split("Server:").nth(1).unwrap_or_default();
                Ok(server
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Version:"))
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_default())
            }
        }
    }

    /// The engine's version, or why it does not answer.
    pub(crate) fn reachable(&self) -> Result<String, EngineError> {
        self.reachable_within(VERSION_LIMIT)
    }

    /// [`EngineCli::reachable`], with `limit` for the version's answer.
    pub(crate) fn reachable_within(&self, limit: Duration) -> Result<String, EngineError> {
        // ctr waits 10 s for a socket that is not there: said at once.
        if let Some(socket) = self.containerd_socket()
            && !socket.exists()
        {
            return Err(EngineError::Unreachable {
                engine: self.engine.name(),
                detail: format!("no containerd socket at {}", socket.display()),
            });
        }
        match self.version_within(limit) {
            Ok(version) => Ok(version),
            Err(EngineError::Failed { engine, detail }) => {
                Err(EngineError::Unreachable { engine, detail })
            }
            Err(e @ EngineError::NoAnswer { .. }) => Err(EngineError::Unreachable {
                engine: self.engine.name(),
                detail: e.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// The socket `ctr` talks to: `--address`/`-a` among the globals, else
    /// `CONTAINERD_ADDRESS`, else containerd's default; `None` for the
    /// other engines.
    fn containerd_socket(&self) -> Option<PathBuf> {
        if self.engine != Engine::Containerd {
            return None;
        }
        let mut globals = self.globals.iter();
        while let Some(word) = globals.next() {
            let word = word.to_string_lossy();
            if let Some(value) = word.strip_prefix("--address=") {
                return Some(PathBuf::from(value));
            }
            if word == "-a" || word == "--address" {
                return globals.next().map(PathBuf::from);
            }
        }
        Some(
            std::env::var_os("CONTAINERD_ADDRESS")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/run/containerd/containerd.sock")),
        )
    }
}
