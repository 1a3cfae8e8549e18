//! The engines `doctor` finds: each CLI looked up in PATH and asked its
//! server's version (as a container run asks it first, with the user's
//! environment: `DOCKER_HOST`, `CONTAINER_HOST`, `CONTAINERD_ADDRESS`),
//! each within a short limit and all at once; and what each does with the
//! parts of a profile that not every engine passes on.

use std::time::Duration;

use serde::Serialize;

use super::{Check, Status};
use crate::engine::{Engine, EngineCli, EngineError, drops_default_errno, passes_listener_path};

/// What was found of one engine.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EngineFacts {
    /// `docker`, `podman`, `containerd`.
    pub name: &'static str,
    /// Its CLI is in PATH.
    pub found: bool,
    /// The version its server reported; `None` when it did not answer.
    pub version: Option<String>,
    /// It passes a profile's `listenerPath` to the runtime.
    pub listener_path: bool,
    /// It passes a profile's `defaultErrnoRet` to the runtime (`None`:
    /// not known: no version, or an engine other than Docker, which this
    /// tool knows nothing of there).
    pub default_errno_ret: Option<bool>,
}

/// Every engine, asked at once, each within `limit`.
pub(super) fn examine(limit: Duration) -> (Vec<Check>, Vec<EngineFacts>) {
    let asked: Vec<_> = [Engine::Docker, Engine::Podman, Engine::Containerd]
        .into_iter()
        .map(|engine| std::thread::spawn(move || ask(engine, limit)))
        .collect();
    asked
        .into_iter()
        .zip([Engine::Docker, Engine::Podman, Engine::Containerd])
        .map(|(thread, engine)| {
            thread.join().unwrap_or_else(|_| {
                (
                    Check::new(
                        format!("engine {}", engine.name()),
                        Status::Warn,
                        "could not be asked (the thread asking it failed)",
                    ),
                    EngineFacts {
                        name: engine.name(),
                        found: false,
                        version: None,
                        listener_path: passes_listener_path(engine),
                        default_errno_ret: None,
                    },
                )
            })
        })
        .unzip()
}

/// One engine: found, its version, and what it passes on.
fn ask(engine: Engine, limit: Duration) -> (Check, EngineFacts) {
    let name = format!("engine {}", engine.name());
    let mut facts = EngineFacts {
        name: engine.name(),
        found: false,
        version: None,
        listener_path: passes_listener_path(engine),
        default_errno_ret: None,
    };
    let cli = match EngineCli::find(engine, Vec::new()) {
        Ok(cli) => cli,
        Err(e) => {
            let check = Check::new(name, Status::Warn, format!("not found: {e}"));
            return (check, facts);
        }
    };
    facts.found = true;
    let version = match cli.reachable_within(limit) {
        Ok(version) => version,
        Err(e) => {
            let detail = match e {
                EngineError::Unreachable { detail, .. } => detail,
                e => e.to_string(),
            };
            let check = Check::new(
                name,
                Status::Warn,
                format!(
                    "{} found, its server does not answer: {detail}",
                    cli.cli.display()
                ),
            )
            .fix(match engine {
                Engine::Docker => "start dockerd, or set DOCKER_HOST to its socket",
                Engine::Podman => "check `podman info` (its store, CONTAINER_HOST)",
                Engine::Containerd => "start containerd, or set CONTAINERD_ADDRESS to its socket",
            });
            return (check, facts);
        }
    };
    let drops_errno = drops_default_errno(engine, &version);
    // Known of the Docker engine only (moby #42604, in 23.0).
    facts.default_errno_ret = (engine == Engine::Docker).then_some(!drops_errno);
    let mut said = vec![match facts.listener_path {
        true => "passes listenerPath (enforce hands refusals to a listener, with runc)".to_owned(),
        false => "drops listenerPath (enforce watches its containers with eBPF)".to_owned(),
    }];
    if drops_errno {
        said.push(
            "drops defaultErrnoRet before 23.0 (calls a profile does not list get EPERM)"
                .to_owned(),
        );
    }
    let shown = match version.as_str() {
        "" => "version not said".to_owned(),
        v => v.to_owned(),
    };
    facts.version = Some(version);
    let check = Check::new(name, Status::Ok, format!("{shown}: {}", said.join("; ")));
    (check, facts)
}
